/* cluster.c: the remote instances (a small array, searched by id) each with
 * its (room, user) pairs in an idmap, and the merged count per pair kept in
 * an sg_presence whose "sockets" are instances. A room key folds the kind
 * into the id: room * 2 + kind (ids are below 2^53, so it fits). */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "idmap.h"

/* The value of a pair sent without a person. */
static char no_person;
#define NO_PERSON ((void *)&no_person)

struct peer {
	char id[SG_INSTANCE_MAX + 1];
	char boot[SG_BOOT_MAX + 1];
	int64_t last_ms, ttl_ms;
	bool synced;
	int64_t applied;      /* seq of the last delta applied in order */
	struct sg_idmap keys; /* (room key, user) -> person or NO_PERSON */
	/* a snapshot being collected */
	bool collecting;
	int next_part, parts;
	int64_t snap_seq;
	struct sg_idmap pending; /* as keys */
};

struct sg_cluster {
	sg_cluster_fn fn;
	void *arg;
	struct peer **peers;
	size_t npeers, cap;
	struct sg_presence *merged; /* room key -> user -> instances */
};

static int64_t
room_key(enum sg_room_kind kind, int64_t room)
{
	return room * 2 + (kind == SG_ROOM_MATCH ? 1 : 0);
}

static bool
ids_ok(int64_t room, int64_t user)
{
	return room > 0 && room <= SG_ID_MAX && user > 0 && user <= SG_ID_MAX;
}

static json_object *
person_of(void *v)
{
	return v == NO_PERSON ? NULL : v;
}

/* Release the references a key map holds, and the map. */
static void
keys_release(struct sg_idmap *m)
{
	size_t pos = 0;
	uint64_t a, b;
	void *v;

	while (sg_idmap_next(m, &pos, &a, &b, &v)) {
		json_object_put(person_of(v));
	}
	sg_idmap_release(m);
}

struct sg_cluster *
sg_cluster_new(sg_cluster_fn fn, void *arg)
{
	struct sg_cluster *c = sc_calloc(1, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->merged = sg_presence_new();
	return c;
}

static void
peer_free(struct peer *p)
{
	keys_release(&p->keys);
	keys_release(&p->pending);
	free(p);
}

void
sg_cluster_free(struct sg_cluster *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->npeers; i++) {
		peer_free(c->peers[i]);
	}
	free(c->peers);
	sg_presence_free(c->merged);
	free(c);
}

/* ---- the merged view --------------------------------------------------- */

static void
merged_add(struct sg_cluster *c, int64_t key, int64_t user, json_object *person)
{
	if (sg_presence_add(c->merged, key, user, person) == 1 &&
	    c->fn != NULL) {
		c->fn(key % 2 ? SG_ROOM_MATCH : SG_ROOM_EVENT, key / 2, user,
		      person, true, c->arg);
	}
}

static void
merged_remove(struct sg_cluster *c, int64_t key, int64_t user)
{
	if (sg_presence_remove(c->merged, key, user) == 0 && c->fn != NULL) {
		c->fn(key % 2 ? SG_ROOM_MATCH : SG_ROOM_EVENT, key / 2, user,
		      NULL, false, c->arg);
	}
}

/* ---- instances --------------------------------------------------------- */

static struct peer *
peer_find(const struct sg_cluster *c, const char *id, size_t *at)
{
	for (size_t i = 0; i < c->npeers; i++) {
		if (strcmp(c->peers[i]->id, id) == 0) {
			if (at != NULL) {
				*at = i;
			}
			return c->peers[i];
		}
	}
	return NULL;
}

static void
collect_stop(struct peer *p)
{
	keys_release(&p->pending);
	p->collecting = false;
}

/* Drop everything p said from the merged view (fn says who left). */
static void
peer_drop_all(struct sg_cluster *c, struct peer *p)
{
	struct sg_idmap keys = p->keys;
	size_t pos = 0;
	uint64_t a, b;
	void *v;

	sg_idmap_init(&p->keys);
	collect_stop(p);
	while (sg_idmap_next(&keys, &pos, &a, &b, &v)) {
		merged_remove(c, (int64_t)a, (int64_t)b);
	}
	keys_release(&keys);
	p->synced = false;
	p->applied = 0;
}

static void
peer_remove(struct sg_cluster *c, size_t at)
{
	struct peer *p = c->peers[at];

	c->peers[at] = c->peers[--c->npeers];
	peer_drop_all(c, p);
	peer_free(p);
}

int
sg_cluster_seen(struct sg_cluster *c, const char *id, const char *boot,
                int64_t now_ms, int64_t ttl_ms, bool *fresh)
{
	struct peer *p;
	size_t idlen = id != NULL ? strlen(id) : 0;
	size_t bootlen = boot != NULL ? strlen(boot) : 0;
	bool is_new = true;

	if (fresh != NULL) {
		*fresh = false;
	}
	if (idlen == 0 || idlen > SG_INSTANCE_MAX || bootlen == 0 ||
	    bootlen > SG_BOOT_MAX) {
		return SC_EINVAL;
	}
	if ((p = peer_find(c, id, NULL)) == NULL) {
		if (c->npeers == SG_CLUSTER_MAX_PEERS) {
			return SC_ETOOBIG;
		}
		if (c->npeers == c->cap) {
			c->cap = c->cap > 0 ? c->cap * 2 : 4;
			c->peers =
			    sc_realloc(c->peers, c->cap * sizeof(*c->peers));
		}
		p = sc_calloc(1, sizeof(*p));
		memcpy(p->id, id, idlen + 1);
		memcpy(p->boot, boot, bootlen + 1);
		sg_idmap_init(&p->keys);
		sg_idmap_init(&p->pending);
		c->peers[c->npeers++] = p;
	} else if (strcmp(p->boot, boot) != 0) {
		/* restarted: its sockets are gone with the old process */
		peer_drop_all(c, p);
		memcpy(p->boot, boot, bootlen + 1);
	} else {
		is_new = false;
	}
	p->last_ms = now_ms;
	p->ttl_ms = ttl_ms;
	if (fresh != NULL) {
		*fresh = is_new;
	}
	return SC_OK;
}

/* p says (key, user) is there (present) or not; person borrowed. */
static void
peer_set(struct sg_cluster *c, struct peer *p, int64_t key, int64_t user,
         json_object *person, bool present)
{
	void *had = sg_idmap_get(&p->keys, (uint64_t)key, (uint64_t)user);

	if (present && had == NULL) {
		sg_idmap_put(&p->keys, (uint64_t)key, (uint64_t)user,
		             person != NULL ? json_object_get(person)
		                            : NO_PERSON);
		merged_add(c, key, user, person);
	} else if (!present && had != NULL) {
		sg_idmap_del(&p->keys, (uint64_t)key, (uint64_t)user);
		json_object_put(person_of(had));
		merged_remove(c, key, user);
	}
}

void
sg_cluster_delta(struct sg_cluster *c, const char *id, int64_t seq,
                 enum sg_room_kind kind, int64_t room, int64_t user,
                 json_object *person, bool present)
{
	struct peer *p = peer_find(c, id, NULL);

	if (p == NULL || !ids_ok(room, user)) {
		return;
	}
	if (p->collecting) {
		collect_stop(p);
		p->synced = false;
	}
	if (p->synced && seq == p->applied + 1) {
		p->applied = seq;
	} else {
		p->synced = false;
	}
	peer_set(c, p, room_key(kind, room), user, person, present);
}

bool
sg_cluster_heartbeat(struct sg_cluster *c, const char *id, int64_t seq)
{
	struct peer *p = peer_find(c, id, NULL);

	if (p == NULL) {
		return false;
	}
	if (p->synced && seq != p->applied) {
		p->synced = false;
	}
	return !p->synced;
}

/* The collected snapshot replaces what p said. */
static void
snapshot_apply(struct sg_cluster *c, struct peer *p)
{
	struct sg_idmap old = p->keys;
	size_t pos = 0;
	uint64_t a, b;
	void *v;

	p->keys = p->pending;
	sg_idmap_init(&p->pending);
	p->collecting = false;
	while (sg_idmap_next(&old, &pos, &a, &b, &v)) {
		if (sg_idmap_get(&p->keys, a, b) == NULL) {
			merged_remove(c, (int64_t)a, (int64_t)b);
		}
	}
	pos = 0;
	while (sg_idmap_next(&p->keys, &pos, &a, &b, &v)) {
		if (sg_idmap_get(&old, a, b) == NULL) {
			merged_add(c, (int64_t)a, (int64_t)b, person_of(v));
		}
	}
	keys_release(&old);
	p->synced = true;
	p->applied = p->snap_seq;
}

int
sg_cluster_snapshot(struct sg_cluster *c, const char *id, int64_t seq, int part,
                    int parts, const struct sg_cluster_entry *e, size_t n)
{
	struct peer *p = peer_find(c, id, NULL);

	if (p == NULL || parts < 1 || part < 0 || part >= parts || seq < 0) {
		return SC_EINVAL;
	}
	if (part == 0) {
		collect_stop(p);
		p->collecting = true;
		p->next_part = 0;
		p->parts = parts;
		p->snap_seq = seq;
	}
	if (!p->collecting || part != p->next_part || parts != p->parts ||
	    seq != p->snap_seq) {
		collect_stop(p);
		return SC_EAGAIN;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t key = room_key(e[i].kind, e[i].room);

		if (!ids_ok(e[i].room, e[i].user) ||
		    sg_idmap_get(&p->pending, (uint64_t)key,
		                 (uint64_t)e[i].user) != NULL) {
			continue;
		}
		sg_idmap_put(&p->pending, (uint64_t)key, (uint64_t)e[i].user,
		             e[i].person != NULL ? json_object_get(e[i].person)
		                                 : NO_PERSON);
	}
	if (++p->next_part == parts) {
		snapshot_apply(c, p);
	}
	return SC_OK;
}

void
sg_cluster_forget(struct sg_cluster *c, const char *id)
{
	size_t at;

	if (peer_find(c, id, &at) != NULL) {
		peer_remove(c, at);
	}
}

size_t
sg_cluster_expire(struct sg_cluster *c, int64_t now_ms)
{
	size_t gone = 0;

	for (size_t i = 0; i < c->npeers;) {
		struct peer *p = c->peers[i];

		if (now_ms - p->last_ms > p->ttl_ms) {
			peer_remove(c, i); /* the last one moves to i */
			gone++;
		} else {
			i++;
		}
	}
	return gone;
}

/* ---- queries ------------------------------------------------------------ */

int
sg_cluster_count(const struct sg_cluster *c, enum sg_room_kind kind,
                 int64_t room, int64_t user)
{
	return sg_presence_sockets(c->merged, room_key(kind, room), user);
}

struct each {
	int64_t room;
	sg_presence_fn fn;
	void *arg;
};

static void
each_cb(int64_t key, int64_t user, int n, json_object *person, void *arg)
{
	struct each *e = arg;
	(void)key;

	e->fn(e->room, user, n, person, e->arg);
}

void
sg_cluster_room_each(const struct sg_cluster *c, enum sg_room_kind kind,
                     int64_t room, sg_presence_fn fn, void *arg)
{
	struct each e = {room, fn, arg};

	sg_presence_room_each(c->merged, room_key(kind, room), each_cb, &e);
}

size_t
sg_cluster_peers(const struct sg_cluster *c)
{
	return c->npeers;
}

bool
sg_cluster_synced(const struct sg_cluster *c, const char *id)
{
	const struct peer *p = peer_find(c, id, NULL);

	return p != NULL && p->synced;
}
