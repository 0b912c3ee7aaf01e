/* cursor_test.c: cursors round-trip and anything forged is refused. */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "testing.h"

START_TEST(a_cursor_round_trips_every_length)
{
	const char *keys[] = {"a",
	                      "ab",
	                      "abc",
	                      "abcd",
	                      "2026-03-12|42",
	                      "2026-12-31T23:59:59.999Z|9223372036854775807"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		char *c = sc_cursor_encode(keys[i]);
		ck_assert_uint_eq(
		    strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		              "opqrstuvwxyz0123456789-_"),
		    strlen(c));
		char *k = sc_cursor_decode(c);
		ck_assert_ptr_nonnull(k);
		ck_assert_str_eq(k, keys[i]);
		free(k);
		free(c);
	}
}
END_TEST

START_TEST(a_forged_cursor_is_refused)
{
	const char *bad[] = {
	    "",     "a",    "abcde", "ab=c",
	    "ab+/", "ab c", "AB", /* non-canonical trailing bits */
	    "AAE",  /* decodes to control bytes */};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(sc_cursor_decode(bad[i]) == NULL, "accepted '%s'",
		              bad[i]);
	}
	char big[1024];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_ptr_null(sc_cursor_decode(big));
}
END_TEST

START_TEST(split_gives_the_parts_and_refuses_too_many)
{
	char key[] = "2026-03-12|42", three[] = "a|b|c", one[] = "x";
	char *parts[2];

	ck_assert_int_eq(sc_cursor_split(key, parts, 2), 2);
	ck_assert_str_eq(parts[0], "2026-03-12");
	ck_assert_str_eq(parts[1], "42");
	ck_assert_int_eq(sc_cursor_split(three, parts, 2), -1);
	ck_assert_int_eq(sc_cursor_split(one, parts, 2), 1);
	ck_assert_str_eq(parts[0], "x");
}
END_TEST

static Suite *
cursor_suite(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc = tcase_create("cursor");

	tcase_add_test(tc, a_cursor_round_trips_every_length);
	tcase_add_test(tc, a_forged_cursor_is_refused);
	tcase_add_test(tc, split_gives_the_parts_and_refuses_too_many);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(cursor_suite)
