/* cmd_migrate: applies the numbered SQL files of KEYROTA_SQL_DIR in order.
 *
 * Each file runs in its own transaction and is recorded, with the SHA-256
 * of its text, in schema_migrations. Files already applied are skipped; an
 * applied file whose text has changed, or that is missing, stops everything
 * before any new file runs. A session advisory lock keeps two migrators
 * from interleaving. After the numbered files, grants.sql sets the runtime
 * role's rights again (README, "Database roles"). */
#ifndef KEYROTA_CMD_MIGRATE_H
#define KEYROTA_CMD_MIGRATE_H

#include <libpq-fe.h>

/* Called with each pending migration's file name, in order, before it is
 * applied (or, in a dry run, instead). */
typedef void (*cmd_migrate_list_fn)(const char *name, void *arg);

/* Applies pending migrations and then the grants, or with dry_run changes
 * nothing and only lists and counts the pending ones. Returns 0 on
 * success; on error writes err. */
int cmd_migrate_run(PGconn *conn, const char *sql_dir, int dry_run,
        cmd_migrate_list_fn each, void *arg, unsigned *pending, char *err,
        size_t errlen);

/* Checks the connected role as the runtime role: returns how many things it
 * may do that only the owner should (write accounts, policy_lines or the
 * migration record, create anything, create roles, become the owner),
 * listed in what; -1 on error with err written. */
int cmd_migrate_check_runtime_role(PGconn *conn, char *what, size_t whatlen,
        char *err, size_t errlen);

#endif
