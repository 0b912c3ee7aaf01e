/* main.c: the matchmaking daemon: the shared skeleton of common/daemon.h
 * with matchmaking's routes, bus handlers and its deadline for asking
 * events. */
#include <stdlib.h>

#include "cache.h"
#include "config.h"
#include "error.h"
#include "matchmaking.h"

/* The matches lists hold profiles: an edit empties them. */
static void
profile_updated_cb(int64_t user_id, void *arg)
{
	struct matchmaking *m = arg;

	(void)user_id;
	sc_cache_clear(m->d.cache);
}

int
main(void)
{
	struct matchmaking m = {0};
	long events_timeout_ms = 0;
	int rc;

	rc = sc_daemon_open(&m.d, "matchmaking", "matchmaking", 7003);
	/* 0: the bus's own deadline, SC_BUS_TIMEOUT_MS. */
	if (rc == SC_OK && sc_config_int("SC_EVENTS_TIMEOUT_MS", 0, 0, 60000,
	                                 &events_timeout_ms) != SC_OK) {
		rc = SC_EINVAL;
	}
	if (rc == SC_OK) {
		rc = sc_daemon_cache(&m.d, "matchmaking_changed");
	}
	if (rc == SC_OK) {
		sc_profiles_on_update(m.d.profiles, profile_updated_cb, &m);
		m.events_timeout_ms = (int)events_timeout_ms;
		mm_requests(&m);
		mm_routes(&m);
		rc = sc_daemon_run(&m.d);
	}
	sc_daemon_close(&m.d);
	return rc == SC_OK ? EXIT_SUCCESS : rc == SC_EINVAL ? 2 : EXIT_FAILURE;
}
