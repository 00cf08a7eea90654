/* secret: reading key files (the provider key, the fingerprint key).
 *
 * A key file must exist, be a regular file, not be readable or writable by
 * group or others, and hold a non-empty key; a trailing newline is not part
 * of the key. The key itself never appears in an error message. */
#ifndef KEYROTA_SECRET_H
#define KEYROTA_SECRET_H

#include <stddef.h>

#define SECRET_MAX 1024

/* Reads the key of path into out (NUL-terminated, *len bytes). Returns 0,
 * or -1 with a message naming var and the path. */
int  secret_read(const char *var, const char *path, char *out, size_t *len,
         char *err, size_t errlen);
/* Overwrites a key in memory before it is released. */
void secret_wipe(void *p, size_t len);

#endif
