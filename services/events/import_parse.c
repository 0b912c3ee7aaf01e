/* import_parse.c: event files (a JSON array, or RFC 4180 CSV with a header
 * row) to validated records, every problem named by file, line and field.
 * No database here: import.c writes what this accepted. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "events.h"
#include "import.h"
#include "validate.h"

enum field {
	F_WORLDSDC_ID,
	F_NAME,
	F_LOCATION,
	F_START_DATE,
	F_END_DATE,
	F_DESCRIPTION,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "worldsdcId", "name", "location", "startDate", "endDate", "description",
};

/* A field as read, before validation: borrowed bytes (not NUL-terminated,
 * may hold NULs) or a reason it has none. */
struct raw {
	const char *s;
	size_t len;
	bool present;    /* a value (for JSON: a string) is there */
	bool wrong_type; /* JSON: neither a string nor null */
};

/* ---- the batch ---------------------------------------------------------- */

void
events_batch_init(struct events_batch *b)
{
	memset(b, 0, sizeof *b);
}

static void
record_release(struct events_record *r)
{
	free(r->worldsdc_id);
	free(r->name);
	free(r->location);
	free(r->start_date);
	free(r->end_date);
	free(r->description);
}

void
events_batch_release(struct events_batch *b)
{
	for (size_t i = 0; i < b->nrecords; i++) {
		record_release(&b->records[i]);
	}
	for (size_t i = 0; i < b->nproblems; i++) {
		free(b->problems[i]);
	}
	for (size_t i = 0; i < b->nfiles; i++) {
		free(b->files[i]);
	}
	free(b->records);
	free(b->problems);
	free(b->files);
	free(b->index);
	memset(b, 0, sizeof *b);
}

bool
events_format_of(const char *path, enum events_format *out)
{
	size_t n = strlen(path);

	if (n >= 5 && strcasecmp(path + n - 5, ".json") == 0) {
		*out = EVENTS_FORMAT_JSON;
		return true;
	}
	if (n >= 4 && strcasecmp(path + n - 4, ".csv") == 0) {
		*out = EVENTS_FORMAT_CSV;
		return true;
	}
	return false;
}

void
events_batch_problem(struct events_batch *b, const char *file, long line,
                     const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (b->nproblems == b->problems_cap) {
		b->problems_cap = b->problems_cap ? 2 * b->problems_cap : 16;
		b->problems = sc_realloc(b->problems,
		                         b->problems_cap * sizeof *b->problems);
	}
	b->problems[b->nproblems++] =
	    line > 0 ? sc_asprintf("%s:%ld: %s", file, line, msg)
	             : sc_asprintf("%s: %s", file, msg);
}

static void
field_problem(struct events_batch *b, const char *file, long line, enum field f,
              const char *msg)
{
	events_batch_problem(b, file, line, "field '%s': %s", field_names[f],
	                     msg);
}

/* ---- duplicates: an open-addressing set of worldsdcIds ------------------ */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

/* The record already holding `id`, or NULL after adding record `rec`. */
static const struct events_record *
index_add(struct events_batch *b, const char *id, size_t rec)
{
	size_t mask, i;

	if (2 * (b->nrecords + 1) > b->index_cap) {
		size_t cap = b->index_cap ? 2 * b->index_cap : 64;
		free(b->index);
		b->index = sc_malloc(cap * sizeof *b->index);
		b->index_cap = cap;
		for (i = 0; i < cap; i++) {
			b->index[i] = SIZE_MAX;
		}
		mask = cap - 1;
		for (size_t r = 0; r < b->nrecords; r++) {
			i = hash_str(b->records[r].worldsdc_id) & mask;
			while (b->index[i] != SIZE_MAX) {
				i = (i + 1) & mask;
			}
			b->index[i] = r;
		}
	}
	mask = b->index_cap - 1;
	i = hash_str(id) & mask;
	while (b->index[i] != SIZE_MAX) {
		const struct events_record *r = &b->records[b->index[i]];
		if (strcmp(r->worldsdc_id, id) == 0) {
			return r;
		}
		i = (i + 1) & mask;
	}
	b->index[i] = rec;
	return NULL;
}

/* ---- validation --------------------------------------------------------- */

static bool
is_id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* A text field: valid UTF-8 of min..max characters, no control characters
 * (but \n, \r and \t when multiline), and for single-line fields no space
 * at either end. Records at most one problem. */
static bool
check_text(struct events_batch *b, const char *file, long line, enum field f,
           const struct raw *r, size_t max, bool multiline)
{
	char msg[64];
	long n = sc_utf8_length(r->s, r->len);

	if (n < 0) {
		field_problem(b, file, line, f, "must be valid UTF-8");
		return false;
	}
	for (size_t i = 0; i < r->len; i++) {
		unsigned char c = (unsigned char)r->s[i];
		bool allowed =
		    multiline && (c == '\n' || c == '\r' || c == '\t');
		if ((c < 0x20 || c == 0x7f) && !allowed) {
			field_problem(b, file, line, f,
			              "must not contain control characters");
			return false;
		}
	}
	if ((size_t)n > max) {
		snprintf(msg, sizeof msg, "must be at most %zu characters",
		         max);
		field_problem(b, file, line, f, msg);
		return false;
	}
	if (!multiline && r->len > 0 &&
	    (r->s[0] == ' ' || r->s[r->len - 1] == ' ')) {
		field_problem(b, file, line, f,
		              "must not start or end with a space");
		return false;
	}
	return true;
}

/* Validate one record's fields; when all are good and `ok` (nothing else
 * was wrong with it), append it. */
static void
record_add(struct events_batch *b, const char *file, long line,
           const struct raw raw[F_COUNT], bool ok)
{
	bool good[F_COUNT];

	for (int f = 0; f < F_COUNT; f++) {
		const struct raw *r = &raw[f];
		good[f] = false;
		if (r->wrong_type) {
			field_problem(b, file, line, f,
			              f == F_DESCRIPTION
			                  ? "must be a string or null"
			                  : "must be a string");
		} else if (f != F_DESCRIPTION && (!r->present || r->len == 0)) {
			field_problem(b, file, line, f, "is required");
		} else {
			good[f] = true;
		}
		ok &= good[f];
	}

	const struct raw *id = &raw[F_WORLDSDC_ID];
	if (good[F_WORLDSDC_ID]) {
		bool id_ok = id->len <= EVENTS_WORLDSDC_ID_MAX;
		for (size_t i = 0; id_ok && i < id->len; i++) {
			id_ok = is_id_char(id->s[i]);
		}
		if (!id_ok) {
			field_problem(
			    b, file, line, F_WORLDSDC_ID,
			    "must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
			ok = false;
		}
	}
	if (good[F_NAME]) {
		ok &= check_text(b, file, line, F_NAME, &raw[F_NAME],
		                 EVENTS_NAME_MAX, false);
	}
	if (good[F_LOCATION]) {
		ok &= check_text(b, file, line, F_LOCATION, &raw[F_LOCATION],
		                 EVENTS_LOCATION_MAX, false);
	}
	for (int f = F_START_DATE; f <= F_END_DATE; f++) {
		if (good[f] && !events_valid_date(raw[f].s, raw[f].len)) {
			field_problem(b, file, line, f,
			              "must be a date YYYY-MM-DD");
			good[f] = ok = false;
		}
	}
	/* Both are YYYY-MM-DD: byte order is date order. */
	if (good[F_START_DATE] && good[F_END_DATE] &&
	    memcmp(raw[F_END_DATE].s, raw[F_START_DATE].s, 10) < 0) {
		field_problem(b, file, line, F_END_DATE,
		              "must not be before startDate");
		ok = false;
	}
	const struct raw *d = &raw[F_DESCRIPTION];
	if (good[F_DESCRIPTION] && d->present && d->len > 0) {
		ok &= check_text(b, file, line, F_DESCRIPTION, d,
		                 EVENTS_DESCRIPTION_MAX, true);
	}
	if (!ok) {
		return;
	}

	/* Valid: no NULs inside (control characters), so copies are whole. */
	if (b->nrecords == b->records_cap) {
		b->records_cap = b->records_cap ? 2 * b->records_cap : 64;
		b->records =
		    sc_realloc(b->records, b->records_cap * sizeof *b->records);
	}
	struct events_record *rec = &b->records[b->nrecords];
	memset(rec, 0, sizeof *rec);
	rec->worldsdc_id = sc_strndup(id->s, id->len);
	const struct events_record *dup =
	    index_add(b, rec->worldsdc_id, b->nrecords);
	if (dup != NULL) {
		if (strcmp(dup->file, file) == 0) {
			events_batch_problem(
			    b, file, line,
			    "field 'worldsdcId': '%s' is already on "
			    "line %ld",
			    rec->worldsdc_id, dup->line);
		} else {
			events_batch_problem(
			    b, file, line,
			    "field 'worldsdcId': '%s' is already in "
			    "%s:%ld",
			    rec->worldsdc_id, dup->file, dup->line);
		}
		free(rec->worldsdc_id);
		return;
	}
	rec->name = sc_strndup(raw[F_NAME].s, raw[F_NAME].len);
	rec->location = sc_strndup(raw[F_LOCATION].s, raw[F_LOCATION].len);
	rec->start_date = sc_strndup(raw[F_START_DATE].s, 10);
	rec->end_date = sc_strndup(raw[F_END_DATE].s, 10);
	if (d->present && d->len > 0) {
		rec->description = sc_strndup(d->s, d->len);
	}
	rec->file = b->files[b->nfiles - 1];
	rec->line = line;
	b->nrecords++;
}

static int
field_of(const char *name, size_t len)
{
	for (int f = 0; f < F_COUNT; f++) {
		if (strlen(field_names[f]) == len &&
		    memcmp(field_names[f], name, len) == 0) {
			return f;
		}
	}
	return -1;
}

/* A name for messages: printable, at most 40 bytes. */
static void
printable(char *out, size_t cap, const char *s, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		if (j >= 40) {
			out[j++] = '.';
			out[j++] = '.';
			out[j++] = '.';
			break;
		}
	}
	out[j] = '\0';
}

/* ---- JSON --------------------------------------------------------------- */

/* Skip JSON whitespace from *pos, counting lines. */
static void
skip_ws(const char *t, size_t len, size_t *pos, long *line)
{
	while (*pos < len) {
		char c = t[*pos];
		if (c == '\n') {
			(*line)++;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		(*pos)++;
	}
}

static long
count_lines(const char *t, size_t from, size_t to)
{
	long n = 0;

	for (size_t i = from; i < to; i++) {
		n += t[i] == '\n';
	}
	return n;
}

static void
json_entry(struct events_batch *b, const char *file, long line, size_t entry,
           json_object *obj)
{
	struct raw raw[F_COUNT] = {{0}};
	bool ok = true;

	if (!json_object_is_type(obj, json_type_object)) {
		events_batch_problem(b, file, line,
		                     "entry %zu must be an object", entry);
		return;
	}
	json_object_object_foreach(obj, key, val)
	{
		int f = field_of(key, strlen(key));
		if (f < 0) {
			char name[48];
			printable(name, sizeof name, key, strlen(key));
			events_batch_problem(b, file, line,
			                     "unknown field '%s'", name);
			ok = false;
			continue;
		}
		if (val == NULL) {
			continue; /* null: as if absent */
		}
		if (!json_object_is_type(val, json_type_string)) {
			raw[f].wrong_type = true;
			continue;
		}
		raw[f].s = json_object_get_string(val);
		raw[f].len = (size_t)json_object_get_string_len(val);
		raw[f].present = true;
	}
	record_add(b, file, line, raw, ok);
}

static void
parse_json(struct events_batch *b, const char *file, const char *t, size_t len)
{
	size_t pos = 0, entry = 0;
	long line = 1;
	struct json_tokener *tok;

	skip_ws(t, len, &pos, &line);
	if (pos == len) {
		events_batch_problem(b, file, 1, "the file is empty");
		return;
	}
	if (t[pos] != '[') {
		events_batch_problem(b, file, line,
		                     "must be a JSON array of event objects");
		return;
	}
	pos++;
	skip_ws(t, len, &pos, &line);
	if (pos < len && t[pos] == ']') {
		pos++;
		goto tail;
	}
	if ((tok = json_tokener_new()) == NULL) {
		sc_oom();
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	                                JSON_TOKENER_ALLOW_TRAILING_CHARS);
	for (;;) {
		skip_ws(t, len, &pos, &line);
		entry++;
		if (pos == len) {
			events_batch_problem(
			    b, file, line, "the array is not closed with ']'");
			break;
		}
		long start = line;
		size_t rest = len - pos;
		json_tokener_reset(tok);
		json_object *obj = json_tokener_parse_ex(
		    tok, t + pos, rest > INT32_MAX ? INT32_MAX : (int)rest);
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		size_t used = json_tokener_get_parse_end(tok);
		if (obj == NULL) {
			if (jerr == json_tokener_continue) {
				events_batch_problem(
				    b, file, start,
				    "entry %zu is cut off by the end of "
				    "the file",
				    entry);
			} else {
				long at =
				    line + count_lines(t, pos, pos + used);
				events_batch_problem(
				    b, file, at, "invalid JSON: %s",
				    json_tokener_error_desc(jerr));
			}
			break;
		}
		line += count_lines(t, pos, pos + used);
		pos += used;
		json_entry(b, file, start, entry, obj);
		json_object_put(obj);

		skip_ws(t, len, &pos, &line);
		if (pos == len) {
			events_batch_problem(
			    b, file, line, "the array is not closed with ']'");
			break;
		}
		if (t[pos] == ',') {
			pos++;
			continue;
		}
		if (t[pos] == ']') {
			pos++;
			json_tokener_free(tok);
			goto tail;
		}
		events_batch_problem(b, file, line,
		                     "invalid JSON: expected ',' or "
		                     "']' after entry %zu",
		                     entry);
		break;
	}
	json_tokener_free(tok);
	return;

tail:
	skip_ws(t, len, &pos, &line);
	if (pos < len) {
		events_batch_problem(b, file, line,
		                     "invalid JSON: data after the array");
	}
}

/* ---- CSV (RFC 4180) ----------------------------------------------------- */

struct csv_field {
	size_t off, len; /* in the record buffer */
};

struct csv {
	const char *t;
	size_t len, pos;
	long line;
	char *buf; /* the current record's unquoted bytes */
	size_t buf_len, buf_cap;
	struct csv_field *fields;
	size_t nfields, fields_cap;
};

static void
csv_put(struct csv *c, char ch)
{
	if (c->buf_len == c->buf_cap) {
		c->buf_cap = c->buf_cap ? 2 * c->buf_cap : 256;
		c->buf = sc_realloc(c->buf, c->buf_cap);
	}
	c->buf[c->buf_len++] = ch;
}

static void
csv_field_start(struct csv *c)
{
	if (c->nfields == c->fields_cap) {
		c->fields_cap = c->fields_cap ? 2 * c->fields_cap : 8;
		c->fields =
		    sc_realloc(c->fields, c->fields_cap * sizeof *c->fields);
	}
	c->fields[c->nfields].off = c->buf_len;
	c->fields[c->nfields].len = 0;
	c->nfields++;
}

/* Field i's bytes in the record buffer. The buffer is still NULL while
 * every field read so far was empty (",\n"), and NULL + 0 is undefined. */
static const char *
csv_field_text(const struct csv *c, size_t i)
{
	return c->buf != NULL ? c->buf + c->fields[i].off : "";
}

/* At a record's end (line break or end of file)? Consumes the break. */
static bool
csv_eol(struct csv *c)
{
	if (c->pos == c->len) {
		return true;
	}
	if (c->t[c->pos] == '\n') {
		c->pos++;
		c->line++;
		return true;
	}
	if (c->t[c->pos] == '\r' && c->pos + 1 < c->len &&
	    c->t[c->pos + 1] == '\n') {
		c->pos += 2;
		c->line++;
		return true;
	}
	return false;
}

/* Read the next record into c->fields. 1: a record (*line where it
 * starts); 0: end of file; -1: a syntax error (recorded). Lines holding
 * nothing are skipped. */
static int
csv_record(struct csv *c, struct events_batch *b, const char *file, long *line)
{
	while (c->pos < c->len && csv_eol(c)) {
		/* an empty line */
	}
	if (c->pos == c->len) {
		return 0;
	}
	*line = c->line;
	c->buf_len = 0;
	c->nfields = 0;
	for (;;) {
		csv_field_start(c);
		struct csv_field *f = &c->fields[c->nfields - 1];
		if (c->pos < c->len && c->t[c->pos] == '"') {
			long qline = c->line;
			c->pos++;
			for (;;) {
				if (c->pos == c->len) {
					events_batch_problem(
					    b, file, qline,
					    "field %zu: the quoted field is "
					    "not closed",
					    c->nfields);
					return -1;
				}
				char ch = c->t[c->pos];
				if (ch == '"') {
					if (c->pos + 1 < c->len &&
					    c->t[c->pos + 1] == '"') {
						csv_put(c, '"');
						c->pos += 2;
						continue;
					}
					c->pos++;
					break;
				}
				if (ch == '\n') {
					c->line++;
				}
				csv_put(c, ch);
				c->pos++;
			}
			f = &c->fields[c->nfields - 1];
			f->len = c->buf_len - f->off;
			if (csv_eol(c)) {
				return 1;
			}
			if (c->t[c->pos] != ',') {
				events_batch_problem(
				    b, file, c->line,
				    "field %zu: unexpected character "
				    "after the closing quote",
				    c->nfields);
				return -1;
			}
			c->pos++;
			continue;
		}
		while (c->pos < c->len) {
			char ch = c->t[c->pos];
			if (ch == ',' || ch == '\n' ||
			    (ch == '\r' && c->pos + 1 < c->len &&
			     c->t[c->pos + 1] == '\n')) {
				break;
			}
			if (ch == '"') {
				events_batch_problem(
				    b, file, c->line,
				    "field %zu: a quote inside an "
				    "unquoted field (quote the whole "
				    "field and double the quote)",
				    c->nfields);
				return -1;
			}
			csv_put(c, ch);
			c->pos++;
		}
		f = &c->fields[c->nfields - 1];
		f->len = c->buf_len - f->off;
		if (csv_eol(c)) {
			return 1;
		}
		c->pos++; /* the comma */
	}
}

static void
parse_csv(struct events_batch *b, const char *file, const char *t, size_t len)
{
	struct csv c = {.t = t, .len = len, .line = 1};
	int column[F_COUNT]; /* field -> column index, or -1 */
	size_t ncolumns;
	long line;
	int rc;
	bool header_ok = true;

	rc = csv_record(&c, b, file, &line);
	if (rc == 0) {
		events_batch_problem(b, file, 1, "the file is empty");
		goto out;
	}
	if (rc < 0) {
		goto out;
	}
	for (int f = 0; f < F_COUNT; f++) {
		column[f] = -1;
	}
	ncolumns = c.nfields;
	for (size_t i = 0; i < c.nfields; i++) {
		const char *name = csv_field_text(&c, i);
		size_t nlen = c.fields[i].len;
		int f = field_of(name, nlen);
		char shown[48];

		printable(shown, sizeof shown, name, nlen);
		if (f < 0) {
			events_batch_problem(b, file, line,
			                     "unknown column '%s'", shown);
			header_ok = false;
		} else if (column[f] >= 0) {
			events_batch_problem(
			    b, file, line, "column '%s' appears twice", shown);
			header_ok = false;
		} else {
			column[f] = (int)i;
		}
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (column[f] < 0 && f != F_DESCRIPTION) {
			events_batch_problem(b, file, line,
			                     "missing column '%s'",
			                     field_names[f]);
			header_ok = false;
		}
	}
	if (!header_ok) {
		goto out;
	}

	while ((rc = csv_record(&c, b, file, &line)) == 1) {
		struct raw raw[F_COUNT] = {{0}};

		if (c.nfields != ncolumns) {
			events_batch_problem(
			    b, file, line, "has %zu fields, the header has %zu",
			    c.nfields, ncolumns);
			continue;
		}
		for (int f = 0; f < F_COUNT; f++) {
			if (column[f] >= 0) {
				size_t k = (size_t)column[f];
				raw[f].s = csv_field_text(&c, k);
				raw[f].len = c.fields[k].len;
				raw[f].present = true;
			}
		}
		record_add(b, file, line, raw, true);
	}

out:
	free(c.buf);
	free(c.fields);
}

/* ---- entry -------------------------------------------------------------- */

void
events_batch_parse(struct events_batch *b, const char *file, const char *text,
                   size_t len, enum events_format format)
{
	b->files = sc_realloc(b->files, (b->nfiles + 1) * sizeof *b->files);
	b->files[b->nfiles++] = sc_strdup(file);
	file = b->files[b->nfiles - 1];

	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (format == EVENTS_FORMAT_JSON) {
		parse_json(b, file, text, len);
	} else {
		parse_csv(b, file, text, len);
	}
}
