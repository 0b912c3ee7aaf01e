/* bucket.c: the token bucket (see bucket.h). Refilled lazily on each take,
 * so an idle socket costs nothing. */
#include "bucket.h"

#include <math.h>
#include <stddef.h>

void
sg_bucket_init(struct sg_bucket *b, const struct sg_rate *r, int64_t now_ms)
{
	b->tokens = r->burst;
	b->last_ms = now_ms;
}

bool
sg_bucket_take(struct sg_bucket *b, const struct sg_rate *r, int64_t now_ms,
               int64_t *retry_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * r->rate / 1000.0;
		if (b->tokens > r->burst) {
			b->tokens = r->burst;
		}
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	if (retry_ms != NULL) {
		double wait = ceil((1.0 - b->tokens) * 1000.0 / r->rate);
		*retry_ms = wait < 1.0 ? 1 : (int64_t)wait;
	}
	return false;
}
