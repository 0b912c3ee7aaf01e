/* daemon.c: open, run and close the pieces every domain daemon has. */
#include "daemon.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "profiles.h"
#include "shutdown.h"
#include "token.h"

/* The loop, with epoll's changelist: a request turns its connection's
 * read and write interest off and on several times in one loop turn, and
 * the changelist makes that one epoll_ctl at the end of the turn instead
 * of one per change. (libevent's caveat, fds made with dup() sharing an
 * epoll registration, does not apply: no daemon watches a dup'd fd.) */
struct event_base *
sc_daemon_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL) {
		return NULL;
	}
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* glibc gives the heap's free top back past 128 KiB and takes it again on
 * the next burst: at 12,000 list requests a second (13 KB replies, 64 in
 * flight) that brk churn and its page faults were 15% of a request's CPU.
 * Keep up to 8 MiB of free heap, and grow it 1 MiB at a time. */
static void
daemon_malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_TOP_PAD, 1024 * 1024);
}

int
sc_daemon_open(struct sc_daemon *d, const char *service, const char *role,
               long default_port)
{
	long pool_size, profile_ttl, shutdown_ms;
	char *key = NULL, url[128];
	size_t key_len = 0;
	int rc = SC_OK;

	d->service = service;
	sc_log_init(service);
	snprintf(url, sizeof url, "postgresql://sc_%s@127.0.0.1:5432/spotlight",
	         role);
	d->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	const char *database_url = sc_config_str("SC_DATABASE_URL", url);
	const char *issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	const char *audience =
	    sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	rc |= sc_config_int("SC_HTTP_PORT", default_port, 0, 65535,
	                    &d->http_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &pool_size);
	rc |= sc_config_int("SC_PROFILE_CACHE_TTL", 30, 1, 3600, &profile_ttl);
	/* Read again by sc_shutdown_new; checked here to fail before
	 * listening. */
	rc |= sc_config_int("SC_SHUTDOWN_TIMEOUT_MS", 5000, 0, 600000,
	                    &shutdown_ms);
	/* The log file last: what is wrong before it goes to the terminal. */
	if (rc != SC_OK ||
	    sc_config_file("SC_JWT_PUBLIC_KEY_FILE", "var/keys/jwt.pub", &key,
	                   &key_len) != SC_OK ||
	    sc_log_open() != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		free(key);
		return SC_EINVAL;
	}

	daemon_malloc_tune();
	if ((d->base = sc_daemon_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		rc = SC_EINTERNAL;
		goto out;
	}
	d->verifier = sc_token_verifier_new(key, key_len, issuer, audience);
	if (d->verifier == NULL) {
		sc_log_error(NULL,
		             "invalid SC_JWT_PUBLIC_KEY_FILE '%s': not an "
		             "ES256 public key",
		             sc_config_str("SC_JWT_PUBLIC_KEY_FILE",
		                           "var/keys/jwt.pub"));
		rc = SC_EINVAL;
		goto out;
	}
	if ((d->db = sc_db_new(d->base, database_url, (int)pool_size)) ==
	    NULL) {
		sc_log_error(NULL, "invalid SC_DATABASE_URL: not starting");
		rc = SC_EINVAL;
		goto out;
	}
	if ((d->bus = sc_bus_new(d->base, service)) == NULL ||
	    (d->profiles =
	         sc_profiles_new(d->base, d->bus, (int)profile_ttl)) == NULL ||
	    (d->http = sc_http_server_new(d->base, NULL)) == NULL) {
		rc = SC_EUNAVAIL;
		goto out;
	}
	/* Without the subscription profiles are only as fresh as the cache's
	 * TTL: not a reason to refuse to start. */
	(void)sc_profiles_subscribe(d->profiles);
	d->health.db = d->db;
	d->health.bus = d->bus;
	sc_health_routes(d->http, &d->health);
	d->metrics = sc_metrics_new();
	sc_metrics_wire(d->metrics, service, d->http, d->bus, d->db);
out:
	free(key);
	return rc;
}

static void
cache_listen_cb(enum sc_db_listen_event ev, const char *payload, void *arg)
{
	struct sc_daemon *d = arg;

	(void)payload;
	switch (ev) {
	case SC_DB_LISTEN_UP:
		sc_cache_enable(d->cache, true);
		sc_log_info(NULL, "read cache on");
		break;
	case SC_DB_LISTEN_DOWN:
		sc_cache_enable(d->cache, false);
		sc_log_warn(NULL, "read cache off: change notifications lost");
		break;
	case SC_DB_LISTEN_NOTIFY:
		sc_cache_clear(d->cache);
		break;
	}
}

int
sc_daemon_cache(struct sc_daemon *d, const char *channel)
{
	long bytes;

	if (sc_config_int("SC_CACHE_BYTES", 16L << 20, 0, 1L << 40, &bytes) !=
	    SC_OK) {
		return SC_EINVAL;
	}
	d->cache = sc_cache_new((size_t)bytes);
	sc_metrics_cache(d->metrics, d->cache);
	if (bytes == 0) {
		return SC_OK; /* stays disabled */
	}
	return sc_db_listen(d->db, channel, cache_listen_cb, d);
}

int
sc_daemon_run(struct sc_daemon *d)
{
	char *rep = sc_bus_addr(d->service, "REQ");
	char *pub = sc_bus_addr(d->service, "PUB");
	int rc = sc_bus_listen(d->bus, rep, pub);

	free(rep);
	free(pub);
	if (rc != SC_OK) {
		return rc;
	}
	if ((rc = sc_http_server_bind(d->http, d->http_addr,
	                              (int)d->http_port)) != SC_OK) {
		return rc;
	}
	if ((d->shutdown = sc_shutdown_new(d->base, d->http)) == NULL) {
		return SC_EINTERNAL;
	}
	sc_log_info(NULL, "listening on http://%s:%d", d->http_addr,
	            sc_http_server_port(d->http));
	event_base_dispatch(d->base);
	sc_log_info(NULL, "stopped");
	return SC_OK;
}

void
sc_daemon_close(struct sc_daemon *d)
{
	sc_shutdown_free(d->shutdown);
	sc_http_server_free(d->http);
	if (d->db != NULL) {
		sc_db_free(d->db);
	}
	sc_cache_free(d->cache); /* after the pool: its listener clears it */
	if (d->bus != NULL) {
		sc_bus_free(d->bus);
	}
	sc_profiles_free(d->profiles);
	sc_token_verifier_free(d->verifier);
	if (d->base != NULL) {
		event_base_free(d->base);
	}
	sc_metrics_free(d->metrics);
}
