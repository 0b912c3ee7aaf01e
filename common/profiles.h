/* profiles.h: public user profiles from auth over the bus
 * (auth.users.get), cached briefly so a list of N participants or matches
 * costs at most one bus request and usually none. Profiles are public data
 * (username, displayName, avatarUrl, wsdcId, bio, createdAt): a few seconds
 * of staleness after a profile edit is accepted; user.updated events are
 * also applied to the cache when the daemon subscribes (see
 * sc_profiles_subscribe). */
#ifndef SC_PROFILES_H
#define SC_PROFILES_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct sc_bus;
struct sc_profiles;

/* ttl_s: how long a profile is served from cache (e.g. 30). bus borrowed
 * for the cache's life. Caller owns; free with sc_profiles_free() next to
 * sc_bus_free(), in either order but with no loop turn between (the
 * subscription holds the cache): lookups still waiting on auth are answered
 * by sc_bus_free (their calls fail), the rest with SC_EUNAVAIL by
 * sc_profiles_free. */
struct sc_profiles *sc_profiles_new(struct event_base *base, struct sc_bus *bus,
                                    int ttl_s);
void sc_profiles_free(struct sc_profiles *p);

/* Keep the cache fresh from auth's user.updated events. SC_OK or
 * SC_EUNAVAIL (logged). */
int sc_profiles_subscribe(struct sc_profiles *p);

/* Call cb(id, arg) on the loop thread for every user.updated event heard
 * (whether or not that profile is cached here), after the cache took it:
 * for a daemon that keeps rendered profiles elsewhere too. One hook; NULL
 * removes it. */
typedef void (*sc_profiles_update_cb)(int64_t user_id, void *arg);
void sc_profiles_on_update(struct sc_profiles *p, sc_profiles_update_cb cb,
                           void *arg);

/* err SC_OK with `found` an object mapping the decimal id ("42") to the
 * public profile object, for every id that exists (unknown ids are absent);
 * borrowed during the callback (json_object_get what you keep). err
 * SC_EUNAVAIL / SC_ETIMEDOUT when auth cannot be asked and some id is not
 * cached (found NULL). */
typedef void (*sc_profiles_cb)(int err, json_object *found, void *arg);

/* Look up `n` ids (copied; duplicates fine; at most 1000). Cached ids are
 * served without a bus request; the rest go in requests of at most 100.
 * Callback exactly once, never before this returns. request_id may be NULL
 * (copied). */
void sc_profiles_get(struct sc_profiles *p, const int64_t *ids, size_t n,
                     const char *request_id, sc_profiles_cb cb, void *arg);

#endif
