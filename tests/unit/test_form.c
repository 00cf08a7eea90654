#include <string.h>

#include "form.h"
#include "unit.h"

static enum form_status
parse(struct form *f, const char *s)
{
	return form_parse(f, s, strlen(s));
}

static void
test_form_basic_and_plus(void)
{
	struct form f;

	CU_ASSERT_EQUAL_FATAL(parse(&f, "a=1&b=hello+world&c=%41%62%2B"),
	    FORM_OK);
	CU_ASSERT_EQUAL(f.n, 3);
	CU_ASSERT_STRING_EQUAL(form_get(&f, "a"), "1");
	CU_ASSERT_STRING_EQUAL(form_get(&f, "b"), "hello world");
	CU_ASSERT_STRING_EQUAL(form_get(&f, "c"), "Ab+");
	CU_ASSERT_PTR_NULL(form_get(&f, "d"));
	form_free(&f);
}

static void
test_form_multibyte_and_newlines(void)
{
	struct form f;

	CU_ASSERT_EQUAL_FATAL(parse(&f, "r=%C3%A9t%C3%A9%0D%0Ax"), FORM_OK);
	CU_ASSERT_STRING_EQUAL(form_get(&f, "r"), "\xc3\xa9t\xc3\xa9\r\nx");
	CU_ASSERT_EQUAL(f.fields[0].value_len, 8);
	form_free(&f);
}

static void
test_form_repeated_and_empty(void)
{
	struct form f;

	CU_ASSERT_EQUAL_FATAL(parse(&f, "a=1&&a=2&b=&c&"), FORM_OK);
	CU_ASSERT_EQUAL(form_count(&f, "a"), 2);
	CU_ASSERT_STRING_EQUAL(form_get(&f, "a"), "1");
	CU_ASSERT_STRING_EQUAL(form_get(&f, "b"), "");
	CU_ASSERT_STRING_EQUAL(form_get(&f, "c"), "");
	CU_ASSERT_EQUAL(f.n, 4);
	form_free(&f);

	CU_ASSERT_EQUAL(parse(&f, ""), FORM_OK);
	CU_ASSERT_EQUAL(f.n, 0);
	form_free(&f);
}

/* Malformed input is refused whole: nothing half-decoded is returned. */
static void
test_form_malformed_escapes(void)
{
	static const char *const bad[] = { "a=%", "a=%4", "a=%zz", "a=%4g",
	    "a=1&b=%", "%=1", "a=%%41" };
	struct form f;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(&f, bad[i]), FORM_BAD_ESCAPE);
		CU_ASSERT_EQUAL(f.n, 0);
		CU_ASSERT_PTR_NULL(f.fields);
	}
	CU_ASSERT_EQUAL(parse(&f, "a=x%00y"), FORM_NUL);
	CU_ASSERT_EQUAL(parse(&f, "=v"), FORM_EMPTY_NAME);
	CU_ASSERT_EQUAL(form_parse(&f, "a=b\0c", 5), FORM_NUL);
}

static void
test_form_limits(void)
{
	static char big[FORM_MAX_INPUT + 2];
	char many[FORM_MAX_FIELDS * 4 + 8];
	struct form f;
	size_t i, o = 0;

	memset(big, 'a', sizeof(big) - 1);
	CU_ASSERT_EQUAL(form_parse(&f, big, sizeof(big) - 1), FORM_TOO_LONG);
	for (i = 0; i <= FORM_MAX_FIELDS; i++) {
		memcpy(many + o, "a=1&", 4);
		o += 4;
	}
	many[o] = '\0';
	CU_ASSERT_EQUAL(parse(&f, many), FORM_TOO_MANY);
	CU_ASSERT_EQUAL(f.n, 0);
}

void
suite_form(void)
{
	CU_pSuite s = CU_add_suite("form", NULL, NULL);

	ADD_TEST(s, test_form_basic_and_plus);
	ADD_TEST(s, test_form_multibyte_and_newlines);
	ADD_TEST(s, test_form_repeated_and_empty);
	ADD_TEST(s, test_form_malformed_escapes);
	ADD_TEST(s, test_form_limits);
}
