#include <string.h>

#include "csrf.h"
#include "unit.h"

#define TOK "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"   /* 43 characters */

static void
test_csrf_cookie_find(void)
{
	char out[64];

	CU_ASSERT_EQUAL(csrf_cookie_find("a=1; keyrota_csrf=xyz; b=2",
	    "keyrota_csrf", out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "xyz");
	CU_ASSERT_EQUAL(csrf_cookie_find("xkeyrota_csrf=1", "keyrota_csrf",
	    out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(csrf_cookie_find("keyrota_csrf", "keyrota_csrf", out,
	    sizeof(out)), -1);
	CU_ASSERT_EQUAL(csrf_cookie_find("keyrota_csrf=1;keyrota_csrf=2",
	    "keyrota_csrf", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(csrf_cookie_find(NULL, "keyrota_csrf", out,
	    sizeof(out)), -1);
	CU_ASSERT_EQUAL(csrf_cookie_find("keyrota_csrf=" TOK TOK, "keyrota_csrf",
	    out, sizeof(out)), -1);
	/* The unprefixed cookie is not the __Host- one. */
	CU_ASSERT_EQUAL(csrf_cookie_find("keyrota_csrf=" TOK,
	    "__Host-keyrota_csrf", out, sizeof(out)), -1);
}

static void
test_csrf_tokens_match_needs_well_formed_tokens(void)
{
	CU_ASSERT_TRUE(csrf_tokens_match(TOK, TOK));
	CU_ASSERT_FALSE(csrf_tokens_match("", ""));
	CU_ASSERT_FALSE(csrf_tokens_match("x", "x"));
	CU_ASSERT_FALSE(csrf_tokens_match(TOK "A", TOK "A"));
	CU_ASSERT_FALSE(csrf_tokens_match(NULL, TOK));
	CU_ASSERT_FALSE(csrf_tokens_match(TOK, "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	CU_ASSERT_FALSE(csrf_tokens_match("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
	    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"));
}

static void
test_csrf_set_cookie(void)
{
	char out[256];

	CU_ASSERT_EQUAL(csrf_set_cookie(out, sizeof(out), TOK, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "Set-Cookie: __Host-keyrota_csrf=" TOK
	    "; Path=/; HttpOnly; SameSite=Strict; Secure\r\n");
	CU_ASSERT_EQUAL(csrf_set_cookie(out, sizeof(out), TOK, 0), 0);
	CU_ASSERT_PTR_NULL(strstr(out, "Secure"));
	CU_ASSERT_EQUAL(csrf_set_cookie(out, sizeof(out), "a\r\nX: y", 0), -1);
	CU_ASSERT_EQUAL(csrf_set_cookie(out, 20, TOK, 0), -1);
	CU_ASSERT_TRUE(csrf_https("on", NULL));
	CU_ASSERT_TRUE(csrf_https(NULL, "https"));
	CU_ASSERT_FALSE(csrf_https("", "http"));
	CU_ASSERT_FALSE(csrf_https(NULL, NULL));
}

static void
test_csrf_same_origin(void)
{
	static const struct { const char *site, *origin, *host; int https, ok; }
	cases[] = {
		{ "same-origin", "http://evil.example", "a:1", 0, 1 },
		{ "none", NULL, NULL, 0, 1 },
		{ "same-site", NULL, "a", 0, 0 },
		{ "cross-site", "http://a", "a", 0, 0 },
		{ NULL, NULL, "a", 0, 1 },
		{ NULL, "http://a", NULL, 0, 0 },
		{ NULL, "http://Example.ORG:8080", "example.org:8080", 0, 1 },
		{ NULL, "http://example.org", "example.org:80", 0, 1 },
		{ NULL, "https://example.org", "example.org:443", 1, 1 },
		{ NULL, "https://example.org", "example.org", 1, 1 },
		{ NULL, "http://example.org", "example.org", 1, 0 },
		{ NULL, "https://example.org", "example.org", 0, 0 },
		{ NULL, "http://example.org:8081", "example.org:8080", 0, 0 },
		{ NULL, "http://example.org", "example.org:8080", 0, 0 },
		{ NULL, "http://example.org:08080", "example.org:8080", 0, 0 },
		{ NULL, "http://example.org:8080/", "example.org:8080", 0, 0 },
		{ NULL, "http://x@example.org", "example.org", 0, 0 },
		{ NULL, "http://example.org.evil", "example.org", 0, 0 },
		{ NULL, "http://[::1]:8080", "[::1]:8080", 0, 1 },
		{ NULL, "http://[::1]:8080", "[::2]:8080", 0, 0 },
		{ NULL, "http://example.org:99999", "example.org:99999", 0, 0 },
		{ NULL, "null", "example.org", 0, 0 },
		{ NULL, "http://", "", 0, 0 },
		{ NULL, "http://a:", "a", 0, 0 },
	};
	struct csrf_request r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.sec_fetch_site = cases[i].site;
		r.origin = cases[i].origin;
		r.host = cases[i].host;
		r.https = cases[i].https;
		CU_ASSERT_EQUAL(csrf_same_origin(&r), cases[i].ok);
	}
}

void
suite_csrf(void)
{
	CU_pSuite s = CU_add_suite("csrf", NULL, NULL);

	ADD_TEST(s, test_csrf_cookie_find);
	ADD_TEST(s, test_csrf_tokens_match_needs_well_formed_tokens);
	ADD_TEST(s, test_csrf_set_cookie);
	ADD_TEST(s, test_csrf_same_origin);
}
