/* sio_test.c: the Socket.IO server through real WebSocket connections on
 * 127.0.0.1: rooms and broadcasts, refusal with data, deferred accept,
 * acks both ways, server disconnects, protocol violations and the connect
 * timeout. The client is a minimal one written here. */
#include "sio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "eio_listener.h"
#include "error.h"
#include "testing.h"

struct server {
	struct event_base *base;
	struct sc_eio_listener *l;
	struct sc_sio_server *sio;
	struct sc_sio_nsp *nsp;
	int port;
	int disconnects;
	char last_reason[64];
	bool room_seen_in_disconnect;
	struct sc_sio_socket *pending; /* deferred accept */
	bool defer;
	int acked; /* server-to-client ack results: 1 ok, -1 NULL */
	char ack_args[64];
};

struct client {
	int fd;
	uint8_t in[1 << 16];
	size_t inlen;
};

static struct server srv;

/* ---- the server side ------------------------------------------------ */

static void
on_connect(struct sc_sio_socket *s, json_object *auth, void *arg)
{
	(void)arg;
	json_object *tok = NULL;

	json_object_object_get_ex(auth, "token", &tok);
	if (tok != NULL && strcmp(json_object_get_string(tok), "bad") == 0) {
		json_object *data = json_object_new_object();

		json_object_object_add(data, "why", json_object_new_int(1));
		sc_sio_refuse(s, "nope", data);
		json_object_put(data);
		return;
	}
	if (srv.defer) {
		srv.pending = s;
		return;
	}
	sc_sio_accept(s, NULL);
}

static void
ack_cb(struct sc_sio_socket *s, json_object *args, void *arg)
{
	(void)s;
	(void)arg;
	srv.acked = args != NULL ? 1 : -1;
	if (args != NULL) {
		snprintf(srv.ack_args, sizeof(srv.ack_args), "%s",
		         json_object_to_json_string_ext(
		             args, JSON_C_TO_STRING_PLAIN));
	}
}

static void
on_event(struct sc_sio_socket *s, const char *name, json_object *args,
         struct sc_sio_ack *ack, void *arg)
{
	(void)arg;
	const char *room =
	    json_object_get_string(json_object_array_get_idx(args, 0));

	if (strcmp(name, "join") == 0) {
		sc_sio_join(s, room);
	} else if (strcmp(name, "leave") == 0) {
		sc_sio_leave(s, room);
	} else if (strcmp(name, "say") == 0) {
		sc_sio_to_room(srv.nsp, room, s, "said", args);
	} else if (strcmp(name, "ask") == 0) {
		sc_sio_emit_with_ack(s, "question", args, ack_cb, NULL);
	} else if (strcmp(name, "kick") == 0) {
		sc_sio_disconnect(s, false);
	}
	if (ack != NULL) {
		json_object *reply = json_object_new_array();

		json_object_array_add(reply, json_object_new_string(name));
		sc_sio_ack_send(ack, reply);
		json_object_put(reply);
	}
}

static void
on_disconnect(struct sc_sio_socket *s, const char *reason, void *arg)
{
	(void)arg;
	srv.disconnects++;
	snprintf(srv.last_reason, sizeof(srv.last_reason), "%s", reason);
	srv.room_seen_in_disconnect = sc_sio_in_room(s, "r");
}

static void
server_start(int connect_timeout_ms)
{
	struct sc_sio_opts o = {0};
	struct sc_sio_nsp_cbs cbs = {
	    .on_connect = on_connect,
	    .on_event = on_event,
	    .on_disconnect = on_disconnect,
	};

	memset(&srv, 0, sizeof(srv));
	srv.base = event_base_new();
	srv.l = sc_eio_listener_new(srv.base, NULL);
	ck_assert_int_eq(sc_eio_listener_bind(srv.l, "127.0.0.1", 0), SC_OK);
	srv.port = sc_eio_listener_port(srv.l);
	o.connect_timeout_ms = connect_timeout_ms;
	srv.sio = sc_sio_server_new(srv.l, &o);
	srv.nsp = sc_sio_nsp_new(srv.sio, "/", &cbs, NULL);
	ck_assert_ptr_nonnull(srv.nsp);
	ck_assert_ptr_null(sc_sio_nsp_new(srv.sio, "/", &cbs, NULL));
	ck_assert_ptr_null(sc_sio_nsp_new(srv.sio, "bad", &cbs, NULL));
}

static void
server_stop(void)
{
	sc_sio_server_free(srv.sio);
	sc_eio_listener_free(srv.l);
	event_base_free(srv.base);
}

/* ---- a minimal client --------------------------------------------- */

static long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
pump_once(struct client *c)
{
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	if (c != NULL && c->fd >= 0) {
		ssize_t n = recv(c->fd, c->in + c->inlen,
		                 sizeof(c->in) - c->inlen, MSG_DONTWAIT);

		if (n > 0) {
			c->inlen += (size_t)n;
		}
	}
	usleep(500);
}

static void
pump(int ms)
{
	long end = now_ms() + ms;

	while (now_ms() < end) {
		pump_once(NULL);
	}
}

/* Take the next whole frame: its opcode and payload (NUL-terminated);
 * -1 when none arrives within 2 s. */
static int
next_frame(struct client *c, char *out, size_t outlen)
{
	long end = now_ms() + 2000;

	while (now_ms() < end) {
		if (c->inlen >= 2) {
			size_t l = c->in[1] & 0x7f, h = 2;

			if (l == 126 && c->inlen >= 4) {
				l = (size_t)c->in[2] << 8 | c->in[3];
				h = 4;
			}
			if (l != 126 && c->inlen >= h + l) {
				int op = c->in[0] & 0x0f;
				size_t n = l < outlen - 1 ? l : outlen - 1;

				memcpy(out, c->in + h, n);
				out[n] = '\0';
				memmove(c->in, c->in + h + l, c->inlen - h - l);
				c->inlen -= h + l;
				return op;
			}
		}
		pump_once(c);
	}
	return -1;
}

/* The next text message that is not an Engine.IO ping. */
static const char *
next_text(struct client *c)
{
	static char buf[4096];
	int op;

	do {
		op = next_frame(c, buf, sizeof(buf));
	} while (op == 1 && strcmp(buf, "2") == 0);
	return op == 1 ? buf : op == 8 ? "<close>" : "<none>";
}

static void
send_text(struct client *c, const char *s)
{
	uint8_t buf[4096];
	size_t n = 0, len = strlen(s);

	buf[n++] = 0x81;
	if (len < 126) {
		buf[n++] = (uint8_t)(0x80 | len);
	} else {
		buf[n++] = 0x80 | 126;
		buf[n++] = (uint8_t)(len >> 8);
		buf[n++] = (uint8_t)len;
	}
	memset(buf + n, 0, 4); /* a zero mask key: bytes go as they are */
	n += 4;
	memcpy(buf + n, s, len);
	n += len;
	ck_assert_int_eq(send(c->fd, buf, n, 0), (ssize_t)n);
}

/* Open a WebSocket session and skip the Engine.IO open packet. */
static void
client_open(struct client *c)
{
	struct sockaddr_in sa = {0};
	char req[512], frame[1024];
	long end = now_ms() + 2000;
	char *crlf;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req),
	         "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
	         "Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	         "Sec-WebSocket-Version: 13\r\n"
	         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
	ck_assert_int_eq(send(c->fd, req, strlen(req), 0),
	                 (ssize_t)strlen(req));
	while ((crlf = memmem(c->in, c->inlen, "\r\n\r\n", 4)) == NULL &&
	       now_ms() < end) {
		pump_once(c);
	}
	ck_assert_ptr_nonnull(crlf);
	ck_assert_mem_eq(c->in, "HTTP/1.1 101", 12);
	c->inlen -= (size_t)(crlf + 4 - (char *)c->in);
	memmove(c->in, crlf + 4, c->inlen);
	ck_assert_int_eq(next_frame(c, frame, sizeof(frame)), 1);
	ck_assert_int_eq(frame[0], '0');
}

/* Open and join "/" (the server accepts unless told otherwise). */
static void
client_connect(struct client *c)
{
	client_open(c);
	send_text(c, "40");
	ck_assert_str_eq(
	    strncmp(next_text(c), "40{\"sid\":", 9) == 0 ? "ok" : "bad", "ok");
}

static void
client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

/* ---- tests ---------------------------------------------------------- */

START_TEST(room_broadcasts_reach_members_but_the_sender)
{
	struct client a, b, c;

	server_start(0);
	client_connect(&a);
	client_connect(&b);
	client_connect(&c);
	send_text(&a, "42[\"join\",\"r\"]");
	send_text(&b, "42[\"join\",\"r\"]");
	send_text(&c, "42[\"join\",\"other\"]");
	pump(30);
	ck_assert_uint_eq(sc_sio_room_size(srv.nsp, "r"), 2);
	send_text(&a, "42[\"say\",\"r\",\"hi\"]");
	ck_assert_str_eq(next_text(&b), "42[\"said\",\"r\",\"hi\"]");
	/* the sender is excluded, the other room hears nothing */
	send_text(&b, "42[\"say\",\"r\",\"back\"]");
	ck_assert_str_eq(next_text(&a), "42[\"said\",\"r\",\"back\"]");
	send_text(&c, "42[\"say\",\"other\",\"x\"]");
	pump(30);
	ck_assert_uint_eq(a.inlen, 0);
	ck_assert_uint_eq(b.inlen, 0);
	/* leaving works; the room goes when empty */
	send_text(&b, "42[\"leave\",\"r\"]");
	pump(30);
	ck_assert_uint_eq(sc_sio_room_size(srv.nsp, "r"), 1);
	send_text(&a, "42[\"leave\",\"r\"]");
	pump(30);
	ck_assert_uint_eq(sc_sio_room_size(srv.nsp, "r"), 0);
	client_close(&a);
	client_close(&b);
	client_close(&c);
	pump(30);
	ck_assert_int_eq(srv.disconnects, 3);
	ck_assert_str_eq(srv.last_reason, "transport close");
	server_stop();
}
END_TEST

START_TEST(on_disconnect_still_sees_the_rooms_then_they_are_left)
{
	struct client a;

	server_start(0);
	client_connect(&a);
	send_text(&a, "42[\"join\",\"r\"]");
	pump(30);
	ck_assert_uint_eq(sc_sio_room_size(srv.nsp, "r"), 1);
	send_text(&a, "41");
	pump(30);
	ck_assert_int_eq(srv.disconnects, 1);
	ck_assert_str_eq(srv.last_reason, "client namespace disconnect");
	ck_assert(srv.room_seen_in_disconnect);
	ck_assert_uint_eq(sc_sio_room_size(srv.nsp, "r"), 0);
	/* the connection stays: it can join again */
	send_text(&a, "40");
	ck_assert_str_eq(strncmp(next_text(&a), "40{", 3) == 0 ? "ok" : "bad",
	                 "ok");
	client_close(&a);
	server_stop();
}
END_TEST

START_TEST(refusal_carries_message_and_data_without_disconnect)
{
	struct client a;

	server_start(0);
	client_open(&a);
	send_text(&a, "40{\"token\":\"bad\"}");
	ck_assert_str_eq(next_text(&a),
	                 "44{\"message\":\"nope\",\"data\":{\"why\":1}}");
	send_text(&a, "40/nowhere,");
	ck_assert_str_eq(next_text(&a),
	                 "44/nowhere,{\"message\":\"Invalid namespace\"}");
	client_close(&a);
	pump(30);
	ck_assert_int_eq(srv.disconnects, 0);
	server_stop();
}
END_TEST

START_TEST(accept_may_come_later_and_events_wait_for_it)
{
	struct client a;

	server_start(0);
	srv.defer = true;
	client_open(&a);
	send_text(&a, "40");
	pump(30);
	ck_assert_ptr_nonnull(srv.pending);
	ck_assert(!sc_sio_socket_connected(srv.pending));
	ck_assert_int_eq(sc_sio_emit(srv.pending, "early", NULL), SC_EAGAIN);
	ck_assert_int_eq(sc_sio_accept(srv.pending, &srv), SC_OK);
	ck_assert_int_eq(sc_sio_accept(srv.pending, &srv), SC_EAGAIN);
	ck_assert_ptr_eq(sc_sio_socket_data(srv.pending), &srv);
	ck_assert_str_eq(strncmp(next_text(&a), "40{", 3) == 0 ? "ok" : "bad",
	                 "ok");
	ck_assert_int_eq(sc_sio_emit(srv.pending, "late", NULL), SC_OK);
	ck_assert_str_eq(next_text(&a), "42[\"late\"]");
	client_close(&a);
	pump(30);
	ck_assert_int_eq(srv.disconnects, 1);
	server_stop();
}
END_TEST

START_TEST(a_client_leaving_before_accept_gets_on_disconnect)
{
	struct client a;

	server_start(0);
	srv.defer = true;
	client_open(&a);
	send_text(&a, "40");
	pump(30);
	ck_assert_ptr_nonnull(srv.pending);
	sc_sio_socket_ref(srv.pending);
	client_close(&a);
	pump(30);
	ck_assert_int_eq(srv.disconnects, 1);
	ck_assert_int_eq(sc_sio_accept(srv.pending, NULL), SC_EAGAIN);
	sc_sio_socket_unref(srv.pending);
	server_stop();
}
END_TEST

START_TEST(acks_go_both_ways)
{
	struct client a;

	server_start(0);
	client_connect(&a);
	send_text(&a, "4217[\"hello\",1]");
	ck_assert_str_eq(next_text(&a), "4317[\"hello\"]");
	send_text(&a, "42[\"ask\",\"q?\"]");
	ck_assert_str_eq(next_text(&a), "420[\"question\",\"q?\"]");
	send_text(&a, "430[\"yes\",2]");
	pump(30);
	ck_assert_int_eq(srv.acked, 1);
	ck_assert_str_eq(srv.ack_args, "[\"yes\",2]");
	/* an ack still awaited when the socket goes gets NULL */
	srv.acked = 0;
	send_text(&a, "42[\"ask\",\"again\"]");
	ck_assert_str_eq(next_text(&a), "421[\"question\",\"again\"]");
	client_close(&a);
	pump(30);
	ck_assert_int_eq(srv.acked, -1);
	server_stop();
}
END_TEST

START_TEST(server_disconnect_sends_disconnect_packet)
{
	struct client a;

	server_start(0);
	client_connect(&a);
	send_text(&a, "42[\"kick\"]");
	ck_assert_str_eq(next_text(&a), "41");
	pump(30);
	ck_assert_int_eq(srv.disconnects, 1);
	ck_assert_str_eq(srv.last_reason, "server namespace disconnect");
	client_close(&a);
	server_stop();
}
END_TEST

START_TEST(protocol_violations_close_the_connection)
{
	const char *bad[] = {
	    "42[\"x\"]", /* event before connect */
	    "4abc",      /* not a packet */
	    "451-[\"x\",{\"_placeholder\":true,\"num\":0}]", /* no binary cb */
	    "44{}", /* connect error from a client */
	};

	server_start(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client a;

		if (i == 0) {
			client_open(&a);
		} else {
			client_connect(&a);
		}
		send_text(&a, bad[i]);
		if (i == 2) {
			/* the attachment completes the packet */
			uint8_t frame[] = {0x82, 0x81, 0, 0, 0, 0, 7};

			ck_assert_int_eq(send(a.fd, frame, sizeof(frame), 0),
			                 7);
		}
		ck_assert_msg(strcmp(next_text(&a), "<close>") == 0,
		              "not closed after '%s'", bad[i]);
		client_close(&a);
	}
	pump(30);
	ck_assert_int_eq(srv.disconnects, 3);
	server_stop();
}
END_TEST

START_TEST(clients_that_join_nothing_are_closed_after_the_timeout)
{
	struct client a;

	server_start(100);
	client_open(&a);
	ck_assert_str_eq(next_text(&a), "<close>");
	client_close(&a);
	server_stop();
}
END_TEST

START_TEST(shutdown_disconnects_everyone_with_going_away)
{
	struct client a;
	char frame[64];

	server_start(0);
	client_connect(&a);
	sc_sio_server_shutdown(srv.sio);
	ck_assert_int_eq(next_frame(&a, frame, sizeof(frame)), 8);
	ck_assert_int_eq((uint8_t)frame[0] << 8 | (uint8_t)frame[1], 1001);
	pump(30);
	ck_assert_int_eq(srv.disconnects, 1);
	ck_assert_str_eq(srv.last_reason, "server shutting down");
	client_close(&a);
	server_stop();
}
END_TEST

static Suite *
sio_suite(void)
{
	Suite *s = suite_create("sio");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, room_broadcasts_reach_members_but_the_sender);
	tcase_add_test(tc,
	               on_disconnect_still_sees_the_rooms_then_they_are_left);
	tcase_add_test(tc, refusal_carries_message_and_data_without_disconnect);
	tcase_add_test(tc, accept_may_come_later_and_events_wait_for_it);
	tcase_add_test(tc, a_client_leaving_before_accept_gets_on_disconnect);
	tcase_add_test(tc, acks_go_both_ways);
	tcase_add_test(tc, server_disconnect_sends_disconnect_packet);
	tcase_add_test(tc, protocol_violations_close_the_connection);
	tcase_add_test(tc,
	               clients_that_join_nothing_are_closed_after_the_timeout);
	tcase_add_test(tc, shutdown_disconnects_everyone_with_going_away);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(sio_suite)
