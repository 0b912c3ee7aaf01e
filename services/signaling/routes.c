/* routes.c: /api/chat over HTTP: the history of an event's room (its
 * participants only) and of a match's private room (its two members only),
 * newest first with a keyset cursor, and the ICE servers for WebRTC. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "db_reply.h"
#include "error.h"
#include "log.h"
#include "signaling.h"
#include "validate.h"

/* A positive decimal id (digits only, fits int64). */
static bool
parse_id(const char *s, int64_t *out)
{
	size_t n;
	long long v;

	if (s == NULL) {
		return false;
	}
	n = strlen(s);
	if (n == 0 || n > 18 || strspn(s, "0123456789") != n) {
		return false;
	}
	errno = 0;
	v = strtoll(s, NULL, 10);
	if (errno != 0 || v <= 0) {
		return false;
	}
	*out = v;
	return true;
}

/* One history request waiting for events or matchmaking, then the db. */
struct history {
	struct signaling *sg;
	struct sc_http_req *req;
	int64_t user, room, before;
	int limit;
	enum sg_room_kind kind;
};

static void
history_page_cb(int err, const PGresult *res, json_object *page, void *arg)
{
	struct history *h = arg;

	if (err != SC_OK) {
		sc_db_reply_error(h->req, err, res);
	} else {
		sc_http_reply_json(h->req, 200, json_object_get(page));
	}
	free(h);
}

static void
history_read(struct history *h)
{
	if (h->sg->stopping) {
		sc_http_reply_err(h->req, SC_EUNAVAIL, NULL);
		free(h);
		return;
	}
	sg_store_history(h->sg, h->kind, h->room, h->before, h->limit,
	                 history_page_cb, h);
}

static void
reply_unavailable(struct sc_http_req *req, const char *service)
{
	char text[96];

	snprintf(text, sizeof(text), "the %s service is unavailable, try again",
	         service);
	sc_http_reply_error(req, 503, "service_unavailable", text, NULL);
}

static void
event_access_cb(int err, bool participant, void *arg)
{
	struct history *h = arg;

	if (err == SC_ENOTFOUND) {
		sc_http_reply_err(h->req, SC_ENOTFOUND, "no such event");
	} else if (err != SC_OK) {
		reply_unavailable(h->req, "events");
	} else if (!participant) {
		sc_http_reply_error(h->req, 403, "not_participant",
		                    "only participants of the event may read "
		                    "its chat",
		                    NULL);
	} else {
		history_read(h);
		return;
	}
	free(h);
}

static void
match_access_cb(int err, const struct sg_match *m, void *arg)
{
	struct history *h = arg;

	if (err == SC_ENOTFOUND ||
	    (err == SC_OK && sg_match_partner(m, h->user) == 0)) {
		sc_http_reply_err(h->req, SC_ENOTFOUND, "no such match");
	} else if (err != SC_OK) {
		reply_unavailable(h->req, "matchmaking");
	} else {
		history_read(h);
		return;
	}
	free(h);
}

/* The common part of both history routes: token, id, query. NULL after
 * replying. */
static struct history *
history_start(struct signaling *sg, struct sc_http_req *req,
              enum sg_room_kind kind)
{
	struct sc_claims claims;
	struct sc_valid v;
	struct history *h;
	int64_t id, before;
	int limit;

	if (!sc_token_require(sg->verifier, req, &claims)) {
		return NULL;
	}
	if (!parse_id(sc_http_req_param(req, "id"), &id)) {
		sc_http_reply_err(req, SC_ENOTFOUND,
		                  kind == SG_ROOM_EVENT ? "no such event"
		                                        : "no such match");
		return NULL;
	}
	sc_valid_init(&v);
	if (!sg_check_history(&v, sc_http_req_query(req, "before"),
	                      sc_http_req_query(req, "cursor"),
	                      sc_http_req_query(req, "limit"), &before,
	                      &limit)) {
		sc_valid_reply(&v, req);
		return NULL;
	}
	sc_valid_release(&v);
	h = sc_calloc(1, sizeof(*h));
	*h = (struct history){sg, req, claims.user_id, id, before, limit, kind};
	return h;
}

static void
event_history_cb(struct sc_http_req *req, void *arg)
{
	struct signaling *sg = arg;
	struct history *h = history_start(sg, req, SG_ROOM_EVENT);

	if (h != NULL) {
		sg_access_participant(sg, h->room, h->user, sc_http_req_id(req),
		                      event_access_cb, h);
	}
}

static void
match_history_cb(struct sc_http_req *req, void *arg)
{
	struct signaling *sg = arg;
	struct history *h = history_start(sg, req, SG_ROOM_MATCH);

	if (h != NULL) {
		sg_access_match(sg, h->room, sc_http_req_id(req),
		                match_access_cb, h);
	}
}

static void
ice_servers_cb(struct sc_http_req *req, void *arg)
{
	struct signaling *sg = arg;
	struct sc_claims claims;

	if (!sc_token_require(sg->verifier, req, &claims)) {
		return;
	}
	/* Credentials are per user and short-lived: never cached (every
	 * reply of common/http.c says Cache-Control: no-store). */
	sc_http_reply_json(
	    req, 200,
	    sg_ice_servers_json(&sg->ice, claims.user_id, time(NULL)));
}

void
sg_routes(struct signaling *sg)
{
	sc_http_route(sg->http, EVHTTP_REQ_GET, "/api/chat/events/:id/messages",
	              0, event_history_cb, sg);
	sc_http_route(sg->http, EVHTTP_REQ_GET,
	              "/api/chat/matches/:id/messages", 0, match_history_cb,
	              sg);
	sc_http_route(sg->http, EVHTTP_REQ_GET, "/api/chat/ice-servers", 0,
	              ice_servers_cb, sg);
}
