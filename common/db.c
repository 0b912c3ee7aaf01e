/* db.c: a pool of non-blocking libpq connections driven by libevent, with a
 * bounded wait queue, reconnection with backoff, and a per-connection cache
 * of prepared statements keyed by SQL text (see db.h). */
#include "db.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "log.h"

#define DB_QUEUE_MAX         1024
#define DB_BACKOFF_MIN_MS    100
#define DB_BACKOFF_MAX_MS    5000
#define DB_CONNECT_TIMEOUT_S 5
#define DB_STMT_MAX          256 /* prepared statements per connection */
#define DB_STMT_BUCKETS      64  /* hash buckets of that map; power of 2 */

enum job_kind {
	JOB_QUERY,    /* sc_db_query / sc_db_conn_query */
	JOB_ACQUIRE,  /* sc_db_acquire */
	JOB_ROLLBACK, /* internal: ROLLBACK before a release */
};

/* What a JOB_QUERY has on the wire: DEALLOCATE -> PREPARE -> EXEC, each
 * step waiting for its results before the next is sent; most jobs start
 * (and end) at EXEC. */
enum job_step {
	STEP_DEALLOCATE, /* drop an evicted or stale statement first */
	STEP_PREPARE,    /* PQsendPrepare of `stmt_id` */
	STEP_EXEC,       /* the statement itself, named or unnamed */
};

/* One unit of work: a statement to run, a connection to hand out, or a
 * completion waiting for the deferred event. */
struct db_job {
	struct db_job *next;
	enum job_kind kind;
	char *sql;
	uint32_t hash; /* of sql, the prepared statement cache's key */
	char **params;
	int nparams;
	enum job_step step;
	unsigned stmt_id; /* prepared statement to run; 0: run unnamed */
	unsigned drop_id; /* statement to DEALLOCATE first; 0: none */
	bool retried;     /* re-prepared once already (26000 / 0A000) */
	sc_db_result_cb result_cb;
	sc_db_conn_cb conn_cb;
	void *arg;
	int err;                 /* completion: the error to report */
	struct sc_db_conn *conn; /* completion of JOB_ACQUIRE */
};

struct job_list {
	struct db_job *head, *tail;
	int len;
};

/* A statement prepared on one connection under the name "sc<id>". Names
 * are never reused on one PGconn, so a forgotten entry cannot alias a
 * statement the server still holds. */
struct db_stmt {
	struct db_stmt *chain;         /* next in the hash bucket */
	struct db_stmt *newer, *older; /* use order, for eviction */
	char *sql;
	uint32_t hash;
	unsigned id;
	bool stale; /* 0A000 inside a transaction: replace when idle */
};

enum conn_state {
	CONN_DOWN,       /* closed; a reconnect timer may be pending */
	CONN_CONNECTING, /* PQconnectPoll in progress */
	CONN_READY,      /* connected */
};

struct sc_db_conn {
	struct sc_db *db;
	PGconn *pg;
	enum conn_state state;
	struct event *io; /* on PQsocket(); re-created when it changes */
	int io_fd;
	short io_what;
	struct event *timer; /* connect timeout or reconnect backoff */
	int backoff_ms;
	bool first_attempt;   /* still in the first connect attempt */
	bool checked_out;     /* held by sc_db_acquire's caller (or reserved) */
	bool releasing;       /* ROLLBACK in flight before going back */
	bool release_pending; /* released while a query was in flight */
	bool flushing;        /* PQflush returned 1: watch EV_WRITE */
	bool listener;        /* the pool's LISTEN connection (sc_db_listen) */
	bool listening;       /* listener: LISTEN in effect, UP was told */
	struct db_job *job;   /* in flight */
	PGresult *res;        /* first result of the step in flight */
	/* Prepared statements on this PGconn, by SQL text; emptied when it
	 * closes. */
	struct db_stmt *stmt_bucket[DB_STMT_BUCKETS];
	struct db_stmt *stmt_newest, *stmt_oldest;
	int nstmts;
	unsigned stmt_next_id;
};

struct sc_db {
	struct event_base *base;
	char *conninfo;
	int connect_timeout_s;
	int size;
	struct sc_db_conn *conns;
	struct job_list queue;    /* waiting for a free connection */
	struct job_list deferred; /* completions to run from `defer_ev` */
	struct event *defer_ev;
	bool outage; /* warned "unreachable" and not yet back */
	/* sc_db_listen: a connection outside `conns`, never given queries. */
	struct sc_db_conn *listener;
	char *listen_sql; /* LISTEN "<channel>" */
	char *listen_channel;
	sc_db_listen_cb listen_cb;
	void *listen_arg;
	bool closing;
	unsigned long queries, errors;
};

static void conn_connect(struct sc_db_conn *c);
static void listener_subscribe(struct sc_db_conn *c);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void db_dispatch(struct sc_db *db);

/* ---- jobs ----------------------------------------------------------- */

static void
list_push(struct job_list *l, struct db_job *job)
{
	job->next = NULL;
	if (l->tail != NULL) {
		l->tail->next = job;
	} else {
		l->head = job;
	}
	l->tail = job;
	l->len++;
}

static struct db_job *
list_pop(struct job_list *l)
{
	struct db_job *job = l->head;

	if (job != NULL) {
		l->head = job->next;
		if (l->head == NULL) {
			l->tail = NULL;
		}
		l->len--;
		job->next = NULL;
	}
	return job;
}

/* FNV-1a: short keys, no adversary (the texts are the program's own). */
static uint32_t
sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0';
	     p++) {
		h = (h ^ *p) * 16777619u;
	}
	return h;
}

static struct db_job *
job_new(enum job_kind kind, const char *sql, int nparams,
        const char *const *params)
{
	struct db_job *job = sc_calloc(1, sizeof *job);

	job->kind = kind;
	job->err = SC_OK;
	job->step = STEP_EXEC;
	if (sql != NULL) {
		job->sql = sc_strdup(sql);
		job->hash = sql_hash(sql);
	}
	if (nparams > 0) {
		job->nparams = nparams;
		job->params = sc_calloc((size_t)nparams, sizeof *job->params);
		for (int i = 0; i < nparams; i++) {
			if (params[i] != NULL) {
				job->params[i] = sc_strdup(params[i]);
			}
		}
	}
	return job;
}

static void
job_free(struct db_job *job)
{
	for (int i = 0; i < job->nparams; i++) {
		free(job->params[i]);
	}
	free(job->params);
	free(job->sql);
	free(job);
}

/* Run a completion: the job's callback with its error (and connection for
 * an acquire), then free the job. */
static void
job_complete(struct sc_db *db, struct db_job *job)
{
	if (job->err != SC_OK) {
		db->errors++;
	}
	if (job->kind == JOB_ACQUIRE) {
		job->conn_cb(job->err, job->err == SC_OK ? job->conn : NULL,
		             job->arg);
	} else if (job->kind == JOB_QUERY) {
		job->result_cb(job->err, NULL, job->arg);
	}
	job_free(job);
}

/* Complete `job` with `err` from the loop, never from inside the API call
 * that made it (callers may hold locks or half-built state). */
static void
db_defer(struct sc_db *db, struct db_job *job, int err)
{
	job->err = err;
	list_push(&db->deferred, job);
	event_active(db->defer_ev, EV_TIMEOUT, 1);
}

static void
db_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sc_db *db = arg;
	struct job_list todo = db->deferred;
	struct db_job *job;

	(void)fd;
	(void)what;
	/* Detach first: callbacks may defer more, which re-arms the event. */
	memset(&db->deferred, 0, sizeof db->deferred);
	while ((job = list_pop(&todo)) != NULL) {
		job_complete(db, job);
	}
}

/* ---- prepared statement cache -------------------------------------- */

static bool
sql_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

/* Transaction control, and the statements that drop prepared statements,
 * run unnamed: preparing them saves nothing, and a named DISCARD ALL would
 * deallocate itself. Only statements without parameters qualify. */
static bool
sql_runs_unnamed(const char *sql)
{
	static const char *const words[] = {
	    "begin",     "start",   "commit",  "end",     "rollback",   "abort",
	    "savepoint", "release", "prepare", "discard", "deallocate", NULL};
	size_t n = 0;

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r') {
		sql++;
	}
	while (sql_word_char(sql[n])) {
		n++;
	}
	for (int i = 0; words[i] != NULL; i++) {
		if (strlen(words[i]) == n &&
		    strncasecmp(sql, words[i], n) == 0) {
			return true;
		}
	}
	return false;
}

static bool
job_cacheable(const struct db_job *job)
{
	return job->kind == JOB_QUERY &&
	       (job->nparams > 0 || !sql_runs_unnamed(job->sql));
}

static void
stmt_name(char *buf, size_t len, unsigned id)
{
	snprintf(buf, len, "sc%u", id);
}

static struct db_stmt *
conn_stmt_find(const struct sc_db_conn *c, const char *sql, uint32_t hash)
{
	struct db_stmt *st = c->stmt_bucket[hash & (DB_STMT_BUCKETS - 1)];

	while (st != NULL && (st->hash != hash || strcmp(st->sql, sql) != 0)) {
		st = st->chain;
	}
	return st;
}

/* Unlink `st` from the use-order list. */
static void
conn_stmt_unlink(struct sc_db_conn *c, struct db_stmt *st)
{
	if (st->newer != NULL) {
		st->newer->older = st->older;
	} else {
		c->stmt_newest = st->older;
	}
	if (st->older != NULL) {
		st->older->newer = st->newer;
	} else {
		c->stmt_oldest = st->newer;
	}
	st->newer = st->older = NULL;
}

/* Put `st` first in the use-order list (it is not in it). */
static void
conn_stmt_link_newest(struct sc_db_conn *c, struct db_stmt *st)
{
	st->older = c->stmt_newest;
	st->newer = NULL;
	if (c->stmt_newest != NULL) {
		c->stmt_newest->newer = st;
	} else {
		c->stmt_oldest = st;
	}
	c->stmt_newest = st;
}

static void
conn_stmt_touch(struct sc_db_conn *c, struct db_stmt *st)
{
	if (c->stmt_newest != st) {
		conn_stmt_unlink(c, st);
		conn_stmt_link_newest(c, st);
	}
}

/* Remember that `sql` is prepared as "sc<id>" on this connection. */
static void
conn_stmt_add(struct sc_db_conn *c, const char *sql, uint32_t hash, unsigned id)
{
	struct db_stmt *st = sc_calloc(1, sizeof *st);
	struct db_stmt **head = &c->stmt_bucket[hash & (DB_STMT_BUCKETS - 1)];

	st->sql = sc_strdup(sql);
	st->hash = hash;
	st->id = id;
	st->chain = *head;
	*head = st;
	conn_stmt_link_newest(c, st);
	c->nstmts++;
}

/* Forget `st` (the server side is the caller's business) and free it. */
static void
conn_stmt_remove(struct sc_db_conn *c, struct db_stmt *st)
{
	struct db_stmt **pp = &c->stmt_bucket[st->hash & (DB_STMT_BUCKETS - 1)];

	while (*pp != st) {
		pp = &(*pp)->chain;
	}
	*pp = st->chain;
	conn_stmt_unlink(c, st);
	c->nstmts--;
	free(st->sql);
	free(st);
}

static void
conn_stmts_clear(struct sc_db_conn *c)
{
	while (c->stmt_newest != NULL) {
		conn_stmt_remove(c, c->stmt_newest);
	}
}

/* ---- connections ---------------------------------------------------- */

/* libpq's messages end in a newline and may span lines; one line for logs. */
static void
db_msg(char *buf, size_t len, const char *msg)
{
	size_t n = 0;

	if (msg == NULL || *msg == '\0') {
		msg = "unknown error";
	}
	for (const char *p = msg; *p != '\0' && n + 1 < len; p++) {
		char ch = *p == '\n' || *p == '\t' ? ' ' : *p;
		if (ch == ' ' && (n == 0 || buf[n - 1] == ' ')) {
			continue;
		}
		buf[n++] = ch;
	}
	while (n > 0 && buf[n - 1] == ' ') {
		n--;
	}
	buf[n] = '\0';
}

static void
db_notice_cb(void *arg, const char *message)
{
	char msg[512];

	(void)arg;
	if (sc_log_enabled(SC_LOG_DEBUG)) {
		db_msg(msg, sizeof msg, message);
		sc_log_debug(NULL, "database notice: %s", msg);
	}
}

static bool
db_reachable(const struct sc_db *db)
{
	for (int i = 0; i < db->size; i++) {
		const struct sc_db_conn *c = &db->conns[i];
		if (c->state == CONN_READY ||
		    (c->state == CONN_CONNECTING && c->first_attempt)) {
			return true;
		}
	}
	return false;
}

/* Nothing can serve the queue any time soon: fail it rather than hang. */
static void
db_fail_queue_if_unreachable(struct sc_db *db)
{
	struct db_job *job;

	if (db_reachable(db)) {
		return;
	}
	while ((job = list_pop(&db->queue)) != NULL) {
		db_defer(db, job, SC_EUNAVAIL);
	}
}

static void
db_outage(struct sc_db *db, const char *cause)
{
	char msg[512];

	if (!db->outage) {
		db->outage = true;
		db_msg(msg, sizeof msg, cause);
		sc_log_warn(NULL, "database unreachable: %s", msg);
	}
}

/* Watch the connection's socket for `what` (plus EV_PERSIST). During the
 * connect handshake libpq may switch sockets, so `force` re-creates the
 * event even when nothing seems to have changed. */
static int
conn_watch(struct sc_db_conn *c, short what, bool force)
{
	int fd = PQsocket(c->pg);

	if (fd < 0) {
		return -1;
	}
	if (!force && c->io != NULL && c->io_fd == fd && c->io_what == what) {
		return 0;
	}
	if (c->io != NULL) {
		event_free(c->io);
	}
	c->io = event_new(c->db->base, fd, what | EV_PERSIST, conn_io_cb, c);
	if (c->io == NULL || event_add(c->io, NULL) != 0) {
		return -1;
	}
	c->io_fd = fd;
	c->io_what = what;
	return 0;
}

static short
conn_wanted(const struct sc_db_conn *c)
{
	return (short)(EV_READ | (c->flushing ? EV_WRITE : 0));
}

static void
conn_timer_start(struct sc_db_conn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

/* Close the libpq connection and forget socket state; the job in flight,
 * if any, is the caller's business. */
static void
conn_close(struct sc_db_conn *c)
{
	if (c->io != NULL) {
		event_free(c->io);
		c->io = NULL;
	}
	evtimer_del(c->timer);
	PQclear(c->res);
	c->res = NULL;
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = CONN_DOWN;
	c->flushing = false;
	if (c->listening) {
		c->listening = false;
		if (!c->db->closing) {
			c->db->listen_cb(SC_DB_LISTEN_DOWN, "",
			                 c->db->listen_arg);
		}
	}
	/* The next PGconn starts with no prepared statements. */
	conn_stmts_clear(c);
	c->stmt_next_id = 0;
}

static void
conn_schedule_reconnect(struct sc_db_conn *c)
{
	conn_timer_start(c, c->backoff_ms);
	c->backoff_ms *= 2;
	if (c->backoff_ms > DB_BACKOFF_MAX_MS) {
		c->backoff_ms = DB_BACKOFF_MAX_MS;
	}
}

/* Close the connection, failing its job with SC_EUNAVAIL; reconnect with
 * backoff unless a caller still holds it (then its release reconnects). */
static void
conn_drop(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;
	struct db_job *job = c->job;

	c->job = NULL;
	conn_close(c);
	if (job != NULL && job->kind == JOB_ROLLBACK) {
		job_free(job);
		c->releasing = false;
		c->checked_out = false;
	} else if (job != NULL) {
		db_defer(db, job, SC_EUNAVAIL);
	}
	if (c->release_pending) {
		c->release_pending = false;
		c->checked_out = false;
	}
	if (!c->checked_out && !db->closing) {
		conn_schedule_reconnect(c);
	}
	db_fail_queue_if_unreachable(db);
}

/* The connection broke (server gone, network): warn once, then drop it. */
static void
conn_lost(struct sc_db_conn *c, const char *cause)
{
	db_outage(c->db, cause);
	conn_drop(c);
}

static void
conn_connect_failed(struct sc_db_conn *c, const char *cause)
{
	struct sc_db *db = c->db;

	db_outage(db, cause);
	conn_close(c);
	c->first_attempt = false;
	conn_schedule_reconnect(c);
	db_fail_queue_if_unreachable(db);
}

static void
conn_connected(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;

	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	evtimer_del(c->timer);
	c->state = CONN_READY;
	c->first_attempt = false;
	c->backoff_ms = DB_BACKOFF_MIN_MS;
	if (conn_watch(c, conn_wanted(c), true) != 0) {
		conn_lost(c, "cannot watch the database socket");
		return;
	}
	if (db->outage) {
		db->outage = false;
		sc_log_info(NULL, "database reachable again");
	}
	if (c->listener) {
		listener_subscribe(c);
		return;
	}
	db_dispatch(db);
}

static void
conn_poll(struct sc_db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_OK:
		conn_connected(c);
		return;
	case PGRES_POLLING_READING:
		if (conn_watch(c, EV_READ, true) != 0) {
			conn_connect_failed(c, PQerrorMessage(c->pg));
		}
		return;
	case PGRES_POLLING_WRITING:
		if (conn_watch(c, EV_WRITE, true) != 0) {
			conn_connect_failed(c, PQerrorMessage(c->pg));
		}
		return;
	default:
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
}

static void
conn_connect(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;
	const char *const keys[] = {"dbname", "fallback_application_name",
	                            NULL};
	const char *const vals[] = {db->conninfo, program_invocation_short_name,
	                            NULL};

	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL) {
		sc_oom();
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	PQsetNoticeProcessor(c->pg, db_notice_cb, c);
	c->state = CONN_CONNECTING;
	conn_timer_start(c, db->connect_timeout_s * 1000);
	/* Before the first poll libpq wants the socket writable. */
	if (conn_watch(c, EV_WRITE, true) != 0) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
	}
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sc_db_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_DOWN) {
		conn_connect(c);
	} else if (c->state == CONN_CONNECTING) {
		conn_connect_failed(c, "timeout expired while connecting");
	}
}

/* Choose how `job` runs on `c` and set its first step: a cached statement
 * executes at once; a new text is prepared first (after deallocating the
 * least recently used statement when the map is full, or the old version
 * of a stale one). Inside a transaction nothing is deallocated, since a
 * failure there would abort the caller's transaction: a stale statement or
 * a new text with the map full runs unnamed instead. */
static void
job_plan(struct sc_db_conn *c, struct db_job *job)
{
	struct db_stmt *st;

	job->step = STEP_EXEC;
	job->stmt_id = 0;
	job->drop_id = 0;
	if (!job_cacheable(job)) {
		return;
	}
	st = conn_stmt_find(c, job->sql, job->hash);
	if (st != NULL && !st->stale) {
		conn_stmt_touch(c, st);
		job->stmt_id = st->id;
		return;
	}
	if (st == NULL && c->nstmts >= DB_STMT_MAX) {
		st = c->stmt_oldest;
	}
	if (st != NULL) {
		if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			return;
		}
		job->drop_id = st->id;
		conn_stmt_remove(c, st);
	}
	job->stmt_id = ++c->stmt_next_id;
	job->step = job->drop_id != 0 ? STEP_DEALLOCATE : STEP_PREPARE;
}

/* Send the current step of the job in flight. */
static void
conn_send_step(struct sc_db_conn *c)
{
	struct db_job *job = c->job;
	const char *const *params = (const char *const *)job->params;
	char name[16], sql[32];
	int ok, r;

	stmt_name(name, sizeof name, job->stmt_id);
	switch (job->step) {
	case STEP_DEALLOCATE:
		snprintf(sql, sizeof sql, "DEALLOCATE sc%u", job->drop_id);
		ok =
		    PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
		break;
	case STEP_PREPARE:
		/* No parameter types: the server infers them, as unnamed. */
		ok = PQsendPrepare(c->pg, name, job->sql, job->nparams, NULL);
		break;
	default:
		if (job->stmt_id != 0) {
			ok = PQsendQueryPrepared(c->pg, name, job->nparams,
			                         params, NULL, NULL, 0);
		} else {
			ok = PQsendQueryParams(c->pg, job->sql, job->nparams,
			                       NULL, params, NULL, NULL, 0);
		}
		break;
	}
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	r = PQflush(c->pg);
	if (r < 0) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	c->flushing = r == 1;
	if (conn_watch(c, conn_wanted(c), false) != 0) {
		conn_lost(c, "cannot watch the database socket");
	}
}

/* Send `job` on an idle connection (it becomes the job in flight). */
static void
conn_send(struct sc_db_conn *c, struct db_job *job)
{
	c->job = job;
	job_plan(c, job);
	conn_send_step(c);
}

/* The job's error code from its result; a failure that means the server
 * is going away (admin shutdown, crash, starting up) or a broken
 * connection is SC_EUNAVAIL, not an SQL error. */
static int
conn_result_err(const struct sc_db_conn *c, const PGresult *res)
{
	const char *state;

	if (res == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		return SC_EUNAVAIL;
	}
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return SC_OK;
	default:
		state = sc_db_sqlstate(res);
		if (strncmp(state, "57P", 3) == 0 ||
		    strncmp(state, "08", 2) == 0) {
			return SC_EUNAVAIL;
		}
		return SC_EDB;
	}
}

static void conn_release(struct sc_db_conn *c);

/* PQgetResult returned NULL: the job is done and the connection idle. */
static void
conn_finish_job(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;
	struct db_job *job = c->job;
	PGresult *res = c->res;
	int err = conn_result_err(c, res);
	char cause[512] = "transaction still open after ROLLBACK";

	c->job = NULL;
	c->res = NULL;
	if (err != SC_OK) {
		db_msg(cause, sizeof cause,
		       res != NULL ? PQresultErrorMessage(res)
		                   : PQerrorMessage(c->pg));
	}
	if (job->kind == JOB_ROLLBACK) {
		job_free(job);
		PQclear(res);
		c->releasing = false;
		c->checked_out = false;
		if (err == SC_EUNAVAIL) {
			conn_lost(c, cause);
		} else if (err != SC_OK ||
		           PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			/* Not broken, just unusable: start afresh quietly. */
			sc_log_warn(NULL, "cannot roll back on release: %s",
			            cause);
			conn_close(c);
			conn_schedule_reconnect(c);
		}
		db_dispatch(db);
		return;
	}
	if (err == SC_EUNAVAIL) {
		PQclear(res);
		res = NULL;
		conn_lost(c, cause);
	} else if (conn_watch(c, conn_wanted(c), false) != 0) {
		conn_lost(c, "cannot watch the database socket");
	}
	if (err != SC_OK) {
		db->errors++;
	}
	job->result_cb(err, res, job->arg);
	PQclear(res);
	job_free(job);
	if (c->release_pending && c->job == NULL) {
		c->release_pending = false;
		conn_release(c);
	}
	db_dispatch(db);
}

/* A named statement failed in a way a fresh prepare cures: 26000, it is
 * gone (DEALLOCATE ALL or DISCARD ALL went by, which drop every statement,
 * so forget them all); 0A000, a schema change altered its result type
 * ("cached plan must not change result type"; mark it stale). Outside a
 * transaction, plan and send the job once more and return true. Inside
 * one the error stands: the transaction is aborted already. */
static bool
conn_exec_retry(struct sc_db_conn *c)
{
	struct db_job *job = c->job;
	struct db_stmt *st;
	const char *state;

	if (job->stmt_id == 0 || conn_result_err(c, c->res) != SC_EDB) {
		return false;
	}
	state = sc_db_sqlstate(c->res);
	if (strcmp(state, "26000") == 0) {
		conn_stmts_clear(c);
	} else if (strcmp(state, "0A000") == 0) {
		st = conn_stmt_find(c, job->sql, job->hash);
		if (st != NULL) {
			st->stale = true;
		}
	} else {
		return false;
	}
	if (job->retried || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		return false;
	}
	sc_log_debug(NULL, "re-preparing '%.40s' after %s", job->sql, state);
	job->retried = true;
	PQclear(c->res);
	c->res = NULL;
	job_plan(c, job);
	conn_send_step(c);
	return true;
}

/* PQgetResult returned NULL: the step in flight is through. A failed
 * PREPARE fails the job with its error (nothing is cached); a failed
 * DEALLOCATE is ignored (the statement was gone already, and outside a
 * transaction nothing else is lost). */
static void
conn_step_done(struct sc_db_conn *c)
{
	struct db_job *job = c->job;
	int err;

	if (job->step == STEP_EXEC) {
		if (!conn_exec_retry(c)) {
			conn_finish_job(c);
		}
		return;
	}
	err = conn_result_err(c, c->res);
	if (err == SC_EUNAVAIL || (job->step == STEP_PREPARE && err != SC_OK)) {
		conn_finish_job(c);
		return;
	}
	PQclear(c->res);
	c->res = NULL;
	if (job->step == STEP_PREPARE) {
		conn_stmt_add(c, job->sql, job->hash, job->stmt_id);
		job->step = STEP_EXEC;
	} else {
		job->step = STEP_PREPARE;
	}
	conn_send_step(c);
}

/* Hand the listener's notifications on; a pool connection's (nobody
 * listens there) are dropped. */
static void
conn_drain_notifies(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;
	PGnotify *n;

	while (c->pg != NULL && (n = PQnotifies(c->pg)) != NULL) {
		if (c->listening &&
		    strcmp(n->relname, db->listen_channel) == 0) {
			db->listen_cb(SC_DB_LISTEN_NOTIFY,
			              n->extra != NULL ? n->extra : "",
			              db->listen_arg);
		}
		PQfreemem(n);
	}
}

static void
conn_io_ready(struct sc_db_conn *c, short what)
{
	PGresult *res;

	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->flushing) {
		int r = PQflush(c->pg);
		if (r < 0) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		c->flushing = r == 1;
	}
	conn_drain_notifies(c);
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	while (c->job != NULL && !c->flushing && !PQisBusy(c->pg)) {
		res = PQgetResult(c->pg);
		if (res == NULL) {
			conn_step_done(c);
			return;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			/* COPY is not supported here; the protocol state would
			 * wedge, so drop the connection. */
			PQclear(res);
			sc_log_error(NULL,
			             "cannot run '%.40s': COPY is not "
			             "supported, closing the connection",
			             c->job->sql);
			conn_drop(c);
			return;
		default:
			break;
		}
		if (c->res == NULL) {
			c->res = res;
		} else {
			PQclear(res);
		}
	}
	if (conn_watch(c, conn_wanted(c), false) != 0) {
		conn_lost(c, "cannot watch the database socket");
	}
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sc_db_conn *c = arg;

	(void)fd;
	if (c->state == CONN_CONNECTING) {
		conn_poll(c);
	} else if (c->state == CONN_READY) {
		conn_io_ready(c, what);
	}
}

static struct sc_db_conn *
db_idle_conn(struct sc_db *db)
{
	for (int i = 0; i < db->size; i++) {
		struct sc_db_conn *c = &db->conns[i];
		if (c->state == CONN_READY && !c->checked_out &&
		    c->job == NULL) {
			return c;
		}
	}
	return NULL;
}

/* Hand queued work to idle connections, oldest first. */
static void
db_dispatch(struct sc_db *db)
{
	struct sc_db_conn *c;
	struct db_job *job;

	while (!db->closing && db->queue.head != NULL &&
	       (c = db_idle_conn(db)) != NULL) {
		job = list_pop(&db->queue);
		if (job->kind == JOB_ACQUIRE) {
			c->checked_out = true;
			job->conn = c;
			db_defer(db, job, SC_OK);
		} else {
			conn_send(c, job);
		}
	}
}

/* Queue `job` for the pool, or fail it (deferred) when nothing can run it. */
static void
db_submit(struct sc_db *db, struct db_job *job)
{
	db->queries += job->kind == JOB_QUERY;
	if (db->closing || !db_reachable(db)) {
		db_defer(db, job, SC_EUNAVAIL);
		return;
	}
	if (db->queue.len >= DB_QUEUE_MAX) {
		db_defer(db, job, SC_EAGAIN);
		return;
	}
	list_push(&db->queue, job);
	db_dispatch(db);
}

/* ---- public API ----------------------------------------------------- */

struct sc_db *
sc_db_new(struct event_base *base, const char *conninfo, int size)
{
	struct sc_db *db;
	PQconninfoOption *opts;
	char *errmsg = NULL;
	int timeout = DB_CONNECT_TIMEOUT_S;

	if (base == NULL || conninfo == NULL || size < 1) {
		sc_log_error(NULL,
		             "cannot create database pool: bad arguments");
		return NULL;
	}
	opts = PQconninfoParse(conninfo, &errmsg);
	if (opts == NULL) {
		char msg[512];
		char *at = errmsg != NULL && strlen(conninfo) >= 3
		               ? strstr(errmsg, conninfo)
		               : NULL;
		/* libpq quotes a bad URI whole; it may hold a password. */
		if (at != NULL) {
			memcpy(at, "...", 4);
		}
		db_msg(msg, sizeof msg, errmsg);
		sc_log_error(NULL, "invalid database conninfo: %s", msg);
		PQfreemem(errmsg);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "connect_timeout") == 0 &&
		    o->val != NULL && atoi(o->val) > 0) {
			/* libpq treats values below 2 as 2. */
			timeout = atoi(o->val) < 2 ? 2 : atoi(o->val);
		}
	}
	PQconninfoFree(opts);

	db = sc_calloc(1, sizeof *db);
	db->base = base;
	db->conninfo = sc_strdup(conninfo);
	db->connect_timeout_s = timeout;
	db->size = size;
	db->conns = sc_calloc((size_t)size, sizeof *db->conns);
	db->defer_ev = event_new(base, -1, 0, db_deferred_cb, db);
	if (db->defer_ev == NULL) {
		goto err;
	}
	for (int i = 0; i < size; i++) {
		struct sc_db_conn *c = &db->conns[i];
		c->db = db;
		c->state = CONN_DOWN;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		c->first_attempt = true;
		c->timer = evtimer_new(base, conn_timer_cb, c);
		if (c->timer == NULL) {
			goto err;
		}
	}
	for (int i = 0; i < size; i++) {
		conn_connect(&db->conns[i]);
	}
	return db;
err:
	sc_log_error(NULL, "cannot create database pool: %s",
	             "cannot create events");
	for (int i = 0; i < size; i++) {
		if (db->conns[i].timer != NULL) {
			event_free(db->conns[i].timer);
		}
	}
	if (db->defer_ev != NULL) {
		event_free(db->defer_ev);
	}
	free(db->conns);
	free(db->conninfo);
	free(db);
	return NULL;
}

/* ---- the listener --------------------------------------------------- */

static void
listen_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_db_conn *c = arg;
	struct sc_db *db = c->db;
	char msg[512];

	if (err == SC_OK && c->state == CONN_READY) {
		c->listening = true;
		db->listen_cb(SC_DB_LISTEN_UP, "", db->listen_arg);
	} else if (err == SC_EDB) {
		/* Not a broken connection: retrying would fail alike, and
		 * the listener's users stay on their safe side (DOWN). */
		db_msg(msg, sizeof msg, PQresultErrorMessage(res));
		sc_log_error(NULL, "cannot listen on '%s': %s",
		             db->listen_channel, msg);
	}
	/* SC_EUNAVAIL: the connection broke; its reconnect subscribes. */
}

/* The listener is connected: LISTEN (a plain query, never prepared). */
static void
listener_subscribe(struct sc_db_conn *c)
{
	struct db_job *job = job_new(JOB_QUERY, c->db->listen_sql, 0, NULL);

	job->result_cb = listen_done_cb;
	job->arg = c;
	c->job = job;
	conn_send_step(c);
}

static bool
channel_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || !((*s >= 'a' && *s <= 'z') || *s == '_')) {
		return false;
	}
	for (; s[n] != '\0'; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_')) {
			return false;
		}
	}
	return n <= 63;
}

int
sc_db_listen(struct sc_db *db, const char *channel, sc_db_listen_cb cb,
             void *arg)
{
	struct sc_db_conn *c;

	if (db == NULL || cb == NULL || !channel_ok(channel) ||
	    db->listener != NULL) {
		sc_log_error(NULL, "cannot listen on '%s': %s",
		             channel != NULL ? channel : "(null)",
		             db != NULL && db->listener != NULL
		                 ? "a listener is set already"
		                 : "bad arguments");
		return SC_EINVAL;
	}
	c = sc_calloc(1, sizeof *c);
	c->db = db;
	c->state = CONN_DOWN;
	c->backoff_ms = DB_BACKOFF_MIN_MS;
	c->first_attempt = true;
	c->listener = true;
	c->timer = evtimer_new(db->base, conn_timer_cb, c);
	if (c->timer == NULL) {
		sc_log_error(NULL, "cannot listen on '%s': %s", channel,
		             "cannot create events");
		free(c);
		return SC_EINVAL;
	}
	db->listener = c;
	db->listen_channel = sc_strdup(channel);
	db->listen_sql = sc_asprintf("LISTEN \"%s\"", channel);
	db->listen_cb = cb;
	db->listen_arg = arg;
	conn_connect(c);
	return SC_OK;
}

void
sc_db_free(struct sc_db *db)
{
	struct db_job *job;

	if (db == NULL) {
		return;
	}
	db->closing = true;
	for (int i = 0; i < db->size; i++) {
		struct sc_db_conn *c = &db->conns[i];
		job = c->job;
		c->job = NULL;
		conn_close(c);
		if (job != NULL && job->kind == JOB_ROLLBACK) {
			job_free(job);
		} else if (job != NULL) {
			db_defer(db, job, SC_EUNAVAIL);
		}
	}
	if (db->listener != NULL) {
		job = db->listener->job;
		db->listener->job = NULL;
		conn_close(db->listener);
		if (job != NULL) {
			db_defer(db, job, SC_EUNAVAIL);
		}
	}
	while ((job = list_pop(&db->queue)) != NULL) {
		db_defer(db, job, SC_EUNAVAIL);
	}
	/* Callbacks may submit more; those fail at once and land here too. */
	while ((job = list_pop(&db->deferred)) != NULL) {
		if (job->err == SC_OK) {
			job->err =
			    SC_EUNAVAIL; /* an acquire not yet delivered */
		}
		job_complete(db, job);
	}
	for (int i = 0; i < db->size; i++) {
		event_free(db->conns[i].timer);
	}
	if (db->listener != NULL) {
		/* Its LISTEN job, if in flight, was deferred above. */
		event_free(db->listener->timer);
		free(db->listener);
		free(db->listen_sql);
		free(db->listen_channel);
	}
	event_free(db->defer_ev);
	free(db->conns);
	free(db->conninfo);
	free(db);
}

static bool
db_query_args_ok(const char *sql, int nparams, const char *const *params)
{
	if (sql == NULL || nparams < 0 || nparams > 65535 ||
	    (nparams > 0 && params == NULL)) {
		sc_log_error(NULL, "cannot run query: bad arguments");
		return false;
	}
	return true;
}

void
sc_db_query(struct sc_db *db, const char *sql, int nparams,
            const char *const *params, sc_db_result_cb cb, void *arg)
{
	struct db_job *job;

	if (!db_query_args_ok(sql, nparams, params)) {
		job = job_new(JOB_QUERY, NULL, 0, NULL);
		job->result_cb = cb;
		job->arg = arg;
		db_defer(db, job, SC_EINVAL);
		return;
	}
	job = job_new(JOB_QUERY, sql, nparams, params);
	job->result_cb = cb;
	job->arg = arg;
	db_submit(db, job);
}

void
sc_db_acquire(struct sc_db *db, sc_db_conn_cb cb, void *arg)
{
	struct db_job *job = job_new(JOB_ACQUIRE, NULL, 0, NULL);

	job->conn_cb = cb;
	job->arg = arg;
	db_submit(db, job);
}

void
sc_db_conn_query(struct sc_db_conn *conn, const char *sql, int nparams,
                 const char *const *params, sc_db_result_cb cb, void *arg)
{
	struct sc_db *db = conn->db;
	struct db_job *job;

	if (!db_query_args_ok(sql, nparams, params)) {
		job = job_new(JOB_QUERY, NULL, 0, NULL);
		job->result_cb = cb;
		job->arg = arg;
		db_defer(db, job, SC_EINVAL);
		return;
	}
	job = job_new(JOB_QUERY, sql, nparams, params);
	job->result_cb = cb;
	job->arg = arg;
	db->queries++;
	if (conn->job != NULL || !conn->checked_out) {
		sc_log_error(NULL, "cannot run query: %s",
		             conn->job != NULL ? "connection busy"
		                               : "connection not checked out");
		db_defer(db, job, SC_EINVAL);
		return;
	}
	if (db->closing || conn->state != CONN_READY) {
		db_defer(db, job, SC_EUNAVAIL);
		return;
	}
	conn_send(conn, job);
}

/* Give a checked-out connection back once nothing is in flight on it. */
static void
conn_release(struct sc_db_conn *c)
{
	struct sc_db *db = c->db;

	if (c->state != CONN_READY) {
		/* Broken while held: reconnect now that nobody holds it. */
		c->checked_out = false;
		if (c->state == CONN_DOWN && !db->closing) {
			conn_schedule_reconnect(c);
		}
		return;
	}
	switch (PQtransactionStatus(c->pg)) {
	case PQTRANS_IDLE:
		c->checked_out = false;
		db_dispatch(db);
		return;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		/* Stays checked out until the ROLLBACK is through. */
		c->releasing = true;
		conn_send(c, job_new(JOB_ROLLBACK, "ROLLBACK", 0, NULL));
		return;
	default:
		conn_close(c);
		c->checked_out = false;
		conn_schedule_reconnect(c);
		return;
	}
}

void
sc_db_release(struct sc_db_conn *conn)
{
	if (conn == NULL || !conn->checked_out || conn->releasing ||
	    conn->release_pending) {
		return;
	}
	if (conn->job != NULL) {
		conn->release_pending = true;
		return;
	}
	conn_release(conn);
}

bool
sc_db_ready(struct sc_db *db)
{
	for (int i = 0; i < db->size; i++) {
		if (db->conns[i].state == CONN_READY) {
			return true;
		}
	}
	return false;
}

void
sc_db_stats(struct sc_db *db, struct sc_db_stats *out)
{
	memset(out, 0, sizeof *out);
	out->size = db->size;
	for (int i = 0; i < db->size; i++) {
		const struct sc_db_conn *c = &db->conns[i];
		if (c->state == CONN_READY) {
			out->up++;
			if (c->checked_out || c->job != NULL) {
				out->busy++;
			}
		}
	}
	out->queued = db->queue.len;
	out->queries = db->queries;
	out->errors = db->errors;
}

/* ---- result helpers ------------------------------------------------- */

const char *
sc_db_sqlstate(const PGresult *res)
{
	const char *s =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

bool
sc_db_is_unique_violation(const PGresult *res, const char *constraint)
{
	const char *name;

	if (strcmp(sc_db_sqlstate(res), "23505") != 0) {
		return false;
	}
	if (constraint == NULL) {
		return true;
	}
	name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	return name != NULL && strcmp(name, constraint) == 0;
}

/* The column's index when (row, col) exists, else -1. */
static int
db_field(const PGresult *res, int row, const char *col)
{
	int i;

	if (res == NULL || col == NULL || row < 0 || row >= PQntuples(res)) {
		return -1;
	}
	/* Our column names are lower-case and unquoted, which PQfnumber
	 * would match exactly too; but it copies and case-folds the name on
	 * every call (a malloc per field read, a few percent of a list
	 * request's CPU). A plain scan first; PQfnumber for anything else. */
	for (i = 0; i < PQnfields(res); i++) {
		if (strcmp(PQfname(res, i), col) == 0) {
			return i;
		}
	}
	return PQfnumber(res, col);
}

const char *
sc_db_str(const PGresult *res, int row, const char *col)
{
	int i = db_field(res, row, col);

	if (i < 0 || PQgetisnull(res, row, i)) {
		return NULL;
	}
	return PQgetvalue(res, row, i);
}

long long
sc_db_int(const PGresult *res, int row, const char *col)
{
	const char *s = sc_db_str(res, row, col);

	return s != NULL ? strtoll(s, NULL, 10) : 0;
}

bool
sc_db_bool(const PGresult *res, int row, const char *col)
{
	const char *s = sc_db_str(res, row, col);

	return s != NULL && s[0] == 't';
}

/* A missing column counts as NULL: there is no value there. */
bool
sc_db_isnull(const PGresult *res, int row, const char *col)
{
	return sc_db_str(res, row, col) == NULL;
}
