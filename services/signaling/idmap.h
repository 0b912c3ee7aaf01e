/* idmap.h: a hash map from a pair of 64-bit ids to a pointer (open
 * addressing, linear probing, backward-shift deletion): the index behind
 * presence (room -> users), the caches (event and user, match) and the
 * per-room user lists. Pure; no allocation beyond its own table. */
#ifndef SG_IDMAP_H
#define SG_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sg_idmap_slot {
	uint64_t a, b;
	void *val;
	bool used;
};

/* Embedded in its owner: init, use, release. */
struct sg_idmap {
	struct sg_idmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

void sg_idmap_init(struct sg_idmap *m);
/* Frees the table (not the values: the owner frees those first). */
void sg_idmap_release(struct sg_idmap *m);

/* The value stored under (a, b), or NULL when absent. Borrowed. */
void *sg_idmap_get(const struct sg_idmap *m, uint64_t a, uint64_t b);

/* Store val (not NULL; borrowed, the owner keeps track of it) under (a, b),
 * replacing what was there. Returns the previous value or NULL. */
void *sg_idmap_put(struct sg_idmap *m, uint64_t a, uint64_t b, void *val);

/* Remove (a, b). Returns the value removed, or NULL when absent. */
void *sg_idmap_del(struct sg_idmap *m, uint64_t a, uint64_t b);

/* Entries stored. */
size_t sg_idmap_count(const struct sg_idmap *m);

/* Iterate: start with *pos = 0; each call returns true with the next
 * entry (key in a, b; value in val) or false at the end. The map must not
 * change during an iteration (collect keys, then delete). */
bool sg_idmap_next(const struct sg_idmap *m, size_t *pos, uint64_t *a,
                   uint64_t *b, void **val);

#endif
