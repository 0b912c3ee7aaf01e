/* ws_test.c: WebSocket frames against sc_ws over a socketpair: masking,
 * fragmentation, control frames, close codes, UTF-8, size and
 * back-pressure limits, and the RFC 6455 accept key. */
#include "ws.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "testing.h"
#include "ws_linger.h"

struct rec {
	int messages;
	bool binary;
	char msg[4096];
	size_t len;
	int ended;
	enum sc_ws_end why;
	int code;
	bool echo;    /* send every message back */
	uint32_t sum; /* FNV-1a of every byte of every message */
};

struct fixture {
	struct event_base *base;
	struct sc_ws_linger *linger;
	struct sc_ws *ws;
	int fd; /* the client's end */
	struct rec rec;
	uint8_t in[1 << 16];
	size_t inlen;
	bool shared; /* base is not the fixture's */
};

static void
on_message(struct sc_ws *ws, bool binary, const uint8_t *data, size_t len,
           void *arg)
{
	struct rec *r = arg;

	r->messages++;
	r->binary = binary;
	for (size_t i = 0; i < len; i++) {
		r->sum = (r->sum ^ data[i]) * 16777619u;
	}
	r->len = len < sizeof(r->msg) ? len : sizeof(r->msg);
	memcpy(r->msg, data, r->len);
	if (r->echo) {
		sc_ws_send(ws, binary, data, len);
	}
}

static void
on_end(struct sc_ws *ws, enum sc_ws_end why, int code, void *arg)
{
	(void)ws;
	struct rec *r = arg;

	r->ended++;
	r->why = why;
	r->code = code;
}

static const struct sc_ws_cbs cbs = {on_message, on_end};

/* base and flusher: NULL for a fixture of its own, else shared. */
static void
setup_on(struct fixture *f, size_t max_message, size_t max_output,
         struct event_base *base, struct sc_ws_flusher *flusher)
{
	int sv[2];
	struct bufferevent *bev;
	struct sc_ws_opts o = {max_message, max_output, NULL, flusher};

	memset(f, 0, sizeof(*f));
	f->rec.sum = 2166136261u;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->base = base != NULL ? base : event_base_new();
	f->shared = base != NULL;
	f->linger = sc_ws_linger_new(200);
	o.linger = f->linger;
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	bev = bufferevent_socket_new(f->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	f->ws = sc_ws_new(bev, &o, &cbs, &f->rec);
	ck_assert_ptr_nonnull(f->ws);
	f->fd = sv[1];
}

static void
setup(struct fixture *f, size_t max_message, size_t max_output)
{
	setup_on(f, max_message, max_output, NULL, NULL);
}

static void
teardown(struct fixture *f)
{
	if (f->rec.ended == 0 && f->ws != NULL) {
		sc_ws_abort(f->ws);
	}
	sc_ws_linger_free(f->linger);
	close(f->fd);
	if (!f->shared) {
		event_base_free(f->base);
	}
}

/* Run the loop and read what the server wrote, for about ms. */
static void
pump(struct fixture *f, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ssize_t n;

		event_base_loop(f->base, EVLOOP_NONBLOCK);
		n = read(f->fd, f->in + f->inlen, sizeof(f->in) - f->inlen);
		if (n > 0) {
			f->inlen += (size_t)n;
		}
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 +
	             (t.tv_nsec - t0.tv_nsec) / 1000000 <
	         ms);
}

/* One client frame into buf (room for len + 8); mask unless told not to.
 * Returns its length. */
static size_t
encode_frame(uint8_t *buf, int fin, int opcode, bool mask, const void *data,
             size_t len)
{
	size_t n = 0;
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

	buf[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		buf[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
	} else {
		buf[n++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		buf[n++] = (uint8_t)(len >> 8);
		buf[n++] = (uint8_t)len;
	}
	if (mask) {
		memcpy(buf + n, key, 4);
		n += 4;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = ((const uint8_t *)data)[i];

		buf[n++] = mask ? c ^ key[i % 4] : c;
	}
	return n;
}

/* Write one frame from the client; mask unless told not to. */
static void
send_frame(struct fixture *f, int fin, int opcode, bool mask, const void *data,
           size_t len)
{
	uint8_t buf[1 << 16];
	size_t n = encode_frame(buf, fin, opcode, mask, data, len);

	ck_assert_int_eq(write(f->fd, buf, n), (ssize_t)n);
}

/* The k-th frame the server sent (0-based): opcode, payload. */
static int
server_frame(struct fixture *f, int k, const uint8_t **data, size_t *len)
{
	size_t p = 0;

	for (int i = 0; p + 2 <= f->inlen; i++) {
		int op = f->in[p] & 0x0f;
		size_t l = f->in[p + 1] & 0x7f, h = 2;

		ck_assert_int_eq(f->in[p + 1] & 0x80, 0); /* never masked */
		if (l == 126) {
			l = (size_t)f->in[p + 2] << 8 | f->in[p + 3];
			h = 4;
		}
		if (p + h + l > f->inlen) {
			break;
		}
		if (i == k) {
			*data = f->in + p + h;
			*len = l;
			return op;
		}
		p += h + l;
	}
	return -1;
}

static int
close_code(const uint8_t *d, size_t len)
{
	return len >= 2 ? d[0] << 8 | d[1] : 0;
}

START_TEST(accept_key_matches_the_rfc_6455_example)
{
	char out[SC_WS_ACCEPT_LEN + 1];

	sc_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(masked_text_arrives_and_replies_go_out_unmasked)
{
	struct fixture f;
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	f.rec.echo = true;
	send_frame(&f, 1, 1, true, "hello", 5);
	pump(&f, 30);
	ck_assert_int_eq(f.rec.messages, 1);
	ck_assert(!f.rec.binary);
	ck_assert_mem_eq(f.rec.msg, "hello", 5);
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(d, "hello", 5);
	teardown(&f);
}
END_TEST

START_TEST(binary_messages_keep_every_byte)
{
	struct fixture f;
	const uint8_t bytes[] = {0, 1, 0xff, 0x80, 0};
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	f.rec.echo = true;
	send_frame(&f, 1, 2, true, bytes, sizeof(bytes));
	pump(&f, 30);
	ck_assert(f.rec.binary);
	ck_assert_uint_eq(f.rec.len, sizeof(bytes));
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 2);
	ck_assert_mem_eq(d, bytes, sizeof(bytes));
	teardown(&f);
}
END_TEST

START_TEST(fragments_are_joined_around_an_interleaved_ping)
{
	struct fixture f;
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	send_frame(&f, 0, 1, true, "Hel", 3);
	send_frame(&f, 1, 9, true, "p!", 2); /* ping between fragments */
	send_frame(&f, 0, 0, true, "lo, ", 4);
	send_frame(&f, 1, 0, true, "you", 3);
	pump(&f, 30);
	ck_assert_int_eq(f.rec.messages, 1);
	ck_assert_uint_eq(f.rec.len, 10);
	ck_assert_mem_eq(f.rec.msg, "Hello, you", 10);
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 0xa); /* pong */
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(d, "p!", 2);
	ck_assert_int_eq(f.rec.ended, 0);
	teardown(&f);
}
END_TEST

/* Send one bad frame; expect a close frame with `code` and on_end. */
static void
expect_refused(struct fixture *f, int code)
{
	const uint8_t *d;
	size_t len;

	pump(f, 50);
	ck_assert_int_eq(f->rec.messages, 0);
	ck_assert_int_eq(f->rec.ended, 1);
	ck_assert_int_eq(f->rec.code, code);
	ck_assert_int_eq(server_frame(f, 0, &d, &len), 8);
	ck_assert_int_eq(close_code(d, len), code);
}

START_TEST(unmasked_client_frames_are_refused_with_1002)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 1, false, "hello", 5);
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(text_that_is_not_utf8_is_refused_with_1007)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 1, true, "ok \xc3\x28", 5);
	expect_refused(&f, SC_WS_BAD_DATA);
	teardown(&f);
}
END_TEST

START_TEST(utf8_split_across_fragments_is_accepted)
{
	struct fixture f;

	setup(&f, 0, 0);
	/* U+20AC (E2 82 AC) cut in the middle */
	send_frame(&f, 0, 1, true, "\xe2\x82", 2);
	send_frame(&f, 1, 0, true, "\xac", 1);
	pump(&f, 30);
	ck_assert_int_eq(f.rec.messages, 1);
	ck_assert_mem_eq(f.rec.msg, "\xe2\x82\xac", 3);
	teardown(&f);
}
END_TEST

START_TEST(overlong_and_surrogate_utf8_are_refused)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 1, true, "\xed\xa0\x80", 3); /* U+D800 */
	expect_refused(&f, SC_WS_BAD_DATA);
	teardown(&f);
	setup(&f, 0, 0);
	send_frame(&f, 1, 1, true, "\xc0\xaf", 2); /* overlong '/' */
	expect_refused(&f, SC_WS_BAD_DATA);
	teardown(&f);
}
END_TEST

START_TEST(messages_over_the_limit_are_refused_with_1009)
{
	struct fixture f;
	char big[200];

	memset(big, 'a', sizeof(big));
	setup(&f, 100, 0);
	send_frame(&f, 1, 1, true, big, sizeof(big));
	expect_refused(&f, SC_WS_TOO_BIG);
	teardown(&f);
	/* the limit counts the whole message, not each fragment */
	setup(&f, 100, 0);
	send_frame(&f, 0, 1, true, big, 60);
	send_frame(&f, 1, 0, true, big, 60);
	expect_refused(&f, SC_WS_TOO_BIG);
	teardown(&f);
}
END_TEST

START_TEST(unknown_opcodes_are_refused_with_1002)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 3, true, "x", 1);
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(a_continuation_without_a_start_is_refused_with_1002)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 0, true, "x", 1);
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(control_frames_over_125_bytes_are_refused_with_1002)
{
	struct fixture f;
	char big[126];

	memset(big, 'p', sizeof(big));
	setup(&f, 0, 0);
	send_frame(&f, 1, 9, true, big, sizeof(big));
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(fragmented_control_frames_are_refused_with_1002)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 0, 9, true, "p", 1);
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(a_peer_close_is_echoed_with_its_code)
{
	struct fixture f;
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	send_frame(&f, 1, 8, true,
	           "\x0f\xa0"
	           "bye",
	           5); /* 4000 "bye" */
	pump(&f, 30);
	ck_assert_int_eq(f.rec.ended, 1);
	ck_assert_int_eq(f.rec.why, SC_WS_END_CLOSED);
	ck_assert_int_eq(f.rec.code, 4000);
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 8);
	ck_assert_int_eq(close_code(d, len), 4000);
	teardown(&f);
}
END_TEST

START_TEST(a_close_with_a_reserved_code_is_a_protocol_error)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 1, 8, true, "\x03\xed", 2); /* 1005 may not be sent */
	expect_refused(&f, SC_WS_PROTOCOL_ERROR);
	teardown(&f);
}
END_TEST

START_TEST(server_close_sends_queued_messages_then_the_code)
{
	struct fixture f;
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	ck_assert_int_eq(sc_ws_send(f.ws, false, "last", 4), SC_OK);
	sc_ws_close(f.ws, SC_WS_GOING_AWAY, "bye");
	f.ws = NULL;
	f.rec.ended = 1; /* no callbacks after close */
	pump(&f, 30);
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 1);
	ck_assert_mem_eq(d, "last", 4);
	ck_assert_int_eq(server_frame(&f, 1, &d, &len), 8);
	ck_assert_int_eq(close_code(d, len), SC_WS_GOING_AWAY);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(d + 2, "bye", 3);
	teardown(&f);
}
END_TEST

START_TEST(a_client_that_does_not_read_is_dropped)
{
	struct fixture f;
	char chunk[4096];
	int rc = SC_OK, sent = 0;

	memset(chunk, 'z', sizeof(chunk));
	setup(&f, 0, 64 * 1024);
	/* the client never reads: the kernel buffers fill, then ours */
	while (rc == SC_OK && sent < 100000) {
		rc = sc_ws_send(f.ws, true, chunk, sizeof(chunk));
		sent++;
		if (rc == SC_OK && sent % 16 == 0) {
			event_base_loop(f.base, EVLOOP_NONBLOCK);
		}
	}
	ck_assert_int_eq(rc, SC_EAGAIN);
	ck_assert_int_eq(f.rec.ended, 0); /* reported from the loop */
	event_base_loop(f.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(f.rec.ended, 1);
	ck_assert_int_eq(f.rec.why, SC_WS_END_SLOW);
	teardown(&f);
}
END_TEST

START_TEST(a_vanished_peer_is_reported_as_eof)
{
	struct fixture f;

	setup(&f, 0, 0);
	send_frame(&f, 0, 1, true, "half", 4);
	close(f.fd);
	f.fd = open("/dev/null", O_RDONLY);
	pump(&f, 30);
	ck_assert_int_eq(f.rec.ended, 1);
	ck_assert_int_eq(f.rec.why, SC_WS_END_EOF);
	ck_assert_int_eq(f.rec.code, SC_WS_ABNORMAL);
	teardown(&f);
}
END_TEST

START_TEST(sends_past_the_message_limit_are_refused)
{
	struct fixture f;
	char big[64];

	setup(&f, 32, 0);
	ck_assert_int_eq(sc_ws_send(f.ws, false, big, sizeof(big)), SC_EINVAL);
	teardown(&f);
}
END_TEST

static uint32_t
fnv(const uint8_t *d, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ d[i]) * 16777619u;
	}
	return h;
}

START_TEST(a_message_larger_than_one_read_arrives_whole)
{
	struct fixture f;
	static uint8_t big[20000];
	const uint8_t *d;
	size_t len;

	for (size_t i = 0; i < sizeof(big); i++) {
		big[i] = (uint8_t)(i * 7 + i / 251);
	}
	setup(&f, 0, 0);
	f.rec.echo = true;
	send_frame(&f, 1, 2, true, big, sizeof(big));
	pump(&f, 50);
	ck_assert_int_eq(f.rec.messages, 1);
	ck_assert_uint_eq(f.rec.sum, fnv(big, sizeof(big)));
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 2);
	ck_assert_uint_eq(len, sizeof(big));
	ck_assert_mem_eq(d, big, sizeof(big));
	teardown(&f);
}
END_TEST

START_TEST(frames_arriving_a_byte_at_a_time_are_read_right)
{
	struct fixture f;
	uint8_t buf[256];
	size_t n = 0;
	const uint8_t *d;
	size_t len;

	n += encode_frame(buf + n, 1, 9, true, "p1", 2);
	n += encode_frame(buf + n, 0, 1, true, "frag", 4);
	n += encode_frame(buf + n, 1, 10, true, "", 0); /* a pong between */
	n += encode_frame(buf + n, 1, 0, true, "mented", 6);
	n += encode_frame(buf + n, 1, 2, true, "", 0);
	setup(&f, 0, 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(write(f.fd, buf + i, 1), 1);
		event_base_loop(f.base, EVLOOP_NONBLOCK);
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	}
	pump(&f, 20);
	ck_assert_int_eq(f.rec.ended, 0);
	ck_assert_int_eq(f.rec.messages, 2);
	ck_assert(f.rec.binary); /* the empty one came last */
	ck_assert_uint_eq(f.rec.sum, fnv((const uint8_t *)"fragmented", 10));
	ck_assert_int_eq(server_frame(&f, 0, &d, &len), 10);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(d, "p1", 2);
	teardown(&f);
}
END_TEST

START_TEST(many_frames_in_one_write_are_all_read)
{
	struct fixture f;
	static uint8_t buf[40000];
	size_t n = 0;
	uint32_t want = 2166136261u;
	char m[32];

	for (int i = 0; i < 1000; i++) {
		int l = snprintf(m, sizeof(m), "message %d", i);

		n += encode_frame(buf + n, 1, 1, true, m, (size_t)l);
		for (int k = 0; k < l; k++) {
			want = (want ^ (uint8_t)m[k]) * 16777619u;
		}
	}
	setup(&f, 0, 0);
	f.rec.echo = true;
	ck_assert_int_eq(write(f.fd, buf, n), (ssize_t)n);
	pump(&f, 50);
	ck_assert_int_eq(f.rec.messages, 1000);
	ck_assert_uint_eq(f.rec.sum, want);
	ck_assert_int_eq(f.rec.ended, 0);
	teardown(&f);
}
END_TEST

START_TEST(connections_interleaving_partial_frames_keep_their_bytes)
{
	struct fixture a, b;
	static uint8_t big[9000];
	uint8_t fa[9100], fb[64];
	size_t na, nb;

	for (size_t i = 0; i < sizeof(big); i++) {
		big[i] = (uint8_t)(i ^ (i >> 8));
	}
	na = encode_frame(fa, 1, 2, true, big, sizeof(big));
	nb = encode_frame(fb, 1, 1, true, "from b", 6);
	setup(&a, 0, 0);
	setup(&b, 0, 0);
	/* a stops inside its frame's header, then inside its payload, with
	 * b's whole frames read in between */
	ck_assert_int_eq(write(a.fd, fa, 3), 3);
	pump(&a, 5);
	ck_assert_int_eq(write(b.fd, fb, nb), (ssize_t)nb);
	pump(&b, 5);
	ck_assert_int_eq(write(a.fd, fa + 3, 5000), 5000);
	pump(&a, 5);
	ck_assert_int_eq(write(b.fd, fb, nb), (ssize_t)nb);
	pump(&b, 5);
	ck_assert_int_eq(write(a.fd, fa + 5003, na - 5003),
	                 (ssize_t)(na - 5003));
	pump(&a, 20);
	ck_assert_int_eq(a.rec.messages, 1);
	ck_assert_uint_eq(a.rec.sum, fnv(big, sizeof(big)));
	ck_assert_int_eq(b.rec.messages, 2);
	ck_assert_mem_eq(b.rec.msg, "from b", 6);
	ck_assert_int_eq(a.rec.ended + b.rec.ended, 0);
	teardown(&a);
	teardown(&b);
}
END_TEST

START_TEST(a_frame_built_once_reads_the_same_on_every_connection)
{
	struct fixture a, b;
	struct sc_ws_frame fr = {0};
	static char text[300];
	const uint8_t *d;
	size_t len;

	memset(text, 'q', sizeof(text));
	setup(&a, 0, 0);
	setup(&b, 0, 0);
	sc_ws_frame_set(&fr, false, "short", 5);
	sc_ws_frame_set(&fr, false, text, sizeof(text)); /* reused */
	ck_assert_uint_eq(fr.payload, sizeof(text));
	ck_assert_int_eq(sc_ws_send_frame(a.ws, &fr), SC_OK);
	ck_assert_int_eq(sc_ws_send_frame(b.ws, &fr), SC_OK);
	ck_assert_int_eq(sc_ws_send(b.ws, false, text, sizeof(text)), SC_OK);
	pump(&a, 10);
	pump(&b, 10);
	ck_assert_int_eq(server_frame(&a, 0, &d, &len), 1);
	ck_assert_uint_eq(len, sizeof(text));
	ck_assert_mem_eq(d, text, sizeof(text));
	/* the same bytes sc_ws_send writes */
	ck_assert_uint_eq(b.inlen, 2 * fr.len);
	ck_assert_mem_eq(b.in, fr.buf, fr.len);
	ck_assert_mem_eq(b.in + fr.len, fr.buf, fr.len);
	sc_ws_frame_release(&fr);
	teardown(&a);
	teardown(&b);
}
END_TEST

START_TEST(sends_in_one_loop_turn_leave_in_order)
{
	struct fixture f;
	char m[16];
	const uint8_t *d;
	size_t len;

	setup(&f, 0, 0);
	for (int i = 0; i < 500; i++) {
		int l = snprintf(m, sizeof(m), "%d", i);

		ck_assert_int_eq(sc_ws_send(f.ws, false, m, (size_t)l), SC_OK);
	}
	ck_assert_uint_gt(sc_ws_unsent(f.ws), 0); /* written from the loop */
	pump(&f, 20);
	ck_assert_uint_eq(sc_ws_unsent(f.ws), 0);
	for (int i = 0; i < 500; i++) {
		int l = snprintf(m, sizeof(m), "%d", i);

		ck_assert_int_eq(server_frame(&f, i, &d, &len), 1);
		ck_assert_uint_eq(len, (size_t)l);
		ck_assert_mem_eq(d, m, len);
	}
	teardown(&f);
}
END_TEST

START_TEST(a_flusher_writes_each_connection_once_its_turn_is_over)
{
	struct event_base *base = event_base_new();
	struct sc_ws_flusher *fl = sc_ws_flusher_new(base);
	struct fixture a, b;
	const uint8_t *d;
	size_t len;

	setup_on(&a, 0, 0, base, fl);
	setup_on(&b, 0, 0, base, fl);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sc_ws_send(a.ws, false, "to a", 4), SC_OK);
		ck_assert_int_eq(sc_ws_send(b.ws, true, "to b", 4), SC_OK);
	}
	ck_assert_uint_gt(sc_ws_unsent(a.ws), 0); /* nothing written yet */
	pump(&a, 10);
	pump(&b, 10);
	ck_assert_uint_eq(sc_ws_unsent(a.ws) + sc_ws_unsent(b.ws), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(server_frame(&a, i, &d, &len), 1);
		ck_assert_mem_eq(d, "to a", 4);
		ck_assert_int_eq(server_frame(&b, i, &d, &len), 2);
		ck_assert_mem_eq(d, "to b", 4);
	}
	/* a client of the flusher that does not read is still dropped */
	teardown(&a);
	{
		struct fixture c;
		char chunk[4096];
		int rc = SC_OK;

		memset(chunk, 'y', sizeof(chunk));
		setup_on(&c, 0, 64 * 1024, base, fl);
		for (int i = 0; rc == SC_OK && i < 10000; i++) {
			rc = sc_ws_send(c.ws, true, chunk, sizeof(chunk));
			if (i % 16 == 15) {
				event_base_loop(base, EVLOOP_NONBLOCK);
			}
		}
		ck_assert_int_eq(rc, SC_EAGAIN);
		event_base_loop(base, EVLOOP_NONBLOCK);
		ck_assert_int_eq(c.rec.ended, 1);
		ck_assert_int_eq(c.rec.why, SC_WS_END_SLOW);
		teardown(&c);
	}
	teardown(&b);
	sc_ws_flusher_free(fl);
	event_base_free(base);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("frames");

	tcase_add_test(tc, accept_key_matches_the_rfc_6455_example);
	tcase_add_test(tc, masked_text_arrives_and_replies_go_out_unmasked);
	tcase_add_test(tc, binary_messages_keep_every_byte);
	tcase_add_test(tc, fragments_are_joined_around_an_interleaved_ping);
	tcase_add_test(tc, unmasked_client_frames_are_refused_with_1002);
	tcase_add_test(tc, text_that_is_not_utf8_is_refused_with_1007);
	tcase_add_test(tc, utf8_split_across_fragments_is_accepted);
	tcase_add_test(tc, overlong_and_surrogate_utf8_are_refused);
	tcase_add_test(tc, messages_over_the_limit_are_refused_with_1009);
	tcase_add_test(tc, unknown_opcodes_are_refused_with_1002);
	tcase_add_test(tc, a_continuation_without_a_start_is_refused_with_1002);
	tcase_add_test(tc, control_frames_over_125_bytes_are_refused_with_1002);
	tcase_add_test(tc, fragmented_control_frames_are_refused_with_1002);
	tcase_add_test(tc, a_peer_close_is_echoed_with_its_code);
	tcase_add_test(tc, a_close_with_a_reserved_code_is_a_protocol_error);
	tcase_add_test(tc, server_close_sends_queued_messages_then_the_code);
	tcase_add_test(tc, a_client_that_does_not_read_is_dropped);
	tcase_add_test(tc, a_vanished_peer_is_reported_as_eof);
	tcase_add_test(tc, sends_past_the_message_limit_are_refused);
	tcase_add_test(tc, a_message_larger_than_one_read_arrives_whole);
	tcase_add_test(tc, frames_arriving_a_byte_at_a_time_are_read_right);
	tcase_add_test(tc, many_frames_in_one_write_are_all_read);
	tcase_add_test(
	    tc, connections_interleaving_partial_frames_keep_their_bytes);
	tcase_add_test(tc,
	               a_frame_built_once_reads_the_same_on_every_connection);
	tcase_add_test(tc, sends_in_one_loop_turn_leave_in_order);
	tcase_add_test(tc,
	               a_flusher_writes_each_connection_once_its_turn_is_over);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(ws_suite)
