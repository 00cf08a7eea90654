/* The admin list's query string (admin.c: admin_filter_parse). */
#include "autoconfig.h"

#include "admin.h"
#include "fuzz.h"
#include "report.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_filter f;
	struct report_errors errs;
	char *s = fuzz_str(data, size);

	if (admin_filter_parse(s, &f, &errs) == 0) {
		/* Whatever passes goes to PostgreSQL as parameters: bounded,
		 * NUL-terminated, and only in its declared form. */
		if (memchr(f.where.from, '\0', sizeof(f.where.from)) == NULL ||
		    memchr(f.after.ts, '\0', sizeof(f.after.ts)) == NULL ||
		    (f.where.account_id[0] &&
		    !report_account_id_valid(f.where.account_id)) ||
		    f.where.origin >= ORIGIN__MAX ||
		    (f.where.error != KR_OK &&
		    !kr_error_is_trace_error(f.where.error)))
			abort();
	} else if (errs.n == 0)
		abort();
	free(s);
	return 0;
}
