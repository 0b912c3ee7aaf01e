/* migrate: apply pending migrations of each service schema
 * (migrations/<schema>/NNNN_what.sql) to a database; see common/migrate.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "migrate.h"

static const char usage_text[] =
    "usage: migrate [--dir DIR] [--database URL] [SCHEMA...]\n"
    "\n"
    "Apply the pending migrations DIR/SCHEMA/NNNN_name.sql, each in\n"
    "its own transaction as role sc_SCHEMA; the role and the schema\n"
    "are created when missing.\n"
    "\n"
    "  --dir DIR       migrations folder (default: migrations)\n"
    "  --database URL  admin connection\n"
    "                  (default: $SC_MIGRATE_DATABASE_URL)\n"
    "  SCHEMA...       schemas to migrate (default: every folder\n"
    "                  in DIR, in sorted order)\n"
    "  --help          this text\n"
    "\n"
    "When SC_DB_PASSWORD_<SCHEMA> is set (e.g. SC_DB_PASSWORD_AUTH),\n"
    "it becomes the password of role sc_<schema>.\n";

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The subfolders of dir, sorted; caller owns the array and its strings
 * (free each, then the array). -1 when dir cannot be read. */
static int
list_schemas(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *path;
		int is_dir;

		if (e->d_name[0] == '.') {
			continue;
		}
		path = sc_asprintf("%s/%s", dir, e->d_name);
		is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
		free(path);
		if (!is_dir) {
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			names = sc_realloc(names, (size_t)cap * sizeof *names);
		}
		names[n++] = sc_strdup(e->d_name);
	}
	closedir(d);
	if (n > 1) {
		qsort(names, (size_t)n, sizeof *names, name_cmp);
	}
	*out = names;
	return n;
}

/* SC_DB_PASSWORD_<SCHEMA>, or NULL. Borrowed from the environment. */
static const char *
role_password(const char *schema)
{
	char var[128];
	int n = snprintf(var, sizeof var, "SC_DB_PASSWORD_%s", schema);

	if (n < 0 || (size_t)n >= sizeof var) {
		return NULL;
	}
	for (char *p = var; *p != '\0'; p++) {
		*p = (char)toupper((unsigned char)*p);
	}
	return sc_config_str(var, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"database", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = "migrations";
	const char *url = NULL;
	char **schemas = NULL;
	int nschemas, opt, status = 0;
	PGconn *pg;
	char err[1024];

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'D':
			url = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (url == NULL) {
		url = sc_config_str("SC_MIGRATE_DATABASE_URL", NULL);
	}
	if (url == NULL) {
		fprintf(stderr,
		        "migrate: no database: pass --database URL or set "
		        "SC_MIGRATE_DATABASE_URL\n");
		return 2;
	}
	if (optind < argc) {
		nschemas = argc - optind;
		schemas = sc_calloc((size_t)nschemas, sizeof *schemas);
		for (int i = 0; i < nschemas; i++) {
			schemas[i] = sc_strdup(argv[optind + i]);
		}
	} else {
		nschemas = list_schemas(dir, &schemas);
		if (nschemas < 0) {
			fprintf(stderr, "migrate: cannot open '%s': %s\n", dir,
			        strerror(errno));
			return 1;
		}
		if (nschemas == 0) {
			fprintf(stderr, "migrate: no schema folders in '%s'\n",
			        dir);
			return 1;
		}
	}

	pg = PQconnectdb(url);
	if (PQstatus(pg) != CONNECTION_OK) {
		const char *m = PQerrorMessage(pg);
		fprintf(stderr,
		        "migrate: cannot connect to the database: %.*s\n",
		        (int)strcspn(m, "\n"), m);
		status = 1;
		goto out;
	}
	for (int i = 0; i < nschemas; i++) {
		int rc = sc_migrate_schema(pg, dir, schemas[i],
		                           role_password(schemas[i]), stdout,
		                           NULL, err, sizeof err);
		if (rc != SC_OK) {
			fprintf(stderr, "migrate: %s\n", err);
			status = 1;
			break;
		}
	}
out:
	PQfinish(pg);
	for (int i = 0; i < nschemas; i++) {
		free(schemas[i]);
	}
	free(schemas);
	return status;
}
