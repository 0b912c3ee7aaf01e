/* testing.h: the one line a Check unit test file needs for its main():
 *   SC_TEST_MAIN(token_suite)
 * where token_suite() returns the file's Suite. Prints Check's summary and
 * exits non-zero on any failure. CK_FORK stays at Check's default (each
 * test in its own process) unless the environment says otherwise. */
#ifndef SC_TESTING_H
#define SC_TESTING_H

#include <check.h>
#include <stdlib.h>

#define SC_TEST_MAIN(suite_fn)                                                 \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		srunner_run_all(sr, CK_NORMAL);                                \
		int failed = srunner_ntests_failed(sr);                        \
		srunner_free(sr);                                              \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;              \
	}

#endif
