/* provider_error: what an error response from a model server stands for,
 * for every wire format keyrota speaks (docs/providers.md, "Error
 * mapping"). Error bodies share one shape: an "error" object with a
 * "code" (a string on OpenAI, an integer on vLLM, llama.cpp and
 * OpenRouter), a "type" (OpenAI, Anthropic), a "message" and, on
 * Anthropic, "details.error_code". OpenRouter may instead put that object
 * in the first choice (finish_reason "error"); LiteLLM and some proxies
 * send "error" as a bare string. */
#ifndef KEYROTA_PROVIDER_ERROR_H
#define KEYROTA_PROVIDER_ERROR_H

#include <stddef.h>

/* The HTTP status a response stands for. A 200 without an error object
 * is 200 (an answer to parse); a 200 with one stands for the status its
 * code or type names (502 when it names none keyrota knows). Any other
 * status stands for itself. *no_retry is set when waiting cannot cure the
 * error: a 402, or a quota, credit or spend limit that is used up. */
long provider_error_classify(long status, const char *body, size_t len,
         int *no_retry);

#endif
