/* db_pool: a bounded pool of PostgreSQL connections for one process.
 *
 * Connections are opened lazily, on first need, up to the pool's size.
 * A connection that is found broken on release is closed, and the next
 * acquire opens a fresh one, so a restarted PostgreSQL never needs a
 * keyrota restart. Callers that wait longer than their timeout for a free
 * connection get NULL, as they do when PostgreSQL cannot be reached. */
#ifndef KEYROTA_DB_POOL_H
#define KEYROTA_DB_POOL_H

#include <libpq-fe.h>

struct db_pool;

/* Called once on every new connection (to prepare statements); a non-zero
 * return discards the connection. */
typedef int (*db_on_connect_fn)(PGconn *conn);

struct db_pool *db_pool_create(const char *conninfo, unsigned size,
                    db_on_connect_fn on_connect);
void            db_pool_destroy(struct db_pool *pool);
PGconn         *db_pool_acquire(struct db_pool *pool, unsigned timeout_ms);
void            db_pool_release(struct db_pool *pool, PGconn *conn);

/* Opens one connection outside any pool (migrate, check). */
PGconn         *db_connect(const char *conninfo);

#endif
