/* http.h: the HTTP layer every daemon serves its API with, on libevent's
 * evhttp. Routing with path parameters, JSON bodies with a size limit,
 * content-type checks, the suite's JSON error shape on every error,
 * request ids, an access log line per request. CORS is off (the gateway is
 * same-origin).
 *
 * Error body, always:
 *   {"error":{"code":"<machine_code>","message":"<human
 * text>","details":{...}}}
 *
 * A handler runs on the loop thread and may reply later (after a database or
 * bus callback): the request stays alive until exactly one sc_http_reply_*
 * call. If the client goes away first, the reply is dropped silently and the
 * request freed, so handlers never need to know.
 */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <stddef.h>

struct sc_http_server;
struct sc_http_req;

typedef void (*sc_http_handler_fn)(struct sc_http_req *req, void *arg);

/* Route flags. */
enum {
	/* The body must be a JSON object (Content-Type application/json, else
	 * 415; unparsable, else 400; not an object, else 400; over the limit,
	 * 413). The parsed object is sc_http_req_json(). */
	SC_HTTP_JSON = 1 << 0,
	/* The body may be empty; if present it is checked as with SC_HTTP_JSON
	 * (an empty body gives an empty object). */
	SC_HTTP_JSON_OPTIONAL = 1 << 1,
};

struct sc_http_opts {
	size_t max_body;             /* default 64 KiB (SC_MAX_BODY_BYTES) */
	const char *trusted_proxies; /* comma list of peer IPs or networks
	                                (10.0.0.0/8) whose X-Real-IP is
	                                believed; default "127.0.0.1,::1" */
};

/* Caller owns; free with sc_http_server_free(). opts may be NULL (defaults,
 * read from the environment). NULL on failure (a bad SC_MAX_BODY_BYTES or
 * SC_TRUSTED_PROXIES is logged). Sets SIGPIPE to ignored if it is still at
 * its default: writing to a client that has gone must not kill the daemon.
 * Bodies past max(1 MiB, 4 * max_body) are refused by libevent itself with
 * a plain (non-JSON) 413, as are malformed requests with its plain 400; in
 * deployment nginx caps bodies before either. */
struct sc_http_server *sc_http_server_new(struct event_base *base,
                                          const struct sc_http_opts *opts);

/* Listen on addr:port. SC_OK or SC_EINVAL (logged: "cannot bind ..."). */
int sc_http_server_bind(struct sc_http_server *srv, const char *addr, int port);

/* The port actually bound (useful with port 0), or -1 (also after
 * sc_http_server_close). */
int sc_http_server_port(struct sc_http_server *srv);

/* How many requests are with their handlers, not yet replied to, or
 * replied to but not yet fully written. For a graceful shutdown: close,
 * wait until 0 (or a deadline), free (see shutdown.h). */
size_t sc_http_server_inflight(struct sc_http_server *srv);

/* Add a route. `method` is an evhttp_cmd_type (EVHTTP_REQ_GET, ...).
 * `pattern` is a path with ":name" segments ("/api/users/:username");
 * borrowed, must outlive the server (use a literal). Routes are tried in
 * order; a path that matches some route but not the method gets 405; no
 * route gets 404. Literal segments match the raw path exactly (no trailing
 * slash folding). A GET route also answers HEAD (without the body). A
 * parameter that decodes to a NUL or to invalid UTF-8 gives 400. */
void sc_http_route(struct sc_http_server *srv, int method, const char *pattern,
                   unsigned flags, sc_http_handler_fn fn, void *arg);

/* Count srv's replies in m (metrics.h): spotlight_http_requests_total
 * {method,route,code} and spotlight_http_request_duration_seconds
 * {method,route} (from the request's arrival to its reply) per route
 * pattern, added before or after this call, and
 * spotlight_http_requests_in_flight. Unrouted requests (404, 405, a bad
 * path parameter) count under route "unmatched" with the request's
 * method. m borrowed: free it after srv (requests replying after
 * sc_http_server_free are not counted). */
struct sc_metrics;
void sc_http_server_set_metrics(struct sc_http_server *srv,
                                struct sc_metrics *m);

/* Stop accepting new connections (graceful shutdown); in-flight requests
 * may still reply. */
void sc_http_server_close(struct sc_http_server *srv);

/* Frees the server and every connection. Requests still with a handler
 * stay valid: their reply is then dropped and frees them. NULL is a no-op. */
void sc_http_server_free(struct sc_http_server *srv);

/* ---- inside a handler ---------------------------------------------- */

/* The value of path parameter `name`, or NULL. Borrowed, valid until the
 * reply. Percent-decoded. */
const char *sc_http_req_param(struct sc_http_req *req, const char *name);

/* The decoded query-string value of `name`, or NULL. Borrowed, until reply. */
const char *sc_http_req_query(struct sc_http_req *req, const char *name);

/* The parsed JSON body (an object) for SC_HTTP_JSON routes, else NULL.
 * Borrowed, valid until the reply. */
json_object *sc_http_req_json(struct sc_http_req *req);

/* A request header, or NULL. Borrowed, valid until the reply. */
const char *sc_http_req_header(struct sc_http_req *req, const char *name);

/* The value of cookie `name` from the Cookie header, or NULL. Borrowed,
 * valid until the reply. */
const char *sc_http_req_cookie(struct sc_http_req *req, const char *name);

/* The request id: the X-Request-Id header when it is sane (<= 64 chars of
 * [A-Za-z0-9._-]), else a fresh random one. Echoed in the response header
 * and every log line of the request. Borrowed, valid until the reply. */
const char *sc_http_req_id(struct sc_http_req *req);

/* The client's IP: X-Real-IP when the peer is a trusted proxy, else the
 * peer address. Borrowed, valid until the reply. */
const char *sc_http_req_client_ip(struct sc_http_req *req);

/* The method (EVHTTP_REQ_*) and the path (without query). */
int sc_http_req_method(struct sc_http_req *req);
const char *sc_http_req_path(struct sc_http_req *req);

/* Attach a pointer the handler's continuation needs; sc_http_req_data
 * returns it. Not freed by the layer. */
void sc_http_req_set_data(struct sc_http_req *req, void *data);
void *sc_http_req_data(struct sc_http_req *req);

/* Add a response header (e.g. Set-Cookie, Retry-After); copied. */
void sc_http_req_add_header(struct sc_http_req *req, const char *name,
                            const char *value);

/* ---- replies: exactly one per request; each frees the request ------- */

/* Reply `status` with `body` as JSON. Takes ownership of body (NULL gives
 * an empty body, e.g. for 204). */
void sc_http_reply_json(struct sc_http_req *req, int status, json_object *body);

/* Reply `status` with `json`, a JSON text of `len` bytes made elsewhere
 * (e.g. by a json_out.h writer), sent as sc_http_reply_json sends its
 * body: same headers, same access log. json is borrowed for the call
 * (copied into the reply). */
void sc_http_reply_json_text(struct sc_http_req *req, int status,
                             const char *json, size_t len);

/* Reply an error in the suite's shape. details may be NULL; takes
 * ownership of details. message is copied. */
void sc_http_reply_error(struct sc_http_req *req, int status, const char *code,
                         const char *message, json_object *details);

/* Reply the error for an sc_err (status and code from error.h). message
 * NULL uses sc_err_str(). */
void sc_http_reply_err(struct sc_http_req *req, int err, const char *message);

/* Reply 429 rate_limited with a Retry-After of retry_after_s seconds (at
 * least 1); message copied. */
void sc_http_reply_rate_limited(struct sc_http_req *req, int retry_after_s,
                                const char *message);

/* Reply plain text (for /metrics and the like). text is copied. */
void sc_http_reply_text(struct sc_http_req *req, int status,
                        const char *content_type, const char *text);

#endif
