/* metrics_daemon.c: what every daemon exposes on GET /metrics: build info,
 * process figures, its HTTP and bus traffic, its database pool. */
#include "metrics.h"

#include <dirent.h>
#include <event2/http.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "cache.h"
#include "db.h"
#include "http.h"

/* The build's version; the build may define it (-DSC_VERSION=...). */
#ifndef SC_VERSION
#define SC_VERSION "dev"
#endif

/* ---- process ------------------------------------------------------------ */

struct process_mx {
	struct sc_metric *cpu, *rss, *fds;
};

/* Resident set size in bytes from /proc/self/statm, or -1. */
static double
process_rss(void)
{
	char buf[128];
	long pages_total, pages_rss;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return -1;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return -1;
	}
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &pages_total, &pages_rss) != 2) {
		return -1;
	}
	return (double)pages_rss * (double)sysconf(_SC_PAGESIZE);
}

/* Open file descriptors (entries of /proc/self/fd but the directory's
 * own), or -1. */
static double
process_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return (double)(n - 1);
}

static void
process_collect_cb(struct sc_metrics *m, void *arg)
{
	struct process_mx *p = arg;
	struct rusage ru;
	(void)m;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		sc_metric_set(p->cpu, (double)ru.ru_utime.tv_sec +
		                          (double)ru.ru_utime.tv_usec / 1e6 +
		                          (double)ru.ru_stime.tv_sec +
		                          (double)ru.ru_stime.tv_usec / 1e6);
	}
	sc_metric_set(p->rss, process_rss());
	sc_metric_set(p->fds, process_fds());
}

void
sc_metrics_process(struct sc_metrics *m, const char *service)
{
	struct process_mx *p = sc_metrics_calloc(m, sizeof *p);
	struct timespec now;

	if (p == NULL) {
		return;
	}
	sc_metric_set(
	    sc_metric_series(
	        sc_metrics_gauge(m, "spotlight_build_info",
	                         "Always 1: the daemon and its build.",
	                         "service,version"),
	        (const char *const[]){service, SC_VERSION}),
	    1);
	clock_gettime(CLOCK_REALTIME, &now);
	sc_metric_set(
	    sc_metric_series(
	        sc_metrics_gauge(m, "process_start_time_seconds",
	                         "Start time of the process since the Unix "
	                         "epoch in seconds.",
	                         NULL),
	        NULL),
	    (double)now.tv_sec + (double)now.tv_nsec / 1e9);
	p->cpu = sc_metric_series(
	    sc_metrics_counter(m, "process_cpu_seconds_total",
	                       "Total user and system CPU time spent in "
	                       "seconds.",
	                       NULL),
	    NULL);
	p->rss = sc_metric_series(
	    sc_metrics_gauge(m, "process_resident_memory_bytes",
	                     "Resident memory size in bytes.", NULL),
	    NULL);
	p->fds = sc_metric_series(
	    sc_metrics_gauge(m, "process_open_fds",
	                     "Number of open file descriptors.", NULL),
	    NULL);
	sc_metrics_collector(m, process_collect_cb, p);
}

/* ---- the database pool ----------------------------------------------------
 */

struct db_mx {
	struct sc_db *db;
	struct sc_metric *busy, *idle, *down, *queued, *queries, *errors;
};

static void
db_collect_cb(struct sc_metrics *m, void *arg)
{
	struct db_mx *x = arg;
	struct sc_db_stats st;
	(void)m;

	sc_db_stats(x->db, &st);
	sc_metric_set(x->busy, st.busy);
	sc_metric_set(x->idle, st.up - st.busy);
	sc_metric_set(x->down, st.size - st.up);
	sc_metric_set(x->queued, st.queued);
	sc_metric_set(x->queries, (double)st.queries);
	sc_metric_set(x->errors, (double)st.errors);
}

void
sc_metrics_db(struct sc_metrics *m, struct sc_db *db)
{
	struct db_mx *x;
	struct sc_metric_family *conns;

	if (db == NULL || (x = sc_metrics_calloc(m, sizeof *x)) == NULL) {
		return;
	}
	x->db = db;
	conns = sc_metrics_gauge(m, "spotlight_db_connections",
	                         "PostgreSQL pool connections: busy (a query "
	                         "or a transaction), idle, or down "
	                         "(reconnecting).",
	                         "state");
	x->busy = sc_metric_series(conns, (const char *const[]){"busy"});
	x->idle = sc_metric_series(conns, (const char *const[]){"idle"});
	x->down = sc_metric_series(conns, (const char *const[]){"down"});
	x->queued = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_db_queue_length",
	                     "Queries waiting for a free pool connection.",
	                     NULL),
	    NULL);
	x->queries = sc_metric_series(
	    sc_metrics_counter(m, "spotlight_db_queries_total",
	                       "Queries and transactions started on the pool.",
	                       NULL),
	    NULL);
	x->errors = sc_metric_series(
	    sc_metrics_counter(m, "spotlight_db_query_errors_total",
	                       "Queries that failed: an SQL error, the "
	                       "database unreachable, or the queue full.",
	                       NULL),
	    NULL);
	sc_metrics_collector(m, db_collect_cb, x);
}

/* ---- the read cache ------------------------------------------------------
 */

struct cache_mx {
	struct sc_cache *c;
	struct sc_metric *hits, *misses, *clears, *evictions, *entries, *bytes;
};

static void
cache_collect_cb(struct sc_metrics *m, void *arg)
{
	struct cache_mx *x = arg;
	struct sc_cache_stats st;
	(void)m;

	sc_cache_stats(x->c, &st);
	sc_metric_set(x->hits, (double)st.hits);
	sc_metric_set(x->misses, (double)st.misses);
	sc_metric_set(x->clears, (double)st.clears);
	sc_metric_set(x->evictions, (double)st.evictions);
	sc_metric_set(x->entries, (double)st.entries);
	sc_metric_set(x->bytes, (double)st.bytes);
}

void
sc_metrics_cache(struct sc_metrics *m, struct sc_cache *c)
{
	struct cache_mx *x;

	if (m == NULL || c == NULL ||
	    (x = sc_metrics_calloc(m, sizeof *x)) == NULL) {
		return;
	}
	x->c = c;
	x->hits = sc_metric_series(
	    sc_metrics_counter(m, "spotlight_cache_hits_total",
	                       "Reads served from the read cache.", NULL),
	    NULL);
	x->misses = sc_metric_series(
	    sc_metrics_counter(
	        m, "spotlight_cache_misses_total",
	        "Reads the read cache could not serve (absent, expired, or the "
	        "cache off).",
	        NULL),
	    NULL);
	x->clears = sc_metric_series(
	    sc_metrics_counter(
	        m, "spotlight_cache_clears_total",
	        "Times the read cache was emptied: a change notification, or "
	        "its listener going down or up.",
	        NULL),
	    NULL);
	x->evictions = sc_metric_series(
	    sc_metrics_counter(
	        m, "spotlight_cache_evictions_total",
	        "Entries dropped to stay within the cache's size.", NULL),
	    NULL);
	x->entries = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_cache_entries",
	                     "Entries in the read cache.", NULL),
	    NULL);
	x->bytes = sc_metric_series(
	    sc_metrics_gauge(
	        m, "spotlight_cache_bytes",
	        "Bytes the read cache holds (keys, values, overhead).", NULL),
	    NULL);
	sc_metrics_collector(m, cache_collect_cb, x);
}

/* ---- GET /metrics -----------------------------------------------------------
 */

static void
metrics_cb(struct sc_http_req *req, void *arg)
{
	struct sc_metrics *m = arg;
	char *text = sc_metrics_render(m, NULL);

	sc_http_reply_text(req, 200, SC_METRICS_CONTENT_TYPE, text);
	free(text);
}

void
sc_metrics_route(struct sc_http_server *srv, struct sc_metrics *m)
{
	if (srv != NULL && m != NULL) {
		sc_http_route(srv, EVHTTP_REQ_GET, "/metrics", 0, metrics_cb,
		              m);
	}
}

void
sc_metrics_wire(struct sc_metrics *m, const char *service,
                struct sc_http_server *srv, struct sc_bus *bus,
                struct sc_db *db)
{
	if (m == NULL) {
		return;
	}
	sc_metrics_process(m, service);
	if (srv != NULL) {
		sc_http_server_set_metrics(srv, m);
	}
	if (bus != NULL) {
		sc_bus_set_metrics(bus, m);
	}
	sc_metrics_db(m, db);
	sc_metrics_route(srv, m);
}
