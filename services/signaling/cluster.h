/* cluster.h: who is where on the other signaling instances (scale-out, see
 * peers.c and proto/signaling.md): per remote instance the rooms its users
 * have sockets in, as its deltas and snapshots said, and merged over every
 * instance a count per (room, user). Pure bookkeeping: no bus, no sockets,
 * no clock of its own (times are passed in), so the rules (deltas in
 * sequence, snapshots in parts, a restart, expiry) are unit-tested. */
#ifndef SG_CLUSTER_H
#define SG_CLUSTER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "presence.h"

/* The rooms presence is kept for across instances. */
enum sg_room_kind { SG_ROOM_EVENT, SG_ROOM_MATCH };

/* The longest instance id and boot token (bytes). */
#define SG_INSTANCE_MAX 128
#define SG_BOOT_MAX     64
/* Remote instances remembered at once; messages of more are ignored. */
#define SG_CLUSTER_MAX_PEERS 256
/* Room and user ids are 1 .. 2^53 - 1, as everywhere in the suite. */
#define SG_ID_MAX 9007199254740991LL

struct sg_cluster;

/* The merged view changed for (kind, room, user): present, the user is now
 * on some remote instance in the room having been on none; or not present,
 * the user has left it on the last one. person: the profile an instance sent
 * with the user (borrowed during the call; NULL when leaving, for match
 * rooms, or when none was sent). The callback may query c but not change
 * it. */
typedef void (*sg_cluster_fn)(enum sg_room_kind kind, int64_t room,
                              int64_t user, json_object *person, bool present,
                              void *arg);

/* fn (may be NULL) hears of every change. Caller owns; free with
 * sg_cluster_free(). */
struct sg_cluster *sg_cluster_new(sg_cluster_fn fn, void *arg);
/* Frees everything, without callbacks. NULL is a no-op. */
void sg_cluster_free(struct sg_cluster *c);

/* Any message from instance `id` (boot: the token of its incarnation;
 * both borrowed) at now_ms: it is forgotten when nothing more comes within
 * ttl_ms. A new id is remembered, not yet synced. A new boot for a known id
 * is a restart: what the old incarnation said is dropped (fn says who
 * left) and the instance is not synced. *fresh (may be NULL) says whether
 * it was new or restarted. SC_OK; SC_EINVAL for an empty or too long id or
 * boot; SC_ETOOBIG when SG_CLUSTER_MAX_PEERS others are remembered (ignore
 * the message). */
int sg_cluster_seen(struct sg_cluster *c, const char *id, const char *boot,
                    int64_t now_ms, int64_t ttl_ms, bool *fresh);

/* Delta number seq of instance id (sg_cluster_seen first; unknown ids are
 * ignored): user has (present) or no longer has a socket in the room
 * there. person borrowed (a reference is taken; may be NULL). Applied
 * whatever seq says, since a delta states a fact rather than a change; but
 * one that does not follow the last applied unsyncs the instance, and a
 * snapshot being collected is dropped. */
void sg_cluster_delta(struct sg_cluster *c, const char *id, int64_t seq,
                      enum sg_room_kind kind, int64_t room, int64_t user,
                      json_object *person, bool present);

/* A heartbeat of instance id: it has published seq deltas so far. True
 * when a snapshot of it is needed: never synced since it was first seen
 * or restarted, or a delta was missed (seq is not the last applied); it is
 * then not synced until a snapshot comes. False for an unknown id. */
bool sg_cluster_heartbeat(struct sg_cluster *c, const char *id, int64_t seq);

/* One (room, user) of a snapshot; person borrowed (may be NULL). */
struct sg_cluster_entry {
	enum sg_room_kind kind;
	int64_t room, user;
	json_object *person;
};

/* Part `part` (from 0) of `parts` of a snapshot of instance id, taken right
 * after its delta seq: n entries (borrowed; references are taken). Parts
 * are collected in order; the last one replaces everything the instance
 * said by the snapshot (fn says who arrived and who left) and the instance
 * is synced at seq. SC_OK; SC_EAGAIN for a part out of order (what was
 * collected is dropped: ask again); SC_EINVAL for bad numbers or an
 * unknown id. Entries with ids out of range are skipped. */
int sg_cluster_snapshot(struct sg_cluster *c, const char *id, int64_t seq,
                        int part, int parts, const struct sg_cluster_entry *e,
                        size_t n);

/* Instance id said goodbye: drop what it said (fn) and forget it. */
void sg_cluster_forget(struct sg_cluster *c, const char *id);

/* Forget the instances not heard from within their ttl at now_ms (fn says
 * who left). Returns how many were forgotten. */
size_t sg_cluster_expire(struct sg_cluster *c, int64_t now_ms);

/* On how many remote instances user has a socket in the room. */
int sg_cluster_count(const struct sg_cluster *c, enum sg_room_kind kind,
                     int64_t room, int64_t user);

/* fn for each user on some remote instance in the room: sockets is the
 * number of instances, profile the person one of them sent (borrowed). */
void sg_cluster_room_each(const struct sg_cluster *c, enum sg_room_kind kind,
                          int64_t room, sg_presence_fn fn, void *arg);

/* Instances remembered; whether id is one and synced. */
size_t sg_cluster_peers(const struct sg_cluster *c);
bool sg_cluster_synced(const struct sg_cluster *c, const char *id);

#endif
