/* fuzz_loop.c: one bounded turn of a libevent loop (fuzz_loop.h). */
#include "fuzz_loop.h"

#include "fuzz.h"

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

void
fuzz_turn(struct event_base *base, int ms)
{
	static struct event *timer;
	struct timeval tv = {0, ms * 1000};

	if (timer == NULL) {
		timer = evtimer_new(base, timer_cb, NULL);
		FUZZ_CHECK(timer != NULL);
	}
	evtimer_add(timer, &tv);
	event_base_loop(base, EVLOOP_ONCE);
	evtimer_del(timer);
}
