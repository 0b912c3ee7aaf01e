/* error.h: the one error enum of the suite and its mapping to HTTP and to
 * the machine codes that appear in JSON error bodies and bus replies. */
#ifndef SC_ERROR_H
#define SC_ERROR_H

enum sc_err {
	SC_OK = 0,
	SC_ENOMEM,      /* out of memory (we abort instead, see sc_oom) */
	SC_EINVAL,      /* bad input: 400 bad_request */
	SC_EVALIDATION, /* input failed validation: 422 validation_failed */
	SC_EAUTH,       /* missing or bad credentials: 401 unauthorized */
	SC_EFORBIDDEN,  /* authenticated but not allowed: 403 forbidden */
	SC_ENOTFOUND,   /* 404 not_found */
	SC_ECONFLICT,   /* 409 conflict */
	SC_ETOOBIG,     /* 413 payload_too_large */
	SC_EMEDIATYPE,  /* 415 unsupported_media_type */
	SC_ERATELIMIT,  /* 429 rate_limited */
	SC_EAGAIN,      /* overloaded, try again: 503 overloaded */
	SC_EDB,         /* database error: 500 internal or 503 when down */
	SC_EUNAVAIL,    /* a dependency (database, bus peer) is down: 503 */
	SC_ETIMEDOUT,   /* a dependency did not answer in time: 503 */
	SC_EBUS,        /* malformed bus message: 502 bad_gateway */
	SC_EINTERNAL,   /* a bug or an unexpected failure: 500 */
	SC_EMETHOD,     /* 405 method_not_allowed */
	SC_ERR_COUNT
};

/* The HTTP status for an error; SC_OK maps to 200. */
int sc_err_http_status(int err);

/* The stable machine code for an error ("not_found"), used in JSON bodies
 * and bus replies. Never NULL; borrowed, static. */
const char *sc_err_code(int err);

/* The error whose machine code is `code`; SC_EINTERNAL if unknown. */
int sc_err_from_code(const char *code);

/* A short human description ("not found"). Borrowed, static. */
const char *sc_err_str(int err);

/* Out of memory is the one documented abort: logs and aborts. */
_Noreturn void sc_oom(void);

#endif
