/* shutdown.h: the SIGTERM/SIGINT handling every daemon shares. On the first
 * signal: stop accepting connections, let requests already in a handler
 * finish (up to SC_SHUTDOWN_TIMEOUT_MS, default 5000), then leave the event
 * loop so main() frees everything in reverse. A second signal leaves at
 * once. SIGHUP reopens the log file (sc_log_reopen) and never stops the
 * daemon. */
#ifndef SC_SHUTDOWN_H
#define SC_SHUTDOWN_H

#include <event2/event.h>

struct sc_http_server;
struct sc_shutdown;

/* Install the handlers. srv is borrowed until sc_shutdown_free. Caller
 * owns; free with sc_shutdown_free(). NULL on failure (logged), also for
 * a bad SC_SHUTDOWN_TIMEOUT_MS. */
struct sc_shutdown *sc_shutdown_new(struct event_base *base,
                                    struct sc_http_server *srv);
void sc_shutdown_free(struct sc_shutdown *s);

/* Just the SIGHUP handler (for a daemon with its own SIGTERM handling):
 * reopen the log file on each SIGHUP. Caller owns; free with event_free().
 * NULL on failure (logged). */
struct event *sc_shutdown_sighup_new(struct event_base *base);

#endif
