/* health: liveness and readiness probes. */
#ifndef KEYROTA_HEALTH_H
#define KEYROTA_HEALTH_H

#include "router.h"

struct app;
struct http_request;

/* GET /healthz: answers without touching the database or the model. */
enum handler_result health_live(struct app *app, struct http_request *req);
/* GET /readyz: 200 when a pooled connection answers a query, else 503. */
enum handler_result health_ready(struct app *app, struct http_request *req);

#endif
