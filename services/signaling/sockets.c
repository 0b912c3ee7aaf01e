/* sockets.c: the product on Socket.IO's default namespace: connect with an
 * access token, event rooms with presence, chat messages stored before
 * they are acknowledged or broadcast, private rooms of accepted matches,
 * match requests through matchmaking, and the WebRTC relay. Every client
 * event may carry an ack answered {ok:true,...} or {ok:false,error:{code,
 * message[,details]}}; without an ack, a refusal is an `error` event. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "signaling.h"

/* One accepted socket. Lives while the socket is connected or an operation
 * of it is in flight (refs); holds a reference on the socket meanwhile, so
 * acks and room checks stay valid after the client has gone. */
struct sg_client {
	struct signaling *sg;
	struct sc_sio_socket *s;
	int refs;
	bool gone; /* on_disconnect has run */
	int64_t user;
	char username[64];
	char *display_name;  /* NULL when none */
	json_object *person; /* {id, username, displayName, avatarUrl} */
	struct sg_bucket events, messages, signals;
	int64_t limited_notice_ms; /* the last rate_limited error event */
	int64_t *rooms;            /* event rooms joined */
	size_t nrooms, caprooms;
	int64_t *matches; /* private rooms joined (kept with peers only) */
	size_t nmatches, capmatches;
	/* chat messages, stored one at a time in the order they came */
	struct op *queue, *queue_tail;
	bool storing;
	struct sg_client *prev, *next; /* sg->clients, while connected */
};

/* One client event being answered (the database or the bus is asked). */
struct op {
	struct sg_client *c; /* a reference */
	struct sc_sio_ack *ack;
	const char *event; /* the handler's name: static */
	int64_t id;        /* eventId or matchId */
	enum sg_room_kind kind;
	struct sg_message_in msg;
	const char *field;  /* offer, answer, candidate */
	json_object *value; /* its value (a reference) */
	struct op *next;    /* the client's queue */
};

/* ---- clients and operations ------------------------------------------- */

static void
client_unref(struct sg_client *c)
{
	if (--c->refs > 0) {
		return;
	}
	sc_sio_socket_unref(c->s);
	json_object_put(c->person);
	free(c->display_name);
	free(c->rooms);
	free(c->matches);
	free(c);
}

static struct op *
op_new(struct sg_client *c, struct sc_sio_ack *ack, const char *event)
{
	struct op *op = sc_calloc(1, sizeof(*op));

	op->c = c;
	op->ack = ack;
	op->event = event;
	c->refs++;
	c->sg->inflight++;
	return op;
}

static void
op_free(struct op *op)
{
	struct signaling *sg = op->c->sg;

	if (op->ack != NULL) {
		sc_sio_ack_free(op->ack);
	}
	sg_message_in_release(&op->msg);
	json_object_put(op->value);
	client_unref(op->c);
	sg->inflight--;
	free(op);
}

/* {"ok":true} to add the answer's fields to. Caller owns. */
static json_object *
ok_body(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* Answer the ack (if any) with body (owned). A success without an ack
 * needs nothing more. */
static void
answer(struct sc_sio_ack **ack, json_object *body)
{
	if (*ack != NULL) {
		json_object *args = json_object_new_array();

		json_object_array_add(args, body);
		sc_sio_ack_send(*ack, args);
		*ack = NULL;
		json_object_put(args);
	} else {
		json_object_put(body);
	}
}

/* A refusal: through the ack, or else as an `error` event {code, message,
 * event[, details]} to the socket. details owned (may be NULL). */
static void
refuse(struct sg_client *c, struct sc_sio_ack **ack, const char *event,
       const char *code, const char *message, json_object *details)
{
	json_object *err = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	if (details != NULL) {
		json_object_object_add(err, "details", details);
	}
	if (*ack != NULL) {
		json_object *body = json_object_new_object();

		json_object_object_add(body, "ok", json_object_new_boolean(0));
		json_object_object_add(body, "error", err);
		answer(ack, body);
		return;
	}
	if (event != NULL) {
		json_object_object_add(err, "event",
		                       json_object_new_string(event));
	}
	if (c != NULL && !c->gone) {
		json_object *args = json_object_new_array();

		json_object_array_add(args, err);
		sc_sio_emit(c->s, "error", args);
		json_object_put(args);
	} else {
		json_object_put(err);
	}
}

static void
op_refuse(struct op *op, const char *code, const char *message)
{
	refuse(op->c, &op->ack, op->event, code, message, NULL);
}

/* A refusal for a failed bus request to `service`. */
static void
op_refuse_bus(struct op *op, int err, const char *message, const char *service)
{
	const char *code = sg_bus_err_code(err);
	char text[128];

	if (strcmp(code, "service_unavailable") == 0 || message == NULL) {
		snprintf(text, sizeof(text),
		         "the %s service is unavailable, try again", service);
		message = text;
	}
	op_refuse(op, code, message);
}

/* Emit event `name` with one argument (owned) to a socket. */
static void
emit1(struct sc_sio_socket *s, const char *name, json_object *arg)
{
	json_object *args = json_object_new_array();

	json_object_array_add(args, arg);
	sc_sio_emit(s, name, args);
	json_object_put(args);
}

/* The same to a room, but `except`. */
static void
room_emit1(struct signaling *sg, const char *room,
           const struct sc_sio_socket *except, const char *name,
           json_object *arg)
{
	json_object *args = json_object_new_array();

	json_object_array_add(args, arg);
	sc_sio_to_room(sg->nsp, room, except, name, args);
	json_object_put(args);
}

/* ---- event rooms and presence ------------------------------------------ */

static bool
client_in_event(const struct sg_client *c, int64_t event)
{
	for (size_t i = 0; i < c->nrooms; i++) {
		if (c->rooms[i] == event) {
			return true;
		}
	}
	return false;
}

/* The user's first socket here arrived in the event room: the peers hear
 * of it; true when the room here must hear user_joined (the user is on no
 * other instance's list of the room yet). */
static bool
arrived(struct signaling *sg, int64_t event, int64_t user, json_object *person)
{
	if (sg->peers == NULL) {
		return true;
	}
	sg_peers_local(sg, SG_ROOM_EVENT, event, user, person, true);
	return sg_peers_count(sg, SG_ROOM_EVENT, event, user) == 0;
}

/* The same when the user's last socket here left: true when the room here
 * must hear user_left (no other instance has them there). */
static bool
departed(struct signaling *sg, int64_t event, int64_t user)
{
	if (sg->peers == NULL) {
		return true;
	}
	sg_peers_local(sg, SG_ROOM_EVENT, event, user, NULL, false);
	return sg_peers_count(sg, SG_ROOM_EVENT, event, user) == 0;
}

/* A socket entered / left a private room: counted for the peers (the
 * relay's partner_offline looks at every instance). Nothing alone. */
static void
client_match_enter(struct sg_client *c, int64_t match)
{
	if (c->sg->peers == NULL) {
		return;
	}
	if (c->nmatches == c->capmatches) {
		c->capmatches = c->capmatches > 0 ? c->capmatches * 2 : 4;
		c->matches =
		    sc_realloc(c->matches, c->capmatches * sizeof(*c->matches));
	}
	c->matches[c->nmatches++] = match;
	sg_peers_match_enter(c->sg, match, c->user);
}

static void
client_match_exit(struct sg_client *c, int64_t match)
{
	for (size_t i = 0; i < c->nmatches; i++) {
		if (c->matches[i] == match) {
			c->matches[i] = c->matches[--c->nmatches];
			sg_peers_match_exit(c->sg, match, c->user);
			return;
		}
	}
}

/* Enter the event's room (if not in it yet) and say who is there:
 * active_users to the socket (the list goes once: not in the ack too; at
 * 1,000 people it is about 80 KB), then the ack. The rest of the room hears of
 * the user only when this is their first socket there. */
static void
event_room_enter(struct sg_client *c, int64_t event, struct sc_sio_ack **ack,
                 const char *name)
{
	struct signaling *sg = c->sg;
	char room[SG_ROOM_LEN];
	json_object *users, *o;
	bool first;

	sg_room_name(room, "event", event);
	if (!client_in_event(c, event)) {
		int rc = sc_sio_join(c->s, room);

		if (rc == SC_ETOOBIG) {
			refuse(c, ack, name, "too_many_rooms",
			       "this connection is in too many rooms", NULL);
			return;
		}
		if (rc != SC_OK) {
			return; /* the socket is going */
		}
		if (c->nrooms == c->caprooms) {
			c->caprooms = c->caprooms > 0 ? c->caprooms * 2 : 4;
			c->rooms = sc_realloc(c->rooms,
			                      c->caprooms * sizeof(*c->rooms));
		}
		c->rooms[c->nrooms++] = event;
		first = sg_presence_add(sg->presence, event, c->user,
		                        c->person) == 1;
		if (first && arrived(sg, event, c->user, c->person)) {
			o = json_object_new_object();
			json_object_object_add(o, "eventId",
			                       json_object_new_int64(event));
			json_object_object_add(o, "user",
			                       json_object_get(c->person));
			room_emit1(sg, room, c->s, "user_joined", o);
		}
	}
	users = sg_presence_list(sg->presence, event);
	sg_peers_list_into(sg, event, users);
	o = json_object_new_object();
	json_object_object_add(o, "eventId", json_object_new_int64(event));
	json_object_object_add(o, "users", users);
	emit1(c->s, "active_users", o);
	o = ok_body();
	json_object_object_add(o, "eventId", json_object_new_int64(event));
	answer(ack, o);
}

/* Leave the event's room; the rest hear user_left when it was the user's
 * last socket there. */
static void
event_room_exit(struct sg_client *c, int64_t event)
{
	struct signaling *sg = c->sg;
	char room[SG_ROOM_LEN];
	size_t i;

	for (i = 0; i < c->nrooms && c->rooms[i] != event; i++) {
	}
	if (i == c->nrooms) {
		return;
	}
	c->rooms[i] = c->rooms[--c->nrooms];
	sg_room_name(room, "event", event);
	sc_sio_leave(c->s, room);
	if (sg_presence_remove(sg->presence, event, c->user) == 0 &&
	    departed(sg, event, c->user)) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "eventId",
		                       json_object_new_int64(event));
		json_object_object_add(o, "userId",
		                       json_object_new_int64(c->user));
		room_emit1(sg, room, c->s, "user_left", o);
	}
}

static void
join_event_cb(int err, bool participant, void *arg)
{
	struct op *op = arg;

	if (err == SC_ENOTFOUND) {
		op_refuse(op, "not_found", "no such event");
	} else if (err != SC_OK) {
		op_refuse_bus(op, err, NULL, "events");
	} else if (!participant) {
		op_refuse(op, "not_participant",
		          "only participants of the event may join its room: "
		          "join the event first");
	} else if (!op->c->gone) {
		event_room_enter(op->c, op->id, &op->ack, op->event);
	}
	op_free(op);
}

static void
on_join_event_room(struct sg_client *c, json_object *p, struct sc_sio_ack **ack,
                   const char *name, struct sc_valid *v)
{
	static const char *const allowed[] = {"eventId", NULL};
	int64_t event = 0;
	struct op *op;

	sg_check_known(v, p, allowed);
	if (!sg_check_id(v, p, "eventId", &event)) {
		return;
	}
	if (!sc_valid_ok(v)) {
		return;
	}
	if (client_in_event(c, event)) {
		event_room_enter(c, event, ack, name);
		return;
	}
	op = op_new(c, *ack, name);
	*ack = NULL;
	op->id = event;
	sg_access_participant(c->sg, event, c->user, NULL, join_event_cb, op);
}

static void
on_leave_event_room(struct sg_client *c, json_object *p,
                    struct sc_sio_ack **ack, const char *name,
                    struct sc_valid *v)
{
	static const char *const allowed[] = {"eventId", NULL};
	int64_t event = 0;
	json_object *o;
	(void)name;

	sg_check_known(v, p, allowed);
	if (!sg_check_id(v, p, "eventId", &event) || !sc_valid_ok(v)) {
		return;
	}
	event_room_exit(c, event);
	o = ok_body();
	json_object_object_add(o, "eventId", json_object_new_int64(event));
	answer(ack, o);
}

/* ---- chat messages ------------------------------------------------------ */

static void store_next(struct sg_client *c);
static void queue_drop_head(struct sg_client *c);

static void
stored_cb(int err, json_object *message, bool inserted, void *arg)
{
	struct op *op = arg;
	struct sg_client *c = op->c;
	struct signaling *sg = c->sg;

	if (err == SC_OK) {
		bool event = op->kind == SG_ROOM_EVENT;
		const char *name = event ? "event_message" : "private_message";
		char room[SG_ROOM_LEN];
		json_object *o;

		if (inserted) {
			sg_room_name(room, event ? "event" : "match", op->id);
			room_emit1(sg, room, c->s, name,
			           json_object_get(message));
			sg_peers_emit(sg, op->kind, op->id, name, message, 0);
		}
		o = ok_body();
		json_object_object_add(o, "message", json_object_get(message));
		answer(&op->ack, o);
	} else if (err == SC_ECONFLICT) {
		op_refuse(op, "conflict",
		          "this clientId was used for another message");
	} else if (err == SC_EAGAIN) {
		op_refuse(op, "overloaded",
		          "the server is busy: try again in a moment");
	} else if (err == SC_EUNAVAIL) {
		op_refuse(op, "service_unavailable",
		          "messages cannot be stored right now, try again");
	} else {
		op_refuse(op, "internal", "the message could not be stored");
	}
	queue_drop_head(c); /* op */
}

static void
store(struct op *op)
{
	struct sg_client *c = op->c;
	struct sg_message_new m = {
	    .kind = op->kind,
	    .room = op->id,
	    .user = c->user,
	    .username = c->username,
	    .display_name = c->display_name,
	    .type = op->msg.type,
	    .content = op->msg.content,
	    .client_id = op->msg.client_id,
	};

	sg_store_message(c->sg, &m, stored_cb, op);
}

/* The op at the head of the queue is answered (stored, or failed before
 * storing): free it and start the next. c outlives the op. */
static void
queue_drop_head(struct sg_client *c)
{
	struct op *op = c->queue;

	c->refs++;
	c->queue = op->next;
	if (c->queue == NULL) {
		c->queue_tail = NULL;
	}
	c->storing = false;
	op_free(op);
	store_next(c);
	client_unref(c);
}

static void
private_check_cb(int err, const struct sg_match *m, void *arg)
{
	struct op *op = arg;
	struct sg_client *c = op->c;

	if (err == SC_ENOTFOUND ||
	    (err == SC_OK && sg_match_partner(m, c->user) == 0)) {
		op_refuse(op, "not_found", "no such match");
	} else if (err != SC_OK) {
		op_refuse_bus(op, err, NULL, "matchmaking");
	} else if (m->status != SG_MATCH_ACCEPTED &&
	           m->status != SG_MATCH_COMPLETED) {
		op_refuse(op, "match_not_active",
		          "the match is not accepted: its private chat is "
		          "closed");
	} else if (c->sg->stopping) {
		op_refuse(op, "shutting_down", "the server is restarting");
	} else {
		store(op);
		return;
	}
	queue_drop_head(c);
}

/* Start storing the message at the head of the queue, if none is being
 * stored: one at a time per socket, so a sender's messages keep their
 * order (in ids, broadcasts and acks). */
static void
store_next(struct sg_client *c)
{
	struct op *op = c->queue;

	if (c->storing || op == NULL) {
		return;
	}
	c->storing = true;
	if (c->sg->stopping) {
		op_refuse(op, "shutting_down", "the server is restarting");
		queue_drop_head(c);
		return;
	}
	if (op->kind == SG_ROOM_MATCH) {
		/* still accepted? (a cancel closes the private chat) */
		sg_access_match(c->sg, op->id, NULL, private_check_cb, op);
		return;
	}
	store(op);
}

static void
enqueue_message(struct sg_client *c, struct sc_sio_ack **ack, const char *name,
                enum sg_room_kind kind, struct sg_message_in *msg)
{
	struct op *op = op_new(c, *ack, name);

	*ack = NULL;
	op->kind = kind;
	op->id = msg->room;
	op->msg = *msg;
	memset(msg, 0, sizeof(*msg));
	if (c->queue_tail != NULL) {
		c->queue_tail->next = op;
	} else {
		c->queue = op;
	}
	c->queue_tail = op;
	store_next(c);
}

static void
on_send_event_message(struct sg_client *c, json_object *p,
                      struct sc_sio_ack **ack, const char *name,
                      struct sc_valid *v)
{
	struct sg_message_in msg;

	if (!sg_check_message(v, p, "eventId", &msg)) {
		return;
	}
	if (!client_in_event(c, msg.room)) {
		sg_message_in_release(&msg);
		refuse(c, ack, name, "not_participant",
		       "join the event's room first", NULL);
		return;
	}
	enqueue_message(c, ack, name, SG_ROOM_EVENT, &msg);
}

static void
on_send_private_message(struct sg_client *c, json_object *p,
                        struct sc_sio_ack **ack, const char *name,
                        struct sc_valid *v)
{
	struct sg_message_in msg;
	char room[SG_ROOM_LEN];

	if (!sg_check_message(v, p, "matchId", &msg)) {
		return;
	}
	sg_room_name(room, "match", msg.room);
	if (!sc_sio_in_room(c->s, room)) {
		sg_message_in_release(&msg);
		refuse(c, ack, name, "forbidden",
		       "join the match's private room first", NULL);
		return;
	}
	enqueue_message(c, ack, name, SG_ROOM_MATCH, &msg);
}

/* ---- private rooms ------------------------------------------------------ */

static void
join_private_cb(int err, const struct sg_match *m, void *arg)
{
	struct op *op = arg;
	struct sg_client *c = op->c;
	char room[SG_ROOM_LEN];
	json_object *o;
	bool was_in;
	int rc;

	if (err == SC_ENOTFOUND ||
	    (err == SC_OK && sg_match_partner(m, c->user) == 0)) {
		op_refuse(op, "not_found", "no such match");
	} else if (err != SC_OK) {
		op_refuse_bus(op, err, NULL, "matchmaking");
	} else if (m->status != SG_MATCH_ACCEPTED &&
	           m->status != SG_MATCH_COMPLETED) {
		op_refuse(op, "match_not_active",
		          m->status == SG_MATCH_PENDING
		              ? "the match is not accepted yet"
		              : "the match is no longer active");
	} else if (!c->gone) {
		sg_room_name(room, "match", m->id);
		was_in = sc_sio_in_room(c->s, room);
		rc = sc_sio_join(c->s, room);
		if (rc == SC_ETOOBIG) {
			op_refuse(op, "too_many_rooms",
			          "this connection is in too many rooms");
		} else if (rc == SC_OK) {
			if (!was_in) {
				client_match_enter(c, m->id);
			}
			o = ok_body();
			json_object_object_add(o, "matchId",
			                       json_object_new_int64(m->id));
			answer(&op->ack, o);
		}
	}
	op_free(op);
}

static void
on_join_private_room(struct sg_client *c, json_object *p,
                     struct sc_sio_ack **ack, const char *name,
                     struct sc_valid *v)
{
	static const char *const allowed[] = {"matchId", NULL};
	int64_t match = 0;
	struct op *op;

	sg_check_known(v, p, allowed);
	if (!sg_check_id(v, p, "matchId", &match) || !sc_valid_ok(v)) {
		return;
	}
	op = op_new(c, *ack, name);
	*ack = NULL;
	op->id = match;
	sg_access_match(c->sg, match, NULL, join_private_cb, op);
}

static void
on_leave_private_room(struct sg_client *c, json_object *p,
                      struct sc_sio_ack **ack, const char *name,
                      struct sc_valid *v)
{
	static const char *const allowed[] = {"matchId", NULL};
	int64_t match = 0;
	char room[SG_ROOM_LEN];
	json_object *o;
	(void)name;

	sg_check_known(v, p, allowed);
	if (!sg_check_id(v, p, "matchId", &match) || !sc_valid_ok(v)) {
		return;
	}
	sg_room_name(room, "match", match);
	if (sc_sio_in_room(c->s, room)) {
		client_match_exit(c, match);
	}
	sc_sio_leave(c->s, room);
	o = ok_body();
	json_object_object_add(o, "matchId", json_object_new_int64(match));
	answer(ack, o);
}

/* ---- match requests (matchmaking over the bus) -------------------------- */

static void
match_reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct op *op = arg;
	json_object *match, *o;
	struct sg_match m;

	if (err != SC_OK) {
		/* matchmaking's own code (match_exists, self_match, ...) and
		 * details when it refused; else why it could not be asked */
		json_object *e = sc_bus_reply_error_object(op->c->sg->bus);
		json_object *code, *details = NULL;

		if (e != NULL && json_object_object_get_ex(e, "code", &code) &&
		    json_object_is_type(code, json_type_string) &&
		    message != NULL) {
			json_object_object_get_ex(e, "details", &details);
			refuse(op->c, &op->ack, op->event,
			       json_object_get_string(code), message,
			       json_object_is_type(details, json_type_object)
			           ? json_object_get(details)
			           : NULL);
		} else {
			op_refuse_bus(op, err, message, "matchmaking");
		}
	} else if (!json_object_object_get_ex(data, "match", &match) ||
	           sg_match_parse(match, &m) != SC_OK) {
		sc_log_warn(NULL, "matchmaking: a malformed match in a reply");
		op_refuse_bus(op, SC_EBUS, NULL, "matchmaking");
	} else {
		if (!op->c->sg->stopping) {
			sg_access_match_put(op->c->sg, &m);
		}
		o = ok_body();
		json_object_object_add(o, "match", json_object_get(match));
		answer(&op->ack, o);
	}
	op_free(op);
}

static void
on_send_match_request(struct sg_client *c, json_object *p,
                      struct sc_sio_ack **ack, const char *name,
                      struct sc_valid *v)
{
	static const char *const allowed[] = {"targetUserId", "eventId", NULL};
	int64_t target = 0, event = 0;
	json_object *data;
	struct op *op;

	sg_check_known(v, p, allowed);
	sg_check_id(v, p, "targetUserId", &target);
	sg_check_id(v, p, "eventId", &event);
	if (!sc_valid_ok(v)) {
		return;
	}
	op = op_new(c, *ack, name);
	*ack = NULL;
	data = json_object_new_object();
	json_object_object_add(data, "userId", json_object_new_int64(c->user));
	json_object_object_add(data, "targetUserId",
	                       json_object_new_int64(target));
	json_object_object_add(data, "eventId", json_object_new_int64(event));
	sc_bus_call(c->sg->bus, "matchmaking.matches.create", data, NULL,
	            c->sg->bus_timeout_ms, match_reply_cb, op);
}

static void
on_accept_match_request(struct sg_client *c, json_object *p,
                        struct sc_sio_ack **ack, const char *name,
                        struct sc_valid *v)
{
	static const char *const allowed[] = {"matchId", NULL};
	int64_t match = 0;
	json_object *data;
	struct op *op;

	sg_check_known(v, p, allowed);
	if (!sg_check_id(v, p, "matchId", &match) || !sc_valid_ok(v)) {
		return;
	}
	op = op_new(c, *ack, name);
	*ack = NULL;
	data = json_object_new_object();
	json_object_object_add(data, "userId", json_object_new_int64(c->user));
	json_object_object_add(data, "matchId", json_object_new_int64(match));
	json_object_object_add(data, "status",
	                       json_object_new_string("accepted"));
	sc_bus_call(c->sg->bus, "matchmaking.matches.update", data, NULL,
	            c->sg->bus_timeout_ms, match_reply_cb, op);
}

/* ---- WebRTC relay ------------------------------------------------------- */

struct relay {
	int64_t partner;
	const char *name;
	json_object *args;
	int sent;
};

static void
relay_one(struct sc_sio_socket *s, void *arg)
{
	struct relay *r = arg;
	struct sg_client *c = sc_sio_socket_data(s);

	if (c != NULL && !c->gone && c->user == r->partner &&
	    sc_sio_emit(s, r->name, r->args) == SC_OK) {
		r->sent++;
	}
}

static void
signal_cb(int err, const struct sg_match *m, void *arg)
{
	struct op *op = arg;
	struct sg_client *c = op->c;
	int64_t partner = err == SC_OK ? sg_match_partner(m, c->user) : 0;

	if (err == SC_ENOTFOUND || (err == SC_OK && partner == 0)) {
		op_refuse(op, "not_found", "no such match");
	} else if (err != SC_OK) {
		op_refuse_bus(op, err, NULL, "matchmaking");
	} else if (m->status != SG_MATCH_ACCEPTED) {
		op_refuse(op, "match_not_active",
		          "WebRTC signals are only relayed within an accepted "
		          "match");
	} else {
		char room[SG_ROOM_LEN];
		json_object *o = json_object_new_object();
		struct relay r = {partner, op->event, json_object_new_array(),
		                  0};

		json_object_object_add(o, "matchId",
		                       json_object_new_int64(m->id));
		json_object_object_add(o, "fromUserId",
		                       json_object_new_int64(c->user));
		json_object_object_add(o, op->field,
		                       json_object_get(op->value));
		json_object_array_add(r.args, o);
		sg_room_name(room, "match", m->id);
		sc_sio_room_foreach(c->sg->nsp, room, relay_one, &r);
		/* the partner's sockets on other instances */
		if (sg_peers_count(c->sg, SG_ROOM_MATCH, m->id, partner) > 0) {
			sg_peers_emit(c->sg, SG_ROOM_MATCH, m->id, op->event, o,
			              partner);
			r.sent++;
		}
		json_object_put(r.args);
		if (r.sent == 0) {
			op_refuse(op, "partner_offline",
			          "your partner is not in the match's private "
			          "room right now");
		} else {
			answer(&op->ack, ok_body());
		}
	}
	op_free(op);
}

static void
on_signal(struct sg_client *c, json_object *p, struct sc_sio_ack **ack,
          const char *name, struct sc_valid *v, const char *field)
{
	int64_t match = 0;
	json_object *value = NULL;
	struct op *op;

	if (!sg_check_signal(v, p, field, &match, &value)) {
		return;
	}
	op = op_new(c, *ack, name);
	*ack = NULL;
	op->id = match;
	op->field = field;
	op->value = json_object_get(value);
	sg_access_match(c->sg, match, NULL, signal_cb, op);
}

static void
on_webrtc_offer(struct sg_client *c, json_object *p, struct sc_sio_ack **ack,
                const char *name, struct sc_valid *v)
{
	on_signal(c, p, ack, name, v, "offer");
}

static void
on_webrtc_answer(struct sg_client *c, json_object *p, struct sc_sio_ack **ack,
                 const char *name, struct sc_valid *v)
{
	on_signal(c, p, ack, name, v, "answer");
}

static void
on_webrtc_ice_candidate(struct sg_client *c, json_object *p,
                        struct sc_sio_ack **ack, const char *name,
                        struct sc_valid *v)
{
	on_signal(c, p, ack, name, v, "candidate");
}

/* ---- dispatch ----------------------------------------------------------- */

enum limit { LIMIT_EVENT, LIMIT_MESSAGE, LIMIT_SIGNAL };

/* A handler checks the payload into v (the caller answers
 * validation_failed when v has problems), and answers *ack itself or takes
 * it (setting *ack NULL). */
typedef void (*handler_fn)(struct sg_client *c, json_object *p,
                           struct sc_sio_ack **ack, const char *name,
                           struct sc_valid *v);

static const struct handler {
	const char *name;
	handler_fn fn;
	enum limit limit;
} handlers[] = {
    {"join_event_room", on_join_event_room, LIMIT_EVENT},
    {"leave_event_room", on_leave_event_room, LIMIT_EVENT},
    {"send_event_message", on_send_event_message, LIMIT_MESSAGE},
    {"join_private_room", on_join_private_room, LIMIT_EVENT},
    {"leave_private_room", on_leave_private_room, LIMIT_EVENT},
    {"send_private_message", on_send_private_message, LIMIT_MESSAGE},
    {"send_match_request", on_send_match_request, LIMIT_EVENT},
    {"accept_match_request", on_accept_match_request, LIMIT_EVENT},
    {"webrtc_offer", on_webrtc_offer, LIMIT_SIGNAL},
    {"webrtc_answer", on_webrtc_answer, LIMIT_SIGNAL},
    {"webrtc_ice_candidate", on_webrtc_ice_candidate, LIMIT_SIGNAL},
};

static const struct handler *
handler_find(const char *name)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].name, name) == 0) {
			return &handlers[i];
		}
	}
	return NULL;
}

/* Take a token for an event of this kind; false after refusing it. Without
 * an ack, a flood hears of its refusals at most once a second: answering
 * each with an error event would let a client make us write as fast as it
 * writes. */
static bool
within_limits(struct sg_client *c, enum limit limit, const char *name,
              struct sc_sio_ack **ack)
{
	struct signaling *sg = c->sg;
	int64_t now = sc_clock_ms(), retry = 0;
	json_object *d;
	char text[160];
	bool ok;

	if (limit == LIMIT_SIGNAL) {
		ok =
		    sg_bucket_take(&c->signals, &sg->rate_signals, now, &retry);
	} else {
		ok = sg_bucket_take(&c->events, &sg->rate_events, now, &retry);
		if (ok && limit == LIMIT_MESSAGE) {
			ok = sg_bucket_take(&c->messages, &sg->rate_messages,
			                    now, &retry);
		}
	}
	if (ok) {
		return true;
	}
	if (*ack == NULL) {
		if (now - c->limited_notice_ms < 1000 &&
		    c->limited_notice_ms != 0) {
			return false;
		}
		c->limited_notice_ms = now;
	}
	d = json_object_new_object();
	json_object_object_add(d, "retryAfterMs", json_object_new_int64(retry));
	snprintf(text, sizeof(text),
	         "too many events: '%.64s' refused, slow "
	         "down",
	         name);
	refuse(c, ack, name, "rate_limited", text, d);
	return false;
}

/* An event name fit to quote back (a client may send a long one). */
static const char *
quotable(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n < len) {
		return name;
	}
	/* cut at a character boundary (UTF-8), the name being valid UTF-8 */
	n = len - 1;
	while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80) {
		n--;
	}
	memcpy(buf, name, n);
	buf[n] = '\0';
	return buf;
}

static void
on_event(struct sc_sio_socket *s, const char *name, json_object *args,
         struct sc_sio_ack *ack, void *arg)
{
	struct signaling *sg = arg;
	struct sg_client *c = sc_sio_socket_data(s);
	const struct handler *h;
	struct sc_valid v;
	json_object *p;
	char buf[65];

	if (c == NULL || c->gone) {
		if (ack != NULL) {
			sc_sio_ack_free(ack);
		}
		return;
	}
	h = handler_find(name);
	sg_metrics_event(sg, h != NULL ? h->name : NULL);
	name = h != NULL ? h->name : quotable(name, buf, sizeof(buf));
	if (sg->draining) {
		refuse(c, &ack, name, "shutting_down",
		       "the server is restarting: try again in a moment", NULL);
		return;
	}
	if (!within_limits(c, h != NULL ? h->limit : LIMIT_EVENT, name, &ack)) {
		return;
	}
	if (h == NULL) {
		char text[160];

		snprintf(text, sizeof(text), "unknown event '%s'", name);
		refuse(c, &ack, name, "unknown_event", text, NULL);
		return;
	}
	if ((p = sg_payload(args)) == NULL) {
		refuse(c, &ack, name, "validation_failed",
		       "the payload must be an object", NULL);
		return;
	}
	sc_valid_init(&v);
	h->fn(c, p, &ack, name, &v);
	if (!sc_valid_ok(&v)) {
		json_object *details = v.details;

		v.details = NULL;
		refuse(c, &ack, name, "validation_failed", "invalid input",
		       details);
	}
	sc_valid_release(&v);
	if (ack != NULL) {
		/* a handler that answered nothing (its socket is going) */
		sc_sio_ack_free(ack);
	}
}

static void
on_binary_event(struct sc_sio_socket *s, const char *name, json_object *args,
                const struct sc_sio_bin *bins, size_t nbins,
                struct sc_sio_ack *ack, void *arg)
{
	struct sg_client *c = sc_sio_socket_data(s);
	const struct handler *h = handler_find(name);
	char buf[65];
	(void)args;
	(void)bins;
	(void)nbins;
	(void)arg;

	if (c == NULL || c->gone) {
		if (ack != NULL) {
			sc_sio_ack_free(ack);
		}
		return;
	}
	sg_metrics_event(c->sg, h != NULL ? h->name : NULL);
	name = h != NULL ? h->name : quotable(name, buf, sizeof(buf));
	if (!within_limits(c, h != NULL ? h->limit : LIMIT_EVENT, name, &ack)) {
		return;
	}
	refuse(c, &ack, name, "validation_failed",
	       "binary attachments are not accepted", NULL);
}

/* ---- connect and disconnect --------------------------------------------- */

struct connecting {
	struct signaling *sg;
	struct sc_sio_socket *s; /* a reference */
	struct sc_claims claims;
};

/* {id, username, displayName, avatarUrl} from the public profile, or from
 * the token alone when auth could not be asked. Caller owns. */
static json_object *
person_json(const struct sc_claims *cl, json_object *profile)
{
	json_object *o = json_object_new_object(), *v;
	static const char *const keys[] = {"displayName", "avatarUrl"};

	json_object_object_add(o, "id", json_object_new_int64(cl->user_id));
	if (profile != NULL &&
	    json_object_object_get_ex(profile, "username", &v) &&
	    json_object_is_type(v, json_type_string)) {
		json_object_object_add(o, "username", json_object_get(v));
	} else {
		json_object_object_add(o, "username",
		                       json_object_new_string(cl->username));
	}
	for (size_t i = 0; i < 2; i++) {
		v = NULL;
		if (profile != NULL) {
			json_object_object_get_ex(profile, keys[i], &v);
		}
		json_object_object_add(o, keys[i],
		                       json_object_is_type(v, json_type_string)
		                           ? json_object_get(v)
		                           : NULL);
	}
	return o;
}

static void
connect_profile_cb(int err, json_object *found, void *arg)
{
	struct connecting *k = arg;
	struct signaling *sg = k->sg;
	json_object *profile = NULL, *dn;
	struct sg_client *c;
	char key[24], room[SG_ROOM_LEN];
	int64_t now = sc_clock_ms();

	if (err == SC_OK) {
		snprintf(key, sizeof(key), "%" PRId64, k->claims.user_id);
		json_object_object_get_ex(found, key, &profile);
	}
	if (sg->draining) {
		sc_sio_refuse(k->s, "the server is restarting", NULL);
		sc_sio_socket_unref(k->s);
		free(k);
		return;
	}
	c = sc_calloc(1, sizeof(*c));
	c->sg = sg;
	c->s = k->s; /* the reference moves to the client */
	c->refs = 1;
	c->user = k->claims.user_id;
	c->person = person_json(&k->claims, profile);
	snprintf(c->username, sizeof(c->username), "%s",
	         json_object_get_string(
	             json_object_object_get(c->person, "username")));
	dn = json_object_object_get(c->person, "displayName");
	c->display_name =
	    dn != NULL ? sc_strdup(json_object_get_string(dn)) : NULL;
	sg_bucket_init(&c->events, &sg->rate_events, now);
	sg_bucket_init(&c->messages, &sg->rate_messages, now);
	sg_bucket_init(&c->signals, &sg->rate_signals, now);
	free(k);

	if (sc_sio_accept(c->s, c) != SC_OK) {
		/* the client left while its profile was looked up */
		client_unref(c);
		return;
	}
	c->next = sg->clients;
	if (sg->clients != NULL) {
		sg->clients->prev = c;
	}
	sg->clients = c;
	sg->nclients++;
	sg_room_name(room, "user", c->user);
	sc_sio_join(c->s, room);
	sc_log_debug(NULL, "socket '%s' of user %" PRId64 " connected",
	             sc_sio_socket_id(c->s), c->user);
}

static void
on_connect(struct sc_sio_socket *s, json_object *auth, void *arg)
{
	struct signaling *sg = arg;
	struct connecting *k;
	json_object *tok;
	struct sc_claims claims;

	if (sg->draining) {
		sc_sio_refuse(s, "the server is restarting", NULL);
		return;
	}
	if (!json_object_object_get_ex(auth, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string) ||
	    sc_token_verify(sg->verifier, json_object_get_string(tok),
	                    time(NULL), &claims) != SC_OK) {
		sc_log_debug(NULL, "socket from '%s' refused: no valid token",
		             sc_sio_socket_peer(s));
		sc_sio_refuse(s, "invalid or expired token", NULL);
		return;
	}
	k = sc_calloc(1, sizeof(*k));
	k->sg = sg;
	k->s = s;
	k->claims = claims;
	sc_sio_socket_ref(s);
	/* The profile (display name, avatar) for presence lists and stored
	 * messages; usually cached. */
	sc_profiles_get(sg->profiles, &claims.user_id, 1, NULL,
	                connect_profile_cb, k);
}

static void
client_unlist(struct sg_client *c)
{
	struct signaling *sg = c->sg;

	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		sg->clients = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	c->prev = c->next = NULL;
	sg->nclients--;
}

static void
on_disconnect(struct sc_sio_socket *s, const char *reason, void *arg)
{
	struct sg_client *c = sc_sio_socket_data(s);
	(void)arg;

	if (c == NULL || c->gone) {
		return;
	}
	sc_log_debug(NULL, "socket '%s' of user %" PRId64 " gone: %s",
	             sc_sio_socket_id(s), c->user, reason);
	/* Still in its rooms: the others hear it left. */
	while (c->nrooms > 0) {
		event_room_exit(c, c->rooms[c->nrooms - 1]);
	}
	while (c->nmatches > 0) {
		client_match_exit(c, c->matches[c->nmatches - 1]);
	}
	c->gone = true;
	client_unlist(c);
	client_unref(c);
}

void
sg_sockets_init(struct signaling *sg)
{
	static const struct sc_sio_nsp_cbs cbs = {
	    .on_connect = on_connect,
	    .on_event = on_event,
	    .on_binary_event = on_binary_event,
	    .on_disconnect = on_disconnect,
	};

	sg->nsp = sc_sio_nsp_new(sg->io, "/", &cbs, sg);
}

void
sg_sockets_release(struct signaling *sg)
{
	while (sg->clients != NULL) {
		struct sg_client *c = sg->clients;

		c->gone = true;
		client_unlist(c);
		client_unref(c);
	}
}

/* ---- eviction (event.left) ----------------------------------------------- */

struct evict {
	int64_t event;
	struct sg_client **list;
	size_t n, cap;
};

static void
evict_collect(struct sc_sio_socket *s, void *arg)
{
	struct evict *e = arg;
	struct sg_client *c = sc_sio_socket_data(s);

	if (c != NULL && !c->gone && client_in_event(c, e->event)) {
		if (e->n == e->cap) {
			e->cap = e->cap > 0 ? e->cap * 2 : 4;
			e->list =
			    sc_realloc(e->list, e->cap * sizeof(*e->list));
		}
		e->list[e->n++] = c;
	}
}

void
sg_sockets_evict(struct signaling *sg, int64_t event, int64_t user)
{
	struct evict e = {event, NULL, 0, 0};
	char room[SG_ROOM_LEN];

	sg_room_name(room, "user", user);
	sc_sio_room_foreach(sg->nsp, room, evict_collect, &e);
	for (size_t i = 0; i < e.n; i++) {
		event_room_exit(e.list[i], event);
	}
	free(e.list);
}

/* ---- from the other instances (peers.c) --------------------------------- */

void
sg_sockets_deliver(struct signaling *sg, enum sg_room_kind kind, int64_t room,
                   const char *event, json_object *data, int64_t to_user)
{
	char name[SG_ROOM_LEN];
	json_object *args;

	if (sg->nsp == NULL || sg->stopping) {
		return;
	}
	sg_room_name(name, kind == SG_ROOM_EVENT ? "event" : "match", room);
	args = json_object_new_array();
	json_object_array_add(args, json_object_get(data));
	if (to_user > 0) {
		struct relay r = {to_user, event, args, 0};

		sc_sio_room_foreach(sg->nsp, name, relay_one, &r);
	} else {
		sc_sio_to_room(sg->nsp, name, NULL, event, args);
	}
	json_object_put(args);
}

void
sg_sockets_remote_presence(struct signaling *sg, int64_t event, int64_t user,
                           json_object *person, bool present)
{
	char room[SG_ROOM_LEN];
	json_object *o;

	if (sg->nsp == NULL ||
	    sg_presence_sockets(sg->presence, event, user) > 0) {
		return;
	}
	sg_room_name(room, "event", event);
	o = json_object_new_object();
	json_object_object_add(o, "eventId", json_object_new_int64(event));
	if (present) {
		json_object *who = person;

		if (who == NULL) {
			who = json_object_new_object();
			json_object_object_add(who, "id",
			                       json_object_new_int64(user));
			json_object_object_add(who, "username", NULL);
			json_object_object_add(who, "displayName", NULL);
			json_object_object_add(who, "avatarUrl", NULL);
		} else {
			json_object_get(who);
		}
		json_object_object_add(o, "user", who);
		room_emit1(sg, room, NULL, "user_joined", o);
	} else {
		json_object_object_add(o, "userId",
		                       json_object_new_int64(user));
		room_emit1(sg, room, NULL, "user_left", o);
	}
}
