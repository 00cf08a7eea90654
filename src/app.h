/* app: what every request handler of one worker process shares. Built once
 * per process after fork; read-only for handlers except through the
 * thread-safe objects it points to. */
#ifndef KEYROTA_APP_H
#define KEYROTA_APP_H

#include <stdatomic.h>
#include <stddef.h>

#include "router.h"

struct config;
struct db_pool;
struct executor;
struct fingerprint_key;
struct http_request;
struct loop;
struct model_secrets;
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

/* Who an app serves: a worker answers requests (it has the executor, the
 * templates and the OTLP exporter); a command (keyrota eval) only runs
 * decisions through the same pool, loop and provider. */
enum app_kind { APP_WORKER, APP_COMMAND };

/* Builds app: the database pool (the server's size, statements prepared
 * per connection), the event loop, the configured provider and, for a
 * worker, the rest; the loop is started last. key and model must outlive
 * the app. Returns 0, or -1 with err set; either way app_close frees what
 * was made. */
int  app_open(struct app *app, enum app_kind kind, const struct config *cfg,
         const struct model_secrets *model, const struct fingerprint_key *key,
         char *err, size_t errlen);
/* Frees what app_open made (a zeroed app too). The last spans are
 * exported while the loop runs; then the loop stops, so no step is handed
 * over, and the executor finishes what it holds. */
void app_close(struct app *app);

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
