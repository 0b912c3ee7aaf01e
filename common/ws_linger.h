/* ws_linger.h: closing TCP connections without losing their last bytes.
 * A connection handed over is flushed, half-closed (shutdown SHUT_WR), and
 * read and discarded until the peer closes too or a timeout passes; only
 * then is it freed. Closing at once could reset the connection and destroy
 * a WebSocket close frame or an error response still in flight. The pool
 * owns every lingering connection, so freeing it frees them all. */
#ifndef SC_WS_LINGER_H
#define SC_WS_LINGER_H

#include <event2/bufferevent.h>
#include <stddef.h>

struct sc_ws_linger;

/* Caller owns; free with sc_ws_linger_free(). timeout_ms bounds the whole
 * flush and drain of each connection (<= 0: 2000). */
struct sc_ws_linger *sc_ws_linger_new(int timeout_ms);

/* Takes ownership of bev (always): its callbacks are replaced. lg may be
 * NULL: bev is then freed at once. */
void sc_ws_linger_add(struct sc_ws_linger *lg, struct bufferevent *bev);

/* How many connections are still lingering. */
size_t sc_ws_linger_count(const struct sc_ws_linger *lg);

/* Frees the pool and every connection still in it. */
void sc_ws_linger_free(struct sc_ws_linger *lg);

#endif
