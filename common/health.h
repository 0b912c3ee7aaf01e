/* health.h: the two probes every daemon serves (not routed by the gateway):
 *   GET /health -> 200 {"status":"ok"}      the process is alive
 *   GET /ready  -> 200 {"status":"ready"}   the database and the bus are up
 *               -> 503 {"error":{...,"details":{"database":..,"bus":..}}}  */
#ifndef SC_HEALTH_H
#define SC_HEALTH_H

struct sc_http_server;
struct sc_db;
struct sc_bus;

/* What /ready checks; either may be NULL (then it is not checked). Lives in
 * the daemon's context; db and bus borrowed. */
struct sc_health {
	struct sc_db *db;
	struct sc_bus *bus;
};

/* Add the two routes. `h` is borrowed for the server's life. */
void sc_health_routes(struct sc_http_server *srv, struct sc_health *h);

#endif
