/* config: the environment of `keyrota serve` (README, "Configuration"),
 * validated once at start into a read-only struct. A bad value is reported
 * naming the variable, and the caller exits with status 2. */
#ifndef KEYROTA_CONFIG_H
#define KEYROTA_CONFIG_H

#include <stddef.h>

#define CONFIG_PATH_MAX 256
/* Traces and eval runs are kept this long unless configured (README,
 * "Trace retention"). */
#define CONFIG_RETENTION_DAYS_DEFAULT 365

enum listen_kind {
	LISTEN_UNIX,      /* unix:PATH, created by keyrota with mode 0660 */
	LISTEN_TCP,       /* HOST:PORT */
};

enum provider_kind {
	PROVIDER_FIXTURE,
	PROVIDER_OPENAI,
	PROVIDER_ANTHROPIC,
};

/* How the model key travels (KEYROTA_MODEL_AUTH; README, "Providers"). */
enum model_auth {
	MODEL_AUTH_BEARER,       /* Authorization: Bearer KEY */
	MODEL_AUTH_API_KEY,      /* api-key: KEY (Azure OpenAI) */
	MODEL_AUTH_X_API_KEY,    /* x-api-key: KEY (Anthropic) */
	MODEL_AUTH_NONE,         /* no key: a loopback server only */
	MODEL_AUTH__MAX
};

struct config {
	char               database_url[1024];  /* "" = libpq defaults */
	enum listen_kind   listen_kind;
	char               listen_path[108];    /* sun_path bound */
	char               listen_host[256];
	unsigned           listen_port;
	unsigned           workers;
	unsigned           threads;
	unsigned           http_port;
	unsigned           db_pool_size;
	unsigned           max_requests;        /* 0 = never recycle */
	unsigned           drain_timeout_ms;
	unsigned           fixture_delay_ms;    /* simulated model latency */
	unsigned           reaper_interval_ms;
	unsigned           reaper_grace_ms;     /* past the model deadline */
	unsigned           retention_days;      /* 0 = keep traces forever */
	/* Decisions in flight per instance before `overloaded`; 0 in the
	 * environment means "derive it from the descriptor limit", which
	 * `keyrota serve` does before it forks (config_default_in_flight). */
	unsigned           max_in_flight;
	unsigned           model_budget_per_minute;   /* 0 = unlimited */
	enum provider_kind provider;
	char               model_base_url[512];
	char               model[128];
	char               model_key_file[CONFIG_PATH_MAX];
	char               model_ca_file[CONFIG_PATH_MAX];  /* "" = system CAs */
	unsigned           model_timeout_ms;
	unsigned           model_max_attempts;
	char               model_max_tokens_field[32];
	enum model_auth    model_auth;
	/* api-version query parameter (openai), anthropic-version header
	 * (anthropic); "" = none */
	char               model_api_version[64];
	char               model_headers_file[CONFIG_PATH_MAX];  /* "" = none */
	char               fingerprint_key_file[CONFIG_PATH_MAX];
	char               user[64];            /* drop to this user when root */
	char               admin_user[64];      /* the user nginx authenticates for /admin */
	char               sql_dir[CONFIG_PATH_MAX];
	char               template_dir[CONFIG_PATH_MAX];
};

/* Looks a variable up; returns NULL when unset. Tests pass their own. */
typedef const char *(*config_getenv_fn)(const char *name, void *ctx);

/* Fills cfg from the environment seen through get. On error returns -1 and
 * writes a message naming the variable into err. */
int  config_load(struct config *cfg, config_getenv_fn get, void *ctx,
         char *err, size_t errlen);
/* config_load with the process environment. */
int  config_from_environ(struct config *cfg, char *err, size_t errlen);
/* Checked decimal conversion: the whole string, within [min, max]. */
int  config_parse_uint(const char *s, unsigned min, unsigned max,
         unsigned *out);
const char *config_provider_name(enum provider_kind p);
/* "bearer", ...; and the header that carries the key ("Authorization",
 * "api-key", "x-api-key"; NULL for none). */
const char *config_model_auth_name(enum model_auth a);
const char *config_model_auth_header(enum model_auth a);
/* True when the provider reads a key file. */
int         config_needs_model_key(const struct config *cfg);
/* The default KEYROTA_MAX_IN_FLIGHT for a process allowed nofile
 * descriptors (README, "Under load"). */
unsigned    config_default_in_flight(const struct config *cfg,
                unsigned long long nofile);

#endif
