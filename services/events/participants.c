/* participants.c: who joined an event, oldest first, keyset-paginated on
 * (joined_at, user_id) and enriched with public profiles from auth (the
 * shared short-lived cache, common/profiles.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db_reply.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "validate.h"

/* $1 event, $2 page size + 1, then optionally $3 joined_at in microseconds
 * since the epoch and $4 user id of the previous page's last row (split
 * in seconds and microseconds: each product stays exact in the float8
 * that interval multiplication uses). The
 * event row is always there for a known event (the LEFT JOIN gives one row
 * of NULLs when the page is empty), so one statement tells 404 from an
 * empty page. joined_usec carries full precision for the cursor; the
 * displayed time has milliseconds. */
#define PARTICIPANTS_SQL(AFTER)                                                \
	"SELECT p.user_id,"                                                    \
	" to_char(p.joined_at AT TIME ZONE 'UTC',"                             \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS joined_at,"                  \
	" (extract(epoch FROM p.joined_at) * 1000000)::bigint AS joined_usec"  \
	" FROM events.events e LEFT JOIN LATERAL ("                            \
	" SELECT user_id, joined_at FROM events.participants"                  \
	" WHERE event_id = e.id" AFTER                                         \
	" ORDER BY joined_at, user_id LIMIT $2) p ON true"                     \
	" WHERE e.id = $1 ORDER BY p.joined_at, p.user_id"

static const char LIST_SQL[] = PARTICIPANTS_SQL("");
static const char LIST_AFTER_SQL[] = PARTICIPANTS_SQL(
    " AND (joined_at, user_id) > (timestamptz 'epoch'"
    " + ($3::bigint / 1000000) * interval '1 second'"
    " + ($3::bigint % 1000000) * interval '1 microsecond', $4::bigint)");

struct participant {
	int64_t user_id;
	char joined_at[32];
};

struct participants_op {
	struct events *ev;
	struct sc_http_req *req;
	int limit;
	size_t n;
	struct participant *rows;
	char *next_cursor; /* NULL on the last page */
};

static void
participants_op_free(struct participants_op *op)
{
	free(op->rows);
	free(op->next_cursor);
	free(op);
}

static void
profiles_done_cb(int err, json_object *found, void *arg)
{
	struct participants_op *op = arg;

	if (err != SC_OK) {
		sc_log_warn(sc_http_req_id(op->req),
		            "cannot read the participants' profiles: %s",
		            sc_err_str(err));
		sc_http_reply_err(op->req, SC_EUNAVAIL,
		                  "the auth service is unavailable, try again");
		participants_op_free(op);
		return;
	}
	json_object *items = json_object_new_array();
	for (size_t i = 0; i < op->n; i++) {
		json_object *item = json_object_new_object(), *user = NULL;
		char key[24];

		snprintf(key, sizeof key, "%" PRId64, op->rows[i].user_id);
		/* An account deleted since it joined has no profile: null. */
		if (json_object_object_get_ex(found, key, &user)) {
			json_object_get(user);
		}
		json_object_object_add(item, "user", user);
		json_object_object_add(
		    item, "joinedAt",
		    json_object_new_string(op->rows[i].joined_at));
		json_object_array_add(items, item);
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "items", items);
	json_object_object_add(body, "nextCursor",
	                       op->next_cursor != NULL
	                           ? json_object_new_string(op->next_cursor)
	                           : NULL);
	sc_http_reply_json(op->req, 200, body);
	participants_op_free(op);
}

static void
list_done_cb(int err, PGresult *res, void *arg)
{
	struct participants_op *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		participants_op_free(op);
		return;
	}
	int rows = PQntuples(res);
	if (rows == 0) {
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such event");
		participants_op_free(op);
		return;
	}
	op->rows = sc_calloc((size_t)rows, sizeof *op->rows);
	for (int i = 0; i < rows && i < op->limit; i++) {
		if (sc_db_isnull(res, i, "user_id")) {
			break; /* an empty page */
		}
		struct participant *p = &op->rows[op->n++];
		p->user_id = sc_db_int(res, i, "user_id");
		snprintf(p->joined_at, sizeof p->joined_at, "%s",
		         sc_db_str(res, i, "joined_at"));
	}
	if (rows > op->limit) {
		int last = op->limit - 1;
		op->next_cursor = events_participants_cursor(
		    sc_db_int(res, last, "joined_usec"),
		    sc_db_int(res, last, "user_id"));
	}
	if (op->n == 0) {
		profiles_done_cb(SC_OK, NULL, op);
		return;
	}
	int64_t *ids = sc_calloc(op->n, sizeof *ids);
	for (size_t i = 0; i < op->n; i++) {
		ids[i] = op->rows[i].user_id;
	}
	sc_profiles_get(op->ev->d.profiles, ids, op->n, sc_http_req_id(op->req),
	                profiles_done_cb, op);
	free(ids);
}

static void
list_cb(struct sc_http_req *req, void *arg)
{
	struct events *ev = arg;
	struct sc_claims claims;
	struct sc_valid v;
	const char *cursor = sc_http_req_query(req, "cursor");
	int64_t id, after_usec = 0, after_user = 0;
	bool has_cursor = cursor != NULL && *cursor != '\0';
	int limit = 0;
	char eid[24], lim[16], usec[24], uid[24];

	if (!sc_token_require(ev->d.verifier, req, &claims)) {
		return;
	}
	if (!events_parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
		return;
	}
	sc_valid_init(&v);
	if (!events_parse_limit(sc_http_req_query(req, "limit"), &limit)) {
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
	}
	if (has_cursor && !events_participants_cursor_read(cursor, &after_usec,
	                                                   &after_user)) {
		sc_valid_fail(&v, "cursor", "is not valid");
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	struct participants_op *op = sc_calloc(1, sizeof *op);
	op->ev = ev;
	op->req = req;
	op->limit = limit;
	snprintf(eid, sizeof eid, "%" PRId64, id);
	snprintf(lim, sizeof lim, "%d", limit + 1);
	snprintf(usec, sizeof usec, "%" PRId64, after_usec);
	snprintf(uid, sizeof uid, "%" PRId64, after_user);
	const char *params[] = {eid, lim, usec, uid};
	sc_db_query(ev->d.db, has_cursor ? LIST_AFTER_SQL : LIST_SQL,
	            has_cursor ? 4 : 2, params, list_done_cb, op);
}

void
events_participants_routes(struct events *ev)
{
	sc_http_route(ev->d.http, EVHTTP_REQ_GET,
	              "/api/events/:id/participants", 0, list_cb, ev);
}
