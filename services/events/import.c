/* import.c: `events import [--format json|csv] FILE...`: read and validate
 * every file first (import_parse.c); on any problem print them all and
 * write nothing; else upsert every event in one statement (one
 * transaction) keyed by worldsdc_id. Synchronous libpq: a command-line
 * tool, not the daemon's loop. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "events.h"
#include "import.h"

#define IMPORT_FILE_MAX       (64L * 1024 * 1024)
#define IMPORT_PROBLEMS_SHOWN 100

/* Upsert: a known worldsdc_id keeps its id and participant_count and gets
 * the file's name, location, dates and description. xmax = 0 marks a row
 * this statement inserted (an updated row carries our transaction id). */
static const char UPSERT_SQL[] =
    "WITH up AS ("
    " INSERT INTO events.events"
    " (worldsdc_id, name, location, start_date, end_date, description)"
    " SELECT r.worldsdc_id, r.name, r.location, r.start_date, r.end_date,"
    " r.description"
    " FROM json_to_recordset($1::json) AS r(worldsdc_id text, name text,"
    " location text, start_date date, end_date date, description text)"
    " ON CONFLICT (worldsdc_id) DO UPDATE SET name = EXCLUDED.name,"
    " location = EXCLUDED.location, start_date = EXCLUDED.start_date,"
    " end_date = EXCLUDED.end_date, description = EXCLUDED.description,"
    " updated_at = now()"
    " RETURNING (xmax = 0) AS inserted)"
    " SELECT count(*) AS total, count(*) FILTER (WHERE inserted) AS added"
    " FROM up";

static void
usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: events import [--format json|csv] FILE...\n"
	    "Loads events into the database named by SC_DATABASE_URL.\n"
	    "The format follows each file's extension (.json, .csv) unless\n"
	    "--format says. Every file is checked first: on any problem\n"
	    "nothing is written and the exit status is 1.\n");
}

/* The whole file, NUL-terminated. Caller owns; free with free(). NULL
 * after recording why in b. */
static char *
read_file(struct events_batch *b, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		events_batch_problem(b, path, 0, "cannot open: %s",
		                     strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 65536;
			buf = sc_realloc(buf, cap + 1);
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > (size_t)IMPORT_FILE_MAX) {
			events_batch_problem(b, path, 0, "larger than %ld MiB",
			                     IMPORT_FILE_MAX >> 20);
			goto err;
		}
		if (got == 0) {
			break;
		}
	}
	if (ferror(f)) {
		events_batch_problem(b, path, 0, "cannot read: %s",
		                     strerror(errno));
		goto err;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;

err:
	fclose(f);
	free(buf);
	return NULL;
}

/* The batch as the JSON array json_to_recordset reads. Caller owns;
 * release with json_object_put. */
static json_object *
batch_json(const struct events_batch *b)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < b->nrecords; i++) {
		const struct events_record *r = &b->records[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "worldsdc_id",
		                       json_object_new_string(r->worldsdc_id));
		json_object_object_add(o, "name",
		                       json_object_new_string(r->name));
		json_object_object_add(o, "location",
		                       json_object_new_string(r->location));
		json_object_object_add(o, "start_date",
		                       json_object_new_string(r->start_date));
		json_object_object_add(o, "end_date",
		                       json_object_new_string(r->end_date));
		json_object_object_add(
		    o, "description",
		    r->description != NULL
		        ? json_object_new_string(r->description)
		        : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Write the batch. 0 after printing the summary; 1 after printing why. */
static int
upsert(const struct events_batch *b, const char *url)
{
	PGconn *conn = PQconnectdb(url);
	PGresult *res = NULL;
	json_object *arr = NULL;
	int status = 1;

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr,
		        "events import: cannot connect to the database: %s",
		        PQerrorMessage(conn));
		goto out;
	}
	arr = batch_json(b);
	const char *params[] = {json_object_to_json_string_ext(
	    arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)};
	res = PQexecParams(conn, UPSERT_SQL, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr,
		        "events import: cannot write the events "
		        "(nothing was written): %s",
		        PQresultErrorMessage(res));
		goto out;
	}
	long total = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	long added = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	printf("imported %ld events (%ld new, %ld updated)\n", total, added,
	       total - added);
	status = 0;

out:
	PQclear(res);
	json_object_put(arr);
	PQfinish(conn);
	return status;
}

int
events_import_main(int argc, char **argv)
{
	struct events_batch b;
	enum events_format forced = EVENTS_FORMAT_JSON;
	bool has_format = false;
	int i, status = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *fmt = NULL;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--format") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr,
				        "events import: --format needs json or "
				        "csv\n");
				return 2;
			}
			fmt = argv[++i];
		} else if (strncmp(a, "--format=", 9) == 0) {
			fmt = a + 9;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "events import: unknown option '%s'\n",
			        a);
			usage(stderr);
			return 2;
		} else {
			break;
		}
		if (strcmp(fmt, "json") == 0) {
			forced = EVENTS_FORMAT_JSON;
		} else if (strcmp(fmt, "csv") == 0) {
			forced = EVENTS_FORMAT_CSV;
		} else {
			fprintf(stderr,
			        "events import: --format must be json or csv, "
			        "not '%s'\n",
			        fmt);
			return 2;
		}
		has_format = true;
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}

	events_batch_init(&b);
	for (; i < argc; i++) {
		enum events_format format = forced;
		size_t len;
		char *text;

		if (!has_format && !events_format_of(argv[i], &format)) {
			events_batch_problem(
			    &b, argv[i], 0,
			    "cannot tell the format from the name: "
			    "use --format json|csv");
			continue;
		}
		if ((text = read_file(&b, argv[i], &len)) == NULL) {
			continue;
		}
		events_batch_parse(&b, argv[i], text, len, format);
		free(text);
	}
	for (size_t p = 0; p < b.nproblems && p < IMPORT_PROBLEMS_SHOWN; p++) {
		fprintf(stderr, "%s\n", b.problems[p]);
	}
	if (b.nproblems > IMPORT_PROBLEMS_SHOWN) {
		fprintf(stderr, "... and %zu more problems\n",
		        b.nproblems - IMPORT_PROBLEMS_SHOWN);
	}
	if (b.nproblems > 0) {
		fprintf(stderr,
		        "events import: nothing imported (%zu problem%s)\n",
		        b.nproblems, b.nproblems == 1 ? "" : "s");
		goto out;
	}
	status =
	    upsert(&b, sc_config_str("SC_DATABASE_URL",
	                             "postgresql://sc_events@127.0.0.1:5432/"
	                             "spotlight"));
out:
	events_batch_release(&b);
	return status;
}
