/* db.h: PostgreSQL through libpq without blocking the event loop.
 *
 * A small pool of non-blocking connections watched by libevent. Queries are
 * parameterised only (text format). A query waits in a bounded FIFO when
 * every connection is busy. When the server goes away, each connection
 * fails what it had in flight with SC_EUNAVAIL and reconnects by itself
 * with backoff; while no connection is up, new queries fail at once with
 * SC_EUNAVAIL (the caller answers 503) instead of hanging.
 *
 * Transactions: sc_db_acquire() checks out one connection; run "BEGIN",
 * queries, "COMMIT" on it with sc_db_conn_query(), then sc_db_release().
 * Releasing a connection with an open or failed transaction rolls it back,
 * so an error path that just releases writes nothing half-way.
 *
 * Prepared statements, transparently: each connection prepares a SQL text
 * the first time it runs it (PQsendPrepare, parameter types inferred by the
 * server) and afterwards only executes it, so PostgreSQL parses and plans
 * it once per connection rather than once per query. The cache goes by the
 * text (not the pointer), so build SQL from a fixed set of shapes, never
 * with values in it. Details callers may notice:
 *  - Up to 256 statements per connection; past that the least recently used
 *    is deallocated. Statements without parameters that start with BEGIN,
 *    START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE,
 *    DISCARD or DEALLOCATE always run unnamed.
 *  - A failed PREPARE (syntax error, missing table) is the query's SC_EDB
 *    error; nothing is cached, so the text is tried afresh next time.
 *  - If a statement is gone from the server (26000, e.g. after DISCARD ALL)
 *    or a schema change altered its result type (0A000, "cached plan must
 *    not change result type"), the query is prepared and run once more,
 *    invisibly. Inside a transaction that retry is impossible (the error
 *    already aborted it), so the query fails with that SC_EDB; the next use
 *    prepares afresh. Inside a transaction nothing is deallocated: a stale
 *    statement, or a new text with the cache full, runs unnamed there.
 *  - After a few executions PostgreSQL may switch to a generic plan (see
 *    plan_cache_mode): a "$n IS NULL OR ..." condition then cannot pick an
 *    index by the value; prefer one text per shape.
 *  - Behind PgBouncer the pool must be in session mode (or 1.21+ with
 *    max_prepared_statements): names are per server connection.
 *
 * All callbacks run on the loop thread.
 */
#ifndef SC_DB_H
#define SC_DB_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

struct sc_db;
struct sc_db_conn;

/* err is SC_OK with res a PGRES_COMMAND_OK/PGRES_TUPLES_OK result; SC_EDB
 * with res the error result (inspect PG_DIAG_SQLSTATE, see the helpers
 * below); SC_EUNAVAIL with res NULL when the database is unreachable, the
 * connection broke, or the pool is shutting down; SC_EAGAIN with res NULL
 * when the wait queue is full. res is borrowed, valid during the callback
 * only. */
typedef void (*sc_db_result_cb)(int err, PGresult *res, void *arg);

/* err SC_OK with conn checked out (borrowed until sc_db_release), or
 * SC_EUNAVAIL / SC_EAGAIN with conn NULL. */
typedef void (*sc_db_conn_cb)(int err, struct sc_db_conn *conn, void *arg);

/* A pool of `size` connections to `conninfo` (a libpq URI or key=value
 * string; borrowed during the call). Connections start at once in the
 * background; queries before the first one is up wait up to the connect
 * timeout. Caller owns; free with sc_db_free(). NULL on bad conninfo
 * (logged). */
struct sc_db *sc_db_new(struct event_base *base, const char *conninfo,
                        int size);

/* Fail everything queued and in flight with SC_EUNAVAIL (callbacks run
 * before this returns), close, free. Not from inside one of this pool's
 * callbacks; connections still checked out must not be used or released
 * afterwards. */
void sc_db_free(struct sc_db *db);

/* Run one statement on any free connection. params: nparams NUL-terminated
 * strings or NULL for SQL NULL, borrowed during the call (copied). The
 * callback always runs exactly once, never before this function returns. */
void sc_db_query(struct sc_db *db, const char *sql, int nparams,
                 const char *const *params, sc_db_result_cb cb, void *arg);

/* Check out a connection for several statements (a transaction). The
 * callback always runs exactly once, never before this returns. */
void sc_db_acquire(struct sc_db *db, sc_db_conn_cb cb, void *arg);

/* Run one statement on a checked-out connection; one at a time (the next
 * from the callback). Callback exactly once, never before this returns. */
void sc_db_conn_query(struct sc_db_conn *conn, const char *sql, int nparams,
                      const char *const *params, sc_db_result_cb cb, void *arg);

/* Give the connection back; an open transaction is rolled back first. */
void sc_db_release(struct sc_db_conn *conn);

/* True when at least one connection is up (for /ready). */
bool sc_db_ready(struct sc_db *db);

/* Counters for metrics: connections up, in use, queued queries. */
struct sc_db_stats {
	int size, up, busy, queued;
	unsigned long queries, errors;
};
void sc_db_stats(struct sc_db *db, struct sc_db_stats *out);

/* ---- notifications (LISTEN) ------------------------------------------ */

/* What a listener hears: UP when LISTEN is in effect, after the first
 * connect and after every reconnect (notifications sent while it was down
 * are lost, so treat UP as "anything may have changed"); DOWN when the
 * listening connection broke (until the next UP nothing is heard);
 * NOTIFY for each notification on the channel, payload borrowed for the
 * call ("" when none). */
enum sc_db_listen_event {
	SC_DB_LISTEN_UP,
	SC_DB_LISTEN_DOWN,
	SC_DB_LISTEN_NOTIFY,
};
typedef void (*sc_db_listen_cb)(enum sc_db_listen_event ev, const char *payload,
                                void *arg);

/* LISTEN on `channel` (a lower-case identifier: [a-z_][a-z0-9_]*, at most
 * 63 bytes; borrowed during the call) over a connection of its own, next
 * to the pool's `size` (so queries never wait behind it), reconnected
 * with the pool's backoff. One listener per pool. Callbacks run on the
 * loop thread, never before this returns; not after sc_db_free. Returns
 * SC_OK, SC_EINVAL (bad channel or a listener already set). */
int sc_db_listen(struct sc_db *db, const char *channel, sc_db_listen_cb cb,
                 void *arg);

/* ---- result helpers ------------------------------------------------- */

/* SQLSTATE of an error result ("23505"), or "" for none. Borrowed. */
const char *sc_db_sqlstate(const PGresult *res);

/* True when res is a unique violation (23505); when constraint is not NULL,
 * only for that constraint name. */
bool sc_db_is_unique_violation(const PGresult *res, const char *constraint);

/* Field value helpers (row, column by name). NULL / 0 / false for SQL NULL
 * or a missing column. Strings are borrowed from res. */
const char *sc_db_str(const PGresult *res, int row, const char *col);
long long sc_db_int(const PGresult *res, int row, const char *col);
bool sc_db_bool(const PGresult *res, int row, const char *col);
bool sc_db_isnull(const PGresult *res, int row, const char *col);

#endif
