#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "alloc.h"
#include "config.h"
#include "genai.h"
#include "anthropic_format.h"
#include "openai_format.h"

static const struct {
	const char *provider;       /* keyrota's name */
	const char *name;           /* gen_ai.provider.name */
} names[] = {
	{ "openai", "openai" },
	{ "anthropic", "anthropic" },
	{ "fixture", "keyrota.fixture" },
};

#define AZURE_OPENAI_SUFFIX ".openai.azure.com"

const char *
genai_provider_name(const char *provider, const char *base_url)
{
	char host[256];
	unsigned port;
	size_t i, n, s = strlen(AZURE_OPENAI_SUFFIX);

	if (strcmp(provider, "openai") == 0 && base_url != NULL &&
	    genai_server(base_url, host, sizeof(host), &port) == 0) {
		n = strlen(host);
		if (n > s && strcasecmp(host + n - s, AZURE_OPENAI_SUFFIX) == 0)
			return "azure.ai.openai";
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(provider, names[i].provider) == 0)
			return names[i].name;
	return provider;
}

int
genai_server(const char *base_url, char *host, size_t hostlen,
    unsigned *port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	unsigned long v;
	char *end;
	int rc = -1;

	host[0] = '\0';
	*port = 0;
	if (u == NULL || base_url == NULL || *base_url == '\0')
		goto out;
	if (curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto out;
	v = strtoul(p, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535 || strlen(h) >= hostlen)
		goto out;
	/* An IPv6 literal is named without its brackets. */
	if (h[0] == '[' && h[strlen(h) - 1] == ']')
		snprintf(host, hostlen, "%.*s", (int)strlen(h) - 2, h + 1);
	else
		snprintf(host, hostlen, "%s", h);
	*port = (unsigned)v;
	rc = 0;
out:
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

void
genai_prompt_split(const char *prompt_version, char *name, size_t namelen,
    char *version, size_t versionlen)
{
	const char *at = strchr(prompt_version, '@');

	if (at == NULL) {
		snprintf(name, namelen, "%s", prompt_version);
		version[0] = '\0';
		return;
	}
	snprintf(name, namelen, "%.*s", (int)(at - prompt_version),
	    prompt_version);
	snprintf(version, versionlen, "%s", at + 1);
}

void
genai_describe(struct genai *g, const char *provider, const char *model,
    const char *base_url, const char *prompt_version)
{
	memset(g, 0, sizeof(*g));
	g->provider_name = genai_provider_name(provider, base_url);
	g->request_model = model;
	/* The fixture calls no server. */
	if (strcmp(provider, "fixture") != 0 && base_url != NULL)
		(void)genai_server(base_url, g->server_address,
		    sizeof(g->server_address), &g->server_port);
	g->temperature = OPENAI_TEMPERATURE;
	if (strcmp(provider, "fixture") == 0)
		g->max_tokens = 0;
	else if (strcmp(provider, "anthropic") == 0)
		g->max_tokens = ANTHROPIC_MAX_OUTPUT_TOKENS;
	else
		g->max_tokens = OPENAI_MAX_OUTPUT_TOKENS;
	genai_prompt_split(prompt_version, g->prompt_name,
	    sizeof(g->prompt_name), g->prompt_version,
	    sizeof(g->prompt_version));
}

const char *
genai_base_url(const struct config *cfg, const char *provider)
{
	if (cfg == NULL || cfg->provider == PROVIDER_FIXTURE ||
	    strcmp(config_provider_name(cfg->provider), provider) != 0)
		return NULL;
	return cfg->model_base_url;
}

void
genai_json_add(struct json_object *o, const struct genai *g)
{
	kr_json_add(o, "gen_ai.operation.name",
	    kr_json_string(GENAI_OPERATION));
	kr_json_add(o, "gen_ai.provider.name",
	    kr_json_string(g->provider_name));
	kr_json_add(o, "gen_ai.request.model",
	    kr_json_string(g->request_model));
	kr_json_add(o, "gen_ai.output.type",
	    kr_json_string(GENAI_OUTPUT_TYPE));
	/* The fixture sends no request: no request parameters. */
	if (g->max_tokens > 0)
		kr_json_add(o, "gen_ai.request.temperature",
		    kr_json_double(g->temperature));
	else
		kr_json_add_null(o, "gen_ai.request.temperature");
	if (g->max_tokens > 0)
		kr_json_add(o, "gen_ai.request.max_tokens",
		    kr_json_int64(g->max_tokens));
	else
		kr_json_add_null(o, "gen_ai.request.max_tokens");
	if (g->server_address[0])
		kr_json_add(o, "server.address",
		    kr_json_string(g->server_address));
	else
		kr_json_add_null(o, "server.address");
	if (g->server_port > 0)
		kr_json_add(o, "server.port", kr_json_int((int)g->server_port));
	else
		kr_json_add_null(o, "server.port");
	kr_json_add(o, "gen_ai.prompt.name",
	    kr_json_string(g->prompt_name));
	if (g->prompt_version[0])
		kr_json_add(o, "gen_ai.prompt.version",
		    kr_json_string(g->prompt_version));
	else
		kr_json_add_null(o, "gen_ai.prompt.version");
}
