/* mail.c: delivers the mail outbox. Rows are claimed in a transaction
 * (FOR UPDATE SKIP LOCKED, so several auth processes share the work),
 * written by the transport, then marked sent and committed. A crash between
 * the write and the commit delivers that mail again (at least once); the file
 * transport names files by row id, so a repeat overwrites rather than
 * duplicates. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "error.h"
#include "log.h"

#define MAIL_BATCH  20
#define MAIL_POLL_S 5

struct auth_mail {
	struct sc_db *db;
	char *dir;
	struct event *timer;
	struct sc_db_conn *conn; /* checked out while a batch runs */
	PGresult *batch;         /* claimed rows */
	int delivered;           /* rows of batch written */
	bool running, again;
};

static void mail_run(struct auth_mail *m);

static void
mail_finish(struct auth_mail *m)
{
	bool again = m->again;

	if (m->conn != NULL) {
		sc_db_release(m->conn); /* rolls back when not committed */
		m->conn = NULL;
	}
	PQclear(m->batch);
	m->batch = NULL;
	m->running = false;
	m->again = false;
	if (again) {
		auth_mail_kick(m);
	}
}

/* The file transport: <dir>/<id>.json, written to a temporary name and
 * renamed so a reader never sees half a mail. */
static int
mail_write_file(struct auth_mail *m, const PGresult *res, int row)
{
	const char *id = sc_db_str(res, row, "id");
	json_object *mail = json_object_new_object();
	int rc = SC_OK;

	json_object_object_add(
	    mail, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(
	    mail, "kind", json_object_new_string(sc_db_str(res, row, "kind")));
	json_object_object_add(
	    mail, "to",
	    json_object_new_string(sc_db_str(res, row, "to_address")));
	json_object_object_add(
	    mail, "subject",
	    json_object_new_string(sc_db_str(res, row, "subject")));
	json_object_object_add(
	    mail, "text", json_object_new_string(sc_db_str(res, row, "body")));
	const char *link = sc_db_str(res, row, "link");
	json_object_object_add(mail, "link",
	                       link ? json_object_new_string(link) : NULL);
	json_object_object_add(
	    mail, "createdAt",
	    json_object_new_string(sc_db_str(res, row, "created_at")));

	char *tmp = sc_asprintf("%s/.%s.json.tmp", m->dir, id);
	char *path = sc_asprintf("%s/%s.json", m->dir, id);
	const char *s = json_object_to_json_string_ext(
	    mail, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	FILE *f = fopen(tmp, "w");
	if (f == NULL || fputs(s, f) < 0 || fputc('\n', f) < 0) {
		sc_log_error(NULL, "cannot write mail '%s': %s", tmp,
		             strerror(errno));
		rc = SC_EINTERNAL;
	}
	if (f != NULL && fclose(f) != 0 && rc == SC_OK) {
		sc_log_error(NULL, "cannot write mail '%s': %s", tmp,
		             strerror(errno));
		rc = SC_EINTERNAL;
	}
	if (rc == SC_OK && rename(tmp, path) != 0) {
		sc_log_error(NULL, "cannot rename mail to '%s': %s", path,
		             strerror(errno));
		rc = SC_EINTERNAL;
	}
	if (rc != SC_OK) {
		unlink(tmp);
	}
	free(tmp);
	free(path);
	json_object_put(mail);
	return rc;
}

static void
mail_committed_cb(int err, PGresult *res, void *arg)
{
	struct auth_mail *m = arg;

	if (err != SC_OK) {
		sc_log_error(NULL, "cannot commit mail delivery: %s",
		             res ? PQresultErrorMessage(res)
		                 : "database unavailable");
	} else if (m->delivered > 0) {
		sc_log_info(NULL, "delivered %d mail(s) to '%s'", m->delivered,
		            m->dir);
	}
	if (err == SC_OK && PQntuples(m->batch) == MAIL_BATCH) {
		m->again = true; /* there may be more */
	}
	mail_finish(m);
}

static void
mail_marked_cb(int err, PGresult *res, void *arg)
{
	struct auth_mail *m = arg;

	if (err != SC_OK) {
		sc_log_error(NULL, "cannot mark mail sent: %s",
		             res ? PQresultErrorMessage(res)
		                 : "database unavailable");
		mail_finish(m);
		return;
	}
	sc_db_conn_query(m->conn, "COMMIT", 0, NULL, mail_committed_cb, m);
}

static void
mail_claimed_cb(int err, PGresult *res, void *arg)
{
	struct auth_mail *m = arg;
	size_t cap = 2 + (size_t)MAIL_BATCH * 21, len = 0;

	if (err != SC_OK) {
		sc_log_error(NULL, "cannot read the mail outbox: %s",
		             res ? PQresultErrorMessage(res)
		                 : "database unavailable");
		mail_finish(m);
		return;
	}
	if (PQntuples(res) == 0) {
		mail_finish(m);
		return;
	}
	m->batch = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (m->batch == NULL) {
		sc_oom();
	}
	/* Mark only what was written; a failed write stays pending. */
	char *ids = sc_malloc(cap);
	ids[len++] = '{';
	m->delivered = 0;
	for (int i = 0; i < PQntuples(m->batch); i++) {
		if (mail_write_file(m, m->batch, i) == SC_OK) {
			len += (size_t)snprintf(ids + len, cap - len, "%s%s",
			                        m->delivered ? "," : "",
			                        sc_db_str(m->batch, i, "id"));
			m->delivered++;
		}
	}
	snprintf(ids + len, cap - len, "}");
	const char *params[] = {ids};
	sc_db_conn_query(m->conn,
	                 "UPDATE auth.mail_outbox SET sent_at = now()"
	                 " WHERE id = ANY($1::bigint[])",
	                 1, params, mail_marked_cb, m);
	free(ids);
}

static void
mail_begun_cb(int err, PGresult *res, void *arg)
{
	struct auth_mail *m = arg;

	if (err != SC_OK) {
		sc_log_error(NULL, "cannot start mail delivery: %s",
		             res ? PQresultErrorMessage(res)
		                 : "database unavailable");
		mail_finish(m);
		return;
	}
	char limit[16];
	snprintf(limit, sizeof limit, "%d", MAIL_BATCH);
	const char *params[] = {limit};
	sc_db_conn_query(
	    m->conn,
	    "SELECT id, kind, to_address, subject, body, link,"
	    " to_char(created_at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"
	    " FROM auth.mail_outbox WHERE sent_at IS NULL ORDER BY id"
	    " LIMIT $1::int FOR UPDATE SKIP LOCKED",
	    1, params, mail_claimed_cb, m);
}

static void
mail_acquired_cb(int err, struct sc_db_conn *conn, void *arg)
{
	struct auth_mail *m = arg;

	if (err != SC_OK) {
		/* The database is down; the poll timer tries again. */
		mail_finish(m);
		return;
	}
	m->conn = conn;
	sc_db_conn_query(conn, "BEGIN", 0, NULL, mail_begun_cb, m);
}

static void
mail_run(struct auth_mail *m)
{
	if (m->running) {
		m->again = true;
		return;
	}
	m->running = true;
	sc_db_acquire(m->db, mail_acquired_cb, m);
}

static void
mail_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mail_run(arg);
}

struct auth_mail *
auth_mail_new(struct event_base *base, struct sc_db *db, const char *dir)
{
	struct auth_mail *m = sc_calloc(1, sizeof *m);
	struct timeval every = {MAIL_POLL_S, 0};

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		sc_log_error(NULL, "cannot create mail outbox dir '%s': %s",
		             dir, strerror(errno));
		free(m);
		return NULL;
	}
	m->db = db;
	m->dir = sc_strdup(dir);
	m->timer = event_new(base, -1, EV_PERSIST, mail_timer_cb, m);
	if (m->timer == NULL || event_add(m->timer, &every) != 0) {
		auth_mail_free(m);
		return NULL;
	}
	return m;
}

void
auth_mail_kick(struct auth_mail *m)
{
	mail_run(m);
}

void
auth_mail_free(struct auth_mail *m)
{
	if (m == NULL) {
		return;
	}
	if (m->timer != NULL) {
		event_free(m->timer);
	}
	/* A batch still running is rolled back with the pool (sc_db_free). */
	free(m->dir);
	free(m);
}
