/* signaling.h: the signaling daemon's context and the entry points of its
 * modules. One context per process (struct signaling), created in main.c;
 * every handler reaches it through its callback argument. */
#ifndef SIGNALING_H
#define SIGNALING_H

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "bucket.h"
#include "bus.h"
#include "cluster.h"
#include "db.h"
#include "eio_listener.h"
#include "health.h"
#include "http.h"
#include "idmap.h"
#include "payload.h"
#include "presence.h"
#include "profiles.h"
#include "sio.h"
#include "token.h"
#include "turn.h"

struct sg_client;
struct sg_peers;
struct sg_metrics;
struct sc_metrics;

struct signaling {
	struct event_base *base;
	struct sc_http_server *http;
	struct sc_eio_listener *listener;
	struct sc_sio_server *io;
	struct sc_sio_nsp *nsp; /* "/" */
	struct sc_db *db;
	struct sc_bus *bus;
	struct sc_profiles *profiles;
	struct sc_token_verifier *verifier;
	struct sc_health health;
	struct sg_presence *presence; /* event rooms: who is there */
	struct sg_ice_config ice;

	/* access.c: what events and matchmaking said, briefly cached */
	struct sg_idmap participants; /* (event, user) -> expiry */
	struct sg_idmap matches;      /* match -> struct sg_match */
	struct event *sweep;          /* drops expired cache entries */
	long participant_ttl_s, match_ttl_s;
	int bus_timeout_ms; /* deadline of the requests we make */

	/* per-socket limits */
	struct sg_rate rate_events, rate_messages, rate_signals;

	struct sg_client *clients; /* every accepted socket's client */
	size_t nclients;
	size_t inflight; /* socket operations waiting on the db or bus */
	bool draining;   /* SIGTERM: refuse new work, finish the rest */
	bool stopping;   /* the loop has left: start nothing new */

	struct sg_peers *peers; /* peers.c: the other instances; NULL alone */

	struct sc_metrics *metrics; /* GET /metrics (metrics.h); freed last */
	struct sg_metrics *mx;      /* metrics.c: signaling's own series */
};

/* Room names in the Socket.IO namespace. */
#define SG_ROOM_LEN 32
void sg_room_name(char out[SG_ROOM_LEN], const char *kind, int64_t id);

/* ---- access.c: who may be where (events, matchmaking over the bus) ---- */

enum sg_match_status {
	SG_MATCH_PENDING,
	SG_MATCH_ACCEPTED,
	SG_MATCH_REJECTED,
	SG_MATCH_CANCELLED,
	SG_MATCH_COMPLETED,
};

/* The short match (proto/matchmaking.md). */
struct sg_match {
	int64_t id, event_id, requester, target;
	enum sg_match_status status;
	time_t expires; /* cache entry */
};

/* Parse a short match JSON object ({id, eventId, status, requesterId,
 * targetId}). SC_OK or SC_EBUS when malformed. */
int sg_match_parse(json_object *o, struct sg_match *out);
/* The other member, or 0 when user is not a member. */
int64_t sg_match_partner(const struct sg_match *m, int64_t user);

/* err SC_OK with participant true/false; SC_ENOTFOUND for no such event;
 * SC_EUNAVAIL / SC_ETIMEDOUT / SC_EBUS / ... when events cannot say. */
typedef void (*sg_participant_cb)(int err, bool participant, void *arg);

/* Is user a participant of event? A yes is cached participant_ttl_s
 * seconds (until event.left for the pair); a no is always asked again.
 * The callback runs before this returns on a cache hit, later otherwise;
 * exactly once. request_id may be NULL. */
void sg_access_participant(struct signaling *sg, int64_t event, int64_t user,
                           const char *request_id, sg_participant_cb cb,
                           void *arg);
void sg_access_participant_forget(struct signaling *sg, int64_t event,
                                  int64_t user);

/* err SC_OK with m (borrowed during the call); SC_ENOTFOUND; or why
 * matchmaking could not say. Cached match_ttl_s seconds, refreshed by the
 * match.* topics. Callback as for sg_access_participant. */
typedef void (*sg_match_cb)(int err, const struct sg_match *m, void *arg);
void sg_access_match(struct signaling *sg, int64_t match,
                     const char *request_id, sg_match_cb cb, void *arg);
/* Store what a match.* topic or a matchmaking reply said. */
void sg_access_match_put(struct signaling *sg, const struct sg_match *m);

void sg_access_init(struct signaling *sg);
void sg_access_release(struct signaling *sg);

/* The error code and message for a failed bus request (the peer's own code
 * when it answered; service_unavailable when it could not be asked). */
const char *sg_bus_err_code(int err);

/* ---- store.c: chat.messages ------------------------------------------ */

/* enum sg_room_kind (event, match) is in cluster.h. */

/* A message to store; every pointer borrowed during the call. */
struct sg_message_new {
	enum sg_room_kind kind;
	int64_t room;
	int64_t user;
	const char *username;
	const char *display_name; /* may be NULL */
	enum sg_msg_type type;
	const char *content;
	const char *client_id; /* may be NULL */
};

/* err SC_OK with message (the message JSON, borrowed during the call) and
 * inserted false when a message with this clientId was stored before (the
 * same one is returned); SC_ECONFLICT when that clientId was used for
 * another room; else the database's error (SC_EUNAVAIL, SC_EAGAIN,
 * SC_EDB). Callback exactly once, never before this returns. */
typedef void (*sg_store_cb)(int err, json_object *message, bool inserted,
                            void *arg);
void sg_store_message(struct signaling *sg, const struct sg_message_new *m,
                      sg_store_cb cb, void *arg);

/* A history page: err SC_OK with page {items:[...newest first],
 * nextCursor} (borrowed during the call), or the database's error with
 * res (may be NULL). */
typedef void (*sg_history_cb)(int err, const PGresult *res, json_object *page,
                              void *arg);
void sg_store_history(struct signaling *sg, enum sg_room_kind kind,
                      int64_t room, int64_t before, int limit, sg_history_cb cb,
                      void *arg);

/* ---- sockets.c: the Socket.IO namespace "/" --------------------------- */
void sg_sockets_init(struct signaling *sg);
/* Free the clients still listed (only after sc_sio_server_free). */
void sg_sockets_release(struct signaling *sg);
/* User `user` is no longer a participant of `event` (event.left): take
 * every socket of theirs out of the event's room. */
void sg_sockets_evict(struct signaling *sg, int64_t event, int64_t user);

/* From another instance (peers.c): deliver `event` with data (borrowed) to
 * the sockets of the room here (only to_user's when > 0). */
void sg_sockets_deliver(struct signaling *sg, enum sg_room_kind kind,
                        int64_t room, const char *event, json_object *data,
                        int64_t to_user);
/* The other instances' view of an event room changed (peers.c): user
 * arrived on one (present) or left the last one. The room's sockets here
 * hear user_joined / user_left, unless the user has a socket in the room
 * here (then nothing changed for them). person borrowed (may be NULL). */
void sg_sockets_remote_presence(struct signaling *sg, int64_t event,
                                int64_t user, json_object *person,
                                bool present);

/* ---- peers.c: several instances as one (scale-out) ---------------------- */

/* Talk to the other instances whose PUB addresses are in `list` (a comma
 * list, SC_SIGNALING_PEERS; may name this instance's own: its messages are
 * recognised and dropped). instance: this one's id (NULL: hostname:pid).
 * An empty list leaves sg->peers NULL: a single instance, nothing more is
 * done. Call once sg->bus listens. SC_OK or SC_EINVAL (logged); on failure
 * sg_peers_free cleans up. */
int sg_peers_start(struct signaling *sg, const char *instance, const char *list,
                   long heartbeat_ms);
/* Say goodbye (the peers forget our users at once) and publish nothing
 * more: the closing phase of a shutdown. */
void sg_peers_close(struct signaling *sg);
/* After sc_bus_free (no callback may come). */
void sg_peers_free(struct signaling *sg);
/* Split SC_SIGNALING_PEERS (list may be NULL) into its unique addresses
 * (spaces around entries ignored). Caller owns *out: free each and the
 * array. SC_EINVAL (logged, naming the variable) for an entry that is not a
 * bus address. */
int sg_peers_parse_list(const char *list, char ***out, size_t *n);
/* This instance's id, or NULL when alone. Borrowed. */
const char *sg_peers_instance(const struct signaling *sg);

/* Our own presence changed: user's first socket arrived in the room here
 * (present; person borrowed) or the last one left. The peers hear it. */
void sg_peers_local(struct signaling *sg, enum sg_room_kind kind, int64_t room,
                    int64_t user, json_object *person, bool present);
/* A socket of user entered / left the private room of match here (counted
 * per user; the first and the last are told to the peers). */
void sg_peers_match_enter(struct signaling *sg, int64_t match, int64_t user);
void sg_peers_match_exit(struct signaling *sg, int64_t match, int64_t user);
/* On how many other instances user has a socket in the room (0 alone). */
int sg_peers_count(struct signaling *sg, enum sg_room_kind kind, int64_t room,
                   int64_t user);
/* Append to list the persons of the event room's users who are there on
 * other instances only. */
void sg_peers_list_into(struct signaling *sg, int64_t event, json_object *list);
/* The room's sockets on the other instances (only to_user's when > 0) get
 * `event` (a literal) with data (borrowed). */
void sg_peers_emit(struct signaling *sg, enum sg_room_kind kind, int64_t room,
                   const char *event, json_object *data, int64_t to_user);

/* ---- notify.c: the bus topics (match.*, event.left) -------------------- */
void sg_notify_subscribe(struct signaling *sg);

/* ---- metrics.c: Socket.IO figures on GET /metrics ---------------------- */
/* Declare signaling's own metrics in sg->metrics (sessions by transport,
 * HTTP connections of the listener, sockets, rooms, Engine.IO and
 * Socket.IO packets, events received by name) once sg->io exists. */
void sg_metrics_init(struct signaling *sg);
/* Count an event received: `name` is a handler's name (a literal from
 * sockets.c's table; one series each) or NULL for any other ("unknown"). */
void sg_metrics_event(struct signaling *sg, const char *name);

/* ---- routes.c: the HTTP API (/api/chat) --------------------------------- */
void sg_routes(struct signaling *sg);

#endif
