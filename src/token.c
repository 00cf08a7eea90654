#include "autoconfig.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "token.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
token_random(char *out, size_t outlen, size_t nbytes)
{
	unsigned char raw[TOKEN_MAX_BYTES + 2];
	size_t i, o = 0, len = TOKEN_LEN(nbytes);
	unsigned long v;

	if (nbytes == 0 || nbytes > TOKEN_MAX_BYTES || outlen < len + 1)
		return -1;
	memset(raw, 0, sizeof(raw));
	if (RAND_bytes(raw, (int)nbytes) != 1)
		return -1;
	for (i = 0; o < len; i += 3) {
		v = (unsigned long)raw[i] << 16 | (unsigned long)raw[i + 1] << 8 |
		    raw[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		if (o < len)
			out[o++] = alphabet[(v >> 12) & 63];
		if (o < len)
			out[o++] = alphabet[(v >> 6) & 63];
		if (o < len)
			out[o++] = alphabet[v & 63];
	}
	out[len] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int
token_valid(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr(alphabet, s[i]) == NULL)
			return 0;
	return 1;
}

int
token_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
