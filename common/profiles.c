/* profiles.c: a short-lived cache of public profiles in front of
 * auth.users.get. */
#include "profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "bus.h"
#include "error.h"
#include "log.h"

#define PROFILES_BUCKETS 1024
#define PROFILES_MAX     20000 /* entries before a sweep of expired ones */
#define PROFILES_BATCH   100   /* ids per auth.users.get (auth's limit) */
#define PROFILES_GET_MAX 1000

struct profile_entry {
	struct profile_entry *next;
	int64_t id;
	time_t expires;
	json_object *profile; /* owned */
};

struct sc_profiles {
	struct event_base *base;
	struct sc_bus *bus;
	int ttl_s;
	struct profile_entry *buckets[PROFILES_BUCKETS];
	size_t count;
	struct lookup *lookups; /* in flight, for free */
	sc_profiles_update_cb on_update;
	void *on_update_arg;
};

/* One sc_profiles_get in flight. */
struct lookup {
	struct sc_profiles *p;
	struct lookup *prev, *next;
	json_object *found; /* owned */
	int pending;        /* bus calls not answered yet */
	int err;
	char *request_id;
	sc_profiles_cb cb;
	void *arg;
	struct event *ev; /* deferred completion when nothing was missing */
};

static size_t
bucket_of(int64_t id)
{
	uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 54) % PROFILES_BUCKETS;
}

static struct profile_entry **
entry_find(struct sc_profiles *p, int64_t id)
{
	struct profile_entry **e = &p->buckets[bucket_of(id)];
	while (*e != NULL && (*e)->id != id) {
		e = &(*e)->next;
	}
	return e;
}

static void
entry_remove(struct sc_profiles *p, struct profile_entry **e)
{
	struct profile_entry *dead = *e;
	*e = dead->next;
	json_object_put(dead->profile);
	free(dead);
	p->count--;
}

static void
cache_sweep(struct sc_profiles *p, time_t now, bool all)
{
	for (size_t b = 0; b < PROFILES_BUCKETS; b++) {
		struct profile_entry **e = &p->buckets[b];
		while (*e != NULL) {
			if (all || (*e)->expires <= now) {
				entry_remove(p, e);
			} else {
				e = &(*e)->next;
			}
		}
	}
}

/* Store a profile object (takes a reference of its own). */
static void
cache_put(struct sc_profiles *p, json_object *profile, time_t now)
{
	json_object *idv;
	if (!json_object_object_get_ex(profile, "id", &idv) ||
	    !json_object_is_type(idv, json_type_int)) {
		return;
	}
	int64_t id = json_object_get_int64(idv);
	struct profile_entry **e = entry_find(p, id);
	if (*e == NULL) {
		if (p->count >= PROFILES_MAX) {
			cache_sweep(p, now, false);
			if (p->count >= PROFILES_MAX) {
				cache_sweep(p, now, true);
			}
			e = entry_find(p, id);
		}
		*e = sc_calloc(1, sizeof **e);
		(*e)->id = id;
		p->count++;
	} else {
		json_object_put((*e)->profile);
	}
	(*e)->profile = json_object_get(profile);
	(*e)->expires = now + p->ttl_s;
}

struct sc_profiles *
sc_profiles_new(struct event_base *base, struct sc_bus *bus, int ttl_s)
{
	struct sc_profiles *p = sc_calloc(1, sizeof *p);
	p->base = base;
	p->bus = bus;
	p->ttl_s = ttl_s > 0 ? ttl_s : 1;
	return p;
}

static void
lookup_finish(struct lookup *l)
{
	struct sc_profiles *p = l->p;

	if (l->prev != NULL) {
		l->prev->next = l->next;
	} else if (p != NULL) {
		p->lookups = l->next;
	}
	if (l->next != NULL) {
		l->next->prev = l->prev;
	}
	/* Drop the placeholders of ids auth did not know. */
	json_object *unknown = json_object_new_array();
	json_object_object_foreach(l->found, key, val)
	{
		if (val == NULL) {
			json_object_array_add(unknown,
			                      json_object_new_string(key));
		}
	}
	for (size_t i = 0; i < json_object_array_length(unknown); i++) {
		json_object_object_del(
		    l->found, json_object_get_string(
		                  json_object_array_get_idx(unknown, i)));
	}
	json_object_put(unknown);
	l->cb(l->err, l->err == SC_OK ? l->found : NULL, l->arg);
	if (l->ev != NULL) {
		event_free(l->ev);
	}
	json_object_put(l->found);
	free(l->request_id);
	free(l);
}

void
sc_profiles_free(struct sc_profiles *p)
{
	if (p == NULL) {
		return;
	}
	/* Lookups still waiting on the bus are answered by sc_bus_free (their
	 * calls fail); detach them from the cache first. Deferred ones are
	 * answered now. */
	struct lookup *l = p->lookups;
	while (l != NULL) {
		struct lookup *next = l->next;
		l->p = NULL;
		l->prev = l->next = NULL;
		if (l->pending == 0) {
			l->err = SC_EUNAVAIL;
			lookup_finish(l);
		}
		l = next;
	}
	cache_sweep(p, 0, true);
	free(p);
}

static void
lookup_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lookup_finish(arg);
}

static void
users_get_cb(int err, json_object *data, const char *message, void *arg)
{
	struct lookup *l = arg;
	json_object *users;
	time_t now = time(NULL);

	if (err != SC_OK) {
		sc_log_warn(l->request_id, "cannot get profiles from auth: %s",
		            message ? message : sc_err_str(err));
		l->err = err == SC_ETIMEDOUT ? SC_ETIMEDOUT : SC_EUNAVAIL;
	} else if (json_object_object_get_ex(data, "users", &users) &&
	           json_object_is_type(users, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(users); i++) {
			json_object *u = json_object_array_get_idx(users, i);
			json_object *idv;
			if (!json_object_object_get_ex(u, "id", &idv)) {
				continue;
			}
			char key[24];
			snprintf(key, sizeof key, "%lld",
			         (long long)json_object_get_int64(idv));
			json_object_object_add(l->found, key,
			                       json_object_get(u));
			if (l->p != NULL) {
				cache_put(l->p, u, now);
			}
		}
	}
	if (--l->pending == 0) {
		lookup_finish(l);
	}
}

void
sc_profiles_get(struct sc_profiles *p, const int64_t *ids, size_t n,
                const char *request_id, sc_profiles_cb cb, void *arg)
{
	struct lookup *l = sc_calloc(1, sizeof *l);
	time_t now = time(NULL);
	json_object *batch = NULL;
	size_t in_batch = 0;

	l->p = p;
	l->found = json_object_new_object();
	l->request_id = request_id ? sc_strdup(request_id) : NULL;
	l->cb = cb;
	l->arg = arg;
	l->next = p->lookups;
	if (p->lookups != NULL) {
		p->lookups->prev = l;
	}
	p->lookups = l;

	if (n > PROFILES_GET_MAX) {
		l->err = SC_EINVAL;
		n = 0;
	}
	/* Pending counts one extra for this function, so no callback can
	 * finish the lookup before every batch is sent. */
	l->pending = 1;
	for (size_t i = 0; i < n; i++) {
		char key[24];
		snprintf(key, sizeof key, "%lld", (long long)ids[i]);
		if (json_object_object_get_ex(l->found, key, NULL)) {
			continue; /* a duplicate id */
		}
		struct profile_entry **e = entry_find(p, ids[i]);
		if (*e != NULL && (*e)->expires > now) {
			json_object_object_add(l->found, key,
			                       json_object_get((*e)->profile));
			continue;
		}
		/* Mark it asked, so a duplicate later is not asked twice; the
		 * reply replaces the placeholder, a missing user removes it. */
		json_object_object_add(l->found, key, NULL);
		if (batch == NULL) {
			batch = json_object_new_array();
		}
		json_object_array_add(batch, json_object_new_int64(ids[i]));
		if (++in_batch == PROFILES_BATCH || i + 1 == n) {
			json_object *data = json_object_new_object();
			json_object_object_add(data, "ids", batch);
			l->pending++;
			sc_bus_call(p->bus, "auth.users.get", data, request_id,
			            0, users_get_cb, l);
			batch = NULL;
			in_batch = 0;
		}
	}
	if (batch != NULL) {
		json_object *data = json_object_new_object();
		json_object_object_add(data, "ids", batch);
		l->pending++;
		sc_bus_call(p->bus, "auth.users.get", data, request_id, 0,
		            users_get_cb, l);
	}
	if (--l->pending == 0) {
		/* Nothing asked: answer on the next loop turn, never inside. */
		l->ev = event_new(p->base, -1, 0, lookup_deferred_cb, l);
		if (l->ev == NULL) {
			sc_oom();
		}
		event_active(l->ev, 0, 0);
	}
}

static void
user_updated_cb(const char *topic, json_object *data, const char *request_id,
                void *arg)
{
	struct sc_profiles *p = arg;
	json_object *user;
	(void)topic;
	(void)request_id;

	if (json_object_object_get_ex(data, "user", &user) &&
	    json_object_is_type(user, json_type_object)) {
		json_object *idv;
		if (json_object_object_get_ex(user, "id", &idv)) {
			/* Only refresh what is cached: the cache holds whom
			 * this daemon asked about, not every user. */
			int64_t id = json_object_get_int64(idv);
			struct profile_entry **e = entry_find(p, id);
			if (*e != NULL) {
				cache_put(p, user, time(NULL));
			}
			if (p->on_update != NULL) {
				p->on_update(id, p->on_update_arg);
			}
		}
	}
}

void
sc_profiles_on_update(struct sc_profiles *p, sc_profiles_update_cb cb,
                      void *arg)
{
	p->on_update = cb;
	p->on_update_arg = arg;
}

int
sc_profiles_subscribe(struct sc_profiles *p)
{
	return sc_bus_subscribe(p->bus, "auth", "user.updated", user_updated_cb,
	                        p);
}
