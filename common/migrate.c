/* migrate.c: apply numbered SQL files to a service's schema, each in its own
 * transaction as the schema's role, recording version and checksum. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "alloc.h"
#include "error.h"

/* Serialises concurrent runs (role and schema creation race otherwise). */
#define MIGRATE_LOCK_KEY   "7593020411250001"
#define MIGRATE_SCHEMA_MAX 60 /* "sc_" + schema fits NAMEDATALEN - 1 */

struct migration {
	int version;
	char *file; /* "0001_init.sql" */
	char *path; /* "<dir>/<schema>/0001_init.sql" */
	char *sql;
	char checksum[2 * EVP_MAX_MD_SIZE + 1];
};

struct migrate_run {
	PGconn *pg;
	const char *schema;
	char role[64];
	char *schema_id; /* quoted identifiers, from PQescapeIdentifier */
	char *role_id;
	char *errbuf;
	size_t errlen;
	struct migration *files;
	int nfiles;
};

static void run_fail(struct migrate_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
run_fail(struct migrate_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errbuf == NULL || r->errlen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->errbuf, r->errlen, fmt, ap);
	va_end(ap);
}

/* Postgres's message without the "ERROR:  " prefix and trailing newline;
 * borrowed from res (or the connection). */
static void
pg_message(PGconn *pg, const PGresult *res, char *buf, size_t len)
{
	const char *m = res != NULL
	                    ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
	                    : NULL;
	size_t n;

	if (m == NULL) {
		m = res != NULL ? PQresultErrorMessage(res) : "";
	}
	if (*m == '\0') {
		m = PQerrorMessage(pg);
	}
	snprintf(buf, len, "%s", *m != '\0' ? m : "unknown error");
	n = strlen(buf);
	while (n > 0 && isspace((unsigned char)buf[n - 1])) {
		buf[--n] = '\0';
	}
}

/* End a failed transaction, if one is open (a ROLLBACK outside one would
 * only warn). */
static void
rollback(PGconn *pg)
{
	if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
		PQclear(PQexec(pg, "rollback"));
	}
}

/* Run `sql` (with optional text params); SC_OK or SC_EDB with the error
 * written as "<what>: <postgres message>". */
static int
run_sql(struct migrate_run *r, const char *what, const char *sql, int n,
        const char *const *params)
{
	PGresult *res =
	    PQexecParams(r->pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return SC_OK;
	}
	pg_message(r->pg, res, msg, sizeof msg);
	run_fail(r, "%s: %s: %s", r->schema, what, msg);
	PQclear(res);
	return SC_EDB;
}

/* Like run_sql for a query; on SC_OK *out is the result (caller owns;
 * free with PQclear). */
static int
query_sql(struct migrate_run *r, const char *what, const char *sql, int n,
          const char *const *params, PGresult **out)
{
	PGresult *res =
	    PQexecParams(r->pg, sql, n, NULL, params, NULL, NULL, 0);
	char msg[512];

	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		*out = res;
		return SC_OK;
	}
	pg_message(r->pg, res, msg, sizeof msg);
	run_fail(r, "%s: %s: %s", r->schema, what, msg);
	PQclear(res);
	return SC_EDB;
}

static bool
schema_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MIGRATE_SCHEMA_MAX ||
	    !(islower((unsigned char)s[0]) || s[0] == '_')) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_')) {
			return false;
		}
	}
	return true;
}

/* ^[0-9]{4}_[a-z0-9_]+\.sql$ */
static bool
file_name_ok(const char *f)
{
	size_t n = strlen(f);

	if (n < 10 || strcmp(f + n - 4, ".sql") != 0 || f[4] != '_') {
		return false;
	}
	for (size_t i = 0; i < n - 4; i++) {
		char c = f[i];
		bool digit = c >= '0' && c <= '9';
		if (i < 4 ? !digit
		          : i > 4 && !(digit || (c >= 'a' && c <= 'z') ||
		                       c == '_')) {
			return false;
		}
	}
	return true;
}

static bool
is_sql_file(const char *f)
{
	size_t n = strlen(f);

	return n >= 4 && strcasecmp(f + n - 4, ".sql") == 0;
}

static int
migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static void
files_free(struct migration *files, int n)
{
	for (int i = 0; i < n; i++) {
		free(files[i].file);
		free(files[i].path);
		free(files[i].sql);
	}
	free(files);
}

/* Read a whole file; caller owns *out (free with free()). */
static int
read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		return -1;
	}
	do {
		if (cap - n < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = sc_realloc(buf, cap + 1);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void
sha256_hex(const char *data, size_t len, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char digits[] = "0123456789abcdef";

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		sc_oom(); /* only fails on allocation */
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
}

/* List, check and read <dir>/<schema>/NNNN_*.sql in version order. */
static int
load_files(struct migrate_run *r, const char *dir)
{
	char *path = sc_asprintf("%s/%s", dir, r->schema);
	DIR *d = opendir(path);
	struct dirent *e;
	int cap = 0;

	if (d == NULL) {
		run_fail(r, "cannot open '%s': %s", path, strerror(errno));
		free(path);
		return SC_EINVAL;
	}
	while ((e = readdir(d)) != NULL) {
		struct migration *m;
		size_t len;

		if (e->d_name[0] == '.' || !is_sql_file(e->d_name)) {
			continue;
		}
		if (!file_name_ok(e->d_name)) {
			run_fail(r,
			         "bad migration file name '%s/%s': want "
			         "NNNN_lowercase_name.sql",
			         r->schema, e->d_name);
			goto err;
		}
		if (r->nfiles == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			r->files =
			    sc_realloc(r->files, (size_t)cap * sizeof *m);
		}
		m = &r->files[r->nfiles++];
		memset(m, 0, sizeof *m);
		m->version = atoi(e->d_name);
		m->file = sc_strdup(e->d_name);
		m->path = sc_asprintf("%s/%s", path, e->d_name);
		if (read_file(m->path, &m->sql, &len) != 0) {
			run_fail(r, "cannot read '%s': %s", m->path,
			         strerror(errno));
			goto err;
		}
		if (strlen(m->sql) != len) {
			run_fail(r, "%s/%s: contains a NUL byte", r->schema,
			         m->file);
			goto err;
		}
		sha256_hex(m->sql, len, m->checksum);
	}
	closedir(d);
	free(path);
	if (r->nfiles > 1) {
		qsort(r->files, (size_t)r->nfiles, sizeof *r->files,
		      migration_cmp);
	}
	for (int i = 1; i < r->nfiles; i++) {
		if (r->files[i].version == r->files[i - 1].version) {
			run_fail(
			    r,
			    "duplicate migration version %04d in %s: %s and %s",
			    r->files[i].version, r->schema,
			    r->files[i - 1].file, r->files[i].file);
			return SC_EINVAL;
		}
	}
	return SC_OK;
err:
	closedir(d);
	free(path);
	return SC_EINVAL;
}

/* The role, the schema it owns, its search_path, and the bookkeeping
 * table, all idempotent. */
static int
ensure_schema(struct migrate_run *r, const char *role_password)
{
	const char *role_param[] = {r->role};
	PGresult *res;
	char *sql = NULL;
	bool exists, super;
	int err;

	err = query_sql(
	    r, "cannot look up role",
	    "select exists (select 1 from pg_roles where rolname = $1)"
	    " as role_exists, (select rolsuper from pg_roles where "
	    "rolname = current_user) as super",
	    1, role_param, &res);
	if (err != SC_OK) {
		return err;
	}
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	super = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (!exists) {
		sql = sc_asprintf("create role %s login", r->role_id);
		err = run_sql(r, "cannot create role", sql, 0, NULL);
		free(sql);
		if (err != SC_OK) {
			return err;
		}
	}
	if (!super) {
		/* SET ROLE and AUTHORIZATION need membership unless superuser.
		 */
		sql = sc_asprintf("grant %s to current_user", r->role_id);
		err = run_sql(r, "cannot join role", sql, 0, NULL);
		free(sql);
		if (err != SC_OK) {
			return err;
		}
	}
	if (role_password != NULL) {
		/* Hashed here, so the password never appears in SQL text. */
		char *hash =
		    PQencryptPasswordConn(r->pg, role_password, r->role, NULL);
		char *lit;
		if (hash == NULL) {
			char msg[512];
			pg_message(r->pg, NULL, msg, sizeof msg);
			run_fail(r, "%s: cannot hash password: %s", r->schema,
			         msg);
			return SC_EDB;
		}
		lit = PQescapeLiteral(r->pg, hash, strlen(hash));
		PQfreemem(hash);
		if (lit == NULL) {
			sc_oom();
		}
		sql = sc_asprintf("alter role %s password %s", r->role_id, lit);
		PQfreemem(lit);
		err = run_sql(r, "cannot set role password", sql, 0, NULL);
		free(sql);
		if (err != SC_OK) {
			return err;
		}
	}
	sql = sc_asprintf("create schema if not exists %s authorization %s",
	                  r->schema_id, r->role_id);
	err = run_sql(r, "cannot create schema", sql, 0, NULL);
	free(sql);
	if (err != SC_OK) {
		return err;
	}
	sql = sc_asprintf("alter role %s set search_path = %s", r->role_id,
	                  r->schema_id);
	err = run_sql(r, "cannot set search_path", sql, 0, NULL);
	free(sql);
	if (err != SC_OK) {
		return err;
	}
	/* PostgreSQL 15 no longer lets PUBLIC create in "public"; make sure
	 * no grant made before gives this role that either. */
	err = query_sql(r, "cannot look up schema public",
	                "select 1 from pg_namespace where nspname = 'public'",
	                0, NULL, &res);
	if (err != SC_OK) {
		return err;
	}
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists) {
		sql = sc_asprintf("revoke create on schema public from %s",
		                  r->role_id);
		err =
		    run_sql(r, "cannot revoke rights on public", sql, 0, NULL);
		free(sql);
		if (err != SC_OK) {
			return err;
		}
	}
	sql = sc_asprintf("begin; set local role %s; "
	                  "create table if not exists %s.schema_migrations ("
	                  "version int primary key, name text not null, "
	                  "checksum text not null, applied_at timestamptz not "
	                  "null default now()); commit",
	                  r->role_id, r->schema_id);
	res = PQexec(r->pg, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];
		pg_message(r->pg, res, msg, sizeof msg);
		run_fail(r, "%s: cannot create schema_migrations: %s",
		         r->schema, msg);
		PQclear(res);
		rollback(r->pg);
		return SC_EDB;
	}
	PQclear(res);
	return SC_OK;
}

/* Compare applied records with the files; *pending[i] tells which files
 * still need applying; *version the highest applied. */
static int
check_applied(struct migrate_run *r, bool *pending, int *version)
{
	PGresult *res;
	char *sql = sc_asprintf("select version, name, checksum from "
	                        "%s.schema_migrations order by version",
	                        r->schema_id);
	int err =
	    query_sql(r, "cannot read schema_migrations", sql, 0, NULL, &res);

	free(sql);
	if (err != SC_OK) {
		return err;
	}
	*version = 0;
	for (int i = 0; i < r->nfiles; i++) {
		pending[i] = true;
	}
	for (int row = 0; row < PQntuples(res); row++) {
		int v = atoi(PQgetvalue(res, row, 0));
		const char *name = PQgetvalue(res, row, 1);
		const char *sum = PQgetvalue(res, row, 2);

		*version = v > *version ? v : *version;
		for (int i = 0; i < r->nfiles; i++) {
			struct migration *m = &r->files[i];
			if (m->version != v) {
				continue;
			}
			pending[i] = false;
			if (strcmp(m->checksum, sum) != 0) {
				run_fail(r,
				         "migration %s/%s changed after it was "
				         "applied",
				         r->schema, m->file);
				err = SC_EINVAL;
			} else if (strcmp(m->file, name) != 0) {
				run_fail(r,
				         "migration %s/%s has version %d, "
				         "applied as %s",
				         r->schema, m->file, v, name);
				err = SC_EINVAL;
			}
			break;
		}
		if (err != SC_OK) {
			break;
		}
	}
	PQclear(res);
	return err;
}

/* "<schema>/<file>: <postgres message>", with the line in the file when
 * the error points into `sql` (the file's text). */
static void
file_error(struct migrate_run *r, const struct migration *m,
           const PGresult *res, const char *sql)
{
	const char *pos =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION)
	                : NULL;
	char msg[512];
	int want, line = 1;

	pg_message(r->pg, res, msg, sizeof msg);
	if (sql == NULL || pos == NULL || (want = atoi(pos)) <= 0) {
		run_fail(r, "%s/%s: %s", r->schema, m->file, msg);
		return;
	}
	/* The position counts characters (not bytes) from 1. */
	for (const char *p = sql; *p != '\0' && want > 1; p++) {
		if ((*p & 0xc0) != 0x80) {
			want--;
		}
		line += *p == '\n';
	}
	run_fail(r, "%s/%s: %s (line %d)", r->schema, m->file, msg, line);
}

static bool
res_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
	       st == PGRES_EMPTY_QUERY;
}

/* One file and its record in one transaction, as the schema's role. */
static int
apply_file(struct migrate_run *r, const struct migration *m)
{
	char version[16];
	const char *params[] = {version, m->file, m->checksum};
	char *begin = sc_asprintf("begin; set local role %s; "
	                          "set local search_path = %s",
	                          r->role_id, r->schema_id);
	char *insert = sc_asprintf("insert into %s.schema_migrations (version, "
	                           "name, checksum) values ($1, $2, $3)",
	                           r->schema_id);
	PGresult *res;

	snprintf(version, sizeof version, "%d", m->version);
	res = PQexec(r->pg, begin);
	if (!res_ok(res)) {
		file_error(r, m, res, NULL);
		goto err;
	}
	PQclear(res);
	/* Several statements at once: the result is the last one's, or the
	 * first error's (which skips the rest). */
	res = PQexec(r->pg, m->sql);
	if (!res_ok(res)) {
		file_error(r, m, res, m->sql);
		goto err;
	}
	if (PQtransactionStatus(r->pg) != PQTRANS_INTRANS) {
		run_fail(r,
		         "%s/%s: must not end the transaction (COMMIT or "
		         "ROLLBACK in the file)",
		         r->schema, m->file);
		goto err;
	}
	PQclear(res);
	res = PQexecParams(r->pg, insert, 3, NULL, params, NULL, NULL, 0);
	if (!res_ok(res)) {
		file_error(r, m, res, NULL);
		goto err;
	}
	PQclear(res);
	res = PQexec(r->pg, "commit");
	if (!res_ok(res)) {
		file_error(r, m, res, NULL);
		goto err;
	}
	PQclear(res);
	free(insert);
	free(begin);
	return SC_OK;
err:
	PQclear(res);
	rollback(r->pg);
	free(insert);
	free(begin);
	return SC_EDB;
}

int
sc_migrate_schema(PGconn *admin, const char *dir, const char *schema,
                  const char *role_password, FILE *progress, int *applied,
                  char *errbuf, size_t errlen)
{
	struct migrate_run r = {
	    .pg = admin, .schema = schema, .errbuf = errbuf, .errlen = errlen};
	const char *lock_param[] = {MIGRATE_LOCK_KEY};
	char *old_level = NULL;
	PGresult *res;
	bool *pending = NULL;
	bool locked = false;
	int err, version = 0, count = 0;

	if (errbuf != NULL && errlen > 0) {
		errbuf[0] = '\0';
	}
	if (applied != NULL) {
		*applied = 0;
	}
	if (admin == NULL || dir == NULL || schema == NULL) {
		run_fail(&r, "migrate: bad arguments");
		return SC_EINVAL;
	}
	if (!schema_name_ok(schema)) {
		run_fail(&r,
		         "bad schema name '%s': want [a-z_][a-z0-9_]*, at most "
		         "%d characters",
		         schema, MIGRATE_SCHEMA_MAX);
		return SC_EINVAL;
	}
	if (PQstatus(admin) != CONNECTION_OK) {
		run_fail(&r, "%s: no database connection", schema);
		return SC_EDB;
	}
	snprintf(r.role, sizeof r.role, "sc_%s", schema);
	err = load_files(&r, dir);
	if (err != SC_OK) {
		files_free(r.files, r.nfiles);
		return err;
	}

	r.schema_id = PQescapeIdentifier(admin, schema, strlen(schema));
	r.role_id = PQescapeIdentifier(admin, r.role, strlen(r.role));
	if (r.schema_id == NULL || r.role_id == NULL) {
		sc_oom();
	}
	/* "schema already exists, skipping" and friends are not news; the
	 * caller's setting comes back at the end. */
	err = query_sql(&r, "cannot read client_min_messages",
	                "select current_setting('client_min_messages')", 0,
	                NULL, &res);
	if (err != SC_OK) {
		goto out;
	}
	old_level = sc_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	err = run_sql(&r, "cannot set client_min_messages",
	              "set client_min_messages = warning", 0, NULL);
	if (err != SC_OK) {
		goto out;
	}
	err = run_sql(&r, "cannot take the migration lock",
	              "select pg_advisory_lock($1::bigint)", 1, lock_param);
	if (err != SC_OK) {
		goto out;
	}
	locked = true;
	err = ensure_schema(&r, role_password);
	if (err != SC_OK) {
		goto out;
	}
	pending = sc_calloc((size_t)r.nfiles + 1, sizeof *pending);
	err = check_applied(&r, pending, &version);
	if (err != SC_OK) {
		goto out;
	}
	for (int i = 0; i < r.nfiles; i++) {
		if (!pending[i]) {
			continue;
		}
		err = apply_file(&r, &r.files[i]);
		if (err != SC_OK) {
			goto out;
		}
		count++;
		version =
		    r.files[i].version > version ? r.files[i].version : version;
		if (progress != NULL) {
			fprintf(progress, "%s: applied %s\n", schema,
			        r.files[i].file);
			fflush(progress);
		}
	}
	if (count == 0 && progress != NULL) {
		fprintf(progress, "%s: up to date (version %d)\n", schema,
		        version);
		fflush(progress);
	}
out:
	if (locked) {
		PQclear(PQexecParams(admin,
		                     "select pg_advisory_unlock($1::bigint)", 1,
		                     NULL, lock_param, NULL, NULL, 0));
	}
	if (old_level != NULL) {
		const char *p[] = {old_level};
		PQclear(
		    PQexecParams(admin,
		                 "select set_config('client_min_messages', $1, "
		                 "false)",
		                 1, NULL, p, NULL, NULL, 0));
		free(old_level);
	}
	if (applied != NULL) {
		*applied = count;
	}
	free(pending);
	PQfreemem(r.schema_id);
	PQfreemem(r.role_id);
	files_free(r.files, r.nfiles);
	return err;
}
