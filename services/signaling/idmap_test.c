/* idmap_test.c: the pair-keyed hash map, against a plain array model
 * under random insertions and deletions (deletion shifts runs back). */
#include <stdlib.h>

#include "idmap.h"
#include "testing.h"

START_TEST(put_get_replace_and_delete)
{
	struct sg_idmap m;
	int a = 1, b = 2;

	sg_idmap_init(&m);
	ck_assert_ptr_null(sg_idmap_get(&m, 1, 2));
	ck_assert_ptr_null(sg_idmap_put(&m, 1, 2, &a));
	ck_assert_ptr_eq(sg_idmap_get(&m, 1, 2), &a);
	/* the pair is the key: (2, 1) is another entry */
	ck_assert_ptr_null(sg_idmap_get(&m, 2, 1));
	ck_assert_ptr_eq(sg_idmap_put(&m, 1, 2, &b), &a);
	ck_assert_ptr_eq(sg_idmap_get(&m, 1, 2), &b);
	ck_assert_uint_eq(sg_idmap_count(&m), 1);
	ck_assert_ptr_eq(sg_idmap_del(&m, 1, 2), &b);
	ck_assert_ptr_null(sg_idmap_del(&m, 1, 2));
	ck_assert_uint_eq(sg_idmap_count(&m), 0);
	sg_idmap_release(&m);
}
END_TEST

#define KEYS 512

START_TEST(random_churn_agrees_with_a_model)
{
	static int vals[KEYS];
	bool present[KEYS] = {false};
	struct sg_idmap m;
	size_t n = 0;

	srand(12345);
	sg_idmap_init(&m);
	for (int step = 0; step < 200000; step++) {
		int k = rand() % KEYS;
		/* keys that collide in the low bits of either half */
		uint64_t a = (uint64_t)(k % 7) << 40, b = (uint64_t)k * 1024;

		if (rand() % 3 != 0) {
			void *prev = sg_idmap_put(&m, a, b, &vals[k]);
			ck_assert_ptr_eq(prev, present[k] ? &vals[k] : NULL);
			n += !present[k];
			present[k] = true;
		} else {
			void *old = sg_idmap_del(&m, a, b);
			ck_assert_ptr_eq(old, present[k] ? &vals[k] : NULL);
			n -= present[k];
			present[k] = false;
		}
		if (step % 997 == 0) {
			for (int j = 0; j < KEYS; j++) {
				uint64_t ja = (uint64_t)(j % 7) << 40;
				uint64_t jb = (uint64_t)j * 1024;
				ck_assert_ptr_eq(sg_idmap_get(&m, ja, jb),
				                 present[j] ? &vals[j] : NULL);
			}
		}
		ck_assert_uint_eq(sg_idmap_count(&m), n);
	}
	sg_idmap_release(&m);
}
END_TEST

START_TEST(iteration_visits_every_entry_once)
{
	struct sg_idmap m;
	static int vals[100];
	int seen[100] = {0};
	size_t pos = 0;
	uint64_t a, b;
	void *v;

	sg_idmap_init(&m);
	for (int i = 0; i < 100; i++) {
		sg_idmap_put(&m, (uint64_t)i, 7, &vals[i]);
	}
	while (sg_idmap_next(&m, &pos, &a, &b, &v)) {
		ck_assert_uint_eq(b, 7);
		ck_assert_ptr_eq(v, &vals[a]);
		seen[a]++;
	}
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(seen[i], 1);
	}
	sg_idmap_release(&m);
}
END_TEST

static Suite *
idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, put_get_replace_and_delete);
	tcase_add_test(tc, random_churn_agrees_with_a_model);
	tcase_add_test(tc, iteration_visits_every_entry_once);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(idmap_suite)
