/* rating.c: rating a match partner (POST /api/ratings: matchmaking says
 * who may rate whom, one statement stores the rating and the rated user's
 * stats) and the lists of ratings a user received or gave. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db_reply.h"
#include "error.h"
#include "log.h"
#include "ratings.h"
#include "validate.h"

/* The columns every rating query selects, so rating_json can render the
 * row; unqualified, for ratings.ratings or a CTE over it. created_us is the
 * exact keyset of the row for cursors (created_at has microseconds, the
 * JSON time only milliseconds). */
#define RATING_COLS                                                            \
	"id, match_id, rater_id, rated_id, score, comment, "                   \
	"would_collaborate_again, to_char(created_at AT TIME ZONE 'UTC', "     \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, "                 \
	"(extract(epoch FROM created_at) * 1000000)::bigint AS created_us"

/* Insert the rating and fold it into the rated user's running totals, in
 * one statement: if the insert fails (already rated), nothing is written;
 * stats are never recomputed from the ratings. */
#define RATING_INSERT_SQL                                                      \
	"WITH r AS (INSERT INTO ratings.ratings"                               \
	"  (match_id, rater_id, rated_id, score, comment,"                     \
	"   would_collaborate_again)"                                          \
	"  VALUES ($1, $2, $3, $4, $5, $6) RETURNING *),"                      \
	" stats AS (INSERT INTO ratings.user_stats AS st"                      \
	"  (user_id, ratings_count, score_sum, collaborate_again_count)"       \
	"  SELECT rated_id, 1, score, would_collaborate_again::int FROM r"     \
	"  ON CONFLICT (user_id) DO UPDATE SET"                                \
	"   ratings_count = st.ratings_count + excluded.ratings_count,"        \
	"   score_sum = st.score_sum + excluded.score_sum,"                    \
	"   collaborate_again_count = st.collaborate_again_count"              \
	"    + excluded.collaborate_again_count,"                              \
	"   updated_at = now())"                                               \
	" SELECT " RATING_COLS " FROM r"

/* One page of a user's ratings, newest first; $2/$3 the keyset of the last
 * item of the previous page (NULL for the first page). */
#define RATING_LIST_SQL(col)                                                   \
	"SELECT " RATING_COLS " FROM ratings.ratings WHERE " col " = $1"       \
	" AND ($2::bigint IS NULL OR (created_at, id) <"                       \
	"  ('epoch'::timestamptz + $2::bigint * interval '1 microsecond',"     \
	"   $3::bigint))"                                                      \
	" ORDER BY created_at DESC, id DESC LIMIT $4::int"

/* The rating object of row `row`, with "rater" and "rated" null until
 * rating_add_profiles fills them. Caller owns; release with
 * json_object_put. */
static json_object *
rating_json(const PGresult *res, int row)
{
	json_object *o = json_object_new_object();
	const char *comment = sc_db_str(res, row, "comment");

	json_object_object_add(
	    o, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(
	    o, "matchId",
	    json_object_new_int64(sc_db_int(res, row, "match_id")));
	json_object_object_add(
	    o, "raterId",
	    json_object_new_int64(sc_db_int(res, row, "rater_id")));
	json_object_object_add(
	    o, "ratedId",
	    json_object_new_int64(sc_db_int(res, row, "rated_id")));
	json_object_object_add(o, "rater", NULL);
	json_object_object_add(o, "rated", NULL);
	json_object_object_add(
	    o, "score", json_object_new_int((int)sc_db_int(res, row, "score")));
	json_object_object_add(o, "comment",
	                       comment != NULL ? json_object_new_string(comment)
	                                       : NULL);
	json_object_object_add(o, "wouldCollaborateAgain",
	                       json_object_new_boolean(sc_db_bool(
	                           res, row, "would_collaborate_again")));
	json_object_object_add(
	    o, "createdAt",
	    json_object_new_string(sc_db_str(res, row, "created_at")));
	return o;
}

/* The rating as published on the bus: no profiles, no comment. Caller
 * owns; release with json_object_put. */
static json_object *
rating_event_json(json_object *rating)
{
	static const char *const keys[] = {"id",       "matchId",
	                                   "raterId",  "ratedId",
	                                   "score",    "wouldCollaborateAgain",
	                                   "createdAt"};
	json_object *o = json_object_new_object(), *v;

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (json_object_object_get_ex(rating, keys[i], &v)) {
			json_object_object_add(o, keys[i], json_object_get(v));
		}
	}
	return o;
}

static int64_t
rating_member(json_object *rating, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(rating, key, &v)
	           ? json_object_get_int64(v)
	           : 0;
}

/* Set "rater"/"rated" of one rating from the profiles auth found (NULL
 * when auth could not be asked: both stay null). Replacing a key keeps its
 * place in the object. */
static void
rating_add_profiles(json_object *rating, json_object *found)
{
	static const char *const roles[][2] = {{"raterId", "rater"},
	                                       {"ratedId", "rated"}};
	char key[24];
	json_object *p;

	for (size_t i = 0; i < 2; i++) {
		snprintf(key, sizeof key, "%" PRId64,
		         rating_member(rating, roles[i][0]));
		if (found != NULL &&
		    json_object_object_get_ex(found, key, &p)) {
			json_object_object_add(rating, roles[i][1],
			                       json_object_get(p));
		}
	}
}

/* ---- POST /api/ratings ------------------------------------------------ */

struct rating_post {
	struct ratings *r;
	struct sc_http_req *req;
	int64_t user_id, match_id;
	int score;
	bool again;
	char *comment;       /* NULL for none */
	json_object *rating; /* once stored */
};

static void
rating_post_free(struct rating_post *op)
{
	json_object_put(op->rating);
	free(op->comment);
	free(op);
}

static void
rating_post_profiled_cb(int err, json_object *found, void *arg)
{
	struct rating_post *op = arg;
	json_object *body = json_object_new_object();

	rating_add_profiles(op->rating, err == SC_OK ? found : NULL);
	json_object_object_add(body, "rating", op->rating);
	op->rating = NULL;
	sc_http_reply_json(op->req, 201, body);
	rating_post_free(op);
}

static void
rating_post_stored_cb(int err, PGresult *res, void *arg)
{
	struct rating_post *op = arg;
	const char *rid = sc_http_req_id(op->req);

	if (err == SC_EDB &&
	    sc_db_is_unique_violation(res, "ratings_match_rater_key")) {
		sc_http_reply_error(op->req, 409, "already_rated",
		                    "you have already rated this match", NULL);
		rating_post_free(op);
		return;
	}
	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		rating_post_free(op);
		return;
	}
	op->rating = rating_json(res, 0);
	json_object *event = json_object_new_object();
	json_object_object_add(event, "rating", rating_event_json(op->rating));
	/* Best effort, after the statement committed (failures are logged). */
	sc_bus_publish(op->r->d.bus, "rating.created", event, rid);
	sc_log_info(
	    rid, "user %" PRId64 " rated user %" PRId64 " for match %" PRId64,
	    op->user_id, rating_member(op->rating, "ratedId"), op->match_id);
	int64_t ids[] = {op->user_id, rating_member(op->rating, "ratedId")};
	sc_profiles_get(op->r->d.profiles, ids, 2, rid, rating_post_profiled_cb,
	                op);
}

static bool
get_int64(json_object *obj, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

static void
rating_post_match_cb(int err, json_object *data, const char *message, void *arg)
{
	struct rating_post *op = arg;
	const char *rid = sc_http_req_id(op->req);
	json_object *match, *status;
	int64_t requester, target, rated;
	char match_s[24], rater_s[24], rated_s[24], score_s[16];

	if (err == SC_ENOTFOUND || err == SC_EVALIDATION) {
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such match");
		goto done;
	}
	/* The bus has logged its own failures (timeout, unavailable,
	 * malformed); an error reply of matchmaking is logged here. */
	if (err == SC_EBUS) {
		sc_http_reply_err(op->req, SC_EBUS,
		                  "the matchmaking service answered badly");
		goto done;
	}
	if (err != SC_OK) {
		if (err != SC_ETIMEDOUT && err != SC_EUNAVAIL) {
			sc_log_error(rid,
			             "matchmaking.matches.get of match %" PRId64
			             " failed: %s (%s)",
			             op->match_id, sc_err_code(err),
			             message != NULL ? message : "");
		}
		sc_http_reply_error(
		    op->req, 503, "service_unavailable",
		    "the matchmaking service is unavailable, try again", NULL);
		goto done;
	}
	if (!json_object_object_get_ex(data, "match", &match) ||
	    !json_object_object_get_ex(match, "status", &status) ||
	    !json_object_is_type(status, json_type_string) ||
	    !get_int64(match, "requesterId", &requester) ||
	    !get_int64(match, "targetId", &target)) {
		sc_log_error(rid,
		             "cannot read match %" PRId64 ": no match in reply",
		             op->match_id);
		sc_http_reply_err(op->req, SC_EBUS,
		                  "the matchmaking service answered badly");
		goto done;
	}
	switch (ratings_match_check(json_object_get_string(status), requester,
	                            target, op->user_id, &rated)) {
	case RATINGS_MATCH_NOT_MEMBER:
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such match");
		goto done;
	case RATINGS_MATCH_NOT_RATEABLE: {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "status", json_object_get(status));
		sc_http_reply_error(
		    op->req, 409, "match_not_rateable",
		    "only an accepted or completed match can be rated", d);
		goto done;
	}
	case RATINGS_MATCH_RATEABLE:
		break;
	}

	snprintf(match_s, sizeof match_s, "%" PRId64, op->match_id);
	snprintf(rater_s, sizeof rater_s, "%" PRId64, op->user_id);
	snprintf(rated_s, sizeof rated_s, "%" PRId64, rated);
	snprintf(score_s, sizeof score_s, "%d", op->score);
	const char *params[] = {match_s, rater_s,     rated_s,
	                        score_s, op->comment, op->again ? "t" : "f"};
	sc_db_query(op->r->d.db, RATING_INSERT_SQL, 6, params,
	            rating_post_stored_cb, op);
	return;

done:
	rating_post_free(op);
}

static void
rating_post_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"matchId", "score", "comment",
	                                      "wouldCollaborateAgain", NULL};
	struct ratings *r = arg;
	json_object *body = sc_http_req_json(req);
	struct sc_claims claims;
	struct sc_valid v;
	int64_t match_id = 0, score = 0;
	const char *comment = NULL;
	bool again = false;

	if (!sc_token_require(r->d.verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_int(&v, body, "matchId", SC_V_REQUIRED, 1, INT64_MAX,
	             &match_id);
	sc_valid_int(&v, body, "score", SC_V_REQUIRED, 1, 5, &score);
	sc_valid_string(&v, body, "comment", SC_V_NULLABLE, 0, RATINGS_TEXT_MAX,
	                &comment);
	sc_valid_bool(&v, body, "wouldCollaborateAgain", SC_V_REQUIRED, &again);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	struct rating_post *op = sc_calloc(1, sizeof *op);
	op->r = r;
	op->req = req;
	op->user_id = claims.user_id;
	op->match_id = match_id;
	op->score = (int)score;
	op->again = again;
	op->comment = comment != NULL ? sc_strdup(comment) : NULL;

	json_object *data = json_object_new_object();
	json_object_object_add(data, "matchId",
	                       json_object_new_int64(match_id));
	/* Deadline 0: SC_BUS_TIMEOUT_MS (2 s by default). */
	sc_bus_call(r->d.bus, "matchmaking.matches.get", data,
	            sc_http_req_id(req), 0, rating_post_match_cb, op);
}

/* ---- GET /api/ratings/user/:id?direction=&limit=&cursor= ---------------- */

struct rating_list {
	struct ratings *r;
	struct sc_http_req *req;
	int limit;
	json_object *items; /* array of rating objects */
	char *next_cursor;  /* NULL on the last page */
};

static void
rating_list_free(struct rating_list *op)
{
	json_object_put(op->items);
	free(op->next_cursor);
	free(op);
}

static void
rating_list_reply(struct rating_list *op)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "items", op->items);
	op->items = NULL;
	json_object_object_add(body, "nextCursor",
	                       op->next_cursor != NULL
	                           ? json_object_new_string(op->next_cursor)
	                           : NULL);
	sc_http_reply_json(op->req, 200, body);
	rating_list_free(op);
}

static void
rating_list_profiled_cb(int err, json_object *found, void *arg)
{
	struct rating_list *op = arg;
	size_t n = json_object_array_length(op->items);

	for (size_t i = 0; i < n; i++) {
		rating_add_profiles(json_object_array_get_idx(op->items, i),
		                    err == SC_OK ? found : NULL);
	}
	rating_list_reply(op);
}

static void
rating_list_done_cb(int err, PGresult *res, void *arg)
{
	struct rating_list *op = arg;
	int limit = op->limit;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		rating_list_free(op);
		return;
	}
	int rows = PQntuples(res), n = rows > limit ? limit : rows;
	int64_t *ids = sc_calloc((size_t)n * 2 + 1, sizeof *ids);
	op->items = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object_array_add(op->items, rating_json(res, i));
		ids[2 * i] = sc_db_int(res, i, "rater_id");
		ids[2 * i + 1] = sc_db_int(res, i, "rated_id");
	}
	if (rows > limit) {
		op->next_cursor =
		    ratings_cursor_make(sc_db_int(res, n - 1, "created_us"),
		                        sc_db_int(res, n - 1, "id"));
	}
	if (n == 0) {
		free(ids);
		rating_list_reply(op);
		return;
	}
	sc_profiles_get(op->r->d.profiles, ids, (size_t)n * 2,
	                sc_http_req_id(op->req), rating_list_profiled_cb, op);
	free(ids);
}

static void
rating_list_cb(struct sc_http_req *req, void *arg)
{
	struct ratings *r = arg;
	struct sc_claims claims;
	struct sc_valid v;
	const char *direction = sc_http_req_query(req, "direction");
	const char *cursor = sc_http_req_query(req, "cursor");
	int64_t user_id;
	int limit = RATINGS_LIMIT_DEFAULT;
	long long after_us = 0, after_id = 0;
	bool given = false;

	if (!sc_token_require(r->d.verifier, req, &claims)) {
		return;
	}
	if (!ratings_parse_id(sc_http_req_param(req, "id"), &user_id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such user");
		return;
	}
	sc_valid_init(&v);
	if (direction != NULL && strcmp(direction, "given") == 0) {
		given = true;
	} else if (direction != NULL && strcmp(direction, "received") != 0) {
		sc_valid_fail(&v, "direction", "must be received or given");
	}
	if (!ratings_parse_limit(sc_http_req_query(req, "limit"), &limit)) {
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
	}
	if (cursor != NULL &&
	    !ratings_cursor_read(cursor, &after_us, &after_id)) {
		sc_valid_fail(&v, "cursor", "is not valid");
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);

	char user_s[24], us_s[24], id_s[24], limit_s[16];
	snprintf(user_s, sizeof user_s, "%" PRId64, user_id);
	snprintf(us_s, sizeof us_s, "%lld", after_us);
	snprintf(id_s, sizeof id_s, "%lld", after_id);
	/* One more than asked: its presence says there is a next page. */
	snprintf(limit_s, sizeof limit_s, "%d", limit + 1);
	const char *params[] = {user_s, cursor != NULL ? us_s : NULL,
	                        cursor != NULL ? id_s : NULL, limit_s};

	struct rating_list *op = sc_calloc(1, sizeof *op);
	op->r = r;
	op->req = req;
	op->limit = limit;
	sc_db_query(r->d.db,
	            given ? RATING_LIST_SQL("rater_id")
	                  : RATING_LIST_SQL("rated_id"),
	            4, params, rating_list_done_cb, op);
}

void
ratings_rating_routes(struct ratings *r)
{
	sc_http_route(r->d.http, EVHTTP_REQ_POST, "/api/ratings", SC_HTTP_JSON,
	              rating_post_cb, r);
	sc_http_route(r->d.http, EVHTTP_REQ_GET, "/api/ratings/user/:id", 0,
	              rating_list_cb, r);
}
