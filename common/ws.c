/* ws.c: a server-side WebSocket on a bufferevent, framed by wslay (see
 * ws.h). wslay pulls input through recv_cb and pushes output through
 * send_cb; send_cb always takes everything into the bufferevent's output,
 * so wslay's own queues are empty after each wslay_event_send and the
 * output buffer is the one place where back-pressure is measured. */
#include "ws.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "ws_linger.h"

#define WS_DEFAULT_MAX_MESSAGE (1024 * 1024)
#define WS_DEFAULT_MAX_OUTPUT  (4 * 1024 * 1024)
#define WS_GUID                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum ws_state {
	WS_OPEN,
	WS_ENDING, /* over; on_end to report, then free */
	WS_GONE,   /* the owner gave it up (close/abort); free when idle */
};

struct sc_ws {
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	struct sc_ws_cbs cbs;
	void *arg;
	size_t max_message;
	size_t max_output;
	struct sc_ws_linger *linger;
	struct event *defer; /* reports a drop from the loop */
	enum ws_state state;
	enum sc_ws_end why;
	int code;
	int busy;       /* depth of our own callbacks on the stack */
	bool proto_err; /* wslay failed a frame header (see read_cb) */
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

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
        void *arg)
{
	(void)flags;
	struct sc_ws *ws = arg;
	int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
        void *arg)
{
	(void)flags;
	struct sc_ws *ws = arg;

	if (evbuffer_add(bufferevent_get_output(ws->bev), data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
       void *arg)
{
	(void)ctx;
	struct sc_ws *ws = arg;

	/* Pings are answered and closes echoed by wslay itself. */
	if (ws->state != WS_OPEN || ws->cbs.on_message == NULL) {
		return;
	}
	if (m->opcode == WSLAY_TEXT_FRAME || m->opcode == WSLAY_BINARY_FRAME) {
		ws->cbs.on_message(ws, m->opcode == WSLAY_BINARY_FRAME, m->msg,
		                   m->msg_length, ws->arg);
	}
}

static void
free_ws(struct sc_ws *ws)
{
	if (ws->defer != NULL) {
		event_free(ws->defer);
	}
	wslay_event_context_free(ws->ctx);
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

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_ws *ws = arg;

	finish(ws, ws->why, ws->code);
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
	bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	event_active(ws->defer, EV_TIMEOUT, 1);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct sc_ws *ws = arg;
	int rv;

	if (ws->state != WS_OPEN && ws->state != WS_GONE) {
		return;
	}
	ws->busy++;
	rv = wslay_event_recv(ws->ctx);
	ws->busy--;
	if (ws->state == WS_GONE) {
		if (ws->busy == 0) {
			/* closed or aborted by the owner inside on_message */
			release_bev(ws);
			free_ws(ws);
		}
		return;
	}
	if (ws->state == WS_ENDING) {
		if (ws->busy == 0) {
			finish(ws, ws->why, ws->code);
		}
		return;
	}
	if (rv != 0) {
		/* A frame header wslay refused (a control frame over 125 bytes
		 * or fragmented, a length not in its shortest form): it queued
		 * a close without a code; send 1002 instead. */
		static const uint8_t close1002[] = {0x88, 0x02, 0x03, 0xea};

		wslay_event_shutdown_write(ws->ctx);
		evbuffer_add(bufferevent_get_output(ws->bev), close1002,
		             sizeof(close1002));
		finish(ws, SC_WS_END_PROTOCOL, SC_WS_PROTOCOL_ERROR);
		return;
	}
	wslay_event_send(ws->ctx);
	if (wslay_event_get_close_received(ws->ctx)) {
		/* the peer closed (its close is echoed) or broke a rule wslay
		 * checks (unmasked, bad opcode, bad UTF-8, too big) */
		finish(ws, SC_WS_END_CLOSED,
		       wslay_event_get_status_code_received(ws->ctx));
		return;
	}
	if (!wslay_event_get_read_enabled(ws->ctx)) {
		finish(ws, SC_WS_END_PROTOCOL,
		       wslay_event_get_status_code_sent(ws->ctx));
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

struct sc_ws *
sc_ws_new(struct bufferevent *bev, const struct sc_ws_opts *opts,
          const struct sc_ws_cbs *cbs, void *arg)
{
	static const struct wslay_event_callbacks wcbs = {
	    .recv_callback = recv_cb,
	    .send_callback = send_cb,
	    .on_msg_recv_callback = msg_cb,
	};
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
	if (wslay_event_context_server_init(&ws->ctx, &wcbs, ws) != 0) {
		sc_oom();
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_message);
	ws->defer = event_new(bufferevent_get_base(bev), -1, 0, defer_cb, ws);
	if (ws->defer == NULL) {
		sc_log_error(NULL, "cannot start websocket: no event");
		bufferevent_free(bev);
		wslay_event_context_free(ws->ctx);
		free(ws);
		return NULL;
	}
	bufferevent_setcb(bev, read_cb, NULL, event_cb, ws);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		/* frames that came with the handshake */
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	}
	return ws;
}

int
sc_ws_send(struct sc_ws *ws, bool binary, const void *data, size_t len)
{
	struct wslay_event_msg msg = {
	    .opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
	    .msg = data,
	    .msg_length = len,
	};

	if (ws->state != WS_OPEN) {
		return SC_EAGAIN;
	}
	if (len > ws->max_message) {
		return SC_EINVAL;
	}
	if (wslay_event_queue_msg(ws->ctx, &msg) != 0) {
		return SC_EAGAIN; /* a close is queued */
	}
	wslay_event_send(ws->ctx);
	if (too_slow(ws)) {
		drop_slow(ws);
		return SC_EAGAIN;
	}
	return SC_OK;
}

void
sc_ws_close(struct sc_ws *ws, int code, const char *reason)
{
	size_t rlen = reason != NULL ? strlen(reason) : 0;

	if (rlen > 123) {
		rlen = 123;
	}
	if (ws->state == WS_OPEN) {
		wslay_event_queue_close(ws->ctx, (uint16_t)code,
		                        (const uint8_t *)reason, rlen);
		wslay_event_send(ws->ctx);
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
		evbuffer_drain(
		    bufferevent_get_output(ws->bev),
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
