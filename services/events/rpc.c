/* rpc.c: what other daemons ask events over the bus (proto/events.md):
 * events.participants.check (matchmaking: are these users at this event?)
 * and events.events.get (one event without the caller-specific `joined`). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "events.h"
#include "log.h"

#define CHECK_MAX_IDS 100

/* A database failure as a bus error: the SQL error stays in our log. */
static void
reply_db_error(struct sc_bus_req *req, int err, const PGresult *res)
{
	const char *method = sc_bus_req_method(req);

	if (err == SC_EDB) {
		sc_log_error(sc_bus_req_id(req), "%s failed: %s", method,
		             res != NULL ? PQresultErrorMessage(res) : "");
		sc_bus_reply_err(req, SC_EINTERNAL, "cannot read events");
	} else if (err == SC_EAGAIN) {
		sc_bus_reply_err(req, SC_EAGAIN, "too busy, try again");
	} else {
		sc_bus_reply_err(req, SC_EUNAVAIL,
		                 "the events database is "
		                 "unavailable");
	}
}

/* data's `eventId`: an integer >= 1. */
static bool
event_id_of(json_object *data, int64_t *out)
{
	json_object *id;

	if (!json_object_object_get_ex(data, "eventId", &id) ||
	    !json_object_is_type(id, json_type_int)) {
		return false;
	}
	*out = json_object_get_int64(id);
	return *out >= 1;
}

/* ---- events.participants.check ------------------------------------------ */

struct check_op {
	struct sc_bus_req *req;
	int64_t event_id;
};

static void
check_done_cb(int err, PGresult *res, void *arg)
{
	struct check_op *op = arg;

	if (err != SC_OK) {
		reply_db_error(op->req, err, res);
	} else if (PQntuples(res) == 0) {
		sc_bus_reply_err(op->req, SC_ENOTFOUND, "no such event");
	} else {
		json_object *ids = json_object_new_array();
		for (int i = 0; i < PQntuples(res); i++) {
			if (!sc_db_isnull(res, i, "user_id")) {
				json_object_array_add(
				    ids, json_object_new_int64(
				             sc_db_int(res, i, "user_id")));
			}
		}
		json_object *data = json_object_new_object();
		json_object_object_add(data, "eventId",
		                       json_object_new_int64(op->event_id));
		json_object_object_add(data, "participants", ids);
		sc_bus_reply(op->req, data);
	}
	free(op);
}

static void
check_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct events *ev = arg;
	json_object *ids;
	int64_t event_id;
	size_t len = 0, cap = 2 + CHECK_MAX_IDS * 21;
	char eid[24], *list;

	if (!event_id_of(data, &event_id)) {
		sc_bus_reply_err(req, SC_EINVAL,
		                 "eventId must be a positive integer");
		return;
	}
	if (!json_object_object_get_ex(data, "userIds", &ids) ||
	    !json_object_is_type(ids, json_type_array)) {
		sc_bus_reply_err(req, SC_EINVAL, "userIds must be an array");
		return;
	}
	size_t n = json_object_array_length(ids);
	if (n > CHECK_MAX_IDS) {
		sc_bus_reply_err(req, SC_EINVAL,
		                 "at most 100 userIds per request");
		return;
	}
	list = sc_malloc(cap);
	list[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		if (!json_object_is_type(id, json_type_int) ||
		    json_object_get_int64(id) < 1) {
			free(list);
			sc_bus_reply_err(req, SC_EINVAL,
			                 "userIds must be positive integers");
			return;
		}
		len +=
		    (size_t)snprintf(list + len, cap - len, "%s%" PRId64,
		                     i ? "," : "", json_object_get_int64(id));
	}
	snprintf(list + len, cap - len, "}");
	snprintf(eid, sizeof eid, "%" PRId64, event_id);

	struct check_op *op = sc_calloc(1, sizeof *op);
	op->req = req;
	op->event_id = event_id;
	const char *params[] = {eid, list};
	/* One row of NULL for a known event none of them joined; none for an
	 * unknown event. */
	sc_db_query(ev->d.db,
	            "SELECT p.user_id FROM events.events e"
	            " LEFT JOIN events.participants p ON p.event_id = e.id"
	            " AND p.user_id = ANY($2::bigint[])"
	            " WHERE e.id = $1 ORDER BY p.user_id",
	            2, params, check_done_cb, op);
	free(list);
}

/* ---- events.events.get -------------------------------------------------- */

static void
get_done_cb(int err, PGresult *res, void *arg)
{
	struct sc_bus_req *req = arg;

	if (err != SC_OK) {
		reply_db_error(req, err, res);
	} else if (PQntuples(res) == 0) {
		sc_bus_reply_err(req, SC_ENOTFOUND, "no such event");
	} else {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "event",
		                       events_event_json(res, 0, false));
		sc_bus_reply(req, data);
	}
}

static void
get_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct events *ev = arg;
	int64_t event_id;
	char eid[24];

	if (!event_id_of(data, &event_id)) {
		sc_bus_reply_err(req, SC_EINVAL,
		                 "eventId must be a positive integer");
		return;
	}
	snprintf(eid, sizeof eid, "%" PRId64, event_id);
	const char *params[] = {eid};
	sc_db_query(ev->d.db,
	            "SELECT " EVENTS_EVENT_COLS " FROM events.events e"
	            " WHERE e.id = $1",
	            1, params, get_done_cb, req);
}

void
events_rpc_handlers(struct events *ev)
{
	sc_bus_handle(ev->d.bus, "events.participants.check", check_cb, ev);
	sc_bus_handle(ev->d.bus, "events.events.get", get_cb, ev);
}
