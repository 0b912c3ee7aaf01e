/* notify.c: facts from the bus turned into what sockets see. match.* keeps
 * the match cache right (a cancel closes the private chat at once) and
 * tells the members: match_request_received to the target, match_accepted
 * to the requester, match_updated to both. event.left forgets the
 * participant and takes the user's sockets out of the event's room.
 * Delivery is best effort (proto/README.md): a client that missed one
 * re-reads its matches over REST. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "signaling.h"

/* Emit event `name` with one argument (owned) to every socket of user. */
static void
to_user(struct signaling *sg, int64_t user, const char *name, json_object *o)
{
	char room[SG_ROOM_LEN];
	json_object *args = json_object_new_array();

	json_object_array_add(args, o);
	sg_room_name(room, "user", user);
	sc_sio_to_room(sg->nsp, room, NULL, name, args);
	json_object_put(args);
}

/* A live notice that needs another user's public profile. */
struct notice {
	struct signaling *sg;
	const char *name; /* match_request_received or match_accepted */
	const char *key;  /* fromUser or partner */
	int64_t to, about, match;
};

static void
notice_profile_cb(int err, json_object *found, void *arg)
{
	struct notice *n = arg;
	json_object *profile = NULL, *o;
	char id[24];

	if (!n->sg->stopping && n->sg->nsp != NULL) {
		if (err == SC_OK) {
			snprintf(id, sizeof(id), "%" PRId64, n->about);
			json_object_object_get_ex(found, id, &profile);
		}
		if (profile != NULL) {
			profile = json_object_get(profile);
		} else {
			/* auth cannot be asked: the id at least */
			profile = json_object_new_object();
			json_object_object_add(profile, "id",
			                       json_object_new_int64(n->about));
		}
		o = json_object_new_object();
		json_object_object_add(o, "matchId",
		                       json_object_new_int64(n->match));
		json_object_object_add(o, n->key, profile);
		to_user(n->sg, n->to, n->name, o);
	}
	free(n);
}

static void
notice(struct signaling *sg, const char *name, const char *key, int64_t to,
       int64_t about, int64_t match, const char *request_id)
{
	struct notice *n = sc_calloc(1, sizeof(*n));

	*n = (struct notice){sg, name, key, to, about, match};
	sc_profiles_get(sg->profiles, &about, 1, request_id, notice_profile_cb,
	                n);
}

static void
match_topic_cb(const char *topic, json_object *data, const char *request_id,
               void *arg)
{
	struct signaling *sg = arg;
	json_object *match, *by, *o;
	struct sg_match m;

	if (!json_object_object_get_ex(data, "match", &match) ||
	    sg_match_parse(match, &m) != SC_OK) {
		sc_log_warn(request_id, "'%s' without a valid match: ignored",
		            topic);
		return;
	}
	sg_access_match_put(sg, &m);

	for (int i = 0; i < 2; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "match", json_object_get(match));
		if (json_object_object_get_ex(data, "byUserId", &by)) {
			json_object_object_add(o, "byUserId",
			                       json_object_get(by));
		}
		to_user(sg, i == 0 ? m.requester : m.target, "match_updated",
		        o);
	}
	if (strcmp(topic, "match.requested") == 0) {
		notice(sg, "match_request_received", "fromUser", m.target,
		       m.requester, m.id, request_id);
	} else if (strcmp(topic, "match.accepted") == 0) {
		notice(sg, "match_accepted", "partner", m.requester, m.target,
		       m.id, request_id);
	}
}

static void
event_left_cb(const char *topic, json_object *data, const char *request_id,
              void *arg)
{
	struct signaling *sg = arg;
	json_object *e, *u;
	int64_t event, user;
	(void)topic;

	if (!json_object_object_get_ex(data, "eventId", &e) ||
	    !json_object_object_get_ex(data, "userId", &u) ||
	    !json_object_is_type(e, json_type_int) ||
	    !json_object_is_type(u, json_type_int)) {
		sc_log_warn(request_id, "event.left without ids: ignored");
		return;
	}
	event = json_object_get_int64(e);
	user = json_object_get_int64(u);
	sg_access_participant_forget(sg, event, user);
	sg_sockets_evict(sg, event, user);
}

void
sg_notify_subscribe(struct signaling *sg)
{
	/* Best effort, like the topics: a subscription that cannot be made
	 * now is logged by the bus; the caches' ttl bounds what is missed. */
	sc_bus_subscribe(sg->bus, "matchmaking", "match.", match_topic_cb, sg);
	sc_bus_subscribe(sg->bus, "events", "event.left", event_left_cb, sg);
}
