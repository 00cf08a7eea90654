#include "autoconfig.h"

#include <string.h>

#include <openssl/rand.h>

#include "trace_id.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
trace_id_new(char out[TRACE_ID_SIZE])
{
	unsigned char raw[18];     /* 16 random bytes, padded to 3-byte groups */
	char enc[24];
	size_t i, o = 0;
	unsigned long v;

	memset(raw, 0, sizeof(raw));
	if (RAND_bytes(raw, 16) != 1)
		return -1;
	for (i = 0; i < 18; i += 3) {
		v = (unsigned long)raw[i] << 16 | (unsigned long)raw[i + 1] << 8 |
		    raw[i + 2];
		enc[o++] = alphabet[(v >> 18) & 63];
		enc[o++] = alphabet[(v >> 12) & 63];
		enc[o++] = alphabet[(v >> 6) & 63];
		enc[o++] = alphabet[v & 63];
	}
	/* 16 bytes are 22 significant characters; the rest was padding. */
	memcpy(out, "tr_", 3);
	memcpy(out + 3, enc, TRACE_ID_LEN - 3);
	out[TRACE_ID_LEN] = '\0';
	return 0;
}

int
trace_id_valid(const char *s)
{
	size_t i;

	if (strncmp(s, "tr_", 3) != 0 || strlen(s) != TRACE_ID_LEN)
		return 0;
	for (i = 3; i < TRACE_ID_LEN; i++)
		if (strchr(alphabet, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}
