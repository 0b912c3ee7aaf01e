/* ratelimit.c: per-key hit counters in two fixed windows (the sliding
 * window approximation), in an open-addressing table with linear probing. */
#include "ratelimit.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"

#define RL_MIN_SLOTS 16
/* Counters saturate here: far past any limit, far from overflow. */
#define RL_COUNT_MAX (1 << 30)

struct rl_entry {
	char *key; /* NULL: empty slot */
	uint64_t hash;
	time_t start; /* the current window's start */
	int cur;      /* hits in the current window */
	int prev;     /* hits in the window before it */
};

struct sc_ratelimit {
	int limit;
	time_t window;
	struct rl_entry *slots;
	size_t nslots; /* a power of two */
	size_t count;
	time_t last_sweep;
	uint64_t k0, k1; /* hash key: keys come from clients, so the table's
	                    layout must not be predictable (hash flooding) */
};

/* ---- SipHash-1-3 (Aumasson and Bernstein), keyed per table ----------- */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND()                                                             \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL64(v1, 13);                                           \
		v1 ^= v0;                                                      \
		v0 = ROTL64(v0, 32);                                           \
		v2 += v3;                                                      \
		v3 = ROTL64(v3, 16);                                           \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL64(v3, 21);                                           \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL64(v1, 17);                                           \
		v1 ^= v2;                                                      \
		v2 = ROTL64(v2, 32);                                           \
	} while (0)

static uint64_t
load_le64(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static uint64_t
rl_hash(const struct sc_ratelimit *rl, const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t v0 = rl->k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = rl->k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = rl->k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = rl->k1 ^ 0x7465646279746573ULL;
	size_t tail = len & 7;
	uint64_t m;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		m = load_le64(p + i, 8);
		v3 ^= m;
		SIPROUND();
		v0 ^= m;
	}
	m = load_le64(p + (len - tail), tail) | ((uint64_t)len << 56);
	v3 ^= m;
	SIPROUND();
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND();
	SIPROUND();
	SIPROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ------------------------------------------------------ */

static time_t
window_of(const struct sc_ratelimit *rl, time_t now)
{
	time_t r = now % rl->window;
	return now - (r < 0 ? r + rl->window : r);
}

/* Both windows of `e` are over: it counts for nothing and can go. */
static bool
entry_idle(const struct sc_ratelimit *rl, const struct rl_entry *e, time_t now)
{
	return window_of(rl, now) - e->start >= 2 * rl->window;
}

/* Move `e`'s windows forward to the one holding `now`. A clock that went
 * back leaves them as they are. */
static void
entry_roll(const struct sc_ratelimit *rl, struct rl_entry *e, time_t now)
{
	time_t w = window_of(rl, now);

	if (w <= e->start) {
		return;
	}
	e->prev = w - e->start == rl->window ? e->cur : 0;
	e->cur = 0;
	e->start = w;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t
table_find(const struct sc_ratelimit *rl, const char *key, uint64_t hash)
{
	size_t mask = rl->nslots - 1;
	size_t i = (size_t)hash & mask;

	while (rl->slots[i].key != NULL) {
		if (rl->slots[i].hash == hash &&
		    strcmp(rl->slots[i].key, key) == 0) {
			break;
		}
		i = (i + 1) & mask;
	}
	return i;
}

/* Remove slot i, shifting later members of its probe run back so that no
 * tombstones are needed. */
static void
table_delete(struct sc_ratelimit *rl, size_t i)
{
	size_t mask = rl->nslots - 1;
	size_t j = i;

	free(rl->slots[i].key);
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (rl->slots[j].key == NULL) {
			break;
		}
		home = (size_t)rl->slots[j].hash & mask;
		/* Entry j may move to i unless its home lies in (i, j]. */
		if (i <= j ? (home <= i || home > j)
		           : (home <= i && home > j)) {
			rl->slots[i] = rl->slots[j];
			i = j;
		}
	}
	memset(&rl->slots[i], 0, sizeof rl->slots[i]);
	rl->count--;
}

static void
table_resize(struct sc_ratelimit *rl, size_t nslots)
{
	struct rl_entry *old = rl->slots;
	size_t oldn = rl->nslots;

	rl->slots = sc_calloc(nslots, sizeof *rl->slots);
	rl->nslots = nslots;
	for (size_t i = 0; i < oldn; i++) {
		if (old[i].key != NULL) {
			size_t mask = nslots - 1,
			       j = (size_t)old[i].hash & mask;
			while (rl->slots[j].key != NULL) {
				j = (j + 1) & mask;
			}
			rl->slots[j] = old[i];
		}
	}
	free(old);
}

/* Drop every idle entry, then give memory back if the table is mostly
 * empty. O(slots); runs at most once per window and before growing, so
 * memory follows the keys active in the last two windows. */
static void
table_sweep(struct sc_ratelimit *rl, time_t now)
{
	size_t i = 0;

	rl->last_sweep = now;
	while (i < rl->nslots) {
		/* After a delete, slot i may hold a shifted entry: look again.
		 * Entries shifted from the table's start were seen already. */
		if (rl->slots[i].key != NULL &&
		    entry_idle(rl, &rl->slots[i], now)) {
			table_delete(rl, i);
		} else {
			i++;
		}
	}
	if (rl->nslots > RL_MIN_SLOTS && rl->count * 8 < rl->nslots) {
		size_t n = RL_MIN_SLOTS;
		while (n < rl->count * 4) {
			n *= 2;
		}
		table_resize(rl, n);
	}
}

static void
maybe_sweep(struct sc_ratelimit *rl, time_t now)
{
	if (now - rl->last_sweep >= rl->window || now < rl->last_sweep) {
		table_sweep(rl, now);
	}
}

struct sc_ratelimit *
sc_ratelimit_new(int limit, int window_s)
{
	struct sc_ratelimit *rl;
	uint64_t key[2];

	assert(limit > 0 && window_s > 0);
	rl = sc_calloc(1, sizeof *rl);
	rl->limit = limit;
	rl->window = window_s;
	rl->nslots = RL_MIN_SLOTS;
	rl->slots = sc_calloc(rl->nslots, sizeof *rl->slots);
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
		/* Without the kernel's randomness the table still works; only
		 * the flooding resistance is weaker. */
		key[0] = (uint64_t)(uintptr_t)rl ^ (uint64_t)time(NULL);
		key[1] = (uint64_t)(uintptr_t)&key;
	}
	rl->k0 = key[0];
	rl->k1 = key[1];
	return rl;
}

void
sc_ratelimit_free(struct sc_ratelimit *rl)
{
	if (rl == NULL) {
		return;
	}
	for (size_t i = 0; i < rl->nslots; i++) {
		free(rl->slots[i].key);
	}
	free(rl->slots);
	free(rl);
}

/* Is one more hit allowed with these counts, `d` seconds into the current
 * window? Estimate = prev * (window - d) / window + cur, kept in integers. */
static bool
allowed(const struct sc_ratelimit *rl, int64_t prev, int64_t cur, int64_t d)
{
	int64_t w = rl->window;
	return prev * (w - d) + (cur + 1) * w <= (int64_t)rl->limit * w;
}

/* Seconds from `now` until one more hit is allowed (at least 1). */
static int
retry_after(const struct sc_ratelimit *rl, const struct rl_entry *e, time_t now)
{
	int64_t w = rl->window, limit = rl->limit, d, t;

	if (e->cur + 1 > limit) {
		/* Not in this window: in the next, cur becomes the previous
		 * count and must decay to limit - 1. */
		d = w - (limit - 1) * w / e->cur;
		t = e->start + w + d;
	} else {
		/* The previous window's share must decay. */
		d = w - (limit - 1 - e->cur) * w / e->prev;
		t = e->start + d;
	}
	t -= now;
	return t < 1 ? 1 : t > INT_MAX ? INT_MAX : (int)t;
}

bool
sc_ratelimit_check(struct sc_ratelimit *rl, const char *key, time_t now,
                   int *retry_after_s)
{
	size_t i;
	struct rl_entry *e;
	time_t d;

	maybe_sweep(rl, now);
	i = table_find(rl, key, rl_hash(rl, key, strlen(key)));
	e = &rl->slots[i];
	if (e->key == NULL) {
		/* limit >= 1: a key never seen may always hit once. */
		return true;
	}
	entry_roll(rl, e, now);
	d = now - e->start;
	if (d < 0) {
		d = 0;
	}
	if (allowed(rl, e->prev, e->cur, d)) {
		return true;
	}
	if (retry_after_s != NULL) {
		*retry_after_s = retry_after(rl, e, now);
	}
	return false;
}

void
sc_ratelimit_hit(struct sc_ratelimit *rl, const char *key, time_t now)
{
	size_t len = strlen(key), i;
	uint64_t hash = rl_hash(rl, key, len);
	struct rl_entry *e;

	maybe_sweep(rl, now);
	i = table_find(rl, key, hash);
	if (rl->slots[i].key == NULL) {
		/* Keep the load at most 1/2. Sweep first; grow only if the
		 * sweep left the table over 3/8 full, so sweeps stay rare. */
		if ((rl->count + 1) * 2 > rl->nslots) {
			table_sweep(rl, now);
			if ((rl->count + 1) * 8 > rl->nslots * 3) {
				table_resize(rl, rl->nslots * 2);
			}
			i = table_find(rl, key, hash);
		}
		e = &rl->slots[i];
		e->key = sc_strndup(key, len);
		e->hash = hash;
		e->start = window_of(rl, now);
		e->cur = e->prev = 0;
		rl->count++;
	}
	e = &rl->slots[i];
	entry_roll(rl, e, now);
	if (e->cur < RL_COUNT_MAX) {
		e->cur++;
	}
}

void
sc_ratelimit_reset(struct sc_ratelimit *rl, const char *key)
{
	size_t i = table_find(rl, key, rl_hash(rl, key, strlen(key)));

	if (rl->slots[i].key != NULL) {
		table_delete(rl, i);
	}
}

void
sc_ratelimit_stats(const struct sc_ratelimit *rl, size_t *keys, size_t *slots)
{
	if (keys != NULL) {
		*keys = rl->count;
	}
	if (slots != NULL) {
		*slots = rl->nslots;
	}
}
