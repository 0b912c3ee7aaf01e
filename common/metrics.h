/* metrics.h: a small Prometheus registry (counters, gauges, fixed-bucket
 * histograms, each with a few labels) rendered in the text exposition
 * format 0.0.4, and the metrics every daemon serves on GET /metrics.
 *
 * Families are declared and their series (one per set of label values)
 * created at start-up, or rarely afterwards from the loop thread: that
 * allocates. Updating a series never allocates and never locks: values are
 * C11 atomics (relaxed), so any thread may update (the bus's nng threads,
 * the password workers); rendering and creating happen on the loop thread.
 * Every update function takes NULL as "no metrics" and does nothing, so
 * code runs the same with or without a registry.
 *
 * Label cardinality stays bounded by construction: label values come from
 * fixed sets (route patterns, not paths; registered bus methods; a status
 * class, not a status) and a family holds at most SC_METRICS_MAX_SERIES.
 *
 * What the daemons expose (sc_metrics_wire; auth adds the password pool,
 * password.h; signaling its Socket.IO figures, services/signaling):
 *
 *   spotlight_build_info{service,version}                  gauge
 *   process_start_time_seconds                             gauge
 *   process_cpu_seconds_total                              counter
 *   process_resident_memory_bytes                          gauge
 *   process_open_fds                                       gauge
 *   spotlight_http_requests_total{method,route,code}       counter
 *   spotlight_http_request_duration_seconds{method,route}  histogram
 *   spotlight_http_requests_in_flight                      gauge
 *   spotlight_bus_requests_sent_total{method,outcome}      counter
 *   spotlight_bus_request_duration_seconds{method}         histogram
 *   spotlight_bus_requests_served_total{method,outcome}    counter
 *   spotlight_bus_serve_duration_seconds{method}           histogram
 *   spotlight_bus_events_published_total{topic}            counter
 *   spotlight_bus_events_received_total{topic}             counter
 *   spotlight_bus_peer_connected{service,kind}             gauge
 *   spotlight_db_connections{state}                        gauge
 *   spotlight_db_queue_length                              gauge
 *   spotlight_db_queries_total                             counter
 *   spotlight_db_query_errors_total                        counter
 *   spotlight_password_duration_seconds{op}                histogram
 *   spotlight_password_queue_length                        gauge
 *   spotlight_sio_connections{transport}                   gauge
 *   spotlight_sio_http_connections                         gauge
 *   spotlight_sio_sockets                                  gauge
 *   spotlight_sio_rooms                                    gauge
 *   spotlight_eio_packets_total{direction}                 counter
 *   spotlight_sio_packets_total{direction}                 counter
 *   spotlight_sio_events_received_total{event}             counter
 *
 * route is the route's pattern ("/api/events/:id") and method the route's
 * method (a HEAD counts under its GET route); a request no route takes
 * (404, 405) counts as route "unmatched" with its own method. code is a
 * status class (2xx .. 5xx). outcome of a request sent is ok, error (the
 * peer answered an error, or garbage), timeout, or unavailable (no
 * connection, the connection lost, the bus closing); of a request served
 * ok or error. A bus method or topic beyond the first 64 seen is "other"; a
 * request for a method nobody registered is "unknown". state of a pool
 * connection is busy, idle or down. op is hash or verify. transport is
 * websocket or polling;
 * direction in or out; event one of signaling's event names or
 * "unknown". Requests libevent refuses itself (malformed, its own 413)
 * are not counted.
 */
#ifndef SC_METRICS_H
#define SC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define SC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define SC_METRICS_MAX_LABELS   4
#define SC_METRICS_MAX_SERIES   1024 /* per family */

struct sc_metrics;       /* a registry */
struct sc_metric_family; /* one metric name: type, help, label names */
struct sc_metric;        /* one series: a family with its label values */
struct sc_http_server;
struct sc_bus;
struct sc_db;

/* ---- the registry --------------------------------------------------- */

/* An empty registry. Caller owns; free with sc_metrics_free() after
 * everything that updates or renders it (free it last). */
struct sc_metrics *sc_metrics_new(void);
void sc_metrics_free(struct sc_metrics *m);

/* Declare a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*; help is one
 * line of text; labels is a comma list of label names ("method,route")
 * or NULL for none, each [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
 * (and not "le" for a histogram), at most SC_METRICS_MAX_LABELS. All are
 * copied. Declaring a name again with the same type and labels returns
 * the existing family. NULL (logged) for a bad name or label, or a name
 * taken with another type or labels; m NULL gives NULL silently.
 * Borrowed: valid until sc_metrics_free. A family without labels has its
 * one series from the start. */
struct sc_metric_family *sc_metrics_counter(struct sc_metrics *m,
                                            const char *name, const char *help,
                                            const char *labels);
struct sc_metric_family *sc_metrics_gauge(struct sc_metrics *m,
                                          const char *name, const char *help,
                                          const char *labels);

/* A histogram with nbounds upper bounds, strictly increasing and finite
 * (copied); +Inf is added. bounds NULL: the latency buckets in seconds,
 * 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10. */
struct sc_metric_family *
sc_metrics_histogram(struct sc_metrics *m, const char *name, const char *help,
                     const char *labels, const double *bounds, size_t nbounds);

/* The series of fam with `values`, one per label name in order (NULL for a
 * family without labels); created on first use (allocates: loop thread or
 * start-up only), found afterwards (a linear search: keep the result).
 * Values are copied and may hold any UTF-8 (escaped when rendered).
 * Borrowed: valid until sc_metrics_free. NULL when fam is NULL, a value
 * is NULL, or fam already holds SC_METRICS_MAX_SERIES (logged once). */
struct sc_metric *sc_metric_series(struct sc_metric_family *fam,
                                   const char *const *values);

/* ---- updates: any thread, no allocation, no lock; s NULL: nothing ---- */

/* Counter or gauge: add 1, add v (a counter only grows: v < 0 is
 * ignored for one), subtract 1 (gauge). */
void sc_metric_inc(struct sc_metric *s);
void sc_metric_add(struct sc_metric *s, double v);
void sc_metric_dec(struct sc_metric *s);

/* Set the value: a gauge; or a counter mirrored from a count kept
 * elsewhere (a collector copying a pool's totals). */
void sc_metric_set(struct sc_metric *s, double v);

/* Histogram: count v in the first bucket whose bound is >= v, add it to
 * the sum. NaN is ignored. */
void sc_metric_observe(struct sc_metric *s, double v);

/* The value of a counter or gauge, a histogram's sum; 0 for NULL. */
double sc_metric_value(const struct sc_metric *s);

/* A histogram's number of observations; 0 for NULL or another type. */
uint64_t sc_metric_count(const struct sc_metric *s);

/* ---- collectors and rendering (loop thread) --------------------------- */

/* Run before each render, in the order added, to set gauges (or mirror
 * counters) from state that is cheaper to read at scrape time than to
 * track. arg borrowed: it must stay valid while m may be rendered. */
typedef void (*sc_metrics_collect_fn)(struct sc_metrics *m, void *arg);
void sc_metrics_collector(struct sc_metrics *m, sc_metrics_collect_fn fn,
                          void *arg);

/* Zeroed memory that lives as long as m (freed by sc_metrics_free): a
 * collector's state, such as the series it sets. NULL when m is NULL. */
void *sc_metrics_calloc(struct sc_metrics *m, size_t size);

/* Remove the collector added with fn and arg (when what it reads goes
 * away before m). m NULL or no such collector: nothing. The series it
 * set stay, with their last values. */
void sc_metrics_collector_remove(struct sc_metrics *m, sc_metrics_collect_fn fn,
                                 void *arg);

/* Run the collectors and write every family in the order declared, each
 * series in the order created: "# HELP" and "# TYPE" lines, then the
 * samples (a histogram's _bucket lines cumulative with le="+Inf" equal to
 * _count, then _sum and _count). Caller owns; free with free(). *len
 * (may be NULL) gets the length, without the final NUL. */
char *sc_metrics_render(struct sc_metrics *m, size_t *len);

/* ---- what every daemon serves (metrics_daemon.c) ---------------------- */

/* Wire a daemon's metrics into m: build info and process metrics for
 * `service` (borrowed, a literal), HTTP per route of srv
 * (sc_http_server_set_metrics), the bus (sc_bus_set_metrics), the pool's
 * gauges and counters (read at scrape time), and GET /metrics on srv.
 * srv, bus and db may be NULL (then skipped); all are borrowed and must
 * outlive m's last render (free m after them). */
void sc_metrics_wire(struct sc_metrics *m, const char *service,
                     struct sc_http_server *srv, struct sc_bus *bus,
                     struct sc_db *db);

/* The pieces of sc_metrics_wire, for a daemon that wants only some. */
void sc_metrics_process(struct sc_metrics *m, const char *service);
void sc_metrics_db(struct sc_metrics *m, struct sc_db *db);

/* The read cache's (cache.h) hits, misses, clears, evictions, entries and
 * bytes, read at each scrape. c borrowed, must outlive m's scrapes. */
struct sc_cache;
void sc_metrics_cache(struct sc_metrics *m, struct sc_cache *c);
void sc_metrics_route(struct sc_http_server *srv, struct sc_metrics *m);

#endif
