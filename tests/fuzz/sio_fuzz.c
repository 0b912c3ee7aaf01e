/* sio_fuzz.c: a Socket.IO client's messages to the server stack as the
 * signaling daemon runs it: the listener's WebSocket upgrade (common/
 * eio_listener.c), frames (ws.c), Engine.IO sessions (eio.c), Socket.IO
 * namespaces, events, acks both ways, binary attachments and rooms
 * (sio.c). The sio_packet harness fuzzes one packet's syntax; this one the
 * state machine around it: packets in any order, attachments that never
 * come, acks for nothing, connects twice, namespaces not joined.
 *
 * Input: a list of messages, each a header byte (0x80: binary, else text;
 * the low 7 bits its length, 0x7f: the length in the next two bytes) and
 * its bytes; the harness connects over TCP, upgrades to a WebSocket and
 * sends each as one masked frame. The handlers accept (or refuse when the
 * auth says "refuse"), join and leave rooms, broadcast, echo through acks,
 * ask the client for acks and disconnect, as the event names say.
 * Checks: every accepted socket gets exactly one on_disconnect, never a
 * callback after it; binary events carry as many attachments as their
 * placeholders; when the client goes, every session ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eio_listener.h"
#include "error.h"
#include "fuzz.h"
#include "log.h"
#include "sio.h"
#include "sio_packet.h"

static struct event_base *base;
static struct sc_eio_listener *listener;
static struct sc_sio_server *io;
static struct sc_sio_nsp *nsp_main, *nsp_admin;
static struct sockaddr_in addr;

/* Per input: sockets accepted and sockets gone. */
static int accepted, disconnected;

/* The owner's data of an accepted socket: a marker checked on each call. */
#define LIVE 0x51ed
struct owner {
	int magic;
};

static void
on_connect(struct sc_sio_socket *s, json_object *auth, void *arg)
{
	json_object *v;
	struct owner *o;

	(void)arg;
	FUZZ_CHECK(json_object_is_type(auth, json_type_object));
	if (json_object_object_get_ex(auth, "refuse", &v)) {
		FUZZ_CHECK(sc_sio_refuse(s, "refused", v) == SC_OK);
		return;
	}
	o = malloc(sizeof *o);
	FUZZ_CHECK(o != NULL);
	o->magic = LIVE;
	FUZZ_CHECK(sc_sio_accept(s, o) == SC_OK);
	FUZZ_CHECK(sc_sio_accept(s, o) == SC_EAGAIN); /* answered already */
	accepted++;
	sc_sio_join(s, "all");
}

static struct owner *
owner_of(struct sc_sio_socket *s)
{
	struct owner *o = sc_sio_socket_data(s);

	FUZZ_CHECK(o != NULL && o->magic == LIVE);
	return o;
}

static void
ack_cb(struct sc_sio_socket *s, json_object *args, void *arg)
{
	(void)s;
	(void)arg;
	FUZZ_CHECK(args == NULL || json_object_is_type(args, json_type_array));
}

static const char *
first_string(json_object *args)
{
	json_object *a = json_object_array_get_idx(args, 0);

	return json_object_is_type(a, json_type_string)
	           ? json_object_get_string(a)
	           : "";
}

static void
on_event(struct sc_sio_socket *s, const char *name, json_object *args,
         struct sc_sio_ack *ack, void *arg)
{
	(void)arg;
	owner_of(s);
	FUZZ_CHECK(json_object_is_type(args, json_type_array));
	FUZZ_CHECK(!sc_sio_reserved_event(name));
	if (strcmp(name, "join") == 0) {
		sc_sio_join(s, first_string(args));
	} else if (strcmp(name, "leave") == 0) {
		sc_sio_leave(s, first_string(args));
	} else if (strcmp(name, "room") == 0) {
		sc_sio_to_room(sc_sio_socket_nsp(s), first_string(args), s,
		               "room", args);
	} else if (strcmp(name, "all") == 0) {
		sc_sio_broadcast(sc_sio_socket_nsp(s), NULL, "all", args);
	} else if (strcmp(name, "ask") == 0) {
		sc_sio_emit_with_ack(s, "ask", args, ack_cb, NULL);
	} else if (strcmp(name, "bye") == 0) {
		if (ack != NULL) {
			sc_sio_ack_free(ack);
			ack = NULL;
		}
		sc_sio_disconnect(s, json_object_array_length(args) > 0);
		return;
	}
	if (ack != NULL) {
		sc_sio_ack_send(ack, args);
	} else {
		sc_sio_emit(s, "echo", args);
	}
}

/* Placeholders in v, each {"_placeholder":true,"num":N}. */
static size_t
count_placeholders(json_object *v, size_t nbins)
{
	size_t n = 0;

	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			n += count_placeholders(json_object_array_get_idx(v, i),
			                        nbins);
		}
	} else if (json_object_is_type(v, json_type_object)) {
		json_object *num;

		if (json_object_object_get_ex(v, "_placeholder", NULL) &&
		    json_object_object_get_ex(v, "num", &num)) {
			FUZZ_CHECK(json_object_get_int64(num) >= 0 &&
			           (size_t)json_object_get_int64(num) < nbins);
			return 1;
		}
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			n += count_placeholders(val, nbins);
		}
	}
	return n;
}

static void
on_binary_event(struct sc_sio_socket *s, const char *name, json_object *args,
                const struct sc_sio_bin *bins, size_t nbins,
                struct sc_sio_ack *ack, void *arg)
{
	(void)arg;
	(void)name;
	owner_of(s);
	FUZZ_CHECK(nbins <= 10);
	count_placeholders(args, nbins);
	for (size_t i = 0; i < nbins; i++) {
		FUZZ_CHECK(bins[i].data != NULL || bins[i].len == 0);
	}
	if (ack != NULL) {
		sc_sio_ack_send_binary(ack, args, bins, nbins);
	} else {
		sc_sio_emit_binary(s, "echo", args, bins, nbins);
	}
}

static void
on_disconnect(struct sc_sio_socket *s, const char *reason, void *arg)
{
	struct owner *o = owner_of(s);

	(void)arg;
	FUZZ_CHECK(reason != NULL && reason[0] != '\0');
	o->magic = 0; /* no callback may come after this one */
	free(o);
	sc_sio_socket_set_data(s, NULL);
	disconnected++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct sc_sio_nsp_cbs cbs = {
	    on_connect, on_event, on_binary_event, on_disconnect};
	struct sc_eio_listener_opts lo = {0};
	struct sc_sio_opts so = {0};

	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	sc_log_init("sio_fuzz");
	base = event_base_new();
	lo.linger_ms = 20;
	listener = sc_eio_listener_new(base, &lo);
	FUZZ_CHECK(listener != NULL);
	FUZZ_CHECK(sc_eio_listener_bind(listener, "127.0.0.1", 0) == SC_OK);
	so.eio.max_payload = 100000;
	io = sc_sio_server_new(listener, &so);
	FUZZ_CHECK(io != NULL);
	nsp_main = sc_sio_nsp_new(io, "/", &cbs, NULL);
	nsp_admin = sc_sio_nsp_new(io, "/admin", &cbs, NULL);
	FUZZ_CHECK(nsp_main != NULL && nsp_admin != NULL);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)sc_eio_listener_port(listener));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

/* One masked client frame into out (room for len + 8), its size. */
static size_t
frame(uint8_t *out, bool binary, const uint8_t *p, size_t len)
{
	static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
	size_t n = 0;

	out[n++] = (uint8_t)(0x80 | (binary ? 2 : 1));
	if (len < 126) {
		out[n++] = (uint8_t)(0x80 | len);
	} else {
		out[n++] = 0x80 | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	}
	memcpy(out + n, key, 4);
	n += 4;
	for (size_t i = 0; i < len; i++) {
		out[n++] = p[i] ^ key[i % 4];
	}
	return n;
}

/* Run the loop and read (and drop) what the server sends until it has
 * been quiet for a few turns. */
static void
pump(int fd)
{
	static uint8_t sink[1 << 16];

	for (int idle = 0; idle < 6;) {
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		r = read(fd, sink, sizeof sink);
		idle = r > 0 ? 0 : idle + 1;
	}
}

static void
send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == ENOTCONN) {
			pump(fd);
		} else {
			return; /* the server closed */
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char upgrade[] =
	    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
	    "Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n";
	static uint8_t buf[70000];
	struct linger lg = {1, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	size_t i = 0;

	accepted = disconnected = 0;
	FUZZ_CHECK(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		FUZZ_CHECK(errno == EINPROGRESS);
	}
	send_all(fd, (const uint8_t *)upgrade, sizeof upgrade - 1);
	pump(fd);
	while (i < size) {
		bool binary = (data[i] & 0x80) != 0;
		size_t len = data[i] & 0x7f;

		i++;
		if (len == 0x7f) {
			len = i + 2 <= size ? (size_t)data[i] << 8 | data[i + 1]
			                    : 0;
			i += 2;
		}
		if (i > size) {
			break;
		}
		if (len > size - i) {
			len = size - i;
		}
		send_all(fd, buf, frame(buf, binary, data + i, len));
		i += len;
		pump(fd);
	}
	close(fd);
	for (int k = 0; k < 200 && sc_sio_server_count(io) > 0; k++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	FUZZ_CHECK(sc_sio_server_count(io) == 0);
	/* on_disconnect comes from the loop, after the session ended */
	for (int k = 0; k < 20 && disconnected < accepted; k++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	FUZZ_CHECK(disconnected == accepted);
	if (getenv("FUZZ_SIO_DEBUG") != NULL) {
		fprintf(stderr, "accepted %d, disconnected %d\n", accepted,
		        disconnected);
	}
	return 0;
}
