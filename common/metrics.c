/* metrics.c: the Prometheus registry: families, series with atomic values,
 * collectors, and the text exposition format 0.0.4. */
#include "metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,  0.1,    0.25,  0.5,
                                        1,      2.5,   5,      10};

/* A value is a double kept as its bits in an atomic 64-bit word: C11 has
 * no atomic add for doubles, so adds are a compare-and-swap loop (one
 * uncontended cmpxchg on the loop thread). */
struct sc_metric {
	struct sc_metric *next;
	struct sc_metric_family *fam;
	char **values;          /* nlabels raw values, for sc_metric_series */
	char *labels;           /* rendered: name="escaped",... or "" */
	_Atomic uint64_t value; /* counter, gauge; a histogram's sum */
	_Atomic uint64_t buckets[]; /* histogram: nbounds + 1 (+Inf), not
	                               cumulative */
};

struct sc_metric_family {
	struct sc_metric_family *next;
	enum metric_type type;
	char *name, *help;
	char *label_names[SC_METRICS_MAX_LABELS];
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	struct sc_metric *series, **tail;
	size_t nseries;
	bool full_logged;
};

struct metrics_collector {
	sc_metrics_collect_fn fn;
	void *arg;
};

/* A block from sc_metrics_calloc. */
struct metrics_block {
	struct metrics_block *next;
	max_align_t payload[];
};

struct sc_metrics {
	struct sc_metric_family *families, **tail;
	struct metrics_collector *collectors;
	size_t ncollectors, collectors_cap;
	struct metrics_block *blocks;
};

/* ---- values ----------------------------------------------------------- */

static uint64_t
to_bits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	return u;
}

static double
from_bits(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof v);
	return v;
}

static void
value_add(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
	    p, &old, to_bits(from_bits(old) + v), memory_order_relaxed,
	    memory_order_relaxed)) {
	}
}

/* ---- names ------------------------------------------------------------ */

static bool
name_ok(const char *s, size_t n, bool colon)
{
	if (n == 0) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             c == '_' || (colon && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
			return false;
		}
	}
	return true;
}

/* Split "a,b" into fam->label_names. false when a name is bad. */
static bool
labels_parse(struct sc_metric_family *fam, const char *labels)
{
	const char *p = labels;

	if (labels == NULL || *labels == '\0') {
		return true;
	}
	for (;;) {
		size_t n = strcspn(p, ",");

		if (fam->nlabels == SC_METRICS_MAX_LABELS ||
		    !name_ok(p, n, false) ||
		    (n >= 2 && p[0] == '_' && p[1] == '_') ||
		    (fam->type == METRIC_HISTOGRAM && n == 2 &&
		     memcmp(p, "le", 2) == 0)) {
			return false;
		}
		fam->label_names[fam->nlabels] = sc_strndup(p, n);
		for (size_t i = 0; i < fam->nlabels; i++) {
			if (strcmp(fam->label_names[i],
			           fam->label_names[fam->nlabels]) == 0) {
				fam->nlabels++;
				return false;
			}
		}
		fam->nlabels++;
		if (p[n] == '\0') {
			return true;
		}
		p += n + 1;
	}
}

/* ---- a growable text buffer --------------------------------------------- */

struct mbuf {
	char *p;
	size_t len, cap;
};

static void
mbuf_reserve(struct mbuf *b, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		while (cap - b->len < n + 1) {
			cap *= 2;
		}
		b->p = sc_realloc(b->p, cap);
		b->cap = cap;
	}
}

static void
mbuf_add(struct mbuf *b, const char *s, size_t n)
{
	mbuf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
mbuf_str(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

/* s with backslash and newline escaped, and double quotes too when
 * `quote` (label values; HELP text escapes only the first two). */
static void
mbuf_escaped(struct mbuf *b, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			mbuf_add(b, "\\\\", 2);
		} else if (*s == '\n') {
			mbuf_add(b, "\\n", 2);
		} else if (*s == '"' && quote) {
			mbuf_add(b, "\\\"", 2);
		} else {
			mbuf_add(b, s, 1);
		}
	}
}

/* A sample value as Prometheus reads it (Go's ParseFloat): the shortest
 * of %.15g and %.17g that reads back exactly; NaN, +Inf, -Inf. */
static void
mbuf_double(struct mbuf *b, double v)
{
	char s[40];

	if (isnan(v)) {
		mbuf_str(b, "NaN");
		return;
	}
	if (isinf(v)) {
		mbuf_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(s, sizeof s, "%.15g", v);
	if (strtod(s, NULL) != v) {
		snprintf(s, sizeof s, "%.17g", v);
	}
	mbuf_str(b, s);
}

static void
mbuf_u64(struct mbuf *b, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	mbuf_add(b, s, (size_t)n);
}

/* ---- the registry ------------------------------------------------------- */

struct sc_metrics *
sc_metrics_new(void)
{
	struct sc_metrics *m = sc_calloc(1, sizeof *m);
	m->tail = &m->families;
	return m;
}

static void
series_free(struct sc_metric *s, size_t nlabels)
{
	for (size_t i = 0; i < nlabels; i++) {
		free(s->values[i]);
	}
	free(s->values);
	free(s->labels);
	free(s);
}

static void
family_free(struct sc_metric_family *f)
{
	while (f->series != NULL) {
		struct sc_metric *s = f->series;
		f->series = s->next;
		series_free(s, f->nlabels);
	}
	for (size_t i = 0; i < f->nlabels; i++) {
		free(f->label_names[i]);
	}
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void
sc_metrics_free(struct sc_metrics *m)
{
	if (m == NULL) {
		return;
	}
	while (m->families != NULL) {
		struct sc_metric_family *f = m->families;
		m->families = f->next;
		family_free(f);
	}
	while (m->blocks != NULL) {
		struct metrics_block *b = m->blocks;
		m->blocks = b->next;
		free(b);
	}
	free(m->collectors);
	free(m);
}

void *
sc_metrics_calloc(struct sc_metrics *m, size_t size)
{
	struct metrics_block *b;

	if (m == NULL) {
		return NULL;
	}
	b = sc_calloc(1, sizeof *b + size);
	b->next = m->blocks;
	m->blocks = b;
	return b->payload;
}

static bool
same_shape(const struct sc_metric_family *a, const struct sc_metric_family *b)
{
	if (a->type != b->type || a->nlabels != b->nlabels ||
	    a->nbounds != b->nbounds) {
		return false;
	}
	for (size_t i = 0; i < a->nlabels; i++) {
		if (strcmp(a->label_names[i], b->label_names[i]) != 0) {
			return false;
		}
	}
	for (size_t i = 0; i < a->nbounds; i++) {
		if (a->bounds[i] != b->bounds[i]) {
			return false;
		}
	}
	return true;
}

static struct sc_metric_family *
family_declare(struct sc_metrics *m, enum metric_type type, const char *name,
               const char *help, const char *labels, const double *bounds,
               size_t nbounds)
{
	struct sc_metric_family *f, *old;

	if (m == NULL) {
		return NULL;
	}
	if (name == NULL || !name_ok(name, strlen(name), true)) {
		sc_log_error(NULL, "cannot declare metric '%s': bad name",
		             name != NULL ? name : "");
		return NULL;
	}
	f = sc_calloc(1, sizeof *f);
	f->type = type;
	f->name = sc_strdup(name);
	f->help = sc_strdup(help != NULL ? help : "");
	f->tail = &f->series;
	if (!labels_parse(f, labels)) {
		sc_log_error(NULL,
		             "cannot declare metric '%s': bad labels '%s'",
		             name, labels);
		goto err;
	}
	if (type == METRIC_HISTOGRAM) {
		if (bounds == NULL) {
			bounds = latency_bounds;
			nbounds =
			    sizeof latency_bounds / sizeof *latency_bounds;
		}
		for (size_t i = 0; i < nbounds; i++) {
			if (!isfinite(bounds[i]) ||
			    (i > 0 && !(bounds[i] > bounds[i - 1]))) {
				sc_log_error(
				    NULL,
				    "cannot declare metric '%s': bucket "
				    "bounds must increase and be finite",
				    name);
				goto err;
			}
		}
		f->nbounds = nbounds;
		f->bounds =
		    sc_malloc((nbounds > 0 ? nbounds : 1) * sizeof *f->bounds);
		if (nbounds > 0) {
			memcpy(f->bounds, bounds, nbounds * sizeof *f->bounds);
		}
	}
	for (old = m->families; old != NULL; old = old->next) {
		if (strcmp(old->name, name) == 0) {
			if (same_shape(old, f)) {
				family_free(f);
				return old;
			}
			sc_log_error(NULL,
			             "cannot declare metric '%s': declared "
			             "before with another type or labels",
			             name);
			goto err;
		}
	}
	*m->tail = f;
	m->tail = &f->next;
	if (f->nlabels == 0) {
		(void)sc_metric_series(f, NULL);
	}
	return f;
err:
	family_free(f);
	return NULL;
}

struct sc_metric_family *
sc_metrics_counter(struct sc_metrics *m, const char *name, const char *help,
                   const char *labels)
{
	return family_declare(m, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct sc_metric_family *
sc_metrics_gauge(struct sc_metrics *m, const char *name, const char *help,
                 const char *labels)
{
	return family_declare(m, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct sc_metric_family *
sc_metrics_histogram(struct sc_metrics *m, const char *name, const char *help,
                     const char *labels, const double *bounds, size_t nbounds)
{
	return family_declare(m, METRIC_HISTOGRAM, name, help, labels, bounds,
	                      nbounds);
}

struct sc_metric *
sc_metric_series(struct sc_metric_family *fam, const char *const *values)
{
	struct sc_metric *s;
	struct mbuf lb = {0};
	size_t nb;

	if (fam == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < fam->nlabels; i++) {
		if (values == NULL || values[i] == NULL) {
			return NULL;
		}
	}
	for (s = fam->series; s != NULL; s = s->next) {
		size_t i = 0;
		while (i < fam->nlabels &&
		       strcmp(s->values[i], values[i]) == 0) {
			i++;
		}
		if (i == fam->nlabels) {
			return s;
		}
	}
	if (fam->nseries >= SC_METRICS_MAX_SERIES) {
		if (!fam->full_logged) {
			sc_log_error(NULL,
			             "metric '%s' has %d series: no more are "
			             "made",
			             fam->name, SC_METRICS_MAX_SERIES);
			fam->full_logged = true;
		}
		return NULL;
	}
	nb = fam->type == METRIC_HISTOGRAM ? fam->nbounds + 1 : 0;
	s = sc_calloc(1, sizeof *s + nb * sizeof s->buckets[0]);
	s->fam = fam;
	s->values =
	    sc_calloc(fam->nlabels > 0 ? fam->nlabels : 1, sizeof *s->values);
	for (size_t i = 0; i < fam->nlabels; i++) {
		s->values[i] = sc_strdup(values[i]);
		if (i > 0) {
			mbuf_add(&lb, ",", 1);
		}
		mbuf_str(&lb, fam->label_names[i]);
		mbuf_add(&lb, "=\"", 2);
		mbuf_escaped(&lb, values[i], true);
		mbuf_add(&lb, "\"", 1);
	}
	s->labels = lb.p != NULL ? lb.p : sc_strdup("");
	atomic_init(&s->value, to_bits(0.0));
	for (size_t i = 0; i < nb; i++) {
		atomic_init(&s->buckets[i], 0);
	}
	*fam->tail = s;
	fam->tail = &s->next;
	fam->nseries++;
	return s;
}

/* ---- updates ------------------------------------------------------------ */

void
sc_metric_inc(struct sc_metric *s)
{
	if (s != NULL && s->fam->type != METRIC_HISTOGRAM) {
		value_add(&s->value, 1.0);
	}
}

void
sc_metric_add(struct sc_metric *s, double v)
{
	if (s == NULL || s->fam->type == METRIC_HISTOGRAM || isnan(v) ||
	    (s->fam->type == METRIC_COUNTER && v < 0)) {
		return;
	}
	value_add(&s->value, v);
}

void
sc_metric_dec(struct sc_metric *s)
{
	if (s != NULL && s->fam->type == METRIC_GAUGE) {
		value_add(&s->value, -1.0);
	}
}

void
sc_metric_set(struct sc_metric *s, double v)
{
	if (s != NULL && s->fam->type != METRIC_HISTOGRAM) {
		atomic_store_explicit(&s->value, to_bits(v),
		                      memory_order_relaxed);
	}
}

void
sc_metric_observe(struct sc_metric *s, double v)
{
	const struct sc_metric_family *f;
	size_t i = 0;

	if (s == NULL || s->fam->type != METRIC_HISTOGRAM || isnan(v)) {
		return;
	}
	f = s->fam;
	while (i < f->nbounds && v > f->bounds[i]) {
		i++;
	}
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	value_add(&s->value, v);
}

double
sc_metric_value(const struct sc_metric *s)
{
	if (s == NULL) {
		return 0;
	}
	return from_bits(atomic_load_explicit((_Atomic uint64_t *)&s->value,
	                                      memory_order_relaxed));
}

uint64_t
sc_metric_count(const struct sc_metric *s)
{
	uint64_t n = 0;

	if (s == NULL || s->fam->type != METRIC_HISTOGRAM) {
		return 0;
	}
	for (size_t i = 0; i <= s->fam->nbounds; i++) {
		n += atomic_load_explicit((_Atomic uint64_t *)&s->buckets[i],
		                          memory_order_relaxed);
	}
	return n;
}

/* ---- collectors and rendering -------------------------------------------- */

void
sc_metrics_collector(struct sc_metrics *m, sc_metrics_collect_fn fn, void *arg)
{
	if (m == NULL || fn == NULL) {
		return;
	}
	if (m->ncollectors == m->collectors_cap) {
		m->collectors_cap =
		    m->collectors_cap ? m->collectors_cap * 2 : 8;
		m->collectors = sc_realloc(
		    m->collectors, m->collectors_cap * sizeof *m->collectors);
	}
	m->collectors[m->ncollectors].fn = fn;
	m->collectors[m->ncollectors].arg = arg;
	m->ncollectors++;
}

void
sc_metrics_collector_remove(struct sc_metrics *m, sc_metrics_collect_fn fn,
                            void *arg)
{
	for (size_t i = 0; m != NULL && i < m->ncollectors; i++) {
		if (m->collectors[i].fn == fn && m->collectors[i].arg == arg) {
			memmove(&m->collectors[i], &m->collectors[i + 1],
			        (m->ncollectors - i - 1) *
			            sizeof *m->collectors);
			m->ncollectors--;
			return;
		}
	}
}

/* name{labels} or name{labels,extra} or name, then a space. */
static void
sample_start(struct mbuf *b, const struct sc_metric_family *f,
             const char *suffix, const char *labels, const char *extra)
{
	mbuf_str(b, f->name);
	mbuf_str(b, suffix);
	if (*labels != '\0' || extra != NULL) {
		mbuf_add(b, "{", 1);
		mbuf_str(b, labels);
		if (extra != NULL) {
			if (*labels != '\0') {
				mbuf_add(b, ",", 1);
			}
			mbuf_str(b, extra);
		}
		mbuf_add(b, "}", 1);
	}
	mbuf_add(b, " ", 1);
}

static void
render_histogram(struct mbuf *b, const struct sc_metric_family *f,
                 struct sc_metric *s)
{
	uint64_t cum = 0;
	struct mbuf le = {0};

	/* Each bucket is read once: the cumulative counts, +Inf and _count
	 * agree even while other threads observe. */
	for (size_t i = 0; i <= f->nbounds; i++) {
		cum +=
		    atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
		le.len = 0;
		mbuf_str(&le, "le=\"");
		if (i < f->nbounds) {
			mbuf_double(&le, f->bounds[i]);
		} else {
			mbuf_str(&le, "+Inf");
		}
		mbuf_add(&le, "\"", 1);
		sample_start(b, f, "_bucket", s->labels, le.p);
		mbuf_u64(b, cum);
		mbuf_add(b, "\n", 1);
	}
	free(le.p);
	sample_start(b, f, "_sum", s->labels, NULL);
	mbuf_double(b, from_bits(atomic_load_explicit(&s->value,
	                                              memory_order_relaxed)));
	mbuf_add(b, "\n", 1);
	sample_start(b, f, "_count", s->labels, NULL);
	mbuf_u64(b, cum);
	mbuf_add(b, "\n", 1);
}

char *
sc_metrics_render(struct sc_metrics *m, size_t *len)
{
	struct mbuf b = {0};

	mbuf_reserve(&b, 0);
	b.p[0] = '\0';
	for (size_t i = 0; m != NULL && i < m->ncollectors; i++) {
		m->collectors[i].fn(m, m->collectors[i].arg);
	}
	for (const struct sc_metric_family *f = m != NULL ? m->families : NULL;
	     f != NULL; f = f->next) {
		mbuf_str(&b, "# HELP ");
		mbuf_str(&b, f->name);
		mbuf_add(&b, " ", 1);
		mbuf_escaped(&b, f->help, false);
		mbuf_str(&b, "\n# TYPE ");
		mbuf_str(&b, f->name);
		mbuf_add(&b, " ", 1);
		mbuf_str(&b, type_names[f->type]);
		mbuf_add(&b, "\n", 1);
		for (struct sc_metric *s = f->series; s != NULL; s = s->next) {
			if (f->type == METRIC_HISTOGRAM) {
				render_histogram(&b, f, s);
				continue;
			}
			sample_start(&b, f, "", s->labels, NULL);
			mbuf_double(&b, from_bits(atomic_load_explicit(
			                    &s->value, memory_order_relaxed)));
			mbuf_add(&b, "\n", 1);
		}
	}
	if (len != NULL) {
		*len = b.len;
	}
	return b.p;
}
