/* cluster_test.c: presence across signaling instances: deltas from several
 * instances merge into one view, a snapshot in parts replaces what an
 * instance said, a missed delta asks for a snapshot, a restart and a
 * silent instance make its users leave, and random traffic against a
 * model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "error.h"
#include "testing.h"

/* What the callback said: a log of changes and the set it implies. */
#define LOG_MAX 4096
struct change {
	enum sg_room_kind kind;
	int64_t room, user;
	bool present;
	bool had_person;
};

struct heard {
	struct change log[LOG_MAX];
	size_t n;
};

static void
heard_cb(enum sg_room_kind kind, int64_t room, int64_t user,
         json_object *person, bool present, void *arg)
{
	struct heard *h = arg;

	ck_assert_uint_lt(h->n, LOG_MAX);
	h->log[h->n++] =
	    (struct change){kind, room, user, present, person != NULL};
}

static json_object *
person(int64_t id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	return o;
}

static void
seen(struct sg_cluster *c, const char *id, int64_t now)
{
	ck_assert_int_eq(sg_cluster_seen(c, id, "boot1", now, 1000, NULL),
	                 SC_OK);
}

static void
expect(const struct heard *h, size_t i, enum sg_room_kind kind, int64_t room,
       int64_t user, bool present)
{
	ck_assert_uint_lt(i, h->n);
	ck_assert_int_eq(h->log[i].kind, kind);
	ck_assert_int_eq(h->log[i].room, room);
	ck_assert_int_eq(h->log[i].user, user);
	ck_assert_int_eq(h->log[i].present, present);
}

START_TEST(deltas_from_two_instances_merge_into_one_presence)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);
	json_object *ana = person(7);

	seen(c, "a", 0);
	seen(c, "b", 0);
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 7, ana, true);
	ck_assert_uint_eq(h.n, 1);
	expect(&h, 0, SG_ROOM_EVENT, 10, 7, true);
	ck_assert(h.log[0].had_person);
	/* on a second instance too: nobody hears of it again */
	sg_cluster_delta(c, "b", 1, SG_ROOM_EVENT, 10, 7, ana, true);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 7), 2);
	/* a repeated delta changes nothing */
	sg_cluster_delta(c, "b", 2, SG_ROOM_EVENT, 10, 7, ana, true);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 7), 2);
	/* the same id in a match room is another room */
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_MATCH, 10, 7), 0);
	sg_cluster_delta(c, "a", 2, SG_ROOM_MATCH, 10, 7, NULL, true);
	ck_assert_uint_eq(h.n, 2);
	expect(&h, 1, SG_ROOM_MATCH, 10, 7, true);
	ck_assert(!h.log[1].had_person);

	/* gone from one instance: still there */
	sg_cluster_delta(c, "a", 3, SG_ROOM_EVENT, 10, 7, NULL, false);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 7), 1);
	/* gone from the last: left */
	sg_cluster_delta(c, "b", 3, SG_ROOM_EVENT, 10, 7, NULL, false);
	ck_assert_uint_eq(h.n, 3);
	expect(&h, 2, SG_ROOM_EVENT, 10, 7, false);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 7), 0);
	/* leaving again, or from where one never was: nothing */
	sg_cluster_delta(c, "b", 4, SG_ROOM_EVENT, 10, 7, NULL, false);
	sg_cluster_delta(c, "b", 5, SG_ROOM_EVENT, 11, 7, NULL, false);
	ck_assert_uint_eq(h.n, 3);
	/* an instance never seen is ignored */
	sg_cluster_delta(c, "zz", 1, SG_ROOM_EVENT, 10, 8, NULL, true);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 8), 0);
	json_object_put(ana);
	sg_cluster_free(c);
}
END_TEST

struct listed {
	int64_t users[16];
	int instances[16];
	bool person[16];
	size_t n;
};

static void
list_cb(int64_t room, int64_t user, int n, json_object *profile, void *arg)
{
	struct listed *l = arg;

	ck_assert_int_eq(room, 10);
	ck_assert_uint_lt(l->n, 16);
	l->users[l->n] = user;
	l->instances[l->n] = n;
	l->person[l->n] = profile != NULL;
	l->n++;
}

START_TEST(a_room_lists_each_remote_user_once_with_a_person)
{
	struct sg_cluster *c = sg_cluster_new(NULL, NULL);
	json_object *p1 = person(1), *p2 = person(2);
	struct listed l = {0};

	seen(c, "a", 0);
	seen(c, "b", 0);
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 1, p1, true);
	sg_cluster_delta(c, "b", 1, SG_ROOM_EVENT, 10, 1, p1, true);
	sg_cluster_delta(c, "b", 2, SG_ROOM_EVENT, 10, 2, p2, true);
	sg_cluster_delta(c, "b", 3, SG_ROOM_MATCH, 10, 3, NULL, true);
	sg_cluster_delta(c, "b", 4, SG_ROOM_EVENT, 11, 4, NULL, true);
	sg_cluster_room_each(c, SG_ROOM_EVENT, 10, list_cb, &l);
	ck_assert_uint_eq(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		ck_assert(l.person[i]);
		ck_assert_int_eq(l.instances[i], l.users[i] == 1 ? 2 : 1);
	}
	ck_assert(l.users[0] + l.users[1] == 3);
	json_object_put(p1);
	json_object_put(p2);
	sg_cluster_free(c);
}
END_TEST

START_TEST(a_heartbeat_asks_for_a_snapshot_until_one_comes_and_after_a_gap)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);
	struct sg_cluster_entry e[] = {{SG_ROOM_EVENT, 10, 1, NULL}};

	ck_assert(!sg_cluster_heartbeat(c, "a", 0)); /* unknown */
	seen(c, "a", 0);
	ck_assert(!sg_cluster_synced(c, "a"));
	/* new: needs a snapshot even with nothing published yet */
	ck_assert(sg_cluster_heartbeat(c, "a", 0));
	/* deltas alone do not sync it */
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 1, NULL, true);
	ck_assert(sg_cluster_heartbeat(c, "a", 1));
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 1, 0, 1, e, 1), SC_OK);
	ck_assert(sg_cluster_synced(c, "a"));
	ck_assert(!sg_cluster_heartbeat(c, "a", 1));
	/* the next delta in order keeps it synced */
	sg_cluster_delta(c, "a", 2, SG_ROOM_EVENT, 10, 2, NULL, true);
	ck_assert(!sg_cluster_heartbeat(c, "a", 2));
	/* a heartbeat ahead of what arrived: a delta was lost */
	ck_assert(sg_cluster_heartbeat(c, "a", 3));
	ck_assert(!sg_cluster_synced(c, "a"));
	ck_assert(sg_cluster_heartbeat(c, "a", 3));
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 3, 0, 1, e, 1), SC_OK);
	ck_assert(!sg_cluster_heartbeat(c, "a", 3));
	/* a gap in the deltas themselves */
	sg_cluster_delta(c, "a", 5, SG_ROOM_EVENT, 10, 5, NULL, true);
	ck_assert(!sg_cluster_synced(c, "a"));
	ck_assert(sg_cluster_heartbeat(c, "a", 5));
	/* the facts of every delta were applied all the same */
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 5), 1);
	sg_cluster_free(c);
}
END_TEST

START_TEST(a_snapshot_replaces_what_the_instance_said)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);
	json_object *p3 = person(3);
	struct sg_cluster_entry e[] = {
	    {SG_ROOM_EVENT, 10, 2, NULL},
	    {SG_ROOM_EVENT, 10, 3, p3},
	    {SG_ROOM_EVENT, 10, 3, p3},  /* twice: once */
	    {SG_ROOM_EVENT, 0, 4, NULL}, /* bad ids: skipped */
	    {SG_ROOM_MATCH, 10, SG_ID_MAX + 1, NULL},
	};

	seen(c, "a", 0);
	seen(c, "b", 0);
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 1, NULL, true);
	sg_cluster_delta(c, "a", 2, SG_ROOM_EVENT, 10, 2, NULL, true);
	/* user 1 is also on b: it stays */
	sg_cluster_delta(c, "b", 1, SG_ROOM_EVENT, 10, 1, NULL, true);
	h.n = 0;
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 9, 0, 1, e, 5), SC_OK);
	/* 3 arrived; 1 left a but is still on b; 2 unchanged */
	ck_assert_uint_eq(h.n, 1);
	expect(&h, 0, SG_ROOM_EVENT, 10, 3, true);
	ck_assert(h.log[0].had_person);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 1), 1);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 2), 1);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 3), 1);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 0, 4), 0);
	/* an empty snapshot: everyone a had leaves */
	h.n = 0;
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 9, 0, 1, NULL, 0), SC_OK);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(h.log[0].present + h.log[1].present, 0);
	ck_assert_int_eq(h.log[0].user + h.log[1].user, 5);
	json_object_put(p3);
	sg_cluster_free(c);
}
END_TEST

START_TEST(snapshot_parts_count_only_whole_and_in_order)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);
	struct sg_cluster_entry e1[] = {{SG_ROOM_EVENT, 10, 1, NULL}};
	struct sg_cluster_entry e2[] = {{SG_ROOM_MATCH, 20, 2, NULL}};

	seen(c, "a", 0);
	/* a later part first: dropped */
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 4, 1, 2, e2, 1),
	                 SC_EAGAIN);
	/* the first part alone changes nothing yet */
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 4, 0, 2, e1, 1), SC_OK);
	ck_assert_uint_eq(h.n, 0);
	ck_assert(!sg_cluster_synced(c, "a"));
	/* a part of another snapshot: what was collected is dropped */
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 5, 1, 2, e2, 1),
	                 SC_EAGAIN);
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 4, 1, 2, e2, 1),
	                 SC_EAGAIN);
	ck_assert_uint_eq(h.n, 0);
	/* a delta between two parts drops the collection too */
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 4, 0, 2, e1, 1), SC_OK);
	sg_cluster_delta(c, "a", 5, SG_ROOM_EVENT, 30, 3, NULL, true);
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 4, 1, 2, e2, 1),
	                 SC_EAGAIN);
	ck_assert(!sg_cluster_synced(c, "a"));
	/* whole and in order: applied at once */
	h.n = 0;
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 6, 0, 2, e1, 1), SC_OK);
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 6, 1, 2, e2, 1), SC_OK);
	ck_assert(sg_cluster_synced(c, "a"));
	ck_assert(!sg_cluster_heartbeat(c, "a", 6));
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 1), 1);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_MATCH, 20, 2), 1);
	/* the delta's user was not in the snapshot taken after it: gone */
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 30, 3), 0);
	ck_assert_uint_eq(h.n, 3);
	/* bad numbers */
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 6, 2, 2, e1, 1),
	                 SC_EINVAL);
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 6, 0, 0, e1, 1),
	                 SC_EINVAL);
	ck_assert_int_eq(sg_cluster_snapshot(c, "zz", 6, 0, 1, e1, 1),
	                 SC_EINVAL);
	sg_cluster_free(c);
}
END_TEST

START_TEST(a_restarted_instance_loses_its_users_at_once)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);
	struct sg_cluster_entry e[] = {{SG_ROOM_EVENT, 10, 1, NULL}};
	bool fresh = false;

	ck_assert_int_eq(sg_cluster_seen(c, "a", "boot1", 0, 1000, &fresh),
	                 SC_OK);
	ck_assert(fresh);
	ck_assert_int_eq(sg_cluster_snapshot(c, "a", 0, 0, 1, e, 1), SC_OK);
	sg_cluster_delta(c, "a", 1, SG_ROOM_MATCH, 5, 2, NULL, true);
	ck_assert(sg_cluster_synced(c, "a"));
	h.n = 0;
	/* the same boot again: nothing happens */
	ck_assert_int_eq(sg_cluster_seen(c, "a", "boot1", 10, 1000, &fresh),
	                 SC_OK);
	ck_assert(!fresh);
	ck_assert_uint_eq(h.n, 0);
	/* another boot: its sockets died with the old process */
	ck_assert_int_eq(sg_cluster_seen(c, "a", "boot2", 20, 1000, &fresh),
	                 SC_OK);
	ck_assert(fresh);
	ck_assert_uint_eq(h.n, 2);
	ck_assert(!h.log[0].present && !h.log[1].present);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 1), 0);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_MATCH, 5, 2), 0);
	ck_assert(!sg_cluster_synced(c, "a"));
	ck_assert(sg_cluster_heartbeat(c, "a", 0));
	ck_assert_uint_eq(sg_cluster_peers(c), 1);
	sg_cluster_free(c);
}
END_TEST

START_TEST(a_silent_instance_expires_and_its_users_leave)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);

	ck_assert_int_eq(sg_cluster_seen(c, "a", "x", 0, 1000, NULL), SC_OK);
	ck_assert_int_eq(sg_cluster_seen(c, "b", "x", 0, 5000, NULL), SC_OK);
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 1, NULL, true);
	sg_cluster_delta(c, "b", 1, SG_ROOM_EVENT, 10, 2, NULL, true);
	h.n = 0;
	ck_assert_uint_eq(sg_cluster_expire(c, 900), 0);
	/* a speaks again in time */
	ck_assert_int_eq(sg_cluster_seen(c, "a", "x", 900, 1000, NULL), SC_OK);
	ck_assert_uint_eq(sg_cluster_expire(c, 1500), 0);
	/* then falls silent: forgotten after its ttl, b is not */
	ck_assert_uint_eq(sg_cluster_expire(c, 1901), 1);
	ck_assert_uint_eq(h.n, 1);
	expect(&h, 0, SG_ROOM_EVENT, 10, 1, false);
	ck_assert_uint_eq(sg_cluster_peers(c), 1);
	ck_assert(!sg_cluster_heartbeat(c, "a", 1)); /* unknown now */
	ck_assert_uint_eq(sg_cluster_expire(c, 5001), 1);
	ck_assert_uint_eq(sg_cluster_peers(c), 0);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 10, 2), 0);
	sg_cluster_free(c);
}
END_TEST

START_TEST(a_goodbye_forgets_the_instance_at_once)
{
	struct heard h = {0};
	struct sg_cluster *c = sg_cluster_new(heard_cb, &h);

	seen(c, "a", 0);
	sg_cluster_delta(c, "a", 1, SG_ROOM_EVENT, 10, 1, NULL, true);
	sg_cluster_forget(c, "a");
	ck_assert_uint_eq(h.n, 2);
	expect(&h, 1, SG_ROOM_EVENT, 10, 1, false);
	ck_assert_uint_eq(sg_cluster_peers(c), 0);
	sg_cluster_forget(c, "nobody");
	sg_cluster_free(c);
}
END_TEST

START_TEST(bad_ids_and_too_many_instances_are_refused)
{
	struct sg_cluster *c = sg_cluster_new(NULL, NULL);
	char id[SG_INSTANCE_MAX + 2];

	ck_assert_int_eq(sg_cluster_seen(c, "", "x", 0, 1, NULL), SC_EINVAL);
	ck_assert_int_eq(sg_cluster_seen(c, NULL, "x", 0, 1, NULL), SC_EINVAL);
	ck_assert_int_eq(sg_cluster_seen(c, "a", "", 0, 1, NULL), SC_EINVAL);
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	ck_assert_int_eq(sg_cluster_seen(c, id, "x", 0, 1, NULL), SC_EINVAL);
	id[SG_INSTANCE_MAX] = '\0';
	ck_assert_int_eq(sg_cluster_seen(c, id, "x", 0, 1, NULL), SC_OK);
	for (int i = 1; i < SG_CLUSTER_MAX_PEERS; i++) {
		snprintf(id, sizeof(id), "peer-%d", i);
		ck_assert_int_eq(sg_cluster_seen(c, id, "x", 0, 1, NULL),
		                 SC_OK);
	}
	ck_assert_int_eq(sg_cluster_seen(c, "one-more", "x", 0, 1, NULL),
	                 SC_ETOOBIG);
	ck_assert_uint_eq(sg_cluster_peers(c), SG_CLUSTER_MAX_PEERS);
	/* a known one still gets through */
	ck_assert_int_eq(sg_cluster_seen(c, "peer-7", "x", 0, 1, NULL), SC_OK);
	/* ids out of range are ignored */
	sg_cluster_delta(c, "peer-7", 1, SG_ROOM_EVENT, -1, 1, NULL, true);
	sg_cluster_delta(c, "peer-7", 2, SG_ROOM_EVENT, 1, 0, NULL, true);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, -1, 1), 0);
	ck_assert_int_eq(sg_cluster_count(c, SG_ROOM_EVENT, 1, 0), 0);
	sg_cluster_free(c);
}
END_TEST

/* Random traffic of 3 instances over 3 rooms x 2 kinds x 4 users against
 * a model: after every step the merged counts match the model, and what the
 * callback said adds up to "on some instance". */
#define NI 3
#define NR 3
#define NU 4

static int
model_count(bool m[NI][2][NR][NU], int k, int r, int u)
{
	int n = 0;

	for (int i = 0; i < NI; i++) {
		n += m[i][k][r][u];
	}
	return n;
}

static bool said[2][NR][NU];

static void
said_cb(enum sg_room_kind kind, int64_t room, int64_t user, json_object *person,
        bool present, void *arg)
{
	(void)person;
	(void)arg;
	/* every change is a real change */
	ck_assert_int_ne(said[kind][room - 1][user - 1], present);
	said[kind][room - 1][user - 1] = present;
}

START_TEST(random_traffic_matches_a_model)
{
	static const char *const ids[NI] = {"a", "b", "c"};
	struct sg_cluster *c = sg_cluster_new(said_cb, NULL);
	bool m[NI][2][NR][NU] = {{{{0}}}};
	int64_t seq[NI] = {0};
	int boot[NI] = {0};
	char b[16];

	srandom(42);
	memset(said, 0, sizeof(said));
	for (int step = 0; step < 4000; step++) {
		int i = (int)(random() % NI), op = (int)(random() % 100);
		int k = (int)(random() % 2), r = (int)(random() % NR),
		    u = (int)(random() % NU);

		snprintf(b, sizeof(b), "boot%d", boot[i]);
		ck_assert_int_eq(
		    sg_cluster_seen(c, ids[i], b, step, 1000000, NULL), SC_OK);
		if (op < 80) {
			bool present = random() % 2;

			m[i][k][r][u] = present;
			sg_cluster_delta(c, ids[i], ++seq[i],
			                 (enum sg_room_kind)k, r + 1, u + 1,
			                 NULL, present);
		} else if (op < 93) {
			/* a snapshot of a random new state, in 1-3 parts */
			struct sg_cluster_entry e[2 * NR * NU];
			size_t n = 0;
			int parts = 1 + (int)(random() % 3);

			for (int kk = 0; kk < 2; kk++) {
				for (int rr = 0; rr < NR; rr++) {
					for (int uu = 0; uu < NU; uu++) {
						m[i][kk][rr][uu] =
						    random() % 3 == 0;
						if (m[i][kk][rr][uu]) {
							e[n++] =
							    (struct
							     sg_cluster_entry){
							        (enum sg_room_kind)
							            kk,
							        rr + 1, uu + 1,
							        NULL};
						}
					}
				}
			}
			for (int p = 0; p < parts; p++) {
				size_t from = n * (size_t)p / (size_t)parts;
				size_t to = n * (size_t)(p + 1) / (size_t)parts;

				ck_assert_int_eq(
				    sg_cluster_snapshot(c, ids[i], seq[i], p,
				                        parts, e + from,
				                        to - from),
				    SC_OK);
			}
			ck_assert(sg_cluster_synced(c, ids[i]));
		} else if (op < 97) {
			/* a restart */
			boot[i]++;
			snprintf(b, sizeof(b), "boot%d", boot[i]);
			ck_assert_int_eq(
			    sg_cluster_seen(c, ids[i], b, step, 1000000, NULL),
			    SC_OK);
			memset(m[i], 0, sizeof(m[i]));
			seq[i] = 0;
		} else {
			sg_cluster_forget(c, ids[i]);
			memset(m[i], 0, sizeof(m[i]));
			seq[i] = 0;
		}
		for (int kk = 0; kk < 2; kk++) {
			for (int rr = 0; rr < NR; rr++) {
				for (int uu = 0; uu < NU; uu++) {
					int want = model_count(m, kk, rr, uu);

					ck_assert_int_eq(
					    sg_cluster_count(
					        c, (enum sg_room_kind)kk,
					        rr + 1, uu + 1),
					    want);
					ck_assert_int_eq(said[kk][rr][uu],
					                 want > 0);
				}
			}
		}
	}
	sg_cluster_free(c);
}
END_TEST

static Suite *
cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("cluster");

	tcase_add_test(tc, deltas_from_two_instances_merge_into_one_presence);
	tcase_add_test(tc, a_room_lists_each_remote_user_once_with_a_person);
	tcase_add_test(
	    tc,
	    a_heartbeat_asks_for_a_snapshot_until_one_comes_and_after_a_gap);
	tcase_add_test(tc, a_snapshot_replaces_what_the_instance_said);
	tcase_add_test(tc, snapshot_parts_count_only_whole_and_in_order);
	tcase_add_test(tc, a_restarted_instance_loses_its_users_at_once);
	tcase_add_test(tc, a_silent_instance_expires_and_its_users_leave);
	tcase_add_test(tc, a_goodbye_forgets_the_instance_at_once);
	tcase_add_test(tc, bad_ids_and_too_many_instances_are_refused);
	tcase_add_test(tc, random_traffic_matches_a_model);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(cluster_suite)
