#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "json_strict.h"

/* Deeper than any tokener keyrota uses allows. */
#define DEPTH_MAX 64

/* The index after the string starting at s[i] == '"'. */
static size_t
string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

int
json_has_repeated_key(const char *s, size_t len)
{
	/* i < len before every read; keys are copied by length. */
	struct json_object *seen[DEPTH_MAX], *key;
	size_t i = 0, start, j;
	int depth = 0, repeated = 0;
	char *raw;

	while (i < len && !repeated) {
		if (s[i] == '{' || s[i] == '[') {
			if (depth == DEPTH_MAX) {
				repeated = 1;
				break;
			}
			/* Arrays get no set: no string in them is a key. */
			seen[depth++] = s[i] == '{' ? kr_json_object() :
			    NULL;
			if (s[i] == '{' && seen[depth - 1] == NULL) {
				repeated = 1;
				break;
			}
			i++;
			continue;
		}
		if (s[i] == '}' || s[i] == ']') {
			if (depth > 0)
				json_object_put(seen[--depth]);
			i++;
			continue;
		}
		if (s[i] != '"') {
			i++;
			continue;
		}
		start = i;
		i = string_end(s, len, i);
		for (j = i; j < len && (s[j] == ' ' || s[j] == '\t' ||
		    s[j] == '\n' || s[j] == '\r'); j++)
			;
		if (depth == 0 || seen[depth - 1] == NULL || j >= len ||
		    s[j] != ':')
			continue;
		raw = kr_strndup(s + start, i - start);
		key = json_tokener_parse(raw);
		free(raw);
		if (key == NULL) {
			repeated = 1;
			break;
		}
		/* As C strings: keys that differ only after an escaped NUL
		 * count as repeats, which refuses them too. */
		if (json_object_object_get_ex(seen[depth - 1],
		    json_object_get_string(key), NULL))
			repeated = 1;
		else
			kr_json_add_null(seen[depth - 1],
			    json_object_get_string(key));
		json_object_put(key);
	}
	while (depth > 0)
		json_object_put(seen[--depth]);
	return repeated;
}
