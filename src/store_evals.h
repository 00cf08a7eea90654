/* store_evals: recorded `keyrota eval` runs (a store file, see store.h):
 * a run and its cases written in one transaction, the runs listed for
 * /admin/evals, one run with its cases beside the previous run's, and the
 * freshness check of `keyrota check --eval-run`. */
#ifndef KEYROTA_STORE_EVALS_H
#define KEYROTA_STORE_EVALS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "store.h"
#include "trace_id.h"

#define EVAL_RUNS_SHOWN  100        /* runs on /admin/evals, newest first */
#define EVAL_RUN_ID_MAX  32         /* "ev_" and 22 characters */
#define EVAL_NAME_MAX    81         /* case names: 1..80 bytes */
#define EVAL_TEXT_MAX    401        /* expected, got: up to 400 bytes */

/* A run, as recorded and as read back. */
struct eval_run_row {
	char     run_id[EVAL_RUN_ID_MAX];
	char     eval_file[201];
	char     eval_digest[65];          /* written only */
	char     provider[32];
	char     model[128];
	char     prompt_version[64];
	char     started_at[40];           /* read: ISO 8601 UTC, seconds */
	long     passed;
	long     failed;
	char     previous_run_id[EVAL_RUN_ID_MAX];  /* read, one run: "" none */
};

/* A case of a run; reading one run also fills what the same case had in
 * the previous run of the same eval file. */
struct eval_case_row {
	char     name[EVAL_NAME_MAX];
	int      passed;
	char     expected[EVAL_TEXT_MAX];
	char     got[EVAL_TEXT_MAX];
	long     latency_ms;
	char     trace_id[TRACE_ID_SIZE];  /* written: "" none */
	int      had_previous;             /* read: the previous run had it */
	int      previous_passed;
	char     previous_got[EVAL_TEXT_MAX];
};

int               store_evals_prepare(PGconn *conn);

/* Records a run and its n cases, all or nothing. The run's started_at is
 * a timestamp from store_now. */
enum store_result store_evals_record(PGconn *conn,
                      const struct eval_run_row *run, const char *started_at,
                      const struct eval_case_row *cases, size_t n);
/* The newest runs, up to max (EVAL_RUNS_SHOWN), into runs. */
enum store_result store_evals_runs(PGconn *conn, struct eval_run_row *runs,
                      size_t max, size_t *n);
/* One run with its previous run's id; STORE_NOT_FOUND when none. */
enum store_result store_evals_run(PGconn *conn, const char *run_id,
                      struct eval_run_row *out);
/* The cases of run, each with the same case of previous ("" none), by
 * name; *cases is malloc'd (the caller frees it). */
enum store_result store_evals_cases(PGconn *conn, const char *run_id,
                      const char *previous, struct eval_case_row **cases,
                      size_t *n);
/* For `keyrota check`: the run's counts, and whether it started within
 * max_age (a PostgreSQL interval, e.g. "7 days"). */
enum store_result store_evals_freshness(PGconn *conn, const char *run_id,
                      const char *max_age, long *passed, long *failed,
                      int *recent);
/* For /metrics: the newest run's counts and when it started (seconds
 * since the epoch); STORE_NOT_FOUND when there is none. */
enum store_result store_evals_last_run(PGconn *conn, long *passed,
                      long *failed, long long *started_s);

#endif
