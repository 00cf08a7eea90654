/* form: application/x-www-form-urlencoded and query-string decoding.
 *
 * Decoding is all-or-nothing: a truncated or non-hex %xx escape, an encoded
 * NUL, an empty field name, too many fields or too long an input rejects the
 * whole input, so a handler never sees half-decoded data. '+' decodes to a
 * space. Repeated names are kept in order; form_count lets a caller refuse
 * them. */
#ifndef KEYROTA_FORM_H
#define KEYROTA_FORM_H

#include <stddef.h>

#define FORM_MAX_FIELDS 64
#define FORM_MAX_INPUT  (64 * 1024)

enum form_status {
	FORM_OK = 0,
	FORM_BAD_ESCAPE,   /* %, %4, %zz */
	FORM_NUL,          /* %00 */
	FORM_EMPTY_NAME,   /* =value */
	FORM_TOO_MANY,     /* more than FORM_MAX_FIELDS */
	FORM_TOO_LONG,     /* more than FORM_MAX_INPUT bytes */
};

struct form_field {
	char   *name;
	char   *value;       /* NUL-terminated; NUL cannot occur inside */
	size_t  value_len;
};

struct form {
	struct form_field *fields;
	size_t             n;
};

enum form_status form_parse(struct form *f, const char *in, size_t len);
/* The first value of name, or NULL. */
const char      *form_get(const struct form *f, const char *name);
size_t           form_count(const struct form *f, const char *name);
void             form_free(struct form *f);

/* Percent-decodes len bytes of in into out (at least len + 1 bytes).
 * Returns FORM_OK and the decoded length in *outlen. */
enum form_status form_decode(const char *in, size_t len, char *out,
                     size_t *outlen);

#endif
