/* password.h: password hashing with argon2id on a worker thread pool, so a
 * login storm never stalls the event loop (one hash at OWASP's minimum cost
 * takes ~19 ms of CPU). Results come back on the loop thread.
 *
 * Cost (defaults are OWASP's minimum): SC_ARGON2_MEMORY_KIB (19456),
 * SC_ARGON2_ITERATIONS (2), parallelism 1; pool size SC_HASH_THREADS
 * (default: number of CPUs). The queue is bounded (SC_HASH_QUEUE, default
 * 256): past it, requests fail with SC_EAGAIN (the caller answers 503)
 * rather than queueing for seconds. */
#ifndef SC_PASSWORD_H
#define SC_PASSWORD_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

struct sc_hasher;

struct sc_hasher_opts {
	uint32_t memory_kib; /* >= 19456 */
	uint32_t iterations; /* >= 2 */
	int threads;         /* worker threads, >= 1 */
	int max_queue;       /* waiting jobs before SC_EAGAIN */
};

/* Fill opts from the environment with the defaults above. SC_OK or
 * SC_EINVAL (logged). */
int sc_hasher_opts_from_env(struct sc_hasher_opts *opts);

/* Caller owns; free with sc_hasher_free(). NULL on failure (logged). */
struct sc_hasher *sc_hasher_new(struct event_base *base,
                                const struct sc_hasher_opts *opts);

/* Finish jobs in progress, drop queued ones (their callbacks run with
 * SC_EUNAVAIL before this returns), join the threads, free. Call it on the
 * loop thread, not from inside one of the hasher's callbacks; jobs those
 * callbacks submit meanwhile are answered SC_EUNAVAIL. */
void sc_hasher_free(struct sc_hasher *h);

/* Count the pool's work in m (metrics.h): how long each hash and verify
 * took on its worker (spotlight_password_duration_seconds{op}, observed
 * on the worker threads) and the jobs waiting
 * (spotlight_password_queue_length). m borrowed: free it after h. */
struct sc_metrics;
void sc_hasher_set_metrics(struct sc_hasher *h, struct sc_metrics *m);

/* err SC_OK with encoded the "$argon2id$v=19$m=...,t=...,p=1$salt$hash"
 * string (borrowed during the callback; copy it), or SC_EAGAIN / SC_EUNAVAIL
 * / SC_EINTERNAL with encoded NULL. */
typedef void (*sc_hash_cb)(int err, const char *encoded, void *arg);

/* Hash `password` (copied) with a fresh random salt. Callback exactly once,
 * on the loop thread, never before this returns. A password that is NULL
 * or over 1024 bytes gets SC_EINVAL (callers validate lengths earlier). */
void sc_hasher_hash(struct sc_hasher *h, const char *password, sc_hash_cb cb,
                    void *arg);

/* err SC_OK when `password` matches `encoded`; SC_EAUTH when it does not
 * (or encoded is malformed); SC_EAGAIN / SC_EUNAVAIL as above. When encoded
 * is NULL a dummy hash of the same cost is verified and SC_EAUTH returned,
 * so an unknown user costs the same time as a wrong password. */
typedef void (*sc_verify_cb)(int err, void *arg);

/* Both strings copied. Callback exactly once, on the loop thread, never
 * before this returns. SC_EINVAL for a password as above. */
void sc_hasher_verify(struct sc_hasher *h, const char *encoded,
                      const char *password, sc_verify_cb cb, void *arg);

/* Enough for any encoded hash the options allow. */
#define SC_PASSWORD_ENCODED_MAX 128

/* Blocking versions for tools and tests (not for the loop). opts NULL
 * means the default cost. Hash: SC_OK with the encoded string in out,
 * SC_EINVAL (password NULL or over 1024 bytes, outlen too small, cost
 * below the minimum) or SC_EINTERNAL. Verify: SC_OK, SC_EAUTH (mismatch,
 * malformed or NULL encoded), SC_EINVAL (password NULL or too long) or
 * SC_EINTERNAL. */
int sc_password_hash_sync(const struct sc_hasher_opts *opts,
                          const char *password, char *out, size_t outlen);
int sc_password_verify_sync(const char *encoded, const char *password);

#endif
