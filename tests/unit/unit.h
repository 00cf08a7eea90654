/* Unit test suites: each file registers its own CUnit suite. */
#ifndef KEYROTA_UNIT_H
#define KEYROTA_UNIT_H

#include <CUnit/CUnit.h>

#define ADD_TEST(suite, fn) CU_add_test((suite), #fn, (fn))

/* An environment for config_load and otlp_settings_load: ctx is a
 * NULL-terminated array of name, value pairs. */
const char *unit_env(const char *name, void *ctx);

void suite_alloc(void);
void suite_buf(void);
void suite_config(void);
void suite_export(void);
void suite_executor(void);
void suite_facts(void);
void suite_csrf(void);
void suite_admin_filter(void);
void suite_answer(void);
void suite_fingerprint(void);
void suite_form(void);
void suite_listener(void);
void suite_otlp(void);
void suite_provider_openai(void);
void suite_provider_wire(void);
void suite_report(void);
void suite_respond(void);
void suite_router(void);
void suite_template(void);
void suite_timer_heap(void);

#endif
