/* payload_test.c: the checks on Socket.IO payloads and the history query:
 * every malformed input is refused with the field named, valid input is
 * normalised (content trimmed). */
#include <string.h>

#include "payload.h"
#include "testing.h"

static json_object *
parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	ck_assert_msg(o != NULL, "bad test JSON: %s", s);
	return o;
}

/* The message recorded for field, or NULL. */
static const char *
problem(const struct sc_valid *v, const char *field)
{
	json_object *m;

	if (v->details == NULL ||
	    !json_object_object_get_ex(v->details, field, &m)) {
		return NULL;
	}
	return json_object_get_string(m);
}

START_TEST(the_payload_is_the_first_argument_when_an_object)
{
	json_object *a;

	ck_assert_ptr_null(sg_payload(NULL));
	a = parse("[]");
	ck_assert_ptr_null(sg_payload(a));
	json_object_put(a);
	a = parse("[1, {}]");
	ck_assert_ptr_null(sg_payload(a));
	json_object_put(a);
	a = parse("[null]");
	ck_assert_ptr_null(sg_payload(a));
	json_object_put(a);
	a = parse("[[{\"eventId\":1}]]");
	ck_assert_ptr_null(sg_payload(a));
	json_object_put(a);
	a = parse("[{\"eventId\":1}, \"extra\"]");
	ck_assert_ptr_nonnull(sg_payload(a));
	json_object_put(a);
	a = parse("{\"eventId\":1}");
	ck_assert_ptr_null(sg_payload(a));
	json_object_put(a);
}
END_TEST

static const char *const bad_ids[] = {
    "{}",
    "{\"eventId\":null}",
    "{\"eventId\":\"5\"}",
    "{\"eventId\":0}",
    "{\"eventId\":-3}",
    "{\"eventId\":1.5}",
    "{\"eventId\":true}",
    "{\"eventId\":[5]}",
    "{\"eventId\":9007199254740992}",
    "{\"eventId\":99999999999999999999999}",
};

START_TEST(ids_must_be_positive_safe_integers)
{
	json_object *p = parse(bad_ids[_i]);
	struct sc_valid v;
	int64_t id = 0;

	sc_valid_init(&v);
	ck_assert_msg(!sg_check_id(&v, p, "eventId", &id), "%s", bad_ids[_i]);
	ck_assert_ptr_nonnull(problem(&v, "eventId"));
	sc_valid_release(&v);
	json_object_put(p);
}
END_TEST

START_TEST(a_good_id_is_read)
{
	json_object *p = parse("{\"eventId\":9007199254740991}");
	struct sc_valid v;
	int64_t id = 0;

	sc_valid_init(&v);
	ck_assert(sg_check_id(&v, p, "eventId", &id));
	ck_assert_int_eq(id, 9007199254740991LL);
	ck_assert(sc_valid_ok(&v));
	json_object_put(p);
}
END_TEST

START_TEST(content_is_trimmed)
{
	json_object *p = parse(
	    "{\"eventId\":4,\"content\":\"  \\n\\t hello\\n world \\r\\n\"}");
	struct sc_valid v;
	struct sg_message_in m;

	sc_valid_init(&v);
	ck_assert(sg_check_message(&v, p, "eventId", &m));
	ck_assert_int_eq(m.room, 4);
	ck_assert_str_eq(m.content, "hello\n world");
	ck_assert_int_eq(m.type, SG_MSG_TEXT);
	ck_assert_ptr_null(m.client_id);
	sg_message_in_release(&m);
	json_object_put(p);
}
END_TEST

static void
expect_content_refused(json_object *content, const char *why)
{
	json_object *p = json_object_new_object();
	struct sc_valid v;
	struct sg_message_in m;

	json_object_object_add(p, "matchId", json_object_new_int(3));
	json_object_object_add(p, "content", content);
	sc_valid_init(&v);
	ck_assert(!sg_check_message(&v, p, "matchId", &m));
	ck_assert_ptr_null(m.content);
	ck_assert_msg(problem(&v, "content") != NULL, "no problem for %s", why);
	sc_valid_release(&v);
	json_object_put(p);
}

START_TEST(bad_content_is_refused)
{
	char buf[8200];

	expect_content_refused(NULL, "null");
	expect_content_refused(json_object_new_int(5), "a number");
	expect_content_refused(json_object_new_string(""), "empty");
	expect_content_refused(json_object_new_string(" \t\r\n "), "blank");
	expect_content_refused(json_object_new_string_len("a\0b", 3), "NUL");
	expect_content_refused(json_object_new_string("a\x07"), "BEL");
	expect_content_refused(json_object_new_string("a\x7f"), "DEL");
	expect_content_refused(json_object_new_string("a\xc2\x85"), "C1");
	expect_content_refused(json_object_new_string("a\xff"), "bad UTF-8");
	expect_content_refused(json_object_new_string("\xc0\xaf"), "overlong");
	expect_content_refused(json_object_new_string("\xed\xa0\x80"),
	                       "a surrogate");
	memset(buf, 'x', 2001);
	buf[2001] = '\0';
	expect_content_refused(json_object_new_string(buf), "2001 chars");
	/* 2001 characters of two bytes each */
	for (int i = 0; i < 2001; i++) {
		buf[2 * i] = (char)0xc3;
		buf[2 * i + 1] = (char)0xa9;
	}
	buf[4002] = '\0';
	expect_content_refused(json_object_new_string(buf), "2001 é");
}
END_TEST

START_TEST(content_limits_count_characters_not_bytes)
{
	json_object *p = json_object_new_object();
	struct sc_valid v;
	struct sg_message_in m;
	char buf[8100];

	/* 2000 four-byte characters, with spaces around */
	buf[0] = ' ';
	for (int i = 0; i < 2000; i++) {
		memcpy(buf + 1 + 4 * i, "\xf0\x9f\x92\x83", 4);
	}
	memcpy(buf + 8001, "  ", 3);
	json_object_object_add(p, "eventId", json_object_new_int(1));
	json_object_object_add(p, "content", json_object_new_string(buf));
	sc_valid_init(&v);
	ck_assert(sg_check_message(&v, p, "eventId", &m));
	ck_assert_uint_eq(strlen(m.content), 8000);
	sg_message_in_release(&m);
	json_object_put(p);
}
END_TEST

START_TEST(links_must_be_http_urls)
{
	const char *good = "{\"matchId\":2,\"type\":\"link\","
	                   "\"content\":\" https://example.com/v.mp4 \"}";
	const char *bad[] = {
	    "{\"matchId\":2,\"type\":\"link\",\"content\":\"ftp://x/y\"}",
	    "{\"matchId\":2,\"type\":\"link\",\"content\":\"see my video\"}",
	    "{\"matchId\":2,\"type\":\"link\",\"content\":\"javascript:x\"}",
	    "{\"matchId\":2,\"type\":\"link\",\"content\":\"https://\"}",
	};
	struct sc_valid v;
	struct sg_message_in m;
	json_object *p = parse(good);

	sc_valid_init(&v);
	ck_assert(sg_check_message(&v, p, "matchId", &m));
	ck_assert_int_eq(m.type, SG_MSG_LINK);
	ck_assert_str_eq(m.content, "https://example.com/v.mp4");
	sg_message_in_release(&m);
	json_object_put(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = parse(bad[i]);
		sc_valid_init(&v);
		ck_assert_msg(!sg_check_message(&v, p, "matchId", &m), "%s",
		              bad[i]);
		ck_assert_ptr_nonnull(problem(&v, "content"));
		sc_valid_release(&v);
		json_object_put(p);
	}
}
END_TEST

START_TEST(every_bad_field_of_a_message_is_named)
{
	json_object *p = parse("{\"eventId\":\"x\",\"content\":\"\","
	                       "\"type\":\"video\",\"clientId\":\"has space\","
	                       "\"color\":\"red\"}");
	struct sc_valid v;
	struct sg_message_in m;

	sc_valid_init(&v);
	ck_assert(!sg_check_message(&v, p, "eventId", &m));
	ck_assert_ptr_nonnull(problem(&v, "eventId"));
	ck_assert_ptr_nonnull(problem(&v, "content"));
	ck_assert_ptr_nonnull(problem(&v, "type"));
	ck_assert_ptr_nonnull(problem(&v, "clientId"));
	ck_assert_ptr_nonnull(problem(&v, "color"));
	ck_assert_ptr_null(m.client_id);
	sc_valid_release(&v);
	json_object_put(p);
}
END_TEST

START_TEST(client_ids_are_short_printable_ascii)
{
	char id[70];
	json_object *p;
	struct sc_valid v;
	struct sg_message_in m;

	memset(id, 'a', 64);
	id[64] = '\0';
	p = json_object_new_object();
	json_object_object_add(p, "eventId", json_object_new_int(1));
	json_object_object_add(p, "content", json_object_new_string("hi"));
	json_object_object_add(p, "clientId", json_object_new_string(id));
	sc_valid_init(&v);
	ck_assert(sg_check_message(&v, p, "eventId", &m));
	ck_assert_str_eq(m.client_id, id);
	sg_message_in_release(&m);
	id[64] = 'a';
	id[65] = '\0';
	json_object_object_add(p, "clientId", json_object_new_string(id));
	ck_assert(!sg_check_message(&v, p, "eventId", &m));
	sc_valid_release(&v);
	json_object_object_add(p, "clientId", json_object_new_string("é"));
	ck_assert(!sg_check_message(&v, p, "eventId", &m));
	sc_valid_release(&v);
	json_object_object_add(p, "clientId", json_object_new_string(""));
	ck_assert(!sg_check_message(&v, p, "eventId", &m));
	sc_valid_release(&v);
	/* null is the same as absent */
	json_object_object_add(p, "clientId", NULL);
	ck_assert(sg_check_message(&v, p, "eventId", &m));
	ck_assert_ptr_null(m.client_id);
	sg_message_in_release(&m);
	json_object_put(p);
}
END_TEST

START_TEST(signals_need_an_object_under_their_name)
{
	struct sc_valid v;
	int64_t match = 0;
	json_object *p, *val;

	p = parse(
	    "{\"matchId\":5,\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}");
	sc_valid_init(&v);
	ck_assert(sg_check_signal(&v, p, "offer", &match, &val));
	ck_assert_int_eq(match, 5);
	ck_assert(json_object_is_type(val, json_type_object));
	json_object_put(p);

	p = parse("{\"matchId\":5,\"candidate\":null}");
	ck_assert(sg_check_signal(&v, p, "candidate", &match, &val));
	ck_assert_ptr_null(val);
	json_object_put(p);

	const char *bad[][2] = {
	    {"{\"matchId\":5}", "offer"},
	    {"{\"matchId\":5,\"offer\":null}", "offer"},
	    {"{\"matchId\":5,\"offer\":\"v=0\"}", "offer"},
	    {"{\"matchId\":5,\"answer\":[1]}", "answer"},
	    {"{\"matchId\":5,\"candidate\":7}", "candidate"},
	    {"{\"matchId\":5,\"offer\":{},\"answer\":{}}", "offer"},
	    {"{\"offer\":{}}", "offer"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = parse(bad[i][0]);
		sc_valid_init(&v);
		ck_assert_msg(!sg_check_signal(&v, p, bad[i][1], &match, &val),
		              "%s", bad[i][0]);
		ck_assert_ptr_null(val);
		sc_valid_release(&v);
		json_object_put(p);
	}
}
END_TEST

START_TEST(signals_over_64_kib_are_refused)
{
	static char sdp[SG_SIGNAL_MAX + 1];
	json_object *p = json_object_new_object(),
	            *o = json_object_new_object();
	struct sc_valid v;
	int64_t match;
	json_object *val;

	memset(sdp, 'a', SG_SIGNAL_MAX);
	json_object_object_add(o, "sdp", json_object_new_string(sdp));
	json_object_object_add(p, "matchId", json_object_new_int(1));
	json_object_object_add(p, "offer", o);
	sc_valid_init(&v);
	ck_assert(!sg_check_signal(&v, p, "offer", &match, &val));
	ck_assert_ptr_nonnull(problem(&v, "offer"));
	sc_valid_release(&v);
	json_object_put(p);
}
END_TEST

START_TEST(history_query_defaults_and_limits)
{
	struct sc_valid v;
	int64_t before = 0;
	int limit = 0;

	sc_valid_init(&v);
	ck_assert(sg_check_history(&v, NULL, NULL, NULL, &before, &limit));
	ck_assert_int_eq(before, INT64_MAX);
	ck_assert_int_eq(limit, 50);
	ck_assert(sg_check_history(&v, "120", NULL, "100", &before, &limit));
	ck_assert_int_eq(before, 120);
	ck_assert_int_eq(limit, 100);
	ck_assert(sg_check_history(&v, NULL, "77", "1", &before, &limit));
	ck_assert_int_eq(before, 77);
	ck_assert_int_eq(limit, 1);
	ck_assert(sg_check_history(&v, "77", "77", NULL, &before, &limit));

	const char *bad[][3] = {
	    {NULL, NULL, "0"},   {NULL, NULL, "101"},
	    {NULL, NULL, "ten"}, {NULL, NULL, ""},
	    {NULL, NULL, "-1"},  {"0", NULL, NULL},
	    {"x", NULL, NULL},   {"1e3", NULL, NULL},
	    {NULL, "abc", NULL}, {"5", "6", NULL},
	    {" 5", NULL, NULL},  {"99999999999999999999", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sc_valid_init(&v);
		ck_assert_msg(!sg_check_history(&v, bad[i][0], bad[i][1],
		                                bad[i][2], &before, &limit),
		              "case %zu", i);
		ck_assert(!sc_valid_ok(&v));
		sc_valid_release(&v);
	}
}
END_TEST

static Suite *
payload_suite(void)
{
	Suite *s = suite_create("payload");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, the_payload_is_the_first_argument_when_an_object);
	tcase_add_loop_test(tc, ids_must_be_positive_safe_integers, 0,
	                    (int)(sizeof(bad_ids) / sizeof(bad_ids[0])));
	tcase_add_test(tc, a_good_id_is_read);
	tcase_add_test(tc, content_is_trimmed);
	tcase_add_test(tc, bad_content_is_refused);
	tcase_add_test(tc, content_limits_count_characters_not_bytes);
	tcase_add_test(tc, links_must_be_http_urls);
	tcase_add_test(tc, every_bad_field_of_a_message_is_named);
	tcase_add_test(tc, client_ids_are_short_printable_ascii);
	tcase_add_test(tc, signals_need_an_object_under_their_name);
	tcase_add_test(tc, signals_over_64_kib_are_refused);
	tcase_add_test(tc, history_query_defaults_and_limits);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(payload_suite)
