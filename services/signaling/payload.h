/* payload.h: the checks on what a client sends: Socket.IO event payloads
 * (ids, chat messages, WebRTC signals) and the history query string. Each
 * check collects its problems into a struct sc_valid (common/validate.h)
 * so one validation_failed answer names every bad field. Pure. */
#ifndef SG_PAYLOAD_H
#define SG_PAYLOAD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define SG_CONTENT_MAX   2000  /* characters of a chat message */
#define SG_CLIENT_ID_MAX 64    /* bytes of a client's message id */
#define SG_SIGNAL_MAX    65536 /* bytes of an offer/answer/candidate */
#define SG_HISTORY_LIMIT 50    /* messages per history page by default */
#define SG_HISTORY_MAX   100

enum sg_msg_type { SG_MSG_TEXT, SG_MSG_LINK };

/* A chat message as sent (send_event_message, send_private_message). */
struct sg_message_in {
	int64_t room;          /* eventId or matchId */
	enum sg_msg_type type; /* text unless "link" */
	char *content;         /* trimmed; owned */
	char *client_id;       /* NULL when absent; owned */
};

/* The event's payload: its first argument when that is an object (further
 * arguments are ignored), else NULL. Borrowed from args. */
json_object *sg_payload(json_object *args);

/* Every key of p in `allowed` (NULL-terminated), else "unknown field". */
bool sg_check_known(struct sc_valid *v, json_object *p,
                    const char *const *allowed);

/* A required positive integer field (a JSON integer, not a string, up to
 * 2^53 - 1 so JavaScript reads it back exactly). */
bool sg_check_id(struct sc_valid *v, json_object *p, const char *field,
                 int64_t *out);

/* The text of a message: leading and trailing white space (space, tab, CR,
 * LF, VT, FF) removed; then 1..SG_CONTENT_MAX characters of valid UTF-8
 * with no control character but tab, CR and LF. On success *start and
 * *len give the trimmed part of s; else *why says what is wrong. */
bool sg_content_trim(const char *s, size_t n, size_t *start, size_t *len,
                     const char **why);

/* A message payload: room_field ("eventId" or "matchId"), content, type
 * ("text" or "link": a link's content must be an http(s) URL), clientId
 * (optional, 1..64 printable ASCII characters, no space). On true, out is
 * filled (release with sg_message_in_release); on false out holds
 * nothing. */
bool sg_check_message(struct sc_valid *v, json_object *p,
                      const char *room_field, struct sg_message_in *out);
void sg_message_in_release(struct sg_message_in *m);

/* A WebRTC signal payload {matchId, <field>}: the value must be an object
 * (or null for "candidate": the end of candidates) whose JSON is at most
 * SG_SIGNAL_MAX bytes. *value is borrowed from p. */
bool sg_check_signal(struct sc_valid *v, json_object *p, const char *field,
                     int64_t *match, json_object **value);

/* The history query: before (or its alias cursor: a message id, the
 * nextCursor of the previous page) and limit (1..SG_HISTORY_MAX, default
 * SG_HISTORY_LIMIT). Any may be NULL. *before is INT64_MAX when absent. */
bool sg_check_history(struct sc_valid *v, const char *before,
                      const char *cursor, const char *limit,
                      int64_t *before_out, int *limit_out);

#endif
