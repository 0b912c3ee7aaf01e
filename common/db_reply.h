/* db_reply.h: the HTTP answer for a database outcome that is not a result,
 * the same in every daemon: 503 while the database is unreachable or the
 * pool is full, 500 (logged with the request id, the SQL error never shown
 * to the client) for an SQL error. */
#ifndef SC_DB_REPLY_H
#define SC_DB_REPLY_H

#include <libpq-fe.h>

struct sc_http_req;

/* Reply for err (an sc_db callback's error) and res (may be NULL). */
void sc_db_reply_error(struct sc_http_req *req, int err, const PGresult *res);

#endif
