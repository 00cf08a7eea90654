/* cmd_eval: the eval set (evals/rotations.jsonl) run through the decision
 * service, the same code path as POST /rotation/decide: report validation,
 * then decide_start_eval with the configured provider and P-7
 * verification. Each case's key age is its trusted context: the accounts
 * table is never read or written, and the traces are marked as evals
 * (left out of the admin lookup unless asked for). Runs are recorded (eval_runs) so a prompt or
 * model change that regresses a case shows on /admin/evals. */
#ifndef KEYROTA_CMD_EVAL_H
#define KEYROTA_CMD_EVAL_H

#include <stddef.h>

struct config;
struct model_secrets;

struct eval_options {
	const char *file;         /* the JSON-lines eval set */
	const char *json_out;     /* NULL, or where to write a JSON report */
	int         quiet;        /* only the summary line */
	unsigned    concurrency;  /* cases in flight at once */
};

struct eval_summary {
	unsigned passed;
	unsigned failed;
	unsigned skipped;         /* real-model-only cases the fixture skipped */
	char     run_id[32];      /* "" when the run could not be recorded */
};

/* Returns 0 when every case that ran passed, 1 when one failed, 2 when the file is
 * malformed (the message names the line), 3 when keyrota could not run. */
int cmd_eval_run(const struct config *cfg, const struct model_secrets *model,
        const struct eval_options *opts, struct eval_summary *out);

/* `keyrota eval [FILE] [--json OUT]` */
int cmd_eval(const struct config *cfg, const struct model_secrets *model,
        int argc, char **argv);

#endif
