#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "buf.h"
#include "errors.h"
#include "json_strict.h"
#include "provider.h"
#include "provider_json.h"
#include "report.h"

/* json-c takes an int length; provider bodies are capped far below. */
#define RESPONSE_PARSE_MAX (16 * 1024 * 1024)

/* Copies a provider metadata string (model, id, finish_reason) for the
 * trace. It is untrusted: only valid UTF-8 without NUL or other control
 * characters is kept, anything else is dropped (left ""), and a long value
 * is cut at a character boundary to fit dst, so PostgreSQL can always
 * store what is kept. */
void
provider_json_metadata(struct json_object *obj, const char *key, char *dst, size_t len)
{
	struct json_object *v;
	const char *s;
	size_t n, i;

	dst[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (report_check_text(s, n, 0, (size_t)-1) != NULL)
		return;
	/* report_check_text allows newline and tab in prose; metadata is one
	 * token and gets no control character at all. */
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return;
	if (n >= len) {
		n = len - 1;
		/* Back over the continuation bytes of a cut character. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

long
provider_json_count(struct json_object *usage, const char *key)
{
	struct json_object *v;

	if (usage != NULL && json_object_object_get_ex(usage, key, &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0 &&
	    json_object_get_int64(v) < 100000000)
		return (long)json_object_get_int64(v);
	return -1;
}

/* JSON allows whitespace after the value; a server's final newline is
 * fine, anything else after the response object is not. */
static int
only_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

struct json_object *
provider_json_object(const char *body, size_t len)
{
	struct json_object *root = NULL;
	struct json_tokener *tok;

	if (len > RESPONSE_PARSE_MAX)
		return NULL;
	tok = kr_json_tokener(16);
	/* Strict JSON; bytes that are not UTF-8 are judged where they are
	 * (metadata is dropped, the answer is refused by answer_parse). */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object) ||
	    !only_space(body + json_tokener_get_parse_end(tok),
	    len - json_tokener_get_parse_end(tok)) ||
	    json_has_repeated_key(body, len)) {
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

void
provider_json_answer(struct provider_result *res, struct json_object *str)
{
	size_t n = (size_t)json_object_get_string_len(str);

	if (memchr(json_object_get_string(str), '\0', n) != NULL)
		return;
	res->text = kr_malloc(n + 1);
	memcpy(res->text, json_object_get_string(str), n);
	res->text[n] = '\0';
	res->text_len = n;
	res->error = KR_OK;
}

struct json_object *
provider_json_message(const char *role, const char *text)
{
	struct json_object *msg = kr_json_object();

	kr_json_add(msg, "role", kr_json_string(role));
	kr_json_add(msg, "content", kr_json_string(text));
	return msg;
}

char *
provider_json_body(struct json_object *req)
{
	struct buf out;
	char *body = NULL;

	buf_init(&out, PROVIDER_PROMPT_MAX * 2);
	if (buf_puts(&out, kr_json_text(req, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, NULL)) == BUF_OK)
		body = buf_detach(&out);
	buf_free(&out);
	json_object_put(req);
	return body;
}
