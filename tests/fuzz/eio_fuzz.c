/* eio_fuzz.c: Engine.IO 4 sessions over HTTP long-polling, as a client
 * drives them through the Socket.IO port's own HTTP listener (common/
 * eio_listener.c, eio.c): the handshake, POST bodies (payloads), GET polls
 * held open, raw requests of any shape, and a WebSocket probe that
 * upgrades the session (or does not). The sio harness covers WebSocket
 * sessions; this one the polling transport and the hand-over.
 *
 * Input: a list of records, each a header byte (low 2 bits: 0 POST the
 * bytes as a payload to the session, 1 GET a poll, 2 send the bytes raw on
 * a new connection, 3 send them as a text frame on a WebSocket opened for
 * the session), a two-byte length and the bytes. Every request has its own
 * connection; the session id comes from a real handshake first. A fresh
 * server per input, freed after it.
 * Checks: messages are UTF-8 text or binary within max_payload; no
 * callback after the owner closed a session or after its on_close; the
 * server answers (or holds) without crashing, and everything is freed. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eio.h"
#include "eio_listener.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_loop.h"
#include "log.h"
#include "validate.h"

#define MAX_PAYLOAD 10000
#define MAX_CONNS   16
#define LIVE        0x5e55

static struct event_base *base;
static struct sc_eio_listener *listener;
static struct sockaddr_in addr;

struct session {
	int magic;
};

static int opened, closed;
/* Every session's data this input, to free those the server frees
 * without a callback (sc_eio_server_free). */
static struct session *sessions[64];
static int nsessions;

static void
on_open(struct sc_eio_socket *s, void *arg)
{
	struct session *ss = malloc(sizeof *ss);

	(void)arg;
	FUZZ_CHECK(ss != NULL);
	ss->magic = LIVE;
	sc_eio_socket_set_data(s, ss);
	opened++;
	FUZZ_CHECK(nsessions < 64);
	sessions[nsessions++] = ss;
}

static void
on_message(struct sc_eio_socket *s, bool binary, const uint8_t *data,
           size_t len, void *arg)
{
	struct session *ss = sc_eio_socket_data(s);

	(void)arg;
	FUZZ_CHECK(ss != NULL && ss->magic == LIVE);
	FUZZ_CHECK(len <= MAX_PAYLOAD);
	if (!binary) {
		FUZZ_CHECK(sc_utf8_length((const char *)data, len) >= 0);
	}
	if (!binary && len == 5 && memcmp(data, "close", 5) == 0) {
		ss->magic = 0; /* freed at the end of the input */
		sc_eio_socket_set_data(s, NULL);
		closed++;
		sc_eio_close(s, 1000);
		return;
	}
	sc_eio_send(s, binary, data, len);
}

static void
on_close(struct sc_eio_socket *s, const char *reason, void *arg)
{
	struct session *ss = sc_eio_socket_data(s);

	(void)arg;
	FUZZ_CHECK(reason != NULL);
	FUZZ_CHECK(ss != NULL && ss->magic == LIVE);
	ss->magic = 0;
	closed++;
}

static const struct sc_eio_cbs cbs = {on_open, on_message, on_close};

/* One turn of the loop (fuzz_loop.h). */
static void
turn(int ms)
{
	fuzz_turn(base, ms);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sc_eio_listener_opts lo = {0};

	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	sc_log_init("eio_fuzz");
	base = event_base_new();
	lo.linger_ms = 20;
	lo.max_header = 2048;
	listener = sc_eio_listener_new(base, &lo);
	FUZZ_CHECK(listener != NULL);
	FUZZ_CHECK(sc_eio_listener_bind(listener, "127.0.0.1", 0) == SC_OK);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)sc_eio_listener_port(listener));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

/* ---- the client ---------------------------------------------------------- */

struct client {
	int fds[MAX_CONNS];
	int nfds;
	int ws; /* the WebSocket's fd, or -1 */
	char sid[64];
	char in[1 << 16];
	size_t have;
};

static int
conn_open(struct client *c)
{
	struct linger lg = {1, 0};
	int fd;

	if (c->nfds == MAX_CONNS) {
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	FUZZ_CHECK(fd >= 0);
	/* reset on close: no TIME_WAIT left behind per input */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		FUZZ_CHECK(errno == EINPROGRESS);
	}
	c->fds[c->nfds++] = fd;
	return fd;
}

/* Run the loop, reading what fd gets into c->in, until quiet. */
static void
pump(struct client *c, int fd)
{
	for (int idle = 0; idle < 6;) {
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (c->have == sizeof c->in) {
			c->have = 0;
		}
		r = read(fd, c->in + c->have, sizeof c->in - c->have);
		if (r > 0) {
			c->have += (size_t)r;
			idle = 0;
		} else {
			idle++;
		}
	}
}

static void
send_all(struct client *c, int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w > 0) {
			b += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == ENOTCONN) {
			pump(c, fd);
		} else {
			return;
		}
	}
}

static void
request(struct client *c, const char *method, const char *extra,
        const uint8_t *body, size_t len)
{
	char head[512];
	int fd = conn_open(c), n;

	if (fd < 0) {
		return;
	}
	n = snprintf(head, sizeof head,
	             "%s /engine.io/?EIO=4&transport=polling%s%s HTTP/1.1\r\n"
	             "Host: localhost\r\n%sContent-Length: %zu\r\n\r\n",
	             method, c->sid[0] ? "&sid=" : "", c->sid, extra, len);
	c->have = 0;
	send_all(c, fd, head, (size_t)n);
	send_all(c, fd, body, len);
	pump(c, fd);
}

/* The session id from the handshake's open packet. */
static void
read_sid(struct client *c)
{
	const char *p = memmem(c->in, c->have, "\"sid\":\"", 7), *e;

	c->sid[0] = '\0';
	if (p == NULL) {
		return;
	}
	p += 7;
	e = memchr(p, '"', (size_t)(c->in + c->have - p));
	if (e != NULL && (size_t)(e - p) < sizeof c->sid) {
		memcpy(c->sid, p, (size_t)(e - p));
		c->sid[e - p] = '\0';
	}
}

static void
ws_frame(struct client *c, const uint8_t *p, size_t len)
{
	static const uint8_t key[4] = {0x0f, 0x1e, 0x2d, 0x3c};
	uint8_t f[MAX_PAYLOAD + 16];
	size_t n = 0;

	if (c->ws < 0) {
		char head[512];
		int k =
		    snprintf(head, sizeof head,
		             "GET /engine.io/?EIO=4&transport=websocket"
		             "&sid=%s HTTP/1.1\r\nHost: localhost\r\n"
		             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		             "Sec-WebSocket-Version: 13\r\n\r\n",
		             c->sid);

		if ((c->ws = conn_open(c)) < 0) {
			return;
		}
		send_all(c, c->ws, head, (size_t)k);
		pump(c, c->ws);
	}
	f[n++] = 0x81;
	if (len < 126) {
		f[n++] = (uint8_t)(0x80 | len);
	} else {
		f[n++] = 0x80 | 126;
		f[n++] = (uint8_t)(len >> 8);
		f[n++] = (uint8_t)len;
	}
	memcpy(f + n, key, 4);
	n += 4;
	for (size_t i = 0; i < len; i++) {
		f[n++] = p[i] ^ key[i % 4];
	}
	send_all(c, c->ws, f, n);
	pump(c, c->ws);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct client c;
	struct sc_eio_opts o = {0};
	struct sc_eio_server *srv;
	size_t i = 0;

	o.path = "/engine.io/";
	o.max_payload = MAX_PAYLOAD;
	o.max_packets = 64;
	srv = sc_eio_server_new(listener, &o, &cbs, NULL);
	FUZZ_CHECK(srv != NULL);
	opened = closed = nsessions = 0;
	memset(&c, 0, sizeof c);
	c.ws = -1;
	request(&c, "GET", "", NULL, 0);
	read_sid(&c);
	FUZZ_CHECK(c.sid[0] != '\0' && opened == 1);
	while (i + 3 <= size) {
		int op = data[i] & 3;
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];

		i += 3;
		if (len > size - i) {
			len = size - i;
		}
		if (len > MAX_PAYLOAD) {
			len = MAX_PAYLOAD;
		}
		switch (op) {
		case 0:
			request(&c, "POST",
			        "Content-Type: text/plain;charset=UTF-8\r\n",
			        data + i, len);
			break;
		case 1:
			request(&c, "GET", "", NULL, 0);
			break;
		case 2: {
			int fd = conn_open(&c);

			if (fd >= 0) {
				send_all(&c, fd, data + i, len);
				pump(&c, fd);
			}
			break;
		}
		default:
			ws_frame(&c, data + i, len);
			break;
		}
		i += len;
	}
	FUZZ_CHECK(closed <= opened);
	for (int k = 0; k < c.nfds; k++) {
		close(c.fds[k]);
	}
	for (int k = 0; k < 4; k++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	/* on_close of sessions ended by the resets, then the rest without */
	sc_eio_server_free(srv);
	for (int k = 0; k < nsessions; k++) {
		free(sessions[k]);
	}
	/* closing connections drain for at most linger_ms (20) */
	for (int k = 0; k < 100 && sc_eio_listener_conns(listener) > 0; k++) {
		turn(5);
	}
	FUZZ_CHECK(sc_eio_listener_conns(listener) == 0);
	return 0;
}
