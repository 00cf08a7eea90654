#include "autoconfig.h"

#include <json-c/json.h>

#include "app.h"
#include "clock.h"
#include "db_pool.h"
#include "health.h"
#include "http.h"
#include "store.h"

#define READY_WAIT_MS 2000

enum handler_result
health_live(struct app *app, struct http_request *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	(void)app;
	http_respond(req, 200, "application/json", "Cache-Control: no-store\r\n",
	    body, sizeof(body) - 1);
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
	static const char up[] = "{\"status\":\"ready\",\"database\":\"ok\"}";
	static const char down[] = "{\"status\":\"unavailable\","
	    "\"error_code\":\"database_unavailable\",\"database\":\"down\"}";

	if (database_answers(app->db))
		http_respond(req, 200, "application/json",
		    "Cache-Control: no-store\r\n", up, sizeof(up) - 1);
	else
		http_respond(req, 503, "application/json",
		    "Cache-Control: no-store\r\nRetry-After: 5\r\n", down,
		    sizeof(down) - 1);
	return HANDLER_ANSWERED;
}
