/* db.c: a pool of non-blocking libpq connections driven by libevent, with a
 * bounded wait queue and reconnection with backoff (see db.h). */
#include "db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "log.h"

#define DB_QUEUE_MAX         1024
#define DB_BACKOFF_MIN_MS    100
#define DB_BACKOFF_MAX_MS    5000
#define DB_CONNECT_TIMEOUT_S 5

enum job_kind {
	JOB_QUERY,    /* sc_db_query / sc_db_conn_query */
	JOB_ACQUIRE,  /* sc_db_acquire */
	JOB_ROLLBACK, /* internal: ROLLBACK before a release */
};

/* One unit of work: a statement to run, a connection to hand out, or a
 * completion waiting for the deferred event. */
struct db_job {
	struct db_job *next;
	enum job_kind kind;
	char *sql;
	char **params;
	int nparams;
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
	struct db_job *job;   /* in flight */
	PGresult *res;        /* first result of the job in flight */
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
	bool closing;
	unsigned long queries, errors;
};

static void conn_connect(struct sc_db_conn *c);
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

static struct db_job *
job_new(enum job_kind kind, const char *sql, int nparams,
        const char *const *params)
{
	struct db_job *job = sc_calloc(1, sizeof *job);

	job->kind = kind;
	job->err = SC_OK;
	if (sql != NULL) {
		job->sql = sc_strdup(sql);
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

/* Send `job` on an idle connection (it becomes the job in flight). */
static void
conn_send(struct sc_db_conn *c, struct db_job *job)
{
	int r;

	c->job = job;
	if (!PQsendQueryParams(c->pg, job->sql, job->nparams, NULL,
	                       (const char *const *)job->params, NULL, NULL,
	                       0)) {
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

static void
conn_drain_notifies(struct sc_db_conn *c)
{
	PGnotify *n;

	while ((n = PQnotifies(c->pg)) != NULL) {
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
			conn_finish_job(c);
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
	i = PQfnumber(res, col);
	return i;
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
