/* ws.c: a server-side WebSocket on a bufferevent (see ws.h). Frames are
 * parsed and built by wslay's frame API (wslay_frame_recv, wslay_frame_send);
 * this file does what wslay's event API would do on top of it, at a
 * fraction of its memory: joins fragments, answers pings, runs the close
 * handshake, checks close codes and UTF-8, bounds message size.
 *
 * Input: a wslay frame context holds a 4 KiB read buffer, so a connection
 * holds one (a struct rx) only while a frame of its is partly read. Between
 * frames the context goes back to a small per-thread pool: the count of
 * bytes handed to wslay and of bytes it gave back as frames (headers
 * included) says when it holds nothing. A message in one frame that fits
 * the read buffer is handed over in place; others are joined in a buffer
 * of the connection's own, sized by the frame headers.
 *
 * Output: frames go into the bufferevent's output through one per-thread
 * wslay context (server frames are unmasked, so a frame needs no state of
 * the connection's). On a socket the output is written by us, once per loop
 * turn, with one sendmsg (see sc_ws_flusher): the bufferevent's write event
 * is enabled only while the kernel takes no more, so a delivery costs no
 * epoll_ctl and messages sent in one turn leave together. The output buffer
 * is the one place where back-pressure is measured. */
#include "ws.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <wslay/wslay.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "validate.h"
#include "ws_linger.h"

#define WS_DEFAULT_MAX_MESSAGE (1024 * 1024)
#define WS_DEFAULT_MAX_OUTPUT  (4 * 1024 * 1024)
#define WS_GUID                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_IOV             64
#define WS_RX_POOL             8 /* idle frame contexts kept per thread */

enum ws_state {
	WS_OPEN,
	WS_ENDING, /* over; on_end to report, then free */
	WS_GONE,   /* the owner gave it up (close/abort); free when idle */
};

/* A wslay frame context for reading, lent to one connection while a frame
 * of its is partly read (or its bytes are in the context's buffer). */
struct rx {
	wslay_frame_context_ptr f;
	struct sc_ws *ws; /* the borrower; NULL in the pool */
	struct rx *next;  /* in the pool */
	size_t fed;       /* bytes handed to f by recv_cb */
	size_t used;      /* bytes f gave back: headers and payloads */
	uint64_t off;     /* payload bytes of the current frame so far */
	bool in_frame;    /* a frame has started and not ended */
	uint8_t ctl[125]; /* a control frame's payload, joined */
	size_t ctllen;
};

/* The bytes wslay_frame_send produces go to out, or to buf when out is
 * NULL (a frame built once for many connections). */
struct tx {
	wslay_frame_context_ptr f;
	struct evbuffer *out;
	struct sc_ws_frame *frame;
};

static _Thread_local struct rx *rx_pool;
static _Thread_local int rx_pooled;
static _Thread_local struct tx tx;

/* See ws.h. A timer of 0 s: libevent runs due timers after the I/O
 * callbacks of the poll that found them due, so output gathered in one
 * loop turn waits for whatever input the next poll brings (a broadcast
 * of the next stored message, say) and leaves with it. */
struct sc_ws_flusher {
	struct event *ev;
	struct sc_ws *head; /* connections with output to write */
	bool armed;
};

struct sc_ws {
	struct bufferevent *bev;
	struct sc_ws_cbs cbs;
	void *arg;
	size_t max_message;
	size_t max_output;
	struct sc_ws_linger *linger;
	struct event *defer; /* from the loop: flush output, report a drop;
	                        made when first needed */
	struct sc_ws_flusher *flusher; /* borrowed; NULL: defer flushes */
	struct sc_ws *fprev, *fnext;   /* on flusher->head's list */
	struct rx *rx;                 /* while a frame is partly read */
	uint8_t *msg;                  /* a message being joined */
	size_t msglen, msgcap;
	enum ws_state state;
	enum sc_ws_end why;
	int code;
	int busy;           /* depth of our own callbacks on the stack */
	uint8_t msgop;      /* the opcode of the message being read */
	bool fragmented;    /* inside a message of several frames */
	bool close_sent;    /* a close frame is in the output: no more */
	bool flush_pending; /* on the flusher's list, or defer is active */
	bool writing;       /* the bufferevent's write event is enabled */
	bool direct;        /* a socket: we write; else the bufferevent */
};

void
sc_ws_accept_key(const char *key, char out[SC_WS_ACCEPT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL) {
		sc_oom();
	}
	EVP_DigestInit_ex(c, EVP_sha1(), NULL);
	EVP_DigestUpdate(c, key, strlen(key));
	EVP_DigestUpdate(c, WS_GUID, sizeof(WS_GUID) - 1);
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	out[SC_WS_ACCEPT_LEN] = '\0';
}

/* ---- framing out --------------------------------------------------- */

static ssize_t
tx_cb(const uint8_t *data, size_t len, int flags, void *arg)
{
	(void)flags;
	struct tx *t = arg;

	if (t->out != NULL) {
		if (evbuffer_add(t->out, data, len) != 0) {
			sc_oom();
		}
		return (ssize_t)len;
	}
	if (t->frame->len + len > t->frame->cap) {
		t->frame->cap = (t->frame->len + len) * 2;
		t->frame->buf = sc_realloc(t->frame->buf, t->frame->cap);
	}
	memcpy(t->frame->buf + t->frame->len, data, len);
	t->frame->len += len;
	return (ssize_t)len;
}

/* One unmasked frame (FIN set) of opcode op: to out, or into frame. The
 * callback takes everything, so wslay's send state is back at its start
 * when this returns and the context serves the next connection. */
static void
frame_out(struct evbuffer *out, struct sc_ws_frame *frame, int op,
          const void *data, size_t len)
{
	struct wslay_frame_iocb io = {
	    .fin = 1,
	    .opcode = (uint8_t)op,
	    .payload_length = len,
	    .data = data,
	    .data_length = len,
	};
	ssize_t r;

	if (tx.f == NULL) {
		static const struct wslay_frame_callbacks cbs = {
		    .send_callback = tx_cb, /* it only sends */
		};

		if (wslay_frame_context_init(&tx.f, &cbs, &tx) != 0) {
			sc_oom();
		}
	}
	tx.out = out;
	tx.frame = frame;
	r = wslay_frame_send(tx.f, &io);
	if (r < 0 || (size_t)r != len) {
		/* only a bad argument can fail: a length past 2^63 or a
		 * control frame over 125 bytes, both ruled out by callers */
		sc_log_error(NULL, "cannot frame a websocket message: %s",
		             "wslay refused it");
		abort();
	}
}

/* ---- output -------------------------------------------------------- */

static void defer_cb(evutil_socket_t fd, short what, void *arg);

/* ws's own event for work from the loop, made at its first use (with a
 * flusher, only a drop needs it). */
static struct event *
defer_ev(struct sc_ws *ws)
{
	if (ws->defer == NULL) {
		ws->defer = event_new(bufferevent_get_base(ws->bev), -1, 0,
		                      defer_cb, ws);
		if (ws->defer == NULL) {
			sc_oom();
		}
	}
	return ws->defer;
}

/* Off the flusher's list (nothing to write, or no more writing). */
static void
unqueue(struct sc_ws *ws)
{
	if (!ws->flush_pending) {
		return;
	}
	ws->flush_pending = false;
	if (ws->flusher == NULL) {
		event_del(defer_ev(ws));
		return;
	}
	if (ws->fprev != NULL) {
		ws->fprev->fnext = ws->fnext;
	} else {
		ws->flusher->head = ws->fnext;
	}
	if (ws->fnext != NULL) {
		ws->fnext->fprev = ws->fprev;
	}
	ws->fprev = ws->fnext = NULL;
}

static void
schedule_flush(struct sc_ws *ws)
{
	static const struct timeval now = {0, 0};
	struct sc_ws_flusher *f = ws->flusher;

	if (ws->flush_pending || ws->writing || !ws->direct) {
		return;
	}
	ws->flush_pending = true;
	if (f == NULL) {
		event_active(defer_ev(ws), EV_WRITE, 1);
		return;
	}
	ws->fprev = NULL;
	ws->fnext = f->head;
	if (f->head != NULL) {
		f->head->fprev = ws;
	}
	f->head = ws;
	if (!f->armed) {
		f->armed = true;
		evtimer_add(f->ev, &now);
	}
}

/* One frame (FIN set) of opcode op into the output. */
static void
put_frame(struct sc_ws *ws, int op, const void *data, size_t len)
{
	frame_out(bufferevent_get_output(ws->bev), NULL, op, data, len);
	schedule_flush(ws);
}

/* A close frame with code (none when 0) and reason; nothing after it. */
static void
put_close(struct sc_ws *ws, int code, const void *reason, size_t rlen)
{
	uint8_t p[125];

	if (ws->close_sent || ws->bev == NULL) {
		return;
	}
	ws->close_sent = true;
	if (code == 0) {
		put_frame(ws, WSLAY_CONNECTION_CLOSE, NULL, 0);
		return;
	}
	if (rlen > 123) {
		rlen = 123;
	}
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	if (rlen > 0) {
		memcpy(p + 2, reason, rlen);
	}
	put_frame(ws, WSLAY_CONNECTION_CLOSE, p, rlen + 2);
}

/* bufferevent_socket freezes the start of its output (only its own
 * writes drain it): drain n bytes of it all the same. */
static void
out_drain(struct evbuffer *out, size_t n)
{
	evbuffer_unfreeze(out, 1);
	evbuffer_drain(out, n);
	evbuffer_freeze(out, 1);
}

/* ---- the read context pool ----------------------------------------- */

static ssize_t
rx_cb(uint8_t *buf, size_t len, int flags, void *arg)
{
	(void)flags;
	struct rx *rx = arg;
	int n = evbuffer_remove(bufferevent_get_input(rx->ws->bev), buf, len);

	if (n <= 0) {
		return -1; /* wslay: WSLAY_ERR_WANT_READ */
	}
	rx->fed += (size_t)n;
	return n;
}

static void
rx_take(struct sc_ws *ws)
{
	static const struct wslay_frame_callbacks cbs = {
	    .recv_callback = rx_cb,
	};
	struct rx *rx = rx_pool;

	if (rx != NULL) {
		rx_pool = rx->next;
		rx_pooled--;
	} else {
		rx = sc_calloc(1, sizeof(*rx));
		if (wslay_frame_context_init(&rx->f, &cbs, rx) != 0) {
			sc_oom();
		}
	}
	rx->ws = ws;
	rx->next = NULL;
	ws->rx = rx;
}

/* rx holds nothing of its borrower's: between frames, every byte handed
 * to it given back as a frame. */
static bool
rx_empty(const struct rx *rx)
{
	return !rx->in_frame && rx->fed == rx->used;
}

/* Give ws's context back: to the pool when it holds nothing and may be
 * reused, else freed (a connection that ends mid-frame, or a context
 * wslay failed on). */
static void
rx_give(struct sc_ws *ws, bool reusable)
{
	struct rx *rx = ws->rx;

	if (rx == NULL) {
		return;
	}
	ws->rx = NULL;
	if (reusable && rx_empty(rx) && rx_pooled < WS_RX_POOL) {
		rx->ws = NULL;
		rx->fed = rx->used = 0;
		rx->next = rx_pool;
		rx_pool = rx;
		rx_pooled++;
		return;
	}
	wslay_frame_context_free(rx->f);
	free(rx);
}

/* ---- ending -------------------------------------------------------- */

static void
free_ws(struct sc_ws *ws)
{
	unqueue(ws);
	rx_give(ws, true);
	if (ws->defer != NULL) {
		event_free(ws->defer);
	}
	free(ws->msg);
	free(ws);
}

/* Hand the connection to the linger pool (flush, half-close, drain). */
static void
release_bev(struct sc_ws *ws)
{
	if (ws->bev != NULL) {
		sc_ws_linger_add(ws->linger, ws->bev);
		ws->bev = NULL;
	}
}

/* The connection is over for the reason given: report it (unless the
 * owner is gone) and free, or leave that to the outermost callback. */
static void
finish(struct sc_ws *ws, enum sc_ws_end why, int code)
{
	if (ws->state == WS_OPEN) {
		ws->state = WS_ENDING;
		ws->why = why;
		ws->code = code;
	}
	if (ws->busy > 0) {
		return;
	}
	if (why == SC_WS_END_EOF || why == SC_WS_END_SLOW) {
		if (ws->bev != NULL) {
			bufferevent_free(ws->bev);
			ws->bev = NULL;
		}
	} else {
		release_bev(ws);
	}
	if (ws->state == WS_ENDING && ws->cbs.on_end != NULL) {
		ws->cbs.on_end(ws, ws->why, ws->code, ws->arg);
	}
	free_ws(ws);
}

static bool
too_slow(struct sc_ws *ws)
{
	return evbuffer_get_length(bufferevent_get_output(ws->bev)) >
	       ws->max_output;
}

/* Drop a client whose output is past the bound: from the loop, since the
 * send that found it may be deep in the owner's code. */
static void
drop_slow(struct sc_ws *ws)
{
	if (ws->state != WS_OPEN) {
		return;
	}
	ws->state = WS_ENDING;
	ws->why = SC_WS_END_SLOW;
	ws->code = SC_WS_POLICY;
	unqueue(ws);
	bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	event_active(defer_ev(ws), EV_TIMEOUT, 1);
}

/* The peer broke the protocol: close with code, report it. */
static void
fail(struct sc_ws *ws, int code)
{
	put_close(ws, code, NULL, 0);
	finish(ws, SC_WS_END_PROTOCOL, code);
}

/* ---- writing ------------------------------------------------------- */

/* Write what the output holds, as far as the kernel takes it; the
 * bufferevent's write event finishes the rest. */
static void
flush(struct sc_ws *ws)
{
	struct evbuffer *out = bufferevent_get_output(ws->bev);
	struct evbuffer_iovec v[WS_MAX_IOV];
	struct iovec iov[WS_MAX_IOV];
	struct msghdr mh;
	int n = evbuffer_peek(out, -1, NULL, v, WS_MAX_IOV);
	ssize_t w;

	if (n <= 0) {
		return;
	}
	if (n > WS_MAX_IOV) {
		n = WS_MAX_IOV;
	}
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	w = sendmsg(bufferevent_getfd(ws->bev), &mh,
	            MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		finish(ws, SC_WS_END_EOF, SC_WS_ABNORMAL);
		return;
	}
	if (w > 0) {
		out_drain(out, (size_t)w);
	}
	if (evbuffer_get_length(out) > 0) {
		ws->writing = true;
		bufferevent_enable(ws->bev, EV_WRITE);
	}
}

static void
flusher_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_ws_flusher *f = arg;
	struct sc_ws *ws;

	f->armed = false;
	/* a flush may end a connection, and its owner close others: take
	 * the head each time */
	while ((ws = f->head) != NULL) {
		unqueue(ws);
		if (ws->state == WS_OPEN && !ws->writing) {
			flush(ws);
		}
	}
}

struct sc_ws_flusher *
sc_ws_flusher_new(struct event_base *base)
{
	struct sc_ws_flusher *f = sc_calloc(1, sizeof(*f));

	f->ev = evtimer_new(base, flusher_cb, f);
	if (f->ev == NULL) {
		sc_oom();
	}
	return f;
}

void
sc_ws_flusher_free(struct sc_ws_flusher *f)
{
	if (f == NULL) {
		return;
	}
	event_free(f->ev);
	free(f);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_ws *ws = arg;

	if (ws->state == WS_ENDING) {
		finish(ws, ws->why, ws->code);
		return;
	}
	ws->flush_pending = false;
	if (ws->state == WS_OPEN && !ws->writing) {
		flush(ws);
	}
}

/* The bufferevent wrote the rest: back to writing it ourselves. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct sc_ws *ws = arg;

	if (ws->direct) {
		ws->writing = false;
		bufferevent_disable(bev, EV_WRITE);
	}
}

/* ---- reading ------------------------------------------------------- */

static bool
valid_close_code(int code)
{
	return (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 &&
	        code != 1006) ||
	       (code >= 3000 && code <= 4999);
}

/* A complete control frame. */
static void
on_control(struct sc_ws *ws, int op, const uint8_t *p, size_t len)
{
	int code = 0;

	if (op == WSLAY_PING) {
		put_frame(ws, WSLAY_PONG, p, len);
		return;
	}
	if (op == WSLAY_PONG) {
		return;
	}
	/* close */
	if (len == 1) {
		fail(ws, SC_WS_PROTOCOL_ERROR);
		return;
	}
	if (len >= 2) {
		code = p[0] << 8 | p[1];
		if (!valid_close_code(code)) {
			fail(ws, SC_WS_PROTOCOL_ERROR);
			return;
		}
		if (sc_utf8_length((const char *)p + 2, len - 2) < 0) {
			fail(ws, SC_WS_BAD_DATA);
			return;
		}
	}
	/* echo it, with its code and reason */
	put_close(ws, code, p + 2, len >= 2 ? len - 2 : 0);
	finish(ws, SC_WS_END_CLOSED, code != 0 ? code : SC_WS_NO_STATUS);
}

/* A complete data message. */
static void
on_data(struct sc_ws *ws, int op, const uint8_t *p, size_t len)
{
	static const uint8_t empty[1];

	if (op == WSLAY_TEXT_FRAME &&
	    sc_utf8_length((const char *)p, len) < 0) {
		fail(ws, SC_WS_BAD_DATA);
		return;
	}
	if (ws->cbs.on_message != NULL) {
		ws->cbs.on_message(ws, op == WSLAY_BINARY_FRAME,
		                   p != NULL ? p : empty, len, ws->arg);
	}
}

/* The first piece of a frame: the checks wslay leaves to its caller.
 * false when the connection failed. */
static bool
frame_starts(struct sc_ws *ws, const struct wslay_frame_iocb *io)
{
	int op = io->opcode;

	if (!io->mask || io->rsv != 0) {
		/* a client frame without a mask, or reserved bits */
		fail(ws, SC_WS_PROTOCOL_ERROR);
		return false;
	}
	if (wslay_is_ctrl_frame(op)) {
		if (op != WSLAY_CONNECTION_CLOSE && op != WSLAY_PING &&
		    op != WSLAY_PONG) {
			fail(ws, SC_WS_PROTOCOL_ERROR);
			return false;
		}
		return true; /* wslay refused long and fragmented ones */
	}
	if (op > WSLAY_BINARY_FRAME ||
	    (op == WSLAY_CONTINUATION_FRAME) != ws->fragmented) {
		/* an unknown opcode, a continuation without a start, or a
		 * start inside a message */
		fail(ws, SC_WS_PROTOCOL_ERROR);
		return false;
	}
	if (io->payload_length > ws->max_message - ws->msglen) {
		fail(ws, SC_WS_TOO_BIG);
		return false;
	}
	if (op != WSLAY_CONTINUATION_FRAME) {
		ws->msgop = (uint8_t)op;
	}
	if (io->data_length < io->payload_length || ws->fragmented ||
	    !io->fin) {
		/* not whole in this piece: joined in ws->msg */
		size_t need = ws->msglen + (size_t)io->payload_length;

		if (need > ws->msgcap) {
			ws->msgcap = need;
			ws->msg = sc_realloc(ws->msg, need > 0 ? need : 1);
		}
	}
	return true;
}

/* A piece of a frame from wslay (data in place in its buffer, unmasked):
 * false when the connection is over or no longer reads. */
static bool
frame_piece(struct sc_ws *ws, struct rx *rx, const struct wslay_frame_iocb *io)
{
	bool ctrl = wslay_is_ctrl_frame(io->opcode);
	bool start = !rx->in_frame;
	bool whole = start && io->data_length == io->payload_length;
	bool end;

	if (start) {
		uint64_t n = io->payload_length;

		/* the header wslay read: its shortest form, as it requires */
		rx->used += 2 +
		            (n < 126       ? 0
		             : n <= 0xffff ? 2
		                           : 8) +
		            (io->mask ? 4 : 0);
		rx->in_frame = true;
		rx->off = 0;
		rx->ctllen = 0;
		if (!frame_starts(ws, io)) {
			return false;
		}
	}
	rx->used += io->data_length;
	rx->off += io->data_length;
	end = rx->off == io->payload_length;
	if (end) {
		rx->in_frame = false;
	}
	if (ctrl) {
		memcpy(rx->ctl + rx->ctllen, io->data, io->data_length);
		rx->ctllen += io->data_length;
		if (end) {
			on_control(ws, io->opcode, rx->ctl, rx->ctllen);
		}
	} else if (whole && io->fin && !ws->fragmented) {
		on_data(ws, ws->msgop, io->data,
		        io->data_length); /* in place */
	} else {
		if (io->data_length > 0) {
			memcpy(ws->msg + ws->msglen, io->data, io->data_length);
			ws->msglen += io->data_length;
		}
		if (end && io->fin) {
			uint8_t *m = ws->msg;
			size_t mlen = ws->msglen;

			ws->msg = NULL;
			ws->msglen = ws->msgcap = 0;
			ws->fragmented = false;
			on_data(ws, ws->msgop, m, mlen);
			free(m);
		} else if (end) {
			ws->fragmented = true;
		}
	}
	return ws->state == WS_OPEN && !ws->close_sent;
}

/* Every frame the input holds, through a borrowed wslay context, given
 * back whenever it holds nothing of ws's. */
static void
read_frames(struct sc_ws *ws)
{
	struct evbuffer *in = bufferevent_get_input(ws->bev);

	for (;;) {
		struct wslay_frame_iocb io;
		ssize_t r;

		if (ws->rx == NULL) {
			if (evbuffer_get_length(in) == 0) {
				return;
			}
			rx_take(ws);
		}
		memset(&io, 0, sizeof(io));
		r = wslay_frame_recv(ws->rx->f, &io);
		if (r < 0 && r != WSLAY_ERR_WANT_READ) {
			/* a header wslay refused: a control frame over 125
			 * bytes or fragmented, a length not in its shortest
			 * form; its context is in no state to reuse */
			rx_give(ws, false);
			fail(ws, SC_WS_PROTOCOL_ERROR);
			return;
		}
		if (r >= 0 && !frame_piece(ws, ws->rx, &io)) {
			return;
		}
		if (rx_empty(ws->rx)) {
			rx_give(ws, true);
		}
		if (r == WSLAY_ERR_WANT_READ) {
			return;
		}
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct sc_ws *ws = arg;

	if (ws->state != WS_OPEN) {
		return;
	}
	ws->busy++;
	read_frames(ws);
	ws->busy--;
	if (ws->busy > 0) {
		return;
	}
	if (ws->state == WS_GONE) {
		/* closed or aborted by the owner inside on_message */
		release_bev(ws);
		free_ws(ws);
		return;
	}
	if (ws->state == WS_ENDING) {
		finish(ws, ws->why, ws->code);
		return;
	}
	if (too_slow(ws)) {
		drop_slow(ws);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	struct sc_ws *ws = arg;

	if (ws->state == WS_GONE) {
		if (ws->busy == 0) {
			bufferevent_free(ws->bev);
			ws->bev = NULL;
			free_ws(ws);
		}
		return;
	}
	finish(ws, SC_WS_END_EOF, SC_WS_ABNORMAL);
}

/* ---- the API ------------------------------------------------------- */

struct sc_ws *
sc_ws_new(struct bufferevent *bev, const struct sc_ws_opts *opts,
          const struct sc_ws_cbs *cbs, void *arg)
{
	struct sc_ws *ws = sc_calloc(1, sizeof(*ws));

	ws->bev = bev;
	ws->cbs = *cbs;
	ws->arg = arg;
	ws->max_message = opts != NULL && opts->max_message > 0
	                      ? opts->max_message
	                      : WS_DEFAULT_MAX_MESSAGE;
	ws->max_output = opts != NULL && opts->max_output > 0
	                     ? opts->max_output
	                     : WS_DEFAULT_MAX_OUTPUT;
	ws->linger = opts != NULL ? opts->linger : NULL;
	ws->flusher = opts != NULL ? opts->flusher : NULL;
	/* on a socket we write; on anything else (a bufferevent pair) the
	 * bufferevent writes as usual */
	ws->direct = bufferevent_getfd(bev) >= 0;
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, ws);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (ws->direct) {
		/* we write (flush); the write event only while the kernel
		 * is full */
		bufferevent_disable(bev, EV_WRITE);
		bufferevent_enable(bev, EV_READ);
	} else {
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		schedule_flush(ws); /* the 101 response */
	}
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		/* frames that came with the handshake */
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	}
	return ws;
}

/* After queueing: drop the client when past the bound. */
static int
after_put(struct sc_ws *ws)
{
	if (too_slow(ws)) {
		drop_slow(ws);
		return SC_EAGAIN;
	}
	return SC_OK;
}

int
sc_ws_send(struct sc_ws *ws, bool binary, const void *data, size_t len)
{
	if (ws->state != WS_OPEN || ws->close_sent) {
		return SC_EAGAIN;
	}
	if (len > ws->max_message) {
		return SC_EINVAL;
	}
	put_frame(ws, binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME, data,
	          len);
	return after_put(ws);
}

void
sc_ws_frame_set(struct sc_ws_frame *f, bool binary, const void *data,
                size_t len)
{
	f->len = 0;
	f->payload = len;
	frame_out(NULL, f, binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME, data,
	          len);
}

void
sc_ws_frame_release(struct sc_ws_frame *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

int
sc_ws_send_frame(struct sc_ws *ws, const struct sc_ws_frame *f)
{
	if (ws->state != WS_OPEN || ws->close_sent) {
		return SC_EAGAIN;
	}
	if (f->payload > ws->max_message) {
		return SC_EINVAL;
	}
	if (evbuffer_add(bufferevent_get_output(ws->bev), f->buf, f->len) !=
	    0) {
		sc_oom();
	}
	schedule_flush(ws);
	return after_put(ws);
}

void
sc_ws_close(struct sc_ws *ws, int code, const char *reason)
{
	if (ws->state == WS_OPEN) {
		put_close(ws, code, reason,
		          reason != NULL ? strlen(reason) : 0);
	}
	ws->state = WS_GONE;
	if (ws->busy == 0) {
		release_bev(ws);
		free_ws(ws);
	}
}

void
sc_ws_abort(struct sc_ws *ws)
{
	ws->state = WS_GONE;
	unqueue(ws);
	if (ws->bev != NULL) {
		bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	}
	if (ws->busy == 0) {
		if (ws->bev != NULL) {
			bufferevent_free(ws->bev);
			ws->bev = NULL;
		}
		free_ws(ws);
	} else {
		/* read_cb frees it on the way out; nothing more to send */
		out_drain(bufferevent_get_output(ws->bev),
		          evbuffer_get_length(bufferevent_get_output(ws->bev)));
	}
}

size_t
sc_ws_unsent(const struct sc_ws *ws)
{
	return ws->bev != NULL
	           ? evbuffer_get_length(bufferevent_get_output(ws->bev))
	           : 0;
}

void
sc_ws_set_arg(struct sc_ws *ws, void *arg)
{
	ws->arg = arg;
}
