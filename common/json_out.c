/* json_out.c: JSON text written straight into a growable buffer, byte for
 * byte as json-c prints it (see json_out.h). */
#include "json_out.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* What the buffer starts at: a page of 50 events (about 14 KiB) fits
 * without a regrow. */
#define JSON_OUT_START 16384

/* Room for n more bytes and the NUL. */
static void
reserve(struct sc_json_out *o, size_t n)
{
	size_t need = o->len + n + 1;

	if (need <= o->cap) {
		return;
	}
	size_t cap = o->cap != 0 ? o->cap : JSON_OUT_START;
	while (cap < need) {
		cap *= 2;
	}
	o->buf = sc_realloc(o->buf, cap);
	o->cap = cap;
}

static void
put(struct sc_json_out *o, const char *s, size_t n)
{
	reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static inline void
put_char(struct sc_json_out *o, char c)
{
	reserve(o, 1);
	o->buf[o->len++] = c;
	o->buf[o->len] = '\0';
}

/* The ',' between siblings. */
static void
sep(struct sc_json_out *o)
{
	if (o->comma) {
		put_char(o, ',');
	}
}

/* The escape of byte c, or 0 when it goes out as is. */
static char
short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return 0;
	}
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether any of the 8 bytes in x needs an escape: below 0x20, '"' or
 * '\\'. (A byte is zero in v iff (v - 1) borrows into its top bit while v's
 * own top bit is clear; the test is exact for "any byte", not for which.) */
static bool
word_needs_escape(uint64_t x)
{
	uint64_t quote = x ^ (ONES * '"'), bslash = x ^ (ONES * '\\');
	uint64_t low = (x - ONES * 0x20) & ~x;
	uint64_t q = (quote - ONES) & ~quote;
	uint64_t b = (bslash - ONES) & ~bslash;
	return ((low | q | b) & HIGHS) != 0;
}

/* s quoted and escaped. Runs of plain bytes are copied at once, found 8
 * bytes at a time. */
static void
put_quoted(struct sc_json_out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	/* Worst case: every byte as \u00xx, plus the quotes. */
	reserve(o, 6 * n + 2);
	char *w = o->buf + o->len;
	*w++ = '"';
	while (i < n) {
		uint64_t x;
		if (n - i >= 8) {
			memcpy(&x, p + i, 8);
			if (!word_needs_escape(x)) {
				i += 8;
				continue;
			}
		}
		unsigned char c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		memcpy(w, p + run, i - run);
		w += i - run;
		char e = short_escape(c);
		*w++ = '\\';
		if (e != 0) {
			*w++ = e;
		} else {
			*w++ = 'u';
			*w++ = '0';
			*w++ = '0';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 0xf];
		}
		run = ++i;
	}
	memcpy(w, p + run, n - run);
	w += n - run;
	*w++ = '"';
	*w = '\0';
	o->len = (size_t)(w - o->buf);
}

void
sc_json_out_init(struct sc_json_out *o)
{
	memset(o, 0, sizeof *o);
}

void
sc_json_out_release(struct sc_json_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof *o);
}

void
sc_json_out_begin_object(struct sc_json_out *o)
{
	sep(o);
	put_char(o, '{');
	o->comma = false;
}

void
sc_json_out_end_object(struct sc_json_out *o)
{
	put_char(o, '}');
	o->comma = true;
}

void
sc_json_out_begin_array(struct sc_json_out *o)
{
	sep(o);
	put_char(o, '[');
	o->comma = false;
}

void
sc_json_out_end_array(struct sc_json_out *o)
{
	put_char(o, ']');
	o->comma = true;
}

void
sc_json_out_key(struct sc_json_out *o, const char *key)
{
	sep(o);
	put_quoted(o, key);
	put_char(o, ':');
	o->comma = false;
}

void
sc_json_out_string(struct sc_json_out *o, const char *s)
{
	if (s == NULL) {
		sc_json_out_null(o);
		return;
	}
	sep(o);
	put_quoted(o, s);
	o->comma = true;
}

void
sc_json_out_int(struct sc_json_out *o, int64_t v)
{
	/* Digits from the end, as "%" PRId64 prints them (no snprintf: it
	 * showed in profiles of the lists). */
	char s[24], *p = s + sizeof s;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0) {
		*--p = '-';
	}
	sep(o);
	put(o, p, (size_t)(s + sizeof s - p));
	o->comma = true;
}

void
sc_json_out_bool(struct sc_json_out *o, bool v)
{
	sep(o);
	if (v) {
		put(o, "true", 4);
	} else {
		put(o, "false", 5);
	}
	o->comma = true;
}

void
sc_json_out_null(struct sc_json_out *o)
{
	sep(o);
	put(o, "null", 4);
	o->comma = true;
}

void
sc_json_out_raw(struct sc_json_out *o, const char *text, size_t len)
{
	sep(o);
	put(o, text, len);
	o->comma = true;
}

void
sc_json_out_json(struct sc_json_out *o, json_object *v)
{
	if (v == NULL) {
		sc_json_out_null(o);
		return;
	}
	size_t n;
	const char *s = json_object_to_json_string_length(
	    v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	sep(o);
	put(o, s, n);
	o->comma = true;
}

const char *
sc_json_out_text(const struct sc_json_out *o)
{
	return o->buf != NULL ? o->buf : "";
}

size_t
sc_json_out_len(const struct sc_json_out *o)
{
	return o->len;
}
