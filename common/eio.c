/* eio.c: Engine.IO 4 sessions (see eio.h). A session has one transport at
 * a time: polling (a queue of packets, answered to the held GET) or a
 * WebSocket; during an upgrade a second WebSocket, the probe, waits for
 * "2probe" and then "5". Sessions leave the sid table the moment they end;
 * their on_close runs from a reap event, so no callback ever runs inside
 * a call the owner made. */
#include "eio.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "eio-internal.h"
#include "eio_packet.h"
#include "error.h"
#include "log.h"
#include "validate.h"
#include "ws.h"

#define SID_BYTES      15
#define SID_LEN        20 /* base64url of SID_BYTES */
#define SID_PREFIX_MAX 16 /* sc_eio_opts.sid_prefix */

/* The protocol's error codes (engine.io Server.errors). */
enum {
	E_UNKNOWN_TRANSPORT = 0,
	E_UNKNOWN_SID = 1,
	E_BAD_HANDSHAKE_METHOD = 2,
	E_BAD_REQUEST = 3,
	E_FORBIDDEN = 4,
	E_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

enum s_state {
	S_OPEN,
	S_CLOSING, /* polling: waiting for a GET to deliver the close */
	S_CLOSED,  /* out of the table, waiting to be reaped */
};

enum upgrade_state {
	U_NONE,
	U_WAIT_PROBE, /* a WebSocket is open, "2probe" not yet seen */
	U_PROBED,     /* "3probe" sent; polls get noops until "5" */
};

struct qpkt {
	struct qpkt *next;
	bool binary;
	size_t len;
	char data[]; /* text: encoded, type digit first; binary: raw */
};

struct sc_eio_socket {
	struct sc_eio_server *srv;
	char sid[SID_PREFIX_MAX + SID_LEN + 1];
	char peer[64];
	enum s_state state;
	bool polling;       /* transport: polling, else websocket */
	bool notify;        /* on_close still owed to the owner */
	bool in_flush;      /* on the server's flush list */
	bool wait_pong;     /* a ping is out */
	char closing_held;  /* S_CLOSING: '1' (server) or '6' (client) */
	long pong_deadline; /* ms, monotonic: when wait_pong times out */
	const char *reason;
	/* polling */
	struct eio_conn *poll; /* the held GET */
	struct qpkt *qhead, **qtail;
	size_t qbytes;
	/* websocket */
	struct sc_ws *ws;
	struct sc_ws *probe;
	enum upgrade_state upgrade;
	struct event *hb; /* ping, pong timeout, close wait */
	struct event *upgrade_timer;
	void *data;
	struct sc_eio_socket *hnext; /* sid table chain */
	struct sc_eio_socket *lnext; /* flush or reap list */
};

struct sc_eio_server {
	struct sc_eio_listener *l;
	struct eio_endpoint ep;
	char *path;
	struct sc_eio_cbs cbs;
	void *arg;
	struct timeval ping_interval, ping_timeout, upgrade_timeout;
	int ping_interval_ms, ping_timeout_ms;
	size_t max_payload, max_packets, max_sessions, max_buffered;
	bool no_polling, no_websocket;
	char sid_prefix[SID_PREFIX_MAX + 1];
	struct sc_ws_opts ws_opts;
	struct sc_ws_flusher *flusher; /* the WebSockets' writes */
	struct sc_eio_socket **table;
	size_t nbuckets; /* a power of two */
	size_t count;
	struct sc_eio_socket *flush_list, *reap_list;
	struct event *flush_ev, *reap_ev;
	char *scratch; /* "4" + message, for WebSocket sends */
	size_t scratch_cap;
	uint64_t packets_in, packets_out; /* sc_eio_server_stats */
};

/* ---- the sid table ------------------------------------------------- */

static size_t
sid_hash(const char *sid)
{
	size_t h = 1469598103934665603ULL;

	for (; *sid != '\0'; sid++) {
		h = (h ^ (unsigned char)*sid) * 1099511628211ULL;
	}
	return h;
}

static struct sc_eio_socket *
table_find(struct sc_eio_server *srv, const char *sid)
{
	struct sc_eio_socket *s =
	    srv->table[sid_hash(sid) & (srv->nbuckets - 1)];

	while (s != NULL && strcmp(s->sid, sid) != 0) {
		s = s->hnext;
	}
	return s;
}

static void
table_grow(struct sc_eio_server *srv)
{
	size_t n = srv->nbuckets * 2;
	struct sc_eio_socket **t = sc_calloc(n, sizeof(*t));

	for (size_t i = 0; i < srv->nbuckets; i++) {
		struct sc_eio_socket *s = srv->table[i], *next;

		for (; s != NULL; s = next) {
			size_t b = sid_hash(s->sid) & (n - 1);

			next = s->hnext;
			s->hnext = t[b];
			t[b] = s;
		}
	}
	free(srv->table);
	srv->table = t;
	srv->nbuckets = n;
}

static void
table_add(struct sc_eio_server *srv, struct sc_eio_socket *s)
{
	size_t b;

	if (srv->count >= srv->nbuckets) {
		table_grow(srv);
	}
	b = sid_hash(s->sid) & (srv->nbuckets - 1);
	s->hnext = srv->table[b];
	srv->table[b] = s;
	srv->count++;
}

static void
table_remove(struct sc_eio_server *srv, struct sc_eio_socket *s)
{
	struct sc_eio_socket **pp =
	    &srv->table[sid_hash(s->sid) & (srv->nbuckets - 1)];

	while (*pp != NULL && *pp != s) {
		pp = &(*pp)->hnext;
	}
	if (*pp != NULL) {
		*pp = s->hnext;
		srv->count--;
	}
	s->hnext = NULL;
}

/* ---- errors -------------------------------------------------------- */

static void
reply_eio_error(struct eio_conn *c, int status, int code, const char *message,
                bool close)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}",
	                 code, message);

	eio_conn_reply(c, status, "application/json", body, (size_t)n, NULL,
	               close);
}

static void
reply_code(struct eio_conn *c, int code, bool close)
{
	static const char *const messages[] = {
	    "Transport unknown",
	    "Session ID unknown",
	    "Bad handshake method",
	    "Bad request",
	    "Forbidden",
	    "Unsupported protocol version",
	};

	reply_eio_error(c, code == E_FORBIDDEN ? 403 : 400, code,
	                messages[code], close);
}

/* ---- queue and flushing -------------------------------------------- */

static void
queue_push(struct sc_eio_socket *s, bool binary, char type, const void *data,
           size_t len)
{
	size_t n = len + (type != 0 ? 1 : 0);
	struct qpkt *p = sc_malloc(sizeof(*p) + n);

	p->next = NULL;
	p->binary = binary;
	p->len = n;
	if (type != 0) {
		p->data[0] = type;
		memcpy(p->data + 1, data, len);
	} else {
		memcpy(p->data, data, len);
	}
	*s->qtail = p;
	s->qtail = &p->next;
	s->qbytes += n;
}

static void
queue_clear(struct sc_eio_socket *s)
{
	struct qpkt *p = s->qhead, *next;

	for (; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	s->qhead = NULL;
	s->qtail = &s->qhead;
	s->qbytes = 0;
}

/* Answer the held GET with everything queued, plus a close packet when
 * `close`. */
static void
poll_flush(struct sc_eio_socket *s, bool close)
{
	struct evbuffer *body = evbuffer_new();
	struct eio_conn *c = s->poll;
	bool first = true;

	if (body == NULL) {
		sc_oom();
	}
	for (struct qpkt *p = s->qhead; p != NULL; p = p->next) {
		sc_eio_payload_append(body, first, p->binary, p->data, p->len);
		first = false;
	}
	if (close) {
		sc_eio_payload_append(body, first, false, "1", 1);
	}
	queue_clear(s);
	s->poll = NULL;
	eio_conn_reply_buffer(c, 200, "text/plain; charset=UTF-8", body);
	evbuffer_free(body);
}

static void
poll_noop(struct sc_eio_socket *s)
{
	struct eio_conn *c = s->poll;

	s->poll = NULL;
	eio_conn_reply(c, 200, "text/plain; charset=UTF-8", "6", 1, NULL, 0);
}

/* Queue-then-flush on the next loop turn: messages sent in one turn share
 * one poll response. */
static void
schedule_flush(struct sc_eio_socket *s)
{
	struct sc_eio_server *srv = s->srv;

	if (s->in_flush || s->poll == NULL || s->upgrade == U_PROBED) {
		return;
	}
	s->in_flush = true;
	s->lnext = srv->flush_list;
	srv->flush_list = s;
	event_active(srv->flush_ev, EV_TIMEOUT, 1);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_eio_server *srv = arg;
	struct sc_eio_socket *s;

	while ((s = srv->flush_list) != NULL) {
		srv->flush_list = s->lnext;
		s->lnext = NULL;
		s->in_flush = false;
		if (s->state == S_OPEN && s->poll != NULL && s->qhead != NULL &&
		    s->upgrade != U_PROBED) {
			poll_flush(s, false);
		}
	}
}

static void
unflush(struct sc_eio_socket *s)
{
	struct sc_eio_socket **pp = &s->srv->flush_list;

	if (!s->in_flush) {
		return;
	}
	while (*pp != NULL && *pp != s) {
		pp = &(*pp)->lnext;
	}
	if (*pp != NULL) {
		*pp = s->lnext;
	}
	s->in_flush = false;
	s->lnext = NULL;
}

/* ---- ending -------------------------------------------------------- */

static void
session_free(struct sc_eio_socket *s)
{
	queue_clear(s);
	if (s->hb != NULL) {
		event_free(s->hb);
	}
	if (s->upgrade_timer != NULL) {
		event_free(s->upgrade_timer);
	}
	free(s);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_eio_server *srv = arg;
	struct sc_eio_socket *s;

	while ((s = srv->reap_list) != NULL) {
		srv->reap_list = s->lnext;
		if (s->notify && srv->cbs.on_close != NULL) {
			s->notify = false;
			srv->cbs.on_close(s, s->reason, srv->arg);
		}
		session_free(s);
	}
}

static void
reap(struct sc_eio_socket *s)
{
	struct sc_eio_server *srv = s->srv;

	s->state = S_CLOSED;
	s->lnext = srv->reap_list;
	srv->reap_list = s;
	event_active(srv->reap_ev, EV_TIMEOUT, 1);
}

static void
close_probe(struct sc_eio_socket *s)
{
	if (s->probe != NULL) {
		sc_ws_close(s->probe, SC_WS_NORMAL, NULL);
		s->probe = NULL;
	}
	s->upgrade = U_NONE;
	if (s->upgrade_timer != NULL) {
		evtimer_del(s->upgrade_timer);
	}
}

/* The session is over. held: what a held GET gets: "1" (close) when the
 * server ends it, "6" (noop) when the client closed. wscode: the close
 * code for a WebSocket. */
static void
session_end(struct sc_eio_socket *s, const char *reason, char held, int wscode)
{
	if (s->state == S_CLOSED) {
		return;
	}
	if (s->state == S_OPEN) {
		s->reason = reason;
	}
	table_remove(s->srv, s);
	unflush(s);
	evtimer_del(s->hb);
	close_probe(s);
	if (s->ws != NULL) {
		sc_ws_close(s->ws, wscode, NULL);
		s->ws = NULL;
	}
	if (s->poll != NULL) {
		if (held == '1') {
			poll_flush(s, true);
		} else {
			poll_noop(s);
		}
	}
	reap(s);
}

/* ---- sending ------------------------------------------------------- */

static int
send_raw(struct sc_eio_socket *s, bool binary, char type, const void *data,
         size_t len)
{
	struct sc_eio_server *srv = s->srv;

	if (s->state != S_OPEN) {
		return SC_EAGAIN;
	}
	srv->packets_out++;
	if (!s->polling && s->ws != NULL) {
		if (binary || type == 0) {
			return sc_ws_send(s->ws, binary, data, len);
		}
		if (len + 1 > srv->scratch_cap) {
			srv->scratch_cap = len + 1 > 256 ? len + 1 : 256;
			free(srv->scratch);
			srv->scratch = sc_malloc(srv->scratch_cap);
		}
		srv->scratch[0] = type;
		memcpy(srv->scratch + 1, data, len);
		return sc_ws_send(s->ws, false, srv->scratch, len + 1);
	}
	queue_push(s, binary, type, data, len);
	if (s->qbytes > srv->max_buffered) {
		session_end(s, "transport error", '1', SC_WS_POLICY);
		return SC_EAGAIN;
	}
	schedule_flush(s);
	return SC_OK;
}

int
sc_eio_send(struct sc_eio_socket *s, bool binary, const void *data, size_t len)
{
	if (len > s->srv->max_payload) {
		return SC_ETOOBIG;
	}
	return send_raw(s, binary, binary ? 0 : '4', data, len);
}

int
sc_eio_send_packet(struct sc_eio_socket *s, const char *pkt, size_t len)
{
	if (len == 0 || len - 1 > s->srv->max_payload) {
		return len == 0 ? SC_EINVAL : SC_ETOOBIG;
	}
	return send_raw(s, false, 0, pkt, len);
}

void
sc_eio_prepare(struct sc_eio_prepared *p, const char *pkt, size_t len)
{
	sc_ws_frame_set(&p->frame, false, pkt, len);
}

int
sc_eio_send_prepared(struct sc_eio_socket *s, const struct sc_eio_prepared *p)
{
	size_t len = p->frame.payload;

	if (len == 0 || len - 1 > s->srv->max_payload) {
		return len == 0 ? SC_EINVAL : SC_ETOOBIG;
	}
	if (s->state == S_OPEN && !s->polling && s->ws != NULL) {
		s->srv->packets_out++;
		return sc_ws_send_frame(s->ws, &p->frame);
	}
	return send_raw(s, false, 0,
	                (const char *)p->frame.buf + p->frame.len - len, len);
}

void
sc_eio_prepared_release(struct sc_eio_prepared *p)
{
	sc_ws_frame_release(&p->frame);
}

/* A polling session closed while no GET is held: out of reach of new
 * messages, it waits (at most wait_ms) for the next GET to deliver what
 * is queued and `held` ('1' when the server closed, '6' when the client
 * did: a GET racing the client's close gets a clean noop). */
static void
enter_closing(struct sc_eio_socket *s, const char *reason, char held,
              int wait_ms)
{
	struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};

	s->state = S_CLOSING;
	s->reason = reason;
	s->closing_held = held;
	unflush(s);
	evtimer_add(s->hb, &tv);
}

void
sc_eio_close(struct sc_eio_socket *s, int code)
{
	s->notify = false;
	if (s->state != S_OPEN) {
		return;
	}
	if (s->polling && s->poll == NULL && s->upgrade == U_NONE) {
		enter_closing(s, "forced close", '1',
		              s->srv->ping_interval_ms +
		                  s->srv->ping_timeout_ms);
		return;
	}
	session_end(s, "forced close", '1', code);
}

/* ---- heartbeat ----------------------------------------------------- */

static void
hb_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_eio_socket *s = arg;

	if (s->state == S_CLOSING) {
		s->state = S_OPEN; /* let session_end run its course */
		session_end(s, s->reason, s->closing_held, SC_WS_NORMAL);
		return;
	}
	if (s->wait_pong) {
		session_end(s, "ping timeout", '1', SC_WS_NORMAL);
		return;
	}
	s->wait_pong = true;
	s->pong_deadline = sc_clock_ms() + s->srv->ping_timeout_ms;
	evtimer_add(s->hb, &s->srv->ping_timeout);
	send_raw(s, false, 0, "2", 1);
}

static void
on_pong(struct sc_eio_socket *s)
{
	if (s->wait_pong) {
		s->wait_pong = false;
		evtimer_add(s->hb, &s->srv->ping_interval);
	}
}

/* ---- receiving ----------------------------------------------------- */

/* One packet from the client, on the current transport. */
static void
on_packet(struct sc_eio_socket *s, const struct sc_eio_packet *p)
{
	struct sc_eio_server *srv = s->srv;

	srv->packets_in++;
	switch (p->type) {
	case SC_EIO_PONG:
		on_pong(s);
		break;
	case SC_EIO_MESSAGE:
		if (srv->cbs.on_message != NULL) {
			srv->cbs.on_message(s, p->binary, p->data, p->len,
			                    srv->arg);
		}
		break;
	case SC_EIO_CLOSE:
		if (s->polling && s->poll == NULL && s->upgrade == U_NONE) {
			enter_closing(s, "transport close", '6',
			              s->srv->ping_timeout_ms);
		} else {
			session_end(s, "transport close", '6', SC_WS_NORMAL);
		}
		break;
	case SC_EIO_PING:
		/* Engine.IO 4 pings go from server to client only */
		session_end(s, "transport error", '1', SC_WS_POLICY);
		break;
	default:
		break; /* open, upgrade, noop: nothing to do */
	}
}

static void
complete_upgrade(struct sc_eio_socket *s)
{
	struct qpkt *p;

	s->ws = s->probe;
	s->probe = NULL;
	s->polling = false;
	s->upgrade = U_NONE;
	if (s->upgrade_timer != NULL) {
		evtimer_del(s->upgrade_timer);
	}
	unflush(s);
	if (s->poll != NULL) {
		poll_noop(s);
	}
	/* what was queued for polls goes over the WebSocket, in order */
	p = s->qhead;
	s->qhead = NULL;
	s->qtail = &s->qhead;
	s->qbytes = 0;
	while (p != NULL) {
		struct qpkt *next = p->next;

		if (s->ws != NULL) {
			sc_ws_send(s->ws, p->binary, p->data, p->len);
		}
		free(p);
		p = next;
	}
}

static void
probe_message(struct sc_eio_socket *s, bool binary, const uint8_t *data,
              size_t len)
{
	if (!binary && len == 6 && memcmp(data, "2probe", 6) == 0 &&
	    s->upgrade == U_WAIT_PROBE) {
		sc_ws_send(s->probe, false, "3probe", 6);
		s->upgrade = U_PROBED;
		unflush(s);
		if (s->poll != NULL) {
			poll_noop(s); /* lets the client pause polling */
		}
		return;
	}
	if (!binary && len == 1 && data[0] == '5' && s->upgrade == U_PROBED) {
		complete_upgrade(s);
		return;
	}
	close_probe(s);
}

static void
ws_message(struct sc_ws *ws, bool binary, const uint8_t *data, size_t len,
           void *arg)
{
	struct sc_eio_socket *s = arg;
	struct sc_eio_packet p;

	if (s->state != S_OPEN) {
		return;
	}
	if (ws == s->probe) {
		probe_message(s, binary, data, len);
		return;
	}
	if (ws != s->ws) {
		return;
	}
	if (binary) {
		p.type = SC_EIO_MESSAGE;
		p.binary = true;
		p.data = data;
		p.len = len;
	} else if (sc_eio_packet_decode((const char *)data, len, &p) != SC_OK) {
		session_end(s, "parse error", '1', SC_WS_POLICY);
		return;
	}
	on_packet(s, &p);
}

static void
ws_end(struct sc_ws *ws, enum sc_ws_end why, int code, void *arg)
{
	(void)code;
	struct sc_eio_socket *s = arg;

	if (ws == s->probe) {
		s->probe = NULL;
		close_probe(s);
		return;
	}
	if (ws == s->ws) {
		s->ws = NULL;
		session_end(s,
		            why == SC_WS_END_CLOSED || why == SC_WS_END_EOF
		                ? "transport close"
		                : "transport error",
		            '1', SC_WS_NORMAL);
	}
}

static const struct sc_ws_cbs ws_cbs = {
    .on_message = ws_message,
    .on_end = ws_end,
};

static void
upgrade_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close_probe(arg);
}

/* ---- requests ------------------------------------------------------ */

static void
poll_gone(struct eio_conn *c, void *arg)
{
	(void)c;
	struct sc_eio_socket *s = arg;

	s->poll = NULL;
	session_end(s, "transport error", 0, SC_WS_NORMAL);
}

static void
poll_get(struct sc_eio_socket *s, struct eio_conn *c)
{
	if (s->poll != NULL) {
		/* two polls at once: refuse this one, close the session */
		reply_code(c, E_BAD_REQUEST, false);
		session_end(s, "transport error", '1', SC_WS_NORMAL);
		return;
	}
	s->poll = c;
	eio_conn_hold(c, poll_gone, s);
	if (s->state == S_CLOSING) {
		s->state = S_OPEN;
		session_end(s, s->reason, s->closing_held, SC_WS_NORMAL);
	} else if (s->upgrade == U_PROBED) {
		poll_noop(s);
	} else if (s->qhead != NULL) {
		poll_flush(s, false);
	}
}

static void
poll_post(struct sc_eio_socket *s, struct eio_conn *c)
{
	const struct sc_ws_request *req = eio_conn_request(c);
	const char *ctype = sc_ws_request_header(req, "content-type");
	struct sc_eio_payload pl;
	size_t len;
	const char *body = eio_conn_body(c, &len);

	if (s->state == S_CLOSING) {
		eio_conn_reply(c, 200, "text/html", "ok", 2, NULL, 0);
		return;
	}
	if ((ctype != NULL &&
	     strncmp(ctype, "application/octet-stream", 24) == 0) ||
	    sc_utf8_length(body, len) < 0 ||
	    sc_eio_payload_decode(body, len, s->srv->max_packets, &pl) !=
	        SC_OK) {
		reply_code(c, E_BAD_REQUEST, false);
		session_end(s, "parse error", '1', SC_WS_NORMAL);
		return;
	}
	/* the packets point into the body: deliver them before the reply
	 * releases it */
	for (size_t i = 0; i < pl.count && s->state == S_OPEN; i++) {
		on_packet(s, &pl.packets[i]);
	}
	sc_eio_payload_release(&pl);
	eio_conn_reply(c, 200, "text/html", "ok", 2, NULL, 0);
}

/* The server's prefix, then 15 random bytes in base64url. */
static void
make_sid(char *out, const char *prefix)
{
	unsigned char raw[SID_BYTES];
	size_t n = strlen(prefix);

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		sc_log_error(NULL, "cannot make a session id: no randomness");
		abort();
	}
	memcpy(out, prefix, n);
	out += n;
	sc_eio_base64_encode(raw, sizeof(raw), out);
	for (int i = 0; i < SID_LEN; i++) {
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[SID_LEN] = '\0';
}

static struct sc_eio_socket *
session_new(struct sc_eio_server *srv, struct eio_conn *c, bool polling)
{
	struct sc_eio_socket *s = sc_calloc(1, sizeof(*s));
	struct event_base *base = eio_listener_base(srv->l);
	const char *peer = eio_conn_peer(c);
	const char *real =
	    sc_ws_request_header(eio_conn_request(c), "x-real-ip");

	s->srv = srv;
	s->polling = polling;
	s->notify = true;
	s->qtail = &s->qhead;
	if (real != NULL &&
	    (strcmp(peer, "127.0.0.1") == 0 || strcmp(peer, "::1") == 0)) {
		peer = real;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->hb = evtimer_new(base, hb_cb, s);
	if (s->hb == NULL) {
		sc_oom();
	}
	do {
		make_sid(s->sid, srv->sid_prefix);
	} while (table_find(srv, s->sid) != NULL);
	table_add(srv, s);
	evtimer_add(s->hb, &srv->ping_interval);
	return s;
}

static int
open_packet(struct sc_eio_server *srv, struct sc_eio_socket *s, char *buf,
            size_t len)
{
	return snprintf(
	    buf, len,
	    "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,"
	    "\"pingTimeout\":%d,\"maxPayload\":%zu}",
	    s->sid, s->polling && !srv->no_websocket ? "\"websocket\"" : "",
	    srv->ping_interval_ms, srv->ping_timeout_ms, srv->max_payload);
}

static void
handshake(struct sc_eio_server *srv, struct eio_conn *c, bool polling,
          const char *key)
{
	struct sc_eio_socket *s;
	char open[256];
	int n;

	if (srv->count >= srv->max_sessions) {
		reply_eio_error(c, 503, E_BAD_REQUEST, "Too many sessions",
		                !polling);
		return;
	}
	s = session_new(srv, c, polling);
	n = open_packet(srv, s, open, sizeof(open));
	if (polling) {
		eio_conn_reply(c, 200, "text/plain; charset=UTF-8", open,
		               (size_t)n, NULL, 0);
	} else {
		char accept[SC_WS_ACCEPT_LEN + 1];

		sc_ws_accept_key(key, accept);
		s->ws = sc_ws_new(eio_conn_upgrade(c, accept), &srv->ws_opts,
		                  &ws_cbs, s);
		if (s->ws == NULL) {
			s->notify = false;
			session_end(s, "transport error", 0, SC_WS_NORMAL);
			return;
		}
		sc_ws_send(s->ws, false, open, (size_t)n);
	}
	if (srv->cbs.on_open != NULL) {
		srv->cbs.on_open(s, srv->arg);
	}
}

/* A WebSocket for an existing session: the upgrade probe, or one too
 * many (accepted, then closed, as the reference server does). */
static void
upgrade_request(struct sc_eio_server *srv, struct sc_eio_socket *s,
                struct eio_conn *c, const char *key)
{
	char accept[SC_WS_ACCEPT_LEN + 1];
	struct sc_ws *ws;

	sc_ws_accept_key(key, accept);
	ws = sc_ws_new(eio_conn_upgrade(c, accept), &srv->ws_opts, &ws_cbs, s);
	if (ws == NULL) {
		return;
	}
	if (s->state != S_OPEN || !s->polling || s->upgrade != U_NONE) {
		sc_ws_close(ws, SC_WS_NORMAL, NULL);
		return;
	}
	s->probe = ws;
	s->upgrade = U_WAIT_PROBE;
	if (s->upgrade_timer == NULL) {
		/* made on demand: most sessions never upgrade */
		s->upgrade_timer =
		    evtimer_new(eio_listener_base(srv->l), upgrade_timer_cb, s);
		if (s->upgrade_timer == NULL) {
			sc_oom();
		}
	}
	evtimer_add(s->upgrade_timer, &srv->upgrade_timeout);
}

static void
handle(struct eio_endpoint *ep, struct eio_conn *c)
{
	struct sc_eio_server *srv = ep->arg;
	const struct sc_ws_request *req = eio_conn_request(c);
	char transport[16], sid[64], eio[8];
	bool polling, get = strcmp(req->method, "GET") == 0;
	const char *key = NULL;
	struct sc_eio_socket *s = NULL;
	int rc;

	if (sc_ws_request_query(req, "transport", transport,
	                        sizeof(transport)) != SC_OK ||
	    (strcmp(transport, "polling") != 0 &&
	     strcmp(transport, "websocket") != 0)) {
		reply_code(c, E_UNKNOWN_TRANSPORT, req->upgrade);
		return;
	}
	polling = strcmp(transport, "polling") == 0;
	if ((polling && srv->no_polling) || (!polling && srv->no_websocket)) {
		reply_code(c, E_UNKNOWN_TRANSPORT, req->upgrade);
		return;
	}
	rc = sc_ws_request_query(req, "sid", sid, sizeof(sid));
	if (rc == SC_OK) {
		s = table_find(srv, sid);
		if (s != NULL && s->state == S_OPEN && s->wait_pong &&
		    sc_clock_ms() >= s->pong_deadline) {
			/* its timeout is due, the timer just has not run yet */
			session_end(s, "ping timeout", '1', SC_WS_NORMAL);
			s = NULL;
		}
		if (s == NULL) {
			reply_code(c, E_UNKNOWN_SID, req->upgrade);
			return;
		}
	} else if (rc != SC_ENOTFOUND) {
		reply_code(c, E_UNKNOWN_SID, req->upgrade);
		return;
	}
	if (!polling) {
		if (!req->upgrade) {
			reply_code(c, E_BAD_REQUEST, false);
			return;
		}
		rc = sc_ws_request_check_upgrade(req, &key);
		if (rc == 426) {
			eio_conn_reply(
			    c, 426, "application/json",
			    "{\"code\":3,\"message\":\"Bad request\"}", 34,
			    "Sec-WebSocket-Version: 13\r\n", 1);
			return;
		}
		if (rc != 0) {
			reply_code(c, E_BAD_REQUEST, true);
			return;
		}
	} else if (req->upgrade) {
		reply_code(c, E_BAD_REQUEST, true);
		return;
	}
	if (s != NULL) {
		if (!polling) {
			upgrade_request(srv, s, c, key);
		} else if (!s->polling) {
			reply_code(c, E_BAD_REQUEST, false);
		} else if (get) {
			poll_get(s, c);
		} else if (strcmp(req->method, "POST") == 0) {
			poll_post(s, c);
		} else {
			reply_code(c, E_BAD_REQUEST, false);
		}
		return;
	}
	if (!get) {
		reply_code(c, E_BAD_HANDSHAKE_METHOD, false);
		return;
	}
	if (sc_ws_request_query(req, "EIO", eio, sizeof(eio)) != SC_OK ||
	    strcmp(eio, "4") != 0) {
		reply_code(c, E_UNSUPPORTED_PROTOCOL_VERSION, !polling);
		return;
	}
	handshake(srv, c, polling, key);
}

/* ---- the server ---------------------------------------------------- */

static void
set_tv(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

struct sc_eio_server *
sc_eio_server_new(struct sc_eio_listener *l, const struct sc_eio_opts *opts,
                  const struct sc_eio_cbs *cbs, void *arg)
{
	static const struct sc_eio_opts defaults;
	struct sc_eio_server *srv = sc_calloc(1, sizeof(*srv));
	struct event_base *base = eio_listener_base(l);

	if (opts == NULL) {
		opts = &defaults;
	}
	srv->l = l;
	srv->cbs = *cbs;
	srv->arg = arg;
	srv->path = sc_strdup(opts->path != NULL ? opts->path : "/engine.io/");
	srv->ping_interval_ms =
	    opts->ping_interval_ms > 0 ? opts->ping_interval_ms : 25000;
	srv->ping_timeout_ms =
	    opts->ping_timeout_ms > 0 ? opts->ping_timeout_ms : 20000;
	set_tv(&srv->ping_interval, srv->ping_interval_ms);
	set_tv(&srv->ping_timeout, srv->ping_timeout_ms);
	set_tv(&srv->upgrade_timeout,
	       opts->upgrade_timeout_ms > 0 ? opts->upgrade_timeout_ms : 10000);
	srv->max_payload = opts->max_payload > 0 ? opts->max_payload : 1000000;
	srv->max_packets = opts->max_packets > 0 ? opts->max_packets : 4096;
	srv->max_sessions = opts->max_sessions > 0 ? opts->max_sessions : 20000;
	srv->max_buffered =
	    opts->max_buffered > 0 ? opts->max_buffered : 4 * 1024 * 1024;
	srv->no_polling = opts->no_polling;
	srv->no_websocket = opts->no_websocket;
	if (opts->sid_prefix != NULL &&
	    strlen(opts->sid_prefix) <= SID_PREFIX_MAX &&
	    strspn(opts->sid_prefix,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	           "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
	        strlen(opts->sid_prefix)) {
		snprintf(srv->sid_prefix, sizeof(srv->sid_prefix), "%s",
		         opts->sid_prefix);
	} else if (opts->sid_prefix != NULL) {
		sc_log_error(NULL,
		             "session id prefix '%.32s' ignored: at most "
		             "16 of [A-Za-z0-9._-]",
		             opts->sid_prefix);
	}
	/* a message plus its type digit */
	srv->ws_opts.max_message = srv->max_payload + 1;
	srv->ws_opts.max_output = srv->max_buffered;
	srv->ws_opts.linger = eio_listener_linger(l);
	srv->flusher = sc_ws_flusher_new(base);
	srv->ws_opts.flusher = srv->flusher;
	srv->nbuckets = 64;
	srv->table = sc_calloc(srv->nbuckets, sizeof(*srv->table));
	srv->flush_ev = event_new(base, -1, 0, flush_cb, srv);
	srv->reap_ev = event_new(base, -1, 0, reap_cb, srv);
	if (srv->flush_ev == NULL || srv->reap_ev == NULL) {
		sc_oom();
	}
	srv->ep.path = srv->path;
	srv->ep.max_body = srv->max_payload;
	srv->ep.handle = handle;
	srv->ep.arg = srv;
	eio_listener_attach(l, &srv->ep);
	return srv;
}

void
sc_eio_server_free(struct sc_eio_server *srv)
{
	if (srv == NULL) {
		return;
	}
	eio_listener_detach(srv->l, &srv->ep);
	for (size_t i = 0; i < srv->nbuckets; i++) {
		while (srv->table[i] != NULL) {
			struct sc_eio_socket *s = srv->table[i];

			s->notify = false;
			s->state = S_OPEN;
			session_end(s, "server shutting down", '1',
			            SC_WS_GOING_AWAY);
		}
	}
	srv->flush_list = NULL;
	while (srv->reap_list != NULL) {
		struct sc_eio_socket *s = srv->reap_list;

		srv->reap_list = s->lnext;
		session_free(s);
	}
	event_free(srv->flush_ev);
	event_free(srv->reap_ev);
	sc_ws_flusher_free(srv->flusher); /* every ws is gone */
	free(srv->table);
	free(srv->scratch);
	free(srv->path);
	free(srv);
}

size_t
sc_eio_server_count(const struct sc_eio_server *srv)
{
	return srv->count;
}

void
sc_eio_server_stats(const struct sc_eio_server *srv, struct sc_eio_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < srv->nbuckets; i++) {
		for (const struct sc_eio_socket *s = srv->table[i]; s != NULL;
		     s = s->hnext) {
			if (s->polling) {
				out->polling++;
			} else {
				out->websocket++;
			}
		}
	}
	out->packets_in = srv->packets_in;
	out->packets_out = srv->packets_out;
}

const char *
sc_eio_socket_id(const struct sc_eio_socket *s)
{
	return s->sid;
}

const char *
sc_eio_socket_transport(const struct sc_eio_socket *s)
{
	return s->polling ? "polling" : "websocket";
}

const char *
sc_eio_socket_peer(const struct sc_eio_socket *s)
{
	return s->peer;
}

void
sc_eio_socket_set_data(struct sc_eio_socket *s, void *data)
{
	s->data = data;
}

void *
sc_eio_socket_data(const struct sc_eio_socket *s)
{
	return s->data;
}
