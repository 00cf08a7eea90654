/* The admin list's query parser: times, quick ranges, page cursors and the
 * closed-set filters, each refused with a message naming its field. */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "report.h"
#include "trace_id.h"
#include "unit.h"

/* Parses query; returns the number of field errors and, when there is
 * exactly one, checks it names field. */
static size_t
parse(const char *query, struct admin_filter *f, const char *field)
{
	struct report_errors errs;

	memset(&errs, 0, sizeof(errs));
	memset(f, 0, sizeof(*f));
	(void)admin_filter_parse(query, f, &errs);
	if (errs.n == 1 && field != NULL)
		CU_ASSERT_STRING_EQUAL(errs.e[0].field, field);
	return errs.n;
}

static void
test_admin_filter_times(void)
{
	static const struct {
		const char *in;
		const char *want;        /* NULL: refused */
	} cases[] = {
		{ "2026-11-26", "2026-11-26 00:00:00+00" },
		{ "2026-11-26T09:30", "2026-11-26 09:30:00+00" },
		{ "2026-11-26+09:30", "2026-11-26 09:30:00+00" },  /* '+' is a space */
		{ "2026-11-26T09:30:59", "2026-11-26 09:30:59+00" },
		{ "2026-11-26T23:59:60", NULL },
		{ "2026-13-01", NULL },
		{ "2026-00-10", NULL },
		{ "2026-11-32", NULL },
		{ "1969-12-31", NULL },
		{ "2026-11-26T24:00", NULL },
		{ "2026-11-26T09:60", NULL },
		{ "2026-11-26T09:30Z", NULL },
		{ "2026-11-26x", NULL },
		{ "26-11-2026", NULL },
		{ "2026-1-26", NULL },
		{ "now()", NULL },
		{ "2026-11-26';--", NULL },
	};
	struct admin_filter f;
	char q[96];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(q, sizeof(q), "from=%s", cases[i].in);
		if (cases[i].want != NULL) {
			CU_ASSERT_EQUAL(parse(q, &f, "from"), 0);
			CU_ASSERT_STRING_EQUAL(f.where.from, cases[i].want);
		} else {
			CU_ASSERT_EQUAL(parse(q, &f, "from"), 1);
			CU_ASSERT_STRING_EQUAL(f.where.from, "");
		}
		snprintf(q, sizeof(q), "to=%s", cases[i].in);
		CU_ASSERT_EQUAL(parse(q, &f, "to"), cases[i].want ? 0 : 1);
	}
	/* Empty values are no filter, not an error. */
	CU_ASSERT_EQUAL(parse("from=&to=", &f, NULL), 0);
	CU_ASSERT_STRING_EQUAL(f.where.from, "");
}

static void
test_admin_filter_ranges(void)
{
	struct admin_filter f;

	/* A quick range fixes "from" and clears any "to". */
	CU_ASSERT_EQUAL(parse("range=1h&to=2026-11-26", &f, NULL), 0);
	CU_ASSERT_EQUAL(strlen(f.where.from), strlen("2026-11-26 09:30:00+00"));
	CU_ASSERT_STRING_EQUAL(f.where.to, "");
	CU_ASSERT_STRING_EQUAL(f.to, "");
	CU_ASSERT_EQUAL(parse("range=15m", &f, NULL), 0);
	CU_ASSERT_EQUAL(parse("range=7d", &f, NULL), 0);
	CU_ASSERT_EQUAL(parse("range=2h", &f, "range"), 1);
	CU_ASSERT_EQUAL(parse("range=1H", &f, "range"), 1);
}

static void
test_admin_filter_cursors(void)
{
	char id[TRACE_ID_SIZE], q[160];
	struct admin_filter f;

	CU_ASSERT_EQUAL_FATAL(trace_id_new(id), 0);
	snprintf(q, sizeof(q), "after=2026-11-26T21:00:00.123456Z|%s", id);
	CU_ASSERT_EQUAL(parse(q, &f, NULL), 0);
	CU_ASSERT_STRING_EQUAL(f.after.ts, "2026-11-26T21:00:00.123456Z");
	CU_ASSERT_STRING_EQUAL(f.after.id, id);
	CU_ASSERT_STRING_EQUAL(f.before.ts, "");

	snprintf(q, sizeof(q), "before=2026-11-26T21:00:00.123456Z|%s", id);
	CU_ASSERT_EQUAL(parse(q, &f, NULL), 0);
	CU_ASSERT_STRING_EQUAL(f.before.id, id);

	/* Both directions at once is a damaged link. */
	snprintf(q, sizeof(q), "after=2026-11-26T21:00:00.123456Z|%s&"
	    "before=2026-11-26T21:00:00.123456Z|%s", id, id);
	CU_ASSERT_EQUAL(parse(q, &f, "before"), 1);

	/* Milliseconds only, no Z, a bad id, no id, no separator. */
	snprintf(q, sizeof(q), "after=2026-11-26T21:00:00.123Z|%s", id);
	CU_ASSERT_EQUAL(parse(q, &f, "after"), 1);
	snprintf(q, sizeof(q), "after=2026-11-26T21:00:00.1234567|%s", id);
	CU_ASSERT_EQUAL(parse(q, &f, "after"), 1);
	CU_ASSERT_EQUAL(parse("after=2026-11-26T21:00:00.123456Z|tr_short",
	    &f, "after"), 1);
	CU_ASSERT_EQUAL(parse("after=2026-11-26T21:00:00.123456Z|", &f,
	    "after"), 1);
	CU_ASSERT_EQUAL(parse("after=2026-11-26T21:00:00.123456Z", &f,
	    "after"), 1);
	snprintf(q, sizeof(q), "after=x026-11-26T21:00:00.123456Z|%s", id);
	CU_ASSERT_EQUAL(parse(q, &f, "after"), 1);
	CU_ASSERT_STRING_EQUAL(f.after.ts, "");
}

static void
test_admin_filter_closed_sets(void)
{
	struct admin_filter f;

	CU_ASSERT_EQUAL(parse("status=failed&error_code=provider_timeout", &f,
	    NULL), 0);
	CU_ASSERT_TRUE(f.where.has_status);
	CU_ASSERT_EQUAL(f.where.status, TRACE_FAILED);
	CU_ASSERT_EQUAL(f.where.error, KR_PROVIDER_TIMEOUT);
	CU_ASSERT_EQUAL(parse("status=done", &f, "status"), 1);
	CU_ASSERT_FALSE(f.where.has_status);
	/* An error that is answered without a trace is not a filter. */
	CU_ASSERT_EQUAL(parse("error_code=overloaded", &f, "error_code"), 1);
	CU_ASSERT_EQUAL(parse("error_code=nope", &f, "error_code"), 1);
	CU_ASSERT_EQUAL(parse("account_id=acct_10234", &f, NULL), 0);
	CU_ASSERT_STRING_EQUAL(f.where.account_id, "acct_10234");
	CU_ASSERT_EQUAL(parse("account_id=acct_1023", &f, "account_id"), 1);
	CU_ASSERT_EQUAL(parse("format=csv", &f, NULL), 0);
	CU_ASSERT_EQUAL(f.format, EXPORT_CSV);
	CU_ASSERT_EQUAL(parse("format=xml", &f, "format"), 1);
	CU_ASSERT_EQUAL(parse("pos=150", &f, NULL), 0);
	CU_ASSERT_EQUAL(f.pos, 150);
	CU_ASSERT_EQUAL(parse("pos=1234567890", &f, "pos"), 1);
	CU_ASSERT_EQUAL(parse("pos=-1", &f, "pos"), 1);
	/* Every bad field is named, not just the first. */
	CU_ASSERT_EQUAL(parse("status=x&format=x&pos=x&range=x", &f, NULL), 4);
}

void
suite_admin_filter(void)
{
	CU_pSuite s = CU_add_suite("admin_filter", NULL, NULL);

	ADD_TEST(s, test_admin_filter_times);
	ADD_TEST(s, test_admin_filter_ranges);
	ADD_TEST(s, test_admin_filter_cursors);
	ADD_TEST(s, test_admin_filter_closed_sets);
}
