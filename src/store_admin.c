#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_admin.h"

/* $1..$7: the filters of struct trace_filter, each NULL when unset; $7 is
 * the eval flag (NULL: both origins). */
#define FILTERS \
	"WHERE ($1::text IS NULL OR trace_id = $1) " \
	"AND ($2::text IS NULL OR account_id = $2) " \
	"AND ($3::text IS NULL OR status = $3) " \
	"AND ($4::text IS NULL OR error_code = $4) " \
	"AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz) " \
	"AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz) " \
	"AND ($7::boolean IS NULL OR eval = $7::boolean) "
#define NFILTERS 7

/* The list's columns, in the order read_summary reads them. */
#define LIST_COLUMNS \
	"trace_id, account_id, status, coalesce(decision, ''), " \
	"coalesce(error_code, ''), " \
	"to_char(created_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " \
	"latency_ms, provider_attempts, input_tokens, output_tokens, eval "

enum stmt {
	STMT_LIST_OLDER,
	STMT_LIST_NEWER,
	STMT_COUNT,
	STMT_COUNT_ANY_STATUS,
	STMT_EXPORT,
	STMT__MAX
};

/* Filters are parameters, and store_prepare has PostgreSQL plan each
 * execution with their values (a custom plan: the unused conditions fold
 * away and the matching index is chosen). Older pages read newest first
 * after the cursor ($8, $9); newer pages read oldest first before it, the
 * same index scanned the other way. $10: how many rows. */
static const struct store_stmt stmts[STMT__MAX] = {
	[STMT_LIST_OLDER] = { "admin_list_older", 10,
	    "SELECT " LIST_COLUMNS "FROM traces " FILTERS
	    "AND ($8::timestamptz IS NULL OR "
	    "(created_at, trace_id) < ($8::timestamptz, $9::text)) "
	    "ORDER BY created_at DESC, trace_id DESC LIMIT $10::int" },
	[STMT_LIST_NEWER] = { "admin_list_newer", 10,
	    "SELECT " LIST_COLUMNS "FROM traces " FILTERS
	    "AND (created_at, trace_id) > ($8::timestamptz, $9::text) "
	    "ORDER BY created_at, trace_id LIMIT $10::int" },
	/* Traces of status $9, counted up to $8. */
	[STMT_COUNT] = { "admin_count", 9,
	    "SELECT count(*) FROM (SELECT 1 FROM traces " FILTERS
	    "AND status = $9 LIMIT $8::int) x" },
	/* With an error code every match is failed (the CHECK constraints
	 * say so), and without a status test the error-code index answers
	 * alone. */
	[STMT_COUNT_ANY_STATUS] = { "admin_count_any_status", 8,
	    "SELECT count(*) FROM (SELECT 1 FROM traces " FILTERS
	    "LIMIT $8::int) x" },
	/* The columns of enum export_col, newest first, $8 rows at most. */
	[STMT_EXPORT] = { "admin_export", 8,
	    "SELECT trace_id, "
	    "to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
	    "coalesce(to_char(finished_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''), "
	    "account_id, status, coalesce(decision, ''), "
	    "coalesce(model_decision, ''), coalesce(error_code, ''), provider, "
	    "request_model, coalesce(response_model, ''), "
	    "provider_attempts::text, "
	    "coalesce(input_tokens::text, ''), "
	    "coalesce(output_tokens::text, ''), "
	    "coalesce(latency_ms::text, ''), coalesce(response_id, ''), "
	    "coalesce(finish_reason, ''), prompt_version, input_fingerprint, "
	    "CASE WHEN eval THEN 'true' ELSE 'false' END "
	    "FROM traces " FILTERS
	    "ORDER BY created_at DESC, trace_id DESC LIMIT $8::int" },
};

static const char *const origin_names[ORIGIN__MAX] = {
	[ORIGIN_REPORTS] = "reports",
	[ORIGIN_EVALS] = "evals",
	[ORIGIN_ALL] = "all",
};

const char *
store_admin_origin_name(enum trace_origin o)
{
	return o < ORIGIN__MAX ? origin_names[o] : origin_names[ORIGIN_REPORTS];
}

int
store_admin_origin_from_name(const char *s, enum trace_origin *out)
{
	int i = store_name_index(origin_names, ORIGIN__MAX, s);

	if (i >= 0)
		*out = (enum trace_origin)i;
	return i >= 0 ? 0 : -1;
}

int
store_admin_prepare(PGconn *conn)
{
	return store_prepare_table(conn, stmts, STMT__MAX);
}

static const char *
nz(const char *s)
{
	return *s != '\0' ? s : NULL;
}

/* The filters as $1..$7. */
static void
filter_params(const struct trace_filter *f, const char **p)
{
	static const char *const eval_flag[ORIGIN__MAX] = {
		[ORIGIN_REPORTS] = "false", [ORIGIN_EVALS] = "true",
		[ORIGIN_ALL] = NULL,
	};

	p[0] = nz(f->trace_id);
	p[1] = nz(f->account_id);
	p[2] = f->has_status ? store_traces_status_name(f->status) : NULL;
	p[3] = f->error != KR_OK ? kr_error_code(f->error) : NULL;
	p[4] = nz(f->from);
	p[5] = nz(f->to);
	p[6] = f->origin < ORIGIN__MAX ? eval_flag[f->origin] : "false";
}

static void
read_summary(const PGresult *res, int row, struct trace_summary *t)
{
	struct trace_outcome o;
	int c = 0;

	memset(t, 0, sizeof(*t));
	store_text(t->trace_id, sizeof(t->trace_id), res, row, c++);
	store_text(t->account_id, sizeof(t->account_id), res, row, c++);
	store_traces_outcome(PQgetvalue(res, row, c), PQgetvalue(res, row,
	    c + 1), PQgetvalue(res, row, c + 2), &o);
	c += 3;
	t->status = o.status;
	t->has_decision = o.has_decision;
	t->decision = o.decision;
	t->error = o.error;
	store_text(t->created_at, sizeof(t->created_at), res, row, c++);
	t->latency_ms = store_long(res, row, c++);
	t->attempts = store_long(res, row, c++);
	t->input_tokens = store_long(res, row, c++);
	t->output_tokens = store_long(res, row, c++);
	t->eval = store_bool(res, row, c++);
}

enum store_result
store_admin_list(PGconn *conn, const struct trace_filter *f,
    const struct trace_cursor *cursor, int newer, struct trace_summary *rows,
    size_t max, size_t *n)
{
	const char *p[NFILTERS + 3];
	char limit[16];
	enum store_result r;
	PGresult *res;
	int i;

	*n = 0;
	if (newer && cursor == NULL)
		return STORE_NOT_FOUND;
	filter_params(f, p);
	p[7] = cursor != NULL ? cursor->ts : NULL;
	p[8] = cursor != NULL ? cursor->id : NULL;
	snprintf(limit, sizeof(limit), "%zu", max);
	p[9] = limit;
	r = store_exec(conn, &stmts[newer ? STMT_LIST_NEWER : STMT_LIST_OLDER],
	    p, &res);
	if (r != STORE_OK)
		return r;
	for (i = 0; i < PQntuples(res) && *n < max; i++)
		read_summary(res, i, &rows[(*n)++]);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_admin_count(PGconn *conn, const struct trace_filter *f,
    enum trace_status s, long *count)
{
	const char *p[NFILTERS + 2];
	char cap[16];
	enum store_result r;
	PGresult *res;

	*count = 0;
	/* A status filter names one status, and the CHECK constraints let
	 * only failed traces carry an error code. */
	if ((f->has_status && f->status != s) ||
	    (f->error != KR_OK && s != TRACE_FAILED))
		return STORE_OK;
	filter_params(f, p);
	snprintf(cap, sizeof(cap), "%d", ADMIN_COUNT_CAP + 1);
	p[7] = cap;
	p[8] = store_traces_status_name(s);
	r = store_exec(conn, &stmts[f->error != KR_OK ? STMT_COUNT_ANY_STATUS :
	    STMT_COUNT], p, &res);
	if (r != STORE_OK)
		return r;
	if (PQntuples(res) == 1)
		*count = store_long(res, 0, 0);
	else
		r = STORE_UNAVAILABLE;
	PQclear(res);
	return r;
}

enum store_result
store_admin_export(PGconn *conn, const struct trace_filter *f, long limit,
    store_export_row_fn row, void *arg)
{
	const struct store_stmt *st = &stmts[STMT_EXPORT];
	const char *p[NFILTERS + 1], *v[EXPORT_COL__MAX];
	enum store_result r = STORE_OK;
	char lim[24];
	PGresult *res;
	int i, stop = 0;

	filter_params(f, p);
	snprintf(lim, sizeof(lim), "%ld", limit);
	p[7] = lim;
	if (!PQsendQueryPrepared(conn, st->name, st->nparams, p, NULL, NULL,
	    0) || !PQsetSingleRowMode(conn)) {
		log_error("statement %s failed: %s", st->name,
		    PQerrorMessage(conn));
		r = PQstatus(conn) != CONNECTION_OK ? STORE_RETRY :
		    STORE_UNAVAILABLE;
	}
	while (r == STORE_OK && (res = PQgetResult(conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			for (i = 0; i < EXPORT_COL__MAX && !stop; i++)
				v[i] = PQgetvalue(res, 0, i);
			if (!stop)
				stop = row(arg, v) != 0;
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			log_error("statement %s failed: %s", st->name,
			    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
			    PQerrorMessage(conn));
			r = store_classify(conn, res);
		}
		PQclear(res);
	}
	/* Leave the connection idle for the next request. */
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	return r;
}
