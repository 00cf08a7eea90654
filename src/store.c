#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_admin.h"
#include "store_evals.h"
#include "store_traces.h"

enum stmt {
	STMT_PING, STMT_NOW, STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK, STMT__MAX
};

static const struct store_stmt stmts[STMT__MAX] = {
	[STMT_PING] = { "ping", 0, "SELECT 1" },
	[STMT_NOW] = { "now", 0, "SELECT now()::text" },
	[STMT_BEGIN] = { "begin", 0, "BEGIN" },
	[STMT_COMMIT] = { "commit", 0, "COMMIT" },
	[STMT_ROLLBACK] = { "rollback", 0, "ROLLBACK" },
};

int
store_prepare_table(PGconn *conn, const struct store_stmt *t, int n)
{
	PGresult *res;
	int i, ok;

	for (i = 0; i < n; i++) {
		res = PQprepare(conn, t[i].name, t[i].sql, t[i].nparams, NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("preparing %s: %s", t[i].name,
			    PQerrorMessage(conn));
		PQclear(res);
		if (!ok)
			return -1;
	}
	return 0;
}

int
store_prepare(PGconn *conn)
{
	PGresult *res;
	int ok;

	/* The admin filters are optional parameters ($1 IS NULL OR ...):
	 * only a plan made with their values folds the unused ones away and
	 * picks the matching index, so a prepared statement is planned
	 * anew each time rather than cached as a generic plan. */
	res = PQexec(conn, "SET plan_cache_mode = force_custom_plan");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		log_error("setting plan_cache_mode: %s", PQerrorMessage(conn));
	PQclear(res);
	if (!ok || store_prepare_table(conn, stmts, STMT__MAX) != 0 ||
	    store_traces_prepare(conn) != 0 || store_admin_prepare(conn) != 0 ||
	    store_evals_prepare(conn) != 0)
		return -1;
	return 0;
}

enum store_result
store_classify(PGconn *conn, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(conn) != CONNECTION_OK)
		return STORE_RETRY;
	if (state != NULL && strcmp(state, "23505") == 0)
		return STORE_CONFLICT;
	if (state != NULL && (strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0))
		return STORE_DATA_ERROR;
	return STORE_UNAVAILABLE;
}

enum store_result
store_exec(PGconn *conn, const struct store_stmt *st,
    const char *const *params, PGresult **out)
{
	PGresult *res = PQexecPrepared(conn, st->name, st->nparams, params,
	    NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(res);
	const char *state, *primary;
	enum store_result r;

	*out = NULL;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		*out = res;
		return STORE_OK;
	}
	/* The server's primary message and SQLSTATE only: its DETAIL would
	 * copy the refused row, provider metadata included, into the log. */
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (state != NULL && primary != NULL)
		log_error("statement %s failed: %s (SQLSTATE %s)", st->name,
		    primary, state);
	else
		log_error("statement %s failed: %s", st->name,
		    PQerrorMessage(conn));
	r = store_classify(conn, res);
	PQclear(res);
	return r;
}

enum store_result
store_exec_one(PGconn *conn, const struct store_stmt *st,
    const char *const *params, PGresult **res)
{
	enum store_result r = store_exec(conn, st, params, res);

	if (r == STORE_OK && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		r = STORE_NOT_FOUND;
	}
	return r;
}

void
store_text(char *dst, size_t dstlen, const PGresult *res, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetvalue(res, row, col));
}

/* Integer columns; NULL (and anything that is not a number) reads as -1. */
long
store_long(const PGresult *res, int row, int col)
{
	const char *s = PQgetvalue(res, row, col);
	char *end;
	long v;

	if (PQgetisnull(res, row, col))
		return -1;
	v = strtol(s, &end, 10);
	return end != s && *end == '\0' ? v : -1;
}

int
store_bool(const PGresult *res, int row, int col)
{
	return *PQgetvalue(res, row, col) == 't';
}

int
store_name_index(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

enum store_result
store_ping(PGconn *conn)
{
	PGresult *res;
	enum store_result r = store_exec(conn, &stmts[STMT_PING], NULL, &res);

	PQclear(res);
	return r;
}

enum store_result
store_now(PGconn *conn, char *out, size_t outlen)
{
	PGresult *res;
	enum store_result r = store_exec(conn, &stmts[STMT_NOW], NULL, &res);

	if (r == STORE_OK)
		store_text(out, outlen, res, 0, 0);
	PQclear(res);
	return r;
}

enum store_result
store_transaction(PGconn *conn, enum store_txn t)
{
	static const enum stmt stmt_of[] = {
		[STORE_BEGIN] = STMT_BEGIN,
		[STORE_COMMIT] = STMT_COMMIT,
		[STORE_ROLLBACK] = STMT_ROLLBACK,
	};
	PGresult *res;
	enum store_result r;

	r = store_exec(conn, &stmts[stmt_of[t]], NULL, &res);
	PQclear(res);
	return r;
}
