/* pages: what a person sees (SPEC §4): the idle form, the running,
 * completed and failed trace pages, and error pages, all in one layout,
 * with the CSRF-protected form flow. Every HTML response carries the
 * security headers of html_headers. */
#ifndef KEYROTA_PAGES_H
#define KEYROTA_PAGES_H

#include "router.h"

struct app;
struct http_request;
struct pages;

/* Loads and compiles every template of dir. NULL with err set on error
 * (file and line). */
struct pages *pages_load(const char *dir, char *err, size_t errlen);
void          pages_free(struct pages *p);

/* GET / */
enum handler_result pages_index(struct app *app, struct http_request *req);
/* POST /rotation/decide with a form: 303 to the trace once it runs. */
enum handler_result pages_decide(struct app *app, struct http_request *req);
/* GET /rotation/traces/{id} as HTML. */
enum handler_result pages_trace(struct app *app, struct http_request *req);

/* An error page in the layout, or {"error_code","error"} for JSON
 * clients. extra_headers may be NULL. */
void pages_error(struct app *app, struct http_request *req, int status,
         const char *code, const char *message, const char *extra_headers);

#endif
