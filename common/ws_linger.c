/* ws_linger.c: flush, half-close, drain, then free (see ws_linger.h). */
#include "ws_linger.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "alloc.h"

struct linger_conn {
	struct sc_ws_linger *pool;
	struct bufferevent *bev;
	struct event *timer;
	struct linger_conn *prev, *next;
	int shut; /* shutdown(SHUT_WR) done */
};

struct sc_ws_linger {
	struct timeval timeout;
	struct linger_conn *head;
	size_t count;
};

struct sc_ws_linger *
sc_ws_linger_new(int timeout_ms)
{
	struct sc_ws_linger *lg = sc_calloc(1, sizeof(*lg));

	if (timeout_ms <= 0) {
		timeout_ms = 2000;
	}
	lg->timeout.tv_sec = timeout_ms / 1000;
	lg->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	return lg;
}

static void
conn_free(struct linger_conn *c)
{
	struct sc_ws_linger *lg = c->pool;

	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		lg->head = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	lg->count--;
	event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
}

static void
half_close(struct linger_conn *c)
{
	if (!c->shut) {
		c->shut = 1;
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	}
}

static void
linger_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
linger_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	half_close(arg);
}

static void
linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	/* EOF from the peer, or an error: nothing more to wait for */
	conn_free(arg);
}

static void
linger_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg);
}

void
sc_ws_linger_add(struct sc_ws_linger *lg, struct bufferevent *bev)
{
	struct linger_conn *c;

	if (lg == NULL) {
		bufferevent_free(bev);
		return;
	}
	c = sc_calloc(1, sizeof(*c));
	c->pool = lg;
	c->bev = bev;
	c->timer = evtimer_new(bufferevent_get_base(bev), linger_timer_cb, c);
	if (c->timer == NULL) {
		free(c);
		bufferevent_free(bev);
		return;
	}
	c->next = lg->head;
	if (lg->head != NULL) {
		lg->head->prev = c;
	}
	lg->head = c;
	lg->count++;
	bufferevent_setcb(bev, linger_read_cb, linger_write_cb, linger_event_cb,
	                  c);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	evbuffer_drain(bufferevent_get_input(bev),
	               evbuffer_get_length(bufferevent_get_input(bev)));
	evtimer_add(c->timer, &lg->timeout);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		half_close(c);
	}
}

size_t
sc_ws_linger_count(const struct sc_ws_linger *lg)
{
	return lg->count;
}

void
sc_ws_linger_free(struct sc_ws_linger *lg)
{
	if (lg == NULL) {
		return;
	}
	while (lg->head != NULL) {
		conn_free(lg->head);
	}
	free(lg);
}
