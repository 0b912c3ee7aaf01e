/* eio_listener.h: the HTTP/1.1 side of the Socket.IO endpoint: an
 * evconnlistener whose connections are read and answered here (request
 * line and headers parsed by hand, ws_request.h), because evhttp cannot
 * hand a connection over for a WebSocket upgrade. Each Engine.IO server
 * (eio.h) attaches to one path; any other path gets 404. Connections carry
 * keep-alive requests, hold long-polling GETs open, or are handed over to a
 * WebSocket after a 101. */
#ifndef SC_EIO_LISTENER_H
#define SC_EIO_LISTENER_H

#include <event2/event.h>
#include <stddef.h>

struct sc_eio_listener;

struct sc_eio_listener_opts {
	size_t max_conns;       /* HTTP connections at once, WebSockets not
	                           counted; past it new ones are closed at
	                           accept (default 20000) */
	size_t max_header;      /* request head bytes (default 8192): 431 */
	int request_timeout_ms; /* a request head and body must arrive
	                           within this (default 30000) */
	int linger_ms;          /* closing connections drain at most this
	                           long (default 2000) */
};

/* Caller owns; free with sc_eio_listener_free() after every server on it.
 * opts may be NULL (defaults). Sets SIGPIPE to ignored if it is still at
 * its default. */
struct sc_eio_listener *
sc_eio_listener_new(struct event_base *base,
                    const struct sc_eio_listener_opts *opts);

/* Listen on addr:port (port 0: any). SC_OK or SC_EINVAL (logged:
 * "cannot bind ..."). */
int sc_eio_listener_bind(struct sc_eio_listener *l, const char *addr, int port);

/* The port bound, or -1. */
int sc_eio_listener_port(const struct sc_eio_listener *l);

/* The loop it runs on (borrowed). */
struct event_base *sc_eio_listener_base(const struct sc_eio_listener *l);

/* Stop accepting (graceful shutdown); open connections carry on. */
void sc_eio_listener_close(struct sc_eio_listener *l);

/* HTTP connections open, plus closing ones still draining. */
size_t sc_eio_listener_conns(const struct sc_eio_listener *l);

/* Closes every connection. Servers must be freed first. */
void sc_eio_listener_free(struct sc_eio_listener *l);

#endif
