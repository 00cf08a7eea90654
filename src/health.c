#include "autoconfig.h"

#include <json-c/json.h>

#include "alloc.h"
#include "app.h"
#include "clock.h"
#include "db_pool.h"
#include "health.h"
#include "http.h"
#include "respond.h"
#include "store.h"

#define READY_WAIT_MS 2000

enum handler_result
health_live(struct app *app, struct http_request *req)
{
	struct view v = { .json = kr_json_object() };

	kr_json_add(v.json, "status", kr_json_string("ok"));
	respond(req, app, &v);
	return HANDLER_ANSWERED;
}

static int
ping(PGconn *conn, void *arg)
{
	(void)arg;
	return store_ping(conn) == STORE_OK ? 0 : -1;
}

/* A ping on a pooled connection, bounded by READY_WAIT_MS in all; the
 * pool's one retry rule (db_pool_run) tells "the database is down" from
 * "this idle connection went stale". */
static int
database_answers(struct db_pool *db)
{
	return db_pool_run(db, clock_now_ms() + READY_WAIT_MS,
	    DB_RUN_REPEATABLE | DB_RUN_GATED, ping, NULL) == DB_RUN_OK;
}

enum handler_result
health_ready(struct app *app, struct http_request *req)
{
	struct view v = { .json = kr_json_object() };
	int up = database_answers(app->db);

	/* Down, the body also carries the error's code and sentence. */
	kr_json_add(v.json, "status",
	    kr_json_string(up ? "ready" : "unavailable"));
	kr_json_add(v.json, "database",
	    kr_json_string(up ? "ok" : "down"));
	if (!up)
		v.error = KR_DATABASE_UNAVAILABLE;
	respond(req, app, &v);
	return HANDLER_ANSWERED;
}
