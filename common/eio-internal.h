/* eio-internal.h: between the listener (eio_listener.c) and the Engine.IO
 * servers (eio.c) only. An endpoint is a path with a handler; a connection
 * is one HTTP/1.1 connection of the listener, handed to the handler once a
 * request (head and body) has arrived whole. */
#ifndef SC_EIO_INTERNAL_H
#define SC_EIO_INTERNAL_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stddef.h>

#include "eio_listener.h"
#include "ws_request.h"

struct eio_conn;
struct sc_ws_linger;

struct eio_endpoint {
	const char *path; /* exact match, e.g. "/socket.io/"; borrowed */
	size_t max_body;  /* larger POST bodies get 413 */
	/* A request arrived. The handler calls exactly one of
	 * eio_conn_reply*, eio_conn_hold or eio_conn_upgrade, now. */
	void (*handle)(struct eio_endpoint *ep, struct eio_conn *c);
	void *arg;
	struct eio_endpoint *next;
};

/* ep is borrowed until detach. */
void eio_listener_attach(struct sc_eio_listener *l, struct eio_endpoint *ep);
void eio_listener_detach(struct sc_eio_listener *l, struct eio_endpoint *ep);
struct event_base *eio_listener_base(struct sc_eio_listener *l);
/* Borrowed, valid until the listener is freed. */
struct sc_ws_linger *eio_listener_linger(struct sc_eio_listener *l);

/* The request being handled; borrowed until the reply. */
const struct sc_ws_request *eio_conn_request(struct eio_conn *c);
/* Its body (NUL-terminated; "" when none); borrowed until the reply. */
const char *eio_conn_body(struct eio_conn *c, size_t *len);
/* The peer's IP address as text; borrowed until the reply. */
const char *eio_conn_peer(struct eio_conn *c);

/* Answer the request. extra is more header lines ("A: b\r\n") or NULL.
 * close: end the connection after it. Safe from any loop callback. */
void eio_conn_reply(struct eio_conn *c, int status, const char *ctype,
                    const void *body, size_t len, const char *extra, int close);
/* Same, with a body taken (drained) from buf. */
void eio_conn_reply_buffer(struct eio_conn *c, int status, const char *ctype,
                           struct evbuffer *buf);

/* Keep the request open to answer later (long-polling). If the client
 * leaves first, gone(c, arg) is called and c is freed after it returns. */
void eio_conn_hold(struct eio_conn *c,
                   void (*gone)(struct eio_conn *c, void *arg), void *arg);

/* Write "101 Switching Protocols" with Sec-WebSocket-Accept: accept and
 * give the connection up: the caller owns the returned bufferevent
 * (bytes the client sent after the head stay in its input). */
struct bufferevent *eio_conn_upgrade(struct eio_conn *c, const char *accept);

#endif
