/* status_test.c: the match state machine, every (from, to, actor). */
#include <string.h>

#include "status.h"
#include "testing.h"

#define P MM_PENDING
#define A MM_ACCEPTED
#define R MM_REJECTED
#define X MM_CANCELLED
#define C MM_COMPLETED

#define OK   MM_ALLOWED
#define BAD  MM_INVALID_TRANSITION
#define NOPE MM_NOT_PERMITTED

/* The whole machine, written out: for every (from, to), what the requester
 * and the target get. Outsiders are covered separately (always 404). */
static const struct {
	enum mm_status from, to;
	enum mm_verdict requester, target;
} machine[] = {
    {P, P, BAD, BAD}, {P, A, NOPE, OK}, {P, R, NOPE, OK},
    {P, X, OK, OK},   {P, C, BAD, BAD},

    {A, P, BAD, BAD}, {A, A, BAD, BAD}, {A, R, BAD, BAD},
    {A, X, OK, OK},   {A, C, OK, OK},

    {R, P, BAD, BAD}, {R, A, BAD, BAD}, {R, R, BAD, BAD},
    {R, X, BAD, BAD}, {R, C, BAD, BAD},

    {X, P, BAD, BAD}, {X, A, BAD, BAD}, {X, R, BAD, BAD},
    {X, X, BAD, BAD}, {X, C, BAD, BAD},

    {C, P, BAD, BAD}, {C, A, BAD, BAD}, {C, R, BAD, BAD},
    {C, X, BAD, BAD}, {C, C, BAD, BAD},
};
#define MACHINE_ROWS ((int)(sizeof machine / sizeof machine[0]))

START_TEST(every_transition_gets_the_expected_verdict_for_each_member)
{
	enum mm_status from = machine[_i].from, to = machine[_i].to;

	ck_assert_msg(mm_transition_check(from, to, MM_REQUESTER) ==
	                  machine[_i].requester,
	              "requester %s -> %s", mm_status_name(from),
	              mm_status_name(to));
	ck_assert_msg(
	    mm_transition_check(from, to, MM_TARGET) == machine[_i].target,
	    "target %s -> %s", mm_status_name(from), mm_status_name(to));
	ck_assert_msg(
	    mm_transition_check(from, to, MM_OUTSIDER) == MM_NOT_MEMBER,
	    "outsider %s -> %s", mm_status_name(from), mm_status_name(to));
}
END_TEST

START_TEST(the_table_covers_every_pair_once)
{
	int seen[MM_STATUS_COUNT][MM_STATUS_COUNT] = {{0}};

	for (int i = 0; i < MACHINE_ROWS; i++) {
		seen[machine[i].from][machine[i].to]++;
	}
	for (int f = 0; f < MM_STATUS_COUNT; f++) {
		for (int t = 0; t < MM_STATUS_COUNT; t++) {
			ck_assert_int_eq(seen[f][t], 1);
		}
	}
}
END_TEST

/* The UPDATE's allowed from-states must agree with the verdicts, or the
 * daemon would change rows it then reports as refused (or the reverse). */
START_TEST(sources_agree_with_the_verdicts)
{
	for (int to = 0; to < MM_STATUS_COUNT; to++) {
		for (int actor = MM_REQUESTER; actor <= MM_OUTSIDER; actor++) {
			unsigned mask = mm_transition_sources(to, actor);
			for (int from = 0; from < MM_STATUS_COUNT; from++) {
				bool allowed =
				    mm_transition_check(from, to, actor) ==
				    MM_ALLOWED;
				ck_assert_msg(allowed == ((mask >> from) & 1u),
				              "actor %d %s -> %s", actor,
				              mm_status_name(from),
				              mm_status_name(to));
			}
		}
	}
}
END_TEST

START_TEST(sources_name_the_states_each_member_may_leave)
{
	ck_assert_uint_eq(mm_transition_sources(A, MM_TARGET), 1u << P);
	ck_assert_uint_eq(mm_transition_sources(A, MM_REQUESTER), 0);
	ck_assert_uint_eq(mm_transition_sources(R, MM_TARGET), 1u << P);
	ck_assert_uint_eq(mm_transition_sources(R, MM_REQUESTER), 0);
	ck_assert_uint_eq(mm_transition_sources(X, MM_REQUESTER),
	                  (1u << P) | (1u << A));
	ck_assert_uint_eq(mm_transition_sources(X, MM_TARGET),
	                  (1u << P) | (1u << A));
	ck_assert_uint_eq(mm_transition_sources(C, MM_TARGET), 1u << A);
	ck_assert_uint_eq(mm_transition_sources(C, MM_REQUESTER), 1u << A);
	ck_assert_uint_eq(mm_transition_sources(P, MM_TARGET), 0);
	ck_assert_uint_eq(mm_transition_sources(X, MM_OUTSIDER), 0);
	ck_assert_uint_eq(mm_transition_sources(MM_STATUS_COUNT, MM_TARGET), 0);
}
END_TEST

START_TEST(out_of_range_statuses_are_invalid)
{
	ck_assert_int_eq(mm_transition_check(MM_STATUS_COUNT, A, MM_TARGET),
	                 MM_INVALID_TRANSITION);
	ck_assert_int_eq(mm_transition_check(P, MM_STATUS_COUNT, MM_TARGET),
	                 MM_INVALID_TRANSITION);
	ck_assert_int_eq(
	    mm_transition_check(P, (enum mm_status) - 1, MM_TARGET),
	    MM_INVALID_TRANSITION);
	ck_assert_ptr_null(mm_status_name(MM_STATUS_COUNT));
	ck_assert_ptr_null(mm_status_topic(MM_STATUS_COUNT));
}
END_TEST

START_TEST(names_round_trip)
{
	static const char *const want[] = {"pending", "accepted", "rejected",
	                                   "cancelled", "completed"};
	enum mm_status s;

	for (int i = 0; i < MM_STATUS_COUNT; i++) {
		ck_assert_str_eq(mm_status_name(i), want[i]);
		ck_assert(mm_status_parse(want[i], &s));
		ck_assert_int_eq(s, i);
	}
}
END_TEST

START_TEST(parse_rejects_anything_but_the_exact_names)
{
	static const char *const bad[] = {
	    "",     "Pending",  "PENDING", "pending ", " pending",
	    "pend", "canceled", "done",    "pendingx", "accepted\n"};
	enum mm_status s = MM_COMPLETED;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(!mm_status_parse(bad[i], &s), "'%s'", bad[i]);
	}
	ck_assert(!mm_status_parse(NULL, &s));
	ck_assert_int_eq(s, MM_COMPLETED);
}
END_TEST

START_TEST(topics_name_the_fact)
{
	ck_assert_str_eq(mm_status_topic(P), "match.requested");
	ck_assert_str_eq(mm_status_topic(A), "match.accepted");
	ck_assert_str_eq(mm_status_topic(R), "match.rejected");
	ck_assert_str_eq(mm_status_topic(X), "match.cancelled");
	ck_assert_str_eq(mm_status_topic(C), "match.completed");
}
END_TEST

START_TEST(actor_of_tells_the_members_apart)
{
	ck_assert_int_eq(mm_actor_of(1, 2, 1), MM_REQUESTER);
	ck_assert_int_eq(mm_actor_of(1, 2, 2), MM_TARGET);
	ck_assert_int_eq(mm_actor_of(1, 2, 3), MM_OUTSIDER);
	ck_assert_int_eq(mm_actor_of(1, 2, 0), MM_OUTSIDER);
}
END_TEST

START_TEST(set_literal_is_a_postgres_array)
{
	char buf[64];

	ck_assert_uint_eq(mm_status_set_literal(0, buf, sizeof buf), 2);
	ck_assert_str_eq(buf, "{}");
	mm_status_set_literal(1u << P, buf, sizeof buf);
	ck_assert_str_eq(buf, "{pending}");
	mm_status_set_literal((1u << A) | (1u << P), buf, sizeof buf);
	ck_assert_str_eq(buf, "{pending,accepted}");
	size_t n = mm_status_set_literal(0x1f, buf, sizeof buf);
	ck_assert_str_eq(buf,
	                 "{pending,accepted,rejected,cancelled,completed}");
	ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

START_TEST(set_literal_reports_the_length_it_needs_when_truncated)
{
	char buf[8];

	memset(buf, 'z', sizeof buf);
	size_t n =
	    mm_status_set_literal((1u << P) | (1u << A), buf, sizeof buf);
	ck_assert_uint_eq(n, strlen("{pending,accepted}"));
	ck_assert_str_eq(buf, "{pendin");
	ck_assert_uint_eq(mm_status_set_literal(1u << C, NULL, 0),
	                  strlen("{completed}"));
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("matchmaking_status");
	TCase *tc = tcase_create("machine");

	tcase_add_loop_test(
	    tc, every_transition_gets_the_expected_verdict_for_each_member, 0,
	    MACHINE_ROWS);
	tcase_add_test(tc, the_table_covers_every_pair_once);
	tcase_add_test(tc, sources_agree_with_the_verdicts);
	tcase_add_test(tc, sources_name_the_states_each_member_may_leave);
	tcase_add_test(tc, out_of_range_statuses_are_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, parse_rejects_anything_but_the_exact_names);
	tcase_add_test(tc, topics_name_the_fact);
	tcase_add_test(tc, actor_of_tells_the_members_apart);
	tcase_add_test(tc, set_literal_is_a_postgres_array);
	tcase_add_test(tc,
	               set_literal_reports_the_length_it_needs_when_truncated);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(status_suite)
