/* validate_test.c: unit tests for the request field checks and the UTF-8
 * length they count with. */
#include "validate.h"

#include <string.h>

#include "testing.h"

/* The message recorded for `field`, or NULL. Borrowed from v. */
static const char *
detail(const struct sc_valid *v, const char *field)
{
	json_object *m;

	if (v->details == NULL ||
	    !json_object_object_get_ex(v->details, field, &m)) {
		return NULL;
	}
	return json_object_get_string(m);
}

static json_object *
parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* ---- sc_utf8_length ------------------------------------------------ */

START_TEST(utf8_length_counts_multibyte_characters_as_one)
{
	/* a, e-acute (2 bytes), euro (3), grinning face (4). */
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	ck_assert_int_eq(sc_utf8_length(s, strlen(s)), 4);
	ck_assert_int_eq(sc_utf8_length("", 0), 0);
	ck_assert_int_eq(sc_utf8_length("abc", 3), 3);
}
END_TEST

START_TEST(utf8_length_accepts_the_edges_of_the_valid_ranges)
{
	ck_assert_int_eq(sc_utf8_length("\x7f", 1), 1);
	ck_assert_int_eq(sc_utf8_length("\xc2\x80", 2), 1);     /* U+0080 */
	ck_assert_int_eq(sc_utf8_length("\xdf\xbf", 2), 1);     /* U+07FF */
	ck_assert_int_eq(sc_utf8_length("\xe0\xa0\x80", 3), 1); /* U+0800 */
	ck_assert_int_eq(sc_utf8_length("\xed\x9f\xbf", 3), 1); /* U+D7FF */
	ck_assert_int_eq(sc_utf8_length("\xee\x80\x80", 3), 1); /* U+E000 */
	ck_assert_int_eq(sc_utf8_length("\xef\xbf\xbf", 3), 1); /* U+FFFF */
	ck_assert_int_eq(sc_utf8_length("\xf0\x90\x80\x80", 4),
	                 1); /* U+10000 */
	ck_assert_int_eq(sc_utf8_length("\xf4\x8f\xbf\xbf", 4),
	                 1); /* U+10FFFF */
}
END_TEST

START_TEST(utf8_length_rejects_overlong_forms)
{
	ck_assert_int_eq(sc_utf8_length("\xc0\xaf", 2), -1); /* '/' */
	ck_assert_int_eq(sc_utf8_length("\xc1\xbf", 2), -1);
	ck_assert_int_eq(sc_utf8_length("\xe0\x80\xaf", 3), -1);
	ck_assert_int_eq(sc_utf8_length("\xe0\x9f\xbf", 3), -1);
	ck_assert_int_eq(sc_utf8_length("\xf0\x80\x80\xaf", 4), -1);
	ck_assert_int_eq(sc_utf8_length("\xf0\x8f\xbf\xbf", 4), -1);
}
END_TEST

START_TEST(utf8_length_rejects_surrogates_and_beyond_u10ffff)
{
	ck_assert_int_eq(sc_utf8_length("\xed\xa0\x80", 3), -1); /* U+D800 */
	ck_assert_int_eq(sc_utf8_length("\xed\xbf\xbf", 3), -1); /* U+DFFF */
	/* A surrogate pair spelt out in UTF-8 (CESU-8) is not UTF-8. */
	ck_assert_int_eq(sc_utf8_length("\xed\xa0\xbd\xed\xb8\x80", 6), -1);
	ck_assert_int_eq(sc_utf8_length("\xf4\x90\x80\x80", 4), -1);
	ck_assert_int_eq(sc_utf8_length("\xf5\x80\x80\x80", 4), -1);
	ck_assert_int_eq(sc_utf8_length("\xff", 1), -1);
}
END_TEST

START_TEST(utf8_length_rejects_truncated_and_stray_bytes)
{
	ck_assert_int_eq(sc_utf8_length("\x80", 1), -1);
	ck_assert_int_eq(sc_utf8_length("a\xbf"
	                                "b",
	                                3),
	                 -1);
	ck_assert_int_eq(sc_utf8_length("\xc3", 1), -1);
	ck_assert_int_eq(sc_utf8_length("\xe2\x82", 2), -1);
	ck_assert_int_eq(sc_utf8_length("\xf0\x9f\x98", 3), -1);
	/* A lead byte followed by ASCII instead of a continuation. */
	ck_assert_int_eq(sc_utf8_length("\xc3"
	                                "a",
	                                2),
	                 -1);
	/* The length bounds the read: the euro sign cut short. */
	ck_assert_int_eq(sc_utf8_length("\xe2\x82\xac", 2), -1);
}
END_TEST

/* ---- collecting ----------------------------------------------------- */

START_TEST(fresh_validator_is_ok_and_first_message_per_field_wins)
{
	struct sc_valid v;

	sc_valid_init(&v);
	ck_assert(sc_valid_ok(&v));
	sc_valid_fail(&v, "name", "is required");
	sc_valid_fail(&v, "name", "must be a string");
	sc_valid_fail(&v, "age", "must be an integer");
	ck_assert(!sc_valid_ok(&v));
	ck_assert_str_eq(detail(&v, "name"), "is required");
	ck_assert_str_eq(detail(&v, "age"), "must be an integer");
	ck_assert_int_eq(json_object_object_length(v.details), 2);
	sc_valid_release(&v);
	ck_assert(sc_valid_ok(&v));
}
END_TEST

/* ---- sc_valid_string ------------------------------------------------ */

START_TEST(string_required_but_missing_or_null_is_required)
{
	struct sc_valid v;
	json_object *o = parse("{\"b\":null}");
	const char *out = "x";

	sc_valid_init(&v);
	ck_assert(!sc_valid_string(&v, o, "a", SC_V_REQUIRED, 0, 10, &out));
	ck_assert_ptr_null(out);
	ck_assert(!sc_valid_string(&v, o, "b", SC_V_REQUIRED, 0, 10, &out));
	ck_assert_str_eq(detail(&v, "a"), "is required");
	ck_assert_str_eq(detail(&v, "b"), "is required");
	/* A NULL object (no body) reads as every field missing. */
	ck_assert(!sc_valid_string(&v, NULL, "c", SC_V_REQUIRED, 0, 10, &out));
	ck_assert_str_eq(detail(&v, "c"), "is required");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_optional_missing_is_fine_and_nullable_null_is_fine)
{
	struct sc_valid v;
	json_object *o = parse("{\"n\":null}");
	const char *out = "x";

	sc_valid_init(&v);
	ck_assert(!sc_valid_string(&v, o, "a", 0, 0, 10, &out));
	ck_assert_ptr_null(out);
	ck_assert(!sc_valid_string(&v, o, "n", SC_V_NULLABLE | SC_V_REQUIRED, 0,
	                           10, &out));
	ck_assert_ptr_null(out);
	ck_assert(sc_valid_ok(&v));
	/* Without SC_V_NULLABLE an explicit null is the wrong type. */
	ck_assert(!sc_valid_string(&v, o, "n", 0, 0, 10, &out));
	ck_assert_str_eq(detail(&v, "n"), "must be a string");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_rejects_other_types)
{
	struct sc_valid v;
	json_object *o = parse("{\"i\":5,\"b\":true,\"a\":[],\"o\":{}}");
	static const char *const fields[] = {"i", "b", "a", "o"};

	sc_valid_init(&v);
	for (size_t i = 0; i < 4; i++) {
		ck_assert(!sc_valid_string(&v, o, fields[i], SC_V_REQUIRED, 0,
		                           10, NULL));
		ck_assert_str_eq(detail(&v, fields[i]), "must be a string");
	}
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_length_counts_code_points_not_bytes)
{
	struct sc_valid v;
	/* Three e-acutes are 6 bytes but 3 characters. */
	json_object *o =
	    parse("{\"three\":\"\xc3\xa9\xc3\xa9\xc3\xa9\","
	          "\"four\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}");
	const char *out = NULL;

	sc_valid_init(&v);
	ck_assert(sc_valid_string(&v, o, "three", SC_V_REQUIRED, 3, 3, &out));
	ck_assert_str_eq(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
	ck_assert(!sc_valid_string(&v, o, "four", SC_V_REQUIRED, 1, 3, &out));
	ck_assert_ptr_null(out);
	ck_assert_str_eq(detail(&v, "four"), "must be at most 3 characters");
	ck_assert(!sc_valid_string(&v, o, "three", SC_V_REQUIRED, 4, 30, &out));
	ck_assert_str_eq(detail(&v, "three"), "must be at least 4 characters");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_empty_below_min_one_says_must_not_be_empty)
{
	struct sc_valid v;
	json_object *o = parse("{\"s\":\"\"}");

	sc_valid_init(&v);
	ck_assert(!sc_valid_string(&v, o, "s", 0, 1, 10, NULL));
	ck_assert_str_eq(detail(&v, "s"), "must not be empty");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_rejects_control_characters_but_allows_newline_and_tab)
{
	struct sc_valid v;
	json_object *o = parse("{\"ok\":\"a\\nb\\tc\",\"bell\":\"a\\u0007\","
	                       "\"cr\":\"a\\rb\",\"nul\":\"a\\u0000b\","
	                       "\"del\":\"a\\u007f\",\"c1\":\"a\\u0085\"}");
	static const char *const bad[] = {"bell", "cr", "nul", "del", "c1"};

	sc_valid_init(&v);
	ck_assert(sc_valid_string(&v, o, "ok", 0, 0, 100, NULL));
	for (size_t i = 0; i < 5; i++) {
		ck_assert_msg(!sc_valid_string(&v, o, bad[i], 0, 0, 100, NULL),
		              "%s accepted", bad[i]);
		ck_assert_str_eq(detail(&v, bad[i]),
		                 "must not contain control characters");
	}
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_rejects_invalid_utf8_inside_the_json_string)
{
	struct sc_valid v;
	/* Built by hand: json-c lets the overlong and the surrogate through. */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "over", json_object_new_string("a\xc0\xaf"));
	json_object_object_add(o, "sur",
	                       json_object_new_string("\xed\xa0\x80"));

	sc_valid_init(&v);
	ck_assert(!sc_valid_string(&v, o, "over", 0, 0, 10, NULL));
	ck_assert(!sc_valid_string(&v, o, "sur", 0, 0, 10, NULL));
	ck_assert_str_eq(detail(&v, "over"), "must be valid UTF-8");
	ck_assert_str_eq(detail(&v, "sur"), "must be valid UTF-8");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(string_trim_rejects_leading_and_trailing_whitespace)
{
	struct sc_valid v;
	json_object *o = parse("{\"lead\":\" a\",\"trail\":\"a \","
	                       "\"mid\":\"a b\",\"nl\":\"a\\n\"}");

	sc_valid_init(&v);
	ck_assert(!sc_valid_string(&v, o, "lead", SC_V_TRIM, 0, 10, NULL));
	ck_assert(!sc_valid_string(&v, o, "trail", SC_V_TRIM, 0, 10, NULL));
	ck_assert(!sc_valid_string(&v, o, "nl", SC_V_TRIM, 0, 10, NULL));
	ck_assert(sc_valid_string(&v, o, "mid", SC_V_TRIM, 0, 10, NULL));
	ck_assert_str_eq(detail(&v, "lead"),
	                 "must not start or end with spaces");
	ck_assert_ptr_null(detail(&v, "mid"));
	/* Without the flag, surrounding spaces are the caller's business. */
	sc_valid_release(&v);
	sc_valid_init(&v);
	ck_assert(sc_valid_string(&v, o, "lead", 0, 0, 10, NULL));
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

/* ---- sc_valid_int / sc_valid_bool ------------------------------------ */

START_TEST(int_accepts_integers_in_range)
{
	struct sc_valid v;
	json_object *o =
	    parse("{\"n\":42,\"neg\":-7,\"big\":9223372036854775807}");
	int64_t out = 0;

	sc_valid_init(&v);
	ck_assert(sc_valid_int(&v, o, "n", SC_V_REQUIRED, 0, 100, &out));
	ck_assert_int_eq(out, 42);
	ck_assert(sc_valid_int(&v, o, "neg", 0, -10, 10, &out));
	ck_assert_int_eq(out, -7);
	ck_assert(sc_valid_int(&v, o, "big", 0, 0, INT64_MAX, &out));
	ck_assert(out == INT64_MAX);
	ck_assert(sc_valid_ok(&v));
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(int_rejects_doubles_strings_and_booleans)
{
	struct sc_valid v;
	json_object *o = parse("{\"d\":1.0,\"e\":1e3,\"s\":\"5\",\"b\":true}");
	static const char *const fields[] = {"d", "e", "s", "b"};
	int64_t out = 99;

	sc_valid_init(&v);
	for (size_t i = 0; i < 4; i++) {
		ck_assert(!sc_valid_int(&v, o, fields[i], SC_V_REQUIRED, 0,
		                        1000, &out));
		ck_assert_str_eq(detail(&v, fields[i]), "must be an integer");
	}
	ck_assert_int_eq(out, 99);
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(int_rejects_out_of_range_with_the_bounds_in_the_message)
{
	struct sc_valid v;
	json_object *o = parse("{\"lo\":0,\"hi\":101,\"neg\":-1,\"pos\":11}");

	sc_valid_init(&v);
	ck_assert(!sc_valid_int(&v, o, "lo", 0, 1, 100, NULL));
	ck_assert(!sc_valid_int(&v, o, "hi", 0, 1, 100, NULL));
	ck_assert(!sc_valid_int(&v, o, "neg", 0, 0, INT64_MAX, NULL));
	ck_assert(!sc_valid_int(&v, o, "pos", 0, INT64_MIN, 10, NULL));
	ck_assert_str_eq(detail(&v, "lo"), "must be between 1 and 100");
	ck_assert_str_eq(detail(&v, "hi"), "must be between 1 and 100");
	ck_assert_str_eq(detail(&v, "neg"), "must be at least 0");
	ck_assert_str_eq(detail(&v, "pos"), "must be at most 10");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(int_past_int64_max_is_out_of_range_not_clamped)
{
	struct sc_valid v;
	/* json-c saturates these to INT64_MAX when read as int64. */
	json_object *o = parse("{\"u\":18446744073709551615,"
	                       "\"just\":9223372036854775808}");

	sc_valid_init(&v);
	ck_assert(!sc_valid_int(&v, o, "u", 0, 0, INT64_MAX, NULL));
	ck_assert(!sc_valid_int(&v, o, "just", 0, 0, INT64_MAX, NULL));
	ck_assert_str_eq(detail(&v, "u"), "must be at least 0");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(int_required_missing_and_optional_missing)
{
	struct sc_valid v;
	json_object *o = parse("{}");
	int64_t out = 5;

	sc_valid_init(&v);
	ck_assert(!sc_valid_int(&v, o, "opt", 0, 0, 10, &out));
	ck_assert(sc_valid_ok(&v));
	ck_assert_int_eq(out, 5);
	ck_assert(!sc_valid_int(&v, o, "req", SC_V_REQUIRED, 0, 10, &out));
	ck_assert_str_eq(detail(&v, "req"), "is required");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

START_TEST(bool_accepts_booleans_only)
{
	struct sc_valid v;
	json_object *o =
	    parse("{\"t\":true,\"f\":false,\"i\":1,\"s\":\"true\"}");
	bool out = false;

	sc_valid_init(&v);
	ck_assert(sc_valid_bool(&v, o, "t", SC_V_REQUIRED, &out));
	ck_assert(out);
	ck_assert(sc_valid_bool(&v, o, "f", SC_V_REQUIRED, &out));
	ck_assert(!out);
	ck_assert(!sc_valid_bool(&v, o, "i", 0, &out));
	ck_assert(!sc_valid_bool(&v, o, "s", 0, &out));
	ck_assert(!sc_valid_bool(&v, o, "missing", SC_V_REQUIRED, &out));
	ck_assert_str_eq(detail(&v, "i"), "must be true or false");
	ck_assert_str_eq(detail(&v, "s"), "must be true or false");
	ck_assert_str_eq(detail(&v, "missing"), "is required");
	sc_valid_release(&v);
	json_object_put(o);
}
END_TEST

/* ---- formats ---------------------------------------------------------- */

START_TEST(username_accepts_3_to_30_of_the_allowed_characters)
{
	static const char *const good[] = {"abc", "a_b.c-d", "user123", "___",
	                                   "abcdefghijklmnopqrstuvwxyz0123"};
	struct sc_valid v;

	sc_valid_init(&v);
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ck_assert_msg(sc_valid_username(&v, "u", good[i]), "%s",
		              good[i]);
	}
	ck_assert(sc_valid_ok(&v));
	sc_valid_release(&v);
}
END_TEST

START_TEST(username_rejects_case_length_and_other_characters)
{
	static const char *const bad[] = {
	    "ab",  "abcdefghijklmnopqrstuvwxyz01234", "Abc", "a b",
	    "a@b", "\xc3\xa9\xc3\xa9\xc3\xa9",        "",    "abc/",
	    "ab\n"};
	struct sc_valid v;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		sc_valid_init(&v);
		ck_assert_msg(!sc_valid_username(&v, "u", bad[i]), "%s",
		              bad[i]);
		ck_assert_str_eq(
		    detail(&v, "u"),
		    "must be 3 to 30 characters of a-z, 0-9, _ . -");
		sc_valid_release(&v);
	}
}
END_TEST

START_TEST(format_checks_on_null_record_nothing)
{
	struct sc_valid v;

	sc_valid_init(&v);
	ck_assert(!sc_valid_username(&v, "u", NULL));
	ck_assert(!sc_valid_email(&v, "e", NULL));
	ck_assert(!sc_valid_url(&v, "l", NULL));
	ck_assert(sc_valid_ok(&v));
	sc_valid_release(&v);
}
END_TEST

START_TEST(email_accepts_ordinary_addresses)
{
	static const char *const good[] = {
	    "a@b.co", "first.last+tag@example.org", "x@sub.domain.example",
	    "j\xc3\xb6rg@example.de"};
	struct sc_valid v;

	sc_valid_init(&v);
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ck_assert_msg(sc_valid_email(&v, "e", good[i]), "%s", good[i]);
	}
	ck_assert(sc_valid_ok(&v));
	sc_valid_release(&v);
}
END_TEST

START_TEST(email_rejects_malformed_addresses)
{
	char local65[80], long_total[300];
	const char *bad[] = {"",        "plain",   "@example.org", "a@",
	                     "a@b",     "a@@b.co", "a@b@c.co",     "a b@c.co",
	                     "a@b.co ", "a@.co",   "a@b.",         "a\t@b.co",
	                     local65,   long_total};
	struct sc_valid v;

	memset(local65, 'x', 65);
	memcpy(local65 + 65, "@b.co", 6);
	memset(long_total, 'd', 260);
	memcpy(long_total, "a@", 2);
	memcpy(long_total + 260, ".com", 5);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		sc_valid_init(&v);
		ck_assert_msg(!sc_valid_email(&v, "e", bad[i]), "'%s'", bad[i]);
		ck_assert_str_eq(detail(&v, "e"),
		                 "must be a valid email address");
		sc_valid_release(&v);
	}
	/* 64 characters of local part is still fine. */
	sc_valid_init(&v);
	memmove(local65, local65 + 1, strlen(local65));
	ck_assert(sc_valid_email(&v, "e", local65));
	sc_valid_release(&v);
}
END_TEST

START_TEST(url_accepts_http_and_https_with_a_host)
{
	static const char *const good[] = {
	    "http://example.org", "https://example.org/path?q=1#frag",
	    "HTTPS://EXAMPLE.ORG", "http://127.0.0.1:8080/x", "https://[::1]/"};
	struct sc_valid v;

	sc_valid_init(&v);
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ck_assert_msg(sc_valid_url(&v, "l", good[i]), "%s", good[i]);
	}
	ck_assert(sc_valid_ok(&v));
	sc_valid_release(&v);
}
END_TEST

START_TEST(url_rejects_other_schemes_no_host_spaces_and_length)
{
	static char too_long[2100];
	const char *bad[] = {"ftp://example.org", "javascript:alert(1)",
	                     "http://",           "https:///path",
	                     "http:example.org",  "http://exa mple.org",
	                     "http://a\n.org",    "//example.org",
	                     "example.org",       too_long};
	struct sc_valid v;

	memcpy(too_long, "https://a.org/", 14);
	memset(too_long + 14, 'x', 2049 - 14);
	too_long[2049] = '\0';
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		sc_valid_init(&v);
		ck_assert_msg(!sc_valid_url(&v, "l", bad[i]), "'%s'", bad[i]);
		ck_assert_ptr_nonnull(detail(&v, "l"));
		sc_valid_release(&v);
	}
	sc_valid_init(&v);
	ck_assert(!sc_valid_url(&v, "l", "ftp://x.org"));
	ck_assert_str_eq(detail(&v, "l"), "must be an http or https URL");
	sc_valid_release(&v);
	/* Exactly 2048 is fine. */
	too_long[2048] = '\0';
	sc_valid_init(&v);
	ck_assert(sc_valid_url(&v, "l", too_long));
	sc_valid_release(&v);
}
END_TEST

START_TEST(known_flags_each_unknown_field)
{
	static const char *const allowed[] = {"username", "password", NULL};
	struct sc_valid v;
	json_object *ok = parse("{\"username\":\"a\",\"password\":\"b\"}");
	json_object *extra =
	    parse("{\"username\":\"a\",\"admin\":true,\"x\":1}");

	sc_valid_init(&v);
	ck_assert(sc_valid_known(&v, ok, allowed));
	ck_assert(sc_valid_ok(&v));
	ck_assert(!sc_valid_known(&v, extra, allowed));
	ck_assert_str_eq(detail(&v, "admin"), "unknown field");
	ck_assert_str_eq(detail(&v, "x"), "unknown field");
	ck_assert_ptr_null(detail(&v, "username"));
	ck_assert_int_eq(json_object_object_length(v.details), 2);
	sc_valid_release(&v);
	json_object_put(ok);
	json_object_put(extra);
}
END_TEST

static Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *u = tcase_create("utf8");
	TCase *f = tcase_create("fields");
	TCase *m = tcase_create("formats");

	tcase_add_test(u, utf8_length_counts_multibyte_characters_as_one);
	tcase_add_test(u, utf8_length_accepts_the_edges_of_the_valid_ranges);
	tcase_add_test(u, utf8_length_rejects_overlong_forms);
	tcase_add_test(u, utf8_length_rejects_surrogates_and_beyond_u10ffff);
	tcase_add_test(u, utf8_length_rejects_truncated_and_stray_bytes);
	suite_add_tcase(s, u);

	tcase_add_test(f,
	               fresh_validator_is_ok_and_first_message_per_field_wins);
	tcase_add_test(f, string_required_but_missing_or_null_is_required);
	tcase_add_test(
	    f, string_optional_missing_is_fine_and_nullable_null_is_fine);
	tcase_add_test(f, string_rejects_other_types);
	tcase_add_test(f, string_length_counts_code_points_not_bytes);
	tcase_add_test(f, string_empty_below_min_one_says_must_not_be_empty);
	tcase_add_test(
	    f, string_rejects_control_characters_but_allows_newline_and_tab);
	tcase_add_test(f, string_rejects_invalid_utf8_inside_the_json_string);
	tcase_add_test(f, string_trim_rejects_leading_and_trailing_whitespace);
	tcase_add_test(f, int_accepts_integers_in_range);
	tcase_add_test(f, int_rejects_doubles_strings_and_booleans);
	tcase_add_test(f,
	               int_rejects_out_of_range_with_the_bounds_in_the_message);
	tcase_add_test(f, int_past_int64_max_is_out_of_range_not_clamped);
	tcase_add_test(f, int_required_missing_and_optional_missing);
	tcase_add_test(f, bool_accepts_booleans_only);
	tcase_add_test(f, known_flags_each_unknown_field);
	suite_add_tcase(s, f);

	tcase_add_test(m, username_accepts_3_to_30_of_the_allowed_characters);
	tcase_add_test(m, username_rejects_case_length_and_other_characters);
	tcase_add_test(m, format_checks_on_null_record_nothing);
	tcase_add_test(m, email_accepts_ordinary_addresses);
	tcase_add_test(m, email_rejects_malformed_addresses);
	tcase_add_test(m, url_accepts_http_and_https_with_a_host);
	tcase_add_test(m, url_rejects_other_schemes_no_host_spaces_and_length);
	suite_add_tcase(s, m);
	return s;
}

SC_TEST_MAIN(validate_suite)
