/* The JSON report parser and validator (api.c: report_from_json). */
#include "autoconfig.h"

#include "fuzz.h"
#include "report.h"
#include "utf8.h"

/* Valid UTF-8 without control characters. */
static int
echo_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, len = strlen(s);
	unsigned long cp;

	while (i < len) {
		if ((n = utf8_next(p + i, len - i, &cp)) == 0 || cp < 0x20 ||
		    (cp >= 0x7f && cp <= 0x9f))
			return 0;
		i += n;
	}
	return 1;
}

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
			if (!echo_safe(errs.e[i].field) ||
			    strlen(errs.e[i].field) >= sizeof(errs.e[i].field))
				abort();
	}
	free(s);
	return 0;
}
