#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "buf.h"
#include "cmd_check.h"
#include "config.h"
#include "db_pool.h"
#include "cmd_eval.h"
#include "fingerprint.h"
#include "provider.h"
#include "cmd_migrate.h"
#include "secret.h"
#include "store_evals.h"

#define EVAL_RUN_MAX_AGE "7 days"

struct checklist {
	unsigned failed;
};

static void
line(struct checklist *cl, int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
line(struct checklist *cl, int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s", ok ? "PASS" : "FAIL", what);
	if (fmt != NULL && *fmt != '\0') {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
	if (!ok)
		cl->failed++;
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) == BUF_OK ? size * n : 0;
}

/* GET url; ok when the status is 200 and the body holds want. */
static void
check_url(struct checklist *cl, const char *base, const char *path,
    const char *want)
{
	char url[600];
	struct buf body;
	long status = 0;
	CURLcode rc;
	CURL *h;

	snprintf(url, sizeof(url), "%s%s", base, path);
	buf_init(&body, 64 * 1024);
	if ((h = curl_easy_init()) == NULL) {
		line(cl, 0, path, "libcurl unavailable");
		return;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK)
		line(cl, 0, path, "%s: %s", url, curl_easy_strerror(rc));
	else
		line(cl, status == 200 && strstr(buf_str(&body), want) != NULL,
		    path, "%s answered %ld", url, status);
	buf_free(&body);
}

/* The README a new user reads must say what keyrota does not do. */
static void
check_readme(struct checklist *cl, const char *path)
{
	static const char *const musts[] = { "eligibility only",
	    "never creates a rotation job", "Eligibility is not rotation" };
	struct buf text;
	size_t i;

	buf_init(&text, 1024 * 1024);
	if (buf_read_file(&text, path) != BUF_OK) {
		buf_free(&text);
		line(cl, 0, "README states the limits", "cannot read %s", path);
		return;
	}
	for (i = 0; i < sizeof(musts) / sizeof(musts[0]); i++)
		if (strcasestr(buf_str(&text), musts[i]) == NULL)
			break;
	line(cl, i == sizeof(musts) / sizeof(musts[0]),
	    "README states the limits", i < sizeof(musts) / sizeof(musts[0]) ?
	    "%s does not say \"%s\"" : "%s", path,
	    i < sizeof(musts) / sizeof(musts[0]) ? musts[i] : "");
	buf_free(&text);
}

static void
check_eval_run(struct checklist *cl, PGconn *conn, const char *run_id)
{
	long passed, failed;
	int recent;

	if (store_prepare(conn) != 0 || store_evals_freshness(conn, run_id,
	    EVAL_RUN_MAX_AGE, &passed, &failed, &recent) != STORE_OK)
		line(cl, 0, "eval set passes", "no recorded run %s", run_id);
	else if (failed != 0)
		line(cl, 0, "eval set passes", "run %s had %ld failed cases",
		    run_id, failed);
	else if (!recent)
		line(cl, 0, "eval set passes", "run %s is older than "
		    EVAL_RUN_MAX_AGE, run_id);
	else
		line(cl, 1, "eval set passes", "recorded run %s: %ld passed",
		    run_id, passed);
}

int
cmd_check(int argc, char **argv)
{
	static struct model_secrets model;
	struct fingerprint_key fk;
	struct eval_options eo = { PKGDATADIR "/evals/rotations.jsonl", NULL, 1,
	    8 };
	struct eval_summary es;
	struct checklist cl = { 0 };
	struct config cfg;
	const char *eval_run_id = NULL, *readme = PKGDATADIR "/README.md";
	const char *v;
	char err[512], url[300], what[512];
	unsigned pending = 0;
	PGconn *conn = NULL;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--eval-run") == 0 && i + 1 < argc)
			eval_run_id = argv[++i];
		else if (strcmp(argv[i], "--eval-file") == 0 && i + 1 < argc)
			eo.file = argv[++i];
		else if (strcmp(argv[i], "--readme") == 0 && i + 1 < argc)
			readme = argv[++i];
		else {
			fprintf(stderr, "usage: keyrota check [--eval-run RUN_ID] "
			    "[--eval-file FILE] [--readme FILE]\n");
			return 2;
		}
	}
	if (config_from_environ(&cfg, err, sizeof(err)) != 0) {
		line(&cl, 0, "configuration valid", "%s", err);
		printf("1 check failed\n");
		return 1;
	}
	line(&cl, 1, "configuration valid", "provider %s",
	    config_provider_name(cfg.provider));
	rc = fingerprint_key_load(&fk, cfg.fingerprint_key_file, err,
	    sizeof(err));
	line(&cl, rc == 0, "fingerprint key file", "%s", rc == 0 ?
	    cfg.fingerprint_key_file : err);
	if (config_needs_model_key(&cfg) ||
	    cfg.model_headers_file[0] != '\0') {
		rc = provider_secrets_load(&cfg, &model, err, sizeof(err));
		line(&cl, rc == 0, "model key file", "%s", rc == 0 ?
		    (cfg.model_key_file[0] != '\0' && config_needs_model_key(
		    &cfg) ? cfg.model_key_file : "none needed") : err);
	} else
		line(&cl, 1, "model key file", "none needed by the %s",
		    cfg.provider == PROVIDER_FIXTURE ? "fixture" :
		    "keyless loopback server");
	secret_wipe(&fk, sizeof(fk));

	if ((conn = db_pool_connect(cfg.database_url)) == NULL)
		line(&cl, 0, "database reachable", "see the warning above");
	else {
		line(&cl, 1, "database reachable", NULL);
		rc = cmd_migrate_run(conn, cfg.sql_dir, 1, NULL, NULL, &pending,
		    err, sizeof(err));
		if (rc != 0)
			line(&cl, 0, "migrations current", "%s", err);
		else if (pending > 0)
			line(&cl, 0, "migrations current",
			    "%u pending: run keyrota migrate", pending);
		else
			line(&cl, 1, "migrations current", NULL);
		rc = cmd_migrate_check_runtime_role(conn, what, sizeof(what), err,
		    sizeof(err));
		if (rc < 0)
			line(&cl, 0, "runtime role", "%s", err);
		else if (rc > 0)
			line(&cl, 0, "runtime role", "this role may %s; serve "
			    "must connect as a member of keyrota_runtime "
			    "(README, \"Database roles\")", what);
		else
			line(&cl, 1, "runtime role", "reads trusted records, "
			    "cannot change them");
	}

	if ((v = getenv("KEYROTA_CHECK_URL")) != NULL && *v != '\0')
		snprintf(url, sizeof(url), "%s", v);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%u", cfg.http_port);
	check_url(&cl, url, "/healthz", "\"ok\"");
	check_url(&cl, url, "/readyz", "\"ready\"");

	if (eval_run_id != NULL) {
		if (conn != NULL)
			check_eval_run(&cl, conn, eval_run_id);
		else
			line(&cl, 0, "eval set passes", "database unavailable");
	} else {
		rc = cmd_eval_run(&cfg, &model, &eo, &es);
		line(&cl, rc == 0, "eval set passes",
		    "%u passed, %u failed, %u skipped%s%s", es.passed,
		    es.failed, es.skipped, es.run_id[0] ? ", run " : "",
		    es.run_id);
	}
	check_readme(&cl, readme);
	secret_wipe(&model, sizeof(model));
	if (conn != NULL)
		PQfinish(conn);
	if (cl.failed)
		printf("%u check%s failed\n", cl.failed, cl.failed == 1 ? "" : "s");
	else
		printf("all checks passed\n");
	return cl.failed ? 1 : 0;
}
