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

#define REQUEST_MAX (64 * 1024)

char *
openai_build_request(const struct openai_request_opts *opts,
    const struct provider_call *call)
{
	struct json_object *req, *msgs, *msg, *fmt, *js;
	struct buf user, out;
	char *body = NULL;

	buf_init(&user, REQUEST_MAX);
	if (prompt_user(&user, call) != 0)
		goto out;

	req = kr_json_object();
	kr_json_add(req, "model", kr_json_string(opts->model));
	kr_json_add(req, "temperature",
	    kr_json_int(OPENAI_TEMPERATURE));
	kr_json_add(req, opts->max_tokens_field,
	    kr_json_int(OPENAI_MAX_OUTPUT_TOKENS));
	msgs = kr_json_array();
	msg = kr_json_object();
	kr_json_add(msg, "role", kr_json_string("system"));
	kr_json_add(msg, "content",
	    kr_json_string(prompt_system));
	kr_json_push(msgs, msg);
	msg = kr_json_object();
	kr_json_add(msg, "role", kr_json_string("user"));
	kr_json_add(msg, "content",
	    kr_json_string(buf_str(&user)));
	kr_json_push(msgs, msg);
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

	buf_init(&out, REQUEST_MAX * 2);
	if (buf_puts(&out, kr_json_text(req, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, NULL)) == BUF_OK)
		body = buf_detach(&out);
	buf_free(&out);
	json_object_put(req);
out:
	buf_free(&user);
	return body;
}

void
openai_parse_response(const char *body, size_t len, struct provider_result *res)
{
	struct json_object *root = NULL, *choices, *choice, *msg, *content;
	struct json_object *refusal, *usage = NULL;
	size_t n;

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
	/* The whole content, NULs included: a NUL must not hide what
	 * follows it, so one makes the answer invalid. */
	n = (size_t)json_object_get_string_len(content);
	if (memchr(json_object_get_string(content), '\0', n) != NULL)
		goto out;
	res->text = kr_malloc(n + 1);
	memcpy(res->text, json_object_get_string(content), n);
	res->text[n] = '\0';
	res->text_len = n;
	res->error = KR_OK;
out:
	json_object_put(root);
}
