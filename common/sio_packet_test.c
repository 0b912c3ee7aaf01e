/* sio_packet_test.c: Socket.IO packets decoded and encoded, and malformed
 * input of every kind refused with a reason, never a crash. */
#include "sio_packet.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "testing.h"

static int
decode(const char *s, struct sc_sio_packet *p)
{
	const char *why = NULL;
	int rc = sc_sio_packet_decode(s, strlen(s), NULL, p, &why);

	if (rc != SC_OK) {
		ck_assert_ptr_nonnull(why);
		ck_assert_ptr_null(p->data);
	}
	return rc;
}

static const char *
json(const struct sc_sio_packet *p)
{
	return json_object_to_json_string_ext(p->data, JSON_C_TO_STRING_PLAIN);
}

START_TEST(connect_packets_carry_namespace_and_auth)
{
	struct sc_sio_packet p;

	ck_assert_int_eq(decode("0", &p), SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_CONNECT);
	ck_assert_str_eq(p.nsp, "/");
	ck_assert_ptr_null(p.data);
	ck_assert_int_eq(decode("0/custom,{\"token\":\"abc\"}", &p), SC_OK);
	ck_assert_str_eq(p.nsp, "/custom");
	ck_assert_str_eq(json(&p), "{\"token\":\"abc\"}");
	sc_sio_packet_release(&p);
	ck_assert_int_eq(decode("0/random", &p), SC_OK); /* no comma */
	ck_assert_str_eq(p.nsp, "/random");
	ck_assert_int_eq(decode("0/custom,", &p), SC_OK);
	ck_assert_str_eq(p.nsp, "/custom");
	ck_assert_ptr_null(p.data);
}
END_TEST

START_TEST(events_carry_ack_ids_and_arguments)
{
	struct sc_sio_packet p;

	ck_assert_int_eq(decode("2[\"message\",1,\"2\",{\"3\":[true]}]", &p),
	                 SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_EVENT);
	ck_assert_int_eq(p.id, -1);
	ck_assert_int_eq(json_object_array_length(p.data), 4);
	sc_sio_packet_release(&p);
	ck_assert_int_eq(decode("2/admin,456[\"x\"]", &p), SC_OK);
	ck_assert_str_eq(p.nsp, "/admin");
	ck_assert_int_eq(p.id, 456);
	sc_sio_packet_release(&p);
	ck_assert_int_eq(decode("3456[]", &p), SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_ACK);
	ck_assert_int_eq(p.id, 456);
	sc_sio_packet_release(&p);
	ck_assert_int_eq(decode("1/admin,", &p), SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_DISCONNECT);
}
END_TEST

START_TEST(binary_packets_count_their_attachments)
{
	struct sc_sio_packet p;

	ck_assert_int_eq(
	    decode("52-789[\"m\",{\"_placeholder\":true,\"num\":0},"
	           "{\"_placeholder\":true,\"num\":1}]",
	           &p),
	    SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_BINARY_EVENT);
	ck_assert_int_eq(p.attachments, 2);
	ck_assert_int_eq(p.id, 789);
	sc_sio_packet_release(&p);
	ck_assert_int_eq(
	    decode("61-/a,3[{\"_placeholder\":true,\"num\":0}]", &p), SC_OK);
	ck_assert_int_eq(p.type, SC_SIO_BINARY_ACK);
	ck_assert_str_eq(p.nsp, "/a");
	sc_sio_packet_release(&p);
}
END_TEST

START_TEST(malformed_packets_are_refused_with_a_reason)
{
	struct sc_sio_packet p;
	const char *bad[] = {
	    "",  /* empty */
	    "7", /* unknown type */
	    "abc",
	    "4abc",           /* not a connect error */
	    "2{}",            /* event not an array */
	    "2[]",            /* no event name */
	    "2[1]",           /* name not a string */
	    "2[\"connect\"]", /* reserved name */
	    "2[\"disconnect\",1]",
	    "2abc[\"x\"]", /* bad ack id */
	    "2[\"x\"",     /* unterminated JSON */
	    "2[\"x\"][]",  /* two values */
	    "2['x']",      /* not strict JSON */
	    "2[\"x\",]",   /* trailing comma */
	    "3{}",         /* ack not an array */
	    "3",           /* ack without payload */
	    "1{}",         /* disconnect with payload */
	    "0[]",         /* connect payload not an object */
	    "0\"tok\"",
	    "5[\"x\"]", /* no attachment count */
	    "5-[\"x\"]",
	    "5x-[\"x\"]",
	    "511-[\"x\"]", /* more than 10 attachments */
	    "51-[\"x\",{\"_placeholder\":true,\"num\":1}]", /* out of range */
	    "51-[\"x\",{\"_placeholder\":true,\"num\":-1}]",
	    "51-[\"x\",{\"_placeholder\":true}]",
	    "51-[\"x\",{\"_placeholder\":1,\"num\":0}]",
	    "2[\"x\",{\"_placeholder\":true,\"num\":0}]", /* no attachments */
	    "29007199254740992[\"x\"]",                   /* id past 2^53 - 1 */
	    "2[\"a\\u0000b\"]",                           /* NUL in the name */
	    "2/a\x01,[\"x\"]", /* control character in namespace */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(decode(bad[i], &p) == SC_EINVAL, "accepted '%s'",
		              bad[i]);
	}
}
END_TEST

START_TEST(json_nesting_is_bounded)
{
	char s[200];
	struct sc_sio_packet p;
	const char *why;
	struct sc_sio_decode_opts o = {.max_depth = 8};
	size_t n = 0;

	s[n++] = '2';
	s[n++] = '[';
	s[n++] = '"';
	s[n++] = 'x';
	s[n++] = '"';
	s[n++] = ',';
	for (int i = 0; i < 20; i++) {
		s[n++] = '[';
	}
	for (int i = 0; i < 20; i++) {
		s[n++] = ']';
	}
	s[n++] = ']';
	ck_assert_int_eq(sc_sio_packet_decode(s, n, &o, &p, &why), SC_EINVAL);
	ck_assert_str_eq(why, "JSON nested too deep");
	o.max_depth = 64;
	ck_assert_int_eq(sc_sio_packet_decode(s, n, &o, &p, &why), SC_OK);
	sc_sio_packet_release(&p);
}
END_TEST

/* Found by tests/fuzz/sio_packet_fuzz: json-c's strict mode reads NaN and
 * Infinity, which no JSON parser of a client accepts back. */
START_TEST(nan_and_infinity_are_not_json)
{
	static const char *const bad[] = {
	    "2[\"x\",NaN]",
	    "2[\"x\",{\"a\":[Infinity]}]",
	    "3[-Infinity]",
	    "0{\"n\":1e400}",
	    "4{\"message\":\"m\",\"data\":{\"n\":-1e999}}",
	};
	struct sc_sio_packet p;
	const char *why = NULL;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(sc_sio_packet_decode(bad[i], strlen(bad[i]), NULL,
		                                   &p, &why) == SC_EINVAL,
		              "%s", bad[i]);
		ck_assert_str_eq(why, "payload holds NaN or Infinity");
		ck_assert_ptr_null(p.data);
	}
	ck_assert_int_eq(decode("2[\"x\",1e300,-0.5,1.5e-300]", &p), SC_OK);
	sc_sio_packet_release(&p);
}
END_TEST

START_TEST(namespaces_are_bounded)
{
	char s[SC_SIO_MAX_NSP + 16];
	struct sc_sio_packet p;

	s[0] = '0';
	s[1] = '/';
	memset(s + 2, 'n', SC_SIO_MAX_NSP);
	s[SC_SIO_MAX_NSP + 2] = ',';
	s[SC_SIO_MAX_NSP + 3] = '\0';
	ck_assert_int_eq(decode(s, &p), SC_EINVAL);
	s[SC_SIO_MAX_NSP + 1] = ',';
	s[SC_SIO_MAX_NSP + 2] = '\0';
	ck_assert_int_eq(decode(s, &p), SC_OK);
	ck_assert_uint_eq(strlen(p.nsp), SC_SIO_MAX_NSP);
}
END_TEST

START_TEST(packets_encode_with_the_engine_prefix)
{
	struct sc_sio_buf b = {0};
	json_object *args = json_tokener_parse("[1,\"2\",{\"3\":[true]}]");

	sc_sio_packet_encode(&b, SC_SIO_EVENT, "/", 0, -1, NULL, 0);
	sc_sio_event_json(&b, "message-back", args);
	ck_assert_str_eq(b.p, "42[\"message-back\",1,\"2\",{\"3\":[true]}]");
	sc_sio_packet_encode(&b, SC_SIO_EVENT, "/custom", 0, 12, NULL, 0);
	sc_sio_event_json(&b, "a\"b\n", NULL);
	ck_assert_str_eq(b.p, "42/custom,12[\"a\\\"b\\u000a\"]");
	sc_sio_packet_encode(&b, SC_SIO_BINARY_ACK, "/", 2, 789, "[]", 2);
	ck_assert_str_eq(b.p, "462-789[]");
	sc_sio_packet_encode(&b, SC_SIO_CONNECT_ERROR, "/random", 0, -1,
	                     "{\"message\":\"Invalid namespace\"}", 31);
	ck_assert_str_eq(b.p, "44/random,{\"message\":\"Invalid namespace\"}");
	sc_sio_packet_encode(&b, SC_SIO_DISCONNECT, "/", 0, -1, NULL, 0);
	ck_assert_str_eq(b.p, "41");
	json_object_put(args);
	sc_sio_buf_release(&b);
}
END_TEST

START_TEST(encoded_events_decode_back_to_themselves)
{
	struct sc_sio_buf b = {0};
	json_object *args = json_tokener_parse("[\"\xc3\xa9t\xc3\xa9\",null,"
	                                       "-1.5,{\"a/b\":[]}]");
	struct sc_sio_packet p;
	const char *why;

	sc_sio_packet_encode(&b, SC_SIO_EVENT, "/x", 0, 7, NULL, 0);
	sc_sio_event_json(&b, "name/with\\stuff", args);
	ck_assert_int_eq(
	    sc_sio_packet_decode(b.p + 1, b.len - 1, NULL, &p, &why), SC_OK);
	ck_assert_str_eq(p.nsp, "/x");
	ck_assert_int_eq(p.id, 7);
	ck_assert_str_eq(
	    json_object_get_string(json_object_array_get_idx(p.data, 0)),
	    "name/with\\stuff");
	ck_assert_str_eq(
	    json(&p),
	    "[\"name\\/with\\\\stuff\",\"\xc3\xa9t\xc3\xa9\",null,-1.5,"
	    "{\"a\\/b\":[]}]");
	sc_sio_packet_release(&p);
	json_object_put(args);
	sc_sio_buf_release(&b);
}
END_TEST

START_TEST(random_and_mutated_packets_never_crash)
{
	const char *seeds[] = {
	    "0/custom,{\"token\":\"abc\"}",
	    "2/admin,456[\"x\",{\"a\":[1,2,{\"b\":null}]}]",
	    ("52-789[\"m\",{\"_placeholder\":true,\"num\":0},"
	     "{\"_placeholder\":true,\"num\":1}]"),
	    "3456[1,\"2\",{\"3\":[false]}]",
	};

	srand(7);
	for (int i = 0; i < 50000; i++) {
		char s[128];
		const char *seed = seeds[i % 4];
		size_t len = strlen(seed);
		struct sc_sio_packet p;
		const char *why;

		memcpy(s, seed, len);
		for (int k = rand() % 4; k >= 0; k--) {
			size_t at = (size_t)rand() % len;

			switch (rand() % 3) {
			case 0:
				s[at] = (char)(rand() % 256);
				break;
			case 1:
				len = at; /* truncate */
				break;
			default:
				s[at] = "0123456789/,-[]{}\":"[rand() % 19];
			}
			if (len == 0) {
				break;
			}
		}
		if (sc_sio_packet_decode(s, len, NULL, &p, &why) == SC_OK) {
			sc_sio_packet_release(&p);
		} else {
			ck_assert_ptr_nonnull(why);
		}
	}
}
END_TEST

static Suite *
sio_packet_suite(void)
{
	Suite *s = suite_create("sio_packet");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, connect_packets_carry_namespace_and_auth);
	tcase_add_test(tc, events_carry_ack_ids_and_arguments);
	tcase_add_test(tc, binary_packets_count_their_attachments);
	tcase_add_test(tc, malformed_packets_are_refused_with_a_reason);
	tcase_add_test(tc, json_nesting_is_bounded);
	tcase_add_test(tc, nan_and_infinity_are_not_json);
	tcase_add_test(tc, namespaces_are_bounded);
	tcase_add_test(tc, packets_encode_with_the_engine_prefix);
	tcase_add_test(tc, encoded_events_decode_back_to_themselves);
	tcase_add_test(tc, random_and_mutated_packets_never_crash);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(sio_packet_suite)
