/* token.c: ES256 access tokens on libjwt, with every check libjwt leaves to
 * its caller (algorithm, expiry, issuer, audience, claim types) done here. */
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "alloc.h"
#include "error.h"
#include "http.h"
#include "log.h"

/* Longer tokens are refused before any parsing. */
#define TOKEN_MAX_LEN 4096
/* How far in the future iat may be (clock skew between daemons). */
#define TOKEN_IAT_SKEW_S 60
#define USERNAME_MAX     63

struct sc_token_signer {
	unsigned char *pem;
	size_t len;
	char *issuer, *audience;
	long ttl_s;
};

/* Verified tokens, so a client's repeated requests cost a hash and a
 * compare instead of a PEM parse and an ECDSA verification (measured:
 * ~750 us per verification through libjwt, which re-reads the key each
 * time). Direct-mapped by a hash of the token; the whole token is compared,
 * so a collision only costs a verification. Only successes are kept, and a
 * hit still checks the expiry. */
#define TOKEN_CACHE_SLOTS 4096

struct token_cache_slot {
	char *token; /* owned; NULL when empty */
	struct sc_claims claims;
	time_t not_before; /* the latest of iat and nbf, less the skew */
};

/* Public keys a verifier accepts: one, or two while keys are rotated. */
#define TOKEN_MAX_KEYS 4

struct token_key {
	char *pem;
	size_t len;
};

struct sc_token_verifier {
	struct token_key keys[TOKEN_MAX_KEYS];
	size_t nkeys;
	char *issuer, *audience;
	struct token_cache_slot *cache; /* TOKEN_CACHE_SLOTS */
};

/* ---- keys ----------------------------------------------------------- */

/* Never prompt for a passphrase: an encrypted key is simply unusable. */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The first OpenSSL error as text (for logs), clearing the queue. */
static const char *
openssl_cause(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0) {
		snprintf(buf, len, "no PEM key found");
	} else {
		ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
	return buf;
}

/* Is pkey an EC key on P-256? Else logs why not. */
static bool
key_is_p256(EVP_PKEY *pkey, const char *what)
{
	char group[80];
	size_t n = 0;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
		sc_log_error(NULL,
		             "cannot use %s: key type '%s' is not EC P-256",
		             what, OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
		return false;
	}
	if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &n) ||
	    OBJ_sn2nid(group) != NID_X9_62_prime256v1) {
		ERR_clear_error();
		sc_log_error(NULL, "cannot use %s: curve '%s' is not P-256",
		             what, n > 0 ? group : "unnamed");
		return false;
	}
	return true;
}

/* Parse `pem` as a private (or else public) key and check it is P-256. */
static bool
pem_is_p256(const char *pem, size_t len, bool private_key, const char *what)
{
	char cause[256];
	BIO *bio;
	EVP_PKEY *pkey;
	bool ok;

	if (pem == NULL || len == 0 || len > INT_MAX) {
		sc_log_error(NULL, "cannot use %s: empty", what);
		return false;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		sc_oom();
	}
	if (private_key) {
		pkey =
		    PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL);
	} else {
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase_cb, NULL);
	}
	BIO_free(bio);
	if (pkey == NULL) {
		sc_log_error(NULL, "cannot read %s: not a PEM %s key (%s)",
		             what, private_key ? "private" : "public",
		             openssl_cause(cause, sizeof cause));
		return false;
	}
	ok = key_is_p256(pkey, what);
	EVP_PKEY_free(pkey);
	return ok;
}

/* ---- signing -------------------------------------------------------- */

struct sc_token_signer *
sc_token_signer_new(const char *pem, size_t len, const char *issuer,
                    const char *audience, long ttl_s)
{
	struct sc_token_signer *s;
	char *probe = NULL;

	if (issuer == NULL || audience == NULL || ttl_s <= 0) {
		sc_log_error(NULL, "cannot make token signer: %s",
		             ttl_s <= 0 ? "ttl must be positive"
		                        : "issuer and audience are required");
		return NULL;
	}
	if (!pem_is_p256(pem, len, true, "token signing key")) {
		return NULL;
	}
	s = sc_calloc(1, sizeof *s);
	s->pem = sc_malloc(len);
	memcpy(s->pem, pem, len);
	s->len = len;
	s->issuer = sc_strdup(issuer);
	s->audience = sc_strdup(audience);
	s->ttl_s = ttl_s;
	/* Sign once now so a key libjwt cannot use fails at start-up, not at
	 * the first login. */
	if (sc_token_sign(s, 1, "probe", time(NULL), &probe) != SC_OK) {
		sc_log_error(NULL, "cannot sign with token signing key: %s",
		             "libjwt refused it");
		sc_token_signer_free(s);
		return NULL;
	}
	free(probe);
	return s;
}

void
sc_token_signer_free(struct sc_token_signer *s)
{
	if (s == NULL) {
		return;
	}
	if (s->pem != NULL) {
		explicit_bzero(s->pem, s->len);
	}
	free(s->pem);
	free(s->issuer);
	free(s->audience);
	free(s);
}

long
sc_token_ttl(const struct sc_token_signer *s)
{
	return s->ttl_s;
}

int
sc_token_sign(struct sc_token_signer *s, int64_t user_id, const char *username,
              time_t now, char **out)
{
	unsigned char rnd[16];
	char sub[24], jti[2 * sizeof rnd + 1];
	jwt_t *jwt = NULL;
	char *tok;
	int e;

	*out = NULL;
	if (user_id <= 0 || username == NULL || *username == '\0' ||
	    strlen(username) > USERNAME_MAX) {
		sc_log_error(NULL, "cannot sign token for user %" PRId64 ": %s",
		             user_id, "bad user id or username");
		return SC_EINTERNAL;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		sc_log_error(NULL, "cannot sign token: getrandom: %s",
		             strerror(errno));
		return SC_EINTERNAL;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	}
	snprintf(sub, sizeof sub, "%" PRId64, user_id);
	if (jwt_new(&jwt) != 0) {
		sc_oom();
	}
	/* libjwt returns errno values. */
	if ((e = jwt_add_grant(jwt, "iss", s->issuer)) != 0 ||
	    (e = jwt_add_grant(jwt, "aud", s->audience)) != 0 ||
	    (e = jwt_add_grant(jwt, "sub", sub)) != 0 ||
	    (e = jwt_add_grant(jwt, "username", username)) != 0 ||
	    (e = jwt_add_grant_int(jwt, "iat", (long)now)) != 0 ||
	    (e = jwt_add_grant_int(jwt, "exp", (long)(now + s->ttl_s))) != 0 ||
	    (e = jwt_add_grant(jwt, "jti", jti)) != 0 ||
	    (e = jwt_set_alg(jwt, JWT_ALG_ES256, s->pem, (int)s->len)) != 0) {
		sc_log_error(NULL,
		             "cannot build token for user %" PRId64 ": %s",
		             user_id, strerror(e));
		goto err;
	}
	if ((tok = jwt_encode_str(jwt)) == NULL) {
		sc_log_error(NULL, "cannot sign token for user %" PRId64 ": %s",
		             user_id, strerror(errno));
		goto err;
	}
	jwt_free(jwt);
	*out = tok;
	return SC_OK;
err:
	jwt_free(jwt);
	return SC_EINTERNAL;
}

/* ---- verification --------------------------------------------------- */

/* The next "-----BEGIN ...-----" ... "-----END ...-----" block of
 * pem[0..len) from *pos: its start and length, or false when none is left.
 * Text between blocks (comments) is skipped. */
static bool
pem_next_block(const char *pem, size_t len, size_t *pos, size_t *start,
               size_t *blen)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ";
	const char *b, *e, *eol;

	b = memmem(pem + *pos, len - *pos, begin, sizeof begin - 1);
	if (b == NULL) {
		return false;
	}
	e = memmem(b, (size_t)(pem + len - b), end, sizeof end - 1);
	if (e == NULL) {
		/* A truncated block: handed on whole, refused by OpenSSL. */
		*start = (size_t)(b - pem);
		*blen = len - *start;
		*pos = len;
		return true;
	}
	eol = memchr(e, '\n', (size_t)(pem + len - e));
	*start = (size_t)(b - pem);
	*blen = (eol == NULL ? (size_t)(pem + len - b) : (size_t)(eol + 1 - b));
	*pos = *start + *blen;
	return true;
}

struct sc_token_verifier *
sc_token_verifier_new(const char *pem, size_t len, const char *issuer,
                      const char *audience)
{
	struct sc_token_verifier *v;
	size_t pos = 0, start, blen;

	if (issuer == NULL || audience == NULL) {
		sc_log_error(NULL, "cannot make token verifier: %s",
		             "issuer and audience are required");
		return NULL;
	}
	v = sc_calloc(1, sizeof *v);
	while (pem != NULL && pem_next_block(pem, len, &pos, &start, &blen)) {
		struct token_key *k;

		if (v->nkeys == TOKEN_MAX_KEYS) {
			sc_log_error(NULL,
			             "cannot use token public keys: more than "
			             "%d in one file",
			             TOKEN_MAX_KEYS);
			goto err;
		}
		if (!pem_is_p256(pem + start, blen, false,
		                 "token public key")) {
			goto err;
		}
		k = &v->keys[v->nkeys++];
		k->pem = sc_malloc(blen + 1);
		memcpy(k->pem, pem + start, blen);
		k->pem[blen] = '\0';
		k->len = blen;
	}
	if (v->nkeys == 0) {
		/* Let OpenSSL say why (no PEM key found). */
		pem_is_p256(pem == NULL ? "" : pem, pem == NULL ? 0 : len,
		            false, "token public key");
		goto err;
	}
	v->issuer = sc_strdup(issuer);
	v->audience = sc_strdup(audience);
	v->cache = sc_calloc(TOKEN_CACHE_SLOTS, sizeof *v->cache);
	return v;
err:
	sc_token_verifier_free(v);
	return NULL;
}

void
sc_token_verifier_free(struct sc_token_verifier *v)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; v->cache != NULL && i < TOKEN_CACHE_SLOTS; i++) {
		free(v->cache[i].token);
	}
	free(v->cache);
	for (size_t i = 0; i < v->nkeys; i++) {
		free(v->keys[i].pem);
	}
	free(v->issuer);
	free(v->audience);
	free(v);
}

size_t
sc_token_verifier_keys(const struct sc_token_verifier *v)
{
	return v->nkeys;
}

/* FNV-1a: the slot of a token. Not a security boundary: the full token is
 * compared on a hit. */
static struct token_cache_slot *
token_cache_slot(struct sc_token_verifier *v, const char *token, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)token[i];
		h *= 0x100000001b3ull;
	}
	return &v->cache[h % TOKEN_CACHE_SLOTS];
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '-') {
		return 62;
	}
	if (c == '_') {
		return 63;
	}
	return -1;
}

/* Does a segment of `len` characters ending in `last` decode canonically?
 * One leftover character carries no whole byte; the bits left over in the
 * last character must be zero, so one token has one spelling. */
static bool
segment_ok(size_t len, unsigned char last)
{
	int v = b64url_value(last);

	switch (len % 4) {
	case 1:
		return false;
	case 2:
		return (v & 0x0f) == 0;
	case 3:
		return (v & 0x03) == 0;
	default:
		return len > 0;
	}
}

/* Three non-empty unpadded canonical base64url segments; *header_len gets
 * the first one's length. libjwt sees nothing that fails this. */
static bool
token_shape_ok(const char *tok, size_t len, size_t *header_len)
{
	size_t start = 0, seglen[3];
	int n = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || tok[i] == '.') {
			if (n > 2 || i == start ||
			    !segment_ok(i - start, (unsigned char)tok[i - 1])) {
				return false;
			}
			seglen[n++] = i - start;
			start = i + 1;
		} else if (b64url_value((unsigned char)tok[i]) < 0) {
			return false;
		}
	}
	if (n != 3) {
		return false;
	}
	*header_len = seglen[0];
	return true;
}

/* Decode unpadded base64url (shape already checked) into a new string. */
static char *
b64url_decode(const char *in, size_t len, size_t *outlen)
{
	char *out = sc_malloc(len / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		acc = (acc << 6) | (uint32_t)b64url_value((unsigned char)in[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static json_object *
json_parse_object(const char *s, size_t len)
{
	json_tokener *tok;
	json_object *obj;

	if (len > INT_MAX) {
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		sc_oom();
	}
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (obj != NULL &&
	    (json_tokener_get_error(tok) != json_tokener_success ||
	     (size_t)json_tokener_get_parse_end(tok) != len ||
	     !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* The header must say ES256 before libjwt is asked to check anything:
 * with "HS256" it would use our public key as an HMAC secret. */
static bool
header_is_es256(const char *tok, size_t header_len)
{
	size_t len;
	char *json = b64url_decode(tok, header_len, &len);
	json_object *hdr = json_parse_object(json, len), *alg;
	bool ok;

	ok = hdr != NULL && json_object_object_get_ex(hdr, "alg", &alg) &&
	     json_object_is_type(alg, json_type_string) &&
	     strcmp(json_object_get_string(alg), "ES256") == 0 &&
	     !json_object_object_get_ex(hdr, "crit", NULL);
	json_object_put(hdr);
	free(json);
	return ok;
}

/* A string claim equal to `want`. */
static bool
claim_is(json_object *claims, const char *name, const char *want)
{
	json_object *v;

	return json_object_object_get_ex(claims, name, &v) &&
	       json_object_is_type(v, json_type_string) &&
	       strcmp(json_object_get_string(v), want) == 0;
}

/* aud is our audience, or an array that contains it (RFC 7519 4.1.3). */
static bool
audience_ok(json_object *claims, const char *want)
{
	json_object *aud;

	if (claim_is(claims, "aud", want)) {
		return true;
	}
	if (!json_object_object_get_ex(claims, "aud", &aud) ||
	    !json_object_is_type(aud, json_type_array)) {
		return false;
	}
	for (size_t i = 0; i < json_object_array_length(aud); i++) {
		json_object *a = json_object_array_get_idx(aud, i);
		if (json_object_is_type(a, json_type_string) &&
		    strcmp(json_object_get_string(a), want) == 0) {
			return true;
		}
	}
	return false;
}

static bool
claim_int(json_object *claims, const char *name, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, name, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		return false;
	}
	errno = 0;
	*out = json_object_get_int64(v);
	return errno == 0;
}

/* sub: a positive decimal integer in canonical form ("42", not "042"). */
static bool
sub_ok(json_object *claims, int64_t *out)
{
	json_object *v;
	const char *s;
	size_t len;
	char *end;
	long long n;

	if (!json_object_object_get_ex(claims, "sub", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return false;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len > 19 || s[0] < '1' || s[0] > '9' ||
	    strspn(s, "0123456789") != len) {
		return false;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0) {
		return false;
	}
	*out = n;
	return true;
}

/* Every check on the claims; fills out only when all pass. */
static bool
claims_ok(struct sc_token_verifier *v, json_object *claims, time_t now,
          struct sc_claims *out)
{
	int64_t exp, iat, nbf, uid;
	json_object *name;
	size_t name_len;

	if (!claim_is(claims, "iss", v->issuer) ||
	    !audience_ok(claims, v->audience)) {
		return false;
	}
	if (!claim_int(claims, "exp", &exp) || exp <= 0 ||
	    (int64_t)now >= exp) {
		return false;
	}
	if (!claim_int(claims, "iat", &iat) ||
	    iat > (int64_t)now + TOKEN_IAT_SKEW_S) {
		return false;
	}
	if (json_object_object_get_ex(claims, "nbf", NULL) &&
	    (!claim_int(claims, "nbf", &nbf) ||
	     nbf > (int64_t)now + TOKEN_IAT_SKEW_S)) {
		return false;
	}
	if (!sub_ok(claims, &uid)) {
		return false;
	}
	if (!json_object_object_get_ex(claims, "username", &name) ||
	    !json_object_is_type(name, json_type_string)) {
		return false;
	}
	name_len = (size_t)json_object_get_string_len(name);
	if (name_len == 0 || name_len > USERNAME_MAX ||
	    strlen(json_object_get_string(name)) != name_len) {
		return false;
	}
	out->user_id = uid;
	memcpy(out->username, json_object_get_string(name), name_len + 1);
	out->iat = (time_t)iat;
	out->exp = (time_t)exp;
	return true;
}

/* t less the clock skew, for the cache's not_before. Saturating: a signed
 * token may carry any int64 as iat or nbf (found by tests/fuzz/token_fuzz:
 * iat = INT64_MIN overflowed). */
static time_t
skewed(int64_t t)
{
	return t < INT64_MIN + TOKEN_IAT_SKEW_S
	           ? (time_t)INT64_MIN
	           : (time_t)(t - TOKEN_IAT_SKEW_S);
}

int
sc_token_verify(struct sc_token_verifier *v, const char *token, time_t now,
                struct sc_claims *out)
{
	size_t len, header_len;
	jwt_t *jwt = NULL;
	char *grants = NULL;
	json_object *claims = NULL;
	struct sc_claims c;
	int rc = SC_EAUTH;

	if (v == NULL || token == NULL || out == NULL) {
		return SC_EAUTH;
	}
	len = strnlen(token, TOKEN_MAX_LEN + 1);
	if (len == 0 || len > TOKEN_MAX_LEN ||
	    !token_shape_ok(token, len, &header_len) ||
	    !header_is_es256(token, header_len)) {
		return SC_EAUTH;
	}
	struct token_cache_slot *slot = token_cache_slot(v, token, len);
	if (slot->token != NULL && strcmp(slot->token, token) == 0) {
		/* The time checks of claims_ok, again for this `now`. */
		if (now >= slot->claims.exp || now < slot->not_before) {
			return SC_EAUTH;
		}
		*out = slot->claims;
		return SC_OK;
	}
	/* Each accepted key in turn (two while keys are rotated). */
	for (size_t i = 0; i < v->nkeys && jwt == NULL; i++) {
		if (jwt_decode(&jwt, token,
		               (const unsigned char *)v->keys[i].pem,
		               (int)v->keys[i].len) != 0) {
			jwt = NULL;
		}
	}
	if (jwt == NULL) {
		return SC_EAUTH;
	}
	/* Pinned again on libjwt's own reading of the header. */
	if (jwt_get_alg(jwt) != JWT_ALG_ES256) {
		goto out;
	}
	/* Read the claims with json-c so their types are checked exactly
	 * (libjwt's integer getter turns a string into 0). */
	if ((grants = jwt_get_grants_json(jwt, NULL)) == NULL) {
		goto out;
	}
	claims = json_parse_object(grants, strlen(grants));
	memset(&c, 0, sizeof c);
	if (claims != NULL && claims_ok(v, claims, now, &c)) {
		*out = c;
		rc = SC_OK;
		free(slot->token);
		slot->token = sc_strdup(token);
		slot->claims = c;
		slot->not_before = skewed(c.iat);
		if (json_object_object_get_ex(claims, "nbf", NULL)) {
			int64_t nbf = 0;
			claim_int(claims, "nbf", &nbf);
			if (skewed(nbf) > slot->not_before) {
				slot->not_before = skewed(nbf);
			}
		}
	}
out:
	json_object_put(claims);
	free(grants);
	jwt_free(jwt);
	return rc;
}

int
sc_token_verify_request(struct sc_token_verifier *v, struct sc_http_req *req,
                        struct sc_claims *out)
{
	const char *h = sc_http_req_header(req, "Authorization");

	/* The scheme is case-insensitive (RFC 7235 2.1). */
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		return SC_EAUTH;
	}
	h += 7;
	while (*h == ' ') {
		h++;
	}
	return sc_token_verify(v, h, time(NULL), out);
}

bool
sc_token_require(struct sc_token_verifier *v, struct sc_http_req *req,
                 struct sc_claims *out)
{
	if (sc_token_verify_request(v, req, out) == SC_OK) {
		return true;
	}
	sc_http_req_add_header(req, "WWW-Authenticate", "Bearer");
	sc_http_reply_err(req, SC_EAUTH, "a valid access token is required");
	return false;
}
