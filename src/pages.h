/* pages: what a person sees (README, "Pages"): the idle form, the running,
 * completed and failed trace pages, and error pages, all in one layout,
 * with the CSRF-protected form flow. Pages are sent by respond.h. */
#ifndef KEYROTA_PAGES_H
#define KEYROTA_PAGES_H

#include <stddef.h>

#include "router.h"

struct app;
struct http_request;
struct pages;
struct template_ctx;

/* The templates: one page each, all rendered inside PAGE_LAYOUT. */
enum page { PAGE_LAYOUT, PAGE_FORM, PAGE_RUNNING, PAGE_COMPLETED,
	PAGE_FAILED, PAGE_ERROR, PAGE_ADMIN_LIST, PAGE_ADMIN_DETAIL,
	PAGE_ADMIN_EVALS, PAGE_ADMIN_EVAL_RUN, PAGE__MAX };

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

/* Renders page inside the layout, adding the title and the provider's
 * names to ctx. Returns 0, or -1 (logged) when a template fails. */
struct buf;
int pages_render(const struct app *app, enum page page,
        struct template_ctx *ctx, const char *title, struct buf *out);

/* Sets the list "lines" (line_id, summary, window_days): the lines of
 * lines[0..nlines) the trace cites, in the order it cites them. */
struct policy_line;
struct trace_row;
void pages_set_lines(struct template_ctx *ctx, const struct trace_row *row,
         const struct policy_line *lines, size_t nlines);

/* Sets name_iso (the datetime attribute) and name_text ("2026-11-26
 * 21:00:00 UTC", shown without the script) from an ISO 8601 UTC time
 * ending in Z; both are "" for "". */
void pages_set_time(struct template_ctx *ctx, const char *name,
        const char *iso);

#endif
