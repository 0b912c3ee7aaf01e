/* bus.c: the nng bus between daemons (REQ/REP over contexts, PUB/SUB) driven
 * from the libevent loop; nng aio callbacks hand every result to a loopq. */
#include "bus.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "loopq.h"
#include "metrics.h"

/* Requests answered at once (one REP context each); more wait in nng. */
#define BUS_SERVE_CONTEXTS 256
/* How long a just-dialed REQ socket may wait for its first connection. */
#define BUS_DIAL_GRACE_MS 200
/* How long a reply may wait for a slow reader before it is dropped. */
#define BUS_REPLY_SEND_MS      5000
#define BUS_DEFAULT_TIMEOUT_MS 2000
/* How long sc_bus_free waits for a socket to close (see bus_close_all). */
#define BUS_CLOSE_WAIT_MS 1000
/* Methods or topics with series of their own; the rest count as "other". */
#define BUS_MX_KEYS 64
/* Messages a PUB socket queues per subscriber while the connection is busy
 * writing (nng's default is 16, and past it the oldest is dropped: a burst
 * of events in one loop turn would lose all but the last 16). */
#define BUS_PUB_SENDBUF 1024

static const struct {
	const char *name;
	int port; /* REQ; PUB is port + 1 */
} bus_services[] = {
    {"auth", 7101},    {"events", 7111},    {"matchmaking", 7121},
    {"ratings", 7131}, {"signaling", 7141},
};

/* The series of one method or topic (metrics.h): a count per outcome and
 * a duration histogram, as the set it belongs to has them. */
struct bus_mx {
	char *key;
	struct sc_metric *outcome[4]; /* see bus_outcomes */
	struct sc_metric *duration;
};

enum { BUS_OK, BUS_ERROR, BUS_TIMEOUT, BUS_UNAVAILABLE };
static const char *const bus_outcomes[] = {"ok", "error", "timeout",
                                           "unavailable"};

/* The series by method or topic: up to BUS_MX_KEYS keys, then "other". */
struct bus_mx_set {
	struct sc_metric_family *count, *duration; /* duration may be NULL */
	size_t noutcomes;                          /* 0: count has no outcome */
	struct bus_mx **v;
	size_t n;
	struct bus_mx *other;
};

struct bus_handler {
	const char *method; /* borrowed, a literal */
	sc_bus_handler_fn fn;
	void *arg;
	struct bus_mx *mx; /* its served series, or NULL */
};

/* One REP context: receives a request, waits for its reply, sends it. */
struct bus_slot {
	struct sc_bus *bus;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending; /* set before each operation, read by its callback */
	nng_msg *msg; /* a received request on its way to the loop */
};

struct sc_bus_req {
	struct sc_bus_req *prev, *next;
	struct sc_bus *bus; /* NULL once the bus is gone: replies are dropped */
	struct bus_slot *slot;
	json_object *root;  /* the request; data and method point into it */
	const char *method; /* borrowed from root, or "" */
	char *request_id;
	nng_time started;
	struct bus_mx *mx; /* served series, or NULL */
	struct timespec t0;
};

/* A REQ socket dialed to one service. */
struct bus_peer {
	struct bus_peer *next;
	char *service;
	char *url;
	nng_socket sock;
	nng_time dialed_at;
	atomic_int *pipes; /* live connections; sc_bus_free hands it over */
};

/* One outgoing request, from sc_bus_call to its callback. */
struct bus_call {
	struct bus_call *prev, *next;
	struct sc_bus *bus;
	struct bus_peer *peer; /* NULL when failed before sending */
	char *method;
	char *request_id;
	sc_bus_reply_cb cb;
	void *arg;
	nng_ctx ctx;
	bool ctx_open;
	nng_aio *aio;
	nng_time started, deadline;
	int timeout_ms;
	bool grace;     /* the send waits only for the dial grace */
	bool receiving; /* written by the aio callback */
	int rv;         /* nng result of the last operation */
	nng_msg *reply;
	int err; /* decided on the loop thread before sending */
	char *message;
	struct bus_mx *mx; /* sent series, or NULL */
	struct timespec t0;
};

struct bus_sub_entry {
	struct bus_sub_entry *next;
	char *prefix;
	sc_bus_event_cb cb;
	void *arg;
};

/* A SUB socket dialed to one publisher. */
struct bus_sub {
	struct bus_sub *next;
	struct sc_bus *bus;
	char *service;
	char *url;
	nng_socket sock;
	nng_aio *aio;
	atomic_int *pipes; /* live connections; sc_bus_free hands it over */
	struct bus_sub_entry *entries, *last;
};

struct bus_event {
	struct bus_sub *sub;
	nng_msg *msg;
};

struct sc_bus {
	struct event_base *base;
	const char *service;
	struct sc_loopq *q;
	int timeout_ms;
	bool closing;

	struct bus_handler *handlers;
	size_t nhandlers, handlers_cap;

	nng_socket rep;
	bool rep_open;
	struct bus_slot *slots;
	size_t nslots;
	nng_socket pub;
	bool pub_open;

	struct bus_peer *peers;
	struct bus_sub *subs;
	struct bus_call *calls;   /* in flight */
	struct sc_bus_req *reqs;  /* handed to handlers, not yet answered */
	json_object *reply_error; /* during a reply callback, see bus.h */

	/* metrics.h: borrowed registry, or NULL */
	struct sc_metrics *metrics;
	struct bus_mx_set sent, served, published, received;
	struct bus_mx *served_unknown;
	struct sc_metric_family *f_peer;
};

/* ---- helpers -------------------------------------------------------- */

static char *
bus_new_request_id(void)
{
	return sc_asprintf("%08x%08x", (unsigned)nng_random(),
	                   (unsigned)nng_random());
}

/* Parse exactly one JSON object from buf[0..len) (trailing whitespace
 * allowed). Caller owns the result; NULL with *why (static) otherwise. */
static json_object *
bus_parse(const void *buf, size_t len, const char **why)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	const char *s = buf;
	size_t end;

	if (len == 0) {
		*why = "empty message";
		return NULL;
	}
	if (len > INT_MAX) {
		*why = "message too large";
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		sc_oom();
	}
	obj = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		*why = jerr == json_tokener_continue
		           ? "incomplete JSON"
		           : json_tokener_error_desc(jerr);
		return NULL;
	}
	for (; end < len; end++) {
		if (!isspace((unsigned char)s[end])) {
			json_object_put(obj);
			*why = "trailing data after JSON";
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		*why = "not a JSON object";
		return NULL;
	}
	return obj;
}

/* v must be the integer SC_BUS_VERSION. */
static bool
bus_version_ok(json_object *root)
{
	json_object *v;

	return json_object_object_get_ex(root, "v", &v) &&
	       json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == SC_BUS_VERSION;
}

static const char *
bus_get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_string)) {
		return json_object_get_string(v);
	}
	return NULL;
}

/* A serialised message; the caller owns it (free with nng_msg_free). */
static nng_msg *
bus_msg(const char *prefix, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	nng_msg *msg;

	if (nng_msg_alloc(&msg, 0) != 0) {
		sc_oom();
	}
	if ((prefix != NULL &&
	     nng_msg_append(msg, prefix, strlen(prefix)) != 0) ||
	    nng_msg_append(msg, s, strlen(s)) != 0) {
		sc_oom();
	}
	return msg;
}

static int
bus_elapsed_ms(nng_time since)
{
	nng_time now = nng_clock();
	return now > since ? (int)(now - since) : 0;
}

/* ---- metrics ------------------------------------------------------- */

static double
bus_secs_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static struct bus_mx *
bus_mx_new(struct bus_mx_set *set, const char *key)
{
	struct bus_mx *mx = sc_calloc(1, sizeof *mx);

	mx->key = sc_strdup(key);
	if (set->noutcomes == 0) {
		mx->outcome[0] =
		    sc_metric_series(set->count, (const char *const[]){key});
	}
	for (size_t i = 0; i < set->noutcomes; i++) {
		mx->outcome[i] = sc_metric_series(
		    set->count, (const char *const[]){key, bus_outcomes[i]});
	}
	mx->duration =
	    sc_metric_series(set->duration, (const char *const[]){key});
	return mx;
}

/* The series of `key` in set (created on first use, on the loop thread),
 * or NULL without metrics. */
static struct bus_mx *
bus_mx_get(struct bus_mx_set *set, const char *key)
{
	if (set->count == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->v[i]->key, key) == 0) {
			return set->v[i];
		}
	}
	if (set->n == BUS_MX_KEYS) {
		if (set->other == NULL) {
			set->other = bus_mx_new(set, "other");
		}
		return set->other;
	}
	set->v = sc_realloc(set->v, (set->n + 1) * sizeof *set->v);
	set->v[set->n] = bus_mx_new(set, key);
	return set->v[set->n++];
}

static void
bus_mx_set_release(struct bus_mx_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i]->key);
		free(set->v[i]);
	}
	free(set->v);
	if (set->other != NULL) {
		free(set->other->key);
		free(set->other);
	}
}

static void
bus_collect_cb(struct sc_metrics *m, void *arg)
{
	struct sc_bus *bus = arg;
	(void)m;

	for (struct bus_peer *p = bus->peers; p != NULL; p = p->next) {
		sc_metric_set(
		    sc_metric_series(bus->f_peer,
		                     (const char *const[]){p->service, "REQ"}),
		    p->pipes != NULL && atomic_load(p->pipes) > 0);
	}
	for (struct bus_sub *s = bus->subs; s != NULL; s = s->next) {
		sc_metric_set(
		    sc_metric_series(bus->f_peer,
		                     (const char *const[]){s->service, "PUB"}),
		    s->pipes != NULL && atomic_load(s->pipes) > 0);
	}
}

void
sc_bus_set_metrics(struct sc_bus *bus, struct sc_metrics *m)
{
	if (m == NULL || bus->metrics != NULL) {
		return;
	}
	bus->metrics = m;
	bus->sent.count = sc_metrics_counter(
	    m, "spotlight_bus_requests_sent_total",
	    "Bus requests sent, by method and outcome.", "method,outcome");
	bus->sent.duration = sc_metrics_histogram(
	    m, "spotlight_bus_request_duration_seconds",
	    "Time from sending a bus request to its outcome, by method.",
	    "method", NULL, 0);
	bus->sent.noutcomes = 4;
	bus->served.count = sc_metrics_counter(
	    m, "spotlight_bus_requests_served_total",
	    "Bus requests answered, by method and outcome.", "method,outcome");
	bus->served.duration = sc_metrics_histogram(
	    m, "spotlight_bus_serve_duration_seconds",
	    "Time from a bus request's arrival to its reply, by method.",
	    "method", NULL, 0);
	bus->served.noutcomes = 2;
	bus->published.count =
	    sc_metrics_counter(m, "spotlight_bus_events_published_total",
	                       "Bus events published, by topic.", "topic");
	bus->received.count = sc_metrics_counter(
	    m, "spotlight_bus_events_received_total",
	    "Bus events received from the publishers subscribed to, by "
	    "topic.",
	    "topic");
	bus->f_peer = sc_metrics_gauge(
	    m, "spotlight_bus_peer_connected",
	    "1 when the socket dialed to a service's REQ or PUB endpoint has "
	    "a connection.",
	    "service,kind");
	sc_metrics_collector(m, bus_collect_cb, bus);
	bus->served_unknown = bus_mx_get(&bus->served, "unknown");
	for (size_t i = 0; i < bus->nhandlers; i++) {
		bus->handlers[i].mx =
		    bus_mx_get(&bus->served, bus->handlers[i].method);
	}
}

/* ---- addresses ------------------------------------------------------ */

char *
sc_bus_addr(const char *service, const char *kind)
{
	char name[96];
	size_t len, n;
	const char *v;

	if (service == NULL || kind == NULL ||
	    (strcmp(kind, "REQ") != 0 && strcmp(kind, "PUB") != 0)) {
		return NULL;
	}
	len = strlen(service);
	if (len == 0 || len > 48) {
		return NULL;
	}
	n = (size_t)snprintf(name, sizeof name, "SC_BUS_");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)service[i];
		if (!islower(c) && !isdigit(c) && c != '_') {
			return NULL;
		}
		name[n++] = (char)toupper(c);
	}
	snprintf(name + n, sizeof name - n, "_%s", kind);
	if ((v = sc_config_str(name, NULL)) != NULL) {
		return sc_strdup(v);
	}
	for (size_t i = 0; i < sizeof bus_services / sizeof bus_services[0];
	     i++) {
		if (strcmp(bus_services[i].name, service) == 0) {
			return sc_asprintf(
			    "tcp://127.0.0.1:%d",
			    bus_services[i].port +
			        (strcmp(kind, "PUB") == 0 ? 1 : 0));
		}
	}
	return NULL;
}

/* ---- life ----------------------------------------------------------- */

/* A connection counter for nng_pipe_notify. Caller owns; free with free()
 * once the socket is closed. */
static atomic_int *
bus_pipes_new(void)
{
	atomic_int *pipes = sc_malloc(sizeof *pipes);
	atomic_init(pipes, 0);
	return pipes;
}

/* nng 1.5.2 can hang forever in nng_close: when a connection is closed
 * while its transport has read a message header but not yet started on
 * the body, the body read is started on an already stopped aio and never
 * completes, and the socket waits for that connection (nng issues #1543,
 * #1813; seen here under load with ipc://). A daemon shutting down must
 * not hang, so each socket is closed on a thread of its own and
 * sc_bus_free stops waiting after BUS_CLOSE_WAIT_MS. By then the socket's
 * contexts are gone (nng closes them before waiting for connections), so
 * our aios are free again; only the socket's connection counter stays
 * with the stuck thread, which frees it if it ever returns. */
struct bus_closer {
	struct bus_closer *next;
	nng_socket sock;
	atomic_int *pipes; /* may be NULL */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool done, abandoned;
};

static void
bus_closer_free(struct bus_closer *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	free(c->pipes);
	free(c);
}

static void *
bus_closer_main(void *arg)
{
	struct bus_closer *c = arg;
	bool abandoned;

	nng_close(c->sock);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	abandoned = c->abandoned;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->lock);
	if (abandoned) {
		bus_closer_free(c);
	}
	return NULL;
}

/* Queue `sock` (and its counter: takes ownership) for bus_close_all. */
static void
bus_closer_add(struct bus_closer **list, nng_socket sock, atomic_int *pipes)
{
	struct bus_closer *c = sc_calloc(1, sizeof *c);
	pthread_condattr_t attr;

	c->sock = sock;
	c->pipes = pipes;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &attr);
	pthread_condattr_destroy(&attr);
	c->next = *list;
	*list = c;
}

/* Close every queued socket at once, waiting at most BUS_CLOSE_WAIT_MS
 * in all; frees the list. */
static void
bus_close_all(struct bus_closer *list, const char *service)
{
	struct timespec deadline;
	int stuck = 0;

	for (struct bus_closer *c = list; c != NULL; c = c->next) {
		if (pthread_create(&c->thread, NULL, bus_closer_main, c) != 0) {
			bus_closer_main(c); /* no thread: close here */
			c->thread = pthread_self();
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
	deadline.tv_nsec += (BUS_CLOSE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (list != NULL) {
		struct bus_closer *c = list;
		int rv = 0;

		list = c->next;
		pthread_mutex_lock(&c->lock);
		while (!c->done && rv != ETIMEDOUT) {
			rv =
			    pthread_cond_timedwait(&c->cv, &c->lock, &deadline);
		}
		if (!c->done) {
			c->abandoned = true;
			pthread_mutex_unlock(&c->lock);
			pthread_detach(c->thread);
			stuck++;
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		if (!pthread_equal(c->thread, pthread_self())) {
			pthread_join(c->thread, NULL);
		}
		bus_closer_free(c);
	}
	if (stuck > 0) {
		sc_log_error(
		    NULL,
		    "cannot close %d bus socket(s) of '%s': stuck in nng "
		    "(a known nng 1.5.2 race), leaving them",
		    stuck, service);
	}
}

struct sc_bus *
sc_bus_new(struct event_base *base, const char *service)
{
	struct sc_bus *bus;
	long timeout;

	if (sc_config_int("SC_BUS_TIMEOUT_MS", BUS_DEFAULT_TIMEOUT_MS, 1,
	                  3600000, &timeout) != SC_OK) {
		return NULL;
	}
	bus = sc_calloc(1, sizeof *bus);
	bus->base = base;
	bus->service = service;
	bus->timeout_ms = (int)timeout;
	if ((bus->q = sc_loopq_new(base)) == NULL) {
		sc_log_error(NULL,
		             "cannot create the bus of '%s': no loop queue",
		             service);
		free(bus);
		return NULL;
	}
	return bus;
}

static void call_finish(struct bus_call *c);

static void
bus_req_free(struct sc_bus_req *req)
{
	json_object_put(req->root);
	free(req->request_id);
	free(req);
}

void
sc_bus_free(struct sc_bus *bus)
{
	struct bus_closer *closers = NULL;

	if (bus == NULL) {
		return;
	}
	bus->closing = true;

	/* Closing a socket fails its contexts' operations (ECLOSED); then
	 * stopping every aio waits for callbacks still running, so after
	 * this nothing posts to the loopq any more. */
	if (bus->pub_open) {
		bus_closer_add(&closers, bus->pub, NULL);
	}
	if (bus->rep_open) {
		bus_closer_add(&closers, bus->rep, NULL);
	}
	for (struct bus_peer *p = bus->peers; p != NULL; p = p->next) {
		bus_closer_add(&closers, p->sock, p->pipes);
		p->pipes = NULL;
	}
	for (struct bus_sub *s = bus->subs; s != NULL; s = s->next) {
		bus_closer_add(&closers, s->sock, s->pipes);
		s->pipes = NULL;
	}
	bus_close_all(closers, bus->service);
	for (size_t i = 0; i < bus->nslots; i++) {
		nng_aio_stop(bus->slots[i].aio);
	}
	for (struct bus_sub *s = bus->subs; s != NULL; s = s->next) {
		nng_aio_stop(s->aio);
	}
	for (struct bus_call *c = bus->calls; c != NULL; c = c->next) {
		if (c->aio != NULL) {
			nng_aio_stop(c->aio);
		}
	}

	/* Run what the callbacks posted (calls fail with SC_EUNAVAIL, requests
	 * and events are dropped), then the calls that never got that far,
	 * including any a callback made meanwhile. */
	sc_loopq_free(bus->q);
	bus->q = NULL;
	while (bus->calls != NULL) {
		call_finish(bus->calls);
	}

	/* Handlers still holding a request may reply later: that reply is
	 * dropped and frees the request. */
	for (struct sc_bus_req *r = bus->reqs, *next; r != NULL; r = next) {
		next = r->next;
		r->bus = NULL;
		r->slot = NULL;
		r->prev = r->next = NULL;
	}
	bus->reqs = NULL;

	for (size_t i = 0; i < bus->nslots; i++) {
		nng_aio_free(bus->slots[i].aio);
		if (bus->slots[i].msg != NULL) {
			nng_msg_free(bus->slots[i].msg);
		}
	}
	free(bus->slots);
	while (bus->peers != NULL) {
		struct bus_peer *p = bus->peers;
		bus->peers = p->next;
		free(p->service);
		free(p->url);
		free(p);
	}
	while (bus->subs != NULL) {
		struct bus_sub *s = bus->subs;
		bus->subs = s->next;
		nng_aio_free(s->aio);
		while (s->entries != NULL) {
			struct bus_sub_entry *e = s->entries;
			s->entries = e->next;
			free(e->prefix);
			free(e);
		}
		free(s->service);
		free(s->url);
		free(s);
	}
	free(bus->handlers);
	sc_metrics_collector_remove(bus->metrics, bus_collect_cb, bus);
	bus_mx_set_release(&bus->sent);
	bus_mx_set_release(&bus->served);
	bus_mx_set_release(&bus->published);
	bus_mx_set_release(&bus->received);
	free(bus);
}

json_object *
sc_bus_reply_error_object(struct sc_bus *bus)
{
	return bus->reply_error;
}

bool
sc_bus_ready(struct sc_bus *bus)
{
	return bus != NULL && bus->rep_open && !bus->closing;
}

/* ---- serving -------------------------------------------------------- */

void
sc_bus_handle(struct sc_bus *bus, const char *method, sc_bus_handler_fn fn,
              void *arg)
{
	for (size_t i = 0; i < bus->nhandlers; i++) {
		if (strcmp(bus->handlers[i].method, method) == 0) {
			bus->handlers[i].fn = fn;
			bus->handlers[i].arg = arg;
			return;
		}
	}
	if (bus->nhandlers == bus->handlers_cap) {
		bus->handlers_cap =
		    bus->handlers_cap ? bus->handlers_cap * 2 : 8;
		bus->handlers = sc_realloc(
		    bus->handlers, bus->handlers_cap * sizeof *bus->handlers);
	}
	bus->handlers[bus->nhandlers].method = method;
	bus->handlers[bus->nhandlers].fn = fn;
	bus->handlers[bus->nhandlers].arg = arg;
	bus->handlers[bus->nhandlers].mx = bus_mx_get(&bus->served, method);
	bus->nhandlers++;
}

static void slot_request_cb(void *arg);

/* On an nng thread: a request arrived, or a reply went out. */
static void
slot_aio_cb(void *arg)
{
	struct bus_slot *slot = arg;
	int rv = nng_aio_result(slot->aio);

	if (slot->sending) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(slot->aio));
			nng_aio_set_msg(slot->aio, NULL);
		}
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return;
		}
		slot->sending = false;
		nng_aio_set_timeout(slot->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(slot->ctx, slot->aio);
		return;
	}
	if (rv == 0) {
		slot->msg = nng_aio_get_msg(slot->aio);
		nng_aio_set_msg(slot->aio, NULL);
		sc_loopq_post(slot->bus->q, slot_request_cb, slot);
		return;
	}
	if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
		nng_ctx_recv(slot->ctx, slot->aio);
	}
}

/* Send the reply envelope `root` (takes ownership) for req, log, free req. */
static void
bus_req_answer(struct sc_bus_req *req, json_object *root, int err)
{
	struct sc_bus *bus = req->bus;

	if (bus == NULL) {
		json_object_put(root);
		bus_req_free(req);
		return;
	}
	if (!bus->closing) {
		struct bus_slot *slot = req->slot;
		nng_msg *msg = bus_msg(NULL, root);

		slot->sending = true;
		nng_aio_set_timeout(slot->aio, BUS_REPLY_SEND_MS);
		nng_aio_set_msg(slot->aio, msg);
		nng_ctx_send(slot->ctx, slot->aio);
	}
	json_object_put(root);
	if (req->mx != NULL) {
		sc_metric_inc(
		    req->mx->outcome[err == SC_OK ? BUS_OK : BUS_ERROR]);
		sc_metric_observe(req->mx->duration, bus_secs_since(&req->t0));
	}
	if (sc_log_enabled(SC_LOG_DEBUG)) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "method",
		                       json_object_new_string(req->method));
		json_object_object_add(
		    f, "durationMs",
		    json_object_new_int(bus_elapsed_ms(req->started)));
		json_object_object_add(
		    f, "code", json_object_new_string(sc_err_code(err)));
		sc_log_fields(SC_LOG_DEBUG, req->request_id, f,
		              "bus request answered");
	}
	if (req->prev != NULL) {
		req->prev->next = req->next;
	} else {
		bus->reqs = req->next;
	}
	if (req->next != NULL) {
		req->next->prev = req->prev;
	}
	bus_req_free(req);
}

void
sc_bus_reply(struct sc_bus_req *req, json_object *data)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "v", json_object_new_int(SC_BUS_VERSION));
	json_object_object_add(root, "ok", json_object_new_boolean(1));
	json_object_object_add(root, "data",
	                       data != NULL ? data : json_object_new_object());
	bus_req_answer(req, root, SC_OK);
}

void
sc_bus_reply_error(struct sc_bus_req *req, int err, const char *code,
                   const char *message, json_object *details)
{
	json_object *root = json_object_new_object();
	json_object *e = json_object_new_object();

	if (err == SC_OK) {
		err = SC_EINTERNAL;
	}
	json_object_object_add(
	    e, "code",
	    json_object_new_string(code != NULL ? code : sc_err_code(err)));
	json_object_object_add(e, "message",
	                       json_object_new_string(message != NULL
	                                                  ? message
	                                                  : sc_err_str(err)));
	if (details != NULL) {
		json_object_object_add(e, "details", details);
	}
	json_object_object_add(root, "v", json_object_new_int(SC_BUS_VERSION));
	json_object_object_add(root, "ok", json_object_new_boolean(0));
	json_object_object_add(root, "error", e);
	bus_req_answer(req, root, err);
}

void
sc_bus_reply_err(struct sc_bus_req *req, int err, const char *message)
{
	sc_bus_reply_error(req, err, NULL, message, NULL);
}

const char *
sc_bus_req_id(struct sc_bus_req *req)
{
	return req->request_id;
}

const char *
sc_bus_req_method(struct sc_bus_req *req)
{
	return req->method;
}

/* On the loop: a request from slot; parse it and hand it to its handler. */
static void
slot_request_cb(void *arg)
{
	struct bus_slot *slot = arg;
	struct sc_bus *bus = slot->bus;
	nng_msg *msg = slot->msg;
	struct sc_bus_req *req;
	const char *why = NULL, *rid, *method;
	json_object *data = NULL;
	char bad[160] = "";

	slot->msg = NULL;
	if (bus->closing) {
		nng_msg_free(msg);
		return;
	}
	req = sc_calloc(1, sizeof *req);
	req->bus = bus;
	req->slot = slot;
	req->started = nng_clock();
	req->method = "";
	if (bus->metrics != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &req->t0);
		req->mx = bus->served_unknown;
	}
	req->root = bus_parse(nng_msg_body(msg), nng_msg_len(msg), &why);
	nng_msg_free(msg);
	req->next = bus->reqs;
	if (bus->reqs != NULL) {
		bus->reqs->prev = req;
	}
	bus->reqs = req;

	if (req->root == NULL) {
		req->request_id = bus_new_request_id();
		if (strcmp(why, "not a JSON object") == 0) {
			snprintf(bad, sizeof bad,
			         "request is not a JSON object");
		} else {
			snprintf(bad, sizeof bad,
			         "request is not valid JSON: %s", why);
		}
	} else {
		rid = bus_get_string(req->root, "requestId");
		method = bus_get_string(req->root, "method");
		req->request_id = rid != NULL && *rid != '\0'
		                      ? sc_strdup(rid)
		                      : bus_new_request_id();
		if (method != NULL) {
			req->method = method;
		}
		if (!bus_version_ok(req->root)) {
			snprintf(bad, sizeof bad,
			         "unsupported version: v must be %d",
			         SC_BUS_VERSION);
		} else if (method == NULL || *method == '\0') {
			snprintf(bad, sizeof bad, "missing method");
		} else if (!json_object_object_get_ex(req->root, "data",
		                                      &data) ||
		           json_object_is_type(data, json_type_null)) {
			data = json_object_new_object();
			json_object_object_add(req->root, "data", data);
		} else if (!json_object_is_type(data, json_type_object)) {
			snprintf(bad, sizeof bad, "data must be a JSON object");
		}
	}
	if (bad[0] != '\0') {
		sc_log_warn(req->request_id, "bad bus request: %s", bad);
		sc_bus_reply_err(req, SC_EINVAL, bad);
		return;
	}
	for (size_t i = 0; i < bus->nhandlers; i++) {
		if (strcmp(bus->handlers[i].method, req->method) == 0) {
			if (bus->handlers[i].mx != NULL) {
				req->mx = bus->handlers[i].mx;
			}
			bus->handlers[i].fn(req, data, bus->handlers[i].arg);
			return;
		}
	}
	char *m = sc_asprintf("unknown method '%s'", req->method);
	sc_bus_reply_err(req, SC_ENOTFOUND, m);
	free(m);
}

/* "SC_BUS_<SERVICE>_<KIND>", the variable an address comes from, for the
 * messages of a failed listen (a bad address is a configuration error). */
static void
bus_var(const char *service, const char *kind, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "SC_BUS_");

	for (; *service != '\0' && n + 1 < len; service++) {
		out[n++] = (char)toupper((unsigned char)*service);
	}
	out[n < len ? n : len - 1] = '\0';
	snprintf(out + strlen(out), len - strlen(out), "_%s", kind);
}

static int
bus_listen_rep(struct sc_bus *bus, const char *url)
{
	char var[96];
	int rv;
	size_t i;

	bus_var(bus->service, "REQ", var, sizeof var);
	if ((rv = nng_rep0_open(&bus->rep)) != 0) {
		sc_log_error(NULL, "cannot listen on '%s' (%s): %s", url, var,
		             nng_strerror(rv));
		return SC_EUNAVAIL;
	}
	bus->slots = sc_calloc(BUS_SERVE_CONTEXTS, sizeof *bus->slots);
	for (i = 0; i < BUS_SERVE_CONTEXTS; i++) {
		struct bus_slot *slot = &bus->slots[i];
		slot->bus = bus;
		if ((rv = nng_ctx_open(&slot->ctx, bus->rep)) != 0 ||
		    (rv = nng_aio_alloc(&slot->aio, slot_aio_cb, slot)) != 0) {
			goto err;
		}
		bus->nslots++;
		nng_aio_set_timeout(slot->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(slot->ctx, slot->aio);
	}
	/* Listen last: no request can arrive before every context waits. */
	if ((rv = nng_listen(bus->rep, url, NULL, 0)) != 0) {
		goto err;
	}
	bus->rep_open = true;
	return SC_OK;
err:
	sc_log_error(NULL, "cannot listen on '%s' (%s): %s", url, var,
	             nng_strerror(rv));
	nng_close(bus->rep);
	for (i = 0; i < bus->nslots; i++) {
		nng_aio_free(bus->slots[i].aio);
	}
	free(bus->slots);
	bus->slots = NULL;
	bus->nslots = 0;
	return SC_EUNAVAIL;
}

int
sc_bus_listen(struct sc_bus *bus, const char *rep_url, const char *pub_url)
{
	char var[96];
	int rv;

	bus_var(bus->service, "PUB", var, sizeof var);
	if ((rep_url != NULL && bus->rep_open) ||
	    (pub_url != NULL && bus->pub_open)) {
		sc_log_error(NULL,
		             "cannot listen on the bus of '%s': already "
		             "listening",
		             bus->service);
		return SC_EUNAVAIL;
	}
	/* PUB first: it has no aio, so it unwinds simply if REP fails. */
	if (pub_url != NULL) {
		if ((rv = nng_pub0_open(&bus->pub)) != 0) {
			sc_log_error(NULL, "cannot listen on '%s' (%s): %s",
			             pub_url, var, nng_strerror(rv));
			return SC_EUNAVAIL;
		}
		if ((rv = nng_socket_set_int(bus->pub, NNG_OPT_SENDBUF,
		                             BUS_PUB_SENDBUF)) != 0) {
			sc_log_warn(NULL, "cannot size the queue of '%s': %s",
			            pub_url, nng_strerror(rv));
		}
		if ((rv = nng_listen(bus->pub, pub_url, NULL, 0)) != 0) {
			sc_log_error(NULL, "cannot listen on '%s' (%s): %s",
			             pub_url, var, nng_strerror(rv));
			nng_close(bus->pub);
			return SC_EUNAVAIL;
		}
		bus->pub_open = true;
	}
	if (rep_url != NULL && bus_listen_rep(bus, rep_url) != SC_OK) {
		if (pub_url != NULL) {
			nng_close(bus->pub);
			bus->pub_open = false;
		}
		return SC_EUNAVAIL;
	}
	return SC_OK;
}

/* ---- calling -------------------------------------------------------- */

/* On an nng thread: counts connections (ADD_PRE always precedes REM_POST
 * for a pipe; ADD_POST may not). */
static void
bus_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	atomic_int *pipes = arg;

	(void)pipe;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		atomic_fetch_add(pipes, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(pipes, 1);
	}
}

/* Open `sock` with pipe counting and dial url in the background. */
static int
bus_dial(nng_socket sock, const char *url, atomic_int *pipes)
{
	int rv;

	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, bus_pipe_cb,
	                          pipes)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, bus_pipe_cb,
	                          pipes)) != 0) {
		return rv;
	}
	return nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK);
}

/* The REQ socket for `service`, dialed on first use. NULL with *why (caller
 * owns; free with free()) when it cannot be had. */
static struct bus_peer *
bus_peer_get(struct sc_bus *bus, const char *service, char **why)
{
	struct bus_peer *p;
	char *url;
	int rv;

	for (p = bus->peers; p != NULL; p = p->next) {
		if (strcmp(p->service, service) == 0) {
			return p;
		}
	}
	if ((url = sc_bus_addr(service, "REQ")) == NULL) {
		*why = sc_asprintf("unknown service '%s'", service);
		return NULL;
	}
	p = sc_calloc(1, sizeof *p);
	p->pipes = bus_pipes_new();
	if ((rv = nng_req0_open(&p->sock)) != 0) {
		goto err;
	}
	/* Never resend: a request is sent once and fails at its deadline. */
	if ((rv = nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME,
	                            NNG_DURATION_INFINITE)) != 0 ||
	    (rv = bus_dial(p->sock, url, p->pipes)) != 0) {
		nng_close(p->sock);
		goto err;
	}
	p->dialed_at = nng_clock();
	p->service = sc_strdup(service);
	p->url = url;
	p->next = bus->peers;
	bus->peers = p;
	return p;
err:
	*why = sc_asprintf("cannot dial '%s': %s", url, nng_strerror(rv));
	sc_log_error(NULL, "cannot dial '%s': %s", url, nng_strerror(rv));
	free(url);
	free(p->pipes);
	free(p);
	return NULL;
}

static void
call_done_cb(void *arg)
{
	call_finish(arg);
}

/* On an nng thread: the request went out, or the reply came (or not). */
static void
call_aio_cb(void *arg)
{
	struct bus_call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (!c->receiving && rv == 0) {
		nng_time now = nng_clock();
		nng_duration left =
		    c->deadline > now ? (nng_duration)(c->deadline - now) : 1;

		c->receiving = true;
		nng_aio_set_timeout(c->aio, left);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (!c->receiving) {
		nng_msg_free(nng_aio_get_msg(c->aio));
	} else if (rv == 0) {
		c->reply = nng_aio_get_msg(c->aio);
	}
	nng_aio_set_msg(c->aio, NULL);
	c->rv = rv;
	/* c may be freed as soon as this is queued: touch nothing after. */
	sc_loopq_post(c->bus->q, call_done_cb, c);
}

/* Fail c on the loop thread before anything was sent (after sc_bus_call
 * returns). */
static void
call_fail(struct bus_call *c, int err, char *message)
{
	c->err = err;
	c->message = message;
	if (!c->bus->closing) {
		sc_loopq_post(c->bus->q, call_done_cb, c);
	}
	/* else sc_bus_free finishes it. */
}

void
sc_bus_call(struct sc_bus *bus, const char *method, json_object *data,
            const char *request_id, int timeout_ms, sc_bus_reply_cb cb,
            void *arg)
{
	struct bus_call *c = sc_calloc(1, sizeof *c);
	const char *dot = strchr(method, '.');
	char *service, *why = NULL;
	json_object *root;
	nng_duration send_ms;
	nng_time now;
	nng_msg *msg;
	int rv;

	c->bus = bus;
	c->method = sc_strdup(method);
	c->request_id = request_id != NULL && *request_id != '\0'
	                    ? sc_strdup(request_id)
	                    : bus_new_request_id();
	c->cb = cb;
	c->arg = arg;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : bus->timeout_ms;
	c->started = nng_clock();
	c->deadline = c->started + (nng_time)c->timeout_ms;
	if (bus->metrics != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		c->mx = bus_mx_get(&bus->sent, method);
	}
	c->next = bus->calls;
	if (bus->calls != NULL) {
		bus->calls->prev = c;
	}
	bus->calls = c;

	if (bus->closing) {
		json_object_put(data);
		call_fail(c, SC_EUNAVAIL, sc_strdup("the bus is closing"));
		return;
	}
	service = dot != NULL ? sc_strndup(method, (size_t)(dot - method))
	                      : sc_strdup(method);
	c->peer = bus_peer_get(bus, service, &why);
	free(service);
	if (c->peer == NULL) {
		json_object_put(data);
		call_fail(c, SC_EUNAVAIL, why);
		return;
	}

	/* Fail fast when the peer is down, but give a socket just dialed a
	 * moment to connect so the first call after start-up works. */
	send_ms = c->timeout_ms;
	now = nng_clock();
	if (atomic_load(c->peer->pipes) <= 0) {
		nng_time grace_end = c->peer->dialed_at + BUS_DIAL_GRACE_MS;
		if (now >= grace_end) {
			json_object_put(data);
			call_fail(c, SC_EUNAVAIL,
			          sc_asprintf("no connection to '%s' at '%s'",
			                      c->peer->service, c->peer->url));
			return;
		}
		if ((nng_duration)(grace_end - now) < send_ms) {
			send_ms = (nng_duration)(grace_end - now);
			c->grace = true;
		}
	}

	root = json_object_new_object();
	json_object_object_add(root, "v", json_object_new_int(SC_BUS_VERSION));
	json_object_object_add(root, "method", json_object_new_string(method));
	json_object_object_add(root, "requestId",
	                       json_object_new_string(c->request_id));
	json_object_object_add(root, "data",
	                       data != NULL ? data : json_object_new_object());
	msg = bus_msg(NULL, root);
	json_object_put(root);

	if ((rv = nng_ctx_open(&c->ctx, c->peer->sock)) != 0) {
		nng_msg_free(msg);
		call_fail(c, SC_EUNAVAIL,
		          sc_asprintf("cannot call '%s': %s", c->peer->service,
		                      nng_strerror(rv)));
		return;
	}
	c->ctx_open = true;
	if ((rv = nng_aio_alloc(&c->aio, call_aio_cb, c)) != 0) {
		nng_msg_free(msg);
		call_fail(c, SC_EUNAVAIL,
		          sc_asprintf("cannot call '%s': %s", c->peer->service,
		                      nng_strerror(rv)));
		return;
	}
	nng_aio_set_timeout(c->aio, send_ms);
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

/* Decode a reply envelope. SC_OK with *data (borrowed from *root), the
 * remote error with *message, or SC_EBUS with *message (caller owns both
 * *root and *owned). */
static int
call_decode(struct bus_call *c, json_object **root, json_object **data,
            const char **message, char **owned)
{
	const char *why = NULL, *code, *m;
	json_object *ok, *e;
	int err;

	*root = bus_parse(nng_msg_body(c->reply), nng_msg_len(c->reply), &why);
	if (*root == NULL) {
		/* why is set */
	} else if (!bus_version_ok(*root)) {
		why = "unsupported version";
	} else if (!json_object_object_get_ex(*root, "ok", &ok) ||
	           !json_object_is_type(ok, json_type_boolean)) {
		why = "missing ok";
	} else if (json_object_get_boolean(ok)) {
		if (!json_object_object_get_ex(*root, "data", data) ||
		    json_object_is_type(*data, json_type_null)) {
			*data = json_object_new_object();
			json_object_object_add(*root, "data", *data);
		}
		if (json_object_is_type(*data, json_type_object)) {
			return SC_OK;
		}
		/* proto/README.md: data is an object (tests/fuzz/bus_fuzz) */
		*data = NULL;
		why = "data is not an object";
	} else if (!json_object_object_get_ex(*root, "error", &e) ||
	           (code = bus_get_string(e, "code")) == NULL) {
		why = "error without a code";
	} else {
		err = sc_err_from_code(code);
		if (err == SC_OK) {
			err = SC_EINTERNAL;
		}
		m = bus_get_string(e, "message");
		*message = m != NULL ? m : sc_err_str(err);
		return err;
	}
	*owned =
	    sc_asprintf("malformed reply from '%s': %s", c->peer->service, why);
	*message = *owned;
	return SC_EBUS;
}

/* On the loop: deliver c's outcome, unlink and free it. */
static void
call_finish(struct bus_call *c)
{
	struct sc_bus *bus = c->bus;
	json_object *root = NULL, *data = NULL;
	const char *message = NULL;
	char *owned = NULL;
	int err;

	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		bus->calls = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	if (c->aio != NULL) {
		nng_aio_free(c->aio); /* waits for a callback still returning */
	}
	if (c->ctx_open) {
		nng_ctx_close(c->ctx);
	}

	if (c->err != SC_OK) {
		err = c->err;
		message = c->message;
	} else if (bus->closing) {
		err = SC_EUNAVAIL;
		message = "the bus is closing";
	} else if (c->rv == 0) {
		err = call_decode(c, &root, &data, &message, &owned);
	} else if (c->rv == NNG_ETIMEDOUT && c->grace && !c->receiving) {
		err = SC_EUNAVAIL;
		message = owned = sc_asprintf("no connection to '%s' at '%s'",
		                              c->peer->service, c->peer->url);
	} else if (c->rv == NNG_ETIMEDOUT) {
		err = SC_ETIMEDOUT;
		message = owned = sc_asprintf("no reply from '%s' within %d ms",
		                              c->peer->service, c->timeout_ms);
	} else if (c->rv == NNG_ECONNRESET) {
		err = SC_EUNAVAIL;
		message = owned = sc_asprintf("'%s' went away before replying",
		                              c->peer->service);
	} else {
		err = SC_EUNAVAIL;
		message = owned =
		    sc_asprintf("cannot call '%s': %s", c->peer->service,
		                nng_strerror(c->rv));
	}

	if (err == SC_ETIMEDOUT || err == SC_EUNAVAIL || err == SC_EBUS) {
		if (!bus->closing) {
			sc_log_warn(c->request_id, "bus call '%s' failed: %s",
			            c->method, message);
		}
	} else if (sc_log_enabled(SC_LOG_DEBUG)) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "method",
		                       json_object_new_string(c->method));
		json_object_object_add(
		    f, "durationMs",
		    json_object_new_int(bus_elapsed_ms(c->started)));
		json_object_object_add(
		    f, "code", json_object_new_string(sc_err_code(err)));
		sc_log_fields(SC_LOG_DEBUG, c->request_id, f,
		              "bus call answered");
	}

	if (c->mx != NULL) {
		/* A reply came (error or garbage) when nothing failed first. */
		bool replied = c->err == SC_OK && !bus->closing && c->rv == 0;
		int o = err == SC_OK          ? BUS_OK
		        : replied             ? BUS_ERROR
		        : err == SC_ETIMEDOUT ? BUS_TIMEOUT
		                              : BUS_UNAVAILABLE;
		sc_metric_inc(c->mx->outcome[o]);
		sc_metric_observe(c->mx->duration, bus_secs_since(&c->t0));
	}

	/* A remote error as received, for sc_bus_reply_error_object. */
	json_object *remote = NULL;
	if (root != NULL && err != SC_OK && err != SC_EBUS) {
		json_object_object_get_ex(root, "error", &remote);
	}
	json_object *outer = bus->reply_error;
	bus->reply_error = remote;
	c->cb(err, err == SC_OK ? data : NULL, err == SC_OK ? NULL : message,
	      c->arg);
	bus->reply_error = outer;

	json_object_put(root);
	free(owned);
	if (c->reply != NULL) {
		nng_msg_free(c->reply);
	}
	free(c->message);
	free(c->method);
	free(c->request_id);
	free(c);
}

/* ---- publish/subscribe ---------------------------------------------- */

int
sc_bus_publish(struct sc_bus *bus, const char *topic, json_object *data,
               const char *request_id)
{
	json_object *root;
	char *prefix, *rid;
	nng_msg *msg;
	int rv;

	if (topic == NULL || *topic == '\0' || strchr(topic, ' ') != NULL) {
		sc_log_error(request_id, "cannot publish '%s': bad topic",
		             topic != NULL ? topic : "");
		json_object_put(data);
		return SC_EINVAL;
	}
	if (!bus->pub_open || bus->closing) {
		json_object_put(data);
		return SC_EUNAVAIL;
	}
	rid = request_id != NULL && *request_id != '\0' ? sc_strdup(request_id)
	                                                : bus_new_request_id();
	root = json_object_new_object();
	json_object_object_add(root, "v", json_object_new_int(SC_BUS_VERSION));
	json_object_object_add(root, "topic", json_object_new_string(topic));
	json_object_object_add(root, "requestId", json_object_new_string(rid));
	json_object_object_add(root, "data",
	                       data != NULL ? data : json_object_new_object());
	prefix = sc_asprintf("%s ", topic);
	msg = bus_msg(prefix, root);
	free(prefix);
	json_object_put(root);
	if ((rv = nng_sendmsg(bus->pub, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg);
		sc_log_warn(rid, "cannot publish '%s': %s", topic,
		            nng_strerror(rv));
		free(rid);
		return SC_EUNAVAIL;
	}
	sc_log_debug(rid, "bus event '%s' published", topic);
	free(rid);
	if (bus->metrics != NULL) {
		sc_metric_inc(bus_mx_get(&bus->published, topic)->outcome[0]);
	}
	return SC_OK;
}

/* On the loop: one event from sub; hand it to every matching entry. */
static void
sub_event_cb(void *arg)
{
	struct bus_event *ev = arg;
	struct bus_sub *sub = ev->sub;
	const char *body = nng_msg_body(ev->msg), *sp, *why = NULL, *topic_in;
	size_t len = nng_msg_len(ev->msg);
	json_object *root = NULL, *data = NULL;
	const char *rid;
	char *topic = NULL;

	if (sub->bus->closing) {
		goto out;
	}
	if ((sp = memchr(body, ' ', len)) == NULL || sp == body) {
		why = "no topic";
	} else {
		topic = sc_strndup(body, (size_t)(sp - body));
		root = bus_parse(sp + 1, len - (size_t)(sp - body) - 1, &why);
		if (root == NULL) {
			/* why is set */
		} else if (!bus_version_ok(root)) {
			why = "unsupported version";
		} else if ((topic_in = bus_get_string(root, "topic")) == NULL ||
		           strcmp(topic_in, topic) != 0) {
			why = "topic does not match";
		} else if (json_object_object_get_ex(root, "data", &data) &&
		           data != NULL &&
		           !json_object_is_type(data, json_type_object)) {
			why = "data is not an object";
		}
	}
	if (why != NULL) {
		sc_log_warn(NULL, "dropping bus event from '%s': %s",
		            sub->service, why);
		goto out;
	}
	if (!json_object_object_get_ex(root, "data", &data) ||
	    json_object_is_type(data, json_type_null)) {
		data = json_object_new_object();
		json_object_object_add(root, "data", data);
	}
	rid = bus_get_string(root, "requestId");
	if (sub->bus->metrics != NULL) {
		sc_metric_inc(
		    bus_mx_get(&sub->bus->received, topic)->outcome[0]);
	}
	for (struct bus_sub_entry *e = sub->entries; e != NULL; e = e->next) {
		if (strncmp(topic, e->prefix, strlen(e->prefix)) == 0) {
			e->cb(topic, data, rid, e->arg);
		}
	}
out:
	json_object_put(root);
	free(topic);
	nng_msg_free(ev->msg);
	free(ev);
}

/* On an nng thread: an event arrived. */
static void
sub_aio_cb(void *arg)
{
	struct bus_sub *sub = arg;
	int rv = nng_aio_result(sub->aio);

	if (rv == 0) {
		struct bus_event *ev = sc_malloc(sizeof *ev);
		ev->sub = sub;
		ev->msg = nng_aio_get_msg(sub->aio);
		nng_aio_set_msg(sub->aio, NULL);
		sc_loopq_post(sub->bus->q, sub_event_cb, ev);
	} else if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return;
	}
	nng_recv_aio(sub->sock, sub->aio);
}

static struct bus_sub *
bus_sub_find(struct sc_bus *bus, const char *key)
{
	for (struct bus_sub *s = bus->subs; s != NULL; s = s->next) {
		if (strcmp(s->service, key) == 0) {
			return s;
		}
	}
	return NULL;
}

/* A SUB socket named `key` (a service, or the address itself) dialed to
 * url (takes ownership). NULL when it cannot be opened (logged). */
static struct bus_sub *
bus_sub_open(struct sc_bus *bus, const char *key, char *url)
{
	struct bus_sub *s;
	int rv;

	s = sc_calloc(1, sizeof *s);
	s->bus = bus;
	s->pipes = bus_pipes_new();
	if ((rv = nng_sub0_open(&s->sock)) != 0) {
		goto err;
	}
	if ((rv = nng_aio_alloc(&s->aio, sub_aio_cb, s)) != 0) {
		nng_close(s->sock);
		goto err;
	}
	if ((rv = bus_dial(s->sock, url, s->pipes)) != 0) {
		nng_close(s->sock);
		nng_aio_free(s->aio);
		goto err;
	}
	s->service = sc_strdup(key);
	s->url = url;
	s->next = bus->subs;
	bus->subs = s;
	nng_recv_aio(s->sock, s->aio);
	return s;
err:
	sc_log_error(NULL, "cannot dial '%s': %s", url, nng_strerror(rv));
	free(url);
	free(s->pipes);
	free(s);
	return NULL;
}

static struct bus_sub *
bus_sub_get(struct sc_bus *bus, const char *service)
{
	struct bus_sub *s;
	char *url;

	if ((s = bus_sub_find(bus, service)) != NULL) {
		return s;
	}
	if ((url = sc_bus_addr(service, "PUB")) == NULL) {
		sc_log_error(NULL, "cannot subscribe to '%s': unknown service",
		             service);
		return NULL;
	}
	return bus_sub_open(bus, service, url);
}

/* Add a prefix and its callback to s. */
static int
bus_sub_add(struct bus_sub *s, const char *prefix, sc_bus_event_cb cb,
            void *arg)
{
	struct bus_sub_entry *e;
	int rv;

	if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, prefix,
	                         strlen(prefix))) != 0) {
		sc_log_error(NULL, "cannot subscribe to '%s' on '%s': %s",
		             prefix, s->service, nng_strerror(rv));
		return SC_EUNAVAIL;
	}
	e = sc_calloc(1, sizeof *e);
	e->prefix = sc_strdup(prefix);
	e->cb = cb;
	e->arg = arg;
	if (s->last != NULL) {
		s->last->next = e;
	} else {
		s->entries = e;
	}
	s->last = e;
	return SC_OK;
}

int
sc_bus_subscribe(struct sc_bus *bus, const char *service, const char *prefix,
                 sc_bus_event_cb cb, void *arg)
{
	struct bus_sub *s;

	if (bus->closing || (s = bus_sub_get(bus, service)) == NULL) {
		return SC_EUNAVAIL;
	}
	return bus_sub_add(s, prefix, cb, arg);
}

int
sc_bus_subscribe_addr(struct sc_bus *bus, const char *url, const char *prefix,
                      sc_bus_event_cb cb, void *arg)
{
	struct bus_sub *s;

	if (bus->closing || url == NULL || strstr(url, "://") == NULL) {
		sc_log_error(NULL, "cannot subscribe to '%s': not an address",
		             url != NULL ? url : "");
		return SC_EUNAVAIL;
	}
	if ((s = bus_sub_find(bus, url)) == NULL &&
	    (s = bus_sub_open(bus, url, sc_strdup(url))) == NULL) {
		return SC_EUNAVAIL;
	}
	return bus_sub_add(s, prefix, cb, arg);
}

bool
sc_bus_connected(struct sc_bus *bus, const char *service, const char *kind)
{
	if (strcmp(kind, "REQ") == 0) {
		for (struct bus_peer *p = bus->peers; p != NULL; p = p->next) {
			if (strcmp(p->service, service) == 0) {
				return p->pipes != NULL &&
				       atomic_load(p->pipes) > 0;
			}
		}
	} else if (strcmp(kind, "PUB") == 0) {
		for (struct bus_sub *s = bus->subs; s != NULL; s = s->next) {
			if (strcmp(s->service, service) == 0) {
				return s->pipes != NULL &&
				       atomic_load(s->pipes) > 0;
			}
		}
	}
	return false;
}
