#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "provider.h"

struct provider *
provider_from_config(const struct config *cfg, const char *model_key,
    struct loop *loop)
{
	struct provider_openai_opts opts;

	if (cfg->provider == PROVIDER_FIXTURE)
		return provider_fixture_create(loop, cfg->fixture_delay_ms);
	opts.base_url = cfg->model_base_url;
	opts.model = cfg->model;
	opts.key = model_key;
	opts.ca_file = cfg->model_ca_file;
	opts.max_tokens_field = cfg->model_max_tokens_field;
	opts.timeout_ms = cfg->model_timeout_ms;
	opts.max_attempts = cfg->model_max_attempts;
	return provider_openai_create(loop, &opts);
}

void
provider_result_init(struct provider_result *r)
{
	memset(r, 0, sizeof(*r));
	r->input_tokens = -1;
	r->output_tokens = -1;
}

void
provider_result_free(struct provider_result *r)
{
	free(r->text);
	r->text = NULL;
	r->text_len = 0;
}
