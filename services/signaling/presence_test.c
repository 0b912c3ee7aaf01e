/* presence_test.c: who is in an event room, per user: several tabs count
 * once, the first arrives and the last leaves; lists stay right under
 * churn. */
#include <stdlib.h>

#include "presence.h"
#include "testing.h"

static json_object *
person(int64_t id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	return o;
}

/* The ids in the room's list, sorted into out; returns how many. */
static size_t
list_ids(struct sg_presence *p, int64_t room, int64_t *out, size_t max)
{
	json_object *l = sg_presence_list(p, room);
	size_t n = json_object_array_length(l);

	for (size_t i = 0; i < n && i < max; i++) {
		json_object *id;
		json_object_object_get_ex(json_object_array_get_idx(l, i), "id",
		                          &id);
		out[i] = json_object_get_int64(id);
	}
	json_object_put(l);
	for (size_t i = 1; i < n && i < max; i++) {
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int64_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	}
	return n;
}

START_TEST(the_first_tab_arrives_and_the_last_leaves)
{
	struct sg_presence *p = sg_presence_new();
	json_object *ana = person(1);

	ck_assert_int_eq(sg_presence_add(p, 10, 1, ana), 1);
	ck_assert_int_eq(sg_presence_add(p, 10, 1, ana), 2);
	ck_assert_int_eq(sg_presence_add(p, 10, 1, ana), 3);
	ck_assert_uint_eq(sg_presence_users(p, 10), 1);
	ck_assert_int_eq(sg_presence_remove(p, 10, 1), 2);
	ck_assert_int_eq(sg_presence_remove(p, 10, 1), 1);
	ck_assert_uint_eq(sg_presence_users(p, 10), 1);
	ck_assert_int_eq(sg_presence_remove(p, 10, 1), 0);
	ck_assert_uint_eq(sg_presence_users(p, 10), 0);
	ck_assert_uint_eq(sg_presence_rooms(p), 0);
	json_object_put(ana);
	sg_presence_free(p);
}
END_TEST

START_TEST(removing_someone_absent_changes_nothing)
{
	struct sg_presence *p = sg_presence_new();
	json_object *ana = person(1);

	ck_assert_int_eq(sg_presence_remove(p, 10, 1), -1);
	sg_presence_add(p, 10, 1, ana);
	ck_assert_int_eq(sg_presence_remove(p, 10, 2), -1);
	ck_assert_int_eq(sg_presence_remove(p, 11, 1), -1);
	ck_assert_int_eq(sg_presence_sockets(p, 10, 1), 1);
	json_object_put(ana);
	sg_presence_free(p);
}
END_TEST

START_TEST(rooms_are_independent)
{
	struct sg_presence *p = sg_presence_new();
	json_object *ana = person(1);

	ck_assert_int_eq(sg_presence_add(p, 10, 1, ana), 1);
	ck_assert_int_eq(sg_presence_add(p, 11, 1, ana), 1);
	ck_assert_uint_eq(sg_presence_rooms(p), 2);
	ck_assert_int_eq(sg_presence_remove(p, 10, 1), 0);
	ck_assert_int_eq(sg_presence_sockets(p, 11, 1), 1);
	ck_assert_uint_eq(sg_presence_rooms(p), 1);
	json_object_put(ana);
	sg_presence_free(p);
}
END_TEST

START_TEST(the_list_names_each_user_once_with_the_first_profile)
{
	struct sg_presence *p = sg_presence_new();
	json_object *a1 = person(1), *a2 = person(1), *bob = person(2), *l;
	int64_t ids[4];

	json_object_object_add(a1, "tab", json_object_new_int(1));
	sg_presence_add(p, 10, 1, a1);
	sg_presence_add(p, 10, 2, bob);
	sg_presence_add(p, 10, 1, a2);
	ck_assert_uint_eq(list_ids(p, 10, ids, 4), 2);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 2);
	l = sg_presence_list(p, 10);
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(l, 0),
	                                    "tab", NULL));
	json_object_put(l);
	/* an empty room lists nobody */
	ck_assert_uint_eq(list_ids(p, 99, ids, 4), 0);
	json_object_put(a1);
	json_object_put(a2);
	json_object_put(bob);
	sg_presence_free(p);
}
END_TEST

START_TEST(profiles_outlive_the_callers_reference)
{
	struct sg_presence *p = sg_presence_new();
	json_object *ana = person(1), *l;

	sg_presence_add(p, 10, 1, ana);
	json_object_put(ana); /* the socket that brought it is gone */
	l = sg_presence_list(p, 10);
	ck_assert_uint_eq(json_object_array_length(l), 1);
	ck_assert_ptr_nonnull(json_object_array_get_idx(l, 0));
	json_object_put(l);
	sg_presence_free(p); /* drops the last reference (ASan checks) */
}
END_TEST

#define USERS 40
#define ROOMS 5

START_TEST(random_churn_agrees_with_a_model)
{
	struct sg_presence *p = sg_presence_new();
	int sockets[ROOMS][USERS] = {{0}};
	json_object *people[USERS];
	int64_t ids[USERS];

	srand(777);
	for (int u = 0; u < USERS; u++) {
		people[u] = person(u + 1);
	}
	for (int step = 0; step < 50000; step++) {
		int r = rand() % ROOMS, u = rand() % USERS;

		if (rand() % 2 == 0) {
			int n = sg_presence_add(p, r + 1, u + 1, people[u]);
			ck_assert_int_eq(n, ++sockets[r][u]);
		} else {
			int n = sg_presence_remove(p, r + 1, u + 1);
			if (sockets[r][u] == 0) {
				ck_assert_int_eq(n, -1);
			} else {
				ck_assert_int_eq(n, --sockets[r][u]);
			}
		}
		if (step % 101 == 0) {
			size_t want = 0, got;
			for (int x = 0; x < USERS; x++) {
				want += sockets[r][x] > 0;
			}
			got = list_ids(p, r + 1, ids, USERS);
			ck_assert_uint_eq(got, want);
			ck_assert_uint_eq(sg_presence_users(p, r + 1), want);
			for (size_t i = 0, x = 0; x < USERS; x++) {
				if (sockets[r][x] > 0) {
					ck_assert_int_eq(ids[i++],
					                 (int64_t)x + 1);
				}
			}
		}
	}
	for (int u = 0; u < USERS; u++) {
		json_object_put(people[u]);
	}
	sg_presence_free(p);
}
END_TEST

/* What sg_presence_each saw: sum of room * 1000 + user, sockets, visits. */
struct walk {
	int64_t keys;
	int sockets;
	int visits;
	int with_profile;
};

static void
walk_cb(int64_t room, int64_t user, int sockets, json_object *profile,
        void *arg)
{
	struct walk *w = arg;

	w->keys += room * 1000 + user;
	w->sockets += sockets;
	w->visits++;
	w->with_profile += profile != NULL;
}

START_TEST(each_visits_every_user_of_every_room_once)
{
	struct sg_presence *p = sg_presence_new();
	json_object *ana = person(1);
	struct walk all = {0}, one = {0}, none = {0};

	sg_presence_add(p, 10, 1, ana);
	sg_presence_add(p, 10, 1, ana);
	sg_presence_add(p, 10, 2, NULL);
	sg_presence_add(p, 20, 1, ana);
	sg_presence_each(p, walk_cb, &all);
	ck_assert_int_eq(all.visits, 3);
	ck_assert_int_eq(all.keys, 10001 + 10002 + 20001);
	ck_assert_int_eq(all.sockets, 4);
	ck_assert_int_eq(all.with_profile, 2);
	sg_presence_room_each(p, 10, walk_cb, &one);
	ck_assert_int_eq(one.visits, 2);
	ck_assert_int_eq(one.keys, 10001 + 10002);
	sg_presence_room_each(p, 30, walk_cb, &none);
	ck_assert_int_eq(none.visits, 0);
	json_object_put(ana);
	sg_presence_free(p);
}
END_TEST

static Suite *
presence_suite(void)
{
	Suite *s = suite_create("presence");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, the_first_tab_arrives_and_the_last_leaves);
	tcase_add_test(tc, removing_someone_absent_changes_nothing);
	tcase_add_test(tc, rooms_are_independent);
	tcase_add_test(tc,
	               the_list_names_each_user_once_with_the_first_profile);
	tcase_add_test(tc, profiles_outlive_the_callers_reference);
	tcase_add_test(tc, random_churn_agrees_with_a_model);
	tcase_add_test(tc, each_visits_every_user_of_every_room_once);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(presence_suite)
