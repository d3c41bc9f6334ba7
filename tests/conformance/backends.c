/*
 * backends.c - the fixture table of the conformance suite: one row per
 * backend, each making a fresh store per test.
 */
#include "backends.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- file: a fresh temporary directory, URI file://<tmp>/mlruns ---- */

static int file_setup(char **uri, void **ctx)
{
    char *dir = testutil_mkdtemp("mlflow-conformance");
    if (!dir)
        return -1;
    size_t n = strlen(dir) + sizeof "file:///mlruns";
    *uri = malloc(n);
    if (!*uri) {
        testutil_rm_rf(dir);
        free(dir);
        return -1;
    }
    /* The store creates mlruns/ itself, with the Default experiment. */
    snprintf(*uri, n, "file://%s/mlruns", dir);
    *ctx = dir;
    return 0;
}

static void file_teardown(void *ctx)
{
    testutil_rm_rf(ctx);
    free(ctx);
}

/* ---- sqlite: a fresh temporary directory, URI sqlite:////<tmp>/mlflow.db ---- */

static int sqlite_setup(char **uri, void **ctx)
{
    char *dir = testutil_mkdtemp("mlflow-conformance");
    if (!dir)
        return -1;
    size_t n = strlen(dir) + sizeof "sqlite:////mlflow.db";
    *uri = malloc(n);
    if (!*uri) {
        testutil_rm_rf(dir);
        free(dir);
        return -1;
    }
    /* The store creates the database, MLflow's schema and Default. */
    snprintf(*uri, n, "sqlite:///%s/mlflow.db", dir);
    *ctx = dir;
    return 0;
}

const struct conf_backend conf_backends[] = {
    {"file", CONF_CAP_REUSE_DELETED_NAME | CONF_CAP_EXACT_INF, file_setup, file_teardown},
    /* MLflow's SQL store: names stay taken by deleted experiments, and
     * infinities are stored as +-DBL_MAX. */
    {"sqlite", 0, sqlite_setup, file_teardown},
};

const size_t conf_n_backends = sizeof conf_backends / sizeof conf_backends[0];

const struct conf_backend *conf_backend_find(const char *name)
{
    for (size_t i = 0; i < conf_n_backends; i++)
        if (strcmp(conf_backends[i].name, name) == 0)
            return &conf_backends[i];
    return NULL;
}
