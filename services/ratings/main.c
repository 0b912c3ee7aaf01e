/* main.c: the ratings daemon. Configuration -> event base -> database,
 * bus, profile cache, key -> HTTP routes -> signals -> loop -> free in
 * reverse. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "ratings.h"
#include "shutdown.h"

/* How long a public profile is served from the cache (user.updated events
 * refresh it sooner). */
#define PROFILE_TTL_S 30

struct ratings_config {
	const char *http_addr;
	long http_port;
	const char *database_url;
	long pool_size;
	const char *issuer, *audience;
	char *public_key;
	size_t public_len;
};

static int
config_load(struct ratings_config *c)
{
	int rc = SC_OK;

	c->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	c->database_url =
	    sc_config_str("SC_DATABASE_URL",
	                  "postgresql://sc_ratings@127.0.0.1:5432/spotlight");
	c->issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	c->audience = sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	rc |= sc_config_int("SC_HTTP_PORT", 7004, 0, 65535, &c->http_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &c->pool_size);
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
	struct ratings_config cfg = {0};
	struct ratings r = {0};
	struct sc_shutdown *shutdown = NULL;
	int status = EXIT_FAILURE;

	sc_log_init("ratings");
	if (config_load(&cfg) != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		free(cfg.public_key);
		return 2;
	}

	if ((r.base = event_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		goto err;
	}
	r.verifier = sc_token_verifier_new(cfg.public_key, cfg.public_len,
	                                   cfg.issuer, cfg.audience);
	if (r.verifier == NULL) {
		goto err;
	}
	if ((r.db = sc_db_new(r.base, cfg.database_url, (int)cfg.pool_size)) ==
	    NULL) {
		goto err;
	}

	if ((r.bus = sc_bus_new(r.base, "ratings")) == NULL) {
		goto err;
	}
	ratings_stats_bus(&r);
	char *rep = sc_bus_addr("ratings", "REQ");
	char *pub = sc_bus_addr("ratings", "PUB");
	int bus_rc = sc_bus_listen(r.bus, rep, pub);
	free(rep);
	free(pub);
	if (bus_rc != SC_OK) {
		goto err;
	}
	if ((r.profiles = sc_profiles_new(r.base, r.bus, PROFILE_TTL_S)) ==
	    NULL) {
		goto err;
	}
	/* Without the subscription profiles are still right within the TTL. */
	sc_profiles_subscribe(r.profiles);

	if ((r.http = sc_http_server_new(r.base, NULL)) == NULL) {
		goto err;
	}
	r.health.db = r.db;
	r.health.bus = r.bus;
	sc_health_routes(r.http, &r.health);
	ratings_rating_routes(&r);
	ratings_stats_routes(&r);
	ratings_report_routes(&r);
	if (sc_http_server_bind(r.http, cfg.http_addr, (int)cfg.http_port) !=
	    SC_OK) {
		goto err;
	}

	if ((shutdown = sc_shutdown_new(r.base, r.http)) == NULL) {
		goto err;
	}
	sc_log_info(NULL, "listening on http://%s:%d", cfg.http_addr,
	            sc_http_server_port(r.http));
	event_base_dispatch(r.base);
	status = EXIT_SUCCESS;
	sc_log_info(NULL, "stopped");

err:
	sc_shutdown_free(shutdown);
	if (r.http != NULL) {
		sc_http_server_free(r.http);
	}
	/* The cache answers its pending lookups before the bus it asks goes. */
	if (r.profiles != NULL) {
		sc_profiles_free(r.profiles);
	}
	if (r.bus != NULL) {
		sc_bus_free(r.bus);
	}
	if (r.db != NULL) {
		sc_db_free(r.db);
	}
	sc_token_verifier_free(r.verifier);
	if (r.base != NULL) {
		event_base_free(r.base);
	}
	free(cfg.public_key);
	return status;
}
