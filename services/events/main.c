/* main.c: the events daemon (the shared skeleton of common/daemon.h with
 * events' routes and bus handlers), and the `events import` command that
 * loads events from files. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "events.h"
#include "log.h"

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: events                  run the daemon (configured "
	        "by SC_* variables)\n"
	        "       events import [--format json|csv] FILE...\n"
	        "                               load events from files "
	        "(see services/events/README.md)\n");
}

int
main(int argc, char **argv)
{
	struct events ev = {0};
	int rc;

	if (argc > 1 && strcmp(argv[1], "import") == 0) {
		sc_log_init("events");
		return events_import_main(argc - 1, argv + 1);
	}
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (argc > 1) {
		fprintf(stderr, "events: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}

	rc = sc_daemon_open(&ev.d, "events", "events", 7002);
	if (rc == SC_OK) {
		rc = sc_daemon_cache(&ev.d, "events_changed");
	}
	if (rc == SC_OK) {
		events_rpc_handlers(&ev);
		events_event_routes(&ev);
		events_join_routes(&ev);
		events_participants_routes(&ev);
		rc = sc_daemon_run(&ev.d);
	}
	sc_daemon_close(&ev.d);
	return rc == SC_OK ? EXIT_SUCCESS : rc == SC_EINVAL ? 2 : EXIT_FAILURE;
}
