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
#include "json_out.h"
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

/* The list's columns, found once per result rather than by name on every
 * field read (the name scans were a tenth of a list request's CPU). */
struct event_cols {
	int id, worldsdc_id, name, location, start_date, end_date, description,
	    participant_count, joined;
};

/* As sc_db_str finds a column: an exact scan, then PQfnumber. -1: none. */
static int
col_find(const PGresult *res, const char *name)
{
	for (int i = 0; i < PQnfields(res); i++) {
		if (strcmp(PQfname(res, i), name) == 0) {
			return i;
		}
	}
	return PQfnumber(res, name);
}

static void
event_cols_find(struct event_cols *c, const PGresult *res)
{
	c->id = col_find(res, "id");
	c->worldsdc_id = col_find(res, "worldsdc_id");
	c->name = col_find(res, "name");
	c->location = col_find(res, "location");
	c->start_date = col_find(res, "start_date");
	c->end_date = col_find(res, "end_date");
	c->description = col_find(res, "description");
	c->participant_count = col_find(res, "participant_count");
	c->joined = col_find(res, "joined");
}

/* What sc_db_str, sc_db_int and sc_db_bool give, by index. */
static const char *
col_str(const PGresult *res, int row, int col)
{
	if (col < 0 || PQgetisnull(res, row, col)) {
		return NULL;
	}
	return PQgetvalue(res, row, col);
}

static int64_t
col_int(const PGresult *res, int row, int col)
{
	const char *s = col_str(res, row, col);
	return s != NULL ? strtoll(s, NULL, 10) : 0;
}

static bool
col_bool(const PGresult *res, int row, int col)
{
	const char *s = col_str(res, row, col);
	return s != NULL && s[0] == 't';
}

/* events_event_json's object (with `joined`) written straight as text: the
 * same keys in the same order, for the list, where building 50 json-c trees
 * cost more than the query. */
static void
event_write(struct sc_json_out *o, const PGresult *res, int row,
            const struct event_cols *c)
{
	sc_json_out_begin_object(o);
	sc_json_out_key(o, "id");
	sc_json_out_int(o, col_int(res, row, c->id));
	sc_json_out_key(o, "worldsdcId");
	sc_json_out_string(o, col_str(res, row, c->worldsdc_id));
	sc_json_out_key(o, "name");
	sc_json_out_string(o, col_str(res, row, c->name));
	sc_json_out_key(o, "location");
	sc_json_out_string(o, col_str(res, row, c->location));
	sc_json_out_key(o, "startDate");
	sc_json_out_string(o, col_str(res, row, c->start_date));
	sc_json_out_key(o, "endDate");
	sc_json_out_string(o, col_str(res, row, c->end_date));
	sc_json_out_key(o, "description");
	sc_json_out_string(o, col_str(res, row, c->description));
	sc_json_out_key(o, "participantCount");
	sc_json_out_int(o, col_int(res, row, c->participant_count));
	sc_json_out_key(o, "joined");
	sc_json_out_bool(o, col_bool(res, row, c->joined));
	sc_json_out_end_object(o);
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
	struct event_cols cols;
	struct sc_json_out o;
	event_cols_find(&cols, res);
	sc_json_out_init(&o);
	sc_json_out_begin_object(&o);
	sc_json_out_key(&o, "items");
	sc_json_out_begin_array(&o);
	for (int i = 0; i < n && i < op->limit; i++) {
		event_write(&o, res, i, &cols);
	}
	sc_json_out_end_array(&o);
	sc_json_out_key(&o, "nextCursor");
	if (n > op->limit) {
		/* One row past the page was asked for: there is a next page,
		 * which starts after the page's last row. */
		int last = op->limit - 1;
		char *c = events_list_cursor(op->past,
		                             sc_db_str(res, last, "start_date"),
		                             sc_db_int(res, last, "id"));
		sc_json_out_string(&o, c);
		free(c);
	} else {
		sc_json_out_null(&o);
	}
	sc_json_out_end_object(&o);
	sc_http_reply_json_text(op->req, 200, sc_json_out_text(&o),
	                        sc_json_out_len(&o));
	sc_json_out_release(&o);
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

	if (!sc_token_require(ev->d.verifier, req, &claims)) {
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
	sc_db_query(ev->d.db, sql, np, params, list_done_cb, op);
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

	if (!sc_token_require(ev->d.verifier, req, &claims)) {
		return;
	}
	if (!events_parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
		return;
	}
	snprintf(uid, sizeof uid, "%" PRId64, claims.user_id);
	snprintf(eid, sizeof eid, "%" PRId64, id);
	const char *params[] = {uid, eid};
	sc_db_query(ev->d.db,
	            "SELECT " EVENTS_EVENT_COLS ", " JOINED_COL
	            " FROM events.events e WHERE e.id = $2",
	            2, params, get_done_cb, req);
}

void
events_event_routes(struct events *ev)
{
	sc_http_route(ev->d.http, EVHTTP_REQ_GET, "/api/events", 0, list_cb,
	              ev);
	sc_http_route(ev->d.http, EVHTTP_REQ_GET, "/api/events/:id", 0, get_cb,
	              ev);
}
