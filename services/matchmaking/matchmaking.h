/* matchmaking.h: the matchmaking daemon's context and the entry points of
 * its modules. One context per process (struct matchmaking), created in
 * main.c; every handler gets it through its callback argument. */
#ifndef MATCHMAKING_H
#define MATCHMAKING_H

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "daemon.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "profiles.h"
#include "status.h"
#include "token.h"

struct matchmaking {
	struct sc_daemon d;    /* base, db, bus, http, verifier, profiles */
	int events_timeout_ms; /* deadline of events.participants.check */
};

/* The columns every match query selects, so the renderers below can read
 * the row; unqualified, for matchmaking.matches or a subquery over it.
 * created_us (created_at in microseconds since the epoch) is the exact
 * keyset of a list cursor; the ISO strings are only millisecond-precise. */
#define MM_MATCH_COLS                                                          \
	"id, event_id, status, requester_id, target_id, "                      \
	"to_char(created_at AT TIME ZONE 'UTC', "                              \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, "                 \
	"to_char(updated_at AT TIME ZONE 'UTC', "                              \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS updated_at, "                 \
	"(extract(epoch FROM created_at) * 1000000)::bigint AS created_us"

/* ---- match.c: the operations, shared by the HTTP routes and the bus --- */

/* The outcome of an operation. On SC_OK, `match` is the match JSON with
 * its members' profiles. Otherwise err is the class of the failure (its
 * HTTP status, sc_err_http_status) and code the API's machine code
 * ("match_exists", "not_found", ...), with a human message and optional
 * details ({"matchId": 4}). Everything is borrowed during the callback
 * (json_object_get what you keep). */
struct mm_outcome {
	int err;
	const char *code;
	const char *message;
	json_object *details;
	json_object *match;
};

typedef void (*mm_done_fn)(const struct mm_outcome *out, void *arg);

/* Ask for a match: user asks target at event. Checks both are participants
 * (events.participants.check), inserts, publishes match.requested. Errors:
 * validation_failed/self_match, not_found (no such event),
 * not_participant, validation_failed/target_not_participant, match_exists
 * (details {matchId}), service_unavailable (events or the database down).
 * Callback exactly once, never before this returns. request_id may be
 * NULL (copied). */
void mm_match_create(struct matchmaking *m, int64_t user_id, int64_t target_id,
                     int64_t event_id, const char *request_id, mm_done_fn cb,
                     void *arg);

/* Move match_id to `to` as user: one UPDATE that names the states the user
 * may leave; when it changes nothing, one read tells not_found (not a
 * member), forbidden and invalid_transition (details {from, to}) apart.
 * Publishes match.<to>. Callback as for mm_match_create. */
void mm_match_update(struct matchmaking *m, int64_t user_id, int64_t match_id,
                     enum mm_status to, const char *request_id, mm_done_fn cb,
                     void *arg);

/* Read match_id for one of its members (anyone else: not_found). */
void mm_match_read(struct matchmaking *m, int64_t user_id, int64_t match_id,
                   const char *request_id, mm_done_fn cb, void *arg);

/* Row `row` of a result with MM_MATCH_COLS as match JSON, with requester
 * and target null until mm_profiles_fill. Caller owns; release with
 * json_object_put. */
json_object *mm_match_json(const PGresult *res, int row);

/* The short form on the bus: {id, eventId, status, requesterId,
 * targetId}. Caller owns; release with json_object_put. */
json_object *mm_match_brief_json(const PGresult *res, int row);

/* Fill "requester" and "target" of every match in `items` (an array of
 * match JSON; a reference is taken and dropped after cb) with public
 * profiles from auth; null where unknown or when auth cannot be asked: a
 * read never fails for want of profiles. cb gets items (borrowed during
 * the call). Callback exactly once, never before this returns. */
void mm_profiles_fill(struct matchmaking *m, json_object *items,
                      const char *request_id,
                      void (*cb)(json_object *items, void *arg), void *arg);

/* ---- routes.c: the HTTP API (/api/matches) ----------------------------- */
void mm_routes(struct matchmaking *m);

/* ---- requests.c: the bus requests matchmaking.matches.* ----------------- */
void mm_requests(struct matchmaking *m);

#endif
