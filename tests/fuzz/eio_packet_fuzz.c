/* eio_packet_fuzz.c: Engine.IO 4 packets and long-polling payloads
 * (common/eio_packet.c) as a client sends them: a WebSocket text frame, a
 * polling POST body, a base64 binary.
 *
 * Input: byte 0 picks the decoder and max_packets; the rest is the input.
 * Checks: a payload that decodes re-encodes to exactly the same bytes
 * (decoding is strict: canonical base64, known types), every packet lies
 * within the input or the decoded bytes, and the packet count is within
 * max_packets; canonical base64 round-trips. */
#include <event2/buffer.h>
#include <stdbool.h>
#include <string.h>

#include "eio_packet.h"
#include "error.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
fuzz_packet(const char *s, size_t len)
{
	struct sc_eio_packet p;
	int rc = sc_eio_packet_decode(s, len, &p);

	FUZZ_CHECK(rc == SC_OK || rc == SC_EINVAL);
	if (rc == SC_OK) {
		FUZZ_CHECK(p.type <= SC_EIO_NOOP && !p.binary);
		FUZZ_CHECK((const char *)p.data == s + 1 && p.len == len - 1);
	}
}

static void
fuzz_payload(const char *s, size_t len, size_t max_packets)
{
	struct sc_eio_payload pl;
	struct evbuffer *out;
	int rc = sc_eio_payload_decode(s, len, max_packets, &pl);

	FUZZ_CHECK(rc == SC_OK || rc == SC_EINVAL || rc == SC_ETOOBIG);
	if (rc != SC_OK) {
		FUZZ_CHECK(pl.packets == NULL && pl.bytes == NULL &&
		           pl.count == 0);
		return;
	}
	FUZZ_CHECK(pl.count >= 1 && pl.count <= max_packets);
	out = evbuffer_new();
	FUZZ_CHECK(out != NULL);
	for (size_t i = 0; i < pl.count; i++) {
		const struct sc_eio_packet *p = &pl.packets[i];
		const char *d = (const char *)p->data;

		FUZZ_CHECK(p->type <= SC_EIO_NOOP);
		if (p->binary) {
			FUZZ_CHECK(p->type == SC_EIO_MESSAGE);
			FUZZ_CHECK(p->data >= pl.bytes &&
			           p->data + p->len <= pl.bytes + len);
			FUZZ_CHECK(sc_eio_payload_append(out, i == 0, true,
			                                 p->data,
			                                 p->len) == SC_OK);
		} else {
			/* text: the type digit is just before the data */
			FUZZ_CHECK(d > s && d + p->len <= s + len);
			FUZZ_CHECK(d[-1] == (char)('0' + p->type));
			FUZZ_CHECK(memchr(d, SC_EIO_SEPARATOR, p->len) == NULL);
			FUZZ_CHECK(sc_eio_payload_append(out, i == 0, false,
			                                 d - 1,
			                                 p->len + 1) == SC_OK);
		}
	}
	FUZZ_CHECK(evbuffer_get_length(out) == len);
	FUZZ_CHECK(len == 0 || memcmp(evbuffer_pullup(out, -1), s, len) == 0);
	evbuffer_free(out);
	sc_eio_payload_release(&pl);
	FUZZ_CHECK(pl.packets == NULL && pl.bytes == NULL);
}

static void
fuzz_base64(const char *s, size_t len)
{
	uint8_t *bin = malloc(len / 4 * 3 + 1);
	size_t n = 0;
	int rc;

	FUZZ_CHECK(bin != NULL);
	rc = sc_eio_base64_decode(s, len, bin, &n);
	FUZZ_CHECK(rc == SC_OK || rc == SC_EINVAL);
	if (rc == SC_OK) {
		char *enc = malloc(sc_eio_base64_len(n) + 1);

		FUZZ_CHECK(enc != NULL && n <= len / 4 * 3);
		FUZZ_CHECK(sc_eio_base64_len(n) == len);
		sc_eio_base64_encode(bin, n, enc);
		FUZZ_CHECK(len == 0 || memcmp(enc, s, len) == 0);
		free(enc);
	}
	free(bin);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t len;

	if (size == 0) {
		return 0;
	}
	len = size - 1;
	switch (data[0] % 4) {
	case 0:
		fuzz_packet(s, len);
		break;
	case 1:
		fuzz_base64(s, len);
		break;
	default:
		/* 4096 as the server runs it, or a small cap */
		fuzz_payload(s, len, data[0] % 4 == 2 ? 4096 : 1 + data[0] / 4);
		break;
	}
	return 0;
}
