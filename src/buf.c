#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Makes room for len more bytes plus the terminating NUL. */
static enum buf_status
buf_reserve(struct buf *b, size_t len)
{
	size_t need, cap;
	char *p;

	if (len > b->max || b->len > b->max - len)
		return BUF_TOOBIG;
	need = b->len + len + 1;
	if (need <= b->cap)
		return BUF_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (b->max + 1) / 2 ? b->max + 1 : cap * 2;
	if (cap < need)
		cap = need;
	p = kr_realloc(b->data, cap);
	b->data = p;
	b->cap = cap;
	return BUF_OK;
}

enum buf_status
buf_append(struct buf *b, const void *data, size_t len)
{
	enum buf_status st;

	if ((st = buf_reserve(b, len)) != BUF_OK)
		return st;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return BUF_OK;
}

enum buf_status
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum buf_status
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum buf_status
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	enum buf_status st;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return BUF_ERROR;
	if ((st = buf_reserve(b, (size_t)n)) != BUF_OK)
		return st;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return BUF_OK;
}

enum buf_status
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	enum buf_status st;

	va_start(ap, fmt);
	st = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return st;
}

enum buf_status
buf_json_escape(struct buf *b, const char *s)
{
	enum buf_status st = BUF_OK;
	const unsigned char *p;
	char esc[8];

	for (p = (const unsigned char *)s; *p != '\0' && st == BUF_OK; p++) {
		switch (*p) {
		case '"':  st = buf_puts(b, "\\\""); break;
		case '\\': st = buf_puts(b, "\\\\"); break;
		case '\n': st = buf_puts(b, "\\n"); break;
		case '\r': st = buf_puts(b, "\\r"); break;
		case '\t': st = buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				st = buf_puts(b, esc);
			} else
				st = buf_putc(b, (char)*p);
		}
	}
	return st;
}

enum buf_status
buf_read_file(struct buf *b, const char *path)
{
	enum buf_status st = BUF_OK;
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return BUF_ERROR;
	while (st == BUF_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		st = buf_append(b, chunk, n);
	if (st == BUF_OK && ferror(f))
		st = BUF_ERROR;
	fclose(f);
	return st;
}

const char *
buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

char *
buf_detach(struct buf *b)
{
	char *p = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
