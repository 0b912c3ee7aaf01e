/* ratelimit_test.c: limits, sliding windows, reset and bounded memory. */
#include "ratelimit.h"

#include <stdio.h>

#include "testing.h"

/* A window start far from zero, so tests do not rely on the epoch. */
#define T0 ((time_t)1700000040) /* a multiple of 60 */

START_TEST(allows_limit_hits_then_refuses_with_retry_after)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(5, 60);
	int retry = -1;
	time_t now = T0 + 10;

	for (int i = 0; i < 5; i++) {
		ck_assert(sc_ratelimit_check(rl, "10.0.0.1", now, &retry));
		sc_ratelimit_hit(rl, "10.0.0.1", now);
	}
	ck_assert(!sc_ratelimit_check(rl, "10.0.0.1", now, &retry));
	ck_assert_int_gt(retry, 0);
	ck_assert_int_le(retry, 2 * 60);
	/* The retry-after is exact: one second earlier is still refused. */
	ck_assert(sc_ratelimit_check(rl, "10.0.0.1", now + retry, NULL));
	ck_assert(!sc_ratelimit_check(rl, "10.0.0.1", now + retry - 1, NULL));
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(check_does_not_count)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(1, 60);

	for (int i = 0; i < 10; i++) {
		ck_assert(sc_ratelimit_check(rl, "k", T0, NULL));
	}
	sc_ratelimit_hit(rl, "k", T0);
	ck_assert(!sc_ratelimit_check(rl, "k", T0, NULL));
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(keys_are_independent)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(2, 60);

	sc_ratelimit_hit(rl, "alice", T0);
	sc_ratelimit_hit(rl, "alice", T0);
	ck_assert(!sc_ratelimit_check(rl, "alice", T0, NULL));
	ck_assert(sc_ratelimit_check(rl, "bob", T0, NULL));
	ck_assert(sc_ratelimit_check(rl, "alic", T0, NULL));
	ck_assert(sc_ratelimit_check(rl, "alice ", T0, NULL));
	sc_ratelimit_hit(rl, "bob", T0);
	ck_assert(sc_ratelimit_check(rl, "bob", T0, NULL));
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(window_slides_with_previous_hits_weighted)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(10, 60);
	int retry = 0;

	/* 10 hits late in one window. */
	for (int i = 0; i < 10; i++) {
		sc_ratelimit_hit(rl, "k", T0 + 50);
	}
	/* Right after the boundary they still count in full: a fixed window
	 * would let 10 more through here. */
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 60, &retry));
	ck_assert_int_gt(retry, 0);
	/* Half way through the next window they weigh 5. */
	ck_assert(sc_ratelimit_check(rl, "k", T0 + 90, NULL));
	for (int i = 0; i < 4; i++) {
		sc_ratelimit_hit(rl, "k", T0 + 90);
	}
	/* 10 * 30/60 + 4 = 9: one more fits, then 10 is the limit. */
	ck_assert(sc_ratelimit_check(rl, "k", T0 + 90, NULL));
	sc_ratelimit_hit(rl, "k", T0 + 90);
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 90, &retry));
	/* 10 * 24/60 + 5 = 9 at T0 + 96: allowed again. */
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 95, NULL));
	ck_assert(sc_ratelimit_check(rl, "k", T0 + 96, NULL));
	ck_assert_int_eq(retry, 6);
	/* Two windows later everything has gone. */
	for (int i = 0; i < 10; i++) {
		ck_assert(sc_ratelimit_check(rl, "k", T0 + 180, NULL));
		sc_ratelimit_hit(rl, "k", T0 + 180);
	}
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 180, NULL));
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(retry_after_waits_for_next_window_when_current_is_full)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(5, 60);
	int retry = 0;

	for (int i = 0; i < 5; i++) {
		sc_ratelimit_hit(rl, "k", T0 + 1);
	}
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 1, &retry));
	/* Next window: 5 * (60 - d) / 60 <= 4 from d = 12 on. */
	ck_assert_int_eq(retry, 60 - 1 + 12);
	ck_assert(!sc_ratelimit_check(rl, "k", T0 + 71, NULL));
	ck_assert(sc_ratelimit_check(rl, "k", T0 + 72, NULL));
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(reset_forgets_the_key)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(3, 600);
	size_t keys = 0;

	for (int i = 0; i < 3; i++) {
		sc_ratelimit_hit(rl, "acct:7", T0);
		sc_ratelimit_hit(rl, "acct:8", T0);
	}
	ck_assert(!sc_ratelimit_check(rl, "acct:7", T0, NULL));
	sc_ratelimit_reset(rl, "acct:7");
	ck_assert(sc_ratelimit_check(rl, "acct:7", T0, NULL));
	ck_assert(!sc_ratelimit_check(rl, "acct:8", T0, NULL));
	sc_ratelimit_stats(rl, &keys, NULL);
	ck_assert_uint_eq(keys, 1);
	sc_ratelimit_reset(rl, "never-seen");
	sc_ratelimit_stats(rl, &keys, NULL);
	ck_assert_uint_eq(keys, 1);
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(many_keys_stay_distinct_through_growth_and_deletes)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(2, 600);
	char key[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "ip-%d", i);
		sc_ratelimit_hit(rl, key, T0);
	}
	/* Delete every third key, then check every key's state survived the
	 * growth and the backward shifts. */
	for (int i = 0; i < 5000; i += 3) {
		snprintf(key, sizeof key, "ip-%d", i);
		sc_ratelimit_reset(rl, key);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "ip-%d", i);
		sc_ratelimit_hit(rl, key, T0);
		ck_assert_msg(sc_ratelimit_check(rl, key, T0, NULL) ==
		                  (i % 3 == 0),
		              "key %s", key);
	}
	sc_ratelimit_free(rl);
}
END_TEST

START_TEST(idle_keys_are_swept_so_memory_stays_bounded)
{
	struct sc_ratelimit *rl = sc_ratelimit_new(5, 10);
	size_t keys = 0, slots = 0, max_keys = 0, max_slots = 0;
	char key[32];
	int n = 0;

	/* 1000 new keys every second for 200 seconds: 200,000 keys, of
	 * which only the last two or three windows' (at most 30,000) may
	 * still be held. */
	for (time_t t = T0; t < T0 + 200; t++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(key, sizeof key, "10.%d.%d.%d", n >> 16,
			         (n >> 8) & 255, n & 255);
			n++;
			sc_ratelimit_hit(rl, key, t);
		}
		sc_ratelimit_stats(rl, &keys, &slots);
		max_keys = keys > max_keys ? keys : max_keys;
		max_slots = slots > max_slots ? slots : max_slots;
	}
	ck_assert_uint_le(max_keys, 40000);
	ck_assert_uint_le(max_slots, 131072);
	/* When everyone has gone quiet, one hit later sweeps the rest and
	 * the table shrinks. */
	sc_ratelimit_hit(rl, "last", T0 + 1000);
	sc_ratelimit_stats(rl, &keys, &slots);
	ck_assert_uint_eq(keys, 1);
	ck_assert_uint_le(slots, 64);
	sc_ratelimit_free(rl);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, allows_limit_hits_then_refuses_with_retry_after);
	tcase_add_test(tc, check_does_not_count);
	tcase_add_test(tc, keys_are_independent);
	tcase_add_test(tc, window_slides_with_previous_hits_weighted);
	tcase_add_test(tc,
	               retry_after_waits_for_next_window_when_current_is_full);
	tcase_add_test(tc, reset_forgets_the_key);
	tcase_add_test(tc, many_keys_stay_distinct_through_growth_and_deletes);
	tcase_add_test(tc, idle_keys_are_swept_so_memory_stays_bounded);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(ratelimit_suite)
