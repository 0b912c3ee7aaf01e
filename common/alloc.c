/* alloc.c: checked allocation; out-of-memory aborts through sc_oom. */
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void *
sc_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL) {
		sc_oom();
	}
	return p;
}

void *
sc_calloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (p == NULL) {
		sc_oom();
	}
	return p;
}

void *
sc_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL) {
		sc_oom();
	}
	return q;
}

char *
sc_strdup(const char *s)
{
	return sc_strndup(s, strlen(s));
}

char *
sc_strndup(const char *s, size_t n)
{
	char *p = sc_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *
sc_memdup(const void *p, size_t n)
{
	void *q = sc_malloc(n);
	if (n > 0) {
		memcpy(q, p, n);
	}
	return q;
}

char *
sc_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sc_oom();
	}
	char *s = sc_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}
