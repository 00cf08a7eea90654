/* health: liveness and readiness probes. */
#ifndef KEYROTA_HEALTH_H
#define KEYROTA_HEALTH_H

struct app;
struct http_request;

/* GET /healthz: answers without touching the database or the model. */
void health_live(struct app *app, struct http_request *req);
/* GET /readyz: 200 when a pooled connection answers a query, else 503. */
void health_ready(struct app *app, struct http_request *req);

#endif
