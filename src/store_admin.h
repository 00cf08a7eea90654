/* store_admin: the operator's queries over traces (a store file, see
 * store.h): one page of the filtered list with keyset pagination both
 * ways, capped counts by status, and the export streamed row by row. The
 * filters and limits travel as parameters; rows come back typed. */
#ifndef KEYROTA_STORE_ADMIN_H
#define KEYROTA_STORE_ADMIN_H

#include <stddef.h>

#include <libpq-fe.h>

#include "errors.h"
#include "export.h"
#include "store.h"
#include "trace_id.h"
#include "store_traces.h"

#define ADMIN_PAGE_SIZE 50        /* traces on one list page */
#define ADMIN_COUNT_CAP 10000     /* a count past this shows as "10000+" */

/* Which traces the list shows: real reports, `keyrota eval` cases or
 * both (docs/http-api.md, "Admin"). */
enum trace_origin { ORIGIN_REPORTS, ORIGIN_EVALS, ORIGIN_ALL, ORIGIN__MAX };

const char *store_admin_origin_name(enum trace_origin o);
int         store_admin_origin_from_name(const char *s, enum trace_origin *out);

/* The list's filters, validated; a field left empty (or has_status 0,
 * error KR_OK) matches every trace. */
struct trace_filter {
	char              trace_id[TRACE_ID_SIZE];
	char              account_id[16];
	int               has_status;
	enum trace_status status;
	enum kr_error     error;
	enum trace_origin origin;
	char              from[40], to[40];   /* UTC timestamps, "" none */
};

/* A keyset position: a row's created_at, to the microsecond, and id. */
struct trace_cursor {
	char ts[40];
	char id[TRACE_ID_SIZE];
};

/* One row of the list. */
struct trace_summary {
	char              trace_id[TRACE_ID_SIZE];
	char              account_id[16];
	enum trace_status status;
	int               has_decision;
	enum decision     decision;
	enum kr_error     error;              /* failed only; else KR_OK */
	char              created_at[40];     /* ISO 8601 UTC, microseconds */
	long              latency_ms;         /* -1 when NULL */
	long              attempts;
	long              input_tokens;       /* -1 when NULL */
	long              output_tokens;
	int               eval;
};

int               store_admin_prepare(PGconn *conn);

/* Up to max rows matching f, into rows (*n of them): newest first after
 * the cursor (older ones; from the newest when after is NULL), or, with
 * newer set, oldest first before it (the cursor is then required).
 * STORE_DATA_ERROR when PostgreSQL refuses a filter's value (a date that
 * does not exist). */
enum store_result store_admin_list(PGconn *conn, const struct trace_filter *f,
                      const struct trace_cursor *cursor, int newer,
                      struct trace_summary *rows, size_t max, size_t *n);

/* How many traces match f with status s, counting no further than
 * ADMIN_COUNT_CAP + 1. A status f rules out counts 0 without a query. */
enum store_result store_admin_count(PGconn *conn, const struct trace_filter *f,
                      enum trace_status s, long *count);

/* Called with each exported row's EXPORT_COL__MAX values ("" for NULL);
 * non-zero stops the calls (the rest of the result is read and dropped). */
typedef int (*store_export_row_fn)(void *arg, const char *const *cols);

/* Streams up to limit rows matching f, newest first, one at a time
 * (PostgreSQL's single-row mode): memory stays that of one row. */
enum store_result store_admin_export(PGconn *conn, const struct trace_filter *f,
                      long limit, store_export_row_fn row, void *arg);

#endif
