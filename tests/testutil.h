/*
 * testutil.h - small helpers shared by the cmocka test programs: fresh
 * temporary directories and their removal, writing a file, running a shell
 * command, and the OK() assertion. Header-only because every unit test is
 * its own program built from a single .c file.
 */
#ifndef MLFLOW_TESTUTIL_H
#define MLFLOW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <mlflow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int testutil_rm_entry(const char *path, const struct stat *sb, int type,
                                    struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf; missing paths are fine. */
static inline void testutil_rm_rf(const char *path)
{
    if (path && *path)
        nftw(path, testutil_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under $TMPDIR (or /tmp); malloc'ed path, NULL on failure. */
static inline char *testutil_mkdtemp(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + strlen(prefix) + 16;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%s-XXXXXX", base, prefix);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

/* Writes text to dir/name and, unless mode is 0, chmods it to mode; fails
 * the test when it cannot. */
static inline void testutil_write_file(const char *dir, const char *name, const char *text,
                                       mode_t mode)
{
    char path[1024];
    FILE *fp;

    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(len > 0 && (size_t)len < sizeof path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    if (mode)
        chmod(path, mode);
}

/* Runs a shell command built from fmt; fails the test unless it exits 0. */
static inline void testutil_sh(const char *fmt, ...) MLFLOW_PRINTF(1, 2);

static inline void testutil_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* Fails the cmocka test unless expr (an mlflow call) returned MLFLOW_OK,
 * naming the call and the error. */
#define OK(expr)                                                                             \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != MLFLOW_OK)                                                                \
            fail_msg("%s: %s (%s)", #expr, mlflow_error_name(rc_), mlflow_last_error());     \
    } while (0)

#endif /* MLFLOW_TESTUTIL_H */
