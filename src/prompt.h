/* prompt: the versioned instructions given to the model. The version is
 * stamped into every trace, so a change of wording is visible in the
 * data; change the text only together with the version. */
#ifndef KEYROTA_PROMPT_H
#define KEYROTA_PROMPT_H

#define PROMPT_VERSION "rotation_decision@2"

extern const char prompt_system[];

#endif
