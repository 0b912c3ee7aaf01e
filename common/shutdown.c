/* shutdown.c: graceful stop on SIGTERM/SIGINT: close listeners, drain
 * in-flight requests within a deadline, leave the loop; SIGHUP reopens the
 * log file. */
#include "shutdown.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "config.h"
#include "http.h"
#include "log.h"

#define DRAIN_POLL_MS 20

struct sc_shutdown {
	struct event_base *base;
	struct sc_http_server *srv;
	struct event *sigterm, *sigint, *sighup, *poll;
	struct timespec deadline;
	long timeout_ms;
	bool draining;
};

static bool
past(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void
drain_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sc_shutdown *s = arg;
	size_t left = sc_http_server_inflight(s->srv);
	(void)fd;
	(void)what;

	if (left == 0 || past(&s->deadline)) {
		if (left > 0) {
			sc_log_warn(NULL,
			            "stopping with %zu request(s) unanswered",
			            left);
		}
		event_del(s->poll);
		event_base_loopexit(s->base, NULL);
	}
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sc_shutdown *s = arg;
	long timeout_ms = s->timeout_ms;
	struct timeval every = {0, DRAIN_POLL_MS * 1000};
	(void)what;

	if (s->draining) {
		sc_log_warn(NULL, "second signal %d: stopping now", (int)sig);
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->draining = true;
	sc_log_info(NULL, "signal %d: draining %zu request(s), at most %ld ms",
	            (int)sig, sc_http_server_inflight(s->srv), timeout_ms);
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += timeout_ms / 1000;
	s->deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (s->deadline.tv_nsec >= 1000000000L) {
		s->deadline.tv_sec++;
		s->deadline.tv_nsec -= 1000000000L;
	}
	sc_http_server_close(s->srv);
	event_add(s->poll, &every);
	drain_poll_cb(-1, 0, s);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	(void)sc_log_reopen();
}

struct event *
sc_shutdown_sighup_new(struct event_base *base)
{
	struct event *ev = evsignal_new(base, SIGHUP, sighup_cb, NULL);

	if (ev == NULL || event_add(ev, NULL) != 0) {
		sc_log_error(NULL, "cannot install the SIGHUP handler");
		if (ev != NULL) {
			event_free(ev);
		}
		return NULL;
	}
	return ev;
}

struct sc_shutdown *
sc_shutdown_new(struct event_base *base, struct sc_http_server *srv)
{
	struct sc_shutdown *s;
	long timeout_ms;

	if (sc_config_int("SC_SHUTDOWN_TIMEOUT_MS", 5000, 0, 600000,
	                  &timeout_ms) != 0) {
		return NULL;
	}
	s = sc_calloc(1, sizeof *s);
	s->base = base;
	s->srv = srv;
	s->timeout_ms = timeout_ms;
	s->sigterm = evsignal_new(base, SIGTERM, signal_cb, s);
	s->sigint = evsignal_new(base, SIGINT, signal_cb, s);
	s->poll = event_new(base, -1, EV_PERSIST, drain_poll_cb, s);
	if (s->sigterm == NULL || s->sigint == NULL || s->poll == NULL ||
	    event_add(s->sigterm, NULL) != 0 ||
	    event_add(s->sigint, NULL) != 0 ||
	    (s->sighup = sc_shutdown_sighup_new(base)) == NULL) {
		sc_log_error(NULL, "cannot install signal handlers");
		sc_shutdown_free(s);
		return NULL;
	}
	return s;
}

void
sc_shutdown_free(struct sc_shutdown *s)
{
	if (s == NULL) {
		return;
	}
	if (s->poll != NULL) {
		event_free(s->poll);
	}
	if (s->sighup != NULL) {
		event_free(s->sighup);
	}
	if (s->sigint != NULL) {
		event_free(s->sigint);
	}
	if (s->sigterm != NULL) {
		event_free(s->sigterm);
	}
	free(s);
}
