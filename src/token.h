/* token: random URL-safe tokens (base64url without padding) from OpenSSL's
 * CSPRNG, for trace ids, CSRF tokens and form request tokens. */
#ifndef KEYROTA_TOKEN_H
#define KEYROTA_TOKEN_H

#include <stddef.h>

#define TOKEN_MAX_BYTES 48

/* The length of the text for nbytes random bytes. */
#define TOKEN_LEN(nbytes) (((nbytes) * 4 + 2) / 3)

/* Writes TOKEN_LEN(nbytes) characters and a NUL into out (outlen bytes).
 * Returns 0, or -1 when the generator fails or out is too small. */
int token_random(char *out, size_t outlen, size_t nbytes);
/* True when s is n characters of the base64url alphabet. */
int token_valid(const char *s, size_t n);
/* Compares two strings in time independent of where they differ. */
int token_equal(const char *a, const char *b);

#endif
