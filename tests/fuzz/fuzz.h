/* fuzz.h: what every libFuzzer harness in tests/fuzz/ shares: the entry
 * points libFuzzer calls, and a check that stops the run (as a crash, so
 * libFuzzer saves the input) when an invariant of the code under test is
 * broken. */
#ifndef SC_FUZZ_H
#define SC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once before the first input; may change argv (we do not). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One input; data is borrowed for the call. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: when it does not hold, say which and abort (libFuzzer
 * reports a deadly signal and writes the input out). */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
