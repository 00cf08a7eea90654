#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "errors.h"
#include "provider.h"
#include "unit.h"

static const struct policy_line lines[] = {
	{ "P-3", "Keys are owned by a named team.", 0 },
	{ "P-7", "Stale service-account keys may be rotated within 30 days.", 30 },
};

static enum kr_error
parse(const char *text, struct model_answer *a)
{
	return answer_parse(text, strlen(text), a);
}

static void
test_answer_valid(void)
{
	struct model_answer a;

	CU_ASSERT_EQUAL_FATAL(parse("{\"decision\":\"eligible\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\",\"P-3\"]}",
	    &a), KR_OK);
	CU_ASSERT_EQUAL(a.decision, DECISION_ELIGIBLE);
	CU_ASSERT_EQUAL(a.rotation_window_days, 30);
	CU_ASSERT_EQUAL(a.nsources, 2);
	CU_ASSERT_STRING_EQUAL(a.sources[0], "P-7");
	CU_ASSERT_EQUAL(parse(" {\"source_line_ids\":[\"P-7\"],"
	    "\"decision\":\"needs_review\",\"rotation_window_days\":0}\n", &a),
	    KR_OK);
	CU_ASSERT_EQUAL(a.decision, DECISION_NEEDS_REVIEW);
}

/* Every malformed shape is invalid_decision, and nothing of it survives. */
static void
test_answer_malformed_shapes(void)
{
	static const char *const bad[] = {
		"",
		"Eligible under P-7.",
		"```json\n{\"decision\":\"eligible\"}\n```",
		"[]",
		"null",
		"{}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30}",
		"{\"decision\":\"eligible\",\"source_line_ids\":[\"P-7\"]}",
		"{\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\"],\"note\":\"x\"}",
		"{\"decision\":\"approve\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"ELIGIBLE\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":1,\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":\"30\","
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30.0,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":true,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":-1,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":91,"
		    "\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":"
		    "99999999999999999999,\"source_line_ids\":[\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":\"P-7\"}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[7]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"<script>\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\",\"P-7\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-1\",\"P-2\",\"P-3\",\"P-4\",\"P-5\","
		    "\"P-6\",\"P-7\",\"P-8\",\"P-9\"]}",
		"{\"decision\":\"eligible\",\"rotation_window_days\":30,"
		    "\"source_line_ids\":[\"P-7\"]} trailing",
		"{\"decision\":\"eligible\",\"decision\":\"eligible\","
		    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\"]}x",
	};
	struct model_answer a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &a), KR_INVALID_DECISION);
		CU_ASSERT_EQUAL(a.nsources, 0);
	}
}

static void
test_answer_oversized(void)
{
	char big[ANSWER_MAX_BYTES + 64];
	struct model_answer a;
	int n;

	n = snprintf(big, sizeof(big), "{\"decision\":\"eligible\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\"]}");
	memset(big + n, ' ', sizeof(big) - (size_t)n - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(answer_parse(big, strlen(big), &a), KR_INVALID_DECISION);
	CU_ASSERT_EQUAL(answer_parse(NULL, 0, &a), KR_INVALID_DECISION);
}

static enum kr_error
verify(const char *answer, int age)
{
	struct trusted_context t = { age, lines, 2 };
	struct model_answer a;

	if (parse(answer, &a) != KR_OK)
		return KR_ERROR__MAX;
	return answer_verify(&a, &t);
}

#define ELIGIBLE_30 "{\"decision\":\"eligible\",\"rotation_window_days\":30," \
	"\"source_line_ids\":[\"P-7\"]}"

static void
test_verify_each_branch(void)
{
	/* The lesson's cases: 12 days passes, 45 days is refused. */
	CU_ASSERT_EQUAL(verify(ELIGIBLE_30, 12), KR_OK);
	CU_ASSERT_EQUAL(verify(ELIGIBLE_30, 45), KR_POLICY_CONFLICT);
	/* The window's edges: 30 is inside, 31 outside; 0 is fine. */
	CU_ASSERT_EQUAL(verify(ELIGIBLE_30, 30), KR_OK);
	CU_ASSERT_EQUAL(verify(ELIGIBLE_30, 31), KR_POLICY_CONFLICT);
	CU_ASSERT_EQUAL(verify(ELIGIBLE_30, 0), KR_OK);
	/* Only eligible can conflict. */
	CU_ASSERT_EQUAL(verify("{\"decision\":\"not_eligible\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\"]}", 45),
	    KR_OK);
	CU_ASSERT_EQUAL(verify("{\"decision\":\"needs_review\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\"]}", 400),
	    KR_OK);
	/* Evidence without P-7, an unknown line, a window that is not P-7's. */
	CU_ASSERT_EQUAL(verify("{\"decision\":\"eligible\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-3\"]}", 12),
	    KR_INVALID_DECISION);
	CU_ASSERT_EQUAL(verify("{\"decision\":\"eligible\","
	    "\"rotation_window_days\":30,\"source_line_ids\":[\"P-7\",\"P-99\"]}",
	    12), KR_INVALID_DECISION);
	CU_ASSERT_EQUAL(verify("{\"decision\":\"eligible\","
	    "\"rotation_window_days\":45,\"source_line_ids\":[\"P-7\"]}", 12),
	    KR_INVALID_DECISION);
	CU_ASSERT_EQUAL(verify("{\"decision\":\"eligible\","
	    "\"rotation_window_days\":90,\"source_line_ids\":[\"P-7\"]}", 45),
	    KR_INVALID_DECISION);
}

static void
test_verify_without_p7_in_policy(void)
{
	struct trusted_context t = { 12, lines, 1 };   /* P-3 only */
	struct model_answer a;

	CU_ASSERT_EQUAL_FATAL(parse(ELIGIBLE_30, &a), KR_OK);
	CU_ASSERT_EQUAL(answer_verify(&a, &t), KR_INVALID_DECISION);
}

struct captured {
	int  calls;
	char text[256];
	enum kr_error error;
};

static void
capture(void *ctx, struct provider_result *res)
{
	struct captured *c = ctx;

	c->calls++;
	c->error = res->error;
	snprintf(c->text, sizeof(c->text), "%.*s", (int)res->text_len,
	    res->text ? res->text : "");
}

static enum decision
fixture_says(struct provider *p, const char *report, const char *item)
{
	struct provider_call call = { report, item, lines, 2 };
	struct captured c = { 0, "", KR_OK };
	struct model_answer a;

	provider_decide(p, &call, capture, &c);
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_EQUAL(c.error, KR_OK);
	CU_ASSERT_EQUAL_FATAL(answer_parse(c.text, strlen(c.text), &a), KR_OK);
	CU_ASSERT_EQUAL(a.rotation_window_days, 30);
	CU_ASSERT_STRING_EQUAL(a.sources[0], "P-7");
	return a.decision;
}

static void
test_fixture_rule_is_deterministic(void)
{
	struct provider *p = provider_fixture_create(NULL, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->ops->name, "fixture");
	CU_ASSERT_EQUAL(fixture_says(p, "The deploy key is STALE.", NULL),
	    DECISION_ELIGIBLE);
	CU_ASSERT_EQUAL(fixture_says(p, "Stale, but already rotated today.",
	    NULL), DECISION_NOT_ELIGIBLE);
	CU_ASSERT_EQUAL(fixture_says(p, "This is not a service account key.",
	    NULL), DECISION_NOT_ELIGIBLE);
	CU_ASSERT_EQUAL(fixture_says(p, "Something odd about a key.", NULL),
	    DECISION_NEEDS_REVIEW);
	CU_ASSERT_EQUAL(fixture_says(p, "Something odd about a key.",
	    "stale-ci-key"), DECISION_ELIGIBLE);
	provider_destroy(p);
}

static void
test_errors_table(void)
{
	int i;

	for (i = 1; i < KR_ERROR__MAX; i++) {
		CU_ASSERT(strlen(kr_error_code((enum kr_error)i)) > 0);
		CU_ASSERT(strlen(kr_error_explain((enum kr_error)i)) > 0);
		CU_ASSERT_EQUAL(kr_error_from_code(kr_error_code(
		    (enum kr_error)i)), i);
	}
	CU_ASSERT_EQUAL(kr_error_from_code("nonsense"), KR_ERROR__MAX);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_INVALID_REQUEST), 422);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_DATABASE_UNAVAILABLE), 503);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_IDEMPOTENCY_CONFLICT), 409);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_CSRF_FAILED), 403);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_OVERLOADED), 503);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_RATE_LIMITED), 429);
	CU_ASSERT_EQUAL(kr_error_http_status(KR_MODEL_BUDGET_EXHAUSTED), 503);
	CU_ASSERT_FALSE(kr_error_is_trace_error(KR_OVERLOADED));
	CU_ASSERT_FALSE(kr_error_is_trace_error(KR_RATE_LIMITED));
	CU_ASSERT_FALSE(kr_error_is_trace_error(KR_MODEL_BUDGET_EXHAUSTED));
	CU_ASSERT_TRUE(kr_error_is_trace_error(KR_WORKER_LOST));
	CU_ASSERT_FALSE(kr_error_is_trace_error(KR_INVALID_REQUEST));
}

void
suite_answer(void)
{
	CU_pSuite s = CU_add_suite("answer", NULL, NULL);

	ADD_TEST(s, test_answer_valid);
	ADD_TEST(s, test_answer_malformed_shapes);
	ADD_TEST(s, test_answer_oversized);
	ADD_TEST(s, test_verify_each_branch);
	ADD_TEST(s, test_verify_without_p7_in_policy);
	ADD_TEST(s, test_fixture_rule_is_deterministic);
	ADD_TEST(s, test_errors_table);
}
