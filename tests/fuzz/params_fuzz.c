/* params_fuzz.c: path parameters and query strings of the daemons, parsed
 * without a database: events (services/events/params.c: ids, limits,
 * dates, search patterns, both list cursors), ratings (services/ratings/
 * rules.c: ids, limits, cursors, report reasons), matchmaking statuses
 * (services/matchmaking/status.c), the signaling history query
 * (services/signaling/payload.c) and the cursor codec (common/cursor.c).
 *
 * Input: byte 0 picks the parser; the rest is the parameter as it arrives
 * (percent-decoded by the HTTP layer, so any bytes up to a NUL; the
 * history query takes three '\n'-separated values, "-" for absent).
 * Checks: what a parser accepts is in range and re-encodes to what it
 * read (cursors made from a read cursor read back the same; a cursor key
 * decodes from exactly one spelling); dates are real calendar days (tested
 * against timegm); a LIKE pattern unescapes to the query. */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "events/events.h"
#include "fuzz.h"
#include "matchmaking/status.h"
#include "ratings/ratings.h"
#include "signaling/payload.h"
#include "validate.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* A YYYY-MM-DD date is real when timegm keeps its fields as they are. */
static bool
real_date(const char *s)
{
	struct tm tm = {0};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    strspn(s, "0123456789") != 4 || strspn(s + 5, "0123456789") != 2 ||
	    strspn(s + 8, "0123456789") != 2) {
		return false;
	}
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || d < 1) {
		return false;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	timegm(&tm);
	return tm.tm_year == y - 1900 && tm.tm_mon == m - 1 && tm.tm_mday == d;
}

static void
fuzz_events(int which, const char *s)
{
	int64_t id, id2, usec, usec2;
	int limit;
	char date[11], date2[11];

	switch (which) {
	case 0:
		if (events_parse_id(s, &id)) {
			FUZZ_CHECK(id >= 1);
			FUZZ_CHECK(strspn(s, "0123456789") == strlen(s));
		}
		break;
	case 1:
		if (events_parse_limit(s, &limit)) {
			FUZZ_CHECK(limit >= 1 && limit <= EVENTS_LIMIT_MAX);
		}
		break;
	case 2:
		FUZZ_CHECK(events_valid_date(s, strlen(s)) == real_date(s));
		break;
	case 3: {
		char *p = events_like_pattern(s);
		size_t n = strlen(p), j = 0;

		FUZZ_CHECK(n >= 2 && p[0] == '%' && p[n - 1] == '%');
		/* unescaping the inside gives the query back; no bare % _ */
		for (size_t i = 1; i + 1 < n; i++) {
			if (p[i] == '\\') {
				i++;
				FUZZ_CHECK(i + 1 < n &&
				           strchr("\\%_", p[i]) != NULL);
			} else {
				FUZZ_CHECK(p[i] != '%' && p[i] != '_');
			}
			FUZZ_CHECK(p[i] == s[j]);
			j++;
		}
		FUZZ_CHECK(s[j] == '\0');
		free(p);
		break;
	}
	case 4:
	case 5: {
		bool past = which == 5;

		if (events_list_cursor_read(s, past, date, &id)) {
			char *c = events_list_cursor(past, date, id);

			FUZZ_CHECK(events_valid_date(date, strlen(date)));
			FUZZ_CHECK(id >= 1);
			FUZZ_CHECK(
			    events_list_cursor_read(c, past, date2, &id2));
			FUZZ_CHECK(id2 == id && strcmp(date, date2) == 0);
			FUZZ_CHECK(
			    !events_list_cursor_read(c, !past, date2, &id2));
			free(c);
		}
		break;
	}
	default:
		if (events_participants_cursor_read(s, &usec, &id)) {
			char *c = events_participants_cursor(usec, id);

			FUZZ_CHECK(usec >= 0 && usec < EVENTS_USEC_MAX);
			FUZZ_CHECK(id >= 1);
			FUZZ_CHECK(
			    events_participants_cursor_read(c, &usec2, &id2));
			FUZZ_CHECK(usec2 == usec && id2 == id);
			free(c);
		}
		break;
	}
}

static void
fuzz_ratings(int which, const char *s)
{
	int64_t id;
	int limit;
	long long us, us2, cid, cid2;

	switch (which) {
	case 0:
		if (ratings_parse_id(s, &id)) {
			FUZZ_CHECK(id >= 1);
		}
		break;
	case 1:
		if (ratings_parse_limit(s, &limit)) {
			FUZZ_CHECK(limit >= 1 && limit <= RATINGS_LIMIT_MAX);
		}
		break;
	case 2:
		if (ratings_cursor_read(s, &us, &cid)) {
			char *c = ratings_cursor_make(us, cid);

			FUZZ_CHECK(us >= 0 && cid >= 1);
			FUZZ_CHECK(ratings_cursor_read(c, &us2, &cid2));
			FUZZ_CHECK(us2 == us && cid2 == cid);
			free(c);
		}
		break;
	default: {
		enum mm_status st;
		int64_t rated = 0;

		if (ratings_reason_valid(s)) {
			FUZZ_CHECK(strlen(s) <= 32);
		}
		if (mm_status_parse(s, &st)) {
			FUZZ_CHECK(st < MM_STATUS_COUNT &&
			           strcmp(mm_status_name(st), s) == 0);
		}
		/* the status string of matchmaking's answer */
		if (ratings_match_check(s, 1, 2, 1, &rated) ==
		    RATINGS_MATCH_RATEABLE) {
			FUZZ_CHECK(rated == 2);
			FUZZ_CHECK(mm_status_parse(s, &st) &&
			           (st == MM_ACCEPTED || st == MM_COMPLETED));
		}
		break;
	}
	}
}

static void
fuzz_history(char *s)
{
	char *part[3] = {NULL, NULL, NULL};
	const char *arg[3];
	struct sc_valid v;
	int64_t before = 0;
	int limit = 0;
	char *p = s;

	for (int i = 0; i < 3 && p != NULL; i++) {
		char *nl = strchr(p, '\n');

		part[i] = p;
		if (nl != NULL) {
			*nl = '\0';
			p = nl + 1;
		} else {
			p = NULL;
		}
	}
	for (int i = 0; i < 3; i++) {
		arg[i] = part[i] == NULL || strcmp(part[i], "-") == 0 ? NULL
		                                                      : part[i];
	}
	sc_valid_init(&v);
	if (sg_check_history(&v, arg[0], arg[1], arg[2], &before, &limit)) {
		FUZZ_CHECK(sc_valid_ok(&v));
		FUZZ_CHECK(before >= 1);
		FUZZ_CHECK(limit >= 1 && limit <= SG_HISTORY_MAX);
		FUZZ_CHECK(arg[2] != NULL || limit == SG_HISTORY_LIMIT);
	} else {
		FUZZ_CHECK(!sc_valid_ok(&v));
	}
	sc_valid_release(&v);
}

static void
fuzz_cursor(const char *s)
{
	char *key = sc_cursor_decode(s), *parts[4];

	if (key == NULL) {
		return;
	}
	{
		char *again = sc_cursor_encode(key);

		/* one key, one spelling */
		FUZZ_CHECK(strcmp(again, s) == 0);
		free(again);
	}
	FUZZ_CHECK(strlen(key) <= 256);
	for (const char *p = key; *p != '\0'; p++) {
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	{
		int n = sc_cursor_split(key, parts, 4);

		FUZZ_CHECK(n == -1 || (n >= 1 && n <= 4));
	}
	free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	int which;

	if (size == 0) {
		return 0;
	}
	which = data[0] % 16;
	s = malloc(size);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (which < 7) {
		fuzz_events(which, s);
	} else if (which < 11) {
		fuzz_ratings(which - 7, s);
	} else if (which < 13) {
		fuzz_history(s);
	} else {
		fuzz_cursor(s);
	}
	free(s);
	return 0;
}
