#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "alloc.h"
#include "app.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "db_pool.h"
#include "decide.h"
#include "eval_json.h"
#include "cmd_eval.h"
#include "fingerprint.h"
#include "log.h"
#include "prompt.h"
#include "provider.h"
#include "report.h"
#include "store_evals.h"
#include "token.h"
#include "store_traces.h"

#define EVAL_MAX_CASES   1000
#define EVAL_MAX_BYTES   (1024 * 1024)
#define EXPECT_MAX       4
#define OUTCOME_MAX      200

enum outcome_kind { OUT_COMPLETED, OUT_FAILED, OUT_REJECTED, OUT_ERROR };

/* What a case judges, reported apart (README, "Evals and the deploy
 * check"): the model's judgement, keyrota's own verification of an answer
 * against trusted rows, or report validation before any model call. */
enum case_kind { KIND_PROBE, KIND_VERIFIER, KIND_VALIDATION, KIND_COUNT };

static const char *const case_kind_names[KIND_COUNT] = { "probe", "verifier",
	"validation" };

/* One acceptable outcome of a case. */
struct expect {
	enum outcome_kind kind;
	enum decision     decision;           /* completed */
	int               has_sources;
	char              sources[64];        /* "P-7,P-3", completed */
	enum kr_error     error;              /* failed */
	char              fields[128];        /* "a,b", rejected; "" = any */
};

struct eval_case {
	unsigned        line;
	char            name[81];
	int             age_days;
	struct json_object *report;       /* the request body but the account */
	struct expect   expect[EXPECT_MAX];
	size_t          nexpect;
	enum case_kind  kind;
	int             real_model;       /* the fixture cannot judge it */
	char            account_id[16];
	/* filled by the run */
	char            got[OUTCOME_MAX];
	char            expected[OUTCOME_MAX * 2];
	char            trace_id[TRACE_ID_SIZE];
	int             passed;
	int             skipped;          /* real_model under the fixture */
	long            latency_ms;
	struct timespec started;
};

struct eval_run_state {
	struct app        *app;
	pthread_mutex_t    lock;
	pthread_cond_t     changed;
	unsigned           in_flight;
};

struct case_ctx {
	struct eval_run_state *run;
	struct eval_case      *c;
};

/* An outcome's first word: a trace's terminal status, or what the API did
 * instead of starting one. */
static const char *const kind_names[] = {
	[OUT_COMPLETED] = "completed",
	[OUT_FAILED] = "failed",
	[OUT_REJECTED] = "rejected",
	[OUT_ERROR] = "error",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* ---- reading the eval set ------------------------------------------------ */

static int
malformed(const char *file, unsigned line, const char *msg)
{
	fprintf(stderr, "keyrota eval: %s:%u: %s\n", file, line, msg);
	return -1;
}

/* "a,b" from a JSON array of short strings. */
static int
join_strings(struct json_object *arr, char *out, size_t outlen)
{
	size_t i, n;
	struct json_object *v;
	struct buf b;
	int rc = 0;

	if (!json_object_is_type(arr, json_type_array))
		return -1;
	buf_init(&b, outlen - 1);
	n = json_object_array_length(arr);
	for (i = 0; i < n && rc == 0; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string) ||
		    strchr(json_object_get_string(v), ',') != NULL ||
		    (i > 0 && buf_putc(&b, ',') != BUF_OK) ||
		    buf_puts(&b, json_object_get_string(v)) != BUF_OK)
			rc = -1;
	}
	snprintf(out, outlen, "%s", buf_str(&b));
	buf_free(&b);
	return rc;
}

static int
parse_expect(struct json_object *o, struct expect *e, const char **msg)
{
	struct json_object *v;
	const char *status;
	size_t k;

	memset(e, 0, sizeof(*e));
	*msg = "expect must be {\"status\": completed|failed|rejected, ...}";
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "status", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	status = json_object_get_string(v);
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "status") != 0 && strcmp(key, "decision") != 0 &&
		    strcmp(key, "source_line_ids") != 0 &&
		    strcmp(key, "error_code") != 0 && strcmp(key, "fields") != 0) {
			*msg = "expect has an unknown key";
			return -1;
		}
	}
	for (k = 0; k < NKINDS && strcmp(status, kind_names[k]) != 0; k++)
		;
	if (k == NKINDS || k == OUT_ERROR)
		return -1;
	e->kind = (enum outcome_kind)k;
	if (e->kind == OUT_COMPLETED) {
		*msg = "a completed expectation needs a known decision";
		if (!json_object_object_get_ex(o, "decision", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    answer_decision_from_name(json_object_get_string(v), &e->decision))
			return -1;
		if (json_object_object_get_ex(o, "source_line_ids", &v)) {
			*msg = "source_line_ids must be an array of ids";
			if (join_strings(v, e->sources, sizeof(e->sources)) != 0)
				return -1;
			e->has_sources = 1;
		}
		return 0;
	}
	if (e->kind == OUT_FAILED) {
		*msg = "a failed expectation needs a trace error_code";
		if (!json_object_object_get_ex(o, "error_code", &v) ||
		    !json_object_is_type(v, json_type_string))
			return -1;
		e->error = kr_error_from_code(json_object_get_string(v));
		return kr_error_is_trace_error(e->error) ? 0 : -1;
	}
	*msg = "fields must be an array of field names";
	if (json_object_object_get_ex(o, "fields", &v) &&
	    join_strings(v, e->fields, sizeof(e->fields)) != 0)
		return -1;
	return 0;
}

static int
parse_case(struct json_object *o, struct eval_case *c, const char **msg)
{
	struct json_object *v, *body, *exp;
	size_t i, n;

	*msg = "each line must be a JSON object";
	if (!json_object_is_type(o, json_type_object))
		return -1;
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "name") != 0 && strcmp(key, "age_days") != 0 &&
		    strcmp(key, "report") != 0 && strcmp(key, "item") != 0 &&
		    strcmp(key, "expect") != 0 && strcmp(key, "note") != 0 &&
		    strcmp(key, "kind") != 0 && strcmp(key, "real_model") != 0) {
			*msg = "unknown key (name, age_days, report, item, "
			    "expect, kind, real_model, note)";
			return -1;
		}
	}
	c->kind = KIND_PROBE;
	if (json_object_object_get_ex(o, "kind", &v)) {
		*msg = "kind must be probe, verifier or validation";
		for (i = 0; i < KIND_COUNT; i++)
			if (json_object_is_type(v, json_type_string) &&
			    strcmp(json_object_get_string(v),
			    case_kind_names[i]) == 0)
				break;
		if (i == KIND_COUNT)
			return -1;
		c->kind = (enum case_kind)i;
	}
	if (json_object_object_get_ex(o, "real_model", &v)) {
		*msg = "real_model must be true or false";
		if (!json_object_is_type(v, json_type_boolean))
			return -1;
		c->real_model = json_object_get_boolean(v);
	}
	*msg = "name must be a string of 1 to 80 characters";
	if (!json_object_object_get_ex(o, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) < 1 ||
	    json_object_get_string_len(v) > 80)
		return -1;
	snprintf(c->name, sizeof(c->name), "%s", json_object_get_string(v));
	*msg = "age_days must be a whole number from 0 to 36500";
	if (!json_object_object_get_ex(o, "age_days", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > 36500)
		return -1;
	c->age_days = (int)json_object_get_int64(v);
	*msg = "report must be a string";
	if (!json_object_object_get_ex(o, "report", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	/* The request body as a client would send it; account filled later. */
	body = kr_json_object();
	kr_json_add(body, "credential_report", json_object_get(v));
	if (json_object_object_get_ex(o, "item", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			json_object_put(body);
			*msg = "item must be a string";
			return -1;
		}
		kr_json_add(body, "item", json_object_get(v));
	}
	c->report = body;
	*msg = "expect is required";
	if (!json_object_object_get_ex(o, "expect", &exp))
		return -1;
	if (json_object_is_type(exp, json_type_array)) {
		n = json_object_array_length(exp);
		*msg = "expect may list 1 to 4 outcomes";
		if (n < 1 || n > EXPECT_MAX)
			return -1;
		for (i = 0; i < n; i++)
			if (parse_expect(json_object_array_get_idx(exp, i),
			    &c->expect[i], msg) != 0)
				return -1;
		c->nexpect = n;
		return 0;
	}
	c->nexpect = 1;
	return parse_expect(exp, &c->expect[0], msg);
}

static void
free_cases(struct eval_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_object_put(cases[i].report);
	free(cases);
}

static int
load_cases(const char *file, struct eval_case **out, size_t *count,
    char digest[65])
{
	struct eval_case *cases;
	struct json_tokener *tok;
	struct json_object *o;
	struct buf text;
	const char *p, *nl, *msg;
	unsigned line = 0;
	size_t n = 0, k, len;

	buf_init(&text, EVAL_MAX_BYTES);
	switch (buf_read_file(&text, file)) {
	case BUF_OK:
		break;
	case BUF_TOOBIG:
		buf_free(&text);
		return malformed(file, 0, "the file is larger than 1 MiB");
	default:
		buf_free(&text);
		fprintf(stderr, "keyrota eval: cannot read %s\n", file);
		return -1;
	}
	fingerprint_sha256_hex(buf_str(&text), text.len, digest);
	cases = kr_calloc(EVAL_MAX_CASES, sizeof(*cases));
	tok = kr_json_tokener(JSON_TOKENER_DEFAULT_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	for (p = buf_str(&text); *p != '\0'; p = nl + (*nl != '\0')) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		line++;
		len = (size_t)(nl - p);
		if (strspn(p, " \t\r") >= len)
			continue;                /* blank line */
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, p, (int)len);
		msg = "not a JSON object";
		if (o == NULL || json_tokener_get_error(tok) !=
		    json_tokener_success || n == EVAL_MAX_CASES ||
		    (cases[n].line = line, parse_case(o, &cases[n], &msg)) != 0) {
			json_object_put(o);
			malformed(file, line, n == EVAL_MAX_CASES ?
			    "too many cases" : msg);
			goto fail;
		}
		json_object_put(o);
		for (k = 0; k < n; k++)
			if (strcmp(cases[k].name, cases[n].name) == 0) {
				malformed(file, line, "a case of this name "
				    "already exists");
				n++;
				goto fail;
			}
		n++;
	}
	json_tokener_free(tok);
	buf_free(&text);
	if (n == 0) {
		free_cases(cases, n);
		return malformed(file, line, "no cases");
	}
	*out = cases;
	*count = n;
	return 0;
fail:
	json_tokener_free(tok);
	buf_free(&text);
	free_cases(cases, n + 1);
	return -1;
}

/* ---- running ------------------------------------------------------------- */

static void
describe_expect(const struct eval_case *c, char *out, size_t len)
{
	struct buf b;
	size_t i;

	buf_init(&b, len - 1);
	for (i = 0; i < c->nexpect; i++) {
		const struct expect *e = &c->expect[i];

		if (i > 0)
			buf_puts(&b, " | ");
		buf_puts(&b, kind_names[e->kind]);
		if (e->kind == OUT_COMPLETED)
			buf_printf(&b, " %s%s%s%s", answer_decision_name(e->decision),
			    e->has_sources ? " [" : "", e->sources,
			    e->has_sources ? "]" : "");
		else if (e->kind == OUT_FAILED)
			buf_printf(&b, " %s", kr_error_code(e->error));
		else if (e->fields[0])
			buf_printf(&b, " %s", e->fields);
	}
	snprintf(out, len, "%s", buf_str(&b));
	buf_free(&b);
}

/* The outcome's source line ids, comma-separated, into b. */
static void
join_sources(const struct decide_outcome *o, struct buf *b)
{
	size_t k;

	for (k = 0; k < o->nsources; k++)
		buf_printf(b, "%s%s", k ? "," : "", o->sources[k]);
}

/* Compares the outcome (kind plus details) with each acceptable one. */
static int
matches(const struct eval_case *c, enum outcome_kind kind,
    const struct decide_outcome *o, const char *fields)
{
	struct buf sources;
	size_t i;
	int same;

	for (i = 0; i < c->nexpect; i++) {
		const struct expect *e = &c->expect[i];

		if (e->kind != kind)
			continue;
		if (kind == OUT_REJECTED)
			return e->fields[0] == '\0' || strcmp(e->fields, fields) == 0;
		if (kind == OUT_FAILED && e->error == o->trace_error)
			return 1;
		if (kind == OUT_COMPLETED && o->has_decision &&
		    e->decision == o->decision) {
			if (!e->has_sources)
				return 1;
			buf_init(&sources, sizeof(e->sources));
			join_sources(o, &sources);
			same = strcmp(e->sources, buf_str(&sources)) == 0;
			buf_free(&sources);
			if (same)
				return 1;
		}
	}
	return 0;
}

static void
case_finished(struct eval_run_state *run)
{
	pthread_mutex_lock(&run->lock);
	run->in_flight--;
	pthread_cond_signal(&run->changed);
	pthread_mutex_unlock(&run->lock);
}

static void
case_done(void *arg, const struct decide_outcome *o)
{
	struct case_ctx *ctx = arg;
	struct eval_case *c = ctx->c;
	struct eval_run_state *run = ctx->run;
	enum outcome_kind kind;
	struct buf got;

	c->latency_ms = clock_since_ms(&c->started);
	memcpy(c->trace_id, o->trace_id, sizeof(c->trace_id));
	if (o->error != KR_OK) {
		kind = OUT_ERROR;
		snprintf(c->got, sizeof(c->got), "error %s",
		    kr_error_code(o->error));
	} else if (o->status == TRACE_COMPLETED) {
		kind = OUT_COMPLETED;
		buf_init(&got, sizeof(c->got) - 1);
		buf_printf(&got, "%s %s [", kind_names[OUT_COMPLETED],
		    o->has_decision ? answer_decision_name(o->decision) : "?");
		join_sources(o, &got);
		buf_putc(&got, ']');
		snprintf(c->got, sizeof(c->got), "%s", buf_str(&got));
		buf_free(&got);
	} else {
		kind = OUT_FAILED;
		snprintf(c->got, sizeof(c->got), "%s %s",
		    kind_names[OUT_FAILED], kr_error_code(o->trace_error));
	}
	c->passed = kind != OUT_ERROR && matches(c, kind, o, "");
	free(ctx);
	case_finished(run);
}

static void
start_case(struct eval_run_state *run, struct eval_case *c)
{
	struct report_errors errs;
	struct report report;
	struct decide_outcome none;
	struct case_ctx *ctx;
	struct json_object *body;
	struct buf fields;
	const char *text;
	size_t i, len;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &c->started);
	/* The body a client would send: the account first, as the API's
	 * field order allows any, then the case's fields. Only this thread
	 * touches the case's objects. */
	body = kr_json_object();
	kr_json_add(body, "account_id",
	    kr_json_string(c->account_id));
	json_object_object_foreach(c->report, key, val) {
		kr_json_add(body, key, json_object_get(val));
	}
	text = kr_json_text(body, JSON_C_TO_STRING_PLAIN, &len);
	rc = report_from_json(text, len, &report, &errs);
	json_object_put(body);
	if (rc != 0) {
		buf_init(&fields, sizeof(c->got));
		for (i = 0; i < errs.n; i++)
			buf_printf(&fields, "%s%s", i ? "," : "",
			    errs.e[i].field);
		snprintf(c->got, sizeof(c->got), "rejected %s",
		    buf_str(&fields));
		memset(&none, 0, sizeof(none));
		c->passed = matches(c, OUT_REJECTED, &none, buf_str(&fields));
		buf_free(&fields);
		c->latency_ms = clock_since_ms(&c->started);
		case_finished(run);
		return;
	}
	ctx = kr_calloc(1, sizeof(*ctx));
	ctx->run = run;
	ctx->c = c;
	decide_start_eval(run->app, &report, c->age_days, case_done, ctx);
}

/* Each case names an account of its own; the trusted key age travels with
 * the case (decide_start_eval), so the accounts table is neither read nor
 * written and real accounts with these ids are never touched. */
static void
name_accounts(struct eval_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(cases[i].account_id, sizeof(cases[i].account_id),
		    "acct_8%04u", (unsigned)(i % 10000));
}

static void
record_run(PGconn *conn, const char *file, const char *digest,
    const struct provider *prov, const char *started, struct eval_case *cases,
    size_t n, unsigned passed, struct eval_summary *out)
{
	struct eval_run_row run;
	struct eval_case_row *rows;
	const char *base = strrchr(file, '/');
	size_t i, m;

	memset(&run, 0, sizeof(run));
	memcpy(run.run_id, "ev_", 3);
	if (token_random(run.run_id + 3, sizeof(run.run_id) - 3, 16) != 0)
		return;
	rows = kr_calloc(n > 0 ? n : 1, sizeof(*rows));
	snprintf(run.eval_file, sizeof(run.eval_file), "%s",
	    base != NULL ? base + 1 : file);
	snprintf(run.eval_digest, sizeof(run.eval_digest), "%s", digest);
	snprintf(run.provider, sizeof(run.provider), "%s", prov->ops->name);
	snprintf(run.model, sizeof(run.model), "%s", prov->model);
	snprintf(run.prompt_version, sizeof(run.prompt_version), "%s",
	    PROMPT_VERSION);
	run.passed = passed;
	run.failed = out->failed;
	for (i = 0, m = 0; i < n; i++) {
		if (cases[i].skipped)
			continue;       /* not run: no result to compare */
		snprintf(rows[m].name, sizeof(rows[m].name), "%s",
		    cases[i].name);
		rows[m].passed = cases[i].passed;
		snprintf(rows[m].expected, sizeof(rows[m].expected), "%s",
		    cases[i].expected);
		snprintf(rows[m].got, sizeof(rows[m].got), "%s", cases[i].got);
		rows[m].latency_ms = cases[i].latency_ms;
		memcpy(rows[m].trace_id, cases[i].trace_id,
		    sizeof(rows[m].trace_id));
		m++;
	}
	if (store_evals_record(conn, &run, started, rows, m) == STORE_OK)
		snprintf(out->run_id, sizeof(out->run_id), "%s", run.run_id);
	else
		fprintf(stderr, "keyrota eval: the run could not be recorded\n");
	free(rows);
}

static void
write_json(const char *path, const char *file, const struct eval_summary *s,
    const struct config *cfg, const struct provider *prov,
    struct eval_case *cases, size_t n)
{
	struct json_object *root, *arr = kr_json_array(), *c;
	FILE *f;
	size_t i;

	root = eval_json_run(cfg, prov->ops->name, prov->model, PROMPT_VERSION,
	    s->passed, s->failed);
	kr_json_add(root, "eval_file", kr_json_string(file));
	if (s->run_id[0])
		kr_json_add(root, "run_id", kr_json_string(s->run_id));
	else
		kr_json_add_null(root, "run_id");
	kr_json_add(root, "skipped",
	    kr_json_int((int)s->skipped));
	for (i = 0; i < n; i++) {
		c = eval_json_case(cases[i].name, cases[i].passed,
		    cases[i].expected, cases[i].got);
		kr_json_add(c, "kind",
		    kr_json_string(case_kind_names[cases[i].kind]));
		kr_json_add(c, "real_model",
		    kr_json_bool(cases[i].real_model));
		kr_json_add(c, "skipped",
		    kr_json_bool(cases[i].skipped));
		kr_json_add(c, "latency_ms",
		    kr_json_int64(cases[i].latency_ms));
		if (cases[i].trace_id[0])
			kr_json_add(c, "trace_id",
			    kr_json_string(cases[i].trace_id));
		else
			kr_json_add_null(c, "trace_id");
		kr_json_push(arr, c);
	}
	kr_json_add(root, "cases", arr);
	if ((f = fopen(path, "we")) == NULL)
		fprintf(stderr, "keyrota eval: cannot write %s\n", path);
	else {
		fputs(kr_json_text(root, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE, NULL), f);
		fputc('\n', f);
		fclose(f);
	}
	json_object_put(root);
}

/* The fingerprint key of the server when configured; otherwise a key made
 * for this run (fingerprints are then only comparable within it). */
static int
fingerprint_key(const struct config *cfg, struct fingerprint_key *k)
{
	char err[256], key[64];

	if (cfg->fingerprint_key_file[0] != '\0') {
		if (fingerprint_key_load(k, cfg->fingerprint_key_file, err,
		    sizeof(err)) == 0)
			return 0;
		fprintf(stderr, "keyrota eval: %s\n", err);
		return -1;
	}
	if (token_random(key, sizeof(key), 32) != 0)
		return -1;
	return fingerprint_key_set(k, key, strlen(key));
}

int
cmd_eval_run(const struct config *cfg, const struct model_secrets *model,
    const struct eval_options *opts, struct eval_summary *out)
{
	static struct fingerprint_key fkey;
	struct eval_run_state run;
	struct eval_case *cases = NULL;
	struct app app;
	char digest[65], started[40], err[512];
	PGconn *conn = NULL;
	size_t n = 0, i;
	unsigned by_kind[KIND_COUNT][3], *tally;   /* passed, failed, skipped */
	int rc = 3;

	memset(out, 0, sizeof(*out));
	memset(&app, 0, sizeof(app));
	if (load_cases(opts->file, &cases, &n, digest) != 0)
		return 2;
	if (fingerprint_key(cfg, &fkey) != 0)
		goto out;
	if ((conn = db_pool_connect(cfg->database_url)) == NULL) {
		fprintf(stderr, "keyrota eval: database unavailable\n");
		goto out;
	}
	if (store_prepare(conn) != 0 ||
	    store_now(conn, started, sizeof(started)) != STORE_OK)
		snprintf(started, sizeof(started), "now");
	name_accounts(cases, n);
	/* The server's pool and provider: cases run through the same
	 * decision code. */
	if (app_open(&app, APP_COMMAND, cfg, model, &fkey, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "keyrota eval: %s\n", err);
		goto out;
	}

	memset(&run, 0, sizeof(run));
	run.app = &app;
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.changed, NULL);
	for (i = 0; i < n; i++) {
		describe_expect(&cases[i], cases[i].expected,
		    sizeof(cases[i].expected));
		/* The fixture's keyword rule cannot judge these; counting them
		 * as passed would claim a judgement nobody made. */
		if (cases[i].real_model &&
		    strcmp(app.provider->ops->name, "fixture") == 0) {
			cases[i].skipped = 1;
			snprintf(cases[i].got, sizeof(cases[i].got),
			    "skipped (real model only)");
			continue;
		}
		pthread_mutex_lock(&run.lock);
		while (run.in_flight >= opts->concurrency)
			pthread_cond_wait(&run.changed, &run.lock);
		run.in_flight++;
		pthread_mutex_unlock(&run.lock);
		start_case(&run, &cases[i]);
	}
	pthread_mutex_lock(&run.lock);
	while (run.in_flight > 0)
		pthread_cond_wait(&run.changed, &run.lock);
	pthread_mutex_unlock(&run.lock);
	pthread_cond_destroy(&run.changed);
	pthread_mutex_destroy(&run.lock);

	memset(by_kind, 0, sizeof(by_kind));
	for (i = 0; i < n; i++) {
		tally = by_kind[cases[i].kind];
		if (cases[i].skipped) {
			out->skipped++;
			tally[2]++;
			if (!opts->quiet)
				printf("SKIP %s: real model only, expected %s\n",
				    cases[i].name, cases[i].expected);
			continue;
		}
		if (cases[i].passed) {
			out->passed++;
			tally[0]++;
		} else {
			out->failed++;
			tally[1]++;
		}
		if (!opts->quiet || !cases[i].passed)
			printf("%s %s: expected %s, got %s (%ld ms)\n",
			    cases[i].passed ? "PASS" : "FAIL", cases[i].name,
			    cases[i].expected, cases[i].got,
			    cases[i].latency_ms);
	}
	record_run(conn, opts->file, digest, app.provider, started, cases, n,
	    out->passed, out);
	if (opts->json_out != NULL)
		write_json(opts->json_out, opts->file, out, cfg, app.provider,
		    cases, n);
	for (i = 0; i < KIND_COUNT; i++)
		printf("eval %s cases: %u passed, %u failed, %u skipped\n",
		    case_kind_names[i], by_kind[i][0], by_kind[i][1],
		    by_kind[i][2]);
	printf("eval: %u passed, %u failed, %u skipped\n", out->passed,
	    out->failed, out->skipped);
	if (out->run_id[0])
		printf("recorded as run %s (/admin/evals)\n", out->run_id);
	rc = out->failed == 0 ? 0 : 1;
out:
	app_close(&app);
	if (conn != NULL)
		PQfinish(conn);
	free_cases(cases, n);
	return rc;
}

int
cmd_eval(const struct config *cfg, const struct model_secrets *model, int argc,
    char **argv)
{
	struct eval_options opts = { PKGDATADIR "/evals/rotations.jsonl", NULL,
	    0, 8 };
	struct eval_summary s;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			opts.json_out = argv[++i];
		else if (strcmp(argv[i], "--quiet") == 0)
			opts.quiet = 1;
		else if (argv[i][0] != '-')
			opts.file = argv[i];
		else {
			fprintf(stderr, "usage: keyrota eval [FILE] [--json OUT] "
			    "[--quiet]\n");
			return 2;
		}
	}
	return cmd_eval_run(cfg, model, &opts, &s);
}
