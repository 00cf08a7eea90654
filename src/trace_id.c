#include "autoconfig.h"

#include <string.h>

#include "token.h"
#include "trace_id.h"

int
trace_id_new(char out[TRACE_ID_SIZE])
{
	memcpy(out, "tr_", 3);
	return token_random(out + 3, TRACE_ID_SIZE - 3, 16);
}

int
trace_id_valid(const char *s)
{
	return strncmp(s, "tr_", 3) == 0 && token_valid(s + 3, TRACE_ID_LEN - 3);
}

int
trace_id_to_w3c(const char *s, char out[TRACE_ID_W3C_SIZE])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char hex[] = "0123456789abcdef";
	unsigned acc = 0, bits = 0, nonzero = 0;
	size_t i, o = 0;
	const char *c;

	out[0] = '\0';
	if (!trace_id_valid(s))
		return -1;
	for (i = 3; i < TRACE_ID_LEN; i++) {
		c = strchr(alphabet, s[i]);
		acc = (acc << 6) | (unsigned)(c - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = hex[(acc >> (bits + 4)) & 15];
			out[o++] = hex[(acc >> bits) & 15];
			nonzero |= (acc >> bits) & 255;
			acc &= (1u << bits) - 1;
		}
	}
	out[o] = '\0';
	/* 22 characters carry 132 bits: the last 4 must be zero. */
	return o == 32 && acc == 0 && nonzero != 0 ? 0 : -1;
}
