/* main.c: the signaling daemon. Configuration -> event base -> database,
 * bus, profiles, token verifier -> HTTP routes (evhttp) and the Socket.IO
 * listener (our own, for the WebSocket upgrade) -> signals -> loop -> free
 * in reverse. SIGTERM drains: stop accepting, refuse new events, let the
 * messages being stored finish and be acknowledged, then close every
 * connection with a close frame, within SC_SHUTDOWN_TIMEOUT_MS. */
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "config.h"
#include "daemon.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "shutdown.h"
#include "signaling.h"

#define POLL_MS  20
#define CLOSE_MS 1000 /* for close frames and polls to go out */

struct sg_config {
	const char *http_addr, *sio_addr;
	long http_port, sio_port;
	const char *database_url;
	long pool_size;
	const char *issuer, *audience;
	long profile_ttl, participant_ttl, match_ttl, bus_timeout_ms;
	long ping_interval, ping_timeout, max_payload, max_conns;
	long rate_events, burst_events, rate_messages, burst_messages;
	long rate_signals, burst_signals;
	long turn_ttl, shutdown_ms;
	/* scale-out (peers.c) */
	const char *instance, *peers;
	long heartbeat_ms;
	char sid_prefix[24];
	char *public_key;
	size_t public_len;
};

/* True when s is 1..max characters of the set. */
static bool
made_of(const char *s, size_t max, const char *set)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, set) == n;
}

#define PRINTABLE                                                              \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"       \
	"!#$%&'()*+,-./:;<=>?@[]^_`{|}~"

/* SC_SIGNALING_INSTANCE, SC_SIGNALING_PEERS (checked by peers.c) and
 * SC_SIO_SID_PREFIX (services/signaling/README.md, "Scale-out"). */
static int
scale_config(struct sg_config *c)
{
	const char *prefix = sc_config_str("SC_SIO_SID_PREFIX", NULL);
	char **urls;
	size_t n;

	c->instance = sc_config_str("SC_SIGNALING_INSTANCE", NULL);
	c->peers = sc_config_str("SC_SIGNALING_PEERS", NULL);
	if (sg_peers_parse_list(c->peers, &urls, &n) != SC_OK) {
		return SC_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		free(urls[i]);
	}
	free(urls);
	if (c->instance != NULL &&
	    !made_of(c->instance, SG_INSTANCE_MAX, PRINTABLE)) {
		sc_log_error(NULL,
		             "invalid SC_SIGNALING_INSTANCE '%.200s': 1-128 "
		             "printable characters without spaces or quotes",
		             c->instance);
		return SC_EINVAL;
	}
	c->sid_prefix[0] = '\0';
	if (prefix != NULL) {
		if (!made_of(
		        prefix, 15,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		        "0123456789_-")) {
			sc_log_error(NULL,
			             "invalid SC_SIO_SID_PREFIX '%.200s': 1-15 "
			             "of [A-Za-z0-9_-]",
			             prefix);
			return SC_EINVAL;
		}
		snprintf(c->sid_prefix, sizeof(c->sid_prefix), "%s.", prefix);
	}
	return SC_OK;
}

static int
config_load(struct sg_config *c, struct sg_ice_config *ice)
{
	const char *why = NULL;
	int rc = SC_OK;

	c->http_addr = sc_config_str("SC_HTTP_ADDR", "127.0.0.1");
	c->sio_addr = sc_config_str("SC_SIO_ADDR", c->http_addr);
	c->database_url = sc_config_str(
	    "SC_DATABASE_URL", "postgresql://sc_chat@127.0.0.1:5432/spotlight");
	c->issuer = sc_config_str("SC_JWT_ISSUER", "spotlight.cam");
	c->audience = sc_config_str("SC_JWT_AUDIENCE", "spotlight.cam");
	rc |= sc_config_int("SC_HTTP_PORT", 7005, 0, 65535, &c->http_port);
	rc |= sc_config_int("SC_SIO_PORT", 7006, 0, 65535, &c->sio_port);
	rc |= sc_config_int("SC_DB_POOL_SIZE", 4, 1, 64, &c->pool_size);
	rc |=
	    sc_config_int("SC_PROFILE_CACHE_TTL", 30, 1, 3600, &c->profile_ttl);
	rc |= sc_config_int("SC_PARTICIPANT_CACHE_TTL", 60, 1, 3600,
	                    &c->participant_ttl);
	rc |= sc_config_int("SC_MATCH_CACHE_TTL", 60, 1, 3600, &c->match_ttl);
	/* 0: the bus's own deadline, SC_BUS_TIMEOUT_MS */
	rc |= sc_config_int("SC_SIGNALING_BUS_TIMEOUT_MS", 0, 0, 60000,
	                    &c->bus_timeout_ms);
	rc |= sc_config_int("SC_SIO_PING_INTERVAL_MS", 25000, 100, 3600000,
	                    &c->ping_interval);
	rc |= sc_config_int("SC_SIO_PING_TIMEOUT_MS", 20000, 100, 3600000,
	                    &c->ping_timeout);
	rc |= sc_config_int("SC_SIO_MAX_PAYLOAD", 1000000, 4096, 100000000,
	                    &c->max_payload);
	rc |= sc_config_int("SC_SIO_MAX_CONNECTIONS", 20000, 1, 1000000,
	                    &c->max_conns);
	rc |= sc_config_int("SC_RATE_EVENTS_PER_S", 10, 1, 1000000,
	                    &c->rate_events);
	rc |= sc_config_int("SC_RATE_EVENTS_BURST", 20, 1, 1000000,
	                    &c->burst_events);
	rc |= sc_config_int("SC_RATE_MESSAGES_PER_S", 5, 1, 1000000,
	                    &c->rate_messages);
	rc |= sc_config_int("SC_RATE_MESSAGES_BURST", 10, 1, 1000000,
	                    &c->burst_messages);
	rc |= sc_config_int("SC_RATE_SIGNALS_PER_S", 50, 1, 1000000,
	                    &c->rate_signals);
	rc |= sc_config_int("SC_RATE_SIGNALS_BURST", 100, 1, 1000000,
	                    &c->burst_signals);
	rc |= sc_config_int("SC_TURN_TTL", 3600, 60, 7 * 86400, &c->turn_ttl);
	rc |= sc_config_int("SC_SHUTDOWN_TIMEOUT_MS", 5000, 0, 600000,
	                    &c->shutdown_ms);
	rc |= sc_config_int("SC_SIGNALING_HEARTBEAT_MS", 2000, 100, 60000,
	                    &c->heartbeat_ms);
	rc |= scale_config(c);
	if (rc != SC_OK) {
		return SC_EINVAL;
	}
	if (sg_ice_config_init(
	        ice,
	        sc_config_str("SC_STUN_URLS", "stun:stun.l.google.com:19302"),
	        sc_config_str("SC_TURN_URLS", NULL),
	        sc_config_str("SC_TURN_SECRET", NULL),
	        sc_config_str("SC_TURN_USERNAME", NULL),
	        sc_config_str("SC_TURN_CREDENTIAL", NULL), c->turn_ttl,
	        &why) != SC_OK) {
		sc_log_error(NULL, "invalid ICE server configuration: %s", why);
		return SC_EINVAL;
	}
	if (sc_config_file("SC_JWT_PUBLIC_KEY_FILE", "var/keys/jwt.pub",
	                   &c->public_key, &c->public_len) != SC_OK) {
		return SC_EINVAL;
	}
	/* The log file last: what is wrong before it goes to the terminal. */
	return sc_log_open();
}

/* ---- graceful shutdown ---------------------------------------------------
 * Phase 1 (draining): the listeners are closed and new events refused;
 * wait until no socket operation or HTTP request is in flight. Phase 2
 * (closing): close every connection (1001 "going away"); wait until they
 * are gone or CLOSE_MS. A second signal leaves at once. */

struct stopper {
	struct signaling *sg;
	struct event *sigterm, *sigint, *sighup, *poll;
	struct timespec deadline;
	long drain_ms;
	int phase; /* 0 running, 1 draining, 2 closing */
};

static void
deadline_in(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool
past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stopper *st = arg;
	struct signaling *sg = st->sg;
	size_t http = sc_http_server_inflight(sg->http);
	(void)fd;
	(void)what;

	if (st->phase == 1) {
		if (sg->inflight > 0 || http > 0) {
			if (!past(&st->deadline)) {
				return;
			}
			sc_log_warn(NULL,
			            "closing with %zu socket operation(s) and "
			            "%zu request(s) unanswered",
			            sg->inflight, http);
		}
		sc_log_info(NULL, "closing %zu connection(s)",
		            sc_sio_server_count(sg->io));
		/* the peers forget our users now, not at the ttl */
		sg_peers_close(sg);
		sc_sio_server_shutdown(sg->io);
		st->phase = 2;
		deadline_in(&st->deadline, CLOSE_MS);
		return;
	}
	if ((sc_sio_server_count(sg->io) == 0 &&
	     sc_eio_listener_conns(sg->listener) == 0) ||
	    past(&st->deadline)) {
		event_del(st->poll);
		event_base_loopexit(sg->base, NULL);
	}
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct stopper *st = arg;
	struct signaling *sg = st->sg;
	struct timeval every = {0, POLL_MS * 1000};
	(void)what;

	if (st->phase != 0) {
		sc_log_warn(NULL, "second signal %d: stopping now", (int)sig);
		event_base_loopexit(sg->base, NULL);
		return;
	}
	st->phase = 1;
	sg->draining = true;
	sc_log_info(NULL,
	            "signal %d: draining %zu socket operation(s) and %zu "
	            "request(s), at most %ld ms",
	            (int)sig, sg->inflight, sc_http_server_inflight(sg->http),
	            st->drain_ms);
	sc_eio_listener_close(sg->listener);
	sc_http_server_close(sg->http);
	deadline_in(&st->deadline, st->drain_ms);
	event_add(st->poll, &every);
	poll_cb(-1, 0, st);
}

static void
stopper_free(struct stopper *st)
{
	if (st->poll != NULL) {
		event_free(st->poll);
	}
	if (st->sighup != NULL) {
		event_free(st->sighup);
	}
	if (st->sigint != NULL) {
		event_free(st->sigint);
	}
	if (st->sigterm != NULL) {
		event_free(st->sigterm);
	}
}

static int
stopper_init(struct stopper *st, struct signaling *sg, long drain_ms)
{
	st->sg = sg;
	st->drain_ms = drain_ms;
	st->sigterm = evsignal_new(sg->base, SIGTERM, signal_cb, st);
	st->sigint = evsignal_new(sg->base, SIGINT, signal_cb, st);
	st->poll = event_new(sg->base, -1, EV_PERSIST, poll_cb, st);
	if (st->sigterm == NULL || st->sigint == NULL || st->poll == NULL ||
	    event_add(st->sigterm, NULL) != 0 ||
	    event_add(st->sigint, NULL) != 0) {
		sc_log_error(NULL, "cannot install signal handlers");
		return SC_EINTERNAL;
	}
	/* SIGHUP reopens the log file (shutdown.h). */
	if ((st->sighup = sc_shutdown_sighup_new(sg->base)) == NULL) {
		return SC_EINTERNAL;
	}
	return SC_OK;
}

/* ---- memory -------------------------------------------------------------- */

/* Thousands of long-lived connections interleave their small allocations
 * with the transient ones of their joins (each joiner gets the room's
 * whole presence list as JSON: json-c's arrays and print buffers double
 * their way up to it), so glibc's heap ends up mostly free but resident,
 * in holes malloc_trim cannot give back: at 1,000 clients in one room,
 * 30 MB resident for 8 MB in use with a 64 KiB threshold. Two remedies.
 * Blocks of 8 KiB and more come from mmap and go back at free (a fixed
 * threshold, which also stops glibc from raising it after the first such
 * free); what a connection reads and writes is in libevent chains of at
 * most 4 KiB, so the threshold costs no syscall on that path (bench at
 * 1,000 clients: 12.6 KB of RSS per connection with 64 KiB, 8.5 with
 * 16 KiB, 8.2 with 8 KiB; 5.4 KB of it in use). And every 250 ms, when
 * the RSS grew by TRIM_GROWTH since the last trim, malloc_trim hands the
 * free pages inside the heap back (a few ms on a heap of 100 MB; nothing
 * while the RSS holds still, so a steady load does not fault the same
 * pages in and out). */
#define MMAP_THRESHOLD (8 * 1024)
#define TRIM_GROWTH    (1024L * 1024)

struct trimmer {
	struct event *ev;
	long rss; /* bytes, after the last trim or look */
};

static long
rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL) {
		return 0;
	}
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
		resident = 0;
	}
	fclose(f);
	return resident * 4096L;
}

static void
trim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct trimmer *t = arg;
	long now = rss_bytes();

	if (now - t->rss >= TRIM_GROWTH) {
		malloc_trim(0);
		t->rss = rss_bytes();
	} else if (now < t->rss) {
		t->rss = now;
	}
}

static int
trimmer_init(struct trimmer *t, struct event_base *base)
{
	static const struct timeval tick = {0, 250000};

	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	t->rss = rss_bytes();
	t->ev = event_new(base, -1, EV_PERSIST, trim_cb, t);
	if (t->ev == NULL || event_add(t->ev, &tick) != 0) {
		sc_log_error(NULL, "cannot start the memory trimmer");
		return SC_EINTERNAL;
	}
	return SC_OK;
}

/* ---- the Socket.IO side -------------------------------------------------- */

static int
sio_start(struct signaling *sg, const struct sg_config *cfg)
{
	struct sc_eio_listener_opts lo = {.max_conns = (size_t)cfg->max_conns};
	struct sc_sio_opts so = {0};

	so.eio.path = "/socket.io/";
	so.eio.ping_interval_ms = (int)cfg->ping_interval;
	so.eio.ping_timeout_ms = (int)cfg->ping_timeout;
	so.eio.max_payload = (size_t)cfg->max_payload;
	so.eio.max_sessions = (size_t)cfg->max_conns;
	if (cfg->sid_prefix[0] != '\0') {
		so.eio.sid_prefix = cfg->sid_prefix;
	}
	if ((sg->listener = sc_eio_listener_new(sg->base, &lo)) == NULL) {
		return SC_EINTERNAL;
	}
	if ((sg->io = sc_sio_server_new(sg->listener, &so)) == NULL) {
		return SC_EINTERNAL;
	}
	sg_sockets_init(sg);
	if (sg->nsp == NULL) {
		return SC_EINTERNAL;
	}
	return sc_eio_listener_bind(sg->listener, cfg->sio_addr,
	                            (int)cfg->sio_port);
}

static void
rates_set(struct signaling *sg, const struct sg_config *c)
{
	sg->rate_events =
	    (struct sg_rate){(double)c->rate_events, (double)c->burst_events};
	sg->rate_messages = (struct sg_rate){(double)c->rate_messages,
	                                     (double)c->burst_messages};
	sg->rate_signals =
	    (struct sg_rate){(double)c->rate_signals, (double)c->burst_signals};
}

int
main(void)
{
	struct sg_config cfg = {0};
	struct signaling sg = {0};
	struct stopper st = {0};
	struct trimmer trim = {0};
	int status = EXIT_FAILURE;
	char *rep = NULL, *pub = NULL;
	int bus_rc;

	sc_log_init("signaling");
	if (config_load(&cfg, &sg.ice) != SC_OK) {
		sc_log_error(NULL, "configuration is invalid: not starting");
		sg_ice_config_release(&sg.ice);
		free(cfg.public_key);
		return 2;
	}
	sg.participant_ttl_s = cfg.participant_ttl;
	sg.match_ttl_s = cfg.match_ttl;
	sg.bus_timeout_ms = (int)cfg.bus_timeout_ms;
	rates_set(&sg, &cfg);

	if ((sg.base = sc_daemon_base_new()) == NULL) {
		sc_log_error(NULL, "cannot create the event base");
		goto err;
	}
	sg.verifier = sc_token_verifier_new(cfg.public_key, cfg.public_len,
	                                    cfg.issuer, cfg.audience);
	if (sg.verifier == NULL) {
		sc_log_error(NULL,
		             "invalid SC_JWT_PUBLIC_KEY_FILE '%s': not an "
		             "ES256 public key",
		             sc_config_str("SC_JWT_PUBLIC_KEY_FILE",
		                           "var/keys/jwt.pub"));
		status = 2;
		goto err;
	}
	if ((sg.db = sc_db_new(sg.base, cfg.database_url,
	                       (int)cfg.pool_size)) == NULL) {
		sc_log_error(NULL, "invalid SC_DATABASE_URL: not starting");
		status = 2;
		goto err;
	}
	sg.presence = sg_presence_new();
	sg_access_init(&sg);

	/* Signaling answers no request yet; it binds its addresses so the
	 * suite's wiring is the same for every daemon, and publishes
	 * nothing. */
	if ((sg.bus = sc_bus_new(sg.base, "signaling")) == NULL) {
		goto err;
	}
	rep = sc_bus_addr("signaling", "REQ");
	pub = sc_bus_addr("signaling", "PUB");
	bus_rc = sc_bus_listen(sg.bus, rep, pub);
	free(rep);
	free(pub);
	if (bus_rc != SC_OK) {
		goto err;
	}
	if ((sg.profiles = sc_profiles_new(sg.base, sg.bus,
	                                   (int)cfg.profile_ttl)) == NULL) {
		goto err;
	}
	sc_profiles_subscribe(sg.profiles);
	sg_notify_subscribe(&sg);
	if (sg_peers_start(&sg, cfg.instance, cfg.peers, cfg.heartbeat_ms) !=
	    SC_OK) {
		goto err;
	}

	if ((sg.http = sc_http_server_new(sg.base, NULL)) == NULL) {
		goto err;
	}
	sg.health.db = sg.db;
	sg.health.bus = sg.bus;
	sc_health_routes(sg.http, &sg.health);
	sg_routes(&sg);
	sg.metrics = sc_metrics_new();
	sc_metrics_wire(sg.metrics, "signaling", sg.http, sg.bus, sg.db);
	if (sc_http_server_bind(sg.http, cfg.http_addr, (int)cfg.http_port) !=
	    SC_OK) {
		goto err;
	}
	if (sio_start(&sg, &cfg) != SC_OK) {
		goto err;
	}
	sg_metrics_init(&sg);
	if (stopper_init(&st, &sg, cfg.shutdown_ms) != SC_OK ||
	    trimmer_init(&trim, sg.base) != SC_OK) {
		goto err;
	}
	sc_log_info(NULL,
	            "listening on http://%s:%d (API), http://%s:%d/"
	            "socket.io/ (Socket.IO)",
	            cfg.http_addr, sc_http_server_port(sg.http), cfg.sio_addr,
	            sc_eio_listener_port(sg.listener));
	event_base_dispatch(sg.base);
	status = EXIT_SUCCESS;
	sc_log_info(NULL, "stopped");

err:
	/* From here on, callbacks (failed by the frees below) start nothing
	 * new. The Socket.IO server goes after the bus and the pool: their
	 * callbacks still answer acks and broadcast. */
	sg.stopping = true;
	sg.draining = true;
	stopper_free(&st);
	if (trim.ev != NULL) {
		event_free(trim.ev);
	}
	if (sg.http != NULL) {
		sc_http_server_free(sg.http);
	}
	if (sg.bus != NULL) {
		sc_bus_free(sg.bus);
		sg.bus = NULL;
	}
	if (sg.profiles != NULL) {
		sc_profiles_free(sg.profiles);
	}
	if (sg.db != NULL) {
		sc_db_free(sg.db);
	}
	if (sg.io != NULL) {
		sc_sio_server_free(sg.io);
	}
	if (sg.listener != NULL) {
		sc_eio_listener_free(sg.listener);
	}
	sg_sockets_release(&sg);
	sg_peers_free(&sg); /* after the bus: no callback comes */
	sg_presence_free(sg.presence);
	sg_access_release(&sg);
	sc_token_verifier_free(sg.verifier);
	if (sg.base != NULL) {
		event_base_free(sg.base);
	}
	sc_metrics_free(sg.metrics);
	sg_ice_config_release(&sg.ice);
	free(cfg.public_key);
	return status;
}
