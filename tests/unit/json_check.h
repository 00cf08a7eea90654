/* json_check: what a strict JSON reader (an OTLP collector's) accepts, for
 * the unit tests and the fuzz harnesses that check keyrota's encoders:
 * strict JSON, valid UTF-8, and nothing after the document
 * (json_tokener_parse alone is laxer). */
#ifndef KEYROTA_JSON_CHECK_H
#define KEYROTA_JSON_CHECK_H

#include <string.h>

#include <json-c/json.h>

/* The document s holds, or NULL when a strict reader would refuse it.
 * The caller puts it. */
static inline struct json_object *
json_check_parse(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc = NULL;
	size_t n = strlen(s);

	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, s, (int)n);
	if (doc != NULL && (json_tokener_get_error(tok) != json_tokener_success
	    || (size_t)json_tokener_get_parse_end(tok) != n)) {
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	return doc;
}

#endif
