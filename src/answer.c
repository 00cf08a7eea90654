#include "autoconfig.h"

#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "answer.h"
#include "json_strict.h"

static const char *const decision_names[DECISION__MAX] = {
	[DECISION_ELIGIBLE]     = "eligible",
	[DECISION_NOT_ELIGIBLE] = "not_eligible",
	[DECISION_NEEDS_REVIEW] = "needs_review",
};

const char *
answer_decision_name(enum decision d)
{
	return d < DECISION__MAX ? decision_names[d] : "";
}

int
answer_decision_from_name(const char *s, enum decision *out)
{
	int i;

	for (i = 0; i < DECISION__MAX; i++)
		if (strcmp(decision_names[i], s) == 0) {
			*out = (enum decision)i;
			return 0;
		}
	return -1;
}

/* ^P-[0-9]{1,4}$ */
static int
line_id_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 3 || len > 6 || s[0] != 'P' || s[1] != '-')
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static enum kr_error
parse_object(struct json_object *root, struct model_answer *out)
{
	struct json_object *d, *w, *ids, *id;
	size_t i, j, n;
	int64_t window;

	if (!json_object_is_type(root, json_type_object) ||
	    json_object_object_length(root) != 3 ||
	    !json_object_object_get_ex(root, "decision", &d) ||
	    !json_object_object_get_ex(root, "rotation_window_days", &w) ||
	    !json_object_object_get_ex(root, "source_line_ids", &ids))
		return KR_INVALID_DECISION;
	if (!json_object_is_type(d, json_type_string) ||
	    answer_decision_from_name(json_object_get_string(d), &out->decision) != 0)
		return KR_INVALID_DECISION;
	/* An integer: 30, not 30.0, "30" or true. */
	if (!json_object_is_type(w, json_type_int))
		return KR_INVALID_DECISION;
	window = json_object_get_int64(w);
	if (window < 0 || window > WINDOW_MAX_DAYS)
		return KR_INVALID_DECISION;
	out->rotation_window_days = (int)window;
	if (!json_object_is_type(ids, json_type_array))
		return KR_INVALID_DECISION;
	n = json_object_array_length(ids);
	if (n < 1 || n > DECISION_MAX_SOURCES)
		return KR_INVALID_DECISION;
	for (i = 0; i < n; i++) {
		id = json_object_array_get_idx(ids, i);
		if (!json_object_is_type(id, json_type_string) ||
		    !line_id_valid(json_object_get_string(id),
		    (size_t)json_object_get_string_len(id)))
			return KR_INVALID_DECISION;
		memcpy(out->sources[i], json_object_get_string(id),
		    (size_t)json_object_get_string_len(id) + 1);
		for (j = 0; j < i; j++)
			if (strcmp(out->sources[j], out->sources[i]) == 0)
				return KR_INVALID_DECISION;
	}
	out->nsources = n;
	return KR_OK;
}

enum kr_error
answer_parse(const char *text, size_t len, struct model_answer *out)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum kr_error e = KR_INVALID_DECISION;

	memset(out, 0, sizeof(*out));
	if (text == NULL || len == 0 || len > ANSWER_MAX_BYTES)
		return KR_INVALID_DECISION;
	tok = kr_json_tokener(4);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len &&
	    !json_has_repeated_key(text, len))
		e = parse_object(root, out);
	json_object_put(root);
	json_tokener_free(tok);
	if (e != KR_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

const struct policy_line *
answer_find_policy(const struct trusted_context *t, const char *line_id)
{
	size_t i;

	for (i = 0; i < t->nlines; i++)
		if (strcmp(t->lines[i].line_id, line_id) == 0)
			return &t->lines[i];
	return NULL;
}

enum kr_error
answer_verify(const struct model_answer *a, const struct trusted_context *t)
{
	const struct policy_line *p7;
	size_t i;
	int cites_p7 = 0;

	for (i = 0; i < a->nsources; i++) {
		if (answer_find_policy(t, a->sources[i]) == NULL)
			return KR_INVALID_DECISION;
		if (strcmp(a->sources[i], POLICY_LINE) == 0)
			cites_p7 = 1;
	}
	p7 = answer_find_policy(t, POLICY_LINE);
	if (!cites_p7 || p7 == NULL ||
	    a->rotation_window_days != p7->rotation_window_days)
		return KR_INVALID_DECISION;
	if (a->decision == DECISION_ELIGIBLE &&
	    t->key_age_days > p7->rotation_window_days)
		return KR_POLICY_CONFLICT;
	return KR_OK;
}

struct json_object *
answer_schema(enum answer_schema_kind kind)
{
	struct json_object *schema, *props, *p, *item, *names, *req;
	int d;

	names = kr_json_array();
	for (d = 0; d < DECISION__MAX; d++)
		kr_json_push(names, kr_json_string(
		    answer_decision_name((enum decision)d)));
	props = kr_json_object();
	p = kr_json_object();
	kr_json_add(p, "type", kr_json_string("string"));
	kr_json_add(p, "enum", names);
	kr_json_add(props, "decision", p);
	p = kr_json_object();
	kr_json_add(p, "type", kr_json_string("integer"));
	if (kind == ANSWER_SCHEMA_BOUNDED) {
		kr_json_add(p, "minimum", kr_json_int(0));
		kr_json_add(p, "maximum",
		    kr_json_int(WINDOW_MAX_DAYS));
	}
	kr_json_add(props, "rotation_window_days", p);
	p = kr_json_object();
	kr_json_add(p, "type", kr_json_string("array"));
	item = kr_json_object();
	kr_json_add(item, "type", kr_json_string("string"));
	kr_json_add(p, "items", item);
	kr_json_add(p, "minItems", kr_json_int(1));
	if (kind == ANSWER_SCHEMA_BOUNDED)
		kr_json_add(p, "maxItems",
		    kr_json_int(DECISION_MAX_SOURCES));
	kr_json_add(props, "source_line_ids", p);
	req = kr_json_array();
	kr_json_push(req, kr_json_string("decision"));
	kr_json_push(req, kr_json_string(
	    "rotation_window_days"));
	kr_json_push(req, kr_json_string("source_line_ids"));
	schema = kr_json_object();
	kr_json_add(schema, "type", kr_json_string("object"));
	kr_json_add(schema, "properties", props);
	kr_json_add(schema, "required", req);
	kr_json_add(schema, "additionalProperties",
	    kr_json_bool(0));
	return schema;
}
