/* scbus: talk to the daemons' bus from a shell: send one request and print
 * the reply, or print published events. Same SC_BUS_* variables as the
 * daemons (see proto/README.md). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "alloc.h"
#include "bus.h"
#include "error.h"
#include "log.h"

#define EXIT_USAGE 2

static const char usage[] =
    "usage: scbus call METHOD [JSON-DATA] [--timeout-ms N] [--request-id ID]\n"
    "       scbus sub SERVICE[,SERVICE...] [PREFIX] [--count N] "
    "[--timeout-ms N]\n"
    "\n"
    "call  sends request METHOD (e.g. auth.users.get) to the service named\n"
    "      by its first segment, with JSON-DATA (an object, default {}), and\n"
    "      prints the reply envelope as one JSON line:\n"
    "        {\"v\":1,\"ok\":true,\"data\":{...}}\n"
    "        "
    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"...\",\"message\":\"...\"}}\n"
    "      exit 0 when ok, 1 for an error reply, 2 for a timeout, an\n"
    "      unavailable service or bad usage. --timeout-ms defaults to\n"
    "      SC_BUS_TIMEOUT_MS (2000).\n"
    "sub   subscribes to the topics starting with PREFIX (default: all)\n"
    "      published by each SERVICE and prints each event as one JSON line\n"
    "        {\"topic\":\"...\",\"requestId\":\"...\",\"data\":{...}}\n"
    "      until SIGINT/SIGTERM (exit 0), N events with --count (exit 0) or\n"
    "      --timeout-ms passes (exit 1). Logs \"subscribed\" on stderr once\n"
    "      connected to every SERVICE: wait for it before publishing.\n"
    "\n"
    "Addresses: SC_BUS_<SERVICE>_REQ and SC_BUS_<SERVICE>_PUB, default\n"
    "tcp://127.0.0.1:71x1 and 71x2 (x = 0 auth, 1 events, 2 matchmaking,\n"
    "3 ratings, 4 signaling). Logs: SC_LOG_LEVEL (default info) on stderr.\n";

struct opts {
	const char *args[3]; /* positional arguments after the command */
	int nargs;
	long timeout_ms; /* 0: the default */
	long count;      /* 0: unlimited */
	const char *request_id;
};

struct state {
	struct event_base *base;
	struct sc_bus *bus;
	int exit_code;
	/* sub */
	char **services;
	int nservices;
	long count, seen;
	bool subscribed;
	struct event *poll;
};

static int
usage_error(const char *fmt, const char *arg)
{
	fputs("scbus: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nusage: scbus call METHOD [JSON-DATA] [--timeout-ms N] "
	      "[--request-id ID]\n"
	      "       scbus sub SERVICE[,SERVICE...] [PREFIX] [--count N] "
	      "[--timeout-ms N]\n"
	      "       scbus --help\n",
	      stderr);
	return EXIT_USAGE;
}

static bool
parse_positive(const char *s, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n <= 0 || n > 86400000) {
		return false;
	}
	*out = n;
	return true;
}

/* Split argv after the command into positional arguments and options.
 * EXIT_SUCCESS, or EXIT_USAGE after printing what is wrong. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--timeout-ms") == 0 ||
		    strcmp(a, "--count") == 0 ||
		    strcmp(a, "--request-id") == 0) {
			if (i + 1 >= argc) {
				return usage_error("missing value after '%s'",
				                   a);
			}
			const char *v = argv[++i];
			if (strcmp(a, "--request-id") == 0) {
				o->request_id = v;
			} else if (!parse_positive(v, strcmp(a, "--count") == 0
			                                  ? &o->count
			                                  : &o->timeout_ms)) {
				return usage_error("invalid number '%s'", v);
			}
		} else if (a[0] == '-' && a[1] == '-') {
			return usage_error("unknown option '%s'", a);
		} else if (o->nargs == 3) {
			return usage_error("unexpected argument '%s'", a);
		} else {
			o->args[o->nargs++] = a;
		}
	}
	return EXIT_SUCCESS;
}

static void
print_line(json_object *obj)
{
	puts(json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* ---- call ----------------------------------------------------------- */

static void
reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct state *st = arg;
	json_object *out = json_object_new_object();

	json_object_object_add(out, "v", json_object_new_int(SC_BUS_VERSION));
	json_object_object_add(out, "ok",
	                       json_object_new_boolean(err == SC_OK));
	if (err == SC_OK) {
		json_object_object_add(out, "data", json_object_get(data));
		st->exit_code = EXIT_SUCCESS;
	} else {
		/* The peer's error as it came (its own code, details), else
		 * the local failure's. */
		json_object *e = sc_bus_reply_error_object(st->bus);
		if (e != NULL) {
			json_object_get(e);
		} else {
			e = json_object_new_object();
			json_object_object_add(
			    e, "code",
			    json_object_new_string(sc_err_code(err)));
			json_object_object_add(
			    e, "message",
			    json_object_new_string(
			        message != NULL ? message : sc_err_str(err)));
		}
		json_object_object_add(out, "error", e);
		st->exit_code = err == SC_ETIMEDOUT || err == SC_EUNAVAIL
		                    ? EXIT_USAGE
		                    : EXIT_FAILURE;
	}
	print_line(out);
	json_object_put(out);
	event_base_loopbreak(st->base);
}

static int
cmd_call(struct state *st, const struct opts *o)
{
	json_object *data = NULL;

	if (o->nargs < 1 || o->nargs > 2 || o->count != 0) {
		return usage_error("%s", "call takes METHOD [JSON-DATA]");
	}
	if (o->nargs == 2) {
		data = json_tokener_parse(o->args[1]);
		if (!json_object_is_type(data, json_type_object)) {
			json_object_put(data);
			return usage_error(
			    "JSON-DATA '%s' is not a JSON object", o->args[1]);
		}
	}
	st->exit_code = EXIT_USAGE;
	sc_bus_call(st->bus, o->args[0], data, o->request_id,
	            (int)o->timeout_ms, reply_cb, st);
	event_base_dispatch(st->base);
	/* After a signal, freeing the bus fails the call (and prints it). */
	return EXIT_SUCCESS;
}

/* ---- sub ------------------------------------------------------------ */

static void
event_cb(const char *topic, json_object *data, const char *request_id,
         void *arg)
{
	struct state *st = arg;
	json_object *out = json_object_new_object();

	json_object_object_add(out, "topic", json_object_new_string(topic));
	json_object_object_add(
	    out, "requestId",
	    request_id != NULL ? json_object_new_string(request_id) : NULL);
	json_object_object_add(out, "data", json_object_get(data));
	print_line(out);
	json_object_put(out);
	st->seen++;
	if (st->count > 0 && st->seen >= st->count) {
		st->exit_code = EXIT_SUCCESS;
		event_base_loopbreak(st->base);
	}
}

/* Log once every publisher is connected: events published after that
 * line reach us. */
static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;
	(void)fd;
	(void)what;

	for (int i = 0; i < st->nservices; i++) {
		if (!sc_bus_connected(st->bus, st->services[i], "PUB")) {
			return;
		}
	}
	st->subscribed = true;
	sc_log_info(NULL, "subscribed");
	event_del(st->poll);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;
	(void)fd;
	(void)what;
	st->exit_code = EXIT_FAILURE;
	event_base_loopbreak(st->base);
}

static int
cmd_sub(struct state *st, const struct opts *o)
{
	const char *prefix = o->nargs == 2 ? o->args[1] : "";
	struct event *timer = NULL;
	struct timeval tv;
	char *list, *save = NULL, *tok;
	int rc = EXIT_SUCCESS;

	if (o->nargs < 1 || o->nargs > 2 || o->request_id != NULL) {
		return usage_error("%s",
		                   "sub takes SERVICE[,SERVICE...] [PREFIX]");
	}
	list = sc_strdup(o->args[0]);
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		st->services =
		    sc_realloc(st->services, (size_t)(st->nservices + 1) *
		                                 sizeof *st->services);
		st->services[st->nservices++] = sc_strdup(tok);
		if (sc_bus_subscribe(st->bus, tok, prefix, event_cb, st) !=
		    SC_OK) {
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (st->nservices == 0) {
		rc = usage_error("%s", "no SERVICE given");
		goto out;
	}
	st->count = o->count;
	st->exit_code = EXIT_SUCCESS; /* a signal ends a sub normally */
	st->poll = event_new(st->base, -1, EV_PERSIST, poll_cb, st);
	tv.tv_sec = 0;
	tv.tv_usec = 10000;
	event_add(st->poll, &tv);
	if (o->timeout_ms > 0) {
		timer = evtimer_new(st->base, timeout_cb, st);
		tv.tv_sec = o->timeout_ms / 1000;
		tv.tv_usec = (o->timeout_ms % 1000) * 1000;
		event_add(timer, &tv);
	}
	event_base_dispatch(st->base);
out:
	if (timer != NULL) {
		event_free(timer);
	}
	if (st->poll != NULL) {
		event_free(st->poll);
	}
	for (int i = 0; i < st->nservices; i++) {
		free(st->services[i]);
	}
	free(st->services);
	free(list);
	return rc;
}

int
main(int argc, char **argv)
{
	struct state st;
	struct opts o;
	struct event *sigint = NULL, *sigterm = NULL;
	int rc;

	memset(&st, 0, sizeof st);
	if (argc < 2) {
		return usage_error("%s", "missing command");
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "call") != 0 && strcmp(argv[1], "sub") != 0) {
		return usage_error("unknown command '%s'", argv[1]);
	}
	if ((rc = parse_opts(argc, argv, &o)) != EXIT_SUCCESS) {
		return rc;
	}
	sc_log_init("scbus");
	signal(SIGPIPE, SIG_IGN);
	if ((st.base = event_base_new()) == NULL) {
		fputs("scbus: cannot create an event loop\n", stderr);
		return EXIT_USAGE;
	}
	if ((st.bus = sc_bus_new(st.base, "scbus")) == NULL) {
		event_base_free(st.base);
		return EXIT_USAGE;
	}
	sigint = evsignal_new(st.base, SIGINT, stop_cb, st.base);
	sigterm = evsignal_new(st.base, SIGTERM, stop_cb, st.base);
	if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0) {
		fputs("scbus: cannot watch signals\n", stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	rc =
	    strcmp(argv[1], "call") == 0 ? cmd_call(&st, &o) : cmd_sub(&st, &o);
out:
	sc_bus_free(st.bus);
	if (sigint != NULL) {
		event_free(sigint);
	}
	if (sigterm != NULL) {
		event_free(sigterm);
	}
	event_base_free(st.base);
	if (rc != EXIT_SUCCESS) {
		return rc;
	}
	return st.exit_code;
}
