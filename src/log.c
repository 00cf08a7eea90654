#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define LOG_LINE_MAX 4096

static const char *const level_names[] = { "info", "warn", "error" };

static void
log_begin(struct buf *b, enum log_level level)
{
	struct timeval tv;
	struct tm tm;
	char when[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%ld",
	    when, (long)(tv.tv_usec / 1000), level_names[level],
	    (long)getpid());
}

static void
log_end(struct buf *b)
{
	ssize_t n;

	if (buf_puts(b, "}\n") != BUF_OK) {
		/* Too long: keep the line valid JSON by cutting the message. */
		buf_reset(b);
		buf_puts(b, "{\"level\":\"error\",\"msg\":\"log line too long\"}\n");
	}
	n = write(STDERR_FILENO, buf_str(b), b->len);
	(void)n;
	buf_free(b);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	struct buf b, msg;
	va_list ap;

	buf_init(&b, LOG_LINE_MAX);
	buf_init(&msg, LOG_LINE_MAX / 2);
	log_begin(&b, level);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	buf_puts(&b, ",\"msg\":\"");
	buf_json_escape(&b, buf_str(&msg));
	buf_puts(&b, "\"");
	buf_free(&msg);
	log_end(&b);
}

void
log_request(const char *request_id, const char *method, const char *route,
    int status, double duration_ms)
{
	struct buf b;

	buf_init(&b, LOG_LINE_MAX);
	log_begin(&b, LOG_LEVEL_INFO);
	buf_puts(&b, ",\"request_id\":\"");
	buf_json_escape(&b, request_id);
	buf_puts(&b, "\",\"method\":\"");
	buf_json_escape(&b, method);
	buf_puts(&b, "\",\"route\":\"");
	buf_json_escape(&b, route);
	buf_printf(&b, "\",\"status\":%d,\"duration_ms\":%.3f", status,
	    duration_ms);
	log_end(&b);
}
