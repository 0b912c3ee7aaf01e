/* cache.h: a bounded in-memory cache of derived bytes (rendered pages, id
 * sets) for a daemon's hot reads, emptied as a whole when the data under
 * it changes.
 *
 * Keys and values are byte strings, copied in. Size is bounded by bytes
 * (keys + values + a per-entry overhead); past it the least recently used
 * entries go. Each entry may also have a time to live.
 *
 * Staleness is the caller's to prevent, in this order:
 *  - take sc_cache_gen() BEFORE starting the work (the query) whose result
 *    will be stored, and pass it to sc_cache_put(): a put whose generation
 *    is no longer current is dropped, since a change came in meanwhile and
 *    the result may predate it;
 *  - sc_cache_clear() on every change notification (it bumps the
 *    generation);
 *  - sc_cache_enable(c, false) while notifications may be missed (the
 *    notifying connection is down): nothing is served or stored until it
 *    is enabled again, which starts empty.
 * A new cache is disabled. Not thread-safe: one loop thread. */
#ifndef SC_CACHE_H
#define SC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_cache;

/* A cache holding at most `max_bytes`; 0 makes one that never stores.
 * Caller owns; free with sc_cache_free(). */
struct sc_cache *sc_cache_new(size_t max_bytes);
void sc_cache_free(struct sc_cache *c);

/* The current generation, for a later sc_cache_put(). */
uint64_t sc_cache_gen(const struct sc_cache *c);

/* The value under key, or NULL (absent, expired, or the cache disabled).
 * *len gets its length. Borrowed: valid until the next call that changes
 * the cache (put, clear, enable, free). */
const void *sc_cache_get(struct sc_cache *c, const void *key, size_t klen,
                         size_t *len);

/* Store a copy of value under key (replacing any), to live ttl_ms
 * milliseconds (0: until cleared or evicted), unless gen is stale, the
 * cache is disabled, or the entry alone is over a quarter of max_bytes.
 * Returns whether it was stored. */
bool sc_cache_put(struct sc_cache *c, uint64_t gen, const void *key,
                  size_t klen, const void *value, size_t len, int64_t ttl_ms);

/* Drop every entry and bump the generation. */
void sc_cache_clear(struct sc_cache *c);

/* Enable or disable; either way the cache is cleared. */
void sc_cache_enable(struct sc_cache *c, bool on);
bool sc_cache_enabled(const struct sc_cache *c);

struct sc_cache_stats {
	uint64_t hits, misses, stores, evictions, clears;
	size_t entries, bytes;
};
void sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *out);

#endif
