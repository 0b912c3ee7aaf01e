/* sio.h: a Socket.IO 5 server on Engine.IO (eio.h): namespaces the server
 * registers (others get CONNECT_ERROR "Invalid namespace"), CONNECT with an
 * auth payload accepted or refused by a hook (now or later), events with
 * acks both ways, binary attachments, DISCONNECT, rooms with broadcasts
 * that encode once. This is the library the product's handlers sit on; it
 * knows nothing of them. Everything runs on the loop thread.
 *
 * Lifetimes: a socket (one client in one namespace) is valid from
 * on_connect until its on_disconnect returns; on_disconnect comes exactly
 * once for every socket not refused, always from the event loop (never
 * inside an sc_sio_* call). An ack handle or a reference
 * (sc_sio_socket_ref) keeps the memory valid longer; a disconnected socket
 * then just drops what is sent to it. */
#ifndef SC_SIO_H
#define SC_SIO_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eio.h"

struct sc_eio_listener;
struct sc_sio_server;
struct sc_sio_nsp;
struct sc_sio_socket;
struct sc_sio_ack;

struct sc_sio_opts {
	struct sc_eio_opts eio;      /* path defaults to "/socket.io/" */
	int connect_timeout_ms;      /* a client must join a namespace
	                                within (default 45000) */
	int max_json_depth;          /* default 32 */
	int max_attachments;         /* binary attachments per packet (10) */
	size_t max_rooms_per_socket; /* default 256 */
	size_t max_pending_acks;     /* server-to-client acks awaited per
	                                socket (default 256) */
};

/* A binary attachment: borrowed bytes. */
struct sc_sio_bin {
	const uint8_t *data;
	size_t len;
};

struct sc_sio_nsp_cbs {
	/* A client asks to join. auth is the CONNECT payload (an object,
	 * empty when none; borrowed for the call: json_object_get to keep
	 * it). Answer with sc_sio_accept or sc_sio_refuse, now or later
	 * (the socket stays valid meanwhile; if the client leaves first,
	 * on_disconnect comes instead). NULL: every client is accepted. */
	void (*on_connect)(struct sc_sio_socket *s, json_object *auth,
	                   void *arg);
	/* An event. args: the arguments after the name (a JSON array,
	 * borrowed for the call). ack: NULL, or a handle the handler owns
	 * and must pass to sc_sio_ack_send or sc_sio_ack_free. */
	void (*on_event)(struct sc_sio_socket *s, const char *name,
	                 json_object *args, struct sc_sio_ack *ack, void *arg);
	/* An event with binary attachments (args hold placeholders
	 * {"_placeholder":true,"num":i} for bins[i]; all borrowed). NULL:
	 * binary events are refused (the connection is closed as a parse
	 * error). */
	void (*on_binary_event)(struct sc_sio_socket *s, const char *name,
	                        json_object *args,
	                        const struct sc_sio_bin *bins, size_t nbins,
	                        struct sc_sio_ack *ack, void *arg);
	/* The socket is gone. reason: "client namespace disconnect",
	 * "server namespace disconnect", "transport close", "transport
	 * error", "ping timeout", "parse error", "forced close", "server
	 * shutting down". The socket is still in its rooms during the call;
	 * it is freed (or left to its references) when this returns. */
	void (*on_disconnect)(struct sc_sio_socket *s, const char *reason,
	                      void *arg);
};

/* Serve Socket.IO on listener l (borrowed; outlives the server). opts may
 * be NULL (defaults). Caller owns; free with sc_sio_server_free(). */
struct sc_sio_server *sc_sio_server_new(struct sc_eio_listener *l,
                                        const struct sc_sio_opts *opts);

/* Graceful shutdown: every socket gets on_disconnect ("server shutting
 * down", from the loop) and every connection a WebSocket close 1001 or a
 * close packet, after what was already queued. */
void sc_sio_server_shutdown(struct sc_sio_server *srv);

/* Connections (Engine.IO sessions) open now. */
size_t sc_sio_server_count(const struct sc_sio_server *srv);

/* For metrics (walks the tables: per scrape, not per message): the
 * Engine.IO figures, sockets connected and rooms in every namespace, and
 * the Socket.IO packets received (decoded, a binary one counted once with
 * its attachments) and sent (one per socket reached, also by a
 * broadcast) since the start. */
struct sc_sio_stats {
	struct sc_eio_stats eio;
	size_t sockets, rooms;
	uint64_t packets_in, packets_out;
};
void sc_sio_server_stats(const struct sc_sio_server *srv,
                         struct sc_sio_stats *out);

/* Frees everything without callbacks. Ack handles and references still
 * held stay valid memory (sending through them does nothing). */
void sc_sio_server_free(struct sc_sio_server *srv);

/* Serve namespace `name` ("/" is the main one). cbs copied; arg passed to
 * each callback. The server owns the namespace. NULL if the name is taken
 * or does not start with '/'. */
struct sc_sio_nsp *sc_sio_nsp_new(struct sc_sio_server *srv, const char *name,
                                  const struct sc_sio_nsp_cbs *cbs, void *arg);

/* ---- connecting ---------------------------------------------------- */

/* Accept a socket waiting in on_connect, with the owner's data pointer:
 * the client gets CONNECT {"sid": id}. Events sent after this reach it.
 * SC_OK; SC_EAGAIN if it is not waiting (already answered, or gone). */
int sc_sio_accept(struct sc_sio_socket *s, void *data);

/* Refuse it: the client gets CONNECT_ERROR {"message": message, "data":
 * data} (data borrowed, may be NULL). No on_disconnect follows; s is freed
 * (or left to its references). SC_OK or SC_EAGAIN as above. */
int sc_sio_refuse(struct sc_sio_socket *s, const char *message,
                  json_object *data);

/* Disconnect from the server side: the client gets DISCONNECT for this
 * namespace; with close_conn, its whole connection closes (all its
 * namespaces). on_disconnect follows from the loop with "server namespace
 * disconnect". */
void sc_sio_disconnect(struct sc_sio_socket *s, bool close_conn);

/* ---- sending ------------------------------------------------------- */

/* Emit event `name` with args (a JSON array, borrowed; NULL: none).
 * SC_OK; SC_EAGAIN when the socket is not connected or its connection is
 * closing or too slow (dropped); SC_EINVAL for a reserved name or args not
 * an array; SC_ETOOBIG past the maximum payload. */
int sc_sio_emit(struct sc_sio_socket *s, const char *name, json_object *args);

/* The same with binary attachments referenced from args by placeholders
 * (see on_binary_event); bins borrowed. */
int sc_sio_emit_binary(struct sc_sio_socket *s, const char *name,
                       json_object *args, const struct sc_sio_bin *bins,
                       size_t nbins);

/* Emit and ask for an ack: cb(s, args, arg) runs when the client acks
 * (args: its JSON array, borrowed), or with args NULL if the socket
 * disconnects first. Results as sc_sio_emit, plus SC_ETOOBIG when
 * max_pending_acks are already awaited; on failure cb is not called. */
typedef void (*sc_sio_ack_fn)(struct sc_sio_socket *s, json_object *args,
                              void *arg);
int sc_sio_emit_with_ack(struct sc_sio_socket *s, const char *name,
                         json_object *args, sc_sio_ack_fn cb, void *arg);

/* Answer a client's ack with args (a JSON array, borrowed; NULL: []), and
 * free the handle. SC_OK, or SC_EAGAIN if the socket is gone (the handle
 * is freed all the same). */
int sc_sio_ack_send(struct sc_sio_ack *ack, json_object *args);
int sc_sio_ack_send_binary(struct sc_sio_ack *ack, json_object *args,
                           const struct sc_sio_bin *bins, size_t nbins);
/* Free a handle without answering. */
void sc_sio_ack_free(struct sc_sio_ack *ack);
/* The socket an ack answers (borrowed, valid while the handle is). */
struct sc_sio_socket *sc_sio_ack_socket(const struct sc_sio_ack *ack);

/* ---- rooms --------------------------------------------------------- */

/* Join a room of the socket's namespace (idempotent). SC_OK; SC_EAGAIN if
 * not connected; SC_ETOOBIG past max_rooms_per_socket. A socket leaves
 * all its rooms after its on_disconnect. */
int sc_sio_join(struct sc_sio_socket *s, const char *room);
void sc_sio_leave(struct sc_sio_socket *s, const char *room);
bool sc_sio_in_room(const struct sc_sio_socket *s, const char *room);

/* Connected sockets in the room. */
size_t sc_sio_room_size(struct sc_sio_nsp *nsp, const char *room);

/* Call fn for each connected socket of the room. fn may emit, but must
 * not join or leave this room. */
void sc_sio_room_foreach(struct sc_sio_nsp *nsp, const char *room,
                         void (*fn)(struct sc_sio_socket *s, void *arg),
                         void *arg);

/* Emit to every connected socket of the room but `except` (may be NULL).
 * The packet is encoded once. Returns how many it was sent to, or -1 for a
 * reserved name or args not an array. */
int sc_sio_to_room(struct sc_sio_nsp *nsp, const char *room,
                   const struct sc_sio_socket *except, const char *name,
                   json_object *args);

/* The same for every connected socket of the namespace. */
int sc_sio_broadcast(struct sc_sio_nsp *nsp, const struct sc_sio_socket *except,
                     const char *name, json_object *args);

/* ---- the socket ---------------------------------------------------- */

/* The socket id sent in CONNECT; borrowed, valid while s is. */
const char *sc_sio_socket_id(const struct sc_sio_socket *s);
/* Its namespace (borrowed, owned by the server). */
struct sc_sio_nsp *sc_sio_socket_nsp(const struct sc_sio_socket *s);
const char *sc_sio_nsp_name(const struct sc_sio_nsp *nsp);
/* Connected: accepted and not disconnected. */
bool sc_sio_socket_connected(const struct sc_sio_socket *s);
/* The client's IP (see sc_eio_socket_peer); "" once disconnected. */
const char *sc_sio_socket_peer(const struct sc_sio_socket *s);
/* The owner's pointer (never freed by the library). */
void sc_sio_socket_set_data(struct sc_sio_socket *s, void *data);
void *sc_sio_socket_data(const struct sc_sio_socket *s);
/* Keep the socket's memory past on_disconnect (for work in flight); each
 * ref needs one unref. */
void sc_sio_socket_ref(struct sc_sio_socket *s);
void sc_sio_socket_unref(struct sc_sio_socket *s);

#endif
