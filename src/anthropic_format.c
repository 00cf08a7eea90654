#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "anthropic_format.h"
#include "answer.h"
#include "buf.h"
#include "prompt.h"
#include "provider_json.h"

char *
anthropic_build_request(const char *model, const struct provider_call *call)
{
	struct json_object *req, *msgs, *fmt, *oc;
	struct buf user;
	char *body = NULL;

	buf_init(&user, PROVIDER_PROMPT_MAX);
	if (prompt_user(&user, call) != 0)
		goto out;
	req = kr_json_object();
	kr_json_add(req, "model", kr_json_string(model));
	kr_json_add(req, "max_tokens",
	    kr_json_int(ANTHROPIC_MAX_OUTPUT_TOKENS));
	kr_json_add(req, "temperature", kr_json_int(0));
	kr_json_add(req, "system",
	    kr_json_string(prompt_system));
	msgs = kr_json_array();
	kr_json_push(msgs, provider_json_message("user",
	    buf_str(&user)));
	kr_json_add(req, "messages", msgs);
	/* The same schema as every provider's, without the numeric and array
	 * bounds Anthropic refuses; answer_parse enforces them. */
	fmt = kr_json_object();
	kr_json_add(fmt, "type", kr_json_string("json_schema"));
	kr_json_add(fmt, "schema",
	    answer_schema(ANSWER_SCHEMA_UNBOUNDED));
	oc = kr_json_object();
	kr_json_add(oc, "format", fmt);
	kr_json_add(req, "output_config", oc);

	body = provider_json_body(req);
out:
	buf_free(&user);
	return body;
}

/* The one text block of content; NULL when there is none, more than one,
 * or a block of another type (a tool call, thinking). */
static struct json_object *
only_text(struct json_object *content)
{
	struct json_object *block, *type, *text, *found = NULL;
	size_t i;

	if (!json_object_is_type(content, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(content); i++) {
		block = json_object_array_get_idx(content, i);
		if (!json_object_is_type(block, json_type_object) ||
		    !json_object_object_get_ex(block, "type", &type) ||
		    !json_object_is_type(type, json_type_string) ||
		    strcmp(json_object_get_string(type), "text") != 0 ||
		    !json_object_object_get_ex(block, "text", &text) ||
		    !json_object_is_type(text, json_type_string) ||
		    found != NULL)
			return NULL;
		found = text;
	}
	return found;
}

void
anthropic_parse_response(const char *body, size_t len,
    struct provider_result *res)
{
	struct json_object *root, *type, *content, *text, *usage;

	res->error = KR_INVALID_DECISION;
	if ((root = provider_json_object(body, len)) == NULL)
		return;
	if (!json_object_object_get_ex(root, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "message") != 0)
		goto out;
	provider_json_metadata(root, "model", res->response_model,
	    sizeof(res->response_model));
	provider_json_metadata(root, "id", res->response_id,
	    sizeof(res->response_id));
	provider_json_metadata(root, "stop_reason", res->finish_reason,
	    sizeof(res->finish_reason));
	if (json_object_object_get_ex(root, "usage", &usage)) {
		res->input_tokens = provider_json_count(usage, "input_tokens");
		res->output_tokens = provider_json_count(usage, "output_tokens");
	}
	/* max_tokens: the answer was cut; refusal: there is none. */
	if (strcmp(res->finish_reason, "end_turn") != 0)
		goto out;
	if (!json_object_object_get_ex(root, "content", &content) ||
	    (text = only_text(content)) == NULL)
		goto out;
	provider_json_answer(res, text);
out:
	json_object_put(root);
}
