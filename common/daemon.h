/* daemon.h: the skeleton the domain daemons' main() share (STYLE.md):
 * configuration -> event base -> token verifier, database, bus, profile
 * cache -> HTTP with /health, /ready and /metrics -> SIGTERM/SIGINT (and
 * SIGHUP: reopen the log file) -> loop -> free in reverse. A daemon embeds a
 * struct sc_daemon in its context, opens it, registers its bus handlers and
 * HTTP routes on d->bus and d->http, then runs it; close always, also after a
 * failed open.
 *
 * Configuration read here (every daemon the same): SC_HTTP_ADDR
 * (127.0.0.1), SC_HTTP_PORT (the daemon's default), SC_DATABASE_URL
 * (postgresql://sc_<role>@127.0.0.1:5432/spotlight), SC_DB_POOL_SIZE (4),
 * SC_PROFILE_CACHE_TTL (30 s), SC_JWT_PUBLIC_KEY_FILE (var/keys/jwt.pub),
 * SC_JWT_ISSUER and SC_JWT_AUDIENCE (spotlight.cam), SC_LOG_LEVEL and
 * SC_LOG_FILE (log.h), SC_SHUTDOWN_TIMEOUT_MS (shutdown.h), and the bus
 * addresses (proto/README.md). */
#ifndef SC_DAEMON_H
#define SC_DAEMON_H

#include <event2/event.h>

#include "health.h"

struct sc_bus;
struct sc_cache;
struct sc_db;
struct sc_http_server;
struct sc_metrics;
struct sc_profiles;
struct sc_shutdown;
struct sc_token_verifier;

struct sc_daemon {
	struct event_base *base;
	struct sc_token_verifier *verifier;
	struct sc_db *db;
	struct sc_bus *bus;
	struct sc_profiles *profiles;
	struct sc_http_server *http;
	struct sc_health health;
	struct sc_shutdown *shutdown;
	struct sc_metrics *metrics; /* GET /metrics (metrics.h); freed last */
	struct sc_cache *cache;     /* sc_daemon_cache; NULL without */
	const char *service;        /* borrowed, a literal */
	const char *http_addr;      /* borrowed from the environment */
	long http_port;
};

/* An event base with epoll's changelist (one epoll_ctl per descriptor per
 * loop turn, however often its interest changed in it), for the daemons
 * with a main() of their own (auth, signaling) too. Caller owns; free
 * with event_base_free. NULL on failure. */
struct event_base *sc_daemon_base_new(void);

/* Read the configuration and open everything but the listeners. `service`
 * names the daemon (logs, bus addresses), `role` its database role suffix
 * (sc_<role>). SC_OK; SC_EINVAL for a bad configuration (logged: exit 2);
 * another error when something cannot be opened (logged: exit 1). */
int sc_daemon_open(struct sc_daemon *d, const char *service, const char *role,
                   long default_port);

/* Give the daemon d->cache for its hot reads (cache.h), kept right by
 * PostgreSQL: LISTEN on `channel` (which the daemon's schema notifies from
 * its triggers on every committed change) clears it on each notification,
 * and it is off whenever the listening connection is down. Size from
 * SC_CACHE_BYTES (16 MiB; 0: no cache, every read goes to the database).
 * After sc_daemon_open; SC_OK or SC_EINVAL (logged). Exported to /metrics
 * as spotlight_cache_*. */
int sc_daemon_cache(struct sc_daemon *d, const char *channel);

/* Listen on the bus and HTTP, install the signal handlers, run the loop
 * until a signal has drained it. SC_OK, or an error (logged). */
int sc_daemon_run(struct sc_daemon *d);

/* Free everything opened, in reverse order: the pool first (its callbacks
 * may still reply on the bus), then the bus (it answers profile lookups
 * still waiting on auth), then the cache. Safe on a zeroed or half-opened
 * daemon. */
void sc_daemon_close(struct sc_daemon *d);

#endif
