/* The pieces the HTTP providers share or add: error classification, the
 * Anthropic wire format, the headers file, the api-version query and the
 * gateway settings of the configuration. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "anthropic_format.h"
#include "answer.h"
#include "config.h"
#include "prompt.h"
#include "provider.h"
#include "provider_error.h"
#include "provider_http.h"
#include "retry.h"
#include "secret.h"
#include "unit.h"

static const struct policy_line lines[] = {
	{ "P-7", "Stale service-account keys may be rotated within 30 days.", 30 },
};

static long
classify(long status, const char *body, int *no_retry)
{
	return provider_error_classify(status, body, strlen(body), no_retry);
}

static void
test_error_classification(void)
{
	static const struct {
		long        status;
		const char *body;
		long        stands_for;
		int         no_retry;
	} cases[] = {
		/* answers */
		{ 200, "{\"choices\":[]}", 200, 0 },
		{ 200, "{\"error\":null,\"choices\":[]}", 200, 0 },
		{ 200, "prose", 200, 0 },
		/* OpenRouter: an error object inside a 200 */
		{ 200, "{\"error\":{\"code\":502,\"message\":\"Upstream\"}}", 502, 0 },
		{ 200, "{\"error\":{\"code\":429,\"message\":\"slow\"}}", 429, 0 },
		{ 200, "{\"error\":{\"code\":402,\"message\":\"Insufficient "
		    "credits\"}}", 402, 1 },
		{ 200, "{\"error\":{\"code\":\"rate_limit_exceeded\"}}", 429, 0 },
		{ 200, "{\"error\":{\"message\":\"?\"}}", 502, 0 },
		{ 200, "{\"error\":{\"code\":200}}", 502, 0 },
		{ 200, "{\"type\":\"error\",\"error\":{\"type\":"
		    "\"overloaded_error\",\"message\":\"Overloaded\"}}", 529, 0 },
		/* OpenRouter: a failure mid-generation, in the choice */
		{ 200, "{\"choices\":[{\"finish_reason\":\"error\",\"error\":"
		    "{\"code\":502,\"message\":\"Provider disconnected\"}}]}",
		    502, 0 },
		{ 200, "{\"choices\":[{\"finish_reason\":\"error\",\"error\":"
		    "{\"code\":429,\"message\":\"slow\"}}]}", 429, 0 },
		{ 200, "{\"choices\":[{\"finish_reason\":\"error\"}]}", 502, 0 },
		{ 200, "{\"choices\":[{\"finish_reason\":\"stop\",\"error\":"
		    "null}]}", 200, 0 },
		/* LiteLLM and other proxies: the error as a bare string */
		{ 200, "{\"error\":\"upstream connect error\"}", 502, 0 },
		{ 200, "{\"error\":\"Insufficient credits\"}", 502, 1 },
		{ 500, "{\"error\":\"boom\"}", 500, 0 },
		/* strict: a complete document or nothing */
		{ 200, "{\"error\":{\"code\":429}} trailing", 200, 0 },
		/* statuses stand for themselves; bodies only add no_retry */
		{ 503, "{\"error\":{\"code\":503,\"type\":\"x\"}}", 503, 0 },
		{ 402, "", 402, 1 },
		{ 429, "{\"error\":{\"code\":\"insufficient_quota\"}}", 429, 1 },
		{ 429, "{\"error\":{\"type\":\"insufficient_quota\"}}", 429, 1 },
		{ 429, "{\"error\":{\"code\":\"rate_limit_exceeded\"}}", 429, 0 },
		{ 429, "{\"type\":\"error\",\"error\":{\"type\":"
		    "\"rate_limit_error\",\"message\":\"m\",\"details\":"
		    "{\"error_code\":\"enforced_spend_limit_reached\"}}}", 429, 1 },
		{ 400, "{\"type\":\"error\",\"error\":{\"type\":"
		    "\"invalid_request_error\",\"message\":\"Your credit balance "
		    "is too low\"}}", 400, 1 },
		{ 400, "{\"error\":{\"type\":\"invalid_request_error\","
		    "\"message\":\"exceeds the workspace Spend Limit\"}}", 400, 1 },
		{ 400, "{\"error\":{\"type\":\"invalid_request_error\","
		    "\"message\":\"bad\"}}", 400, 0 },
		{ 529, "not json", 529, 0 },
	};
	static const char cut[] = "{\"error\":{\"code\":429}}";
	size_t i;
	int no_retry;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		no_retry = -1;
		CU_ASSERT_EQUAL(classify(cases[i].status, cases[i].body,
		    &no_retry), cases[i].stands_for);
		CU_ASSERT_EQUAL(no_retry, cases[i].no_retry);
	}
	/* Only len bytes count: a cut body is no error object. */
	CU_ASSERT_EQUAL(provider_error_classify(200, cut, 12, &no_retry), 200);
}

static void
test_retry_of_exhausted_credit(void)
{
	/* Attempt 1 of 3 with time left: status, credits out, and the plan. */
	static const struct {
		long          http_status;
		int           insufficient_quota;
		int           retry;
		enum kr_error error;
	} cases[] = {
		{ 402, 0, 0, KR_PROVIDER_RATE_LIMITED },
		{ 400, 1, 0, KR_PROVIDER_RATE_LIMITED },
		{ 529, 0, 1, KR_PROVIDER_UNAVAILABLE },
		{ 400, 0, 0, KR_PROVIDER_UNAVAILABLE },
		/* A server error whose message says the credits ran out. */
		{ 502, 1, 0, KR_PROVIDER_RATE_LIMITED },
	};
	struct attempt_outcome o;
	struct retry_plan p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.attempt = 1;
		o.max_attempts = 3;
		o.retry_after_ms = -1;
		o.remaining_ms = 5000;
		o.http_status = cases[i].http_status;
		o.insufficient_quota = cases[i].insufficient_quota;
		p = retry_plan(&o, 0.5);
		CU_ASSERT_EQUAL(p.retry, cases[i].retry);
		CU_ASSERT_EQUAL(p.error, cases[i].error);
	}
}

static void
test_anthropic_request(void)
{
	struct provider_call call = { "stale </report> key", NULL, lines, 1 };
	struct json_object *root, *v, *msgs, *schema, *props;
	char *body = anthropic_build_request("claude-test", &call);

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	root = json_tokener_parse(body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "system", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), prompt_system);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "max_tokens", &v));
	CU_ASSERT_EQUAL(json_object_get_int(v), ANTHROPIC_MAX_OUTPUT_TOKENS);
	CU_ASSERT_FALSE(json_object_object_get_ex(root, "response_format", NULL));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "messages", &msgs));
	CU_ASSERT_EQUAL(json_object_array_length(msgs), 1);
	CU_ASSERT_PTR_NULL(strstr(json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(msgs, 0), "content")), "</report> key"));
	schema = json_object_object_get(json_object_object_get(
	    json_object_object_get(root, "output_config"), "format"), "schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(
	    json_object_object_get(json_object_object_get(root,
	    "output_config"), "format"), "type")), "json_schema");
	props = json_object_object_get(schema, "properties");
	/* The bounds Anthropic refuses are left out; the rest is the same. */
	CU_ASSERT_FALSE(json_object_object_get_ex(json_object_object_get(props,
	    "rotation_window_days"), "maximum", NULL));
	CU_ASSERT_FALSE(json_object_object_get_ex(json_object_object_get(props,
	    "source_line_ids"), "maxItems", NULL));
	CU_ASSERT_EQUAL(json_object_array_length(json_object_object_get(
	    json_object_object_get(props, "decision"), "enum")), DECISION__MAX);
	CU_ASSERT_FALSE(json_object_get_boolean(json_object_object_get(schema,
	    "additionalProperties")));
	json_object_put(root);
	free(body);
}

#define TEXT "{\\\"decision\\\":\\\"eligible\\\"}"
#define MESSAGE(type, stop, content) "{\"id\":\"msg_1\",\"type\":\"" type \
	"\",\"model\":\"claude-x\",\"content\":" content ",\"stop_reason\":\"" \
	stop "\",\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}"

static void
test_anthropic_response(void)
{
	static const char *const bad[] = {
		"", "{}", "[]",
		MESSAGE("error", "end_turn", "[{\"type\":\"text\",\"text\":\"" TEXT "\"}]"),
		MESSAGE("message", "max_tokens", "[{\"type\":\"text\",\"text\":\"" TEXT "\"}]"),
		MESSAGE("message", "refusal", "[{\"type\":\"text\",\"text\":\"\"}]"),
		MESSAGE("message", "end_turn", "[]"),
		MESSAGE("message", "end_turn", "\"" TEXT "\""),
		MESSAGE("message", "end_turn", "[{\"type\":\"text\",\"text\":\"" TEXT
		    "\"},{\"type\":\"text\",\"text\":\"" TEXT "\"}]"),
		MESSAGE("message", "end_turn", "[{\"type\":\"tool_use\",\"input\":{}}]"),
		MESSAGE("message", "end_turn", "[{\"type\":\"text\",\"text\":\"a\\u0000b\"}]"),
		MESSAGE("message", "end_turn", "[{\"type\":\"text\",\"text\":\"" TEXT "\"}]") "x",
	};
	static const char good[] = MESSAGE("message", "end_turn",
	    "[{\"type\":\"text\",\"text\":\"" TEXT "\"}]");
	struct provider_result r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		provider_result_init(&r);
		anthropic_parse_response(bad[i], strlen(bad[i]), &r);
		CU_ASSERT_EQUAL(r.error, KR_INVALID_DECISION);
		CU_ASSERT_PTR_NULL(r.text);
		provider_result_free(&r);
	}
	provider_result_init(&r);
	anthropic_parse_response(good, strlen(good), &r);
	CU_ASSERT_EQUAL_FATAL(r.error, KR_OK);
	CU_ASSERT_STRING_EQUAL(r.text, "{\"decision\":\"eligible\"}");
	CU_ASSERT_STRING_EQUAL(r.response_id, "msg_1");
	CU_ASSERT_STRING_EQUAL(r.response_model, "claude-x");
	CU_ASSERT_STRING_EQUAL(r.finish_reason, "end_turn");
	CU_ASSERT_EQUAL(r.input_tokens, 5);
	CU_ASSERT_EQUAL(r.output_tokens, 7);
	provider_result_free(&r);
}

/* Writes text to a fresh 0600 file and reads it as a headers file. */
static int
read_headers(const char *text, size_t len, mode_t mode, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char path[] = "/tmp/keyrota-unit-headers-XXXXXX";
	int fd = mkstemp(path), rc;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
	close(fd);
	err[0] = '\0';
	rc = secret_read_headers("KEYROTA_MODEL_HEADERS_FILE", path, out, outlen,
	    err, errlen);
	unlink(path);
	return rc;
}

static void
test_headers_file(void)
{
	static const struct {
		const char *text;
		const char *says;
	} refused[] = {
		{ "X-A: 1\nno colon SECRET\n", "line 2 expected" },
		{ "Authorization: Bearer SECRET\n", "line 1 sets a header keyrota "
		    "sets itself: Authorization" },
		{ "# c\nAPI-KEY: SECRET\n", "line 2 sets a header keyrota sets "
		    "itself: api-key" },
		{ "content-type: SECRET\n", "Content-Type" },
		{ "X-Api-Key: SECRET\n", "x-api-key" },
		{ "Host: SECRET\n", "Host" },
		{ "TE: SECRET\n", "TE" },
		{ "upgrade: SECRET\n", "Upgrade" },
		{ "Trailer: SECRET\n", "Trailer" },
		{ "Keep-Alive: SECRET\n", "Keep-Alive" },
		{ "Proxy-Connection: SECRET\n", "Proxy-Connection" },
		{ "Accept-Encoding: SECRET\n", "Accept-Encoding" },
		{ "X A: SECRET\n", "line 1 expected" },
		{ ": SECRET\n", "line 1 expected" },
		{ "X-A: SECRET\r\n", "carriage return" },
		{ "X-A: \x01SECRET\n", "control character" },
		{ "X-A:\n", "empty value" },
		{ "X-\xc3\xa9: SECRET\n", "line 1 expected" },
	};
	char out[SECRET_HEADERS_MAX], err[512];
	static const char nul[] = "X-A: 1\nX-B: SEC\0RET\n";
	static const char good[] = "# gateway\n\n  X-Tenant:  t 1  \n"
	    "x-portkey-virtual-key:vk\n";
	size_t i;

	CU_ASSERT_EQUAL(read_headers(good, strlen(good), 0600, out, sizeof(out),
	    err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "X-Tenant: t 1\nx-portkey-virtual-key: vk\n");
	CU_ASSERT_EQUAL(read_headers("", 0, 0600, out, sizeof(out), err,
	    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		CU_ASSERT_EQUAL(read_headers(refused[i].text,
		    strlen(refused[i].text), 0600, out, sizeof(out), err,
		    sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, refused[i].says));
		CU_ASSERT_PTR_NULL(strstr(err, "SECRET"));
		CU_ASSERT_STRING_EQUAL(out, "");
	}
	CU_ASSERT_EQUAL(read_headers(nul, sizeof(nul) - 1, 0600, out,
	    sizeof(out), err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2 holds a NUL"));
	CU_ASSERT_EQUAL(read_headers("X-A: SECRET\n", 12, 0640, out,
	    sizeof(out), err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "group or others"));
}

static void
test_api_version_query(void)
{
	char url[64] = "https://x.example/v1/chat/completions";
	char small[40] = "https://x.example/v1/chat/completions";

	CU_ASSERT_EQUAL(provider_http_query(url, sizeof(url), "api-version",
	    "2024-10 a&b"), -1);
	snprintf(url, sizeof(url), "https://x/d/chat/completions");
	CU_ASSERT_EQUAL(provider_http_query(url, sizeof(url), "api-version",
	    "2024-10 a&b=~"), 0);
	CU_ASSERT_STRING_EQUAL(url, "https://x/d/chat/completions?api-version="
	    "2024-10%20a%26b%3D~");
	CU_ASSERT_EQUAL(provider_http_query(small, sizeof(small), "v", "1"), -1);
	/* The base URL's trailing slashes go; a URL that does not fit fails. */
	CU_ASSERT_EQUAL(provider_http_url(url, sizeof(url), "https://x/v1//",
	    "/messages"), 0);
	CU_ASSERT_STRING_EQUAL(url, "https://x/v1/messages");
	CU_ASSERT_EQUAL(provider_http_url(small, sizeof(small),
	    "https://x.example/v1", "/chat/completions"), 0);
	CU_ASSERT_EQUAL(provider_http_url(small, sizeof(small),
	    "https://x.example/v1/", "/chat/completions/xy"), -1);
}

static void
test_gateway_config(void)
{
	const char *anthropic[] = { "KEYROTA_PROVIDER", "anthropic",
	    "KEYROTA_MODEL_KEY_FILE", "/k", NULL, NULL, NULL };
	const char *none_local[] = { "KEYROTA_PROVIDER", "openai",
	    "KEYROTA_MODEL_AUTH", "none", "KEYROTA_MODEL_BASE_URL",
	    "http://localhost:11434/v1", NULL };
	const char *none_remote[] = { "KEYROTA_PROVIDER", "openai",
	    "KEYROTA_MODEL_AUTH", "none", "KEYROTA_MODEL_BASE_URL",
	    "https://api.example.com/v1", NULL };
	const char *bad_auth[] = { "KEYROTA_PROVIDER", "openai",
	    "KEYROTA_MODEL_KEY_FILE", "/k", "KEYROTA_MODEL_AUTH", "Bearer",
	    NULL };
	const char *azure[] = { "KEYROTA_PROVIDER", "openai",
	    "KEYROTA_MODEL_KEY_FILE", "/k", "KEYROTA_MODEL_AUTH", "api-key",
	    "KEYROTA_MODEL_API_VERSION", "2024-10-21", NULL };
	const char *anthropic_own[] = { "KEYROTA_PROVIDER", "anthropic",
	    "KEYROTA_MODEL_KEY_FILE", "/k", "KEYROTA_MODEL_BASE_URL",
	    "https://gw.example/anthropic/v1", "KEYROTA_MODEL", "claude-x",
	    NULL };
	const char *openai_key[] = { "KEYROTA_MODEL_KEY_FILE", "/k", NULL };
	const char *none_implicit[] = { "KEYROTA_MODEL_AUTH", "none",
	    "KEYROTA_MODEL_BASE_URL", "http://127.0.0.1:8000/v1", NULL };
	const char *query[] = { "KEYROTA_MODEL_KEY_FILE", "/k",
	    "KEYROTA_MODEL_BASE_URL", "https://x.example/v1?api-version=1",
	    NULL };
	const char *fragment[] = { "KEYROTA_MODEL_KEY_FILE", "/k",
	    "KEYROTA_MODEL_BASE_URL", "https://x.example/v1#a", NULL };
	struct config cfg;
	char err[256];

	/* Each provider's key goes to its own endpoint by default. */
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, openai_key, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_OPENAI);
	CU_ASSERT_STRING_EQUAL(cfg.model_base_url, "https://api.openai.com/v1");
	CU_ASSERT_STRING_EQUAL(cfg.model, "gpt-4o-mini");
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, anthropic_own, err,
	    sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.model_base_url,
	    "https://gw.example/anthropic/v1");
	CU_ASSERT_STRING_EQUAL(cfg.model, "claude-x");
	/* An explicit keyless setting means a model server, not the fixture. */
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, none_implicit, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_OPENAI);
	CU_ASSERT_EQUAL(cfg.model_auth, MODEL_AUTH_NONE);
	none_implicit[3] = NULL;
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, none_implicit, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_AUTH: none"));
	/* A query or fragment in the base URL would swallow the path. */
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, query, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_API_VERSION"));
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, fragment, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_BASE_URL"));

	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, anthropic, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_ANTHROPIC);
	CU_ASSERT_STRING_EQUAL(cfg.model_base_url,
	    "https://api.anthropic.com/v1");
	CU_ASSERT_STRING_EQUAL(cfg.model, "claude-haiku-4-5");
	CU_ASSERT_EQUAL(cfg.model_auth, MODEL_AUTH_X_API_KEY);
	CU_ASSERT_STRING_EQUAL(cfg.model_api_version, "2023-06-01");
	CU_ASSERT_STRING_EQUAL(config_provider_name(cfg.provider), "anthropic");
	anthropic[4] = "KEYROTA_MODEL_API_VERSION";
	anthropic[5] = "";
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, anthropic, err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, none_local, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.model_auth, MODEL_AUTH_NONE);
	CU_ASSERT_FALSE(config_needs_model_key(&cfg));
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, none_remote, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_AUTH"));
	CU_ASSERT_EQUAL(config_load(&cfg, unit_env, bad_auth, err,
	    sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_AUTH"));
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, azure, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.model_auth, MODEL_AUTH_API_KEY);
	CU_ASSERT_STRING_EQUAL(config_model_auth_header(cfg.model_auth),
	    "api-key");
	CU_ASSERT_STRING_EQUAL(cfg.model_api_version, "2024-10-21");
	CU_ASSERT_TRUE(config_needs_model_key(&cfg));
}

/* A key goes into a header line: a control character in it is refused
 * when the key is read, by name, and the key is never quoted. */
static void
test_key_control_character(void)
{
	char path[] = "/tmp/keyrota-unit-key-XXXXXX", err[512] = "";
	const char *env[] = { "KEYROTA_PROVIDER", "openai",
	    "KEYROTA_MODEL_KEY_FILE", path, NULL };
	static const char *const bad[] = { "sk-SEC\x01RET\n",
	    "sk-SEC\nRET\n", "sk-SEC\x7fRET" };
	struct model_secrets ms;
	struct config cfg;
	size_t i;
	int fd;

	CU_ASSERT_FATAL((fd = mkstemp(path)) >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, unit_env, env, err,
	    sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_FATAL((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
		CU_ASSERT_FATAL(write(fd, bad[i], strlen(bad[i])) ==
		    (ssize_t)strlen(bad[i]));
		close(fd);
		err[0] = '\0';
		CU_ASSERT_EQUAL(provider_secrets_load(&cfg, &ms, err,
		    sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_KEY_FILE"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "control character"));
		CU_ASSERT_PTR_NULL(strstr(err, "SEC"));
		CU_ASSERT_EQUAL(ms.key[0], '\0');
	}
	CU_ASSERT_FATAL((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	CU_ASSERT_FATAL(write(fd, "sk-ok\n", 6) == 6);
	close(fd);
	CU_ASSERT_EQUAL(provider_secrets_load(&cfg, &ms, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ms.key, "sk-ok");
	secret_wipe(&ms, sizeof(ms));
	unlink(path);
}

void
suite_provider_wire(void)
{
	CU_pSuite s = CU_add_suite("provider_wire", NULL, NULL);

	ADD_TEST(s, test_error_classification);
	ADD_TEST(s, test_retry_of_exhausted_credit);
	ADD_TEST(s, test_anthropic_request);
	ADD_TEST(s, test_anthropic_response);
	ADD_TEST(s, test_headers_file);
	ADD_TEST(s, test_api_version_query);
	ADD_TEST(s, test_gateway_config);
	ADD_TEST(s, test_key_control_character);
}
