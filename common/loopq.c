/* loopq.c: a locked FIFO of calls drained on the libevent loop thread. */
#include "loopq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"

struct loopq_item {
	struct loopq_item *next;
	sc_loopq_fn fn;
	void *arg;
};

struct sc_loopq {
	pthread_mutex_t lock;
	struct loopq_item *head, *tail;
	int fd;
	struct event *ev;
};

static void
loopq_drain(struct sc_loopq *q)
{
	struct loopq_item *it;

	pthread_mutex_lock(&q->lock);
	it = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while (it != NULL) {
		struct loopq_item *next = it->next;
		it->fn(it->arg);
		free(it);
		it = next;
	}
}

static void
loopq_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)what;
	/* Read before draining: a post that races with us re-arms the fd. */
	while (read(fd, &n, sizeof n) < 0 && errno == EINTR) {
	}
	loopq_drain(arg);
}

struct sc_loopq *
sc_loopq_new(struct event_base *base)
{
	struct sc_loopq *q = sc_calloc(1, sizeof *q);

	pthread_mutex_init(&q->lock, NULL);
	q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->fd < 0) {
		goto err;
	}
	q->ev = event_new(base, q->fd, EV_READ | EV_PERSIST, loopq_ready_cb, q);
	if (q->ev == NULL || event_add(q->ev, NULL) != 0) {
		goto err;
	}
	return q;
err:
	if (q->ev != NULL) {
		event_free(q->ev);
	}
	if (q->fd >= 0) {
		close(q->fd);
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
	return NULL;
}

void
sc_loopq_post(struct sc_loopq *q, sc_loopq_fn fn, void *arg)
{
	struct loopq_item *it = sc_malloc(sizeof *it);
	uint64_t one = 1;
	int wake;

	it->next = NULL;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&q->lock);
	wake = q->head == NULL;
	if (q->tail != NULL) {
		q->tail->next = it;
	} else {
		q->head = it;
	}
	q->tail = it;
	pthread_mutex_unlock(&q->lock);
	if (wake) {
		while (write(q->fd, &one, sizeof one) < 0 && errno == EINTR) {
		}
	}
}

void
sc_loopq_free(struct sc_loopq *q)
{
	if (q == NULL) {
		return;
	}
	event_free(q->ev);
	loopq_drain(q);
	close(q->fd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
