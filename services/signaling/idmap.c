/* idmap.c: open addressing with linear probing; deletion shifts the run
 * after the hole back, so there are no tombstones and lookups stay short
 * however many entries come and go (presence churns all day). */
#include "idmap.h"

#include <stdlib.h>

#include "alloc.h"

#define MIN_CAP 16

/* splitmix64's finaliser over both ids: well mixed low bits for the mask. */
static uint64_t
mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void
sg_idmap_init(struct sg_idmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

void
sg_idmap_release(struct sg_idmap *m)
{
	free(m->slots);
	sg_idmap_init(m);
}

static size_t
find(const struct sg_idmap *m, uint64_t a, uint64_t b, bool *found)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)mix(a, b) & mask;

	while (m->slots[i].used) {
		if (m->slots[i].a == a && m->slots[i].b == b) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static void
grow(struct sg_idmap *m)
{
	struct sg_idmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	size_t cap = oldcap > 0 ? oldcap * 2 : MIN_CAP;

	m->slots = sc_calloc(cap, sizeof(*m->slots));
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		bool found;

		if (old[i].used) {
			size_t j = find(m, old[i].a, old[i].b, &found);
			m->slots[j] = old[i];
		}
	}
	free(old);
}

void *
sg_idmap_get(const struct sg_idmap *m, uint64_t a, uint64_t b)
{
	bool found;
	size_t i;

	if (m->n == 0) {
		return NULL;
	}
	i = find(m, a, b, &found);
	return found ? m->slots[i].val : NULL;
}

void *
sg_idmap_put(struct sg_idmap *m, uint64_t a, uint64_t b, void *val)
{
	bool found;
	size_t i;

	/* load factor at most 1/2 */
	if ((m->n + 1) * 2 > m->cap) {
		grow(m);
	}
	i = find(m, a, b, &found);
	if (found) {
		void *prev = m->slots[i].val;
		m->slots[i].val = val;
		return prev;
	}
	m->slots[i] = (struct sg_idmap_slot){a, b, val, true};
	m->n++;
	return NULL;
}

void *
sg_idmap_del(struct sg_idmap *m, uint64_t a, uint64_t b)
{
	size_t mask, i, j;
	bool found;
	void *val;

	if (m->n == 0) {
		return NULL;
	}
	i = find(m, a, b, &found);
	if (!found) {
		return NULL;
	}
	val = m->slots[i].val;
	mask = m->cap - 1;
	/* Move back every later entry of the run whose home is not between
	 * the hole and itself (cyclically). */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!m->slots[j].used) {
			break;
		}
		home = (size_t)mix(m->slots[j].a, m->slots[j].b) & mask;
		if (i <= j ? (i < home && home <= j)
		           : (i < home || home <= j)) {
			continue;
		}
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->slots[i].used = false;
	m->slots[i].val = NULL;
	m->n--;
	return val;
}

size_t
sg_idmap_count(const struct sg_idmap *m)
{
	return m->n;
}

bool
sg_idmap_next(const struct sg_idmap *m, size_t *pos, uint64_t *a, uint64_t *b,
              void **val)
{
	while (*pos < m->cap) {
		const struct sg_idmap_slot *s = &m->slots[(*pos)++];

		if (s->used) {
			*a = s->a;
			*b = s->b;
			*val = s->val;
			return true;
		}
	}
	return false;
}
