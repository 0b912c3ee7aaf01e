/* migrate_test.c: the migration runner against a real PostgreSQL
 * (SC_TEST_DATABASE_URL), with made-up SQL files in a temp folder and a
 * schema name unique to each test. */
#include "migrate.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "testing.h"

enum { MAX_SCHEMAS = 4 };

static PGconn *admin;
static char tmpdir[64];
static char schemas[MAX_SCHEMAS][64]; /* made by this test, dropped after */
static int nschemas;

static const char *
test_url(void)
{
	const char *u = getenv("SC_TEST_DATABASE_URL");

	ck_assert_msg(u != NULL && *u != '\0',
	              "SC_TEST_DATABASE_URL is not set: start a cluster with "
	              "`tests/lib/pg.sh start DIR` and export its URL");
	return u;
}

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *
connect_as(const char *user)
{
	const char *keys[] = {"dbname", "user", NULL};
	const char *vals[] = {test_url(), user, NULL};
	PGconn *pg;

	if (user == NULL) {
		keys[1] = NULL;
	}
	pg = PQconnectdbParams(keys, vals, 1);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect: %s",
	              PQerrorMessage(pg));
	PQsetNoticeProcessor(pg, quiet_notice, NULL);
	return pg;
}

/* A fresh schema name for this test ("mt_<pid>_<n>"); dropped in teardown. */
static const char *
new_schema(void)
{
	char *s;

	ck_assert_int_lt(nschemas, MAX_SCHEMAS);
	s = schemas[nschemas];
	snprintf(s, sizeof schemas[0], "mt_%d_%d", (int)getpid(), nschemas);
	nschemas++;
	return s;
}

static void
exec_quiet(PGconn *pg, const char *sql)
{
	PQclear(PQexec(pg, sql));
}

static void
setup(void)
{
	admin = connect_as(NULL);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/migrate_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	nschemas = 0;
}

static void
teardown(void)
{
	char *cmd;

	for (int i = 0; i < nschemas; i++) {
		char *sql =
		    sc_asprintf("drop schema if exists %s cascade", schemas[i]);
		exec_quiet(admin, sql);
		free(sql);
		sql = sc_asprintf("drop role if exists sc_%s", schemas[i]);
		exec_quiet(admin, sql);
		free(sql);
	}
	PQfinish(admin);
	admin = NULL;
	cmd = sc_asprintf("rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static void
write_file(const char *schema, const char *name, const char *content)
{
	char *dir = sc_asprintf("%s/%s", tmpdir, schema);
	char *path = sc_asprintf("%s/%s", dir, name);
	FILE *f;

	mkdir(dir, 0755);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	free(path);
	free(dir);
}

struct outcome {
	int rc;
	int applied;
	char err[1024];
	char *progress; /* caller frees */
};

static struct outcome
migrate_pw(const char *schema, const char *password)
{
	struct outcome o;
	size_t len = 0;
	FILE *out;

	memset(&o, 0, sizeof o);
	out = open_memstream(&o.progress, &len);
	ck_assert_ptr_nonnull(out);
	o.applied = -1;
	o.rc = sc_migrate_schema(admin, tmpdir, schema, password, out,
	                         &o.applied, o.err, sizeof o.err);
	fclose(out);
	/* Whatever happened, the admin connection is left usable. */
	ck_assert_int_eq(PQtransactionStatus(admin), PQTRANS_IDLE);
	return o;
}

static struct outcome
migrate(const char *schema)
{
	return migrate_pw(schema, NULL);
}

/* The first column of the first row of `sql` on `pg`, or NULL for SQL NULL
 * or no rows; caller frees. Fails the test on an SQL error. */
static char *
scalar_on(PGconn *pg, const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	char *v = NULL;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
	              PQresultErrorMessage(res));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
		v = sc_strdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return v;
}

static void
assert_scalar(const char *expect, const char *fmt, const char *schema)
{
	char *sql = sc_asprintf(fmt, schema, schema, schema);
	char *v = scalar_on(admin, sql);

	if (expect == NULL) {
		ck_assert_msg(v == NULL, "%s: got '%s', want NULL", sql, v);
	} else {
		ck_assert_msg(v != NULL && strcmp(v, expect) == 0,
		              "%s: got '%s', want '%s'", sql, v ? v : "NULL",
		              expect);
	}
	free(v);
	free(sql);
}

static void
sha256_hex(const char *s, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL),
	                 1);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
}

static const char *const init_sql =
    "-- things\n"
    "create table things (id int primary key, name text not null);\n"
    "create index things_name_idx on things (name);\n";
static const char *const more_sql =
    "insert into things values (1, 'one');\n"
    "insert into things values (2, 'two''s');\n";

START_TEST(first_run_applies_all_in_order_and_records_them)
{
	const char *s = new_schema();
	struct outcome o;
	char *expect, *sql, *v, sum[65];

	/* Written out of order; README.md is not a migration. */
	write_file(s, "0002_more_things.sql", more_sql);
	write_file(s, "0001_init.sql", init_sql);
	write_file(s, "README.md", "# not sql\n");
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	ck_assert_str_eq(o.err, "");
	ck_assert_int_eq(o.applied, 2);
	expect = sc_asprintf("%s: applied 0001_init.sql\n"
	                     "%s: applied 0002_more_things.sql\n",
	                     s, s);
	ck_assert_str_eq(o.progress, expect);
	free(expect);
	free(o.progress);

	assert_scalar("2", "select count(*) from %s.things", s);
	assert_scalar("1,2",
	              "select string_agg(version::text, ',' order by version) "
	              "from %s.schema_migrations",
	              s);
	assert_scalar("0001_init.sql,0002_more_things.sql",
	              "select string_agg(name, ',' order by version) "
	              "from %s.schema_migrations",
	              s);
	sha256_hex(init_sql, sum);
	sql = sc_asprintf("select checksum from %s.schema_migrations "
	                  "where version = 1",
	                  s);
	v = scalar_on(admin, sql);
	ck_assert_str_eq(v, sum);
	free(v);
	free(sql);
	assert_scalar("t",
	              "select bool_and(applied_at > now() - interval '1 "
	              "minute') from %s.schema_migrations",
	              s);
}
END_TEST

START_TEST(second_run_applies_nothing)
{
	const char *s = new_schema();
	struct outcome o;
	char *expect;

	write_file(s, "0001_init.sql", init_sql);
	write_file(s, "0002_more_things.sql", more_sql);
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);

	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	ck_assert_int_eq(o.applied, 0);
	expect = sc_asprintf("%s: up to date (version 2)\n", s);
	ck_assert_str_eq(o.progress, expect);
	free(expect);
	free(o.progress);
	assert_scalar("2", "select count(*) from %s.things", s);

	/* A new file is picked up alone. */
	write_file(s, "0003_three.sql", "insert into things values (3, 'x');");
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	ck_assert_int_eq(o.applied, 1);
	free(o.progress);
	assert_scalar("3", "select count(*) from %s.things", s);
	assert_scalar("3", "select max(version) from %s.schema_migrations", s);
}
END_TEST

START_TEST(failing_file_is_rolled_back_whole)
{
	const char *s = new_schema();
	struct outcome o;
	char *want;

	write_file(s, "0001_init.sql", init_sql);
	write_file(s, "0002_half_done.sql",
	           "create table half (id int);\n"
	           "insert into things values (7, 'seven');\n"
	           "select * from no_such_table;\n"
	           "create table never (id int);\n");
	o = migrate(s);
	ck_assert_int_eq(o.rc, SC_EDB);
	ck_assert_int_eq(o.applied, 1);
	want = sc_asprintf("%s/0002_half_done.sql: ", s);
	ck_assert_msg(strncmp(o.err, want, strlen(want)) == 0, "%s", o.err);
	ck_assert_msg(strstr(o.err, "no_such_table") != NULL, "%s", o.err);
	ck_assert_msg(strstr(o.err, "line 3") != NULL, "%s", o.err);
	free(want);
	free(o.progress);

	/* No trace of the failed file's earlier statements or record. */
	assert_scalar(NULL, "select to_regclass('%s.half')::text", s);
	assert_scalar(NULL, "select to_regclass('%s.never')::text", s);
	assert_scalar("0", "select count(*) from %s.things", s);
	assert_scalar("1", "select max(version) from %s.schema_migrations", s);

	/* Fixed, it applies on the next run. */
	write_file(s, "0002_half_done.sql",
	           "create table half (id int);\n"
	           "insert into things values (7, 'seven');\n");
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	ck_assert_int_eq(o.applied, 1);
	free(o.progress);
	assert_scalar("0", "select count(*) from %s.half", s);
	assert_scalar("seven", "select name from %s.things where id = 7", s);
}
END_TEST

START_TEST(file_ending_the_transaction_is_an_error)
{
	const char *s = new_schema();
	struct outcome o;

	write_file(s, "0001_commits.sql", "create table c (id int); commit;");
	o = migrate(s);
	ck_assert_int_eq(o.rc, SC_EDB);
	ck_assert_msg(strstr(o.err, "0001_commits.sql") != NULL, "%s", o.err);
	ck_assert_msg(strstr(o.err, "must not end the transaction") != NULL,
	              "%s", o.err);
	assert_scalar("0", "select count(*) from %s.schema_migrations", s);
	free(o.progress);
}
END_TEST

START_TEST(bad_file_names_are_rejected)
{
	static const char *const bad[] = {
	    "1_init.sql", "0001-init.sql", "0001_Init.sql", "00001_init.sql",
	    "0001_.sql",  "0001_init.SQL", "abcd_init.sql", "0001_in it.sql",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char schema[64], *want;
		struct outcome o;
		snprintf(schema, sizeof schema, "mt_%d_bad%zu", (int)getpid(),
		         i);
		write_file(schema, "0001_init.sql", init_sql);
		write_file(schema, bad[i], "select 1;");
		o = migrate(schema);
		ck_assert_msg(o.rc == SC_EINVAL, "'%s' accepted", bad[i]);
		want = sc_asprintf("'%s/%s'", schema, bad[i]);
		ck_assert_msg(strstr(o.err, want) != NULL, "%s", o.err);
		free(want);
		ck_assert_int_eq(o.applied, 0);
		free(o.progress);
		/* Rejected before touching the database. */
		assert_scalar(NULL, "select to_regnamespace('%s')::text",
		              schema);
	}
}
END_TEST

START_TEST(duplicate_versions_are_rejected)
{
	const char *s = new_schema();
	struct outcome o;

	write_file(s, "0001_init.sql", init_sql);
	write_file(s, "0001_other.sql", "select 1;");
	o = migrate(s);
	ck_assert_int_eq(o.rc, SC_EINVAL);
	ck_assert_msg(strstr(o.err, "duplicate migration version 0001") != NULL,
	              "%s", o.err);
	ck_assert_msg(strstr(o.err, "0001_init.sql") != NULL, "%s", o.err);
	ck_assert_msg(strstr(o.err, "0001_other.sql") != NULL, "%s", o.err);
	free(o.progress);
}
END_TEST

START_TEST(changed_file_is_detected)
{
	const char *s = new_schema();
	struct outcome o;
	char *want;

	write_file(s, "0001_init.sql", init_sql);
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);

	write_file(s, "0001_init.sql", "create table things (id bigint);\n");
	write_file(s, "0002_more_things.sql", more_sql);
	o = migrate(s);
	ck_assert_int_eq(o.rc, SC_EINVAL);
	want = sc_asprintf("migration %s/0001_init.sql changed after it was "
	                   "applied",
	                   s);
	ck_assert_str_eq(o.err, want);
	free(want);
	ck_assert_int_eq(o.applied, 0);
	free(o.progress);
	/* Nothing after it ran either. */
	assert_scalar("1", "select count(*) from %s.schema_migrations", s);
}
END_TEST

START_TEST(bad_schema_names_are_rejected)
{
	static const char *const bad[] = {
	    "Auth", "a-b", "x;drop table y", "", "1abc", "auth\"", "über"};
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int applied = -1;
		int rc = sc_migrate_schema(admin, tmpdir, bad[i], NULL, NULL,
		                           &applied, err, sizeof err);
		ck_assert_msg(rc == SC_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(err, "bad schema name") != NULL, "%s",
		              err);
		ck_assert_int_eq(applied, 0);
	}
}
END_TEST

START_TEST(missing_folder_is_an_error)
{
	char schema[64];
	struct outcome o;

	snprintf(schema, sizeof schema, "mt_%d_nowhere", (int)getpid());
	o = migrate(schema);
	ck_assert_int_eq(o.rc, SC_EINVAL);
	ck_assert_msg(strstr(o.err, "cannot open") != NULL, "%s", o.err);
	free(o.progress);
}
END_TEST

START_TEST(role_owns_its_objects_and_nothing_else)
{
	const char *a = new_schema();
	const char *b = new_schema();
	char *sql, *role_a, *v;
	PGconn *as_a;
	PGresult *res;
	struct outcome o;

	write_file(a, "0001_init.sql", init_sql);
	write_file(b, "0001_secret.sql",
	           "create table secret (v text); "
	           "insert into secret values ('b only');");
	o = migrate(a);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);
	o = migrate(b);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);

	/* Everything in schema a, and a itself, belongs to sc_a. */
	role_a = sc_asprintf("sc_%s", a);
	assert_scalar(role_a,
	              "select nspowner::regrole::text from pg_namespace "
	              "where nspname = '%s'",
	              a);
	sql = sc_asprintf("select string_agg(distinct relowner::regrole::text, "
	                  "',') from pg_class where relnamespace = '%s'::"
	                  "regnamespace",
	                  a);
	v = scalar_on(admin, sql);
	ck_assert_str_eq(v, role_a);
	free(v);
	free(sql);
	assert_scalar("2",
	              "select count(*) from pg_class where relnamespace = "
	              "'%s'::regnamespace and relname in ('things', "
	              "'schema_migrations')",
	              a);

	/* Logged in as sc_a: its own tables by bare name, not b's, and no
	 * creating in public. */
	as_a = connect_as(role_a);
	v = scalar_on(as_a, "select current_schema()");
	ck_assert_str_eq(v, a);
	free(v);
	res = PQexec(as_a, "select count(*) from things");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	sql = sc_asprintf("select * from %s.secret", b);
	res = PQexec(as_a, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
	PQclear(res);
	free(sql);
	res = PQexec(as_a, "create table public.intruder (id int)");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
	PQclear(res);
	PQfinish(as_a);
	free(role_a);
}
END_TEST

START_TEST(role_password_is_set_when_given)
{
	const char *s = new_schema();
	struct outcome o;

	write_file(s, "0001_init.sql", init_sql);
	o = migrate_pw(s, "correct horse battery staple");
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);
	assert_scalar("SCRAM-SHA-256",
	              "select split_part(rolpassword, '$', 1) from pg_authid "
	              "where rolname = 'sc_%s'",
	              s);
	assert_scalar(
	    "t", "select rolcanlogin from pg_roles where rolname = 'sc_%s'", s);
}
END_TEST

START_TEST(concurrent_runs_apply_each_file_once)
{
	const char *s = new_schema();
	struct outcome o;
	pid_t pid;
	int status = -1;

	write_file(s, "0001_init.sql", init_sql);
	write_file(s, "0002_more_things.sql", more_sql);
	write_file(s, "0003_slow.sql", "select pg_sleep(0.3);");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		PGconn *pg = connect_as(NULL);
		char err[512];
		int n = -1;
		int rc = sc_migrate_schema(pg, tmpdir, s, NULL, NULL, &n, err,
		                           sizeof err);
		PQfinish(pg);
		_exit(rc == SC_OK ? n : 100);
	}
	o = migrate(s);
	ck_assert_msg(o.rc == SC_OK, "%s", o.err);
	free(o.progress);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) != 100, "the other run failed");
	ck_assert_int_eq(o.applied + WEXITSTATUS(status), 3);
	assert_scalar("2", "select count(*) from %s.things", s);
}
END_TEST

static Suite *
migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("runner");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, first_run_applies_all_in_order_and_records_them);
	tcase_add_test(tc, second_run_applies_nothing);
	tcase_add_test(tc, failing_file_is_rolled_back_whole);
	tcase_add_test(tc, file_ending_the_transaction_is_an_error);
	tcase_add_test(tc, bad_file_names_are_rejected);
	tcase_add_test(tc, duplicate_versions_are_rejected);
	tcase_add_test(tc, changed_file_is_detected);
	tcase_add_test(tc, bad_schema_names_are_rejected);
	tcase_add_test(tc, missing_folder_is_an_error);
	tcase_add_test(tc, role_owns_its_objects_and_nothing_else);
	tcase_add_test(tc, role_password_is_set_when_given);
	tcase_add_test(tc, concurrent_runs_apply_each_file_once);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(migrate_suite)
