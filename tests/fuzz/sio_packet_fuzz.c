/* sio_packet_fuzz.c: Socket.IO 5 packets (common/sio_packet.c) as they
 * arrive in an Engine.IO message, with the binary attachment header and
 * placeholders.
 *
 * Input: byte 0 picks the decode limits (JSON depth, attachments); the
 * rest is the packet. Checks: a packet that decodes re-encodes (as sio.c
 * encodes: sc_sio_packet_encode over json-c's serialisation) to one that
 * decodes to the same type, namespace, ack id, attachment count and JSON;
 * an EVENT's name and arguments survive sc_sio_event_json; a refusal
 * always says why and holds nothing. */
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "sio_packet.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The arguments after the event name, as a new array. */
static json_object *
event_args(json_object *data)
{
	json_object *args = json_object_new_array();

	for (size_t i = 1; i < json_object_array_length(data); i++) {
		json_object_array_add(
		    args, json_object_get(json_object_array_get_idx(data, i)));
	}
	return args;
}

static void
check_event_json(const struct sc_sio_packet *p,
                 const struct sc_sio_decode_opts *o)
{
	json_object *name = json_object_array_get_idx(p->data, 0);
	json_object *args = event_args(p->data);
	struct sc_sio_buf b = {0};
	struct sc_sio_packet q;
	const char *why = NULL;

	sc_sio_event_json(&b, json_object_get_string(name), args);
	/* "2" + the JSON decodes to the same event */
	{
		struct sc_sio_buf pk = {0};

		sc_sio_buf_add(&pk, "2", 1);
		sc_sio_buf_add(&pk, b.p, b.len);
		FUZZ_CHECK(sc_sio_packet_decode(pk.p, pk.len, o, &q, &why) ==
		           SC_OK);
		FUZZ_CHECK(json_object_equal(q.data, p->data));
		sc_sio_packet_release(&q);
		sc_sio_buf_release(&pk);
	}
	json_object_put(args);
	sc_sio_buf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_sio_decode_opts o = {0, 0};
	struct sc_sio_packet p, q;
	struct sc_sio_buf b = {0};
	const char *why = NULL, *json = NULL;
	size_t json_len = 0;
	int rc;

	if (size == 0) {
		return 0;
	}
	/* 0 means the default (32 and 10) */
	o.max_depth = data[0] & 0x0f;
	o.max_attachments = data[0] >> 4;
	data++;
	size--;
	rc = sc_sio_packet_decode((const char *)data, size, &o, &p, &why);
	FUZZ_CHECK(rc == SC_OK || rc == SC_EINVAL);
	if (rc != SC_OK) {
		FUZZ_CHECK(why != NULL && p.data == NULL);
		return 0;
	}
	FUZZ_CHECK(p.type <= SC_SIO_BINARY_ACK);
	FUZZ_CHECK(p.nsp[0] == '/' && strlen(p.nsp) <= SC_SIO_MAX_NSP);
	FUZZ_CHECK(p.id >= -1 && p.id <= SC_SIO_MAX_ID);
	FUZZ_CHECK(p.attachments >= 0 &&
	           p.attachments <=
	               (o.max_attachments > 0 ? o.max_attachments : 10));
	if (p.data != NULL) {
		json = json_object_to_json_string_length(
		    p.data,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &json_len);
	}
	sc_sio_packet_encode(&b, p.type, p.nsp, p.attachments, p.id, json,
	                     json_len);
	FUZZ_CHECK(b.len >= 2 && b.p[0] == '4');
	rc = sc_sio_packet_decode(b.p + 1, b.len - 1, &o, &q, &why);
	FUZZ_CHECK(rc == SC_OK);
	FUZZ_CHECK(q.type == p.type && q.id == p.id &&
	           q.attachments == p.attachments && strcmp(q.nsp, p.nsp) == 0);
	FUZZ_CHECK((p.data == NULL) == (q.data == NULL));
	FUZZ_CHECK(p.data == NULL || json_object_equal(p.data, q.data));
	sc_sio_packet_release(&q);
	if (p.type == SC_SIO_EVENT) {
		check_event_json(&p, &o);
	}
	sc_sio_buf_release(&b);
	sc_sio_packet_release(&p);
	return 0;
}
