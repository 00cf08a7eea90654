#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "errors.h"
#include "fingerprint.h"
#include "log.h"
#include "cmd_migrate.h"

#define MIGRATION_MAX_FILES 512
#define MIGRATION_MAX_BYTES (1024 * 1024)
/* Any fixed number shared by every keyrota migrator. */
#define MIGRATION_LOCK_ID   "7424197001"
/* Applied after the numbered files on every run (README, "Database roles"). */
#define GRANTS_FILE         "grants.sql"

struct migration {
	char  name[128];      /* file name, e.g. 001_initial.sql */
	char  checksum[65];   /* SHA-256, hex */
	char *sql;
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct migration *)a)->name,
	    ((const struct migration *)b)->name);
}

/* Names that look like NNN_words.sql. */
static int
is_migration_name(const char *s)
{
	size_t n = strlen(s);

	return n > 8 && n < 128 && s[0] >= '0' && s[0] <= '9' &&
	    s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
	    s[3] == '_' && strcmp(s + n - 4, ".sql") == 0;
}

static void
free_migrations(struct migration *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].sql);
	free(m);
}

static int
load_migrations(const char *dir, struct migration **out, size_t *count,
    char *err, size_t errlen)
{
	struct migration *m;
	struct dirent *de;
	struct buf text;
	char path[1024];
	size_t n = 0;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return kr_errorf(err, errlen,
		    "KEYROTA_SQL_DIR: cannot open %s: %s",
		    dir, strerror(errno));
	m = kr_calloc(MIGRATION_MAX_FILES, sizeof(*m));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!is_migration_name(de->d_name))
			continue;
		if (n == MIGRATION_MAX_FILES) {
			rc = kr_errorf(err, errlen,
			    "too many migrations in %s", dir);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf_init(&text, MIGRATION_MAX_BYTES);
		if (buf_read_file(&text, path) != BUF_OK) {
			buf_free(&text);
			rc = kr_errorf(err, errlen, "cannot read %s", path);
			break;
		}
		memcpy(m[n].name, de->d_name, strlen(de->d_name) + 1);
		fingerprint_sha256_hex(buf_str(&text), text.len, m[n].checksum);
		if ((m[n].sql = buf_detach(&text)) == NULL)
			m[n].sql = kr_strdup("");
		n++;
	}
	closedir(d);
	if (rc != 0) {
		free_migrations(m, n);
		return rc;
	}
	qsort(m, n, sizeof(*m), by_name);
	*out = m;
	*count = n;
	return 0;
}

static int
command_ok(PGconn *conn, PGresult *res, ExecStatusType want, char *err,
    size_t errlen, const char *what)
{
	int ok = PQresultStatus(res) == want;

	if (!ok)
		kr_errorf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

static int
simple(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	return command_ok(conn, PQexecParams(conn, sql, 0, NULL, NULL, NULL,
	    NULL, 0), PGRES_COMMAND_OK, err, errlen, sql);
}

/* Every applied migration must still have its file, unchanged. */
static int
verify_applied(PGconn *conn, const struct migration *m, size_t n,
    char *applied, char *err, size_t errlen)
{
	PGresult *res;
	const char *name, *sum;
	int i, rows, rc = 0;
	size_t j;

	res = PQexecParams(conn, "SELECT version, checksum FROM "
	    "schema_migrations ORDER BY version", 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return command_ok(conn, res, PGRES_TUPLES_OK, err, errlen,
		    "reading schema_migrations");
	rows = PQntuples(res);
	for (i = 0; i < rows && rc == 0; i++) {
		name = PQgetvalue(res, i, 0);
		sum = PQgetvalue(res, i, 1);
		for (j = 0; j < n && strcmp(m[j].name, name) != 0; j++)
			;
		if (j == n)
			rc = kr_errorf(err, errlen,
			    "migration %s is applied but "
			    "has no file (is this an older keyrota?)", name);
		else if (strcmp(m[j].checksum, sum) != 0)
			rc = kr_errorf(err, errlen,
			    "migration %s has changed since "
			    "it was applied; write a new migration instead",
			    name);
		else
			applied[j] = 1;
	}
	PQclear(res);
	return rc;
}

static int
apply_one(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
	const char *params[2] = { m->name, m->checksum };
	PGresult *res;

	if (simple(conn, "BEGIN", err, errlen) != 0)
		return -1;
	/* A migration file is trusted SQL from the install, possibly with
	 * several statements, which only the simple protocol runs. */
	res = PQexec(conn, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		kr_errorf(err, errlen, "migration %s failed: %s", m->name,
		    PQerrorMessage(conn));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	res = PQexecParams(conn, "INSERT INTO schema_migrations "
	    "(version, checksum) VALUES ($1, $2)", 2, NULL, params, NULL, NULL,
	    0);
	if (command_ok(conn, res, PGRES_COMMAND_OK, err, errlen,
	    "recording migration") != 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	if (simple(conn, "COMMIT", err, errlen) != 0)
		return -1;
	log_info("applied migration %s", m->name);
	return 0;
}

/* 1 when the table exists, 0 when not, -1 on error. */
static int
table_exists(PGconn *conn, const char *table, char *err, size_t errlen)
{
	const char *params[1] = { table };
	PGresult *res;
	int rc;

	res = PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		kr_errorf(err, errlen, "looking for %s: %s", table,
		    PQerrorMessage(conn));
		rc = -1;
	} else
		rc = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* The runtime role's grants, in their own transaction, so a schema and its
 * grants never disagree for long and a failed grant names itself. A dry
 * run only makes sure the file is there to read. */
static int
apply_grants(PGconn *conn, const char *sql_dir, int dry_run, char *err,
    size_t errlen)
{
	struct buf text;
	char path[1024];
	PGresult *res;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", sql_dir, GRANTS_FILE);
	buf_init(&text, MIGRATION_MAX_BYTES);
	if (buf_read_file(&text, path) != BUF_OK) {
		kr_errorf(err, errlen, "cannot read %s", path);
		goto out;
	}
	if (dry_run) {
		rc = 0;
		goto out;
	}
	if (simple(conn, "BEGIN", err, errlen) != 0)
		goto out;
	/* Trusted SQL from the install, like the migrations. */
	res = PQexec(conn, buf_str(&text));
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		kr_errorf(err, errlen, "%s failed: %s", GRANTS_FILE,
		    PQerrorMessage(conn));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	PQclear(res);
	if (simple(conn, "COMMIT", err, errlen) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&text);
	return rc;
}

int
cmd_migrate_run(PGconn *conn, const char *sql_dir, int dry_run,
    cmd_migrate_list_fn each, void *arg, unsigned *pending, char *err,
    size_t errlen)
{
	struct migration *m = NULL;
	char *applied = NULL;
	size_t n = 0, i;
	int rc = -1, locked = 0, exists = 1;

	*pending = 0;
	if (load_migrations(sql_dir, &m, &n, err, errlen) != 0)
		return -1;
	applied = kr_calloc(n + 1, 1);
	if (simple(conn, "SET client_min_messages = warning", err,
	    errlen) != 0 ||
	    command_ok(conn, PQexecParams(conn, "SELECT pg_advisory_lock("
	    MIGRATION_LOCK_ID ")", 0, NULL, NULL, NULL, NULL, 0),
	    PGRES_TUPLES_OK, err, errlen, "taking the migration lock") != 0)
		goto out;
	locked = 1;
	/* A dry run changes nothing, and may run as the runtime role, which
	 * cannot create tables: on a new database everything is pending. */
	if (dry_run) {
		if ((exists = table_exists(conn, "schema_migrations", err,
		    errlen)) < 0)
			goto out;
	} else if (simple(conn, "CREATE TABLE IF NOT EXISTS "
	    "schema_migrations (version text PRIMARY KEY, checksum text NOT "
	    "NULL, applied_at timestamptz NOT NULL DEFAULT now())", err,
	    errlen) != 0)
		goto out;
	if (exists && verify_applied(conn, m, n, applied, err, errlen) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (applied[i])
			continue;
		(*pending)++;
		if (each != NULL)
			each(m[i].name, arg);
		if (!dry_run && apply_one(conn, &m[i], err, errlen) != 0)
			goto out;
	}
	if (apply_grants(conn, sql_dir, dry_run, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (locked)
		PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock("
		    MIGRATION_LOCK_ID ")", 0, NULL, NULL, NULL, NULL, 0));
	free(applied);
	free_migrations(m, n);
	return rc;
}

/* What the connected role could do that keyrota serve must never do:
 * write or hang a trigger on a trusted table, rewrite the migration
 * record, create anything (temporary objects included), create roles, or
 * become the owner. */
int
cmd_migrate_check_runtime_role(PGconn *conn, char *what, size_t whatlen,
    char *err, size_t errlen)
{
	PGresult *res;
	int i, n, rc = -1;
	size_t used = 0;

	what[0] = '\0';
	res = PQexecParams(conn,
	    "SELECT t.name || ' ' || p.priv FROM"
	    " (VALUES ('accounts'), ('policy_lines'), ('schema_migrations'))"
	    "  AS t (name)"
	    " CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'),"
	    "  ('TRUNCATE'), ('TRIGGER'), ('REFERENCES')) AS p (priv)"
	    " WHERE has_table_privilege(current_user, 'public.' || t.name,"
	    "  p.priv)"
	    " UNION ALL SELECT 'schema CREATE'"
	    " WHERE has_schema_privilege(current_user, 'public', 'CREATE')"
	    " UNION ALL SELECT 'database ' || p.priv FROM"
	    " (VALUES ('CREATE'), ('TEMPORARY')) AS p (priv)"
	    " WHERE has_database_privilege(current_user, current_database(),"
	    "  p.priv)"
	    " UNION ALL SELECT 'create roles' FROM pg_roles"
	    " WHERE rolname = current_user AND (rolsuper OR rolcreaterole)"
	    " UNION ALL SELECT 'become the owner' FROM pg_class c"
	    " WHERE c.oid = 'public.accounts'::regclass"
	    " AND pg_has_role(current_user, c.relowner, 'MEMBER')",
	    0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		kr_errorf(err, errlen, "reading the role's privileges: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n && used + 1 < whatlen; i++)
		used += (size_t)snprintf(what + used, whatlen - used, "%s%s",
		    i ? ", " : "", PQgetvalue(res, i, 0));
	rc = n;
out:
	PQclear(res);
	return rc;
}

