/* json_out.h: write JSON text straight into a growable buffer, for the hot
 * list replies that would otherwise build a json-c tree only to print it.
 * The text is byte for byte what json-c 0.16 prints with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (what
 * sc_http_reply_json sends): no spaces; '"', '\\', \b \f \n \r \t escaped
 * by name, other bytes below 0x20 as \u00xx (lowercase hex), everything
 * else ('/', DEL, UTF-8) as is; integers in decimal; true, false, null.
 *
 * Usage: init, then begin/end objects and arrays, key before each member's
 * value, values; the commas come by themselves. The caller writes a
 * well-formed document: the writer does not check nesting.
 */
#ifndef SC_JSON_OUT_H
#define SC_JSON_OUT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sc_json_out {
	char *buf;  /* the text so far, NUL-terminated once anything is in */
	size_t len; /* bytes of text, without the NUL */
	size_t cap;
	bool comma; /* the next value or key needs a ',' first */
};

/* Start an empty writer. Release with sc_json_out_release(). */
void sc_json_out_init(struct sc_json_out *o);

/* Free the buffer; the writer may be initialised again. */
void sc_json_out_release(struct sc_json_out *o);

void sc_json_out_begin_object(struct sc_json_out *o);
void sc_json_out_end_object(struct sc_json_out *o);
void sc_json_out_begin_array(struct sc_json_out *o);
void sc_json_out_end_array(struct sc_json_out *o);

/* A member's key (escaped like a string); its value comes next. key is
 * borrowed for the call. */
void sc_json_out_key(struct sc_json_out *o, const char *key);

/* A string value (escaped); NULL writes null. s borrowed for the call. */
void sc_json_out_string(struct sc_json_out *o, const char *s);

void sc_json_out_int(struct sc_json_out *o, int64_t v);
void sc_json_out_bool(struct sc_json_out *o, bool v);
void sc_json_out_null(struct sc_json_out *o);

/* A value already in JSON text (a number printed with a chosen precision,
 * say), written as is: the caller vouches that it is one JSON value. */
void sc_json_out_raw(struct sc_json_out *o, const char *text, size_t len);

/* Any json-c value, printed by json-c itself with the flags above; NULL
 * writes null. v is borrowed (json-c keeps its printed text inside v until
 * v changes or is freed). */
void sc_json_out_json(struct sc_json_out *o, json_object *v);

/* The text written so far ("" when nothing yet). Borrowed, valid until the
 * next write or the release. */
const char *sc_json_out_text(const struct sc_json_out *o);

/* Its length in bytes. */
size_t sc_json_out_len(const struct sc_json_out *o);

#endif
