/* token_test.c: ES256 tokens round-trip; forged, foreign, expired and
 * malformed ones are all refused with SC_EAUTH. */
#include "token.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "http.h"
#include "testing.h"

#define ISS "spotlight.cam"
#define AUD "spotlight.cam"
#define TTL 900
#define NOW ((time_t)1700000000)

/* The fixture: one P-256 key pair, a signer and a verifier for it. */
static char *priv_pem, *pub_pem;
static struct sc_token_signer *signer;
static struct sc_token_verifier *verifier;

/* ---- helpers -------------------------------------------------------- */

static EVP_PKEY *
keygen(const char *type, const char *curve)
{
	EVP_PKEY *k = curve != NULL
	                  ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve)
	                  : EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)2048);
	ck_assert_ptr_nonnull(k);
	return k;
}

static char *
bio_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	ck_assert_int_gt(n, 0);
	s = malloc((size_t)n + 1);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static char *
private_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(
	    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
	return bio_string(bio);
}

static char *
public_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, k), 1);
	return bio_string(bio);
}

static void
setup(void)
{
	EVP_PKEY *k = keygen("EC", "P-256");

	priv_pem = private_pem(k);
	pub_pem = public_pem(k);
	EVP_PKEY_free(k);
	signer = sc_token_signer_new(priv_pem, strlen(priv_pem), ISS, AUD, TTL);
	ck_assert_ptr_nonnull(signer);
	verifier = sc_token_verifier_new(pub_pem, strlen(pub_pem), ISS, AUD);
	ck_assert_ptr_nonnull(verifier);
}

static void
teardown(void)
{
	sc_token_signer_free(signer);
	sc_token_verifier_free(verifier);
	free(priv_pem);
	free(pub_pem);
}

static char *
b64url(const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = malloc(len / 3 * 4 + 5), *o = out;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*o++ = abc[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		*o++ = abc[(acc << (6 - bits)) & 63];
	}
	*o = '\0';
	return out;
}

/* Our standard claims as a JSON object (caller owns; json_object_put). */
static json_object *
good_claims(void)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "iss", json_object_new_string(ISS));
	json_object_object_add(c, "aud", json_object_new_string(AUD));
	json_object_object_add(c, "sub", json_object_new_string("42"));
	json_object_object_add(c, "username", json_object_new_string("alice"));
	json_object_object_add(c, "iat", json_object_new_int64(NOW));
	json_object_object_add(c, "exp", json_object_new_int64(NOW + TTL));
	json_object_object_add(
	    c, "jti",
	    json_object_new_string("00112233445566778899aabbccddeeff"));
	return c;
}

/* A token made by libjwt with `alg` and `key`; takes ownership of claims.
 * Caller owns the result; free(). */
static char *
libjwt_token(json_object *claims, jwt_alg_t alg, const char *key, size_t keylen)
{
	jwt_t *jwt = NULL;
	char *tok;

	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(
	    jwt_add_grants_json(jwt, json_object_to_json_string(claims)), 0);
	ck_assert_int_eq(
	    jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)keylen), 0);
	tok = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(tok);
	jwt_free(jwt);
	json_object_put(claims);
	return tok;
}

/* Our claims with `name` set to val (or removed when val is NULL), signed
 * with the fixture's private key. Takes ownership of val. */
static char *
token_with(const char *name, json_object *val)
{
	json_object *c = good_claims();

	if (val == NULL) {
		json_object_object_del(c, name);
	} else {
		json_object_object_add(c, name, val);
	}
	return libjwt_token(c, JWT_ALG_ES256, priv_pem, strlen(priv_pem));
}

static int
verify_at(const char *tok, time_t now)
{
	struct sc_claims c;
	return sc_token_verify(verifier, tok, now, &c);
}

/* "header.payload.signature" from raw JSON header and payload plus a
 * signature segment as is. Caller owns; free(). */
static char *
forge(const char *header, const char *payload, const char *sig)
{
	char *h = b64url(header, strlen(header));
	char *p = b64url(payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
	char *t = malloc(n);

	snprintf(t, n, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return t;
}

static char *
sign_now(void)
{
	char *tok = NULL;
	ck_assert_int_eq(sc_token_sign(signer, 42, "alice", NOW, &tok), SC_OK);
	ck_assert_ptr_nonnull(tok);
	return tok;
}

/* ---- round trip ----------------------------------------------------- */

START_TEST(sign_then_verify_gives_back_the_user)
{
	char *tok = NULL, *tok2 = NULL;
	struct sc_claims c;

	ck_assert_int_eq(
	    sc_token_sign(signer, 9007199254740993LL, "alice", NOW, &tok),
	    SC_OK);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(sc_token_verify(verifier, tok, NOW, &c), SC_OK);
	ck_assert_int_eq(c.user_id, 9007199254740993LL);
	ck_assert_str_eq(c.username, "alice");
	ck_assert_int_eq(c.iat, NOW);
	ck_assert_int_eq(c.exp, NOW + TTL);
	ck_assert_int_eq(sc_token_ttl(signer), TTL);
	/* Each token has its own jti. */
	ck_assert_int_eq(
	    sc_token_sign(signer, 9007199254740993LL, "alice", NOW, &tok2),
	    SC_OK);
	ck_assert_str_ne(tok, tok2);
	free(tok);
	free(tok2);
}
END_TEST

START_TEST(signed_token_carries_the_documented_claims)
{
	char *tok = sign_now();
	char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
	jwt_t *jwt = NULL;
	const char *jti;

	ck_assert_ptr_ne(dot1, dot2);
	ck_assert_int_eq(jwt_decode(&jwt, tok, (const unsigned char *)pub_pem,
	                            (int)strlen(pub_pem)),
	                 0);
	ck_assert_int_eq(jwt_get_alg(jwt), JWT_ALG_ES256);
	ck_assert_str_eq(jwt_get_grant(jwt, "iss"), ISS);
	ck_assert_str_eq(jwt_get_grant(jwt, "aud"), AUD);
	ck_assert_str_eq(jwt_get_grant(jwt, "sub"), "42");
	ck_assert_str_eq(jwt_get_grant(jwt, "username"), "alice");
	ck_assert_int_eq(jwt_get_grant_int(jwt, "iat"), NOW);
	ck_assert_int_eq(jwt_get_grant_int(jwt, "exp"), NOW + TTL);
	jti = jwt_get_grant(jwt, "jti");
	ck_assert_ptr_nonnull(jti);
	ck_assert_uint_eq(strlen(jti), 32);
	ck_assert_uint_eq(strspn(jti, "0123456789abcdef"), 32);
	jwt_free(jwt);
	free(tok);
}
END_TEST

START_TEST(sign_refuses_bad_user)
{
	char *tok = (char *)"untouched";
	char name64[65];

	memset(name64, 'a', 64);
	name64[64] = '\0';
	ck_assert_int_eq(sc_token_sign(signer, 0, "alice", NOW, &tok),
	                 SC_EINTERNAL);
	ck_assert_ptr_null(tok);
	ck_assert_int_eq(sc_token_sign(signer, -1, "alice", NOW, &tok),
	                 SC_EINTERNAL);
	ck_assert_int_eq(sc_token_sign(signer, 1, NULL, NOW, &tok),
	                 SC_EINTERNAL);
	ck_assert_int_eq(sc_token_sign(signer, 1, name64, NOW, &tok),
	                 SC_EINTERNAL);
}
END_TEST

START_TEST(verify_accepts_until_exp_and_rejects_from_exp)
{
	char *tok = sign_now();

	ck_assert_int_eq(verify_at(tok, NOW + TTL - 1), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW + TTL), SC_EAUTH);
	ck_assert_int_eq(verify_at(tok, NOW + TTL + 86400), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(a_remembered_token_gives_the_same_claims_and_no_lookalike_passes)
{
	char *tok = sign_now();
	struct sc_claims first, again;

	ck_assert_int_eq(sc_token_verify(verifier, tok, NOW, &first), SC_OK);
	ck_assert_int_eq(sc_token_verify(verifier, tok, NOW + 1, &again),
	                 SC_OK);
	ck_assert_int_eq(again.user_id, first.user_id);
	ck_assert_str_eq(again.username, first.username);
	ck_assert_int_eq(again.exp, first.exp);
	/* Each one-character change of the remembered token is a different
	 * token: verified in full, and refused. */
	size_t n = strlen(tok);
	for (size_t i = 0; i < n; i += 7) {
		char *bad = strdup(tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (strcmp(bad, tok) != 0) {
			ck_assert_int_eq(verify_at(bad, NOW), SC_EAUTH);
		}
		free(bad);
	}
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
}
END_TEST

/* ---- malformed ------------------------------------------------------ */

START_TEST(verify_rejects_garbage)
{
	char *tok = sign_now();
	char buf[8192];
	struct sc_claims c;
	static const char *const bad[] = {
	    "",
	    "garbage",
	    ".",
	    "..",
	    "a.b",
	    "a.b.c",
	    "a..c",
	    "eyJhbGciOiJFUzI1NiJ9.e30.",
	    "eyJhbGciOiJFUzI1NiJ9..AAAA",
	    "\xff\xfe.\x01.\x02",
	    "Bearer x.y.z",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(verify_at(bad[i], NOW) == SC_EAUTH, "token '%s'",
		              bad[i]);
	}
	ck_assert_int_eq(verify_at(NULL, NOW), SC_EAUTH);
	ck_assert_int_eq(sc_token_verify(NULL, tok, NOW, &c), SC_EAUTH);
	/* Two and four segments made from a good token. */
	snprintf(buf, sizeof buf, "%.*s", (int)(strrchr(tok, '.') - tok), tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	snprintf(buf, sizeof buf, "%s.%s", tok, "AAAA");
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	/* Padding, whitespace and a truncated or stretched signature. */
	snprintf(buf, sizeof buf, "%s=", tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	snprintf(buf, sizeof buf, "%s ", tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	snprintf(buf, sizeof buf, "%.*s", (int)strlen(tok) - 4, tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	snprintf(buf, sizeof buf, "%sAAAA", tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	snprintf(buf, sizeof buf, "%.*sAAAA",
	         (int)(strrchr(tok, '.') - tok) + 1, tok);
	ck_assert_int_eq(verify_at(buf, NOW), SC_EAUTH);
	/* The good token itself still passes. */
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_non_canonical_base64)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	char *tok = sign_now();
	size_t n = strlen(tok);
	long v;

	/* The same signature bytes spelt differently: a 64-byte signature
	 * leaves 4 unused bits in its last character; set one. */
	ck_assert_uint_eq(strlen(strrchr(tok, '.') + 1) % 4, 2);
	v = strchr(abc, tok[n - 1]) - abc;
	ck_assert_int_eq(v & 0x0f, 0);
	tok[n - 1] = abc[v | 1];
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	tok[n - 1] = abc[v];
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_token_longer_than_4096_bytes)
{
	char pad[4096];
	json_object *c;
	char *tok;
	size_t n;

	/* Grow a padding claim until the token is just over the limit; the
	 * one before it (just under) must still pass. */
	for (n = 2800;; n += 1) {
		memset(pad, 'x', n);
		pad[n] = '\0';
		c = good_claims();
		json_object_object_add(c, "pad", json_object_new_string(pad));
		tok =
		    libjwt_token(c, JWT_ALG_ES256, priv_pem, strlen(priv_pem));
		if (strlen(tok) > 4096) {
			break;
		}
		ck_assert_msg(verify_at(tok, NOW) == SC_OK, "length %zu",
		              strlen(tok));
		free(tok);
	}
	ck_assert_uint_le(strlen(tok), 4100);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

/* ---- forged --------------------------------------------------------- */

START_TEST(verify_rejects_alg_none)
{
	char *tok = sign_now();
	const char *payload = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	                      "\"sub\":\"1\",\"username\":\"admin\","
	                      "\"iat\":1700000000,\"exp\":1700000900}";
	char *forged;

	forged = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "");
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	free(forged);
	/* With a signature segment present, and with other spellings. */
	forged = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload,
	               strrchr(tok, '.') + 1);
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	free(forged);
	forged = forge("{\"alg\":\"None\"}", payload, strrchr(tok, '.') + 1);
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	free(forged);
	forged = forge("{\"typ\":\"JWT\"}", payload, strrchr(tok, '.') + 1);
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	free(forged);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_tampered_payload)
{
	char *tok = sign_now();
	const char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
	char *payload =
	    b64url("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	           "\"sub\":\"1\",\"username\":\"alice\","
	           "\"iat\":1700000000,\"exp\":1700000900}",
	           strlen("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	                  "\"sub\":\"1\",\"username\":\"alice\","
	                  "\"iat\":1700000000,\"exp\":1700000900}"));
	char forged[4096];

	snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok,
	         payload, dot2);
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	/* One flipped character in the original payload too. */
	snprintf(forged, sizeof forged, "%s", tok);
	forged[dot1 - tok + 5] = forged[dot1 - tok + 5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify_at(forged, NOW), SC_EAUTH);
	free(payload);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_hs256_keyed_with_the_public_key)
{
	char *tok = libjwt_token(good_claims(), JWT_ALG_HS256, pub_pem,
	                         strlen(pub_pem));
	jwt_t *jwt = NULL;

	/* libjwt alone accepts it (the header picks the algorithm), which is
	 * why the verifier must not. */
	ck_assert_int_eq(jwt_decode(&jwt, tok, (const unsigned char *)pub_pem,
	                            (int)strlen(pub_pem)),
	                 0);
	jwt_free(jwt);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_token_signed_by_another_ec_key)
{
	EVP_PKEY *k = keygen("EC", "P-256");
	char *other = private_pem(k);
	struct sc_token_signer *s =
	    sc_token_signer_new(other, strlen(other), ISS, AUD, TTL);
	char *tok = NULL;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(sc_token_sign(s, 42, "alice", NOW, &tok), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	sc_token_signer_free(s);
	free(other);
	EVP_PKEY_free(k);
}
END_TEST

/* Key rotation: a file with the old and the new public key accepts tokens
 * of both signers; each key alone accepts only its own; a bad block
 * anywhere refuses the whole file. */
START_TEST(verifier_with_two_keys_accepts_both_signers_during_rotation)
{
	EVP_PKEY *k = keygen("EC", "P-256"), *rsa = keygen("RSA", NULL);
	char *new_priv = private_pem(k), *new_pub = public_pem(k);
	char *rsa_pub = public_pem(rsa), both[4096], bad[8192];
	struct sc_token_signer *s =
	    sc_token_signer_new(new_priv, strlen(new_priv), ISS, AUD, TTL);
	struct sc_token_verifier *v2, *vnew;
	struct sc_claims c;
	char *old_tok = NULL, *new_tok = NULL;

	snprintf(both, sizeof both, "# old\n%s# new\n%s", pub_pem, new_pub);
	v2 = sc_token_verifier_new(both, strlen(both), ISS, AUD);
	vnew = sc_token_verifier_new(new_pub, strlen(new_pub), ISS, AUD);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(v2);
	ck_assert_ptr_nonnull(vnew);
	ck_assert_uint_eq(sc_token_verifier_keys(v2), 2);
	ck_assert_uint_eq(sc_token_verifier_keys(verifier), 1);

	ck_assert_int_eq(sc_token_sign(signer, 7, "old", NOW, &old_tok), SC_OK);
	ck_assert_int_eq(sc_token_sign(s, 8, "new", NOW, &new_tok), SC_OK);
	ck_assert_int_eq(sc_token_verify(v2, old_tok, NOW, &c), SC_OK);
	ck_assert_int_eq(c.user_id, 7);
	ck_assert_int_eq(sc_token_verify(v2, new_tok, NOW, &c), SC_OK);
	ck_assert_int_eq(c.user_id, 8);
	ck_assert_int_eq(sc_token_verify(verifier, new_tok, NOW, &c), SC_EAUTH);
	ck_assert_int_eq(sc_token_verify(vnew, old_tok, NOW, &c), SC_EAUTH);
	ck_assert_int_eq(sc_token_verify(vnew, new_tok, NOW, &c), SC_OK);

	snprintf(bad, sizeof bad, "%s%s", pub_pem, rsa_pub);
	ck_assert_ptr_null(sc_token_verifier_new(bad, strlen(bad), ISS, AUD));
	snprintf(bad, sizeof bad, "%s-----BEGIN PUBLIC KEY-----\nAAAA\n",
	         pub_pem);
	ck_assert_ptr_null(sc_token_verifier_new(bad, strlen(bad), ISS, AUD));
	snprintf(bad, sizeof bad, "%s%s%s%s%s", pub_pem, pub_pem, pub_pem,
	         pub_pem, pub_pem);
	ck_assert_ptr_null(sc_token_verifier_new(bad, strlen(bad), ISS, AUD));
	ck_assert_ptr_null(sc_token_verifier_new("# nothing\n", 10, ISS, AUD));

	free(old_tok);
	free(new_tok);
	sc_token_verifier_free(v2);
	sc_token_verifier_free(vnew);
	sc_token_signer_free(s);
	free(new_priv);
	free(new_pub);
	free(rsa_pub);
	EVP_PKEY_free(k);
	EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(verify_rejects_other_algorithms)
{
	EVP_PKEY *rsa = keygen("RSA", NULL), *p384 = keygen("EC", "P-384");
	char *rsa_pem = private_pem(rsa), *p384_pem = private_pem(p384);
	char *tok;

	tok = libjwt_token(good_claims(), JWT_ALG_RS256, rsa_pem,
	                   strlen(rsa_pem));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = libjwt_token(good_claims(), JWT_ALG_ES384, p384_pem,
	                   strlen(p384_pem));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = libjwt_token(good_claims(), JWT_ALG_HS512, pub_pem,
	                   strlen(pub_pem));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = libjwt_token(good_claims(), JWT_ALG_HS256, "secret", 6);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	free(rsa_pem);
	free(p384_pem);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}
END_TEST

/* ---- foreign or bad claims ------------------------------------------ */

START_TEST(verify_rejects_wrong_issuer_or_audience)
{
	struct sc_token_signer *s;
	char *tok = NULL;

	s = sc_token_signer_new(priv_pem, strlen(priv_pem), "evil.example", AUD,
	                        TTL);
	ck_assert_int_eq(sc_token_sign(s, 42, "alice", NOW, &tok), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	sc_token_signer_free(s);
	s = sc_token_signer_new(priv_pem, strlen(priv_pem), ISS, "other.app",
	                        TTL);
	ck_assert_int_eq(sc_token_sign(s, 42, "alice", NOW, &tok), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	sc_token_signer_free(s);
	tok = token_with("iss", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("aud", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("aud", json_object_new_int(1));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(verify_accepts_audience_array_containing_ours)
{
	json_object *aud = json_object_new_array();
	char *tok;

	json_object_array_add(aud, json_object_new_string("other.app"));
	json_object_array_add(aud, json_object_new_string(AUD));
	tok = token_with("aud", aud);
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
	aud = json_object_new_array();
	json_object_array_add(aud, json_object_new_string("other.app"));
	json_object_array_add(aud, json_object_new_int(7));
	tok = token_with("aud", aud);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_iat_more_than_60_s_ahead)
{
	char *tok = sign_now();

	/* A daemon whose clock is behind the signer's by up to 60 s. */
	ck_assert_int_eq(verify_at(tok, NOW - 60), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW - 61), SC_EAUTH);
	free(tok);
	tok = token_with("iat", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("iat", json_object_new_string("1700000000"));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_missing_or_non_numeric_exp)
{
	char *tok;

	tok = token_with("exp", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("exp", json_object_new_string("1700000900"));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("exp", json_object_new_double(1700000900.5));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("exp", json_object_new_boolean(1));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_bad_sub)
{
	static const char *const bad[] = {
	    "",
	    "0",
	    "-5",
	    "042",
	    "12a",
	    "abc",
	    " 42",
	    "42 ",
	    "+42",
	    "99999999999999999999",
	    "9223372036854775808",
	};
	char *tok;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tok = token_with("sub", json_object_new_string(bad[i]));
		ck_assert_msg(verify_at(tok, NOW) == SC_EAUTH, "sub '%s'",
		              bad[i]);
		free(tok);
	}
	tok = token_with("sub", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("sub", json_object_new_int(42));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("sub", json_object_new_string("9223372036854775807"));
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
}
END_TEST

START_TEST(verify_rejects_bad_username)
{
	char name[80];
	struct sc_claims c;
	char *tok;

	tok = token_with("username", NULL);
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("username", json_object_new_string(""));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	tok = token_with("username", json_object_new_int(5));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	memset(name, 'n', 64);
	name[64] = '\0';
	tok = token_with("username", json_object_new_string(name));
	ck_assert_int_eq(verify_at(tok, NOW), SC_EAUTH);
	free(tok);
	/* 63 bytes fit. */
	name[63] = '\0';
	tok = token_with("username", json_object_new_string(name));
	ck_assert_int_eq(sc_token_verify(verifier, tok, NOW, &c), SC_OK);
	ck_assert_str_eq(c.username, name);
	free(tok);
}
END_TEST

/* Found by tests/fuzz/token_fuzz (corpus signed-iat-min): iat and nbf are
 * any int64 a signer wrote; the cache's not_before (iat less the 60 s
 * skew) overflowed for the smallest, which UBSan stops on. */
START_TEST(verify_takes_the_smallest_iat_and_nbf_without_overflow)
{
	char *tok;

	tok = token_with("iat", json_object_new_int64(INT64_MIN));
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK); /* from the cache */
	ck_assert_int_eq(verify_at(tok, NOW + TTL), SC_EAUTH);
	free(tok);
	tok = token_with("nbf", json_object_new_int64(INT64_MIN + 1));
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	ck_assert_int_eq(verify_at(tok, NOW), SC_OK);
	free(tok);
}
END_TEST

START_TEST(verify_leaves_claims_untouched_on_failure)
{
	char *tok = sign_now();
	struct sc_claims c;

	memset(&c, 0x5a, sizeof c);
	ck_assert_int_eq(sc_token_verify(verifier, tok, NOW + TTL, &c),
	                 SC_EAUTH);
	ck_assert_int_eq(c.user_id, 0x5a5a5a5a5a5a5a5aLL);
	free(tok);
}
END_TEST

/* ---- keys ----------------------------------------------------------- */

START_TEST(constructors_reject_keys_that_are_not_p256)
{
	EVP_PKEY *rsa = keygen("RSA", NULL), *p384 = keygen("EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *rsa_priv = private_pem(rsa), *rsa_pub = public_pem(rsa);
	char *p384_priv = private_pem(p384), *p384_pub = public_pem(p384);
	char *ed_priv, *ed_pub;

	ck_assert_ptr_nonnull(ed);
	ed_priv = private_pem(ed);
	ed_pub = public_pem(ed);
	ck_assert_ptr_null(
	    sc_token_signer_new(rsa_priv, strlen(rsa_priv), ISS, AUD, TTL));
	ck_assert_ptr_null(
	    sc_token_signer_new(p384_priv, strlen(p384_priv), ISS, AUD, TTL));
	ck_assert_ptr_null(
	    sc_token_signer_new(ed_priv, strlen(ed_priv), ISS, AUD, TTL));
	/* A public key cannot sign; garbage and empty input are refused. */
	ck_assert_ptr_null(
	    sc_token_signer_new(pub_pem, strlen(pub_pem), ISS, AUD, TTL));
	ck_assert_ptr_null(sc_token_signer_new("garbage", 7, ISS, AUD, TTL));
	ck_assert_ptr_null(sc_token_signer_new("", 0, ISS, AUD, TTL));
	ck_assert_ptr_null(
	    sc_token_signer_new(priv_pem, strlen(priv_pem), ISS, AUD, 0));
	ck_assert_ptr_null(
	    sc_token_verifier_new(rsa_pub, strlen(rsa_pub), ISS, AUD));
	ck_assert_ptr_null(
	    sc_token_verifier_new(p384_pub, strlen(p384_pub), ISS, AUD));
	ck_assert_ptr_null(
	    sc_token_verifier_new(ed_pub, strlen(ed_pub), ISS, AUD));
	/* The verifier takes the public key only. */
	ck_assert_ptr_null(
	    sc_token_verifier_new(priv_pem, strlen(priv_pem), ISS, AUD));
	ck_assert_ptr_null(sc_token_verifier_new("garbage", 7, ISS, AUD));
	ck_assert_ptr_null(
	    sc_token_verifier_new(pub_pem, strlen(pub_pem), NULL, AUD));
	free(rsa_priv);
	free(rsa_pub);
	free(p384_priv);
	free(p384_pub);
	free(ed_priv);
	free(ed_pub);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(signer_accepts_sec1_ec_private_key)
{
	/* "BEGIN EC PRIVATE KEY", what `openssl ecparam -genkey` writes. */
	EVP_PKEY *k = keygen("EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *sec1, *pub;
	struct sc_token_signer *s;
	struct sc_token_verifier *v;
	struct sc_claims c;
	char *tok = NULL;

	ck_assert_int_eq(PEM_write_bio_PrivateKey_traditional(
	                     bio, k, NULL, NULL, 0, NULL, NULL),
	                 1);
	sec1 = bio_string(bio);
	ck_assert_ptr_nonnull(strstr(sec1, "BEGIN EC PRIVATE KEY"));
	pub = public_pem(k);
	s = sc_token_signer_new(sec1, strlen(sec1), ISS, AUD, TTL);
	v = sc_token_verifier_new(pub, strlen(pub), ISS, AUD);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(sc_token_sign(s, 7, "bob", NOW, &tok), SC_OK);
	ck_assert_int_eq(sc_token_verify(v, tok, NOW, &c), SC_OK);
	ck_assert_int_eq(c.user_id, 7);
	free(tok);
	sc_token_signer_free(s);
	sc_token_verifier_free(v);
	free(sec1);
	free(pub);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- over HTTP ------------------------------------------------------ */

static void
me_handler(struct sc_http_req *req, void *arg)
{
	struct sc_claims c;
	json_object *body;

	if (sc_token_verify_request(arg, req, &c) != SC_OK) {
		sc_http_reply_err(req, SC_EAUTH, NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_int64(c.user_id));
	json_object_object_add(body, "username",
	                       json_object_new_string(c.username));
	sc_http_reply_json(req, 200, body);
}

struct http_result {
	struct event_base *base;
	int status;
	char body[512];
};

static void
http_done_cb(struct evhttp_request *req, void *arg)
{
	struct http_result *r = arg;
	struct evbuffer *in;
	size_t n;

	r->status = req != NULL ? evhttp_request_get_response_code(req) : -1;
	if (req != NULL) {
		in = evhttp_request_get_input_buffer(req);
		n = evbuffer_get_length(in);
		n = n < sizeof r->body - 1 ? n : sizeof r->body - 1;
		evbuffer_remove(in, r->body, n);
		r->body[n] = '\0';
	}
	event_base_loopbreak(r->base);
}

/* GET /me with `authorization` (NULL: no header); the status. */
static int
get_me(struct event_base *base, int port, const char *authorization, char *body,
       size_t bodylen)
{
	struct http_result r = {.base = base, .status = 0};
	struct evhttp_connection *conn = evhttp_connection_base_new(
	    base, NULL, "127.0.0.1", (ev_uint16_t)port);
	struct evhttp_request *req = evhttp_request_new(http_done_cb, &r);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	                  "localhost");
	if (authorization != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Authorization", authorization);
	}
	ck_assert_int_eq(evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/me"),
	                 0);
	event_base_dispatch(base);
	evhttp_connection_free(conn);
	if (body != NULL) {
		snprintf(body, bodylen, "%s", r.body);
	}
	return r.status;
}

START_TEST(verify_request_takes_the_bearer_header)
{
	struct event_base *base = event_base_new();
	struct sc_http_server *srv = sc_http_server_new(base, NULL);
	char *tok = NULL, *old = NULL, *forged, header[4200], body[512];
	time_t now = time(NULL);
	int port;

	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(sc_http_server_bind(srv, "127.0.0.1", 0), SC_OK);
	port = sc_http_server_port(srv);
	ck_assert_int_gt(port, 0);
	sc_http_route(srv, EVHTTP_REQ_GET, "/me", 0, me_handler, verifier);
	ck_assert_int_eq(sc_token_sign(signer, 42, "alice", now, &tok), SC_OK);
	ck_assert_int_eq(
	    sc_token_sign(signer, 42, "alice", now - TTL - 1, &old), SC_OK);
	forged = libjwt_token(good_claims(), JWT_ALG_HS256, pub_pem,
	                      strlen(pub_pem));

	snprintf(header, sizeof header, "Bearer %s", tok);
	ck_assert_int_eq(get_me(base, port, header, body, sizeof body), 200);
	ck_assert_ptr_nonnull(strstr(body, "\"id\":42"));
	ck_assert_ptr_nonnull(strstr(body, "\"username\":\"alice\""));
	/* The scheme is case-insensitive. */
	snprintf(header, sizeof header, "bearer %s", tok);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 200);

	ck_assert_int_eq(get_me(base, port, NULL, NULL, 0), 401);
	ck_assert_int_eq(get_me(base, port, "Bearer", NULL, 0), 401);
	ck_assert_int_eq(get_me(base, port, "Bearer ", NULL, 0), 401);
	snprintf(header, sizeof header, "Basic %s", tok);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 401);
	snprintf(header, sizeof header, "Bearer%s", tok);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 401);
	snprintf(header, sizeof header, "Bearer %s", old);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 401);
	snprintf(header, sizeof header, "Bearer %s", forged);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 401);
	snprintf(header, sizeof header, "Bearer %s junk", tok);
	ck_assert_int_eq(get_me(base, port, header, NULL, 0), 401);

	free(tok);
	free(old);
	free(forged);
	sc_http_server_free(srv);
	event_base_free(base);
}
END_TEST

static Suite *
token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, sign_then_verify_gives_back_the_user);
	tcase_add_test(tc, signed_token_carries_the_documented_claims);
	tcase_add_test(tc, sign_refuses_bad_user);
	tcase_add_test(
	    tc,
	    a_remembered_token_gives_the_same_claims_and_no_lookalike_passes);
	tcase_add_test(tc, verify_accepts_until_exp_and_rejects_from_exp);
	tcase_add_test(tc, verify_rejects_garbage);
	tcase_add_test(tc, verify_rejects_non_canonical_base64);
	tcase_add_test(tc, verify_rejects_token_longer_than_4096_bytes);
	tcase_add_test(tc, verify_rejects_alg_none);
	tcase_add_test(tc, verify_rejects_tampered_payload);
	tcase_add_test(tc, verify_rejects_hs256_keyed_with_the_public_key);
	tcase_add_test(tc, verify_rejects_token_signed_by_another_ec_key);
	tcase_add_test(
	    tc, verifier_with_two_keys_accepts_both_signers_during_rotation);
	tcase_add_test(tc, verify_rejects_other_algorithms);
	tcase_add_test(tc, verify_rejects_wrong_issuer_or_audience);
	tcase_add_test(tc, verify_accepts_audience_array_containing_ours);
	tcase_add_test(tc, verify_rejects_iat_more_than_60_s_ahead);
	tcase_add_test(tc, verify_rejects_missing_or_non_numeric_exp);
	tcase_add_test(tc, verify_rejects_bad_sub);
	tcase_add_test(tc, verify_rejects_bad_username);
	tcase_add_test(tc,
	               verify_takes_the_smallest_iat_and_nbf_without_overflow);
	tcase_add_test(tc, verify_leaves_claims_untouched_on_failure);
	tcase_add_test(tc, constructors_reject_keys_that_are_not_p256);
	tcase_add_test(tc, signer_accepts_sec1_ec_private_key);
	tcase_add_test(tc, verify_request_takes_the_bearer_header);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(token_suite)
