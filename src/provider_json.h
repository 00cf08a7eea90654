/* provider_json: reading a model server's response body, the same way
 * for every wire format: exactly one JSON object (whitespace may follow,
 * nothing else, no key named twice), and metadata copied only when it is
 * safe to store and show. */
#ifndef KEYROTA_PROVIDER_JSON_H
#define KEYROTA_PROVIDER_JSON_H

#include <stddef.h>

struct json_object;
struct provider_result;

/* The most a request's user prompt may hold; its whole body may hold
 * twice that (JSON escapes). */
#define PROVIDER_PROMPT_MAX (64 * 1024)

/* A chat message: {"role": role, "content": text}. */
struct json_object *provider_json_message(const char *role, const char *text);
/* The request body req stands for (malloc'd), or NULL when it passes
 * 2 * PROVIDER_PROMPT_MAX bytes or memory runs out. Puts req. */
char *provider_json_body(struct json_object *req);

/* The body as one strict JSON object (the caller puts it), or NULL. */
struct json_object *provider_json_object(const char *body, size_t len);

/* Copies a provider metadata string (model, id, finish or stop reason)
 * for the trace. It is untrusted: only valid UTF-8 without NUL or other
 * control characters is kept, anything else is dropped (left ""), and a
 * long value is cut at a character boundary to fit dst, so PostgreSQL can
 * always store what is kept. */
void provider_json_metadata(struct json_object *obj, const char *key,
         char *dst, size_t len);

/* A token count: a non-negative integer below 10^8, else -1. */
long provider_json_count(struct json_object *obj, const char *key);

/* Takes str, a JSON string, as the answer: res->text gets all of it and
 * res->error KR_OK. A NUL must not hide what follows it, so a string
 * holding one leaves res as it was (no answer); out of memory sets
 * KR_INTERNAL_ERROR. */
void provider_json_answer(struct provider_result *res,
         struct json_object *str);

#endif
