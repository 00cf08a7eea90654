/* app: the route table of keyrota and the dispatch around it. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "app.h"
#include "config.h"
#include "errors.h"
#include "health.h"
#include "metrics.h"
#include "metrics_page.h"
#include "pages.h"
#include "http.h"
#include "router.h"

/* JSON clients get the API, browsers the pages. */
static enum handler_result
decide(struct app *app, struct http_request *req)
{
	if (http_content_type_is(req, "application/json"))
		return api_decide(app, req);
	return pages_decide(app, req);
}

static enum handler_result
trace(struct app *app, struct http_request *req)
{
	if (http_wants_json(req))
		return api_trace(app, req);
	return pages_trace(app, req);
}

static const struct route routes[] = {
	{ "GET",  "/", BODY_NONE, pages_index },
	{ "GET",  "/healthz", BODY_NONE, health_live },
	{ "GET",  "/readyz",  BODY_NONE, health_ready },
	{ "GET",  "/metrics", BODY_NONE, metrics_page_get },
	{ "POST", "/rotation/decide", BODY_JSON | BODY_FORM, decide },
	{ "GET",  "/rotation/traces/{trace_id}", BODY_NONE, trace },
	{ "GET",  "/admin/traces", BODY_NONE, admin_list },
	{ "GET",  "/admin/traces/{trace_id}", BODY_NONE, admin_detail },
	{ "GET",  "/admin/evals", BODY_NONE, admin_evals },
};

/* nginx's limit_req refused this request and handed it over to be
 * answered in keyrota's words (README, "Under load"): its internal
 * location sets KEYROTA_RATE_LIMITED to the Retry-After in seconds. No
 * request header can become this parameter (headers arrive as HTTP_*).
 * The body was never passed on and is not read. */
static int
rate_limited(struct app *app, struct http_request *req)
{
	const char *v = http_param(req, "KEYROTA_RATE_LIMITED");
	char retry[HTTP_RETRY_AFTER_MAX];
	unsigned seconds;

	if (v == NULL || *v == '\0')
		return 0;
	if (config_parse_uint(v, 1, 3600, &seconds) != 0)
		seconds = 1;
	http_retry_after(retry, sizeof(retry), seconds);
	metrics_refused(KR_RATE_LIMITED);
	pages_error(app, req, kr_error_http_status(KR_RATE_LIMITED),
	    kr_error_code(KR_RATE_LIMITED), kr_error_explain(KR_RATE_LIMITED),
	    retry);
	return 1;
}

static int
body_allowed(const struct http_request *req, unsigned bodies)
{
	if ((bodies & BODY_JSON) && http_content_type_is(req,
	    "application/json"))
		return 1;
	if ((bodies & BODY_FORM) && http_content_type_is(req,
	    "application/x-www-form-urlencoded"))
		return 1;
	return 0;
}

/* An error of the error table, with its status and words. */
static void
refuse(struct app *app, struct http_request *req, enum kr_error e)
{
	pages_error(app, req, kr_error_http_status(e), kr_error_code(e),
	    kr_error_explain(e), NULL);
}

void
app_handle(struct app *app, struct http_request *req)
{
	struct route_match m;
	char allow[96];

	switch (router_match(routes, sizeof(routes) / sizeof(routes[0]),
	    req->method, req->path, &m)) {
	case ROUTE_NOT_FOUND:
		pages_error(app, req, 404, "not_found",
		    "There is no page at this address.", NULL);
		goto out;
	case ROUTE_BAD_METHOD:
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", m.allow);
		pages_error(app, req, 405, "method_not_allowed",
		    "This address does not accept that method.", allow);
		goto out;
	case ROUTE_FOUND:
		break;
	}
	req->route_name = m.route->pattern;
	req->route_index = (int)(m.route - routes);
	memcpy(req->route_param, m.param, sizeof(req->route_param));
	if (rate_limited(app, req))
		goto out;
	if (m.route->bodies != BODY_NONE) {
		if (req->content_length > HTTP_BODY_MAX) {
			refuse(app, req, KR_PAYLOAD_TOO_LARGE);
			goto out;
		}
		if (!body_allowed(req, m.route->bodies)) {
			refuse(app, req, KR_UNSUPPORTED_MEDIA_TYPE);
			goto out;
		}
		switch (http_read_body(req, HTTP_BODY_MAX)) {
		case HTTP_BODY_OK:
			break;
		case HTTP_BODY_TOO_LARGE:
			refuse(app, req, KR_PAYLOAD_TOO_LARGE);
			goto out;
		case HTTP_BODY_IO:
			pages_error(app, req, 400, "bad_request",
			    "The request body could not be read.", NULL);
			goto out;
		}
	}
	if (m.route->handler(app, req) == HANDLER_PARKED)
		return;      /* req belongs to the callback now */
	if (req->status == 0)
		pages_error(app, req, 500, "internal_error",
		    "The server could not answer this request.", NULL);
out:
	http_request_finish(req);
}

int
app_metrics_init(void)
{
	static const char *names[sizeof(routes) / sizeof(routes[0])];
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		names[i] = routes[i].pattern;
	return metrics_init(names, (int)(sizeof(routes) / sizeof(routes[0])));
}
