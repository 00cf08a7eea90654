/* store: what every store file shares. The store files (store_traces.c,
 * store_admin.c, store_evals.c) are the only modules that know SQL: each
 * keeps its statements in one enum-indexed table, prepared once per
 * connection by store_prepare, and returns typed rows. A failed statement
 * comes back as one of a small closed set of results the callers can act
 * on (docs/operations.md, "Database errors"). */
#ifndef KEYROTA_STORE_H
#define KEYROTA_STORE_H

#include <libpq-fe.h>

enum store_result {
	STORE_OK,
	STORE_NOT_FOUND,
	STORE_NOT_RUNNING,   /* the trace was no longer running: read it
	                        back (see store_traces_finish) */
	/* The errors, from here on (store_failed). */
	STORE_CONFLICT,      /* a unique key is already taken */
	STORE_DATA_ERROR,    /* the server refused the values themselves
	                        (SQLSTATE class 22 or 23): the same statement
	                        fails again anywhere */
	STORE_RETRY,         /* the connection broke: worth one more try on a
	                        new connection (db_pool_run makes it) */
	STORE_UNAVAILABLE,   /* any other failure: see the log */
};

/* True for the results that are database errors, not answers. */
#define store_failed(r) ((r) >= STORE_CONFLICT)

/* One prepared statement of a store file's table. */
struct store_stmt {
	const char *name;     /* unique across the store files */
	int         nparams;
	const char *sql;
};

/* Prepares the statements of every store file on a new connection (the
 * db_pool hook; `keyrota eval` and `keyrota check` call it on theirs). */
int               store_prepare(PGconn *conn);
/* Prepares one store file's table (for store_prepare). */
int               store_prepare_table(PGconn *conn,
                      const struct store_stmt *stmts, int n);

/* Runs a prepared statement. STORE_OK with *res set (the caller clears it),
 * or the error's class with *res NULL; the error is logged by statement
 * name, without the server's DETAIL (it would copy the refused row). */
enum store_result store_exec(PGconn *conn, const struct store_stmt *st,
                      const char *const *params, PGresult **res);
/* Runs a prepared statement that reads one row: as store_exec, and
 * STORE_NOT_FOUND with *res NULL when it returns none or more than one. */
enum store_result store_exec_one(PGconn *conn, const struct store_stmt *st,
                      const char *const *params, PGresult **res);
/* The class of a failed result of conn (for streamed results). */
enum store_result store_classify(PGconn *conn, const PGresult *res);

/* Field readers for the rows of a successful result. */
void              store_text(char *dst, size_t dstlen, const PGresult *res,
                      int row, int col);
long              store_long(const PGresult *res, int row, int col);
int               store_bool(const PGresult *res, int row, int col);

/* The index of s in the closed set names[0..n), or -1: how the names a
 * column stores become enums. */
int               store_name_index(const char *const *names, int n,
                      const char *s);

/* Transaction control for a store file whose write spans statements. */
enum store_txn { STORE_BEGIN, STORE_COMMIT, STORE_ROLLBACK };
enum store_result store_transaction(PGconn *conn, enum store_txn t);

/* SELECT 1: the database answers (readiness). */
enum store_result store_ping(PGconn *conn);
/* The database's clock as text, for values stored as timestamptz. */
enum store_result store_now(PGconn *conn, char *out, size_t outlen);

#endif
