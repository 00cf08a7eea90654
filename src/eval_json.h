/* eval_json: the JSON of an eval run and of its cases, the fields that
 * `keyrota eval --json` (cmd_eval.c) and GET /admin/evals (admin_evals.c)
 * share; each adds its own (docs/http-api.md). */
#ifndef KEYROTA_EVAL_JSON_H
#define KEYROTA_EVAL_JSON_H

struct config;
struct json_object;

/* A run: the model by its GenAI names (genai.h), prompt_version, passed
 * and failed. The caller puts it. */
struct json_object *eval_json_run(const struct config *cfg,
                       const char *provider, const char *model,
                       const char *prompt_version, long passed,
                       long failed);
/* A case: name, passed, expected, got. The caller puts it. */
struct json_object *eval_json_case(const char *name, int passed,
                       const char *expected, const char *got);

#endif
