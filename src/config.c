#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/local/share/keyrota"
#endif

int
config_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (s == NULL || *s == '\0' || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Each provider's own endpoint and model: a key must only ever go to the
 * service it was issued by (README, "Configuration"). The fixture calls
 * nothing; its row keeps the openai values, the defaults from before
 * there was a choice of provider. */
static const struct {
	const char *name;
	const char *base_url;
	const char *model;
} providers[] = {
	[PROVIDER_FIXTURE]   = { "fixture",   "https://api.openai.com/v1",
	    "gpt-4o-mini" },
	[PROVIDER_OPENAI]    = { "openai",    "https://api.openai.com/v1",
	    "gpt-4o-mini" },
	[PROVIDER_ANTHROPIC] = { "anthropic", "https://api.anthropic.com/v1",
	    "claude-haiku-4-5" },
};

const char *
config_provider_name(enum provider_kind p)
{
	return (size_t)p < sizeof(providers) / sizeof(providers[0]) ?
	    providers[p].name : "fixture";
}

static const struct {
	const char *name;
	const char *header;
} model_auths[MODEL_AUTH__MAX] = {
	[MODEL_AUTH_BEARER]    = { "bearer",    "Authorization" },
	[MODEL_AUTH_API_KEY]   = { "api-key",   "api-key" },
	[MODEL_AUTH_X_API_KEY] = { "x-api-key", "x-api-key" },
	[MODEL_AUTH_NONE]      = { "none",      NULL },
};

const char *
config_model_auth_name(enum model_auth a)
{
	return a < MODEL_AUTH__MAX ? model_auths[a].name : "?";
}

const char *
config_model_auth_header(enum model_auth a)
{
	return a < MODEL_AUTH__MAX ? model_auths[a].header : NULL;
}

int
config_needs_model_key(const struct config *cfg)
{
	return cfg->provider != PROVIDER_FIXTURE &&
	    cfg->model_auth != MODEL_AUTH_NONE;
}

/* Copies an optional string variable into dst, refusing values that do not
 * fit or that carry control characters (they would end up in logs). */
static int
get_string(config_getenv_fn get, void *ctx, const char *name,
    const char *def, char *dst, size_t dstlen, char *err, size_t errlen)
{
	const char *v = get(name, ctx);
	const unsigned char *p;

	if (v == NULL)
		v = def;
	if (strlen(v) >= dstlen)
		return kr_errorf(err, errlen, "%s: value longer than %zu bytes",
		    name, dstlen - 1);
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return kr_errorf(err, errlen,
			    "%s: value contains a control character", name);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
get_uint(config_getenv_fn get, void *ctx, const char *name, unsigned def,
    unsigned min, unsigned max, unsigned *out, char *err, size_t errlen)
{
	const char *v = get(name, ctx);

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	if (config_parse_uint(v, min, max, out) != 0)
		return kr_errorf(err, errlen,
		    "%s: expected a whole number from %u to %u, got \"%.40s\"",
		    name, min, max, v);
	return 0;
}

/* Under systemd, key files arrive as credentials: the unit loads every
 * file of /etc/keyrota as keyrota_FILENAME (see README, "Install on
 * Debian"). A key file variable left unset names that credential when the
 * service manager passed it. */
static int
credential_default(config_getenv_fn get, void *ctx, const char *credential,
    char *dst, size_t dstlen, char *err, size_t errlen)
{
	const char *dir = get("CREDENTIALS_DIRECTORY", ctx);
	struct stat st;
	int len;

	if (dst[0] != '\0' || dir == NULL || *dir == '\0')
		return 0;
	len = snprintf(dst, dstlen, "%s/%s", dir, credential);
	if (len < 0 || (size_t)len >= dstlen) {
		dst[0] = '\0';
		return kr_errorf(err, errlen,
		    "CREDENTIALS_DIRECTORY: path longer "
		    "than %zu bytes", dstlen - 1);
	}
	if (stat(dst, &st) != 0)
		dst[0] = '\0';
	return 0;
}

/* True for localhost, ::1 (bracketed or not) and a dotted 127.0.0.0/8
 * address: names that can only mean this machine. */
static int
host_is_loopback(const char *h, size_t n)
{
	size_t i, dots = 0, digits = 0;

	if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	    (n == 3 && strncmp(h, "::1", 3) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0))
		return 1;
	if (n < 9 || strncmp(h, "127.", 4) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return 0;
			digits = 0;
		} else if (h[i] >= '0' && h[i] <= '9') {
			if (++digits > 3)
				return 0;
		} else
			return 0;
	}
	return dots == 3 && digits > 0;
}

/* The host of an http:// or https:// URL is loopback. A URL with user
 * information ("http://127.0.0.1@elsewhere/") never counts as loopback. */
static int
url_is_loopback(const char *url)
{
	const char *a = strstr(url, "://"), *end, *colon;
	size_t n;

	if (a == NULL)
		return 0;
	a += 3;
	n = strcspn(a, "/?#");

	if (memchr(a, '@', n) != NULL || n == 0)
		return 0;
	end = a + n;
	if (a[0] == '[') {
		colon = memchr(a, ']', n);
		if (colon == NULL)
			return 0;
		colon++;
	} else if ((colon = memchr(a, ':', n)) == NULL)
		colon = end;
	if (colon < end && *colon != ':')
		return 0;
	return host_is_loopback(a, (size_t)(colon - a));
}

static int
parse_listen(struct config *cfg, const char *v, char *err, size_t errlen)
{
	const char *colon;
	size_t hostlen;

	if (strncmp(v, "unix:", 5) == 0) {
		v += 5;
		if (*v == '\0')
			return kr_errorf(err, errlen,
			    "KEYROTA_LISTEN: unix: needs a socket path");
		if (strlen(v) >= sizeof(cfg->listen_path))
			return kr_errorf(err, errlen,
			    "KEYROTA_LISTEN: socket path longer than %zu bytes",
			    sizeof(cfg->listen_path) - 1);
		cfg->listen_kind = LISTEN_UNIX;
		memcpy(cfg->listen_path, v, strlen(v) + 1);
		return 0;
	}
	if ((colon = strrchr(v, ':')) == NULL)
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: expected unix:PATH or HOST:PORT, got \"%.40s\"",
		    v);
	hostlen = (size_t)(colon - v);
	if (hostlen == 0 || hostlen >= sizeof(cfg->listen_host))
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: bad host in \"%.40s\"",
		    v);
	if (config_parse_uint(colon + 1, 1, 65535, &cfg->listen_port) != 0)
		return kr_errorf(err, errlen,
		    "KEYROTA_LISTEN: bad port in \"%.40s\"",
		    v);
	cfg->listen_kind = LISTEN_TCP;
	memcpy(cfg->listen_host, v, hostlen);
	cfg->listen_host[hostlen] = '\0';
	return 0;
}

/* FastCGI has no authentication: whoever reaches the port may send any
 * parameter, the admin user's included. Beyond loopback, libfcgi must be
 * told which web servers may connect (FCGI_WEB_SERVER_ADDRS). */
static int
check_listen_peers(const struct config *cfg, config_getenv_fn get, void *ctx,
    char *err, size_t errlen)
{
	const char *peers = get("FCGI_WEB_SERVER_ADDRS", ctx);

	if (cfg->listen_kind != LISTEN_TCP ||
	    host_is_loopback(cfg->listen_host, strlen(cfg->listen_host)) ||
	    (peers != NULL && *peers != '\0'))
		return 0;
	return kr_errorf(err, errlen, "KEYROTA_LISTEN: %s is not a loopback "
	    "address; set FCGI_WEB_SERVER_ADDRS to the web servers' addresses "
	    "(comma-separated) so no one else can talk FastCGI to keyrota",
	    cfg->listen_host);
}

/* How keyrota reaches the model: the auth mode, the API version and the
 * headers file (README, "Providers"). A keyless server must be this
 * machine's: a key-less request elsewhere would be a misconfiguration,
 * not a choice. */
static int
load_model_access(struct config *cfg, config_getenv_fn get, void *ctx,
    char *err, size_t errlen)
{
	const char *v = get("KEYROTA_MODEL_AUTH", ctx);
	const char *pname = config_provider_name(cfg->provider);
	int a;

	cfg->model_auth = cfg->provider == PROVIDER_ANTHROPIC ?
	    MODEL_AUTH_X_API_KEY : MODEL_AUTH_BEARER;
	if (v != NULL && *v != '\0') {
		for (a = 0; a < MODEL_AUTH__MAX; a++)
			if (strcmp(v, model_auths[a].name) == 0)
				break;
		if (a == MODEL_AUTH__MAX)
			return kr_errorf(err, errlen,
			    "KEYROTA_MODEL_AUTH: expected "
			    "bearer, api-key, x-api-key or none, got \"%.40s\"",
			    v);
		cfg->model_auth = (enum model_auth)a;
	}
	if (get_string(get, ctx, "KEYROTA_MODEL_API_VERSION",
	    cfg->provider == PROVIDER_ANTHROPIC ? "2023-06-01" : "",
	    cfg->model_api_version, sizeof(cfg->model_api_version), err,
	    errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_MODEL_HEADERS_FILE", "",
	    cfg->model_headers_file, sizeof(cfg->model_headers_file), err,
	    errlen) != 0 ||
	    credential_default(get, ctx, "keyrota_model.headers",
	    cfg->model_headers_file, sizeof(cfg->model_headers_file), err,
	    errlen) != 0)
		return -1;
	if (cfg->provider == PROVIDER_ANTHROPIC &&
	    cfg->model_api_version[0] == '\0')
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_API_VERSION: must not be "
		    "empty for anthropic (the anthropic-version header)");
	if (cfg->provider == PROVIDER_FIXTURE)
		return 0;
	if (cfg->model_auth == MODEL_AUTH_NONE &&
	    !url_is_loopback(cfg->model_base_url))
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_AUTH: none is only for a "
		    "server on this machine; KEYROTA_MODEL_BASE_URL must name "
		    "127.0.0.1, ::1 or localhost");
	if (config_needs_model_key(cfg) && cfg->model_key_file[0] == '\0')
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_KEY_FILE: required when "
		    "KEYROTA_PROVIDER is %s (KEYROTA_MODEL_AUTH=none runs a "
		    "loopback server without a key)", pname);
	return 0;
}

int
config_load(struct config *cfg, config_getenv_fn get, void *ctx, char *err,
    size_t errlen)
{
	const char *v, *auth;
	long ncpu;
	unsigned def_workers;

	memset(cfg, 0, sizeof(*cfg));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	def_workers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;

	if (get_string(get, ctx, "KEYROTA_DATABASE_URL", "",
	    cfg->database_url, sizeof(cfg->database_url), err, errlen) != 0)
		return -1;

	v = get("KEYROTA_LISTEN", ctx);
	if (parse_listen(cfg, v != NULL && *v != '\0' ? v :
	    "unix:var/run/keyrota.sock", err, errlen) != 0 ||
	    check_listen_peers(cfg, get, ctx, err, errlen) != 0)
		return -1;

	if (get_uint(get, ctx, "KEYROTA_WORKERS", def_workers, 1, 256,
	    &cfg->workers, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_THREADS", 16, 1, 1024,
	    &cfg->threads, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_HTTP_PORT", 8080, 1, 65535,
	    &cfg->http_port, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_DB_POOL_SIZE", 8, 1, 64,
	    &cfg->db_pool_size, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_MAX_REQUESTS", 10000, 0, 1000000000,
	    &cfg->max_requests, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_MODEL_TIMEOUT_MS", 8000, 100, 600000,
	    &cfg->model_timeout_ms, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_MODEL_MAX_ATTEMPTS", 2, 1, 10,
	    &cfg->model_max_attempts, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_FIXTURE_DELAY_MS", 0, 0, 60000,
	    &cfg->fixture_delay_ms, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_REAPER_INTERVAL_MS", 10000, 100,
	    3600000, &cfg->reaper_interval_ms, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_REAPER_GRACE_MS", 30000, 0, 3600000,
	    &cfg->reaper_grace_ms, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_TRACE_RETENTION_DAYS",
	    CONFIG_RETENTION_DAYS_DEFAULT, 0, 36500, &cfg->retention_days, err,
	    errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_MAX_IN_FLIGHT", 0, 0, 1000000,
	    &cfg->max_in_flight, err, errlen) != 0 ||
	    get_uint(get, ctx, "KEYROTA_MODEL_BUDGET_PER_MINUTE", 0, 0,
	    100000000, &cfg->model_budget_per_minute, err, errlen) != 0)
		return -1;
	/* In-flight requests may run as long as a whole decision: its model
	 * deadline, then its terminal write, retried until the trace's
	 * deadline (the reaper grace), plus one last try. */
	cfg->drain_timeout_ms = (cfg->fixture_delay_ms > cfg->model_timeout_ms ?
	    cfg->fixture_delay_ms : cfg->model_timeout_ms) +
	    cfg->reaper_grace_ms + 5000;
	if (cfg->drain_timeout_ms < 12000)
		cfg->drain_timeout_ms = 12000;

	/* The base URL and model defaults depend on the provider, chosen
	 * below; "" here means unset until then. */
	if (get_string(get, ctx, "KEYROTA_MODEL_BASE_URL", "",
	    cfg->model_base_url, sizeof(cfg->model_base_url), err,
	    errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_MODEL", "", cfg->model,
	    sizeof(cfg->model), err, errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_MODEL_KEY_FILE", "",
	    cfg->model_key_file, sizeof(cfg->model_key_file), err,
	    errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_MODEL_CA_FILE", "",
	    cfg->model_ca_file, sizeof(cfg->model_ca_file), err,
	    errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_FINGERPRINT_KEY_FILE", "",
	    cfg->fingerprint_key_file, sizeof(cfg->fingerprint_key_file),
	    err, errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_USER", "keyrota", cfg->user,
	    sizeof(cfg->user), err, errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_ADMIN_USER", "admin", cfg->admin_user,
	    sizeof(cfg->admin_user), err, errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_SQL_DIR", PKGDATADIR "/sql",
	    cfg->sql_dir, sizeof(cfg->sql_dir), err, errlen) != 0 ||
	    get_string(get, ctx, "KEYROTA_TEMPLATE_DIR", PKGDATADIR "/templates",
	    cfg->template_dir, sizeof(cfg->template_dir), err, errlen) != 0)
		return -1;
	if (credential_default(get, ctx, "keyrota_model.key", cfg->model_key_file,
	    sizeof(cfg->model_key_file), err, errlen) != 0 ||
	    credential_default(get, ctx, "keyrota_fingerprint.key",
	    cfg->fingerprint_key_file, sizeof(cfg->fingerprint_key_file), err,
	    errlen) != 0)
		return -1;

	v = get("KEYROTA_PROVIDER", ctx);
	/* A key file, or an explicit KEYROTA_MODEL_AUTH=none (a loopback
	 * server without a key), means a real model: OpenAI's protocol. */
	auth = get("KEYROTA_MODEL_AUTH", ctx);
	if (v == NULL || *v == '\0')
		cfg->provider = cfg->model_key_file[0] != '\0' ||
		    (auth != NULL && strcmp(auth, "none") == 0) ?
		    PROVIDER_OPENAI : PROVIDER_FIXTURE;
	else if (strcmp(v, "openai") == 0)
		cfg->provider = PROVIDER_OPENAI;
	else if (strcmp(v, "anthropic") == 0)
		cfg->provider = PROVIDER_ANTHROPIC;
	else if (strcmp(v, "fixture") == 0)
		cfg->provider = PROVIDER_FIXTURE;
	else
		return kr_errorf(err, errlen,
		    "KEYROTA_PROVIDER: expected openai, "
		    "anthropic or fixture, got \"%.40s\"", v);
	if (get("KEYROTA_MODEL_BASE_URL", ctx) == NULL)
		memcpy(cfg->model_base_url, providers[cfg->provider].base_url,
		    strlen(providers[cfg->provider].base_url) + 1);
	if (get("KEYROTA_MODEL", ctx) == NULL)
		memcpy(cfg->model, providers[cfg->provider].model,
		    strlen(providers[cfg->provider].model) + 1);

	if (get_string(get, ctx, "KEYROTA_MODEL_MAX_TOKENS_FIELD",
	    "max_completion_tokens", cfg->model_max_tokens_field,
	    sizeof(cfg->model_max_tokens_field), err, errlen) != 0)
		return -1;
	if (strcmp(cfg->model_max_tokens_field, "max_completion_tokens") != 0 &&
	    strcmp(cfg->model_max_tokens_field, "max_tokens") != 0)
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_MAX_TOKENS_FIELD: expected "
		    "max_completion_tokens or max_tokens");
	if (strncasecmp(cfg->model_base_url, "https://", 8) != 0 &&
	    strncasecmp(cfg->model_base_url, "http://", 7) != 0)
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_BASE_URL: expected an http:// or https:// URL");
	/* The path is appended to the base URL: a query or fragment there
	 * would swallow it. */
	if (strpbrk(cfg->model_base_url, "?#") != NULL)
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_BASE_URL: must not "
		    "contain '?' or '#'; set a query parameter such as "
		    "api-version with KEYROTA_MODEL_API_VERSION");
	/* Plain HTTP would carry the key in clear to whoever is on the way. */
	v = get("KEYROTA_MODEL_ALLOW_INSECURE", ctx);
	if (v != NULL && *v != '\0' && strcmp(v, "0") != 0 &&
	    strcmp(v, "1") != 0)
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_ALLOW_INSECURE: expected 0 or 1");
	if (strncasecmp(cfg->model_base_url, "http://", 7) == 0 &&
	    !url_is_loopback(cfg->model_base_url) &&
	    (v == NULL || strcmp(v, "1") != 0))
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_BASE_URL: an http:// URL "
		    "must name this machine (127.0.0.1, ::1, localhost); use "
		    "https://, or set KEYROTA_MODEL_ALLOW_INSECURE=1 to send the "
		    "key in clear");
	/* Read by libcurl at each new connection, after a chdir and a
	 * privilege drop: a relative path would name another file. */
	if (cfg->model_ca_file[0] != '\0' && cfg->model_ca_file[0] != '/')
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL_CA_FILE: expected an absolute path");
	if (cfg->model[0] == '\0')
		return kr_errorf(err, errlen,
		    "KEYROTA_MODEL: must not be empty");
	/* htpasswd's own rule: a user name has no ':'. */
	if (cfg->admin_user[0] == '\0' || strchr(cfg->admin_user, ':') != NULL)
		return kr_errorf(err, errlen,
		    "KEYROTA_ADMIN_USER: must be a non-empty "
		    "name without ':'");

	return load_model_access(cfg, get, ctx, err, errlen);
}

/* Every parked decision holds its FastCGI connection and, over HTTP/1.1,
 * one connection to the model: two descriptors. The workers share the
 * cap but each has its own descriptor limit, and nothing keeps the kernel
 * from handing one worker most connections, so the cap is what one
 * worker can hold: (nofile - reserve) / 2, where the reserve covers the
 * database pool, the accept threads' sockets, logs and libraries. Past
 * IN_FLIGHT_DEFAULT_MAX memory, not descriptors, is the limit. */
#define IN_FLIGHT_RESERVE       64
#define IN_FLIGHT_DEFAULT_MAX   16384

unsigned
config_default_in_flight(const struct config *cfg, unsigned long long nofile)
{
	unsigned long long reserve = IN_FLIGHT_RESERVE +
	    (unsigned long long)cfg->db_pool_size + cfg->threads, n;

	n = nofile > reserve ? (nofile - reserve) / 2 : 0;
	if (n < 1)
		n = 1;
	return n > IN_FLIGHT_DEFAULT_MAX ? IN_FLIGHT_DEFAULT_MAX : (unsigned)n;
}

static const char *
environ_get(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int
config_from_environ(struct config *cfg, char *err, size_t errlen)
{
	return config_load(cfg, environ_get, NULL, err, errlen);
}
