#include <string.h>

#include "buf.h"
#include "export.h"
#include "unit.h"

static const char *
cell(struct buf *b, const char *v)
{
	buf_reset(b);
	CU_ASSERT_EQUAL(export_csv_cell(b, v), BUF_OK);
	return buf_str(b);
}

static void
test_export_csv_cells_cannot_become_formulas(void)
{
	struct buf b;

	buf_init(&b, 1024);
	CU_ASSERT_STRING_EQUAL(cell(&b, "=HYPERLINK(\"http://x\")"),
	    "\"'=HYPERLINK(\"\"http://x\"\")\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "+1"), "\"'+1\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "-2+3"), "\"'-2+3\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "@SUM(A1)"), "\"'@SUM(A1)\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "\tx"), "\"'\tx\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "\rx"), "\"'\rx\"");
	/* Only the first character makes a formula. */
	CU_ASSERT_STRING_EQUAL(cell(&b, "a=b"), "a=b");
	buf_free(&b);
}

static void
test_export_csv_quoting(void)
{
	struct buf b;

	buf_init(&b, 1024);
	CU_ASSERT_STRING_EQUAL(cell(&b, ""), "");
	CU_ASSERT_STRING_EQUAL(cell(&b, "tr_abc"), "tr_abc");
	CU_ASSERT_STRING_EQUAL(cell(&b, "a,b"), "\"a,b\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "say \"hi\""), "\"say \"\"hi\"\"\"");
	CU_ASSERT_STRING_EQUAL(cell(&b, "two\nlines"), "\"two\nlines\"");
	buf_free(&b);
}

static void
test_export_rows(void)
{
	const char *v[EXPORT_COL__MAX];
	struct buf b;
	int i;

	for (i = 0; i < EXPORT_COL__MAX; i++)
		v[i] = "";
	v[EXPORT_TRACE_ID] = "tr_x";
	v[EXPORT_LATENCY_MS] = "12";
	v[EXPORT_RESPONSE_ID] = "=1+1";
	buf_init(&b, 4096);
	CU_ASSERT_EQUAL(export_csv_header(&b), BUF_OK);
	CU_ASSERT(strncmp(buf_str(&b), "trace_id,created_at,", 20) == 0);
	buf_reset(&b);
	CU_ASSERT_EQUAL(export_csv_row(&b, v), BUF_OK);
	CU_ASSERT(strstr(buf_str(&b), ",12,\"'=1+1\",") != NULL);
	CU_ASSERT(strcmp(buf_str(&b) + b.len - 2, "\r\n") == 0);
	buf_reset(&b);
	CU_ASSERT_EQUAL(export_json_row(&b, v, NULL), BUF_OK);
	CU_ASSERT(strstr(buf_str(&b), "\"trace_id\":\"tr_x\"") != NULL);
	CU_ASSERT(strstr(buf_str(&b), "\"latency_ms\":12") != NULL);
	CU_ASSERT(strstr(buf_str(&b), "\"gen_ai.response.id\":\"=1+1\"") != NULL);
	CU_ASSERT(strstr(buf_str(&b), "\"decision\":null") != NULL);
	/* GenAI names: the provider as its gen_ai.provider.name, the prompt
	 * version split in two. */
	buf_reset(&b);
	v[EXPORT_PROVIDER] = "fixture";
	v[EXPORT_PROMPT_VERSION] = "rotation_decision@2";
	CU_ASSERT_EQUAL(export_json_row(&b, v, NULL), BUF_OK);
	CU_ASSERT(strstr(buf_str(&b),
	    "\"gen_ai.provider.name\":\"keyrota.fixture\"") != NULL);
	CU_ASSERT(strstr(buf_str(&b), "gen_ai.system") == NULL);
	CU_ASSERT(strstr(buf_str(&b), "\"gen_ai.operation.name\":\"chat\","
	    "\"gen_ai.prompt.name\":\"rotation_decision\","
	    "\"gen_ai.prompt.version\":\"2\"") != NULL);
	/* A bound that is too small fails; it never writes past it. */
	buf_free(&b);
	buf_init(&b, 16);
	CU_ASSERT_EQUAL(export_json_row(&b, v, NULL), BUF_TOOBIG);
	buf_free(&b);
}

void
suite_export(void)
{
	CU_pSuite s = CU_add_suite("export", NULL, NULL);

	ADD_TEST(s, test_export_csv_cells_cannot_become_formulas);
	ADD_TEST(s, test_export_csv_quoting);
	ADD_TEST(s, test_export_rows);
}
