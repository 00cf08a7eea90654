#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db_pool.h"
#include "answer.h"
#include "loop.h"
#include "prompt.h"
#include "provider.h"
#include "cmd_provider_check.h"
#include "store_traces.h"

#define CHECK_REPORT "The CI deploy key of this service account is stale " \
	"and should be rotated."

struct waiter {
	pthread_mutex_t        lock;
	pthread_cond_t         done_cond;
	int                    done;
	enum kr_error          error;
	struct model_answer    answer;
	char                   response_model[128];
	unsigned               attempts;
};

static void
on_done(void *ctx, struct provider_result *res)
{
	struct waiter *w = ctx;
	enum kr_error e = res->error;

	if (e == KR_OK)
		e = answer_parse(res->text, res->text_len, &w->answer);
	pthread_mutex_lock(&w->lock);
	w->error = e;
	w->attempts = res->attempts;
	snprintf(w->response_model, sizeof(w->response_model), "%s",
	    res->response_model);
	w->done = 1;
	pthread_cond_signal(&w->done_cond);
	pthread_mutex_unlock(&w->lock);
}

/* Policy lines from the database when it answers; P-7 as seeded by the
 * first migration otherwise, so a key can be checked before the database
 * exists. */
static size_t
load_lines(const struct config *cfg, struct policy_line *lines)
{
	size_t n = 0;
	int age;
	PGconn *conn = db_pool_connect(cfg->database_url);

	if (conn != NULL && store_prepare(conn) == 0)
		store_traces_trusted(conn, "acct_00000", lines, POLICY_MAX_LINES,
		    &n, &age);
	if (conn != NULL)
		PQfinish(conn);
	if (n == 0) {
		printf("policy:   database unavailable; using the built-in "
		    POLICY_LINE "\n");
		snprintf(lines[0].line_id, sizeof(lines[0].line_id), "%s",
		    POLICY_LINE);
		snprintf(lines[0].summary, sizeof(lines[0].summary), "Stale "
		    "service-account keys may be rotated within 30 days.");
		lines[0].rotation_window_days = 30;
		n = 1;
	}
	return n;
}

int
cmd_provider_check(const struct config *cfg, const struct model_secrets *model)
{
	static struct policy_line lines[POLICY_MAX_LINES];
	struct trusted_context t;
	struct provider_call call;
	struct provider *p = NULL;
	struct waiter w;
	struct timespec start, end;
	struct loop *loop;
	enum kr_error verdict;
	size_t i;
	int rc = 1;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.done_cond, NULL);
	memset(&call, 0, sizeof(call));
	call.report = CHECK_REPORT;
	call.lines = lines;
	call.nlines = load_lines(cfg, lines);

	if ((loop = loop_create()) == NULL || loop_start(loop) != 0)
		goto out;
	if ((p = provider_from_config(cfg, model, loop)) == NULL)
		goto out;
	printf("provider: %s\nmodel:    %s\nprompt:   %s\n", p->ops->name,
	    p->model, PROMPT_VERSION);
	clock_gettime(CLOCK_MONOTONIC, &start);
	provider_decide(p, &call, on_done, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.done_cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	clock_gettime(CLOCK_MONOTONIC, &end);

	printf("latency:  %ld ms\nattempts: %u\n",
	    (long)((end.tv_sec - start.tv_sec) * 1000 +
	    (end.tv_nsec - start.tv_nsec) / 1000000), w.attempts);
	if (w.error != KR_OK) {
		printf("result:   error %s\n", kr_error_code(w.error));
		goto out;
	}
	printf("answered: %s\n", w.response_model[0] ? w.response_model : "?");
	printf("decision: %s, window %d days, sources", answer_decision_name(
	    w.answer.decision), w.answer.rotation_window_days);
	for (i = 0; i < w.answer.nsources; i++)
		printf(" %s", w.answer.sources[i]);
	/* Verified as for a key of age 0, so only the policy checks apply. */
	t.key_age_days = 0;
	t.lines = lines;
	t.nlines = call.nlines;
	verdict = answer_verify(&w.answer, &t);
	printf("\nverified: %s\n", verdict == KR_OK ? "ok" :
	    kr_error_code(verdict));
	rc = verdict == KR_OK ? 0 : 1;
out:
	loop_destroy(loop);
	provider_destroy(p);
	pthread_cond_destroy(&w.done_cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}
