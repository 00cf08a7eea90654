#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_pool.h"
#include "log.h"
#include "metrics.h"

struct db_pool {
	pthread_mutex_t   lock;
	pthread_cond_t    freed;
	char             *conninfo;
	db_on_connect_fn  on_connect;
	unsigned          size;
	unsigned          open;      /* connections in use or idle */
	unsigned          nidle;
	PGconn          **idle;      /* size slots */
};

PGconn *
db_connect(const char *conninfo)
{
	/* Defaults first: values in conninfo (expanded from dbname) win. */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const vals[] = { "3", "keyrota", conninfo, NULL };
	PGconn *conn;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
		log_warn("database connection failed: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

struct db_pool *
db_pool_create(const char *conninfo, unsigned size, db_on_connect_fn on_connect)
{
	struct db_pool *pool;

	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pool->idle = calloc(size, sizeof(*pool->idle));
	pool->conninfo = strdup(conninfo);
	if (pool->idle == NULL || pool->conninfo == NULL) {
		free(pool->idle);
		free(pool->conninfo);
		free(pool);
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pool->size = size;
	pool->on_connect = on_connect;
	return pool;
}

void
db_pool_destroy(struct db_pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	for (i = 0; i < pool->nidle; i++)
		PQfinish(pool->idle[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->idle);
	free(pool->conninfo);
	free(pool);
}

static void
deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

PGconn *
db_pool_acquire(struct db_pool *pool, unsigned timeout_ms)
{
	struct timespec deadline;
	PGconn *conn = NULL;
	int rc = 0;

	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&pool->lock);
	while (pool->nidle == 0 && pool->open == pool->size && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&pool->freed, &pool->lock,
		    &deadline);
	if (pool->nidle > 0) {
		conn = pool->idle[--pool->nidle];
		pthread_mutex_unlock(&pool->lock);
		return conn;
	}
	if (pool->open == pool->size) {
		pthread_mutex_unlock(&pool->lock);
		return NULL;
	}
	/* Reserve the slot, then connect without holding the lock. */
	pool->open++;
	pthread_mutex_unlock(&pool->lock);

	conn = db_connect(pool->conninfo);
	if (conn != NULL && pool->on_connect != NULL &&
	    pool->on_connect(conn) != 0) {
		PQfinish(conn);
		conn = NULL;
	}
	if (conn == NULL) {
		pthread_mutex_lock(&pool->lock);
		pool->open--;
		metrics_db_connect_failure();
		pthread_cond_signal(&pool->freed);
		pthread_mutex_unlock(&pool->lock);
	}
	return conn;
}

void
db_pool_release(struct db_pool *pool, PGconn *conn)
{
	int broken;

	if (conn == NULL)
		return;
	/* A connection left inside a transaction or broken is not reused. */
	broken = PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE;
	if (broken)
		PQfinish(conn);
	pthread_mutex_lock(&pool->lock);
	if (broken)
		pool->open--;
	else
		pool->idle[pool->nidle++] = conn;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

