/* api: the JSON interface of rotation decisions (README, "A sample
 * request"). Handlers stay thin: parse, call the decision service, render. */
#ifndef KEYROTA_API_H
#define KEYROTA_API_H

#include "router.h"

struct app;
struct http_request;
struct decide_outcome;
struct json_object;
struct trace_row;

/* POST /rotation/decide with application/json: answers when the trace is
 * terminal (the request is parked meanwhile). */
enum handler_result api_decide(struct app *app, struct http_request *req);
/* GET /rotation/traces/{trace_id} as JSON. */
enum handler_result api_trace(struct app *app, struct http_request *req);

/* The six-field response shape of a decision. */
struct json_object *api_outcome_json(const struct decide_outcome *o);

#endif
