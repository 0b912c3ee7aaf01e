/* sio.c: Socket.IO 5 on Engine.IO (see sio.h). A client is one Engine.IO
 * session; it has a socket per namespace it joined. Sockets that end are
 * queued and reported (on_disconnect) from a reap event, so the owner's
 * code is never re-entered from inside its own calls; clients are freed
 * the same way. Rooms are per namespace: a hash of names to dense member
 * arrays, each socket remembering its index in each of its rooms, so join,
 * leave and broadcast are O(1) per member. */
#include "sio.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "eio_listener.h"
#include "eio_packet.h"
#include "error.h"
#include "log.h"
#include "sio_packet.h"
#include "ws.h"

#define ID_LEN 20

enum sock_state {
	K_CONNECTING,    /* on_connect called, not yet answered */
	K_CONNECTED,     /* accepted */
	K_DISCONNECTING, /* ended; on_disconnect pending */
	K_DEAD,          /* reported or refused; memory held by refs */
};

struct sio_room {
	char *name;
	struct sc_sio_socket **members;
	size_t n, cap;
	struct sio_room *hnext;
};

struct membership {
	struct sio_room *room;
	size_t idx; /* in room->members */
};

struct pending_ack {
	int64_t id;
	sc_sio_ack_fn cb;
	void *arg;
};

struct sio_client;

struct sc_sio_socket {
	int refs;
	enum sock_state state;
	struct sio_client *client; /* NULL once ended */
	struct sc_sio_nsp *nsp;
	char id[ID_LEN + 1];
	char peer[64];
	void *data;
	const char *reason;
	struct membership *rooms;
	size_t nrooms, caprooms;
	size_t nsp_idx; /* in nsp->sockets while connected */
	struct pending_ack *acks;
	size_t nacks, capacks;
	int64_t next_ack;
	struct sc_sio_socket *cnext; /* the client's sockets */
	struct sc_sio_socket *rnext; /* the reap list */
};

struct sc_sio_ack {
	struct sc_sio_socket *s;
	int64_t id;
};

struct sio_client {
	struct sc_sio_server *srv;
	struct sc_eio_socket *es; /* NULL once the session is gone */
	struct sc_sio_socket *sockets;
	struct event *connect_timer;
	bool closed;
	/* a binary packet waiting for its attachments */
	bool have_partial;
	struct sc_sio_packet partial;
	uint8_t **bindata;
	struct sc_sio_bin *bins;
	size_t nbins;
	struct sio_client *prev, *next, *rnext;
};

struct sc_sio_nsp {
	struct sc_sio_server *srv;
	char *name;
	struct sc_sio_nsp_cbs cbs;
	void *arg;
	struct sc_sio_socket **sockets; /* connected ones */
	size_t n, cap;
	struct sio_room **buckets;
	size_t nbuckets, nrooms;
	struct sc_sio_nsp *next;
};

struct sc_sio_server {
	struct sc_eio_server *eio;
	struct event_base *base;
	struct sc_sio_decode_opts dopts;
	struct timeval connect_timeout;
	size_t max_rooms;
	size_t max_acks;
	size_t max_payload;
	struct sc_sio_nsp *nsps;
	struct sio_client *clients;
	struct sc_sio_socket *reap_sockets;
	struct sio_client *reap_clients;
	struct event *reap_ev;
	struct sc_sio_buf buf;
	struct sc_eio_prepared prep; /* buf framed, for broadcasts */
	bool shutting_down;
	uint64_t packets_in, packets_out; /* sc_sio_server_stats */
};

/* ---- helpers ------------------------------------------------------- */

static void
make_id(char *out)
{
	unsigned char raw[15];

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		sc_log_error(NULL, "cannot make a socket id: no randomness");
		abort();
	}
	sc_eio_base64_encode(raw, sizeof(raw), out);
	for (int i = 0; i < ID_LEN; i++) {
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[ID_LEN] = '\0';
}

static size_t
name_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

static struct sc_sio_nsp *
find_nsp(struct sc_sio_server *srv, const char *name)
{
	for (struct sc_sio_nsp *n = srv->nsps; n != NULL; n = n->next) {
		if (strcmp(n->name, name) == 0) {
			return n;
		}
	}
	return NULL;
}

static void
schedule_reap(struct sc_sio_server *srv)
{
	event_active(srv->reap_ev, EV_TIMEOUT, 1);
}

/* Send an encoded text packet (b) and attachments over s's connection. */
static int
send_encoded(struct sc_sio_socket *s, const struct sc_sio_buf *b,
             const struct sc_sio_bin *bins, size_t nbins)
{
	struct sc_eio_socket *es;
	int rc;

	if (s->client == NULL || (es = s->client->es) == NULL) {
		return SC_EAGAIN;
	}
	s->client->srv->packets_out++;
	rc = sc_eio_send_packet(es, b->p, b->len);
	for (size_t i = 0; i < nbins && rc == SC_OK; i++) {
		rc = sc_eio_send(es, true, bins[i].data, bins[i].len);
	}
	return rc;
}

static bool
args_ok(const char *name, json_object *args)
{
	return name != NULL && !sc_sio_reserved_event(name) &&
	       (args == NULL || json_object_is_type(args, json_type_array));
}

/* ---- rooms --------------------------------------------------------- */

static struct sio_room *
room_find(struct sc_sio_nsp *nsp, const char *name)
{
	struct sio_room *r;

	if (nsp->nbuckets == 0) {
		return NULL;
	}
	r = nsp->buckets[name_hash(name) & (nsp->nbuckets - 1)];
	while (r != NULL && strcmp(r->name, name) != 0) {
		r = r->hnext;
	}
	return r;
}

static struct sio_room *
room_get(struct sc_sio_nsp *nsp, const char *name)
{
	struct sio_room *r = room_find(nsp, name);
	size_t b;

	if (r != NULL) {
		return r;
	}
	if (nsp->nrooms >= nsp->nbuckets) {
		size_t n = nsp->nbuckets > 0 ? nsp->nbuckets * 2 : 16;
		struct sio_room **t = sc_calloc(n, sizeof(*t));

		for (size_t i = 0; i < nsp->nbuckets; i++) {
			struct sio_room *x = nsp->buckets[i], *next;

			for (; x != NULL; x = next) {
				size_t k = name_hash(x->name) & (n - 1);

				next = x->hnext;
				x->hnext = t[k];
				t[k] = x;
			}
		}
		free(nsp->buckets);
		nsp->buckets = t;
		nsp->nbuckets = n;
	}
	r = sc_calloc(1, sizeof(*r));
	r->name = sc_strdup(name);
	b = name_hash(name) & (nsp->nbuckets - 1);
	r->hnext = nsp->buckets[b];
	nsp->buckets[b] = r;
	nsp->nrooms++;
	return r;
}

static void
room_delete(struct sc_sio_nsp *nsp, struct sio_room *r)
{
	struct sio_room **pp =
	    &nsp->buckets[name_hash(r->name) & (nsp->nbuckets - 1)];

	while (*pp != NULL && *pp != r) {
		pp = &(*pp)->hnext;
	}
	if (*pp != NULL) {
		*pp = r->hnext;
	}
	nsp->nrooms--;
	free(r->members);
	free(r->name);
	free(r);
}

/* Remove membership j of s. */
static void
leave_at(struct sc_sio_socket *s, size_t j)
{
	struct membership m = s->rooms[j];
	struct sio_room *r = m.room;
	struct sc_sio_socket *last = r->members[r->n - 1];

	r->members[m.idx] = last;
	if (last != s) {
		for (size_t k = 0; k < last->nrooms; k++) {
			if (last->rooms[k].room == r) {
				last->rooms[k].idx = m.idx;
				break;
			}
		}
	}
	r->n--;
	s->rooms[j] = s->rooms[--s->nrooms];
	if (r->n == 0) {
		room_delete(s->nsp, r);
	}
}

static void
leave_all(struct sc_sio_socket *s)
{
	while (s->nrooms > 0) {
		leave_at(s, s->nrooms - 1);
	}
	free(s->rooms);
	s->rooms = NULL;
	s->caprooms = 0;
}

int
sc_sio_join(struct sc_sio_socket *s, const char *room)
{
	struct sio_room *r;

	if (s->state != K_CONNECTED) {
		return SC_EAGAIN;
	}
	if (sc_sio_in_room(s, room)) {
		return SC_OK;
	}
	if (s->nrooms >= s->nsp->srv->max_rooms) {
		return SC_ETOOBIG;
	}
	r = room_get(s->nsp, room);
	if (r->n == r->cap) {
		r->cap = r->cap > 0 ? r->cap * 2 : 4;
		r->members =
		    sc_realloc(r->members, r->cap * sizeof(*r->members));
	}
	if (s->nrooms == s->caprooms) {
		s->caprooms = s->caprooms > 0 ? s->caprooms * 2 : 4;
		s->rooms =
		    sc_realloc(s->rooms, s->caprooms * sizeof(*s->rooms));
	}
	s->rooms[s->nrooms].room = r;
	s->rooms[s->nrooms].idx = r->n;
	s->nrooms++;
	r->members[r->n++] = s;
	return SC_OK;
}

void
sc_sio_leave(struct sc_sio_socket *s, const char *room)
{
	for (size_t j = 0; j < s->nrooms; j++) {
		if (strcmp(s->rooms[j].room->name, room) == 0) {
			leave_at(s, j);
			return;
		}
	}
}

bool
sc_sio_in_room(const struct sc_sio_socket *s, const char *room)
{
	for (size_t j = 0; j < s->nrooms; j++) {
		if (strcmp(s->rooms[j].room->name, room) == 0) {
			return true;
		}
	}
	return false;
}

size_t
sc_sio_room_size(struct sc_sio_nsp *nsp, const char *room)
{
	struct sio_room *r = room_find(nsp, room);
	size_t n = 0;

	for (size_t i = 0; r != NULL && i < r->n; i++) {
		n += r->members[i]->state == K_CONNECTED;
	}
	return n;
}

void
sc_sio_room_foreach(struct sc_sio_nsp *nsp, const char *room,
                    void (*fn)(struct sc_sio_socket *s, void *arg), void *arg)
{
	struct sio_room *r = room_find(nsp, room);

	for (size_t i = 0; r != NULL && i < r->n; i++) {
		if (r->members[i]->state == K_CONNECTED) {
			fn(r->members[i], arg);
		}
	}
}

static int
encode_event(struct sc_sio_server *srv, struct sc_sio_nsp *nsp,
             const char *name, json_object *args, int nbins, int64_t id)
{
	if (!args_ok(name, args)) {
		return SC_EINVAL;
	}
	sc_sio_packet_encode(&srv->buf,
	                     nbins > 0 ? SC_SIO_BINARY_EVENT : SC_SIO_EVENT,
	                     nsp->name, nbins, id, NULL, 0);
	sc_sio_event_json(&srv->buf, name, args);
	if (srv->buf.len - 1 > srv->max_payload) {
		return SC_ETOOBIG;
	}
	return SC_OK;
}

/* The packet in srv->buf to every connected socket of list but except:
 * framed once (sc_eio_prepare), the same bytes to each. */
static int
send_to(struct sc_sio_server *srv, struct sc_sio_socket **list, size_t n,
        const struct sc_sio_socket *except)
{
	int count = 0;

	sc_eio_prepare(&srv->prep, srv->buf.p, srv->buf.len);
	for (size_t i = 0; i < n; i++) {
		struct sc_sio_socket *s = list[i];

		if (s == except || s->state != K_CONNECTED ||
		    s->client == NULL || s->client->es == NULL) {
			continue;
		}
		srv->packets_out++;
		if (sc_eio_send_prepared(s->client->es, &srv->prep) == SC_OK) {
			count++;
		}
	}
	return count;
}

int
sc_sio_to_room(struct sc_sio_nsp *nsp, const char *room,
               const struct sc_sio_socket *except, const char *name,
               json_object *args)
{
	struct sio_room *r = room_find(nsp, room);

	if (encode_event(nsp->srv, nsp, name, args, 0, -1) != SC_OK) {
		return -1;
	}
	return r != NULL ? send_to(nsp->srv, r->members, r->n, except) : 0;
}

int
sc_sio_broadcast(struct sc_sio_nsp *nsp, const struct sc_sio_socket *except,
                 const char *name, json_object *args)
{
	if (encode_event(nsp->srv, nsp, name, args, 0, -1) != SC_OK) {
		return -1;
	}
	return send_to(nsp->srv, nsp->sockets, nsp->n, except);
}

/* ---- sockets ------------------------------------------------------- */

static struct sc_sio_socket *
socket_new(struct sio_client *c, struct sc_sio_nsp *nsp)
{
	struct sc_sio_socket *s = sc_calloc(1, sizeof(*s));

	s->refs = 1; /* the library's, dropped once reported or refused */
	s->state = K_CONNECTING;
	s->client = c;
	s->nsp = nsp;
	s->nsp_idx = (size_t)-1;
	make_id(s->id);
	snprintf(s->peer, sizeof(s->peer), "%s", sc_eio_socket_peer(c->es));
	s->cnext = c->sockets;
	c->sockets = s;
	return s;
}

static void
socket_free(struct sc_sio_socket *s)
{
	free(s->rooms);
	free(s->acks);
	free(s);
}

void
sc_sio_socket_ref(struct sc_sio_socket *s)
{
	s->refs++;
}

void
sc_sio_socket_unref(struct sc_sio_socket *s)
{
	if (--s->refs == 0) {
		socket_free(s);
	}
}

static void
unlink_from_client(struct sc_sio_socket *s)
{
	struct sc_sio_socket **pp;

	if (s->client == NULL) {
		return;
	}
	pp = &s->client->sockets;
	while (*pp != NULL && *pp != s) {
		pp = &(*pp)->cnext;
	}
	if (*pp != NULL) {
		*pp = s->cnext;
	}
	s->cnext = NULL;
	s->client = NULL;
}

/* Out of the namespace and its rooms; pending acks answered with NULL. */
static void
socket_detach(struct sc_sio_socket *s)
{
	struct sc_sio_nsp *nsp = s->nsp;

	leave_all(s);
	if (s->nsp_idx != (size_t)-1) {
		struct sc_sio_socket *last = nsp->sockets[nsp->n - 1];

		nsp->sockets[s->nsp_idx] = last;
		last->nsp_idx = s->nsp_idx;
		nsp->n--;
		s->nsp_idx = (size_t)-1;
	}
	for (size_t i = 0; i < s->nacks; i++) {
		s->acks[i].cb(s, NULL, s->acks[i].arg);
	}
	s->nacks = 0;
}

/* The socket ended: report it from the loop. */
static void
socket_end(struct sc_sio_socket *s, const char *reason)
{
	struct sc_sio_server *srv = s->nsp->srv;

	if (s->state != K_CONNECTING && s->state != K_CONNECTED) {
		return;
	}
	unlink_from_client(s);
	s->state = K_DISCONNECTING;
	s->reason = reason;
	s->rnext = srv->reap_sockets;
	srv->reap_sockets = s;
	schedule_reap(srv);
}

/* ---- clients ------------------------------------------------------- */

static void
partial_clear(struct sio_client *c)
{
	if (c->have_partial) {
		sc_sio_packet_release(&c->partial);
		c->have_partial = false;
	}
	for (size_t i = 0; i < c->nbins; i++) {
		free(c->bindata[i]);
	}
	free(c->bindata);
	free(c->bins);
	c->bindata = NULL;
	c->bins = NULL;
	c->nbins = 0;
}

static void
client_free(struct sio_client *c)
{
	partial_clear(c);
	if (c->connect_timer != NULL) {
		event_free(c->connect_timer);
	}
	free(c);
}

/* End the client and all its sockets with `reason`; close its session
 * with `code` unless it is already gone. The struct is freed from the
 * reap event (the caller may be inside its own message handler). */
static void
client_close(struct sio_client *c, const char *reason, int code)
{
	struct sc_sio_server *srv = c->srv;

	if (c->closed) {
		return;
	}
	c->closed = true;
	while (c->sockets != NULL) {
		struct sc_sio_socket *s = c->sockets;

		if (s->state == K_CONNECTING || s->state == K_CONNECTED) {
			socket_end(s, reason);
		} else {
			unlink_from_client(s);
		}
	}
	if (c->es != NULL) {
		sc_eio_socket_set_data(c->es, NULL);
		sc_eio_close(c->es, code);
		c->es = NULL;
	}
	if (c->connect_timer != NULL) {
		evtimer_del(c->connect_timer);
	}
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		srv->clients = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	c->rnext = srv->reap_clients;
	srv->reap_clients = c;
	schedule_reap(srv);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_sio_server *srv = arg;

	while (srv->reap_sockets != NULL || srv->reap_clients != NULL) {
		struct sc_sio_socket *s = srv->reap_sockets;

		if (s != NULL) {
			struct sc_sio_nsp *nsp = s->nsp;

			srv->reap_sockets = s->rnext;
			s->rnext = NULL;
			if (nsp->cbs.on_disconnect != NULL) {
				nsp->cbs.on_disconnect(s, s->reason, nsp->arg);
			}
			socket_detach(s);
			s->state = K_DEAD;
			sc_sio_socket_unref(s);
			continue;
		}
		{
			struct sio_client *c = srv->reap_clients;

			srv->reap_clients = c->rnext;
			client_free(c);
		}
	}
}

static void
connect_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sio_client *c = arg;

	for (struct sc_sio_socket *s = c->sockets; s != NULL; s = s->cnext) {
		if (s->state == K_CONNECTED) {
			return;
		}
	}
	client_close(c, "forced server close", 1000);
}

/* ---- packets from the client -------------------------------------- */

static void
send_connect_error(struct sio_client *c, const char *nsp, const char *message,
                   json_object *data)
{
	struct sc_sio_server *srv = c->srv;
	json_object *o = json_object_new_object();
	const char *js;
	size_t jlen;

	json_object_object_add(o, "message", json_object_new_string(message));
	if (data != NULL) {
		json_object_object_add(o, "data", json_object_get(data));
	}
	js = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jlen);
	sc_sio_packet_encode(&srv->buf, SC_SIO_CONNECT_ERROR, nsp, 0, -1, js,
	                     jlen);
	if (c->es != NULL) {
		srv->packets_out++;
		sc_eio_send_packet(c->es, srv->buf.p, srv->buf.len);
	}
	json_object_put(o);
}

static void
on_connect_packet(struct sio_client *c, struct sc_sio_packet *p)
{
	struct sc_sio_nsp *nsp = find_nsp(c->srv, p->nsp);
	struct sc_sio_socket *s;
	json_object *auth;

	if (nsp == NULL) {
		send_connect_error(c, p->nsp, "Invalid namespace", NULL);
		return;
	}
	s = socket_new(c, nsp);
	auth = p->data != NULL ? json_object_get(p->data)
	                       : json_object_new_object();
	if (nsp->cbs.on_connect != NULL) {
		nsp->cbs.on_connect(s, auth, nsp->arg);
	} else {
		sc_sio_accept(s, NULL);
	}
	json_object_put(auth);
}

static struct sc_sio_ack *
ack_new(struct sc_sio_socket *s, int64_t id)
{
	struct sc_sio_ack *a;

	if (id < 0) {
		return NULL;
	}
	a = sc_malloc(sizeof(*a));
	a->s = s;
	a->id = id;
	sc_sio_socket_ref(s);
	return a;
}

static void
on_event_packet(struct sio_client *c, struct sc_sio_socket *s,
                struct sc_sio_packet *p, const struct sc_sio_bin *bins,
                size_t nbins)
{
	struct sc_sio_nsp *nsp = s->nsp;
	json_object *name =
	    json_object_get(json_object_array_get_idx(p->data, 0));
	struct sc_sio_ack *ack;

	json_object_array_del_idx(p->data, 0, 1);
	if (nbins > 0 && nsp->cbs.on_binary_event == NULL) {
		json_object_put(name);
		client_close(c, "parse error", 1003);
		return;
	}
	ack = ack_new(s, p->id);
	if (nbins > 0) {
		nsp->cbs.on_binary_event(s, json_object_get_string(name),
		                         p->data, bins, nbins, ack, nsp->arg);
	} else if (nsp->cbs.on_event != NULL) {
		nsp->cbs.on_event(s, json_object_get_string(name), p->data, ack,
		                  nsp->arg);
	} else if (ack != NULL) {
		sc_sio_ack_free(ack);
	}
	json_object_put(name);
}

static void
on_ack_packet(struct sc_sio_socket *s, struct sc_sio_packet *p)
{
	for (size_t i = 0; i < s->nacks; i++) {
		if (s->acks[i].id == p->id) {
			struct pending_ack a = s->acks[i];

			s->acks[i] = s->acks[--s->nacks];
			a.cb(s, p->data, a.arg);
			return;
		}
	}
}

static void
dispatch(struct sio_client *c, struct sc_sio_packet *p,
         const struct sc_sio_bin *bins, size_t nbins)
{
	struct sc_sio_socket *s = c->sockets;

	while (s != NULL && strcmp(s->nsp->name, p->nsp) != 0) {
		s = s->cnext;
	}
	if (p->type == SC_SIO_CONNECT && s == NULL) {
		on_connect_packet(c, p);
		return;
	}
	if (s == NULL || s->state != K_CONNECTED || p->type == SC_SIO_CONNECT ||
	    p->type == SC_SIO_CONNECT_ERROR) {
		client_close(c, "forced server close", SC_WS_POLICY);
		return;
	}
	switch (p->type) {
	case SC_SIO_EVENT:
	case SC_SIO_BINARY_EVENT:
		on_event_packet(c, s, p, bins, nbins);
		break;
	case SC_SIO_ACK:
	case SC_SIO_BINARY_ACK:
		on_ack_packet(s, p);
		break;
	case SC_SIO_DISCONNECT:
		socket_end(s, "client namespace disconnect");
		break;
	default:
		break;
	}
}

static void
on_message(struct sc_eio_socket *es, bool binary, const uint8_t *data,
           size_t len, void *arg)
{
	(void)arg;
	struct sio_client *c = sc_eio_socket_data(es);
	struct sc_sio_packet p;
	const char *why = NULL;

	if (c == NULL || c->closed) {
		return;
	}
	if (binary) {
		uint8_t *copy;

		if (!c->have_partial) {
			client_close(c, "parse error", SC_WS_POLICY);
			return;
		}
		copy = sc_malloc(len > 0 ? len : 1);
		memcpy(copy, data, len);
		c->bindata[c->nbins] = copy;
		c->bins[c->nbins].data = copy;
		c->bins[c->nbins].len = len;
		c->nbins++;
		if (c->nbins == (size_t)c->partial.attachments) {
			dispatch(c, &c->partial, c->bins, c->nbins);
			if (!c->closed) {
				partial_clear(c);
			}
		}
		return;
	}
	if (c->have_partial) {
		client_close(c, "parse error", SC_WS_POLICY);
		return;
	}
	if (sc_sio_packet_decode((const char *)data, len, &c->srv->dopts, &p,
	                         &why) != SC_OK) {
		sc_log_debug(NULL, "closing client '%s': %s",
		             sc_eio_socket_id(es), why);
		client_close(c, "parse error", SC_WS_POLICY);
		return;
	}
	c->srv->packets_in++;
	if ((p.type == SC_SIO_BINARY_EVENT || p.type == SC_SIO_BINARY_ACK) &&
	    p.attachments > 0) {
		c->partial = p;
		c->have_partial = true;
		c->bindata =
		    sc_calloc((size_t)p.attachments, sizeof(*c->bindata));
		c->bins = sc_calloc((size_t)p.attachments, sizeof(*c->bins));
		return;
	}
	dispatch(c, &p, NULL, 0);
	sc_sio_packet_release(&p);
}

static void
on_open(struct sc_eio_socket *es, void *arg)
{
	struct sc_sio_server *srv = arg;
	struct sio_client *c;

	if (srv->shutting_down) {
		sc_eio_close(es, SC_WS_GOING_AWAY);
		return;
	}
	c = sc_calloc(1, sizeof(*c));
	c->srv = srv;
	c->es = es;
	c->connect_timer = evtimer_new(srv->base, connect_timer_cb, c);
	if (c->connect_timer == NULL) {
		sc_oom();
	}
	evtimer_add(c->connect_timer, &srv->connect_timeout);
	c->next = srv->clients;
	if (srv->clients != NULL) {
		srv->clients->prev = c;
	}
	srv->clients = c;
	sc_eio_socket_set_data(es, c);
}

static void
on_close(struct sc_eio_socket *es, const char *reason, void *arg)
{
	(void)arg;
	struct sio_client *c = sc_eio_socket_data(es);

	if (c == NULL) {
		return;
	}
	c->es = NULL;
	client_close(c, reason, SC_WS_NORMAL);
}

/* ---- the API ------------------------------------------------------- */

int
sc_sio_accept(struct sc_sio_socket *s, void *data)
{
	struct sc_sio_server *srv = s->nsp->srv;
	struct sc_sio_nsp *nsp = s->nsp;
	char js[64];
	int n;

	if (s->state != K_CONNECTING || s->client == NULL) {
		return SC_EAGAIN;
	}
	s->state = K_CONNECTED;
	s->data = data;
	if (nsp->n == nsp->cap) {
		nsp->cap = nsp->cap > 0 ? nsp->cap * 2 : 16;
		nsp->sockets =
		    sc_realloc(nsp->sockets, nsp->cap * sizeof(*nsp->sockets));
	}
	s->nsp_idx = nsp->n;
	nsp->sockets[nsp->n++] = s;
	if (s->client->connect_timer != NULL) {
		/* joined a namespace: the timer has done its job */
		event_free(s->client->connect_timer);
		s->client->connect_timer = NULL;
	}
	n = snprintf(js, sizeof(js), "{\"sid\":\"%s\"}", s->id);
	sc_sio_packet_encode(&srv->buf, SC_SIO_CONNECT, nsp->name, 0, -1, js,
	                     (size_t)n);
	send_encoded(s, &srv->buf, NULL, 0);
	return SC_OK;
}

int
sc_sio_refuse(struct sc_sio_socket *s, const char *message, json_object *data)
{
	if (s->state != K_CONNECTING || s->client == NULL) {
		return SC_EAGAIN;
	}
	send_connect_error(s->client, s->nsp->name,
	                   message != NULL ? message : "Not authorized", data);
	unlink_from_client(s);
	s->state = K_DEAD;
	sc_sio_socket_unref(s);
	return SC_OK;
}

void
sc_sio_disconnect(struct sc_sio_socket *s, bool close_conn)
{
	struct sc_sio_server *srv = s->nsp->srv;
	struct sio_client *c = s->client;

	if (s->state != K_CONNECTING && s->state != K_CONNECTED) {
		return;
	}
	if (s->state == K_CONNECTED) {
		sc_sio_packet_encode(&srv->buf, SC_SIO_DISCONNECT, s->nsp->name,
		                     0, -1, NULL, 0);
		send_encoded(s, &srv->buf, NULL, 0);
	}
	socket_end(s, "server namespace disconnect");
	if (close_conn && c != NULL) {
		/* the others get a DISCONNECT each, then the connection
		 * closes after them */
		struct sc_sio_socket *o, *next;

		for (o = c->sockets; o != NULL; o = next) {
			next = o->cnext;
			sc_sio_disconnect(o, false);
		}
		client_close(c, "server namespace disconnect", SC_WS_NORMAL);
	}
}

int
sc_sio_emit(struct sc_sio_socket *s, const char *name, json_object *args)
{
	return sc_sio_emit_binary(s, name, args, NULL, 0);
}

int
sc_sio_emit_binary(struct sc_sio_socket *s, const char *name, json_object *args,
                   const struct sc_sio_bin *bins, size_t nbins)
{
	struct sc_sio_server *srv = s->nsp->srv;
	int rc;

	if (s->state != K_CONNECTED) {
		return SC_EAGAIN;
	}
	rc = encode_event(srv, s->nsp, name, args, (int)nbins, -1);
	return rc == SC_OK ? send_encoded(s, &srv->buf, bins, nbins) : rc;
}

int
sc_sio_emit_with_ack(struct sc_sio_socket *s, const char *name,
                     json_object *args, sc_sio_ack_fn cb, void *arg)
{
	struct sc_sio_server *srv = s->nsp->srv;
	int rc;

	if (s->state != K_CONNECTED) {
		return SC_EAGAIN;
	}
	if (s->nacks >= srv->max_acks) {
		return SC_ETOOBIG;
	}
	rc = encode_event(srv, s->nsp, name, args, 0, s->next_ack);
	if (rc == SC_OK) {
		rc = send_encoded(s, &srv->buf, NULL, 0);
	}
	if (rc != SC_OK) {
		return rc;
	}
	if (s->nacks == s->capacks) {
		s->capacks = s->capacks > 0 ? s->capacks * 2 : 4;
		s->acks = sc_realloc(s->acks, s->capacks * sizeof(*s->acks));
	}
	s->acks[s->nacks].id = s->next_ack++;
	s->acks[s->nacks].cb = cb;
	s->acks[s->nacks].arg = arg;
	s->nacks++;
	return SC_OK;
}

int
sc_sio_ack_send_binary(struct sc_sio_ack *ack, json_object *args,
                       const struct sc_sio_bin *bins, size_t nbins)
{
	struct sc_sio_socket *s = ack->s;
	int rc = SC_EAGAIN;

	if (args != NULL && !json_object_is_type(args, json_type_array)) {
		rc = SC_EINVAL;
	} else if (s->state == K_CONNECTED) {
		struct sc_sio_server *srv = s->nsp->srv;
		const char *js = "[]";
		size_t jlen = 2;

		if (args != NULL) {
			js = json_object_to_json_string_length(
			    args,
			    JSON_C_TO_STRING_PLAIN |
			        JSON_C_TO_STRING_NOSLASHESCAPE,
			    &jlen);
		}
		sc_sio_packet_encode(
		    &srv->buf, nbins > 0 ? SC_SIO_BINARY_ACK : SC_SIO_ACK,
		    s->nsp->name, (int)nbins, ack->id, js, jlen);
		rc = srv->buf.len - 1 > srv->max_payload
		         ? SC_ETOOBIG
		         : send_encoded(s, &srv->buf, bins, nbins);
	}
	sc_sio_ack_free(ack);
	return rc;
}

int
sc_sio_ack_send(struct sc_sio_ack *ack, json_object *args)
{
	return sc_sio_ack_send_binary(ack, args, NULL, 0);
}

void
sc_sio_ack_free(struct sc_sio_ack *ack)
{
	if (ack != NULL) {
		sc_sio_socket_unref(ack->s);
		free(ack);
	}
}

struct sc_sio_socket *
sc_sio_ack_socket(const struct sc_sio_ack *ack)
{
	return ack->s;
}

const char *
sc_sio_socket_id(const struct sc_sio_socket *s)
{
	return s->id;
}

struct sc_sio_nsp *
sc_sio_socket_nsp(const struct sc_sio_socket *s)
{
	return s->nsp;
}

const char *
sc_sio_nsp_name(const struct sc_sio_nsp *nsp)
{
	return nsp->name;
}

bool
sc_sio_socket_connected(const struct sc_sio_socket *s)
{
	return s->state == K_CONNECTED;
}

const char *
sc_sio_socket_peer(const struct sc_sio_socket *s)
{
	return s->state == K_CONNECTED || s->state == K_CONNECTING ? s->peer
	                                                           : "";
}

void
sc_sio_socket_set_data(struct sc_sio_socket *s, void *data)
{
	s->data = data;
}

void *
sc_sio_socket_data(const struct sc_sio_socket *s)
{
	return s->data;
}

/* ---- the server ---------------------------------------------------- */

struct sc_sio_server *
sc_sio_server_new(struct sc_eio_listener *l, const struct sc_sio_opts *opts)
{
	static const struct sc_sio_opts defaults;
	struct sc_sio_server *srv = sc_calloc(1, sizeof(*srv));
	struct sc_eio_opts eopts;
	struct sc_eio_cbs cbs = {
	    .on_open = on_open,
	    .on_message = on_message,
	    .on_close = on_close,
	};
	int ms;

	if (opts == NULL) {
		opts = &defaults;
	}
	eopts = opts->eio;
	if (eopts.path == NULL) {
		eopts.path = "/socket.io/";
	}
	ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 45000;
	srv->connect_timeout.tv_sec = ms / 1000;
	srv->connect_timeout.tv_usec = (ms % 1000) * 1000;
	srv->dopts.max_depth = opts->max_json_depth;
	srv->dopts.max_attachments = opts->max_attachments;
	srv->max_rooms =
	    opts->max_rooms_per_socket > 0 ? opts->max_rooms_per_socket : 256;
	srv->max_acks =
	    opts->max_pending_acks > 0 ? opts->max_pending_acks : 256;
	srv->max_payload = eopts.max_payload > 0 ? eopts.max_payload : 1000000;
	srv->base = sc_eio_listener_base(l);
	srv->reap_ev = event_new(sc_eio_listener_base(l), -1, 0, reap_cb, srv);
	if (srv->reap_ev == NULL) {
		sc_oom();
	}
	srv->eio = sc_eio_server_new(l, &eopts, &cbs, srv);
	return srv;
}

struct sc_sio_nsp *
sc_sio_nsp_new(struct sc_sio_server *srv, const char *name,
               const struct sc_sio_nsp_cbs *cbs, void *arg)
{
	struct sc_sio_nsp *nsp;

	if (name == NULL || name[0] != '/' || strlen(name) > SC_SIO_MAX_NSP ||
	    find_nsp(srv, name) != NULL) {
		return NULL;
	}
	nsp = sc_calloc(1, sizeof(*nsp));
	nsp->srv = srv;
	nsp->name = sc_strdup(name);
	nsp->cbs = *cbs;
	nsp->arg = arg;
	nsp->next = srv->nsps;
	srv->nsps = nsp;
	return nsp;
}

void
sc_sio_server_shutdown(struct sc_sio_server *srv)
{
	srv->shutting_down = true;
	while (srv->clients != NULL) {
		client_close(srv->clients, "server shutting down",
		             SC_WS_GOING_AWAY);
	}
}

size_t
sc_sio_server_count(const struct sc_sio_server *srv)
{
	return sc_eio_server_count(srv->eio);
}

void
sc_sio_server_stats(const struct sc_sio_server *srv, struct sc_sio_stats *out)
{
	memset(out, 0, sizeof *out);
	sc_eio_server_stats(srv->eio, &out->eio);
	for (const struct sc_sio_nsp *nsp = srv->nsps; nsp != NULL;
	     nsp = nsp->next) {
		out->sockets += nsp->n;
		out->rooms += nsp->nrooms;
	}
	out->packets_in = srv->packets_in;
	out->packets_out = srv->packets_out;
}

void
sc_sio_server_free(struct sc_sio_server *srv)
{
	if (srv == NULL) {
		return;
	}
	sc_eio_server_free(srv->eio);
	/* no callbacks from here on */
	while (srv->clients != NULL) {
		struct sio_client *c = srv->clients;

		srv->clients = c->next;
		while (c->sockets != NULL) {
			struct sc_sio_socket *s = c->sockets;

			unlink_from_client(s);
			if (s->state == K_CONNECTED ||
			    s->state == K_CONNECTING) {
				s->state = K_DISCONNECTING;
				s->rnext = srv->reap_sockets;
				srv->reap_sockets = s;
			}
		}
		client_free(c);
	}
	while (srv->reap_clients != NULL) {
		struct sio_client *c = srv->reap_clients;

		srv->reap_clients = c->rnext;
		client_free(c);
	}
	while (srv->reap_sockets != NULL) {
		struct sc_sio_socket *s = srv->reap_sockets;

		srv->reap_sockets = s->rnext;
		s->nacks = 0; /* no callbacks */
		socket_detach(s);
		s->state = K_DEAD;
		sc_sio_socket_unref(s);
	}
	while (srv->nsps != NULL) {
		struct sc_sio_nsp *nsp = srv->nsps;

		srv->nsps = nsp->next;
		free(nsp->sockets);
		for (size_t i = 0; i < nsp->nbuckets; i++) {
			while (nsp->buckets[i] != NULL) {
				struct sio_room *r = nsp->buckets[i];

				nsp->buckets[i] = r->hnext;
				free(r->members);
				free(r->name);
				free(r);
			}
		}
		free(nsp->buckets);
		free(nsp->name);
		free(nsp);
	}
	event_free(srv->reap_ev);
	sc_sio_buf_release(&srv->buf);
	sc_eio_prepared_release(&srv->prep);
	free(srv);
}
