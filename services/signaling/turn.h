/* turn.h: the ICE servers a browser gets from GET /api/chat/ice-servers:
 * STUN URLs, and TURN URLs with credentials, either static or short-lived
 * ones made per user by the TURN REST API convention (coturn's
 * use-auth-secret): username "<expiry unix time>:<user id>", credential
 * base64(HMAC-SHA1(shared secret, username)). Pure (OpenSSL's HMAC). */
#ifndef SG_TURN_H
#define SG_TURN_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sg_ice_config {
	char **stun; /* URLs, owned */
	size_t nstun;
	char **turn;
	size_t nturn;
	char *secret;              /* shared secret, or NULL; owned */
	char *username, *password; /* static TURN credentials, or NULL */
	long ttl;                  /* seconds a credential lasts */
};

/* Fill c from comma lists of URLs (stun:/stuns: in stun_urls, turn:/turns:
 * in turn_urls; either may be NULL or empty) and the credentials (each may
 * be NULL or empty; all copied). TURN URLs need the secret or both static
 * values; the secret and static values exclude each other. SC_OK, or
 * SC_EINVAL with a message in why (static). c is released on failure. */
int sg_ice_config_init(struct sg_ice_config *c, const char *stun_urls,
                       const char *turn_urls, const char *secret,
                       const char *username, const char *password, long ttl,
                       const char **why);
void sg_ice_config_release(struct sg_ice_config *c);

/* base64(HMAC-SHA1(secret, msg)) into out (at least 29 bytes: 28
 * characters and the NUL). */
void sg_turn_hmac(const char *secret, const char *msg, size_t len,
                  char out[29]);

/* The short-lived credential for user at expiry: username into
 * user_out (at least 48 bytes), credential (base64 of 20 bytes, 28
 * characters) into cred_out (at least 32 bytes). */
void sg_turn_credential(const char *secret, time_t expiry, int64_t user,
                        char *user_out, size_t user_len, char *cred_out,
                        size_t cred_len);

/* {"iceServers":[{"urls":[stun...]}, {"urls":[turn...],"username",
 * "credential"}], "ttl": seconds} for user at now (an entry is left out
 * when it has no URLs). Caller owns; release with json_object_put. */
json_object *sg_ice_servers_json(const struct sg_ice_config *c, int64_t user,
                                 time_t now);

#endif
