/* prompt: the versioned instructions given to the model. The version is
 * stamped into every trace, so a change of wording is visible in the
 * data; change the text only together with the version. */
#ifndef KEYROTA_PROMPT_H
#define KEYROTA_PROMPT_H

#define PROMPT_VERSION "rotation_decision@2"

#include "provider.h"

struct buf;

extern const char prompt_system[];

/* The user message every provider sends: the policy lines, then the
 * report as JSON-encoded data between <report> delimiters, with < and >
 * escaped so the report cannot close them. Returns 0, or -1 when b is
 * full. */
int prompt_user(struct buf *b, const struct provider_call *call);

#endif
