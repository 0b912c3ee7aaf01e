/* alloc.h: allocation that aborts on out-of-memory (the one documented
 * abort, see sc_oom), so callers never carry ENOMEM paths. */
#ifndef SC_ALLOC_H
#define SC_ALLOC_H

#include <stddef.h>

/* Each returns memory the caller owns; free with free(). Never NULL. */
void *sc_malloc(size_t n);
void *sc_calloc(size_t count, size_t size);
void *sc_realloc(void *p, size_t n);
char *sc_strdup(const char *s);
char *sc_strndup(const char *s, size_t n);
/* A copy of n bytes (n may be 0). */
void *sc_memdup(const void *p, size_t n);
/* printf into a new string; caller owns, free with free(). */
char *sc_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
