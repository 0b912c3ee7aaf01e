/* eio_packet.c: Engine.IO 4 packets and long-polling payloads (see
 * eio_packet.h). */
#include "eio_packet.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

int
sc_eio_base64_decode(const char *s, size_t len, uint8_t *out, size_t *outlen)
{
	size_t o = 0;

	if (len % 4 != 0) {
		return SC_EINVAL;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];

			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = b64val(c)) < 0) {
				return SC_EINVAL;
			}
		}
		/* canonical: the bits padding drops must be zero */
		if ((pad == 2 && (v[1] & 0x0f) != 0) ||
		    (pad == 1 && (v[2] & 0x03) != 0)) {
			return SC_EINVAL;
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2) {
			out[o++] = (uint8_t)((v[1] & 0x0f) << 4 | v[2] >> 2);
		}
		if (pad < 1) {
			out[o++] = (uint8_t)((v[2] & 0x03) << 6 | v[3]);
		}
	}
	*outlen = o;
	return SC_OK;
}

size_t
sc_eio_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
sc_eio_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];

		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = '=';
	}
}

int
sc_eio_packet_decode(const char *s, size_t len, struct sc_eio_packet *p)
{
	memset(p, 0, sizeof(*p));
	if (len == 0 || s[0] < '0' || s[0] > '6') {
		return SC_EINVAL;
	}
	p->type = (enum sc_eio_type)(s[0] - '0');
	p->data = (const uint8_t *)s + 1;
	p->len = len - 1;
	return SC_OK;
}

int
sc_eio_payload_decode(const char *body, size_t len, size_t max_packets,
                      struct sc_eio_payload *out)
{
	size_t n = 1, k = 0, used = 0;
	const char *p = body, *end = body + len;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++) {
		if (body[i] == SC_EIO_SEPARATOR && ++n > max_packets) {
			return SC_ETOOBIG;
		}
	}
	if (n > max_packets) {
		return SC_ETOOBIG;
	}
	out->packets = sc_calloc(n, sizeof(*out->packets));
	/* base64 shrinks: len bytes of room always suffice */
	out->bytes = sc_malloc(len > 0 ? len : 1);
	for (;;) {
		const char *sep =
		    memchr(p, SC_EIO_SEPARATOR, (size_t)(end - p));
		const char *e = sep != NULL ? sep : end;
		struct sc_eio_packet *pk = &out->packets[k];

		if (e > p && *p == 'b') {
			size_t dl;

			if (sc_eio_base64_decode(p + 1, (size_t)(e - p - 1),
			                         out->bytes + used,
			                         &dl) != SC_OK) {
				goto err;
			}
			pk->type = SC_EIO_MESSAGE;
			pk->binary = true;
			pk->data = out->bytes + used;
			pk->len = dl;
			used += dl;
		} else if (sc_eio_packet_decode(p, (size_t)(e - p), pk) !=
		           SC_OK) {
			goto err;
		}
		k++;
		if (sep == NULL) {
			break;
		}
		p = sep + 1;
	}
	out->count = k;
	return SC_OK;
err:
	sc_eio_payload_release(out);
	return SC_EINVAL;
}

void
sc_eio_payload_release(struct sc_eio_payload *pl)
{
	free(pl->packets);
	free(pl->bytes);
	memset(pl, 0, sizeof(*pl));
}

int
sc_eio_payload_append(struct evbuffer *out, bool first, bool binary,
                      const void *data, size_t len)
{
	if (!first && evbuffer_add(out, "\x1e", 1) != 0) {
		return SC_ENOMEM;
	}
	if (!binary) {
		return evbuffer_add(out, data, len) == 0 ? SC_OK : SC_ENOMEM;
	}
	{
		size_t blen = sc_eio_base64_len(len);
		struct evbuffer_iovec v;

		if (evbuffer_reserve_space(out, blen + 1, &v, 1) != 1) {
			return SC_ENOMEM;
		}
		((char *)v.iov_base)[0] = 'b';
		sc_eio_base64_encode(data, len, (char *)v.iov_base + 1);
		v.iov_len = blen + 1;
		return evbuffer_commit_space(out, &v, 1) == 0 ? SC_OK
		                                              : SC_ENOMEM;
	}
}
