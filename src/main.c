/* keyrota: subcommand dispatch. */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alloc.h"
#include "app.h"
#include "config.h"
#include "cmd_check.h"
#include "db_pool.h"
#include "cmd_eval.h"
#include "listener.h"
#include "log.h"
#include "otlp.h"
#include "cmd_migrate.h"
#include "pages.h"
#include "cmd_provider_check.h"
#include "provider.h"
#include "secret.h"
#include "supervisor.h"
#include "worker.h"

#define EXIT_USAGE 2     /* bad usage or bad configuration */

/* The man page keyrota(8) lists the same commands and variables; a test
 * holds the two (and /etc/default/keyrota) together. */
static void
usage(FILE *out)
{
	fputs("usage: keyrota COMMAND\n"
	    "\n"
	    "commands:\n"
	    "  serve      run the FastCGI worker pool (see README: configuration)\n"
	    "  migrate [--dry-run]\n"
	    "             apply (or list) pending migrations from KEYROTA_SQL_DIR,\n"
	    "             then the grants of the keyrota_runtime role\n"
	    "  check [--eval-run RUN_ID]\n"
	    "             the deploy checklist: configuration, key files,\n"
	    "             database, migrations, /healthz and /readyz, the eval\n"
	    "             set, the README's limits; exit 1 on any failure\n"
	    "  eval [FILE] [--json OUT] [--quiet]\n"
	    "             run the eval set (default: the installed\n"
	    "             evals/rotations.jsonl) through the decision service;\n"
	    "             exit 1 when a case fails, 2 for a malformed file\n"
	    "  provider-check\n"
	    "             one call to the configured model provider; prints the\n"
	    "             latency and the answer or the named error; no trace\n"
	    "  version    print the version\n"
	    "  --help     print this help\n"
	    "\n"
	    "environment (defaults in keyrota(8)); a bad value exits with\n"
	    "status 2 naming the variable:\n"
	    "  KEYROTA_DATABASE_URL            libpq connection string\n"
	    "  KEYROTA_LISTEN                  FastCGI socket: unix:PATH or HOST:PORT\n"
	    "  KEYROTA_WORKERS                 worker processes\n"
	    "  KEYROTA_THREADS                 accept threads per worker\n"
	    "  KEYROTA_DB_POOL_SIZE            database connections per worker\n"
	    "  KEYROTA_MAX_REQUESTS            recycle a worker after this many requests\n"
	    "  KEYROTA_HTTP_PORT               nginx port on 127.0.0.1 (check's default URL)\n"
	    "  KEYROTA_PROVIDER                openai, anthropic or fixture\n"
	    "  KEYROTA_MODEL_BASE_URL          the provider's base URL (per provider)\n"
	    "  KEYROTA_MODEL_ALLOW_INSECURE    1: allow http:// to another host\n"
	    "  KEYROTA_MODEL                   model name (gpt-4o-mini; claude-haiku-4-5)\n"
	    "  KEYROTA_MODEL_KEY_FILE          provider key file (mode 0600)\n"
	    "  KEYROTA_MODEL_CA_FILE           CA bundle that verifies the model's TLS\n"
	    "  KEYROTA_MODEL_TIMEOUT_MS        deadline per decision, retries included\n"
	    "  KEYROTA_MODEL_MAX_ATTEMPTS      provider attempts per decision\n"
	    "  KEYROTA_MODEL_MAX_TOKENS_FIELD  max_completion_tokens or max_tokens\n"
	    "  KEYROTA_MODEL_AUTH              bearer, api-key, x-api-key or none (loopback)\n"
	    "  KEYROTA_MODEL_API_VERSION       api-version query (Azure); anthropic-version\n"
	    "  KEYROTA_MODEL_HEADERS_FILE      extra request headers, Name: value (mode 0600)\n"
	    "  KEYROTA_FINGERPRINT_KEY_FILE    HMAC key of report fingerprints (mode 0600)\n"
	    "  KEYROTA_USER                    user to run as when started as root\n"
	    "  KEYROTA_ADMIN_USER              the admin user nginx authenticates\n"
	    "  KEYROTA_SQL_DIR                 migrations\n"
	    "  KEYROTA_TEMPLATE_DIR            page templates\n"
	    "  KEYROTA_REAPER_INTERVAL_MS      how often running traces are checked\n"
	    "  KEYROTA_REAPER_GRACE_MS         how long past their deadline they may run\n"
	    "  KEYROTA_TRACE_RETENTION_DAYS    delete traces and eval runs older than\n"
	    "                                  this (0 keeps them; default 365)\n"
	    "  KEYROTA_FIXTURE_DELAY_MS        simulated latency of the fixture provider\n"
	    "  KEYROTA_MAX_IN_FLIGHT           decisions in flight per instance before\n"
	    "                                  overloaded (0: from the descriptor limit)\n"
	    "  KEYROTA_MODEL_BUDGET_PER_MINUTE model calls per minute per instance before\n"
	    "                                  model_budget_exhausted (0: unlimited)\n"
	    "  KEYROTA_CHECK_URL               where check finds /healthz and /readyz\n"
	    "OpenTelemetry export of traces (docs/telemetry.md):\n"
	    "  OTEL_EXPORTER_OTLP_ENDPOINT     collector base URL; spans go to\n"
	    "                                  {endpoint}/v1/traces (unset: no export)\n"
	    "  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the whole traces URL\n"
	    "  OTEL_EXPORTER_OTLP_HEADERS      name=value,... percent-encoded (secrets)\n"
	    "  OTEL_EXPORTER_OTLP_TRACES_HEADERS   the same, for traces only\n"
	    "  OTEL_EXPORTER_OTLP_TIMEOUT      ms one export may take (10000)\n"
	    "  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT   the same, for traces only\n"
	    "  OTEL_EXPORTER_OTLP_CERTIFICATE  CA bundle that verifies the collector\n"
	    "  OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE  the same, for traces only\n"
	    "  OTEL_EXPORTER_OTLP_PROTOCOL     http/json, the only one spoken\n"
	    "  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL  the same, for traces only\n"
	    "  OTEL_SERVICE_NAME               service.name (keyrota)\n"
	    "  OTEL_RESOURCE_ATTRIBUTES        more resource attributes, key=value,...\n"
	    "  OTEL_BSP_MAX_QUEUE_SIZE         spans queued per worker before dropping\n"
	    "                                  (2048, at most 16384)\n"
	    "  OTEL_BSP_MAX_EXPORT_BATCH_SIZE  spans per export (512, at most 1024)\n"
	    "  OTEL_BSP_SCHEDULE_DELAY         ms a batch waits to fill (5000)\n"
	    "  OTEL_SDK_DISABLED               true: no export\n"
	    "set by systemd:\n"
	    "  LISTEN_FDS, LISTEN_PID          socket activation\n"
	    "  NOTIFY_SOCKET                   readiness, reload and stop notification\n"
	    "  CREDENTIALS_DIRECTORY           key files as credentials keyrota_*.key\n"
	    "  JOURNAL_STREAM                  stderr is the journal: log to journald\n",
	    out);
}

static int
load_config(struct config *cfg)
{
	char err[512];

	if (config_from_environ(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyrota: configuration error: %s\n", err);
		return -1;
	}
	return 0;
}

static int
check_otlp(void)
{
	struct otlp_settings *s = kr_malloc(sizeof(*s));
	char err[512];
	int rc = -1;

	if (otlp_settings_from_environ(s, err, sizeof(err)) != 0)
		fprintf(stderr, "keyrota: configuration error: %s\n", err);
	else
		rc = 0;
	otlp_settings_wipe(s);
	free(s);
	return rc;
}

/* Parked decisions each hold descriptors, so the soft limit goes up to
 * the hard one before any worker exists (they inherit it); the default
 * in-flight cap is sized below it (README, "Under load"). */
static void
raise_nofile(struct config *cfg)
{
	struct rlimit rl;
	rlim_t before;
	int backlog;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		rl.rlim_cur = rl.rlim_max = 1024;
	}
	before = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the descriptor limit from %llu to "
			    "%llu: %s", (unsigned long long)before,
			    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = before;
		}
	}
	if (cfg->max_in_flight == 0)
		cfg->max_in_flight = config_default_in_flight(cfg,
		    (unsigned long long)rl.rlim_cur);
	log_info("descriptors: soft limit %llu (was %llu), hard limit %llu; "
	    "at most %u decisions in flight", (unsigned long long)rl.rlim_cur,
	    (unsigned long long)before, (unsigned long long)rl.rlim_max,
	    cfg->max_in_flight);
	/* A burst of the cap arriving at once, and room for pages, must fit
	 * the listen queue. (An inherited socket's queue is also bounded by
	 * what its creator asked for: keyrota.socket's Backlog=.) */
	backlog = listener_backlog();
	if ((unsigned long)backlog <
	    (unsigned long)cfg->max_in_flight + LISTEN_QUEUE_SPARE)
		log_warn("listen queue: net.core.somaxconn is %d, below the "
		    "%u decisions in flight allowed + %u: a burst of more "
		    "connections than that at once gets 502 from nginx; "
		    "raise it (README, \"Under load\")", backlog,
		    cfg->max_in_flight, LISTEN_QUEUE_SPARE);
}

static int
cmd_serve(void)
{
	static struct worker_secrets sec;
	struct config cfg;
	struct listener l;
	struct run_as as;
	struct passwd *pw = NULL;
	struct pages *pages;
	char err[512];
	int rc;

	if (load_config(&cfg) != 0)
		return EXIT_USAGE;
	/* Each worker reads the OTEL_* variables again; a bad one is
	 * reported once, here. */
	if (check_otlp() != 0)
		return EXIT_USAGE;
	/* Key files may be root-only: the supervisor reads them, now and on
	 * SIGHUP, and only workers give up root for good. */
	if (worker_secrets_load(&cfg, &sec, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyrota: configuration error: %s\n", err);
		return EXIT_USAGE;
	}
	rc = EXIT_USAGE;
	/* Templates are compiled again in each worker; a broken one stops
	 * keyrota here, with its file and line, instead of in a crash loop. */
	if ((pages = pages_load(cfg.template_dir, err, sizeof(err))) == NULL) {
		fprintf(stderr, "keyrota: configuration error: "
		    "KEYROTA_TEMPLATE_DIR: %s\n", err);
		goto out;
	}
	pages_free(pages);
	if (geteuid() == 0 && (pw = getpwnam(cfg.user)) == NULL) {
		fprintf(stderr, "keyrota: configuration error: KEYROTA_USER: "
		    "no user \"%s\" to run as (keyrota does not serve as "
		    "root)\n", cfg.user);
		goto out;
	}
	if (listener_open(&l, &cfg, pw ? pw->pw_uid : (uid_t)-1,
	    pw ? pw->pw_gid : (gid_t)-1, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyrota: %s\n", err);
		goto out;
	}
	if (pw != NULL) {
		as.uid = pw->pw_uid;
		as.gid = pw->pw_gid;
		snprintf(as.name, sizeof(as.name), "%s", pw->pw_name);
		/* The supervisor runs as the service user, so its workers may
		 * signal it (a recycle notice); only the saved uid stays root,
		 * taken up again to read the key files on SIGHUP and to give
		 * each new worker its user. */
		if (setgroups(0, NULL) != 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, 0) != 0) {
			fprintf(stderr, "keyrota: cannot become %s: %s\n",
			    pw->pw_name, strerror(errno));
			rc = 1;
			listener_close(&l);
			goto out;
		}
	}
	raise_nofile(&cfg);
	if (app_metrics_init() != 0)
		fprintf(stderr, "keyrota: metrics unavailable (no shared memory)\n");
	rc = supervisor_run(&cfg, &sec, pw != NULL ? &as : NULL, l.fd);
	listener_close(&l);
out:
	secret_wipe(&sec, sizeof(sec));
	return rc;
}

static void
print_pending(const char *name, void *arg)
{
	printf("%s %s\n", *(const int *)arg ? "would apply" : "applying", name);
}

/* keyrota migrate [--dry-run] */
static int
cmd_migrate(int argc, char **argv)
{
	struct config cfg;
	unsigned pending = 0;
	char err[512];
	PGconn *conn;
	int rc, dry_run = 0;

	if (argc == 3 && strcmp(argv[2], "--dry-run") == 0)
		dry_run = 1;
	else if (argc != 2) {
		fprintf(stderr, "usage: keyrota migrate [--dry-run]\n");
		return EXIT_USAGE;
	}
	if (load_config(&cfg) != 0)
		return EXIT_USAGE;
	if ((conn = db_pool_connect(cfg.database_url)) == NULL) {
		fprintf(stderr, "keyrota: migrate: database unavailable\n");
		return 1;
	}
	rc = cmd_migrate_run(conn, cfg.sql_dir, dry_run, print_pending, &dry_run,
	    &pending, err, sizeof(err));
	PQfinish(conn);
	if (rc != 0) {
		fprintf(stderr, "keyrota: migrate: %s\n", err);
		return 1;
	}
	if (dry_run)
		printf("migrations pending: %u (nothing was changed)\n",
		    pending);
	else
		printf("migrations applied: %u; grants for keyrota_runtime "
		    "set\n", pending);
	return 0;
}

/* Commands that call the configured provider directly. */
enum provider_cmd { CMD_PROVIDER_CHECK, CMD_EVAL };

static int
cmd_with_provider(enum provider_cmd which, int argc, char **argv)
{
	static struct model_secrets model;
	struct config cfg;
	char err[512];
	int rc;

	if (load_config(&cfg) != 0)
		return EXIT_USAGE;
	if (provider_secrets_load(&cfg, &model, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyrota: configuration error: %s\n", err);
		return EXIT_USAGE;
	}
	rc = which == CMD_EVAL ? cmd_eval(&cfg, &model, argc, argv) :
	    cmd_provider_check(&cfg, &model);
	secret_wipe(&model, sizeof(model));
	return rc;
}

int
main(int argc, char **argv)
{
	/* Before any thread exists, as libcurl requires. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "eval") == 0)
		return cmd_with_provider(CMD_EVAL, argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argc, argv);
	if (argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve();
	if (strcmp(argv[1], "provider-check") == 0)
		return cmd_with_provider(CMD_PROVIDER_CHECK, 0, NULL);
	if (strcmp(argv[1], "version") == 0) {
		printf("keyrota %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "keyrota: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
