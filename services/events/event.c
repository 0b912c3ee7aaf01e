/* event.c: the event object on the wire, the events list (upcoming or past,
 * searched, keyset-paginated on (start_date, id)) and the single event. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cache.h"
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

/* What sc_db_str and sc_db_int give, by index. */
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

/* ---- GET /api/events ---------------------------------------------------- */

/* The list is the same for everyone but each event's `joined`, so the read
 * cache (d.cache) holds it in two parts: the page, by query, as its JSON
 * with every `joined` false plus where each of those sits and whose event
 * it is; and the ids of the events a user joined, by user. A request
 * finds both and is answered from memory, or asks the database for what
 * it lacks (both queries at once when both are missing), stores it and
 * answers the same way. Any committed change to events or participants
 * clears the cache (migrations/events/0002_notify.sql); the TTL only
 * bounds a page whose "today" ended (the key has the day, the query the
 * database's clock). */
#define LIST_TTL_MS 60000

/* A cached page: a header, n slots, then the JSON text. */
struct page_hdr {
	uint32_t n, text_len;
};
struct page_slot {
	uint32_t off; /* of the "false" of `joined` in the text */
	int64_t id;
};

/* events_event_json's object (with `joined` false) written straight as
 * text: the same keys in the same order; where the `false` went in *off.
 * Building 50 json-c trees cost more than the query. */
static void
event_write(struct sc_json_out *o, const PGresult *res, int row,
            const struct event_cols *c, size_t *off)
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
	*off = sc_json_out_len(o);
	sc_json_out_bool(o, false);
	sc_json_out_end_object(o);
}

/* The page (see struct page_hdr) of a list result that asked for one row
 * more than `limit`. Caller owns; free with free(). */
static unsigned char *
page_build(const PGresult *res, bool past, int limit, size_t *len)
{
	int rows = PQntuples(res), n = rows < limit ? rows : limit;
	struct event_cols cols;
	struct sc_json_out o;
	struct page_hdr h;
	struct page_slot *slots = sc_calloc((size_t)n + 1, sizeof *slots);
	unsigned char *page;
	size_t off;

	event_cols_find(&cols, res);
	sc_json_out_init(&o);
	sc_json_out_begin_object(&o);
	sc_json_out_key(&o, "items");
	sc_json_out_begin_array(&o);
	for (int i = 0; i < n; i++) {
		event_write(&o, res, i, &cols, &off);
		slots[i].off = (uint32_t)off;
		slots[i].id = col_int(res, i, cols.id);
	}
	sc_json_out_end_array(&o);
	sc_json_out_key(&o, "nextCursor");
	if (rows > limit) {
		/* One row past the page was asked for: there is a next page,
		 * which starts after the page's last row. */
		char *c = events_list_cursor(
		    past, col_str(res, limit - 1, cols.start_date),
		    col_int(res, limit - 1, cols.id));
		sc_json_out_string(&o, c);
		free(c);
	} else {
		sc_json_out_null(&o);
	}
	sc_json_out_end_object(&o);

	h.n = (uint32_t)n;
	h.text_len = (uint32_t)sc_json_out_len(&o);
	*len = sizeof h + (size_t)n * sizeof *slots + h.text_len;
	page = sc_malloc(*len);
	memcpy(page, &h, sizeof h);
	memcpy(page + sizeof h, slots, (size_t)n * sizeof *slots);
	memcpy(page + sizeof h + (size_t)n * sizeof *slots,
	       sc_json_out_text(&o), h.text_len);
	sc_json_out_release(&o);
	free(slots);
	return page;
}

/* Whether the n sorted ids at `ids` (as the cache holds them: not
 * necessarily aligned) include id. */
static bool
ids_have(const unsigned char *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v;
		memcpy(&v, ids + mid * sizeof v, sizeof v);
		if (v == id) {
			return true;
		}
		if (v < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return false;
}

/* Answer with the page, `joined` set from the user's sorted event ids
 * (joined_len bytes). */
static void
page_reply(struct sc_http_req *req, const unsigned char *page,
           const void *joined, size_t joined_len)
{
	struct page_hdr h;
	const unsigned char *slots, *text;
	size_t nids = joined_len / sizeof(int64_t), at = 0, len = 0;
	char *out;

	memcpy(&h, page, sizeof h);
	slots = page + sizeof h;
	text = slots + (size_t)h.n * sizeof(struct page_slot);
	out = sc_malloc(h.text_len + 1);
	for (uint32_t i = 0; i < h.n; i++) {
		struct page_slot sl;
		memcpy(&sl, slots + i * sizeof sl, sizeof sl);
		memcpy(out + len, text + at, sl.off - at);
		len += sl.off - at;
		if (ids_have(joined, nids, sl.id)) {
			memcpy(out + len, "true", 4);
			len += 4;
		} else {
			memcpy(out + len, "false", 5);
			len += 5;
		}
		at = sl.off + 5;
	}
	memcpy(out + len, text + at, h.text_len - at);
	len += h.text_len - at;
	sc_http_reply_json_text(req, 200, out, len);
	free(out);
}

struct event_list {
	struct events *ev;
	struct sc_http_req *req; /* NULL once answered (an error) */
	bool past;
	int limit;
	uint64_t gen; /* the cache's, before the queries */
	char *page_key;
	char joined_key[32];
	int pending; /* queries out */
	/* Both parts, owned: fetched, or copied from the cache before the
	 * queries (a put or a clear meanwhile may drop the cached one). */
	unsigned char *page;
	size_t page_len;
	void *joined;
	size_t joined_len;
	bool page_fetched, joined_fetched;
};

static void
list_free(struct event_list *op)
{
	free(op->page_key);
	free(op->page);
	free(op->joined);
	free(op);
}

/* Both parts are in: store what was asked for, answer. */
static void
list_finish(struct event_list *op)
{
	struct sc_cache *cache = op->ev->d.cache;

	if (op->req == NULL) { /* a query failed: answered already */
		list_free(op);
		return;
	}
	if (op->page_fetched) {
		sc_cache_put(cache, op->gen, op->page_key, strlen(op->page_key),
		             op->page, op->page_len, LIST_TTL_MS);
	}
	if (op->joined_fetched) {
		sc_cache_put(cache, op->gen, op->joined_key,
		             strlen(op->joined_key), op->joined, op->joined_len,
		             LIST_TTL_MS);
	}
	page_reply(op->req, op->page, op->joined, op->joined_len);
	list_free(op);
}

static void
list_part_failed(struct event_list *op, int err, PGresult *res)
{
	if (op->req != NULL) {
		sc_db_reply_error(op->req, err, res);
		op->req = NULL;
	}
}

static void
list_page_cb(int err, PGresult *res, void *arg)
{
	struct event_list *op = arg;

	if (err != SC_OK) {
		list_part_failed(op, err, res);
	} else {
		op->page = page_build(res, op->past, op->limit, &op->page_len);
		op->page_fetched = true;
	}
	if (--op->pending == 0) {
		list_finish(op);
	}
}

static void
list_joined_cb(int err, PGresult *res, void *arg)
{
	struct event_list *op = arg;
	int n;

	if (err != SC_OK) {
		list_part_failed(op, err, res);
	} else {
		n = PQntuples(res);
		op->joined_len = (size_t)n * sizeof(int64_t);
		int64_t *ids = sc_malloc(op->joined_len + sizeof(int64_t));
		for (int i = 0; i < n; i++) {
			ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		}
		op->joined = ids;
		op->joined_fetched = true;
	}
	if (--op->pending == 0) {
		list_finish(op);
	}
}

/* Today's UTC date, "YYYY-MM-DD", formatted once a second at most (loop
 * thread only). Borrowed until the next call. */
static const char *
utc_today(void)
{
	static time_t last = -1;
	static char today[16];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		last = now;
	}
	return today;
}

/* The list's SQL for one shape (no "$n IS NULL OR ..." for the planner to
 * guess about): $1 the limit, then the cursor's two, then the pattern.
 * Caller owns; free with free(). */
static char *
list_sql(bool past, bool has_cursor, bool has_q)
{
	char cursor_sql[96] = "", q_sql[160] = "";
	int np = 1;

	if (has_cursor) {
		snprintf(
		    cursor_sql, sizeof cursor_sql,
		    " AND (e.start_date, e.id) %c ($%d::date, $%d::bigint)",
		    past ? '<' : '>', np + 1, np + 2);
		np += 2;
	}
	if (has_q) {
		snprintf(q_sql, sizeof q_sql,
		         " AND (e.name ILIKE $%d ESCAPE '\\'"
		         " OR e.location ILIKE $%d ESCAPE '\\')",
		         np + 1, np + 1);
	}
	return sc_asprintf(
	    "SELECT " EVENTS_EVENT_COLS
	    " FROM events.events e WHERE e.end_date %s " TODAY_UTC "%s%s"
	    " ORDER BY e.start_date %s, e.id %s LIMIT $1",
	    past ? "<" : ">=", cursor_sql, q_sql, past ? "DESC" : "ASC",
	    past ? "DESC" : "ASC");
}

static void
list_cb(struct sc_http_req *req, void *arg)
{
	struct events *ev = arg;
	struct sc_cache *cache = ev->d.cache;
	struct sc_claims claims;
	struct sc_valid v;
	const char *when = sc_http_req_query(req, "when");
	const char *q = sc_http_req_query(req, "q");
	const char *cursor = sc_http_req_query(req, "cursor");
	bool past = false, when_ok = true, has_cursor = false;
	char date[11] = "", lim[16], cid[24], page_key[512], joined_key[32];
	int64_t after_id = 0;
	int limit = 0;
	size_t page_len = 0, joined_len = 0;
	const void *page, *joined;

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
		long qlen = sc_utf8_length(q, strlen(q));
		if (qlen < 0) {
			sc_valid_fail(&v, "q", "must be valid UTF-8");
		} else if (qlen > EVENTS_Q_MAX) {
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
	if (q != NULL && *q == '\0') {
		q = NULL;
	}

	/* q is at most 100 characters (400 bytes): the key fits. */
	snprintf(page_key, sizeof page_key, "P|%s|%c|%d|%s|%" PRId64 "|%s",
	         utc_today(), past ? 'p' : 'u', limit, has_cursor ? date : "-",
	         after_id, q != NULL ? q : "");
	snprintf(joined_key, sizeof joined_key, "J|%" PRId64, claims.user_id);
	/* Both borrowed until the next put or clear (a get drops only the
	 * expired entry it looked up). */
	page = sc_cache_get(cache, page_key, strlen(page_key), &page_len);
	joined =
	    sc_cache_get(cache, joined_key, strlen(joined_key), &joined_len);
	if (page != NULL && joined != NULL) {
		page_reply(req, page, joined, joined_len);
		return;
	}

	struct event_list *op = sc_calloc(1, sizeof *op);
	op->ev = ev;
	op->req = req;
	op->past = past;
	op->limit = limit;
	op->gen = sc_cache_gen(cache);
	op->page_key = sc_strdup(page_key);
	memcpy(op->joined_key, joined_key, sizeof joined_key);
	if (page != NULL) {
		op->page = sc_memdup(page, page_len);
		op->page_len = page_len;
	}
	if (joined != NULL) {
		op->joined = sc_memdup(joined, joined_len);
		op->joined_len = joined_len;
	}

	if (page == NULL) {
		const char *params[4];
		char *pattern = NULL, *sql;
		int np = 0;

		snprintf(lim, sizeof lim, "%d", limit + 1);
		params[np++] = lim;
		if (has_cursor) {
			snprintf(cid, sizeof cid, "%" PRId64, after_id);
			params[np++] = date;
			params[np++] = cid;
		}
		if (q != NULL) {
			pattern = events_like_pattern(q);
			params[np++] = pattern;
		}
		sql = list_sql(past, has_cursor, q != NULL);
		op->pending++;
		sc_db_query(ev->d.db, sql, np, params, list_page_cb, op);
		free(sql);
		free(pattern);
	}
	if (joined == NULL) {
		char uid[24];
		const char *params[] = {uid};

		snprintf(uid, sizeof uid, "%" PRId64, claims.user_id);
		op->pending++;
		sc_db_query(ev->d.db,
		            "SELECT event_id FROM events.participants"
		            " WHERE user_id = $1 ORDER BY event_id",
		            1, params, list_joined_cb, op);
	}
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
