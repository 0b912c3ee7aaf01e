/* secret.c: random opaque tokens (refresh and email tokens) and their
 * SHA-256, which is all the database ever stores of them. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
auth_secret_new(char out[AUTH_SECRET_LEN + 1])
{
	unsigned char raw[33]; /* 32 bytes used; one spare to make 11 triples */
	size_t o = 0;

	if (RAND_bytes(raw, 32) != 1) {
		/* The CSPRNG failing is not recoverable for an auth server. */
		abort();
	}
	raw[32] = 0;
	for (size_t i = 0; i < 33 && o < AUTH_SECRET_LEN; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 |
		             (unsigned)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (o < AUTH_SECRET_LEN) {
			out[o++] = b64url[(v >> 6) & 63];
		}
		if (o < AUTH_SECRET_LEN) {
			out[o++] = b64url[v & 63];
		}
	}
	out[AUTH_SECRET_LEN] = '\0';
}

void
auth_secret_hash(const char *secret, char out[67])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(secret, strlen(secret), md, &mdlen, EVP_sha256(), NULL);
	out[0] = '\\';
	out[1] = 'x';
	for (int i = 0; i < 32; i++) {
		snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
	}
}
