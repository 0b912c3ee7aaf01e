/* profiles_test.c: the profile cache against a stand-in auth on a real
 * bus: hits are served without a request, misses batched by 100, unknown
 * ids absent, auth down reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "error.h"
#include "profiles.h"
#include "testing.h"

struct fixture {
	struct event_base *base;
	struct sc_bus *auth, *client;
	struct sc_profiles *profiles;
	int requests; /* auth.users.get calls answered */
	int max_ids;  /* largest ids array seen */
	int done, err;
	json_object *found;
	char dir[64];
};

/* Stand-in auth: users exist for ids 1..500. */
static void
users_get_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct fixture *f = arg;
	json_object *ids, *users = json_object_new_array();

	f->requests++;
	json_object_object_get_ex(data, "ids", &ids);
	int n = (int)json_object_array_length(ids);
	if (n > f->max_ids) {
		f->max_ids = n;
	}
	for (int i = 0; i < n; i++) {
		int64_t id =
		    json_object_get_int64(json_object_array_get_idx(ids, i));
		if (id >= 1 && id <= 500) {
			json_object *u = json_object_new_object();
			char name[32];
			snprintf(name, sizeof name, "user%lld", (long long)id);
			json_object_object_add(u, "id",
			                       json_object_new_int64(id));
			json_object_object_add(u, "username",
			                       json_object_new_string(name));
			json_object_array_add(users, u);
		}
	}
	json_object *out = json_object_new_object();
	json_object_object_add(out, "users", users);
	sc_bus_reply(req, out);
}

static void
got_cb(int err, json_object *found, void *arg)
{
	struct fixture *f = arg;
	f->done++;
	f->err = err;
	json_object_put(f->found);
	f->found = found ? json_object_get(found) : NULL;
	event_base_loopbreak(f->base);
}

static void
setup(struct fixture *f, bool with_auth)
{
	char url[128];

	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/sc-profiles-%d", (int)getpid());
	mkdir(f->dir, 0700);
	snprintf(url, sizeof url, "ipc://%s/auth-req", f->dir);
	setenv("SC_BUS_AUTH_REQ", url, 1);
	snprintf(url, sizeof url, "ipc://%s/auth-pub", f->dir);
	setenv("SC_BUS_AUTH_PUB", url, 1);
	setenv("SC_BUS_TIMEOUT_MS", "500", 1);
	f->base = event_base_new();
	if (with_auth) {
		f->auth = sc_bus_new(f->base, "auth");
		sc_bus_handle(f->auth, "auth.users.get", users_get_cb, f);
		ck_assert_int_eq(
		    sc_bus_listen(f->auth, getenv("SC_BUS_AUTH_REQ"), NULL),
		    SC_OK);
	}
	f->client = sc_bus_new(f->base, "events");
	f->profiles = sc_profiles_new(f->base, f->client, 30);
}

static void
teardown(struct fixture *f)
{
	sc_bus_free(f->client);
	sc_profiles_free(f->profiles);
	sc_bus_free(f->auth);
	json_object_put(f->found);
	event_base_free(f->base);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
get(struct fixture *f, const int64_t *ids, size_t n)
{
	int before = f->done;
	sc_profiles_get(f->profiles, ids, n, "test", got_cb, f);
	ck_assert_int_eq(f->done, before); /* never inside the call */
	while (f->done == before) {
		event_base_dispatch(f->base);
	}
}

START_TEST(misses_are_asked_once_and_hits_come_from_the_cache)
{
	struct fixture f;
	int64_t ids[] = {1, 2, 2, 3, 9999};

	setup(&f, true);
	get(&f, ids, 5);
	ck_assert_int_eq(f.err, SC_OK);
	ck_assert_int_eq(f.requests, 1);
	ck_assert_int_eq(f.max_ids, 4); /* 1, 2, 3, 9999: the duplicate once */
	ck_assert_int_eq(json_object_object_length(f.found), 3);
	json_object *u;
	ck_assert(json_object_object_get_ex(f.found, "2", &u));
	ck_assert_str_eq(
	    json_object_get_string(json_object_object_get(u, "username")),
	    "user2");
	ck_assert(!json_object_object_get_ex(f.found, "9999", NULL));

	int64_t again[] = {3, 1};
	get(&f, again, 2);
	ck_assert_int_eq(f.err, SC_OK);
	ck_assert_int_eq(f.requests, 1); /* all cached */
	ck_assert_int_eq(json_object_object_length(f.found), 2);
	teardown(&f);
}
END_TEST

START_TEST(many_misses_go_in_batches_of_100)
{
	struct fixture f;
	int64_t ids[250];

	for (int i = 0; i < 250; i++) {
		ids[i] = i + 1;
	}
	setup(&f, true);
	get(&f, ids, 250);
	ck_assert_int_eq(f.err, SC_OK);
	ck_assert_int_eq(f.requests, 3);
	ck_assert_int_eq(f.max_ids, 100);
	ck_assert_int_eq(json_object_object_length(f.found), 250);
	teardown(&f);
}
END_TEST

START_TEST(auth_down_is_reported_and_cached_ids_still_served)
{
	struct fixture f;
	int64_t ids[] = {7};

	setup(&f, false);
	get(&f, ids, 1);
	ck_assert(f.err == SC_EUNAVAIL || f.err == SC_ETIMEDOUT);
	ck_assert_ptr_null(f.found);

	int64_t none[] = {0};
	get(&f, none, 0); /* nothing to ask: fine without auth */
	ck_assert_int_eq(f.err, SC_OK);
	ck_assert_int_eq(json_object_object_length(f.found), 0);
	teardown(&f);
}
END_TEST

static Suite *
profiles_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("profiles");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, misses_are_asked_once_and_hits_come_from_the_cache);
	tcase_add_test(tc, many_misses_go_in_batches_of_100);
	tcase_add_test(tc, auth_down_is_reported_and_cached_ids_still_served);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(profiles_suite)
