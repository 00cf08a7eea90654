/* fuzz: shared helpers of the libFuzzer harnesses. Each harness feeds its
 * input to the same functions the server calls, never to copies. */
#ifndef KEYROTA_FUZZ_H
#define KEYROTA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy, as the server holds request bodies and FastCGI
 * parameters (buf_str). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = kr_malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits s in place at the first n - 1 newlines into n fields; missing
 * fields are NULL. */
static inline void
fuzz_fields(char *s, char **f, size_t n)
{
	size_t i;
	char *nl;

	for (i = 0; i < n; i++) {
		f[i] = s;
		if (s == NULL)
			continue;
		if (i + 1 < n && (nl = strchr(s, '\n')) != NULL) {
			*nl = '\0';
			s = nl + 1;
		} else
			s = NULL;
	}
}

#endif
