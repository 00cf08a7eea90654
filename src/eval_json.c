#include "autoconfig.h"

#include <json-c/json.h>

#include "alloc.h"
#include "eval_json.h"
#include "genai.h"

struct json_object *
eval_json_run(const struct config *cfg, const char *provider,
    const char *model, const char *prompt_version, long passed, long failed)
{
	struct json_object *o = kr_json_object();
	struct genai g;

	genai_describe(&g, provider, model, genai_base_url(cfg, provider),
	    prompt_version);
	genai_json_add(o, &g);
	kr_json_add(o, "prompt_version",
	    kr_json_string(prompt_version));
	kr_json_add(o, "passed", kr_json_int((int)passed));
	kr_json_add(o, "failed", kr_json_int((int)failed));
	return o;
}

struct json_object *
eval_json_case(const char *name, int passed, const char *expected,
    const char *got)
{
	struct json_object *c = kr_json_object();

	kr_json_add(c, "name", kr_json_string(name));
	kr_json_add(c, "passed", kr_json_bool(passed));
	kr_json_add(c, "expected",
	    kr_json_string(expected));
	kr_json_add(c, "got", kr_json_string(got));
	return c;
}
