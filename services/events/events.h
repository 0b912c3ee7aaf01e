/* events.h: the events daemon's context and the entry points of its
 * modules. One context per process (struct events), created in main.c;
 * every handler gets it through its callback argument. */
#ifndef EVENTS_H
#define EVENTS_H

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "daemon.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "profiles.h"
#include "token.h"

struct events {
	struct sc_daemon d; /* base, db, bus, http, verifier, profiles */
};

/* The columns every event query selects, so events_event_json can render
 * the row; over events.events aliased `e`. */
#define EVENTS_EVENT_COLS                                                      \
	"e.id, e.worldsdc_id, e.name, e.location,"                             \
	" to_char(e.start_date, 'YYYY-MM-DD') AS start_date,"                  \
	" to_char(e.end_date, 'YYYY-MM-DD') AS end_date,"                      \
	" e.description, e.participant_count"

/* The same list for a CTE's RETURNING over events.events aliased `e`. */
#define EVENTS_EVENT_RETURNING EVENTS_EVENT_COLS

/* event.c: rendering, the list and the single event. */
/* Row `row` of a result with EVENTS_EVENT_COLS as the event JSON; with
 * `joined` from the boolean column "joined" when with_joined. Caller owns;
 * release with json_object_put. */
json_object *events_event_json(const PGresult *res, int row, bool with_joined);
void events_event_routes(struct events *ev);

/* join.c: POST and DELETE /api/events/:id/join, the bus topics
 * event.joined and event.left. */
void events_join_routes(struct events *ev);

/* participants.c: GET /api/events/:id/participants. */
void events_participants_routes(struct events *ev);

/* rpc.c: the bus requests events.participants.check, events.events.get. */
void events_rpc_handlers(struct events *ev);

/* params.c: the pure parts of requests (ids, limits, search patterns,
 * keyset cursors), unit-tested in params_test.c. */
#define EVENTS_LIMIT_DEFAULT 20
#define EVENTS_LIMIT_MAX     100
#define EVENTS_Q_MAX         100 /* characters */

/* A path id: 1-19 decimal digits, 1..INT64_MAX. False for anything else
 * (the route answers 404). */
bool events_parse_id(const char *s, int64_t *out);

/* ?limit=: NULL gives EVENTS_LIMIT_DEFAULT; else 1..EVENTS_LIMIT_MAX in
 * plain decimal digits. False when invalid. */
bool events_parse_limit(const char *s, int *out);

/* "YYYY-MM-DD" naming a real calendar day of years 0001-9999 (leap years
 * included), exactly `len` bytes. */
bool events_valid_date(const char *s, size_t len);

/* The ILIKE pattern "%<q>%" where \, % and _ of q are escaped with \ (the
 * query says ESCAPE '\'), so they match literally. Caller owns; free with
 * free(). */
char *events_like_pattern(const char *q);

/* The list's cursor after the event (start_date, id): the key
 * "u|YYYY-MM-DD|id" (p for past) encoded with sc_cursor_encode. Caller
 * owns; free with free(). */
char *events_list_cursor(bool past, const char *start_date, int64_t id);

/* Read a list cursor made for the same `when`. On true, date (11 bytes)
 * holds the start date and *id the id; false for anything else. */
bool events_list_cursor_read(const char *cursor, bool past, char date[11],
                             int64_t *id);

/* The participants list's cursor after (joined_at as microseconds since
 * the Unix epoch, user_id): the key "j|usec|user". Caller owns; free with
 * free(). */
#define EVENTS_USEC_MAX 253402300800000000LL /* 10000-01-01T00:00:00Z */
char *events_participants_cursor(int64_t usec, int64_t user_id);

/* Read a participants cursor. False for anything malformed or a time
 * outside 1970-01-01 .. 9999-12-31 (which no join has). */
bool events_participants_cursor_read(const char *cursor, int64_t *usec,
                                     int64_t *user_id);

/* import.c: `events import [--format json|csv] FILE...`; returns the exit
 * status. argv[0] is "import". */
int events_import_main(int argc, char **argv);

#endif
