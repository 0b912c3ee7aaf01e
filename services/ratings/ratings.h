/* ratings.h: the ratings daemon's context and the entry points of its
 * modules. One context per process (struct ratings), created in main.c;
 * every handler gets it through its callback argument. */
#ifndef RATINGS_H
#define RATINGS_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "daemon.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "profiles.h"
#include "token.h"

struct ratings {
	struct sc_daemon d; /* base, db, bus, http, verifier, profiles */
};

/* rating.c: POST /api/ratings and the lists of a user's ratings. */
void ratings_rating_routes(struct ratings *r);

/* stats.c: GET /api/ratings/stats/:id and the bus request
 * ratings.stats.get. */
void ratings_stats_routes(struct ratings *r);
void ratings_stats_bus(struct ratings *r);

/* report.c: POST /api/reports. */
void ratings_report_routes(struct ratings *r);

/* ---- rules.c: the pure parts, unit tested (rules_test.c) ---------------- */

#define RATINGS_LIMIT_DEFAULT 20
#define RATINGS_LIMIT_MAX     100
#define RATINGS_TEXT_MAX      1000 /* comment, report details (characters) */
#define RATINGS_STATS_IDS_MAX 100  /* user ids per ratings.stats.get */

/* n / d rounded half up to hundredths (both >= 0, d > 0): 13/3 -> 433. */
long long ratings_hundredths(long long n, long long d);

/* A JSON number with at most two decimals from hundredths: 433 -> 4.33,
 * 450 -> 4.5, 400 -> 4.0, 0 -> 0.0. Caller owns; release with
 * json_object_put. */
json_object *ratings_decimal_json(long long hundredths);

/* The stats object of a user from their user_stats row (zeros when they
 * have none): {userId, count, average, wouldCollaborateAgainShare}, the
 * average and share rounded to 2 decimals, both null when count is 0.
 * Caller owns; release with json_object_put. */
json_object *ratings_stats_json(int64_t user_id, long long count,
                                long long score_sum, long long again_count);

/* True when `reason` is one of the report reasons (RATINGS_REASONS). */
bool ratings_reason_valid(const char *reason);
#define RATINGS_REASONS "harassment, no_show, inappropriate, spam, other"

/* A path id: decimal digits only, 1..INT64_MAX. True with *out set. */
bool ratings_parse_id(const char *s, int64_t *out);

/* ?limit=: absent gives RATINGS_LIMIT_DEFAULT; otherwise decimal digits in
 * 1..RATINGS_LIMIT_MAX. True with *out set. */
bool ratings_parse_limit(const char *s, int *out);

/* List cursors: the keyset (created_at in microseconds since the epoch,
 * id) of the last item of a page. The encoded cursor is caller-owned (free
 * with free()). Decoding accepts only what encoding makes (both values in
 * range); true with the two values set. */
char *ratings_cursor_make(long long created_us, long long id);
bool ratings_cursor_read(const char *cursor, long long *created_us,
                         long long *id);

/* What a caller may do with a match, from matchmaking's answer. */
enum ratings_match_verdict {
	RATINGS_MATCH_RATEABLE,     /* *rated is the other member */
	RATINGS_MATCH_NOT_MEMBER,   /* answer 404: no leak of others' matches */
	RATINGS_MATCH_NOT_RATEABLE, /* not accepted nor completed: 409 */
};
enum ratings_match_verdict
ratings_match_check(const char *status, int64_t requester_id, int64_t target_id,
                    int64_t caller_id, int64_t *rated);

#endif
