/* password.c: argon2id hashing on a pool of worker threads fed by a bounded
 * queue; results go back to the loop thread through a loopq. */
#include "password.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "loopq.h"
#include "metrics.h"

#define MIN_MEMORY_KIB 19456
#define MIN_ITERATIONS 2
#define PARALLELISM    1
#define SALT_LEN       16
#define HASH_LEN       32
/* A guard: callers validate passwords (10-128 characters) long before. */
#define PASSWORD_MAX 1024

enum job_kind { JOB_HASH, JOB_VERIFY };

struct hash_job {
	struct hash_job *next;
	enum job_kind kind;
	char *password; /* our copy; wiped before it is freed */
	size_t password_len;
	char *encoded; /* verify: the stored hash, NULL for the dummy;
	                  hash: the result */
	sc_hash_cb hash_cb;
	sc_verify_cb verify_cb;
	void *arg;
	int err;
};

struct sc_hasher {
	struct sc_loopq *q;
	uint32_t memory_kib, iterations;
	char *dummy; /* verified when the user is unknown */

	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct hash_job *head, *tail; /* waiting jobs */
	int queued, max_queue;
	bool stopping;
	struct hash_job *late; /* submitted from callbacks during free */

	pthread_t *threads;
	int nthreads;

	/* metrics.h, or NULL; the series are set and read under lock */
	struct sc_metrics *metrics;
	struct sc_metric *mx_hash, *mx_verify, *mx_queue;
};

/* ---- argon2 --------------------------------------------------------- */

static size_t
encoded_len(uint32_t memory_kib, uint32_t iterations)
{
	return argon2_encodedlen(iterations, memory_kib, PARALLELISM, SALT_LEN,
	                         HASH_LEN, Argon2_id);
}

/* Hash into out (at least encoded_len() bytes). */
static int
hash_encoded(uint32_t memory_kib, uint32_t iterations, const char *pwd,
             size_t pwd_len, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN];
	int rc;

	if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
		sc_log_error(NULL, "cannot hash password: getrandom: %s",
		             strerror(errno));
		return SC_EINTERNAL;
	}
	rc = argon2id_hash_encoded(iterations, memory_kib, PARALLELISM, pwd,
	                           pwd_len, salt, sizeof salt, HASH_LEN, out,
	                           outlen);
	if (rc != ARGON2_OK) {
		sc_log_error(NULL, "cannot hash password: %s",
		             argon2_error_message(rc));
		return SC_EINTERNAL;
	}
	return SC_OK;
}

static int
verify_encoded(const char *encoded, const char *pwd, size_t pwd_len)
{
	int rc = argon2id_verify(encoded, pwd, pwd_len);

	switch (rc) {
	case ARGON2_OK:
		return SC_OK;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
	case ARGON2_THREAD_FAIL:
		sc_log_error(NULL, "cannot verify password: %s",
		             argon2_error_message(rc));
		return SC_EINTERNAL;
	default:
		/* A mismatch, or a hash we cannot read: the same to callers. */
		return SC_EAUTH;
	}
}

/* ---- jobs ----------------------------------------------------------- */

static void
job_free(struct hash_job *job)
{
	if (job->password != NULL) {
		explicit_bzero(job->password, job->password_len);
		free(job->password);
	}
	if (job->encoded != NULL) {
		explicit_bzero(job->encoded, strlen(job->encoded));
		free(job->encoded);
	}
	free(job);
}

/* On the loop thread: deliver the result, then drop the job. */
static void
job_done_cb(void *arg)
{
	struct hash_job *job = arg;

	if (job->kind == JOB_HASH) {
		job->hash_cb(job->err, job->err == SC_OK ? job->encoded : NULL,
		             job->arg);
	} else {
		job->verify_cb(job->err, job->arg);
	}
	job_free(job);
}

/* On a worker thread. */
static void
job_run(struct sc_hasher *h, struct hash_job *job)
{
	if (job->kind == JOB_HASH) {
		size_t n = encoded_len(h->memory_kib, h->iterations);
		job->encoded = sc_calloc(1, n);
		job->err =
		    hash_encoded(h->memory_kib, h->iterations, job->password,
		                 job->password_len, job->encoded, n);
	} else if (job->encoded == NULL) {
		/* Unknown user: spend the same time, then say no. */
		(void)verify_encoded(h->dummy, job->password,
		                     job->password_len);
		job->err = SC_EAUTH;
	} else {
		job->err = verify_encoded(job->encoded, job->password,
		                          job->password_len);
	}
	explicit_bzero(job->password, job->password_len);
}

static void *
worker_main(void *arg)
{
	struct sc_hasher *h = arg;
	struct hash_job *job;

	/* Hashing is the batch work of this process: below the loop thread,
	 * so a login storm queues logins rather than delaying every other
	 * request. On Linux, a thread's nice value is per thread (its tid). */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 5);
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->stopping && h->head == NULL) {
			pthread_cond_wait(&h->ready, &h->lock);
		}
		if (h->stopping) {
			break;
		}
		job = h->head;
		h->head = job->next;
		if (h->head == NULL) {
			h->tail = NULL;
		}
		h->queued--;
		struct sc_metric *mx =
		    job->kind == JOB_HASH ? h->mx_hash : h->mx_verify;
		pthread_mutex_unlock(&h->lock);

		struct timespec t0, t1;
		job->next = NULL;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		job_run(h, job);
		if (mx != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			sc_metric_observe(
			    mx, (double)(t1.tv_sec - t0.tv_sec) +
			            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
		sc_loopq_post(h->q, job_done_cb, job);

		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Queue a job, or answer it with an error, always through the loop. */
static void
submit(struct sc_hasher *h, struct hash_job *job)
{
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		/* From a callback run by sc_hasher_free: the loopq is going
		 * away, so free answers these itself once it is gone. */
		job->err = SC_EUNAVAIL;
		job->next = h->late;
		h->late = job;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (job->err == SC_OK && h->queued >= h->max_queue) {
		job->err = SC_EAGAIN;
	}
	if (job->err != SC_OK) {
		pthread_mutex_unlock(&h->lock);
		sc_loopq_post(h->q, job_done_cb, job);
		return;
	}
	if (h->tail != NULL) {
		h->tail->next = job;
	} else {
		h->head = job;
	}
	h->tail = job;
	h->queued++;
	pthread_cond_signal(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

static struct hash_job *
job_new(enum job_kind kind, const char *password, void *arg)
{
	struct hash_job *job = sc_calloc(1, sizeof *job);

	job->kind = kind;
	job->arg = arg;
	if (password == NULL) {
		job->err = SC_EINVAL;
		return job;
	}
	job->password_len = strnlen(password, PASSWORD_MAX + 1);
	if (job->password_len > PASSWORD_MAX) {
		job->password_len = 0;
		job->err = SC_EINVAL;
		return job;
	}
	job->password = sc_strndup(password, job->password_len);
	return job;
}

void
sc_hasher_hash(struct sc_hasher *h, const char *password, sc_hash_cb cb,
               void *arg)
{
	struct hash_job *job = job_new(JOB_HASH, password, arg);

	job->hash_cb = cb;
	submit(h, job);
}

void
sc_hasher_verify(struct sc_hasher *h, const char *encoded, const char *password,
                 sc_verify_cb cb, void *arg)
{
	struct hash_job *job = job_new(JOB_VERIFY, password, arg);

	job->verify_cb = cb;
	if (encoded != NULL) {
		job->encoded = sc_strdup(encoded);
	}
	submit(h, job);
}

/* ---- the pool ------------------------------------------------------- */

/* A hash of random bytes at the pool's cost, verified for unknown users.
 * Caller owns; free(). NULL on failure (logged). */
static char *
make_dummy(uint32_t memory_kib, uint32_t iterations)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = encoded_len(memory_kib, iterations);
	unsigned char rnd[16];
	char pwd[2 * sizeof rnd];
	char *dummy;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		sc_log_error(NULL, "cannot make dummy hash: getrandom: %s",
		             strerror(errno));
		return NULL;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		pwd[2 * i] = hex[rnd[i] >> 4];
		pwd[2 * i + 1] = hex[rnd[i] & 15];
	}
	dummy = sc_calloc(1, n);
	if (hash_encoded(memory_kib, iterations, pwd, sizeof pwd, dummy, n) !=
	    SC_OK) {
		free(dummy);
		return NULL;
	}
	return dummy;
}

int
sc_hasher_opts_from_env(struct sc_hasher_opts *opts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long mem, iter, threads, queue;

	if (cpus < 1) {
		cpus = 1;
	}
	if (cpus > 256) {
		cpus = 256;
	}
	if (sc_config_int("SC_ARGON2_MEMORY_KIB", MIN_MEMORY_KIB,
	                  MIN_MEMORY_KIB, 4L * 1024 * 1024, &mem) != SC_OK ||
	    sc_config_int("SC_ARGON2_ITERATIONS", MIN_ITERATIONS,
	                  MIN_ITERATIONS, 100, &iter) != SC_OK ||
	    sc_config_int("SC_HASH_THREADS", cpus, 1, 256, &threads) != SC_OK ||
	    sc_config_int("SC_HASH_QUEUE", 256, 1, 1000000, &queue) != SC_OK) {
		return SC_EINVAL;
	}
	opts->memory_kib = (uint32_t)mem;
	opts->iterations = (uint32_t)iter;
	opts->threads = (int)threads;
	opts->max_queue = (int)queue;
	return SC_OK;
}

struct sc_hasher *
sc_hasher_new(struct event_base *base, const struct sc_hasher_opts *opts)
{
	struct sc_hasher *h;
	sigset_t all, old;
	int rc;

	if (opts->memory_kib < MIN_MEMORY_KIB ||
	    opts->iterations < MIN_ITERATIONS || opts->threads < 1 ||
	    opts->max_queue < 1) {
		sc_log_error(NULL, "cannot start password hasher: %s",
		             "options below the minimum cost or pool size");
		return NULL;
	}
	h = sc_calloc(1, sizeof *h);
	h->memory_kib = opts->memory_kib;
	h->iterations = opts->iterations;
	h->max_queue = opts->max_queue;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->ready, NULL);
	if ((h->q = sc_loopq_new(base)) == NULL) {
		sc_log_error(NULL, "cannot start password hasher: %s",
		             "no loop queue");
		goto err;
	}
	if ((h->dummy = make_dummy(h->memory_kib, h->iterations)) == NULL) {
		goto err;
	}
	/* Workers take no signals: they stay with the loop thread. */
	h->threads = sc_calloc((size_t)opts->threads, sizeof *h->threads);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; h->nthreads < opts->threads; h->nthreads++) {
		rc = pthread_create(&h->threads[h->nthreads], NULL, worker_main,
		                    h);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			sc_log_error(NULL,
			             "cannot start password hasher thread: %s",
			             strerror(rc));
			goto err;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return h;
err:
	/* Nothing was queued yet: free tears down exactly what exists. */
	sc_hasher_free(h);
	return NULL;
}

static void
hasher_collect_cb(struct sc_metrics *m, void *arg)
{
	struct sc_hasher *h = arg;
	int queued;
	(void)m;

	pthread_mutex_lock(&h->lock);
	queued = h->queued;
	pthread_mutex_unlock(&h->lock);
	sc_metric_set(h->mx_queue, queued);
}

void
sc_hasher_set_metrics(struct sc_hasher *h, struct sc_metrics *m)
{
	/* argon2 at OWASP's cost takes tens of milliseconds */
	static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1,
	                                0.25,  0.5,  1,     2.5};
	struct sc_metric_family *f;

	if (m == NULL || h->metrics != NULL) {
		return;
	}
	f = sc_metrics_histogram(m, "spotlight_password_duration_seconds",
	                         "Time an argon2id hash or verify took on its "
	                         "worker thread.",
	                         "op", bounds, sizeof bounds / sizeof *bounds);
	pthread_mutex_lock(&h->lock);
	h->metrics = m;
	h->mx_hash = sc_metric_series(f, (const char *const[]){"hash"});
	h->mx_verify = sc_metric_series(f, (const char *const[]){"verify"});
	h->mx_queue = sc_metric_series(
	    sc_metrics_gauge(m, "spotlight_password_queue_length",
	                     "Hash and verify jobs waiting for a worker.",
	                     NULL),
	    NULL);
	pthread_mutex_unlock(&h->lock);
	sc_metrics_collector(m, hasher_collect_cb, h);
}

void
sc_hasher_free(struct sc_hasher *h)
{
	struct hash_job *dropped, *job;

	if (h == NULL) {
		return;
	}
	sc_metrics_collector_remove(h->metrics, hasher_collect_cb, h);
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	dropped = h->head;
	h->head = h->tail = NULL;
	h->queued = 0;
	pthread_cond_broadcast(&h->ready);
	pthread_mutex_unlock(&h->lock);

	/* Jobs in progress finish and post their results. */
	for (int i = 0; i < h->nthreads; i++) {
		pthread_join(h->threads[i], NULL);
	}
	if (h->q != NULL) {
		while ((job = dropped) != NULL) {
			dropped = job->next;
			job->err = SC_EUNAVAIL;
			sc_loopq_post(h->q, job_done_cb, job);
		}
		/* Runs every result and every drop, in order. */
		sc_loopq_free(h->q);
	}
	/* Callbacks above may have submitted more. */
	for (;;) {
		pthread_mutex_lock(&h->lock);
		job = h->late;
		if (job != NULL) {
			h->late = job->next;
		}
		pthread_mutex_unlock(&h->lock);
		if (job == NULL) {
			break;
		}
		job_done_cb(job);
	}
	if (h->dummy != NULL) {
		explicit_bzero(h->dummy, strlen(h->dummy));
		free(h->dummy);
	}
	free(h->threads);
	pthread_cond_destroy(&h->ready);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ---- blocking ------------------------------------------------------- */

int
sc_password_hash_sync(const struct sc_hasher_opts *opts, const char *password,
                      char *out, size_t outlen)
{
	uint32_t mem = opts != NULL ? opts->memory_kib : MIN_MEMORY_KIB;
	uint32_t iter = opts != NULL ? opts->iterations : MIN_ITERATIONS;
	size_t len;

	if (password == NULL || out == NULL ||
	    (len = strnlen(password, PASSWORD_MAX + 1)) > PASSWORD_MAX ||
	    mem < MIN_MEMORY_KIB || iter < MIN_ITERATIONS ||
	    outlen < encoded_len(mem, iter)) {
		return SC_EINVAL;
	}
	return hash_encoded(mem, iter, password, len, out, outlen);
}

int
sc_password_verify_sync(const char *encoded, const char *password)
{
	size_t len;

	if (password == NULL ||
	    (len = strnlen(password, PASSWORD_MAX + 1)) > PASSWORD_MAX) {
		return SC_EINVAL;
	}
	if (encoded == NULL) {
		return SC_EAUTH;
	}
	return verify_encoded(encoded, password, len);
}
