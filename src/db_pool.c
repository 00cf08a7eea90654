#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "db_pool.h"
#include "log.h"
#include "metrics.h"

#define WATCHDOG_TICK_MS 50
#define DB_POOL_MAX      64      /* KEYROTA_DB_POOL_SIZE's maximum */

enum slot_state { SLOT_EMPTY, SLOT_OPENING, SLOT_IDLE, SLOT_BUSY };

struct slot {
	enum slot_state  state;
	PGconn          *conn;
	unsigned long    generation;   /* the pool's, when it was opened */
	long long        deadline_ms;  /* busy: cut the socket after this */
	long long        since_ms;     /* opening or busy: since then */
	int              gated;        /* borrowed through db_pool_acquire */
	int              cut;          /* the watchdog shut it down */
};

struct db_pool {
	pthread_mutex_t   lock;
	pthread_cond_t    freed;
	pthread_cond_t    stop;
	pthread_t         watchdog;
	int               watching;
	int               stopping;
	char             *conninfo;
	db_on_connect_fn  on_connect;
	unsigned          size;
	unsigned          gate;
	unsigned          gated;       /* db_pool_acquire callers inside */
	unsigned long     generation;  /* moves on at each broken connection */
	unsigned          opening;     /* connects under way */
	unsigned          connect_failures;   /* in a row */
	long long         connect_after_ms;   /* no connect before this */
	/* What db_pool_stalled reads: the last connect that worked, the
	 * last connect that failed or connection cut at its deadline (0:
	 * none), the last connection given back in a good state. */
	long long         connected_ms;
	long long         lost_ms;
	long long         returned_ms;
	struct slot      *slots;
};

/* Defaults first: values in conninfo (expanded from dbname) win. The
 * keepalive and tcp_user_timeout settings notice a dead peer on TCP; the
 * statement_timeout stops a statement the server cannot finish. */
static const char *const conn_keys[] = { "connect_timeout",
    "application_name", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "options", "dbname", NULL };
#define CONN_NKEYS (sizeof(conn_keys) / sizeof(conn_keys[0]))
#define STR_(x) #x
#define STR(x) STR_(x)
static const char *const conn_vals[] = { "2", "keyrota", "1", "5", "2", "3",
    "10000", "-c statement_timeout=" STR(DB_STATEMENT_TIMEOUT_MS), NULL,
    NULL };
_Static_assert(sizeof(conn_vals) == sizeof(conn_keys),
    "one default per connection key");

/* libpq prints notices, and a server's FATAL on an idle connection (a
 * terminated backend), straight to stderr; they go through the log as one
 * JSON line instead. */
static void
notice_to_log(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void)arg;
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	log_warn("database notice: %.*s", (int)(n > 512 ? 512 : n), message);
}

PGconn *
db_pool_connect(const char *conninfo)
{
	const char *const keys[] = { "connect_timeout", "application_name",
	    "keepalives", "keepalives_idle", "dbname", NULL };
	const char *const vals[] = { "3", "keyrota", "1", "5", conninfo, NULL };
	PGconn *conn;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
		log_warn("database connection failed: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		conn = NULL;
	}
	if (conn != NULL)
		PQsetNoticeProcessor(conn, notice_to_log, NULL);
	return conn;
}

/* libpq's asynchronous connect, polled until deadline_ms. */
static PGconn *
connect_by(const char *conninfo, long long deadline_ms)
{
	const char *vals[CONN_NKEYS];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct pollfd pfd;
	long long left;
	PGconn *conn;
	int rc;

	memcpy(vals, conn_vals, sizeof(vals));
	vals[CONN_NKEYS - 2] = conninfo;      /* dbname, the last key */
	conn = PQconnectStartParams(conn_keys, vals, 1);
	if (conn == NULL)
		return NULL;
	if (PQstatus(conn) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if ((left = deadline_ms - clock_now_ms()) <= 0) {
			log_warn("database connection failed: no answer in time");
			goto out_timeout;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (rc < 0 && errno != EINTR)
			goto fail;
		if (rc > 0)
			st = PQconnectPoll(conn);
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	return conn;
fail:
	log_warn("database connection failed: %s", PQerrorMessage(conn));
out_timeout:
	PQfinish(conn);
	return NULL;
}

/* Shuts down the sockets of busy connections past their deadline. The
 * lock keeps a slot's connection open while its socket is looked at. */
static void *
watchdog_thread(void *arg)
{
	struct db_pool *pool = arg;
	struct timespec ts;
	long long now;
	unsigned i;
	int fd;

	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCHDOG_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pool->stop, &pool->lock, &ts);
		now = clock_now_ms();
		for (i = 0; i < pool->size; i++) {
			struct slot *s = &pool->slots[i];

			/* Busy, or opening with its conn set: running the
			 * pool's on_connect statements. */
			if ((s->state != SLOT_BUSY && (s->state != SLOT_OPENING ||
			    s->conn == NULL)) || s->cut || s->deadline_ms > now)
				continue;
			if ((fd = PQsocket(s->conn)) >= 0) {
				shutdown(fd, SHUT_RDWR);
				log_warn("database statement passed its deadline; "
				    "connection dropped");
			}
			s->cut = 1;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct db_pool *
db_pool_create(const char *conninfo, unsigned size,
    db_on_connect_fn on_connect)
{
	struct db_pool *pool;

	if (size > DB_POOL_MAX)
		size = DB_POOL_MAX;
	pool = kr_calloc(1, sizeof(*pool));
	pool->slots = kr_calloc(size, sizeof(*pool->slots));
	pool->conninfo = kr_strdup(conninfo);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pthread_cond_init(&pool->stop, NULL);
	pool->size = size;
	pool->connected_ms = pool->returned_ms = clock_now_ms();
	pool->gate = size;
	pool->on_connect = on_connect;
	if (pthread_create(&pool->watchdog, NULL, watchdog_thread, pool) != 0) {
		db_pool_destroy(pool);
		return NULL;
	}
	pool->watching = 1;
	return pool;
}

void
db_pool_set_gate(struct db_pool *pool, unsigned gate)
{
	pthread_mutex_lock(&pool->lock);
	pool->gate = gate == 0 ? 1 : gate;
	pthread_mutex_unlock(&pool->lock);
}

void
db_pool_destroy(struct db_pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	if (pool->watching) {
		pthread_mutex_lock(&pool->lock);
		pool->stopping = 1;
		pthread_cond_signal(&pool->stop);
		pthread_mutex_unlock(&pool->lock);
		pthread_join(pool->watchdog, NULL);
	}
	for (i = 0; i < pool->size; i++)
		if (pool->slots[i].conn != NULL)
			PQfinish(pool->slots[i].conn);
	pthread_cond_destroy(&pool->stop);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->slots);
	free(pool->conninfo);
	free(pool);
}

/* An idle connection has nothing to say: readable means the server closed
 * it (or is closing it, after a restart). PQconsumeInput reads what came;
 * either way such a connection is not worth a statement. */
static int
still_good(PGconn *conn)
{
	struct pollfd pfd;

	if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0)
		return 0;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 0)
		return 1;
	(void)PQconsumeInput(conn);
	return 0;
}

static void
mark_busy(struct slot *s, long long deadline_ms, int gated)
{
	s->state = SLOT_BUSY;
	s->since_ms = clock_now_ms();
	s->deadline_ms = deadline_ms;
	s->gated = gated;
	s->cut = 0;
}

/* Waits for a release or a finished connect, until_ms at the latest. */
static int
timed_wait(struct db_pool *pool, long long until_ms)
{
	struct timespec ts;
	long long left = until_ms - clock_now_ms();

	if (left <= 0)
		return ETIMEDOUT;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += left / 1000;
	ts.tv_nsec += (left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&pool->freed, &pool->lock, &ts);
}

/* Opens a connection into slot s (reserved as SLOT_OPENING). */
static PGconn *
open_into(struct db_pool *pool, struct slot *s, long long deadline_ms,
    long long hold_deadline_ms, int gated)
{
	long long connect_by_ms = clock_now_ms() + DB_CONNECT_MS;
	long long backoff;
	unsigned i;
	PGconn *conn;
	int rc, cut;

	if (connect_by_ms > deadline_ms)
		connect_by_ms = deadline_ms;
	conn = connect_by(pool->conninfo, connect_by_ms);
	if (conn != NULL && pool->on_connect != NULL) {
		/* Its statements are watched like a borrowed connection's:
		 * a server that stops answering right after the connect
		 * would hold this thread until TCP gives up. */
		pthread_mutex_lock(&pool->lock);
		s->conn = conn;
		s->deadline_ms = hold_deadline_ms;
		s->cut = 0;
		pthread_mutex_unlock(&pool->lock);
		rc = pool->on_connect(conn);
		pthread_mutex_lock(&pool->lock);
		s->conn = NULL;
		cut = s->cut;
		pthread_mutex_unlock(&pool->lock);
		if (rc != 0 || cut) {
			PQfinish(conn);
			conn = NULL;
		}
	}
	pthread_mutex_lock(&pool->lock);
	pool->opening--;
	if (conn == NULL) {
		s->state = SLOT_EMPTY;
		metrics_db_connect_failure();
		/* A server that refuses (EAGAIN on a full listen queue, too
		 * many clients) or does not answer is not asked again at once
		 * by every waiting caller. */
		backoff = DB_CONNECT_BACKOFF_FIRST_MS;
		for (i = 0; i < pool->connect_failures &&
		    backoff < DB_CONNECT_BACKOFF_MAX_MS; i++)
			backoff *= 2;
		if (backoff > DB_CONNECT_BACKOFF_MAX_MS)
			backoff = DB_CONNECT_BACKOFF_MAX_MS;
		pool->connect_failures++;
		pool->connect_after_ms = clock_now_ms() + backoff;
		pool->lost_ms = clock_now_ms();
	} else {
		pool->connect_failures = 0;
		pool->connect_after_ms = 0;
		pool->connected_ms = clock_now_ms();
		s->conn = conn;
		s->generation = pool->generation;
		mark_busy(s, hold_deadline_ms, gated);
	}
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
	return conn;
}

/* A new connection may be opened now: fewer than DB_OPENING_MAX are
 * being opened and no backoff runs. Otherwise *until_ms is brought
 * forward to the end of the backoff. Called with the lock held. */
static int
may_open(struct db_pool *pool, long long *until_ms)
{
	if (pool->opening >= DB_OPENING_MAX)
		return 0;
	if (clock_now_ms() < pool->connect_after_ms) {
		if (pool->connect_after_ms < *until_ms)
			*until_ms = pool->connect_after_ms;
		return 0;
	}
	return 1;
}

/* The one way to get a connection: an idle one that is current and still
 * good, or a new one in an empty slot (or in place of an idle one, when
 * fresh), waiting for a slot until deadline_ms. */
static PGconn *
take(struct db_pool *pool, long long deadline_ms, long long hold_deadline_ms,
    int fresh, int gated)
{
	struct slot *s, *idle, *empty;
	PGconn *conn, *stale, *old[DB_POOL_MAX];
	long long until;
	unsigned i, nold;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		until = deadline_ms;
		idle = empty = NULL;
		nold = 0;
		for (i = 0; i < pool->size; i++) {
			s = &pool->slots[i];
			if (s->state == SLOT_IDLE &&
			    s->generation != pool->generation) {
				/* Opened before the last failure. */
				old[nold++] = s->conn;
				s->conn = NULL;
				s->state = SLOT_EMPTY;
			}
			if (s->state == SLOT_IDLE && idle == NULL)
				idle = s;
			else if (s->state == SLOT_EMPTY && empty == NULL)
				empty = s;
		}
		if (nold > 0) {
			pthread_mutex_unlock(&pool->lock);
			for (i = 0; i < nold; i++)
				PQfinish(old[i]);
			pthread_mutex_lock(&pool->lock);
			continue;
		}
		if (idle != NULL && !fresh) {
			mark_busy(idle, hold_deadline_ms, gated);
			conn = idle->conn;
			pthread_mutex_unlock(&pool->lock);
			if (still_good(conn))
				return conn;
			pthread_mutex_lock(&pool->lock);
			idle->state = SLOT_EMPTY;
			idle->conn = NULL;
			pthread_mutex_unlock(&pool->lock);
			PQfinish(conn);
			pthread_mutex_lock(&pool->lock);
			continue;
		}
		if (idle != NULL && empty == NULL && may_open(pool, &until)) {
			/* A fresh one is wanted: the idle one makes way. */
			stale = idle->conn;
			idle->conn = NULL;
			idle->state = SLOT_OPENING;
			idle->since_ms = clock_now_ms();
			pool->opening++;
			pthread_mutex_unlock(&pool->lock);
			PQfinish(stale);
			return open_into(pool, idle, deadline_ms,
			    hold_deadline_ms, gated);
		}
		if (empty != NULL && may_open(pool, &until)) {
			empty->state = SLOT_OPENING;
			empty->since_ms = clock_now_ms();
			pool->opening++;
			pthread_mutex_unlock(&pool->lock);
			return open_into(pool, empty, deadline_ms,
			    hold_deadline_ms, gated);
		}
		if (timed_wait(pool, until) == ETIMEDOUT &&
		    clock_now_ms() >= deadline_ms)
			break;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static int
gate_enter(struct db_pool *pool)
{
	int ok;

	pthread_mutex_lock(&pool->lock);
	if ((ok = pool->gated < pool->gate))
		pool->gated++;
	pthread_mutex_unlock(&pool->lock);
	if (!ok)
		log_warn("database: %u request threads already wait on it",
		    pool->gate);
	return ok;
}

static void
gate_leave(struct db_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->gated--;
	pthread_mutex_unlock(&pool->lock);
}

PGconn *
db_pool_acquire(struct db_pool *pool, unsigned timeout_ms)
{
	long long now = clock_now_ms();
	PGconn *conn;

	if (!gate_enter(pool))
		return NULL;
	conn = take(pool, now + timeout_ms, now + timeout_ms + DB_HOLD_MS, 0,
	    1);
	if (conn == NULL)
		gate_leave(pool);
	return conn;
}

PGconn *
db_pool_borrow(struct db_pool *pool, long long deadline_ms, int fresh)
{
	long long wait_by = deadline_ms - DB_MIN_ATTEMPT_MS;

	if (wait_by <= clock_now_ms())
		return NULL;
	return take(pool, wait_by, deadline_ms, fresh, 0);
}

void
db_pool_release(struct db_pool *pool, PGconn *conn)
{
	struct slot *s = NULL;
	int broken;
	unsigned i;

	if (conn == NULL)
		return;
	broken = PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < pool->size && s == NULL; i++)
		if (pool->slots[i].conn == conn)
			s = &pool->slots[i];
	if (s == NULL) {
		pthread_mutex_unlock(&pool->lock);
		log_error("database: release of a connection not in the pool");
		return;
	}
	if (s->gated)
		pool->gated--;
	if (s->cut) {
		broken = 1;
		pool->lost_ms = clock_now_ms();
	}
	else if (broken && PQstatus(conn) != CONNECTION_OK) {
		/* The server went away under it: its idle siblings, opened
		 * before now, are dropped rather than tried one by one. */
		pool->generation++;
	}
	if (broken) {
		s->state = SLOT_EMPTY;
		s->conn = NULL;
	} else {
		s->state = SLOT_IDLE;
		pool->returned_ms = clock_now_ms();
	}
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
	if (broken)
		PQfinish(conn);
}

int
db_pool_stalled(struct db_pool *pool, unsigned ms)
{
	long long before = clock_now_ms() - (long long)ms;
	int held = 0, lost, stalled;
	unsigned i;

	pthread_mutex_lock(&pool->lock);
	/* A connect failed or a statement outlived its deadline lately, or
	 * a connect hangs and none worked for ms. */
	lost = pool->lost_ms >= before;
	for (i = 0; i < pool->size; i++) {
		const struct slot *sl = &pool->slots[i];

		if (sl->state == SLOT_OPENING && sl->since_ms < before &&
		    pool->connected_ms < before)
			lost = 1;
		else if (sl->state == SLOT_BUSY && sl->since_ms < before)
			held = 1;
	}
	/* A busy server gives connections back every few milliseconds,
	 * even while it refuses new ones or runs one long statement. */
	stalled = pool->returned_ms < before && (lost || held);
	pthread_mutex_unlock(&pool->lock);
	return stalled;
}

enum db_run_result
db_pool_run(struct db_pool *pool, long long deadline_ms, int flags,
    db_op_fn op, void *arg)
{
	enum db_run_result r = DB_RUN_UNAVAILABLE;
	PGconn *conn;
	int attempt, rc;

	if ((flags & DB_RUN_GATED) && !gate_enter(pool))
		return r;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((conn = db_pool_borrow(pool, deadline_ms, attempt > 0)) ==
		    NULL)
			break;
		rc = op(conn, arg);
		if (rc == 0)
			r = DB_RUN_OK;
		else if (PQstatus(conn) == CONNECTION_OK)
			r = DB_RUN_FAILED;
		else
			r = DB_RUN_UNAVAILABLE;
		db_pool_release(pool, conn);
		/* Only a connection that broke is worth a second try. */
		if (r != DB_RUN_UNAVAILABLE || !(flags & DB_RUN_REPEATABLE))
			break;
	}
	if (flags & DB_RUN_GATED)
		gate_leave(pool);
	return r;
}

void
db_pool_counts(struct db_pool *pool, unsigned *idle, unsigned *in_use,
    unsigned *size)
{
	unsigned i;

	*idle = *in_use = 0;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < pool->size; i++)
		if (pool->slots[i].state == SLOT_IDLE)
			(*idle)++;
		else if (pool->slots[i].state != SLOT_EMPTY)
			(*in_use)++;
	*size = pool->size;
	pthread_mutex_unlock(&pool->lock);
}
