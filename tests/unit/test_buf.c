#include <string.h>

#include "buf.h"
#include "html.h"
#include "unit.h"

static void
test_buf_bound_is_hard(void)
{
	struct buf b;

	buf_init(&b, 8);
	CU_ASSERT_EQUAL(buf_puts(&b, "12345678"), BUF_OK);
	CU_ASSERT_EQUAL(buf_putc(&b, '9'), BUF_TOOBIG);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "12345678");
	CU_ASSERT_EQUAL(b.len, 8);
	CU_ASSERT_EQUAL(buf_printf(&b, "%d", 1), BUF_TOOBIG);
	buf_free(&b);
}

static void
test_buf_grows_and_printf(void)
{
	struct buf b;
	int i;

	buf_init(&b, 100000);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(buf_printf(&b, "%03d,", i % 1000), BUF_OK);
	CU_ASSERT_EQUAL(b.len, 4000);
	CU_ASSERT_EQUAL(strncmp(buf_str(&b), "000,001,", 8), 0);
	buf_free(&b);
}

static void
test_buf_json_escape(void)
{
	struct buf b;

	buf_init(&b, 256);
	buf_json_escape(&b, "a\"b\\c\nd\x01\x7f");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "a\\\"b\\\\c\\nd\\u0001\\u007f");
	buf_free(&b);
}

static void
test_html_escape_all_five(void)
{
	struct buf b;

	buf_init(&b, 256);
	html_escape(&b, "<a href=\"x\" title='y'>&</a>");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "&lt;a href=&quot;x&quot; "
	    "title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
	buf_free(&b);
}

/* A page is UTF-8: bytes that are not (a form value of %ff echoed in a
 * 422) become U+FFFD instead of reaching the browser. */
static void
test_html_escape_invalid_utf8(void)
{
	struct buf b;

	buf_init(&b, 256);
	html_escape(&b, "a\xff" "b\xc3(<\xed\xa0\x80\xe2\x82\xac\xf0\x9f\x94\x91\xc3");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "a\xef\xbf\xbd" "b\xef\xbf\xbd(&lt;"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac\xf0\x9f\x94\x91"
	    "\xef\xbf\xbd");
	buf_free(&b);
}

void
suite_buf(void)
{
	CU_pSuite s = CU_add_suite("buf", NULL, NULL);

	ADD_TEST(s, test_buf_bound_is_hard);
	ADD_TEST(s, test_buf_grows_and_printf);
	ADD_TEST(s, test_buf_json_escape);
	ADD_TEST(s, test_html_escape_all_five);
	ADD_TEST(s, test_html_escape_invalid_utf8);
}
