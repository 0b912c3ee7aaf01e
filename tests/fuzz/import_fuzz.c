/* import_fuzz.c: event files for `events import` (services/events/
 * import_parse.c), JSON and CSV, as a file on disk holds them (any bytes).
 *
 * Input: byte 0 picks the format and whether the file is parsed twice
 * into one batch (the second time every record is a duplicate of the
 * first); the rest is the file. Checks: every record the batch holds is
 * one the schema accepts (id charset and length, text fields valid UTF-8
 * within their limits and without control characters, real dates in
 * order), ids are unique in the batch, every problem names the file, and
 * a file parsed twice gives no new records. */
#include <stdbool.h>
#include <string.h>

#include "events/events.h"
#include "events/import.h"
#include "fuzz.h"
#include "validate.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool
text_ok(const char *s, size_t max, bool multiline)
{
	long n;

	if (s == NULL) {
		return false;
	}
	n = sc_utf8_length(s, strlen(s));
	if (n < 1 || (size_t)n > max) {
		return false;
	}
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 || c == 0x7f) &&
		    !(multiline && (c == '\n' || c == '\r' || c == '\t'))) {
			return false;
		}
	}
	return multiline || (s[0] != ' ' && s[strlen(s) - 1] != ' ');
}

static void
check_batch(const struct events_batch *b, const char *file)
{
	for (size_t i = 0; i < b->nrecords; i++) {
		const struct events_record *r = &b->records[i];
		size_t idlen = strlen(r->worldsdc_id);

		FUZZ_CHECK(idlen >= 1 && idlen <= EVENTS_WORLDSDC_ID_MAX);
		FUZZ_CHECK(strspn(r->worldsdc_id,
		                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                  "abcdefghijklmnopqrstuvwxyz0123456789_.-") ==
		           idlen);
		FUZZ_CHECK(text_ok(r->name, EVENTS_NAME_MAX, false));
		FUZZ_CHECK(text_ok(r->location, EVENTS_LOCATION_MAX, false));
		FUZZ_CHECK(
		    r->description == NULL ||
		    text_ok(r->description, EVENTS_DESCRIPTION_MAX, true));
		FUZZ_CHECK(events_valid_date(r->start_date, 10) &&
		           strlen(r->start_date) == 10);
		FUZZ_CHECK(events_valid_date(r->end_date, 10) &&
		           strlen(r->end_date) == 10);
		FUZZ_CHECK(strcmp(r->start_date, r->end_date) <= 0);
		FUZZ_CHECK(r->line >= 1 && r->file != NULL);
		for (size_t k = 0; k < i; k++) {
			FUZZ_CHECK(strcmp(b->records[k].worldsdc_id,
			                  r->worldsdc_id) != 0);
		}
	}
	for (size_t i = 0; i < b->nproblems; i++) {
		FUZZ_CHECK(strncmp(b->problems[i], file, strlen(file)) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events_batch b;
	enum events_format fmt;
	size_t first;

	if (size == 0) {
		return 0;
	}
	fmt = data[0] & 1 ? EVENTS_FORMAT_CSV : EVENTS_FORMAT_JSON;
	events_batch_init(&b);
	events_batch_parse(&b, "events.in", (const char *)data + 1, size - 1,
	                   fmt);
	check_batch(&b, "events.in");
	first = b.nrecords;
	if (data[0] & 2) {
		events_batch_parse(&b, "again.in", (const char *)data + 1,
		                   size - 1, fmt);
		FUZZ_CHECK(b.nrecords == first);
		check_batch(&b, "");
	}
	events_batch_release(&b);
	return 0;
}
