/* requests.c: the bus requests matchmaking answers (proto/matchmaking.md):
 * matchmaking.matches.get for other daemons' checks, and .create / .update,
 * which act for a user with the same rules as the HTTP API (match.c). The
 * bus is the private network between the daemons: the acting userId is
 * taken as given. Unknown fields are ignored (payloads evolve additively). */
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "log.h"
#include "matchmaking.h"

/* A positive integer field; false (and a message in why) otherwise. */
static bool
data_id(json_object *data, const char *key, int64_t *out, const char **why)
{
	json_object *v;

	if (!json_object_object_get_ex(data, key, &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0) {
		*why = key;
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

static void
reply_invalid(struct sc_bus_req *req, const char *key)
{
	char message[96];

	snprintf(message, sizeof message, "%s must be a positive integer", key);
	sc_bus_reply_err(req, SC_EVALIDATION, message);
}

/* The outcome as a reply: {match}, or an error with the same code and
 * details as the HTTP API's (match_exists {matchId}, ...). */
static void
reply_outcome_cb(const struct mm_outcome *out, void *arg)
{
	struct sc_bus_req *req = arg;

	if (out->err == SC_OK) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "match",
		                       json_object_get(out->match));
		sc_bus_reply(req, data);
		return;
	}
	sc_bus_reply_error(req, out->err, out->code, out->message,
	                   json_object_get(out->details));
}

/* ---- matchmaking.matches.get ------------------------------------------- */

static void
get_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_bus_req *req = arg;

	if (err != SC_OK) {
		sc_log_error(
		    sc_bus_req_id(req), "matchmaking.matches.get failed: %s",
		    res != NULL ? PQresultErrorMessage(res) : sc_err_str(err));
		sc_bus_reply_err(req,
		                 err == SC_EDB || err == SC_EINVAL
		                     ? SC_EINTERNAL
		                     : SC_EUNAVAIL,
		                 "cannot read the match");
		return;
	}
	if (PQntuples(res) == 0) {
		sc_bus_reply_err(req, SC_ENOTFOUND, "no such match");
		return;
	}
	json_object *data = json_object_new_object();
	json_object_object_add(data, "match", mm_match_brief_json(res, 0));
	sc_bus_reply(req, data);
}

static void
get_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct matchmaking *m = arg;
	const char *why = NULL;
	int64_t id;
	char id_s[24];

	if (!data_id(data, "matchId", &id, &why)) {
		reply_invalid(req, why);
		return;
	}
	snprintf(id_s, sizeof id_s, "%lld", (long long)id);
	const char *params[] = {id_s};
	sc_db_query(m->d.db,
	            "SELECT " MM_MATCH_COLS " FROM matchmaking.matches"
	            " WHERE id = $1",
	            1, params, get_done_cb, req);
}

/* ---- matchmaking.matches.create ----------------------------------------- */

static void
create_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct matchmaking *m = arg;
	const char *why = NULL;
	int64_t user, target, event;

	if (!data_id(data, "userId", &user, &why) ||
	    !data_id(data, "targetUserId", &target, &why) ||
	    !data_id(data, "eventId", &event, &why)) {
		reply_invalid(req, why);
		return;
	}
	mm_match_create(m, user, target, event, sc_bus_req_id(req),
	                reply_outcome_cb, req);
}

/* ---- matchmaking.matches.update ----------------------------------------- */

static void
update_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct matchmaking *m = arg;
	const char *why = NULL;
	int64_t user, match;
	json_object *status;
	enum mm_status to;

	if (!data_id(data, "userId", &user, &why) ||
	    !data_id(data, "matchId", &match, &why)) {
		reply_invalid(req, why);
		return;
	}
	if (!json_object_object_get_ex(data, "status", &status) ||
	    !json_object_is_type(status, json_type_string) ||
	    !mm_status_parse(json_object_get_string(status), &to)) {
		sc_bus_reply_err(req, SC_EVALIDATION,
		                 "status must be one of pending, accepted, "
		                 "rejected, cancelled, completed");
		return;
	}
	mm_match_update(m, user, match, to, sc_bus_req_id(req),
	                reply_outcome_cb, req);
}

void
mm_requests(struct matchmaking *m)
{
	sc_bus_handle(m->d.bus, "matchmaking.matches.get", get_cb, m);
	sc_bus_handle(m->d.bus, "matchmaking.matches.create", create_cb, m);
	sc_bus_handle(m->d.bus, "matchmaking.matches.update", update_cb, m);
}
