/* app: what every request handler of one worker process shares. Built once
 * per process after fork; read-only for handlers except through the
 * thread-safe objects it points to. */
#ifndef KEYROTA_APP_H
#define KEYROTA_APP_H

#include <stdatomic.h>

#include "router.h"

struct config;
struct db_pool;
struct executor;
struct fingerprint_key;
struct http_request;
struct loop;
struct otlp;
struct pages;
struct provider;

struct app {
	const struct config          *cfg;
	struct db_pool               *db;
	struct loop                  *loop;
	/* Runs the database steps of decisions (NULL in CLI commands). */
	struct executor              *exec;
	struct provider              *provider;
	struct pages                 *pages;
	/* Exports finished traces as spans (NULL: export is off). */
	struct otlp                  *otlp;
	const struct fingerprint_key *fingerprint_key;
	/* Decisions of this process not yet terminal; a draining worker
	 * waits for them, also those whose request already has its 303. */
	atomic_long                   decisions;
	/* The latest deadline (clock_now_ms) of any decision started here,
	 * its terminal write included: how long a drain may have to wait. */
	atomic_llong                  newest_deadline_ms;
};

/* Routes one request: 404/405/413/415 are answered here, everything else by
 * the route's handler. Unless the handler parked it, the request is
 * finished (and freed) before this returns. */
void app_handle(struct app *app, struct http_request *req);

/* A request parked on a decision: what the decision's callbacks get, to
 * answer it. req is NULL once answered; on_done frees the struct. */
struct app_parked {
	struct app          *app;
	struct http_request *req;
};

struct decide_outcome;
struct report;
/* Starts the decision of report (decide_start) with req parked on it and
 * returns HANDLER_PARKED. on_running may be NULL. */
enum handler_result app_park_on_decision(struct app *app,
         struct http_request *req, struct report *report,
         const char *idempotency_key,
         void (*on_running)(void *parked, const struct decide_outcome *o),
         void (*on_done)(void *parked, const struct decide_outcome *o));

/* Creates the shared metrics, labelled with the route table; called once
 * by the supervisor before it forks. */
int  app_metrics_init(void);

#endif
