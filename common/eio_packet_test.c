/* eio_packet_test.c: Engine.IO packets, polling payloads and base64, with
 * malformed input of every kind refused cleanly. */
#include "eio_packet.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "testing.h"

START_TEST(text_packets_decode_type_and_data)
{
	struct sc_eio_packet p;

	ck_assert_int_eq(sc_eio_packet_decode("4hello", 6, &p), SC_OK);
	ck_assert_int_eq(p.type, SC_EIO_MESSAGE);
	ck_assert(!p.binary);
	ck_assert_uint_eq(p.len, 5);
	ck_assert_mem_eq(p.data, "hello", 5);
	ck_assert_int_eq(sc_eio_packet_decode("2probe", 6, &p), SC_OK);
	ck_assert_int_eq(p.type, SC_EIO_PING);
	ck_assert_int_eq(sc_eio_packet_decode("6", 1, &p), SC_OK);
	ck_assert_int_eq(p.type, SC_EIO_NOOP);
	ck_assert_uint_eq(p.len, 0);
}
END_TEST

START_TEST(unknown_or_empty_packets_are_refused)
{
	struct sc_eio_packet p;
	const char *bad[] = {"", "7", "9x", "abc", "b", "-1", "\x1e", " 4"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(
		    sc_eio_packet_decode(bad[i], strlen(bad[i]), &p),
		    SC_EINVAL);
	}
}
END_TEST

START_TEST(payloads_split_on_the_record_separator)
{
	struct sc_eio_payload pl;
	const char *body = "4test1\x1e"
	                   "4test2\x1e"
	                   "3\x1e"
	                   "bAQIDBA==";

	ck_assert_int_eq(sc_eio_payload_decode(body, strlen(body), 16, &pl),
	                 SC_OK);
	ck_assert_uint_eq(pl.count, 4);
	ck_assert_mem_eq(pl.packets[0].data, "test1", 5);
	ck_assert_mem_eq(pl.packets[1].data, "test2", 5);
	ck_assert_int_eq(pl.packets[2].type, SC_EIO_PONG);
	ck_assert(pl.packets[3].binary);
	ck_assert_int_eq(pl.packets[3].type, SC_EIO_MESSAGE);
	ck_assert_uint_eq(pl.packets[3].len, 4);
	ck_assert_mem_eq(pl.packets[3].data, "\x01\x02\x03\x04", 4);
	sc_eio_payload_release(&pl);
}
END_TEST

START_TEST(a_payload_with_any_bad_packet_is_refused_whole)
{
	struct sc_eio_payload pl;
	const char *bad[] = {
	    "",
	    "abc",
	    "4a\x1e\x1e"
	    "4b",
	    "4a\x1e",
	    "\x1e"
	    "4a",
	    "4a\x1e"
	    "x",
	    "bAQ",
	    "b====",
	    "bAQ=D",
	    "bAQI\x1e"
	    "4",
	    "b@@@@",
	    "bAR==",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(sc_eio_payload_decode(bad[i], strlen(bad[i]), 16,
		                                    &pl) == SC_EINVAL,
		              "accepted '%s'", bad[i]);
		ck_assert_ptr_null(pl.packets);
	}
}
END_TEST

START_TEST(a_payload_with_too_many_packets_is_refused)
{
	struct sc_eio_payload pl;
	char body[64];

	memset(body, 0, sizeof(body));
	body[0] = '6';
	for (int i = 1; i < 10; i++) {
		memcpy(body + 1 + (i - 1) * 2,
		       "\x1e"
		       "6",
		       2);
	}
	ck_assert_int_eq(sc_eio_payload_decode(body, strlen(body), 9, &pl),
	                 SC_ETOOBIG);
	ck_assert_int_eq(sc_eio_payload_decode(body, strlen(body), 10, &pl),
	                 SC_OK);
	ck_assert_uint_eq(pl.count, 10);
	sc_eio_payload_release(&pl);
}
END_TEST

START_TEST(payloads_encode_text_and_base64_binary)
{
	struct evbuffer *b = evbuffer_new();
	char out[64];
	size_t n;

	sc_eio_payload_append(b, true, false, "4hello", 6);
	sc_eio_payload_append(b, false, true, "\x01\x02\x03\x04", 4);
	sc_eio_payload_append(b, false, false, "2", 1);
	n = evbuffer_remove(b, out, sizeof(out));
	ck_assert_uint_eq(n, 6 + 1 + 9 + 1 + 1);
	ck_assert_mem_eq(out,
	                 "4hello\x1e"
	                 "bAQIDBA==\x1e"
	                 "2",
	                 n);
	evbuffer_free(b);
}
END_TEST

START_TEST(base64_round_trips_every_length)
{
	uint8_t in[64], back[64];
	char enc[100];

	for (size_t i = 0; i < sizeof(in); i++) {
		in[i] = (uint8_t)(i * 37 + 11);
	}
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t el = sc_eio_base64_len(n), bl = 0;

		sc_eio_base64_encode(in, n, enc);
		ck_assert_int_eq(sc_eio_base64_decode(enc, el, back, &bl),
		                 SC_OK);
		ck_assert_uint_eq(bl, n);
		ck_assert_mem_eq(back, in, n);
	}
}
END_TEST

START_TEST(random_payloads_never_crash)
{
	srand(42);
	for (int i = 0; i < 20000; i++) {
		char body[64];
		size_t len = (size_t)(rand() % (int)sizeof(body));
		struct sc_eio_payload pl;

		for (size_t k = 0; k < len; k++) {
			const char alphabet[] = "0123456b\x1e"
			                        "AQID=+/x";

			body[k] =
			    rand() % 4 == 0
			        ? (char)(rand() % 256)
			        : alphabet[rand() % (sizeof(alphabet) - 1)];
		}
		if (sc_eio_payload_decode(body, len, 8, &pl) == SC_OK) {
			ck_assert_uint_ge(pl.count, 1);
			ck_assert_uint_le(pl.count, 8);
			sc_eio_payload_release(&pl);
		}
	}
}
END_TEST

static Suite *
eio_packet_suite(void)
{
	Suite *s = suite_create("eio_packet");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, text_packets_decode_type_and_data);
	tcase_add_test(tc, unknown_or_empty_packets_are_refused);
	tcase_add_test(tc, payloads_split_on_the_record_separator);
	tcase_add_test(tc, a_payload_with_any_bad_packet_is_refused_whole);
	tcase_add_test(tc, a_payload_with_too_many_packets_is_refused);
	tcase_add_test(tc, payloads_encode_text_and_base64_binary);
	tcase_add_test(tc, base64_round_trips_every_length);
	tcase_add_test(tc, random_payloads_never_crash);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(eio_packet_suite)
