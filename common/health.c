/* health.c: /health and /ready for every daemon. */
#include "health.h"

#include <event2/http.h>

#include "bus.h"
#include "db.h"
#include "error.h"
#include "http.h"

static void
health_cb(struct sc_http_req *req, void *arg)
{
	(void)arg;
	json_object *body = json_object_new_object();
	json_object_object_add(body, "status", json_object_new_string("ok"));
	sc_http_reply_json(req, 200, body);
}

static void
ready_cb(struct sc_http_req *req, void *arg)
{
	struct sc_health *h = arg;
	bool db_ok = h->db == NULL || sc_db_ready(h->db);
	bool bus_ok = h->bus == NULL || sc_bus_ready(h->bus);

	if (db_ok && bus_ok) {
		json_object *body = json_object_new_object();
		json_object_object_add(body, "status",
		                       json_object_new_string("ready"));
		sc_http_reply_json(req, 200, body);
		return;
	}
	json_object *details = json_object_new_object();
	json_object_object_add(details, "database",
	                       json_object_new_string(db_ok ? "up" : "down"));
	json_object_object_add(details, "bus",
	                       json_object_new_string(bus_ok ? "up" : "down"));
	sc_http_reply_error(req, 503, sc_err_code(SC_EUNAVAIL), "not ready",
	                    details);
}

void
sc_health_routes(struct sc_http_server *srv, struct sc_health *h)
{
	sc_http_route(srv, EVHTTP_REQ_GET, "/health", 0, health_cb, NULL);
	sc_http_route(srv, EVHTTP_REQ_GET, "/ready", 0, ready_cb, h);
}
