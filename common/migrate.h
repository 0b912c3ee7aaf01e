/* migrate.h: the migration runner. Migrations are numbered SQL files per
 * service schema: <dir>/<schema>/NNNN_what.sql. For each schema the runner
 * makes sure the login role "sc_<schema>" and the schema (owned by that
 * role) exist, then applies in version order every file not yet recorded
 * in <schema>.schema_migrations, each in its own transaction together with
 * its record, running as the schema's role (SET LOCAL ROLE) so every object
 * belongs to it. The role gets no rights outside its schema.
 *
 * Synchronous libpq: this runs in a command-line tool, never on a daemon's
 * event loop. Idempotent: a second run applies nothing. A failing migration
 * is rolled back whole and stops the run with an error naming the file. */
#ifndef SC_MIGRATE_H
#define SC_MIGRATE_H

#include <libpq-fe.h>
#include <stdio.h>

/* Apply pending migrations of `schema` from <dir>/<schema>/ on `admin`, a
 * connection with rights to create roles and schemas (borrowed). Progress
 * lines ("auth: applied 0001_init.sql") go to `progress` when not NULL.
 * `role_password` may be NULL (no password set). *applied (may be NULL)
 * gets the number of files applied. SC_OK, or SC_EINVAL (bad file name,
 * unreadable dir) / SC_EDB (SQL failure); the message is written to
 * `errbuf` (errlen bytes). */
int sc_migrate_schema(PGconn *admin, const char *dir, const char *schema,
                      const char *role_password, FILE *progress, int *applied,
                      char *errbuf, size_t errlen);

#endif
