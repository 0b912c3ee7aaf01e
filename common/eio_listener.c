/* eio_listener.c: the listener and its HTTP/1.1 connections (see
 * eio_listener.h and eio-internal.h). A connection reads a head, then a
 * body of Content-Length bytes, hands the request to the endpoint of its
 * path, and goes back to reading once answered (keep-alive). */
#include "eio-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "ws_linger.h"

#define L_DEFAULT_MAX_CONNS  20000
#define L_DEFAULT_MAX_HEADER 8192
#define L_DEFAULT_TIMEOUT_MS 30000

enum conn_state {
	C_HEAD,     /* reading a request head */
	C_BODY,     /* reading its body */
	C_HANDLING, /* with the endpoint's handler */
	C_HELD,     /* a long-poll waiting for its answer */
	C_DONE,     /* closed or handed over: free when idle */
};

struct eio_conn {
	struct sc_eio_listener *l;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state state;
	struct sc_ws_request req;
	struct eio_endpoint *ep;
	char *body;
	size_t body_len;
	void (*gone)(struct eio_conn *c, void *arg);
	void *gone_arg;
	int busy;
	bool keep_alive;
	char peer[INET6_ADDRSTRLEN];
	struct eio_conn *prev, *next;
};

struct sc_eio_listener {
	struct event_base *base;
	struct evconnlistener *lev;
	struct event *retry; /* re-enable accepting after EMFILE */
	size_t max_conns;
	size_t max_header;
	struct timeval timeout;
	struct eio_endpoint *eps;
	struct eio_conn *conns;
	size_t nconns;
	struct sc_ws_linger *linger;
	int port;
};

static void conn_process(struct eio_conn *c);

static const char *
status_text(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 426:
		return "Upgrade Required";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static void
conn_unlink_and_free(struct eio_conn *c)
{
	struct sc_eio_listener *l = c->l;

	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		l->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	l->nconns--;
	if (c->timer != NULL) {
		event_free(c->timer);
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
	}
	sc_ws_request_release(&c->req);
	free(c->body);
	free(c);
}

/* End the connection: hand it to the linger pool (flush, then close) when
 * there may be a response in flight, else close at once. */
static void
conn_close(struct eio_conn *c, bool flush)
{
	if (c->bev != NULL) {
		if (flush) {
			sc_ws_linger_add(c->l->linger, c->bev);
		} else {
			bufferevent_free(c->bev);
		}
		c->bev = NULL;
	}
	c->state = C_DONE;
	if (c->busy == 0) {
		conn_unlink_and_free(c);
	}
}

static void
reset_request(struct eio_conn *c)
{
	sc_ws_request_release(&c->req);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->ep = NULL;
	c->gone = NULL;
	c->gone_arg = NULL;
}

static void
write_head(struct eio_conn *c, int status, const char *ctype, size_t len,
           const char *extra, bool close)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	                    "HTTP/1.1 %d %s\r\n"
	                    "Content-Type: %s\r\n"
	                    "Content-Length: %zu\r\n"
	                    "Cache-Control: no-store\r\n"
	                    "X-Content-Type-Options: nosniff\r\n"
	                    "%s%s\r\n",
	                    status, status_text(status), ctype, len,
	                    extra != NULL ? extra : "",
	                    close ? "Connection: close\r\n" : "");
}

/* After a reply: close, or wait for the next request (which may already
 * be buffered: read it from the loop, not from inside the caller). */
static void
after_reply(struct eio_conn *c, bool close)
{
	reset_request(c);
	if (close) {
		conn_close(c, true);
		return;
	}
	c->state = C_HEAD;
	evtimer_add(c->timer, &c->l->timeout);
	if (c->busy == 0 &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	}
}

void
eio_conn_reply(struct eio_conn *c, int status, const char *ctype,
               const void *body, size_t len, const char *extra, int close)
{
	bool cl = close || !c->keep_alive;

	write_head(c, status, ctype, len, extra, cl);
	evbuffer_add(bufferevent_get_output(c->bev), body, len);
	after_reply(c, cl);
}

void
eio_conn_reply_buffer(struct eio_conn *c, int status, const char *ctype,
                      struct evbuffer *buf)
{
	bool cl = !c->keep_alive;

	write_head(c, status, ctype, evbuffer_get_length(buf), NULL, cl);
	evbuffer_add_buffer(bufferevent_get_output(c->bev), buf);
	after_reply(c, cl);
}

/* A reply of the suite's JSON error shape, for requests that are not for
 * an endpoint at all. */
static void
reply_error(struct eio_conn *c, int status, const char *code,
            const char *message, bool close)
{
	char body[160];
	int n = snprintf(body, sizeof(body),
	                 "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
	                 code, message);

	eio_conn_reply(c, status, "application/json", body, (size_t)n, NULL,
	               close);
}

void
eio_conn_hold(struct eio_conn *c, void (*gone)(struct eio_conn *, void *),
              void *arg)
{
	c->state = C_HELD;
	c->gone = gone;
	c->gone_arg = arg;
	evtimer_del(c->timer);
}

struct bufferevent *
eio_conn_upgrade(struct eio_conn *c, const char *accept)
{
	struct bufferevent *bev = c->bev;

	evbuffer_add_printf(bufferevent_get_output(bev),
	                    "HTTP/1.1 101 Switching Protocols\r\n"
	                    "Upgrade: websocket\r\n"
	                    "Connection: Upgrade\r\n"
	                    "Sec-WebSocket-Accept: %s\r\n\r\n",
	                    accept);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	c->bev = NULL;
	reset_request(c);
	conn_close(c, false);
	return bev;
}

const struct sc_ws_request *
eio_conn_request(struct eio_conn *c)
{
	return &c->req;
}

const char *
eio_conn_body(struct eio_conn *c, size_t *len)
{
	*len = c->body_len;
	return c->body != NULL ? c->body : "";
}

const char *
eio_conn_peer(struct eio_conn *c)
{
	return c->peer;
}

static struct eio_endpoint *
find_endpoint(struct sc_eio_listener *l, const char *path)
{
	for (struct eio_endpoint *ep = l->eps; ep != NULL; ep = ep->next) {
		if (strcmp(ep->path, path) == 0) {
			return ep;
		}
	}
	return NULL;
}

static void
dispatch(struct eio_conn *c)
{
	c->state = C_HANDLING;
	evtimer_del(c->timer);
	c->ep->handle(c->ep, c);
}

/* A whole head is in the input: parse it and decide what comes next. */
static void
on_head(struct eio_conn *c, size_t head_len)
{
	char *head = sc_malloc(head_len);
	int rc;
	const char *expect;

	evbuffer_remove(bufferevent_get_input(c->bev), head, head_len);
	rc = sc_ws_request_parse(&c->req, head, head_len);
	free(head);
	c->keep_alive = rc == SC_OK && c->req.keep_alive;
	if (rc == SC_ETOOBIG) {
		reply_error(c, 431, "bad_request", "too many headers", true);
		return;
	}
	if (rc != SC_OK) {
		reply_error(c, 400, "bad_request", "malformed request", true);
		return;
	}
	c->ep = find_endpoint(c->l, c->req.path);
	if (c->ep == NULL) {
		reply_error(c, 404, "not_found", "not found",
		            c->req.content_length > 0 || c->req.chunked);
		return;
	}
	if (c->req.chunked) {
		reply_error(c, 411, "bad_request", "length required", true);
		return;
	}
	if (c->req.content_length > 0 &&
	    (uint64_t)c->req.content_length > c->ep->max_body) {
		reply_error(c, 413, "payload_too_large", "payload too large",
		            true);
		return;
	}
	if (c->req.content_length <= 0) {
		dispatch(c);
		return;
	}
	expect = sc_ws_request_header(&c->req, "expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		                    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	c->state = C_BODY;
}

static void
conn_process(struct eio_conn *c)
{
	while (c->bev != NULL) {
		struct evbuffer *in = bufferevent_get_input(c->bev);

		if (c->state == C_HEAD) {
			struct evbuffer_ptr p =
			    evbuffer_search(in, "\r\n\r\n", 4, NULL);

			if (p.pos < 0) {
				if (evbuffer_get_length(in) >
				    c->l->max_header) {
					reply_error(c, 431, "bad_request",
					            "request head too large",
					            true);
				}
				return;
			}
			if ((size_t)p.pos + 4 > c->l->max_header) {
				reply_error(c, 431, "bad_request",
				            "request head too large", true);
				return;
			}
			on_head(c, (size_t)p.pos + 4);
		} else if (c->state == C_BODY) {
			size_t need = (size_t)c->req.content_length;

			if (evbuffer_get_length(in) < need) {
				return;
			}
			c->body = sc_malloc(need + 1);
			evbuffer_remove(in, c->body, need);
			c->body[need] = '\0';
			c->body_len = need;
			dispatch(c);
		} else if (c->state == C_HELD) {
			/* a client may pipeline while its poll is held: keep
			 * it for later, within bounds */
			if (evbuffer_get_length(in) > c->l->max_header) {
				if (c->gone != NULL) {
					c->gone(c, c->gone_arg);
				}
				conn_close(c, false);
			}
			return;
		} else {
			return;
		}
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct eio_conn *c = arg;

	c->busy++;
	conn_process(c);
	c->busy--;
	if (c->state == C_DONE && c->busy == 0) {
		conn_unlink_and_free(c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	struct eio_conn *c = arg;

	c->busy++;
	if (c->state == C_HELD && c->gone != NULL) {
		c->gone(c, c->gone_arg);
	}
	c->busy--;
	conn_close(c, false);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct eio_conn *c = arg;

	if (c->state == C_HEAD || c->state == C_BODY) {
		conn_close(c, false);
	}
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
          int salen, void *arg)
{
	(void)lev;
	(void)salen;
	struct sc_eio_listener *l = arg;
	struct eio_conn *c;
	int one = 1;

	if (l->nconns >= l->max_conns) {
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = sc_calloc(1, sizeof(*c));
	c->l = l;
	c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(l->base, conn_timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		sc_log_error(NULL, "cannot accept connection: no memory");
		if (c->bev != NULL) {
			bufferevent_free(c->bev);
		} else {
			evutil_closesocket(fd);
		}
		if (c->timer != NULL) {
			event_free(c->timer);
		}
		free(c);
		return;
	}
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		          c->peer, sizeof(c->peer));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		          c->peer, sizeof(c->peer));
	}
	c->state = C_HEAD;
	c->req.content_length = -1;
	c->next = l->conns;
	if (l->conns != NULL) {
		l->conns->prev = c;
	}
	l->conns = c;
	l->nconns++;
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &l->timeout);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sc_eio_listener *l = arg;

	if (l->lev != NULL) {
		evconnlistener_enable(l->lev);
	}
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct sc_eio_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, 100 * 1000};

	/* Out of descriptors: stop accepting for a moment rather than spin
	 * on a listening socket that stays readable. */
	sc_log_warn(NULL, "cannot accept connection: %s",
	            evutil_socket_error_to_string(err));
	evconnlistener_disable(lev);
	evtimer_add(l->retry, &tv);
}

struct sc_eio_listener *
sc_eio_listener_new(struct event_base *base,
                    const struct sc_eio_listener_opts *opts)
{
	struct sc_eio_listener *l = sc_calloc(1, sizeof(*l));
	struct sigaction sa;
	int timeout_ms = opts != NULL && opts->request_timeout_ms > 0
	                     ? opts->request_timeout_ms
	                     : L_DEFAULT_TIMEOUT_MS;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		signal(SIGPIPE, SIG_IGN);
	}
	l->base = base;
	l->port = -1;
	l->max_conns = opts != NULL && opts->max_conns > 0
	                   ? opts->max_conns
	                   : L_DEFAULT_MAX_CONNS;
	l->max_header = opts != NULL && opts->max_header > 0
	                    ? opts->max_header
	                    : L_DEFAULT_MAX_HEADER;
	l->timeout.tv_sec = timeout_ms / 1000;
	l->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	l->linger = sc_ws_linger_new(opts != NULL ? opts->linger_ms : 0);
	l->retry = evtimer_new(base, retry_cb, l);
	if (l->retry == NULL) {
		sc_ws_linger_free(l->linger);
		free(l);
		return NULL;
	}
	return l;
}

int
sc_eio_listener_bind(struct sc_eio_listener *l, const char *addr, int port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char spec[300];

	/* libevent refuses port 0 in "host:port": parse the host alone */
	snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]" : "%s", addr);
	if (port < 0 || port > 65535 ||
	    evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) !=
	        0) {
		sc_log_error(NULL, "cannot bind '%s:%d': not an address", spec,
		             port);
		return SC_EINVAL;
	}
	if (ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	} else {
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	}
	snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%d" : "%s:%d",
	         addr, port);
	l->lev = evconnlistener_new_bind(
	    l->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
	    -1, (struct sockaddr *)&ss, sslen);
	if (l->lev == NULL) {
		sc_log_error(NULL, "cannot bind '%s': %s", spec,
		             strerror(errno));
		return SC_EINVAL;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&ss,
	                (socklen_t *)&sslen) == 0) {
		l->port = ss.ss_family == AF_INET6
		              ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		              : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return SC_OK;
}

int
sc_eio_listener_port(const struct sc_eio_listener *l)
{
	return l->lev != NULL ? l->port : -1;
}

void
sc_eio_listener_close(struct sc_eio_listener *l)
{
	if (l->lev != NULL) {
		evconnlistener_free(l->lev);
		l->lev = NULL;
	}
}

size_t
sc_eio_listener_conns(const struct sc_eio_listener *l)
{
	return l->nconns + sc_ws_linger_count(l->linger);
}

void
sc_eio_listener_free(struct sc_eio_listener *l)
{
	if (l == NULL) {
		return;
	}
	sc_eio_listener_close(l);
	while (l->conns != NULL) {
		l->conns->busy = 0;
		conn_unlink_and_free(l->conns);
	}
	sc_ws_linger_free(l->linger);
	event_free(l->retry);
	free(l);
}

void
eio_listener_attach(struct sc_eio_listener *l, struct eio_endpoint *ep)
{
	ep->next = l->eps;
	l->eps = ep;
}

void
eio_listener_detach(struct sc_eio_listener *l, struct eio_endpoint *ep)
{
	struct eio_endpoint **pp = &l->eps;

	while (*pp != NULL && *pp != ep) {
		pp = &(*pp)->next;
	}
	if (*pp != NULL) {
		*pp = ep->next;
	}
	/* connections mid-request for it answer 404 from now on */
	for (struct eio_conn *c = l->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->ep == ep && c->state == C_BODY) {
			c->ep = NULL;
			conn_close(c, false);
		}
	}
}

struct event_base *
eio_listener_base(struct sc_eio_listener *l)
{
	return l->base;
}

struct sc_ws_linger *
eio_listener_linger(struct sc_eio_listener *l)
{
	return l->linger;
}

struct event_base *
sc_eio_listener_base(const struct sc_eio_listener *l)
{
	return l->base;
}
