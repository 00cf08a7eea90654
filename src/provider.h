/* provider: the model boundary. One operation, decide(report, trusted
 * policy text) -> the model's answer text or a named error, behind a table
 * of function pointers; provider_fixture.c, provider_openai.c and
 * provider_anthropic.c (over provider_http.c) implement it, and tests may
 * plug in their own.
 *
 * The answer text is untrusted: the caller parses and verifies it
 * (answer.h) and never stores, logs or renders it. */
#ifndef KEYROTA_PROVIDER_H
#define KEYROTA_PROVIDER_H

#include <stddef.h>

#include "answer.h"
#include "config.h"
#include "errors.h"
#include "secret.h"

struct loop;

/* What the model is given. It never sees trusted records such as the
 * key's age: only the policy lines and the report, as data. */
struct provider_call {
	const char               *report;
	const char               *item;      /* NULL when not given */
	const struct policy_line *lines;
	size_t                    nlines;
};

/* One model call within a decision, kept so telemetry can show retries
 * (docs/telemetry.md). Times are wall-clock nanoseconds since the epoch. */
struct provider_attempt {
	long long      start_ns;
	long long      end_ns;
	long           http_status;      /* 0: no HTTP response */
	enum kr_error  error;            /* KR_OK: this call gave the answer */
};

/* At least KEYROTA_MODEL_MAX_ATTEMPTS' upper bound (config.c). */
#define PROVIDER_ATTEMPTS_MAX 10

struct provider_result {
	enum kr_error  error;            /* KR_OK: text holds the answer */
	char          *text;             /* owned by the result; may be NULL */
	size_t         text_len;
	char           response_model[128];
	char           response_id[128];
	char           finish_reason[32];
	unsigned       attempts;
	long           input_tokens;     /* -1 when unknown */
	long           output_tokens;
	struct provider_attempt log[PROVIDER_ATTEMPTS_MAX];
	unsigned       nlog;             /* entries used in log */
};

/* Opens the next entry of r->log (none past PROVIDER_ATTEMPTS_MAX) and
 * closes it; a provider calls them around each model call. */
void provider_attempt_begin(struct provider_result *r);
void provider_attempt_end(struct provider_result *r, long http_status,
         enum kr_error error);

typedef void (*provider_done_fn)(void *ctx, struct provider_result *res);

struct provider;

struct provider_ops {
	const char *name;                /* "fixture", "openai", "anthropic" */
	/* Starts one decision. done runs exactly once, possibly before
	 * decide returns, possibly on the loop thread; call must stay valid
	 * until then. The result belongs to the provider and is valid only
	 * while done runs. */
	void (*decide)(struct provider *p, const struct provider_call *call,
	          provider_done_fn done, void *ctx);
	void (*destroy)(struct provider *p);
};

struct provider {
	const struct provider_ops *ops;
	char                       model[128];   /* gen_ai.request.model */
	/* The longest a decide call takes before done runs, retries and
	 * simulated latency included: what a trace's deadline rests on. */
	unsigned                   deadline_ms;
	void                      *state;
};

void provider_result_init(struct provider_result *r);
void provider_result_free(struct provider_result *r);

static inline void
provider_decide(struct provider *p, const struct provider_call *call,
    provider_done_fn done, void *ctx)
{
	p->ops->decide(p, call, done, ctx);
}

static inline void
provider_destroy(struct provider *p)
{
	if (p != NULL)
		p->ops->destroy(p);
}

/* The deterministic offline provider; delay_ms simulates model latency on
 * the loop (0 answers at once). */
struct provider *provider_fixture_create(struct loop *loop,
                     unsigned delay_ms);

/* What an HTTP provider is built from (provider_from_config fills it). */
struct provider_model_opts {
	const char     *base_url;          /* {base_url}/chat/completions,
	                                      {base_url}/messages */
	const char     *model;
	enum model_auth auth;
	const char     *key;               /* copied; wiped on destroy */
	const char     *headers;           /* checked extra header lines */
	const char     *api_version;       /* "" for none */
	const char     *ca_file;           /* NULL or "": the system's CAs */
	const char     *max_tokens_field;  /* openai: max_completion_tokens |
	                                      max_tokens */
	unsigned        timeout_ms;        /* total, retries and waits included */
	unsigned        max_attempts;
};

/* An OpenAI-compatible provider; every call runs on loop. */
struct provider *provider_openai_create(struct loop *loop,
                     const struct provider_model_opts *opts);
/* The native Anthropic Messages API; every call runs on loop. */
struct provider *provider_anthropic_create(struct loop *loop,
                     const struct provider_model_opts *opts);

/* Reads the secret files the configured provider needs (the key unless
 * the fixture or KEYROTA_MODEL_AUTH=none, the headers file when set)
 * into ms. On error returns -1 with err naming the variable, never a
 * secret; ms is then wiped. */
int provider_secrets_load(const struct config *cfg, struct model_secrets *ms,
        char *err, size_t errlen);

/* The provider the configuration names (KEYROTA_PROVIDER and friends);
 * ms is only read by the HTTP providers. */
struct provider *provider_from_config(const struct config *cfg,
                     const struct model_secrets *ms, struct loop *loop);

#endif
