/* The JSON report parser and validator (api.c: report_from_json). */
#include "autoconfig.h"

#include "fuzz.h"
#include "report.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_errors errs;
	struct report r;
	char *s = fuzz_str(data, size);
	size_t i;

	if (report_from_json(s, size, &r, &errs) == 0) {
		/* What passes must satisfy the rules it was checked against. */
		if (report_check_text(r.credential_report,
		    strlen(r.credential_report), 10, 500) != NULL ||
		    !report_account_id_valid(r.account_id))
			abort();
		report_free(&r);
	} else {
		if (errs.n == 0 || errs.n > REPORT_MAX_ERRORS)
			abort();
		/* Field names are echoed: valid, bounded UTF-8 only. */
		for (i = 0; i < errs.n; i++)
			if (report_check_text(errs.e[i].field,
			    strlen(errs.e[i].field), 0, 64) != NULL &&
			    errs.e[i].field[0] != '\0')
				abort();
	}
	free(s);
	return 0;
}
