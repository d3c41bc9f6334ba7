/*
 * backends.c - the fixture table of the conformance suite: one row per
 * backend, each making a fresh store per test (the rest rows: a fresh store
 * behind a fresh in-process server).
 */
#include "backends.h"

#include "server/server.h"
#include "testutil.h"

#include <stdbool.h>
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

/* ---- rest-file, rest-sqlite: our server in-process on 127.0.0.1 (a free
 * port) over a fresh store, reached through the REST store ---- */

struct rest_ctx {
    char *dir;
    struct mlflow__server *server;
};

static int rest_setup(char **uri, void **ctx, bool sqlite)
{
    /* Same retries as a user gets, without the waits between them: a 500
     * that MLflow sends for INVALID_STATE would otherwise cost a minute. */
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0", 1);
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
    struct rest_ctx *rc = calloc(1, sizeof *rc);
    if (!rc)
        return -1;
    rc->dir = testutil_mkdtemp("mlflow-conformance");
    char store[4200], art[4200];
    if (!rc->dir) {
        free(rc);
        return -1;
    }
    if (sqlite)
        snprintf(store, sizeof store, "sqlite:///%s/mlflow.db", rc->dir);
    else
        snprintf(store, sizeof store, "file://%s/mlruns", rc->dir);
    snprintf(art, sizeof art, "%s/mlartifacts", rc->dir);
    struct mlflow__server_opts o = {
        .backend_store_uri = store,
        .serve_artifacts = true,
        .artifacts_destination = art,
        .host = "127.0.0.1",
        .workers = 4,
    };
    struct mlflow_error err = {0};
    *uri = malloc(64);
    if (!*uri || mlflow__server_start(&o, &rc->server, &err) != 0) {
        fprintf(stderr, "rest backend: cannot start the server: %s\n", err.message);
        free(*uri);
        testutil_rm_rf(rc->dir);
        free(rc->dir);
        free(rc);
        return -1;
    }
    snprintf(*uri, 64, "http://127.0.0.1:%d", mlflow__server_port(rc->server));
    *ctx = rc;
    return 0;
}

static int rest_file_setup(char **uri, void **ctx)
{
    return rest_setup(uri, ctx, false);
}

static int rest_sqlite_setup(char **uri, void **ctx)
{
    return rest_setup(uri, ctx, true);
}

static void rest_teardown(void *ctx)
{
    struct rest_ctx *rc = ctx;
    mlflow__server_stop(rc->server, 2000);
    testutil_rm_rf(rc->dir);
    free(rc->dir);
    free(rc);
}

const struct conf_backend conf_backends[] = {
    {"file", CONF_CAP_REUSE_DELETED_NAME | CONF_CAP_EXACT_INF, file_setup, file_teardown},
    /* MLflow's SQL store: names stay taken by deleted experiments, and
     * infinities are stored as +-DBL_MAX. */
    {"sqlite", 0, sqlite_setup, file_teardown},
    /* Through REST: the same semantics as the store behind the server
     * (non-finite values travel as "NaN"/"Infinity" strings). */
    {"rest-file", CONF_CAP_REUSE_DELETED_NAME | CONF_CAP_EXACT_INF, rest_file_setup,
     rest_teardown},
    {"rest-sqlite", 0, rest_sqlite_setup, rest_teardown},
};

const size_t conf_n_backends = sizeof conf_backends / sizeof conf_backends[0];

const struct conf_backend *conf_backend_find(const char *name)
{
    for (size_t i = 0; i < conf_n_backends; i++)
        if (strcmp(conf_backends[i].name, name) == 0)
            return &conf_backends[i];
    return NULL;
}
