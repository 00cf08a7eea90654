#include "autoconfig.h"

#include "app.h"
#include "config.h"
#include "db_pool.h"
#include "executor.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "reaper.h"
#include "trace_store.h"

#define REAPER_DB_WAIT_MS 200
/* Retention deletes at most this many traces (and eval runs) a round, so
 * one round holds a pooled connection for a bounded time. */
#define EXPIRE_BATCH      1000
/* A full batch means more are waiting: the next round comes this soon. */
#define EXPIRE_AGAIN_MS   250

static void schedule_in(struct app *app, unsigned ms);

/* One retention round; returns 1 when a batch came back full. */
static int
expire(struct app *app, PGconn *conn)
{
	long traces = 0, eval_runs = 0;

	if (trace_store_expire(conn, app->cfg->retention_days, EXPIRE_BATCH,
	    &traces, &eval_runs) != 0)
		return 0;
	metrics_expired(traces, eval_runs);
	if (traces > 0 || eval_runs > 0)
		log_info("retention: deleted %ld traces and %ld eval runs "
		    "older than %u days", traces, eval_runs,
		    app->cfg->retention_days);
	return traces == EXPIRE_BATCH || eval_runs == EXPIRE_BATCH;
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
		n = trace_store_reap(conn, app->cfg->model_timeout_ms +
		    app->cfg->reaper_grace_ms);
		if (n > 0) {
			metrics_reaped(n);
			log_warn("reaper: %ld running traces failed as "
			    "worker_lost", n);
		}
		if (app->cfg->retention_days > 0 && expire(app, conn) &&
		    next > EXPIRE_AGAIN_MS)
			next = EXPIRE_AGAIN_MS;
		db_pool_release(app->db, conn);
	}
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
	if (loop_after(app->loop, ms, reap_soon, app) != 0)
		log_error("reaper: cannot schedule");
}

void
reaper_schedule(struct app *app)
{
	schedule_in(app, app->cfg->reaper_interval_ms);
}
