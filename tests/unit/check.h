/* Minimal test harness for the C unit tests: each CHECK counts a pass or a
 * failure; a failure prints where and why; check_done() prints the summary line
 * 'N passed, N failed[, N skipped]' that tests/run reads, and returns the exit status. */
#ifndef SG_CHECK_H
#define SG_CHECK_H
#include <math.h>
#include <stdio.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(cond, ...) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__); \
           fprintf(stdout, __VA_ARGS__); fputc('\n', stdout); } } while (0)

#define SKIP(...) do { check_skipped++; fprintf(stdout, "SKIP "); \
    fprintf(stdout, __VA_ARGS__); fputc('\n', stdout); } while (0)

/* Compares two arrays; on failure prints the worst element and the tolerance.
 * |a-b| <= atol + rtol*|b| must hold for every element. */
static inline int check_close_(const char *file, int line, const char *what,
                               const double *a, const double *b, long n,
                               double rtol, double atol)
{
    long worst = -1; double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]), lim = atol + rtol * fabs(b[i]);
        if (!(d <= lim) && (worst < 0 || d - lim > worst_excess || isnan(d))) {
            worst = i; worst_excess = isnan(d) ? INFINITY : d - lim;
        }
    }
    if (worst < 0) { check_passed++; return 1; }
    check_failed++;
    printf("FAIL %s:%d: %s: element %ld of %ld: got %.9g want %.9g (rtol %g, atol %g)\n",
           file, line, what, worst, n, a[worst], b[worst], rtol, atol);
    return 0;
}
#define CHECK_CLOSE(what, a, b, n, rtol, atol) \
    check_close_(__FILE__, __LINE__, (what), (a), (b), (n), (rtol), (atol))

static inline int check_done(void)
{
    printf("%d passed, %d failed, %d skipped\n", check_passed, check_failed, check_skipped);
    return check_failed ? 1 : 0;
}
#endif
