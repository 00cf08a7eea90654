/* app: the route table of keyrota and the dispatch around it. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "api.h"
#include "app.h"
#include "config.h"
#include "db_pool.h"
#include "decide.h"
#include "errors.h"
#include "executor.h"
#include "genai.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_page.h"
#include "otlp.h"
#include "pages.h"
#include "provider.h"
#include "report.h"
#include "http.h"
#include "respond.h"
#include "router.h"
#include "store.h"

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
	unsigned seconds;

	if (v == NULL || *v == '\0')
		return 0;
	/* 0 leaves the error table's Retry-After. */
	if (config_parse_uint(v, 1, 3600, &seconds) != 0)
		seconds = 0;
	metrics_refused(KR_RATE_LIMITED);
	respond_error(req, app, KR_RATE_LIMITED, seconds);
	return 1;
}

/* nginx refused a body over its limit and handed the request over to be
 * answered in keyrota's words; its internal location sets
 * KEYROTA_TOO_LARGE. The body was never passed on. */
static int
too_large(struct app *app, struct http_request *req)
{
	const char *v = http_param(req, "KEYROTA_TOO_LARGE");

	if (v == NULL || *v == '\0')
		return 0;
	respond_error(req, app, KR_PAYLOAD_TOO_LARGE, 0);
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

void
app_handle(struct app *app, struct http_request *req)
{
	struct route_match m;
	char allow[96];

	if (too_large(app, req))
		goto out;
	switch (router_match(routes, sizeof(routes) / sizeof(routes[0]),
	    req->method, req->path, &m)) {
	case ROUTE_NOT_FOUND:
		respond_http_error(req, app, KR_HTTP_NO_PAGE, NULL);
		goto out;
	case ROUTE_BAD_METHOD:
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", m.allow);
		respond_http_error(req, app, KR_HTTP_BAD_METHOD, allow);
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
			respond_error(req, app, KR_PAYLOAD_TOO_LARGE, 0);
			goto out;
		}
		if (!body_allowed(req, m.route->bodies)) {
			respond_error(req, app, KR_UNSUPPORTED_MEDIA_TYPE, 0);
			goto out;
		}
		switch (http_read_body(req, HTTP_BODY_MAX)) {
		case HTTP_BODY_OK:
			break;
		case HTTP_BODY_TOO_LARGE:
			respond_error(req, app, KR_PAYLOAD_TOO_LARGE, 0);
			goto out;
		case HTTP_BODY_IO:
			respond_http_error(req, app, KR_HTTP_UNREADABLE_BODY,
			    NULL);
			goto out;
		}
	}
	if (m.route->handler(app, req) == HANDLER_PARKED)
		return;      /* req belongs to the callback now */
	if (req->status == 0)
		respond_http_error(req, app, KR_HTTP_SERVER_ERROR, NULL);
out:
	http_request_finish(req);
}

enum handler_result
app_park_on_decision(struct app *app, struct http_request *req,
    struct report *report, const char *idempotency_key,
    void (*on_running)(void *parked, const struct decide_outcome *o),
    void (*on_done)(void *parked, const struct decide_outcome *o))
{
	struct app_parked *p;

	p = kr_calloc(1, sizeof(*p));
	p->app = app;
	p->req = req;
	/* on_done answers and finishes the request, maybe before
	 * decide_start returns. */
	decide_start(app, report, idempotency_key,
	    http_param(req, "HTTP_TRACEPARENT"), on_running, on_done, p);
	return HANDLER_PARKED;
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

/* How long a closing app waits for its last spans to be exported. */
#define OTLP_DRAIN_MS 2000

/* The OTLP exporter, when an endpoint is configured (docs/telemetry.md);
 * `serve` has checked the variables before forking. */
static int
open_otlp(struct app *app, char *err, size_t errlen)
{
	struct otlp_settings *s = kr_malloc(sizeof(*s));
	char why[512];
	int rc = -1;

	if (otlp_settings_from_environ(s, why, sizeof(why)) != 0) {
		kr_errorf(err, errlen, "OTLP export: %s", why);
		goto out;
	}
	rc = 0;
	if (s->traces_url[0] == '\0')
		goto out;
	app->otlp = otlp_create(app->loop, s, genai_base_url(app->cfg,
	    app->provider->ops->name));
	if (app->otlp == NULL)
		rc = kr_errorf(err, errlen,
		    "OTLP export: libcurl cannot hold the headers");
out:
	otlp_settings_wipe(s);
	free(s);
	return rc;
}

int
app_open(struct app *app, enum app_kind kind, const struct config *cfg,
    const struct model_secrets *model, const struct fingerprint_key *key,
    char *err, size_t errlen)
{
	char why[512];

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->fingerprint_key = key;
	app->db = db_pool_create(cfg->database_url, cfg->db_pool_size,
	    store_prepare);
	app->loop = loop_create();
	/* One executor thread per connection: each step holds at most one. */
	if (kind == APP_WORKER)
		app->exec = executor_create(cfg->db_pool_size);
	if (app->db == NULL || app->loop == NULL ||
	    (kind == APP_WORKER && app->exec == NULL))
		return kr_errorf(err, errlen, "a thread or libcurl's multi "
		    "handle could not be made");
	app->provider = provider_from_config(cfg, model, app->loop);
	if (app->provider == NULL)
		return kr_errorf(err, errlen, "cannot create the %s provider",
		    config_provider_name(cfg->provider));
	if (kind == APP_WORKER) {
		if (open_otlp(app, err, errlen) != 0)
			return -1;
		app->pages = pages_load(cfg->template_dir, why, sizeof(why));
		if (app->pages == NULL)
			return kr_errorf(err, errlen, "templates: %s", why);
	}
	if (loop_start(app->loop) != 0)
		return kr_errorf(err, errlen, "cannot start the event loop");
	return 0;
}

void
app_close(struct app *app)
{
	otlp_drain(app->otlp, OTLP_DRAIN_MS);
	loop_stop(app->loop);
	executor_destroy(app->exec);
	loop_destroy(app->loop);
	otlp_destroy(app->otlp);
	pages_free(app->pages);
	provider_destroy(app->provider);
	db_pool_destroy(app->db);
	memset(app, 0, sizeof(*app));
}
