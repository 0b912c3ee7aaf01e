/* http.c: the suite's HTTP layer on libevent 2.1 evhttp: routing with path
 * parameters, checked JSON bodies, the JSON error shape, request ids, client
 * addresses behind a proxy, and one access-log line per request. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "validate.h"

#define HTTP_DEFAULT_MAX_BODY 65536
#define HTTP_MAX_BODY_LIMIT   (64L * 1024 * 1024)
#define HTTP_HARD_CAP_MIN     (1024 * 1024)
#define HTTP_JSON_DEPTH       32
#define HTTP_MAX_HEADERS_SIZE (32 * 1024)
#define HTTP_TIMEOUT_SECS     60
#define HTTP_ID_MAX           64
#define HTTP_JSON_TYPE        "application/json; charset=utf-8"

/* The methods evhttp lets through to us; anything else gets libevent's own
 * 501. TRACE and CONNECT are never wanted. */
#define HTTP_METHODS                                                           \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | \
	 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH)

/* A route's series (metrics.h), when the server has metrics. */
struct http_route_mx {
	struct sc_metric *codes[4]; /* 2xx, 3xx, 4xx, 5xx */
	struct sc_metric *duration;
};

struct http_route {
	int method;
	const char *pattern; /* borrowed from the caller, a literal */
	unsigned flags;
	sc_http_handler_fn fn;
	void *arg;
	struct http_route_mx *mx; /* NULL without metrics */
};

struct http_kv {
	char *name;
	char *value;
};

/* A list of name/value pairs that owns its strings. */
struct http_kvs {
	struct http_kv *v;
	size_t n, cap;
};

struct http_addr {
	int family;
	unsigned char bytes[16];
};

/* A trusted proxy: an address, or a network when bits is below the
 * address's length ("10.0.0.0/8"). */
struct http_net {
	struct http_addr addr;
	unsigned bits;
};

struct sc_http_server {
	struct event_base *base;
	struct evhttp *http;
	size_t max_body;
	struct http_net *proxies;
	size_t nproxies;
	struct http_route *routes;
	size_t nroutes, routes_cap;
	struct evhttp_bound_socket **socks;
	size_t nsocks;
	int port;
	bool closing;
	/* Requests handed to a handler and not yet replied to. */
	struct sc_http_req *live;
	size_t nlive;
	/* Replies handed to libevent and not yet fully written. */
	size_t nwriting;
	/* metrics.h: borrowed registry and its families, or NULL. */
	struct sc_metrics *metrics;
	struct sc_metric_family *f_requests, *f_duration;
	struct sc_metric *in_flight;
};

/* One per request; owns everything for it and goes with the reply. The
 * request headers are copied so that what the handler borrows stays valid
 * until the reply even if libevent frees its request first. */
struct sc_http_req {
	struct sc_http_server *srv; /* NULL once the server is freed */
	struct sc_http_req *prev, *next;
	struct evhttp_request *ev; /* NULL once libevent freed it */
	int method;
	char *path;
	struct http_kvs headers;
	struct http_kvs params;
	struct http_kvs query;
	struct http_kvs cookies;
	bool cookies_parsed;
	json_object *json;
	void *data;
	const struct http_route_mx *mx; /* the route's series, or NULL */
	struct timespec start;
	char id[HTTP_ID_MAX + 1];
	char ip[INET6_ADDRSTRLEN];
};

/* ---- small helpers --------------------------------------------------- */

static void
kvs_add(struct http_kvs *kvs, char *name, char *value)
{
	if (kvs->n == kvs->cap) {
		kvs->cap = kvs->cap ? kvs->cap * 2 : 4;
		kvs->v = sc_realloc(kvs->v, kvs->cap * sizeof *kvs->v);
	}
	kvs->v[kvs->n].name = name;
	kvs->v[kvs->n].value = value;
	kvs->n++;
}

static void
kvs_release(struct http_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++) {
		free(kvs->v[i].name);
		free(kvs->v[i].value);
	}
	free(kvs->v);
	kvs->v = NULL;
	kvs->n = kvs->cap = 0;
}

static const char *
kvs_get(const struct http_kvs *kvs, const char *name, bool nocase)
{
	for (size_t i = 0; i < kvs->n; i++) {
		if (nocase ? strcasecmp(kvs->v[i].name, name) == 0
		           : strcmp(kvs->v[i].name, name) == 0) {
			return kvs->v[i].value;
		}
	}
	return NULL;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Percent-decode s[0..n) (and '+' to space when `plus`). Caller owns the
 * result; free with free(). NULL when the result holds a NUL or is not
 * valid UTF-8: such a value cannot be passed on as a C string or to
 * PostgreSQL text. A '%' not followed by two hex digits stays as is. */
static char *
percent_decode(const char *s, size_t n, bool plus)
{
	char *out = sc_malloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n &&
		    (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL || sc_utf8_length(out, o) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

static const char *
method_name(int method)
{
	switch (method) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "UNKNOWN";
	}
}

/* Reason phrases libevent 2.1 does not know. */
static const char *
reason_phrase(int status)
{
	switch (status) {
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	default:
		return NULL; /* libevent's own table */
	}
}

static bool
addr_parse(const char *s, struct http_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, s, a->bytes) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->bytes) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

static bool
addr_from_sockaddr(const struct sockaddr *sa, struct http_addr *a)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
	                                           0, 0, 0, 0, 0xff, 0xff};

	memset(a, 0, sizeof *a);
	if (sa == NULL) {
		return false;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		memcpy(a->bytes, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
		if (memcmp(&in6->sin6_addr, v4mapped, 12) == 0) {
			a->family = AF_INET;
			memcpy(a->bytes,
			       (const unsigned char *)&in6->sin6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->bytes, &in6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

static void
addr_format(const struct http_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL) {
		snprintf(buf, len, "unknown");
	}
}

/* Whether a lies in network n: the first n->bits bits are equal. */
static bool
net_contains(const struct http_net *n, const struct http_addr *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (a->family != n->addr.family) {
		return false;
	}
	if (memcmp(a->bytes, n->addr.bytes, full) != 0) {
		return false;
	}
	if (rest == 0) {
		return true;
	}
	return ((a->bytes[full] ^ n->addr.bytes[full]) & (0xffu << (8 - rest)) &
	        0xffu) == 0;
}

/* "addr" or "addr/bits" into *n; false when either part is bad. */
static bool
net_parse(char *item, struct http_net *n)
{
	char *slash = strchr(item, '/');
	unsigned max;

	if (slash != NULL) {
		*slash = '\0';
	}
	if (!addr_parse(item, &n->addr)) {
		return false;
	}
	max = n->addr.family == AF_INET ? 32 : 128;
	n->bits = max;
	if (slash != NULL) {
		const char *d = slash + 1;
		size_t len = strspn(d, "0123456789");
		unsigned long bits;

		if (len == 0 || len > 3 || d[len] != '\0') {
			return false;
		}
		bits = strtoul(d, NULL, 10);
		if (bits > max) {
			return false;
		}
		n->bits = (unsigned)bits;
	}
	return true;
}

/* Parse "a, b/n, c" into srv->proxies. SC_OK or SC_EINVAL (logged, naming
 * `what`: where the list came from). */
static int
proxies_parse(struct sc_http_server *srv, const char *list, const char *what)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n;
		char item[INET6_ADDRSTRLEN + 5];
		struct http_net net;

		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n == 0) {
			p += strcspn(p, ",");
			continue;
		}
		if (n >= sizeof item) {
			goto bad;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (!net_parse(item, &net)) {
			goto bad;
		}
		srv->proxies = sc_realloc(
		    srv->proxies, (srv->nproxies + 1) * sizeof *srv->proxies);
		srv->proxies[srv->nproxies++] = net;
		p += strcspn(p, ",");
	}
	return SC_OK;
bad:
	sc_log_error(NULL,
	             "invalid %s '%s': each must be an IP address or a "
	             "network (10.0.0.0/8, fd00::/8)",
	             what, list);
	return SC_EINVAL;
}

static bool
proxy_trusted(const struct sc_http_server *srv, const struct http_addr *a)
{
	for (size_t i = 0; i < srv->nproxies; i++) {
		if (net_contains(&srv->proxies[i], a)) {
			return true;
		}
	}
	return false;
}

static bool
id_sane(const char *s)
{
	size_t n;

	if (s == NULL) {
		return false;
	}
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789._-");
	return n >= 1 && n <= HTTP_ID_MAX && s[n] == '\0';
}

static void
id_generate(char out[HTTP_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	static uint64_t counter;
	unsigned char bytes[16];
	size_t got = 0;

	while (got < sizeof bytes) {
		ssize_t r = getrandom(bytes + got, sizeof bytes - got, 0);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	if (got < sizeof bytes) {
		/* No kernel randomness (never seen on Linux >= 3.17): an id
		 * only has to be unique enough to find log lines. */
		struct timespec ts;
		uint64_t a, b;

		clock_gettime(CLOCK_REALTIME, &ts);
		a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		b = ++counter ^ ((uint64_t)getpid() << 32);
		memcpy(bytes, &a, 8);
		memcpy(bytes + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof bytes; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	out[2 * sizeof bytes] = '\0';
}

/* True for "application/json" with optional parameters, any case. */
static bool
is_json_type(const char *ct)
{
	static const char want[] = "application/json";

	if (ct == NULL) {
		return false;
	}
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, want, sizeof want - 1) != 0) {
		return false;
	}
	ct += sizeof want - 1;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

static double
ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* ---- the request object ------------------------------------------- */

static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct sc_http_req *req = arg;

	(void)evcon;
	/* The connection is being freed while our handler still holds the
	 * request. Two cases in libevent 2.1.12 (http.c):
	 * - evhttp_connection_incoming_fail() on EOF/timeout detached the
	 *   request first (req->evcon = NULL, out of the connection's queue):
	 *   it is still ours, and evhttp_send_reply() on it just frees it;
	 * - otherwise (evhttp_free() at shutdown, say) evhttp_connection_free()
	 *   frees the request with the connection right after this callback,
	 *   so forget it and drop the reply when it comes. */
	if (req->ev != NULL && evhttp_request_get_connection(req->ev) != NULL) {
		req->ev = NULL;
	}
}

static void
req_unlink(struct sc_http_req *req)
{
	struct sc_http_server *srv = req->srv;

	if (srv == NULL) {
		return;
	}
	if (req->prev != NULL) {
		req->prev->next = req->next;
	} else {
		srv->live = req->next;
	}
	if (req->next != NULL) {
		req->next->prev = req->prev;
	}
	srv->nlive--;
	req->srv = NULL;
	req->prev = req->next = NULL;
}

static void
reply_written_cb(struct evhttp_request *ev, void *arg)
{
	struct sc_http_server *srv = arg;
	(void)ev;
	srv->nwriting--;
}

static void
req_free(struct sc_http_req *req)
{
	req_unlink(req);
	free(req->path);
	kvs_release(&req->headers);
	kvs_release(&req->params);
	kvs_release(&req->query);
	kvs_release(&req->cookies);
	json_object_put(req->json);
	free(req);
}

static void
req_parse_query(struct sc_http_req *req, const char *q)
{
	while (q != NULL && *q != '\0') {
		size_t n = strcspn(q, "&;");
		const char *eq = memchr(q, '=', n);
		size_t klen = eq != NULL ? (size_t)(eq - q) : n;

		if (klen > 0) {
			char *k = percent_decode(q, klen, true);
			char *v =
			    eq != NULL
			        ? percent_decode(eq + 1, n - klen - 1, true)
			        : sc_strdup("");
			if (k != NULL && v != NULL) {
				kvs_add(&req->query, k, v);
			} else {
				free(k);
				free(v);
			}
		}
		q += n;
		if (*q != '\0') {
			q++;
		}
	}
}

/* Build the request object from libevent's: copies of the path, query and
 * headers, the id, the client address. */
static struct sc_http_req *
req_new(struct sc_http_server *srv, struct evhttp_request *ev)
{
	struct sc_http_req *req = sc_calloc(1, sizeof *req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
	struct evkeyval *h;
	struct http_addr peer, real;
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *xrip;

	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->srv = srv;
	req->ev = ev;
	req->method = (int)evhttp_request_get_command(ev);
	req->path = sc_strdup(path != NULL && *path != '\0' ? path : "/");
	for (h = in->tqh_first; h != NULL; h = h->next.tqe_next) {
		kvs_add(&req->headers, sc_strdup(h->key), sc_strdup(h->value));
	}
	if (uri != NULL) {
		req_parse_query(req, evhttp_uri_get_query(uri));
	}

	if (id_sane(kvs_get(&req->headers, "X-Request-Id", true))) {
		snprintf(req->id, sizeof req->id, "%s",
		         kvs_get(&req->headers, "X-Request-Id", true));
	} else {
		id_generate(req->id);
	}

	if (!addr_from_sockaddr(
	        evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL,
	        &peer)) {
		snprintf(req->ip, sizeof req->ip, "unknown");
	} else {
		xrip = kvs_get(&req->headers, "X-Real-IP", true);
		if (xrip != NULL && proxy_trusted(srv, &peer) &&
		    addr_parse(xrip, &real)) {
			addr_format(&real, req->ip, sizeof req->ip);
		} else {
			addr_format(&peer, req->ip, sizeof req->ip);
		}
	}

	req->next = srv->live;
	if (srv->live != NULL) {
		srv->live->prev = req;
	}
	srv->live = req;
	srv->nlive++;
	if (evcon != NULL) {
		evhttp_connection_set_closecb(evcon, conn_close_cb, req);
	}
	return req;
}

/* ---- replies ------------------------------------------------------ */

static void
access_log(struct sc_http_req *req, int status, size_t bytes, bool gone,
           double ms)
{
	enum sc_log_level level = SC_LOG_INFO;
	struct sc_json_out o;
	char ms_s[32];
	int n;

	if (strcmp(req->path, "/health") == 0 ||
	    strcmp(req->path, "/metrics") == 0) {
		level = SC_LOG_DEBUG;
	}
	if (!sc_log_enabled(level)) {
		return;
	}
	/* Written as text, not a tree: this is one line per request. The
	 * members only, sc_log_members adds them after "msg". */
	sc_json_out_init(&o);
	sc_json_out_key(&o, "method");
	sc_json_out_string(&o, method_name(req->method));
	sc_json_out_key(&o, "path");
	sc_json_out_string(&o, req->path);
	sc_json_out_key(&o, "status");
	sc_json_out_int(&o, status);
	/* Microsecond precision is plenty, and keeps the line short. */
	n = snprintf(ms_s, sizeof ms_s, "%.3f", ms);
	sc_json_out_key(&o, "durationMs");
	sc_json_out_raw(&o, ms_s, (size_t)n);
	sc_json_out_key(&o, "clientIp");
	sc_json_out_string(&o, req->ip);
	sc_json_out_key(&o, "bytes");
	sc_json_out_int(&o, (int64_t)bytes);
	if (gone) {
		sc_json_out_key(&o, "clientGone");
		sc_json_out_bool(&o, true);
	}
	sc_log_members(level, req->id, "request", sc_json_out_text(&o),
	               sc_json_out_len(&o));
	sc_json_out_release(&o);
}

static int
status_class(int status)
{
	int c = status / 100 - 2;
	return c < 0 ? 0 : c > 3 ? 3 : c;
}

/* Count the reply in its route's series (or under "unmatched"). */
static void
http_count(struct sc_http_req *req, int status, double ms)
{
	struct sc_http_server *srv = req->srv;
	static const char *const codes[] = {"2xx", "3xx", "4xx", "5xx"};
	int c = status_class(status);

	if (req->mx != NULL) {
		sc_metric_inc(req->mx->codes[c]);
		sc_metric_observe(req->mx->duration, ms / 1e3);
		return;
	}
	/* Rare (404s, 405s): found by name each time; the method comes
	 * from a fixed set, so the series stay few. */
	sc_metric_inc(sc_metric_series(
	    srv->f_requests, (const char *const[]){method_name(req->method),
	                                           "unmatched", codes[c]}));
}

/* Send status and body (content_type NULL: no body) and free the request.
 * With the client gone, only log and free. */
static void
reply_send(struct sc_http_req *req, int status, const char *content_type,
           const char *body, size_t len)
{
	struct evhttp_request *ev = req->ev;
	size_t sent = 0;
	double ms;

	if (ev != NULL) {
		struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
		struct evhttp_connection *evcon =
		    evhttp_request_get_connection(ev);

		if (content_type != NULL) {
			evhttp_remove_header(out, "Content-Type");
			evhttp_add_header(out, "Content-Type", content_type);
		}
		if (content_type != NULL && req->method == EVHTTP_REQ_HEAD) {
			/* libevent 2.1 writes a body after a HEAD reply too
			 * (evhttp_make_header), which breaks the framing:
			 * send only the length the GET would have. */
			char n[32];
			snprintf(n, sizeof n, "%zu", len);
			evhttp_add_header(out, "Content-Length", n);
		} else if (content_type != NULL && status != 204 &&
		           status != 304) {
			evbuffer_add(evhttp_request_get_output_buffer(ev), body,
			             len);
			sent = len;
		}
		evhttp_add_header(out, "Cache-Control", "no-store");
		evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
		evhttp_add_header(out, "X-Request-Id", req->id);
		if (req->srv != NULL && req->srv->closing) {
			/* Shutting down: no more requests on this one. */
			evhttp_remove_header(out, "Connection");
			evhttp_add_header(out, "Connection", "close");
		}
		if (evcon != NULL) {
			evhttp_connection_set_closecb(evcon, NULL, NULL);
			if (req->srv != NULL) {
				/* Counted until written, so a drain waits for
				 * the bytes, not just for the handler. */
				req->srv->nwriting++;
				evhttp_request_set_on_complete_cb(
				    ev, reply_written_cb, req->srv);
			}
		}
		/* Frees ev once written, or at once when libevent detached
		 * it from a failed connection (evhttp_send: evcon NULL). */
		evhttp_send_reply(ev, status, reason_phrase(status), NULL);
		req->ev = NULL;
	}
	/* One clock read for the access log and the metrics. */
	ms = ms_since(&req->start);
	if (req->srv != NULL && req->srv->metrics != NULL) {
		http_count(req, status, ms);
	}
	access_log(req, status, sent, ev == NULL, ms);
	req_free(req);
}

void
sc_http_reply_json(struct sc_http_req *req, int status, json_object *body)
{
	if (body == NULL) {
		/* 204 and 304 carry no body at all; others an empty one. */
		bool none = status == 204 || status == 304;
		reply_send(req, status, none ? NULL : HTTP_JSON_TYPE, "", 0);
		return;
	}
	const char *s = json_object_to_json_string_ext(
	    body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	reply_send(req, status, HTTP_JSON_TYPE, s, strlen(s));
	json_object_put(body);
}

void
sc_http_reply_json_text(struct sc_http_req *req, int status, const char *json,
                        size_t len)
{
	reply_send(req, status, HTTP_JSON_TYPE, json, len);
}

void
sc_http_reply_error(struct sc_http_req *req, int status, const char *code,
                    const char *message, json_object *details)
{
	json_object *err = json_object_new_object();
	json_object *body = json_object_new_object();

	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	if (details != NULL) {
		json_object_object_add(err, "details", details);
	}
	json_object_object_add(body, "error", err);
	sc_http_reply_json(req, status, body);
}

void
sc_http_reply_err(struct sc_http_req *req, int err, const char *message)
{
	sc_http_reply_error(req, sc_err_http_status(err), sc_err_code(err),
	                    message != NULL ? message : sc_err_str(err), NULL);
}

void
sc_http_reply_rate_limited(struct sc_http_req *req, int retry_after_s,
                           const char *message)
{
	char s[16];

	snprintf(s, sizeof s, "%d", retry_after_s > 0 ? retry_after_s : 1);
	sc_http_req_add_header(req, "Retry-After", s);
	sc_http_reply_err(req, SC_ERATELIMIT, message);
}

void
sc_http_reply_text(struct sc_http_req *req, int status,
                   const char *content_type, const char *text)
{
	if (text == NULL) {
		text = "";
	}
	reply_send(req, status,
	           content_type != NULL ? content_type
	                                : "text/plain; charset=utf-8",
	           text, strlen(text));
}

/* ---- dispatch ----------------------------------------------------- */

enum { ROUTE_NO, ROUTE_YES, ROUTE_BAD };

/* Match `path` against `pattern` segment by segment. On ROUTE_YES, the
 * decoded ":name" values are in *params (when not NULL). ROUTE_BAD: the
 * shape matches but a parameter decodes to something unusable. */
static int
route_match(const char *pattern, const char *path, struct http_kvs *params)
{
	const char *pat = pattern, *p = path;
	struct http_kvs got = {0};

	while (*pat != '\0' && *p != '\0') {
		size_t plen, slen;

		if (*pat != '/' || *p != '/') {
			goto no;
		}
		pat++;
		p++;
		plen = strcspn(pat, "/");
		slen = strcspn(p, "/");
		if (pat[0] == ':') {
			if (slen == 0) {
				goto no;
			}
			if (params != NULL) {
				char *v = percent_decode(p, slen, false);
				if (v == NULL) {
					kvs_release(&got);
					return ROUTE_BAD;
				}
				kvs_add(&got, sc_strndup(pat + 1, plen - 1), v);
			}
		} else if (plen != slen || memcmp(pat, p, plen) != 0) {
			goto no;
		}
		pat += plen;
		p += slen;
	}
	if (*pat != '\0' || *p != '\0') {
		goto no;
	}
	if (params != NULL) {
		*params = got;
	}
	return ROUTE_YES;
no:
	kvs_release(&got);
	return ROUTE_NO;
}

static void
reply_not_allowed(struct sc_http_req *req, unsigned allowed)
{
	static const int order[] = {EVHTTP_REQ_GET,    EVHTTP_REQ_HEAD,
	                            EVHTTP_REQ_POST,   EVHTTP_REQ_PUT,
	                            EVHTTP_REQ_PATCH,  EVHTTP_REQ_DELETE,
	                            EVHTTP_REQ_OPTIONS};
	char allow[128] = "";
	size_t n = 0;

	for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
		if (allowed & (unsigned)order[i]) {
			n += (size_t)snprintf(allow + n, sizeof allow - n,
			                      "%s%s", n > 0 ? ", " : "",
			                      method_name(order[i]));
		}
	}
	sc_http_req_add_header(req, "Allow", allow);
	sc_http_reply_err(req, SC_EMETHOD, NULL);
}

/* Check and parse the body of a JSON route into req->json. Replies the
 * error and returns false when the body is unacceptable. */
static bool
req_read_json(struct sc_http_req *req, unsigned flags)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t len = evbuffer_get_length(in);
	size_t max = req->srv->max_body;
	const char *cl = kvs_get(&req->headers, "Content-Length", true);
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	char *buf;
	size_t end;

	if (len > max || (cl != NULL && strtoull(cl, NULL, 10) > max)) {
		char msg[64];
		snprintf(msg, sizeof msg, "body must be at most %zu bytes",
		         max);
		sc_http_reply_err(req, SC_ETOOBIG, msg);
		return false;
	}
	if (len == 0 && (flags & SC_HTTP_JSON_OPTIONAL)) {
		req->json = json_object_new_object();
		return true;
	}
	if (!is_json_type(kvs_get(&req->headers, "Content-Type", true))) {
		sc_http_reply_err(req, SC_EMEDIATYPE,
		                  "content type must be application/json");
		return false;
	}
	buf = sc_malloc(len + 1);
	evbuffer_copyout(in, buf, len);
	buf[len] = '\0';
	/* json-c's own UTF-8 check lets overlong forms and surrogates
	 * through; ours does not. A NUL would end json-c's input early. */
	if (memchr(buf, '\0', len) != NULL || sc_utf8_length(buf, len) < 0) {
		free(buf);
		sc_http_reply_error(req, 400, "bad_json",
		                    "body is not valid UTF-8", NULL);
		return false;
	}
	tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
	if (tok == NULL) {
		sc_oom();
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	                                JSON_TOKENER_ALLOW_TRAILING_CHARS |
	                                JSON_TOKENER_VALIDATE_UTF8);
	/* The length includes the final NUL: the input ends here. */
	obj = json_tokener_parse_ex(tok, buf, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		char msg[96];
		json_object_put(obj);
		free(buf);
		snprintf(msg, sizeof msg, "body is not valid JSON: %s",
		         jerr == json_tokener_error_depth
		             ? "nested too deeply"
		             : json_tokener_error_desc(jerr));
		sc_http_reply_error(req, 400, "bad_json", msg, NULL);
		return false;
	}
	while (end < len && (buf[end] == ' ' || buf[end] == '\t' ||
	                     buf[end] == '\r' || buf[end] == '\n')) {
		end++;
	}
	free(buf);
	if (end < len) {
		json_object_put(obj);
		sc_http_reply_error(req, 400, "bad_json",
		                    "body has data after the JSON value", NULL);
		return false;
	}
	if (!sc_json_no_nan(obj)) {
		json_object_put(obj);
		sc_http_reply_error(req, 400, "bad_json",
		                    "body is not valid JSON: NaN and Infinity "
		                    "are not numbers in JSON",
		                    NULL);
		return false;
	}
	/* A JSON null parses to NULL. */
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		sc_http_reply_err(req, SC_EINVAL, "body must be a JSON object");
		return false;
	}
	req->json = obj;
	return true;
}

static void
http_gen_cb(struct evhttp_request *ev, void *arg)
{
	struct sc_http_server *srv = arg;
	struct sc_http_req *req = req_new(srv, ev);
	const struct http_route *route = NULL;
	unsigned allowed = 0;
	bool bad = false;

	for (size_t i = 0; i < srv->nroutes && route == NULL; i++) {
		const struct http_route *r = &srv->routes[i];
		bool method_ok = r->method == req->method ||
		                 (r->method == EVHTTP_REQ_GET &&
		                  req->method == EVHTTP_REQ_HEAD);

		switch (route_match(r->pattern, req->path,
		                    method_ok ? &req->params : NULL)) {
		case ROUTE_YES:
			if (method_ok) {
				route = r;
			} else {
				allowed |= (unsigned)r->method;
				if (r->method == EVHTTP_REQ_GET) {
					allowed |= EVHTTP_REQ_HEAD;
				}
			}
			break;
		case ROUTE_BAD:
			bad = true;
			break;
		default:
			break;
		}
	}
	if (route == NULL) {
		if (bad) {
			sc_http_reply_err(req, SC_EINVAL,
			                  "invalid path parameter");
		} else if (allowed != 0) {
			reply_not_allowed(req, allowed);
		} else {
			sc_http_reply_err(req, SC_ENOTFOUND, NULL);
		}
		return;
	}
	req->mx = route->mx;
	if ((route->flags & (SC_HTTP_JSON | SC_HTTP_JSON_OPTIONAL)) &&
	    !req_read_json(req, route->flags)) {
		return;
	}
	/* The handler owns req from here until its one reply. */
	route->fn(req, route->arg);
}

/* ---- the server --------------------------------------------------- */

struct sc_http_server *
sc_http_server_new(struct event_base *base, const struct sc_http_opts *opts)
{
	struct sc_http_server *srv = sc_calloc(1, sizeof *srv);
	const char *proxies;
	struct sigaction sa;
	size_t cap;
	long max;

	srv->base = base;
	srv->port = -1;
	if (opts != NULL && opts->max_body > 0) {
		srv->max_body = opts->max_body;
	} else {
		if (sc_config_int("SC_MAX_BODY_BYTES", HTTP_DEFAULT_MAX_BODY, 1,
		                  HTTP_MAX_BODY_LIMIT, &max) != SC_OK) {
			goto err;
		}
		srv->max_body = (size_t)max;
	}
	proxies = opts != NULL && opts->trusted_proxies != NULL
	              ? opts->trusted_proxies
	              : sc_config_str("SC_TRUSTED_PROXIES", "127.0.0.1,::1");
	if (proxies_parse(srv, proxies,
	                  opts != NULL && opts->trusted_proxies != NULL
	                      ? "trusted proxies"
	                      : "SC_TRUSTED_PROXIES") != SC_OK) {
		goto err;
	}
	if ((srv->http = evhttp_new(base)) == NULL) {
		sc_log_error(NULL,
		             "cannot create http server: evhttp_new failed");
		goto err;
	}
	evhttp_set_gencb(srv->http, http_gen_cb, srv);
	evhttp_set_allowed_methods(srv->http, HTTP_METHODS);
	/* libevent reads whole bodies before calling us. Its own cap (a
	 * plain 413 from libevent, not our JSON shape) stops a client from
	 * making it buffer without limit; ours, checked in req_read_json,
	 * gives the JSON 413. In deployment nginx's client_max_body_size
	 * rejects big bodies before either. */
	cap = srv->max_body * 4;
	if (cap < HTTP_HARD_CAP_MIN) {
		cap = HTTP_HARD_CAP_MIN;
	}
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)cap);
	evhttp_set_max_headers_size(srv->http, HTTP_MAX_HEADERS_SIZE);
	evhttp_set_timeout(srv->http, HTTP_TIMEOUT_SECS);
	/* Writing to a peer that has gone would otherwise kill the process
	 * (libevent writes with plain write()). Leave any handler the
	 * program installed. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	return srv;
err:
	free(srv->proxies);
	free(srv);
	return NULL;
}

int
sc_http_server_bind(struct sc_http_server *srv, const char *addr, int port)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	if (port < 0 || port > 65535) {
		sc_log_error(NULL, "cannot bind '%s:%d': port out of range",
		             addr, port);
		return SC_EINVAL;
	}
	errno = 0;
	bs = evhttp_bind_socket_with_handle(srv->http, addr, (ev_uint16_t)port);
	if (bs == NULL) {
		sc_log_error(NULL, "cannot bind '%s:%d': %s", addr, port,
		             errno != 0 ? strerror(errno)
		                        : "cannot resolve address");
		return SC_EINVAL;
	}
	srv->socks =
	    sc_realloc(srv->socks, (srv->nsocks + 1) * sizeof *srv->socks);
	srv->socks[srv->nsocks++] = bs;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	                &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			srv->port =
			    ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			srv->port =
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	srv->closing = false;
	return SC_OK;
}

int
sc_http_server_port(struct sc_http_server *srv)
{
	return srv->port;
}

size_t
sc_http_server_inflight(struct sc_http_server *srv)
{
	return srv->nlive + srv->nwriting;
}

/* The series of route r (created in srv->metrics). */
static struct http_route_mx *
route_mx_new(struct sc_http_server *srv, const struct http_route *r)
{
	static const char *const codes[] = {"2xx", "3xx", "4xx", "5xx"};
	struct http_route_mx *mx = sc_calloc(1, sizeof *mx);
	const char *method = method_name(r->method);

	for (size_t i = 0; i < 4; i++) {
		mx->codes[i] = sc_metric_series(
		    srv->f_requests,
		    (const char *const[]){method, r->pattern, codes[i]});
	}
	mx->duration = sc_metric_series(
	    srv->f_duration, (const char *const[]){method, r->pattern});
	return mx;
}

static void
http_collect_cb(struct sc_metrics *m, void *arg)
{
	struct sc_http_server *srv = arg;
	(void)m;
	sc_metric_set(srv->in_flight, (double)sc_http_server_inflight(srv));
}

void
sc_http_server_set_metrics(struct sc_http_server *srv, struct sc_metrics *m)
{
	if (m == NULL || srv->metrics != NULL) {
		return;
	}
	srv->metrics = m;
	srv->f_requests = sc_metrics_counter(
	    m, "spotlight_http_requests_total",
	    "HTTP requests answered, by route pattern and status class.",
	    "method,route,code");
	srv->f_duration = sc_metrics_histogram(
	    m, "spotlight_http_request_duration_seconds",
	    "Time from a request's arrival to its reply, by route pattern.",
	    "method,route", NULL, 0);
	srv->in_flight = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_http_requests_in_flight",
	                     "HTTP requests with a handler or being written.",
	                     NULL),
	    NULL);
	sc_metrics_collector(m, http_collect_cb, srv);
	for (size_t i = 0; i < srv->nroutes; i++) {
		srv->routes[i].mx = route_mx_new(srv, &srv->routes[i]);
	}
}

void
sc_http_route(struct sc_http_server *srv, int method, const char *pattern,
              unsigned flags, sc_http_handler_fn fn, void *arg)
{
	if (srv->nroutes == srv->routes_cap) {
		srv->routes_cap = srv->routes_cap ? srv->routes_cap * 2 : 16;
		srv->routes = sc_realloc(srv->routes,
		                         srv->routes_cap * sizeof *srv->routes);
	}
	srv->routes[srv->nroutes++] = (struct http_route){
	    .method = method,
	    .pattern = pattern,
	    .flags = flags,
	    .fn = fn,
	    .arg = arg,
	};
	if (srv->metrics != NULL) {
		srv->routes[srv->nroutes - 1].mx =
		    route_mx_new(srv, &srv->routes[srv->nroutes - 1]);
	}
}

void
sc_http_server_close(struct sc_http_server *srv)
{
	/* Frees the listeners and closes their sockets; connections already
	 * accepted stay and may still be replied to. */
	for (size_t i = 0; i < srv->nsocks; i++) {
		evhttp_del_accept_socket(srv->http, srv->socks[i]);
	}
	free(srv->socks);
	srv->socks = NULL;
	srv->nsocks = 0;
	srv->port = -1;
	srv->closing = true;
}

void
sc_http_server_free(struct sc_http_server *srv)
{
	if (srv == NULL) {
		return;
	}
	/* Requests still with their handlers outlive the server: they are
	 * freed by their reply, which then goes nowhere. */
	while (srv->live != NULL) {
		req_unlink(srv->live);
	}
	if (srv->http != NULL) {
		/* Frees every connection; conn_close_cb forgets the libevent
		 * requests that go with them. */
		evhttp_free(srv->http);
	}
	sc_metrics_collector_remove(srv->metrics, http_collect_cb, srv);
	free(srv->socks);
	for (size_t i = 0; i < srv->nroutes; i++) {
		free(srv->routes[i].mx);
	}
	free(srv->routes);
	free(srv->proxies);
	free(srv);
}

/* ---- inside a handler ------------------------------------------- */

const char *
sc_http_req_param(struct sc_http_req *req, const char *name)
{
	return kvs_get(&req->params, name, false);
}

const char *
sc_http_req_query(struct sc_http_req *req, const char *name)
{
	return kvs_get(&req->query, name, false);
}

json_object *
sc_http_req_json(struct sc_http_req *req)
{
	return req->json;
}

const char *
sc_http_req_header(struct sc_http_req *req, const char *name)
{
	return kvs_get(&req->headers, name, true);
}

static void
cookies_parse(struct sc_http_req *req, const char *s)
{
	while (*s != '\0') {
		size_t n, nlen, vlen;
		const char *eq, *v;

		s += strspn(s, " \t;");
		n = strcspn(s, ";");
		eq = memchr(s, '=', n);
		if (eq != NULL) {
			nlen = (size_t)(eq - s);
			while (nlen > 0 &&
			       (s[nlen - 1] == ' ' || s[nlen - 1] == '\t')) {
				nlen--;
			}
			v = eq + 1;
			vlen = n - (size_t)(v - s);
			while (vlen > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vlen--;
			}
			while (vlen > 0 &&
			       (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
				vlen--;
			}
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (nlen > 0) {
				kvs_add(&req->cookies, sc_strndup(s, nlen),
				        sc_strndup(v, vlen));
			}
		}
		s += n;
	}
}

const char *
sc_http_req_cookie(struct sc_http_req *req, const char *name)
{
	if (!req->cookies_parsed) {
		/* Every Cookie header, in order: the first of a name wins. */
		for (size_t i = 0; i < req->headers.n; i++) {
			if (strcasecmp(req->headers.v[i].name, "Cookie") == 0) {
				cookies_parse(req, req->headers.v[i].value);
			}
		}
		req->cookies_parsed = true;
	}
	return kvs_get(&req->cookies, name, false);
}

const char *
sc_http_req_id(struct sc_http_req *req)
{
	return req->id;
}

const char *
sc_http_req_client_ip(struct sc_http_req *req)
{
	return req->ip;
}

int
sc_http_req_method(struct sc_http_req *req)
{
	return req->method;
}

const char *
sc_http_req_path(struct sc_http_req *req)
{
	return req->path;
}

void
sc_http_req_set_data(struct sc_http_req *req, void *data)
{
	req->data = data;
}

void *
sc_http_req_data(struct sc_http_req *req)
{
	return req->data;
}

void
sc_http_req_add_header(struct sc_http_req *req, const char *name,
                       const char *value)
{
	if (req->ev == NULL) {
		return;
	}
	/* evhttp_add_header refuses values with CR or LF: no header
	 * injection. */
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name,
	                  value);
}
