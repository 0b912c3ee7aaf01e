/* bus_test.c: two buses in one process ("auth" serving, "events" calling)
 * over ipc:// sockets in a temporary folder, plus a raw nng client. */
#include "bus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "alloc.h"
#include "error.h"
#include "testing.h"

#define CONCURRENT 200

struct fixture {
	struct event_base *base;
	struct sc_bus *srv; /* "auth", listening */
	struct sc_bus *cli; /* "events", calling and subscribing */
	char dir[64];
	int late_replies; /* auth.later replies sent */
};

static struct fixture fx;

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static char *
dir_url(const char *name)
{
	return sc_asprintf("ipc://%s/%s", fx.dir, name);
}

static void
set_url_env(const char *var, const char *name)
{
	char *url = dir_url(name);
	setenv(var, url, 1);
	free(url);
}

/* ---- handlers of the "auth" bus ------------------------------------- */

/* Echo: {data, method, requestId}. */
static void
echo_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	json_object *out = json_object_new_object();
	(void)arg;
	json_object_object_add(out, "data", json_object_get(data));
	json_object_object_add(out, "method",
	                       json_object_new_string(sc_bus_req_method(req)));
	json_object_object_add(out, "requestId",
	                       json_object_new_string(sc_bus_req_id(req)));
	sc_bus_reply(req, out);
}

static void
fail_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	(void)data;
	(void)arg;
	sc_bus_reply_err(req, SC_ECONFLICT, "username 'ana' is taken");
}

struct later {
	struct sc_bus_req *req;
	int n;
};

static void
later_fire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	json_object *out = json_object_new_object();
	(void)fd;
	(void)what;
	json_object_object_add(out, "n", json_object_new_int(l->n));
	sc_bus_reply(l->req, out);
	fx.late_replies++;
	free(l);
}

/* Reply {n} after data.delayMs, from a timer. */
static void
later_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct later *l = sc_malloc(sizeof *l);
	json_object *v;
	int delay = 0;
	struct timeval tv;
	(void)arg;

	l->req = req;
	l->n = -1;
	if (json_object_object_get_ex(data, "n", &v)) {
		l->n = json_object_get_int(v);
	}
	if (json_object_object_get_ex(data, "delayMs", &v)) {
		delay = json_object_get_int(v);
	}
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	ck_assert_int_eq(
	    event_base_once(fx.base, -1, EV_TIMEOUT, later_fire_cb, l, &tv), 0);
}

/* ---- fixture -------------------------------------------------------- */

static void
setup(void)
{
	char *rep, *pub;

	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/sc-bus-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	set_url_env("SC_BUS_AUTH_REQ", "auth-req");
	set_url_env("SC_BUS_AUTH_PUB", "auth-pub");
	set_url_env("SC_BUS_EVENTS_REQ", "events-req");
	set_url_env("SC_BUS_EVENTS_PUB", "events-pub");
	set_url_env("SC_BUS_RATINGS_REQ", "ratings-req"); /* nobody there */
	unsetenv("SC_BUS_TIMEOUT_MS");

	fx.base = event_base_new();
	ck_assert_ptr_nonnull(fx.base);
	fx.srv = sc_bus_new(fx.base, "auth");
	ck_assert_ptr_nonnull(fx.srv);
	sc_bus_handle(fx.srv, "auth.echo", echo_cb, NULL);
	sc_bus_handle(fx.srv, "auth.fail", fail_cb, NULL);
	sc_bus_handle(fx.srv, "auth.later", later_cb, NULL);
	rep = sc_bus_addr("auth", "REQ");
	pub = sc_bus_addr("auth", "PUB");
	ck_assert_int_eq(sc_bus_listen(fx.srv, rep, pub), SC_OK);
	free(rep);
	free(pub);
	fx.cli = sc_bus_new(fx.base, "events");
	ck_assert_ptr_nonnull(fx.cli);
}

static void
teardown(void)
{
	char cmd[128];

	sc_bus_free(fx.cli);
	sc_bus_free(fx.srv);
	event_base_free(fx.base);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until *count reaches want or ms pass. */
static void
run_until(const int *count, int want, int ms)
{
	struct timeval tv = {0, 5000};
	struct event *tick = event_new(fx.base, -1, EV_PERSIST, tick_cb, NULL);
	long end = now_ms() + ms;

	event_add(tick, &tv);
	while ((count == NULL || *count < want) && now_ms() < end) {
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	event_free(tick);
}

/* ---- a call's outcome ----------------------------------------------- */

struct result {
	int done;
	int err;
	json_object *data; /* a copy */
	char *message;
	long started, ms;
};

static void
result_cb(int err, json_object *data, const char *message, void *arg)
{
	struct result *r = arg;

	r->done++;
	r->err = err;
	r->ms = now_ms() - r->started;
	if (data != NULL) {
		ck_assert_int_eq(json_object_deep_copy(data, &r->data, NULL),
		                 0);
	}
	if (message != NULL) {
		r->message = sc_strdup(message);
	}
}

static void
call(const char *method, const char *json, int timeout_ms, struct result *r)
{
	memset(r, 0, sizeof *r);
	r->started = now_ms();
	sc_bus_call(fx.cli, method, json ? json_tokener_parse(json) : NULL,
	            NULL, timeout_ms, result_cb, r);
	ck_assert_int_eq(r->done, 0); /* never before sc_bus_call returns */
}

static void
result_release(struct result *r)
{
	json_object_put(r->data);
	free(r->message);
	memset(r, 0, sizeof *r);
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
	                                             : NULL;
}

static int
jint(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v)
	                                             : -999;
}

/* ---- request/reply -------------------------------------------------- */

START_TEST(call_is_answered_with_the_data)
{
	struct result r;
	json_object *echoed;

	memset(&r, 0, sizeof r);
	r.started = now_ms();
	sc_bus_call(fx.cli, "auth.echo",
	            json_tokener_parse("{\"x\":42,\"s\":\"h\\u00e9\"}"),
	            "rid-1", 1000, result_cb, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.err, SC_OK);
	ck_assert_ptr_null(r.message);
	ck_assert_str_eq(jstr(r.data, "method"), "auth.echo");
	ck_assert_str_eq(jstr(r.data, "requestId"), "rid-1");
	ck_assert(json_object_object_get_ex(r.data, "data", &echoed));
	ck_assert_int_eq(jint(echoed, "x"), 42);
	ck_assert_str_eq(jstr(echoed, "s"), "h\xc3\xa9");
	result_release(&r);
}
END_TEST

START_TEST(call_without_data_or_request_id_sends_empty_object_and_an_id)
{
	struct result r;
	json_object *echoed;

	call("auth.echo", NULL, 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_OK);
	ck_assert(json_object_object_get_ex(r.data, "data", &echoed));
	ck_assert(json_object_is_type(echoed, json_type_object));
	ck_assert_int_eq(json_object_object_length(echoed), 0);
	ck_assert_uint_gt(strlen(jstr(r.data, "requestId")), 0);
	result_release(&r);
}
END_TEST

START_TEST(error_reply_maps_to_the_error_and_its_message)
{
	struct result r;

	call("auth.fail", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.err, SC_ECONFLICT);
	ck_assert_ptr_null(r.data);
	ck_assert_str_eq(r.message, "username 'ana' is taken");
	result_release(&r);
}
END_TEST

START_TEST(unknown_method_is_not_found)
{
	struct result r;

	call("auth.nope", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(r.message, "auth.nope"));
	result_release(&r);
}
END_TEST

START_TEST(late_reply_times_out_near_the_deadline_and_is_harmless)
{
	struct result r, r2;

	call("auth.later", "{\"n\":1,\"delayMs\":400}", 150, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_ETIMEDOUT);
	ck_assert_ptr_nonnull(r.message);
	ck_assert_int_ge(r.ms, 140);
	ck_assert_int_lt(r.ms, 350);

	/* The late reply goes out; nobody gets it twice or by mistake. */
	run_until(&fx.late_replies, 1, 3000);
	ck_assert_int_eq(fx.late_replies, 1);
	run_until(NULL, 0, 50);
	ck_assert_int_eq(r.done, 1);
	call("auth.later", "{\"n\":2,\"delayMs\":0}", 1000, &r2);
	run_until(&r2.done, 1, 3000);
	ck_assert_int_eq(r2.err, SC_OK);
	ck_assert_int_eq(jint(r2.data, "n"), 2);
	ck_assert_int_eq(r.done, 1);
	result_release(&r);
	result_release(&r2);
}
END_TEST

START_TEST(default_deadline_comes_from_the_environment)
{
	struct result r;

	sc_bus_free(fx.cli);
	setenv("SC_BUS_TIMEOUT_MS", "150", 1);
	fx.cli = sc_bus_new(fx.base, "events");
	ck_assert_ptr_nonnull(fx.cli);
	call("auth.later", "{\"delayMs\":500}", 0, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_ETIMEDOUT);
	ck_assert_int_ge(r.ms, 140);
	ck_assert_int_lt(r.ms, 400);
	result_release(&r);
	/* Let the late reply land before teardown closes the sockets (nng
	 * 1.5.2 may hang closing a connection mid-message; see bus.c). */
	run_until(&fx.late_replies, 1, 3000);
	ck_assert_int_eq(fx.late_replies, 1);
	run_until(NULL, 0, 50);
}
END_TEST

START_TEST(bad_timeout_variable_fails_bus_creation)
{
	setenv("SC_BUS_TIMEOUT_MS", "soon", 1);
	ck_assert_ptr_null(sc_bus_new(fx.base, "events"));
}
END_TEST

START_TEST(peer_that_is_down_fails_within_the_deadline)
{
	struct result r;

	/* Just dialed: a short grace, then unavailable (or the deadline). */
	call("ratings.stats.get", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.done, 1);
	ck_assert(r.err == SC_EUNAVAIL || r.err == SC_ETIMEDOUT);
	ck_assert_ptr_nonnull(r.message);
	ck_assert_int_lt(r.ms, 1100);
	ck_assert(!sc_bus_connected(fx.cli, "ratings", "REQ"));
	result_release(&r);

	/* Past the grace: fails at once rather than waiting out a deadline. */
	run_until(NULL, 0, 250);
	call("ratings.stats.get", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_EUNAVAIL);
	ck_assert_int_lt(r.ms, 100);
	ck_assert_ptr_nonnull(strstr(r.message, "ratings"));
	result_release(&r);
}
END_TEST

START_TEST(unknown_service_is_unavailable_after_the_call_returns)
{
	struct result r;

	call("nosuch.thing.get", "{}", 1000, &r);
	ck_assert_int_eq(r.done, 0);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_EUNAVAIL);
	ck_assert_ptr_nonnull(strstr(r.message, "nosuch"));
	result_release(&r);
}
END_TEST

START_TEST(peer_that_comes_up_later_is_reached)
{
	struct sc_bus *ratings;
	struct result r;
	char *url = sc_bus_addr("ratings", "REQ");

	call("ratings.echo", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_EUNAVAIL);
	result_release(&r);

	ratings = sc_bus_new(fx.base, "ratings");
	sc_bus_handle(ratings, "ratings.echo", echo_cb, NULL);
	ck_assert_int_eq(sc_bus_listen(ratings, url, NULL), SC_OK);
	/* The dialer reconnects in the background. */
	for (long end = now_ms() + 3000;
	     !sc_bus_connected(fx.cli, "ratings", "REQ") && now_ms() < end;) {
		run_until(NULL, 0, 20);
	}
	ck_assert(sc_bus_connected(fx.cli, "ratings", "REQ"));
	call("ratings.echo", "{\"k\":1}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_OK);
	ck_assert_str_eq(jstr(r.data, "method"), "ratings.echo");
	result_release(&r);
	sc_bus_free(ratings);
	free(url);
}
END_TEST

struct many {
	struct result r[CONCURRENT];
	int done;
	int order[CONCURRENT];
};

static struct many *many_state;

static void
many_done_cb(int err, json_object *data, const char *message, void *arg)
{
	struct result *r = arg;
	result_cb(err, data, message, arg);
	many_state->order[many_state->done++] = (int)(r - many_state->r);
}

START_TEST(concurrent_calls_answered_out_of_order_all_complete)
{
	struct many *m = sc_calloc(1, sizeof *m);
	long t0, elapsed;
	int sum = 0, maxd = 0, inversions = 0;

	many_state = m;
	t0 = now_ms();
	for (int i = 0; i < CONCURRENT; i++) {
		int delay = (i * 37) % 100;
		char *json = sc_asprintf("{\"n\":%d,\"delayMs\":%d}", i, delay);
		sum += delay;
		maxd = delay > maxd ? delay : maxd;
		m->r[i].started = now_ms();
		sc_bus_call(fx.cli, "auth.later", json_tokener_parse(json),
		            NULL, 5000, many_done_cb, &m->r[i]);
		free(json);
	}
	run_until(&m->done, CONCURRENT, 10000);
	elapsed = now_ms() - t0;
	ck_assert_int_eq(m->done, CONCURRENT);
	for (int i = 0; i < CONCURRENT; i++) {
		ck_assert_int_eq(m->r[i].done, 1);
		ck_assert_int_eq(m->r[i].err, SC_OK);
		ck_assert_int_eq(jint(m->r[i].data, "n"), i);
		result_release(&m->r[i]);
	}
	for (int i = 1; i < CONCURRENT; i++) {
		inversions += m->order[i] < m->order[i - 1];
	}
	ck_assert_int_gt(inversions, 0); /* really out of order */
	/* Concurrent: about the longest delay, far below the sum (~9.9 s). */
	ck_assert_int_ge(elapsed, maxd);
	ck_assert_int_lt(elapsed, maxd + 1000);
	ck_assert_int_gt(sum, 5 * (maxd + 1000));
	free(m);
}
END_TEST

/* ---- bad input from a raw nng client -------------------------------- */

static const char *const raw_requests[] = {
    "not json",
    "",
    "[1,2]",
    "{\"v\":2,\"method\":\"auth.echo\"}",
    "{\"method\":\"auth.echo\"}",
    "{\"v\":\"1\",\"method\":\"auth.echo\"}",
    "{\"v\":1,\"data\":{}}",
    "{\"v\":1,\"method\":\"auth.echo\",\"data\":5}",
    "{\"v\":1,\"method\":\"auth.echo\"} trailing",
    ("{\"v\":1,\"method\":\"auth.echo\",\"requestId\":\"raw-1\","
     "\"data\":{\"x\":1}}"),
};
#define NRAW (sizeof raw_requests / sizeof raw_requests[0])

struct raw {
	char *url;
	char *replies[NRAW];
	atomic_int finished;
};

static void *
raw_client(void *arg)
{
	struct raw *raw = arg;
	nng_socket s;

	if (nng_req0_open(&s) != 0) {
		goto out;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000);
	if (nng_dial(s, raw->url, NULL, 0) != 0) {
		nng_close(s);
		goto out;
	}
	for (size_t i = 0; i < NRAW; i++) {
		char *buf = NULL;
		size_t sz = 0;
		if (nng_send(s, (void *)raw_requests[i],
		             strlen(raw_requests[i]), 0) != 0 ||
		    nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC) != 0) {
			break;
		}
		raw->replies[i] = sc_strndup(buf, sz);
		nng_free(buf, sz);
	}
	nng_close(s);
out:
	atomic_store(&raw->finished, 1);
	return NULL;
}

START_TEST(malformed_requests_get_bad_request_and_serving_goes_on)
{
	struct raw raw;
	pthread_t th;
	long end = now_ms() + 8000;

	memset(&raw, 0, sizeof raw);
	atomic_init(&raw.finished, 0);
	raw.url = sc_bus_addr("auth", "REQ");
	ck_assert_int_eq(pthread_create(&th, NULL, raw_client, &raw), 0);
	while (!atomic_load(&raw.finished) && now_ms() < end) {
		run_until(NULL, 0, 10);
	}
	pthread_join(th, NULL);
	for (size_t i = 0; i + 1 < NRAW; i++) {
		json_object *rep, *err;
		ck_assert_msg(raw.replies[i] != NULL, "no reply to '%s'",
		              raw_requests[i]);
		rep = json_tokener_parse(raw.replies[i]);
		ck_assert_ptr_nonnull(rep);
		ck_assert_int_eq(jint(rep, "v"), 1);
		ck_assert_str_eq(jstr(rep, "ok"), "false");
		ck_assert(json_object_object_get_ex(rep, "error", &err));
		ck_assert_str_eq(jstr(err, "code"), "bad_request");
		ck_assert_uint_gt(strlen(jstr(err, "message")), 0);
		json_object_put(rep);
	}
	ck_assert_ptr_nonnull(strstr(raw.replies[0], "not valid JSON"));
	ck_assert_ptr_nonnull(strstr(raw.replies[2], "not a JSON object"));
	ck_assert_ptr_nonnull(strstr(raw.replies[3], "v must be 1"));
	ck_assert_ptr_nonnull(strstr(raw.replies[4], "v must be 1"));
	ck_assert_ptr_nonnull(strstr(raw.replies[6], "missing method"));
	ck_assert_ptr_nonnull(strstr(raw.replies[7], "data must be"));
	/* The last request was fine and is answered normally. */
	ck_assert_ptr_nonnull(raw.replies[NRAW - 1]);
	json_object *ok = json_tokener_parse(raw.replies[NRAW - 1]);
	json_object *data;
	ck_assert_str_eq(jstr(ok, "ok"), "true");
	ck_assert(json_object_object_get_ex(ok, "data", &data));
	ck_assert_str_eq(jstr(data, "requestId"), "raw-1");
	json_object_put(ok);
	for (size_t i = 0; i < NRAW; i++) {
		free(raw.replies[i]);
	}
	free(raw.url);

	/* And the bus still answers its own callers. */
	struct result r;
	call("auth.echo", "{}", 1000, &r);
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_OK);
	result_release(&r);
}
END_TEST

/* ---- shutdown ------------------------------------------------------- */

START_TEST(free_fails_pending_calls_before_it_returns)
{
	struct result sent, unsent;

	call("auth.later", "{\"delayMs\":300}", 2000, &sent);
	run_until(NULL, 0, 50); /* on the wire, handler waiting */
	call("auth.echo", "{}", 2000, &unsent);
	sc_bus_free(fx.cli);
	fx.cli = NULL;
	ck_assert_int_eq(sent.done, 1);
	ck_assert_int_eq(sent.err, SC_EUNAVAIL);
	ck_assert_int_eq(unsent.done, 1);
	ck_assert_int_eq(unsent.err, SC_EUNAVAIL);
	result_release(&sent);
	result_release(&unsent);
	/* The server's late reply to a caller that is gone is harmless. */
	run_until(&fx.late_replies, 1, 3000);
	ck_assert_int_eq(fx.late_replies, 1);
	run_until(NULL, 0, 50);
}
END_TEST

START_TEST(server_going_away_fails_its_callers_fast)
{
	struct result r;

	call("auth.later", "{\"delayMs\":400}", 2000, &r);
	run_until(NULL, 0, 50);
	ck_assert_int_eq(r.done, 0);
	sc_bus_free(fx.srv); /* the handler still holds the request */
	fx.srv = NULL;
	run_until(&r.done, 1, 3000);
	ck_assert_int_eq(r.err, SC_EUNAVAIL);
	ck_assert_int_lt(r.ms, 350);
	result_release(&r);
	/* Its handler replies after the bus is gone: dropped, no leak. */
	run_until(&fx.late_replies, 1, 3000);
	ck_assert_int_eq(fx.late_replies, 1);
}
END_TEST

/* ---- publish/subscribe ---------------------------------------------- */

struct seen {
	int count;
	char *topic;
	char *request_id;
	json_object *data;
};

static void
seen_cb(const char *topic, json_object *data, const char *request_id, void *arg)
{
	struct seen *s = arg;

	if (s->count++ == 0) {
		s->topic = sc_strdup(topic);
		s->request_id = request_id ? sc_strdup(request_id) : NULL;
		ck_assert_int_eq(json_object_deep_copy(data, &s->data, NULL),
		                 0);
	}
}

static void
seen_release(struct seen *s)
{
	free(s->topic);
	free(s->request_id);
	json_object_put(s->data);
}

START_TEST(published_event_reaches_matching_subscribers_only)
{
	struct seen user = {0}, updated = {0}, match = {0};
	json_object *u;

	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "user.", seen_cb, &user), SC_OK);
	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "user.updated", seen_cb, &updated),
	    SC_OK);
	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "match.", seen_cb, &match), SC_OK);
	/* Best effort: publish until the subscriber is connected and hears. */
	for (long end = now_ms() + 5000; user.count == 0 && now_ms() < end;) {
		ck_assert_int_eq(
		    sc_bus_publish(fx.srv, "user.registered",
		                   json_tokener_parse("{\"user\":{\"id\":7}}"),
		                   "pub-1"),
		    SC_OK);
		run_until(&user.count, 1, 20);
	}
	run_until(NULL, 0, 50);
	ck_assert_int_ge(user.count, 1);
	ck_assert(sc_bus_connected(fx.cli, "auth", "PUB"));
	ck_assert_str_eq(user.topic, "user.registered");
	ck_assert_str_eq(user.request_id, "pub-1");
	ck_assert(json_object_object_get_ex(user.data, "user", &u));
	ck_assert_int_eq(jint(u, "id"), 7);
	ck_assert_int_eq(updated.count, 0);
	ck_assert_int_eq(match.count, 0);

	/* The longer prefix gets its own topic too. */
	int before = user.count;
	ck_assert_int_eq(sc_bus_publish(fx.srv, "user.updated", NULL, NULL),
	                 SC_OK);
	run_until(&updated.count, 1, 2000);
	ck_assert_int_eq(updated.count, 1);
	ck_assert_int_eq(user.count, before + 1);
	ck_assert_int_eq(json_object_object_length(updated.data), 0);
	ck_assert_uint_gt(strlen(updated.request_id), 0);
	ck_assert_int_eq(match.count, 0);
	seen_release(&user);
	seen_release(&updated);
	seen_release(&match);
}
END_TEST

START_TEST(publish_needs_a_pub_socket_and_a_good_topic)
{
	ck_assert_int_eq(sc_bus_publish(fx.cli, "user.registered",
	                                json_object_new_object(), NULL),
	                 SC_EUNAVAIL);
	ck_assert_int_eq(sc_bus_publish(fx.srv, "has space", NULL, NULL),
	                 SC_EINVAL);
	ck_assert_int_eq(
	    sc_bus_publish(fx.srv, "", json_object_new_object(), NULL),
	    SC_EINVAL);
}
END_TEST

START_TEST(subscribing_to_an_unknown_service_is_unavailable)
{
	struct seen s = {0};
	ck_assert_int_eq(sc_bus_subscribe(fx.cli, "nosuch", "", seen_cb, &s),
	                 SC_EUNAVAIL);
}
END_TEST

/* Counts events and remembers the last one's data.n. */
struct tally {
	int count;
	int last_n;
	char *last_from;
};

static void
tally_cb(const char *topic, json_object *data, const char *request_id,
         void *arg)
{
	struct tally *t = arg;
	json_object *v;
	(void)topic;
	(void)request_id;

	t->count++;
	t->last_n = jint(data, "n");
	if (json_object_object_get_ex(data, "from", &v)) {
		free(t->last_from);
		t->last_from = sc_strdup(json_object_get_string(v));
	}
}

/* Publish {"from": from, "n": -1} on b until t has heard one (the SUB
 * socket connects in the background). */
static void
publish_until_heard(struct sc_bus *b, const char *from, struct tally *t)
{
	int before = t->count;

	for (long end = now_ms() + 5000;
	     t->count == before && now_ms() < end;) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "from", json_object_new_string(from));
		json_object_object_add(d, "n", json_object_new_int(-1));
		ck_assert_int_eq(sc_bus_publish(b, "peer.hello", d, NULL),
		                 SC_OK);
		run_until(&t->count, before + 1, 20);
	}
	ck_assert_int_gt(t->count, before);
}

START_TEST(subscribing_by_address_hears_several_publishers_of_one_service)
{
	struct sc_bus *p1 = sc_bus_new(fx.base, "signaling");
	struct sc_bus *p2 = sc_bus_new(fx.base, "signaling");
	char *u1 = dir_url("sig-1-pub"), *u2 = dir_url("sig-2-pub");
	struct tally t = {0}, other = {0};

	ck_assert_int_eq(sc_bus_listen(p1, NULL, u1), SC_OK);
	ck_assert_int_eq(sc_bus_listen(p2, NULL, u2), SC_OK);
	ck_assert(!sc_bus_connected(fx.cli, u1, "PUB"));
	ck_assert_int_eq(
	    sc_bus_subscribe_addr(fx.cli, u1, "peer.", tally_cb, &t), SC_OK);
	ck_assert_int_eq(
	    sc_bus_subscribe_addr(fx.cli, u2, "peer.", tally_cb, &t), SC_OK);
	/* a second prefix on the same address shares its socket */
	ck_assert_int_eq(
	    sc_bus_subscribe_addr(fx.cli, u2, "other.", tally_cb, &other),
	    SC_OK);

	publish_until_heard(p1, "one", &t);
	ck_assert_str_eq(t.last_from, "one");
	publish_until_heard(p2, "two", &t);
	ck_assert_str_eq(t.last_from, "two");
	ck_assert(sc_bus_connected(fx.cli, u1, "PUB"));
	ck_assert(sc_bus_connected(fx.cli, u2, "PUB"));
	ck_assert_int_eq(other.count, 0);
	ck_assert_int_eq(sc_bus_publish(p2, "other.thing", NULL, NULL), SC_OK);
	run_until(&other.count, 1, 2000);
	ck_assert_int_eq(other.count, 1);

	/* not an address */
	ck_assert_int_eq(
	    sc_bus_subscribe_addr(fx.cli, "signaling", "", tally_cb, &t),
	    SC_EUNAVAIL);
	ck_assert_int_eq(sc_bus_subscribe_addr(fx.cli, NULL, "", tally_cb, &t),
	                 SC_EUNAVAIL);
	sc_bus_free(p1);
	sc_bus_free(p2);
	free(u1);
	free(u2);
	free(t.last_from);
	free(other.last_from);
}
END_TEST

START_TEST(a_burst_published_in_one_loop_turn_arrives_whole)
{
	struct tally t = {0};
	enum { BURST = 500 };

	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "peer.", tally_cb, &t), SC_OK);
	publish_until_heard(fx.srv, "auth", &t);
	t.count = 0;
	/* nng's default queue (16 per subscriber) would keep the last 16 */
	for (int i = 0; i < BURST; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "n", json_object_new_int(i));
		json_object_object_add(
		    d, "pad",
		    json_object_new_string_len(
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		        92));
		ck_assert_int_eq(sc_bus_publish(fx.srv, "peer.burst", d, NULL),
		                 SC_OK);
	}
	run_until(&t.count, BURST, 5000);
	ck_assert_int_eq(t.count, BURST);
	ck_assert_int_eq(t.last_n, BURST - 1);
	free(t.last_from);
}
END_TEST

/* ---- addresses and readiness ---------------------------------------- */

START_TEST(addresses_default_per_service_and_follow_the_environment)
{
	char *a;

	unsetenv("SC_BUS_AUTH_REQ");
	unsetenv("SC_BUS_SIGNALING_PUB");
	unsetenv("SC_BUS_MATCHMAKING_REQ");
	a = sc_bus_addr("auth", "REQ");
	ck_assert_str_eq(a, "tcp://127.0.0.1:7101");
	free(a);
	a = sc_bus_addr("signaling", "PUB");
	ck_assert_str_eq(a, "tcp://127.0.0.1:7142");
	free(a);
	a = sc_bus_addr("matchmaking", "REQ");
	ck_assert_str_eq(a, "tcp://127.0.0.1:7121");
	free(a);
	setenv("SC_BUS_MATCHMAKING_REQ", "tcp://10.0.0.5:9000", 1);
	a = sc_bus_addr("matchmaking", "REQ");
	ck_assert_str_eq(a, "tcp://10.0.0.5:9000");
	free(a);
	ck_assert_ptr_null(sc_bus_addr("nosuch", "REQ"));
	ck_assert_ptr_null(sc_bus_addr("auth", "SUB"));
	ck_assert_ptr_null(sc_bus_addr("Auth", "REQ"));
	ck_assert_ptr_null(sc_bus_addr("", "REQ"));
}
END_TEST

START_TEST(ready_only_when_listening)
{
	struct sc_bus *b = sc_bus_new(fx.base, "ratings");
	char *url = dir_url("no/such/dir/sock");

	ck_assert(sc_bus_ready(fx.srv));
	ck_assert(!sc_bus_ready(fx.cli));
	ck_assert_int_eq(sc_bus_listen(b, "bogus://nowhere", NULL),
	                 SC_EUNAVAIL);
	ck_assert_int_eq(sc_bus_listen(b, url, NULL), SC_EUNAVAIL);
	ck_assert(!sc_bus_ready(b));
	/* An address auth is listening on. */
	char *taken = sc_bus_addr("auth", "PUB");
	ck_assert_int_eq(sc_bus_listen(b, NULL, taken), SC_EUNAVAIL);
	ck_assert(!sc_bus_ready(b));
	free(taken);
	free(url);
	sc_bus_free(b);
}
END_TEST

/* ---- envelopes whose data is not an object (tests/fuzz/bus_fuzz) ------ */

/* A peer that answers one request with `reply` (raw REP socket). */
struct odd_peer {
	nng_socket sock;
	const char *reply;
};

static void *
odd_peer_main(void *arg)
{
	struct odd_peer *p = arg;
	nng_msg *m;

	if (nng_recvmsg(p->sock, &m, 0) == 0) {
		nng_msg_free(m);
		nng_send(p->sock, (void *)p->reply, strlen(p->reply), 0);
	}
	return NULL;
}

/* Found by tests/fuzz/bus_fuzz: {"ok":true,"data":"x"} reached the
 * callback as success with a string for data; proto/README.md says data
 * is an object, and callers read it as one. */
START_TEST(reply_whose_data_is_not_an_object_is_malformed)
{
	static const char *const replies[] = {
	    "{\"v\":1,\"ok\":true,\"data\":\"topic\"}",
	    "{\"v\":1,\"ok\":true,\"data\":[1]}",
	};

	for (size_t i = 0; i < sizeof replies / sizeof *replies; i++) {
		struct odd_peer p = {.reply = replies[i]};
		char *url = sc_asprintf("ipc://%s/odd-%zu", fx.dir, i);
		char *method = sc_asprintf("odd%zu.thing.get", i);
		char var[32];
		struct result r;
		pthread_t th;

		snprintf(var, sizeof var, "SC_BUS_ODD%zu_REQ", i);
		setenv(var, url, 1);
		ck_assert_int_eq(nng_rep0_open(&p.sock), 0);
		ck_assert_int_eq(
		    nng_socket_set_ms(p.sock, NNG_OPT_RECVTIMEO, 5000), 0);
		ck_assert_int_eq(nng_listen(p.sock, url, NULL, 0), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, odd_peer_main, &p),
		                 0);
		call(method, "{}", 3000, &r);
		run_until(&r.done, 1, 5000);
		pthread_join(th, NULL);
		ck_assert_int_eq(r.done, 1);
		ck_assert_int_eq(r.err, SC_EBUS);
		ck_assert_ptr_null(r.data);
		ck_assert_ptr_nonnull(
		    strstr(r.message, "data is not an object"));
		result_release(&r);
		nng_close(p.sock);
		unsetenv(var);
		free(method);
		free(url);
	}
}
END_TEST

START_TEST(event_whose_data_is_not_an_object_is_dropped)
{
	struct seen odd = {0}, ok = {0};

	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "user.odd", seen_cb, &odd), SC_OK);
	ck_assert_int_eq(
	    sc_bus_subscribe(fx.cli, "auth", "user.ok", seen_cb, &ok), SC_OK);
	/* Best effort: until the subscriber hears; the odd one goes first. */
	for (long end = now_ms() + 5000; ok.count == 0 && now_ms() < end;) {
		ck_assert_int_eq(sc_bus_publish(fx.srv, "user.odd",
		                                json_object_new_int(5), NULL),
		                 SC_OK);
		ck_assert_int_eq(sc_bus_publish(fx.srv, "user.ok", NULL, NULL),
		                 SC_OK);
		run_until(&ok.count, 1, 20);
	}
	ck_assert_int_ge(ok.count, 1);
	ck_assert_int_eq(odd.count, 0);
	seen_release(&odd);
	seen_release(&ok);
}
END_TEST

static Suite *
bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, call_is_answered_with_the_data);
	tcase_add_test(
	    tc, call_without_data_or_request_id_sends_empty_object_and_an_id);
	tcase_add_test(tc, error_reply_maps_to_the_error_and_its_message);
	tcase_add_test(tc, unknown_method_is_not_found);
	tcase_add_test(tc,
	               late_reply_times_out_near_the_deadline_and_is_harmless);
	tcase_add_test(tc, default_deadline_comes_from_the_environment);
	tcase_add_test(tc, bad_timeout_variable_fails_bus_creation);
	tcase_add_test(tc, peer_that_is_down_fails_within_the_deadline);
	tcase_add_test(tc,
	               unknown_service_is_unavailable_after_the_call_returns);
	tcase_add_test(tc, peer_that_comes_up_later_is_reached);
	tcase_add_test(tc, concurrent_calls_answered_out_of_order_all_complete);
	tcase_add_test(tc,
	               malformed_requests_get_bad_request_and_serving_goes_on);
	tcase_add_test(tc, free_fails_pending_calls_before_it_returns);
	tcase_add_test(tc, server_going_away_fails_its_callers_fast);
	tcase_add_test(tc, published_event_reaches_matching_subscribers_only);
	tcase_add_test(tc, publish_needs_a_pub_socket_and_a_good_topic);
	tcase_add_test(tc, subscribing_to_an_unknown_service_is_unavailable);
	tcase_add_test(
	    tc, subscribing_by_address_hears_several_publishers_of_one_service);
	tcase_add_test(tc, a_burst_published_in_one_loop_turn_arrives_whole);
	tcase_add_test(
	    tc, addresses_default_per_service_and_follow_the_environment);
	tcase_add_test(tc, ready_only_when_listening);
	tcase_add_test(tc, reply_whose_data_is_not_an_object_is_malformed);
	tcase_add_test(tc, event_whose_data_is_not_an_object_is_dropped);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(bus_suite)
