#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "unit.h"

#ifndef TEMPLATE_DIR
#define TEMPLATE_DIR "templates"
#endif

/* Renders src with ctx; returns the output (static) or NULL with err. */
static const char *
render(const char *src, const struct template_ctx *ctx, char *err,
    size_t errlen)
{
	static char out[8192];
	struct template *t = template_compile("t.html", src, err, errlen);
	struct buf b;
	int rc;

	if (t == NULL)
		return NULL;
	buf_init(&b, sizeof(out) - 1);
	rc = template_render(t, NULL, ctx, &b, err, errlen);
	snprintf(out, sizeof(out), "%s", buf_str(&b));
	buf_free(&b);
	template_free(t);
	return rc == 0 ? out : NULL;
}

static void
test_escapes_text_and_attributes(void)
{
	struct template_ctx *c = template_ctx_new();
	char err[256];
	const char *out;

	template_set(c, "v", "<script>alert('x')</script> & \"q\"");
	out = render("<p title=\"{{v}}\">{{v}}</p>", c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(out, "<p title=\"&lt;script&gt;alert(&#39;x&#39;)"
	    "&lt;/script&gt; &amp; &quot;q&quot;\">&lt;script&gt;alert(&#39;x"
	    "&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>");
	template_set(c, "v", "\"><img src=x onerror=alert(1)>");
	out = render("<input value=\"{{v}}\">", c, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(out, "<input value=\"&quot;&gt;&lt;img src=x "
	    "onerror=alert(1)&gt;\">");
	template_ctx_free(c);
}

static void
test_sections_loops_and_inverted(void)
{
	struct template_ctx *c = template_ctx_new(), *item;
	char err[256];
	const char *out;

	template_set(c, "name", "outer");
	template_set_bool(c, "yes", 1);
	template_set_bool(c, "no", 0);
	template_set(c, "empty", "");
	item = template_list_add(c, "items");
	template_set(item, "name", "a");
	item = template_list_add(c, "items");
	template_set(item, "name", "<b>");
	template_list(c, "none");
	out = render("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}!N{{/no}}"
	    "{{^empty}}E{{/empty}}{{^missing}}M{{/missing}}"
	    "[{{#items}}{{name}};{{/items}}]{{#none}}X{{/none}}{{^none}}0{{/none}}"
	    "{{name}}", c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(out, "Y!NEM[a;&lt;b&gt;;]0outer");
	template_ctx_free(c);
}

static void
test_nested_objects_shadow_and_see_outer(void)
{
	struct template_ctx *c = template_ctx_new(), *o, *inner;
	char err[256];
	const char *out;

	template_set(c, "who", "outer");
	template_set(c, "site", "keyrota");
	o = template_object(c, "card");
	template_set(o, "who", "inner");
	inner = template_list_add(o, "rows");
	template_set(inner, "n", "1");
	out = render("{{#card}}{{who}}@{{site}}:{{#rows}}{{n}}{{who}}{{/rows}}"
	    "{{/card}}/{{who}}", c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(out, "inner@keyrota:1inner/outer");
	template_ctx_free(c);
}

static void
test_missing_value_is_an_error_with_line(void)
{
	struct template_ctx *c = template_ctx_new();
	char err[256] = "";

	CU_ASSERT_PTR_NULL(render("line one\nline two {{nope}}", c, err,
	    sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.html:2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope"));
	template_ctx_free(c);
}

static void
test_malformed_templates_name_file_and_line(void)
{
	static const struct { const char *src; const char *where; } bad[] = {
		{ "a\nb {{unclosed", "t.html:2" },
		{ "{{#open}}\n\nnever closed", "t.html:1" },
		{ "x\n{{/stray}}", "t.html:2" },
		{ "{{#a}}{{/b}}", "t.html:1" },
		{ "\n\n{{{raw}}}", "t.html:3" },
		{ "{{&raw}}", "t.html:1" },
		{ "{{Bad Name}}", "t.html:1" },
		{ "{{}}", "t.html:1" },
		{ "{{@other}}", "t.html:1" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_PTR_NULL(template_compile("t.html", bad[i].src, err,
		    sizeof(err)));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].where));
	}
}

static void
test_layout_places_the_page(void)
{
	char err[256];
	struct template *page = template_compile("p", "<b>{{x}}</b>", err,
	    sizeof(err));
	struct template *layout = template_compile("l",
	    "<main>{{@content}}</main><footer>{{x}}</footer>", err, sizeof(err));
	struct template_ctx *c = template_ctx_new();
	struct buf b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(page);
	CU_ASSERT_PTR_NOT_NULL_FATAL(layout);
	template_set(c, "x", "<i>");
	buf_init(&b, 4096);
	CU_ASSERT_EQUAL(template_render(page, layout, c, &b, err, sizeof(err)),
	    0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "<main><b>&lt;i&gt;</b></main>"
	    "<footer>&lt;i&gt;</footer>");
	buf_free(&b);
	/* {{@content}} outside a layout has nothing to place. */
	buf_init(&b, 4096);
	CU_ASSERT_EQUAL(template_render(layout, NULL, c, &b, err, sizeof(err)),
	    -1);
	buf_free(&b);
	template_ctx_free(c);
	template_free(page);
	template_free(layout);
}

static void
test_output_is_bounded(void)
{
	struct template_ctx *c = template_ctx_new();
	struct template *t;
	struct buf b;
	char err[256], big[2000];
	int i;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 20; i++)
		template_set(template_list_add(c, "rows"), "v", big);
	t = template_compile("t", "{{#rows}}{{v}}{{/rows}}", err, sizeof(err));
	buf_init(&b, 10000);
	CU_ASSERT_EQUAL(template_render(t, NULL, c, &b, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too large"));
	buf_free(&b);
	template_free(t);
	template_ctx_free(c);
}

/* The real page templates, rendered from a context, say what the README's
 * "The pages" promises a person sees in each state. */
static char *
view_text(const char *file, struct template_ctx *c)
{
	char path[512], err[256];
	struct template *page, *layout;
	struct buf b;
	char *out = NULL;

	snprintf(path, sizeof(path), "%s/%s", TEMPLATE_DIR, file);
	page = template_load(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/layout.html", TEMPLATE_DIR);
	layout = template_load(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(page);
	CU_ASSERT_PTR_NOT_NULL(layout);
	template_set(c, "title", "t");
	template_set(c, "provider_name", "fixture");
	template_set(c, "model_name", "keyrota-fixture-1");
	template_set_bool(c, "is_fixture", 1);
	buf_init(&b, 256 * 1024);
	if (page != NULL && layout != NULL &&
	    template_render(page, layout, c, &b, err, sizeof(err)) == 0)
		out = buf_detach(&b);
	else
		fprintf(stderr, "%s\n", err);
	buf_free(&b);
	template_free(page);
	template_free(layout);
	return out;
}

/* A context holding the NULL-terminated name, value pairs kv. */
static struct template_ctx *
ctx_of(const char *const *kv)
{
	struct template_ctx *c = template_ctx_new();

	for (; kv[0] != NULL; kv += 2)
		template_set(c, kv[0], kv[1]);
	return c;
}

static void
test_view_states(void)
{
	struct template_ctx *c;
	struct template_ctx *line;
	char *html;

	c = template_ctx_new();
	template_set(c, "trace_id", "tr_ABCDEFGHIJKLMNOPQRSTUV");
	template_set(c, "created_iso", "2026-01-01T00:00:00.000Z");
	template_set(c, "created_text", "2026-01-01 00:00:00 UTC");
	template_set(c, "refresh", "4");
	html = view_text("trace_running.html", c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "Checking policy P-7..."));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "http-equiv=\"refresh\" "
	    "content=\"4\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"check-again\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<time datetime=\""
	    "2026-01-01T00:00:00.000Z\">2026-01-01 00:00:00 UTC</time>"));
	/* No stale form controls while the decision runs. */
	CU_ASSERT_PTR_NULL(strstr(html, "disabled"));
	CU_ASSERT_PTR_NULL(strstr(html, "<button"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "not a language model"));
	free(html);
	template_ctx_free(c);

	c = ctx_of((const char *const[]){
	    "trace_id", "tr_ABCDEFGHIJKLMNOPQRSTUV",
	    "finished_iso", "2026-01-01T00:00:01.000Z",
	    "finished_text", "2026-01-01 00:00:01 UTC", "decision", "eligible",
	    "headline", "Eligible under P-7", "meaning", "m", NULL });
	line = template_list_add(c, "lines");
	template_set(line, "line_id", "P-7");
	template_set(line, "summary",
	    "Stale service-account keys may be rotated within 30 days.");
	template_set(line, "window_days", "30");
	html = view_text("trace_completed.html", c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "Eligible under P-7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "No rotation job has been created"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "Eligibility is not approval"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "within 30 days"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "tr_ABCDEFGHIJKLMNOPQRSTUV"));
	CU_ASSERT_PTR_NULL(strstr(html, "http-equiv=\"refresh\""));
	free(html);
	template_ctx_free(c);

	c = ctx_of((const char *const[]){
	    "trace_id", "tr_ABCDEFGHIJKLMNOPQRSTUV",
	    "error_code", "provider_timeout",
	    "explanation", "The model did not answer in time.", NULL });
	html = view_text("trace_failed.html", c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "Decision unavailable; retry safely."));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "provider_timeout"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "tr_ABCDEFGHIJKLMNOPQRSTUV"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "href=\"/\""));
	free(html);
	template_ctx_free(c);

	c = ctx_of((const char *const[]){ "csrf_token", "c",
	    "request_token", "r", "account_id", "\"><script>x</script>",
	    "credential_report", "</textarea><script>y</script>", "item", "",
	    "account_id_error", "The account ID must look like acct_12345",
	    NULL });
	template_set_bool(c, "has_errors", 1);
	html = view_text("form.html", c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(html);
	CU_ASSERT_PTR_NULL(strstr(html, "<script>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "aria-live=\"polite\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "maxlength=\"500\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "aria-invalid=\"true\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "must look like acct_12345"));
	/* The summary links to the field. */
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "id=\"error-summary\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(html, "<a href=\"#account_id\">The "
	    "account ID must look like acct_12345</a>"));
	free(html);
	template_ctx_free(c);
}

void
suite_template(void)
{
	CU_pSuite s = CU_add_suite("template", NULL, NULL);

	ADD_TEST(s, test_escapes_text_and_attributes);
	ADD_TEST(s, test_sections_loops_and_inverted);
	ADD_TEST(s, test_nested_objects_shadow_and_see_outer);
	ADD_TEST(s, test_missing_value_is_an_error_with_line);
	ADD_TEST(s, test_malformed_templates_name_file_and_line);
	ADD_TEST(s, test_layout_places_the_page);
	ADD_TEST(s, test_output_is_bounded);
	ADD_TEST(s, test_view_states);
}
