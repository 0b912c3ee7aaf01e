/* db_reply.c: database failures as HTTP answers. */
#include "db_reply.h"

#include "error.h"
#include "http.h"
#include "log.h"

void
sc_db_reply_error(struct sc_http_req *req, int err, const PGresult *res)
{
	if (err == SC_EDB || err == SC_EINVAL) {
		sc_log_error(sc_http_req_id(req), "query failed: %s",
		             res != NULL ? PQresultErrorMessage(res)
		                         : "bad query");
		sc_http_reply_err(req, SC_EINTERNAL, NULL);
		return;
	}
	sc_http_reply_err(req, err == SC_EAGAIN ? SC_EAGAIN : SC_EUNAVAIL,
	                  "the database is unavailable, try again");
}
