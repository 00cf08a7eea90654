#include "autoconfig.h"

#include <json-c/json.h>
#include <libpq-fe.h>

#include "app.h"
#include "db_pool.h"
#include "health.h"
#include "http.h"

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

/* Runs SELECT 1 on a pooled connection. A connection that went stale while
 * idle (PostgreSQL restarted) fails once and is replaced, so one retry
 * tells "the database is down" from "this connection is old". */
static int
database_answers(struct db_pool *db)
{
	PGconn *conn;
	PGresult *res;
	int attempt, ok = 0;

	for (attempt = 0; attempt < 2 && !ok; attempt++) {
		if ((conn = db_pool_acquire(db, READY_WAIT_MS)) == NULL)
			break;
		res = PQexecParams(conn, "SELECT 1", 0, NULL, NULL, NULL, NULL,
		    0);
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		db_pool_release(db, conn);
	}
	return ok;
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
