/* store.c: chat messages in PostgreSQL (schema chat). A message is one
 * INSERT; a retry carrying the same clientId finds the row the first try
 * stored instead of storing it twice, in the same statement. History is a
 * keyset page on (room, id desc). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "log.h"
#include "signaling.h"

#define MSG_COLS                                                               \
	"id, room_kind, room_id, user_id, username, display_name, type, "      \
	"content, to_char(created_at AT TIME ZONE 'UTC', "                     \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at"

/* READ COMMITTED: when a concurrent retry with the same clientId commits
 * between our snapshot and our insert, the insert does nothing and the
 * select does not see the row yet; the statement is run once more. */
static const char INSERT_SQL[] =
    "WITH ins AS ("
    " INSERT INTO chat.messages (room_kind, room_id, user_id, username,"
    " display_name, type, content, client_id)"
    " VALUES ($1::text, $2::bigint, $3::bigint, $4::text, $5::text,"
    " $6::text, $7::text, $8::text)"
    " ON CONFLICT (user_id, client_id) DO NOTHING"
    " RETURNING " MSG_COLS ", true AS inserted)"
    " SELECT * FROM ins"
    " UNION ALL"
    " SELECT " MSG_COLS ", false AS inserted FROM chat.messages"
    " WHERE $8::text IS NOT NULL AND user_id = $3::bigint"
    " AND client_id = $8::text AND NOT EXISTS (SELECT 1 FROM ins)";

static const char HISTORY_SQL[] =
    "SELECT " MSG_COLS " FROM chat.messages"
    " WHERE room_kind = $1 AND room_id = $2::bigint AND id < $3::bigint"
    " ORDER BY id DESC LIMIT $4::int";

static const char *
kind_name(enum sg_room_kind k)
{
	return k == SG_ROOM_EVENT ? "event" : "match";
}

/* Row `row` as the message JSON {id, eventId|matchId, userId, username,
 * displayName, type, content, createdAt}. Caller owns. */
static json_object *
message_json(const PGresult *res, int row)
{
	json_object *m = json_object_new_object();
	const char *kind = sc_db_str(res, row, "room_kind");
	const char *dn = sc_db_str(res, row, "display_name");

	json_object_object_add(
	    m, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(
	    m,
	    kind != NULL && strcmp(kind, "event") == 0 ? "eventId" : "matchId",
	    json_object_new_int64(sc_db_int(res, row, "room_id")));
	json_object_object_add(
	    m, "userId", json_object_new_int64(sc_db_int(res, row, "user_id")));
	json_object_object_add(
	    m, "username",
	    json_object_new_string(sc_db_str(res, row, "username")));
	json_object_object_add(m, "displayName",
	                       dn != NULL ? json_object_new_string(dn) : NULL);
	json_object_object_add(
	    m, "type", json_object_new_string(sc_db_str(res, row, "type")));
	json_object_object_add(
	    m, "content",
	    json_object_new_string(sc_db_str(res, row, "content")));
	json_object_object_add(
	    m, "createdAt",
	    json_object_new_string(sc_db_str(res, row, "created_at")));
	return m;
}

/* ---- storing ------------------------------------------------------------ */

struct store_call {
	struct signaling *sg;
	sg_store_cb cb;
	void *arg;
	enum sg_room_kind kind;
	int64_t room;
	char room_s[24], user_s[24];
	char *username, *display_name, *content, *client_id;
	const char *type;
	bool retried;
};

static void store_run(struct store_call *c);

static void
store_done(struct store_call *c, int err, json_object *msg, bool inserted)
{
	c->cb(err, msg, inserted, c->arg);
	free(c->username);
	free(c->display_name);
	free(c->content);
	free(c->client_id);
	free(c);
}

static void
store_result_cb(int err, PGresult *res, void *arg)
{
	struct store_call *c = arg;
	json_object *msg;
	const char *kind;
	bool inserted;

	if (err != SC_OK) {
		if (err == SC_EDB) {
			sc_log_error(NULL, "cannot store a message: %s",
			             PQresultErrorMessage(res));
		}
		store_done(c, err, NULL, false);
		return;
	}
	if (PQntuples(res) == 0) {
		if (!c->retried && !c->sg->stopping) {
			c->retried = true;
			store_run(c);
			return;
		}
		store_done(c, SC_ECONFLICT, NULL, false);
		return;
	}
	kind = sc_db_str(res, 0, "room_kind");
	inserted = sc_db_bool(res, 0, "inserted");
	if (!inserted &&
	    (kind == NULL || strcmp(kind, kind_name(c->kind)) != 0 ||
	     sc_db_int(res, 0, "room_id") != c->room)) {
		store_done(c, SC_ECONFLICT, NULL, false);
		return;
	}
	msg = message_json(res, 0);
	store_done(c, SC_OK, msg, inserted);
	json_object_put(msg);
}

static void
store_run(struct store_call *c)
{
	const char *params[] = {kind_name(c->kind), c->room_s,       c->user_s,
	                        c->username,        c->display_name, c->type,
	                        c->content,         c->client_id};

	sc_db_query(c->sg->db, INSERT_SQL, 8, params, store_result_cb, c);
}

void
sg_store_message(struct signaling *sg, const struct sg_message_new *m,
                 sg_store_cb cb, void *arg)
{
	struct store_call *c = sc_calloc(1, sizeof(*c));

	c->sg = sg;
	c->cb = cb;
	c->arg = arg;
	c->kind = m->kind;
	c->room = m->room;
	snprintf(c->room_s, sizeof(c->room_s), "%" PRId64, m->room);
	snprintf(c->user_s, sizeof(c->user_s), "%" PRId64, m->user);
	c->username = sc_strdup(m->username);
	c->display_name =
	    m->display_name != NULL ? sc_strdup(m->display_name) : NULL;
	c->content = sc_strdup(m->content);
	c->client_id = m->client_id != NULL ? sc_strdup(m->client_id) : NULL;
	c->type = m->type == SG_MSG_LINK ? "link" : "text";
	store_run(c);
}

/* ---- history ------------------------------------------------------------ */

struct history_call {
	sg_history_cb cb;
	void *arg;
	int limit;
};

static void
history_result_cb(int err, PGresult *res, void *arg)
{
	struct history_call *c = arg;
	json_object *page, *items;
	int n;

	if (err != SC_OK) {
		c->cb(err, res, NULL, c->arg);
		free(c);
		return;
	}
	n = PQntuples(res);
	page = json_object_new_object();
	items = json_object_new_array_ext(n < c->limit ? n : c->limit);
	for (int i = 0; i < n && i < c->limit; i++) {
		json_object_array_add(items, message_json(res, i));
	}
	json_object_object_add(page, "items", items);
	if (n > c->limit) {
		/* the oldest of this page: the next page is older */
		json_object_object_add(
		    page, "nextCursor",
		    json_object_new_string(sc_db_str(res, c->limit - 1, "id")));
	} else {
		json_object_object_add(page, "nextCursor", NULL);
	}
	c->cb(SC_OK, res, page, c->arg);
	json_object_put(page);
	free(c);
}

void
sg_store_history(struct signaling *sg, enum sg_room_kind kind, int64_t room,
                 int64_t before, int limit, sg_history_cb cb, void *arg)
{
	struct history_call *c = sc_calloc(1, sizeof(*c));
	char room_s[24], before_s[24], limit_s[16];
	const char *params[] = {kind_name(kind), room_s, before_s, limit_s};

	c->cb = cb;
	c->arg = arg;
	c->limit = limit;
	snprintf(room_s, sizeof(room_s), "%" PRId64, room);
	snprintf(before_s, sizeof(before_s), "%" PRId64, before);
	/* one more than asked: tells whether an older page exists */
	snprintf(limit_s, sizeof(limit_s), "%d", limit + 1);
	sc_db_query(sg->db, HISTORY_SQL, 4, params, history_result_cb, c);
}
