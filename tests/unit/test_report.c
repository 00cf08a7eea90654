#include <stdio.h>
#include <string.h>

#include "form.h"
#include "report.h"
#include "unit.h"

static int
parse(const char *json, struct report *r, struct report_errors *errs)
{
	return report_from_json(json, strlen(json), r, errs);
}

static const char *
message_for(const struct report_errors *errs, const char *field)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		if (strcmp(errs->e[i].field, field) == 0)
			return errs->e[i].message;
	return NULL;
}

/* A JSON report whose credential_report is `count` copies of `unit`. */
static int
parse_repeated(const char *unit, size_t count, struct report *r,
    struct report_errors *errs)
{
	char body[4096];
	size_t i, o;

	o = (size_t)snprintf(body, sizeof(body),
	    "{\"account_id\":\"acct_10234\",\"credential_report\":\"");
	for (i = 0; i < count; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s", unit);
	snprintf(body + o, sizeof(body) - o, "\"}");
	return parse(body, r, errs);
}

static void
test_report_valid(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL_FATAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"The CI key is stale.\","
	    "\"item\":\"ci-deploy\"}", &r, &errs), 0);
	CU_ASSERT_STRING_EQUAL(r.account_id, "acct_10234");
	CU_ASSERT_STRING_EQUAL(r.credential_report, "The CI key is stale.");
	CU_ASSERT_STRING_EQUAL(r.item, "ci-deploy");
	report_free(&r);
	CU_ASSERT_EQUAL_FATAL(parse("{\"credential_report\":\"line one\\n\\tline"
	    " two\",\"account_id\":\"acct_00000\"}", &r, &errs), 0);
	CU_ASSERT_PTR_NULL(r.item);
	report_free(&r);
}

static void
test_report_length_boundaries_in_code_points(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL(parse_repeated("a", 9, &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "credential_report"));
	CU_ASSERT_EQUAL(parse_repeated("a", 10, &r, &errs), 0);
	report_free(&r);
	CU_ASSERT_EQUAL(parse_repeated("a", 500, &r, &errs), 0);
	report_free(&r);
	CU_ASSERT_EQUAL(parse_repeated("a", 501, &r, &errs), -1);
	/* Multibyte characters count once: 2-, 3- and 4-byte sequences. */
	CU_ASSERT_EQUAL(parse_repeated("\xc3\xa9", 9, &r, &errs), -1);
	CU_ASSERT_EQUAL(parse_repeated("\xc3\xa9", 10, &r, &errs), 0);
	report_free(&r);
	CU_ASSERT_EQUAL(parse_repeated("\xe2\x82\xac", 500, &r, &errs), 0);
	report_free(&r);
	CU_ASSERT_EQUAL(parse_repeated("\xe2\x82\xac", 501, &r, &errs), -1);
	CU_ASSERT_EQUAL(parse_repeated("\xf0\x9f\x94\x91", 500, &r, &errs), 0);
	report_free(&r);
	CU_ASSERT_EQUAL(parse_repeated("\xf0\x9f\x94\x91", 501, &r, &errs), -1);
}

static void
test_report_item_boundaries(void)
{
	struct report r;
	struct report_errors errs;
	char body[512], item[100];
	size_t n;
	static const size_t lens[] = { 2, 3, 80, 81 };
	static const int ok[] = { -1, 0, 0, -1 };

	for (n = 0; n < 4; n++) {
		memset(item, 'k', lens[n]);
		item[lens[n]] = '\0';
		snprintf(body, sizeof(body), "{\"account_id\":\"acct_10234\","
		    "\"credential_report\":\"a stale key here\",\"item\":\"%s\"}",
		    item);
		CU_ASSERT_EQUAL(parse(body, &r, &errs), ok[n]);
		if (ok[n] == 0)
			report_free(&r);
		else
			CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "item"));
	}
}

static void
test_report_text_rule(void)
{
	/* invalid UTF-8: bad continuation, overlong, surrogate, truncated,
	 * beyond U+10FFFF */
	static const char *const bad_utf8[] = { "abcdefghij\xc3\x28",
	    "abcdefghij\xc0\xaf", "abcdefghij\xed\xa0\x80",
	    "abcdefghij\xe2\x82", "abcdefghij\xf4\x90\x80\x80", "\xff" };
	static const char *const controls[] = { "abcdefghij\x01",
	    "abcdefghij\r\n", "abcdefghij\x7f", "abcdefghij\xc2\x85",
	    "abcdefghij\x1b[31m" };
	size_t i;

	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(report_check_text(bad_utf8[i],
		    strlen(bad_utf8[i]), 1, 500) ?: "", "UTF-8"));
	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(report_check_text(controls[i],
		    strlen(controls[i]), 1, 500) ?: "", "control"));
	CU_ASSERT_PTR_NULL(report_check_text("tab\tand\nnewline", 15, 10, 500));
	/* An embedded NUL is a control character, not an end of string. */
	CU_ASSERT_PTR_NOT_NULL(report_check_text("abcdefghij\0k", 12, 1, 500));
}

static void
test_report_json_nul_escape_is_control(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"stale key \\u0000 here\"}", &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(message_for(&errs, "credential_report") ?:
	    "", "control"));
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_1023\\u0000\","
	    "\"credential_report\":\"stale key here\"}", &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "account_id"));
}

/* What the client sent is checked, not what json-c made of it: json-c
 * turns a lone surrogate escape into U+FFFD and cuts a key at \u0000. */
static void
test_report_escaped_surrogates_checked_raw(void)
{
	static const char *const bad[] = { "stale key \\ud800 here",
	    "stale key \\udc00 here", "stale key \\ud800\\u0041 here",
	    "stale key here \\ud83d", "\\udd11\\ud83d stale key here",
	    "stale key \\uD800\\uD800 here" };
	struct report r;
	struct report_errors errs;
	char body[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"account_id\":\"acct_10234\","
		    "\"credential_report\":\"%s\"}", bad[i]);
		CU_ASSERT_EQUAL(parse(body, &r, &errs), -1);
		CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "credential_report"));
		CU_ASSERT_EQUAL(errs.n, 1);
	}
	/* In item too, and in a nested value (named by its top-level key). */
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\",\"item\":\"k\\udfffk\"}",
	    &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "item"));
	/* A proper pair is one character. */
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"stale key \\ud83d\\udd11 here\"}", &r,
	    &errs), 0);
	CU_ASSERT_STRING_EQUAL(r.credential_report,
	    "stale key \xf0\x9f\x94\x91 here");
	report_free(&r);
}

static void
test_report_escaped_nul_in_key(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\\u0000x\":\"a stale key here\"}", &r, &errs),
	    -1);
	CU_ASSERT_PTR_NULL(r.credential_report);
	CU_ASSERT_TRUE(errs.n >= 1);
	CU_ASSERT_EQUAL(parse("{\"account_id\\u0000\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\"}", &r, &errs), -1);
	CU_ASSERT_EQUAL(parse("{\"\\u0000\":\"x\",\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\"}", &r, &errs), -1);
}

static void
test_report_invisible_format_characters(void)
{
	/* U+200B, U+200F, U+202A, U+202E, U+2060, U+2064, U+2066, U+2069,
	 * U+FEFF: raw and escaped */
	static const char *const bad[] = { "stale\xe2\x80\x8bkey here",
	    "stale key \xe2\x80\x8f here", "stale \xe2\x80\xaa key here",
	    "stale key \xe2\x80\xae here", "stale key here\xe2\x81\xa0",
	    "stale key here\xe2\x81\xa4", "\xe2\x81\xa6stale key here",
	    "stale key here\xe2\x81\xa9", "\xef\xbb\xbfstale key here",
	    "stale\\u200bkey here", "stale key \\u202e here",
	    "\\ufeffstale key here", "stale key \\u2066here" };
	struct report r;
	struct report_errors errs;
	char body[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"account_id\":\"acct_10234\","
		    "\"credential_report\":\"%s\"}", bad[i]);
		CU_ASSERT_EQUAL(parse(body, &r, &errs), -1);
		CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "credential_report"));
	}
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\","
	    "\"item\":\"ci\\u200ddeploy\"}", &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "item"));
	/* Neighbours of the ranges are ordinary text. */
	CU_ASSERT_PTR_NULL(report_check_text("stale key \xe2\x80\x90 here", 16,
	    10, 500));
	CU_ASSERT_PTR_NULL(report_check_text("stale key \xe2\x81\xa5 here", 16,
	    10, 500));
}

static void
test_report_only_whitespace(void)
{
	static const char *const blank[] = { "          ",
	    "\\n\\n\\t          ", "     \\u00a0     ",
	    "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
	    "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80" };
	struct report r;
	struct report_errors errs;
	char body[256];
	size_t i;

	for (i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		snprintf(body, sizeof(body), "{\"account_id\":\"acct_10234\","
		    "\"credential_report\":\"%s\"}", blank[i]);
		CU_ASSERT_EQUAL(parse(body, &r, &errs), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(message_for(&errs,
		    "credential_report") ?: "", "whitespace"));
	}
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"         x\"}", &r, &errs), 0);
	report_free(&r);
}

/* A field name is echoed in the 422: only as valid, bounded UTF-8. */
static int
valid_utf8(const char *s)
{
	return report_check_text(s, strlen(s), 0, 1000) == NULL;
}

static void
test_report_unknown_keys_echoed_safely(void)
{
	struct report r;
	struct report_errors errs;
	struct form f;
	char body[512];
	size_t i, o;

	/* 30 two-byte characters: 60 bytes, cut at the bound. */
	o = (size_t)snprintf(body, sizeof(body), "{\"");
	for (i = 0; i < 30; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "\xc3\xa9");
	snprintf(body + o, sizeof(body) - o, "\":1,\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\"}");
	CU_ASSERT_EQUAL(parse(body, &r, &errs), -1);
	CU_ASSERT_EQUAL_FATAL(errs.n, 1);
	CU_ASSERT_TRUE(valid_utf8(errs.e[0].field));
	CU_ASSERT_TRUE(strncmp(errs.e[0].field, "\xc3\xa9\xc3\xa9", 4) == 0);
	/* Control characters and a lone surrogate in a key. */
	CU_ASSERT_EQUAL(parse("{\"a\\u001b[31mb\":1,\"\\udc00\":2,"
	    "\"account_id\":\"acct_10234\",\"credential_report\":\"a stale key "
	    "here\"}", &r, &errs), -1);
	CU_ASSERT_EQUAL(errs.n, 2);
	for (i = 0; i < errs.n; i++) {
		CU_ASSERT_TRUE(valid_utf8(errs.e[i].field));
		CU_ASSERT_PTR_NULL(strchr(errs.e[i].field, '\x1b'));
	}
	/* A form name is any bytes after decoding. */
	CU_ASSERT_EQUAL_FATAL(form_parse(&f, "%ff%fe%c3=1&account_id=acct_10234"
	    "&credential_report=a+stale+key+here", 68), FORM_OK);
	CU_ASSERT_EQUAL(report_from_form(&f, NULL, &r, &errs), -1);
	CU_ASSERT_EQUAL_FATAL(errs.n, 1);
	CU_ASSERT_TRUE(valid_utf8(errs.e[0].field));
	CU_ASSERT_TRUE(errs.e[0].field[0] != '\0');
	form_free(&f);
}

static void
test_report_account_id_format(void)
{
	static const char *const bad[] = { "acct_1234", "acct_123456",
	    "ACCT_12345", "acct_1234a", "acct-12345", "", " acct_12345" };
	size_t i;

	CU_ASSERT_TRUE(report_account_id_valid("acct_10234"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_FALSE(report_account_id_valid(bad[i]));
}

static void
test_report_wrong_types_each_named(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL(parse("{\"account_id\":10234,\"credential_report\":null,"
	    "\"item\":[\"x\"]}", &r, &errs), -1);
	CU_ASSERT_EQUAL(errs.n, 3);
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "account_id") ?: "",
	    "must be a string");
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "credential_report") ?: "",
	    "must be a string");
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "item") ?: "",
	    "must be a string");
	CU_ASSERT_PTR_NULL(r.credential_report);
}

static void
test_report_unknown_missing_and_repeated(void)
{
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\",\"decision\":\"eligible\"}",
	    &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "decision"));
	CU_ASSERT_EQUAL(parse("{}", &r, &errs), -1);
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "account_id") ?: "",
	    "is required");
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "credential_report") ?: "",
	    "is required");
	/* json-c would keep the last value: repeats are refused instead,
	 * also when one is spelled with an escape. */
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\","
	    "\"account_id\":\"acct_10235\"}", &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "account_id"));
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\","
	    "\"account\\u005fid\":\"acct_10235\"}", &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "account_id"));
	/* Nested objects with the same keys are not repeats of top-level
	 * keys (they are unknown values, refused for their type). */
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"a stale key here\","
	    "\"item\":{\"account_id\":1}}", &r, &errs), -1);
	CU_ASSERT_STRING_EQUAL(message_for(&errs, "item") ?: "",
	    "must be a string");
	CU_ASSERT_PTR_NULL(message_for(&errs, "account_id"));
}

static void
test_report_not_an_object(void)
{
	static const char *const bodies[] = { "", "[]", "\"text\"", "{",
	    "{} {}", "{\"account_id\":\"acct_10234\",}", "null", "nan" };
	struct report r;
	struct report_errors errs;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CU_ASSERT_EQUAL(parse(bodies[i], &r, &errs), -1);
		CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "body"));
	}
	/* Invalid UTF-8 anywhere in a JSON body refuses the body. */
	CU_ASSERT_EQUAL(parse("{\"account_id\":\"acct_10234\","
	    "\"credential_report\":\"stale key \xc3\x28 here\"}", &r, &errs), -1);
	CU_ASSERT_EQUAL(errs.n, 1);
}

static void
test_report_from_form(void)
{
	static const char *const extra[] = { "csrf_token", NULL };
	const char *in = "account_id=acct_10234&credential_report=a+stale+key"
	    "+here&item=&csrf_token=abc";
	struct form f;
	struct report r;
	struct report_errors errs;

	CU_ASSERT_EQUAL_FATAL(form_parse(&f, in, strlen(in)), FORM_OK);
	CU_ASSERT_EQUAL(report_from_form(&f, extra, &r, &errs), 0);
	CU_ASSERT_STRING_EQUAL(r.credential_report, "a stale key here");
	CU_ASSERT_PTR_NULL(r.item);
	report_free(&r);
	form_free(&f);

	in = "account_id=acct_10234&account_id=acct_10235&credential_report="
	    "short&other=1";
	CU_ASSERT_EQUAL_FATAL(form_parse(&f, in, strlen(in)), FORM_OK);
	CU_ASSERT_EQUAL(report_from_form(&f, extra, &r, &errs), -1);
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "account_id"));
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "credential_report"));
	CU_ASSERT_PTR_NOT_NULL(message_for(&errs, "other"));
	form_free(&f);
}

void
suite_report(void)
{
	CU_pSuite s = CU_add_suite("report", NULL, NULL);

	ADD_TEST(s, test_report_valid);
	ADD_TEST(s, test_report_length_boundaries_in_code_points);
	ADD_TEST(s, test_report_item_boundaries);
	ADD_TEST(s, test_report_text_rule);
	ADD_TEST(s, test_report_json_nul_escape_is_control);
	ADD_TEST(s, test_report_account_id_format);
	ADD_TEST(s, test_report_wrong_types_each_named);
	ADD_TEST(s, test_report_unknown_missing_and_repeated);
	ADD_TEST(s, test_report_not_an_object);
	ADD_TEST(s, test_report_from_form);
	ADD_TEST(s, test_report_escaped_surrogates_checked_raw);
	ADD_TEST(s, test_report_escaped_nul_in_key);
	ADD_TEST(s, test_report_invisible_format_characters);
	ADD_TEST(s, test_report_only_whitespace);
	ADD_TEST(s, test_report_unknown_keys_echoed_safely);
}
