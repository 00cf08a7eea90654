#include "autoconfig.h"

#include "app.h"
#include "config.h"
#include "db_pool.h"
#include "executor.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "reaper.h"
#include "store_traces.h"

#define REAPER_DB_WAIT_MS 200
/* Retention deletes at most this many traces (and eval runs) a round, so
 * one round holds a pooled connection for a bounded time; a round that
 * fails (a statement timeout on a busy database) halves it, a full round
 * doubles it back. */
#define EXPIRE_BATCH_MAX  1000
#define EXPIRE_BATCH_MIN  10
/* A full batch means more are waiting: the next round comes this soon. */
#define EXPIRE_AGAIN_MS   250

static void schedule_in(struct app *app, unsigned ms);

/* This worker's batch size. One round runs at a time: the next is
 * scheduled when this one ends. */
static unsigned expire_batch = EXPIRE_BATCH_MAX;

/* One retention round on its own pooled connection; returns 1 when a
 * batch came back full. */
static int
expire(struct app *app)
{
	long traces = 0, eval_runs = 0;
	unsigned batch = expire_batch;
	PGconn *conn;
	int rc;

	if ((conn = db_pool_acquire(app->db, REAPER_DB_WAIT_MS)) == NULL)
		return 0;
	rc = store_traces_expire(conn, app->cfg->retention_days, batch,
	    &traces, &eval_runs);
	db_pool_release(app->db, conn);
	if (rc != 0) {
		if (expire_batch / 2 >= EXPIRE_BATCH_MIN)
			expire_batch /= 2;
		return 0;
	}
	metrics_expired(traces, eval_runs);
	if (traces > 0 || eval_runs > 0)
		log_info("retention: deleted %ld traces and %ld eval runs "
		    "older than %u days", traces, eval_runs,
		    app->cfg->retention_days);
	if (traces < (long)batch && eval_runs < (long)batch)
		return 0;
	if (expire_batch * 2 <= EXPIRE_BATCH_MAX)
		expire_batch *= 2;
	return 1;
}

static void
reap(void *arg)
{
	struct app *app = arg;
	unsigned next = app->cfg->reaper_interval_ms;
	PGconn *conn;
	long n;

	/* A busy pool means busy decisions: try again next round. Each
	 * trace carries its own deadline; this instance's settings judge
	 * only traces stored without one (by an older keyrota). */
	if ((conn = db_pool_acquire(app->db, REAPER_DB_WAIT_MS)) != NULL) {
		n = store_traces_reap(conn, app->cfg->model_timeout_ms +
		    app->cfg->reaper_grace_ms);
		db_pool_release(app->db, conn);
		if (n > 0) {
			metrics_reaped(n);
			log_warn("reaper: %ld running traces failed as "
			    "worker_lost", n);
		}
	}
	if (app->cfg->retention_days > 0 && expire(app) &&
	    next > EXPIRE_AGAIN_MS)
		next = EXPIRE_AGAIN_MS;
	schedule_in(app, next);
}

/* On the loop thread: the statements themselves run on the executor. */
static void
reap_soon(void *arg)
{
	struct app *app = arg;

	if (app->exec == NULL || executor_submit(app->exec, reap, app) != 0)
		reaper_schedule(app);
}

static void
schedule_in(struct app *app, unsigned ms)
{
	loop_after(app->loop, ms, reap_soon, app);
}

void
reaper_schedule(struct app *app)
{
	schedule_in(app, app->cfg->reaper_interval_ms);
}
