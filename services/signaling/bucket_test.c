/* bucket_test.c: the per-socket token bucket. */
#include "bucket.h"
#include "testing.h"

static const struct sg_rate ten = {10.0, 20.0}; /* 10/s, burst 20 */

START_TEST(a_full_bucket_allows_the_burst_then_refuses)
{
	struct sg_bucket b;
	int64_t retry = 0;

	sg_bucket_init(&b, &ten, 1000);
	for (int i = 0; i < 20; i++) {
		ck_assert_msg(sg_bucket_take(&b, &ten, 1000, NULL), "take %d",
		              i);
	}
	ck_assert(!sg_bucket_take(&b, &ten, 1000, &retry));
	/* one token comes back every 100 ms */
	ck_assert_int_eq(retry, 100);
}
END_TEST

START_TEST(tokens_come_back_at_the_rate)
{
	struct sg_bucket b;
	int64_t retry = 0;

	sg_bucket_init(&b, &ten, 0);
	for (int i = 0; i < 20; i++) {
		sg_bucket_take(&b, &ten, 0, NULL);
	}
	ck_assert(!sg_bucket_take(&b, &ten, 50, &retry));
	ck_assert_int_eq(retry, 50);
	ck_assert(sg_bucket_take(&b, &ten, 100, NULL));
	ck_assert(!sg_bucket_take(&b, &ten, 100, NULL));
	/* a second brings 10 */
	for (int i = 0; i < 10; i++) {
		ck_assert(sg_bucket_take(&b, &ten, 1100, NULL));
	}
	ck_assert(!sg_bucket_take(&b, &ten, 1100, NULL));
}
END_TEST

START_TEST(an_idle_bucket_saves_no_more_than_the_burst)
{
	struct sg_bucket b;
	int n = 0;

	sg_bucket_init(&b, &ten, 0);
	sg_bucket_take(&b, &ten, 0, NULL);
	while (sg_bucket_take(&b, &ten, 3600000, NULL)) {
		n++;
	}
	ck_assert_int_eq(n, 20);
}
END_TEST

START_TEST(a_clock_going_back_gives_nothing)
{
	struct sg_bucket b;

	sg_bucket_init(&b, &ten, 5000);
	for (int i = 0; i < 20; i++) {
		sg_bucket_take(&b, &ten, 5000, NULL);
	}
	ck_assert(!sg_bucket_take(&b, &ten, 0, NULL));
	ck_assert(!sg_bucket_take(&b, &ten, 5050, NULL));
	ck_assert(sg_bucket_take(&b, &ten, 5100, NULL));
}
END_TEST

START_TEST(a_slow_rate_says_how_long_to_wait)
{
	const struct sg_rate slow = {0.5, 1.0}; /* one per 2 s */
	struct sg_bucket b;
	int64_t retry = 0;

	sg_bucket_init(&b, &slow, 0);
	ck_assert(sg_bucket_take(&b, &slow, 0, NULL));
	ck_assert(!sg_bucket_take(&b, &slow, 500, &retry));
	ck_assert_int_eq(retry, 1500);
}
END_TEST

static Suite *
bucket_suite(void)
{
	Suite *s = suite_create("bucket");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_full_bucket_allows_the_burst_then_refuses);
	tcase_add_test(tc, tokens_come_back_at_the_rate);
	tcase_add_test(tc, an_idle_bucket_saves_no_more_than_the_burst);
	tcase_add_test(tc, a_clock_going_back_gives_nothing);
	tcase_add_test(tc, a_slow_rate_says_how_long_to_wait);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(bucket_suite)
