/* genai: keyrota in the OpenTelemetry GenAI semantic conventions, the
 * version docs/telemetry.md names. The one place that maps a provider
 * (its stored name and the configured base URL) and the prompt version to
 * the attribute names and values that the JSON views and the OTLP
 * exporter (otlp.h) share. */
#ifndef KEYROTA_GENAI_H
#define KEYROTA_GENAI_H

#include <stddef.h>

struct config;
struct json_object;

#define GENAI_SEMCONV_VERSION "1.37.0"
#define GENAI_OPERATION       "chat"     /* gen_ai.operation.name */
#define GENAI_OUTPUT_TYPE     "json"     /* gen_ai.output.type */

/* What one model call of keyrota looks like in the conventions. */
struct genai {
	const char *provider_name;           /* gen_ai.provider.name */
	const char *request_model;           /* gen_ai.request.model */
	char        server_address[256];     /* "": none (the fixture) */
	unsigned    server_port;             /* 0: none */
	double      temperature;             /* gen_ai.request.temperature */
	long        max_tokens;              /* gen_ai.request.max_tokens */
	char        prompt_name[64];         /* gen_ai.prompt.name */
	char        prompt_version[16];      /* gen_ai.prompt.version */
};

/* The gen_ai.provider.name of a provider keyrota names provider
 * ("openai", "anthropic", "fixture"): "azure.ai.openai" for an openai
 * provider whose base URL host ends in .openai.azure.com, "keyrota.fixture"
 * for the fixture; an unknown name is returned as it is. base_url may be
 * NULL (not known). */
const char *genai_provider_name(const char *provider, const char *base_url);

/* server.address and server.port of a base URL (the scheme's port when
 * none is given). Returns 0, or -1 (host set to "") when it is not a URL
 * with a host. */
int  genai_server(const char *base_url, char *host, size_t hostlen,
         unsigned *port);

/* Splits a prompt version "name@version" (prompt.h). Without an '@' the
 * whole is the name and the version is "". */
void genai_prompt_split(const char *prompt_version, char *name,
         size_t namelen, char *version, size_t versionlen);

/* Fills g for a call of provider with model. base_url is the configured
 * one, or NULL when it is not known (a stored trace of another provider);
 * prompt_version is the trace's. */
void genai_describe(struct genai *g, const char *provider, const char *model,
         const char *base_url, const char *prompt_version);

/* The base URL of provider as cfg configures it, or NULL when cfg's
 * provider is another (a trace stored under an earlier configuration). */
const char *genai_base_url(const struct config *cfg, const char *provider);

/* Adds g's attributes to a JSON object under their convention names. */
void genai_json_add(struct json_object *o, const struct genai *g);

#endif
