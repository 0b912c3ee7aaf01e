/* cache_test.c: storing and finding, generations, enable/disable, expiry,
 * the byte bound with LRU eviction, and growth through many keys. */
#include "cache.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testing.h"

static struct sc_cache *
cache_on(size_t max)
{
	struct sc_cache *c = sc_cache_new(max);
	sc_cache_enable(c, true);
	return c;
}

static bool
put_str(struct sc_cache *c, const char *k, const char *v)
{
	return sc_cache_put(c, sc_cache_gen(c), k, strlen(k), v, strlen(v), 0);
}

/* The value under k as a string ("" stands for none). */
static const char *
get_str(struct sc_cache *c, const char *k)
{
	static char buf[256];
	size_t len = 0;
	const void *v = sc_cache_get(c, k, strlen(k), &len);

	if (v == NULL) {
		return "";
	}
	ck_assert_uint_lt(len, sizeof buf);
	memcpy(buf, v, len);
	buf[len] = '\0';
	return buf;
}

START_TEST(stores_copies_and_finds_them_by_exact_key)
{
	struct sc_cache *c = cache_on(1 << 20);
	char v[] = "first";

	ck_assert(put_str(c, "k1", v));
	v[0] = 'X'; /* the cache holds its own copy */
	ck_assert_str_eq(get_str(c, "k1"), "first");
	ck_assert_str_eq(get_str(c, "k"), "");
	ck_assert_str_eq(get_str(c, "k12"), "");
	ck_assert(put_str(c, "k1", "second"));
	ck_assert_str_eq(get_str(c, "k1"), "second");

	struct sc_cache_stats st;
	sc_cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.hits, 2);
	ck_assert_uint_eq(st.misses, 2);
	sc_cache_free(c);
}
END_TEST

START_TEST(a_new_cache_is_disabled_and_disabling_empties_it)
{
	struct sc_cache *c = sc_cache_new(1 << 20);

	ck_assert(!sc_cache_enabled(c));
	ck_assert(!put_str(c, "k", "v"));
	sc_cache_enable(c, true);
	ck_assert(put_str(c, "k", "v"));
	ck_assert_str_eq(get_str(c, "k"), "v");
	sc_cache_enable(c, false);
	ck_assert_str_eq(get_str(c, "k"), "");
	/* Enabled again, it starts empty: what was there may be stale. */
	sc_cache_enable(c, true);
	ck_assert_str_eq(get_str(c, "k"), "");
	sc_cache_free(c);
}
END_TEST

START_TEST(a_put_from_before_a_clear_is_dropped)
{
	struct sc_cache *c = cache_on(1 << 20);
	uint64_t before = sc_cache_gen(c);

	ck_assert(put_str(c, "a", "1"));
	sc_cache_clear(c); /* a change notification while a query ran */
	ck_assert_str_eq(get_str(c, "a"), "");
	ck_assert(!sc_cache_put(c, before, "b", 1, "2", 1, 0));
	ck_assert_str_eq(get_str(c, "b"), "");
	ck_assert(sc_cache_put(c, sc_cache_gen(c), "b", 1, "3", 1, 0));
	ck_assert_str_eq(get_str(c, "b"), "3");
	sc_cache_free(c);
}
END_TEST

START_TEST(entries_expire_after_their_ttl)
{
	struct sc_cache *c = cache_on(1 << 20);
	struct timespec pause = {0, 60 * 1000 * 1000};

	ck_assert(sc_cache_put(c, sc_cache_gen(c), "short", 5, "v", 1, 20));
	ck_assert(sc_cache_put(c, sc_cache_gen(c), "long", 4, "w", 1, 60000));
	ck_assert_str_eq(get_str(c, "short"), "v");
	nanosleep(&pause, NULL);
	ck_assert_str_eq(get_str(c, "short"), "");
	ck_assert_str_eq(get_str(c, "long"), "w");

	struct sc_cache_stats st;
	sc_cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 1);
	sc_cache_free(c);
}
END_TEST

START_TEST(the_byte_bound_evicts_the_least_recently_used)
{
	/* Room for a handful of 100-byte values only. */
	struct sc_cache *c = cache_on(1000);
	char v[101], k[16];
	struct sc_cache_stats st;

	memset(v, 'x', 100);
	v[100] = '\0';
	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert(put_str(c, k, v));
	}
	ck_assert_str_eq(get_str(c, "k0"), v); /* k0 is now the newest */
	for (int i = 4; i < 20; i++) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert(put_str(c, k, v));
		sc_cache_stats(c, &st);
		ck_assert_uint_le(st.bytes, 1000);
		ck_assert_str_eq(get_str(c, "k0"), v); /* kept: in use */
	}
	ck_assert_str_eq(get_str(c, "k1"), "");
	ck_assert_str_eq(get_str(c, "k19"), v);
	sc_cache_stats(c, &st);
	ck_assert_uint_gt(st.evictions, 0);
	/* One value over a quarter of the bound is not stored at all. */
	char big[400];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert(!put_str(c, "big", big));
	ck_assert_str_eq(get_str(c, "k19"), v);
	sc_cache_free(c);
}
END_TEST

START_TEST(a_zero_bound_never_stores)
{
	struct sc_cache *c = cache_on(0);

	ck_assert(!put_str(c, "k", "v"));
	ck_assert_str_eq(get_str(c, "k"), "");
	sc_cache_free(c);
}
END_TEST

START_TEST(many_keys_stay_distinct_through_growth)
{
	struct sc_cache *c = cache_on(64u << 20);
	char k[32], v[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof k, "key-%d", i);
		snprintf(v, sizeof v, "value-%d", i * 7);
		ck_assert(put_str(c, k, v));
	}
	for (int i = 0; i < 20000; i += 97) {
		snprintf(k, sizeof k, "key-%d", i);
		snprintf(v, sizeof v, "value-%d", i * 7);
		ck_assert_str_eq(get_str(c, k), v);
	}
	/* Binary keys with NULs are keys like any other. */
	ck_assert(sc_cache_put(c, sc_cache_gen(c), "a\0b", 3, "1", 1, 0));
	ck_assert(sc_cache_put(c, sc_cache_gen(c), "a\0c", 3, "2", 1, 0));
	size_t len;
	const char *got = sc_cache_get(c, "a\0c", 3, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(got[0], '2');

	struct sc_cache_stats st;
	sc_cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 20002);
	sc_cache_clear(c);
	sc_cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	sc_cache_free(c);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, stores_copies_and_finds_them_by_exact_key);
	tcase_add_test(tc, a_new_cache_is_disabled_and_disabling_empties_it);
	tcase_add_test(tc, a_put_from_before_a_clear_is_dropped);
	tcase_add_test(tc, entries_expire_after_their_ttl);
	tcase_add_test(tc, the_byte_bound_evicts_the_least_recently_used);
	tcase_add_test(tc, a_zero_bound_never_stores);
	tcase_add_test(tc, many_keys_stay_distinct_through_growth);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(cache_suite)
