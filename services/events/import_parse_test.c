/* import_parse_test.c: event files (JSON and CSV) to records, and every
 * kind of bad input reported as "FILE:LINE: ..." with nothing accepted. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "testing.h"

static struct events_batch b;

static void
setup(void)
{
	events_batch_init(&b);
}

static void
teardown(void)
{
	events_batch_release(&b);
}

static void
parse(const char *file, const char *text, enum events_format format)
{
	events_batch_parse(&b, file, text, strlen(text), format);
}

static void
json(const char *text)
{
	parse("e.json", text, EVENTS_FORMAT_JSON);
}

static void
csv(const char *text)
{
	parse("e.csv", text, EVENTS_FORMAT_CSV);
}

/* All the batch's problems, one per line, for failure messages. */
static const char *
problems(void)
{
	static char all[4096];
	size_t n = 0;

	all[0] = '\0';
	for (size_t i = 0; i < b.nproblems && n < sizeof all; i++) {
		n += (size_t)snprintf(all + n, sizeof all - n, "\n  %s",
		                      b.problems[i]);
	}
	return b.nproblems ? all : " (none)";
}

/* Exactly these problems, in this order. */
static void
expect_problems(size_t n, ...)
{
	va_list ap;

	ck_assert_msg(b.nproblems == n, "want %zu problems, got:%s", n,
	              problems());
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		ck_assert_msg(strcmp(b.problems[i], want) == 0,
		              "problem %zu: want '%s', got:%s", i, want,
		              problems());
	}
	va_end(ap);
}

#define GOOD_A                                                                 \
	"{\"worldsdcId\": \"wsdc-2027-a\", \"name\": \"Swing A\","             \
	" \"location\": \"Paris, France\", \"startDate\": \"2027-03-19\","     \
	" \"endDate\": \"2027-03-21\"}"

/* ---- JSON --------------------------------------------------------------- */

START_TEST(json_good_file_gives_records_with_their_lines)
{
	json("[\n"
	     "  " GOOD_A ",\n"
	     "  {\n"
	     "    \"worldsdcId\": \"wsdc-2027-b\",\n"
	     "    \"name\": \"Swing B\",\n"
	     "    \"location\": \"São Paulo, Brazil\",\n"
	     "    \"startDate\": \"2027-06-10\",\n"
	     "    \"endDate\": \"2027-06-10\",\n"
	     "    \"description\": \"Two lines\\nof text\"\n"
	     "  },\n"
	     "  {\"worldsdcId\": \"c\", \"name\": \"C\", \"location\": \"L\","
	     " \"startDate\": \"2027-01-01\", \"endDate\": \"2027-01-02\","
	     " \"description\": null}\n"
	     "]\n");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 3);
	ck_assert_str_eq(b.records[0].worldsdc_id, "wsdc-2027-a");
	ck_assert_str_eq(b.records[0].name, "Swing A");
	ck_assert_str_eq(b.records[0].location, "Paris, France");
	ck_assert_str_eq(b.records[0].start_date, "2027-03-19");
	ck_assert_str_eq(b.records[0].end_date, "2027-03-21");
	ck_assert_ptr_null(b.records[0].description);
	ck_assert_int_eq(b.records[0].line, 2);
	ck_assert_str_eq(b.records[1].location, "São Paulo, Brazil");
	ck_assert_str_eq(b.records[1].description, "Two lines\nof text");
	ck_assert_int_eq(b.records[1].line, 3);
	ck_assert_ptr_null(b.records[2].description);
	ck_assert_int_eq(b.records[2].line, 11);
	ck_assert_str_eq(b.records[2].file, "e.json");
}
END_TEST

START_TEST(json_bom_at_the_start_is_skipped)
{
	json("\xEF\xBB\xBF[" GOOD_A "]");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 1);
}
END_TEST

START_TEST(json_empty_array_is_no_events_and_no_problem)
{
	json(" [ ]\n");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

START_TEST(json_empty_or_blank_file_is_a_problem)
{
	json("");
	json("\xEF\xBB\xBF  \n\n");
	expect_problems(2, "e.json:1: the file is empty",
	                "e.json:1: the file is empty");
}
END_TEST

START_TEST(json_must_be_an_array_of_objects)
{
	json("\n" GOOD_A);
	json("[\n 1,\n \"x\",\n " GOOD_A "\n]");
	expect_problems(3, "e.json:2: must be a JSON array of event objects",
	                "e.json:2: entry 1 must be an object",
	                "e.json:3: entry 2 must be an object");
	/* The good entry after the bad ones is still read. */
	ck_assert_uint_eq(b.nrecords, 1);
}
END_TEST

START_TEST(json_syntax_error_names_its_line)
{
	json("[\n" GOOD_A ",\n{\"worldsdcId\": \"x\",\n \"name\": }\n]");
	ck_assert_msg(b.nproblems == 1, "got:%s", problems());
	ck_assert_msg(strncmp(b.problems[0], "e.json:4: invalid JSON: ", 24) ==
	                  0,
	              "got:%s", problems());
}
END_TEST

START_TEST(json_unclosed_cut_off_trailing_comma_and_trailing_data)
{
	/* Each in its own file: the same entry is no duplicate. */
	parse("e1.json", "[" GOOD_A "\n", EVENTS_FORMAT_JSON);
	parse("e2.json", "[\n{\"worldsdcId\": \"x\"}, {\"worldsdcId\": \"x\"",
	      EVENTS_FORMAT_JSON);
	parse("e3.json", "[" GOOD_A ",\n]", EVENTS_FORMAT_JSON);
	parse("e4.json", "[{}]\n\nextra", EVENTS_FORMAT_JSON);
	parse("e5.json", "[{} {}]", EVENTS_FORMAT_JSON);
	/* Entries read before the syntax error are still checked ({} has
	 * every field missing): only the syntax problems are looked at. */
	const char *want[] = {
	    "e1.json:2: the array is not closed with ']'",
	    "e2.json:2: entry 2 is cut off by the end of the file",
	    "e3.json:2: invalid JSON: ",
	    "e4.json:3: invalid JSON: data after the array",
	    "e5.json:1: invalid JSON: expected ',' or ']' after entry 1",
	};
	size_t found = 0;
	for (size_t i = 0; i < b.nproblems; i++) {
		if (strstr(b.problems[i], "field '") != NULL) {
			continue;
		}
		ck_assert_msg(found < 5, "extra problem:%s", problems());
		ck_assert_msg(strncmp(b.problems[i], want[found],
		                      strlen(want[found])) == 0,
		              "want '%s', got:%s", want[found], problems());
		found++;
	}
	ck_assert_msg(found == 5, "got:%s", problems());
	ck_assert_uint_eq(b.nrecords, 1); /* e1's entry */
}
END_TEST

START_TEST(json_unknown_missing_and_mistyped_fields)
{
	json("[\n"
	     "{\"worldsdcId\": \"a\", \"name\": \"A\", \"location\": \"L\","
	     " \"startDate\": \"2027-01-01\", \"endDate\": \"2027-01-01\","
	     " \"city\": \"x\"},\n"
	     "{\"worldsdcId\": \"b\", \"location\": \"L\","
	     " \"startDate\": \"2027-01-01\"},\n"
	     "{\"worldsdcId\": 5, \"name\": \"B\", \"location\": [],"
	     " \"startDate\": \"2027-01-01\", \"endDate\": null,"
	     " \"description\": 3}\n"
	     "]");
	expect_problems(
	    7, "e.json:2: unknown field 'city'",
	    "e.json:3: field 'name': is required",
	    "e.json:3: field 'endDate': is required",
	    "e.json:4: field 'worldsdcId': must be a string",
	    "e.json:4: field 'location': must be a string",
	    "e.json:4: field 'endDate': is required",
	    "e.json:4: field 'description': must be a string or null");
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

START_TEST(json_bad_dates_and_end_before_start)
{
	json("[\n"
	     "{\"worldsdcId\": \"a\", \"name\": \"A\", \"location\": \"L\","
	     " \"startDate\": \"2027-02-30\", \"endDate\": \"27-03-01\"},\n"
	     "{\"worldsdcId\": \"b\", \"name\": \"B\", \"location\": \"L\","
	     " \"startDate\": \"2027-03-02\", \"endDate\": \"2027-03-01\"}\n"
	     "]");
	expect_problems(
	    3, "e.json:2: field 'startDate': must be a date YYYY-MM-DD",
	    "e.json:2: field 'endDate': must be a date YYYY-MM-DD",
	    "e.json:3: field 'endDate': must not be before startDate");
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

/* One record with `field` set to the JSON string literal `value`. */
static void
json_with(const char *field, const char *value)
{
	char text[16384];
	const char *id = strcmp(field, "worldsdcId") ? "\"ok\"" : value;
	const char *name = strcmp(field, "name") ? "\"N\"" : value;
	const char *loc = strcmp(field, "location") ? "\"L\"" : value;
	const char *desc = strcmp(field, "description") ? "null" : value;

	snprintf(text, sizeof text,
	         "[{\"worldsdcId\": %s, \"name\": %s, \"location\": %s,"
	         " \"startDate\": \"2027-01-01\", \"endDate\": \"2027-01-01\","
	         " \"description\": %s}]",
	         id, name, loc, desc);
	events_batch_release(&b);
	events_batch_init(&b);
	json(text);
}

/* A JSON string literal of n copies of `unit`. Caller frees. */
static char *
repeated(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 3);

	s[0] = '"';
	for (size_t i = 0; i < n; i++) {
		memcpy(s + 1 + i * u, unit, u);
	}
	s[1 + u * n] = '"';
	s[2 + u * n] = '\0';
	return s;
}

START_TEST(worldsdc_id_is_1_to_64_safe_characters)
{
	char *s = repeated("a", 64);
	json_with("worldsdcId", s);
	expect_problems(0);
	free(s);

	static const char *const bad[] = {"\"wsdc 2027\"", "\"wsdc/2027\"",
	                                  "\"wsdc-é\"", "\"a'b\""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_with("worldsdcId", bad[i]);
		expect_problems(1,
		                "e.json:1: field 'worldsdcId': must be 1 to 64 "
		                "characters of A-Z a-z 0-9 _ . -");
	}
	s = repeated("a", 65);
	json_with("worldsdcId", s);
	expect_problems(1, "e.json:1: field 'worldsdcId': must be 1 to 64 "
	                   "characters of A-Z a-z 0-9 _ . -");
	free(s);
	json_with("worldsdcId", "\"\"");
	expect_problems(1, "e.json:1: field 'worldsdcId': is required");
}
END_TEST

START_TEST(name_and_location_count_characters_not_bytes)
{
	char *s = repeated("é", 200); /* 400 bytes, 200 characters */
	json_with("name", s);
	expect_problems(0);
	free(s);
	s = repeated("é", 201);
	json_with("location", s);
	expect_problems(1, "e.json:1: field 'location': must be at most 200 "
	                   "characters");
	free(s);
}
END_TEST

START_TEST(name_rejects_edge_spaces_and_control_characters)
{
	json_with("name", "\" Swing\"");
	expect_problems(1, "e.json:1: field 'name': must not start or end with "
	                   "a space");
	json_with("name", "\"Swing \"");
	expect_problems(1, "e.json:1: field 'name': must not start or end with "
	                   "a space");
	json_with("name", "\"Swing\\nDiego\"");
	expect_problems(1, "e.json:1: field 'name': must not contain control "
	                   "characters");
	json_with("location", "\"Paris\\u0000x\"");
	expect_problems(1, "e.json:1: field 'location': must not contain "
	                   "control characters");
}
END_TEST

START_TEST(description_is_multiline_and_at_most_5000_characters)
{
	char *s = repeated("x\\r\\n\\t", 1250); /* 5000 characters */
	json_with("description", s);
	expect_problems(0);
	ck_assert_uint_eq(strlen(b.records[0].description), 5000);
	free(s);
	s = repeated("x", 5001);
	json_with("description", s);
	expect_problems(1, "e.json:1: field 'description': must be at most "
	                   "5000 characters");
	free(s);
	json_with("description", "\"bell\\u0007\"");
	expect_problems(1, "e.json:1: field 'description': must not contain "
	                   "control characters");
	/* Empty is the same as absent. */
	json_with("description", "\"\"");
	expect_problems(0);
	ck_assert_ptr_null(b.records[0].description);
}
END_TEST

START_TEST(duplicate_worldsdc_ids_in_a_file_are_named_with_both_lines)
{
	json("[\n" GOOD_A ",\n"
	     "{\"worldsdcId\": \"other\", \"name\": \"O\", \"location\": \"L\","
	     " \"startDate\": \"2027-01-01\", \"endDate\": "
	     "\"2027-01-01\"},\n" GOOD_A "\n]");
	expect_problems(1, "e.json:4: field 'worldsdcId': 'wsdc-2027-a' is "
	                   "already on line 2");
	ck_assert_uint_eq(b.nrecords, 2);
}
END_TEST

START_TEST(duplicates_across_files_of_a_batch_are_problems_too)
{
	json("[" GOOD_A "]");
	parse("more.csv",
	      "worldsdcId,name,location,startDate,endDate\n"
	      "wsdc-2027-a,A,L,2027-01-01,2027-01-02\n",
	      EVENTS_FORMAT_CSV);
	expect_problems(1, "more.csv:2: field 'worldsdcId': 'wsdc-2027-a' is "
	                   "already in e.json:1");
}
END_TEST

START_TEST(many_records_are_all_checked_for_duplicates)
{
	size_t cap = 1 << 20, n = 0;
	char *text = malloc(cap);

	n += (size_t)snprintf(text + n, cap - n,
	                      "worldsdcId,name,location,startDate,endDate\n");
	for (int i = 0; i < 3000; i++) {
		n += (size_t)snprintf(text + n, cap - n,
		                      "id-%d,N,L,2027-01-01,2027-01-01\n", i);
	}
	n += (size_t)snprintf(text + n, cap - n,
	                      "id-1234,N,L,2027-01-01,2027-01-01\n");
	csv(text);
	free(text);
	expect_problems(1, "e.csv:3002: field 'worldsdcId': 'id-1234' is "
	                   "already on line 1236");
	ck_assert_uint_eq(b.nrecords, 3000);
}
END_TEST

/* ---- CSV ---------------------------------------------------------------- */

START_TEST(csv_good_file_in_any_column_order)
{
	csv("name,worldsdcId,startDate,endDate,location,description\n"
	    "Swing A,wsdc-a,2027-03-19,2027-03-21,\"Paris, France\",\n"
	    "Swing B,wsdc-b,2027-06-10,2027-06-13,Lyon,Short text\n");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 2);
	ck_assert_str_eq(b.records[0].worldsdc_id, "wsdc-a");
	ck_assert_str_eq(b.records[0].name, "Swing A");
	ck_assert_str_eq(b.records[0].location, "Paris, France");
	ck_assert_str_eq(b.records[0].start_date, "2027-03-19");
	ck_assert_str_eq(b.records[0].end_date, "2027-03-21");
	ck_assert_ptr_null(b.records[0].description); /* empty: none */
	ck_assert_int_eq(b.records[0].line, 2);
	ck_assert_str_eq(b.records[1].description, "Short text");
	ck_assert_int_eq(b.records[1].line, 3);
}
END_TEST

START_TEST(csv_crlf_no_final_newline_and_no_description_column)
{
	csv("worldsdcId,name,location,startDate,endDate\r\n"
	    "a,A,L,2027-01-01,2027-01-01\r\n"
	    "b,B,L,2027-01-01,2027-01-01");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 2);
	ck_assert_str_eq(b.records[0].end_date, "2027-01-01");
	ck_assert_str_eq(b.records[1].end_date, "2027-01-01");
	ck_assert_ptr_null(b.records[1].description);
	ck_assert_int_eq(b.records[1].line, 3);
}
END_TEST

START_TEST(csv_quoted_fields_keep_commas_quotes_newlines_and_spaces)
{
	csv("worldsdcId,name,location,startDate,endDate,description\n"
	    "a,\"The \"\"Big\"\" One\",\"Austin, TX\",2027-01-01,2027-01-02,"
	    "\"  line one,\r\nline two  \"\n"
	    "\"b\",B,L,2027-01-01,2027-01-01,\"\"\n"
	    "c,C,L,2027-01-01,2027-01-01,\"\"\"\"\n");
	expect_problems(0);
	ck_assert_uint_eq(b.nrecords, 3);
	ck_assert_str_eq(b.records[0].name, "The \"Big\" One");
	ck_assert_str_eq(b.records[0].location, "Austin, TX");
	ck_assert_str_eq(b.records[0].description, "  line one,\r\nline two  ");
	ck_assert_str_eq(b.records[1].worldsdc_id, "b");
	ck_assert_ptr_null(b.records[1].description);
	/* Lines count the line break inside the quoted field. */
	ck_assert_int_eq(b.records[1].line, 4);
	ck_assert_str_eq(b.records[2].description, "\"");
	ck_assert_int_eq(b.records[2].line, 5);
}
END_TEST

START_TEST(csv_unquoted_spaces_are_data_not_trimmed)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a, A,L,2027-01-01,2027-01-01\n"
	    "b,B,L, 2027-01-01,2027-01-01\n");
	expect_problems(
	    2,
	    "e.csv:2: field 'name': must not start or end with "
	    "a space",
	    "e.csv:3: field 'startDate': must be a date YYYY-MM-DD");
}
END_TEST

START_TEST(csv_bom_and_blank_lines_are_skipped)
{
	csv("\xEF\xBB\xBFworldsdcId,name,location,startDate,endDate\n"
	    "\n"
	    "a,A,L,2027-01-01,2027-01-01\n"
	    "\r\n"
	    "b,B,L,2027-01-01,2027-02-30\n"
	    "\n");
	expect_problems(1, "e.csv:5: field 'endDate': must be a date "
	                   "YYYY-MM-DD");
	ck_assert_uint_eq(b.nrecords, 1);
	ck_assert_int_eq(b.records[0].line, 3);
}
END_TEST

START_TEST(csv_empty_file_is_a_problem_and_a_header_alone_is_not)
{
	csv("");
	csv("\xEF\xBB\xBF");
	csv("worldsdcId,name,location,startDate,endDate\n");
	expect_problems(2, "e.csv:1: the file is empty",
	                "e.csv:1: the file is empty");
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

START_TEST(csv_unknown_duplicate_and_missing_columns)
{
	csv("worldsdcId,name,city,name,startDate\n"
	    "a,A,X,A,2027-01-01\n");
	expect_problems(4, "e.csv:1: unknown column 'city'",
	                "e.csv:1: column 'name' appears twice",
	                "e.csv:1: missing column 'location'",
	                "e.csv:1: missing column 'endDate'");
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

/* Found by tests/fuzz/import_fuzz (corpus csv-empty-header-fields): a
 * header of empty names read its bytes at NULL + 0, undefined behaviour
 * that UBSan stops on. */
START_TEST(csv_header_of_empty_names_is_a_problem_not_a_crash)
{
	csv(",\n");
	expect_problems(7, "e.csv:1: unknown column ''",
	                "e.csv:1: unknown column ''",
	                "e.csv:1: missing column 'worldsdcId'",
	                "e.csv:1: missing column 'name'",
	                "e.csv:1: missing column 'location'",
	                "e.csv:1: missing column 'startDate'",
	                "e.csv:1: missing column 'endDate'");
	ck_assert_uint_eq(b.nrecords, 0);
}
END_TEST

START_TEST(csv_header_names_are_exact)
{
	csv("WorldsdcId,name,location,startDate,endDate\n");
	expect_problems(2, "e.csv:1: unknown column 'WorldsdcId'",
	                "e.csv:1: missing column 'worldsdcId'");
}
END_TEST

START_TEST(csv_rows_need_as_many_fields_as_the_header)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a,A,L,2027-01-01\n"
	    "b,B,L,2027-01-01,2027-01-01,extra\n"
	    "c,C,L,2027-01-01,2027-01-01\n");
	expect_problems(2, "e.csv:2: has 4 fields, the header has 5",
	                "e.csv:3: has 6 fields, the header has 5");
	ck_assert_uint_eq(b.nrecords, 1);
}
END_TEST

START_TEST(csv_empty_required_fields_are_missing)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    ",\"\",L,2027-01-01,\n");
	expect_problems(3, "e.csv:2: field 'worldsdcId': is required",
	                "e.csv:2: field 'name': is required",
	                "e.csv:2: field 'endDate': is required");
}
END_TEST

START_TEST(csv_unclosed_quote_names_the_line_it_opened_on)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a,A,L,2027-01-01,2027-01-01\n"
	    "b,\"B is\nnot closed,L,2027-01-01,2027-01-01\n");
	expect_problems(1, "e.csv:3: field 2: the quoted field is not closed");
}
END_TEST

START_TEST(csv_stray_quotes_are_syntax_errors)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a,\"A\"x,L,2027-01-01,2027-01-01\n");
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a,A \"quoted\",L,2027-01-01,2027-01-01\n");
	expect_problems(2,
	                "e.csv:2: field 2: unexpected character after the "
	                "closing quote",
	                "e.csv:2: field 2: a quote inside an unquoted field "
	                "(quote the whole field and double the quote)");
}
END_TEST

START_TEST(csv_invalid_utf8_and_lone_carriage_returns_are_rejected)
{
	csv("worldsdcId,name,location,startDate,endDate\n"
	    "a,Caf\xC3,L,2027-01-01,2027-01-01\n"
	    "b,B,Li\rlle,2027-01-01,2027-01-01\n"
	    "c,C,\xFF,2027-01-01,2027-01-01\n");
	expect_problems(3, "e.csv:2: field 'name': must be valid UTF-8",
	                "e.csv:3: field 'location': must not contain control "
	                "characters",
	                "e.csv:4: field 'location': must be valid UTF-8");
}
END_TEST

START_TEST(csv_nul_bytes_are_control_characters)
{
	static const char text[] =
	    "worldsdcId,name,location,startDate,endDate\n"
	    "a,A\0B,L,2027-01-01,2027-01-01\n";

	events_batch_parse(&b, "e.csv", text, sizeof text - 1,
	                   EVENTS_FORMAT_CSV);
	expect_problems(1, "e.csv:2: field 'name': must not contain control "
	                   "characters");
}
END_TEST

START_TEST(format_follows_the_extension)
{
	enum events_format f;

	ck_assert(events_format_of("seed/events.json", &f));
	ck_assert_int_eq(f, EVENTS_FORMAT_JSON);
	ck_assert(events_format_of("EVENTS.CSV", &f));
	ck_assert_int_eq(f, EVENTS_FORMAT_CSV);
	ck_assert(!events_format_of("events.txt", &f));
	ck_assert(!events_format_of("json", &f));
	ck_assert(!events_format_of("events.json.gz", &f));
}
END_TEST

START_TEST(the_seed_file_is_valid)
{
	FILE *f = fopen("services/events/seed/events.json", "rb");
	char *text = malloc(1 << 20);
	size_t n;

	ck_assert_msg(f != NULL, "run from the repository's root");
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	events_batch_parse(&b, "events.json", text, n, EVENTS_FORMAT_JSON);
	free(text);
	expect_problems(0);
	ck_assert_uint_ge(b.nrecords, 30);
}
END_TEST

static Suite *
import_parse_suite(void)
{
	Suite *s = suite_create("events_import_parse");
	TCase *j = tcase_create("json");
	TCase *v = tcase_create("validation");
	TCase *c = tcase_create("csv");

	tcase_add_checked_fixture(j, setup, teardown);
	tcase_add_test(j, json_good_file_gives_records_with_their_lines);
	tcase_add_test(j, json_bom_at_the_start_is_skipped);
	tcase_add_test(j, json_empty_array_is_no_events_and_no_problem);
	tcase_add_test(j, json_empty_or_blank_file_is_a_problem);
	tcase_add_test(j, json_must_be_an_array_of_objects);
	tcase_add_test(j, json_syntax_error_names_its_line);
	tcase_add_test(j,
	               json_unclosed_cut_off_trailing_comma_and_trailing_data);
	tcase_add_test(j, json_unknown_missing_and_mistyped_fields);
	tcase_add_test(j, the_seed_file_is_valid);
	suite_add_tcase(s, j);

	tcase_add_checked_fixture(v, setup, teardown);
	tcase_add_test(v, json_bad_dates_and_end_before_start);
	tcase_add_test(v, worldsdc_id_is_1_to_64_safe_characters);
	tcase_add_test(v, name_and_location_count_characters_not_bytes);
	tcase_add_test(v, name_rejects_edge_spaces_and_control_characters);
	tcase_add_test(v, description_is_multiline_and_at_most_5000_characters);
	tcase_add_test(
	    v, duplicate_worldsdc_ids_in_a_file_are_named_with_both_lines);
	tcase_add_test(v, duplicates_across_files_of_a_batch_are_problems_too);
	tcase_add_test(v, many_records_are_all_checked_for_duplicates);
	tcase_add_test(v, format_follows_the_extension);
	suite_add_tcase(s, v);

	tcase_add_checked_fixture(c, setup, teardown);
	tcase_add_test(c, csv_good_file_in_any_column_order);
	tcase_add_test(c, csv_crlf_no_final_newline_and_no_description_column);
	tcase_add_test(
	    c, csv_quoted_fields_keep_commas_quotes_newlines_and_spaces);
	tcase_add_test(c, csv_unquoted_spaces_are_data_not_trimmed);
	tcase_add_test(c, csv_bom_and_blank_lines_are_skipped);
	tcase_add_test(c,
	               csv_empty_file_is_a_problem_and_a_header_alone_is_not);
	tcase_add_test(c, csv_unknown_duplicate_and_missing_columns);
	tcase_add_test(c, csv_header_of_empty_names_is_a_problem_not_a_crash);
	tcase_add_test(c, csv_header_names_are_exact);
	tcase_add_test(c, csv_rows_need_as_many_fields_as_the_header);
	tcase_add_test(c, csv_empty_required_fields_are_missing);
	tcase_add_test(c, csv_unclosed_quote_names_the_line_it_opened_on);
	tcase_add_test(c, csv_stray_quotes_are_syntax_errors);
	tcase_add_test(c,
	               csv_invalid_utf8_and_lone_carriage_returns_are_rejected);
	tcase_add_test(c, csv_nul_bytes_are_control_characters);
	suite_add_tcase(s, c);
	return s;
}

SC_TEST_MAIN(import_parse_suite)
