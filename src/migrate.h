/* migrate: applies the numbered SQL files of KEYROTA_SQL_DIR in order.
 *
 * Each file runs in its own transaction and is recorded, with the SHA-256
 * of its text, in schema_migrations. Files already applied are skipped; an
 * applied file whose text has changed, or that is missing, stops everything
 * before any new file runs. A session advisory lock keeps two migrators
 * from interleaving. */
#ifndef KEYROTA_MIGRATE_H
#define KEYROTA_MIGRATE_H

#include <libpq-fe.h>

/* Applies pending migrations, or with dry_run only counts them into
 * *pending. Returns 0 on success; on error writes err. */
int migrate_run(PGconn *conn, const char *sql_dir, int dry_run,
        unsigned *pending, char *err, size_t errlen);

#endif
