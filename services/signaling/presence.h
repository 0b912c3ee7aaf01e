/* presence.h: who is in which event room, per user rather than per
 * socket: a user with three tabs in a room is one user there, joins the
 * room's list with the first tab and leaves it with the last. Pure
 * bookkeeping (no sockets, no I/O), so the rules are unit-tested. */
#ifndef SG_PRESENCE_H
#define SG_PRESENCE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct sg_presence;

/* Caller owns; free with sg_presence_free(). */
struct sg_presence *sg_presence_new(void);
/* Frees every room and drops the profiles' references. NULL is a no-op. */
void sg_presence_free(struct sg_presence *p);

/* One more socket of `user` in `room`. `profile` describes the user in
 * lists (a reference is taken when this is the user's first socket there;
 * later sockets keep the first one's). Returns how many sockets the user
 * has in the room now: 1 means the user just arrived. */
int sg_presence_add(struct sg_presence *p, int64_t room, int64_t user,
                    json_object *profile);

/* One socket fewer. Returns how many remain: 0 means the user just left
 * (the profile's reference is dropped); -1 when the user had no socket
 * there (nothing changes). */
int sg_presence_remove(struct sg_presence *p, int64_t room, int64_t user);

/* The user's sockets in the room (0 when none). */
int sg_presence_sockets(const struct sg_presence *p, int64_t room,
                        int64_t user);

/* Users in the room, each once. */
size_t sg_presence_users(const struct sg_presence *p, int64_t room);

/* Rooms with at least one user. */
size_t sg_presence_rooms(const struct sg_presence *p);

/* The room's users as a new JSON array of their profiles, in the order
 * they arrived except that a departure moves the last arrival into the
 * gap. Caller owns; release with json_object_put. */
json_object *sg_presence_list(const struct sg_presence *p, int64_t room);

/* Called for each user with a socket in a room: the room, the user, their
 * socket count and profile (borrowed during the call; NULL when added
 * without one). fn must not change p. */
typedef void (*sg_presence_fn)(int64_t room, int64_t user, int sockets,
                               json_object *profile, void *arg);

/* fn for every user of one room, in list order. */
void sg_presence_room_each(const struct sg_presence *p, int64_t room,
                           sg_presence_fn fn, void *arg);

/* fn for every user of every room, room by room. */
void sg_presence_each(const struct sg_presence *p, sg_presence_fn fn,
                      void *arg);

#endif
