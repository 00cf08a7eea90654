/* anthropic_format: the Anthropic Messages request keyrota sends and the
 * response it accepts, independent of transport (provider_anthropic.c).
 *
 * The request carries the versioned prompt as the top-level "system", the
 * policy lines and the report as the one user message (prompt.h), and the
 * answer's JSON schema as the structured output format
 * (output_config.format), so the model can only answer in that shape. The
 * key is never part of the body. */
#ifndef KEYROTA_ANTHROPIC_FORMAT_H
#define KEYROTA_ANTHROPIC_FORMAT_H

#include <stddef.h>

#include "provider.h"

#define ANTHROPIC_MAX_OUTPUT_TOKENS 200

/* Returns a malloc'd JSON body, or NULL when the report does not fit the
 * request's bound. */
char *anthropic_build_request(const char *model,
          const struct provider_call *call);

/* Reads a 200 response body into res: the answer text, model, id, stop
 * reason and token usage (metadata as provider_json.h keeps it). A body
 * that is not exactly one JSON object of type "message", a stop reason
 * other than "end_turn" (a refusal, or "max_tokens": a cut answer),
 * content that is not exactly one text block, or text holding a NUL sets
 * res->error to KR_INVALID_DECISION. */
void  anthropic_parse_response(const char *body, size_t len,
          struct provider_result *res);

#endif
