/* sio-testapp: what the official Engine.IO v4 and Socket.IO v5 conformance
 * suites expect of a server, on the common/ library: Engine.IO echo on
 * /engine.io/; on /socket.io/ namespaces "/" and "/custom" that emit
 * "auth" with the CONNECT payload, answer "message" with "message-back"
 * and ack "message-with-ack" with the same arguments (binary included).
 *
 *   sio-testapp [--addr A] [--port N] [--ping-interval MS]
 *               [--ping-timeout MS]
 *
 * Defaults from SC_SIO_ADDR (127.0.0.1), SC_SIO_PORT (3000),
 * SC_SIO_PING_INTERVAL_MS (300) and SC_SIO_PING_TIMEOUT_MS (200): the
 * values the suites hard-code. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "eio.h"
#include "eio_listener.h"
#include "error.h"
#include "log.h"
#include "sio.h"

struct app {
	struct event_base *base;
	struct sc_eio_listener *listener;
	struct sc_eio_server *echo;
	struct sc_sio_server *sio;
	struct event *sigint, *sigterm, *stop;
};

static void
echo_message(struct sc_eio_socket *s, bool binary, const uint8_t *data,
             size_t len, void *arg)
{
	(void)arg;
	sc_eio_send(s, binary, data, len);
}

static void
on_connect(struct sc_sio_socket *s, json_object *auth, void *arg)
{
	(void)arg;
	json_object *args = json_object_new_array();

	sc_sio_accept(s, NULL);
	json_object_array_add(args, json_object_get(auth));
	sc_sio_emit(s, "auth", args);
	json_object_put(args);
}

static void
on_event(struct sc_sio_socket *s, const char *name, json_object *args,
         struct sc_sio_ack *ack, void *arg)
{
	(void)arg;
	if (strcmp(name, "message") == 0) {
		sc_sio_emit(s, "message-back", args);
	}
	if (ack != NULL) {
		if (strcmp(name, "message-with-ack") == 0) {
			sc_sio_ack_send(ack, args);
		} else {
			sc_sio_ack_free(ack);
		}
	}
}

static void
on_binary_event(struct sc_sio_socket *s, const char *name, json_object *args,
                const struct sc_sio_bin *bins, size_t nbins,
                struct sc_sio_ack *ack, void *arg)
{
	(void)arg;
	if (strcmp(name, "message") == 0) {
		sc_sio_emit_binary(s, "message-back", args, bins, nbins);
	}
	if (ack != NULL) {
		if (strcmp(name, "message-with-ack") == 0) {
			sc_sio_ack_send_binary(ack, args, bins, nbins);
		} else {
			sc_sio_ack_free(ack);
		}
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;

	event_base_loopexit(app->base, NULL);
}

static void
signal_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	struct timeval tv = {0, 200 * 1000};

	if (evtimer_pending(app->stop, NULL)) {
		event_base_loopexit(app->base, NULL);
		return;
	}
	sc_log_info(NULL, "shutting down");
	sc_eio_listener_close(app->listener);
	sc_sio_server_shutdown(app->sio);
	evtimer_add(app->stop, &tv); /* let close frames go out */
}

static int
parse_args(int argc, char **argv, const char **addr, long *port, long *interval,
           long *timeout)
{
	for (int i = 1; i < argc; i++) {
		long *target = NULL;
		char *end;

		if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
			*addr = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--port") == 0) {
			target = port;
		} else if (strcmp(argv[i], "--ping-interval") == 0) {
			target = interval;
		} else if (strcmp(argv[i], "--ping-timeout") == 0) {
			target = timeout;
		}
		if (target == NULL || i + 1 >= argc) {
			fprintf(stderr,
			        "usage: sio-testapp [--addr A] [--port N] "
			        "[--ping-interval MS] [--ping-timeout MS]\n");
			return SC_EINVAL;
		}
		*target = strtol(argv[++i], &end, 10);
		if (*end != '\0' || *target < 0 || *target > 3600000) {
			fprintf(stderr, "sio-testapp: bad value '%s'\n",
			        argv[i]);
			return SC_EINVAL;
		}
	}
	return SC_OK;
}

int
main(int argc, char **argv)
{
	struct app app = {0};
	const char *addr;
	long port, interval, timeout;
	struct sc_eio_opts eopts = {0};
	struct sc_sio_opts sopts = {0};
	struct sc_eio_cbs echo_cbs = {.on_message = echo_message};
	struct sc_sio_nsp_cbs cbs = {
	    .on_connect = on_connect,
	    .on_event = on_event,
	    .on_binary_event = on_binary_event,
	};
	int rc = EXIT_FAILURE;

	sc_log_init("sio-testapp");
	addr = sc_config_str("SC_SIO_ADDR", "127.0.0.1");
	if (sc_config_int("SC_SIO_PORT", 3000, 0, 65535, &port) != SC_OK ||
	    sc_config_int("SC_SIO_PING_INTERVAL_MS", 300, 1, 3600000,
	                  &interval) != SC_OK ||
	    sc_config_int("SC_SIO_PING_TIMEOUT_MS", 200, 1, 3600000,
	                  &timeout) != SC_OK ||
	    parse_args(argc, argv, &addr, &port, &interval, &timeout) !=
	        SC_OK) {
		return EXIT_FAILURE;
	}
	if ((app.base = event_base_new()) == NULL) {
		sc_log_error(NULL, "cannot start: no event base");
		return EXIT_FAILURE;
	}
	app.listener = sc_eio_listener_new(app.base, NULL);
	if (app.listener == NULL ||
	    sc_eio_listener_bind(app.listener, addr, (int)port) != SC_OK) {
		goto err;
	}
	eopts.path = "/engine.io/";
	eopts.ping_interval_ms = (int)interval;
	eopts.ping_timeout_ms = (int)timeout;
	app.echo = sc_eio_server_new(app.listener, &eopts, &echo_cbs, &app);
	sopts.eio = eopts;
	sopts.eio.path = "/socket.io/";
	app.sio = sc_sio_server_new(app.listener, &sopts);
	sc_sio_nsp_new(app.sio, "/", &cbs, &app);
	sc_sio_nsp_new(app.sio, "/custom", &cbs, &app);
	app.sigint = evsignal_new(app.base, SIGINT, signal_cb, &app);
	app.sigterm = evsignal_new(app.base, SIGTERM, signal_cb, &app);
	app.stop = evtimer_new(app.base, stop_cb, &app);
	if (app.sigint == NULL || app.sigterm == NULL || app.stop == NULL) {
		goto err;
	}
	evsignal_add(app.sigint, NULL);
	evsignal_add(app.sigterm, NULL);
	sc_log_info(NULL, "listening on %s:%d", addr,
	            sc_eio_listener_port(app.listener));
	event_base_dispatch(app.base);
	rc = EXIT_SUCCESS;
err:
	if (app.stop != NULL) {
		event_free(app.stop);
	}
	if (app.sigterm != NULL) {
		event_free(app.sigterm);
	}
	if (app.sigint != NULL) {
		event_free(app.sigint);
	}
	sc_sio_server_free(app.sio);
	sc_eio_server_free(app.echo);
	sc_eio_listener_free(app.listener);
	event_base_free(app.base);
	return rc;
}
