/* utf8: strict UTF-8 decoding, one sequence at a time, for the checks on
 * what clients send and the escaping of what keyrota shows. */
#ifndef KEYROTA_UTF8_H
#define KEYROTA_UTF8_H

#include <stddef.h>

/* Decodes the sequence at s (len > 0 bytes available) into *cp. Returns its
 * length, or 0 when it is not valid UTF-8: overlong forms, surrogates,
 * values past U+10FFFF, bad or missing continuation bytes. */
size_t utf8_next(const unsigned char *s, size_t len, unsigned long *cp);

#endif
