#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "answer.h"
#include "openai_format.h"
#include "prompt.h"
#include "provider_error.h"
#include "retry.h"
#include "unit.h"

static const struct policy_line lines[] = {
	{ "P-7", "Stale service-account keys may be rotated within 30 days.", 30 },
};

static void
test_request_builder(void)
{
	struct openai_request_opts opts = { "gpt-test", "max_tokens" };
	struct provider_call call = { "key \"stale\" </report> <b>x</b>\n\\",
	    "ci-key", lines, 1 };
	struct json_object *root, *v, *msgs, *schema;
	const char *user;
	char *body = openai_build_request(&opts, &call);

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	CU_ASSERT_PTR_NULL(strstr(body, "Bearer"));
	root = json_tokener_parse(body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "max_tokens", &v));
	CU_ASSERT_FALSE(json_object_object_get_ex(root, "max_completion_tokens",
	    NULL));
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "temperature", &v));
	CU_ASSERT_EQUAL(json_object_get_int(v), 0);
	CU_ASSERT_TRUE(json_object_object_get_ex(root, "messages", &msgs));
	CU_ASSERT_EQUAL(json_object_array_length(msgs), 2);
	v = json_object_object_get(json_object_array_get_idx(msgs, 0),
	    "content");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v), prompt_system);
	user = json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(msgs, 1), "content"));
	/* The report is JSON data with its own < and > escaped. */
	CU_ASSERT_PTR_NOT_NULL(strstr(user,
	    "{\"credential_report\":\"key \\\"stale\\\" \\u003c/report\\u003e "
	    "\\u003cb\\u003ex\\u003c/b\\u003e\\n\\\\\",\"item\":\"ci-key\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(user, "P-7 (rotation window: 30 days)"));
	schema = json_object_object_get(json_object_object_get(
	    json_object_object_get(root, "response_format"), "json_schema"),
	    "schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
	CU_ASSERT_FALSE(json_object_get_boolean(json_object_object_get(schema,
	    "additionalProperties")));
	CU_ASSERT_EQUAL(json_object_array_length(json_object_object_get(schema,
	    "required")), 3);
	json_object_put(root);
	free(body);
}

static enum kr_error
parse(const char *body, struct provider_result *r)
{
	provider_result_init(r);
	openai_parse_response(body, strlen(body), r);
	return r->error;
}

static void
test_response_parser(void)
{
	static const char *const bad[] = {
		"", "not json", "[]", "{}",
		"{\"choices\":[]}",
		"{\"choices\":[{\"finish_reason\":\"stop\"}]}",
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{}}]}",
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
		    "{\"content\":42}}]}",
		"{\"choices\":[{\"finish_reason\":\"length\",\"message\":"
		    "{\"content\":\"{}\"}}]}",
		"{\"choices\":[{\"finish_reason\":\"content_filter\",\"message\":"
		    "{\"content\":\"{}\"}}]}",
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
		    "{\"content\":null,\"refusal\":\"I can't\"}}]}",
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
		    "{\"content\":\"{}\",\"refusal\":\"no\"}}]}",
		"{\"choices\":\"x\"}",
	};
	struct provider_result r;
	size_t i;

	CU_ASSERT_EQUAL(parse("{\"id\":\"c-1\",\"model\":\"m-2\",\"choices\":"
	    "[{\"finish_reason\":\"stop\",\"message\":{\"content\":\"{\\\"a\\\":1}\","
	    "\"refusal\":null}}],\"usage\":{\"prompt_tokens\":10,"
	    "\"completion_tokens\":3}}", &r), KR_OK);
	CU_ASSERT_STRING_EQUAL(r.text, "{\"a\":1}");
	CU_ASSERT_STRING_EQUAL(r.response_model, "m-2");
	CU_ASSERT_STRING_EQUAL(r.response_id, "c-1");
	CU_ASSERT_STRING_EQUAL(r.finish_reason, "stop");
	CU_ASSERT_EQUAL(r.input_tokens, 10);
	CU_ASSERT_EQUAL(r.output_tokens, 3);
	provider_result_free(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &r), KR_INVALID_DECISION);
		CU_ASSERT_PTR_NULL(r.text);
		provider_result_free(&r);
	}
	/* Usage is optional and must be sane. */
	CU_ASSERT_EQUAL(parse("{\"choices\":[{\"finish_reason\":\"stop\","
	    "\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":-5}}",
	    &r), KR_OK);
	CU_ASSERT_EQUAL(r.input_tokens, -1);
	CU_ASSERT_EQUAL(r.output_tokens, -1);
	provider_result_free(&r);
}

/* A body whose model is prefix + suffix, the rest a valid answer. */
static enum kr_error
parse_model(const char *model, struct provider_result *r)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"id\":\"c-1\",\"model\":\"%s\","
	    "\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
	    "{\"content\":\"x\"}}]}", model);
	return parse(body, r);
}

/* Provider metadata is untrusted: it is cut on a character boundary to
 * fit, and dropped when it is not valid UTF-8 or holds control
 * characters, while the answer itself still stands. */
static void
test_response_metadata_is_cut_and_validated(void)
{
	static const char *const dropped[] = { "gpt-\xff", "gpt-\xc3",
	    "\xc0\xaf", "\xed\xa0\x80", "gpt\\u0000evil", "gpt\\u0007",
	    "gpt\\nforged", "gpt\\tx" };
	struct provider_result r;
	char model[200];
	size_t i, k, n;

	for (k = 120; k <= 128; k++) {
		/* k a's, then a 2-, 3- or 4-byte character and "xyz". */
		static const char *const wide[] = { "\xc3\xa9", "\xe2\x82\xac",
		    "\xf0\x9f\x98\x80" };

		for (i = 0; i < 3; i++) {
			memset(model, 'a', k);
			snprintf(model + k, sizeof(model) - k, "%sxyz", wide[i]);
			CU_ASSERT_EQUAL(parse_model(model, &r), KR_OK);
			n = strlen(r.response_model);
			CU_ASSERT(n <= sizeof(r.response_model) - 1);
			CU_ASSERT(n >= 124);
			/* Whole characters only: a prefix of what was sent that
			 * ends before a character or right after one. */
			CU_ASSERT_EQUAL(memcmp(r.response_model, model, n), 0);
			CU_ASSERT(((unsigned char)model[n] & 0xc0) != 0x80);
			provider_result_free(&r);
		}
	}
	CU_ASSERT_EQUAL(parse_model("gpt-\xc3\xa9", &r), KR_OK);
	CU_ASSERT_STRING_EQUAL(r.response_model, "gpt-\xc3\xa9");
	provider_result_free(&r);
	for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		CU_ASSERT_EQUAL(parse_model(dropped[i], &r), KR_OK);
		CU_ASSERT_STRING_EQUAL(r.response_model, "");
		CU_ASSERT_STRING_EQUAL(r.response_id, "c-1");
		provider_result_free(&r);
	}
}

#define GOOD_RESPONSE "{\"id\":\"c-1\",\"choices\":[{\"finish_reason\":" \
	"\"stop\",\"message\":{\"content\":\"{\\\"decision\\\":\\\"eligible\\\"," \
	"\\\"rotation_window_days\\\":30,\\\"source_line_ids\\\":[\\\"P-7\\\"]}\"}}]}"

/* Exactly one response object: trailing bytes after it are refused,
 * trailing whitespace (a final newline) is not. */
static void
test_response_trailing_bytes(void)
{
	static const char *const tails[] = { "x", "{}", GOOD_RESPONSE, "]",
	    "\n{\"choices\":[]}", " null" };
	struct provider_result r;
	char body[1024];
	size_t i;

	CU_ASSERT_EQUAL(parse(GOOD_RESPONSE, &r), KR_OK);
	provider_result_free(&r);
	CU_ASSERT_EQUAL(parse(GOOD_RESPONSE "\r\n \t", &r), KR_OK);
	provider_result_free(&r);
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(body, sizeof(body), "%s%s", GOOD_RESPONSE, tails[i]);
		CU_ASSERT_EQUAL(parse(body, &r), KR_INVALID_DECISION);
		CU_ASSERT_PTR_NULL(r.text);
		provider_result_free(&r);
	}
	/* A NUL byte in the body ends nothing: the body is refused. */
	provider_result_init(&r);
	memcpy(body, GOOD_RESPONSE "\0{}", sizeof(GOOD_RESPONSE "\0{}"));
	openai_parse_response(body, sizeof(GOOD_RESPONSE "\0{}") - 1, &r);
	CU_ASSERT_EQUAL(r.error, KR_INVALID_DECISION);
	provider_result_free(&r);
}

/* Content cut at an escaped NUL would hide what follows it. */
static void
test_response_content_with_nul(void)
{
	struct provider_result r;
	struct model_answer a;
	enum kr_error e;

	e = parse("{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
	    "{\"content\":\"{\\\"decision\\\":\\\"eligible\\\","
	    "\\\"rotation_window_days\\\":30,\\\"source_line_ids\\\":"
	    "[\\\"P-7\\\"]}\\u0000 and more text\"}}]}", &r);
	if (e == KR_OK)      /* the text must then carry the NUL along */
		e = answer_parse(r.text, r.text_len, &a);
	CU_ASSERT_EQUAL(e, KR_INVALID_DECISION);
	provider_result_free(&r);
}

/* One answer only: a second choice, or a key given twice (parsers differ
 * on which one wins), is not exactly one answer. */
static void
test_response_exactly_one_answer(void)
{
	static const char *const bad[] = {
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
		    "{\"content\":\"{}\"}},{\"finish_reason\":\"stop\","
		    "\"message\":{\"content\":\"{}\"}}]}",
		"{\"choices\":[],\"choices\":[{\"finish_reason\":\"stop\","
		    "\"message\":{\"content\":\"{}\"}}]}",
		"{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
		    "{\"content\":\"x\",\"content\":\"{}\"}}]}",
		"{\"choices\":[{\"finish_reason\":\"length\",\"finish_reason\":"
		    "\"stop\",\"message\":{\"content\":\"{}\"}}]}",
	};
	struct provider_result r;
	struct model_answer a;
	size_t i;
	const char *twice = "{\"decision\":\"not_eligible\",\"decision\":"
	    "\"eligible\",\"rotation_window_days\":30,\"source_line_ids\":"
	    "[\"P-7\"]}";
	const char *nested = "{\"decision\":\"eligible\",\"rotation_window_days\""
	    ":30,\"source_line_ids\":[\"P-7\"],\"x\":{\"a\":1,\"a\":2}}";

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &r), KR_INVALID_DECISION);
		CU_ASSERT_PTR_NULL(r.text);
		provider_result_free(&r);
	}
	CU_ASSERT_EQUAL(answer_parse(twice, strlen(twice), &a),
	    KR_INVALID_DECISION);
	CU_ASSERT_EQUAL(answer_parse(nested, strlen(nested), &a),
	    KR_INVALID_DECISION);
	/* The same key in two different objects is no repeat. */
	CU_ASSERT_EQUAL(parse("{\"id\":\"x\",\"choices\":[{\"finish_reason\":"
	    "\"stop\",\"message\":{\"content\":\"{}\",\"id\":\"y\"}}]}", &r),
	    KR_OK);
	provider_result_free(&r);
}

/* Whether a 429 is an exhausted quota (not retried) or a rate limit. */
static int
quota_exhausted(const char *body, size_t len)
{
	int no_retry = -1;

	CU_ASSERT_EQUAL(provider_error_classify(429, body, len, &no_retry), 429);
	return no_retry;
}

static void
test_insufficient_quota(void)
{
	const char *q = "{\"error\":{\"code\":\"insufficient_quota\"}}";
	const char *t = "{\"error\":{\"type\":\"insufficient_quota\",\"code\":429}}";
	const char *r = "{\"error\":{\"code\":\"rate_limit_exceeded\"}}";

	CU_ASSERT_EQUAL(quota_exhausted(q, strlen(q)), 1);
	CU_ASSERT_EQUAL(quota_exhausted(t, strlen(t)), 1);
	CU_ASSERT_EQUAL(quota_exhausted(r, strlen(r)), 0);
	CU_ASSERT_EQUAL(quota_exhausted("", 0), 0);
	CU_ASSERT_EQUAL(quota_exhausted("garbage", 7), 0);
}

/* The retry policy as a decision table. */
static void
test_retry_table(void)
{
	static const struct {
		unsigned attempt, max;
		int transport, timed_out;
		long status;
		int quota;
		long hint, remaining;
		int retry;
		long wait;
		enum kr_error error;
	} rows[] = {
		/* retryable, with and without a hint */
		{ 1, 2, 1, 0, 0,   0, -1,  5000, 1, 125, KR_PROVIDER_UNAVAILABLE },
		{ 1, 2, 0, 0, 500, 0, -1,  5000, 1, 125, KR_PROVIDER_UNAVAILABLE },
		{ 1, 2, 0, 0, 503, 0, -1,  5000, 1, 125, KR_PROVIDER_UNAVAILABLE },
		{ 1, 2, 0, 0, 408, 0, -1,  5000, 1, 125, KR_PROVIDER_UNAVAILABLE },
		{ 1, 2, 0, 0, 409, 0, -1,  5000, 1, 125, KR_PROVIDER_UNAVAILABLE },
		{ 1, 2, 0, 0, 429, 0, 1000, 5000, 1, 1000, KR_PROVIDER_RATE_LIMITED },
		{ 2, 3, 0, 0, 502, 0, -1,  5000, 1, 250, KR_PROVIDER_UNAVAILABLE },
		{ 3, 4, 0, 0, 502, 0, -1,  5000, 1, 500, KR_PROVIDER_UNAVAILABLE },
		/* attempts used up */
		{ 2, 2, 0, 0, 500, 0, -1,  5000, 0, 0, KR_PROVIDER_UNAVAILABLE },
		/* a hint longer than the budget: stop now */
		{ 1, 2, 0, 0, 429, 0, 6000, 5000, 0, 0, KR_PROVIDER_RATE_LIMITED },
		{ 1, 2, 0, 0, 500, 0, -1,  100, 0, 0, KR_PROVIDER_UNAVAILABLE },
		/* never retried */
		{ 1, 3, 0, 0, 429, 1, -1,  5000, 0, 0, KR_PROVIDER_RATE_LIMITED },
		{ 1, 3, 0, 0, 400, 0, -1,  5000, 0, 0, KR_PROVIDER_UNAVAILABLE },
		{ 1, 3, 0, 0, 401, 0, -1,  5000, 0, 0, KR_PROVIDER_AUTH },
		{ 1, 3, 0, 0, 403, 0, -1,  5000, 0, 0, KR_PROVIDER_AUTH },
		{ 1, 3, 0, 0, 404, 0, -1,  5000, 0, 0, KR_PROVIDER_UNAVAILABLE },
		{ 1, 3, 0, 0, 422, 0, -1,  5000, 0, 0, KR_PROVIDER_UNAVAILABLE },
		{ 1, 3, 0, 1, 0,   0, -1,  0,    0, 0, KR_PROVIDER_TIMEOUT },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct attempt_outcome o = { rows[i].attempt, rows[i].max,
		    rows[i].transport, rows[i].timed_out, rows[i].status,
		    rows[i].quota, rows[i].hint, rows[i].remaining };
		/* jitter 0: the lower end of [wait/2, wait] */
		struct retry_plan p = retry_plan(&o, 0.0);

		CU_ASSERT_EQUAL(p.retry, rows[i].retry);
		CU_ASSERT_EQUAL(p.error, rows[i].error);
		if (rows[i].retry)
			CU_ASSERT_EQUAL(p.wait_ms, rows[i].wait);
	}
}

static void
test_backoff_jitter_bounds(void)
{
	struct attempt_outcome o = { 1, 10, 1, 0, 0, 0, -1, 100000 };
	struct retry_plan p;
	unsigned a;

	/* Attempt a waits within [full/2, full], full = 250 ms doubled per
	 * attempt up to the 4 s cap: figures written out, not recomputed. */
	static const long full[] = { 0, 250, 500, 1000, 2000, 4000, 4000,
		4000, 4000 };

	for (a = 1; a <= 8; a++) {
		o.attempt = a;
		p = retry_plan(&o, 0.0);
		CU_ASSERT(p.retry);
		CU_ASSERT_EQUAL(p.wait_ms, full[a] / 2);
		p = retry_plan(&o, 0.999);
		CU_ASSERT(p.retry);
		CU_ASSERT(p.wait_ms <= full[a]);
		CU_ASSERT(p.wait_ms >= full[a] - full[a] / 100);
	}
}

/* A gate that lets through *ctx more retries, counting them. */
static int
counting_gate(void *ctx)
{
	unsigned *left = ctx;

	if (*left == 0)
		return -1;
	(*left)--;
	return 0;
}

/* The model budget's gate (README, "Under load"): asked only before a
 * retry that would be made; a refusal ends the call as
 * provider_rate_limited. */
static void
test_retry_gate(void)
{
	struct attempt_outcome o = { 1, 3, 0, 0, 500, 0, -1, 100000 };
	struct retry_plan p;
	unsigned left = 1;

	retry_set_gate(counting_gate, &left);
	p = retry_plan(&o, 0.0);
	CU_ASSERT(p.retry);
	CU_ASSERT_EQUAL(left, 0);
	p = retry_plan(&o, 0.0);
	CU_ASSERT_FALSE(p.retry);
	CU_ASSERT_EQUAL(p.error, KR_PROVIDER_RATE_LIMITED);
	/* Not asked when no retry is due. */
	left = 1;
	o.http_status = 400;
	p = retry_plan(&o, 0.0);
	CU_ASSERT_FALSE(p.retry);
	CU_ASSERT_EQUAL(p.error, KR_PROVIDER_UNAVAILABLE);
	CU_ASSERT_EQUAL(left, 1);
	retry_set_gate(NULL, NULL);
	o.http_status = 500;
	CU_ASSERT(retry_plan(&o, 0.0).retry);
}

static void
test_retry_after_parsing(void)
{
	time_t now = 1700000000;   /* Tue, 14 Nov 2023 22:13:20 GMT */

	CU_ASSERT_EQUAL(retry_after_parse("2", now), 2000);
	CU_ASSERT_EQUAL(retry_after_parse(" 0", now), 0);
	CU_ASSERT_EQUAL(retry_after_parse("Tue, 14 Nov 2023 22:13:25 GMT", now),
	    5000);
	CU_ASSERT_EQUAL(retry_after_parse("Tue, 14 Nov 2023 22:13:00 GMT", now),
	    0);
	CU_ASSERT_EQUAL(retry_after_parse("soon", now), -1);
	CU_ASSERT_EQUAL(retry_after_parse("", now), -1);
	CU_ASSERT_EQUAL(retry_after_parse("-3", now), -1);
	CU_ASSERT_EQUAL(retry_after_parse("1.5", now), -1);
	CU_ASSERT_EQUAL(retry_after_parse("99999999999999999999", now), -1);
	CU_ASSERT_EQUAL(retry_after_parse(NULL, now), -1);
	CU_ASSERT_EQUAL(retry_after_ms_parse("300"), 300);
	CU_ASSERT_EQUAL(retry_after_ms_parse("30x"), -1);
	CU_ASSERT_EQUAL(retry_after_ms_parse(""), -1);
}

void
suite_provider_openai(void)
{
	CU_pSuite s = CU_add_suite("provider_openai", NULL, NULL);

	ADD_TEST(s, test_request_builder);
	ADD_TEST(s, test_response_parser);
	ADD_TEST(s, test_response_metadata_is_cut_and_validated);
	ADD_TEST(s, test_response_trailing_bytes);
	ADD_TEST(s, test_response_content_with_nul);
	ADD_TEST(s, test_response_exactly_one_answer);
	ADD_TEST(s, test_insufficient_quota);
	ADD_TEST(s, test_retry_table);
	ADD_TEST(s, test_backoff_jitter_bounds);
	ADD_TEST(s, test_retry_after_parsing);
	ADD_TEST(s, test_retry_gate);
}
