/* openai_format: the Chat Completions request keyrota sends and the
 * response it accepts, independent of transport (provider_openai.c).
 *
 * The request carries the versioned prompt, the policy lines and the
 * report as JSON-encoded data between <report> delimiters (with < and >
 * escaped, so the report cannot close them), and a strict JSON schema for
 * the answer. The key is never part of the body. */
#ifndef KEYROTA_OPENAI_FORMAT_H
#define KEYROTA_OPENAI_FORMAT_H

#include <stddef.h>

#include "provider.h"

#define OPENAI_MAX_OUTPUT_TOKENS 200
#define OPENAI_TEMPERATURE       0

struct openai_request_opts {
	const char *model;
	const char *max_tokens_field;   /* max_completion_tokens | max_tokens */
};

/* Returns a malloc'd JSON body, or NULL when the report does not fit the
 * request's bound. */
char *openai_build_request(const struct openai_request_opts *opts,
          const struct provider_call *call);

/* Reads a 200 response body into res: the answer text, model, id, finish
 * reason and token usage. The model, id and finish reason are kept only
 * when they are valid UTF-8 without control characters, cut at a
 * character boundary to fit. A refusal, a finish reason other than "stop",
 * missing or non-string content, content holding a NUL, or a body that is
 * not exactly one JSON object (whitespace may follow it, nothing else)
 * sets res->error to KR_INVALID_DECISION. */
void  openai_parse_response(const char *body, size_t len,
          struct provider_result *res);

#endif
