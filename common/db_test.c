/* db_test.c: the libpq pool against a real PostgreSQL (SC_TEST_DATABASE_URL,
 * SC_TEST_PG_DIR): results, parameters, errors, concurrency, transactions,
 * prepared statements, outages and restarts, and a loop that never blocks. */
#include "db.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "testing.h"

/* What a result callback saw; the PGresult itself dies with the callback,
 * so the rows are kept as a copy. */
struct reply {
	int calls;
	int err;
	bool had_res;
	bool early; /* ran before the API call returned */
	ExecStatusType status;
	PGresult
	    *rows; /* copy of a PGRES_TUPLES_OK result; freed by reply_clear */
	char sqlstate[8];
	char constraint[64];
	char message[256];
};

struct acquired {
	int calls;
	int err;
	bool early;
	struct sc_db_conn *conn;
};

static struct event_base *base;
static struct sc_db *db;
static bool in_call; /* set around every API call to catch early callbacks */
static bool timed_out;

static const char *
test_url(void)
{
	const char *u = getenv("SC_TEST_DATABASE_URL");

	ck_assert_msg(u != NULL && *u != '\0',
	              "SC_TEST_DATABASE_URL is not set: start a cluster with "
	              "`tests/lib/pg.sh start DIR` and export its URL");
	return u;
}

static const char *
test_pg_dir(void)
{
	const char *d = getenv("SC_TEST_PG_DIR");

	ck_assert_msg(d != NULL && *d != '\0',
	              "SC_TEST_PG_DIR is not set: export the folder given to "
	              "`tests/lib/pg.sh start DIR`");
	return d;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	db = NULL;
}

static void
teardown(void)
{
	if (db != NULL) {
		sc_db_free(db);
		db = NULL;
	}
	event_base_free(base);
	base = NULL;
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = true;
}

/* Run the loop until *count reaches target or `secs` pass. */
static bool
wait_for(const int *count, int target, double secs)
{
	struct event *t = evtimer_new(base, timeout_cb, NULL);
	struct timeval tv = {
	    (time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};

	timed_out = false;
	evtimer_add(t, &tv);
	while (*count < target && !timed_out) {
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(t);
	return *count >= target;
}

/* Run the loop for `secs` whatever happens. */
static void
spin(double secs)
{
	int never = 0;

	wait_for(&never, 1, secs);
}

static void
reply_clear(struct reply *r)
{
	PQclear(r->rows);
	memset(r, 0, sizeof *r);
}

static void
reply_cb(int err, PGresult *res, void *arg)
{
	struct reply *r = arg;
	const char *s;

	r->calls++;
	r->err = err;
	r->early |= in_call;
	r->had_res = res != NULL;
	if (res == NULL) {
		return;
	}
	r->status = PQresultStatus(res);
	if (r->status == PGRES_TUPLES_OK && r->rows == NULL) {
		r->rows = PQcopyResult(res, PG_COPYRES_TUPLES);
	}
	snprintf(r->sqlstate, sizeof r->sqlstate, "%s", sc_db_sqlstate(res));
	s = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	snprintf(r->constraint, sizeof r->constraint, "%s", s ? s : "");
	snprintf(r->message, sizeof r->message, "%s",
	         PQresultErrorMessage(res));
	/* The helpers must agree with what libpq says. */
	if (err == SC_EDB && strcmp(r->sqlstate, "23505") == 0) {
		ck_assert(sc_db_is_unique_violation(res, NULL));
		ck_assert(sc_db_is_unique_violation(res, r->constraint));
		ck_assert(
		    !sc_db_is_unique_violation(res, "no_such_constraint"));
	}
}

static void
acquired_cb(int err, struct sc_db_conn *conn, void *arg)
{
	struct acquired *a = arg;

	a->calls++;
	a->err = err;
	a->conn = conn;
	a->early |= in_call;
}

static void
query(const char *sql, int n, const char *const *params, struct reply *r)
{
	in_call = true;
	sc_db_query(db, sql, n, params, reply_cb, r);
	in_call = false;
}

/* One statement through the pool, waited for; returns its error. */
static int
run(const char *sql, int n, const char *const *params, struct reply *r)
{
	reply_clear(r);
	query(sql, n, params, r);
	ck_assert_msg(wait_for(&r->calls, 1, 15), "query timed out: %s", sql);
	ck_assert_int_eq(r->calls, 1);
	ck_assert_msg(!r->early, "callback ran inside sc_db_query");
	return r->err;
}

static void
run_ok(const char *sql)
{
	struct reply r = {0};

	ck_assert_msg(run(sql, 0, NULL, &r) == SC_OK, "'%s' failed: %d %s", sql,
	              r.err, r.message);
	reply_clear(&r);
}

static int
conn_run(struct sc_db_conn *conn, const char *sql, int n,
         const char *const *params, struct reply *r)
{
	reply_clear(r);
	in_call = true;
	sc_db_conn_query(conn, sql, n, params, reply_cb, r);
	in_call = false;
	ck_assert_msg(wait_for(&r->calls, 1, 15), "query timed out: %s", sql);
	ck_assert_msg(!r->early, "callback ran inside sc_db_conn_query");
	return r->err;
}

static struct sc_db_conn *
acquire(void)
{
	struct acquired a = {0};

	in_call = true;
	sc_db_acquire(db, acquired_cb, &a);
	in_call = false;
	ck_assert_msg(wait_for(&a.calls, 1, 15), "acquire timed out");
	ck_assert(!a.early);
	ck_assert_int_eq(a.err, SC_OK);
	ck_assert_ptr_nonnull(a.conn);
	return a.conn;
}

static void
open_pool(int size)
{
	struct reply r = {0};

	db = sc_db_new(base, test_url(), size);
	ck_assert_ptr_nonnull(db);
	/* Queries made before the first connection is up wait for it. */
	ck_assert_int_eq(run("select 1", 0, NULL, &r), SC_OK);
	reply_clear(&r);
	/* The others come up by themselves. */
	for (double t0 = now_s(); now_s() - t0 < 5;) {
		struct sc_db_stats st;
		sc_db_stats(db, &st);
		if (st.up == size) {
			return;
		}
		spin(0.01);
	}
	ck_abort_msg("the pool of %d did not come up", size);
}

/* A port on 127.0.0.1 where nothing listens (bound, then released). */
static int
dead_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* What a listener heard, in order: "U" up, "D" down, "N:<payload>". */
struct heard {
	int calls, ups, downs, notifies;
	bool early;
	char log[512];
};

static void
heard_cb(enum sc_db_listen_event ev, const char *payload, void *arg)
{
	struct heard *h = arg;
	size_t n = strlen(h->log);

	h->calls++;
	h->early |= in_call;
	switch (ev) {
	case SC_DB_LISTEN_UP:
		h->ups++;
		snprintf(h->log + n, sizeof h->log - n, "U ");
		break;
	case SC_DB_LISTEN_DOWN:
		h->downs++;
		snprintf(h->log + n, sizeof h->log - n, "D ");
		break;
	case SC_DB_LISTEN_NOTIFY:
		h->notifies++;
		snprintf(h->log + n, sizeof h->log - n, "N:%s ", payload);
		break;
	}
}

START_TEST(listener_hears_committed_notifications_and_comes_back)
{
	struct heard h = {0};
	struct reply r = {0};
	struct sc_db_conn *conn;

	open_pool(1);
	ck_assert_int_eq(sc_db_listen(db, "Bad-Name", heard_cb, &h), SC_EINVAL);
	ck_assert_int_eq(sc_db_listen(db, "", heard_cb, &h), SC_EINVAL);
	in_call = true;
	ck_assert_int_eq(sc_db_listen(db, "sc_test_chan", heard_cb, &h), SC_OK);
	in_call = false;
	ck_assert_int_eq(sc_db_listen(db, "sc_other", heard_cb, &h), SC_EINVAL);
	ck_assert_msg(wait_for(&h.ups, 1, 10), "no UP: %s", h.log);
	ck_assert(!h.early);
	/* The pool's one connection stays free for queries. */
	run_ok("select pg_notify('sc_test_chan', 'one')");
	run_ok("select pg_notify('sc_elsewhere', 'not for us')");
	ck_assert_msg(wait_for(&h.notifies, 1, 10), "no NOTIFY: %s", h.log);
	ck_assert_str_eq(h.log, "U N:one ");

	/* Only on commit: a rolled-back NOTIFY is never heard. */
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(
	    conn_run(conn, "select pg_notify('sc_test_chan', 'rolled back')", 0,
	             NULL, &r),
	    SC_OK);
	ck_assert_int_eq(conn_run(conn, "ROLLBACK", 0, NULL, &r), SC_OK);
	sc_db_release(conn);
	run_ok("select pg_notify('sc_test_chan', 'two')");
	ck_assert_msg(wait_for(&h.notifies, 2, 10), "no 2nd: %s", h.log);
	ck_assert_str_eq(h.log, "U N:one N:two ");

	/* The listening backend killed: DOWN, then UP again by itself. */
	run_ok("select pg_terminate_backend(pid) from pg_stat_activity "
	       "where query = 'LISTEN \"sc_test_chan\"'");
	ck_assert_msg(wait_for(&h.ups, 2, 10), "no 2nd UP: %s", h.log);
	ck_assert_int_eq(h.downs, 1);
	run_ok("select pg_notify('sc_test_chan', 'three')");
	ck_assert_msg(wait_for(&h.notifies, 3, 10), "no 3rd: %s", h.log);
	ck_assert_str_eq(h.log, "U N:one N:two D U N:three ");
	reply_clear(&r);
}
END_TEST

START_TEST(query_returns_rows)
{
	struct reply r = {0};

	open_pool(2);
	ck_assert_int_eq(run("select g as n, 'row ' || g as label, g % 2 = 0 "
	                     "as even, null::text as nothing "
	                     "from generate_series(1, 3) g order by g",
	                     0, NULL, &r),
	                 SC_OK);
	ck_assert(r.had_res);
	ck_assert_int_eq(r.status, PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r.rows), 3);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "n"), 1);
	ck_assert_int_eq(sc_db_int(r.rows, 2, "n"), 3);
	ck_assert_str_eq(sc_db_str(r.rows, 1, "label"), "row 2");
	ck_assert(!sc_db_bool(r.rows, 0, "even"));
	ck_assert(sc_db_bool(r.rows, 1, "even"));
	ck_assert(sc_db_isnull(r.rows, 0, "nothing"));
	ck_assert(!sc_db_isnull(r.rows, 0, "label"));
	ck_assert_ptr_null(sc_db_str(r.rows, 0, "nothing"));
	/* Missing columns and rows read as NULL, 0, false. */
	ck_assert_ptr_null(sc_db_str(r.rows, 0, "no_such_column"));
	ck_assert_int_eq(sc_db_int(r.rows, 0, "no_such_column"), 0);
	ck_assert(!sc_db_bool(r.rows, 0, "no_such_column"));
	ck_assert_ptr_null(sc_db_str(r.rows, 3, "n"));
	ck_assert_ptr_null(sc_db_str(r.rows, -1, "n"));
	ck_assert_str_eq(sc_db_sqlstate(r.rows), "");
	reply_clear(&r);
}
END_TEST

START_TEST(params_are_passed_verbatim)
{
	struct reply r = {0};
	char table[64], sql[256];
	const char *evil = "x'); drop table students; --";
	const char *quotes = "it's \"quoted\" \\ back\\slash $1";
	const char *p3[] = {evil, NULL, quotes};
	const char *p1[] = {evil};

	open_pool(2);
	ck_assert_int_eq(
	    run("select $1::text as a, $2::text as b, $3::text as c", 3, p3,
	        &r),
	    SC_OK);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "a"), evil);
	ck_assert(sc_db_isnull(r.rows, 0, "b"));
	ck_assert_str_eq(sc_db_str(r.rows, 0, "c"), quotes);

	/* Stored and read back as data; the table is still there. */
	snprintf(table, sizeof table, "verbatim_%d", (int)getpid());
	snprintf(sql, sizeof sql, "create table %s (v text)", table);
	run_ok(sql);
	snprintf(sql, sizeof sql, "insert into %s (v) values ($1)", table);
	ck_assert_int_eq(run(sql, 1, p1, &r), SC_OK);
	snprintf(sql, sizeof sql, "select v, count(*) over () as n from %s",
	         table);
	ck_assert_int_eq(run(sql, 0, NULL, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "n"), 1);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "v"), evil);
	snprintf(sql, sizeof sql, "drop table %s", table);
	run_ok(sql);
	reply_clear(&r);
}
END_TEST

START_TEST(sql_error_gives_edb_with_sqlstate)
{
	struct reply r = {0};
	char sql[256], constraint[64];
	const char *one[] = {"1"};
	int pid = (int)getpid();

	open_pool(2);
	snprintf(constraint, sizeof constraint, "uniq_%d_pk", pid);
	snprintf(sql, sizeof sql,
	         "create table uniq_%d (id int constraint %s primary key)", pid,
	         constraint);
	run_ok(sql);
	snprintf(sql, sizeof sql, "insert into uniq_%d (id) values ($1)", pid);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_OK);
	ck_assert_int_eq(r.status, PGRES_COMMAND_OK);

	ck_assert_int_eq(run(sql, 1, one, &r), SC_EDB);
	ck_assert(r.had_res);
	ck_assert_str_eq(r.sqlstate, "23505");
	ck_assert_str_eq(r.constraint,
	                 constraint); /* reply_cb checked helpers */

	ck_assert_int_eq(run("selec 1", 0, NULL, &r), SC_EDB);
	ck_assert_str_eq(r.sqlstate, "42601");
	ck_assert_int_eq(run("select * from no_such_table_at_all", 0, NULL, &r),
	                 SC_EDB);
	ck_assert_str_eq(r.sqlstate, "42P01");

	/* The connection that saw the errors still works. */
	snprintf(sql, sizeof sql, "drop table uniq_%d", pid);
	run_ok(sql);
	reply_clear(&r);
}
END_TEST

START_TEST(result_helpers_accept_null_results)
{
	ck_assert_str_eq(sc_db_sqlstate(NULL), "");
	ck_assert(!sc_db_is_unique_violation(NULL, NULL));
	ck_assert_ptr_null(sc_db_str(NULL, 0, "x"));
	ck_assert_int_eq(sc_db_int(NULL, 0, "x"), 0);
	ck_assert(!sc_db_bool(NULL, 0, "x"));
	ck_assert(sc_db_isnull(NULL, 0, "x"));
}
END_TEST

START_TEST(pool_runs_queries_concurrently)
{
	enum { N = 50 };
	struct reply r[N];
	struct sc_db_stats st;
	int done = 0, ok = 0;
	double t0, elapsed;

	memset(r, 0, sizeof r);
	open_pool(4);
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		query("select pg_sleep(0.05)", 0, NULL, &r[i]);
	}
	sc_db_stats(db, &st);
	ck_assert_int_eq(st.size, 4);
	ck_assert_int_eq(st.up, 4);
	ck_assert_int_eq(st.busy, 4);
	ck_assert_int_eq(st.queued, N - 4);
	while (done < N && now_s() - t0 < 10) {
		spin(0.01);
		done = 0;
		for (int i = 0; i < N; i++) {
			done += r[i].calls > 0;
		}
	}
	elapsed = now_s() - t0;
	ck_assert_int_eq(done, N);
	/* Serially this is 2.5 s; four at a time about 0.65 s. */
	ck_assert_msg(elapsed < 1.5, "50 queries took %.2f s", elapsed);
	spin(0.1); /* nothing more may arrive */
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		ck_assert(!r[i].early);
		ok += r[i].err == SC_OK;
		reply_clear(&r[i]);
	}
	ck_assert_int_eq(ok, N);
	sc_db_stats(db, &st);
	ck_assert_int_eq(st.busy, 0);
	ck_assert_int_eq(st.queued, 0);
	ck_assert_uint_ge(st.queries, N);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert(sc_db_ready(db));
}
END_TEST

START_TEST(full_queue_fails_with_eagain)
{
	enum { N = 1100 };
	static struct reply r[N];
	int done = 0, again = 0, ok = 0;

	memset(r, 0, sizeof r);
	/* Nothing is up yet: every query waits in the queue, which holds
	 * 1024. */
	db = sc_db_new(base, test_url(), 1);
	ck_assert_ptr_nonnull(db);
	for (int i = 0; i < N; i++) {
		query("select 1", 0, NULL, &r[i]);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].calls, 0);
	}
	for (int i = 0; i < N; i++) {
		ck_assert(wait_for(&r[i].calls, 1, 15));
	}
	spin(0.05);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		done++;
		again += r[i].err == SC_EAGAIN;
		ok += r[i].err == SC_OK;
		ck_assert(!r[i].had_res || r[i].err == SC_OK);
	}
	ck_assert_int_eq(done, N);
	ck_assert_int_eq(again, N - 1024);
	ck_assert_int_eq(ok, 1024);
	/* The first 1024 were kept in order; the overflow were the last. */
	ck_assert_int_eq(r[1023].err, SC_OK);
	ck_assert_int_eq(r[1024].err, SC_EAGAIN);
}
END_TEST

START_TEST(committed_transaction_is_visible)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	char sql[256];
	int pid = (int)getpid();
	const char *p[] = {"committed"};

	open_pool(2);
	snprintf(sql, sizeof sql, "create table tx_commit_%d (v text)", pid);
	run_ok(sql);
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	snprintf(sql, sizeof sql, "insert into tx_commit_%d values ($1)", pid);
	ck_assert_int_eq(conn_run(conn, sql, 1, p, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, "COMMIT", 0, NULL, &r), SC_OK);
	sc_db_release(conn);

	snprintf(sql, sizeof sql, "select v from tx_commit_%d", pid);
	ck_assert_int_eq(run(sql, 0, NULL, &r), SC_OK);
	ck_assert_int_eq(PQntuples(r.rows), 1);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "v"), "committed");
	snprintf(sql, sizeof sql, "drop table tx_commit_%d", pid);
	run_ok(sql);
	reply_clear(&r);
}
END_TEST

START_TEST(release_without_commit_rolls_back)
{
	struct reply r = {0}, waiting = {0};
	struct sc_db_stats st;
	struct sc_db_conn *conn;
	char sql[256];
	int pid = (int)getpid();

	open_pool(1);
	snprintf(sql, sizeof sql, "create table tx_rollback_%d (v int)", pid);
	run_ok(sql);

	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	snprintf(sql, sizeof sql, "insert into tx_rollback_%d values (1)", pid);
	ck_assert_int_eq(conn_run(conn, sql, 0, NULL, &r), SC_OK);

	/* While the only connection is held, pool queries wait. */
	snprintf(sql, sizeof sql, "select count(*) as n from tx_rollback_%d",
	         pid);
	query(sql, 0, NULL, &waiting);
	spin(0.1);
	ck_assert_int_eq(waiting.calls, 0);
	sc_db_stats(db, &st);
	ck_assert_int_eq(st.busy, 1);
	ck_assert_int_eq(st.queued, 1);

	/* Release without COMMIT: the queued query runs on the same
	 * connection only after the ROLLBACK, so it sees no row. */
	sc_db_release(conn);
	ck_assert(wait_for(&waiting.calls, 1, 10));
	ck_assert_int_eq(waiting.err, SC_OK);
	ck_assert_int_eq(sc_db_int(waiting.rows, 0, "n"), 0);

	/* A failed transaction is rolled back too: the connection is usable
	 * afterwards instead of answering 25P02. */
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, "select 1/0", 0, NULL, &r), SC_EDB);
	ck_assert_str_eq(r.sqlstate, "22012");
	sc_db_release(conn);
	ck_assert_int_eq(run(sql, 0, NULL, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "n"), 0);

	snprintf(sql, sizeof sql, "drop table tx_rollback_%d", pid);
	run_ok(sql);
	reply_clear(&r);
	reply_clear(&waiting);
}
END_TEST

START_TEST(acquire_never_calls_back_before_returning)
{
	struct acquired a = {0};

	open_pool(1);
	in_call = true;
	sc_db_acquire(db, acquired_cb, &a); /* a connection is idle now */
	in_call = false;
	ck_assert_int_eq(a.calls, 0);
	ck_assert(wait_for(&a.calls, 1, 5));
	ck_assert(!a.early);
	ck_assert_int_eq(a.err, SC_OK);
	sc_db_release(a.conn);
}
END_TEST

START_TEST(unreachable_server_fails_quickly)
{
	struct reply r = {0};
	struct acquired a = {0};
	char url[128];
	double t0;

	snprintf(
	    url, sizeof url,
	    "postgresql://postgres@127.0.0.1:%d/spotlight?connect_timeout=3",
	    dead_port());
	db = sc_db_new(base, url, 2);
	ck_assert_ptr_nonnull(db);
	t0 = now_s();
	query("select 1", 0, NULL, &r);
	ck_assert_int_eq(r.calls, 0);
	ck_assert(wait_for(&r.calls, 1, 5));
	ck_assert_int_eq(r.err, SC_EUNAVAIL);
	ck_assert(!r.had_res);
	ck_assert_msg(now_s() - t0 < 1.0, "took %.2f s", now_s() - t0);
	ck_assert(!sc_db_ready(db));

	/* Later queries and acquires fail at once, still never inline. */
	t0 = now_s();
	ck_assert_int_eq(run("select 1", 0, NULL, &r), SC_EUNAVAIL);
	ck_assert_msg(now_s() - t0 < 0.2, "took %.2f s", now_s() - t0);
	in_call = true;
	sc_db_acquire(db, acquired_cb, &a);
	in_call = false;
	ck_assert_int_eq(a.calls, 0);
	ck_assert(wait_for(&a.calls, 1, 1));
	ck_assert_int_eq(a.err, SC_EUNAVAIL);
	ck_assert_ptr_null(a.conn);
}
END_TEST

START_TEST(bad_conninfo_is_rejected)
{
	ck_assert_ptr_null(sc_db_new(base, "no_such_option=1", 1));
	ck_assert_ptr_null(sc_db_new(base, "host='unterminated", 1));
	ck_assert_ptr_null(sc_db_new(base, "postgresql://[::1", 1));
	ck_assert_ptr_null(sc_db_new(base, test_url(), 0));
}
END_TEST

/* ---- prepared statements -------------------------------------------- */

/* How many prepared statements `conn` holds for `sql` (NULL: all of them),
 * read from that same connection. */
static int
prepared_count(struct sc_db_conn *conn, const char *sql)
{
	struct reply r = {0};
	const char *p[] = {sql};
	int n;

	if (sql == NULL) {
		ck_assert_int_eq(conn_run(conn,
		                          "select count(*) as n "
		                          "from pg_prepared_statements",
		                          0, NULL, &r),
		                 SC_OK);
	} else {
		ck_assert_int_eq(conn_run(conn,
		                          "select count(*) as n "
		                          "from pg_prepared_statements "
		                          "where statement = $1",
		                          1, p, &r),
		                 SC_OK);
	}
	n = (int)sc_db_int(r.rows, 0, "n");
	reply_clear(&r);
	return n;
}

/* The server-side name `conn` prepared `sql` under; "" for none. */
static void
prepared_name(struct sc_db_conn *conn, const char *sql, char *buf, size_t len)
{
	struct reply r = {0};
	const char *p[] = {sql};
	const char *name;

	ck_assert_int_eq(conn_run(conn,
	                          "select name from pg_prepared_statements "
	                          "where statement = $1",
	                          1, p, &r),
	                 SC_OK);
	name = sc_db_str(r.rows, 0, "name");
	snprintf(buf, len, "%s", name != NULL ? name : "");
	reply_clear(&r);
}

START_TEST(same_text_is_prepared_once_per_connection)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	const char *sql = "select $1::int * 2 as v";
	char copy[64], first[32], later[32];
	const char *p21[] = {"21"}, *p5[] = {"5"}, *p7[] = {"7"};

	open_pool(1);
	ck_assert_int_eq(run(sql, 1, p21, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 42);
	conn = acquire();
	ck_assert_int_eq(prepared_count(conn, sql), 1);
	prepared_name(conn, sql, first, sizeof first);
	ck_assert_str_ne(first, "");
	sc_db_release(conn);

	/* Again through the pool, and with the text in another buffer: the
	 * cache goes by the text, not the pointer. */
	ck_assert_int_eq(run(sql, 1, p5, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 10);
	snprintf(copy, sizeof copy, "%s", sql);
	ck_assert_int_eq(run(copy, 1, p7, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 14);

	conn = acquire();
	ck_assert_int_eq(conn_run(conn, sql, 1, p21, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 42);
	ck_assert_int_eq(prepared_count(conn, sql), 1);
	prepared_name(conn, sql, later, sizeof later);
	ck_assert_str_eq(later, first);

	/* Transaction control runs unnamed. */
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, "COMMIT", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(prepared_count(conn, "BEGIN"), 0);
	ck_assert_int_eq(prepared_count(conn, "COMMIT"), 0);
	sc_db_release(conn);
	reply_clear(&r);
}
END_TEST

START_TEST(prepare_error_gives_edb_and_caches_nothing)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	char table[64], sql[160], create[160], drop[160];
	const char *one[] = {"1"};

	open_pool(1);
	conn = acquire();
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(conn_run(conn, "selec $1", 1, one, &r),
		                 SC_EDB);
		ck_assert(r.had_res);
		ck_assert_int_eq(r.status, PGRES_FATAL_ERROR);
		ck_assert_str_eq(r.sqlstate, "42601");
	}
	ck_assert_int_eq(prepared_count(conn, "selec $1"), 0);
	/* The connection carries on. */
	ck_assert_int_eq(conn_run(conn, "select $1::int + 1 as v", 1, one, &r),
	                 SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 2);
	sc_db_release(conn);

	/* A text that failed to prepare works once it can: nothing stuck. */
	snprintf(table, sizeof table, "prep_later_%d", (int)getpid());
	snprintf(sql, sizeof sql, "select count(*) as n from %s where v = $1",
	         table);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_EDB);
	ck_assert_str_eq(r.sqlstate, "42P01");
	snprintf(create, sizeof create,
	         "create table %s as select 1 as v union all select 2", table);
	run_ok(create);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "n"), 1);
	snprintf(drop, sizeof drop, "drop table %s", table);
	run_ok(drop);
	reply_clear(&r);
}
END_TEST

START_TEST(deallocated_statement_is_prepared_again)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	const char *sql = "select $1::text || '!' as v";
	const char *hi[] = {"hi"};
	char before[32], after[32];

	open_pool(1);
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, sql, 1, hi, &r), SC_OK);
	ck_assert_int_eq(prepared_count(conn, sql), 1);
	prepared_name(conn, sql, before, sizeof before);

	/* Behind the cache's back: the next use fails with 26000 on the
	 * server and is prepared (under a new name) and run again,
	 * invisibly. */
	ck_assert_int_eq(conn_run(conn, "DISCARD ALL", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, hi, &r), SC_OK);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "v"), "hi!");
	ck_assert_int_eq(prepared_count(conn, sql), 1);
	prepared_name(conn, sql, after, sizeof after);
	ck_assert_str_ne(after, before);

	ck_assert_int_eq(conn_run(conn, "DEALLOCATE ALL", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, hi, &r), SC_OK);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "v"), "hi!");
	ck_assert_int_eq(prepared_count(conn, sql), 1);

	/* Inside a transaction the error stands (the transaction is aborted
	 * already), but it does not stick: after the rollback on release the
	 * text is prepared afresh. */
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, "DEALLOCATE ALL", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, hi, &r), SC_EDB);
	ck_assert_str_eq(r.sqlstate, "26000");
	sc_db_release(conn);
	ck_assert_int_eq(run(sql, 1, hi, &r), SC_OK);
	ck_assert_str_eq(sc_db_str(r.rows, 0, "v"), "hi!");
	conn = acquire();
	ck_assert_int_eq(prepared_count(conn, sql), 1);
	sc_db_release(conn);
	reply_clear(&r);
}
END_TEST

START_TEST(schema_change_reprepares_the_statement)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	char table[64], sql[128], ddl[160];
	const char *one[] = {"1"};

	open_pool(1);
	snprintf(table, sizeof table, "prep_schema_%d", (int)getpid());
	snprintf(ddl, sizeof ddl, "create table %s (a int)", table);
	run_ok(ddl);
	snprintf(ddl, sizeof ddl, "insert into %s values (1)", table);
	run_ok(ddl);
	snprintf(sql, sizeof sql, "select * from %s where a = $1", table);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_OK);
	ck_assert_int_eq(PQnfields(r.rows), 1);

	/* A migration changes the result type: the server refuses the old
	 * plan (0A000); the pool prepares the text again and runs it. */
	snprintf(ddl, sizeof ddl, "alter table %s add column b int default 7",
	         table);
	run_ok(ddl);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_OK);
	ck_assert_int_eq(PQnfields(r.rows), 2);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "b"), 7);

	/* Inside a transaction the error stands; the next use outside one
	 * replaces the statement. */
	snprintf(ddl, sizeof ddl, "alter table %s add column c int default 8",
	         table);
	run_ok(ddl);
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, one, &r), SC_EDB);
	ck_assert_str_eq(r.sqlstate, "0A000");
	sc_db_release(conn);
	ck_assert_int_eq(run(sql, 1, one, &r), SC_OK);
	ck_assert_int_eq(PQnfields(r.rows), 3);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "c"), 8);
	conn = acquire();
	ck_assert_int_eq(prepared_count(conn, sql), 1); /* old one dropped */
	sc_db_release(conn);

	snprintf(ddl, sizeof ddl, "drop table %s", table);
	run_ok(ddl);
	reply_clear(&r);
}
END_TEST

START_TEST(prepared_statement_outlives_a_rollback)
{
	struct reply r = {0};
	struct sc_db_conn *conn;
	const char *sql = "select $1::int - 1 as v";
	const char *ten[] = {"10"};
	char before[32], after[32];

	open_pool(1);
	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, ten, &r), SC_OK);
	prepared_name(conn, sql, before, sizeof before);
	ck_assert_str_ne(before, "");
	ck_assert_int_eq(conn_run(conn, "select 1/0", 0, NULL, &r), SC_EDB);
	sc_db_release(conn); /* rolls back */

	conn = acquire();
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, sql, 1, ten, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 9);
	ck_assert_int_eq(conn_run(conn, "COMMIT", 0, NULL, &r), SC_OK);
	prepared_name(conn, sql, after, sizeof after);
	ck_assert_str_eq(after, before);
	sc_db_release(conn);
	reply_clear(&r);
}
END_TEST

START_TEST(many_distinct_texts_stay_within_the_bound)
{
	enum { N = 300 };
	struct reply r = {0};
	struct sc_db_conn *conn;
	char sql[64], first[64], last[64], extra[64];
	const char *p[] = {"1000"};
	int n;

	open_pool(1);
	for (int i = 0; i < N; i++) {
		snprintf(sql, sizeof sql, "select $1::int + %d as v", i);
		ck_assert_int_eq(run(sql, 1, p, &r), SC_OK);
		ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 1000 + i);
	}
	snprintf(first, sizeof first, "select $1::int + %d as v", 0);
	snprintf(last, sizeof last, "select $1::int + %d as v", N - 1);
	conn = acquire();
	n = prepared_count(conn, NULL);
	ck_assert_msg(n > 200 && n <= 256, "%d statements prepared", n);
	ck_assert_int_eq(prepared_count(conn, first), 0); /* evicted */
	ck_assert_int_eq(prepared_count(conn, last), 1);

	/* Evicted texts still run, and so do new ones inside a transaction
	 * with the map full (unnamed there: nothing is deallocated inside a
	 * caller's transaction). */
	ck_assert_int_eq(conn_run(conn, first, 1, p, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 1000);
	snprintf(extra, sizeof extra, "select $1::int + %d as v", N);
	ck_assert_int_eq(conn_run(conn, "BEGIN", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(conn_run(conn, extra, 1, p, &r), SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "v"), 1000 + N);
	ck_assert_int_eq(conn_run(conn, "COMMIT", 0, NULL, &r), SC_OK);
	ck_assert_int_eq(prepared_count(conn, extra), 0);
	ck_assert_int_le(prepared_count(conn, NULL), 256);
	sc_db_release(conn);
	reply_clear(&r);
}
END_TEST

/* Start tests/lib/pg.sh restart in the background; returns its pid. */
static pid_t
start_restart(void)
{
	const char *dir = test_pg_dir();
	pid_t pid;

	ck_assert_msg(
	    access("tests/lib/pg.sh", X_OK) == 0,
	    "tests/lib/pg.sh not found: run from the repository root");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Out of Check's process group: a failing test must not kill
		 * the restart half-way and leave the cluster down. */
		setsid();
		execl("tests/lib/pg.sh", "pg.sh", "restart", dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

START_TEST(server_restart_fails_in_flight_then_recovers)
{
	struct reply slow = {0}, next = {0}, r = {0};
	pid_t pid;
	int status = -1, ok = 0;
	double t0;

	open_pool(2);
	/* Prepared on the old connections; the new ones start empty. */
	ck_assert_int_eq(run("select 1 as one", 0, NULL, &r), SC_OK);
	query("select pg_sleep(30)", 0, NULL, &slow);
	spin(0.1);
	ck_assert_int_eq(slow.calls, 0);

	pid = start_restart();
	ck_assert_msg(wait_for(&slow.calls, 1, 20), "in-flight query hung");
	ck_assert_int_eq(slow.err, SC_EUNAVAIL);
	ck_assert(!slow.had_res);

	/* The server is going or gone: the next query fails too. */
	ck_assert_int_eq(run("select 1", 0, NULL, &next), SC_EUNAVAIL);

	/* Keep the loop going while the restart runs, then watch the pool
	 * come back by itself. */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		spin(0.05);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "pg.sh restart failed");
	t0 = now_s();
	while (now_s() - t0 < 10) {
		int err = run("select 1 as one", 0, NULL, &r);
		ck_assert_msg(err == SC_OK || err == SC_EUNAVAIL, "err %d",
		              err);
		if (err == SC_OK) {
			ck_assert_int_eq(sc_db_int(r.rows, 0, "one"), 1);
			ok = 1;
			break;
		}
		spin(0.1);
	}
	ck_assert_msg(ok, "no query succeeded within 10 s of the restart");
	ck_assert_msg(now_s() - t0 < 6, "recovery took %.2f s", now_s() - t0);
	ck_assert(sc_db_ready(db));
	reply_clear(&r);
	reply_clear(&next);
}
END_TEST

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(*(int *)arg)++;
}

START_TEST(loop_stays_responsive_during_slow_query)
{
	struct reply r = {0};
	struct timeval ten_ms = {0, 10000};
	struct event *tick;
	int ticks = 0;
	double t0;

	open_pool(1);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, &ticks);
	event_add(tick, &ten_ms);
	t0 = now_s();
	query("select pg_sleep(0.5)", 0, NULL, &r);
	ck_assert(wait_for(&r.calls, 1, 5));
	ck_assert_int_eq(r.err, SC_OK);
	ck_assert_msg(now_s() - t0 >= 0.45, "the sleep did not happen");
	/* 50 ticks if perfectly punctual; a blocked loop would give ~1. */
	ck_assert_msg(ticks >= 30, "only %d ticks during a 0.5 s query", ticks);
	event_free(tick);
	reply_clear(&r);
}
END_TEST

START_TEST(copy_is_refused_without_wedging_the_pool)
{
	struct reply r = {0};

	open_pool(1);
	ck_assert_int_eq(run("copy (select 1) to stdout", 0, NULL, &r),
	                 SC_EUNAVAIL);
	/* The connection was replaced; the pool carries on by itself. */
	for (double t0 = now_s(); now_s() - t0 < 5;) {
		if (run("select 2 as two", 0, NULL, &r) == SC_OK) {
			break;
		}
		spin(0.05);
	}
	ck_assert_int_eq(r.err, SC_OK);
	ck_assert_int_eq(sc_db_int(r.rows, 0, "two"), 2);
	reply_clear(&r);
}
END_TEST

START_TEST(free_fails_queued_and_in_flight_work)
{
	struct reply busy = {0}, queued = {0};
	struct acquired a = {0};

	open_pool(1);
	query("select pg_sleep(10)", 0, NULL, &busy);
	query("select 1", 0, NULL, &queued);
	in_call = true;
	sc_db_acquire(db, acquired_cb, &a);
	in_call = false;
	spin(0.05);
	ck_assert_int_eq(busy.calls + queued.calls + a.calls, 0);
	sc_db_free(db);
	db = NULL;
	ck_assert_int_eq(busy.calls, 1);
	ck_assert_int_eq(busy.err, SC_EUNAVAIL);
	ck_assert_int_eq(queued.calls, 1);
	ck_assert_int_eq(queued.err, SC_EUNAVAIL);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, SC_EUNAVAIL);
	ck_assert_ptr_null(a.conn);
}
END_TEST

static Suite *
db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("pool");
	TCase *slow = tcase_create("outages");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, query_returns_rows);
	tcase_add_test(tc, params_are_passed_verbatim);
	tcase_add_test(tc, sql_error_gives_edb_with_sqlstate);
	tcase_add_test(tc, result_helpers_accept_null_results);
	tcase_add_test(tc, pool_runs_queries_concurrently);
	tcase_add_test(tc, full_queue_fails_with_eagain);
	tcase_add_test(tc, committed_transaction_is_visible);
	tcase_add_test(tc, release_without_commit_rolls_back);
	tcase_add_test(tc, acquire_never_calls_back_before_returning);
	tcase_add_test(tc, loop_stays_responsive_during_slow_query);
	tcase_add_test(tc, copy_is_refused_without_wedging_the_pool);
	tcase_add_test(tc, free_fails_queued_and_in_flight_work);
	tcase_add_test(tc, same_text_is_prepared_once_per_connection);
	tcase_add_test(tc, prepare_error_gives_edb_and_caches_nothing);
	tcase_add_test(tc, deallocated_statement_is_prepared_again);
	tcase_add_test(tc, schema_change_reprepares_the_statement);
	tcase_add_test(tc, prepared_statement_outlives_a_rollback);
	tcase_add_test(tc, many_distinct_texts_stay_within_the_bound);
	tcase_add_test(tc,
	               listener_hears_committed_notifications_and_comes_back);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(slow, setup, teardown);
	tcase_set_timeout(slow, 60);
	tcase_add_test(slow, unreachable_server_fails_quickly);
	tcase_add_test(slow, bad_conninfo_is_rejected);
	tcase_add_test(slow, server_restart_fails_in_flight_then_recovers);
	suite_add_tcase(s, slow);
	return s;
}

SC_TEST_MAIN(db_suite)
