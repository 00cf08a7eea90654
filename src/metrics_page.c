#include "autoconfig.h"

#include <stdlib.h>

#include "app.h"
#include "clock.h"
#include "db_pool.h"
#include "executor.h"
#include "http.h"
#include "metrics.h"
#include "metrics_page.h"
#include "prompt.h"
#include "provider.h"
#include "respond.h"
#include "store_evals.h"

/* The background read of the newest eval run gives up after this, so a
 * database that does not answer holds one executor thread no longer. */
#define EVAL_READ_MS 2000

static int
last_run_op(PGconn *conn, void *arg)
{
	long passed, failed;
	long long started_s;
	enum store_result r;

	(void)arg;
	r = store_evals_last_run(conn, &passed, &failed, &started_s);
	if (r == STORE_OK)
		metrics_eval_last_run(passed, failed, started_s);
	return r == STORE_OK || r == STORE_NOT_FOUND ? 0 : -1;
}

/* On an executor thread; a failure leaves the last value known. */
static void
last_run_read(void *arg)
{
	struct app *app = arg;

	(void)db_pool_run(app->db, clock_now_ms() + EVAL_READ_MS,
	    DB_RUN_REPEATABLE, last_run_op, NULL);
}

enum handler_result
metrics_page_get(struct app *app, struct http_request *req)
{
	struct metrics_info info = { PACKAGE_VERSION, PROMPT_VERSION,
	    NULL, NULL };
	struct view v = { .text_type = "text/plain; version=0.0.4; "
	    "charset=utf-8" };
	struct buf out;

	if (app->provider != NULL) {
		info.provider = app->provider->ops->name;
		info.model = app->provider->model;
	}
	if (app->exec != NULL && app->db != NULL && metrics_eval_refresh_due())
		(void)executor_submit(app->exec, last_run_read, app);
	buf_init(&out, 256 * 1024);
	metrics_render(&out, &info);
	v.text = buf_str(&out);
	v.text_len = out.len;
	respond(req, app, &v);
	buf_free(&out);
	return HANDLER_ANSWERED;
}
