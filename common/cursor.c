/* cursor.c: opaque keyset cursors as base64url. */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define CURSOR_KEY_MAX 256

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
sc_cursor_encode(const char *key)
{
	size_t n = strlen(key), o = 0;
	char *out = sc_malloc((n + 2) / 3 * 4 + 1);

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)key[i] << 16;
		size_t left = n - i;
		if (left > 1) {
			v |= (unsigned char)key[i + 1] << 8;
		}
		if (left > 2) {
			v |= (unsigned char)key[i + 2];
		}
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (left > 1) {
			out[o++] = b64url[(v >> 6) & 63];
		}
		if (left > 2) {
			out[o++] = b64url[v & 63];
		}
	}
	out[o] = '\0';
	return out;
}

static int
b64url_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p != NULL ? (int)(p - b64url) : -1;
}

char *
sc_cursor_decode(const char *cursor)
{
	size_t n = strlen(cursor), o = 0;
	char *out;

	/* 4 chars -> 3 bytes; a lone trailing char carries no whole byte. */
	if (n == 0 || n % 4 == 1 || n > (CURSOR_KEY_MAX / 3 + 1) * 4) {
		return NULL;
	}
	out = sc_malloc(n / 4 * 3 + 3);
	for (size_t i = 0; i < n; i += 4) {
		int v[4] = {0, 0, 0, 0};
		size_t k, have = n - i < 4 ? n - i : 4;
		for (k = 0; k < have; k++) {
			if ((v[k] = b64url_value(cursor[i + k])) < 0) {
				goto bad;
			}
		}
		unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
		                (unsigned)v[2] << 6 | (unsigned)v[3];
		out[o++] = (char)(bits >> 16);
		if (have > 2) {
			out[o++] = (char)(bits >> 8);
		}
		if (have > 3) {
			out[o++] = (char)bits;
		}
		/* Non-canonical trailing bits would give two spellings of one
		 * cursor. */
		if ((have == 2 && (v[1] & 15)) || (have == 3 && (v[2] & 3))) {
			goto bad;
		}
	}
	out[o] = '\0';
	if (o > CURSOR_KEY_MAX) {
		goto bad;
	}
	for (size_t i = 0; i < o; i++) {
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
			goto bad;
		}
	}
	return out;
bad:
	free(out);
	return NULL;
}

int
sc_cursor_split(char *key, char **parts, int max)
{
	int n = 0;
	char *p = key;

	for (;;) {
		if (n == max) {
			return -1;
		}
		parts[n++] = p;
		char *bar = strchr(p, '|');
		if (bar == NULL) {
			return n;
		}
		*bar = '\0';
		p = bar + 1;
	}
}
