/* turn_test.c: TURN REST credentials against known HMAC-SHA1 vectors, and
 * the ICE server configuration and its JSON. */
#include <string.h>

#include "error.h"
#include "testing.h"
#include "turn.h"

START_TEST(hmac_matches_the_published_sha1_vector)
{
	/* HMAC_SHA1("key", "The quick brown fox jumps over the lazy dog") =
	 * de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9 */
	const char *msg = "The quick brown fox jumps over the lazy dog";
	char out[29];

	sg_turn_hmac("key", msg, strlen(msg), out);
	ck_assert_str_eq(out, "3nybhbi3iqa8ino29wqQcBydtNk=");
}
END_TEST

START_TEST(credential_is_expiry_colon_user_and_its_hmac)
{
	char user[48], cred[32];

	/* python3: base64(hmac.new(b"north", b"1700000000:42", sha1)) */
	sg_turn_credential("north", 1700000000, 42, user, sizeof(user), cred,
	                   sizeof(cred));
	ck_assert_str_eq(user, "1700000000:42");
	ck_assert_str_eq(cred, "DWX3FI7DiPIpadEYQAZsnZBAagI=");
}
END_TEST

START_TEST(another_secret_gives_another_credential)
{
	char u1[48], c1[32], u2[48], c2[32];

	sg_turn_credential("north", 1700000000, 42, u1, sizeof(u1), c1,
	                   sizeof(c1));
	sg_turn_credential("south", 1700000000, 42, u2, sizeof(u2), c2,
	                   sizeof(c2));
	ck_assert_str_eq(u1, u2);
	ck_assert_str_ne(c1, c2);
}
END_TEST

START_TEST(config_splits_and_trims_url_lists)
{
	struct sg_ice_config c;
	const char *why = NULL;

	ck_assert_int_eq(sg_ice_config_init(&c,
	                                    " stun:a.example:3478 ,, "
	                                    "stuns:b.example ",
	                                    "turn:t.example:3478?transport=udp,"
	                                    "turns:t.example:5349",
	                                    "s3cret", NULL, NULL, 600, &why),
	                 SC_OK);
	ck_assert_uint_eq(c.nstun, 2);
	ck_assert_str_eq(c.stun[0], "stun:a.example:3478");
	ck_assert_str_eq(c.stun[1], "stuns:b.example");
	ck_assert_uint_eq(c.nturn, 2);
	ck_assert_str_eq(c.turn[1], "turns:t.example:5349");
	sg_ice_config_release(&c);
}
END_TEST

START_TEST(config_refuses_bad_or_incomplete_settings)
{
	struct sg_ice_config c;
	const char *why = NULL;

	/* wrong scheme */
	ck_assert_int_eq(
	    sg_ice_config_init(&c, "turn:x", NULL, NULL, NULL, NULL, 600, &why),
	    SC_EINVAL);
	ck_assert_ptr_nonnull(why);
	/* a space inside a URL */
	ck_assert_int_eq(sg_ice_config_init(&c, "stun:a b", NULL, NULL, NULL,
	                                    NULL, 600, &why),
	                 SC_EINVAL);
	/* TURN without any credential */
	ck_assert_int_eq(
	    sg_ice_config_init(&c, NULL, "turn:t", NULL, NULL, NULL, 600, &why),
	    SC_EINVAL);
	/* a username without its credential */
	ck_assert_int_eq(
	    sg_ice_config_init(&c, NULL, "turn:t", NULL, "u", NULL, 600, &why),
	    SC_EINVAL);
	/* both kinds of credential */
	ck_assert_int_eq(
	    sg_ice_config_init(&c, NULL, "turn:t", "s", "u", "p", 600, &why),
	    SC_EINVAL);
}
END_TEST

START_TEST(json_has_short_lived_credentials_per_user)
{
	struct sg_ice_config c;
	const char *why = NULL;
	json_object *body, *list, *turn, *v;
	char user[48], cred[32];

	ck_assert_int_eq(sg_ice_config_init(&c, "stun:s", "turn:t", "north",
	                                    NULL, NULL, 3600, &why),
	                 SC_OK);
	body = sg_ice_servers_json(&c, 42, 1700000000 - 3600);
	ck_assert(json_object_object_get_ex(body, "iceServers", &list));
	ck_assert_uint_eq(json_object_array_length(list), 2);
	turn = json_object_array_get_idx(list, 1);
	ck_assert(json_object_object_get_ex(turn, "username", &v));
	ck_assert_str_eq(json_object_get_string(v), "1700000000:42");
	sg_turn_credential("north", 1700000000, 42, user, sizeof(user), cred,
	                   sizeof(cred));
	ck_assert(json_object_object_get_ex(turn, "credential", &v));
	ck_assert_str_eq(json_object_get_string(v), cred);
	ck_assert(json_object_object_get_ex(body, "ttl", &v));
	ck_assert_int_eq(json_object_get_int64(v), 3600);
	json_object_put(body);
	sg_ice_config_release(&c);
}
END_TEST

START_TEST(json_has_static_credentials_and_no_empty_entries)
{
	struct sg_ice_config c;
	const char *why = NULL;
	json_object *body, *list, *turn, *v;

	ck_assert_int_eq(sg_ice_config_init(&c, "", "turns:t", NULL, "user",
	                                    "pass", 3600, &why),
	                 SC_OK);
	body = sg_ice_servers_json(&c, 7, 1700000000);
	ck_assert(json_object_object_get_ex(body, "iceServers", &list));
	ck_assert_uint_eq(json_object_array_length(list), 1);
	turn = json_object_array_get_idx(list, 0);
	ck_assert(json_object_object_get_ex(turn, "username", &v));
	ck_assert_str_eq(json_object_get_string(v), "user");
	ck_assert(json_object_object_get_ex(turn, "credential", &v));
	ck_assert_str_eq(json_object_get_string(v), "pass");
	json_object_put(body);
	sg_ice_config_release(&c);
}
END_TEST

static Suite *
turn_suite(void)
{
	Suite *s = suite_create("turn");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, hmac_matches_the_published_sha1_vector);
	tcase_add_test(tc, credential_is_expiry_colon_user_and_its_hmac);
	tcase_add_test(tc, another_secret_gives_another_credential);
	tcase_add_test(tc, config_splits_and_trims_url_lists);
	tcase_add_test(tc, config_refuses_bad_or_incomplete_settings);
	tcase_add_test(tc, json_has_short_lived_credentials_per_user);
	tcase_add_test(tc, json_has_static_credentials_and_no_empty_entries);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(turn_suite)
