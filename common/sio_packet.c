/* sio_packet.c: Socket.IO 5 packets (see sio_packet.h). */
#include "sio_packet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

#define DEFAULT_DEPTH       32
#define DEFAULT_ATTACHMENTS 10

static const char *const reserved[] = {
    "connect",       "connect_error", "disconnect",
    "disconnecting", "newListener",   "removeListener",
};

int
sc_sio_reserved_event(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcmp(name, reserved[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Every {"_placeholder":true,"num":N} in v must have 0 <= N < n; an object
 * with "_placeholder" that is not of that shape is refused too. */
static int
placeholders_ok(json_object *v, int n)
{
	if (json_object_is_type(v, json_type_array)) {
		size_t len = json_object_array_length(v);

		for (size_t i = 0; i < len; i++) {
			if (!placeholders_ok(json_object_array_get_idx(v, i),
			                     n)) {
				return 0;
			}
		}
		return 1;
	}
	if (json_object_is_type(v, json_type_object)) {
		json_object *ph, *num;

		if (json_object_object_get_ex(v, "_placeholder", &ph)) {
			int64_t k;

			if (!json_object_is_type(ph, json_type_boolean) ||
			    !json_object_get_boolean(ph) ||
			    !json_object_object_get_ex(v, "num", &num) ||
			    !json_object_is_type(num, json_type_int)) {
				return 0;
			}
			k = json_object_get_int64(num);
			return k >= 0 && k < n;
		}
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!placeholders_ok(val, n)) {
				return 0;
			}
		}
	}
	return 1;
}

/* Every number in v is finite. json-c's strict mode still reads NaN,
 * Infinity and -Infinity (and 1e400 as infinity), which are not JSON: a
 * payload relayed to another client with one in it would fail its
 * JSON.parse and cost it the connection. Found by tests/fuzz/
 * sio_packet_fuzz. Recursion is bounded by the tokener's depth. */
static int
numbers_finite(json_object *v)
{
	if (json_object_is_type(v, json_type_double)) {
		return isfinite(json_object_get_double(v));
	}
	if (json_object_is_type(v, json_type_array)) {
		size_t len = json_object_array_length(v);

		for (size_t i = 0; i < len; i++) {
			if (!numbers_finite(json_object_array_get_idx(v, i))) {
				return 0;
			}
		}
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!numbers_finite(val)) {
				return 0;
			}
		}
	}
	return 1;
}

static int
payload_ok(const struct sc_sio_packet *p, const char **why)
{
	json_object *d = p->data;

	switch (p->type) {
	case SC_SIO_CONNECT:
		if (d != NULL && !json_object_is_type(d, json_type_object)) {
			*why = "connect payload is not an object";
			return 0;
		}
		return 1;
	case SC_SIO_DISCONNECT:
		if (d != NULL) {
			*why = "disconnect with a payload";
			return 0;
		}
		return 1;
	case SC_SIO_CONNECT_ERROR:
		if (d != NULL && !json_object_is_type(d, json_type_object) &&
		    !json_object_is_type(d, json_type_string)) {
			*why = "connect_error payload not an object or string";
			return 0;
		}
		return 1;
	case SC_SIO_EVENT:
	case SC_SIO_BINARY_EVENT: {
		json_object *name;
		const char *s;

		if (d == NULL || !json_object_is_type(d, json_type_array) ||
		    json_object_array_length(d) == 0) {
			*why = "event payload is not a non-empty array";
			return 0;
		}
		name = json_object_array_get_idx(d, 0);
		if (!json_object_is_type(name, json_type_string)) {
			*why = "event name is not a string";
			return 0;
		}
		s = json_object_get_string(name);
		if (strlen(s) != (size_t)json_object_get_string_len(name) ||
		    sc_sio_reserved_event(s)) {
			*why = "event name is reserved or holds a NUL";
			return 0;
		}
		break;
	}
	case SC_SIO_ACK:
	case SC_SIO_BINARY_ACK:
		if (d == NULL || !json_object_is_type(d, json_type_array)) {
			*why = "ack payload is not an array";
			return 0;
		}
		break;
	}
	if (!placeholders_ok(d, p->attachments)) {
		*why = "bad attachment placeholder";
		return 0;
	}
	return 1;
}

int
sc_sio_packet_decode(const char *s, size_t len,
                     const struct sc_sio_decode_opts *opts,
                     struct sc_sio_packet *p, const char **why)
{
	int depth = opts != NULL && opts->max_depth > 0 ? opts->max_depth
	                                                : DEFAULT_DEPTH;
	int max_att = opts != NULL && opts->max_attachments > 0
	                  ? opts->max_attachments
	                  : DEFAULT_ATTACHMENTS;
	size_t i = 1;

	memset(p, 0, sizeof(*p));
	p->id = -1;
	p->nsp[0] = '/';
	if (len == 0 || s[0] < '0' || s[0] > '6') {
		*why = "unknown packet type";
		return SC_EINVAL;
	}
	p->type = (enum sc_sio_type)(s[0] - '0');
	if (p->type == SC_SIO_BINARY_EVENT || p->type == SC_SIO_BINARY_ACK) {
		int n = 0;
		size_t start = i;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			n = n * 10 + (s[i] - '0');
			if (n > max_att) {
				*why = "too many attachments";
				return SC_EINVAL;
			}
			i++;
		}
		if (i == start || i >= len || s[i] != '-') {
			*why = "bad attachment count";
			return SC_EINVAL;
		}
		p->attachments = n;
		i++;
	}
	if (i < len && s[i] == '/') {
		size_t start = i;

		while (i < len && s[i] != ',') {
			if ((unsigned char)s[i] < 0x20) {
				*why = "bad namespace";
				return SC_EINVAL;
			}
			i++;
		}
		if (i - start > SC_SIO_MAX_NSP) {
			*why = "namespace too long";
			return SC_EINVAL;
		}
		memcpy(p->nsp, s + start, i - start);
		p->nsp[i - start] = '\0';
		if (i < len) {
			i++; /* the comma */
		}
	}
	if (i < len && s[i] >= '0' && s[i] <= '9') {
		int64_t id = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			id = id * 10 + (s[i] - '0');
			if (id > SC_SIO_MAX_ID) {
				*why = "ack id too large";
				return SC_EINVAL;
			}
			i++;
		}
		p->id = id;
	}
	if (i < len) {
		json_tokener *tok = json_tokener_new_ex(depth);
		enum json_tokener_error jerr;

		if (tok == NULL) {
			sc_oom();
		}
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		p->data = json_tokener_parse_ex(tok, s + i, (int)(len - i));
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success || p->data == NULL ||
		    json_tokener_get_parse_end(tok) != len - i) {
			json_tokener_free(tok);
			json_object_put(p->data);
			p->data = NULL;
			*why = jerr == json_tokener_error_depth
			           ? "JSON nested too deep"
			           : "payload is not one JSON value";
			return SC_EINVAL;
		}
		json_tokener_free(tok);
		if (!numbers_finite(p->data)) {
			sc_sio_packet_release(p);
			*why = "payload holds NaN or Infinity";
			return SC_EINVAL;
		}
	}
	if (!payload_ok(p, why)) {
		sc_sio_packet_release(p);
		return SC_EINVAL;
	}
	return SC_OK;
}

void
sc_sio_packet_release(struct sc_sio_packet *p)
{
	json_object_put(p->data);
	p->data = NULL;
}

static void
buf_reserve(struct sc_sio_buf *b, size_t more)
{
	if (b->len + more + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 256;

		while (cap < b->len + more + 1) {
			cap *= 2;
		}
		b->p = sc_realloc(b->p, cap);
		b->cap = cap;
	}
}

void
sc_sio_buf_add(struct sc_sio_buf *b, const char *s, size_t len)
{
	buf_reserve(b, len);
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
sc_sio_buf_release(struct sc_sio_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
sc_sio_packet_encode(struct sc_sio_buf *b, enum sc_sio_type type,
                     const char *nsp, int attachments, int64_t id,
                     const char *json, size_t json_len)
{
	char head[64];
	int n;

	b->len = 0;
	n = snprintf(head, sizeof(head), "4%d", (int)type);
	if (type == SC_SIO_BINARY_EVENT || type == SC_SIO_BINARY_ACK) {
		n += snprintf(head + n, sizeof(head) - (size_t)n, "%d-",
		              attachments);
	}
	sc_sio_buf_add(b, head, (size_t)n);
	if (nsp != NULL && strcmp(nsp, "/") != 0) {
		sc_sio_buf_add(b, nsp, strlen(nsp));
		sc_sio_buf_add(b, ",", 1);
	}
	if (id >= 0) {
		n = snprintf(head, sizeof(head), "%lld", (long long)id);
		sc_sio_buf_add(b, head, (size_t)n);
	}
	if (json_len > 0) {
		sc_sio_buf_add(b, json, json_len);
	}
}

void
sc_sio_json_string(struct sc_sio_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	buf_reserve(b, len + 2);
	b->p[b->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			sc_sio_buf_add(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u',         '0',
			             '0',  hex[c >> 4], hex[c & 15]};

			sc_sio_buf_add(b, e, 6);
		} else {
			buf_reserve(b, 1);
			b->p[b->len++] = (char)c;
		}
	}
	sc_sio_buf_add(b, "\"", 1);
}

void
sc_sio_event_json(struct sc_sio_buf *b, const char *name, json_object *args)
{
	size_t alen = 0;
	const char *a = NULL;

	sc_sio_buf_add(b, "[", 1);
	sc_sio_json_string(b, name, strlen(name));
	if (args != NULL) {
		a = json_object_to_json_string_length(
		    args,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &alen);
	}
	/* a is "[...]": splice its elements after the name */
	if (a != NULL && alen > 2 && a[0] == '[') {
		sc_sio_buf_add(b, ",", 1);
		sc_sio_buf_add(b, a + 1, alen - 1);
	} else {
		sc_sio_buf_add(b, "]", 1);
	}
}
