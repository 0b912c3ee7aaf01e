/* stats.c: a user's rating stats, read from the running totals in
 * ratings.user_stats (never from the ratings themselves): over HTTP for one
 * user, over the bus (ratings.stats.get) for up to 100. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db_reply.h"
#include "error.h"
#include "log.h"
#include "ratings.h"

#define STATS_SQL                                                              \
	"SELECT user_id, ratings_count, score_sum, collaborate_again_count"    \
	" FROM ratings.user_stats WHERE user_id = ANY($1::bigint[])"

/* The stats of `user_id` from a STATS_SQL result (count 0 when it has no
 * row). Caller owns; release with json_object_put. */
static json_object *
stats_from_result(const PGresult *res, int64_t user_id)
{
	for (int i = 0; i < PQntuples(res); i++) {
		if (sc_db_int(res, i, "user_id") == user_id) {
			return ratings_stats_json(
			    user_id, sc_db_int(res, i, "ratings_count"),
			    sc_db_int(res, i, "score_sum"),
			    sc_db_int(res, i, "collaborate_again_count"));
		}
	}
	return ratings_stats_json(user_id, 0, 0, 0);
}

/* ---- GET /api/ratings/stats/:id ----------------------------------------- */

struct stats_read {
	struct sc_http_req *req;
	int64_t user_id;
};

static void
stats_read_done_cb(int err, PGresult *res, void *arg)
{
	struct stats_read *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else {
		sc_http_reply_json(op->req, 200,
		                   stats_from_result(res, op->user_id));
	}
	free(op);
}

static void
stats_get_cb(struct sc_http_req *req, void *arg)
{
	struct ratings *r = arg;
	struct sc_claims claims;
	int64_t user_id;
	char list[32];

	if (!sc_token_require(r->d.verifier, req, &claims)) {
		return;
	}
	if (!ratings_parse_id(sc_http_req_param(req, "id"), &user_id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such user");
		return;
	}
	struct stats_read *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->user_id = user_id;
	snprintf(list, sizeof list, "{%" PRId64 "}", user_id);
	const char *params[] = {list};
	sc_db_query(r->d.db, STATS_SQL, 1, params, stats_read_done_cb, op);
}

/* ---- bus: ratings.stats.get --------------------------------------------- */

struct stats_bus {
	struct sc_bus_req *req;
	int64_t *ids; /* distinct, in the order asked */
	size_t n;
};

static void
stats_bus_done_cb(int err, PGresult *res, void *arg)
{
	struct stats_bus *op = arg;

	if (err != SC_OK) {
		sc_log_error(
		    sc_bus_req_id(op->req), "ratings.stats.get failed: %s",
		    res != NULL ? PQresultErrorMessage(res) : "unavailable");
		sc_bus_reply_err(op->req,
		                 err == SC_EDB      ? SC_EINTERNAL
		                 : err == SC_EAGAIN ? SC_EAGAIN
		                                    : SC_EUNAVAIL,
		                 "cannot read stats");
	} else {
		json_object *stats = json_object_new_array();
		for (size_t i = 0; i < op->n; i++) {
			json_object_array_add(
			    stats, stats_from_result(res, op->ids[i]));
		}
		json_object *data = json_object_new_object();
		json_object_object_add(data, "stats", stats);
		sc_bus_reply(op->req, data);
	}
	free(op->ids);
	free(op);
}

static void
stats_bus_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct ratings *r = arg;
	json_object *ids;
	size_t cap = 3 + RATINGS_STATS_IDS_MAX * 21, len = 0, n;

	if (!json_object_object_get_ex(data, "userIds", &ids) ||
	    !json_object_is_type(ids, json_type_array)) {
		sc_bus_reply_err(req, SC_EVALIDATION,
		                 "userIds must be an array");
		return;
	}
	if ((n = json_object_array_length(ids)) > RATINGS_STATS_IDS_MAX) {
		sc_bus_reply_err(req, SC_EVALIDATION,
		                 "at most 100 userIds per request");
		return;
	}
	struct stats_bus *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->ids = sc_calloc(n + 1, sizeof *op->ids);
	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		int64_t v = json_object_get_int64(id);
		bool seen = false;
		if (!json_object_is_type(id, json_type_int) || v < 1) {
			free(op->ids);
			free(op);
			sc_bus_reply_err(req, SC_EVALIDATION,
			                 "userIds must be positive integers");
			return;
		}
		for (size_t k = 0; k < op->n && !seen; k++) {
			seen = op->ids[k] == v;
		}
		if (!seen) {
			op->ids[op->n++] = v;
		}
	}
	char *list = sc_malloc(cap);
	list[len++] = '{';
	for (size_t i = 0; i < op->n; i++) {
		len += (size_t)snprintf(list + len, cap - len, "%s%" PRId64,
		                        i ? "," : "", op->ids[i]);
	}
	snprintf(list + len, cap - len, "}");
	const char *params[] = {list};
	sc_db_query(r->d.db, STATS_SQL, 1, params, stats_bus_done_cb, op);
	free(list);
}

void
ratings_stats_routes(struct ratings *r)
{
	sc_http_route(r->d.http, EVHTTP_REQ_GET, "/api/ratings/stats/:id", 0,
	              stats_get_cb, r);
}

void
ratings_stats_bus(struct ratings *r)
{
	sc_bus_handle(r->d.bus, "ratings.stats.get", stats_bus_cb, r);
}
