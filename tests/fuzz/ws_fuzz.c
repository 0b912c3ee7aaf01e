/* ws_fuzz.c: whatever a client sends after the WebSocket handshake, fed
 * to sc_ws (common/ws.c on wslay) through a bufferevent pair, in chunks,
 * with the owner echoing, closing or aborting from inside its callbacks.
 *
 * Input: byte 0 chooses how the run goes (below); the rest are the bytes
 * the client sends. Checks: callbacks never come after the owner gave the
 * connection up, on_end comes at most once, messages are within the size
 * limit and text is UTF-8, and everything the server writes parses as
 * unmasked RFC 6455 frames with valid close codes. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "log.h"
#include "validate.h"
#include "ws.h"

#define MAX_MESSAGE 4096

/* Byte 0. */
enum {
	OPT_CHUNK = 0x07,     /* chunk size 1 << n bytes (7: all at once) */
	OPT_ECHO = 0x08,      /* the owner sends each message back */
	OPT_OWNER_END = 0x10, /* at the end the owner closes (else EOF) */
	OPT_ABORT = 0x20,     /* ... by sc_ws_abort rather than sc_ws_close */
	OPT_STALL = 0x40,     /* the client never reads: a slow consumer */
	OPT_PING = 0x80,      /* the owner sends before any input */
};

struct run {
	struct sc_ws *ws;
	bool echo;
	bool gone; /* the owner called sc_ws_close or sc_ws_abort */
	int ended;
	enum sc_ws_end why;
	int code;
};

static struct event_base *base;

static void
on_message(struct sc_ws *ws, bool binary, const uint8_t *data, size_t len,
           void *arg)
{
	struct run *r = arg;

	FUZZ_CHECK(!r->gone && r->ended == 0 && ws == r->ws);
	FUZZ_CHECK(len <= MAX_MESSAGE);
	if (!binary) {
		FUZZ_CHECK(sc_utf8_length((const char *)data, len) >= 0);
	}
	/* The owner may end the connection from inside the callback. */
	if (!binary && len == 5 && memcmp(data, "close", 5) == 0) {
		r->gone = true;
		sc_ws_close(ws, SC_WS_NORMAL, "bye");
		return;
	}
	if (!binary && len == 5 && memcmp(data, "abort", 5) == 0) {
		r->gone = true;
		sc_ws_abort(ws);
		return;
	}
	if (r->echo) {
		/* within max_message, so never SC_EINVAL */
		FUZZ_CHECK(sc_ws_send(ws, binary, data, len) != SC_EINVAL);
	}
}

static void
on_end(struct sc_ws *ws, enum sc_ws_end why, int code, void *arg)
{
	struct run *r = arg;

	FUZZ_CHECK(!r->gone && r->ended == 0 && ws == r->ws);
	r->ended++;
	r->why = why;
	r->code = code;
}

static const struct sc_ws_cbs cbs = {on_message, on_end};

/* A close code a server may put on the wire (RFC 6455 7.4). */
static bool
wire_close_code(int code)
{
	return (code >= 1000 && code <= 1003) ||
	       (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

/* Everything the server wrote: whole frames, never masked, control frames
 * short and final, close payloads empty or a valid code. A frame cut off
 * at the end is allowed (the connection was dropped). */
static void
check_output(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i + 2 <= n) {
		int fin = p[i] & 0x80, rsv = p[i] & 0x70, op = p[i] & 0x0f;
		uint64_t len = p[i + 1] & 0x7f;
		size_t h = 2;

		FUZZ_CHECK((p[i + 1] & 0x80) == 0);
		FUZZ_CHECK(rsv == 0);
		FUZZ_CHECK(op <= 2 || (op >= 8 && op <= 10));
		if (len == 126) {
			if (i + 4 > n) {
				return;
			}
			len = (uint64_t)p[i + 2] << 8 | p[i + 3];
			h = 4;
		} else if (len == 127) {
			if (i + 10 > n) {
				return;
			}
			len = 0;
			for (int k = 0; k < 8; k++) {
				len = len << 8 | p[i + 2 + k];
			}
			h = 10;
		}
		if (op >= 8) {
			FUZZ_CHECK(fin && len <= 125);
		}
		if (len > n - i - h) {
			return;
		}
		if (op == 8) {
			FUZZ_CHECK(len == 0 || len >= 2);
			if (len >= 2) {
				FUZZ_CHECK(wire_close_code(p[i + h] << 8 |
				                           p[i + h + 1]));
			}
		}
		i += h + (size_t)len;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	sc_log_init("ws_fuzz");
	base = event_base_new();
	return base != NULL ? 0 : 1;
}

static void
loop_turns(int n)
{
	for (int i = 0; i < n; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent *pair[2];
	struct sc_ws_opts opts = {MAX_MESSAGE, 0, NULL, NULL};
	struct run r = {0};
	struct evbuffer *seen;
	uint8_t opt;
	size_t chunk;

	if (size == 0) {
		return 0;
	}
	opt = data[0];
	data++;
	size--;
	chunk = (opt & OPT_CHUNK) == OPT_CHUNK ? size + 1
	                                       : (size_t)1 << (opt & OPT_CHUNK);
	r.echo = (opt & OPT_ECHO) != 0;
	if (opt & OPT_STALL) {
		opts.max_output = 256; /* an echo or two and it is dropped */
	}
	if (bufferevent_pair_new(base, 0, pair) != 0) {
		abort();
	}
	if (!(opt & OPT_STALL)) {
		bufferevent_enable(pair[1], EV_READ);
	}
	r.ws = sc_ws_new(pair[0], &opts, &cbs, &r);
	FUZZ_CHECK(r.ws != NULL);
	if (opt & OPT_PING) {
		sc_ws_send(r.ws, false, "0{\"sid\":\"x\"}", 12);
	}
	for (size_t off = 0; off < size && !r.gone && r.ended == 0;
	     off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		bufferevent_write(pair[1], data + off, n);
		loop_turns(1);
	}
	loop_turns(1);
	if (!r.gone && r.ended == 0) {
		if (opt & OPT_OWNER_END) {
			r.gone = true;
			if (opt & OPT_ABORT) {
				sc_ws_abort(r.ws);
			} else {
				sc_ws_close(r.ws, SC_WS_GOING_AWAY,
				            "server shutting down");
			}
		} else {
			/* the client's TCP connection ends */
			bufferevent_flush(pair[1], EV_WRITE, BEV_FINISHED);
			loop_turns(1);
			FUZZ_CHECK(r.ended == 1 && r.why == SC_WS_END_EOF &&
			           r.code == SC_WS_ABNORMAL);
		}
	}
	if (r.ended) {
		FUZZ_CHECK(r.why != SC_WS_END_PROTOCOL ||
		           r.code == SC_WS_PROTOCOL_ERROR ||
		           r.code == SC_WS_BAD_DATA || r.code == SC_WS_TOO_BIG);
		FUZZ_CHECK(r.why != SC_WS_END_SLOW || (opt & OPT_STALL));
	}
	seen = bufferevent_get_input(pair[1]);
	check_output(evbuffer_pullup(seen, -1), evbuffer_get_length(seen));
	bufferevent_free(pair[1]);
	loop_turns(2);
	return 0;
}
