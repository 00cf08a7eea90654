/* log: one JSON object per line on stderr. Lines are written with a single
 * write(2), so lines from many threads and processes never interleave.
 * Request bodies, report texts and keys are never passed here.
 *
 * When stderr is the journal (systemd sets JOURNAL_STREAM to its device and
 * inode) and keyrota was built with libsystemd, each line is sent to
 * journald instead, with PRIORITY (info 6, warn 4, error 3),
 * SYSLOG_IDENTIFIER=keyrota and the fields KEYROTA_TRACE_ID and REQUEST_ID
 * where a line has them, so `journalctl -p err -u keyrota` finds errors. */
#ifndef KEYROTA_LOG_H
#define KEYROTA_LOG_H

enum log_level { LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A line about one trace: carries its id as a field of its own. */
void log_trace(enum log_level level, const char *trace_id, const char *fmt,
         ...) __attribute__((format(printf, 3, 4)));
/* The access log line of one request. */
void log_request(const char *request_id, const char *method,
         const char *route, int status, double duration_ms);

#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
