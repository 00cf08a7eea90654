/* json_strict: what json-c does not refuse on its own. json-c keeps the
 * last of repeated keys, so a body that names a key twice means different
 * things to different parsers; keyrota refuses it instead. */
#ifndef KEYROTA_JSON_STRICT_H
#define KEYROTA_JSON_STRICT_H

#include <stddef.h>

/* True when some object in s[0..len) (JSON that json-c has already parsed)
 * names a key twice, compared as decoded; also when it cannot tell. */
int json_has_repeated_key(const char *s, size_t len);

#endif
