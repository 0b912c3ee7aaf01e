/* ws_request_test.c: HTTP/1.1 request heads: the fields, query decoding,
 * WebSocket upgrade checks, and malformed heads refused. */
#include "ws_request.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "testing.h"

static int
parse(struct sc_ws_request *r, const char *head)
{
	return sc_ws_request_parse(r, head, strlen(head));
}

START_TEST(request_line_headers_and_query_are_parsed)
{
	struct sc_ws_request r;
	char v[64];

	ck_assert_int_eq(parse(&r, "POST /socket.io/?EIO=4&transport=polling"
	                           "&sid=ab%2Bc&t=x+y HTTP/1.1\r\n"
	                           "Host: example\r\n"
	                           "Content-Type:  text/plain \r\n"
	                           "Content-Length: 12\r\n\r\n"),
	                 SC_OK);
	ck_assert_str_eq(r.method, "POST");
	ck_assert_str_eq(r.path, "/socket.io/");
	ck_assert_str_eq(
	    r.target, "/socket.io/?EIO=4&transport=polling&sid=ab%2Bc&t=x+y");
	ck_assert_int_eq(r.content_length, 12);
	ck_assert(r.keep_alive);
	ck_assert(!r.upgrade);
	ck_assert_str_eq(sc_ws_request_header(&r, "content-type"),
	                 "text/plain");
	ck_assert_str_eq(sc_ws_request_header(&r, "HOST"), "example");
	ck_assert_ptr_null(sc_ws_request_header(&r, "cookie"));
	ck_assert_int_eq(sc_ws_request_query(&r, "sid", v, sizeof(v)), SC_OK);
	ck_assert_str_eq(v, "ab+c");
	ck_assert_int_eq(sc_ws_request_query(&r, "t", v, sizeof(v)), SC_OK);
	ck_assert_str_eq(v, "x y");
	ck_assert_int_eq(sc_ws_request_query(&r, "EI", v, sizeof(v)),
	                 SC_ENOTFOUND);
	ck_assert_int_eq(sc_ws_request_query(&r, "transport", v, 4),
	                 SC_ETOOBIG);
	sc_ws_request_release(&r);
}
END_TEST

START_TEST(bad_query_escapes_are_refused)
{
	struct sc_ws_request r;
	char v[16];

	ck_assert_int_eq(parse(&r, "GET /p?a=%zz&b=%00&c=%4 HTTP/1.1\r\n\r\n"),
	                 SC_OK);
	ck_assert_int_eq(sc_ws_request_query(&r, "a", v, sizeof(v)), SC_EINVAL);
	ck_assert_int_eq(sc_ws_request_query(&r, "b", v, sizeof(v)), SC_EINVAL);
	ck_assert_int_eq(sc_ws_request_query(&r, "c", v, sizeof(v)), SC_EINVAL);
	ck_assert_str_eq(r.path, "/p");
	sc_ws_request_release(&r);
}
END_TEST

START_TEST(keep_alive_follows_the_version_and_connection)
{
	struct sc_ws_request r;

	ck_assert_int_eq(parse(&r, "GET / HTTP/1.0\r\n\r\n"), SC_OK);
	ck_assert(!r.keep_alive);
	sc_ws_request_release(&r);
	ck_assert_int_eq(parse(&r, "GET / HTTP/1.0\r\nConnection: Keep-Alive"
	                           "\r\n\r\n"),
	                 SC_OK);
	ck_assert(r.keep_alive);
	sc_ws_request_release(&r);
	ck_assert_int_eq(
	    parse(&r, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), SC_OK);
	ck_assert(!r.keep_alive);
	sc_ws_request_release(&r);
}
END_TEST

static const char *upgrade =
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
    "Host: localhost:3000\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Upgrade: WebSocket\r\n"
    "Sec-WebSocket-Version: %s\r\n"
    "Sec-WebSocket-Key: %s\r\n\r\n";

START_TEST(websocket_upgrades_are_checked)
{
	struct sc_ws_request r;
	const char *key;
	char head[512];

	snprintf(head, sizeof(head), upgrade, "13", "dGhlIHNhbXBsZSBub25jZQ==");
	ck_assert_int_eq(parse(&r, head), SC_OK);
	ck_assert(r.upgrade);
	ck_assert_int_eq(sc_ws_request_check_upgrade(&r, &key), 0);
	ck_assert_str_eq(key, "dGhlIHNhbXBsZSBub25jZQ==");
	sc_ws_request_release(&r);
	snprintf(head, sizeof(head), upgrade, "8", "dGhlIHNhbXBsZSBub25jZQ==");
	ck_assert_int_eq(parse(&r, head), SC_OK);
	ck_assert_int_eq(sc_ws_request_check_upgrade(&r, &key), 426);
	sc_ws_request_release(&r);
	/* a key that is not 16 bytes of base64 */
	snprintf(head, sizeof(head), upgrade, "13", "c2hvcnQ=");
	ck_assert_int_eq(parse(&r, head), SC_OK);
	ck_assert_int_eq(sc_ws_request_check_upgrade(&r, &key), 400);
	sc_ws_request_release(&r);
	snprintf(head, sizeof(head), upgrade, "13", "dGhlIHNhbXBsZSBub25jZQ=!");
	ck_assert_int_eq(parse(&r, head), SC_OK);
	ck_assert_int_eq(sc_ws_request_check_upgrade(&r, &key), 400);
	sc_ws_request_release(&r);
	/* no Connection: upgrade */
	ck_assert_int_eq(parse(&r, "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"
	                           "Sec-WebSocket-Version: 13\r\n"
	                           "Sec-WebSocket-Key: "
	                           "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
	                 SC_OK);
	ck_assert(!r.upgrade);
	ck_assert_int_eq(sc_ws_request_check_upgrade(&r, &key), 400);
	sc_ws_request_release(&r);
}
END_TEST

START_TEST(malformed_heads_are_refused)
{
	struct sc_ws_request r;
	const char *bad[] = {
	    "",
	    "GET / HTTP/1.1\r\n",             /* no blank line */
	    "GET / HTTP/1.1\n\n",             /* bare LF */
	    "GET /  HTTP/1.1\r\n\r\n",        /* two spaces */
	    "GET http://x/ HTTP/1.1\r\n\r\n", /* absolute form */
	    "GET / HTTP/2.0\r\n\r\n",         /* version */
	    "G(T / HTTP/1.1\r\n\r\n",         /* method token */
	    "GET /\x01 HTTP/1.1\r\n\r\n",     /* control in target */
	    "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
	    "GET / HTTP/1.1\r\n: empty\r\n\r\n",
	    "GET / HTTP/1.1\r\nA : b\r\n\r\n",      /* space before colon */
	    "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", /* obs-fold */
	    "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",   /* DEL in value */
	    "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",    /* bare CR */
	    "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"
	    "\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(&r, bad[i]) != SC_OK, "accepted %zu", i);
		sc_ws_request_release(&r);
	}
	ck_assert_int_eq(
	    sc_ws_request_parse(&r, "GET / HTTP/1.1\r\n\0\r\n\r\n", 20),
	    SC_EINVAL);
	sc_ws_request_release(&r);
}
END_TEST

START_TEST(too_many_headers_are_refused)
{
	struct sc_ws_request r;
	char head[4096] = "GET / HTTP/1.1\r\n";
	size_t n = strlen(head);

	for (int i = 0; i <= SC_WS_REQUEST_MAX_HEADERS; i++) {
		n += (size_t)snprintf(head + n, sizeof(head) - n, "H%d: v\r\n",
		                      i);
	}
	snprintf(head + n, sizeof(head) - n, "\r\n");
	ck_assert_int_eq(parse(&r, head), SC_ETOOBIG);
	sc_ws_request_release(&r);
}
END_TEST

static Suite *
ws_request_suite(void)
{
	Suite *s = suite_create("ws_request");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, request_line_headers_and_query_are_parsed);
	tcase_add_test(tc, bad_query_escapes_are_refused);
	tcase_add_test(tc, keep_alive_follows_the_version_and_connection);
	tcase_add_test(tc, websocket_upgrades_are_checked);
	tcase_add_test(tc, malformed_heads_are_refused);
	tcase_add_test(tc, too_many_headers_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(ws_request_suite)
