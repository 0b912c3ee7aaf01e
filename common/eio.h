/* eio.h: an Engine.IO 4 server on one path of a listener (eio_listener.h):
 * sessions over HTTP long-polling and WebSocket, the open packet (sid,
 * upgrades, pingInterval, pingTimeout, maxPayload), server pings with a
 * timeout, the upgrade from polling to WebSocket (2probe, 3probe, 5, with
 * pending and new polls answered by a noop), and the protocol's errors as
 * {"code":N,"message":"..."}. Messages are text (UTF-8) or binary. All
 * callbacks run on the loop thread. */
#ifndef SC_EIO_H
#define SC_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws.h"

struct sc_eio_listener;
struct sc_eio_server;
struct sc_eio_socket;

struct sc_eio_opts {
	const char *path;       /* default "/engine.io/"; copied */
	int ping_interval_ms;   /* default 25000 */
	int ping_timeout_ms;    /* default 20000 */
	int upgrade_timeout_ms; /* a probe must finish within (10000) */
	size_t max_payload;     /* bytes of a message and of a POST body,
	                           sent as maxPayload (default 1000000) */
	size_t max_packets;     /* packets in one POST body (default 4096) */
	size_t max_sessions;    /* sessions at once (default 20000): 503 */
	size_t max_buffered;    /* unsent bytes of a session past which it
	                           is dropped as too slow (default 4 MiB) */
	bool no_polling;        /* refuse the polling transport */
	bool no_websocket;      /* refuse the WebSocket transport */
	const char *sid_prefix; /* put in front of every session id (copied;
	                           at most 16 of [A-Za-z0-9._-], else
	                           ignored): lets a gateway send a session's
	                           later requests to the instance that made
	                           it (deploy/nginx). Default none. */
};

struct sc_eio_cbs {
	/* A session opened (its open packet is sent). */
	void (*on_open)(struct sc_eio_socket *s, void *arg);
	/* A message: text (valid UTF-8, not NUL-terminated) or binary; data
	 * borrowed for the call. */
	void (*on_message)(struct sc_eio_socket *s, bool binary,
	                   const uint8_t *data, size_t len, void *arg);
	/* The session ended: "transport close" (the client left), "transport
	 * error", "ping timeout", "parse error". Called once, from the event
	 * loop (never inside an sc_eio_* call), never after sc_eio_close. s
	 * is freed after this returns. */
	void (*on_close)(struct sc_eio_socket *s, const char *reason,
	                 void *arg);
};

/* Serve Engine.IO on opts->path of listener l (borrowed: it must outlive
 * the server). opts may be NULL (defaults); cbs is copied. Caller owns;
 * free with sc_eio_server_free(). */
struct sc_eio_server *sc_eio_server_new(struct sc_eio_listener *l,
                                        const struct sc_eio_opts *opts,
                                        const struct sc_eio_cbs *cbs,
                                        void *arg);

/* Close every session (WebSocket close code 1001, polling clients get a
 * close packet), without callbacks, and stop serving the path. */
void sc_eio_server_free(struct sc_eio_server *srv);

/* Sessions open now. */
size_t sc_eio_server_count(const struct sc_eio_server *srv);

/* For metrics: sessions open now by transport (walks the session table:
 * call it per scrape, not per message), and the packets received and sent
 * since the start (messages, pings and pongs, closes; not the open
 * packets, noops and upgrade probes). */
struct sc_eio_stats {
	size_t polling, websocket;
	uint64_t packets_in, packets_out;
};
void sc_eio_server_stats(const struct sc_eio_server *srv,
                         struct sc_eio_stats *out);

/* Send a message (data copied). SC_OK; SC_EAGAIN when the session is
 * closing or has just been dropped (its on_close follows); SC_ETOOBIG past
 * max_payload. A session whose unsent bytes pass max_buffered is dropped
 * ("transport error"). */
int sc_eio_send(struct sc_eio_socket *s, bool binary, const void *data,
                size_t len);

/* Send an already encoded text packet: pkt[0] is the type digit ("4..."
 * for a message). Lets a broadcast encode once. Same results as
 * sc_eio_send. */
int sc_eio_send_packet(struct sc_eio_socket *s, const char *pkt, size_t len);

/* A text packet encoded once for many sessions (a broadcast): the packet
 * inside a WebSocket frame, so each session on a WebSocket gets the same
 * frame copied into its output (no framing per session) and each polling
 * one the packet. Zero-initialize; reusable; caller owns: free with
 * sc_eio_prepared_release. */
struct sc_eio_prepared {
	struct sc_ws_frame frame; /* the packet is the frame's payload */
};

/* Prepare pkt (a text packet as for sc_eio_send_packet; copied) for
 * sc_eio_send_prepared. */
void sc_eio_prepare(struct sc_eio_prepared *p, const char *pkt, size_t len);

/* Send a prepared packet: same results as sc_eio_send_packet. */
int sc_eio_send_prepared(struct sc_eio_socket *s,
                         const struct sc_eio_prepared *p);

void sc_eio_prepared_release(struct sc_eio_prepared *p);

/* Close the session from the server side: what is queued is sent first,
 * then a WebSocket close (code: 1000 normal, 1001 going away) or a close
 * packet to the next poll. The caller gives s up: no on_close. */
void sc_eio_close(struct sc_eio_socket *s, int code);

/* The session id; borrowed, valid while s is. */
const char *sc_eio_socket_id(const struct sc_eio_socket *s);
/* "polling" or "websocket"; static. */
const char *sc_eio_socket_transport(const struct sc_eio_socket *s);
/* The client's IP address: the peer's, or X-Real-IP when the peer is
 * loopback (the gateway). Borrowed, valid while s is. */
const char *sc_eio_socket_peer(const struct sc_eio_socket *s);
/* The owner's pointer (not freed by the library). */
void sc_eio_socket_set_data(struct sc_eio_socket *s, void *data);
void *sc_eio_socket_data(const struct sc_eio_socket *s);

#endif
