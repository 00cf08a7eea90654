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

static void
reap(void *arg)
{
	struct app *app = arg;
	PGconn *conn;
	long n;

	/* A busy pool means busy decisions: try again next round. Each
	 * trace carries its own deadline; this instance's settings judge
	 * only traces stored without one (by an older keyrota). */
	if ((conn = db_pool_acquire(app->db, REAPER_DB_WAIT_MS)) != NULL) {
		n = trace_store_reap(conn, app->cfg->model_timeout_ms +
		    app->cfg->reaper_grace_ms);
		db_pool_release(app->db, conn);
		if (n > 0) {
			metrics_reaped(n);
			log_warn("reaper: %ld running traces failed as "
			    "worker_lost", n);
		}
	}
	reaper_schedule(app);
}

/* On the loop thread: the statement itself runs on the executor. */
static void
reap_soon(void *arg)
{
	struct app *app = arg;

	if (app->exec == NULL || executor_submit(app->exec, reap, app) != 0)
		reaper_schedule(app);
}

void
reaper_schedule(struct app *app)
{
	if (loop_after(app->loop, app->cfg->reaper_interval_ms, reap_soon,
	    app) != 0)
		log_error("reaper: cannot schedule");
}
