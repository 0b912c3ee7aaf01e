/* eio_packet.h: the Engine.IO 4 packet and payload codec. A packet is a
 * type digit and data ("4hello"); a binary message is raw bytes in its own
 * WebSocket frame, or "b" + base64 in an HTTP long-polling payload, where
 * packets are joined by the record separator 0x1e. Pure functions. */
#ifndef SC_EIO_PACKET_H
#define SC_EIO_PACKET_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sc_eio_type {
	SC_EIO_OPEN = 0,
	SC_EIO_CLOSE = 1,
	SC_EIO_PING = 2,
	SC_EIO_PONG = 3,
	SC_EIO_MESSAGE = 4,
	SC_EIO_UPGRADE = 5,
	SC_EIO_NOOP = 6,
};

#define SC_EIO_SEPARATOR '\x1e'

struct sc_eio_packet {
	enum sc_eio_type type;
	bool binary;         /* a binary message (type is SC_EIO_MESSAGE) */
	const uint8_t *data; /* borrowed: from the input, or from the
	                        payload's decoded bytes */
	size_t len;
};

/* Decode a text packet (a WebSocket text frame): "<digit>[data]". SC_OK or
 * SC_EINVAL (empty, or not a known type). p->data points into s. */
int sc_eio_packet_decode(const char *s, size_t len, struct sc_eio_packet *p);

/* A decoded HTTP long-polling payload. */
struct sc_eio_payload {
	struct sc_eio_packet *packets; /* owned */
	size_t count;
	uint8_t *bytes; /* owned: the decoded base64 messages */
};

/* Decode a polling POST body: packets separated by 0x1e, each a text
 * packet or "b" + base64. The body must be UTF-8 (the caller checks).
 * SC_OK: the caller owns out; release with sc_eio_payload_release().
 * SC_EINVAL: some packet is malformed (empty, unknown type, bad base64);
 * SC_ETOOBIG: more than max_packets packets. Nothing is returned then (the
 * whole payload is refused). Text packets point into body. */
int sc_eio_payload_decode(const char *body, size_t len, size_t max_packets,
                          struct sc_eio_payload *out);
void sc_eio_payload_release(struct sc_eio_payload *pl);

/* Append one packet to a polling payload being built in out, with a
 * separator first unless `first`. Text packets are given encoded ("4hello",
 * type digit included); binary messages are raw bytes and become "b" +
 * base64. SC_OK, or SC_ENOMEM if the buffer cannot grow. */
int sc_eio_payload_append(struct evbuffer *out, bool first, bool binary,
                          const void *data, size_t len);

/* Standard base64 with padding (RFC 4648 4). decode: SC_OK with *outlen,
 * SC_EINVAL when not canonical; out needs room for len / 4 * 3 bytes. */
int sc_eio_base64_decode(const char *s, size_t len, uint8_t *out,
                         size_t *outlen);
/* The encoded length of n bytes; encode writes it without a NUL. */
size_t sc_eio_base64_len(size_t n);
void sc_eio_base64_encode(const uint8_t *in, size_t n, char *out);

#endif
