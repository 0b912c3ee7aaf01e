/* match.c: the match operations every entry point shares (ask, move along
 * the state machine, read), the match JSON and its members' profiles. The
 * HTTP routes and the bus handlers only translate to and from these. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "error.h"
#include "log.h"
#include "matchmaking.h"

/* How often a change is retried when a concurrent one moved the row
 * between our statement and the read that explains why it did nothing. */
#define OP_ATTEMPTS 3

struct op {
	struct matchmaking *m;
	int64_t user_id;
	int64_t target_id, event_id; /* create */
	int64_t match_id;            /* update, read */
	enum mm_status to;           /* update */
	int attempts;
	char *request_id; /* owned; may be NULL */
	mm_done_fn cb;
	void *arg;
};

static struct op *
op_new(struct matchmaking *m, int64_t user_id, const char *request_id,
       mm_done_fn cb, void *arg)
{
	struct op *op = sc_calloc(1, sizeof *op);

	op->m = m;
	op->user_id = user_id;
	op->request_id = request_id != NULL ? sc_strdup(request_id) : NULL;
	op->cb = cb;
	op->arg = arg;
	return op;
}

static void
op_free(struct op *op)
{
	free(op->request_id);
	free(op);
}

/* Finish with an error; takes ownership of details (may be NULL). code
 * NULL uses the class's code, message NULL its description. */
static void
op_fail(struct op *op, int err, const char *code, const char *message,
        json_object *details)
{
	struct mm_outcome out = {
	    .err = err,
	    .code = code != NULL ? code : sc_err_code(err),
	    .message = message != NULL ? message : sc_err_str(err),
	    .details = details,
	};

	op->cb(&out, op->arg);
	json_object_put(details);
	op_free(op);
}

/* Finish for a database outcome that is not a result (as db_reply.h does
 * for HTTP): 503 while it is unreachable or saturated, 500 for an SQL
 * error, which is logged and never shown. */
static void
op_db_fail(struct op *op, int err, const PGresult *res)
{
	if (err == SC_EDB || err == SC_EINVAL) {
		sc_log_error(op->request_id, "query failed: %s",
		             res != NULL ? PQresultErrorMessage(res)
		                         : "bad query");
		op_fail(op, SC_EINTERNAL, NULL, NULL, NULL);
		return;
	}
	op_fail(op, err == SC_EAGAIN ? SC_EAGAIN : SC_EUNAVAIL, NULL,
	        "the database is unavailable, try again", NULL);
}

static json_object *
details1(const char *key, json_object *value)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, key, value);
	return d;
}

static void
op_succeed_cb(json_object *items, void *arg)
{
	struct op *op = arg;
	struct mm_outcome out = {
	    .err = SC_OK,
	    .code = sc_err_code(SC_OK),
	    .message = sc_err_str(SC_OK),
	    .match = json_object_array_get_idx(items, 0),
	};

	op->cb(&out, op->arg);
	op_free(op);
}

/* Announce the change row 0 of res made (its statement has committed: each
 * is a single autocommitted statement). */
static void
op_publish(struct op *op, const PGresult *res, const char *topic)
{
	json_object *data = json_object_new_object();
	int rc;

	/* The lists' cache: this daemon forgets at once, so the caller's
	 * next read sees the change (the others hear the notification). */
	sc_cache_clear(op->m->d.cache);
	json_object_object_add(data, "match", mm_match_brief_json(res, 0));
	json_object_object_add(data, "byUserId",
	                       json_object_new_int64(op->user_id));
	rc = sc_bus_publish(op->m->d.bus, topic, data, op->request_id);
	if (rc != SC_OK) {
		sc_log_warn(op->request_id,
		            "cannot publish '%s' for match %lld: %s", topic,
		            sc_db_int(res, 0, "id"), sc_err_str(rc));
	}
}

/* Finish with the match in row 0 of res; publish `topic` first unless
 * NULL. */
static void
op_succeed(struct op *op, const PGresult *res, const char *topic)
{
	json_object *items = json_object_new_array();

	json_object_array_add(items, mm_match_json(res, 0));
	if (topic != NULL) {
		op_publish(op, res, topic);
	}
	mm_profiles_fill(op->m, items, op->request_id, op_succeed_cb, op);
	json_object_put(items);
}

static void
id_str(char buf[24], int64_t id)
{
	snprintf(buf, 24, "%lld", (long long)id);
}

/* ---- create ------------------------------------------------------------- */

static void create_insert(struct op *op);

static void
create_existing_cb(int err, PGresult *res, void *arg)
{
	struct op *op = arg;

	if (err != SC_OK) {
		op_db_fail(op, err, res);
		return;
	}
	if (PQntuples(res) > 0) {
		op_fail(
		    op, SC_ECONFLICT, "match_exists",
		    "you already have a match with this dancer at this event",
		    details1("matchId",
		             json_object_new_int64(sc_db_int(res, 0, "id"))));
		return;
	}
	/* The match that was in the way was cancelled meanwhile. */
	if (++op->attempts < OP_ATTEMPTS) {
		create_insert(op);
		return;
	}
	op_fail(op, SC_ECONFLICT, NULL,
	        "the match changed meanwhile, try again", NULL);
}

static void
create_inserted_cb(int err, PGresult *res, void *arg)
{
	struct op *op = arg;
	char event[24], user[24], target[24];

	if (err != SC_OK) {
		op_db_fail(op, err, res);
		return;
	}
	if (PQntuples(res) > 0) {
		sc_log_info(op->request_id, "match %lld requested",
		            sc_db_int(res, 0, "id"));
		op_succeed(op, res, mm_status_topic(MM_PENDING));
		return;
	}
	/* A live match of the pair exists: name it. */
	id_str(event, op->event_id);
	id_str(user, op->user_id);
	id_str(target, op->target_id);
	const char *params[] = {event, user, target};
	sc_db_query(op->m->d.db,
	            "SELECT id FROM matchmaking.matches"
	            " WHERE event_id = $1"
	            " AND user_low = least($2::bigint, $3::bigint)"
	            " AND user_high = greatest($2::bigint, $3::bigint)"
	            " AND status <> 'cancelled'",
	            3, params, create_existing_cb, op);
}

static void
create_insert(struct op *op)
{
	char event[24], user[24], target[24];

	id_str(event, op->event_id);
	id_str(user, op->user_id);
	id_str(target, op->target_id);
	const char *params[] = {event, user, target};
	/* The partial unique index is the one-live-match-per-pair rule; a
	 * conflict inserts nothing (and logs nothing on the server). */
	sc_db_query(op->m->d.db,
	            "INSERT INTO matchmaking.matches"
	            " (event_id, requester_id, target_id) VALUES ($1, $2, $3)"
	            " ON CONFLICT (event_id, user_low, user_high)"
	            " WHERE status <> 'cancelled' DO NOTHING"
	            " RETURNING " MM_MATCH_COLS,
	            3, params, create_inserted_cb, op);
}

/* Does the integer array `list` hold id? */
static bool
list_has(json_object *list, int64_t id)
{
	size_t n = json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i);
		if (json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) == id) {
			return true;
		}
	}
	return false;
}

static void
create_checked_cb(int err, json_object *data, const char *message, void *arg)
{
	struct op *op = arg;
	json_object *list;

	if (err == SC_ENOTFOUND) {
		op_fail(op, SC_ENOTFOUND, NULL, "no such event", NULL);
		return;
	}
	if (err != SC_OK) {
		sc_log_warn(
		    op->request_id,
		    "cannot check the participants of event %lld: %s (%s)",
		    (long long)op->event_id, sc_err_code(err),
		    message != NULL ? message : "");
		if (err == SC_EINVAL || err == SC_EVALIDATION) {
			op_fail(op, SC_EINTERNAL, NULL, NULL, NULL);
		} else if (err == SC_EBUS) {
			op_fail(
			    op, SC_EBUS, NULL,
			    "the events service gave a bad answer, try again",
			    NULL);
		} else {
			op_fail(op, SC_EUNAVAIL, NULL,
			        "the events service is unavailable, try again",
			        NULL);
		}
		return;
	}
	if (!json_object_object_get_ex(data, "participants", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		sc_log_warn(op->request_id, "events.participants.check replied "
		                            "without a participants array");
		op_fail(op, SC_EBUS, NULL,
		        "the events service gave a bad answer, try again",
		        NULL);
		return;
	}
	if (!list_has(list, op->user_id)) {
		op_fail(op, SC_EFORBIDDEN, "not_participant",
		        "join the event before asking someone to film with you",
		        NULL);
		return;
	}
	if (!list_has(list, op->target_id)) {
		op_fail(
		    op, SC_EVALIDATION, "target_not_participant",
		    "the dancer you asked has not joined this event",
		    details1("targetUserId", json_object_new_string(
		                                 "has not joined this event")));
		return;
	}
	create_insert(op);
}

/* Refused before any I/O, replied from the loop so the callback never runs
 * before mm_match_create returns. */
static void
create_self_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	op_fail(arg, SC_EVALIDATION, "self_match", "you cannot match yourself",
	        details1("targetUserId",
	                 json_object_new_string("cannot be yourself")));
}

void
mm_match_create(struct matchmaking *m, int64_t user_id, int64_t target_id,
                int64_t event_id, const char *request_id, mm_done_fn cb,
                void *arg)
{
	struct op *op = op_new(m, user_id, request_id, cb, arg);
	static const struct timeval now = {0, 0};

	op->target_id = target_id;
	op->event_id = event_id;
	if (target_id == user_id) {
		if (event_base_once(m->d.base, -1, EV_TIMEOUT, create_self_cb,
		                    op, &now) != 0) {
			create_self_cb(-1, 0, op);
		}
		return;
	}
	json_object *data = json_object_new_object();
	json_object *ids = json_object_new_array();
	json_object_array_add(ids, json_object_new_int64(user_id));
	json_object_array_add(ids, json_object_new_int64(target_id));
	json_object_object_add(data, "eventId",
	                       json_object_new_int64(event_id));
	json_object_object_add(data, "userIds", ids);
	sc_bus_call(m->d.bus, "events.participants.check", data, op->request_id,
	            m->events_timeout_ms, create_checked_cb, op);
}

/* ---- update ------------------------------------------------------------- */

static void update_run(struct op *op);

static void
update_read_cb(int err, PGresult *res, void *arg)
{
	struct op *op = arg;
	enum mm_status from;
	char message[96];

	if (err != SC_OK) {
		op_db_fail(op, err, res);
		return;
	}
	if (PQntuples(res) == 0) {
		op_fail(op, SC_ENOTFOUND, NULL, "no such match", NULL);
		return;
	}
	if (!mm_status_parse(sc_db_str(res, 0, "status"), &from)) {
		sc_log_error(
		    op->request_id, "match %lld has an unknown status '%s'",
		    (long long)op->match_id, sc_db_str(res, 0, "status"));
		op_fail(op, SC_EINTERNAL, NULL, NULL, NULL);
		return;
	}
	enum mm_actor actor =
	    mm_actor_of(sc_db_int(res, 0, "requester_id"),
	                sc_db_int(res, 0, "target_id"), op->user_id);
	switch (mm_transition_check(from, op->to, actor)) {
	case MM_NOT_MEMBER:
		op_fail(op, SC_ENOTFOUND, NULL, "no such match", NULL);
		return;
	case MM_NOT_PERMITTED:
		op_fail(op, SC_EFORBIDDEN, NULL,
		        "only the dancer who was asked can accept or reject "
		        "a match",
		        NULL);
		return;
	case MM_INVALID_TRANSITION: {
		json_object *d = json_object_new_object();
		json_object_object_add(
		    d, "from", json_object_new_string(mm_status_name(from)));
		json_object_object_add(
		    d, "to", json_object_new_string(mm_status_name(op->to)));
		snprintf(message, sizeof message,
		         "the match is %s and cannot become %s",
		         mm_status_name(from), mm_status_name(op->to));
		op_fail(op, SC_ECONFLICT, "invalid_transition", message, d);
		return;
	}
	case MM_ALLOWED:
		break;
	}
	/* The row moved between the UPDATE and this read, to a state the
	 * change is allowed from: try again. */
	if (++op->attempts < OP_ATTEMPTS) {
		update_run(op);
		return;
	}
	op_fail(op, SC_ECONFLICT, NULL,
	        "the match changed meanwhile, try again", NULL);
}

static void
update_done_cb(int err, PGresult *res, void *arg)
{
	struct op *op = arg;
	char match[24], user[24];

	if (err != SC_OK) {
		op_db_fail(op, err, res);
		return;
	}
	if (PQntuples(res) > 0) {
		sc_log_info(op->request_id, "match %lld %s by user %lld",
		            (long long)op->match_id, mm_status_name(op->to),
		            (long long)op->user_id);
		op_succeed(op, res, mm_status_topic(op->to));
		return;
	}
	id_str(match, op->match_id);
	id_str(user, op->user_id);
	const char *params[] = {match, user};
	sc_db_query(op->m->d.db,
	            "SELECT status, requester_id, target_id"
	            " FROM matchmaking.matches"
	            " WHERE id = $1 AND (requester_id = $2 OR target_id = $2)",
	            2, params, update_read_cb, op);
}

/* One statement: the row changes only from a state this member may leave
 * for `to` (status.c says which), so the check and the change cannot be
 * separated by a concurrent update. */
static void
update_run(struct op *op)
{
	char match[24], user[24], by_requester[80], by_target[80];

	id_str(match, op->match_id);
	id_str(user, op->user_id);
	mm_status_set_literal(mm_transition_sources(op->to, MM_REQUESTER),
	                      by_requester, sizeof by_requester);
	mm_status_set_literal(mm_transition_sources(op->to, MM_TARGET),
	                      by_target, sizeof by_target);
	const char *params[] = {match, user, mm_status_name(op->to),
	                        by_requester, by_target};
	sc_db_query(
	    op->m->d.db,
	    "UPDATE matchmaking.matches SET status = $3, updated_at = now(),"
	    " responded_at = CASE WHEN $3 IN ('accepted', 'rejected')"
	    " THEN now() ELSE responded_at END,"
	    " completed_at = CASE WHEN $3 = 'completed'"
	    " THEN now() ELSE completed_at END"
	    " WHERE id = $1 AND CASE"
	    " WHEN requester_id = $2 THEN status = ANY ($4::text[])"
	    " WHEN target_id = $2 THEN status = ANY ($5::text[])"
	    " ELSE false END"
	    " RETURNING " MM_MATCH_COLS,
	    5, params, update_done_cb, op);
}

void
mm_match_update(struct matchmaking *m, int64_t user_id, int64_t match_id,
                enum mm_status to, const char *request_id, mm_done_fn cb,
                void *arg)
{
	struct op *op = op_new(m, user_id, request_id, cb, arg);

	op->match_id = match_id;
	op->to = to;
	update_run(op);
}

/* ---- read --------------------------------------------------------------- */

static void
read_done_cb(int err, PGresult *res, void *arg)
{
	struct op *op = arg;

	if (err != SC_OK) {
		op_db_fail(op, err, res);
	} else if (PQntuples(res) == 0) {
		op_fail(op, SC_ENOTFOUND, NULL, "no such match", NULL);
	} else {
		op_succeed(op, res, NULL);
	}
}

void
mm_match_read(struct matchmaking *m, int64_t user_id, int64_t match_id,
              const char *request_id, mm_done_fn cb, void *arg)
{
	struct op *op = op_new(m, user_id, request_id, cb, arg);
	char match[24], user[24];

	op->match_id = match_id;
	id_str(match, match_id);
	id_str(user, user_id);
	const char *params[] = {match, user};
	sc_db_query(m->d.db,
	            "SELECT " MM_MATCH_COLS " FROM matchmaking.matches"
	            " WHERE id = $1 AND (requester_id = $2 OR target_id = $2)",
	            2, params, read_done_cb, op);
}

/* ---- JSON --------------------------------------------------------------- */

json_object *
mm_match_brief_json(const PGresult *res, int row)
{
	json_object *o = json_object_new_object();

	json_object_object_add(
	    o, "id", json_object_new_int64(sc_db_int(res, row, "id")));
	json_object_object_add(
	    o, "eventId",
	    json_object_new_int64(sc_db_int(res, row, "event_id")));
	json_object_object_add(
	    o, "status", json_object_new_string(sc_db_str(res, row, "status")));
	json_object_object_add(
	    o, "requesterId",
	    json_object_new_int64(sc_db_int(res, row, "requester_id")));
	json_object_object_add(
	    o, "targetId",
	    json_object_new_int64(sc_db_int(res, row, "target_id")));
	return o;
}

json_object *
mm_match_json(const PGresult *res, int row)
{
	json_object *o = mm_match_brief_json(res, row);

	/* Placeholders keep the keys in their documented order. */
	json_object_object_add(o, "requester", NULL);
	json_object_object_add(o, "target", NULL);
	json_object_object_add(
	    o, "createdAt",
	    json_object_new_string(sc_db_str(res, row, "created_at")));
	json_object_object_add(
	    o, "updatedAt",
	    json_object_new_string(sc_db_str(res, row, "updated_at")));
	return o;
}

/* ---- profiles ----------------------------------------------------------- */

struct fill {
	json_object *items; /* a reference of ours */
	char *request_id;
	void (*cb)(json_object *items, void *arg);
	void *arg;
};

static int64_t
item_id(json_object *item, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(item, key, &v)) {
		return 0;
	}
	return json_object_get_int64(v);
}

static void
fill_one(json_object *item, const char *id_key, const char *profile_key,
         json_object *found)
{
	json_object *profile = NULL;
	char key[24];

	id_str(key, item_id(item, id_key));
	if (json_object_object_get_ex(found, key, &profile)) {
		json_object_object_add(item, profile_key,
		                       json_object_get(profile));
	}
}

static void
fill_cb(int err, json_object *found, void *arg)
{
	struct fill *f = arg;
	size_t n = json_object_array_length(f->items);

	if (err != SC_OK) {
		sc_log_warn(
		    f->request_id,
		    "cannot read profiles from auth: %s; matches go out "
		    "without them",
		    sc_err_str(err));
	} else {
		for (size_t i = 0; i < n; i++) {
			json_object *item =
			    json_object_array_get_idx(f->items, i);
			fill_one(item, "requesterId", "requester", found);
			fill_one(item, "targetId", "target", found);
		}
	}
	f->cb(f->items, f->arg);
	json_object_put(f->items);
	free(f->request_id);
	free(f);
}

void
mm_profiles_fill(struct matchmaking *m, json_object *items,
                 const char *request_id,
                 void (*cb)(json_object *items, void *arg), void *arg)
{
	size_t n = json_object_array_length(items), k = 0;
	int64_t *ids = sc_calloc(2 * n + 1, sizeof *ids);
	struct fill *f = sc_calloc(1, sizeof *f);

	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(items, i);
		ids[k++] = item_id(item, "requesterId");
		ids[k++] = item_id(item, "targetId");
	}
	f->items = json_object_get(items);
	f->request_id = request_id != NULL ? sc_strdup(request_id) : NULL;
	f->cb = cb;
	f->arg = arg;
	sc_profiles_get(m->d.profiles, ids, k, request_id, fill_cb, f);
	free(ids);
}
