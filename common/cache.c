/* cache.c: a byte-bounded LRU map from byte keys to byte values with a
 * generation for race-free invalidation (see cache.h). */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"

#define CACHE_MIN_BUCKETS 64
/* Longest hash chain a put may grow: keys come from requests, and a flood
 * of colliding keys must not turn lookups into list walks. */
#define CACHE_MAX_CHAIN 8

struct entry {
	struct entry *chain;         /* next in the bucket */
	struct entry *newer, *older; /* use order */
	uint64_t hash;
	int64_t expires_ms; /* 0: never */
	size_t klen, vlen;
	unsigned char data[]; /* key, then value */
};

struct sc_cache {
	struct entry **buckets;
	size_t nbuckets; /* a power of 2 */
	struct entry *newest, *oldest;
	size_t max_bytes, bytes, entries;
	uint64_t gen;
	bool on;
	struct sc_cache_stats stats;
};

/* FNV-1a, 64 bits. */
static uint64_t
key_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 1099511628211u;
	}
	return h;
}

static size_t
entry_cost(size_t klen, size_t vlen)
{
	return sizeof(struct entry) + klen + vlen;
}

struct sc_cache *
sc_cache_new(size_t max_bytes)
{
	struct sc_cache *c = sc_calloc(1, sizeof *c);

	c->nbuckets = CACHE_MIN_BUCKETS;
	c->buckets = sc_calloc(c->nbuckets, sizeof *c->buckets);
	c->max_bytes = max_bytes;
	c->gen = 1;
	return c;
}

static void
lru_unlink(struct sc_cache *c, struct entry *e)
{
	if (e->newer != NULL) {
		e->newer->older = e->older;
	} else {
		c->newest = e->older;
	}
	if (e->older != NULL) {
		e->older->newer = e->newer;
	} else {
		c->oldest = e->newer;
	}
	e->newer = e->older = NULL;
}

static void
lru_push_newest(struct sc_cache *c, struct entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL) {
		c->newest->newer = e;
	}
	c->newest = e;
	if (c->oldest == NULL) {
		c->oldest = e;
	}
}

/* The slot pointing at the entry for key (or at the chain's NULL end). */
static struct entry **
slot_find(struct sc_cache *c, uint64_t h, const void *key, size_t klen,
          size_t *chain)
{
	struct entry **pp = &c->buckets[h & (c->nbuckets - 1)];

	*chain = 0;
	for (; *pp != NULL; pp = &(*pp)->chain, (*chain)++) {
		struct entry *e = *pp;
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, key, klen) == 0) {
			break;
		}
	}
	return pp;
}

/* Unlink the entry at *pp from its bucket and the use order; free it. */
static void
entry_remove(struct sc_cache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->chain;
	lru_unlink(c, e);
	c->bytes -= entry_cost(e->klen, e->vlen);
	c->entries--;
	free(e);
}

static void
entry_evict(struct sc_cache *c, struct entry *e)
{
	size_t chain;

	entry_remove(c, slot_find(c, e->hash, e->data, e->klen, &chain));
	c->stats.evictions++;
}

static void
buckets_grow(struct sc_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct entry **b = sc_calloc(n, sizeof *b);

	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->chain;
			e->chain = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

void
sc_cache_clear(struct sc_cache *c)
{
	struct entry *e, *next;

	for (e = c->newest; e != NULL; e = next) {
		next = e->older;
		free(e);
	}
	memset(c->buckets, 0, c->nbuckets * sizeof *c->buckets);
	c->newest = c->oldest = NULL;
	c->bytes = 0;
	c->entries = 0;
	c->gen++;
	c->stats.clears++;
}

void
sc_cache_free(struct sc_cache *c)
{
	if (c == NULL) {
		return;
	}
	sc_cache_clear(c);
	free(c->buckets);
	free(c);
}

uint64_t
sc_cache_gen(const struct sc_cache *c)
{
	return c->gen;
}

const void *
sc_cache_get(struct sc_cache *c, const void *key, size_t klen, size_t *len)
{
	uint64_t h;
	size_t chain;
	struct entry **pp, *e;

	if (!c->on) {
		return NULL;
	}
	h = key_hash(key, klen);
	pp = slot_find(c, h, key, klen, &chain);
	e = *pp;
	if (e != NULL && e->expires_ms != 0 && sc_clock_ms() >= e->expires_ms) {
		entry_remove(c, pp);
		e = NULL;
	}
	if (e == NULL) {
		c->stats.misses++;
		return NULL;
	}
	c->stats.hits++;
	lru_unlink(c, e);
	lru_push_newest(c, e);
	*len = e->vlen;
	return e->data + e->klen;
}

bool
sc_cache_put(struct sc_cache *c, uint64_t gen, const void *key, size_t klen,
             const void *value, size_t len, int64_t ttl_ms)
{
	size_t cost = entry_cost(klen, len), chain;
	struct entry **pp, *e;
	uint64_t h;

	if (!c->on || gen != c->gen || cost > c->max_bytes / 4) {
		return false;
	}
	h = key_hash(key, klen);
	pp = slot_find(c, h, key, klen, &chain);
	if (*pp != NULL) {
		entry_remove(c, pp);
		pp = slot_find(c, h, key, klen, &chain);
	}
	if (chain >= CACHE_MAX_CHAIN) {
		return false;
	}
	while (c->bytes + cost > c->max_bytes && c->oldest != NULL) {
		entry_evict(c, c->oldest);
	}
	e = sc_malloc(sizeof *e + klen + len);
	e->hash = h;
	e->klen = klen;
	e->vlen = len;
	e->expires_ms = ttl_ms > 0 ? sc_clock_ms() + ttl_ms : 0;
	memcpy(e->data, key, klen);
	if (len > 0) {
		memcpy(e->data + klen, value, len);
	}
	/* At the bucket's head: evictions may have changed its chain. */
	pp = &c->buckets[h & (c->nbuckets - 1)];
	e->chain = *pp;
	*pp = e;
	lru_push_newest(c, e);
	c->bytes += cost;
	c->entries++;
	c->stats.stores++;
	if (c->entries > c->nbuckets) {
		buckets_grow(c);
	}
	return true;
}

void
sc_cache_enable(struct sc_cache *c, bool on)
{
	sc_cache_clear(c);
	c->on = on;
}

bool
sc_cache_enabled(const struct sc_cache *c)
{
	return c->on;
}

void
sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *out)
{
	*out = c->stats;
	out->entries = c->entries;
	out->bytes = c->bytes;
}
