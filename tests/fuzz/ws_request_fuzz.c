/* ws_request_fuzz.c: HTTP request heads as the Socket.IO listener reads
 * them (common/ws_request.c): parse, look headers and query parameters up,
 * check the WebSocket upgrade. The input is the head; a missing final
 * blank line is refused by the parser as it would be by the listener.
 *
 * Checks: on success the fields are consistent (method a token, target
 * and path in origin form, path without '?', names lowercased, values
 * trimmed, at most 64 headers); query values fit their buffers; an
 * accepted upgrade has a 24-character key; release is always safe. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "ws.h"
#include "ws_request.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_query(const struct sc_ws_request *req, const char *name)
{
	static const size_t sizes[] = {0, 1, 2, 8, 64, 1024};
	char out[1024];

	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		int rc;

		memset(out, 'X', sizeof out);
		rc = sc_ws_request_query(req, name, out, sizes[i]);
		FUZZ_CHECK(rc == SC_OK || rc == SC_ENOTFOUND ||
		           rc == SC_ETOOBIG || rc == SC_EINVAL);
		if (rc == SC_OK) {
			size_t n = strnlen(out, sizes[i]);

			FUZZ_CHECK(n < sizes[i]); /* NUL-terminated inside */
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_ws_request req;
	const char *key = NULL;
	int rc;

	rc = sc_ws_request_parse(&req, (const char *)data, size);
	FUZZ_CHECK(rc == SC_OK || rc == SC_EINVAL || rc == SC_ETOOBIG);
	if (rc != SC_OK) {
		sc_ws_request_release(&req); /* safe after a failure */
		return 0;
	}
	FUZZ_CHECK(req.method != NULL && req.method[0] != '\0');
	FUZZ_CHECK(req.target != NULL && req.target[0] == '/');
	FUZZ_CHECK(req.path != NULL && req.path[0] == '/' &&
	           strchr(req.path, '?') == NULL);
	FUZZ_CHECK(req.query != NULL);
	FUZZ_CHECK(req.version_minor == 0 || req.version_minor == 1);
	FUZZ_CHECK(req.nheaders <= SC_WS_REQUEST_MAX_HEADERS);
	FUZZ_CHECK(!(req.chunked && req.content_length >= 0));
	for (size_t i = 0; i < req.nheaders; i++) {
		const char *n = req.headers[i].name, *v = req.headers[i].value;
		size_t vl = strlen(v);

		FUZZ_CHECK(n[0] != '\0');
		for (const char *p = n; *p != '\0'; p++) {
			FUZZ_CHECK(!isupper((unsigned char)*p));
		}
		FUZZ_CHECK(vl == 0 || (v[0] != ' ' && v[0] != '\t' &&
		                       v[vl - 1] != ' ' && v[vl - 1] != '\t'));
		/* lookups find the first header of that name, in any case */
		FUZZ_CHECK(sc_ws_request_header(&req, n) != NULL);
	}
	check_query(&req, "EIO");
	check_query(&req, "transport");
	check_query(&req, "sid");
	check_query(&req, "");
	sc_ws_request_has_token(&req, "connection", "upgrade");
	sc_ws_request_has_token(&req, "upgrade", "websocket");
	rc = sc_ws_request_check_upgrade(&req, &key);
	FUZZ_CHECK(rc == 0 || rc == 400 || rc == 426);
	FUZZ_CHECK((rc == 0) == (key != NULL));
	if (rc == 0) {
		char accept[SC_WS_ACCEPT_LEN + 1];

		FUZZ_CHECK(strlen(key) == 24 && req.upgrade);
		sc_ws_accept_key(key, accept);
		FUZZ_CHECK(strlen(accept) == SC_WS_ACCEPT_LEN);
	}
	sc_ws_request_release(&req);
	return 0;
}
