/* cursor.h: opaque pagination cursors. A list reply carries
 * {"items":[...],"nextCursor":"..."|null}; the cursor is the keyset of the
 * last item (e.g. "2026-03-12|42") in base64url, so clients cannot build or
 * depend on it and the server can change its contents. */
#ifndef SC_CURSOR_H
#define SC_CURSOR_H

#include <stddef.h>

/* base64url (no padding) of `key`. Caller owns; free with free(). */
char *sc_cursor_encode(const char *key);

/* Decode a cursor back to its key. On success returns the key (caller
 * owns; free with free()); NULL for anything malformed (not base64url,
 * longer than 256 bytes, containing NUL or control bytes). */
char *sc_cursor_decode(const char *cursor);

/* Split a decoded key at '|' into at most `max` parts (the key is modified
 * in place; parts borrow from it). Returns the number of parts, or -1 when
 * there are more than max. */
int sc_cursor_split(char *key, char **parts, int max);

#endif
