/* db_pool: a bounded pool of PostgreSQL connections for one process.
 *
 * Connections are opened lazily, up to the pool's size, with libpq's
 * asynchronous connect under a client-side deadline, TCP keepalives,
 * tcp_user_timeout and a server-side statement_timeout (values in the
 * conninfo win over these defaults).
 *
 * Stale connections never reach a caller twice: a connection is checked
 * when it is borrowed (a zero-timeout poll of its socket; an idle
 * connection that has something to say was closed by the server), and when
 * one is returned broken, the pool's generation moves on, so every idle
 * connection opened before that failure is dropped instead of tried.
 *
 * Every wait is bounded on the client side: a borrowed connection carries
 * a deadline, and a watchdog shuts its socket down once that passes (a
 * stopped or partitioned server never answers, and statement_timeout is
 * enforced by the server). The statement then fails, the connection is
 * closed on release, and the caller sees a database error in time. */
#ifndef KEYROTA_DB_POOL_H
#define KEYROTA_DB_POOL_H

#include <libpq-fe.h>

struct db_pool;

/* Server-side bound on one statement, set on every connection. */
#define DB_STATEMENT_TIMEOUT_MS 5000
/* Client-side bound on opening one connection. */
#define DB_CONNECT_MS 2000
/* How long a connection from db_pool_acquire may be held. */
#define DB_HOLD_MS 6000
/* db_pool_borrow stops waiting for a connection this long before its
 * deadline: a statement started later would only be cut by the watchdog,
 * and the connection with it (a reconnect storm under load). */
#define DB_MIN_ATTEMPT_MS 500
/* Connections opened at once per pool; after a connect fails, no new one
 * is tried for a pause that doubles from DB_CONNECT_BACKOFF_FIRST_MS up
 * to DB_CONNECT_BACKOFF_MAX_MS (callers wait for a slot meanwhile, within
 * their deadline). */
#define DB_OPENING_MAX 2
#define DB_CONNECT_BACKOFF_FIRST_MS 10
#define DB_CONNECT_BACKOFF_MAX_MS   100

/* Called once on every new connection (to prepare statements); a non-zero
 * return discards the connection. */
typedef int (*db_on_connect_fn)(PGconn *conn);

struct db_pool *db_pool_create(const char *conninfo, unsigned size,
                    db_on_connect_fn on_connect);
void            db_pool_destroy(struct db_pool *pool);
/* How many callers of db_pool_acquire may be waiting for or holding a
 * connection at once (default: the pool's size); one more gets NULL at
 * once. It keeps some accept threads free of database waits (README,
 * "Faults"). */
void            db_pool_set_gate(struct db_pool *pool, unsigned gate);

/* For request handlers: waits up to timeout_ms for a connection, which is
 * then bounded by DB_HOLD_MS. NULL when none could be had in time. There
 * is no retry here: a statement that fails on it fails the request. A
 * step that is safe to run twice goes through db_pool_run, where the one
 * retry rule lives. */
PGconn         *db_pool_acquire(struct db_pool *pool, unsigned timeout_ms);
/* For the executor: a connection bounded by deadline_ms (clock_now_ms),
 * which covers the wait, the connect and the statements; the wait ends
 * DB_MIN_ATTEMPT_MS before it (NULL). fresh: a newly opened connection,
 * never an idle one. */
PGconn         *db_pool_borrow(struct db_pool *pool, long long deadline_ms,
                    int fresh);
/* Returns a connection. One that is broken is closed, and then every idle
 * connection older than it is dropped too; one left inside a transaction
 * is closed. */
void            db_pool_release(struct db_pool *pool, PGconn *conn);

/* Whether the database looks stalled rather than busy: no connection came
 * back in a good state for ms, while a connection has been lent for longer
 * than that, or was cut at its deadline or a connect failed within ms, or
 * a connect hangs with none working for ms (statements or commits that do
 * not finish, a server that does not answer). A busy server gives
 * connections back every few milliseconds; an idle pool is not stalled. */
int             db_pool_stalled(struct db_pool *pool, unsigned ms);

/* The one retry rule (docs/operations.md, "The database and its errors").
 * op runs on a borrowed connection and returns 0, or non-zero when its
 * statement failed. When it failed because the connection broke (the
 * store's STORE_RETRY, not a statement error) and it is DB_RUN_REPEATABLE,
 * it runs once more on a connection that is guaranteed new. DB_RUN_GATED:
 * counted against the gate, as db_pool_acquire is (request handlers). */
#define DB_RUN_REPEATABLE 0x1
#define DB_RUN_GATED      0x2
enum db_run_result {
	DB_RUN_OK,
	DB_RUN_FAILED,        /* the statement failed; the connection was fine */
	DB_RUN_UNAVAILABLE,   /* no connection in time, or it broke */
};
typedef int (*db_op_fn)(PGconn *conn, void *arg);
enum db_run_result db_pool_run(struct db_pool *pool, long long deadline_ms,
                    int flags, db_op_fn op, void *arg);

/* The pool's connections now: idle, and in use or being opened. */
void            db_pool_counts(struct db_pool *pool, unsigned *idle,
                    unsigned *in_use, unsigned *size);

/* Opens one connection outside any pool (migrate, check). */
PGconn         *db_pool_connect(const char *conninfo);

#endif
