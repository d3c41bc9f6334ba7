/*
 * testutil.h - small helpers shared by the test programs: fresh temporary
 * directories and their removal. Header-only because every unit test is its
 * own program built from a single .c file.
 */
#ifndef MLFLOW_TESTUTIL_H
#define MLFLOW_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif /* MLFLOW_TESTUTIL_H */
