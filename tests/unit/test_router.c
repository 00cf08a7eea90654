#include <string.h>

#include "router.h"
#include "unit.h"

static enum handler_result
h(struct app *a, struct http_request *r)
{
	(void)a;
	(void)r;
	return HANDLER_ANSWERED;
}

static const struct route table[] = {
	{ "GET",  "/healthz", BODY_NONE, h },
	{ "POST", "/rotation/decide", BODY_JSON | BODY_FORM, h },
	{ "GET",  "/rotation/traces/{trace_id}", BODY_NONE, h },
	{ "GET",  "/admin/traces/{trace_id}", BODY_NONE, h },
	{ "GET",  "/admin/traces", BODY_NONE, h },
};
#define N (sizeof(table) / sizeof(table[0]))

static void
test_router_exact_and_param(void)
{
	struct route_match m;

	CU_ASSERT_EQUAL(router_match(table, N, "GET", "/healthz", &m),
	    ROUTE_FOUND);
	CU_ASSERT_PTR_EQUAL(m.route, &table[0]);
	CU_ASSERT_STRING_EQUAL(m.param, "");
	CU_ASSERT_EQUAL(router_match(table, N, "GET",
	    "/rotation/traces/tr_abc", &m), ROUTE_FOUND);
	CU_ASSERT_PTR_EQUAL(m.route, &table[2]);
	CU_ASSERT_STRING_EQUAL(m.param, "tr_abc");
	CU_ASSERT_EQUAL(router_match(table, N, "GET", "/admin/traces", &m),
	    ROUTE_FOUND);
	CU_ASSERT_PTR_EQUAL(m.route, &table[4]);
	CU_ASSERT_EQUAL(router_match(table, N, "HEAD", "/healthz", &m),
	    ROUTE_FOUND);
}

static void
test_router_not_found(void)
{
	static const char *const paths[] = { "/", "/healthz/", "/healthzz",
	    "/rotation/traces/", "/rotation/traces/a/b", "/rotation",
	    "/admin/traces//", "" };
	struct route_match m;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		CU_ASSERT_EQUAL(router_match(table, N, "GET", paths[i], &m),
		    ROUTE_NOT_FOUND);
}

static void
test_router_method_not_allowed(void)
{
	struct route_match m;

	CU_ASSERT_EQUAL(router_match(table, N, "GET", "/rotation/decide", &m),
	    ROUTE_BAD_METHOD);
	CU_ASSERT_STRING_EQUAL(m.allow, "POST");
	CU_ASSERT_EQUAL(router_match(table, N, "DELETE", "/healthz", &m),
	    ROUTE_BAD_METHOD);
	CU_ASSERT_STRING_EQUAL(m.allow, "GET");
}

static void
test_router_param_too_long(void)
{
	char path[400];
	struct route_match m;

	memcpy(path, "/rotation/traces/", 17);
	memset(path + 17, 'x', 300);
	path[317] = '\0';
	CU_ASSERT_EQUAL(router_match(table, N, "GET", path, &m),
	    ROUTE_NOT_FOUND);
}

void
suite_router(void)
{
	CU_pSuite s = CU_add_suite("router", NULL, NULL);

	ADD_TEST(s, test_router_exact_and_param);
	ADD_TEST(s, test_router_not_found);
	ADD_TEST(s, test_router_method_not_allowed);
	ADD_TEST(s, test_router_param_too_long);
}
