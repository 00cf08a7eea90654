/* app: what every request handler of one worker process shares. Built once
 * per process after fork; read-only for handlers except through the
 * thread-safe objects it points to. */
#ifndef KEYROTA_APP_H
#define KEYROTA_APP_H

struct config;
struct db_pool;
struct http_request;

struct app {
	const struct config *cfg;
	struct db_pool      *db;
};

/* Routes one request: 404/405/413/415 are answered here, everything else by
 * the route's handler. Writes the access log line. */
void app_handle(struct app *app, struct http_request *req);

#endif
