/* fuzz_loop.h: one bounded turn of a libevent loop, for the harnesses that
 * drive a daemon's loop themselves (bus, eio). */
#ifndef SC_FUZZ_LOOP_H
#define SC_FUZZ_LOOP_H

#include <event2/event.h>

/* Run base once: until something happens, or ms pass. A timer of its own
 * (one per process, deleted after), so no later turn ends early. */
void fuzz_turn(struct event_base *base, int ms);

#endif
