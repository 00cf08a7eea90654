/* secret: reading key files (the provider key, the fingerprint key).
 *
 * A key file must exist, be a regular file, not be readable or writable by
 * group or others, and hold a non-empty key; a trailing newline is not part
 * of the key. The key itself never appears in an error message. */
#ifndef KEYROTA_SECRET_H
#define KEYROTA_SECRET_H

#include <stddef.h>

#define SECRET_MAX 1024
/* A headers file (KEYROTA_MODEL_HEADERS_FILE), whole. */
#define SECRET_HEADERS_MAX 8192

/* What the model provider is given from its secret files: the key (none
 * for the fixture or KEYROTA_MODEL_AUTH=none) and the checked lines of
 * KEYROTA_MODEL_HEADERS_FILE. Wiped before release. */
struct model_secrets {
	char key[SECRET_MAX];                 /* "" when none is read */
	char headers[SECRET_HEADERS_MAX];     /* "Name: value\n" lines */
};

/* Reads the key of path into out (NUL-terminated, *len bytes). Returns 0,
 * or -1 with a message naming var and the path. */
int  secret_read(const char *var, const char *path, char *out, size_t *len,
         char *err, size_t errlen);
/* Reads a headers file: the same ownership and mode rules as a key file;
 * "Name: value" lines, blank lines and lines starting with '#' allowed.
 * out receives the headers as "Name: value\n" lines. A line that is not
 * "Name: value", a name that is not an HTTP token, an empty value or one
 * with a control character, or a header keyrota sets itself (the key's
 * headers, Content-Type, Content-Length, Host, ...) is refused with a
 * message naming the line number, never the value. Returns 0 or -1. */
int  secret_read_headers(const char *var, const char *path, char *out,
         size_t outlen, char *err, size_t errlen);
/* Overwrites a key in memory before it is released. */
void secret_wipe(void *p, size_t len);

#endif
