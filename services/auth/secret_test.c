/* secret_test.c: opaque tokens are well-formed, unpredictable, and stored
 * only as their SHA-256. */
#include <string.h>

#include "auth.h"
#include "testing.h"

START_TEST(secret_is_43_chars_of_base64url)
{
	char s[AUTH_SECRET_LEN + 1];

	auth_secret_new(s);
	ck_assert_uint_eq(strlen(s), 43);
	ck_assert_uint_eq(strspn(s,
	                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
	                         "stuvwxyz0123456789-_"),
	                  43);
}
END_TEST

START_TEST(secrets_do_not_repeat)
{
	char a[AUTH_SECRET_LEN + 1], b[AUTH_SECRET_LEN + 1];

	for (int i = 0; i < 1000; i++) {
		auth_secret_new(a);
		auth_secret_new(b);
		ck_assert_str_ne(a, b);
	}
}
END_TEST

START_TEST(hash_is_sha256_as_bytea_hex)
{
	char h[67];

	/* SHA-256("abc") from FIPS 180-2. */
	auth_secret_hash("abc", h);
	ck_assert_str_eq(h,
	                 "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
	                 "b410ff61f20015ad");
}
END_TEST

static Suite *
secret_suite(void)
{
	Suite *s = suite_create("auth_secret");
	TCase *tc = tcase_create("secret");

	tcase_add_test(tc, secret_is_43_chars_of_base64url);
	tcase_add_test(tc, secrets_do_not_repeat);
	tcase_add_test(tc, hash_is_sha256_as_bytea_hex);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(secret_suite)
