/* main.c: the ratings daemon: the shared skeleton of common/daemon.h with
 * ratings' routes and bus handler. */
#include <stdlib.h>

#include "error.h"
#include "ratings.h"

int
main(void)
{
	struct ratings r = {0};
	int rc;

	rc = sc_daemon_open(&r.d, "ratings", "ratings", 7004);
	if (rc == SC_OK) {
		ratings_stats_bus(&r);
		ratings_rating_routes(&r);
		ratings_stats_routes(&r);
		ratings_report_routes(&r);
		rc = sc_daemon_run(&r.d);
	}
	sc_daemon_close(&r.d);
	return rc == SC_OK ? EXIT_SUCCESS : rc == SC_EINVAL ? 2 : EXIT_FAILURE;
}
