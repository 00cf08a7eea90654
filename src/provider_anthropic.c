/* provider_anthropic: the native Anthropic Messages API (README,
 * "Providers"): its wire format (anthropic_format.h) over the shared
 * transport (provider_http.h), with the same deadline, attempts and retry
 * policy as the OpenAI-compatible provider.
 *
 * POST {base_url}/messages with the key in x-api-key (KEYROTA_MODEL_AUTH
 * may name another header) and anthropic-version from
 * KEYROTA_MODEL_API_VERSION. Anthropic's OpenAI-compatible layer ignores
 * response_format, so keyrota speaks the native API: only it holds the
 * answer to the schema. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "anthropic_format.h"
#include "provider.h"
#include "provider_error.h"
#include "provider_http.h"

static char *
anthropic_build(const struct provider_wire_opts *opts,
    const struct provider_call *call)
{
	return anthropic_build_request(opts->model, call);
}

static const struct provider_wire anthropic_wire = {
	.name = "anthropic",
	.build = anthropic_build,
	.parse = anthropic_parse_response,
	.classify = provider_error_classify,
};

struct provider *
provider_anthropic_create(struct loop *loop,
    const struct provider_model_opts *opts)
{
	struct provider_http_opts h;
	char url[1024], version[128];

	if (provider_http_url(url, sizeof(url), opts->base_url,
	    "/messages") != 0 ||
	    snprintf(version, sizeof(version), "anthropic-version: %s\n",
	    opts->api_version) >= (int)sizeof(version))
		return NULL;
	provider_http_opts_init(&h, &anthropic_wire, url, opts);
	h.fixed_headers = version;
	return provider_http_create(loop, &h);
}
