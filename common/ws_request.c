/* ws_request.c: HTTP/1.1 request heads for the Socket.IO listener, parsed in
 * place in a private copy (RFC 9112 syntax, strict: CRLF line ends, no
 * obsolete line folding, no control characters). */
#include "ws_request.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"

static bool
is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	if (isalnum(c)) {
		return true;
	}
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Next line of buf[*pos..end): NUL-terminates it in place (at the CR) and
 * returns its start, or NULL when the line does not end with CRLF. */
static char *
next_line(char *buf, size_t end, size_t *pos)
{
	char *start = buf + *pos;
	char *lf = memchr(start, '\n', end - *pos);

	if (lf == NULL || lf == start || lf[-1] != '\r') {
		return NULL;
	}
	lf[-1] = '\0';
	*pos = (size_t)(lf + 1 - buf);
	return start;
}

static int
parse_request_line(struct sc_ws_request *req, char *line)
{
	char *sp1 = strchr(line, ' ');
	char *sp2;
	char *q;

	if (sp1 == NULL || sp1 == line) {
		return SC_EINVAL;
	}
	*sp1 = '\0';
	for (char *p = line; *p != '\0'; p++) {
		if (!is_tchar((unsigned char)*p)) {
			return SC_EINVAL;
		}
	}
	req->method = line;
	req->target = sp1 + 1;
	sp2 = strchr(req->target, ' ');
	if (sp2 == NULL || sp2 == req->target) {
		return SC_EINVAL;
	}
	*sp2 = '\0';
	if (req->target[0] != '/') {
		return SC_EINVAL; /* origin-form only */
	}
	for (const char *p = req->target; *p != '\0'; p++) {
		if (!is_target_char((unsigned char)*p)) {
			return SC_EINVAL;
		}
	}
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0) {
		req->version_minor = 1;
	} else if (strcmp(sp2 + 1, "HTTP/1.0") == 0) {
		req->version_minor = 0;
	} else {
		return SC_EINVAL;
	}
	/* the path gets its own copy in parse(), after the head */
	q = strchr(req->target, '?');
	req->path = req->target;
	req->query = q != NULL ? q + 1 : "";
	return SC_OK;
}

static int
parse_content_length(const char *v, int64_t *out)
{
	int64_t n = 0;

	if (*v == '\0') {
		return SC_EINVAL;
	}
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10) {
			return SC_EINVAL;
		}
		n = n * 10 + (*v - '0');
	}
	*out = n;
	return SC_OK;
}

static bool
token_in_list(const char *list, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = list;

	while (*p != '\0') {
		const char *end;
		const char *e;

		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		end = p;
		while (*end != '\0' && *end != ',') {
			end++;
		}
		e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
			e--;
		}
		if ((size_t)(e - p) == tlen &&
		    strncasecmp(p, token, tlen) == 0) {
			return true;
		}
		p = end;
	}
	return false;
}

static int
derive(struct sc_ws_request *req)
{
	bool close = false, keep = false, conn_upgrade = false;
	const char *te = NULL;

	req->content_length = -1;
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *n = req->headers[i].name;
		const char *v = req->headers[i].value;

		if (strcmp(n, "content-length") == 0) {
			int64_t cl;

			if (parse_content_length(v, &cl) != SC_OK) {
				return SC_EINVAL;
			}
			if (req->content_length >= 0 &&
			    req->content_length != cl) {
				return SC_EINVAL;
			}
			req->content_length = cl;
		} else if (strcmp(n, "transfer-encoding") == 0) {
			if (te != NULL) {
				return SC_EINVAL;
			}
			te = v;
		} else if (strcmp(n, "connection") == 0) {
			close = close || token_in_list(v, "close");
			keep = keep || token_in_list(v, "keep-alive");
			conn_upgrade =
			    conn_upgrade || token_in_list(v, "upgrade");
		}
	}
	if (te != NULL) {
		if (strcasecmp(te, "chunked") != 0 ||
		    req->content_length >= 0) {
			return SC_EINVAL;
		}
		req->chunked = true;
	}
	req->keep_alive = req->version_minor == 1 ? !close : keep && !close;
	req->upgrade = conn_upgrade &&
	               sc_ws_request_has_token(req, "upgrade", "websocket");
	return SC_OK;
}

int
sc_ws_request_parse(struct sc_ws_request *req, const char *head, size_t len)
{
	size_t pos = 0;
	char *line;
	char *q;
	int rc;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(head, '\0', len) != NULL) {
		return SC_EINVAL;
	}
	/* The head, a NUL, then room for a copy of the path. */
	req->buf = sc_malloc(2 * len + 2);
	memcpy(req->buf, head, len);
	req->buf[len] = '\0';
	if ((line = next_line(req->buf, len, &pos)) == NULL) {
		return SC_EINVAL;
	}
	if ((rc = parse_request_line(req, line)) != SC_OK) {
		return rc;
	}
	q = strchr(req->target, '?');
	if (q != NULL) {
		char *path = req->buf + len + 1;

		memcpy(path, req->target, (size_t)(q - req->target));
		path[q - req->target] = '\0';
		req->path = path;
	}
	for (;;) {
		char *colon, *v, *e;

		if ((line = next_line(req->buf, len, &pos)) == NULL) {
			return SC_EINVAL;
		}
		if (*line == '\0') {
			break; /* the blank line */
		}
		if (req->nheaders == SC_WS_REQUEST_MAX_HEADERS) {
			return SC_ETOOBIG;
		}
		colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			return SC_EINVAL; /* also catches obs-fold lines */
		}
		*colon = '\0';
		for (char *p = line; *p != '\0'; p++) {
			if (!is_tchar((unsigned char)*p)) {
				return SC_EINVAL;
			}
			*p = (char)tolower((unsigned char)*p);
		}
		v = colon + 1;
		while (*v == ' ' || *v == '\t') {
			v++;
		}
		for (const char *p = v; *p != '\0'; p++) {
			if (!is_value_char((unsigned char)*p)) {
				return SC_EINVAL;
			}
		}
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
			*--e = '\0';
		}
		req->headers[req->nheaders].name = line;
		req->headers[req->nheaders].value = v;
		req->nheaders++;
	}
	return derive(req);
}

void
sc_ws_request_release(struct sc_ws_request *req)
{
	free(req->buf);
	memset(req, 0, sizeof(*req));
}

const char *
sc_ws_request_header(const struct sc_ws_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0) {
			return req->headers[i].value;
		}
	}
	return NULL;
}

bool
sc_ws_request_has_token(const struct sc_ws_request *req, const char *name,
                        const char *token)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0 &&
		    token_in_list(req->headers[i].value, token)) {
			return true;
		}
	}
	return false;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
sc_ws_request_query(const struct sc_ws_request *req, const char *name,
                    char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	if (p == NULL) {
		return SC_ENOTFOUND;
	}
	while (*p != '\0') {
		const char *end = strchr(p, '&');
		const char *eq;

		if (end == NULL) {
			end = p + strlen(p);
		}
		eq = memchr(p, '=', (size_t)(end - p));
		if ((eq != NULL ? (size_t)(eq - p) : (size_t)(end - p)) ==
		        nlen &&
		    memcmp(p, name, nlen) == 0) {
			size_t o = 0;
			const char *v = eq != NULL ? eq + 1 : end;

			for (; v < end; v++) {
				char c = *v;

				if (c == '%') {
					int hi, lo;

					if (end - v < 3 ||
					    (hi = hexval(v[1])) < 0 ||
					    (lo = hexval(v[2])) < 0) {
						return SC_EINVAL;
					}
					c = (char)(hi << 4 | lo);
					v += 2;
					if (c == '\0') {
						return SC_EINVAL;
					}
				} else if (c == '+') {
					c = ' ';
				}
				if (o + 1 >= outlen) {
					return SC_ETOOBIG;
				}
				out[o++] = c;
			}
			if (outlen == 0) {
				return SC_ETOOBIG;
			}
			out[o] = '\0';
			return SC_OK;
		}
		p = *end == '&' ? end + 1 : end;
	}
	return SC_ENOTFOUND;
}

/* Length of the bytes a base64 string decodes to, or -1 if it is not
 * canonical padded base64. */
static long
base64_decoded_len(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n == 0 || n % 4 != 0) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '=') {
			if (i < n - 2) {
				return -1;
			}
			pad++;
		} else if (pad > 0 || !(isalnum(c) || c == '+' || c == '/')) {
			return -1;
		}
	}
	return (long)(n / 4 * 3 - pad);
}

int
sc_ws_request_check_upgrade(const struct sc_ws_request *req, const char **key)
{
	const char *k = sc_ws_request_header(req, "sec-websocket-key");
	const char *ver = sc_ws_request_header(req, "sec-websocket-version");

	*key = NULL;
	if (strcmp(req->method, "GET") != 0 || req->version_minor != 1 ||
	    !req->upgrade || k == NULL || base64_decoded_len(k) != 16) {
		return 400;
	}
	if (ver == NULL || strcmp(ver, "13") != 0) {
		return 426;
	}
	*key = k;
	return 0;
}
