#include "autoconfig.h"

#include <json-c/json.h>

#include "eval_json.h"
#include "genai.h"

struct json_object *
eval_json_run(const struct config *cfg, const char *provider,
    const char *model, const char *prompt_version, long passed, long failed)
{
	struct json_object *o = json_object_new_object();
	struct genai g;

	genai_describe(&g, provider, model, genai_base_url(cfg, provider),
	    prompt_version);
	genai_json_add(o, &g);
	json_object_object_add(o, "prompt_version",
	    json_object_new_string(prompt_version));
	json_object_object_add(o, "passed", json_object_new_int((int)passed));
	json_object_object_add(o, "failed", json_object_new_int((int)failed));
	return o;
}

struct json_object *
eval_json_case(const char *name, int passed, const char *expected,
    const char *got)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "name", json_object_new_string(name));
	json_object_object_add(c, "passed", json_object_new_boolean(passed));
	json_object_object_add(c, "expected",
	    json_object_new_string(expected));
	json_object_object_add(c, "got", json_object_new_string(got));
	return c;
}
