/* params.c: the pure parts of the events requests: path ids, limits,
 * dates, search patterns and the keyset cursors of both lists. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cursor.h"
#include "events.h"

/* Decimal digits only, at most 19, parsed without overflow. */
static bool
parse_int64(const char *s, int64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (s == NULL) {
		return false;
	}
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 19) {
			return false;
		}
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || v > (uint64_t)INT64_MAX) {
		return false;
	}
	*out = (int64_t)v;
	return true;
}

bool
events_parse_id(const char *s, int64_t *out)
{
	int64_t v;

	if (!parse_int64(s, &v) || v < 1) {
		return false;
	}
	*out = v;
	return true;
}

bool
events_parse_limit(const char *s, int *out)
{
	int64_t v;

	if (s == NULL) {
		*out = EVENTS_LIMIT_DEFAULT;
		return true;
	}
	if (!parse_int64(s, &v) || v < 1 || v > EVENTS_LIMIT_MAX) {
		return false;
	}
	*out = (int)v;
	return true;
}

static int
digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
events_valid_date(const char *s, size_t len)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};
	int y, m, d, max;

	if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-') {
		return false;
	}
	y = digits(s, 4);
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1) {
		return false;
	}
	max = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
		max = 29;
	}
	return d <= max;
}

char *
events_like_pattern(const char *q)
{
	size_t n = strlen(q), j = 0;
	char *p = sc_malloc(2 * n + 3);

	p[j++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '\\' || q[i] == '%' || q[i] == '_') {
			p[j++] = '\\';
		}
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

char *
events_list_cursor(bool past, const char *start_date, int64_t id)
{
	char key[64];

	snprintf(key, sizeof key, "%c|%s|%" PRId64, past ? 'p' : 'u',
	         start_date, id);
	return sc_cursor_encode(key);
}

bool
events_list_cursor_read(const char *cursor, bool past, char date[11],
                        int64_t *id)
{
	char *key = sc_cursor_decode(cursor), *parts[3];
	bool ok = false;

	if (key == NULL) {
		return false;
	}
	if (sc_cursor_split(key, parts, 3) == 3 &&
	    strcmp(parts[0], past ? "p" : "u") == 0 &&
	    events_valid_date(parts[1], strlen(parts[1])) &&
	    events_parse_id(parts[2], id)) {
		memcpy(date, parts[1], 11);
		ok = true;
	}
	free(key);
	return ok;
}

char *
events_participants_cursor(int64_t usec, int64_t user_id)
{
	char key[64];

	snprintf(key, sizeof key, "j|%" PRId64 "|%" PRId64, usec, user_id);
	return sc_cursor_encode(key);
}

bool
events_participants_cursor_read(const char *cursor, int64_t *usec,
                                int64_t *user_id)
{
	char *key = sc_cursor_decode(cursor), *parts[3];
	bool ok = false;

	if (key == NULL) {
		return false;
	}
	ok = sc_cursor_split(key, parts, 3) == 3 &&
	     strcmp(parts[0], "j") == 0 && parse_int64(parts[1], usec) &&
	     *usec < EVENTS_USEC_MAX && events_parse_id(parts[2], user_id);
	free(key);
	return ok;
}
