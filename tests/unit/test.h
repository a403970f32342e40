/* Minimal unit-test harness: TEST(name) functions, CHECK macros, a summary line. */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failed, test_checks;

#define CHECK(c) do { test_checks++; if (!(c)) { test_failed++; \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); test_checks++; \
	if (!(fabs(a_ - b_) <= (tol))) { test_failed++; \
	fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, differ by more than %g\n", \
	        __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } } while (0)

/* run one test function; prints "ok name" or "FAIL name" */
#define RUN(fn) do { int before_ = test_failed; fn(); \
	printf("%s %s\n", test_failed == before_ ? "ok" : "FAIL", #fn); } while (0)

/* makes the temporary folder of DIR, a template ending in XXXXXX; a test program that
 * cannot exits 1, saying why */
static inline void test_mkdtemp(char *dir)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline int test_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, test_checks, test_failed);
	return test_failed ? 1 : 0;
}

#endif
