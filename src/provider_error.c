#include "autoconfig.h"

#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "provider_error.h"
#include "provider_json.h"

/* json-c takes an int length; provider bodies are capped far below. */
#define ERROR_PARSE_MAX (1024 * 1024)

/* Error codes and types, as servers name them, and the status each
 * stands for when it arrives inside a 200. */
static const struct {
	const char *name;
	long        status;
	int         no_retry;
} error_names[] = {
	{ "insufficient_quota",           429, 1 },
	{ "enforced_spend_limit_reached", 429, 1 },
	{ "billing_error",                402, 1 },
	{ "rate_limit_exceeded",          429, 0 },
	{ "rate_limit_error",             429, 0 },
	{ "invalid_api_key",              401, 0 },
	{ "authentication_error",         401, 0 },
	{ "permission_error",             403, 0 },
	{ "overloaded_error",             529, 0 },
	{ "server_error",                 500, 0 },
	{ "api_error",                    500, 0 },
	{ "timeout_error",                504, 0 },
	{ "invalid_request_error",        400, 0 },
	{ "not_found_error",              404, 0 },
};

/* Words in a message that mean the money, not the rate, ran out: waiting
 * will not cure them (OpenRouter's "Insufficient credits", Anthropic's
 * spend limit and credit balance). */
static const char *const exhausted_words[] = {
	"insufficient credits", "insufficient_quota", "credit balance",
	"out of credits", "spend limit", "spending limit",
};

static const char *
string_field(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj != NULL && json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* Applies a code or type name; returns its status, or 0 if unknown. */
static long
by_name(const char *name, int *no_retry)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
		if (strcmp(name, error_names[i].name) == 0) {
			if (error_names[i].no_retry)
				*no_retry = 1;
			return error_names[i].status;
		}
	return 0;
}

/* strcasestr without _GNU_SOURCE: a bounded, case-blind search. */
static int
mentions(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay != NULL && *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/* The error object a body carries, or NULL: a top-level "error" object,
 * else OpenRouter's failure mid-generation, an "error" object in the
 * first choice (finish_reason "error"). A top-level "error" string
 * (LiteLLM and other proxies) is returned as is for the caller to read. */
static struct json_object *
error_member(struct json_object *root)
{
	struct json_object *err, *choices, *first;
	const char *finish;

	if (json_object_object_get_ex(root, "error", &err) &&
	    (json_object_is_type(err, json_type_object) ||
	    (json_object_is_type(err, json_type_string) &&
	    json_object_get_string_len(err) > 0)))
		return err;
	if (!json_object_object_get_ex(root, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) < 1 ||
	    (first = json_object_array_get_idx(choices, 0)) == NULL ||
	    !json_object_is_type(first, json_type_object))
		return NULL;
	if (json_object_object_get_ex(first, "error", &err) &&
	    json_object_is_type(err, json_type_object))
		return err;
	/* A choice that ended in an error without saying which. */
	finish = string_field(first, "finish_reason");
	if (finish != NULL && strcmp(finish, "error") == 0)
		return first;
	return NULL;
}

long
provider_error_classify(long status, const char *body, size_t len,
    int *no_retry)
{
	struct json_object *root = NULL, *err, *code, *details;
	const char *msg;
	long eff = status, named = 0, v;
	size_t i;

	*no_retry = status == 402;
	if (len == 0 || len > ERROR_PARSE_MAX ||
	    (root = provider_json_object(body, len)) == NULL ||
	    (err = error_member(root)) == NULL)
		goto out;
	if (json_object_is_type(err, json_type_string))
		msg = json_object_get_string(err);
	else {
		if (json_object_object_get_ex(err, "code", &code) &&
		    json_object_is_type(code, json_type_int)) {
			v = (long)json_object_get_int64(code);
			if (v >= 400 && v <= 599)
				named = v;
		} else
			named = by_name(string_field(err, "code"), no_retry);
		v = by_name(string_field(err, "type"), no_retry);
		if (named == 0)
			named = v;
		if (json_object_object_get_ex(err, "details", &details) &&
		    (v = by_name(string_field(details, "error_code"),
		    no_retry)) != 0)
			named = v;
		msg = string_field(err, "message");
	}
	/* A fallback for servers that name no code: the words alone. */
	for (i = 0; i < sizeof(exhausted_words) / sizeof(exhausted_words[0]);
	    i++)
		if (mentions(msg, exhausted_words[i]))
			*no_retry = 1;
	if (named == 402)
		*no_retry = 1;
	/* A 200 carrying an error: the error, whatever status came first. */
	if (status == 200)
		eff = named != 0 && named != 200 ? named : 502;
out:
	json_object_put(root);
	return eff;
}
