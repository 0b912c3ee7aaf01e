/* import.h: reading and validating event files for `events import`, apart
 * from the database so it can be tested alone. A batch collects the
 * records of one or more files and every problem found in them, each as
 * one line "FILE:LINE: field 'startDate': must be a date YYYY-MM-DD". A
 * batch without problems holds only records the schema accepts
 * (migrations/events/0001_init.sql): the same limits are checked here. */
#ifndef EVENTS_IMPORT_H
#define EVENTS_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

/* One event to upsert. Strings owned by the batch. */
struct events_record {
	char *worldsdc_id;
	char *name;
	char *location;
	char *start_date; /* YYYY-MM-DD */
	char *end_date;
	char *description; /* NULL when absent, null or empty */
	const char *file;  /* borrowed from the batch */
	long line;         /* where the record starts (1-based) */
};

enum events_format { EVENTS_FORMAT_JSON, EVENTS_FORMAT_CSV };

struct events_batch {
	struct events_record *records;
	size_t nrecords, records_cap;
	char **problems; /* each "FILE:LINE: ..." without a newline */
	size_t nproblems, problems_cap;
	char **files; /* copies of the file names the records point at */
	size_t nfiles;
	size_t *index; /* private: worldsdcId -> record, for duplicates */
	size_t index_cap;
};

/* Field limits, as in the schema's CHECKs. */
#define EVENTS_WORLDSDC_ID_MAX 64
#define EVENTS_NAME_MAX        200
#define EVENTS_LOCATION_MAX    200
#define EVENTS_DESCRIPTION_MAX 5000

void events_batch_init(struct events_batch *b);
void events_batch_release(struct events_batch *b);

/* The format a file name implies: true with *out set for a name ending in
 * .json or .csv (any case), false otherwise. */
bool events_format_of(const char *path, enum events_format *out);

/* Parse the `len` bytes of `text` (need not be NUL-terminated; a UTF-8 BOM
 * at the start is skipped) as a file named `file` (copied) in `format`,
 * validate every record and append the records and problems to b. JSON: an
 * array of objects with the keys worldsdcId, name, location, startDate,
 * endDate and optionally description (a string or null). CSV: RFC 4180 with
 * a header row naming those columns in any order (description optional).
 * Duplicate worldsdcIds within this file and against files parsed before
 * into the same batch are problems too. */
void events_batch_parse(struct events_batch *b, const char *file,
                        const char *text, size_t len,
                        enum events_format format);

/* Record a problem (printf-style, without "FILE:LINE: "; line 0 leaves
 * the line out). */
void events_batch_problem(struct events_batch *b, const char *file, long line,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
