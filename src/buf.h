/* buf: a growable byte buffer with a hard upper bound.
 *
 * Every buffer is created with the largest size it may ever reach. An append
 * that would pass the bound fails with BUF_TOOBIG and leaves the buffer
 * unchanged, so a client, a model or a template can never make keyrota
 * allocate without limit. The contents are always NUL-terminated. */
#ifndef KEYROTA_BUF_H
#define KEYROTA_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* BUF_TOOBIG: past the bound. BUF_ERROR: a file that cannot be read or a
 * format vsnprintf refuses. Running out of memory aborts (alloc.h). */
enum buf_status { BUF_OK = 0, BUF_TOOBIG, BUF_ERROR };

struct buf {
	char   *data;   /* NUL-terminated; NULL until the first append */
	size_t  len;
	size_t  cap;
	size_t  max;    /* the bound; len never exceeds it */
};

void            buf_init(struct buf *b, size_t max);
void            buf_free(struct buf *b);
void            buf_reset(struct buf *b);
enum buf_status buf_append(struct buf *b, const void *data, size_t len);
enum buf_status buf_puts(struct buf *b, const char *s);
enum buf_status buf_putc(struct buf *b, char c);
enum buf_status buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum buf_status buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Appends s as the body of a JSON string (no quotes), escaping as RFC 8259
 * requires. */
enum buf_status buf_json_escape(struct buf *b, const char *s);
/* Appends the whole file at path; BUF_TOOBIG past the bound, BUF_ERROR
 * when the file cannot be read. */
enum buf_status buf_read_file(struct buf *b, const char *path);
/* Returns the contents ("" for an empty buffer). */
const char     *buf_str(const struct buf *b);
/* Hands the allocation to the caller (who frees it); the buffer is empty
 * afterwards. Returns NULL for an empty buffer. */
char           *buf_detach(struct buf *b);

#endif
