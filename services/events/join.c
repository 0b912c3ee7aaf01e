/* join.c: joining and leaving an event. The participants row and the
 * event's participant_count change in one statement (a CTE), so the count
 * stays exact under concurrent and repeated joins; event.joined and
 * event.left are published after that statement committed, and only when
 * it changed something. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "db_reply.h"
#include "error.h"
#include "events.h"
#include "log.h"

/* $1 event, $2 user. The INSERT reads the event row, so an unknown event
 * inserts nothing and the final SELECT finds no row (404). The UPDATE runs
 * only for a row really inserted: a repeated join changes nothing. Under
 * READ COMMITTED, concurrent joins queue on the event row's lock and each
 * adds 1 to the count the one before left. */
static const char JOIN_SQL[] =
    "WITH ins AS ("
    " INSERT INTO events.participants (event_id, user_id)"
    " SELECT id, $2 FROM events.events WHERE id = $1"
    " ON CONFLICT DO NOTHING RETURNING event_id),"
    " upd AS ("
    " UPDATE events.events e SET participant_count = e.participant_count + 1"
    " FROM ins WHERE e.id = ins.event_id RETURNING " EVENTS_EVENT_RETURNING "),"
    " cur AS ("
    " SELECT " EVENTS_EVENT_COLS " FROM events.events e"
    " WHERE e.id = $1 AND NOT EXISTS (SELECT 1 FROM upd) FOR SHARE)"
    " SELECT upd.*, true AS changed, true AS joined FROM upd"
    " UNION ALL"
    " SELECT cur.*, false, true FROM cur";

/* The same for leaving: the UPDATE runs only for a row really deleted.
 * In both, when nothing changed, the event is read FOR SHARE: a plain read
 * would see the statement's snapshot, from before a concurrent join or
 * leave of the same user that committed while this one waited on the
 * participants row, and answer a stale count; a locking read follows the
 * row to its newest committed version. */
static const char LEAVE_SQL[] =
    "WITH del AS ("
    " DELETE FROM events.participants WHERE event_id = $1 AND user_id = $2"
    " RETURNING event_id),"
    " upd AS ("
    " UPDATE events.events e SET participant_count = e.participant_count - 1"
    " FROM del WHERE e.id = del.event_id RETURNING " EVENTS_EVENT_RETURNING "),"
    " cur AS ("
    " SELECT " EVENTS_EVENT_COLS " FROM events.events e"
    " WHERE e.id = $1 AND NOT EXISTS (SELECT 1 FROM upd) FOR SHARE)"
    " SELECT upd.*, true AS changed, false AS joined FROM upd"
    " UNION ALL"
    " SELECT cur.*, false, false FROM cur";

struct join_op {
	struct events *ev;
	struct sc_http_req *req;
	bool join;
	int64_t event_id, user_id;
};

static void
join_done_cb(int err, PGresult *res, void *arg)
{
	struct join_op *op = arg;

	if (err != SC_OK) {
		sc_db_reply_error(op->req, err, res);
		free(op);
		return;
	}
	if (PQntuples(res) == 0) {
		sc_http_reply_err(op->req, SC_ENOTFOUND, "no such event");
		free(op);
		return;
	}
	if (sc_db_bool(res, 0, "changed")) {
		/* The list's cache: this daemon forgets at once, so the
		 * caller's next read sees its join (the others hear the
		 * notification of the commit). */
		if (op->ev->d.cache != NULL) {
			sc_cache_clear(op->ev->d.cache);
		}
		json_object *data = json_object_new_object();
		json_object_object_add(data, "eventId",
		                       json_object_new_int64(op->event_id));
		json_object_object_add(data, "userId",
		                       json_object_new_int64(op->user_id));
		json_object_object_add(data, "participantCount",
		                       json_object_new_int64(sc_db_int(
		                           res, 0, "participant_count")));
		const char *topic = op->join ? "event.joined" : "event.left";
		if (sc_bus_publish(op->ev->d.bus, topic, data,
		                   sc_http_req_id(op->req)) != SC_OK) {
			sc_log_warn(sc_http_req_id(op->req),
			            "cannot publish '%s'", topic);
		}
	}
	json_object *body = json_object_new_object();
	json_object_object_add(body, "event", events_event_json(res, 0, true));
	sc_http_reply_json(op->req, 200, body);
	free(op);
}

static void
join_start(struct events *ev, struct sc_http_req *req, bool join)
{
	struct sc_claims claims;
	int64_t id;
	char eid[24], uid[24];

	if (!sc_token_require(ev->d.verifier, req, &claims)) {
		return;
	}
	if (!events_parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
		return;
	}
	struct join_op *op = sc_calloc(1, sizeof *op);
	op->ev = ev;
	op->req = req;
	op->join = join;
	op->event_id = id;
	op->user_id = claims.user_id;
	snprintf(eid, sizeof eid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, claims.user_id);
	const char *params[] = {eid, uid};
	sc_db_query(ev->d.db, join ? JOIN_SQL : LEAVE_SQL, 2, params,
	            join_done_cb, op);
}

static void
join_cb(struct sc_http_req *req, void *arg)
{
	join_start(arg, req, true);
}

static void
leave_cb(struct sc_http_req *req, void *arg)
{
	join_start(arg, req, false);
}

void
events_join_routes(struct events *ev)
{
	sc_http_route(ev->d.http, EVHTTP_REQ_POST, "/api/events/:id/join", 0,
	              join_cb, ev);
	sc_http_route(ev->d.http, EVHTTP_REQ_DELETE, "/api/events/:id/join", 0,
	              leave_cb, ev);
}
