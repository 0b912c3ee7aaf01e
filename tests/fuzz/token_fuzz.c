/* token_fuzz.c: the JWT verification path (common/token.c: shape and
 * base64url checks, the header's alg, libjwt's decode and ES256 check,
 * the claims read with json-c, the verified-token cache).
 *
 * A P-256 key pair is made at start. Input: byte 0 picks the mode.
 *  - even: the rest is the token string, as a client sends it;
 *  - odd: the rest is "<header JSON>\xff<claims JSON>" (or only the claims,
 *    under {"alg":"ES256","typ":"JWT"}), base64url-encoded and signed with
 *    the key, so that the claim checks behind the signature are reached.
 * Checks: the answer is SC_OK or SC_EAUTH; an accepted token has the
 * claims token.h promises (positive user id, 1-63 byte username, not
 * expired, iat not ahead); verifying again (now from the cache) agrees;
 * at its exp the same token is refused. */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "log.h"
#include "token.h"

#define ISS "spotlight.cam"
#define AUD "spotlight.cam"
#define NOW ((time_t)1700000000)

static EVP_PKEY *key;
static struct sc_token_verifier *verifier;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *bio;
	char *pem;
	long n;

	(void)argc;
	(void)argv;
	setenv("SC_LOG_LEVEL", "error", 1);
	sc_log_init("token_fuzz");
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FUZZ_CHECK(key != NULL);
	bio = BIO_new(BIO_s_mem());
	FUZZ_CHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1);
	n = BIO_get_mem_data(bio, &pem);
	verifier = sc_token_verifier_new(pem, (size_t)n, ISS, AUD);
	FUZZ_CHECK(verifier != NULL);
	BIO_free(bio);
	return 0;
}

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                        "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[acc >> bits & 63];
		}
	}
	if (bits > 0) {
		out[o++] = a[acc << (6 - bits) & 63];
	}
	return o;
}

/* "<b64url(header)>.<b64url(claims)>.<b64url(r || s)>", NUL-terminated.
 * Caller frees. */
static char *
sign(const uint8_t *hdr, size_t hlen, const uint8_t *claims, size_t clen)
{
	char *tok = malloc((hlen + clen + 64) / 3 * 4 + 16);
	size_t n = 0, siglen = 0;
	uint8_t der[128], raw[64];
	const uint8_t *dp = der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig;
	const BIGNUM *r, *s;

	FUZZ_CHECK(tok != NULL && md != NULL);
	n += b64url(hdr, hlen, tok + n);
	tok[n++] = '.';
	n += b64url(claims, clen, tok + n);
	siglen = sizeof der;
	FUZZ_CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
	FUZZ_CHECK(EVP_DigestSign(md, der, &siglen, (const uint8_t *)tok, n) ==
	           1);
	EVP_MD_CTX_free(md);
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)siglen);
	FUZZ_CHECK(sig != NULL);
	ECDSA_SIG_get0(sig, &r, &s);
	FUZZ_CHECK(BN_bn2binpad(r, raw, 32) == 32 &&
	           BN_bn2binpad(s, raw + 32, 32) == 32);
	ECDSA_SIG_free(sig);
	tok[n++] = '.';
	n += b64url(raw, sizeof raw, tok + n);
	tok[n] = '\0';
	return tok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char default_hdr[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	struct sc_claims c, again;
	char *tok;
	int rc;

	if (size == 0) {
		return 0;
	}
	if (data[0] % 2 == 0) {
		tok = malloc(size);
		FUZZ_CHECK(tok != NULL);
		memcpy(tok, data + 1, size - 1);
		tok[size - 1] = '\0';
	} else {
		const uint8_t *sep = memchr(data + 1, 0xff, size - 1);

		if (sep != NULL) {
			tok = sign(data + 1, (size_t)(sep - data - 1), sep + 1,
			           size - (size_t)(sep + 1 - data));
		} else {
			tok = sign((const uint8_t *)default_hdr,
			           sizeof default_hdr - 1, data + 1, size - 1);
		}
	}
	memset(&c, 0, sizeof c);
	rc = sc_token_verify(verifier, tok, NOW, &c);
	FUZZ_CHECK(rc == SC_OK || rc == SC_EAUTH);
	if (rc == SC_OK) {
		size_t ulen = strnlen(c.username, sizeof c.username);

		FUZZ_CHECK(c.user_id > 0);
		FUZZ_CHECK(ulen >= 1 && ulen <= 63);
		FUZZ_CHECK(c.exp > NOW && c.iat <= NOW + 60);
		/* again, from the cache */
		FUZZ_CHECK(sc_token_verify(verifier, tok, NOW, &again) ==
		           SC_OK);
		FUZZ_CHECK(again.user_id == c.user_id && again.iat == c.iat &&
		           again.exp == c.exp &&
		           strcmp(again.username, c.username) == 0);
		/* a remembered token still expires */
		FUZZ_CHECK(sc_token_verify(verifier, tok, c.exp, &again) ==
		           SC_EAUTH);
	} else if (data[0] % 2 == 0) {
		/* refusals are not remembered (cheap to ask again unsigned) */
		FUZZ_CHECK(sc_token_verify(verifier, tok, NOW, &again) ==
		           SC_EAUTH);
	}
	free(tok);
	return 0;
}
