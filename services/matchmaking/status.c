/* status.c: the match state machine (see status.h). Kept free of I/O so
 * every (from, to, actor) combination is unit-tested. */
#include "status.h"

#include <stdio.h>
#include <string.h>

static const char *const names[MM_STATUS_COUNT] = {
    [MM_PENDING] = "pending",     [MM_ACCEPTED] = "accepted",
    [MM_REJECTED] = "rejected",   [MM_CANCELLED] = "cancelled",
    [MM_COMPLETED] = "completed",
};

static const char *const topics[MM_STATUS_COUNT] = {
    [MM_PENDING] = "match.requested",   [MM_ACCEPTED] = "match.accepted",
    [MM_REJECTED] = "match.rejected",   [MM_CANCELLED] = "match.cancelled",
    [MM_COMPLETED] = "match.completed",
};

/* Who may make each transition; 0 where there is no transition. */
#define BY_REQUESTER (1u << MM_REQUESTER)
#define BY_TARGET    (1u << MM_TARGET)
#define BY_EITHER    (BY_REQUESTER | BY_TARGET)

static const unsigned edges[MM_STATUS_COUNT][MM_STATUS_COUNT] = {
    [MM_PENDING] =
        {
            [MM_ACCEPTED] = BY_TARGET,
            [MM_REJECTED] = BY_TARGET,
            [MM_CANCELLED] = BY_EITHER,
        },
    [MM_ACCEPTED] =
        {
            [MM_COMPLETED] = BY_EITHER,
            [MM_CANCELLED] = BY_EITHER,
        },
};

static bool
status_valid(enum mm_status s)
{
	return (unsigned)s < MM_STATUS_COUNT;
}

const char *
mm_status_name(enum mm_status s)
{
	return status_valid(s) ? names[s] : NULL;
}

bool
mm_status_parse(const char *name, enum mm_status *out)
{
	if (name == NULL) {
		return false;
	}
	for (int s = 0; s < MM_STATUS_COUNT; s++) {
		if (strcmp(names[s], name) == 0) {
			*out = (enum mm_status)s;
			return true;
		}
	}
	return false;
}

const char *
mm_status_topic(enum mm_status s)
{
	return status_valid(s) ? topics[s] : NULL;
}

enum mm_actor
mm_actor_of(int64_t requester, int64_t target, int64_t user)
{
	if (user == requester) {
		return MM_REQUESTER;
	}
	if (user == target) {
		return MM_TARGET;
	}
	return MM_OUTSIDER;
}

enum mm_verdict
mm_transition_check(enum mm_status from, enum mm_status to, enum mm_actor actor)
{
	if (actor != MM_REQUESTER && actor != MM_TARGET) {
		return MM_NOT_MEMBER;
	}
	if (!status_valid(from) || !status_valid(to) || edges[from][to] == 0) {
		return MM_INVALID_TRANSITION;
	}
	if ((edges[from][to] & (1u << actor)) == 0) {
		return MM_NOT_PERMITTED;
	}
	return MM_ALLOWED;
}

unsigned
mm_transition_sources(enum mm_status to, enum mm_actor actor)
{
	unsigned mask = 0;

	if (!status_valid(to) ||
	    (actor != MM_REQUESTER && actor != MM_TARGET)) {
		return 0;
	}
	for (int from = 0; from < MM_STATUS_COUNT; from++) {
		if (edges[from][to] & (1u << actor)) {
			mask |= 1u << from;
		}
	}
	return mask;
}

size_t
mm_status_set_literal(unsigned mask, char *buf, size_t len)
{
	size_t need = 0;
	int n;

	n = snprintf(buf, len, "{");
	need += (size_t)n;
	for (int s = 0; s < MM_STATUS_COUNT; s++) {
		if ((mask & (1u << s)) == 0) {
			continue;
		}
		n = snprintf(need < len ? buf + need : NULL,
		             need < len ? len - need : 0, "%s%s",
		             need > 1 ? "," : "", names[s]);
		need += (size_t)n;
	}
	n = snprintf(need < len ? buf + need : NULL,
	             need < len ? len - need : 0, "}");
	need += (size_t)n;
	return need;
}
