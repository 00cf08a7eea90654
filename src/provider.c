#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "provider.h"

int
provider_secrets_load(const struct config *cfg, struct model_secrets *ms,
    char *err, size_t errlen)
{
	size_t keylen = 0, i;
	int rc = -1;

	memset(ms, 0, sizeof(*ms));
	if (config_needs_model_key(cfg) && secret_read(
	    "KEYROTA_MODEL_KEY_FILE", cfg->model_key_file, ms->key, &keylen,
	    err, errlen) != 0)
		goto out;
	/* The key travels in a header line: a control character (a second
	 * line pasted in, say) would break or forge the request. */
	for (i = 0; i < keylen; i++)
		if ((unsigned char)ms->key[i] < 0x20 ||
		    (unsigned char)ms->key[i] == 0x7f) {
			snprintf(err, errlen, "KEYROTA_MODEL_KEY_FILE: %s holds a "
			    "control character; a key is one line of printable "
			    "text", cfg->model_key_file);
			goto out;
		}
	if (cfg->provider != PROVIDER_FIXTURE &&
	    cfg->model_headers_file[0] != '\0' && secret_read_headers(
	    "KEYROTA_MODEL_HEADERS_FILE", cfg->model_headers_file, ms->headers,
	    sizeof(ms->headers), err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		secret_wipe(ms, sizeof(*ms));
	return rc;
}

struct provider *
provider_from_config(const struct config *cfg, const struct model_secrets *ms,
    struct loop *loop)
{
	struct provider_model_opts opts;

	if (cfg->provider == PROVIDER_FIXTURE)
		return provider_fixture_create(loop, cfg->fixture_delay_ms);
	opts.base_url = cfg->model_base_url;
	opts.model = cfg->model;
	opts.auth = cfg->model_auth;
	opts.key = ms->key;
	opts.headers = ms->headers;
	opts.api_version = cfg->model_api_version;
	opts.ca_file = cfg->model_ca_file;
	opts.max_tokens_field = cfg->model_max_tokens_field;
	opts.timeout_ms = cfg->model_timeout_ms;
	opts.max_attempts = cfg->model_max_attempts;
	if (cfg->provider == PROVIDER_ANTHROPIC)
		return provider_anthropic_create(loop, &opts);
	return provider_openai_create(loop, &opts);
}

void
provider_result_init(struct provider_result *r)
{
	memset(r, 0, sizeof(*r));
	r->input_tokens = -1;
	r->output_tokens = -1;
}

static long long
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
provider_attempt_begin(struct provider_result *r)
{
	struct provider_attempt *a;

	if (r->nlog >= PROVIDER_ATTEMPTS_MAX)
		return;
	a = &r->log[r->nlog++];
	memset(a, 0, sizeof(*a));
	a->start_ns = wall_ns();
	a->end_ns = a->start_ns;
	a->error = KR_INTERNAL_ERROR;      /* until the call ends */
}

void
provider_attempt_end(struct provider_result *r, long http_status,
    enum kr_error error)
{
	struct provider_attempt *a;

	if (r->nlog == 0)
		return;
	a = &r->log[r->nlog - 1];
	a->end_ns = wall_ns();
	a->http_status = http_status;
	a->error = error;
}

void
provider_result_free(struct provider_result *r)
{
	free(r->text);
	r->text = NULL;
	r->text_len = 0;
}
