/* metrics_test.c: the registry's text format byte for byte (HELP, TYPE,
 * label escaping, cumulative buckets), updates from many threads at once,
 * bounded series, collectors, and the HTTP layer counting its routes. */
#include "metrics.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "bus.h"
#include "error.h"
#include "http.h"
#include "password.h"
#include "testing.h"

#define THREADS    8
#define PER_THREAD 100000

static char *
render(struct sc_metrics *m)
{
	size_t len = 0;
	char *s = sc_metrics_render(m, &len);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	return s;
}

/* The value of the sample line starting with `prefix` ("name{...} "), or
 * NAN when there is none. */
static double
sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0) {
			return strtod(p + n, NULL);
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return NAN;
}

START_TEST(renders_counters_and_gauges_with_help_and_type)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *c =
	    sc_metrics_counter(m, "jobs_total", "Jobs done.", "kind");
	struct sc_metric *x = sc_metric_series(c, (const char *const[]){"x"});
	struct sc_metric *y = sc_metric_series(c, (const char *const[]){"y"});
	struct sc_metric *g = sc_metric_series(
	    sc_metrics_gauge(m, "temperature", "A gauge.", NULL), NULL);
	char *s;

	sc_metric_inc(x);
	sc_metric_inc(x);
	sc_metric_add(y, 2.5);
	sc_metric_set(g, -3);
	s = render(m);
	ck_assert_str_eq(s, "# HELP jobs_total Jobs done.\n"
	                    "# TYPE jobs_total counter\n"
	                    "jobs_total{kind=\"x\"} 2\n"
	                    "jobs_total{kind=\"y\"} 2.5\n"
	                    "# HELP temperature A gauge.\n"
	                    "# TYPE temperature gauge\n"
	                    "temperature -3\n");
	free(s);
	sc_metrics_free(m);
}
END_TEST

START_TEST(escapes_label_values_and_help_text)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *c = sc_metrics_counter(
	    m, "odd_total", "Two\nlines, a \\ and \"quotes\".", "path,who");
	char *s;

	sc_metric_inc(sc_metric_series(
	    c, (const char *const[]){"a\\b\"c\nd", "caf\xc3\xa9"}));
	s = render(m);
	ck_assert_str_eq(s, "# HELP odd_total Two\\nlines, a \\\\ and "
	                    "\"quotes\".\n"
	                    "# TYPE odd_total counter\n"
	                    "odd_total{path=\"a\\\\b\\\"c\\nd\",who=\"caf\xc3"
	                    "\xa9\"} 1\n");
	free(s);
	sc_metrics_free(m);
}
END_TEST

START_TEST(histogram_buckets_are_cumulative_and_inf_equals_count)
{
	static const double bounds[] = {0.125, 1, 10};
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *h = sc_metrics_histogram(
	    m, "wait_seconds", "Waits.", "route", bounds, 3);
	struct sc_metric *s = sc_metric_series(h, (const char *const[]){"/x"});
	struct sc_metric *empty =
	    sc_metric_series(h, (const char *const[]){"/y"});
	static const double seen[] = {0.0625, 0.125, 0.5, 4, 50, 100};
	char *text;

	(void)empty;
	for (size_t i = 0; i < sizeof seen / sizeof *seen; i++) {
		sc_metric_observe(s, seen[i]);
	}
	sc_metric_observe(s, NAN); /* ignored */
	ck_assert_uint_eq(sc_metric_count(s), 6);
	ck_assert(sc_metric_value(s) == 154.6875);
	text = render(m);
	/* 0.125 lands in le="0.125": a bound is inclusive. */
	ck_assert_str_eq(text,
	                 "# HELP wait_seconds Waits.\n"
	                 "# TYPE wait_seconds histogram\n"
	                 "wait_seconds_bucket{route=\"/x\",le=\"0.125\"} 2\n"
	                 "wait_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
	                 "wait_seconds_bucket{route=\"/x\",le=\"10\"} 4\n"
	                 "wait_seconds_bucket{route=\"/x\",le=\"+Inf\"} 6\n"
	                 "wait_seconds_sum{route=\"/x\"} 154.6875\n"
	                 "wait_seconds_count{route=\"/x\"} 6\n"
	                 "wait_seconds_bucket{route=\"/y\",le=\"0.125\"} 0\n"
	                 "wait_seconds_bucket{route=\"/y\",le=\"1\"} 0\n"
	                 "wait_seconds_bucket{route=\"/y\",le=\"10\"} 0\n"
	                 "wait_seconds_bucket{route=\"/y\",le=\"+Inf\"} 0\n"
	                 "wait_seconds_sum{route=\"/y\"} 0\n"
	                 "wait_seconds_count{route=\"/y\"} 0\n");
	free(text);
	sc_metrics_free(m);
}
END_TEST

START_TEST(histogram_without_labels_has_le_alone_and_default_buckets)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric *s = sc_metric_series(
	    sc_metrics_histogram(m, "lat_seconds", "Latency.", NULL, NULL, 0),
	    NULL);
	char *text;

	sc_metric_observe(s, 0.003);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text,
	                             "lat_seconds_bucket{le=\"0.0005\"} 0\n"
	                             "lat_seconds_bucket{le=\"0.001\"} 0\n"
	                             "lat_seconds_bucket{le=\"0.0025\"} 0\n"
	                             "lat_seconds_bucket{le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "lat_seconds_bucket{le=\"10\"} 1\n"
	                                   "lat_seconds_bucket{le=\"+Inf\"} 1\n"
	                                   "lat_seconds_sum 0.003\n"
	                                   "lat_seconds_count 1\n"));
	free(text);
	sc_metrics_free(m);
}
END_TEST

START_TEST(values_print_as_prometheus_reads_them)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *g = sc_metrics_gauge(m, "v", "Values.", "k");
	static const struct {
		const char *k;
		double v;
		const char *want;
	} cases[] = {
	    {"tenth", 0.1, "v{k=\"tenth\"} 0.1\n"},
	    {"big", 12345678901234.0, "v{k=\"big\"} 12345678901234\n"},
	    {"third", 1.0 / 3, "v{k=\"third\"} 0.33333333333333331\n"},
	    {"inf", INFINITY, "v{k=\"inf\"} +Inf\n"},
	    {"ninf", -INFINITY, "v{k=\"ninf\"} -Inf\n"},
	    {"nan", NAN, "v{k=\"nan\"} NaN\n"},
	};
	char *text;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		sc_metric_set(
		    sc_metric_series(g, (const char *const[]){cases[i].k}),
		    cases[i].v);
	}
	text = render(m);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		ck_assert_msg(strstr(text, cases[i].want) != NULL,
		              "missing '%s' in:\n%s", cases[i].want, text);
	}
	free(text);
	sc_metrics_free(m);
}
END_TEST

START_TEST(counters_only_grow_and_gauges_go_both_ways)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric *c = sc_metric_series(
	    sc_metrics_counter(m, "c_total", "C.", NULL), NULL);
	struct sc_metric *g =
	    sc_metric_series(sc_metrics_gauge(m, "g", "G.", NULL), NULL);

	sc_metric_add(c, 5);
	sc_metric_add(c, -2);    /* ignored */
	sc_metric_dec(c);        /* ignored */
	sc_metric_observe(c, 1); /* not a histogram: ignored */
	ck_assert(sc_metric_value(c) == 5);
	sc_metric_inc(g);
	sc_metric_inc(g);
	sc_metric_dec(g);
	sc_metric_add(g, -4);
	ck_assert(sc_metric_value(g) == -3);
	sc_metric_set(c, 42); /* a collector mirroring a count */
	ck_assert(sc_metric_value(c) == 42);
	sc_metrics_free(m);
}
END_TEST

START_TEST(bad_names_and_labels_are_refused)
{
	struct sc_metrics *m = sc_metrics_new();
	static const double down[] = {1, 0.5};

	ck_assert_ptr_null(sc_metrics_counter(m, "9lives", "h", NULL));
	ck_assert_ptr_null(sc_metrics_counter(m, "has-dash", "h", NULL));
	ck_assert_ptr_null(sc_metrics_counter(m, "", "h", NULL));
	ck_assert_ptr_null(sc_metrics_counter(m, NULL, "h", NULL));
	ck_assert_ptr_null(sc_metrics_counter(m, "ok", "h", "a,,b"));
	ck_assert_ptr_null(sc_metrics_counter(m, "ok", "h", "a:b"));
	ck_assert_ptr_null(sc_metrics_counter(m, "ok", "h", "__reserved"));
	ck_assert_ptr_null(sc_metrics_counter(m, "ok", "h", "a,a"));
	ck_assert_ptr_null(sc_metrics_counter(m, "ok", "h", "a,b,c,d,e"));
	ck_assert_ptr_null(sc_metrics_histogram(m, "hh", "h", "le", NULL, 0));
	ck_assert_ptr_null(sc_metrics_histogram(m, "hh", "h", NULL, down, 2));
	/* none of the refused ones was registered */
	char *text = render(m);
	ck_assert_str_eq(text, "");
	free(text);
	/* "le" is an ordinary label outside histograms; colons are fine in
	 * a metric name */
	ck_assert_ptr_nonnull(sc_metrics_gauge(m, "ns:ok", "h", "le"));
	sc_metrics_free(m);
}
END_TEST

START_TEST(declaring_again_returns_the_same_family_or_refuses_another_shape)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *a =
	    sc_metrics_counter(m, "x_total", "X.", "k");
	struct sc_metric *s1, *s2;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(sc_metrics_counter(m, "x_total", "X again.", "k"), a);
	ck_assert_ptr_null(sc_metrics_gauge(m, "x_total", "X.", "k"));
	ck_assert_ptr_null(sc_metrics_counter(m, "x_total", "X.", "k,j"));
	ck_assert_ptr_null(sc_metrics_counter(m, "x_total", "X.", NULL));
	s1 = sc_metric_series(a, (const char *const[]){"v"});
	s2 = sc_metric_series(a, (const char *const[]){"v"});
	ck_assert_ptr_eq(s1, s2);
	ck_assert_ptr_null(sc_metric_series(a, NULL));
	ck_assert_ptr_null(sc_metric_series(a, (const char *const[]){NULL}));
	sc_metrics_free(m);
}
END_TEST

START_TEST(a_family_holds_a_bounded_number_of_series)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric_family *f =
	    sc_metrics_counter(m, "n_total", "N.", "k");
	char v[32];

	for (int i = 0; i < SC_METRICS_MAX_SERIES; i++) {
		snprintf(v, sizeof v, "%d", i);
		ck_assert_ptr_nonnull(
		    sc_metric_series(f, (const char *const[]){v}));
	}
	ck_assert_ptr_null(sc_metric_series(f, (const char *const[]){"more"}));
	/* existing ones are still found */
	ck_assert_ptr_nonnull(sc_metric_series(f, (const char *const[]){"7"}));
	sc_metrics_free(m);
}
END_TEST

START_TEST(null_means_no_metrics_everywhere)
{
	ck_assert_ptr_null(sc_metrics_counter(NULL, "a", "b", NULL));
	ck_assert_ptr_null(sc_metric_series(NULL, NULL));
	ck_assert_ptr_null(sc_metrics_calloc(NULL, 8));
	sc_metric_inc(NULL);
	sc_metric_add(NULL, 1);
	sc_metric_dec(NULL);
	sc_metric_set(NULL, 1);
	sc_metric_observe(NULL, 1);
	ck_assert(sc_metric_value(NULL) == 0);
	ck_assert_uint_eq(sc_metric_count(NULL), 0);
	sc_metrics_collector(NULL, NULL, NULL);
	sc_metrics_collector_remove(NULL, NULL, NULL);
	sc_metrics_wire(NULL, "x", NULL, NULL, NULL);
	sc_metrics_free(NULL);
	char *text = sc_metrics_render(NULL, NULL);
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

static void
collect_cb(struct sc_metrics *m, void *arg)
{
	struct sc_metric *g = arg;
	(void)m;
	sc_metric_add(g, 10);
}

START_TEST(collectors_run_before_each_render_until_removed)
{
	struct sc_metrics *m = sc_metrics_new();
	struct sc_metric *g =
	    sc_metric_series(sc_metrics_gauge(m, "g", "G.", NULL), NULL);
	char *text;

	sc_metrics_collector(m, collect_cb, g);
	free(render(m));
	text = render(m);
	ck_assert(sample(text, "g ") == 20);
	free(text);
	sc_metrics_collector_remove(m, collect_cb, g);
	text = render(m);
	ck_assert(sample(text, "g ") == 20);
	free(text);
	sc_metrics_free(m);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

struct hammer {
	struct sc_metric *counter, *gauge, *hist;
	atomic_bool go;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->go)) {
	}
	for (int i = 0; i < PER_THREAD; i++) {
		sc_metric_inc(h->counter);
		sc_metric_inc(h->gauge);
		sc_metric_dec(h->gauge);
		sc_metric_observe(h->hist, (i % 4) * 0.25);
	}
	return NULL;
}

START_TEST(updates_from_many_threads_lose_nothing)
{
	struct sc_metrics *m = sc_metrics_new();
	struct hammer h = {0};
	pthread_t t[THREADS];
	static const double bounds[] = {0.1, 0.3, 0.6};
	char *text;

	h.counter = sc_metric_series(
	    sc_metrics_counter(m, "hits_total", "Hits.", NULL), NULL);
	h.gauge =
	    sc_metric_series(sc_metrics_gauge(m, "up", "Up.", NULL), NULL);
	h.hist = sc_metric_series(
	    sc_metrics_histogram(m, "d", "D.", NULL, bounds, 3), NULL);
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_main, &h),
		                 0);
	}
	atomic_store(&h.go, true);
	/* Renders while the threads write: +Inf always equals _count. */
	for (int r = 0; r < 50; r++) {
		text = render(m);
		ck_assert(sample(text, "d_bucket{le=\"+Inf\"} ") ==
		          sample(text, "d_count "));
		free(text);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	ck_assert(sc_metric_value(h.counter) == (double)THREADS * PER_THREAD);
	ck_assert(sc_metric_value(h.gauge) == 0);
	ck_assert_uint_eq(sc_metric_count(h.hist),
	                  (uint64_t)THREADS * PER_THREAD);
	/* a quarter each of 0, 0.25, 0.5, 0.75 */
	ck_assert(sc_metric_value(h.hist) ==
	          (double)THREADS * PER_THREAD / 4 * 1.5);
	text = render(m);
	ck_assert(sample(text, "d_bucket{le=\"0.1\"} ") ==
	          (double)THREADS * PER_THREAD / 4);
	ck_assert(sample(text, "d_bucket{le=\"0.3\"} ") ==
	          (double)THREADS * PER_THREAD / 2);
	ck_assert(sample(text, "d_bucket{le=\"0.6\"} ") ==
	          (double)THREADS * PER_THREAD * 3 / 4);
	ck_assert(sample(text, "d_bucket{le=\"+Inf\"} ") ==
	          (double)THREADS * PER_THREAD);
	free(text);
	sc_metrics_free(m);
}
END_TEST

/* ---- the HTTP layer counting its routes ---------------------------------- */

struct http_fx {
	struct event_base *base;
	struct sc_http_server *srv;
	int port;
	atomic_bool done;
	char replies[4][65536];
	const char *const *requests;
	size_t nrequests;
};

static void
hello_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	sc_http_reply_json(req, 200, json_object_new_object());
}

static void
teapot_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	sc_http_reply_error(req, 503, "busy", "try later", NULL);
}

/* One request on a fresh connection; the whole reply into out. */
static void
http_roundtrip(int port, const char *request, char *out, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t r;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(write(fd, request, strlen(request)),
	                 (ssize_t)strlen(request));
	while (n < cap - 1 && (r = read(fd, out + n, cap - 1 - n)) > 0) {
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fd);
}

static void *
http_client_main(void *arg)
{
	struct http_fx *f = arg;

	for (size_t i = 0; i < f->nrequests; i++) {
		http_roundtrip(f->port, f->requests[i], f->replies[i],
		               sizeof f->replies[i]);
	}
	atomic_store(&f->done, true);
	return NULL;
}

START_TEST(http_counts_by_route_pattern_and_serves_metrics)
{
	static const char *const requests[] = {
	    "GET /api/hello/alice HTTP/1.1\r\nHost: x\r\nConnection: "
	    "close\r\n\r\n",
	    "GET /api/hello/bob HTTP/1.1\r\nHost: x\r\nConnection: "
	    "close\r\n\r\n",
	    "DELETE /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	};
	static struct http_fx f;
	struct sc_metrics *m = sc_metrics_new();
	pthread_t t;
	char *body;

	f.base = event_base_new();
	f.srv = sc_http_server_new(f.base, NULL);
	ck_assert_ptr_nonnull(f.srv);
	/* one route before the registry is attached, one after */
	sc_http_route(f.srv, EVHTTP_REQ_GET, "/api/hello/:name", 0, hello_cb,
	              NULL);
	sc_metrics_wire(m, "test", f.srv, NULL, NULL);
	sc_http_route(f.srv, EVHTTP_REQ_POST, "/api/teapot", 0, teapot_cb,
	              NULL);
	ck_assert_int_eq(sc_http_server_bind(f.srv, "127.0.0.1", 0), 0);
	f.port = sc_http_server_port(f.srv);
	f.requests = requests;
	f.nrequests = 4;
	ck_assert_int_eq(pthread_create(&t, NULL, http_client_main, &f), 0);
	while (!atomic_load(&f.done)) {
		event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	pthread_join(t, NULL);

	ck_assert_ptr_nonnull(strstr(f.replies[0], "HTTP/1.1 200"));
	ck_assert_ptr_nonnull(strstr(f.replies[3], "HTTP/1.1 200"));
	ck_assert_ptr_nonnull(
	    strstr(f.replies[3], "Content-Type: text/plain; version=0.0.4"));
	body = strstr(f.replies[3], "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	/* the pattern, not the paths */
	ck_assert(sample(body,
	                 "spotlight_http_requests_total{method=\"GET\","
	                 "route=\"/api/hello/:name\",code=\"2xx\"} ") == 2);
	ck_assert(sample(body,
	                 "spotlight_http_requests_total{method=\"GET\","
	                 "route=\"/api/hello/:name\",code=\"5xx\"} ") == 0);
	ck_assert(sample(body,
	                 "spotlight_http_request_duration_seconds_count"
	                 "{method=\"GET\",route=\"/api/hello/:name\"} ") == 2);
	ck_assert(sample(body, "spotlight_http_requests_total{method=\"POST\","
	                       "route=\"/api/teapot\",code=\"5xx\"} ") == 0);
	ck_assert(sample(body,
	                 "spotlight_http_requests_total{method="
	                 "\"DELETE\",route=\"unmatched\",code=\"4xx\"} ") == 1);
	ck_assert_ptr_null(strstr(body, "alice"));
	/* the scrape itself is counted once rendered */
	ck_assert(sample(body, "spotlight_http_requests_in_flight ") == 1);
	ck_assert_ptr_nonnull(strstr(body, "spotlight_build_info{service="
	                                   "\"test\","));
	ck_assert(sample(body, "process_open_fds ") > 2);
	ck_assert(sample(body, "process_resident_memory_bytes ") > 0);

	sc_http_server_free(f.srv);
	/* the server's collector is gone with it: rendering is still safe */
	free(render(m));
	event_base_free(f.base);
	sc_metrics_free(m);
}
END_TEST

/* ---- the bus counting what it sends and serves --------------------------- */

struct bus_fx {
	int done;
	int errs[8];
	struct sc_bus_req *held;
};

static void
bus_ok_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	(void)data;
	(void)arg;
	sc_bus_reply(req, NULL);
}

static void
bus_fail_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	(void)data;
	(void)arg;
	sc_bus_reply_err(req, SC_ECONFLICT, "taken");
}

static void
bus_hold_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	struct bus_fx *f = arg;
	(void)data;
	f->held = req;
}

static void
bus_reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct bus_fx *f = arg;
	(void)data;
	(void)message;
	f->errs[f->done++] = err;
}

static void
set_bus_env(const char *var, const char *dir, const char *name)
{
	char *url = sc_asprintf("ipc://%s/%s", dir, name);
	setenv(var, url, 1);
	free(url);
}

START_TEST(bus_counts_sent_and_served_requests_by_method_and_outcome)
{
	char dir[] = "/tmp/sc-metrics-bus.XXXXXX";
	struct event_base *base = event_base_new();
	struct sc_metrics *m = sc_metrics_new();
	struct sc_bus *srv, *cli;
	struct bus_fx f = {0};
	char *text, *rep, *pub;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	set_bus_env("SC_BUS_AUTH_REQ", dir, "auth-req.ipc");
	set_bus_env("SC_BUS_AUTH_PUB", dir, "auth-pub.ipc");
	set_bus_env("SC_BUS_RATINGS_REQ", dir, "nobody.ipc");
	srv = sc_bus_new(base, "auth");
	cli = sc_bus_new(base, "events");
	sc_bus_handle(srv, "auth.ok", bus_ok_cb, &f);
	sc_bus_set_metrics(srv, m); /* handlers before and after */
	sc_bus_handle(srv, "auth.fail", bus_fail_cb, &f);
	sc_bus_handle(srv, "auth.hold", bus_hold_cb, &f);
	sc_bus_set_metrics(cli, m); /* both in one registry: served and sent
	                               are separate families */
	rep = sc_bus_addr("auth", "REQ");
	pub = sc_bus_addr("auth", "PUB");
	ck_assert_int_eq(sc_bus_listen(srv, rep, pub), SC_OK);
	free(rep);
	free(pub);

	sc_bus_call(cli, "auth.ok", NULL, NULL, 2000, bus_reply_cb, &f);
	sc_bus_call(cli, "auth.ok", NULL, NULL, 2000, bus_reply_cb, &f);
	sc_bus_call(cli, "auth.fail", NULL, NULL, 2000, bus_reply_cb, &f);
	sc_bus_call(cli, "auth.nothing", NULL, NULL, 2000, bus_reply_cb, &f);
	sc_bus_call(cli, "auth.hold", NULL, NULL, 300, bus_reply_cb, &f);
	sc_bus_call(cli, "ratings.x", NULL, NULL, 2000, bus_reply_cb, &f);
	ck_assert_int_eq(sc_bus_publish(srv, "user.registered", NULL, NULL),
	                 SC_OK);
	for (int i = 0; i < 5000 && f.done < 6; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert_int_eq(f.done, 6);

	text = render(m);
#define SENT(method, outcome)                                                  \
	sample(text, "spotlight_bus_requests_sent_total{method=\"" method      \
	             "\",outcome=\"" outcome "\"} ")
#define SERVED(method, outcome)                                                \
	sample(text, "spotlight_bus_requests_served_total{method=\"" method    \
	             "\",outcome=\"" outcome "\"} ")
	ck_assert(SENT("auth.ok", "ok") == 2);
	ck_assert(SENT("auth.ok", "error") == 0);
	ck_assert(SENT("auth.fail", "error") == 1);
	ck_assert(SENT("auth.nothing", "error") == 1);
	ck_assert(SENT("auth.hold", "timeout") == 1);
	ck_assert(SENT("ratings.x", "unavailable") == 1);
	ck_assert(SERVED("auth.ok", "ok") == 2);
	ck_assert(SERVED("auth.fail", "error") == 1);
	ck_assert(SERVED("unknown", "error") == 1);
	ck_assert(SERVED("auth.hold", "ok") == 0); /* not answered yet */
	ck_assert(sample(text, "spotlight_bus_request_duration_seconds_count"
	                       "{method=\"auth.ok\"} ") == 2);
	ck_assert(sample(text, "spotlight_bus_request_duration_seconds_sum"
	                       "{method=\"auth.hold\"} ") >= 0.29);
	ck_assert(sample(text, "spotlight_bus_serve_duration_seconds_count"
	                       "{method=\"auth.fail\"} ") == 1);
	ck_assert(sample(text, "spotlight_bus_events_published_total{topic="
	                       "\"user.registered\"} ") == 1);
	ck_assert(sample(text, "spotlight_bus_peer_connected{service=\"auth\","
	                       "kind=\"REQ\"} ") == 1);
	ck_assert(sample(text, "spotlight_bus_peer_connected{service="
	                       "\"ratings\",kind=\"REQ\"} ") == 0);
#undef SENT
#undef SERVED
	free(text);

	sc_bus_free(cli);
	sc_bus_free(srv);
	sc_bus_reply(f.held, NULL); /* dropped: frees it */
	free(render(m));
	sc_metrics_free(m);
	event_base_free(base);
	rmdir(dir);
}
END_TEST

/* ---- the password pool: observed on its worker threads --------------------
 */

struct pw_fx {
	int done;
	int errs[4];
};

static void
pw_hash_cb(int err, const char *encoded, void *arg)
{
	struct pw_fx *f = arg;
	(void)encoded;
	f->errs[f->done++] = err;
}

static void
pw_verify_cb(int err, void *arg)
{
	struct pw_fx *f = arg;
	f->errs[f->done++] = err;
}

START_TEST(password_pool_times_each_job_on_its_worker)
{
	struct event_base *base = event_base_new();
	struct sc_metrics *m = sc_metrics_new();
	struct sc_hasher_opts o = {.memory_kib = 19456,
	                           .iterations = 2,
	                           .threads = 2,
	                           .max_queue = 16};
	struct sc_hasher *h = sc_hasher_new(base, &o);
	struct pw_fx f = {0};
	char *text;

	ck_assert_ptr_nonnull(h);
	sc_hasher_set_metrics(h, m);
	sc_hasher_hash(h, "correct horse", pw_hash_cb, &f);
	sc_hasher_hash(h, "battery staple", pw_hash_cb, &f);
	sc_hasher_verify(h, NULL, "unknown user", pw_verify_cb, &f);
	while (f.done < 3) {
		ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
	}
	text = render(m);
	ck_assert(sample(text, "spotlight_password_duration_seconds_count"
	                       "{op=\"hash\"} ") == 2);
	ck_assert(sample(text, "spotlight_password_duration_seconds_count"
	                       "{op=\"verify\"} ") == 1);
	ck_assert(sample(text, "spotlight_password_duration_seconds_sum"
	                       "{op=\"hash\"} ") > 0.001);
	ck_assert(sample(text, "spotlight_password_queue_length ") == 0);
	free(text);
	sc_hasher_free(h);
	free(render(m)); /* its collector went with it */
	sc_metrics_free(m);
	event_base_free(base);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, renders_counters_and_gauges_with_help_and_type);
	tcase_add_test(tc, escapes_label_values_and_help_text);
	tcase_add_test(tc,
	               histogram_buckets_are_cumulative_and_inf_equals_count);
	tcase_add_test(
	    tc, histogram_without_labels_has_le_alone_and_default_buckets);
	tcase_add_test(tc, values_print_as_prometheus_reads_them);
	tcase_add_test(tc, counters_only_grow_and_gauges_go_both_ways);
	tcase_add_test(tc, bad_names_and_labels_are_refused);
	tcase_add_test(
	    tc,
	    declaring_again_returns_the_same_family_or_refuses_another_shape);
	tcase_add_test(tc, a_family_holds_a_bounded_number_of_series);
	tcase_add_test(tc, null_means_no_metrics_everywhere);
	tcase_add_test(tc, collectors_run_before_each_render_until_removed);
	tcase_add_test(tc, updates_from_many_threads_lose_nothing);
	tcase_add_test(tc, http_counts_by_route_pattern_and_serves_metrics);
	tcase_add_test(
	    tc, bus_counts_sent_and_served_requests_by_method_and_outcome);
	tcase_add_test(tc, password_pool_times_each_job_on_its_worker);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(metrics_suite)
