/* status.h: the match state machine, pure logic: the five statuses and
 * their wire names, which transitions exist, and who may make each one.
 * The daemon's UPDATE statements and its error replies both come from here;
 * the same table is enforced in the database by the matches_guard trigger
 * (migrations/matchmaking/0001_init.sql).
 *
 *   pending  -> accepted   the target only
 *   pending  -> rejected   the target only
 *   pending  -> cancelled  either member
 *   accepted -> completed  either member
 *   accepted -> cancelled  either member
 *   rejected, cancelled, completed: final
 */
#ifndef MM_STATUS_H
#define MM_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mm_status {
	MM_PENDING,
	MM_ACCEPTED,
	MM_REJECTED,
	MM_CANCELLED,
	MM_COMPLETED,
	MM_STATUS_COUNT
};

/* Who is acting on a match. */
enum mm_actor {
	MM_REQUESTER, /* the member who asked */
	MM_TARGET,    /* the member who was asked */
	MM_OUTSIDER,  /* anyone else */
};

/* What the machine says about a change, in the order it is decided: an
 * outsider learns nothing (not even that the match exists); then whether
 * the transition exists at all; then whether this member may make it. */
enum mm_verdict {
	MM_ALLOWED,
	MM_NOT_MEMBER,         /* 404 not_found */
	MM_INVALID_TRANSITION, /* 409 invalid_transition */
	MM_NOT_PERMITTED,      /* 403 forbidden */
};

/* The wire name ("pending"), or NULL for a value out of range. Borrowed,
 * static. */
const char *mm_status_name(enum mm_status s);

/* The status named `name` (exact, lower case). True and *out set, or false
 * for NULL or any other string. */
bool mm_status_parse(const char *name, enum mm_status *out);

/* The bus topic announcing that a match reached `s`: "match.requested" for
 * pending, else "match.<name>". Borrowed, static; NULL out of range. */
const char *mm_status_topic(enum mm_status s);

/* The member role of `user` in a match between requester and target. */
enum mm_actor mm_actor_of(int64_t requester, int64_t target, int64_t user);

/* May `actor` move a match from `from` to `to`? */
enum mm_verdict mm_transition_check(enum mm_status from, enum mm_status to,
                                    enum mm_actor actor);

/* The set of statuses from which `actor` may move a match to `to`, as a
 * bit mask (bit 1 << status). Empty for an outsider. */
unsigned mm_transition_sources(enum mm_status to, enum mm_actor actor);

/* A status set (bit mask) as a PostgreSQL text[] literal, e.g.
 * "{pending,accepted}" or "{}", for a query parameter. Writes at most len
 * bytes with a NUL; returns the length it needed (as snprintf). */
size_t mm_status_set_literal(unsigned mask, char *buf, size_t len);

#endif
