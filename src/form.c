#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "form.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum form_status
form_decode(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (in[i] == '+')
			out[o++] = ' ';
		else if (in[i] == '%') {
			if (len - i < 3)
				return FORM_BAD_ESCAPE;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return FORM_BAD_ESCAPE;
			if (hi == 0 && lo == 0)
				return FORM_NUL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (in[i] == '\0')
			return FORM_NUL;
		else
			out[o++] = in[i];
	}
	out[o] = '\0';
	*outlen = o;
	return FORM_OK;
}

static enum form_status
form_add(struct form *f, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	struct form_field *fl;
	enum form_status st;
	char *n, *v;
	size_t nlen, vlen;

	if (f->n == FORM_MAX_FIELDS)
		return FORM_TOO_MANY;
	n = kr_malloc(namelen + 1);
	v = kr_malloc(valuelen + 1);
	if ((st = form_decode(name, namelen, n, &nlen)) != FORM_OK ||
	    (st = form_decode(value, valuelen, v, &vlen)) != FORM_OK)
		goto fail;
	if (nlen == 0) {
		st = FORM_EMPTY_NAME;
		goto fail;
	}
	fl = kr_reallocarray(f->fields, f->n + 1, sizeof(*fl));
	f->fields = fl;
	fl[f->n].name = n;
	fl[f->n].value = v;
	fl[f->n].value_len = vlen;
	f->n++;
	return FORM_OK;
fail:
	free(n);
	free(v);
	return st;
}

enum form_status
form_parse(struct form *f, const char *in, size_t len)
{
	enum form_status st = FORM_OK;
	const char *p = in, *end = in + len, *amp, *eq;

	f->fields = NULL;
	f->n = 0;
	if (len > FORM_MAX_INPUT)
		return FORM_TOO_LONG;
	while (p < end && st == FORM_OK) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp > p) {        /* "a&&b" and a trailing '&' are harmless */
			eq = memchr(p, '=', (size_t)(amp - p));
			if (eq == NULL)
				st = form_add(f, p, (size_t)(amp - p), "", 0);
			else
				st = form_add(f, p, (size_t)(eq - p), eq + 1,
				    (size_t)(amp - eq - 1));
		}
		p = amp + 1;
	}
	if (st != FORM_OK)
		form_free(f);
	return st;
}

const char *
form_get(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}

size_t
form_count(const struct form *f, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			n++;
	return n;
}

void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	free(f->fields);
	f->fields = NULL;
	f->n = 0;
}

