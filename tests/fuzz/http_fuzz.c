/* http_fuzz.c: raw bytes on a TCP connection to an sc_http server (common/
 * http.c on libevent's evhttp): request line and headers, routing with path
 * parameters, query strings, cookies, request ids, X-Real-IP, JSON bodies
 * (size, content type, UTF-8, depth, trailing data), the JSON error shape.
 * The routes have the shapes the daemons serve; their handlers run the
 * checks that come before any database work (common/validate.c, the
 * events and ratings parameter parsers, bearer tokens) and reply at once.
 *
 * Input: what a client writes on one connection (pipelining allowed).
 * Checks: whatever comes back is HTTP responses with a status line; every
 * response of ours (not libevent's own 400/413/501) is JSON, and an error
 * has {"error":{"code","message"}}; when the client goes, no request is
 * left in flight (nothing leaks). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "events/events.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "ratings/ratings.h"
#include "token.h"
#include "validate.h"

static struct event_base *base;
static struct sc_http_server *srv;
static struct sc_token_verifier *verifier;
static struct sockaddr_in addr;

/* ---- handlers ----------------------------------------------------------- */

static void
register_cb(struct sc_http_req *req, void *arg)
{
	static const char *const allowed[] = {"username", "email", "password",
	                                      NULL};
	json_object *body = sc_http_req_json(req);
	const char *username = NULL, *email = NULL;
	struct sc_valid v;

	(void)arg;
	FUZZ_CHECK(json_object_is_type(body, json_type_object));
	sc_valid_init(&v);
	sc_valid_known(&v, body, allowed);
	if (sc_valid_string(&v, body, "username", SC_V_REQUIRED, 3, 30,
	                    &username)) {
		sc_valid_username(&v, "username", username);
	}
	if (sc_valid_string(&v, body, "email", SC_V_REQUIRED, 3, 254, &email)) {
		sc_valid_email(&v, "email", email);
	}
	sc_valid_string(&v, body, "password", SC_V_REQUIRED, 10, 128, NULL);
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	sc_http_req_add_header(req, "Location", "/api/users/me");
	sc_http_reply_json(req, 201, json_object_get(body));
}

static void
events_list_cb(struct sc_http_req *req, void *arg)
{
	const char *when = sc_http_req_query(req, "when");
	const char *q = sc_http_req_query(req, "q");
	const char *cursor = sc_http_req_query(req, "cursor");
	bool past = when != NULL && strcmp(when, "past") == 0;
	struct sc_valid v;
	char date[11];
	int64_t id;
	int limit;

	(void)arg;
	sc_valid_init(&v);
	if (when != NULL && !past && strcmp(when, "upcoming") != 0) {
		sc_valid_fail(&v, "when", "must be upcoming or past");
	}
	if (q != NULL) {
		long n = sc_utf8_length(q, strlen(q));

		if (n < 0) {
			sc_valid_fail(&v, "q", "must be valid UTF-8");
		} else if (n > EVENTS_Q_MAX) {
			sc_valid_fail(&v, "q",
			              "must be at most 100 characters");
		} else {
			free(events_like_pattern(q));
		}
	}
	if (!events_parse_limit(sc_http_req_query(req, "limit"), &limit)) {
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
	}
	if (cursor != NULL &&
	    !events_list_cursor_read(cursor, past, date, &id)) {
		sc_valid_fail(&v, "cursor", "is not valid");
	}
	if (!sc_valid_ok(&v)) {
		sc_valid_reply(&v, req);
		return;
	}
	sc_valid_release(&v);
	sc_http_reply_json_text(req, 200, "{\"items\":[],\"nextCursor\":null}",
	                        31);
}

static void
event_get_cb(struct sc_http_req *req, void *arg)
{
	int64_t id;
	json_object *o;

	(void)arg;
	if (!events_parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such event");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "requestId",
	                       json_object_new_string(sc_http_req_id(req)));
	json_object_object_add(
	    o, "clientIp", json_object_new_string(sc_http_req_client_ip(req)));
	sc_http_reply_json(req, 200, o);
}

/* The routes that need a user: the bearer token first (it never verifies
 * here: the key is ours and unused), then the refresh cookie. */
static void
auth_cb(struct sc_http_req *req, void *arg)
{
	struct sc_claims c;
	const char *cookie = sc_http_req_cookie(req, "refresh_token");

	(void)arg;
	if (cookie != NULL) {
		FUZZ_CHECK(strlen(cookie) < 65536);
	}
	if (!sc_token_require(verifier, req, &c)) {
		return;
	}
	FUZZ_CHECK(0); /* no token verifies: nothing signs with the key */
}

static void
ratings_list_cb(struct sc_http_req *req, void *arg)
{
	long long us, id;
	int64_t user;
	int limit;

	(void)arg;
	if (!ratings_parse_id(sc_http_req_param(req, "id"), &user)) {
		sc_http_reply_err(req, SC_ENOTFOUND, "no such user");
		return;
	}
	if (!ratings_parse_limit(sc_http_req_query(req, "limit"), &limit) ||
	    (sc_http_req_query(req, "cursor") != NULL &&
	     !ratings_cursor_read(sc_http_req_query(req, "cursor"), &us,
	                          &id))) {
		struct sc_valid v;

		sc_valid_init(&v);
		sc_valid_fail(&v, "limit", "must be an integer from 1 to 100");
		sc_valid_reply(&v, req);
		return;
	}
	sc_http_reply_json(req, 200, NULL);
}

static void
optional_cb(struct sc_http_req *req, void *arg)
{
	json_object *body = sc_http_req_json(req);

	(void)arg;
	FUZZ_CHECK(json_object_is_type(body, json_type_object));
	sc_http_reply_json(req, 200, json_object_get(body));
}

/* ---- the connection ------------------------------------------------------ */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sc_http_opts opts = {4096, "127.0.0.1"};
	EVP_PKEY *key;
	BIO *bio;
	char *pem;
	long n;
	int port;

	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	sc_log_init("http_fuzz");
	base = event_base_new();
	srv = sc_http_server_new(base, &opts);
	FUZZ_CHECK(base != NULL && srv != NULL);
	FUZZ_CHECK(sc_http_server_bind(srv, "127.0.0.1", 0) == SC_OK);
	port = sc_http_server_port(srv);
	FUZZ_CHECK(port > 0);
	sc_http_route(srv, EVHTTP_REQ_POST, "/api/auth/register", SC_HTTP_JSON,
	              register_cb, NULL);
	sc_http_route(srv, EVHTTP_REQ_GET, "/api/events", 0, events_list_cb,
	              NULL);
	sc_http_route(srv, EVHTTP_REQ_GET, "/api/events/:id", 0, event_get_cb,
	              NULL);
	sc_http_route(srv, EVHTTP_REQ_POST, "/api/events/:id/join", 0, auth_cb,
	              NULL);
	sc_http_route(srv, EVHTTP_REQ_PATCH, "/api/users/me", SC_HTTP_JSON,
	              auth_cb, NULL);
	sc_http_route(srv, EVHTTP_REQ_POST, "/api/auth/refresh",
	              SC_HTTP_JSON_OPTIONAL, auth_cb, NULL);
	sc_http_route(srv, EVHTTP_REQ_GET, "/api/ratings/users/:id", 0,
	              ratings_list_cb, NULL);
	sc_http_route(srv, EVHTTP_REQ_PUT, "/api/x/:a/:b",
	              SC_HTTP_JSON_OPTIONAL, optional_cb, NULL);

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	bio = BIO_new(BIO_s_mem());
	FUZZ_CHECK(key != NULL && bio != NULL &&
	           PEM_write_bio_PUBKEY(bio, key) == 1);
	n = BIO_get_mem_data(bio, &pem);
	verifier = sc_token_verifier_new(pem, (size_t)n, "spotlight.cam",
	                                 "spotlight.cam");
	FUZZ_CHECK(verifier != NULL);
	BIO_free(bio);
	EVP_PKEY_free(key);

	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

/* A response's body: after the blank line, Content-Length bytes. Returns
 * the length consumed, or 0 when p does not hold a whole response. A
 * response to HEAD announces a body it does not carry: with head_req (some
 * request may be HEAD) the body is not looked at. */
static size_t
check_response(const char *p, size_t n, bool head_req)
{
	const char *end = memmem(p, n, "\r\n\r\n", 4), *cl, *body;
	size_t head, len = 0;
	int status;
	bool json;

	if (end == NULL) {
		return 0;
	}
	head = (size_t)(end - p) + 4;
	/* "HTTP/<major>.<minor> <status>": libevent answers in the request's
	 * version as sscanf read it, whatever it was ("HTTP/0.1", "HTTP/-1.1";
	 * nginx in front only sends 1.0 and 1.1). */
	FUZZ_CHECK(memcmp(p, "HTTP/", 5) == 0);
	{
		const char *v = p + 5;
		size_t k = strspn(v, "-0123456789");

		FUZZ_CHECK(k > 0 && v[k] == '.');
		v += k + 1;
		k = strspn(v, "-0123456789");
		FUZZ_CHECK(k > 0 && v[k] == ' ');
		status = atoi(v + k + 1);
	}
	FUZZ_CHECK(status >= 100 && status <= 599);
	cl = memmem(p, head, "\r\nContent-Length: ", 18);
	if (cl != NULL) {
		len = strtoul(cl + 18, NULL, 10);
	}
	if (head_req) {
		return head;
	}
	if (n < head + len) {
		return 0;
	}
	body = p + head;
	json = memmem(p, head, "Content-Type: application/json", 30) != NULL;
	/* Ours are JSON; libevent answers some errors itself, in HTML. */
	if (json && len > 0) {
		char *text = strndup(body, len);
		json_object *o = json_tokener_parse(text);

		FUZZ_CHECK(o != NULL);
		free(text);
		if (o != NULL && status >= 400) {
			json_object *e, *code, *msg;

			FUZZ_CHECK(
			    json_object_object_get_ex(o, "error", &e) &&
			    json_object_object_get_ex(e, "code", &code) &&
			    json_object_object_get_ex(e, "message", &msg));
		}
		json_object_put(o);
	} else if (!json && status != 204 && status != 304 && len > 0) {
		/* libevent's own answers (400, 413, 417, 501, ...) are errors
		 * in HTML; everything of ours is JSON */
		FUZZ_CHECK(status >= 400 &&
		           memmem(p, head, "Content-Type: text/html", 23) !=
		               NULL);
	}
	return head + len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[1 << 16];
	struct linger lg = {1, 0};
	size_t have = 0, off = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int idle = 0;

	FUZZ_CHECK(fd >= 0);
	/* Reset on close: no TIME_WAIT left behind per input. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		FUZZ_CHECK(errno == EINPROGRESS);
	}
	while (off < size || idle < 8) {
		ssize_t w = 0, r;

		if (off < size) {
			w = write(fd, data + off, size - off);
			if (w > 0) {
				off += (size_t)w;
			} else if (errno != EAGAIN && errno != EINTR &&
			           errno != ENOTCONN) {
				off = size; /* the server closed: stop */
			}
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		r = read(fd, in + have, sizeof in - have);
		if (r > 0) {
			have += (size_t)r;
			idle = 0;
		} else if (r == 0) {
			break; /* the server closed */
		} else if (w <= 0) {
			idle++;
		}
		if (have == sizeof in) {
			break;
		}
	}
	if (getenv("FUZZ_HTTP_DUMP") != NULL) { /* to see what came back */
		fwrite(in, 1, have, stderr);
		fputs("\n----\n", stderr);
	}
	/* The responses, as far as they came. A response to HEAD announces a
	 * body it does not carry: past one, where the next starts is not
	 * known. */
	for (size_t at = 0, used; at < have; at += used) {
		bool head_req = memmem(data, size, "HEAD", 4) != NULL;

		used = check_response(in + at, have - at, head_req);
		if (used == 0 || head_req) {
			break;
		}
	}
	close(fd);
	for (int i = 0; i < 8 && sc_http_server_inflight(srv) > 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	FUZZ_CHECK(sc_http_server_inflight(srv) == 0);
	return 0;
}
