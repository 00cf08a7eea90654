#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "store_traces.h"

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
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), eval, " \
	"coalesce(otel_trace_id, ''), coalesce(otel_parent_span_id, '')"

enum stmt {
	STMT_INSERT_RUNNING,
	STMT_GET,
	STMT_GET_BY_IDEMPOTENCY_KEY,
	STMT_TRUSTED,
	STMT_FINISH,
	STMT_REAP,
	STMT__MAX
};

/* Statuses and error codes are parameters: their names are those of
 * store_traces_status_name and the error table, nowhere else. */
static const struct store_stmt stmts[STMT__MAX] = {
	/* deadline_at is taken from the database's clock, as every reaper
	 * compares it with that clock. */
	[STMT_INSERT_RUNNING] = { "trace_insert_running", 13,
	    "INSERT INTO traces (trace_id, account_id, prompt_version, "
	    "provider, request_model, idempotency_key, request_digest, "
	    "input_fingerprint, fingerprint_key_id, deadline_at, eval, "
	    "otel_trace_id, otel_parent_span_id) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
	    "CASE WHEN $10::int > 0 THEN now() + "
	    "make_interval(secs => $10::int / 1000.0) END, $11::boolean, "
	    "$12, $13) "
	    "ON CONFLICT DO NOTHING RETURNING trace_id" },
	[STMT_GET] = { "trace_get", 1,
	    "SELECT " TRACE_COLUMNS " FROM traces WHERE trace_id = $1" },
	[STMT_GET_BY_IDEMPOTENCY_KEY] = { "trace_get_by_idempotency_key", 1,
	    "SELECT " TRACE_COLUMNS " FROM traces WHERE idempotency_key = $1" },
	/* Policy lines with the key age of one account alongside (NULL when
	 * the account is unknown): one round trip. */
	[STMT_TRUSTED] = { "trace_trusted", 1,
	    "SELECT p.line_id, p.summary, p.rotation_window_days, "
	    "(SELECT floor(extract(epoch FROM now() - a.key_created_at) "
	    "/ 86400)::int FROM accounts a WHERE a.account_id = $1) "
	    "FROM policy_lines p ORDER BY p.line_id" },
	[STMT_FINISH] = { "trace_finish", 15,
	    "UPDATE traces SET status = $2, decision = $3, "
	    "rotation_window_days = $4, source_line_ids = $5::text[], "
	    "error_code = $6, model_decision = $7, response_model = $8, "
	    "response_id = $9, finish_reason = $10, provider_attempts = $11, "
	    "input_tokens = $12, output_tokens = $13, latency_ms = $14, "
	    "finished_at = greatest(now(), created_at) "
	    "WHERE trace_id = $1 AND status = $15" },
	[STMT_REAP] = { "trace_reap", 4,
	    "UPDATE traces SET status = $2, error_code = $3, "
	    "finished_at = now(), latency_ms = least(2147483647, "
	    "(extract(epoch FROM now() - created_at) * 1000)::bigint) "
	    "WHERE status = $4 AND (deadline_at < now() "
	    "OR (deadline_at IS NULL AND "
	    "created_at < now() - make_interval(secs => $1::float8 / 1000)))" },
};

static const char *const status_names[TRACE_STATUS__MAX] = {
	[TRACE_RUNNING] = "running",
	[TRACE_COMPLETED] = "completed",
	[TRACE_FAILED] = "failed",
};

const char *
store_traces_status_name(enum trace_status s)
{
	return s < TRACE_STATUS__MAX ? status_names[s] : "running";
}

int
store_traces_status_from_name(const char *s, enum trace_status *out)
{
	int i = store_name_index(status_names, TRACE_STATUS__MAX, s);

	if (i >= 0)
		*out = (enum trace_status)i;
	return i >= 0 ? 0 : -1;
}

void
store_traces_outcome(const char *status, const char *decision,
    const char *error_code, struct trace_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (store_traces_status_from_name(status, &out->status) != 0)
		out->status = TRACE_RUNNING;
	out->has_decision = out->status == TRACE_COMPLETED &&
	    answer_decision_from_name(decision, &out->decision) == 0;
	if (out->status == TRACE_FAILED &&
	    (out->error = kr_error_from_code(error_code)) == KR_ERROR__MAX)
		out->error = KR_INTERNAL_ERROR;
}

int
store_traces_prepare(PGconn *conn)
{
	return store_prepare_table(conn, stmts, STMT__MAX);
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
	const char *status, *decision;
	struct trace_outcome o;
	int c = 0;

	memset(t, 0, sizeof(*t));
	store_text(t->trace_id, sizeof(t->trace_id), res, row, c++);
	store_text(t->account_id, sizeof(t->account_id), res, row, c++);
	status = PQgetvalue(res, row, c++);
	decision = PQgetvalue(res, row, c++);
	t->rotation_window_days = (int)store_long(res, row, c++);
	split_sources(t, PQgetvalue(res, row, c++));
	store_traces_outcome(status, decision, PQgetvalue(res, row, c++), &o);
	t->status = o.status;
	t->has_decision = o.has_decision;
	t->decision = o.decision;
	t->error = o.error;
	t->has_model_decision = answer_decision_from_name(PQgetvalue(res, row, c++),
	    &t->model_decision) == 0;
	store_text(t->prompt_version, sizeof(t->prompt_version), res, row, c++);
	store_text(t->provider, sizeof(t->provider), res, row, c++);
	store_text(t->request_model, sizeof(t->request_model), res, row, c++);
	store_text(t->response_model, sizeof(t->response_model), res, row, c++);
	t->provider_attempts = (int)store_long(res, row, c++);
	t->input_tokens = store_long(res, row, c++);
	t->output_tokens = store_long(res, row, c++);
	store_text(t->response_id, sizeof(t->response_id), res, row, c++);
	store_text(t->finish_reason, sizeof(t->finish_reason), res, row, c++);
	t->latency_ms = store_long(res, row, c++);
	store_text(t->created_at, sizeof(t->created_at), res, row, c++);
	store_text(t->finished_at, sizeof(t->finished_at), res, row, c++);
	store_text(t->idempotency_key, sizeof(t->idempotency_key), res, row,
	    c++);
	store_text(t->request_digest, sizeof(t->request_digest), res, row, c++);
	store_text(t->input_fingerprint, sizeof(t->input_fingerprint), res,
	    row, c++);
	store_text(t->fingerprint_key_id, sizeof(t->fingerprint_key_id), res,
	    row, c++);
	store_text(t->deadline_at, sizeof(t->deadline_at), res, row, c++);
	t->eval = store_bool(res, row, c++);
	store_text(t->otel_trace_id, sizeof(t->otel_trace_id), res, row, c++);
	store_text(t->otel_parent_span_id, sizeof(t->otel_parent_span_id), res,
	    row, c++);
}

static enum store_result
get_one(PGconn *conn, enum stmt s, const char *key, struct trace_row *out)
{
	const char *params[1] = { key };
	PGresult *res;
	enum store_result r = store_exec_one(conn, &stmts[s], params, &res);

	if (r == STORE_OK)
		read_row(res, 0, out);
	PQclear(res);
	return r;
}

enum store_result
store_traces_get(PGconn *conn, const char *trace_id, struct trace_row *out)
{
	return get_one(conn, STMT_GET, trace_id, out);
}

enum store_result
store_traces_get_by_idempotency_key(PGconn *conn, const char *key,
    struct trace_row *out)
{
	return get_one(conn, STMT_GET_BY_IDEMPOTENCY_KEY, key, out);
}

enum store_result
store_traces_insert_running(PGconn *conn, const struct trace_new *t)
{
	char deadline[16];
	const char *params[13] = { t->trace_id, t->account_id,
	    t->prompt_version, t->provider, t->request_model,
	    t->idempotency_key, t->request_digest, t->input_fingerprint,
	    t->fingerprint_key_id, deadline, t->eval ? "true" : "false",
	    t->otel_trace_id, t->otel_parent_span_id };
	enum store_result r;
	struct trace_row *row;
	PGresult *res;

	snprintf(deadline, sizeof(deadline), "%u", t->deadline_ms);
	r = store_exec(conn, &stmts[STMT_INSERT_RUNNING], params, &res);
	if (r == STORE_OK && PQntuples(res) != 1)
		r = STORE_CONFLICT;
	PQclear(res);
	if (r == STORE_CONFLICT) {
		/* A retried insert that had committed is ours, not a clash. */
		row = kr_malloc(sizeof(*row));
		if (store_traces_get(conn, t->trace_id, row) == STORE_OK)
			r = STORE_OK;
		free(row);
	}
	return r;
}

enum store_result
store_traces_trusted(PGconn *conn, const char *account_id,
    struct policy_line *lines, size_t max, size_t *nlines, int *key_age_days)
{
	const char *params[1] = { account_id };
	PGresult *res;
	enum store_result r;
	int i, rows;

	*nlines = 0;
	*key_age_days = -1;
	if ((r = store_exec(conn, &stmts[STMT_TRUSTED], params, &res)) !=
	    STORE_OK)
		return r;
	r = STORE_NOT_FOUND;
	rows = PQntuples(res);
	for (i = 0; i < rows && *nlines < max; i++) {
		struct policy_line *l = &lines[(*nlines)++];

		store_text(l->line_id, sizeof(l->line_id), res, i, 0);
		store_text(l->summary, sizeof(l->summary), res, i, 1);
		l->rotation_window_days = (int)store_long(res, i, 2);
		if (!PQgetisnull(res, i, 3)) {
			*key_age_days = (int)store_long(res, i, 3);
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

enum store_result
store_traces_finish(PGconn *conn, const char *trace_id,
    const struct trace_finish *f)
{
	char window[16], sources[DECISION_MAX_SOURCES * (POLICY_ID_MAX + 1) + 4];
	char attempts[16], in_tok[24], out_tok[24], latency[24];
	const char *params[15];
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
	params[1] = store_traces_status_name(completed ? TRACE_COMPLETED :
	    TRACE_FAILED);
	params[2] = completed ? answer_decision_name(f->answer->decision) : NULL;
	params[3] = completed ? window : NULL;
	params[4] = completed ? sources : NULL;
	params[5] = completed ? NULL : kr_error_code(f->error);
	params[6] = f->has_model_decision ? answer_decision_name(f->model_decision) :
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
	params[14] = store_traces_status_name(TRACE_RUNNING);
	r = store_exec(conn, &stmts[STMT_FINISH], params, &res);
	if (r == STORE_DATA_ERROR || r == STORE_CONFLICT) {
		/* The trace still ends, as internal_error, with only the
		 * values keyrota made itself. */
		log_error("trace %s: its outcome could not be stored; failing "
		    "it as internal_error", trace_id);
		params[1] = store_traces_status_name(TRACE_FAILED);
		params[2] = params[3] = params[4] = NULL;
		params[5] = kr_error_code(KR_INTERNAL_ERROR);
		params[7] = params[8] = params[9] = NULL;
		r = store_exec(conn, &stmts[STMT_FINISH], params, &res);
		if (r == STORE_OK)
			r = STORE_NOT_RUNNING;
	} else if (r == STORE_OK)
		r = strcmp(PQcmdTuples(res), "1") == 0 ? STORE_OK :
		    STORE_NOT_RUNNING;
	PQclear(res);
	return r;
}

long
store_traces_reap(PGconn *conn, unsigned fallback_ms)
{
	char ms[16];
	const char *params[4] = { ms, store_traces_status_name(TRACE_FAILED),
	    kr_error_code(KR_WORKER_LOST), store_traces_status_name(TRACE_RUNNING) };
	PGresult *res;
	char *end;
	long n = -1;

	snprintf(ms, sizeof(ms), "%u", fallback_ms);
	if (store_exec(conn, &stmts[STMT_REAP], params, &res) == STORE_OK) {
		n = strtol(PQcmdTuples(res), &end, 10);
		if (*end != '\0')
			n = -1;
	}
	PQclear(res);
	return n;
}

/* Not in the prepared table: a database that lacks keyrota_expire (a
 * binary installed before its migration) must still decide; only
 * retention waits. */
#define SQL_EXPIRE \
	"SELECT expired_traces, expired_eval_runs FROM public.keyrota_expire(" \
	"now() - make_interval(days => $1::int), $2::int)"

int
store_traces_expire(PGconn *conn, unsigned days, unsigned batch,
    long *traces, long *eval_runs)
{
	char d[16], b[16];
	const char *params[2] = { d, b };
	const char *state, *primary;
	unsigned t, e;
	PGresult *res;
	int rc = -1;

	snprintf(d, sizeof(d), "%u", days);
	snprintf(b, sizeof(b), "%u", batch);
	res = PQexecParams(conn, SQL_EXPIRE, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    config_parse_uint(PQgetvalue(res, 0, 0), 0, batch, &t) == 0 &&
	    config_parse_uint(PQgetvalue(res, 0, 1), 0, batch, &e) == 0) {
		*traces = t;
		*eval_runs = e;
		rc = 0;
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		log_warn("retention: %s (SQLSTATE %s)%s", primary ? primary :
		    "no answer", state ? state : "none", state &&
		    strcmp(state, "42883") == 0 ? "; run keyrota migrate" : "");
	}
	PQclear(res);
	return rc;
}
