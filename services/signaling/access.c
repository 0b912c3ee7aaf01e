/* access.c: who may enter which room. Events answers "is U a participant
 * of E?" and matchmaking "who are the members of M and what is its
 * status?" over the bus; both answers are cached briefly, because a chat
 * asks them on every join and every WebRTC signal. A yes for a participant
 * is forgotten on event.left; a match is updated by every match.* topic. A
 * no is never cached (the user may join the event a second later), nor is a
 * pending match trusted (it may have been accepted a moment ago). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "signaling.h"

#define SWEEP_S 30

static const char *const status_names[] = {
    [SG_MATCH_PENDING] = "pending",     [SG_MATCH_ACCEPTED] = "accepted",
    [SG_MATCH_REJECTED] = "rejected",   [SG_MATCH_CANCELLED] = "cancelled",
    [SG_MATCH_COMPLETED] = "completed",
};

static bool
get_id(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0) {
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

int
sg_match_parse(json_object *o, struct sg_match *out)
{
	json_object *st;
	const char *s;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(o, json_type_object) ||
	    !get_id(o, "id", &out->id) ||
	    !get_id(o, "eventId", &out->event_id) ||
	    !get_id(o, "requesterId", &out->requester) ||
	    !get_id(o, "targetId", &out->target) ||
	    !json_object_object_get_ex(o, "status", &st) ||
	    !json_object_is_type(st, json_type_string)) {
		return SC_EBUS;
	}
	s = json_object_get_string(st);
	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(s, status_names[i]) == 0) {
			out->status = (enum sg_match_status)i;
			return SC_OK;
		}
	}
	return SC_EBUS;
}

int64_t
sg_match_partner(const struct sg_match *m, int64_t user)
{
	if (user == m->requester) {
		return m->target;
	}
	if (user == m->target) {
		return m->requester;
	}
	return 0;
}

const char *
sg_bus_err_code(int err)
{
	switch (err) {
	case SC_EUNAVAIL:
	case SC_ETIMEDOUT:
	case SC_EBUS:
		return "service_unavailable";
	default:
		return sc_err_code(err);
	}
}

/* ---- participants ----------------------------------------------------- */

struct part_entry {
	time_t expires;
};

struct part_call {
	struct signaling *sg;
	int64_t event, user;
	sg_participant_cb cb;
	void *arg;
};

static void
part_reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct part_call *c = arg;
	struct signaling *sg = c->sg;
	json_object *list;
	bool yes = false;

	if (err == SC_OK) {
		if (!json_object_object_get_ex(data, "participants", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			sc_log_warn(NULL, "events.participants.check: a reply "
			                  "without participants");
			err = SC_EBUS;
		} else {
			size_t n = json_object_array_length(list);

			for (size_t i = 0; i < n && !yes; i++) {
				yes = json_object_get_int64(
				          json_object_array_get_idx(list, i)) ==
				      c->user;
			}
		}
	} else if (err != SC_ENOTFOUND) {
		sc_log_debug(NULL, "events.participants.check failed: %s",
		             message != NULL ? message : sc_err_str(err));
	}
	if (err == SC_OK && yes && !sg->stopping) {
		struct part_entry *e = sg_idmap_get(
		    &sg->participants, (uint64_t)c->event, (uint64_t)c->user);

		if (e == NULL) {
			e = sc_malloc(sizeof(*e));
			sg_idmap_put(&sg->participants, (uint64_t)c->event,
			             (uint64_t)c->user, e);
		}
		e->expires = time(NULL) + sg->participant_ttl_s;
	}
	c->cb(err, yes, c->arg);
	free(c);
}

void
sg_access_participant(struct signaling *sg, int64_t event, int64_t user,
                      const char *request_id, sg_participant_cb cb, void *arg)
{
	struct part_entry *e =
	    sg_idmap_get(&sg->participants, (uint64_t)event, (uint64_t)user);
	struct part_call *c;
	json_object *data, *ids;

	if (e != NULL && e->expires > time(NULL)) {
		cb(SC_OK, true, arg);
		return;
	}
	if (sg->bus == NULL || sg->stopping) {
		cb(SC_EUNAVAIL, false, arg);
		return;
	}
	c = sc_calloc(1, sizeof(*c));
	*c = (struct part_call){sg, event, user, cb, arg};
	data = json_object_new_object();
	ids = json_object_new_array();
	json_object_array_add(ids, json_object_new_int64(user));
	json_object_object_add(data, "eventId", json_object_new_int64(event));
	json_object_object_add(data, "userIds", ids);
	sc_bus_call(sg->bus, "events.participants.check", data, request_id,
	            sg->bus_timeout_ms, part_reply_cb, c);
}

void
sg_access_participant_forget(struct signaling *sg, int64_t event, int64_t user)
{
	free(sg_idmap_del(&sg->participants, (uint64_t)event, (uint64_t)user));
}

/* ---- matches ------------------------------------------------------------ */

struct match_call {
	struct signaling *sg;
	sg_match_cb cb;
	void *arg;
};

/* How far along the state machine a status is: it only moves forward
 * (pending -> accepted -> completed | cancelled, or pending -> a final
 * state), so an answer read before a topic that overtook it is not let
 * back over it. */
static int
status_rank(enum sg_match_status s)
{
	switch (s) {
	case SG_MATCH_PENDING:
		return 0;
	case SG_MATCH_ACCEPTED:
		return 1;
	default:
		return 2;
	}
}

void
sg_access_match_put(struct signaling *sg, const struct sg_match *m)
{
	struct sg_match *e = sg_idmap_get(&sg->matches, (uint64_t)m->id, 0);

	if (e == NULL) {
		e = sc_malloc(sizeof(*e));
		sg_idmap_put(&sg->matches, (uint64_t)m->id, 0, e);
	} else if (status_rank(m->status) < status_rank(e->status) &&
	           e->expires > time(NULL)) {
		return;
	}
	*e = *m;
	e->expires = time(NULL) + sg->match_ttl_s;
}

static void
match_reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct match_call *c = arg;
	struct sg_match m;
	json_object *o;

	if (err == SC_OK) {
		if (!json_object_object_get_ex(data, "match", &o) ||
		    sg_match_parse(o, &m) != SC_OK) {
			sc_log_warn(NULL, "matchmaking.matches.get: a "
			                  "malformed reply");
			err = SC_EBUS;
		} else if (!c->sg->stopping) {
			sg_access_match_put(c->sg, &m);
		}
	} else if (err != SC_ENOTFOUND) {
		sc_log_debug(NULL, "matchmaking.matches.get failed: %s",
		             message != NULL ? message : sc_err_str(err));
	}
	c->cb(err, err == SC_OK ? &m : NULL, c->arg);
	free(c);
}

void
sg_access_match(struct signaling *sg, int64_t match, const char *request_id,
                sg_match_cb cb, void *arg)
{
	struct sg_match *e = sg_idmap_get(&sg->matches, (uint64_t)match, 0);
	struct match_call *c;
	json_object *data;

	/* A pending match may have been accepted a moment ago (its topic
	 * still on the way): only the other states are answered from the
	 * cache. */
	if (e != NULL && e->expires > time(NULL) &&
	    e->status != SG_MATCH_PENDING) {
		struct sg_match copy = *e;
		cb(SC_OK, &copy, arg);
		return;
	}
	if (sg->bus == NULL || sg->stopping) {
		cb(SC_EUNAVAIL, NULL, arg);
		return;
	}
	c = sc_calloc(1, sizeof(*c));
	*c = (struct match_call){sg, cb, arg};
	data = json_object_new_object();
	json_object_object_add(data, "matchId", json_object_new_int64(match));
	sc_bus_call(sg->bus, "matchmaking.matches.get", data, request_id,
	            sg->bus_timeout_ms, match_reply_cb, c);
}

/* ---- upkeep ------------------------------------------------------------- */

/* Drop the expired entries of a cache; `expiry` reads an entry's time. */
static void
sweep_map(struct sg_idmap *m, time_t now, time_t (*expiry)(void *))
{
	size_t pos = 0, n = 0, cap = 0;
	uint64_t a, b, (*dead)[2] = NULL;
	void *val;

	while (sg_idmap_next(m, &pos, &a, &b, &val)) {
		if (expiry(val) <= now) {
			if (n == cap) {
				cap = cap > 0 ? cap * 2 : 64;
				dead = sc_realloc(dead, cap * sizeof(*dead));
			}
			dead[n][0] = a;
			dead[n][1] = b;
			n++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(sg_idmap_del(m, dead[i][0], dead[i][1]));
	}
	free(dead);
}

static time_t
part_expiry(void *v)
{
	return ((struct part_entry *)v)->expires;
}

static time_t
match_expiry(void *v)
{
	return ((struct sg_match *)v)->expires;
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct signaling *sg = arg;
	time_t now = time(NULL);
	(void)fd;
	(void)what;

	sweep_map(&sg->participants, now, part_expiry);
	sweep_map(&sg->matches, now, match_expiry);
}

void
sg_access_init(struct signaling *sg)
{
	struct timeval every = {SWEEP_S, 0};

	sg_idmap_init(&sg->participants);
	sg_idmap_init(&sg->matches);
	sg->sweep = event_new(sg->base, -1, EV_PERSIST, sweep_cb, sg);
	if (sg->sweep != NULL) {
		event_add(sg->sweep, &every);
	}
}

static void
free_all(struct sg_idmap *m)
{
	size_t pos = 0;
	uint64_t a, b;
	void *val;

	while (sg_idmap_next(m, &pos, &a, &b, &val)) {
		free(val);
	}
	sg_idmap_release(m);
}

void
sg_access_release(struct signaling *sg)
{
	if (sg->sweep != NULL) {
		event_free(sg->sweep);
		sg->sweep = NULL;
	}
	free_all(&sg->participants);
	free_all(&sg->matches);
}

void
sg_room_name(char out[SG_ROOM_LEN], const char *kind, int64_t id)
{
	snprintf(out, SG_ROOM_LEN, "%s:%lld", kind, (long long)id);
}
