/* bus_fuzz.c: bus messages (common/bus.c) decoded where they arrive,
 * through the public API over nng's inproc transport: a request that a
 * daemon's REP socket receives, a reply that a caller receives, an event
 * that a subscriber receives. The envelope parsers are static in bus.c, so
 * raw nng sockets in this process stand in for the other daemons.
 *
 * Input: byte 0 picks the path (request, reply, event); the rest is the
 * message body. Checks: every request is answered exactly once with a
 * well-formed envelope ({"v":1,"ok":...}); an echoed request's data comes
 * back unchanged; a caller's callback runs exactly once with an error the
 * bus may give, and data only on success; events reach the subscriber only
 * with a matching topic and an object as data, and in order. */
#include <event2/event.h>
#include <json-c/json.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdbool.h>
#include <string.h>

#include "bus.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_loop.h"
#include "log.h"
#include "loopq.h"

#define REP_URL  "inproc://fuzz-bus-rep"
#define PEER_REQ "inproc://fuzz-bus-peer-req"
#define PEER_PUB "inproc://fuzz-bus-peer-pub"
#define SENTINEL "fuzz.sentinel"

static struct event_base *base;
static struct sc_bus *bus;
static nng_socket client; /* REQ: a daemon calling ours */
static nng_socket peer;   /* REP: the daemon ours calls ("fuzzpeer") */
static nng_socket pub;    /* PUB: the daemon ours subscribes to */
/* The client's replies arrive on an aio (a REQ socket's receive that times
 * out abandons the request, so no polling) and are handed to the loop
 * through a loopq of our own, which wakes it at once. */
static nng_aio *client_aio;
static struct sc_loopq *client_q;
static bool client_done;

struct call_state {
	int calls;
	int err;
	bool had_data;
};

struct sub_state {
	int events;
	bool sentinel;
	char sentinel_id[32]; /* the requestId only the sentinel carries */
};

static struct sub_state subs;

/* ---- our daemon's side ------------------------------------------------ */

static void
echo_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	(void)arg;
	FUZZ_CHECK(json_object_is_type(data, json_type_object));
	FUZZ_CHECK(sc_bus_req_id(req) != NULL && sc_bus_req_id(req)[0]);
	sc_bus_reply(req, json_object_get(data));
}

static void
error_cb(struct sc_bus_req *req, json_object *data, void *arg)
{
	(void)arg;
	sc_bus_reply_error(req, SC_ECONFLICT, "fuzz_conflict", "conflict",
	                   json_object_get(data));
}

static void
reply_cb(int err, json_object *data, const char *message, void *arg)
{
	struct call_state *st = arg;

	st->calls++;
	st->err = err;
	st->had_data = data != NULL;
	if (err == SC_OK) {
		FUZZ_CHECK(json_object_is_type(data, json_type_object));
		FUZZ_CHECK(sc_bus_reply_error_object(bus) == NULL);
	} else {
		FUZZ_CHECK(data == NULL && message != NULL);
	}
}

static void
event_cb(const char *topic, json_object *data, const char *request_id,
         void *arg)
{
	(void)arg;
	FUZZ_CHECK(topic != NULL && topic[0] != '\0' &&
	           strchr(topic, ' ') == NULL);
	FUZZ_CHECK(json_object_is_type(data, json_type_object));
	FUZZ_CHECK(!subs.sentinel); /* in order: nothing after it */
	if (request_id != NULL && strcmp(request_id, subs.sentinel_id) == 0) {
		FUZZ_CHECK(strcmp(topic, SENTINEL) == 0);
		subs.sentinel = true;
	}
	subs.events++;
}

/* ---- helpers ------------------------------------------------------------ */

static void
client_done_cb(void *arg)
{
	(void)arg;
	client_done = true;
}

/* On an nng thread. */
static void
client_aio_cb(void *arg)
{
	(void)arg;
	sc_loopq_post(client_q, client_done_cb, NULL);
}

static void
check_nng(int rv)
{
	if (rv != 0) {
		fprintf(stderr, "nng: %s\n", nng_strerror(rv));
		abort();
	}
}

static json_object *
parse(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, s, (int)len);

	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* One turn of the loop (fuzz_loop.h). */
static void
turn(int ms)
{
	fuzz_turn(base, ms);
}

/* Run the loop until *done, or a few seconds pass (a hang). */
static void
turn_until(const bool *done)
{
	for (int i = 0; i < 500 && !*done; i++) {
		turn(10);
	}
	FUZZ_CHECK(*done);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct call_state st = {0};
	bool connected = false;
	nng_msg *m;

	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	setenv("SC_BUS_FUZZPEER_REQ", PEER_REQ, 1);
	setenv("SC_BUS_FUZZPEER_PUB", PEER_PUB, 1);
	sc_log_init("bus_fuzz");
	base = event_base_new();
	bus = sc_bus_new(base, "fuzz");
	FUZZ_CHECK(base != NULL && bus != NULL);
	sc_bus_handle(bus, "fuzz.echo", echo_cb, NULL);
	sc_bus_handle(bus, "fuzz.error", error_cb, NULL);
	FUZZ_CHECK(sc_bus_listen(bus, REP_URL, NULL) == SC_OK);

	check_nng(nng_req0_open(&client));
	check_nng(nng_dial(client, REP_URL, NULL, 0));
	check_nng(nng_aio_alloc(&client_aio, client_aio_cb, NULL));
	nng_aio_set_timeout(client_aio, 5000);
	client_q = sc_loopq_new(base);
	FUZZ_CHECK(client_q != NULL);

	check_nng(nng_rep0_open(&peer));
	check_nng(nng_socket_set_ms(peer, NNG_OPT_RECVTIMEO, 5000));
	check_nng(nng_listen(peer, PEER_REQ, NULL, 0));
	check_nng(nng_pub0_open(&pub));
	check_nng(nng_listen(pub, PEER_PUB, NULL, 0));
	FUZZ_CHECK(sc_bus_subscribe(bus, "fuzzpeer", "", event_cb, NULL) ==
	           SC_OK);

	/* One call answered, so the REQ side is connected. */
	sc_bus_call(bus, "fuzzpeer.warm.up", NULL, NULL, 3000, reply_cb, &st);
	check_nng(nng_recvmsg(peer, &m, 0));
	nng_msg_free(m);
	{
		char ok[] = "{\"v\":1,\"ok\":true}";

		check_nng(nng_send(peer, ok, sizeof ok - 1, 0));
	}
	for (int i = 0; i < 500 && st.calls == 0; i++) {
		turn(10);
	}
	FUZZ_CHECK(st.err == SC_OK);
	for (int i = 0; i < 300 && !connected; i++) {
		connected = sc_bus_connected(bus, "fuzzpeer", "PUB");
		nng_msleep(10);
	}
	FUZZ_CHECK(connected);
	return 0;
}

/* ---- the three paths ---------------------------------------------------- */

static void
fuzz_request(const char *s, size_t len)
{
	json_object *req = parse(s, len), *reply, *v, *ok, *data, *want;
	nng_msg *msg;

	check_nng(nng_send(client, (void *)s, len, 0));
	/* The request reaches the loop through the bus's loopq; every path
	 * replies there, at once; the reply comes back through ours. */
	client_done = false;
	nng_recv_aio(client, client_aio);
	turn_until(&client_done);
	check_nng(nng_aio_result(client_aio));
	msg = nng_aio_get_msg(client_aio);
	reply = parse(nng_msg_body(msg), nng_msg_len(msg));
	FUZZ_CHECK(reply != NULL &&
	           json_object_is_type(reply, json_type_object));
	FUZZ_CHECK(json_object_object_get_ex(reply, "v", &v) &&
	           json_object_get_int(v) == SC_BUS_VERSION);
	FUZZ_CHECK(json_object_object_get_ex(reply, "ok", &ok) &&
	           json_object_is_type(ok, json_type_boolean));
	if (json_object_get_boolean(ok)) {
		json_object *m;

		/* only the echo handler says ok: its data comes back */
		FUZZ_CHECK(json_object_object_get_ex(reply, "data", &data));
		if (req != NULL &&
		    json_object_object_get_ex(req, "method", &m) &&
		    strcmp(json_object_get_string(m), "fuzz.echo") == 0 &&
		    json_object_object_get_ex(req, "data", &want) &&
		    json_object_is_type(want, json_type_object)) {
			FUZZ_CHECK(json_object_equal(want, data));
		}
	} else {
		json_object *e, *code;

		FUZZ_CHECK(json_object_object_get_ex(reply, "error", &e) &&
		           json_object_object_get_ex(e, "code", &code) &&
		           json_object_is_type(code, json_type_string));
	}
	json_object_put(reply);
	json_object_put(req);
	nng_msg_free(msg);
}

static void
fuzz_reply(const char *s, size_t len)
{
	struct call_state st = {0};
	bool done = false;
	nng_msg *m;

	sc_bus_call(bus, "fuzzpeer.fuzz.call", json_tokener_parse("{\"x\":1}"),
	            "fuzz", 5000, reply_cb, &st);
	check_nng(nng_recvmsg(peer, &m, 0));
	nng_msg_free(m);
	check_nng(nng_send(peer, (void *)s, len, 0));
	for (int i = 0; i < 500 && !done; i++) {
		turn(10);
		done = st.calls > 0;
	}
	FUZZ_CHECK(st.calls == 1);
	/* a malformed reply, or the peer's error (any code) */
	FUZZ_CHECK(st.err >= SC_OK && st.err < SC_ERR_COUNT &&
	           st.err != SC_ETIMEDOUT && st.err != SC_EUNAVAIL);
}

static void
fuzz_event(const char *s, size_t len)
{
	static unsigned long count;
	char sentinel[128];
	int n;

	subs.events = 0;
	subs.sentinel = false;
	snprintf(subs.sentinel_id, sizeof subs.sentinel_id, "sentinel-%lu",
	         ++count);
	n = snprintf(sentinel, sizeof sentinel,
	             SENTINEL " {\"v\":1,\"topic\":\"" SENTINEL
	                      "\",\"requestId\":\"%s\",\"data\":{}}",
	             subs.sentinel_id);
	check_nng(nng_send(pub, (void *)s, len, 0));
	check_nng(nng_send(pub, sentinel, (size_t)n, 0));
	turn_until(&subs.sentinel);
	FUZZ_CHECK(subs.events <= 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size == 0) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		fuzz_request(s, size - 1);
		break;
	case 1:
		fuzz_reply(s, size - 1);
		break;
	default:
		fuzz_event(s, size - 1);
		break;
	}
	return 0;
}
