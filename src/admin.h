/* admin: the operator's trace lookup (README, "Admin"): a filtered,
 * newest-first list with keyset pagination both ways and counts by status,
 * CSV and JSON exports of the filtered list, and a detail page with every
 * stored field. HTML, or JSON with Accept: application/json.
 *
 * nginx authenticates /admin with auth_basic; keyrota refuses any admin
 * request that does not carry the admin user nginx authenticated. */
#ifndef KEYROTA_ADMIN_H
#define KEYROTA_ADMIN_H

#include <stddef.h>

#include "export.h"
#include "router.h"
#include "store_admin.h"

struct app;
struct http_request;
struct report_errors;

/* Validated filters of the list, with what the form echoes back. */
struct admin_filter {
	struct trace_filter where;
	char origin[16];                   /* as given; "" = reports */
	char from[32], to[32];             /* as typed (echoed) */
	struct trace_cursor after;         /* keyset cursor: older than */
	struct trace_cursor before;        /* keyset cursor: newer than */
	long pos;                          /* rows before this page */
	enum export_format format;         /* ?format=csv|json */
};

/* Parses a query string; returns 0, or -1 with a message per bad field. */
int admin_filter_parse(const char *query, struct admin_filter *f,
        struct report_errors *errs);

/* True when the request carries, in the KEYROTA_AUTH_USER parameter that
 * only nginx's admin location sets, the configured admin user; otherwise
 * answers 401 (keyrota's own check behind nginx's auth_basic). */
int admin_authenticated(struct app *app, struct http_request *req);

enum handler_result admin_list(struct app *app, struct http_request *req);
enum handler_result admin_detail(struct app *app, struct http_request *req);
/* GET /admin/evals (admin_evals.c) */
enum handler_result admin_evals(struct app *app, struct http_request *req);

#endif
