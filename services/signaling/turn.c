/* turn.c: ICE server configuration and TURN REST credentials. */
#include "turn.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

#define URL_MAX 512

static bool
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Split a comma list into trimmed, non-empty URLs, each with one of the
 * two schemes and nothing but printable ASCII. */
static int
split_urls(const char *list, const char *scheme, const char *schemes,
           char ***out, size_t *n, const char **why)
{
	const char *p = list;

	*out = NULL;
	*n = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char *url;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
			len--;
		}
		if (len > 0) {
			url = sc_strndup(p, len);
			bool ok = len <= URL_MAX && (has_prefix(url, scheme) ||
			                             has_prefix(url, schemes));
			for (size_t i = 0; ok && i < len; i++) {
				ok = url[i] > ' ' && url[i] < 0x7f;
			}
			if (!ok) {
				free(url);
				*why =
				    "an ICE server URL is malformed or has the "
				    "wrong scheme";
				return SC_EINVAL;
			}
			*out = sc_realloc(*out, (*n + 1) * sizeof(**out));
			(*out)[(*n)++] = url;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return SC_OK;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? sc_strdup(s) : NULL;
}

int
sg_ice_config_init(struct sg_ice_config *c, const char *stun_urls,
                   const char *turn_urls, const char *secret,
                   const char *username, const char *password, long ttl,
                   const char **why)
{
	memset(c, 0, sizeof(*c));
	c->ttl = ttl;
	c->secret = dup_or_null(secret);
	c->username = dup_or_null(username);
	c->password = dup_or_null(password);
	if (split_urls(stun_urls, "stun:", "stuns:", &c->stun, &c->nstun,
	               why) != SC_OK ||
	    split_urls(turn_urls, "turn:", "turns:", &c->turn, &c->nturn,
	               why) != SC_OK) {
		goto err;
	}
	if ((c->username == NULL) != (c->password == NULL)) {
		*why = "SC_TURN_USERNAME and SC_TURN_CREDENTIAL go together";
		goto err;
	}
	if (c->secret != NULL && c->username != NULL) {
		*why = "SC_TURN_SECRET excludes SC_TURN_USERNAME and "
		       "SC_TURN_CREDENTIAL";
		goto err;
	}
	if (c->nturn > 0 && c->secret == NULL && c->username == NULL) {
		*why = "TURN URLs need SC_TURN_SECRET or SC_TURN_USERNAME and "
		       "SC_TURN_CREDENTIAL";
		goto err;
	}
	return SC_OK;

err:
	sg_ice_config_release(c);
	return SC_EINVAL;
}

void
sg_ice_config_release(struct sg_ice_config *c)
{
	for (size_t i = 0; i < c->nstun; i++) {
		free(c->stun[i]);
	}
	for (size_t i = 0; i < c->nturn; i++) {
		free(c->turn[i]);
	}
	free(c->stun);
	free(c->turn);
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
	}
	free(c->secret);
	free(c->username);
	free(c->password);
	memset(c, 0, sizeof(*c));
}

void
sg_turn_hmac(const char *secret, const char *msg, size_t len, char out[29])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	out[0] = '\0';
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret),
	         (const unsigned char *)msg, len, mac, &maclen) == NULL ||
	    maclen != 20) {
		return; /* an empty credential fails at the TURN server */
	}
	EVP_EncodeBlock(b64, mac, (int)maclen);
	memcpy(out, b64, 29); /* 28 characters and the NUL */
}

void
sg_turn_credential(const char *secret, time_t expiry, int64_t user,
                   char *user_out, size_t user_len, char *cred_out,
                   size_t cred_len)
{
	char cred[29];
	int n;

	n = snprintf(user_out, user_len, "%lld:%" PRId64, (long long)expiry,
	             user);
	if (n < 0 || (size_t)n >= user_len) {
		cred[0] = '\0';
	} else {
		sg_turn_hmac(secret, user_out, (size_t)n, cred);
	}
	snprintf(cred_out, cred_len, "%s", cred);
}

static json_object *
urls_json(char **urls, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++) {
		json_object_array_add(a, json_object_new_string(urls[i]));
	}
	return a;
}

json_object *
sg_ice_servers_json(const struct sg_ice_config *c, int64_t user, time_t now)
{
	json_object *body = json_object_new_object();
	json_object *list = json_object_new_array();

	if (c->nstun > 0) {
		json_object *s = json_object_new_object();
		json_object_object_add(s, "urls", urls_json(c->stun, c->nstun));
		json_object_array_add(list, s);
	}
	if (c->nturn > 0) {
		json_object *t = json_object_new_object();
		char name[48], cred[32];

		json_object_object_add(t, "urls", urls_json(c->turn, c->nturn));
		if (c->secret != NULL) {
			sg_turn_credential(c->secret, now + c->ttl, user, name,
			                   sizeof(name), cred, sizeof(cred));
			json_object_object_add(t, "username",
			                       json_object_new_string(name));
			json_object_object_add(t, "credential",
			                       json_object_new_string(cred));
		} else {
			json_object_object_add(
			    t, "username", json_object_new_string(c->username));
			json_object_object_add(
			    t, "credential",
			    json_object_new_string(c->password));
		}
		json_object_array_add(list, t);
	}
	json_object_object_add(body, "iceServers", list);
	json_object_object_add(body, "ttl", json_object_new_int64(c->ttl));
	return body;
}
