/* ws.h: one server-side RFC 6455 WebSocket connection on a libevent
 * bufferevent, with the frames parsed and built by wslay's frame API: client
 * masking required, fragmented messages reassembled, ping answered with pong,
 * the close handshake with codes, text checked as UTF-8, a maximum message size
 * and a bound on unsent output (a client that does not read is dropped).
 * On a socket, output is written by one sendmsg per loop turn (see
 * sc_ws_flusher), not at each send; the bufferevent's write event is used
 * only while the kernel takes no more.
 * Everything runs on the loop thread. The 101 response is written by the
 * listener before it hands the connection over (sc_ws_new). */
#ifndef SC_WS_H
#define SC_WS_H

#include <event2/bufferevent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_ws;
struct sc_ws_linger;
struct sc_ws_flusher;

#define SC_WS_ACCEPT_LEN 28

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the
 * RFC 6455 GUID)), NUL-terminated into out. */
void sc_ws_accept_key(const char *key, char out[SC_WS_ACCEPT_LEN + 1]);

/* Close codes (RFC 6455 7.4.1) used here. */
enum {
	SC_WS_NORMAL = 1000,
	SC_WS_GOING_AWAY = 1001,
	SC_WS_PROTOCOL_ERROR = 1002,
	SC_WS_NO_STATUS = 1005,
	SC_WS_ABNORMAL = 1006,
	SC_WS_BAD_DATA = 1007, /* text that is not UTF-8 */
	SC_WS_POLICY = 1008,
	SC_WS_TOO_BIG = 1009,
};

/* Why a connection ended (on_end). */
enum sc_ws_end {
	SC_WS_END_CLOSED,   /* the peer sent a close frame; code is its code
	                       (SC_WS_NO_STATUS when it gave none) */
	SC_WS_END_PROTOCOL, /* the peer broke RFC 6455; we sent a close frame
	                       with code (1002, 1007, 1009) */
	SC_WS_END_EOF,      /* the TCP connection ended or failed without a
	                       close frame; code SC_WS_ABNORMAL */
	SC_WS_END_SLOW,     /* dropped: its unsent output passed max_output;
	                       code SC_WS_POLICY (not sent: nothing could be) */
};

struct sc_ws_cbs {
	/* One complete message: text (valid UTF-8) or binary. data is
	 * borrowed for the call. The handler may call sc_ws_send, sc_ws_close
	 * and sc_ws_abort on ws. */
	void (*on_message)(struct sc_ws *ws, bool binary, const uint8_t *data,
	                   size_t len, void *arg);
	/* The connection is over. Called once, from the event loop (never
	 * from inside an sc_ws_* call), and never after sc_ws_close or
	 * sc_ws_abort. ws is freed when this returns: forget it, and call no
	 * sc_ws_* function on it. */
	void (*on_end)(struct sc_ws *ws, enum sc_ws_end why, int code,
	               void *arg);
};

struct sc_ws_opts {
	size_t max_message; /* default 1 MiB: a larger message closes 1009 */
	size_t max_output;  /* default 4 MiB: unsent bytes past this drop */
	/* Where closed connections flush and drain (borrowed, must outlive
	 * the ws); NULL: freed as soon as their output is handed to the
	 * kernel. */
	struct sc_ws_linger *linger;
	/* Where the writes are gathered (borrowed, must outlive the ws; see
	 * sc_ws_flusher_new); NULL: each connection writes at the end of its
	 * loop turn. */
	struct sc_ws_flusher *flusher;
};

/* The writes of many connections on one loop, gathered: a connection's
 * output is written (one sendmsg) after the next poll's I/O callbacks
 * have run, so messages sent to it in that time (the next broadcasts of
 * a burst) leave in the same write. Costs one extra non-blocking poll per
 * turn that sent something. Caller owns; free with sc_ws_flusher_free
 * once no ws uses it. */
struct sc_ws_flusher *sc_ws_flusher_new(struct event_base *base);
void sc_ws_flusher_free(struct sc_ws_flusher *f);

/* Start a WebSocket on bev, whose 101 response has been written. Takes
 * ownership of bev (always). Bytes already in bev's input are frames and
 * are read on the next loop turn. opts may be NULL (defaults); cbs is
 * copied. Caller holds the returned pointer until on_end, sc_ws_close or
 * sc_ws_abort. NULL on failure (bev freed, logged). */
struct sc_ws *sc_ws_new(struct bufferevent *bev, const struct sc_ws_opts *opts,
                        const struct sc_ws_cbs *cbs, void *arg);

/* Queue one message. SC_OK; SC_EAGAIN when the connection is closing or
 * was just dropped as too slow (on_end follows from the loop); SC_EINVAL
 * when len is past max_message. data is copied. */
int sc_ws_send(struct sc_ws *ws, bool binary, const void *data, size_t len);

/* A message framed once for many connections (a broadcast): a server's
 * frames are never masked, so the frame is the same bytes for every
 * connection. Zero-initialize; reusable; caller owns: free with
 * sc_ws_frame_release. */
struct sc_ws_frame {
	uint8_t *buf;   /* the frame: header, then payload */
	size_t len;     /* of the frame */
	size_t cap;     /* of buf */
	size_t payload; /* the message's length: the frame's last bytes */
};

/* Frame a text or binary message into f (data is copied). */
void sc_ws_frame_set(struct sc_ws_frame *f, bool binary, const void *data,
                     size_t len);
void sc_ws_frame_release(struct sc_ws_frame *f);

/* Queue a frame made by sc_ws_frame_set (copied): same results as
 * sc_ws_send. */
int sc_ws_send_frame(struct sc_ws *ws, const struct sc_ws_frame *f);

/* Start the close handshake with `code` and an optional reason (at most
 * 123 bytes, else cut): queued messages are sent first. The caller gives
 * up ws: no more callbacks; it frees itself once closed. */
void sc_ws_close(struct sc_ws *ws, int code, const char *reason);

/* Drop the connection now, without a close frame. The caller gives up
 * ws: no more callbacks. */
void sc_ws_abort(struct sc_ws *ws);

/* Bytes handed to the connection and not yet written to the kernel. */
size_t sc_ws_unsent(const struct sc_ws *ws);

/* Change the arg passed to the callbacks (an upgrade moving the
 * connection to another owner). */
void sc_ws_set_arg(struct sc_ws *ws, void *arg);

#endif
