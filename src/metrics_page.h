/* metrics_page: GET /metrics, the shared counters (metrics.h) labelled
 * with this instance's build and provider. */
#ifndef KEYROTA_METRICS_PAGE_H
#define KEYROTA_METRICS_PAGE_H

#include "router.h"

struct app;
struct http_request;

/* nginx serves it to loopback only. Never waits on the database: the
 * newest eval run is read in the background (metrics_eval_refresh_due). */
enum handler_result metrics_page_get(struct app *app,
                        struct http_request *req);

#endif
