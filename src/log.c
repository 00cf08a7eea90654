#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "buf.h"
#include "log.h"

#define LOG_LINE_MAX 4096
#define LOG_MSG_MAX  (LOG_LINE_MAX / 2)
#define FIELD_MAX    128

static const char *const level_names[] = { "info", "warn", "error" };

/* What one line says; NULL fields are left out. */
struct log_line {
	enum log_level level;
	const char    *msg;
	const char    *trace_id;
	const char    *request_id;
	const char    *method;       /* access lines only: */
	const char    *route;
	int            status;
	double         duration_ms;
};

#ifdef HAVE_LIBSYSTEMD
/* syslog(3) priorities: LOG_INFO, LOG_WARNING, LOG_ERR. */
static const int level_priorities[] = { 6, 4, 3 };

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int            to_journal;

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to
 * stdout/stderr; stderr is the journal only while it is that very stream
 * (a redirected stderr keeps the variable but is another file). */
static void
journal_detect(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (v == NULL || fstat(STDERR_FILENO, &st) != 0)
		return;
	errno = 0;
	dev = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != ':')
		return;
	v = end + 1;
	ino = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return;
	to_journal = (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Formats one "NAME=value" field into dst (cut at cap) and points io at it. */
static void
field(struct iovec *io, char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
field(struct iovec *io, char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	io->iov_base = dst;
	io->iov_len = len < 0 ? 0 : (size_t)len >= cap ? cap - 1 : (size_t)len;
}

/* Sends one line to journald; -1 when it cannot be reached. */
static int
journal_send(const struct log_line *l)
{
	char message[LOG_MSG_MAX + FIELD_MAX];
	char f[8][FIELD_MAX];
	struct iovec iov[9];
	int n = 0;

	if (l->method != NULL)
		field(&iov[n++], message, sizeof(message), "MESSAGE=%s %s %d "
		    "%.3f ms", l->method, l->route, l->status, l->duration_ms);
	else
		field(&iov[n++], message, sizeof(message), "MESSAGE=%s", l->msg);
	field(&iov[n], f[n - 1], FIELD_MAX, "PRIORITY=%d",
	    level_priorities[l->level]);
	n++;
	field(&iov[n], f[n - 1], FIELD_MAX, "SYSLOG_IDENTIFIER=keyrota");
	n++;
	if (l->trace_id != NULL) {
		field(&iov[n], f[n - 1], FIELD_MAX, "KEYROTA_TRACE_ID=%s",
		    l->trace_id);
		n++;
	}
	if (l->request_id != NULL) {
		field(&iov[n], f[n - 1], FIELD_MAX, "REQUEST_ID=%s",
		    l->request_id);
		n++;
	}
	if (l->method != NULL) {
		field(&iov[n], f[n - 1], FIELD_MAX, "KEYROTA_METHOD=%s",
		    l->method);
		n++;
		field(&iov[n], f[n - 1], FIELD_MAX, "KEYROTA_ROUTE=%s", l->route);
		n++;
		field(&iov[n], f[n - 1], FIELD_MAX, "KEYROTA_STATUS=%d",
		    l->status);
		n++;
		field(&iov[n], f[n - 1], FIELD_MAX, "KEYROTA_DURATION_MS=%.3f",
		    l->duration_ms);
		n++;
	}
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}
#endif

static void
json_field(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, ",\"%s\":\"", name);
	buf_json_escape(b, value);
	buf_putc(b, '"');
}

static void
stderr_send(const struct log_line *l)
{
	struct timeval tv;
	struct tm tm;
	char when[32];
	struct buf b;
	ssize_t n;

	buf_init(&b, LOG_LINE_MAX);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(&b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%ld",
	    when, (long)(tv.tv_usec / 1000), level_names[l->level],
	    (long)getpid());
	if (l->trace_id != NULL)
		json_field(&b, "trace_id", l->trace_id);
	if (l->request_id != NULL)
		json_field(&b, "request_id", l->request_id);
	if (l->method != NULL) {
		json_field(&b, "method", l->method);
		json_field(&b, "route", l->route);
		buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f", l->status,
		    l->duration_ms);
	} else {
		json_field(&b, "msg", l->msg);
	}
	if (buf_puts(&b, "}\n") != BUF_OK) {
		/* Too long: keep the line valid JSON by cutting the message. */
		buf_reset(&b);
		buf_puts(&b, "{\"level\":\"error\",\"msg\":\"log line too long\"}\n");
	}
	n = write(STDERR_FILENO, buf_str(&b), b.len);
	(void)n;
	buf_free(&b);
}

/* journald when stderr is the journal and it answers, else stderr. */
static void
log_emit(const struct log_line *l)
{
#ifdef HAVE_LIBSYSTEMD
	pthread_once(&journal_once, journal_detect);
	if (to_journal && journal_send(l) == 0)
		return;
#endif
	stderr_send(l);
}

static void
log_vline(enum log_level level, const char *trace_id, const char *fmt,
    va_list ap)
{
	struct log_line l = { .level = level, .trace_id = trace_id };
	struct buf msg;

	buf_init(&msg, LOG_MSG_MAX);
	buf_vprintf(&msg, fmt, ap);
	l.msg = buf_str(&msg);
	log_emit(&l);
	buf_free(&msg);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_trace(enum log_level level, const char *trace_id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, trace_id, fmt, ap);
	va_end(ap);
}

void
log_request(const char *request_id, const char *method, const char *route,
    int status, double duration_ms)
{
	struct log_line l = { .level = LOG_LEVEL_INFO, .request_id = request_id,
	    .method = method, .route = route, .status = status,
	    .duration_ms = duration_ms };

	log_emit(&l);
}
