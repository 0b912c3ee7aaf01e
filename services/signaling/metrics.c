/* metrics.c: signaling's own metrics (common/metrics.h): Socket.IO
 * sessions by transport, sockets, rooms, packets, events by name. Counts
 * kept by the Socket.IO library are read at scrape time; only the events
 * by name are counted as they come. */
#include <stddef.h>

#include "metrics.h"
#include "signaling.h"

/* More than the handler table of sockets.c holds. */
#define SG_MX_EVENTS 32

struct sg_metrics {
	struct signaling *sg;
	struct sc_metric_family *f_events;
	struct {
		const char *name; /* a handler's literal */
		struct sc_metric *s;
	} events[SG_MX_EVENTS];
	size_t nevents;
	struct sc_metric *unknown;
	struct sc_metric *websocket, *polling, *http_conns, *sockets, *rooms;
	struct sc_metric *eio_in, *eio_out, *sio_in, *sio_out;
};

static void
collect_cb(struct sc_metrics *m, void *arg)
{
	struct sg_metrics *x = arg;
	struct signaling *sg = x->sg;
	struct sc_sio_stats st;
	(void)m;

	if (sg->io == NULL) {
		return;
	}
	sc_sio_server_stats(sg->io, &st);
	sc_metric_set(x->websocket, (double)st.eio.websocket);
	sc_metric_set(x->polling, (double)st.eio.polling);
	sc_metric_set(x->sockets, (double)st.sockets);
	sc_metric_set(x->rooms, (double)st.rooms);
	sc_metric_set(x->eio_in, (double)st.eio.packets_in);
	sc_metric_set(x->eio_out, (double)st.eio.packets_out);
	sc_metric_set(x->sio_in, (double)st.packets_in);
	sc_metric_set(x->sio_out, (double)st.packets_out);
	if (sg->listener != NULL) {
		sc_metric_set(x->http_conns,
		              (double)sc_eio_listener_conns(sg->listener));
	}
}

/* The series of a family with one label. */
static struct sc_metric *
one(struct sc_metric_family *f, const char *value)
{
	return sc_metric_series(f, (const char *const[]){value});
}

void
sg_metrics_init(struct signaling *sg)
{
	struct sc_metrics *m = sg->metrics;
	struct sg_metrics *x = sc_metrics_calloc(m, sizeof *x);
	struct sc_metric_family *f;

	if (x == NULL) {
		return;
	}
	x->sg = sg;
	f = sc_metrics_gauge(m, "spotlight_sio_connections",
	                     "Engine.IO sessions open, by transport.",
	                     "transport");
	x->websocket = one(f, "websocket");
	x->polling = one(f, "polling");
	x->http_conns = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_sio_http_connections",
	                     "HTTP connections to the Socket.IO listener "
	                     "(polling and not yet upgraded; WebSockets not "
	                     "counted).",
	                     NULL),
	    NULL);
	x->sockets = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_sio_sockets",
	                     "Socket.IO sockets connected, every namespace.",
	                     NULL),
	    NULL);
	x->rooms = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_sio_rooms",
	                     "Socket.IO rooms with at least one socket.", NULL),
	    NULL);
	f = sc_metrics_counter(m, "spotlight_eio_packets_total",
	                       "Engine.IO packets received and sent.",
	                       "direction");
	x->eio_in = one(f, "in");
	x->eio_out = one(f, "out");
	f = sc_metrics_counter(m, "spotlight_sio_packets_total",
	                       "Socket.IO packets received and sent (one per "
	                       "socket reached by a broadcast).",
	                       "direction");
	x->sio_in = one(f, "in");
	x->sio_out = one(f, "out");
	x->f_events = sc_metrics_counter(
	    m, "spotlight_sio_events_received_total",
	    "Socket.IO events received, by name (unknown for any other).",
	    "event");
	x->unknown = one(x->f_events, "unknown");
	sc_metrics_collector(m, collect_cb, x);
	sg->mx = x;
}

void
sg_metrics_event(struct signaling *sg, const char *name)
{
	struct sg_metrics *x = sg->mx;
	size_t i;

	if (x == NULL) {
		return;
	}
	if (name == NULL) {
		sc_metric_inc(x->unknown);
		return;
	}
	/* name is a literal of the handler table: its address identifies it,
	 * so the set of series is that table's. */
	for (i = 0; i < x->nevents; i++) {
		if (x->events[i].name == name) {
			sc_metric_inc(x->events[i].s);
			return;
		}
	}
	if (x->nevents == SG_MX_EVENTS) {
		sc_metric_inc(x->unknown);
		return;
	}
	x->events[i].name = name;
	x->events[i].s = one(x->f_events, name);
	x->nevents++;
	sc_metric_inc(x->events[i].s);
}
