/* ws_request.h: the HTTP/1.1 request head of the Socket.IO listener, parsed
 * by hand because evhttp cannot hand a connection over for a WebSocket
 * upgrade (see SOCKETIO.md). Request line, headers, query parameters and
 * the checks of an RFC 6455 upgrade request; pure functions, no I/O. */
#ifndef SC_WS_REQUEST_H
#define SC_WS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_WS_REQUEST_MAX_HEADERS 64

struct sc_ws_header {
	const char *name;  /* lowercased; borrowed from the request */
	const char *value; /* trimmed of surrounding blanks; borrowed */
};

struct sc_ws_request {
	char *buf;          /* owned copy of the head the fields point into */
	const char *method; /* "GET", "POST", ... */
	const char *target; /* raw request target "/socket.io/?EIO=4&..." */
	const char *path;   /* the target up to '?', not decoded */
	const char *query;  /* after '?', not decoded; "" when none */
	int version_minor;  /* HTTP/1.<minor>: 0 or 1 */
	struct sc_ws_header headers[SC_WS_REQUEST_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length; /* -1 when absent */
	bool chunked;           /* Transfer-Encoding: chunked */
	bool keep_alive;        /* the connection may carry another request */
	bool upgrade;           /* Connection: upgrade and Upgrade: websocket */
};

/* Parse a request head: `len` bytes ending with the blank line
 * ("...\r\n\r\n"). SC_OK; SC_EINVAL when malformed (bad request line,
 * header syntax, control characters, conflicting Content-Length, both
 * Content-Length and Transfer-Encoding, a transfer coding other than
 * chunked); SC_ETOOBIG past SC_WS_REQUEST_MAX_HEADERS headers. On SC_OK
 * the caller owns req's copy; release with sc_ws_request_release() (also
 * safe after a failure). */
int sc_ws_request_parse(struct sc_ws_request *req, const char *head,
                        size_t len);
void sc_ws_request_release(struct sc_ws_request *req);

/* The value of the first header `name` (any case), or NULL. Borrowed,
 * valid until release. */
const char *sc_ws_request_header(const struct sc_ws_request *req,
                                 const char *name);

/* Does some header `name` hold `token` in its comma-separated list (any
 * case)? ("Connection: keep-alive, Upgrade" holds "upgrade".) */
bool sc_ws_request_has_token(const struct sc_ws_request *req, const char *name,
                             const char *token);

/* The percent-decoded value of query parameter `name` ('+' is a space),
 * NUL-terminated into out[outlen]. SC_OK; SC_ENOTFOUND when absent;
 * SC_ETOOBIG when it does not fit; SC_EINVAL for a bad escape or a NUL. */
int sc_ws_request_query(const struct sc_ws_request *req, const char *name,
                        char *out, size_t outlen);

/* Check an RFC 6455 opening handshake: GET, HTTP/1.1, Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Key of 16 base64-encoded bytes.
 * Returns 0 when valid (*key borrowed from req), 426 when only
 * Sec-WebSocket-Version is not 13 (answer with "Sec-WebSocket-Version:
 * 13"), 400 otherwise. */
int sc_ws_request_check_upgrade(const struct sc_ws_request *req,
                                const char **key);

#endif
