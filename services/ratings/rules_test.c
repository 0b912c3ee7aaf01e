/* rules_test.c: stats are rounded and shaped as the API promises; report
 * reasons, path ids, limits and cursors accept exactly what they should;
 * only a member of an accepted or completed match may rate it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "ratings.h"
#include "testing.h"

/* The object serialised compactly; caller frees. */
static char *
render(json_object *o)
{
	char *s =
	    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

START_TEST(hundredths_round_half_up)
{
	ck_assert_int_eq(ratings_hundredths(13, 3), 433); /* 4.333.. */
	ck_assert_int_eq(ratings_hundredths(14, 3), 467); /* 4.666.. */
	ck_assert_int_eq(ratings_hundredths(1, 8), 13);   /* 0.125 -> 0.13 */
	ck_assert_int_eq(ratings_hundredths(1, 200), 1);  /* 0.005 -> 0.01 */
	ck_assert_int_eq(ratings_hundredths(1, 201), 0);  /* 0.00497 -> 0 */
	ck_assert_int_eq(ratings_hundredths(2, 3), 67);
	ck_assert_int_eq(ratings_hundredths(5, 1), 500);
	ck_assert_int_eq(ratings_hundredths(0, 7), 0);
}
END_TEST

START_TEST(hundredths_do_not_overflow_on_large_totals)
{
	/* Every rating a 5, two billion of them. */
	ck_assert_int_eq(ratings_hundredths(5LL * 2000000000LL, 2000000000LL),
	                 500);
	ck_assert_int_eq(ratings_hundredths(2000000000LL - 1, 2000000000LL),
	                 100);
}
END_TEST

START_TEST(decimals_are_written_with_at_most_two_digits)
{
	char *s;

	s = render(ratings_decimal_json(433));
	ck_assert_str_eq(s, "4.33");
	free(s);
	s = render(ratings_decimal_json(450));
	ck_assert_str_eq(s, "4.5");
	free(s);
	s = render(ratings_decimal_json(400));
	ck_assert_str_eq(s, "4.0");
	free(s);
	s = render(ratings_decimal_json(7));
	ck_assert_str_eq(s, "0.07");
	free(s);
	s = render(ratings_decimal_json(0));
	ck_assert_str_eq(s, "0.0");
	free(s);
}
END_TEST

START_TEST(decimals_keep_their_numeric_value)
{
	json_object *o = ratings_decimal_json(467);

	ck_assert(json_object_is_type(o, json_type_double));
	ck_assert_double_eq_tol(json_object_get_double(o), 4.67, 1e-9);
	json_object_put(o);
}
END_TEST

START_TEST(stats_of_a_user_without_ratings_have_null_average_and_share)
{
	char *s = render(ratings_stats_json(42, 0, 0, 0));

	ck_assert_str_eq(s, "{\"userId\":42,\"count\":0,\"average\":null,"
	                    "\"wouldCollaborateAgainShare\":null}");
	free(s);
}
END_TEST

START_TEST(stats_are_rounded_to_two_decimals)
{
	/* Scores 5, 4, 4: 13/3; two of three would dance again. */
	char *s = render(ratings_stats_json(7, 3, 13, 2));

	ck_assert_str_eq(s, "{\"userId\":7,\"count\":3,\"average\":4.33,"
	                    "\"wouldCollaborateAgainShare\":0.67}");
	free(s);
}
END_TEST

START_TEST(stats_of_whole_values_stay_numbers)
{
	char *s = render(ratings_stats_json(9, 2, 10, 2));

	ck_assert_str_eq(s, "{\"userId\":9,\"count\":2,\"average\":5.0,"
	                    "\"wouldCollaborateAgainShare\":1.0}");
	free(s);
	s = render(ratings_stats_json(9, 4, 4, 0));
	ck_assert_str_eq(s, "{\"userId\":9,\"count\":4,\"average\":1.0,"
	                    "\"wouldCollaborateAgainShare\":0.0}");
	free(s);
}
END_TEST

START_TEST(report_reasons_are_the_five_listed)
{
	ck_assert(ratings_reason_valid("harassment"));
	ck_assert(ratings_reason_valid("no_show"));
	ck_assert(ratings_reason_valid("inappropriate"));
	ck_assert(ratings_reason_valid("spam"));
	ck_assert(ratings_reason_valid("other"));
	ck_assert(!ratings_reason_valid("Spam"));
	ck_assert(!ratings_reason_valid("no-show"));
	ck_assert(!ratings_reason_valid("spam "));
	ck_assert(!ratings_reason_valid(""));
	ck_assert(!ratings_reason_valid(NULL));
}
END_TEST

START_TEST(path_ids_are_positive_decimal_integers)
{
	int64_t id = 0;

	ck_assert(ratings_parse_id("42", &id));
	ck_assert_int_eq(id, 42);
	ck_assert(ratings_parse_id("9223372036854775807", &id));
	ck_assert_int_eq(id, INT64_MAX);
	ck_assert(!ratings_parse_id("9223372036854775808", &id));
	ck_assert(!ratings_parse_id("0", &id));
	ck_assert(!ratings_parse_id("-1", &id));
	ck_assert(!ratings_parse_id("+1", &id));
	ck_assert(!ratings_parse_id(" 1", &id));
	ck_assert(!ratings_parse_id("1x", &id));
	ck_assert(!ratings_parse_id("abc", &id));
	ck_assert(!ratings_parse_id("", &id));
	ck_assert(!ratings_parse_id(NULL, &id));
}
END_TEST

START_TEST(limit_defaults_to_20_and_accepts_1_to_100)
{
	int n = 0;

	ck_assert(ratings_parse_limit(NULL, &n));
	ck_assert_int_eq(n, 20);
	ck_assert(ratings_parse_limit("1", &n));
	ck_assert_int_eq(n, 1);
	ck_assert(ratings_parse_limit("100", &n));
	ck_assert_int_eq(n, 100);
	ck_assert(!ratings_parse_limit("0", &n));
	ck_assert(!ratings_parse_limit("101", &n));
	ck_assert(!ratings_parse_limit("-5", &n));
	ck_assert(!ratings_parse_limit("ten", &n));
	ck_assert(!ratings_parse_limit("", &n));
	ck_assert(!ratings_parse_limit("99999999999999999999", &n));
}
END_TEST

START_TEST(cursor_round_trips_its_keyset)
{
	long long us = 0, id = 0;
	char *c = ratings_cursor_make(1795638662123456LL, 42);

	ck_assert(ratings_cursor_read(c, &us, &id));
	ck_assert_int_eq(us, 1795638662123456LL);
	ck_assert_int_eq(id, 42);
	free(c);
}
END_TEST

START_TEST(cursor_rejects_what_it_did_not_make)
{
	long long us = 0, id = 0;
	char *c;

	ck_assert(!ratings_cursor_read("not a cursor!", &us, &id));
	ck_assert(!ratings_cursor_read("", &us, &id));
	/* Well-formed base64url of keys that are not ours. */
	const char *bad[] = {
	    "42",   "1|2|3", "x|1", "1|0",  "-1|5",
	    "1|-5", "1|",    "|1",  "1 |5", "99999999999999999999|1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = sc_cursor_encode(bad[i]);
		ck_assert_msg(!ratings_cursor_read(c, &us, &id),
		              "accepted '%s'", bad[i]);
		free(c);
	}
}
END_TEST

START_TEST(members_of_an_accepted_or_completed_match_rate_each_other)
{
	int64_t rated = 0;

	ck_assert_int_eq(ratings_match_check("accepted", 1, 2, 1, &rated),
	                 RATINGS_MATCH_RATEABLE);
	ck_assert_int_eq(rated, 2);
	ck_assert_int_eq(ratings_match_check("completed", 1, 2, 2, &rated),
	                 RATINGS_MATCH_RATEABLE);
	ck_assert_int_eq(rated, 1);
}
END_TEST

START_TEST(other_statuses_are_not_rateable)
{
	const char *statuses[] = {"pending", "rejected", "cancelled", "",
	                          "ACCEPTED"};
	int64_t rated;

	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		ck_assert_int_eq(
		    ratings_match_check(statuses[i], 1, 2, 1, &rated),
		    RATINGS_MATCH_NOT_RATEABLE);
	}
	ck_assert_int_eq(ratings_match_check(NULL, 1, 2, 1, &rated),
	                 RATINGS_MATCH_NOT_RATEABLE);
}
END_TEST

START_TEST(a_stranger_is_told_nothing_about_the_match)
{
	int64_t rated = 0;

	/* Not a member: not found, whatever the status (no leak). */
	ck_assert_int_eq(ratings_match_check("accepted", 1, 2, 3, &rated),
	                 RATINGS_MATCH_NOT_MEMBER);
	ck_assert_int_eq(ratings_match_check("pending", 1, 2, 3, &rated),
	                 RATINGS_MATCH_NOT_MEMBER);
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite *s = suite_create("ratings_rules");
	TCase *stats = tcase_create("stats");
	TCase *input = tcase_create("input");
	TCase *match = tcase_create("match");

	tcase_add_test(stats, hundredths_round_half_up);
	tcase_add_test(stats, hundredths_do_not_overflow_on_large_totals);
	tcase_add_test(stats, decimals_are_written_with_at_most_two_digits);
	tcase_add_test(stats, decimals_keep_their_numeric_value);
	tcase_add_test(
	    stats, stats_of_a_user_without_ratings_have_null_average_and_share);
	tcase_add_test(stats, stats_are_rounded_to_two_decimals);
	tcase_add_test(stats, stats_of_whole_values_stay_numbers);
	suite_add_tcase(s, stats);

	tcase_add_test(input, report_reasons_are_the_five_listed);
	tcase_add_test(input, path_ids_are_positive_decimal_integers);
	tcase_add_test(input, limit_defaults_to_20_and_accepts_1_to_100);
	tcase_add_test(input, cursor_round_trips_its_keyset);
	tcase_add_test(input, cursor_rejects_what_it_did_not_make);
	suite_add_tcase(s, input);

	tcase_add_test(
	    match, members_of_an_accepted_or_completed_match_rate_each_other);
	tcase_add_test(match, other_statuses_are_not_rateable);
	tcase_add_test(match, a_stranger_is_told_nothing_about_the_match);
	suite_add_tcase(s, match);
	return s;
}

SC_TEST_MAIN(rules_suite)
