/* report.c: abuse reports (POST /api/reports). The reported user must
 * exist (asked of auth through the profile cache); a reporter has at most
 * one open report about the same user (a partial unique index). */
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

#define REPORT_COLS                                                            \
	"id, reported_user_id, reason, details, match_id, status, "            \
	"to_char(created_at AT TIME ZONE 'UTC', "                              \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"

struct report_post {
	struct ratings *r;
	struct sc_http_req *req;
	int64_t reporter_id, reported_id, match_id; /* match_id 0: none */
	char *reason, *details;                     /* details NULL: none */
};

static void
report_post_free(struct report_post *op)
{
	free(op->reason);
	free(op->details);
	free(op);
}

/* The report object of row `row`. Caller owns; release with
 * json_object_put. */
static json_object *
report_json(const PGresult *res, int row)
{
	json_object *o = json_object_new_object();
	const char *details = sc_db_str(res, row, "details");

	json_object_object_add(
	    o, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(
	    o, "reportedUserId",
	    json_object_new_int64(sc_db_int(res, row, "reported_user_id")));
	json_object_object_add(
	    o, "reason", json_object_new_string(sc_db_str(res, row, "reason")));
	json_object_object_add(o, "details",
	                       details != NULL ? json_object_new_string(details)
	                                       : NULL);
	json_object_object_add(
	    o, "matchId",
	    sc_db_isnull(res, row, "match_id")
	        ? NULL
	        : json_object_new_int64(sc_db_int(res, row, "match_id")));
	json_object_object_add(
	    o, "status", json_object_new_string(sc_db_str(res, row, "status")));
	json_object_object_add(
	    o, "createdAt",
	    json_object_new_string(sc_db_str(res, row, "created_at")));
	return o;
}

static void
report_stored_cb(int err, PGresult *res, void *arg)
{
	struct report_post *op = arg;

	if (err == SC_EDB &&
	    sc_db_is_unique_violation(res, "reports_open_pair_key")) {
		sc_http_reply_error(
		    op->req, 409, "report_exists",
		    "you already have an open report about this user", NULL);
	} else if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
	} else {
		json_object *body = json_object_new_object();
		json_object_object_add(body, "report", report_json(res, 0));
		sc_log_info(sc_http_req_id(op->req),
		            "user %" PRId64 " reported user %" PRId64 " (%s)",
		            op->reporter_id, op->reported_id, op->reason);
		sc_http_reply_json(op->req, 201, body);
	}
	report_post_free(op);
}

static void
report_user_cb(int err, json_object *found, void *arg)
{
	struct report_post *op = arg;
	char reporter_s[24], reported_s[24], match_s[24];

	if (err != SC_OK) {
		/* Logged by the profile cache. */
		sc_http_reply_error(
		    op->req, 503, "service_unavailable",
		    "the auth service is unavailable, try again", NULL);
		report_post_free(op);
		return;
	}
	snprintf(reported_s, sizeof reported_s, "%" PRId64, op->reported_id);
	if (!json_object_object_get_ex(found, reported_s, NULL)) {
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such user");
		report_post_free(op);
		return;
	}
	snprintf(reporter_s, sizeof reporter_s, "%" PRId64, op->reporter_id);
	snprintf(match_s, sizeof match_s, "%" PRId64, op->match_id);
	const char *params[] = {reporter_s, reported_s,
	                        op->match_id != 0 ? match_s : NULL, op->reason,
	                        op->details};
	sc_db_query(
	    op->r->d.db,
	    "INSERT INTO ratings.reports"
	    " (reporter_id, reported_user_id, match_id, reason, details)"
	    " VALUES ($1, $2, $3, $4, $5) RETURNING " REPORT_COLS,
	    5, params, report_stored_cb, op);
}

static void
report_post_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"reportedUserId", "reason",
	                                      "details", "matchId", NULL};
	struct ratings *r = arg;
	json_object *body = sc_http_req_json(req);
	struct sc_claims claims;
	struct sc_valid v;
	int64_t reported = 0, match_id = 0;
	const char *reason = NULL, *details = NULL;

	if (!sc_token_require(r->d.verifier, req, &claims)) {
		return;
	}
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_int(&v, body, "reportedUserId", SC_V_REQUIRED, 1, INT64_MAX,
	             &reported);
	if (sc_valid_string(&v, body, "reason", SC_V_REQUIRED, 1, 32,
	                    &reason) &&
	    !ratings_reason_valid(reason)) {
		sc_valid_fail(&v, "reason", "must be one of " RATINGS_REASONS);
	}
	sc_valid_string(&v, body, "details", SC_V_NULLABLE, 0, RATINGS_TEXT_MAX,
	                &details);
	sc_valid_int(&v, body, "matchId", SC_V_NULLABLE, 1, INT64_MAX,
	             &match_id);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	if (reported == claims.user_id) {
		json_object *d = json_object_new_object();
		json_object_object_add(
		    d, "reportedUserId",
		    json_object_new_string("must not be you"));
		sc_http_reply_error(req, 422, "self_report",
		                    "you cannot report yourself", d);
		return;
	}

	struct report_post *op = sc_calloc(1, sizeof *op);
	op->r = r;
	op->req = req;
	op->reporter_id = claims.user_id;
	op->reported_id = reported;
	op->match_id = match_id;
	op->reason = sc_strdup(reason);
	op->details = details != NULL ? sc_strdup(details) : NULL;
	sc_profiles_get(r->d.profiles, &op->reported_id, 1, sc_http_req_id(req),
	                report_user_cb, op);
}

void
ratings_report_routes(struct ratings *r)
{
	sc_http_route(r->d.http, EVHTTP_REQ_POST, "/api/reports", SC_HTTP_JSON,
	              report_post_cb, r);
}
