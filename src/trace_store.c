#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "trace_store.h"

#define TRACE_COLUMNS \
	"trace_id, account_id, status, coalesce(decision, ''), " \
	"coalesce(rotation_window_days, -1), " \
	"coalesce(array_to_string(source_line_ids, ','), ''), " \
	"coalesce(error_code, ''), coalesce(model_decision, ''), " \
	"prompt_version, provider, request_model, " \
	"coalesce(response_model, ''), provider_attempts, " \
	"coalesce(input_tokens, -1), coalesce(output_tokens, -1), " \
	"coalesce(response_id, ''), coalesce(finish_reason, ''), " \
	"coalesce(latency_ms, -1), " \
	"to_char(created_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), " \
	"coalesce(to_char(finished_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), " \
	"coalesce(idempotency_key, ''), coalesce(request_digest, ''), " \
	"input_fingerprint, fingerprint_key_id, " \
	"coalesce(to_char(deadline_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), eval"

enum stmt {
	STMT_INSERT_RUNNING,
	STMT_GET,
	STMT_GET_BY_IDEMPOTENCY_KEY,
	STMT_TRUSTED,
	STMT_FINISH,
	STMT_REAP,
	STMT__MAX
};

static const struct {
	const char *name;
	int         nparams;
	const char *sql;
} stmts[STMT__MAX] = {
	/* deadline_at is taken from the database's clock, as every reaper
	 * compares it with that clock. */
	[STMT_INSERT_RUNNING] = { "insert_running", 11,
	    "INSERT INTO traces (trace_id, account_id, prompt_version, "
	    "provider, request_model, idempotency_key, request_digest, "
	    "input_fingerprint, fingerprint_key_id, deadline_at, eval) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
	    "CASE WHEN $10::int > 0 THEN now() + "
	    "make_interval(secs => $10::int / 1000.0) END, $11::boolean) "
	    "ON CONFLICT DO NOTHING RETURNING trace_id" },
	[STMT_GET] = { "get", 1,
	    "SELECT " TRACE_COLUMNS " FROM traces WHERE trace_id = $1" },
	[STMT_GET_BY_IDEMPOTENCY_KEY] = { "get_by_idempotency_key", 1,
	    "SELECT " TRACE_COLUMNS " FROM traces WHERE idempotency_key = $1" },
	/* Policy lines with the key age of one account alongside (NULL when
	 * the account is unknown): one round trip. */
	[STMT_TRUSTED] = { "trusted", 1,
	    "SELECT p.line_id, p.summary, p.rotation_window_days, "
	    "(SELECT floor(extract(epoch FROM now() - a.key_created_at) "
	    "/ 86400)::int FROM accounts a WHERE a.account_id = $1) "
	    "FROM policy_lines p ORDER BY p.line_id" },
	[STMT_FINISH] = { "finish", 14,
	    "UPDATE traces SET status = $2, decision = $3, "
	    "rotation_window_days = $4, source_line_ids = $5::text[], "
	    "error_code = $6, model_decision = $7, response_model = $8, "
	    "response_id = $9, finish_reason = $10, provider_attempts = $11, "
	    "input_tokens = $12, output_tokens = $13, latency_ms = $14, "
	    "finished_at = greatest(now(), created_at) "
	    "WHERE trace_id = $1 AND status = 'running'" },
	[STMT_REAP] = { "reap", 1,
	    "UPDATE traces SET status = 'failed', error_code = 'worker_lost', "
	    "finished_at = now(), latency_ms = least(2147483647, "
	    "(extract(epoch FROM now() - created_at) * 1000)::bigint) "
	    "WHERE status = 'running' AND (deadline_at < now() "
	    "OR (deadline_at IS NULL AND "
	    "created_at < now() - make_interval(secs => $1::float8 / 1000)))" },
};

int
trace_store_prepare(PGconn *conn)
{
	PGresult *res;
	int i, ok;

	for (i = 0; i < STMT__MAX; i++) {
		res = PQprepare(conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("preparing %s: %s", stmts[i].name,
			    PQerrorMessage(conn));
		PQclear(res);
		if (!ok)
			return -1;
	}
	return 0;
}

static PGresult *
run(PGconn *conn, enum stmt s, const char *const *params)
{
	PGresult *res = PQexecPrepared(conn, stmts[s].name, stmts[s].nparams,
	    params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	const char *state, *primary;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	/* The server's primary message and SQLSTATE only: its DETAIL would
	 * copy the refused row, provider metadata included, into the log. */
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (state != NULL && primary != NULL)
		log_error("statement %s failed: %s (SQLSTATE %s)",
		    stmts[s].name, primary, state);
	else
		log_error("statement %s failed: %s", stmts[s].name,
		    PQerrorMessage(conn));
	return res;
}

static int
failed(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
}

static void
copy_field(char *dst, size_t dstlen, const PGresult *res, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetvalue(res, row, col));
}

static long
long_field(const PGresult *res, int row, int col)
{
	return strtol(PQgetvalue(res, row, col), NULL, 10);
}

static void
split_sources(struct trace_row *t, const char *list)
{
	const char *p = list, *comma;
	size_t n;

	t->nsources = 0;
	while (*p != '\0' && t->nsources < DECISION_MAX_SOURCES) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n < POLICY_ID_MAX) {
			memcpy(t->sources[t->nsources], p, n);
			t->sources[t->nsources++][n] = '\0';
		}
		p += n + (comma != NULL);
	}
}

static void
read_row(const PGresult *res, int row, struct trace_row *t)
{
	int c = 0;

	memset(t, 0, sizeof(*t));
	copy_field(t->trace_id, sizeof(t->trace_id), res, row, c++);
	copy_field(t->account_id, sizeof(t->account_id), res, row, c++);
	copy_field(t->status, sizeof(t->status), res, row, c++);
	copy_field(t->decision, sizeof(t->decision), res, row, c++);
	t->rotation_window_days = (int)long_field(res, row, c++);
	split_sources(t, PQgetvalue(res, row, c++));
	copy_field(t->error_code, sizeof(t->error_code), res, row, c++);
	copy_field(t->model_decision, sizeof(t->model_decision), res, row, c++);
	copy_field(t->prompt_version, sizeof(t->prompt_version), res, row, c++);
	copy_field(t->provider, sizeof(t->provider), res, row, c++);
	copy_field(t->request_model, sizeof(t->request_model), res, row, c++);
	copy_field(t->response_model, sizeof(t->response_model), res, row, c++);
	t->provider_attempts = (int)long_field(res, row, c++);
	t->input_tokens = long_field(res, row, c++);
	t->output_tokens = long_field(res, row, c++);
	copy_field(t->response_id, sizeof(t->response_id), res, row, c++);
	copy_field(t->finish_reason, sizeof(t->finish_reason), res, row, c++);
	t->latency_ms = long_field(res, row, c++);
	copy_field(t->created_at, sizeof(t->created_at), res, row, c++);
	copy_field(t->finished_at, sizeof(t->finished_at), res, row, c++);
	copy_field(t->idempotency_key, sizeof(t->idempotency_key), res, row,
	    c++);
	copy_field(t->request_digest, sizeof(t->request_digest), res, row, c++);
	copy_field(t->input_fingerprint, sizeof(t->input_fingerprint), res,
	    row, c++);
	copy_field(t->fingerprint_key_id, sizeof(t->fingerprint_key_id), res,
	    row, c++);
	copy_field(t->deadline_at, sizeof(t->deadline_at), res, row, c++);
	t->eval = strcmp(PQgetvalue(res, row, c++), "t") == 0;
}

static enum store_result
get_one(PGconn *conn, enum stmt s, const char *key, struct trace_row *out)
{
	const char *params[1] = { key };
	enum store_result r = STORE_NOT_FOUND;
	PGresult *res = run(conn, s, params);

	if (failed(res))
		r = STORE_UNAVAILABLE;
	else if (PQntuples(res) == 1) {
		read_row(res, 0, out);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}

enum store_result
trace_store_get(PGconn *conn, const char *trace_id, struct trace_row *out)
{
	return get_one(conn, STMT_GET, trace_id, out);
}

enum store_result
trace_store_get_by_idempotency_key(PGconn *conn, const char *key,
    struct trace_row *out)
{
	return get_one(conn, STMT_GET_BY_IDEMPOTENCY_KEY, key, out);
}

enum store_result
trace_store_insert_running(PGconn *conn, const struct trace_new *t)
{
	char deadline[16];
	const char *params[11] = { t->trace_id, t->account_id,
	    t->prompt_version, t->provider, t->request_model,
	    t->idempotency_key, t->request_digest, t->input_fingerprint,
	    t->fingerprint_key_id, deadline, t->eval ? "true" : "false" };
	enum store_result r;
	struct trace_row *row;
	PGresult *res;

	snprintf(deadline, sizeof(deadline), "%u", t->deadline_ms);
	res = run(conn, STMT_INSERT_RUNNING, params);

	if (failed(res)) {
		PQclear(res);
		return STORE_UNAVAILABLE;
	}
	r = PQntuples(res) == 1 ? STORE_OK : STORE_DUPLICATE;
	PQclear(res);
	if (r == STORE_DUPLICATE) {
		/* A retried insert that had committed is ours, not a clash. */
		if ((row = malloc(sizeof(*row))) == NULL)
			return STORE_UNAVAILABLE;
		if (trace_store_get(conn, t->trace_id, row) == STORE_OK)
			r = STORE_OK;
		free(row);
	}
	return r;
}

enum store_result
trace_store_trusted(PGconn *conn, const char *account_id,
    struct policy_line *lines, size_t max, size_t *nlines, int *key_age_days)
{
	const char *params[1] = { account_id };
	enum store_result r = STORE_NOT_FOUND;
	PGresult *res = run(conn, STMT_TRUSTED, params);
	int i, rows;

	*nlines = 0;
	*key_age_days = -1;
	if (failed(res)) {
		PQclear(res);
		return STORE_UNAVAILABLE;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows && *nlines < max; i++) {
		struct policy_line *l = &lines[(*nlines)++];

		copy_field(l->line_id, sizeof(l->line_id), res, i, 0);
		copy_field(l->summary, sizeof(l->summary), res, i, 1);
		l->rotation_window_days = (int)long_field(res, i, 2);
		if (!PQgetisnull(res, i, 3)) {
			*key_age_days = (int)long_field(res, i, 3);
			r = STORE_OK;
		}
	}
	/* With no policy lines the age is not known either: no row carried
	 * it. Such a database cannot verify anything. */
	PQclear(res);
	return rows == 0 ? STORE_UNAVAILABLE : r;
}

/* A PostgreSQL text[] literal from validated line ids (P-[0-9]+). */
static void
sources_literal(const struct model_answer *a, char *out, size_t outlen)
{
	size_t i, o = 0;
	int n;

	out[o++] = '{';
	for (i = 0; i < a->nsources && o < outlen; i++) {
		n = snprintf(out + o, outlen - o, "%s%s", i ? "," : "",
		    a->sources[i]);
		o += n > 0 ? (size_t)n : 0;
	}
	if (o < outlen - 1) {
		out[o++] = '}';
		out[o] = '\0';
	} else
		snprintf(out, outlen, "{}");
}

/* PostgreSQL refused the values themselves (SQLSTATE class 22, data
 * exception, or 23, integrity constraint violation): the same statement
 * would fail again on any connection. */
static int
data_error(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0);
}

enum store_result
trace_store_finish(PGconn *conn, const char *trace_id,
    const struct trace_finish *f)
{
	char window[16], sources[DECISION_MAX_SOURCES * (POLICY_ID_MAX + 1) + 4];
	char attempts[16], in_tok[24], out_tok[24], latency[24];
	const char *params[14];
	enum store_result r;
	PGresult *res;
	int completed = f->status == TRACE_COMPLETED;

	snprintf(attempts, sizeof(attempts), "%u", f->attempts);
	snprintf(in_tok, sizeof(in_tok), "%ld", f->input_tokens);
	snprintf(out_tok, sizeof(out_tok), "%ld", f->output_tokens);
	snprintf(latency, sizeof(latency), "%ld", f->latency_ms);
	if (completed) {
		snprintf(window, sizeof(window), "%d",
		    f->answer->rotation_window_days);
		sources_literal(f->answer, sources, sizeof(sources));
	}
	params[0] = trace_id;
	params[1] = completed ? "completed" : "failed";
	params[2] = completed ? decision_name(f->answer->decision) : NULL;
	params[3] = completed ? window : NULL;
	params[4] = completed ? sources : NULL;
	params[5] = completed ? NULL : kr_error_code(f->error);
	params[6] = f->has_model_decision ? decision_name(f->model_decision) :
	    NULL;
	params[7] = f->response_model && *f->response_model ?
	    f->response_model : NULL;
	params[8] = f->response_id && *f->response_id ? f->response_id : NULL;
	params[9] = f->finish_reason && *f->finish_reason ?
	    f->finish_reason : NULL;
	params[10] = attempts;
	params[11] = f->input_tokens >= 0 ? in_tok : NULL;
	params[12] = f->output_tokens >= 0 ? out_tok : NULL;
	params[13] = latency;
	res = run(conn, STMT_FINISH, params);
	if (failed(res) && data_error(res)) {
		/* The trace still ends, as internal_error, with only the
		 * values keyrota made itself. */
		log_error("trace %s: its outcome could not be stored; failing "
		    "it as internal_error", trace_id);
		PQclear(res);
		params[1] = "failed";
		params[2] = params[3] = params[4] = NULL;
		params[5] = kr_error_code(KR_INTERNAL_ERROR);
		params[7] = params[8] = params[9] = NULL;
		res = run(conn, STMT_FINISH, params);
		r = failed(res) ? STORE_UNAVAILABLE : STORE_NOT_RUNNING;
	} else if (failed(res))
		r = STORE_UNAVAILABLE;
	else
		r = strcmp(PQcmdTuples(res), "1") == 0 ? STORE_OK :
		    STORE_NOT_RUNNING;
	PQclear(res);
	return r;
}

long
trace_store_reap(PGconn *conn, unsigned fallback_ms)
{
	char ms[16];
	const char *params[1] = { ms };
	PGresult *res;
	long n = -1;

	snprintf(ms, sizeof(ms), "%u", fallback_ms);
	res = run(conn, STMT_REAP, params);
	if (!failed(res))
		n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}
