#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static int
load(const char *const *env, struct config *cfg, char *err, size_t errlen)
{
	return config_load(cfg, unit_env, (void *)env, err, errlen);
}

static void
test_config_defaults(void)
{
	const char *env[] = { NULL };
	struct config cfg;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.listen_kind, LISTEN_UNIX);
	CU_ASSERT_STRING_EQUAL(cfg.listen_path, "var/run/keyrota.sock");
	CU_ASSERT_EQUAL(cfg.threads, 16);
	CU_ASSERT(cfg.workers >= 1);
	CU_ASSERT_EQUAL(cfg.http_port, 8080);
	CU_ASSERT_EQUAL(cfg.db_pool_size, 8);
	CU_ASSERT_EQUAL(cfg.max_requests, 10000);
	CU_ASSERT_EQUAL(cfg.model_timeout_ms, 8000);
	CU_ASSERT_EQUAL(cfg.model_max_attempts, 2);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_FIXTURE);
	CU_ASSERT_STRING_EQUAL(cfg.model, "gpt-4o-mini");
	CU_ASSERT_STRING_EQUAL(cfg.model_base_url, "https://api.openai.com/v1");
	CU_ASSERT_STRING_EQUAL(cfg.model_ca_file, "");
}

static void
test_config_tcp_listen_and_numbers(void)
{
	const char *env[] = { "KEYROTA_LISTEN", "127.0.0.1:9000",
	    "KEYROTA_WORKERS", "3", "KEYROTA_THREADS", "64", NULL };
	struct config cfg;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.listen_kind, LISTEN_TCP);
	CU_ASSERT_STRING_EQUAL(cfg.listen_host, "127.0.0.1");
	CU_ASSERT_EQUAL(cfg.listen_port, 9000);
	CU_ASSERT_EQUAL(cfg.workers, 3);
	CU_ASSERT_EQUAL(cfg.threads, 64);
}

/* Each bad value is refused with a message naming its variable. */
static void
test_config_bad_values_name_the_variable(void)
{
	static const char *const cases[][2] = {
		{ "KEYROTA_WORKERS", "0" },
		{ "KEYROTA_WORKERS", "-1" },
		{ "KEYROTA_WORKERS", "2x" },
		{ "KEYROTA_WORKERS", "99999999999999999999" },
		{ "KEYROTA_THREADS", "" "1025" },
		{ "KEYROTA_THREADS", " 4" },
		{ "KEYROTA_HTTP_PORT", "70000" },
		{ "KEYROTA_MODEL_TIMEOUT_MS", "50" },
		{ "KEYROTA_MODEL_MAX_ATTEMPTS", "11" },
		{ "KEYROTA_LISTEN", "nowhere" },
		{ "KEYROTA_LISTEN", "unix:" },
		{ "KEYROTA_LISTEN", "127.0.0.1:0" },
		{ "KEYROTA_LISTEN", ":80" },
		{ "KEYROTA_PROVIDER", "gpt" },
		{ "KEYROTA_MODEL_BASE_URL", "ftp://example" },
		{ "KEYROTA_MODEL", "" },
		{ "KEYROTA_MODEL", "bad\nmodel" },
		{ "KEYROTA_DB_POOL_SIZE", "65" },
		{ "KEYROTA_MODEL_CA_FILE", "certs/ca.pem" },
		{ "KEYROTA_MAX_IN_FLIGHT", "-5" },
		{ "KEYROTA_MAX_IN_FLIGHT", "1000001" },
		{ "KEYROTA_MODEL_BUDGET_PER_MINUTE", "lots" },
	};
	struct config cfg;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *env[] = { cases[i][0], cases[i][1], NULL };

		err[0] = '\0';
		CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i][0]));
	}
}

static void
test_config_long_socket_path_refused(void)
{
	char path[200];
	const char *env[] = { "KEYROTA_LISTEN", path, NULL };
	struct config cfg;
	char err[256];

	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, "unix:", 5);
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_LISTEN"));
}

static void
test_config_provider_follows_key_file(void)
{
	const char *with_key[] = { "KEYROTA_MODEL_KEY_FILE", "/etc/k", NULL };
	const char *openai_no_key[] = { "KEYROTA_PROVIDER", "openai", NULL };
	const char *forced[] = { "KEYROTA_MODEL_KEY_FILE", "/etc/k",
	    "KEYROTA_PROVIDER", "fixture", NULL };
	struct config cfg;
	char err[256];

	CU_ASSERT_EQUAL(load(with_key, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_OPENAI);
	CU_ASSERT_EQUAL(load(openai_no_key, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_MODEL_KEY_FILE"));
	CU_ASSERT_EQUAL(load(forced, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_FIXTURE);
}

/* systemd's LoadCredential=keyrota:/etc/keyrota: unset key file variables
 * name the credentials that were passed, and only those. */
static void
test_config_key_files_from_credentials(void)
{
	char dir[] = "/tmp/keyrota-cred-XXXXXX", fp[64], model[64], headers[64];
	const char *env[] = { "CREDENTIALS_DIRECTORY", dir, NULL };
	const char *explicit_env[] = { "CREDENTIALS_DIRECTORY", dir,
	    "KEYROTA_FINGERPRINT_KEY_FILE", "/etc/other.key", NULL };
	struct config cfg;
	char err[256] = "";
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(fp, sizeof(fp), "%s/keyrota_fingerprint.key", dir);
	snprintf(model, sizeof(model), "%s/keyrota_model.key", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(fp, "w"));
	fputs("00112233\n", f);
	fclose(f);

	/* No model key credential: the fixture. */
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.fingerprint_key_file, fp);
	CU_ASSERT_STRING_EQUAL(cfg.model_key_file, "");
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_FIXTURE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(model, "w"));
	fputs("sk-test\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.model_key_file, model);
	CU_ASSERT_EQUAL(cfg.provider, PROVIDER_OPENAI);

	/* A headers file credential is found like the key's. */
	CU_ASSERT_STRING_EQUAL(cfg.model_headers_file, "");
	snprintf(headers, sizeof(headers), "%s/keyrota_model.headers", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(headers, "w"));
	fputs("X-Tenant: t\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.model_headers_file, headers);

	/* A variable that is set wins over the credential. */
	CU_ASSERT_EQUAL(load(explicit_env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.fingerprint_key_file, "/etc/other.key");

	unlink(fp);
	unlink(model);
	unlink(headers);
	rmdir(dir);
}

/* A FastCGI port others can reach is an open door to every parameter,
 * the admin user's among them, unless libfcgi filters peers. */
static void
test_config_tcp_beyond_loopback_needs_peer_filter(void)
{
	static const char *const loopback[] = { "127.0.0.1:9000",
	    "127.1.2.3:9000", "localhost:9000", "::1:9000", "[::1]:9000" };
	static const char *const open_hosts[] = { "0.0.0.0:9000",
	    "10.0.0.5:9000", "example.com:9000", ":::9000", "127.0.0.1.nip.io:1" };
	const char *env[] = { "KEYROTA_LISTEN", NULL, NULL, NULL, NULL };
	struct config cfg;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		env[1] = loopback[i];
		err[0] = '\0';
		CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	}
	for (i = 0; i < sizeof(open_hosts) / sizeof(open_hosts[0]); i++) {
		env[1] = open_hosts[i];
		err[0] = '\0';
		CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "FCGI_WEB_SERVER_ADDRS"));
	}
	env[1] = "10.0.0.5:9000";
	env[2] = "FCGI_WEB_SERVER_ADDRS";
	env[3] = "10.0.0.2";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	env[3] = "";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
}

static void
test_config_admin_user(void)
{
	const char *env[] = { NULL, NULL, NULL };
	struct config cfg;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.admin_user, "admin");
	env[0] = "KEYROTA_ADMIN_USER";
	env[1] = "operator";
	CU_ASSERT_EQUAL_FATAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.admin_user, "operator");
	env[1] = "";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "KEYROTA_ADMIN_USER"));
	env[1] = "ad:min";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
}

/* The key travels in a header: over plain HTTP only to this machine,
 * unless the operator says otherwise. */
static void
test_config_insecure_model_url(void)
{
	static const char *const ok[] = { "https://api.openai.com/v1",
	    "http://127.0.0.1:8000/v1", "http://localhost:11434/v1",
	    "http://[::1]:8000/v1", "HTTPS://gateway.example/v1" };
	static const char *const clear[] = { "http://api.example.com/v1",
	    "http://10.1.2.3:8000/v1", "http://127.0.0.1.evil.example/v1",
	    "http://localhost.evil.example/v1", "http://user@10.0.0.1/",
	    "http://127.0.0.1@evil.example/v1", "HTTP://api.example.com" };
	const char *env[] = { "KEYROTA_MODEL_BASE_URL", NULL, NULL, NULL, NULL };
	struct config cfg;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		env[1] = ok[i];
		err[0] = '\0';
		CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	}
	for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
		env[1] = clear[i];
		err[0] = '\0';
		CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err,
		    "KEYROTA_MODEL_ALLOW_INSECURE"));
	}
	env[1] = "http://api.example.com/v1";
	env[2] = "KEYROTA_MODEL_ALLOW_INSECURE";
	env[3] = "1";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), 0);
	env[3] = "yes";
	CU_ASSERT_EQUAL(load(env, &cfg, err, sizeof(err)), -1);
}

static void
test_config_parse_uint(void)
{
	unsigned v = 7;

	CU_ASSERT_EQUAL(config_parse_uint("42", 0, 100, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(config_parse_uint("101", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(config_parse_uint("+1", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(config_parse_uint("", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(config_parse_uint("4294967296", 0, 4294967295u, &v),
	    -1);
	CU_ASSERT_EQUAL(v, 42);
}

/* The default cap on decisions in flight follows the descriptor limit
 * (README, "Under load"): two per decision after a reserve, at least 1,
 * at most 16384. */
static void
test_config_in_flight_default_follows_descriptors(void)
{
	const char *env[] = { "KEYROTA_DB_POOL_SIZE", "8", "KEYROTA_THREADS",
	    "16", NULL };
	const char *set[] = { "KEYROTA_MAX_IN_FLIGHT", "7",
	    "KEYROTA_MODEL_BUDGET_PER_MINUTE", "600", NULL };
	struct config cfg;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(load(env, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.max_in_flight, 0);
	CU_ASSERT_EQUAL(cfg.model_budget_per_minute, 0);
	CU_ASSERT_EQUAL(config_default_in_flight(&cfg, 1024), (1024 - 88) / 2);
	CU_ASSERT_EQUAL(config_default_in_flight(&cfg, 20000), (20000 - 88) / 2);
	CU_ASSERT_EQUAL(config_default_in_flight(&cfg, 1048576), 16384);
	CU_ASSERT_EQUAL(config_default_in_flight(&cfg, 64), 1);
	CU_ASSERT_EQUAL_FATAL(load(set, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.max_in_flight, 7);
	CU_ASSERT_EQUAL(cfg.model_budget_per_minute, 600);
}

void
suite_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);

	ADD_TEST(s, test_config_defaults);
	ADD_TEST(s, test_config_tcp_listen_and_numbers);
	ADD_TEST(s, test_config_bad_values_name_the_variable);
	ADD_TEST(s, test_config_long_socket_path_refused);
	ADD_TEST(s, test_config_provider_follows_key_file);
	ADD_TEST(s, test_config_key_files_from_credentials);
	ADD_TEST(s, test_config_parse_uint);
	ADD_TEST(s, test_config_tcp_beyond_loopback_needs_peer_filter);
	ADD_TEST(s, test_config_admin_user);
	ADD_TEST(s, test_config_insecure_model_url);
	ADD_TEST(s, test_config_in_flight_default_follows_descriptors);
}
