/* event.c: the event object on the wire, the events list (upcoming or past,
 * searched, keyset-paginated on (start_date, id)) and the single event. */
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

/* Whether the caller ($1) joined event e, for the `joined` field. */
#define JOINED_COL                                                             \
	"EXISTS (SELECT 1 FROM events.participants p"                          \
	" WHERE p.event_id = e.id AND p.user_id = $1) AS joined"

/* The current date in UTC, whatever the session's time zone. */
#define TODAY_UTC "(now() AT TIME ZONE 'UTC')::date"

static json_object *
str_or_null(const PGresult *res, int row, const char *col)
{
	const char *s = sc_db_str(res, row, col);
	return s != NULL ? json_object_new_string(s) : NULL;
}

json_object *
events_event_json(const PGresult *res, int row, bool with_joined)
{
	json_object *e = json_object_new_object();

	json_object_object_add(
	    e, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(e, "worldsdcId",
	                       str_or_null(res, row, "worldsdc_id"));
	json_object_object_add(e, "name", str_or_null(res, row, "name"));
	json_object_object_add(e, "location",
	                       str_or_null(res, row, "location"));
	json_object_object_add(e, "startDate",
	                       str_or_null(res, row, "start_date"));
	json_object_object_add(e, "endDate", str_or_null(res, row, "end_date"));
	json_object_object_add(e, "description",
	                       str_or_null(res, row, "description"));
	json_object_object_add(
	    e, "participantCount",
	    json_object_new_int64(sc_db_int(res, row, "participant_count")));
	if (with_joined) {
		json_object_object_add(
		    e, "joined",
		    json_object_new_boolean(sc_db_bool(res, row, "joined")));
	}
	return e;
}

/* ---- GET /api/events ---------------------------------------------------- */

struct event_list {
	struct sc_http_req *req;
	bool past;
	int limit;
};

static void
list_done_cb(int err, PGresult *res, void *arg)
{
	struct event_list *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		free(op);
		return;
	}
	int n = PQntuples(res);
	json_object *items = json_object_new_array();
	for (int i = 0; i < n && i < op->limit; i++) {
		json_object_array_add(items, events_event_json(res, i, true));
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "items", items);
	if (n > op->limit) {
		/* One row past the page was asked for: there is a next page,
		 * which starts after the page's last row. */
		int last = op->limit - 1;
		char *c = events_list_cursor(op->past,
		                             sc_db_str(res, last, "start_date"),
		                             sc_db_int(res, last, "id"));
		json_object_object_add(body, "nextCursor",
		                       json_object_new_string(c));
		free(c);
	} else {
		json_object_object_add(body, "nextCursor", NULL);
	}
	sc_http_reply_json(op->req, 200, body);
	free(op);
}

static void
list_cb(struct sc_http_req *req, void *arg)
{
	struct events *ev = arg;
	struct sc_claims claims;
	struct sc_valid v;
	const char *when = sc_http_req_query(req, "when");
	const char *q = sc_http_req_query(req, "q");
	const char *cursor = sc_http_req_query(req, "cursor");
	bool past = false, when_ok = true, has_cursor = false;
	char date[11] = "", uid[24], lim[16], cid[24];
	int64_t after_id = 0;
	int limit = 0;

	if (!sc_token_require(ev->verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	if (when != NULL && strcmp(when, "past") == 0) {
		past = true;
	} else if (when != NULL && strcmp(when, "upcoming") != 0) {
		sc_valid_fail(&v, "when", "must be upcoming or past");
		when_ok = false;
	}
	if (q != NULL) {
		long len = sc_utf8_length(q, strlen(q));
		if (len < 0) {
			sc_valid_fail(&v, "q", "must be valid UTF-8");
		} else if (len > EVENTS_Q_MAX) {
			sc_valid_fail(&v, "q",
			              "must be at most 100 characters");
		}
	}
	if (!events_parse_limit(sc_http_req_query(req, "limit"), &limit)) {
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
	}
	if (cursor != NULL && *cursor != '\0') {
		has_cursor = true;
		/* A cursor belongs to one `when`: unreadable without it. */
		if (when_ok &&
		    !events_list_cursor_read(cursor, past, date, &after_id)) {
			sc_valid_fail(&v, "cursor", "is not valid");
		}
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	/* One statement per shape, numbered as the parameters come, so each
	 * shape is a plain index scan (no "$n IS NULL OR ..." for the
	 * planner to guess about). */
	const char *params[5];
	char *pattern = NULL, *sql;
	int np = 0;
	char cursor_sql[96] = "", q_sql[160] = "";

	snprintf(uid, sizeof uid, "%" PRId64, claims.user_id);
	params[np++] = uid;
	snprintf(lim, sizeof lim, "%d", limit + 1);
	params[np++] = lim;
	if (has_cursor) {
		snprintf(cid, sizeof cid, "%" PRId64, after_id);
		snprintf(
		    cursor_sql, sizeof cursor_sql,
		    " AND (e.start_date, e.id) %c ($%d::date, $%d::bigint)",
		    past ? '<' : '>', np + 1, np + 2);
		params[np++] = date;
		params[np++] = cid;
	}
	if (q != NULL && *q != '\0') {
		pattern = events_like_pattern(q);
		snprintf(q_sql, sizeof q_sql,
		         " AND (e.name ILIKE $%d ESCAPE '\\'"
		         " OR e.location ILIKE $%d ESCAPE '\\')",
		         np + 1, np + 1);
		params[np++] = pattern;
	}
	sql = sc_asprintf("SELECT " EVENTS_EVENT_COLS ", " JOINED_COL
	                  " FROM events.events e WHERE e.end_date %s " TODAY_UTC
	                  "%s%s"
	                  " ORDER BY e.start_date %s, e.id %s LIMIT $2",
	                  past ? "<" : ">=", cursor_sql, q_sql,
	                  past ? "DESC" : "ASC", past ? "DESC" : "ASC");

	struct event_list *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->past = past;
	op->limit = limit;
	sc_db_query(ev->db, sql, np, params, list_done_cb, op);
	free(sql);
	free(pattern);
}

/* ---- GET /api/events/:id ------------------------------------------------ */

static void
get_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_http_req *req = arg;

	if (err != SC_OK) {
		sc_db_reply_error(req, err, res);
	} else if (PQntuples(res) == 0) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
	} else {
		sc_http_reply_json(req, 200, events_event_json(res, 0, true));
	}
}

static void
get_cb(struct sc_http_req *req, void *arg)
{
	struct events *ev = arg;
	struct sc_claims claims;
	int64_t id;
	char uid[24], eid[24];

	if (!sc_token_require(ev->verifier, req, &claims)) {
		return;
	}
	if (!events_parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
		return;
	}
	snprintf(uid, sizeof uid, "%" PRId64, claims.user_id);
	snprintf(eid, sizeof eid, "%" PRId64, id);
	const char *params[] = {uid, eid};
	sc_db_query(ev->db,
	            "SELECT " EVENTS_EVENT_COLS ", " JOINED_COL
	            " FROM events.events e WHERE e.id = $2",
	            2, params, get_done_cb, req);
}

void
events_event_routes(struct events *ev)
{
	sc_http_route(ev->http, EVHTTP_REQ_GET, "/api/events", 0, list_cb, ev);
	sc_http_route(ev->http, EVHTTP_REQ_GET, "/api/events/:id", 0, get_cb,
	              ev);
}
