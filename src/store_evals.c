#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "store_evals.h"

enum stmt {
	STMT_INSERT_RUN,
	STMT_INSERT_CASE,
	STMT_RUNS,
	STMT_RUN,
	STMT_CASES,
	STMT_FRESHNESS,
	STMT_LAST_RUN,
	STMT__MAX
};

#define STARTED_AT \
	"to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const struct store_stmt stmts[STMT__MAX] = {
	[STMT_INSERT_RUN] = { "evals_insert_run", 9,
	    "INSERT INTO eval_runs (run_id, eval_file, eval_digest, provider, "
	    "model, prompt_version, started_at, finished_at, passed, failed) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, now(), $8, $9)" },
	[STMT_INSERT_CASE] = { "evals_insert_case", 7,
	    "INSERT INTO eval_case_results (run_id, case_name, passed, "
	    "expected, got, latency_ms, trace_id) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7)" },
	/* The columns of read_run, without the previous run. */
	[STMT_RUNS] = { "evals_runs", 1,
	    "SELECT run_id, eval_file, provider, model, prompt_version, "
	    STARTED_AT ", passed, failed, '' FROM eval_runs "
	    "ORDER BY started_at DESC, run_id DESC LIMIT $1::int" },
	[STMT_RUN] = { "evals_run", 1,
	    "SELECT r.run_id, r.eval_file, r.provider, r.model, "
	    "r.prompt_version, to_char(r.started_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.passed, r.failed, "
	    "coalesce((SELECT p.run_id FROM eval_runs p "
	    "WHERE p.eval_file = r.eval_file AND (p.started_at, p.run_id) < "
	    "(r.started_at, r.run_id) ORDER BY p.started_at DESC, "
	    "p.run_id DESC LIMIT 1), '') FROM eval_runs r WHERE r.run_id = $1" },
	/* Each case of the run with the same case of the previous run. */
	[STMT_CASES] = { "evals_cases", 2,
	    "SELECT c.case_name, c.passed, c.expected, c.got, "
	    "coalesce(c.latency_ms, 0), p.case_name IS NOT NULL, "
	    "coalesce(p.passed, false), coalesce(p.got, '') "
	    "FROM eval_case_results c LEFT JOIN eval_case_results p "
	    "ON p.run_id = $2 AND p.case_name = c.case_name "
	    "WHERE c.run_id = $1 ORDER BY c.case_name" },
	[STMT_FRESHNESS] = { "evals_freshness", 2,
	    "SELECT passed, failed, started_at > now() - $2::interval "
	    "FROM eval_runs WHERE run_id = $1" },
	[STMT_LAST_RUN] = { "evals_last_run", 0,
	    "SELECT passed, failed, extract(epoch FROM started_at)::bigint "
	    "FROM eval_runs ORDER BY started_at DESC, run_id DESC LIMIT 1" },
};

int
store_evals_prepare(PGconn *conn)
{
	return store_prepare_table(conn, stmts, STMT__MAX);
}

enum store_result
store_evals_record(PGconn *conn, const struct eval_run_row *run,
    const char *started_at, const struct eval_case_row *cases, size_t n)
{
	char npass[24], nfail[24], lat[24];
	const char *p[9];
	enum store_result r;
	PGresult *res;
	size_t i;

	if ((r = store_transaction(conn, STORE_BEGIN)) != STORE_OK)
		return r;
	snprintf(npass, sizeof(npass), "%ld", run->passed);
	snprintf(nfail, sizeof(nfail), "%ld", run->failed);
	p[0] = run->run_id;
	p[1] = run->eval_file;
	p[2] = run->eval_digest;
	p[3] = run->provider;
	p[4] = run->model;
	p[5] = run->prompt_version;
	p[6] = started_at;
	p[7] = npass;
	p[8] = nfail;
	r = store_exec(conn, &stmts[STMT_INSERT_RUN], p, &res);
	PQclear(res);
	for (i = 0; r == STORE_OK && i < n; i++) {
		snprintf(lat, sizeof(lat), "%ld", cases[i].latency_ms);
		p[0] = run->run_id;
		p[1] = cases[i].name;
		p[2] = cases[i].passed ? "true" : "false";
		p[3] = cases[i].expected;
		p[4] = cases[i].got;
		p[5] = lat;
		p[6] = cases[i].trace_id[0] ? cases[i].trace_id : NULL;
		r = store_exec(conn, &stmts[STMT_INSERT_CASE], p, &res);
		PQclear(res);
	}
	if (r == STORE_OK)
		r = store_transaction(conn, STORE_COMMIT);
	else
		(void)store_transaction(conn, STORE_ROLLBACK);
	return r;
}

static void
read_run(const PGresult *res, int row, struct eval_run_row *r)
{
	int c = 0;

	memset(r, 0, sizeof(*r));
	store_text(r->run_id, sizeof(r->run_id), res, row, c++);
	store_text(r->eval_file, sizeof(r->eval_file), res, row, c++);
	store_text(r->provider, sizeof(r->provider), res, row, c++);
	store_text(r->model, sizeof(r->model), res, row, c++);
	store_text(r->prompt_version, sizeof(r->prompt_version), res, row, c++);
	store_text(r->started_at, sizeof(r->started_at), res, row, c++);
	r->passed = store_long(res, row, c++);
	r->failed = store_long(res, row, c++);
	store_text(r->previous_run_id, sizeof(r->previous_run_id), res, row,
	    c++);
}

enum store_result
store_evals_runs(PGconn *conn, struct eval_run_row *runs, size_t max,
    size_t *n)
{
	char limit[24];
	const char *p[1] = { limit };
	enum store_result r;
	PGresult *res;
	int i;

	*n = 0;
	snprintf(limit, sizeof(limit), "%zu", max);
	if ((r = store_exec(conn, &stmts[STMT_RUNS], p, &res)) != STORE_OK)
		return r;
	for (i = 0; i < PQntuples(res) && *n < max; i++)
		read_run(res, i, &runs[(*n)++]);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_evals_run(PGconn *conn, const char *run_id, struct eval_run_row *out)
{
	const char *p[1] = { run_id };
	enum store_result r;
	PGresult *res;

	if ((r = store_exec_one(conn, &stmts[STMT_RUN], p, &res)) != STORE_OK)
		return r;
	read_run(res, 0, out);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_evals_cases(PGconn *conn, const char *run_id, const char *previous,
    struct eval_case_row **cases, size_t *n)
{
	const char *p[2] = { run_id, previous };
	struct eval_case_row *c;
	enum store_result r;
	PGresult *res;
	int i, rows;

	*cases = NULL;
	*n = 0;
	if ((r = store_exec(conn, &stmts[STMT_CASES], p, &res)) != STORE_OK)
		return r;
	rows = PQntuples(res);
	if (rows > 0)
		*cases = kr_calloc((size_t)rows, sizeof(**cases));
	for (i = 0; i < rows; i++) {
		c = &(*cases)[i];
		store_text(c->name, sizeof(c->name), res, i, 0);
		c->passed = store_bool(res, i, 1);
		store_text(c->expected, sizeof(c->expected), res, i, 2);
		store_text(c->got, sizeof(c->got), res, i, 3);
		c->latency_ms = store_long(res, i, 4);
		c->had_previous = store_bool(res, i, 5);
		c->previous_passed = store_bool(res, i, 6);
		store_text(c->previous_got, sizeof(c->previous_got), res, i, 7);
	}
	*n = (size_t)rows;
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_evals_freshness(PGconn *conn, const char *run_id, const char *max_age,
    long *passed, long *failed, int *recent)
{
	const char *p[2] = { run_id, max_age };
	enum store_result r;
	PGresult *res;

	if ((r = store_exec_one(conn, &stmts[STMT_FRESHNESS], p, &res)) !=
	    STORE_OK)
		return r;
	*passed = store_long(res, 0, 0);
	*failed = store_long(res, 0, 1);
	*recent = store_bool(res, 0, 2);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_evals_last_run(PGconn *conn, long *passed, long *failed,
    long long *started_s)
{
	enum store_result r;
	PGresult *res;

	if ((r = store_exec_one(conn, &stmts[STMT_LAST_RUN], NULL, &res)) !=
	    STORE_OK)
		return r;
	*passed = store_long(res, 0, 0);
	*failed = store_long(res, 0, 1);
	*started_s = store_long(res, 0, 2);
	PQclear(res);
	return STORE_OK;
}
