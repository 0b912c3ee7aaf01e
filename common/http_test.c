/* http_test.c: the HTTP layer driven over real sockets: a server on
 * 127.0.0.1, an ephemeral port, its loop on the test's thread, and a
 * blocking client on a second thread sending raw HTTP/1.1. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "testing.h"
#include "validate.h"

#define SLOW_MS  200
#define MAX_BODY 1024

/* ---- the fixture ------------------------------------------------------ */

struct fixture {
	struct event_base *base;
	struct sc_http_server *srv;
	int port;
	int started;              /* handlers of /api/slow entered */
	int replies;              /* /api/slow replies sent */
	struct sc_http_req *held; /* /api/hold's request, never replied */
};

static struct fixture fx;

static void
reply_obj(struct sc_http_req *req, int status, json_object *o)
{
	sc_http_reply_json(req, status, o);
}

static json_object *
str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static void
echo_params_cb(struct sc_http_req *req, void *arg)
{
	json_object *o = json_object_new_object();

	(void)arg;
	json_object_object_add(o, "username",
	                       str_or_null(sc_http_req_param(req, "username")));
	json_object_object_add(o, "id",
	                       str_or_null(sc_http_req_param(req, "id")));
	reply_obj(req, 200, o);
}

static void
echo_json_cb(struct sc_http_req *req, void *arg)
{
	json_object *o = json_object_new_object();

	(void)arg;
	json_object_object_add(o, "body",
	                       json_object_get(sc_http_req_json(req)));
	reply_obj(req, 200, o);
}

static void
echo_info_cb(struct sc_http_req *req, void *arg)
{
	json_object *o = json_object_new_object();
	static const char *const cookies[] = {"session", "quoted", "empty",
	                                      "theme", "missing"};
	static const char *const queries[] = {"q", "x", "flag", "missing"};
	json_object *c = json_object_new_object(),
	            *q = json_object_new_object();

	(void)arg;
	json_object_object_add(o, "id",
	                       json_object_new_string(sc_http_req_id(req)));
	json_object_object_add(
	    o, "ip", json_object_new_string(sc_http_req_client_ip(req)));
	json_object_object_add(o, "path",
	                       json_object_new_string(sc_http_req_path(req)));
	json_object_object_add(o, "method",
	                       json_object_new_int(sc_http_req_method(req)));
	json_object_object_add(
	    o, "agent", str_or_null(sc_http_req_header(req, "user-agent")));
	for (size_t i = 0; i < sizeof cookies / sizeof *cookies; i++) {
		json_object_object_add(
		    c, cookies[i],
		    str_or_null(sc_http_req_cookie(req, cookies[i])));
	}
	for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
		json_object_object_add(
		    q, queries[i],
		    str_or_null(sc_http_req_query(req, queries[i])));
	}
	json_object_object_add(o, "cookies", c);
	json_object_object_add(o, "query", q);
	reply_obj(req, 200, o);
}

static void
slow_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sc_http_req *req = arg;
	json_object *o = json_object_new_object();

	(void)fd;
	(void)what;
	json_object_object_add(o, "late", json_object_new_boolean(1));
	/* The header added after the wait must still go out. */
	sc_http_req_add_header(req, "X-Late", "yes");
	reply_obj(req, 200, o);
	fx.replies++;
}

static void
slow_cb(struct sc_http_req *req, void *arg)
{
	struct timeval tv = {0, SLOW_MS * 1000};

	(void)arg;
	fx.started++;
	ck_assert_int_eq(
	    event_base_once(fx.base, -1, EV_TIMEOUT, slow_reply_cb, req, &tv),
	    0);
}

static void
hold_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	fx.held = req;
}

static void
conflict_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	sc_http_reply_err(req, SC_ECONFLICT, NULL);
}

static void
metrics_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	sc_http_reply_text(req, 200, "text/plain; version=0.0.4", "up 1\n");
}

static void
no_content_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	sc_http_reply_json(req, 204, NULL);
}

static void
create_user_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"username", "email", "age", NULL};
	json_object *body = sc_http_req_json(req);
	struct sc_valid v;
	const char *username, *email;
	int64_t age = 0;

	(void)arg;
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	sc_valid_string(&v, body, "username", SC_V_REQUIRED, 3, 30, &username);
	sc_valid_username(&v, "username", username);
	sc_valid_string(&v, body, "email", SC_V_REQUIRED, 3, 254, &email);
	sc_valid_email(&v, "email", email);
	sc_valid_int(&v, body, "age", 0, 13, 150, &age);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "username", json_object_new_string(username));
	json_object_object_add(o, "age", json_object_new_int64(age));
	reply_obj(req, 201, o);
}

static void
fx_start(const struct sc_http_opts *opts)
{
	/* Access lines only where a test looks at them. */
	setenv("SC_LOG_LEVEL", "warn", 0);
	sc_log_init("http_test");
	fx.base = event_base_new();
	ck_assert_ptr_nonnull(fx.base);
	fx.srv = sc_http_server_new(fx.base, opts);
	ck_assert_ptr_nonnull(fx.srv);
	ck_assert_int_eq(sc_http_server_bind(fx.srv, "127.0.0.1", 0), SC_OK);
	fx.port = sc_http_server_port(fx.srv);
	ck_assert_int_gt(fx.port, 0);

	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/users/:username/posts/:id",
	              0, echo_params_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/users/:username", 0,
	              echo_params_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_DELETE, "/api/users/:username", 0,
	              echo_params_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_POST, "/api/users", SC_HTTP_JSON,
	              create_user_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_POST, "/api/json", SC_HTTP_JSON,
	              echo_json_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_POST, "/api/optional",
	              SC_HTTP_JSON_OPTIONAL, echo_json_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/info", 0, echo_info_cb,
	              NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/health", 0, echo_info_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/slow", 0, slow_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/hold", 0, hold_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/api/conflict", 0, conflict_cb,
	              NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_GET, "/metrics", 0, metrics_cb, NULL);
	sc_http_route(fx.srv, EVHTTP_REQ_DELETE, "/api/thing", 0, no_content_cb,
	              NULL);
}

static void
fx_start_default(void)
{
	struct sc_http_opts opts = {.max_body = MAX_BODY};
	fx_start(&opts);
}

static void
fx_stop(void)
{
	sc_http_server_free(fx.srv);
	event_base_free(fx.base);
	memset(&fx, 0, sizeof fx);
}

/* ---- the client ------------------------------------------------------- */

struct client {
	int port;
	char *request; /* owned */
	size_t len;
	bool close_early; /* send, then close without reading */
	char *response;   /* owned; NUL-terminated */
	size_t response_len;
	atomic_bool done;
	pthread_t thread;
};

static int
client_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		return -1;
	}
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	size_t cap = 4096, off = 0;
	int fd = client_connect(c->port);

	c->response = sc_malloc(cap);
	if (fd >= 0) {
		while (off < c->len) {
			ssize_t n = send(fd, c->request + off, c->len - off,
			                 MSG_NOSIGNAL);
			if (n <= 0) {
				break;
			}
			off += (size_t)n;
		}
		if (!c->close_early) {
			for (;;) {
				ssize_t n;
				if (cap - c->response_len < 1024) {
					cap *= 2;
					c->response =
					    sc_realloc(c->response, cap);
				}
				n = recv(fd, c->response + c->response_len,
				         cap - c->response_len - 1, 0);
				if (n <= 0) {
					break;
				}
				c->response_len += (size_t)n;
			}
		}
		close(fd);
	}
	c->response[c->response_len] = '\0';
	atomic_store(&c->done, true);
	return NULL;
}

static void
client_start(struct client *c, const char *request, size_t len,
             bool close_early)
{
	memset(c, 0, sizeof *c);
	c->port = fx.port;
	c->close_early = close_early;
	c->request = sc_malloc(len);
	memcpy(c->request, request, len);
	c->len = len;
	atomic_init(&c->done, false);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, client_main, c), 0);
}

/* ---- driving the loop ---------------------------------------------- */

typedef bool (*cond_fn)(void *arg);

struct waiter {
	cond_fn cond;
	void *arg;
	struct timespec deadline;
	bool met;
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct timespec now;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->cond(w->arg)) {
		w->met = true;
		event_base_loopbreak(fx.base);
	} else if (now.tv_sec > w->deadline.tv_sec ||
	           (now.tv_sec == w->deadline.tv_sec &&
	            now.tv_nsec >= w->deadline.tv_nsec)) {
		event_base_loopbreak(fx.base);
	}
}

/* Run the loop until cond(arg) holds or ms pass; whether it held. */
static bool
run_until(cond_fn cond, void *arg, int ms)
{
	struct waiter w = {.cond = cond, .arg = arg};
	struct timeval tick = {0, 2000};
	struct event *ev = event_new(fx.base, -1, EV_PERSIST, tick_cb, &w);

	clock_gettime(CLOCK_MONOTONIC, &w.deadline);
	w.deadline.tv_sec += ms / 1000;
	w.deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (w.deadline.tv_nsec >= 1000000000L) {
		w.deadline.tv_sec++;
		w.deadline.tv_nsec -= 1000000000L;
	}
	event_add(ev, &tick);
	event_base_dispatch(fx.base);
	event_free(ev);
	return w.met || cond(arg);
}

static bool
client_done(void *arg)
{
	struct client *c = arg;
	return atomic_load(&c->done);
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

static bool
int_at_least_one(void *arg)
{
	return *(int *)arg >= 1;
}

static bool
held_set(void *arg)
{
	(void)arg;
	return fx.held != NULL;
}

/* ---- responses --------------------------------------------------- */

struct resp {
	int status;
	char *raw;  /* owned, the whole response */
	char *head; /* into raw: the header lines, NUL-terminated */
	char *body; /* into raw */
	size_t body_len;
	json_object *json; /* owned; NULL when the body is not JSON */
};

static void
resp_parse(struct resp *r, char *raw, size_t len)
{
	char *end;

	memset(r, 0, sizeof *r);
	r->raw = raw;
	if (len == 0) {
		return;
	}
	ck_assert_msg(strncmp(raw, "HTTP/1.1 ", 9) == 0, "bad response: %s",
	              raw);
	r->status = atoi(raw + 9);
	end = strstr(raw, "\r\n\r\n");
	ck_assert_ptr_nonnull(end);
	end[2] = '\0';
	r->head = strstr(raw, "\r\n") + 2;
	r->body = end + 4;
	r->body_len = len - (size_t)(r->body - raw);
	if (r->body_len > 0) {
		r->json = json_tokener_parse(r->body);
	}
}

static void
resp_release(struct resp *r)
{
	json_object_put(r->json);
	free(r->raw);
}

/* The value of header `name` (first one), copied into buf; NULL if none. */
static const char *
resp_header(const struct resp *r, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);

	for (const char *l = r->head; l != NULL && *l != '\0';) {
		const char *eol = strstr(l, "\r\n");
		if (eol == NULL) {
			break;
		}
		if ((size_t)(eol - l) > nlen &&
		    strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
			const char *v = l + nlen + 1;
			while (*v == ' ') {
				v++;
			}
			snprintf(buf, len, "%.*s", (int)(eol - v), v);
			return buf;
		}
		l = eol + 2;
	}
	return NULL;
}

/* Send the raw request, run the loop until the client has the whole
 * response, parse it. */
static void
exchange_raw(struct resp *r, const char *request, size_t len)
{
	struct client c;

	client_start(&c, request, len, false);
	ck_assert_msg(run_until(client_done, &c, 5000), "no response in time");
	pthread_join(c.thread, NULL);
	free(c.request);
	resp_parse(r, c.response, c.response_len);
}

/* A request with Connection: close (so the response ends at EOF), extra
 * header lines (each ending in \r\n) and a body with its Content-Length. */
static void
exchange(struct resp *r, const char *method, const char *target,
         const char *headers, const char *body)
{
	char *req;

	if (body != NULL) {
		req = sc_asprintf(
		    "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close"
		    "\r\n%sContent-Length: %zu\r\n\r\n%s",
		    method, target, headers ? headers : "", strlen(body), body);
	} else {
		req = sc_asprintf(
		    "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close"
		    "\r\n%s\r\n",
		    method, target, headers ? headers : "");
	}
	exchange_raw(r, req, strlen(req));
	free(req);
}

static void
post_json(struct resp *r, const char *target, const char *body)
{
	exchange(r, "POST", target, "Content-Type: application/json\r\n", body);
}

/* json path lookups: "error.code" style. Borrowed from root. */
static json_object *
jget(json_object *root, const char *path)
{
	char buf[128];
	char *save = NULL, *part;
	json_object *o = root;

	snprintf(buf, sizeof buf, "%s", path);
	for (part = strtok_r(buf, ".", &save); part != NULL;
	     part = strtok_r(NULL, ".", &save)) {
		if (o == NULL || !json_object_object_get_ex(o, part, &o)) {
			return NULL;
		}
	}
	return o;
}

static const char *
jstr(json_object *root, const char *path)
{
	json_object *o = jget(root, path);
	return o != NULL && json_object_is_type(o, json_type_string)
	           ? json_object_get_string(o)
	           : NULL;
}

/* Assert the suite's error shape with this status and code. */
static void
assert_error(const struct resp *r, int status, const char *code)
{
	char buf[128];

	ck_assert_int_eq(r->status, status);
	ck_assert_ptr_nonnull(r->json);
	ck_assert_str_eq(resp_header(r, "Content-Type", buf, sizeof buf),
	                 "application/json; charset=utf-8");
	ck_assert_str_eq(resp_header(r, "Cache-Control", buf, sizeof buf),
	                 "no-store");
	ck_assert_ptr_nonnull(resp_header(r, "X-Request-Id", buf, sizeof buf));
	ck_assert_int_eq(json_object_object_length(r->json), 1);
	ck_assert_str_eq(jstr(r->json, "error.code"), code);
	ck_assert_ptr_nonnull(jstr(r->json, "error.message"));
}

/* ---- routing ------------------------------------------------------ */

START_TEST(route_params_are_percent_decoded)
{
	struct resp r;
	char buf[128];

	fx_start_default();
	exchange(&r, "GET", "/api/users/j%C3%B6rg%20x/posts/42", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(r.json, "username"), "j\xc3\xb6rg x");
	ck_assert_str_eq(jstr(r.json, "id"), "42");
	ck_assert_str_eq(resp_header(&r, "Content-Type", buf, sizeof buf),
	                 "application/json; charset=utf-8");
	ck_assert_str_eq(resp_header(&r, "Cache-Control", buf, sizeof buf),
	                 "no-store");
	resp_release(&r);

	/* The shorter route: no "id" parameter at all. */
	exchange(&r, "GET", "/api/users/bob", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(r.json, "username"), "bob");
	ck_assert_ptr_null(jget(r.json, "id"));
	resp_release(&r);

	/* A query string is not part of the path. */
	exchange(&r, "GET", "/api/users/bob?x=1", NULL, NULL);
	ck_assert_str_eq(jstr(r.json, "username"), "bob");
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(literal_segments_and_empty_params_do_not_match)
{
	static const char *const paths[] = {
	    "/api/users/bob/comments/1", "/api/users/", "/api/users//posts/1",
	    "/api/users/bob/posts/1/x",  "/api",        "/API/users/bob"};
	struct resp r;

	fx_start_default();
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		exchange(&r, "GET", paths[i], NULL, NULL);
		ck_assert_msg(r.status == 404, "%s gave %d", paths[i],
		              r.status);
		resp_release(&r);
	}
	fx_stop();
}
END_TEST

START_TEST(param_decoding_to_nul_or_bad_utf8_is_a_bad_request)
{
	struct resp r;

	fx_start_default();
	exchange(&r, "GET", "/api/users/a%00b", NULL, NULL);
	assert_error(&r, 400, "bad_request");
	resp_release(&r);
	exchange(&r, "GET", "/api/users/%C0%AF", NULL, NULL);
	assert_error(&r, 400, "bad_request");
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(unknown_path_gets_404_json_without_details)
{
	struct resp r;

	fx_start_default();
	exchange(&r, "GET", "/nope", NULL, NULL);
	assert_error(&r, 404, "not_found");
	ck_assert_ptr_null(jget(r.json, "error.details"));
	ck_assert_int_eq(json_object_object_length(jget(r.json, "error")), 2);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(known_path_with_wrong_method_gets_405_with_allow)
{
	struct resp r;
	char buf[128];

	fx_start_default();
	exchange(&r, "POST", "/api/users/bob", NULL, "{}");
	assert_error(&r, 405, "method_not_allowed");
	ck_assert_str_eq(resp_header(&r, "Allow", buf, sizeof buf),
	                 "GET, HEAD, DELETE");
	resp_release(&r);

	exchange(&r, "PATCH", "/api/json", NULL, NULL);
	assert_error(&r, 405, "method_not_allowed");
	ck_assert_str_eq(resp_header(&r, "Allow", buf, sizeof buf), "POST");
	resp_release(&r);

	/* The method matches by the route's pattern, not by a literal. */
	exchange(&r, "DELETE", "/api/users/bob", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(head_is_answered_by_the_get_route_without_a_body)
{
	struct resp r;
	char buf[32];

	fx_start_default();
	exchange(&r, "HEAD", "/api/users/bob", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 0);
	/* The length a GET would have: {"username":"bob","id":null}. */
	ck_assert_str_eq(resp_header(&r, "Content-Length", buf, sizeof buf),
	                 "28");
	resp_release(&r);
	fx_stop();
}
END_TEST

/* ---- bodies ------------------------------------------------------- */

START_TEST(json_route_accepts_json_content_types_with_parameters)
{
	static const char *const types[] = {
	    "application/json", "application/json; charset=utf-8",
	    "Application/JSON ; charset=UTF-8", "APPLICATION/JSON"};
	struct resp r;

	fx_start_default();
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		char *h = sc_asprintf("Content-Type: %s\r\n", types[i]);
		exchange(&r, "POST", "/api/json", h, "{\"a\":1}");
		ck_assert_msg(r.status == 200, "%s gave %d", types[i],
		              r.status);
		ck_assert_int_eq(json_object_get_int(jget(r.json, "body.a")),
		                 1);
		resp_release(&r);
		free(h);
	}
	fx_stop();
}
END_TEST

START_TEST(json_route_rejects_other_content_types_with_415)
{
	static const char *const headers[] = {
	    "Content-Type: text/plain\r\n",
	    "Content-Type: application/jsonp\r\n",
	    "Content-Type: application/x-www-form-urlencoded\r\n", ""};
	struct resp r;

	fx_start_default();
	for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
		exchange(&r, "POST", "/api/json", headers[i], "{\"a\":1}");
		assert_error(&r, 415, "unsupported_media_type");
		resp_release(&r);
	}
	fx_stop();
}
END_TEST

START_TEST(unparsable_json_gets_400_bad_json)
{
	static const char *const bodies[] = {
	    "{bad", "{\"a\":}", "", "{\"a\":1,}", "{\"a\":01}", "nul",
	    /* json-c reads these; JSON has no such numbers */
	    "{\"a\":NaN}", "{\"a\":[1,Infinity]}", "{\"a\":{\"b\":-Infinity}}",
	    "{\"a\":-NaN}"};
	struct resp r;

	fx_start_default();
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		post_json(&r, "/api/json", bodies[i]);
		assert_error(&r, 400, "bad_json");
		resp_release(&r);
	}
	fx_stop();
}
END_TEST

START_TEST(trailing_data_after_the_json_value_gets_400)
{
	struct resp r;

	fx_start_default();
	post_json(&r, "/api/json", "{\"a\":1} x");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	post_json(&r, "/api/json", "{\"a\":1}{\"b\":2}");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	/* Trailing whitespace is fine. */
	post_json(&r, "/api/json", "  {\"a\":1} \r\n");
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	/* A number too big for a double is JSON: the handler's to refuse. */
	post_json(&r, "/api/json", "{\"a\":1e400,\"b\":[-1e999]}");
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(json_that_is_not_an_object_gets_400)
{
	static const char *const bodies[] = {"[1,2]", "123", "\"s\"", "null",
	                                     "true"};
	struct resp r;

	fx_start_default();
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		post_json(&r, "/api/json", bodies[i]);
		assert_error(&r, 400, "bad_request");
		ck_assert_str_eq(jstr(r.json, "error.message"),
		                 "body must be a JSON object");
		resp_release(&r);
	}
	fx_stop();
}
END_TEST

static char *
nested(int depth)
{
	/* {"a":[[[...]]]} with depth levels in all, the object included. */
	char *s = sc_malloc((size_t)depth * 2 + 16);
	size_t n = 0;

	n += (size_t)snprintf(s, 16, "{\"a\":");
	for (int i = 1; i < depth; i++) {
		s[n++] = '[';
	}
	for (int i = 1; i < depth; i++) {
		s[n++] = ']';
	}
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

START_TEST(too_deep_nesting_gets_400)
{
	struct resp r;
	char *deep = nested(40), *ok = nested(20);

	fx_start_default();
	post_json(&r, "/api/json", deep);
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	post_json(&r, "/api/json", ok);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	free(deep);
	free(ok);
	fx_stop();
}
END_TEST

START_TEST(invalid_utf8_in_the_body_gets_400)
{
	struct resp r;

	fx_start_default();
	/* Overlong '/', then a UTF-16 surrogate: json-c alone accepts both. */
	post_json(&r, "/api/json", "{\"a\":\"\xc0\xaf\"}");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	post_json(&r, "/api/json", "{\"a\":\"\xed\xa0\x80\"}");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	post_json(&r, "/api/json", "{\"a\":\"\xff\"}");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	fx_stop();
}
END_TEST

static char *
big_object(size_t size)
{
	/* {"a":"xxx..."} of exactly `size` bytes. */
	char *s = sc_malloc(size + 1);
	memset(s, 'x', size);
	memcpy(s, "{\"a\":\"", 6);
	s[size - 2] = '"';
	s[size - 1] = '}';
	s[size] = '\0';
	return s;
}

START_TEST(body_over_the_limit_by_content_length_gets_413)
{
	struct resp r;
	char *body = big_object(MAX_BODY + 1), *fits = big_object(MAX_BODY);

	fx_start_default();
	post_json(&r, "/api/json", body);
	assert_error(&r, 413, "payload_too_large");
	resp_release(&r);
	post_json(&r, "/api/json", fits);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	free(body);
	free(fits);
	fx_stop();
}
END_TEST

static void
post_chunked(struct resp *r, const char *body)
{
	size_t len = strlen(body);
	char *req = sc_asprintf("POST /api/json HTTP/1.1\r\nHost: test\r\n"
	                        "Connection: close\r\n"
	                        "Content-Type: application/json\r\n"
	                        "Transfer-Encoding: chunked\r\n\r\n"
	                        "%zx\r\n%s\r\n0\r\n\r\n",
	                        len, body);
	exchange_raw(r, req, strlen(req));
	free(req);
}

START_TEST(chunked_body_over_the_limit_gets_413)
{
	struct resp r;
	char *body = big_object(2 * MAX_BODY);

	fx_start_default();
	post_chunked(&r, body);
	assert_error(&r, 413, "payload_too_large");
	resp_release(&r);
	post_chunked(&r, "{\"small\":true}");
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_object_get_boolean(jget(r.json, "body.small")));
	resp_release(&r);
	free(body);
	fx_stop();
}
END_TEST

START_TEST(body_beyond_the_hard_cap_is_refused_by_libevent)
{
	struct resp r;
	/* Only the headers: libevent refuses from the Content-Length alone. */
	const char *req =
	    "POST /api/json HTTP/1.1\r\nHost: test\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: 10000000\r\n\r\n";

	fx_start_default();
	exchange_raw(&r, req, strlen(req));
	ck_assert_int_eq(r.status, 413);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(body_limit_defaults_from_the_environment)
{
	struct resp r;
	char *body = big_object(101), *fits = big_object(100);

	setenv("SC_MAX_BODY_BYTES", "100", 1);
	fx_start(NULL);
	post_json(&r, "/api/json", body);
	assert_error(&r, 413, "payload_too_large");
	resp_release(&r);
	post_json(&r, "/api/json", fits);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	fx_stop();

	/* A bad value fails start-up. */
	setenv("SC_MAX_BODY_BYTES", "lots", 1);
	fx.base = event_base_new();
	ck_assert_ptr_null(sc_http_server_new(fx.base, NULL));
	event_base_free(fx.base);
	unsetenv("SC_MAX_BODY_BYTES");
	free(body);
	free(fits);
}
END_TEST

START_TEST(optional_json_route_gives_an_empty_object_for_no_body)
{
	struct resp r;

	fx_start_default();
	exchange(&r, "POST", "/api/optional", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_object_is_type(jget(r.json, "body"), json_type_object));
	ck_assert_int_eq(json_object_object_length(jget(r.json, "body")), 0);
	resp_release(&r);

	post_json(&r, "/api/optional", "{\"a\":2}");
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_object_get_int(jget(r.json, "body.a")), 2);
	resp_release(&r);

	/* A body that is there is checked as on a required route. */
	exchange(&r, "POST", "/api/optional", "Content-Type: text/plain\r\n",
	         "{}");
	assert_error(&r, 415, "unsupported_media_type");
	resp_release(&r);
	post_json(&r, "/api/optional", "[]");
	assert_error(&r, 400, "bad_request");
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(required_json_route_refuses_an_empty_body)
{
	struct resp r;

	fx_start_default();
	post_json(&r, "/api/json", "");
	assert_error(&r, 400, "bad_json");
	resp_release(&r);
	fx_stop();
}
END_TEST

/* ---- validation --------------------------------------------------- */

START_TEST(validation_failures_get_422_with_per_field_details)
{
	struct resp r;

	fx_start_default();
	post_json(&r, "/api/users",
	          "{\"username\":\"AB\",\"age\":\"x\",\"extra\":1}");
	assert_error(&r, 422, "validation_failed");
	ck_assert_str_eq(jstr(r.json, "error.message"), "invalid input");
	ck_assert_str_eq(jstr(r.json, "error.details.username"),
	                 "must be at least 3 characters");
	ck_assert_str_eq(jstr(r.json, "error.details.email"), "is required");
	ck_assert_str_eq(jstr(r.json, "error.details.age"),
	                 "must be an integer");
	ck_assert_str_eq(jstr(r.json, "error.details.extra"), "unknown field");
	ck_assert_int_eq(
	    json_object_object_length(jget(r.json, "error.details")), 4);
	resp_release(&r);

	post_json(&r, "/api/users",
	          "{\"username\":\"Bad Name\",\"email\":\"nope\",\"age\":5}");
	assert_error(&r, 422, "validation_failed");
	ck_assert_str_eq(jstr(r.json, "error.details.username"),
	                 "must be 3 to 30 characters of a-z, 0-9, _ . -");
	ck_assert_str_eq(jstr(r.json, "error.details.email"),
	                 "must be a valid email address");
	ck_assert_str_eq(jstr(r.json, "error.details.age"),
	                 "must be between 13 and 150");
	resp_release(&r);

	post_json(&r, "/api/users",
	          "{\"username\":\"alice\",\"email\":\"a@b.co\",\"age\":30}");
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(jstr(r.json, "username"), "alice");
	resp_release(&r);
	fx_stop();
}
END_TEST

/* ---- request ids and client addresses ------------------------------ */

static bool
is_hex32(const char *s)
{
	return s != NULL && strlen(s) == 32 &&
	       strspn(s, "0123456789abcdef") == 32;
}

START_TEST(sane_request_id_is_echoed)
{
	struct resp r;
	char buf[128];
	char id64[65];

	fx_start_default();
	exchange(&r, "GET", "/api/info", "X-Request-Id: abc-123.X_y\r\n", NULL);
	ck_assert_str_eq(resp_header(&r, "X-Request-Id", buf, sizeof buf),
	                 "abc-123.X_y");
	ck_assert_str_eq(jstr(r.json, "id"), "abc-123.X_y");
	resp_release(&r);

	memset(id64, 'z', 64);
	id64[64] = '\0';
	char *h = sc_asprintf("X-Request-Id: %s\r\n", id64);
	exchange(&r, "GET", "/api/info", h, NULL);
	ck_assert_str_eq(jstr(r.json, "id"), id64);
	resp_release(&r);
	free(h);
	fx_stop();
}
END_TEST

START_TEST(insane_or_missing_request_id_is_regenerated)
{
	static const char *const headers[] = {
	    "X-Request-Id: bad id!\r\n", "X-Request-Id: a/b\r\n",
	    /* 65 characters: one too many. */
	    ("X-Request-Id: "
	     "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	     "zzzzzzzzzzzz\r\n"),
	    "X-Request-Id: \r\n", ""};
	struct resp r;
	char buf[128], first[64] = "";

	fx_start_default();
	for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
		exchange(&r, "GET", "/api/info", headers[i], NULL);
		ck_assert_int_eq(r.status, 200);
		ck_assert_msg(is_hex32(jstr(r.json, "id")), "%s", headers[i]);
		ck_assert_str_eq(
		    resp_header(&r, "X-Request-Id", buf, sizeof buf),
		    jstr(r.json, "id"));
		/* Fresh each time. */
		ck_assert_str_ne(jstr(r.json, "id"), first);
		snprintf(first, sizeof first, "%s", jstr(r.json, "id"));
		resp_release(&r);
	}
	/* Error replies carry one too. */
	exchange(&r, "GET", "/nope", NULL, NULL);
	ck_assert(is_hex32(resp_header(&r, "X-Request-Id", buf, sizeof buf)));
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(x_real_ip_is_honoured_from_a_trusted_peer)
{
	struct resp r;

	fx_start_default(); /* trusts 127.0.0.1 and ::1 */
	exchange(&r, "GET", "/api/info", "X-Real-IP: 203.0.113.7\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "203.0.113.7");
	resp_release(&r);
	exchange(&r, "GET", "/api/info", "X-Real-IP: 2001:DB8::1\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "2001:db8::1");
	resp_release(&r);
	/* Not an address: the peer's is used. */
	exchange(&r, "GET", "/api/info", "X-Real-IP: <script>\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "127.0.0.1");
	resp_release(&r);
	exchange(&r, "GET", "/api/info", NULL, NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "127.0.0.1");
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(x_real_ip_is_ignored_from_an_untrusted_peer)
{
	struct sc_http_opts opts = {.max_body = MAX_BODY,
	                            .trusted_proxies = "10.0.0.1, 192.0.2.5"};
	struct resp r;

	fx_start(&opts);
	exchange(&r, "GET", "/api/info", "X-Real-IP: 203.0.113.7\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "127.0.0.1");
	resp_release(&r);
	fx_stop();

	/* From the environment too; and a bad list fails start-up. */
	setenv("SC_TRUSTED_PROXIES", "10.0.0.9", 1);
	fx_start(NULL);
	exchange(&r, "GET", "/api/info", "X-Real-IP: 203.0.113.7\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "127.0.0.1");
	resp_release(&r);
	fx_stop();
	setenv("SC_TRUSTED_PROXIES", "10.0.0.1,not-an-ip", 1);
	fx.base = event_base_new();
	ck_assert_ptr_null(sc_http_server_new(fx.base, NULL));
	event_base_free(fx.base);
	unsetenv("SC_TRUSTED_PROXIES");
}
END_TEST

START_TEST(x_real_ip_is_honoured_from_a_trusted_network)
{
	struct sc_http_opts opts = {
	    .max_body = MAX_BODY, .trusted_proxies = "10.0.0.0/8, 127.0.0.0/8"};
	struct resp r;

	fx_start(&opts);
	exchange(&r, "GET", "/api/info", "X-Real-IP: 203.0.113.7\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "203.0.113.7");
	resp_release(&r);
	fx_stop();

	/* A network that stops one bit short of the peer's address. */
	opts.trusted_proxies = "127.0.0.0/32, 127.0.0.2/31, ::1/127";
	fx_start(&opts);
	exchange(&r, "GET", "/api/info", "X-Real-IP: 203.0.113.7\r\n", NULL);
	ck_assert_str_eq(jstr(r.json, "ip"), "127.0.0.1");
	resp_release(&r);
	fx_stop();

	/* Bits past the address's length, or not a number: start-up fails. */
	static const char *const bad[] = {"10.0.0.0/33", "::/129",
	                                  "10.0.0.0/",   "10.0.0.0/8x",
	                                  "10.0.0.0/-1", "10.0.0.0/0008"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sc_http_opts o = {.max_body = MAX_BODY,
		                         .trusted_proxies = bad[i]};
		struct event_base *base = event_base_new();
		ck_assert_msg(sc_http_server_new(base, &o) == NULL, "%s",
		              bad[i]);
		event_base_free(base);
	}
}
END_TEST

/* ---- headers, cookies, query --------------------------------------- */

START_TEST(cookies_are_parsed_from_the_cookie_header)
{
	struct resp r;

	fx_start_default();
	exchange(&r, "GET", "/api/info",
	         "Cookie: theme=dark;session=abc.def ; quoted=\"v w\"; empty=; "
	         "junk; theme=light\r\nUser-Agent: t/1\r\n",
	         NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(r.json, "cookies.session"), "abc.def");
	ck_assert_str_eq(jstr(r.json, "cookies.quoted"), "v w");
	ck_assert_str_eq(jstr(r.json, "cookies.empty"), "");
	ck_assert_str_eq(jstr(r.json, "cookies.theme"), "dark");
	ck_assert_ptr_null(jget(r.json, "cookies.missing"));
	ck_assert_str_eq(jstr(r.json, "agent"), "t/1");
	resp_release(&r);

	exchange(&r, "GET", "/api/info", NULL, NULL);
	ck_assert_ptr_null(jget(r.json, "cookies.session"));
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(query_values_are_decoded)
{
	struct resp r;

	fx_start_default();
	exchange(&r, "GET", "/api/info?q=hello+world&x=%2Fa%26b&flag", NULL,
	         NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(jstr(r.json, "query.q"), "hello world");
	ck_assert_str_eq(jstr(r.json, "query.x"), "/a&b");
	ck_assert_str_eq(jstr(r.json, "query.flag"), "");
	ck_assert_ptr_null(jget(r.json, "query.missing"));
	ck_assert_str_eq(jstr(r.json, "path"), "/api/info");
	resp_release(&r);
	fx_stop();
}
END_TEST

/* ---- replies -------------------------------------------------------- */

START_TEST(reply_err_text_and_no_content_have_their_shapes)
{
	struct resp r;
	char buf[128];

	fx_start_default();
	exchange(&r, "GET", "/api/conflict", NULL, NULL);
	assert_error(&r, 409, "conflict");
	ck_assert_str_eq(jstr(r.json, "error.message"), "conflict");
	resp_release(&r);

	exchange(&r, "GET", "/metrics", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Content-Type", buf, sizeof buf),
	                 "text/plain; version=0.0.4");
	ck_assert_str_eq(r.body, "up 1\n");
	resp_release(&r);

	exchange(&r, "DELETE", "/api/thing", NULL, NULL);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_ptr_null(resp_header(&r, "Content-Type", buf, sizeof buf));
	ck_assert_str_eq(resp_header(&r, "Cache-Control", buf, sizeof buf),
	                 "no-store");
	resp_release(&r);
	fx_stop();
}
END_TEST

/* ---- asynchronous replies and the client going away ----------------- */

START_TEST(handler_can_reply_after_a_timer)
{
	struct resp r;
	struct timespec t0, t1;
	char buf[16];

	fx_start_default();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	exchange(&r, "GET", "/api/slow", NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_object_get_boolean(jget(r.json, "late")));
	ck_assert_str_eq(resp_header(&r, "X-Late", buf, sizeof buf), "yes");
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 +
	                     (t1.tv_nsec - t0.tv_nsec) / 1000000,
	                 SLOW_MS - 10);
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 0);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(reply_after_the_client_has_gone_is_safe)
{
	struct client c;
	struct resp r;
	const char *req = "GET /api/slow HTTP/1.1\r\nHost: test\r\n\r\n";

	fx_start_default();
	/* Send and close at once: the handler is still waiting. */
	client_start(&c, req, strlen(req), true);
	ck_assert(run_until(client_done, &c, 2000));
	pthread_join(c.thread, NULL);
	free(c.request);
	free(c.response);
	ck_assert(run_until(int_at_least_one, &fx.started, 2000));
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 1);

	/* The timer replies into a closed socket; let libevent notice and
	 * free the connection. */
	ck_assert(run_until(int_at_least_one, &fx.replies, 2000));
	run_until(never, NULL, 100);
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 0);

	/* The server still serves. */
	exchange(&r, "GET", "/api/users/bob", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	fx_stop(); /* ASan: nothing of the dropped request may leak */
}
END_TEST

START_TEST(client_gone_with_a_body_in_flight_is_safe)
{
	/* The client half-sends a body and closes: libevent fails the
	 * request before any handler sees it. */
	struct client c;
	struct resp r;
	const char *req = "POST /api/json HTTP/1.1\r\nHost: test\r\n"
	                  "Content-Type: application/json\r\n"
	                  "Content-Length: 100\r\n\r\n{\"a\":";

	fx_start_default();
	client_start(&c, req, strlen(req), true);
	ck_assert(run_until(client_done, &c, 2000));
	pthread_join(c.thread, NULL);
	free(c.request);
	free(c.response);
	run_until(never, NULL, 100);
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 0);
	exchange(&r, "GET", "/api/users/bob", NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(close_stops_accepting_while_inflight_requests_finish)
{
	struct client c;
	struct resp r;
	char buf[32];
	const char *req = "GET /api/slow HTTP/1.1\r\nHost: test\r\n\r\n";
	int port;

	fx_start_default();
	port = fx.port;
	/* Keep-alive request: the server must close it after shutdown. */
	client_start(&c, req, strlen(req), false);
	ck_assert(run_until(int_at_least_one, &fx.started, 2000));
	sc_http_server_close(fx.srv);
	ck_assert_int_eq(sc_http_server_port(fx.srv), -1);
	ck_assert_int_eq(client_connect(port), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);

	ck_assert(run_until(client_done, &c, 3000));
	pthread_join(c.thread, NULL);
	free(c.request);
	resp_parse(&r, c.response, c.response_len);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(resp_header(&r, "Connection", buf, sizeof buf),
	                 "close");
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 0);
	resp_release(&r);
	fx_stop();
}
END_TEST

START_TEST(server_freed_with_a_request_pending_drops_the_later_reply)
{
	struct client c;
	const char *req = "GET /api/hold HTTP/1.1\r\nHost: test\r\n\r\n";
	struct sc_http_req *held;

	fx_start_default();
	client_start(&c, req, strlen(req), false);
	ck_assert(run_until(held_set, NULL, 2000));
	ck_assert_uint_eq(sc_http_server_inflight(fx.srv), 1);
	held = fx.held;

	/* Freeing the server closes the connection: the client sees EOF. */
	sc_http_server_free(fx.srv);
	fx.srv = NULL;
	ck_assert(run_until(client_done, &c, 2000));
	pthread_join(c.thread, NULL);
	ck_assert_uint_eq(c.response_len, 0);
	free(c.request);
	free(c.response);

	/* The handler's request is still valid, and its reply frees it. */
	ck_assert_str_eq(sc_http_req_path(held), "/api/hold");
	sc_http_req_add_header(held, "X-Too", "late");
	sc_http_reply_json(held, 200, json_object_new_object());
	fx_stop();
}
END_TEST

/* ---- the access log ------------------------------------------------- */

/* Send stderr (the log) to a fresh unlinked file; returns its fd. *saved
 * gets the old stderr for log_capture_end. */
static int
log_capture_start(int *saved, const char *level)
{
	char tmpl[] = "/tmp/http_test_log_XXXXXX";
	int fd = mkstemp(tmpl);

	ck_assert_int_ge(fd, 0);
	unlink(tmpl);
	*saved = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	setenv("SC_LOG_LEVEL", level, 1);
	return fd;
}

static void
log_capture_end(int fd, int saved)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unsetenv("SC_LOG_LEVEL");
}

/* Everything written to fd, as one string. Caller owns; free(). */
static char *
read_log(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *s = sc_malloc((size_t)end + 1);

	ck_assert_int_eq(pread(fd, s, (size_t)end, 0), end);
	s[end] = '\0';
	return s;
}

/* The first access line (msg "request") for `path`, parsed; NULL if none. */
static json_object *
find_access_line(const char *log, const char *path)
{
	for (const char *l = log; *l != '\0';) {
		const char *eol = strchr(l, '\n');
		size_t n = eol != NULL ? (size_t)(eol - l) : strlen(l);
		char *line = sc_strndup(l, n);
		json_object *o = json_tokener_parse(line);

		free(line);
		if (o != NULL && jstr(o, "msg") != NULL &&
		    strcmp(jstr(o, "msg"), "request") == 0 &&
		    jstr(o, "path") != NULL &&
		    strcmp(jstr(o, "path"), path) == 0) {
			return o;
		}
		json_object_put(o);
		l += n;
		if (*l == '\n') {
			l++;
		}
	}
	return NULL;
}

START_TEST(each_request_logs_one_access_line)
{
	int saved, fd = log_capture_start(&saved, "info");
	struct resp r;
	json_object *line;
	char *log;

	fx_start_default();
	exchange(&r, "GET", "/api/info?token=secret",
	         "X-Request-Id: log-1\r\nX-Real-IP: 198.51.100.2\r\n", NULL);
	ck_assert_int_eq(r.status, 200);
	resp_release(&r);
	exchange(&r, "GET", "/health", NULL, NULL);
	resp_release(&r);

	log = read_log(fd);
	line = find_access_line(log, "/api/info");
	ck_assert_msg(line != NULL, "no access line in: %s", log);
	ck_assert_str_eq(jstr(line, "level"), "info");
	ck_assert_str_eq(jstr(line, "requestId"), "log-1");
	ck_assert_str_eq(jstr(line, "method"), "GET");
	ck_assert_int_eq(json_object_get_int(jget(line, "status")), 200);
	ck_assert(
	    json_object_is_type(jget(line, "durationMs"), json_type_double));
	ck_assert(json_object_get_double(jget(line, "durationMs")) >= 0);
	ck_assert_str_eq(jstr(line, "clientIp"), "198.51.100.2");
	ck_assert_int_gt(json_object_get_int(jget(line, "bytes")), 10);
	/* The query (tokens and all) stays out of the log. */
	ck_assert_ptr_null(strstr(log, "secret"));
	/* /health logs at debug, below the default level. */
	ck_assert_ptr_null(find_access_line(log, "/health"));
	json_object_put(line);
	free(log);
	fx_stop();
	log_capture_end(fd, saved);
}
END_TEST

START_TEST(health_requests_log_at_debug)
{
	int saved, fd = log_capture_start(&saved, "debug");
	struct resp r;
	json_object *line;
	char *log;

	fx_start_default();
	exchange(&r, "GET", "/health", NULL, NULL);
	resp_release(&r);
	exchange(&r, "GET", "/metrics", NULL, NULL);
	resp_release(&r);
	exchange(&r, "GET", "/nope", NULL, NULL);
	resp_release(&r);
	log = read_log(fd);
	line = find_access_line(log, "/health");
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(jstr(line, "level"), "debug");
	json_object_put(line);
	line = find_access_line(log, "/metrics");
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(jstr(line, "level"), "debug");
	json_object_put(line);
	line = find_access_line(log, "/nope");
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(jstr(line, "level"), "info");
	ck_assert_int_eq(json_object_get_int(jget(line, "status")), 404);
	json_object_put(line);
	free(log);
	fx_stop();
	log_capture_end(fd, saved);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *route = tcase_create("routing");
	TCase *body = tcase_create("bodies");
	TCase *req = tcase_create("requests");
	TCase *async = tcase_create("async");

	tcase_add_test(route, route_params_are_percent_decoded);
	tcase_add_test(route, literal_segments_and_empty_params_do_not_match);
	tcase_add_test(route,
	               param_decoding_to_nul_or_bad_utf8_is_a_bad_request);
	tcase_add_test(route, unknown_path_gets_404_json_without_details);
	tcase_add_test(route, known_path_with_wrong_method_gets_405_with_allow);
	tcase_add_test(route, head_is_answered_by_the_get_route_without_a_body);
	suite_add_tcase(s, route);

	tcase_add_test(body,
	               json_route_accepts_json_content_types_with_parameters);
	tcase_add_test(body, json_route_rejects_other_content_types_with_415);
	tcase_add_test(body, unparsable_json_gets_400_bad_json);
	tcase_add_test(body, trailing_data_after_the_json_value_gets_400);
	tcase_add_test(body, json_that_is_not_an_object_gets_400);
	tcase_add_test(body, too_deep_nesting_gets_400);
	tcase_add_test(body, invalid_utf8_in_the_body_gets_400);
	tcase_add_test(body, body_over_the_limit_by_content_length_gets_413);
	tcase_add_test(body, chunked_body_over_the_limit_gets_413);
	tcase_add_test(body, body_beyond_the_hard_cap_is_refused_by_libevent);
	tcase_add_test(body, body_limit_defaults_from_the_environment);
	tcase_add_test(body,
	               optional_json_route_gives_an_empty_object_for_no_body);
	tcase_add_test(body, required_json_route_refuses_an_empty_body);
	tcase_add_test(body,
	               validation_failures_get_422_with_per_field_details);
	suite_add_tcase(s, body);

	tcase_add_test(req, sane_request_id_is_echoed);
	tcase_add_test(req, insane_or_missing_request_id_is_regenerated);
	tcase_add_test(req, x_real_ip_is_honoured_from_a_trusted_peer);
	tcase_add_test(req, x_real_ip_is_ignored_from_an_untrusted_peer);
	tcase_add_test(req, x_real_ip_is_honoured_from_a_trusted_network);
	tcase_add_test(req, cookies_are_parsed_from_the_cookie_header);
	tcase_add_test(req, query_values_are_decoded);
	tcase_add_test(req, reply_err_text_and_no_content_have_their_shapes);
	tcase_add_test(req, each_request_logs_one_access_line);
	tcase_add_test(req, health_requests_log_at_debug);
	suite_add_tcase(s, req);

	tcase_add_test(async, handler_can_reply_after_a_timer);
	tcase_add_test(async, reply_after_the_client_has_gone_is_safe);
	tcase_add_test(async, client_gone_with_a_body_in_flight_is_safe);
	tcase_add_test(async,
	               close_stops_accepting_while_inflight_requests_finish);
	tcase_add_test(
	    async, server_freed_with_a_request_pending_drops_the_later_reply);
	suite_add_tcase(s, async);

	/* Sanitizer builds are slow; real waits are at most a few seconds. */
	tcase_set_timeout(route, 30);
	tcase_set_timeout(body, 30);
	tcase_set_timeout(req, 30);
	tcase_set_timeout(async, 30);
	return s;
}

SC_TEST_MAIN(http_suite)
