/* main.c: the matchmaking daemon. Configuration -> event base -> database,
 * bus, profiles, token verifier -> HTTP routes -> signals -> loop -> free
 * in reverse. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "matchmaking.h"
#include "shutdown.h"

struct mm_config {
	const char *http_addr;
	long http_port;
	const char *database_url;
	long pool_size;
	const char *issuer, *audience;
	long profile_ttl;
	long events_timeout_ms;
	char *public_key;
	size_t public_len;
};

static int
config_load(struct mm_config *c)
{
	int rc = SC_OK;

	c->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	c->database_url = sc_config_str(
	    "SC_DATABASE_URL",
	    "postgresql://sc_matchmaking@127.0.0.1:5432/spotlight");
	c->issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	c->audience = sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	rc |= sc_config_int("SC_HTTP_PORT", 7003, 0, 65535, &c->http_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &c->pool_size);
	rc |=
	    sc_config_int("SC_PROFILE_CACHE_TTL", 30, 1, 3600, &c->profile_ttl);
	/* 0: the bus's own deadline, SC_BUS_TIMEOUT_MS. */
	rc |= sc_config_int("SC_EVENTS_TIMEOUT_MS", 0, 0, 60000,
	                    &c->events_timeout_ms);
	if (rc != SC_OK) {
		return SC_EINVAL;
	}
	if (sc_config_file("SC_JWT_PUBLIC_KEY_FILE", "var/keys/jwt.pub",
	                   &c->public_key, &c->public_len) != SC_OK) {
		return SC_EINVAL;
	}
	return SC_OK;
}

int
main(void)
{
	struct mm_config cfg = {0};
	struct matchmaking m = {0};
	struct sc_shutdown *shutdown = NULL;
	int status = EXIT_FAILURE;

	sc_log_init("matchmaking");
	if (config_load(&cfg) != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		free(cfg.public_key);
		return 2;
	}
	m.events_timeout_ms = (int)cfg.events_timeout_ms;

	if ((m.base = event_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		goto err;
	}
	m.verifier = sc_token_verifier_new(cfg.public_key, cfg.public_len,
	                                   cfg.issuer, cfg.audience);
	if (m.verifier == NULL) {
		goto err;
	}
	if ((m.db = sc_db_new(m.base, cfg.database_url, (int)cfg.pool_size)) ==
	    NULL) {
		goto err;
	}

	if ((m.bus = sc_bus_new(m.base, "matchmaking")) == NULL) {
		goto err;
	}
	mm_requests(&m);
	char *rep = sc_bus_addr("matchmaking", "REQ");
	char *pub = sc_bus_addr("matchmaking", "PUB");
	int bus_rc = sc_bus_listen(m.bus, rep, pub);
	free(rep);
	free(pub);
	if (bus_rc != SC_OK) {
		goto err;
	}
	if ((m.profiles = sc_profiles_new(m.base, m.bus,
	                                  (int)cfg.profile_ttl)) == NULL) {
		goto err;
	}
	/* Best effort: without it, edits show after the cache's ttl. */
	sc_profiles_subscribe(m.profiles);

	if ((m.http = sc_http_server_new(m.base, NULL)) == NULL) {
		goto err;
	}
	m.health.db = m.db;
	m.health.bus = m.bus;
	sc_health_routes(m.http, &m.health);
	mm_routes(&m);
	if (sc_http_server_bind(m.http, cfg.http_addr, (int)cfg.http_port) !=
	    SC_OK) {
		goto err;
	}

	if ((shutdown = sc_shutdown_new(m.base, m.http)) == NULL) {
		goto err;
	}
	sc_log_info(NULL, "listening on http://%s:%d", cfg.http_addr,
	            sc_http_server_port(m.http));
	event_base_dispatch(m.base);
	status = EXIT_SUCCESS;
	sc_log_info(NULL, "stopped");

err:
	sc_shutdown_free(shutdown);
	if (m.http != NULL) {
		sc_http_server_free(m.http);
	}
	/* Profiles borrow the bus: they go first, failing pending lookups
	 * (whose replies are then dropped). */
	if (m.profiles != NULL) {
		sc_profiles_free(m.profiles);
	}
	if (m.bus != NULL) {
		sc_bus_free(m.bus);
	}
	if (m.db != NULL) {
		sc_db_free(m.db);
	}
	sc_token_verifier_free(m.verifier);
	if (m.base != NULL) {
		event_base_free(m.base);
	}
	free(cfg.public_key);
	return status;
}
