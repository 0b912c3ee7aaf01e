/* main.c: the auth daemon. Configuration -> event base -> database, bus,
 * hash pool, keys -> HTTP routes -> signals -> loop -> free in reverse. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "shutdown.h"

struct auth_config {
	const char *http_addr;
	long http_port;
	const char *database_url;
	long pool_size;
	const char *issuer, *audience;
	long access_ttl, refresh_ttl;
	long register_per_hour, forgot_per_hour;
	const char *mail_transport, *mail_dir;
	const char *public_url;
	int cookie_secure;
	char *private_key, *public_key;
	size_t private_len, public_len;
	struct sc_hasher_opts hash;
};

static int
config_load(struct auth_config *c)
{
	int secure_default, rc = SC_OK;
	long shutdown_ms;

	c->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	c->database_url = sc_config_str(
	    "SC_DATABASE_URL", "postgresql://sc_auth@127.0.0.1:5432/spotlight");
	c->issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	c->audience = sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	c->public_url = sc_config_str("SC_PUBLIC_URL", "http://localhost:8080");
	c->mail_transport = sc_config_str("SC_MAIL_TRANSPORT", "file");
	c->mail_dir = sc_config_str("SC_MAIL_OUTBOX_DIR", "var/mail");
	secure_default = strncmp(c->public_url, "https://", 8) == 0;

	rc |= sc_config_int("SC_HTTP_PORT", 7001, 0, 65535, &c->http_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &c->pool_size);
	rc |= sc_config_int("SC_ACCESS_TOKEN_TTL", 900, 60, 86400,
	                    &c->access_ttl);
	rc |= sc_config_int("SC_REFRESH_TOKEN_TTL", 30 * 86400, 3600,
	                    365 * 86400, &c->refresh_ttl);
	rc |= sc_config_int("SC_LIMIT_REGISTER_PER_HOUR", 20, 1, 1000000,
	                    &c->register_per_hour);
	rc |= sc_config_int("SC_LIMIT_FORGOT_PER_HOUR", 5, 1, 1000000,
	                    &c->forgot_per_hour);
	rc |= sc_config_bool("SC_COOKIE_SECURE", secure_default,
	                     &c->cookie_secure);
	rc |= sc_hasher_opts_from_env(&c->hash);
	/* Read again by sc_shutdown_new; checked here to fail before
	 * listening. */
	rc |= sc_config_int("SC_SHUTDOWN_TIMEOUT_MS", 5000, 0, 600000,
	                    &shutdown_ms);
	if (strcmp(c->mail_transport, "file") != 0) {
		sc_log_error(NULL,
		             "invalid SC_MAIL_TRANSPORT '%s': only 'file' is "
		             "supported",
		             c->mail_transport);
		rc |= SC_EINVAL;
	}
	if (rc != SC_OK) {
		return SC_EINVAL;
	}
	if (sc_config_file("SC_JWT_PRIVATE_KEY_FILE", "var/keys/jwt.key",
	                   &c->private_key, &c->private_len) != SC_OK) {
		return SC_EINVAL;
	}
	if (sc_config_file("SC_JWT_PUBLIC_KEY_FILE", "var/keys/jwt.pub",
	                   &c->public_key, &c->public_len) != SC_OK) {
		return SC_EINVAL;
	}
	/* The log file last: what is wrong before it goes to the terminal. */
	return sc_log_open();
}

static void
config_release(struct auth_config *c)
{
	if (c->private_key != NULL) {
		explicit_bzero(c->private_key, c->private_len);
		free(c->private_key);
	}
	free(c->public_key);
}

/* Would the suite accept what auth signs? A token signed now verifies
 * with the public key file (which may hold several keys). */
static bool
signer_is_trusted(struct sc_token_signer *signer,
                  struct sc_token_verifier *verifier)
{
	struct sc_claims c;
	char *tok = NULL;
	bool ok;

	ok = sc_token_sign(signer, 1, "probe", time(NULL), &tok) == SC_OK &&
	     sc_token_verify(verifier, tok, time(NULL), &c) == SC_OK;
	free(tok);
	return ok;
}

int
main(void)
{
	struct auth_config cfg = {0};
	struct auth a = {0};
	struct sc_shutdown *shutdown = NULL;
	struct sc_metrics *metrics = NULL;
	int status = EXIT_FAILURE;

	sc_log_init("auth");
	if (config_load(&cfg) != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		config_release(&cfg);
		return 2;
	}
	a.refresh_ttl = cfg.refresh_ttl;
	a.cookie_secure = cfg.cookie_secure;
	a.public_url = cfg.public_url;

	if ((a.base = sc_daemon_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		goto err;
	}
	a.signer =
	    sc_token_signer_new(cfg.private_key, cfg.private_len, cfg.issuer,
	                        cfg.audience, cfg.access_ttl);
	a.verifier = sc_token_verifier_new(cfg.public_key, cfg.public_len,
	                                   cfg.issuer, cfg.audience);
	if (a.signer == NULL || a.verifier == NULL) {
		sc_log_error(NULL, "invalid %s '%s': not an ES256 %s key",
		             a.signer == NULL ? "SC_JWT_PRIVATE_KEY_FILE"
		                              : "SC_JWT_PUBLIC_KEY_FILE",
		             a.signer == NULL
		                 ? sc_config_str("SC_JWT_PRIVATE_KEY_FILE",
		                                 "var/keys/jwt.key")
		                 : sc_config_str("SC_JWT_PUBLIC_KEY_FILE",
		                                 "var/keys/jwt.pub"),
		             a.signer == NULL ? "private" : "public");
		status = 2;
		goto err;
	}
	if (!signer_is_trusted(a.signer, a.verifier)) {
		sc_log_error(NULL,
		             "invalid SC_JWT_PUBLIC_KEY_FILE '%s': it does not "
		             "hold the public half of SC_JWT_PRIVATE_KEY_FILE "
		             "(when rotating keys, publish the new public key "
		             "before signing with it)",
		             sc_config_str("SC_JWT_PUBLIC_KEY_FILE",
		                           "var/keys/jwt.pub"));
		status = 2;
		goto err;
	}
	if ((a.db = sc_db_new(a.base, cfg.database_url, (int)cfg.pool_size)) ==
	    NULL) {
		sc_log_error(NULL, "invalid SC_DATABASE_URL: not starting");
		status = 2;
		goto err;
	}
	if ((a.hasher = sc_hasher_new(a.base, &cfg.hash)) == NULL) {
		goto err;
	}
	if ((a.mail = auth_mail_new(a.base, a.db, cfg.mail_dir)) == NULL) {
		goto err;
	}
	a.login_fail_ip = sc_ratelimit_new(20, 600);
	a.login_fail_account = sc_ratelimit_new(10, 900);
	a.register_ip = sc_ratelimit_new((int)cfg.register_per_hour, 3600);
	a.forgot_ip = sc_ratelimit_new((int)cfg.forgot_per_hour, 3600);

	if ((a.bus = sc_bus_new(a.base, "auth")) == NULL) {
		goto err;
	}
	auth_users_bus(&a);
	char *rep = sc_bus_addr("auth", "REQ");
	char *pub = sc_bus_addr("auth", "PUB");
	int bus_rc = sc_bus_listen(a.bus, rep, pub);
	free(rep);
	free(pub);
	if (bus_rc != SC_OK) {
		goto err;
	}

	if ((a.http = sc_http_server_new(a.base, NULL)) == NULL) {
		goto err;
	}
	a.health.db = a.db;
	a.health.bus = a.bus;
	sc_health_routes(a.http, &a.health);
	auth_account_routes(&a);
	auth_session_routes(&a);
	auth_users_routes(&a);
	metrics = sc_metrics_new();
	sc_metrics_wire(metrics, "auth", a.http, a.bus, a.db);
	sc_hasher_set_metrics(a.hasher, metrics);
	if (sc_http_server_bind(a.http, cfg.http_addr, (int)cfg.http_port) !=
	    SC_OK) {
		goto err;
	}

	if ((shutdown = sc_shutdown_new(a.base, a.http)) == NULL) {
		goto err;
	}
	sc_log_info(NULL, "listening on http://%s:%d", cfg.http_addr,
	            sc_http_server_port(a.http));
	event_base_dispatch(a.base);
	status = EXIT_SUCCESS;
	sc_log_info(NULL, "stopped");

err:
	sc_shutdown_free(shutdown);
	if (a.http != NULL) {
		sc_http_server_free(a.http);
	}
	if (a.bus != NULL) {
		sc_bus_free(a.bus);
	}
	if (a.hasher != NULL) {
		sc_hasher_free(a.hasher);
	}
	/* The pool fails what is still in flight; the mail loop's callbacks
	 * need it alive, so it goes after. */
	if (a.db != NULL) {
		sc_db_free(a.db);
	}
	auth_mail_free(a.mail);
	sc_ratelimit_free(a.forgot_ip);
	sc_ratelimit_free(a.register_ip);
	sc_ratelimit_free(a.login_fail_account);
	sc_ratelimit_free(a.login_fail_ip);
	sc_token_verifier_free(a.verifier);
	sc_token_signer_free(a.signer);
	if (a.base != NULL) {
		event_base_free(a.base);
	}
	sc_metrics_free(metrics);
	config_release(&cfg);
	return status;
}
