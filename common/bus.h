/* bus.h: the nng bus between daemons, integrated with the libevent loop.
 *
 * Request/reply: each daemon binds one REP socket and answers requests
 * named "<service>.<noun>.<verb>" (e.g. "auth.users.get"); a caller sends
 * to the service named by the first segment, over a REQ socket dialed to
 * that service's address, with a deadline. Concurrency comes from nng
 * contexts (one per in-flight request on both sides), so no request waits
 * behind another. The resend timer is set beyond the deadline: a request is
 * sent once.
 *
 * Publish/subscribe: each daemon binds one PUB socket; subscribers dial the
 * publishers they care about and subscribe by topic prefix. Best effort:
 * consumers must be able to re-read state. A PUB socket queues up to 1024
 * messages per subscriber while its connection is busy (then drops the
 * oldest).
 *
 * Wire format (documented in proto/README.md), JSON in every message:
 *   request  {"v":1,"method":"auth.users.get","requestId":"...","data":{...}}
 *   reply    {"v":1,"ok":true,"data":{...}}
 *            {"v":1,"ok":false,"error":{"code":"not_found","message":"..."}}
 *   event    "<topic> " followed by
 *            {"v":1,"topic":"user.registered","requestId":"...","data":{...}}
 *
 * nng's aio callbacks run on nng threads; everything is handed back to the
 * loop thread through a loopq, so all callbacks below run on the loop
 * thread.
 *
 * Addresses come from the environment (same names for every daemon):
 *   SC_BUS_<SERVICE>_REQ   where <service> answers requests
 *                          (default tcp://127.0.0.1:71x1)
 *   SC_BUS_<SERVICE>_PUB   where <service> publishes (default 71x2)
 * with x = 0 auth, 1 events, 2 matchmaking, 3 ratings, 4 signaling.
 */
#ifndef SC_BUS_H
#define SC_BUS_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>

#define SC_BUS_VERSION 1

struct sc_bus;
struct sc_bus_req;

/* The address of a service's REQ or PUB endpoint from the environment (or
 * its default). kind is "REQ" or "PUB". Caller owns; free with free(). NULL
 * for an unknown service. */
char *sc_bus_addr(const char *service, const char *kind);

/* A bus for daemon `service` (borrowed, a literal). Caller owns; free with
 * sc_bus_free(). NULL on failure (logged). */
struct sc_bus *sc_bus_new(struct event_base *base, const char *service);

/* Stop answering and receiving, fail pending calls with SC_EUNAVAIL
 * (callbacks run before this returns), close sockets, free. Call it from
 * outside the bus's own callbacks. A request a handler still holds stays
 * valid: its reply is dropped and frees it. */
void sc_bus_free(struct sc_bus *bus);

/* ---- serving -------------------------------------------------------- */

/* A request handler. `data` is the request's "data" object (an empty
 * object if absent), borrowed until the reply. Reply exactly once, now or
 * later, with sc_bus_reply or sc_bus_reply_err. */
typedef void (*sc_bus_handler_fn)(struct sc_bus_req *req, json_object *data,
                                  void *arg);

/* Register a handler for `method` (borrowed, a literal). Call before
 * sc_bus_listen. Unknown methods get a not_found error reply. */
void sc_bus_handle(struct sc_bus *bus, const char *method, sc_bus_handler_fn fn,
                   void *arg);

/* Bind the REP socket at rep_url and the PUB socket at pub_url (either may
 * be NULL to skip). SC_OK or SC_EUNAVAIL (logged: "cannot listen ..."). */
int sc_bus_listen(struct sc_bus *bus, const char *rep_url, const char *pub_url);

/* The incoming request's id (for logs), its method. Borrowed until reply. */
const char *sc_bus_req_id(struct sc_bus_req *req);
const char *sc_bus_req_method(struct sc_bus_req *req);

/* Reply ok with `data` (takes ownership; NULL gives {}). Frees req. */
void sc_bus_reply(struct sc_bus_req *req, json_object *data);

/* Reply an error (code from sc_err_code(err)); message copied. Frees req. */
void sc_bus_reply_err(struct sc_bus_req *req, int err, const char *message);

/* Reply an error with a service's own machine code (e.g. "match_exists",
 * documented in proto/<service>.md; NULL uses sc_err_code(err)) and
 * details (takes ownership; may be NULL: none). err is the failure's class,
 * for the log. message copied. Frees req. A C caller sees an unknown code
 * as SC_EINTERNAL (sc_err_from_code) with the message. */
void sc_bus_reply_error(struct sc_bus_req *req, int err, const char *code,
                        const char *message, json_object *details);

/* ---- calling -------------------------------------------------------- */

/* Reply callback. err SC_OK with data the reply's "data" (borrowed, during
 * the callback only); or the remote error (its sc_err from the code) with
 * message (borrowed); or SC_ETIMEDOUT when no reply came within the
 * deadline; SC_EUNAVAIL when the peer is unknown or the bus is closing;
 * SC_EBUS when the reply was malformed. Callback exactly once, never before
 * sc_bus_call returns. */
typedef void (*sc_bus_reply_cb)(int err, json_object *data, const char *message,
                                void *arg);

/* Send request `method` to the service named by its first segment (the REQ
 * socket is dialed on first use, from sc_bus_addr). Takes ownership of
 * `data` (NULL gives {}). request_id (may be NULL) is carried for logs.
 * timeout_ms <= 0 uses SC_BUS_TIMEOUT_MS (default 2000). */
void sc_bus_call(struct sc_bus *bus, const char *method, json_object *data,
                 const char *request_id, int timeout_ms, sc_bus_reply_cb cb,
                 void *arg);

/* Inside a reply callback whose err came from the peer's error reply: that
 * error object as received ({"code","message"} and any "details"),
 * borrowed until the callback returns; NULL otherwise (success, or a local
 * failure: timeout, unavailable, malformed). This is how a caller reads a
 * service's own codes (proto/<service>.md), which sc_err_from_code reads
 * as SC_EINTERNAL, and their details. */
json_object *sc_bus_reply_error_object(struct sc_bus *bus);

/* ---- publish/subscribe ---------------------------------------------- */

/* Publish `topic` (e.g. "user.registered") with `data` (takes ownership).
 * Never blocks; SC_OK, or SC_EUNAVAIL when not listening on a PUB socket
 * (SC_EINVAL for an empty topic or one holding a space). request_id may be
 * NULL (one is made up). */
int sc_bus_publish(struct sc_bus *bus, const char *topic, json_object *data,
                   const char *request_id);

/* An event: topic and data borrowed during the callback only. */
typedef void (*sc_bus_event_cb)(const char *topic, json_object *data,
                                const char *request_id, void *arg);

/* Subscribe to topics starting with `prefix` published by `service` (its
 * PUB socket is dialed on first use, from sc_bus_addr). SC_OK or
 * SC_EUNAVAIL (logged). */
int sc_bus_subscribe(struct sc_bus *bus, const char *service,
                     const char *prefix, sc_bus_event_cb cb, void *arg);

/* The same for a publisher named by its address rather than by a service
 * (url borrowed; e.g. "tcp://10.0.0.7:7142"): for several instances of one
 * service, each on its own PUB address, which one environment variable per
 * service cannot name (signaling's SC_SIGNALING_PEERS). One SUB socket per
 * address, dialed on first use and redialed by nng; sc_bus_connected(bus,
 * url, "PUB") says whether it is connected. SC_OK or SC_EUNAVAIL (logged:
 * not an address, or it cannot be dialed). */
int sc_bus_subscribe_addr(struct sc_bus *bus, const char *url,
                          const char *prefix, sc_bus_event_cb cb, void *arg);

/* ---- metrics -------------------------------------------------------- */

/* Count the bus's traffic in m (metrics.h): requests sent per method
 * (spotlight_bus_requests_sent_total{method,outcome}: ok, error when the
 * peer answered an error or garbage, timeout, unavailable when there was
 * no connection or the bus was closing; with
 * spotlight_bus_request_duration_seconds{method}), requests served per
 * registered method (spotlight_bus_requests_served_total{method,outcome}:
 * ok or error; spotlight_bus_serve_duration_seconds{method}: from arrival
 * to reply), events per topic (spotlight_bus_events_published_total,
 * spotlight_bus_events_received_total) and whether each peer dialed is
 * connected (spotlight_bus_peer_connected{service,kind}; service is the
 * address for a subscription made by address). A method or
 * topic past the first 64 counts as "other"; a request for a method with
 * no handler, or unreadable, as "unknown". m borrowed: free it after the
 * bus. */
struct sc_metrics;
void sc_bus_set_metrics(struct sc_bus *bus, struct sc_metrics *m);

/* True when the REP socket is listening (for /ready). */
bool sc_bus_ready(struct sc_bus *bus);

/* True when this bus has a live connection to `service`'s endpoint `kind`:
 * "REQ" for the socket sc_bus_call dialed, "PUB" for the one
 * sc_bus_subscribe dialed (or, with the address as `service`, the one
 * sc_bus_subscribe_addr dialed). False when never dialed. (A subscriber can
 * wait for this before relying on events; `scbus sub` logs it.) */
bool sc_bus_connected(struct sc_bus *bus, const char *service,
                      const char *kind);

#endif
