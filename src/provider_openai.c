/* provider_openai: any OpenAI-compatible Chat Completions endpoint
 * (OpenAI, Azure OpenAI, vLLM, llama.cpp server, Ollama's /v1, gateways
 * such as LiteLLM, Portkey and OpenRouter): its wire format
 * (openai_format.h) over the shared transport (provider_http.h).
 *
 * POST {base_url}/chat/completions, with ?api-version= when
 * KEYROTA_MODEL_API_VERSION is set (Azure), and the key in the header
 * KEYROTA_MODEL_AUTH names (README, "Providers"). */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "openai_format.h"
#include "provider.h"
#include "provider_error.h"
#include "provider_http.h"

static char *
openai_build(const struct provider_wire_opts *opts,
    const struct provider_call *call)
{
	struct openai_request_opts o = { opts->model, opts->max_tokens_field };

	return openai_build_request(&o, call);
}

static const struct provider_wire openai_wire = {
	.name = "openai",
	.build = openai_build,
	.parse = openai_parse_response,
	.classify = provider_error_classify,
};

struct provider *
provider_openai_create(struct loop *loop, const struct provider_model_opts *opts)
{
	struct provider_http_opts h;
	char url[1024];

	if (provider_http_url(url, sizeof(url), opts->base_url,
	    "/chat/completions") != 0)
		return NULL;
	if (opts->api_version != NULL && opts->api_version[0] != '\0' &&
	    provider_http_query(url, sizeof(url), "api-version",
	    opts->api_version) != 0)
		return NULL;
	provider_http_opts_init(&h, &openai_wire, url, opts);
	h.max_tokens_field = opts->max_tokens_field;
	return provider_http_create(loop, &h);
}
