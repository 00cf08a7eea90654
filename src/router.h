/* router: matches a method and a path against a table of routes.
 *
 * A pattern is a literal path whose segments may be "{name}", matching one
 * non-empty segment; the matched text is returned as the route parameter.
 * A path that matches only under another method yields 405 with the methods
 * that would have matched. */
#ifndef KEYROTA_ROUTER_H
#define KEYROTA_ROUTER_H

#include <stddef.h>

struct http_request;
struct app;

/* Request bodies a route accepts; anything else is 415. */
enum {
	BODY_NONE = 0,
	BODY_JSON = 1 << 0,   /* application/json */
	BODY_FORM = 1 << 1,   /* application/x-www-form-urlencoded */
};

/* What a handler did with its request. A parked request may already be
 * finished and freed (by another thread) when the handler returns, so the
 * caller must not touch it again. */
enum handler_result { HANDLER_ANSWERED, HANDLER_PARKED };

typedef enum handler_result (*route_handler)(struct app *app,
                                struct http_request *req);

struct route {
	const char    *method;
	const char    *pattern;   /* also the route's name in logs and metrics */
	unsigned       bodies;
	route_handler  handler;
};

enum route_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

#define ROUTE_PARAM_MAX 128

struct route_match {
	const struct route *route;
	char                param[ROUTE_PARAM_MAX];  /* "" when none */
	char                allow[64];               /* for 405 */
};

enum route_result router_match(const struct route *table, size_t n,
                      const char *method, const char *path,
                      struct route_match *m);

#endif
