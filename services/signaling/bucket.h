/* bucket.h: a token bucket per socket and kind of event (all events,
 * chat messages, WebRTC signals): `rate` tokens a second up to `burst`;
 * an event takes one token or is refused, never queued. Pure: the caller
 * passes the time (milliseconds on a monotonic clock). */
#ifndef SG_BUCKET_H
#define SG_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* The limit: rate tokens per second (> 0), at most burst (>= 1) saved. */
struct sg_rate {
	double rate;
	double burst;
};

/* One bucket, embedded in its owner. */
struct sg_bucket {
	double tokens;
	int64_t last_ms;
};

/* A full bucket at now_ms. */
void sg_bucket_init(struct sg_bucket *b, const struct sg_rate *r,
                    int64_t now_ms);

/* Take one token at now_ms: true when there was one. When not, nothing is
 * taken and *retry_ms (may be NULL) gets the milliseconds until there is
 * one (at least 1). A clock that goes back is treated as standing still. */
bool sg_bucket_take(struct sg_bucket *b, const struct sg_rate *r,
                    int64_t now_ms, int64_t *retry_ms);

#endif
