/* peers.c: several signaling instances behaving as one, over the bus
 * (proto/signaling.md, "Between signaling instances"). Each instance
 * publishes on its own PUB socket and subscribes to every peer's
 * (SC_SIGNALING_PEERS): what a room must hear goes to the peers
 * (signaling.room.emit), and who is in which room travels as deltas, with
 * heartbeats that reveal a missed delta and snapshots on request that
 * repair it; an instance that falls silent is forgotten (cluster.c keeps
 * the merged view). Without peers none of this exists (sg->peers NULL). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "alloc.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "signaling.h"

#define TOPIC_PREFIX  "signaling."
#define T_EMIT        "signaling.room.emit"
#define T_DELTA       "signaling.presence.delta"
#define T_HEARTBEAT   "signaling.presence.heartbeat"
#define T_SYNC        "signaling.presence.sync"
#define T_SNAPSHOT    "signaling.presence.snapshot"
#define T_BYE         "signaling.presence.bye"
#define SNAP_PART     200  /* entries per snapshot message (< 1 MiB) */
#define SNAP_MAX_PART 2000 /* entries accepted in one received part */
#define SNAP_GAP_MS   200  /* snapshots asked for at most this often */
#define WARN_EVERY_MS 60000
#define MISSED_BEATS  3   /* heartbeats missed before an instance is gone */
#define FAST_BEATS    10  /* after the start, heartbeats every FAST_MS: */
#define FAST_MS       200 /* peers redialing us learn of us at once */
#define HELLO_GAP_MS  100 /* a heartbeat for a newcomer, at most this often */

struct sg_peers {
	struct signaling *sg;
	char id[SG_INSTANCE_MAX + 1];
	char boot[SG_BOOT_MAX + 1];
	int64_t seq; /* deltas published */
	long heartbeat_ms;
	bool closed; /* said goodbye: publish nothing more */
	struct sg_cluster *cluster;
	struct sg_presence *matches; /* our sockets in private rooms */
	struct event *tick;          /* heartbeat and expiry */
	int fast;                    /* fast heartbeats left */
	int64_t beat_ms;             /* the last heartbeat */
	struct event *snap;          /* a snapshot asked for */
	bool snap_due;
	int64_t snap_last_ms;
	int64_t warned_ms;
};

/* Event names a peer may ask us to deliver (what sockets.c broadcasts). */
static const char *const deliverable[] = {
    "event_message", "private_message",      "webrtc_offer",
    "webrtc_answer", "webrtc_ice_candidate",
};

static const char *
kind_name(enum sg_room_kind kind)
{
	return kind == SG_ROOM_MATCH ? "match" : "event";
}

static int64_t
ttl_for(long interval_ms)
{
	return (int64_t)interval_ms * MISSED_BEATS + interval_ms / 2;
}

/* ---- publishing ---------------------------------------------------------- */

/* {"instance", "boot"} to add a payload's fields to. Caller owns. */
static json_object *
payload(const struct sg_peers *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "instance", json_object_new_string(p->id));
	json_object_object_add(o, "boot", json_object_new_string(p->boot));
	return o;
}

/* Publish data (owned) on topic, unless closed. */
static void
pub(struct sg_peers *p, const char *topic, json_object *data)
{
	if (p->closed || p->sg->bus == NULL) {
		json_object_put(data);
		return;
	}
	sc_bus_publish(p->sg->bus, topic, data, NULL);
}

static void
heartbeat(struct sg_peers *p)
{
	json_object *o = payload(p);

	p->beat_ms = sc_clock_ms();
	json_object_object_add(o, "seq", json_object_new_int64(p->seq));
	json_object_object_add(o, "intervalMs",
	                       json_object_new_int64(p->heartbeat_ms));
	pub(p, T_HEARTBEAT, o);
}

void
sg_peers_local(struct signaling *sg, enum sg_room_kind kind, int64_t room,
               int64_t user, json_object *person, bool present)
{
	struct sg_peers *p = sg->peers;
	json_object *o;

	if (p == NULL || p->closed) {
		return;
	}
	o = payload(p);
	json_object_object_add(o, "seq", json_object_new_int64(++p->seq));
	json_object_object_add(o, "kind",
	                       json_object_new_string(kind_name(kind)));
	json_object_object_add(o, "roomId", json_object_new_int64(room));
	json_object_object_add(o, "userId", json_object_new_int64(user));
	json_object_object_add(o, "present", json_object_new_boolean(present));
	if (present && person != NULL) {
		json_object_object_add(o, "person", json_object_get(person));
	}
	pub(p, T_DELTA, o);
}

void
sg_peers_match_enter(struct signaling *sg, int64_t match, int64_t user)
{
	if (sg->peers != NULL &&
	    sg_presence_add(sg->peers->matches, match, user, NULL) == 1) {
		sg_peers_local(sg, SG_ROOM_MATCH, match, user, NULL, true);
	}
}

void
sg_peers_match_exit(struct signaling *sg, int64_t match, int64_t user)
{
	if (sg->peers != NULL &&
	    sg_presence_remove(sg->peers->matches, match, user) == 0) {
		sg_peers_local(sg, SG_ROOM_MATCH, match, user, NULL, false);
	}
}

void
sg_peers_emit(struct signaling *sg, enum sg_room_kind kind, int64_t room,
              const char *event, json_object *data, int64_t to_user)
{
	struct sg_peers *p = sg->peers;
	json_object *o;

	if (p == NULL || p->closed) {
		return;
	}
	o = payload(p);
	json_object_object_add(o, "kind",
	                       json_object_new_string(kind_name(kind)));
	json_object_object_add(o, "roomId", json_object_new_int64(room));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "data", json_object_get(data));
	if (to_user > 0) {
		json_object_object_add(o, "toUserId",
		                       json_object_new_int64(to_user));
	}
	pub(p, T_EMIT, o);
}

/* ---- snapshots ----------------------------------------------------------- */

struct snap {
	struct sg_peers *p;
	enum sg_room_kind kind;
	json_object **parts; /* arrays of entries */
	size_t nparts;
};

static void
snap_entry(int64_t room, int64_t user, int sockets, json_object *profile,
           void *arg)
{
	struct snap *s = arg;
	json_object *e = json_object_new_object(), *part;
	(void)sockets;

	if (s->nparts == 0 ||
	    json_object_array_length(s->parts[s->nparts - 1]) == SNAP_PART) {
		s->parts =
		    sc_realloc(s->parts, (s->nparts + 1) * sizeof(*s->parts));
		s->parts[s->nparts++] = json_object_new_array_ext(SNAP_PART);
	}
	part = s->parts[s->nparts - 1];
	json_object_object_add(e, "kind",
	                       json_object_new_string(kind_name(s->kind)));
	json_object_object_add(e, "roomId", json_object_new_int64(room));
	json_object_object_add(e, "userId", json_object_new_int64(user));
	if (profile != NULL) {
		json_object_object_add(e, "person", json_object_get(profile));
	}
	json_object_array_add(part, e);
}

/* Everyone with a socket here, in parts, all in this loop turn (so no
 * delta comes between two parts, and a part lost on the way shows as a
 * gap in part numbers). */
static void
snapshot_publish(struct sg_peers *p)
{
	struct snap s = {p, SG_ROOM_EVENT, NULL, 0};

	sg_presence_each(p->sg->presence, snap_entry, &s);
	s.kind = SG_ROOM_MATCH;
	sg_presence_each(p->matches, snap_entry, &s);
	if (s.nparts == 0) {
		s.parts = sc_malloc(sizeof(*s.parts));
		s.parts[s.nparts++] = json_object_new_array();
	}
	for (size_t i = 0; i < s.nparts; i++) {
		json_object *o = payload(p);

		json_object_object_add(o, "seq", json_object_new_int64(p->seq));
		json_object_object_add(o, "part",
		                       json_object_new_int64((int64_t)i));
		json_object_object_add(
		    o, "parts", json_object_new_int64((int64_t)s.nparts));
		json_object_object_add(o, "entries", s.parts[i]);
		pub(p, T_SNAPSHOT, o);
	}
	free(s.parts);
}

static void
snap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sg_peers *p = arg;
	(void)fd;
	(void)what;

	p->snap_due = false;
	p->snap_last_ms = sc_clock_ms();
	snapshot_publish(p);
}

/* A peer asked for our snapshot: publish it soon, once for all who ask
 * meanwhile. */
static void
snapshot_soon(struct sg_peers *p)
{
	int64_t wait = p->snap_last_ms + SNAP_GAP_MS - sc_clock_ms();
	struct timeval tv = {0, 0};

	if (p->snap_due || p->closed) {
		return;
	}
	if (wait > 0) {
		tv.tv_sec = (time_t)(wait / 1000);
		tv.tv_usec = (suseconds_t)((wait % 1000) * 1000);
	}
	p->snap_due = true;
	evtimer_add(p->snap, &tv);
}

/* ---- receiving ----------------------------------------------------------- */

static const char *
get_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	               json_object_is_type(v, json_type_string)
	           ? json_object_get_string(v)
	           : NULL;
}

static bool
get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		return false;
	}
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		return false;
	}
	*out = n;
	return true;
}

static bool
get_kind(json_object *o, enum sg_room_kind *kind)
{
	const char *k = get_str(o, "kind");

	if (k != NULL && strcmp(k, "event") == 0) {
		*kind = SG_ROOM_EVENT;
	} else if (k != NULL && strcmp(k, "match") == 0) {
		*kind = SG_ROOM_MATCH;
	} else {
		return false;
	}
	return true;
}

/* The person of a delta or snapshot entry: an object, else none. */
static json_object *
get_person(json_object *o)
{
	json_object *v;

	return json_object_object_get_ex(o, "person", &v) &&
	               json_object_is_type(v, json_type_object)
	           ? v
	           : NULL;
}

static void
on_emit(struct sg_peers *p, json_object *d)
{
	enum sg_room_kind kind;
	int64_t room, to = 0;
	const char *event = get_str(d, "event");
	json_object *data;
	bool known = false;

	for (size_t i = 0;
	     event != NULL && i < sizeof(deliverable) / sizeof(deliverable[0]);
	     i++) {
		known = known || strcmp(event, deliverable[i]) == 0;
	}
	if (!known || !get_kind(d, &kind) ||
	    !get_int(d, "roomId", 1, SG_ID_MAX, &room) ||
	    !json_object_object_get_ex(d, "data", &data) ||
	    !json_object_is_type(data, json_type_object) ||
	    (json_object_object_get_ex(d, "toUserId", NULL) &&
	     !get_int(d, "toUserId", 1, SG_ID_MAX, &to))) {
		sc_log_debug(NULL, "'%s' from a peer is malformed: ignored",
		             T_EMIT);
		return;
	}
	sg_sockets_deliver(p->sg, kind, room, event, data, to);
}

static void
on_delta(struct sg_peers *p, const char *from, json_object *d)
{
	enum sg_room_kind kind;
	int64_t seq, room, user;
	json_object *present;

	if (!get_int(d, "seq", 0, INT64_MAX, &seq) || !get_kind(d, &kind) ||
	    !get_int(d, "roomId", 1, SG_ID_MAX, &room) ||
	    !get_int(d, "userId", 1, SG_ID_MAX, &user) ||
	    !json_object_object_get_ex(d, "present", &present) ||
	    !json_object_is_type(present, json_type_boolean)) {
		sc_log_debug(NULL, "'%s' from '%s' is malformed: ignored",
		             T_DELTA, from);
		return;
	}
	sg_cluster_delta(p->cluster, from, seq, kind, room, user, get_person(d),
	                 json_object_get_boolean(present));
}

static void
on_heartbeat(struct sg_peers *p, const char *from, json_object *d)
{
	int64_t seq;
	json_object *o;

	if (!get_int(d, "seq", 0, INT64_MAX, &seq)) {
		return;
	}
	if (sg_cluster_heartbeat(p->cluster, from, seq)) {
		/* never synced, or a delta was lost: ask for a snapshot */
		o = payload(p);
		json_object_object_add(o, "of", json_object_new_string(from));
		pub(p, T_SYNC, o);
	}
}

static void
on_snapshot(struct sg_peers *p, const char *from, json_object *d)
{
	int64_t seq, part, parts;
	json_object *entries;
	struct sg_cluster_entry *e;
	size_t n, k = 0;

	if (!get_int(d, "seq", 0, INT64_MAX, &seq) ||
	    !get_int(d, "parts", 1, INT32_MAX, &parts) ||
	    !get_int(d, "part", 0, parts - 1, &part) ||
	    !json_object_object_get_ex(d, "entries", &entries) ||
	    !json_object_is_type(entries, json_type_array) ||
	    (n = json_object_array_length(entries)) > SNAP_MAX_PART) {
		sc_log_debug(NULL, "'%s' from '%s' is malformed: ignored",
		             T_SNAPSHOT, from);
		return;
	}
	e = sc_calloc(n > 0 ? n : 1, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(entries, i);

		if (json_object_is_type(x, json_type_object) &&
		    get_kind(x, &e[k].kind) &&
		    get_int(x, "roomId", 1, SG_ID_MAX, &e[k].room) &&
		    get_int(x, "userId", 1, SG_ID_MAX, &e[k].user)) {
			e[k].person = get_person(x);
			k++;
		}
	}
	if (sg_cluster_snapshot(p->cluster, from, seq, (int)part, (int)parts, e,
	                        k) == SC_OK &&
	    part == parts - 1) {
		sc_log_debug(NULL, "presence of '%s' synced at %" PRId64, from,
		             seq);
	}
	free(e);
}

static void
topic_cb(const char *topic, json_object *data, const char *request_id,
         void *arg)
{
	struct sg_peers *p = arg;
	const char *from = get_str(data, "instance");
	const char *boot = get_str(data, "boot");
	int64_t interval, t = sc_clock_ms();
	bool fresh;
	int rc;
	(void)request_id;

	if (from == NULL || boot == NULL || p->closed) {
		return;
	}
	if (strcmp(from, p->id) == 0) {
		/* our own (the list may name our address), or a twin */
		if (strcmp(boot, p->boot) != 0 &&
		    t - p->warned_ms > WARN_EVERY_MS) {
			p->warned_ms = t;
			sc_log_warn(NULL,
			            "another signaling instance uses the id "
			            "'%s': set SC_SIGNALING_INSTANCE apart",
			            p->id);
		}
		return;
	}
	if (!get_int(data, "intervalMs", 1, 3600000, &interval)) {
		interval = p->heartbeat_ms;
	}
	rc = sg_cluster_seen(p->cluster, from, boot, t, ttl_for((long)interval),
	                     &fresh);
	if (rc != SC_OK) {
		if (t - p->warned_ms > WARN_EVERY_MS) {
			p->warned_ms = t;
			sc_log_warn(NULL,
			            "ignoring signaling instance '%.64s': %s",
			            from,
			            rc == SC_ETOOBIG ? "too many instances"
			                             : "bad id or boot");
		}
		return;
	}
	if (fresh && t - p->beat_ms >= HELLO_GAP_MS) {
		/* a new (or restarted) instance: tell it we are here now, so
		 * it asks for our snapshot without waiting for our next beat */
		heartbeat(p);
	}
	if (strcmp(topic, T_EMIT) == 0) {
		on_emit(p, data);
	} else if (strcmp(topic, T_DELTA) == 0) {
		on_delta(p, from, data);
	} else if (strcmp(topic, T_HEARTBEAT) == 0) {
		on_heartbeat(p, from, data);
	} else if (strcmp(topic, T_SYNC) == 0) {
		const char *of = get_str(data, "of");

		if (of != NULL && strcmp(of, p->id) == 0) {
			snapshot_soon(p);
		}
	} else if (strcmp(topic, T_SNAPSHOT) == 0) {
		on_snapshot(p, from, data);
	} else if (strcmp(topic, T_BYE) == 0) {
		sc_log_info(NULL, "signaling instance '%s' said goodbye", from);
		sg_cluster_forget(p->cluster, from);
	}
	/* other topics: a newer instance's; ignored (proto/README.md) */
}

/* The merged view changed: the local sockets of an event room hear of it
 * (match rooms have no such notice). */
static void
cluster_cb(enum sg_room_kind kind, int64_t room, int64_t user,
           json_object *person, bool present, void *arg)
{
	struct signaling *sg = arg;

	if (kind == SG_ROOM_EVENT && !sg->stopping) {
		sg_sockets_remote_presence(sg, room, user, person, present);
	}
}

/* Re-arm the heartbeat: fast for a moment after the start, then every
 * heartbeat_ms. */
static void
tick_arm(struct sg_peers *p)
{
	long ms = p->fast > 0 && FAST_MS < p->heartbeat_ms ? FAST_MS
	                                                   : p->heartbeat_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (p->fast > 0) {
		p->fast--;
	}
	evtimer_add(p->tick, &tv);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sg_peers *p = arg;
	size_t gone;
	(void)fd;
	(void)what;

	if (p->closed) {
		return;
	}
	tick_arm(p);
	heartbeat(p);
	if ((gone = sg_cluster_expire(p->cluster, sc_clock_ms())) > 0) {
		sc_log_warn(
		    NULL,
		    "%zu signaling instance(s) silent for %d heartbeats: "
		    "forgotten, their users left",
		    gone, MISSED_BEATS);
	}
}

/* ---- queries ----------------------------------------------------------- */

int
sg_peers_count(struct signaling *sg, enum sg_room_kind kind, int64_t room,
               int64_t user)
{
	return sg->peers != NULL
	           ? sg_cluster_count(sg->peers->cluster, kind, room, user)
	           : 0;
}

struct list_into {
	struct signaling *sg;
	json_object *list;
};

static void
list_cb(int64_t room, int64_t user, int n, json_object *person, void *arg)
{
	struct list_into *l = arg;
	json_object *o;
	(void)n;

	if (sg_presence_sockets(l->sg->presence, room, user) > 0) {
		return; /* listed already, as a local user */
	}
	if (person != NULL) {
		json_object_array_add(l->list, json_object_get(person));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(user));
	json_object_object_add(o, "username", NULL);
	json_object_object_add(o, "displayName", NULL);
	json_object_object_add(o, "avatarUrl", NULL);
	json_object_array_add(l->list, o);
}

void
sg_peers_list_into(struct signaling *sg, int64_t event, json_object *list)
{
	struct list_into l = {sg, list};

	if (sg->peers != NULL) {
		sg_cluster_room_each(sg->peers->cluster, SG_ROOM_EVENT, event,
		                     list_cb, &l);
	}
}

/* ---- life ---------------------------------------------------------------- */

int
sg_peers_parse_list(const char *list, char ***out, size_t *n)
{
	char **v = NULL;
	size_t k = 0;
	const char *s = list;

	*out = NULL;
	*n = 0;
	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		char *u;
		bool dup = false;

		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
			len--;
		}
		if (len > 0) {
			u = sc_strndup(s, len);
			if (strstr(u, "://") == NULL ||
			    strchr(u, ' ') != NULL) {
				sc_log_error(NULL,
				             "invalid SC_SIGNALING_PEERS entry "
				             "'%.200s': not a bus address "
				             "(tcp://host:port, ipc:///path)",
				             u);
				free(u);
				for (size_t i = 0; i < k; i++) {
					free(v[i]);
				}
				free(v);
				return SC_EINVAL;
			}
			for (size_t i = 0; i < k && !dup; i++) {
				dup = strcmp(v[i], u) == 0;
			}
			if (dup) {
				free(u);
			} else {
				v = sc_realloc(v, (k + 1) * sizeof(*v));
				v[k++] = u;
			}
		}
		s = end != NULL ? end + 1 : NULL;
	}
	*out = v;
	*n = k;
	return SC_OK;
}

int
sg_peers_start(struct signaling *sg, const char *instance, const char *list,
               long heartbeat_ms)
{
	struct sg_peers *p;
	char **urls = NULL, host[256];
	size_t nurls = 0;
	int rc = SC_OK;

	if (sg_peers_parse_list(list, &urls, &nurls) != SC_OK) {
		return SC_EINVAL;
	}
	if (nurls == 0) {
		return SC_OK; /* alone: nothing to do, ever */
	}
	p = sc_calloc(1, sizeof(*p));
	p->sg = sg;
	p->heartbeat_ms = heartbeat_ms;
	if (instance != NULL) {
		snprintf(p->id, sizeof(p->id), "%s", instance);
	} else {
		if (gethostname(host, sizeof(host)) != 0) {
			snprintf(host, sizeof(host), "signaling");
		}
		host[sizeof(host) - 1] = '\0';
		snprintf(p->id, sizeof(p->id), "%.100s:%ld", host,
		         (long)getpid());
	}
	snprintf(p->boot, sizeof(p->boot), "%08x%08x", (unsigned)nng_random(),
	         (unsigned)nng_random());
	p->cluster = sg_cluster_new(cluster_cb, sg);
	p->matches = sg_presence_new();
	p->tick = evtimer_new(sg->base, tick_cb, p);
	p->snap = evtimer_new(sg->base, snap_cb, p);
	if (p->tick == NULL || p->snap == NULL) {
		sc_oom();
	}
	sg->peers = p;
	for (size_t i = 0; i < nurls; i++) {
		if (rc == SC_OK &&
		    sc_bus_subscribe_addr(sg->bus, urls[i], TOPIC_PREFIX,
		                          topic_cb, p) != SC_OK) {
			sc_log_error(
			    NULL,
			    "invalid SC_SIGNALING_PEERS entry '%.200s': "
			    "cannot subscribe to it",
			    urls[i]);
			rc = SC_EINVAL;
		}
		free(urls[i]);
	}
	free(urls);
	if (rc != SC_OK) {
		return rc; /* sg_peers_free cleans up */
	}
	p->fast = FAST_BEATS;
	tick_arm(p);
	heartbeat(p); /* tell the peers at once that we are here */
	sc_log_info(NULL,
	            "signaling instance '%s' with %zu peer address(es), "
	            "heartbeat every %ld ms",
	            p->id, nurls, heartbeat_ms);
	return SC_OK;
}

void
sg_peers_close(struct signaling *sg)
{
	struct sg_peers *p = sg->peers;

	if (p == NULL || p->closed) {
		return;
	}
	pub(p, T_BYE, payload(p));
	p->closed = true;
	event_del(p->tick);
	event_del(p->snap);
}

void
sg_peers_free(struct signaling *sg)
{
	struct sg_peers *p = sg->peers;

	if (p == NULL) {
		return;
	}
	sg->peers = NULL;
	event_free(p->tick);
	event_free(p->snap);
	sg_cluster_free(p->cluster);
	sg_presence_free(p->matches);
	free(p);
}

const char *
sg_peers_instance(const struct signaling *sg)
{
	return sg->peers != NULL ? sg->peers->id : NULL;
}
