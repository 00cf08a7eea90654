/* One source per fact: the closed sets the C tables define are the ones
 * the schema's CHECK constraints, the JSON schema sent to the model and
 * the documentation name. The lists are read from the files themselves,
 * so a code added to a table and forgotten elsewhere fails here. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "answer.h"
#include "errors.h"
#include "openai_format.h"
#include "store_traces.h"
#include "unit.h"

#define SET_MAX  64
#define NAME_MAX_ 48

struct set {
	size_t n;
	char   name[SET_MAX][NAME_MAX_];
};

static void
set_add(struct set *s, const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len >= NAME_MAX_ || s->n == SET_MAX)
		return;
	for (i = 0; i < s->n; i++)
		if (strlen(s->name[i]) == len &&
		    strncmp(s->name[i], name, len) == 0)
			return;
	memcpy(s->name[s->n], name, len);
	s->name[s->n++][len] = '\0';
}

static int
set_has(const struct set *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return 1;
	return 0;
}

/* Equal sets; each difference is printed, so a failure says what. */
static int
set_equal(const struct set *a, const char *aname, const struct set *b,
    const char *bname)
{
	size_t i;
	int same = a->n == b->n && a->n > 0;

	for (i = 0; i < a->n; i++)
		if (!set_has(b, a->name[i])) {
			printf("\n  %s has %s, %s does not", aname,
			    a->name[i], bname);
			same = 0;
		}
	for (i = 0; i < b->n; i++)
		if (!set_has(a, b->name[i])) {
			printf("\n  %s has %s, %s does not", bname,
			    b->name[i], aname);
			same = 0;
		}
	return same;
}

static void
trace_errors(struct set *s)
{
	int e;

	memset(s, 0, sizeof(*s));
	for (e = 1; e < KR_ERROR__MAX; e++)
		if (kr_error_is_trace_error((enum kr_error)e))
			set_add(s, kr_error_code((enum kr_error)e),
			    strlen(kr_error_code((enum kr_error)e)));
}

static void
decisions(struct set *s)
{
	int d;

	memset(s, 0, sizeof(*s));
	for (d = 0; d < DECISION__MAX; d++)
		set_add(s, answer_decision_name((enum decision)d),
		    strlen(answer_decision_name((enum decision)d)));
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every migration in sql/, in the order they are applied. */
static int
read_migrations(struct buf *out)
{
	char *names[64], path[512];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int rc = 0;

	if ((d = opendir(SOURCE_DIR "/sql")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && n < 64) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	for (i = 0; i < n; i++) {
		struct buf one;

		buf_init(&one, 1024 * 1024);
		snprintf(path, sizeof(path), "%s/sql/%s", SOURCE_DIR, names[i]);
		if (names[i] == NULL || buf_read_file(&one, path) != BUF_OK ||
		    buf_puts(out, buf_str(&one)) != BUF_OK)
			rc = -1;
		buf_free(&one);
		free(names[i]);
	}
	return n > 0 ? rc : -1;
}

/* The quoted names of the last "<column> IN (...)" in the migrations:
 * a later migration that redefines the constraint wins. */
static void
sql_in_list(const char *sql, const char *column, struct set *s)
{
	char needle[64];
	const char *p, *last = NULL, *q, *end;

	memset(s, 0, sizeof(*s));
	snprintf(needle, sizeof(needle), "(%s IN (", column);
	for (p = sql; (p = strstr(p, needle)) != NULL; p++)
		last = p + strlen(needle);
	if (last == NULL || (end = strchr(last, ')')) == NULL)
		return;
	for (p = last; p < end && (p = memchr(p, '\'', (size_t)(end - p))) !=
	    NULL; p = q + 1) {
		if ((q = memchr(p + 1, '\'', (size_t)(end - p - 1))) == NULL)
			break;
		set_add(s, p + 1, (size_t)(q - p - 1));
	}
}

/* The `code` names of the paragraph that starts with lead, to its full
 * stop. */
static void
doc_list(const char *text, const char *lead, struct set *s)
{
	const char *p = strstr(text, lead), *end, *q;

	memset(s, 0, sizeof(*s));
	if (p == NULL || (end = strstr(p, ".\n")) == NULL)
		return;
	for (p += strlen(lead); p < end && (p = memchr(p, '`',
	    (size_t)(end - p))) != NULL; p = q + 1) {
		if ((q = memchr(p + 1, '`', (size_t)(end - p - 1))) == NULL)
			break;
		set_add(s, p + 1, (size_t)(q - p - 1));
	}
}

static void
test_sql_checks_name_the_tables(void)
{
	struct set sql, c;
	struct buf text;
	int t;

	buf_init(&text, 4 * 1024 * 1024);
	CU_ASSERT_EQUAL_FATAL(read_migrations(&text), 0);
	trace_errors(&c);
	sql_in_list(buf_str(&text), "error_code", &sql);
	CU_ASSERT_TRUE(set_equal(&c, "errors.c", &sql,
	    "the traces.error_code CHECK"));
	decisions(&c);
	sql_in_list(buf_str(&text), "decision", &sql);
	CU_ASSERT_TRUE(set_equal(&c, "answer.c", &sql,
	    "the traces.decision CHECK"));
	sql_in_list(buf_str(&text), "model_decision", &sql);
	CU_ASSERT_TRUE(set_equal(&c, "answer.c", &sql,
	    "the traces.model_decision CHECK"));
	memset(&c, 0, sizeof(c));
	for (t = 0; t < TRACE_STATUS__MAX; t++)
		set_add(&c, store_traces_status_name((enum trace_status)t),
		    strlen(store_traces_status_name((enum trace_status)t)));
	sql_in_list(buf_str(&text), "status", &sql);
	CU_ASSERT_TRUE(set_equal(&c, "store_traces.c", &sql,
	    "the traces.status CHECK"));
	buf_free(&text);
}

static void
test_schema_sent_to_the_model_names_the_decisions(void)
{
	struct json_object *schema = answer_schema(ANSWER_SCHEMA_BOUNDED), *v;
	struct set c, sent;
	size_t i;

	decisions(&c);
	memset(&sent, 0, sizeof(sent));
	CU_ASSERT_TRUE_FATAL(json_object_object_get_ex(schema, "properties",
	    &v) && json_object_object_get_ex(v, "decision", &v) &&
	    json_object_object_get_ex(v, "enum", &v));
	for (i = 0; i < json_object_array_length(v); i++) {
		const char *s = json_object_get_string(
		    json_object_array_get_idx(v, i));

		set_add(&sent, s, strlen(s));
	}
	CU_ASSERT_TRUE(set_equal(&c, "answer.c", &sent,
	    "the answer schema"));
	json_object_put(schema);
}

/* The README lists the codes a trace can end with; docs/http-api.md has
 * a row per code of both error tables with its HTTP status. */
static void
test_docs_name_every_error(void)
{
	struct set c, doc;
	struct buf text;
	char row[128];
	int e;

	buf_init(&text, 4 * 1024 * 1024);
	CU_ASSERT_EQUAL_FATAL(buf_read_file(&text, SOURCE_DIR "/README.md"),
	    BUF_OK);
	trace_errors(&c);
	doc_list(buf_str(&text), "Error codes of failed traces:", &doc);
	CU_ASSERT_TRUE(set_equal(&c, "errors.c", &doc, "README.md"));
	buf_free(&text);

	buf_init(&text, 4 * 1024 * 1024);
	CU_ASSERT_EQUAL_FATAL(buf_read_file(&text, SOURCE_DIR
	    "/docs/http-api.md"), BUF_OK);
	for (e = 1; e < KR_ERROR__MAX; e++) {
		snprintf(row, sizeof(row), "| `%s` | %d |",
		    kr_error_code((enum kr_error)e),
		    kr_error_http_status((enum kr_error)e));
		if (strstr(buf_str(&text), row) == NULL)
			printf("\n  docs/http-api.md has no row %s", row);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&text), row));
	}
	/* The HTTP answers of the second table too. */
	for (e = 1; e < KR_HTTP_ERROR__MAX; e++) {
		snprintf(row, sizeof(row), "| `%s` | %d |",
		    kr_http_error_row((enum kr_http_error)e)->code,
		    kr_http_error_row((enum kr_http_error)e)->http_status);
		if (strstr(buf_str(&text), row) == NULL)
			printf("\n  docs/http-api.md has no row %s", row);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&text), row));
	}
	buf_free(&text);
}

void
suite_facts(void)
{
	CU_pSuite s = CU_add_suite("facts", NULL, NULL);

	ADD_TEST(s, test_sql_checks_name_the_tables);
	ADD_TEST(s, test_schema_sent_to_the_model_names_the_decisions);
	ADD_TEST(s, test_docs_name_every_error);
}
