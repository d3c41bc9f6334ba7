/*
 * bench_util.h - the helpers every benchmark uses: a monotonic clock,
 * medians, exiting on an API error, and throwaway directories. Header-only
 * (static inline) because each benchmark is its own program built from a
 * single .c file; an unused inline helper costs nothing.
 */
#ifndef MLFLOW_BENCH_UTIL_H
#define MLFLOW_BENCH_UTIL_H

#include <mlflow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n-1]; sorts v in place. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A benchmark that cannot do its work has nothing to report: stop. */
static inline void check(int rc, const char *what)
{
    if (rc != MLFLOW_OK) {
        fprintf(stderr, "bench: %s: %s\n", what, mlflow_last_error());
        exit(1);
    }
}

static inline struct mlflow_client *open_client(const char *uri)
{
    struct mlflow_client *c;
    check(mlflow_client_open(uri, &c), uri);
    return c;
}

/* A fresh /tmp/mlflow-bench-<tag>-XXXXXX; malloc'ed path, NULL on failure. */
static inline char *fresh_dir(const char *tag)
{
    char tmpl[128];
    snprintf(tmpl, sizeof tmpl, "/tmp/mlflow-bench-%s-XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* rm -rf d; a failure is only worth a warning. */
static inline void remove_dir(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", d);
}

#endif /* MLFLOW_BENCH_UTIL_H */
