/* sio_packet.h: the Socket.IO 5 packet codec (the default parser's text
 * form): <type>[<attachments>-][<namespace>,][<ack id>][JSON], carried in
 * an Engine.IO message. BINARY_EVENT and BINARY_ACK name their binary
 * attachments with {"_placeholder":true,"num":N} in the JSON; the bytes
 * follow as separate binary messages. Decoding is strict and bounded;
 * every malformed input is a clean SC_EINVAL with a reason. */
#ifndef SC_SIO_PACKET_H
#define SC_SIO_PACKET_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum sc_sio_type {
	SC_SIO_CONNECT = 0,
	SC_SIO_DISCONNECT = 1,
	SC_SIO_EVENT = 2,
	SC_SIO_ACK = 3,
	SC_SIO_CONNECT_ERROR = 4,
	SC_SIO_BINARY_EVENT = 5,
	SC_SIO_BINARY_ACK = 6,
};

#define SC_SIO_MAX_NSP 128               /* namespace bytes */
#define SC_SIO_MAX_ID  ((1LL << 53) - 1) /* JavaScript's safe integers */

struct sc_sio_decode_opts {
	int max_depth;       /* JSON nesting (default 32) */
	int max_attachments; /* default 10 */
};

struct sc_sio_packet {
	enum sc_sio_type type;
	char nsp[SC_SIO_MAX_NSP + 1]; /* "/" when absent */
	int64_t id;                   /* ack id, -1 when absent */
	int attachments;              /* binary types only */
	json_object *data;            /* owned; NULL when absent */
};

/* Decode one packet from `s` (len bytes, the Engine.IO message without its
 * "4"). opts may be NULL. SC_OK: the caller owns p->data (release with
 * sc_sio_packet_release). SC_EINVAL: *why says what is wrong (static),
 * nothing to release. Checks: a known type; the attachment count
 * (0..max); namespace syntax and length; ack id digits within
 * SC_SIO_MAX_ID; JSON strict, complete, within depth, numbers finite (no
 * NaN or Infinity, which json-c's strict mode accepts); the payload's shape
 * per type (CONNECT: object or none; DISCONNECT: none; EVENT: non-empty
 * array whose first element is a string that is not a reserved name; ACK:
 * array; CONNECT_ERROR: object or string); placeholders within the
 * attachment count. */
int sc_sio_packet_decode(const char *s, size_t len,
                         const struct sc_sio_decode_opts *opts,
                         struct sc_sio_packet *p, const char **why);
void sc_sio_packet_release(struct sc_sio_packet *p);

/* Is name reserved (connect, connect_error, disconnect, disconnecting,
 * newListener, removeListener)? Such events cannot be sent or received. */
int sc_sio_reserved_event(const char *name);

/* A growable byte buffer for encoding. */
struct sc_sio_buf {
	char *p; /* owned */
	size_t len, cap;
};
void sc_sio_buf_release(struct sc_sio_buf *b);

/* Encode into b (replacing its content): "4" (the Engine.IO message type)
 * then the packet header: type, "<attachments>-" for binary types, the
 * namespace and a comma unless it is "/", the ack id when >= 0; then
 * `json` (len bytes, may be 0). */
void sc_sio_packet_encode(struct sc_sio_buf *b, enum sc_sio_type type,
                          const char *nsp, int attachments, int64_t id,
                          const char *json, size_t json_len);

/* Encode an EVENT's JSON: ["<name>", ...args] where args is a JSON array
 * (borrowed; NULL: none). Appends to b. */
void sc_sio_event_json(struct sc_sio_buf *b, const char *name,
                       json_object *args);

/* Append `s` as a JSON string literal. */
void sc_sio_json_string(struct sc_sio_buf *b, const char *s, size_t len);

/* Append raw bytes. */
void sc_sio_buf_add(struct sc_sio_buf *b, const char *s, size_t len);

#endif
