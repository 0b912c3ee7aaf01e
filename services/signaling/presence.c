/* presence.c: rooms -> users with a socket count each. A room is a dense
 * array of members (for the list) plus an index user -> position (for O(1)
 * add and remove); removal swaps the last member into the hole. */
#include "presence.h"

#include <stdlib.h>

#include "alloc.h"
#include "idmap.h"

struct member {
	int64_t user;
	int sockets;
	json_object *profile;
};

struct room {
	struct member *members;
	size_t n, cap;
	struct sg_idmap index; /* user -> position + 1 */
};

struct sg_presence {
	struct sg_idmap rooms; /* room -> struct room */
};

struct sg_presence *
sg_presence_new(void)
{
	struct sg_presence *p = sc_calloc(1, sizeof(*p));

	sg_idmap_init(&p->rooms);
	return p;
}

static void
room_free(struct room *r)
{
	for (size_t i = 0; i < r->n; i++) {
		json_object_put(r->members[i].profile);
	}
	free(r->members);
	sg_idmap_release(&r->index);
	free(r);
}

void
sg_presence_free(struct sg_presence *p)
{
	size_t pos = 0;
	uint64_t a, b;
	void *val;

	if (p == NULL) {
		return;
	}
	while (sg_idmap_next(&p->rooms, &pos, &a, &b, &val)) {
		room_free(val);
	}
	sg_idmap_release(&p->rooms);
	free(p);
}

static struct room *
room_find(const struct sg_presence *p, int64_t room)
{
	return sg_idmap_get(&p->rooms, (uint64_t)room, 0);
}

/* The member's position in r, or -1. */
static long
member_find(const struct room *r, int64_t user)
{
	void *v = sg_idmap_get(&r->index, (uint64_t)user, 0);

	return v != NULL ? (long)((uintptr_t)v - 1) : -1;
}

static void
index_put(struct room *r, int64_t user, size_t pos)
{
	sg_idmap_put(&r->index, (uint64_t)user, 0,
	             (void *)(uintptr_t)(pos + 1));
}

int
sg_presence_add(struct sg_presence *p, int64_t room, int64_t user,
                json_object *profile)
{
	struct room *r = room_find(p, room);
	long at;

	if (r == NULL) {
		r = sc_calloc(1, sizeof(*r));
		sg_idmap_init(&r->index);
		sg_idmap_put(&p->rooms, (uint64_t)room, 0, r);
	}
	at = member_find(r, user);
	if (at >= 0) {
		return ++r->members[at].sockets;
	}
	if (r->n == r->cap) {
		r->cap = r->cap > 0 ? r->cap * 2 : 8;
		r->members =
		    sc_realloc(r->members, r->cap * sizeof(*r->members));
	}
	r->members[r->n] = (struct member){user, 1, json_object_get(profile)};
	index_put(r, user, r->n);
	r->n++;
	return 1;
}

int
sg_presence_remove(struct sg_presence *p, int64_t room, int64_t user)
{
	struct room *r = room_find(p, room);
	struct member *m;
	long at;

	if (r == NULL || (at = member_find(r, user)) < 0) {
		return -1;
	}
	m = &r->members[at];
	if (--m->sockets > 0) {
		return m->sockets;
	}
	json_object_put(m->profile);
	sg_idmap_del(&r->index, (uint64_t)user, 0);
	r->n--;
	if ((size_t)at != r->n) {
		*m = r->members[r->n];
		index_put(r, m->user, (size_t)at);
	}
	if (r->n == 0) {
		sg_idmap_del(&p->rooms, (uint64_t)room, 0);
		room_free(r);
	}
	return 0;
}

int
sg_presence_sockets(const struct sg_presence *p, int64_t room, int64_t user)
{
	const struct room *r = room_find(p, room);
	long at;

	if (r == NULL || (at = member_find(r, user)) < 0) {
		return 0;
	}
	return r->members[at].sockets;
}

size_t
sg_presence_users(const struct sg_presence *p, int64_t room)
{
	const struct room *r = room_find(p, room);

	return r != NULL ? r->n : 0;
}

size_t
sg_presence_rooms(const struct sg_presence *p)
{
	return sg_idmap_count(&p->rooms);
}

json_object *
sg_presence_list(const struct sg_presence *p, int64_t room)
{
	const struct room *r = room_find(p, room);
	json_object *list =
	    json_object_new_array_ext(r != NULL ? (int)r->n : 0);

	for (size_t i = 0; r != NULL && i < r->n; i++) {
		json_object_array_add(list,
		                      json_object_get(r->members[i].profile));
	}
	return list;
}

static void
room_each(const struct room *r, int64_t room, sg_presence_fn fn, void *arg)
{
	for (size_t i = 0; i < r->n; i++) {
		fn(room, r->members[i].user, r->members[i].sockets,
		   r->members[i].profile, arg);
	}
}

void
sg_presence_room_each(const struct sg_presence *p, int64_t room,
                      sg_presence_fn fn, void *arg)
{
	const struct room *r = room_find(p, room);

	if (r != NULL) {
		room_each(r, room, fn, arg);
	}
}

void
sg_presence_each(const struct sg_presence *p, sg_presence_fn fn, void *arg)
{
	size_t pos = 0;
	uint64_t a, b;
	void *val;

	while (sg_idmap_next(&p->rooms, &pos, &a, &b, &val)) {
		room_each(val, (int64_t)a, fn, arg);
	}
}
