/* Runs every unit suite; the last line is "unit: N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

const char *
unit_env(const char *name, void *ctx)
{
	const char *const *kv = ctx;

	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned run, failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite_admin_filter();
	suite_alloc();
	suite_buf();
	suite_config();
	suite_export();
	suite_executor();
	suite_facts();
	suite_csrf();
	suite_answer();
	suite_fingerprint();
	suite_form();
	suite_listener();
	suite_otlp();
	suite_provider_openai();
	suite_provider_wire();
	suite_report();
	suite_respond();
	suite_router();
	suite_template();
	suite_timer_heap();
	CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-v") == 0 ?
	    CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	printf("\nunit: %u passed, %u failed\n", run - failed, failed);
	CU_cleanup_registry();
	return failed == 0 && CU_get_error() == CUE_SUCCESS ? 0 : 1;
}
