/* ratelimit.h: in-memory sliding-window rate limits keyed by string (an IP,
 * an account), for one daemon process. Approximates a sliding window with
 * two fixed windows (the previous window's count weighted by overlap), so
 * memory is one small entry per active key; idle keys are swept. */
#ifndef SC_RATELIMIT_H
#define SC_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sc_ratelimit;

/* At most `limit` hits per `window_s` seconds per key. Caller owns; free
 * with sc_ratelimit_free(). */
struct sc_ratelimit *sc_ratelimit_new(int limit, int window_s);
void sc_ratelimit_free(struct sc_ratelimit *rl);

/* Would one more hit for `key` at `now` stay within the limit? Does not
 * count. When not, *retry_after_s (may be NULL) gets the seconds to wait. */
bool sc_ratelimit_check(struct sc_ratelimit *rl, const char *key, time_t now,
                        int *retry_after_s);

/* Count a hit for `key` at `now`. */
void sc_ratelimit_hit(struct sc_ratelimit *rl, const char *key, time_t now);

/* Forget `key` (e.g. after a successful login). */
void sc_ratelimit_reset(struct sc_ratelimit *rl, const char *key);

/* For tests and metrics: the keys tracked now and the hash table's slots
 * (memory is about slots * 32 bytes plus the keys). Either may be NULL. */
void sc_ratelimit_stats(const struct sc_ratelimit *rl, size_t *keys,
                        size_t *slots);

#endif
