/* json_out_test.c: what the writer prints is byte for byte what json-c
 * prints (PLAIN | NOSLASHESCAPE) for the same values, for every byte, random
 * strings and random documents. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "testing.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A small fixed-seed generator, so a failure repeats. */
static uint64_t rng_state;

static uint32_t
rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

/* Append the UTF-8 of code point cp at p; returns the bytes written. */
static size_t
utf8_put(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random NUL-free string of up to max_chars characters, mixing the bytes
 * that need escapes, ASCII, valid UTF-8 and stray high bytes. Caller owns;
 * free with free(). */
static char *
random_string(size_t max_chars)
{
	static const char special[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f";
	size_t n = rng() % (max_chars + 1);
	char *s = malloc(4 * n + 1), *p = s;

	for (size_t i = 0; i < n; i++) {
		switch (rng() % 5) {
		case 0:
			*p++ = special[rng() % (sizeof special - 1)];
			break;
		case 1:
			*p++ = (char)(1 + rng() % 0x1f);
			break;
		case 2:
			*p++ = (char)(0x20 + rng() % 0x5f);
			break;
		case 3: {
			uint32_t cp = 0x80 + rng() % 0x10ff80;
			if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xe9;
			}
			p += utf8_put(p, cp);
			break;
		}
		default:
			*p++ = (char)(0x80 + rng() % 0x80);
			break;
		}
	}
	*p = '\0';
	return s;
}

/* The writer's text for one string value equals json-c's. */
static void
assert_string_same(const char *s)
{
	struct sc_json_out o;
	json_object *j = json_object_new_string(s);

	sc_json_out_init(&o);
	sc_json_out_string(&o, s);
	ck_assert_str_eq(sc_json_out_text(&o),
	                 json_object_to_json_string_ext(j, FLAGS));
	ck_assert_uint_eq(sc_json_out_len(&o), strlen(sc_json_out_text(&o)));
	sc_json_out_release(&o);
	json_object_put(j);
}

START_TEST(raw_text_goes_in_as_is_with_its_commas)
{
	struct sc_json_out o;

	sc_json_out_init(&o);
	sc_json_out_begin_object(&o);
	sc_json_out_key(&o, "ms");
	sc_json_out_raw(&o, "0.250", 5);
	sc_json_out_key(&o, "list");
	sc_json_out_begin_array(&o);
	sc_json_out_raw(&o, "1", 1);
	sc_json_out_raw(&o, "{\"a\":2}", 7);
	sc_json_out_end_array(&o);
	sc_json_out_end_object(&o);
	ck_assert_str_eq(sc_json_out_text(&o),
	                 "{\"ms\":0.250,\"list\":[1,{\"a\":2}]}");
	sc_json_out_release(&o);
}
END_TEST

START_TEST(every_single_byte_is_escaped_as_json_c_does)
{
	for (int c = 1; c < 256; c++) {
		char s[4] = {'a', (char)c, 'z', '\0'};
		assert_string_same(s);
		assert_string_same(s + 1); /* the byte first */
	}
	assert_string_same("");
	assert_string_same("a/b</script>");
	assert_string_same("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\x83");
}
END_TEST

/* The writer skips plain bytes 8 at a time: a byte that needs an escape is
 * found wherever it sits in a word, among ASCII or among high bytes. */
START_TEST(a_byte_is_escaped_at_any_offset)
{
	const char fill[] = {'a', (char)0xc3, (char)0x7f, '!'};
	for (size_t f = 0; f < sizeof fill; f++) {
		for (int c = 1; c < 256; c++) {
			for (int at = 0; at < 21; at++) {
				char s[22];
				memset(s, fill[f], 21);
				s[at] = (char)c;
				s[21] = '\0';
				assert_string_same(s);
			}
		}
	}
}
END_TEST

START_TEST(random_strings_print_as_json_c_prints_them)
{
	rng_state = 42;
	for (int i = 0; i < 20000; i++) {
		char *s = random_string(i < 19000 ? 40 : 2000);
		assert_string_same(s);
		free(s);
	}
}
END_TEST

START_TEST(integers_booleans_and_null_print_as_json_c_prints_them)
{
	const int64_t ints[] = {0,  1,          -1,        42,
	                        -7, 2147483648, INT64_MAX, INT64_MIN};
	struct sc_json_out o;
	json_object *a = json_object_new_array();

	sc_json_out_init(&o);
	sc_json_out_begin_array(&o);
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		sc_json_out_int(&o, ints[i]);
		json_object_array_add(a, json_object_new_int64(ints[i]));
	}
	sc_json_out_bool(&o, true);
	json_object_array_add(a, json_object_new_boolean(1));
	sc_json_out_bool(&o, false);
	json_object_array_add(a, json_object_new_boolean(0));
	sc_json_out_null(&o);
	json_object_array_add(a, NULL);
	sc_json_out_string(&o, NULL);
	json_object_array_add(a, NULL);
	sc_json_out_json(&o, NULL);
	json_object_array_add(a, NULL);
	sc_json_out_end_array(&o);
	ck_assert_str_eq(sc_json_out_text(&o),
	                 json_object_to_json_string_ext(a, FLAGS));
	sc_json_out_release(&o);
	json_object_put(a);
}
END_TEST

START_TEST(empty_containers_and_an_empty_writer)
{
	struct sc_json_out o;

	sc_json_out_init(&o);
	ck_assert_str_eq(sc_json_out_text(&o), "");
	ck_assert_uint_eq(sc_json_out_len(&o), 0);
	sc_json_out_begin_object(&o);
	sc_json_out_key(&o, "a");
	sc_json_out_begin_array(&o);
	sc_json_out_end_array(&o);
	sc_json_out_key(&o, "o");
	sc_json_out_begin_object(&o);
	sc_json_out_end_object(&o);
	sc_json_out_key(&o, "k\"/\n");
	sc_json_out_int(&o, 1);
	sc_json_out_end_object(&o);
	ck_assert_str_eq(sc_json_out_text(&o),
	                 "{\"a\":[],\"o\":{},\"k\\\"/\\n\":1}");
	sc_json_out_release(&o);
}
END_TEST

/* A random json-c value (no doubles: the writer has none) written into o
 * the same way, depth-first. */
static json_object *
random_value(struct sc_json_out *o, int depth)
{
	unsigned kind = rng() % (depth < 4 ? 7 : 5);

	switch (kind) {
	case 0: {
		char *s = random_string(12);
		json_object *j = json_object_new_string(s);
		sc_json_out_string(o, s);
		free(s);
		return j;
	}
	case 1: {
		int64_t v = (int64_t)(((uint64_t)rng() << 32) | rng());
		sc_json_out_int(o, v);
		return json_object_new_int64(v);
	}
	case 2: {
		bool v = rng() % 2 == 0;
		sc_json_out_bool(o, v);
		return json_object_new_boolean(v);
	}
	case 3:
		sc_json_out_null(o);
		return NULL;
	case 4: {
		/* An embedded json-c value goes through json-c itself. */
		json_object *j = json_object_new_object();
		json_object_object_add(j, "u/\x01", json_object_new_int(7));
		json_object_object_add(j, "s",
		                       json_object_new_string("\xc3\xa9"));
		sc_json_out_json(o, j);
		return j;
	}
	case 5: {
		json_object *a = json_object_new_array();
		int n = (int)(rng() % 5);
		sc_json_out_begin_array(o);
		for (int i = 0; i < n; i++) {
			json_object_array_add(a, random_value(o, depth + 1));
		}
		sc_json_out_end_array(o);
		return a;
	}
	default: {
		json_object *obj = json_object_new_object();
		int n = (int)(rng() % 5);
		sc_json_out_begin_object(o);
		for (int i = 0; i < n; i++) {
			/* Keys unique by their prefix: json-c would replace
			 * a repeated one. */
			char *r = random_string(6);
			size_t len = strlen(r) + 4;
			char *key = malloc(len);
			snprintf(key, len, "%d%s", i, r);
			sc_json_out_key(o, key);
			json_object_object_add(obj, key,
			                       random_value(o, depth + 1));
			free(key);
			free(r);
		}
		sc_json_out_end_object(o);
		return obj;
	}
	}
}

START_TEST(random_documents_print_as_json_c_prints_them)
{
	rng_state = 7;
	for (int i = 0; i < 3000; i++) {
		struct sc_json_out o;
		sc_json_out_init(&o);
		json_object *j = random_value(&o, 0);
		const char *want =
		    j != NULL ? json_object_to_json_string_ext(j, FLAGS)
		              : "null";
		ck_assert_str_eq(sc_json_out_text(&o), want);
		ck_assert_uint_eq(sc_json_out_len(&o), strlen(want));
		sc_json_out_release(&o);
		json_object_put(j);
	}
}
END_TEST

START_TEST(a_long_document_grows_the_buffer_intact)
{
	struct sc_json_out o;
	json_object *a = json_object_new_array();

	sc_json_out_init(&o);
	sc_json_out_begin_array(&o);
	for (int i = 0; i < 5000; i++) {
		sc_json_out_string(&o, "\"0123456789\x01");
		json_object_array_add(
		    a, json_object_new_string("\"0123456789\x01"));
	}
	sc_json_out_end_array(&o);
	ck_assert_str_eq(sc_json_out_text(&o),
	                 json_object_to_json_string_ext(a, FLAGS));
	sc_json_out_release(&o);
	json_object_put(a);
}
END_TEST

static Suite *
json_out_suite(void)
{
	Suite *s = suite_create("json_out");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_single_byte_is_escaped_as_json_c_does);
	tcase_add_test(tc, raw_text_goes_in_as_is_with_its_commas);
	tcase_add_test(tc, a_byte_is_escaped_at_any_offset);
	tcase_add_test(tc, random_strings_print_as_json_c_prints_them);
	tcase_add_test(tc,
	               integers_booleans_and_null_print_as_json_c_prints_them);
	tcase_add_test(tc, empty_containers_and_an_empty_writer);
	tcase_add_test(tc, random_documents_print_as_json_c_prints_them);
	tcase_add_test(tc, a_long_document_grows_the_buffer_intact);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(json_out_suite)
