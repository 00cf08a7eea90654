#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "answer.h"
#include "openai_format.h"
#include "prompt.h"
#include "provider_json.h"

char *
openai_build_request(const struct openai_request_opts *opts,
    const struct provider_call *call)
{
	struct json_object *req, *msgs, *fmt, *js;
	struct buf user;
	char *body = NULL;

	buf_init(&user, PROVIDER_PROMPT_MAX);
	if (prompt_user(&user, call) != 0)
		goto out;

	req = kr_json_object();
	kr_json_add(req, "model", kr_json_string(opts->model));
	kr_json_add(req, "temperature",
	    kr_json_int(OPENAI_TEMPERATURE));
	kr_json_add(req, opts->max_tokens_field,
	    kr_json_int(OPENAI_MAX_OUTPUT_TOKENS));
	msgs = kr_json_array();
	kr_json_push(msgs, provider_json_message("system",
	    prompt_system));
	kr_json_push(msgs, provider_json_message("user",
	    buf_str(&user)));
	kr_json_add(req, "messages", msgs);
	js = kr_json_object();
	kr_json_add(js, "name",
	    kr_json_string("rotation_decision"));
	kr_json_add(js, "strict", kr_json_bool(1));
	kr_json_add(js, "schema",
	    answer_schema(ANSWER_SCHEMA_BOUNDED));
	fmt = kr_json_object();
	kr_json_add(fmt, "type", kr_json_string("json_schema"));
	kr_json_add(fmt, "json_schema", js);
	kr_json_add(req, "response_format", fmt);

	body = provider_json_body(req);
out:
	buf_free(&user);
	return body;
}

void
openai_parse_response(const char *body, size_t len, struct provider_result *res)
{
	struct json_object *root = NULL, *choices, *choice, *msg, *content;
	struct json_object *refusal, *usage = NULL;

	res->error = KR_INVALID_DECISION;
	if ((root = provider_json_object(body, len)) == NULL)
		goto out;
	provider_json_metadata(root, "model", res->response_model,
	    sizeof(res->response_model));
	provider_json_metadata(root, "id", res->response_id,
	    sizeof(res->response_id));
	if (json_object_object_get_ex(root, "usage", &usage)) {
		res->input_tokens = provider_json_count(usage, "prompt_tokens");
		res->output_tokens = provider_json_count(usage,
		    "completion_tokens");
	}
	if (!json_object_object_get_ex(root, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) != 1 ||
	    (choice = json_object_array_get_idx(choices, 0)) == NULL ||
	    !json_object_is_type(choice, json_type_object))
		goto out;
	provider_json_metadata(choice, "finish_reason", res->finish_reason,
	    sizeof(res->finish_reason));
	if (!json_object_object_get_ex(choice, "message", &msg) ||
	    !json_object_is_type(msg, json_type_object))
		goto out;
	if (json_object_object_get_ex(msg, "refusal", &refusal) &&
	    !json_object_is_type(refusal, json_type_null))
		goto out;
	if (strcmp(res->finish_reason, "stop") != 0)
		goto out;
	if (!json_object_object_get_ex(msg, "content", &content) ||
	    !json_object_is_type(content, json_type_string))
		goto out;
	provider_json_answer(res, content);
out:
	json_object_put(root);
}
