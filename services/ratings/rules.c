/* rules.c: the pure parts of the ratings daemon (stats rounding and shape,
 * report reasons, path ids, list limits and cursors, who may rate a match),
 * kept apart from I/O so rules_test.c can pin them down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "ratings.h"

/* Cursor bounds: microseconds up to the year 9999, ids up to INT64_MAX. */
#define CURSOR_US_MAX 253402300799999999LL

long long
ratings_hundredths(long long n, long long d)
{
	/* floor(100 n / d + 1/2) in integers: no binary fraction creeps in. */
	return (200 * n + d) / (2 * d);
}

json_object *
ratings_decimal_json(long long hundredths)
{
	char text[32];
	long long whole = hundredths / 100, frac = hundredths % 100;

	if (frac == 0) {
		snprintf(text, sizeof text, "%lld.0", whole);
	} else if (frac % 10 == 0) {
		snprintf(text, sizeof text, "%lld.%lld", whole, frac / 10);
	} else {
		snprintf(text, sizeof text, "%lld.%02lld", whole, frac);
	}
	/* Serialised as `text`, so 4.33 is written 4.33, not
	 * 4.3300000000000001. */
	return json_object_new_double_s((double)hundredths / 100.0, text);
}

json_object *
ratings_stats_json(int64_t user_id, long long count, long long score_sum,
                   long long again_count)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "userId", json_object_new_int64(user_id));
	json_object_object_add(o, "count", json_object_new_int64(count));
	if (count <= 0) {
		json_object_object_add(o, "average", NULL);
		json_object_object_add(o, "wouldCollaborateAgainShare", NULL);
		return o;
	}
	json_object_object_add(
	    o, "average",
	    ratings_decimal_json(ratings_hundredths(score_sum, count)));
	json_object_object_add(
	    o, "wouldCollaborateAgainShare",
	    ratings_decimal_json(ratings_hundredths(again_count, count)));
	return o;
}

bool
ratings_reason_valid(const char *reason)
{
	static const char *const reasons[] = {"harassment", "no_show",
	                                      "inappropriate", "spam", "other"};

	if (reason == NULL) {
		return false;
	}
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
		if (strcmp(reason, reasons[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* Decimal digits only (no sign, no spaces), 1..max. */
static bool
parse_positive(const char *s, long long max, long long *out)
{
	long long v = 0;

	if (s == NULL || *s == '\0') {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		if (v > (max - (*p - '0')) / 10) {
			return false;
		}
		v = v * 10 + (*p - '0');
	}
	if (v < 1) {
		return false;
	}
	*out = v;
	return true;
}

bool
ratings_parse_id(const char *s, int64_t *out)
{
	long long v;

	if (!parse_positive(s, INT64_MAX, &v)) {
		return false;
	}
	*out = v;
	return true;
}

bool
ratings_parse_limit(const char *s, int *out)
{
	long long v;

	if (s == NULL) {
		*out = RATINGS_LIMIT_DEFAULT;
		return true;
	}
	if (!parse_positive(s, RATINGS_LIMIT_MAX, &v)) {
		return false;
	}
	*out = (int)v;
	return true;
}

char *
ratings_cursor_make(long long created_us, long long id)
{
	char key[48];

	snprintf(key, sizeof key, "%lld|%lld", created_us, id);
	return sc_cursor_encode(key);
}

bool
ratings_cursor_read(const char *cursor, long long *created_us, long long *id)
{
	char *key, *parts[2];
	long long us, v;
	bool ok = false;

	if (cursor == NULL || (key = sc_cursor_decode(cursor)) == NULL) {
		return false;
	}
	if (sc_cursor_split(key, parts, 2) != 2) {
		goto out;
	}
	/* Zero microseconds is the epoch itself: allowed. */
	if (strcmp(parts[0], "0") == 0) {
		us = 0;
	} else if (!parse_positive(parts[0], CURSOR_US_MAX, &us)) {
		goto out;
	}
	if (!parse_positive(parts[1], INT64_MAX, &v)) {
		goto out;
	}
	*created_us = us;
	*id = v;
	ok = true;
out:
	free(key);
	return ok;
}

enum ratings_match_verdict
ratings_match_check(const char *status, int64_t requester_id, int64_t target_id,
                    int64_t caller_id, int64_t *rated)
{
	if (caller_id == requester_id) {
		*rated = target_id;
	} else if (caller_id == target_id) {
		*rated = requester_id;
	} else {
		return RATINGS_MATCH_NOT_MEMBER;
	}
	if (status == NULL || (strcmp(status, "accepted") != 0 &&
	                       strcmp(status, "completed") != 0)) {
		return RATINGS_MATCH_NOT_RATEABLE;
	}
	return RATINGS_MATCH_RATEABLE;
}
