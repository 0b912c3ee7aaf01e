/* loopq.h: run a function on the event loop's thread, posted from any
 * thread. This is how nng aio callbacks and the argon2 worker pool hand
 * their results back to the libevent loop: loop state is only ever touched
 * from the loop thread. A mutex-protected FIFO plus an eventfd the loop
 * watches. */
#ifndef SC_LOOPQ_H
#define SC_LOOPQ_H

#include <event2/event.h>

struct sc_loopq;

typedef void (*sc_loopq_fn)(void *arg);

/* Caller owns; free with sc_loopq_free(). NULL if the eventfd or event
 * cannot be made. */
struct sc_loopq *sc_loopq_new(struct event_base *base);

/* Queue fn(arg) to run on the loop thread. Safe from any thread. Never
 * fails (allocation failure aborts). Calls run in post order. */
void sc_loopq_post(struct sc_loopq *q, sc_loopq_fn fn, void *arg);

/* Run everything still queued (on the calling thread, which must be the
 * loop's, or the loop must be stopped), then free. Posting after or during
 * free is a programmer error. */
void sc_loopq_free(struct sc_loopq *q);

#endif
