/* token.h: access tokens. auth signs JWTs with its private key (ES256);
 * every other daemon verifies with the public key only. Verification pins
 * the algorithm to ES256 (libjwt takes it from the token's header: an HS256
 * token keyed with the public key PEM or "alg":"none" must fail), and
 * checks exp (no leeway: expired from `exp` on), iat (at most 60 s ahead,
 * for clock skew), iss, aud (ours, or an array holding ours), that sub is
 * a positive integer and username 1-63 bytes. Tokens over 4096 bytes or
 * not in canonical unpadded base64url are refused unread.
 *
 * Claims: {"iss","aud","sub":"<user id>","username","iat","exp","jti"}. */
#ifndef SC_TOKEN_H
#define SC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sc_token_signer;
struct sc_token_verifier;

struct sc_claims {
	int64_t user_id;   /* sub */
	char username[64]; /* username */
	time_t iat, exp;
};

/* From an EC P-256 private key in PEM (borrowed during the call). Caller
 * owns; free with sc_token_signer_free(). NULL when the key is unusable
 * (logged). ttl_s: lifetime of issued tokens. */
struct sc_token_signer *sc_token_signer_new(const char *pem, size_t len,
                                            const char *issuer,
                                            const char *audience, long ttl_s);
void sc_token_signer_free(struct sc_token_signer *s);

/* Sign a token for the user at time `now`. On SC_OK *out is the token, the
 * caller owns it (free with free()); SC_EINTERNAL otherwise. */
int sc_token_sign(struct sc_token_signer *s, int64_t user_id,
                  const char *username, time_t now, char **out);

/* The signer's token lifetime in seconds. */
long sc_token_ttl(const struct sc_token_signer *s);

/* From EC P-256 public keys in PEM (borrowed during the call): one, or up
 * to 4 blocks one after another, any of which a token may be signed with
 * (key rotation: publish the new public key beside the old one, then switch
 * auth's signing key, then drop the old one). Caller owns; free with
 * sc_token_verifier_free(). NULL when any key is unusable (logged). */
struct sc_token_verifier *sc_token_verifier_new(const char *pem, size_t len,
                                                const char *issuer,
                                                const char *audience);
void sc_token_verifier_free(struct sc_token_verifier *v);

/* How many public keys v accepts. */
size_t sc_token_verifier_keys(const struct sc_token_verifier *v);

/* Verify `token` at time `now`. SC_OK with *out filled, or SC_EAUTH for
 * any bad, forged, expired or foreign token (never anything else).
 * Verified tokens are remembered (a bounded cache inside the verifier), so
 * repeating one costs a lookup; a remembered token still expires. Not
 * thread-safe: one verifier per thread (the loop's). */
int sc_token_verify(struct sc_token_verifier *v, const char *token, time_t now,
                    struct sc_claims *out);

/* For handlers: the bearer token of an HTTP request verified. SC_OK with
 * *out filled; else SC_EAUTH (missing, malformed or bad token). */
struct sc_http_req;
int sc_token_verify_request(struct sc_token_verifier *v,
                            struct sc_http_req *req, struct sc_claims *out);

/* The same for handlers that need a user: true with *out filled, or false
 * after replying 401 (with WWW-Authenticate: Bearer); the request is then
 * gone. */
bool sc_token_require(struct sc_token_verifier *v, struct sc_http_req *req,
                      struct sc_claims *out);

#endif
