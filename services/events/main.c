/* main.c: the events daemon (configuration -> event base -> database, bus,
 * profiles -> HTTP routes -> signals -> loop -> free in reverse), and the
 * `events import` command that loads events from files. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "shutdown.h"

struct events_config {
	const char *http_addr;
	long http_port;
	const char *database_url;
	long pool_size;
	long profile_ttl;
	const char *issuer, *audience;
	char *public_key;
	size_t public_len;
};

static int
config_load(struct events_config *c)
{
	int rc = SC_OK;

	c->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	c->database_url =
	    sc_config_str("SC_DATABASE_URL",
	                  "postgresql://sc_events@127.0.0.1:5432/spotlight");
	c->issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	c->audience = sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	rc |= sc_config_int("SC_HTTP_PORT", 7002, 0, 65535, &c->http_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &c->pool_size);
	rc |=
	    sc_config_int("SC_PROFILE_CACHE_TTL", 30, 1, 3600, &c->profile_ttl);
	if (rc != SC_OK) {
		return SC_EINVAL;
	}
	if (sc_config_file("SC_JWT_PUBLIC_KEY_FILE", "var/keys/jwt.pub",
	                   &c->public_key, &c->public_len) != SC_OK) {
		return SC_EINVAL;
	}
	return SC_OK;
}

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
	struct events_config cfg = {0};
	struct events ev = {0};
	struct sc_shutdown *shutdown = NULL;
	int status = EXIT_FAILURE;

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

	sc_log_init("events");
	if (config_load(&cfg) != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		free(cfg.public_key);
		return 2;
	}
	if ((ev.base = event_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		goto err;
	}
	ev.verifier = sc_token_verifier_new(cfg.public_key, cfg.public_len,
	                                    cfg.issuer, cfg.audience);
	if (ev.verifier == NULL) {
		goto err;
	}
	if ((ev.db = sc_db_new(ev.base, cfg.database_url,
	                       (int)cfg.pool_size)) == NULL) {
		goto err;
	}

	if ((ev.bus = sc_bus_new(ev.base, "events")) == NULL) {
		goto err;
	}
	events_rpc_handlers(&ev);
	char *rep = sc_bus_addr("events", "REQ");
	char *pub = sc_bus_addr("events", "PUB");
	int bus_rc = sc_bus_listen(ev.bus, rep, pub);
	free(rep);
	free(pub);
	if (bus_rc != SC_OK) {
		goto err;
	}
	ev.profiles = sc_profiles_new(ev.base, ev.bus, (int)cfg.profile_ttl);
	if (ev.profiles == NULL) {
		goto err;
	}
	/* Without it profiles are only as fresh as the cache's TTL: not a
	 * reason to refuse to start. */
	(void)sc_profiles_subscribe(ev.profiles);

	if ((ev.http = sc_http_server_new(ev.base, NULL)) == NULL) {
		goto err;
	}
	ev.health.db = ev.db;
	ev.health.bus = ev.bus;
	sc_health_routes(ev.http, &ev.health);
	events_event_routes(&ev);
	events_join_routes(&ev);
	events_participants_routes(&ev);
	if (sc_http_server_bind(ev.http, cfg.http_addr, (int)cfg.http_port) !=
	    SC_OK) {
		goto err;
	}

	if ((shutdown = sc_shutdown_new(ev.base, ev.http)) == NULL) {
		goto err;
	}
	sc_log_info(NULL, "listening on http://%s:%d", cfg.http_addr,
	            sc_http_server_port(ev.http));
	event_base_dispatch(ev.base);
	status = EXIT_SUCCESS;
	sc_log_info(NULL, "stopped");

err:
	sc_shutdown_free(shutdown);
	if (ev.http != NULL) {
		sc_http_server_free(ev.http);
	}
	/* The pool fails what is in flight; those callbacks reply on the bus,
	 * which is still up. The bus then fails the profile lookups still
	 * waiting on auth, before the cache goes (profiles.h). */
	if (ev.db != NULL) {
		sc_db_free(ev.db);
	}
	if (ev.bus != NULL) {
		sc_bus_free(ev.bus);
	}
	sc_profiles_free(ev.profiles);
	sc_token_verifier_free(ev.verifier);
	if (ev.base != NULL) {
		event_base_free(ev.base);
	}
	free(cfg.public_key);
	return status;
}
