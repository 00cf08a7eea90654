/* Trace store against the real PostgreSQL of the test stack
 * (KEYROTA_DATABASE_URL): exactly-once terminal updates, the schema's
 * lifecycle constraints, idempotency keys and the reaper. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <libpq-fe.h>

#include "db_pool.h"
#include "answer.h"
#include "trace_id.h"
#include "store_traces.h"

static const char *url;

static PGconn *
connect_prepared(void)
{
	PGconn *c = db_pool_connect(url);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(store_prepare(c), 0);
	return c;
}

static void
new_running_until(PGconn *c, char id[TRACE_ID_SIZE], const char *key,
    unsigned deadline_ms)
{
	struct trace_new t = { id, "acct_10234", "rotation_decision@2",
	    "fixture", "keyrota-fixture-1", key, key ? "0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef" : NULL,
	    "abcdef012345", "fk_test", deadline_ms, 0, NULL, NULL };

	CU_ASSERT_EQUAL_FATAL(trace_id_new(id), 0);
	CU_ASSERT_EQUAL_FATAL(store_traces_insert_running(c, &t), STORE_OK);
}

/* A running trace stored without a deadline, as older versions did. */
static void
new_running(PGconn *c, char id[TRACE_ID_SIZE], const char *key)
{
	new_running_until(c, id, key, 0);
}

static void
exec_one(PGconn *c, const char *sql, const char *id)
{
	const char *params[1] = { id };
	PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);

	CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
}

/* A racer's connection is opened by the test's own thread: CUnit's fatal
 * asserts jump back into the test and must never run on another thread. */
struct racer {
	PGconn            *conn;
	pthread_barrier_t *start;
	const char        *trace_id;
	int                completes;   /* else fails */
	enum store_result  result;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct model_answer a = { DECISION_ELIGIBLE, 30, 1, { "P-7" } };
	struct trace_finish f;

	memset(&f, 0, sizeof(f));
	f.status = r->completes ? TRACE_COMPLETED : TRACE_FAILED;
	f.error = KR_PROVIDER_TIMEOUT;
	f.answer = &a;
	f.attempts = 1;
	f.input_tokens = f.output_tokens = -1;
	f.latency_ms = 5;
	pthread_barrier_wait(r->start);
	r->result = store_traces_finish(r->conn, r->trace_id, &f);
	return NULL;
}

/* Two finishers race on one trace, fifty times: exactly one wins each
 * time, and the row holds the winner's state. */
static void
test_two_finishers_race_exactly_once(void)
{
	PGconn *c = connect_prepared();
	PGconn *ca = connect_prepared(), *cb = connect_prepared();
	struct trace_row row;
	int round, ok_count;

	for (round = 0; round < 50; round++) {
		char id[TRACE_ID_SIZE];
		pthread_barrier_t start;
		pthread_t t1, t2;
		struct racer a = { ca, &start, id, 1, STORE_UNAVAILABLE };
		struct racer b = { cb, &start, id, 0, STORE_UNAVAILABLE };

		new_running(c, id, NULL);
		pthread_barrier_init(&start, NULL, 2);
		pthread_create(&t1, NULL, race, &a);
		pthread_create(&t2, NULL, race, &b);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&start);

		ok_count = (a.result == STORE_OK) + (b.result == STORE_OK);
		CU_ASSERT_EQUAL(ok_count, 1);
		CU_ASSERT((a.result == STORE_NOT_RUNNING) !=
		    (b.result == STORE_NOT_RUNNING));
		CU_ASSERT_EQUAL_FATAL(store_traces_get(c, id, &row), STORE_OK);
		if (a.result == STORE_OK) {
			CU_ASSERT_EQUAL(row.status, TRACE_COMPLETED);
			CU_ASSERT_TRUE(row.has_decision);
			CU_ASSERT_EQUAL(row.decision, DECISION_ELIGIBLE);
			CU_ASSERT_EQUAL(row.error, KR_OK);
		} else {
			CU_ASSERT_EQUAL(row.status, TRACE_FAILED);
			CU_ASSERT_EQUAL(row.error, KR_PROVIDER_TIMEOUT);
			CU_ASSERT_FALSE(row.has_decision);
		}
	}
	PQfinish(ca);
	PQfinish(cb);
	PQfinish(c);
}

static int
sql_fails(PGconn *c, const char *sql, const char *id)
{
	const char *params[1] = { id };
	PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	int failed = PQresultStatus(res) != PGRES_COMMAND_OK;

	PQclear(res);
	return failed;
}

/* The schema itself refuses a row whose columns contradict its status. */
static void
test_constraints_tie_status_to_columns(void)
{
	PGconn *c = connect_prepared();
	char id[TRACE_ID_SIZE];

	new_running(c, id, NULL);
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET status = 'completed', "
	    "finished_at = now(), latency_ms = 1 WHERE trace_id = $1", id));
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET status = 'failed', "
	    "finished_at = now(), latency_ms = 1 WHERE trace_id = $1", id));
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET status = 'failed', "
	    "error_code = 'provider_timeout', decision = 'eligible', "
	    "finished_at = now(), latency_ms = 1 WHERE trace_id = $1", id));
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET finished_at = now() "
	    "WHERE trace_id = $1", id));
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET status = 'failed', "
	    "error_code = 'made_up', finished_at = now(), latency_ms = 1 "
	    "WHERE trace_id = $1", id));
	CU_ASSERT_TRUE(sql_fails(c, "UPDATE traces SET status = 'done' "
	    "WHERE trace_id = $1", id));
	CU_ASSERT_FALSE(sql_fails(c, "UPDATE traces SET status = 'failed', "
	    "error_code = 'provider_timeout', finished_at = now(), "
	    "latency_ms = 1 WHERE trace_id = $1", id));
	PQfinish(c);
}

/* The W3C trace context a decision continued (sql/006) is stored and
 * read back; a malformed or half context is refused. */
static void
test_trace_context_round_trips_and_is_checked(void)
{
	PGconn *c = connect_prepared();
	char id[TRACE_ID_SIZE];
	struct trace_new t;
	struct trace_row row;
	static const char *const bad[][2] = {
		{ "4BF92F3577B34DA6A3CE929D0E0E4736", "00f067aa0ba902b7" },
		{ "00000000000000000000000000000000", "00f067aa0ba902b7" },
		{ "4bf92f3577b34da6a3ce929d0e0e4736", "0000000000000000" },
		{ "4bf92f3577b34da6a3ce929d0e0e4736", NULL },
		{ NULL, "00f067aa0ba902b7" },
	};
	size_t i;

	memset(&t, 0, sizeof(t));
	t.trace_id = id;
	t.account_id = "acct_10234";
	t.prompt_version = "rotation_decision@2";
	t.provider = "fixture";
	t.request_model = "m";
	t.input_fingerprint = "abcdef012345";
	t.fingerprint_key_id = "fk_test";
	t.otel_trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
	t.otel_parent_span_id = "00f067aa0ba902b7";
	CU_ASSERT_EQUAL_FATAL(trace_id_new(id), 0);
	CU_ASSERT_EQUAL(store_traces_insert_running(c, &t), STORE_OK);
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, id, &row), STORE_OK);
	CU_ASSERT_STRING_EQUAL(row.otel_trace_id, t.otel_trace_id);
	CU_ASSERT_STRING_EQUAL(row.otel_parent_span_id, t.otel_parent_span_id);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(trace_id_new(id), 0);
		t.otel_trace_id = bad[i][0];
		t.otel_parent_span_id = bad[i][1];
		CU_ASSERT_NOT_EQUAL(store_traces_insert_running(c, &t), STORE_OK);
		CU_ASSERT_EQUAL(store_traces_get(c, id, &row), STORE_NOT_FOUND);
	}
	PQfinish(c);
}

static void
test_idempotency_key_is_unique(void)
{
	PGconn *c = connect_prepared();
	char id[TRACE_ID_SIZE], id2[TRACE_ID_SIZE], key[64];
	struct trace_new t;
	struct trace_row row;

	snprintf(key, sizeof(key), "key-%d-%ld", rand(), (long)time(NULL));
	new_running(c, id, key);
	CU_ASSERT_EQUAL_FATAL(trace_id_new(id2), 0);
	memset(&t, 0, sizeof(t));
	t.trace_id = id2;
	t.account_id = "acct_10234";
	t.prompt_version = "rotation_decision@2";
	t.provider = "fixture";
	t.request_model = "m";
	t.idempotency_key = key;
	t.request_digest = "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef";
	t.input_fingerprint = "abcdef012345";
	t.fingerprint_key_id = "fk_test";
	CU_ASSERT_EQUAL(store_traces_insert_running(c, &t), STORE_CONFLICT);
	CU_ASSERT_EQUAL(store_traces_get_by_idempotency_key(c, key, &row),
	    STORE_OK);
	CU_ASSERT_STRING_EQUAL(row.trace_id, id);
	CU_ASSERT_EQUAL(store_traces_get(c, id2, &row), STORE_NOT_FOUND);
	/* Re-inserting our own committed row (a retry) is not a clash. */
	t.trace_id = id;
	CU_ASSERT_EQUAL(store_traces_insert_running(c, &t), STORE_OK);
	PQfinish(c);
}

static void
test_reaper_fails_only_old_running_traces(void)
{
	PGconn *c = connect_prepared();
	char old[TRACE_ID_SIZE], fresh[TRACE_ID_SIZE];
	struct trace_row row;
	const char *params[1];
	PGresult *res;

	new_running(c, old, NULL);
	new_running(c, fresh, NULL);
	params[0] = old;
	res = PQexecParams(c, "UPDATE traces SET created_at = now() - "
	    "interval '1 hour' WHERE trace_id = $1", 1, NULL, params, NULL,
	    NULL, 0);
	CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	CU_ASSERT(store_traces_reap(c, 60000) >= 1);
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, old, &row), STORE_OK);
	CU_ASSERT_EQUAL(row.status, TRACE_FAILED);
	CU_ASSERT_EQUAL(row.error, KR_WORKER_LOST);
	CU_ASSERT(row.latency_ms >= 3600 * 1000 - 1000);
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, fresh, &row), STORE_OK);
	CU_ASSERT_EQUAL(row.status, TRACE_RUNNING);
	PQfinish(c);
}

/* Each trace is judged by the deadline stored when it started, not by
 * the reaper's own settings: a trace started an hour ago by an instance
 * that waits two hours is live; one whose deadline passed a moment ago is
 * reaped; one stored without a deadline falls back to the reaper's. */
static void
test_reaper_uses_each_traces_deadline(void)
{
	PGconn *c = connect_prepared();
	char long_wait[TRACE_ID_SIZE], due[TRACE_ID_SIZE];
	char legacy[TRACE_ID_SIZE];
	struct trace_row row;
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	new_running_until(c, long_wait, NULL, 2 * 3600 * 1000);
	new_running_until(c, due, NULL, 10);
	new_running(c, legacy, NULL);
	exec_one(c, "UPDATE traces SET created_at = now() - interval '1 hour' "
	    "WHERE trace_id = $1", long_wait);
	exec_one(c, "UPDATE traces SET created_at = now() - interval '1 hour' "
	    "WHERE trace_id = $1", legacy);
	nanosleep(&pause, NULL);
	CU_ASSERT(store_traces_reap(c, 60000) >= 2);
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, long_wait, &row), STORE_OK);
	CU_ASSERT_EQUAL(row.status, TRACE_RUNNING);
	CU_ASSERT_NOT_EQUAL(row.deadline_at[0], '\0');
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, due, &row), STORE_OK);
	CU_ASSERT_EQUAL(row.status, TRACE_FAILED);
	CU_ASSERT_EQUAL(row.error, KR_WORKER_LOST);
	CU_ASSERT_EQUAL_FATAL(store_traces_get(c, legacy, &row), STORE_OK);
	CU_ASSERT_EQUAL(row.status, TRACE_FAILED);
	CU_ASSERT_STRING_EQUAL(row.deadline_at, "");
	exec_one(c, "UPDATE traces SET status = 'failed', error_code = "
	    "'worker_lost', finished_at = now(), latency_ms = 0 "
	    "WHERE trace_id = $1", long_wait);
	PQfinish(c);
}

/* Provider metadata PostgreSQL refuses (a cut UTF-8 character, a value
 * longer than the column allows) still ends the trace: failed as
 * internal_error, without the metadata, and the caller is told to read
 * the stored state back. */
static void
test_finish_with_unstorable_metadata_fails_the_trace(void)
{
	static const char *const bad[] = {
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3",
	    "model-\xff\xfe",
	    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" };
	PGconn *c = connect_prepared();
	struct model_answer a = { DECISION_ELIGIBLE, 30, 1, { "P-7" } };
	struct trace_finish f;
	struct trace_row row;
	char id[TRACE_ID_SIZE];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		new_running_until(c, id, NULL, 60000);
		memset(&f, 0, sizeof(f));
		f.status = TRACE_COMPLETED;
		f.answer = &a;
		f.has_model_decision = 1;
		f.model_decision = DECISION_ELIGIBLE;
		f.response_model = bad[i];
		f.response_id = "chatcmpl-1";
		f.finish_reason = "stop";
		f.attempts = 2;
		f.input_tokens = f.output_tokens = -1;
		f.latency_ms = 7;
		CU_ASSERT_EQUAL(store_traces_finish(c, id, &f), STORE_NOT_RUNNING);
		CU_ASSERT_EQUAL_FATAL(store_traces_get(c, id, &row), STORE_OK);
		CU_ASSERT_EQUAL(row.status, TRACE_FAILED);
		CU_ASSERT_EQUAL(row.error, KR_INTERNAL_ERROR);
		CU_ASSERT_STRING_EQUAL(row.response_model, "");
		CU_ASSERT_STRING_EQUAL(row.response_id, "");
		CU_ASSERT_FALSE(row.has_decision);
		CU_ASSERT_TRUE(row.has_model_decision);
		CU_ASSERT_EQUAL(row.model_decision, DECISION_ELIGIBLE);
		CU_ASSERT_EQUAL(row.provider_attempts, 2);
		/* The connection is still usable afterwards. */
		CU_ASSERT_EQUAL(PQstatus(c), CONNECTION_OK);
	}
	PQfinish(c);
}

static void
test_trusted_records(void)
{
	PGconn *c = connect_prepared();
	struct policy_line lines[8];
	size_t n;
	int age;

	CU_ASSERT_EQUAL(store_traces_trusted(c, "acct_10235", lines, 8, &n,
	    &age), STORE_OK);
	CU_ASSERT_EQUAL(age, 45);
	CU_ASSERT(n >= 1);
	CU_ASSERT_STRING_EQUAL(lines[0].line_id, "P-7");
	CU_ASSERT_EQUAL(lines[0].rotation_window_days, 30);
	CU_ASSERT_EQUAL(store_traces_trusted(c, "acct_10234", lines, 8, &n,
	    &age), STORE_OK);
	CU_ASSERT_EQUAL(age, 12);
	CU_ASSERT_EQUAL(store_traces_trusted(c, "acct_99999", lines, 8, &n,
	    &age), STORE_NOT_FOUND);
	CU_ASSERT(n >= 1);
	/* An eval's context: the lines only, no account looked up. */
	n = 0;
	CU_ASSERT_EQUAL(store_traces_trusted(c, NULL, lines, 8, &n, &age),
	    STORE_NOT_FOUND);
	CU_ASSERT(n >= 1);
	CU_ASSERT_EQUAL(age, -1);
	PQfinish(c);
}

int
main(void)
{
	CU_pSuite s;
	unsigned run, failed;

	if ((url = getenv("KEYROTA_DATABASE_URL")) == NULL) {
		fprintf(stderr, "KEYROTA_DATABASE_URL is required\n");
		printf("db: 0 passed, 1 failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("store_traces", NULL, NULL);
	CU_add_test(s, "two_finishers_race_exactly_once",
	    test_two_finishers_race_exactly_once);
	CU_add_test(s, "constraints_tie_status_to_columns",
	    test_constraints_tie_status_to_columns);
	CU_add_test(s, "trace_context_round_trips_and_is_checked",
	    test_trace_context_round_trips_and_is_checked);
	CU_add_test(s, "idempotency_key_is_unique",
	    test_idempotency_key_is_unique);
	CU_add_test(s, "reaper_fails_only_old_running_traces",
	    test_reaper_fails_only_old_running_traces);
	CU_add_test(s, "reaper_uses_each_traces_deadline",
	    test_reaper_uses_each_traces_deadline);
	CU_add_test(s, "finish_with_unstorable_metadata_fails_the_trace",
	    test_finish_with_unstorable_metadata_fails_the_trace);
	CU_add_test(s, "trusted_records", test_trusted_records);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	printf("\ndb: %u passed, %u failed\n", run - failed, failed);
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
