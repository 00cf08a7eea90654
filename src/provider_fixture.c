/* provider_fixture: a deterministic, offline stand-in for a model, for
 * tests and for running without a model key. Traces and pages name it
 * "fixture", so it is never mistaken for a model.
 *
 * Its rule sees only what a model would be given (the report, the item and
 * the policy lines; never the key's age), case-insensitively:
 *   - "already rotated" or "not a service account" -> not_eligible
 *   - otherwise "stale"                             -> eligible
 *   - otherwise                                     -> needs_review
 * always citing P-7 with the window that P-7's line states. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "loop.h"
#include "provider.h"

#define FIXTURE_MODEL "keyrota-fixture-1"

struct fixture {
	struct loop *loop;
	unsigned     delay_ms;
};

struct fixture_job {
	struct provider_result result;
	provider_done_fn       done;
	void                  *ctx;
};

static int
mentions(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (; text != NULL && *text != '\0'; text++)
		if (strncasecmp(text, word, n) == 0)
			return 1;
	return 0;
}

static const char *
fixture_decision(const struct provider_call *call)
{
	if (mentions(call->report, "already rotated") ||
	    mentions(call->item, "already rotated") ||
	    mentions(call->report, "not a service account"))
		return answer_decision_name(DECISION_NOT_ELIGIBLE);
	if (mentions(call->report, "stale") || mentions(call->item, "stale"))
		return answer_decision_name(DECISION_ELIGIBLE);
	return answer_decision_name(DECISION_NEEDS_REVIEW);
}

static void
fixture_finish(void *arg)
{
	struct fixture_job *job = arg;

	provider_attempt_end(&job->result, 0, job->result.error);
	job->done(job->ctx, &job->result);
	provider_result_free(&job->result);
	free(job);
}

static void
fixture_decide(struct provider *p, const struct provider_call *call,
    provider_done_fn done, void *ctx)
{
	struct fixture *f = p->state;
	struct fixture_job *job;
	int window = 0, n;
	size_t i;
	char text[256];

	job = kr_calloc(1, sizeof(*job));
	provider_result_init(&job->result);
	provider_attempt_begin(&job->result);
	job->done = done;
	job->ctx = ctx;
	for (i = 0; i < call->nlines; i++)
		if (strcmp(call->lines[i].line_id, POLICY_LINE) == 0)
			window = call->lines[i].rotation_window_days;
	n = snprintf(text, sizeof(text), "{\"decision\":\"%s\","
	    "\"rotation_window_days\":%d,"
	    "\"source_line_ids\":[\"" POLICY_LINE "\"]}",
	    fixture_decision(call), window);
	job->result.text = kr_strndup(text, (size_t)n);
	job->result.text_len = (size_t)n;
	job->result.error = KR_OK;
	job->result.attempts = 1;
	snprintf(job->result.response_model, sizeof(job->result.response_model),
	    "%s", FIXTURE_MODEL);
	snprintf(job->result.finish_reason, sizeof(job->result.finish_reason),
	    "stop");
	if (f->delay_ms == 0 || f->loop == NULL)
		fixture_finish(job);
	else
		loop_after(f->loop, f->delay_ms, fixture_finish, job);
}

static void
fixture_destroy(struct provider *p)
{
	free(p->state);
	free(p);
}

static const struct provider_ops fixture_ops = {
	.name = "fixture",
	.decide = fixture_decide,
	.destroy = fixture_destroy,
};

struct provider *
provider_fixture_create(struct loop *loop, unsigned delay_ms)
{
	struct provider *p;
	struct fixture *f;

	p = kr_calloc(1, sizeof(*p));
	f = kr_calloc(1, sizeof(*f));
	f->loop = loop;
	f->delay_ms = delay_ms;
	p->ops = &fixture_ops;
	p->state = f;
	snprintf(p->model, sizeof(p->model), "%s", FIXTURE_MODEL);
	p->deadline_ms = delay_ms;
	return p;
}
