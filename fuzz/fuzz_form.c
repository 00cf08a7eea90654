/* The urlencoded form and query decoder, and the report rules a form
 * goes through (pages.c: form_parse, then report_from_form). */
#include "autoconfig.h"

#include "alloc.h"
#include "form.h"
#include "fuzz.h"
#include "report.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extra[] = { "csrf_token", "request_token",
	    NULL };
	struct report_errors errs;
	struct report r;
	struct form f;
	char *s = fuzz_str(data, size), *out;
	size_t n, i;

	if (form_parse(&f, s, size) == FORM_OK) {
		for (i = 0; i < f.n; i++)
			if (strlen(f.fields[i].value) != f.fields[i].value_len)
				abort();          /* "NUL cannot occur inside" */
		(void)form_get(&f, "account_id");
		(void)form_count(&f, "csrf_token");
		if (report_from_form(&f, extra, &r, &errs) == 0)
			report_free(&r);
		form_free(&f);
	}
	out = kr_malloc(size + 1);
	if (form_decode(s, size, out, &n) == FORM_OK && n > size)
		abort();
	free(out);
	free(s);
	return 0;
}
