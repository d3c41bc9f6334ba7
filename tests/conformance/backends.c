/*
 * backends.c - the fixture table of the conformance suite: one row per
 * backend, each making a fresh store per test (the rest rows: a fresh store
 * behind a fresh in-process server).
 */
#include "backends.h"

#include "pgutil.h"
#include "server/server.h"
#include "testutil.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- rest-file, rest-sqlite, rest-postgres: our server in-process on
 * 127.0.0.1 (a free port) over a fresh store, reached through the REST
 * store ---- */

static int postgres_setup(char **uri, void **ctx);
static void postgres_teardown(void *ctx);

struct rest_ctx {
    char *dir;
    struct mlflow__server *server;
    void *pg; /* postgres_setup's ctx */
};

enum rest_kind { REST_FILE, REST_SQLITE, REST_POSTGRES };

static int rest_setup(char **uri, void **ctx, enum rest_kind kind)
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
    char *pg_uri = NULL;
    if (kind == REST_POSTGRES && postgres_setup(&pg_uri, &rc->pg) != 0) {
        testutil_rm_rf(rc->dir);
        free(rc->dir);
        free(rc);
        return -1;
    }
    if (kind == REST_POSTGRES)
        snprintf(store, sizeof store, "%s", pg_uri);
    else if (kind == REST_SQLITE)
        snprintf(store, sizeof store, "sqlite:///%s/mlflow.db", rc->dir);
    else
        snprintf(store, sizeof store, "file://%s/mlruns", rc->dir);
    free(pg_uri);
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
        if (rc->pg)
            postgres_teardown(rc->pg);
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
    return rest_setup(uri, ctx, REST_FILE);
}

static int rest_sqlite_setup(char **uri, void **ctx)
{
    return rest_setup(uri, ctx, REST_SQLITE);
}

static int rest_postgres_setup(char **uri, void **ctx)
{
    return rest_setup(uri, ctx, REST_POSTGRES);
}

static void rest_teardown(void *ctx)
{
    struct rest_ctx *rc = ctx;
    mlflow__server_stop(rc->server, 2000);
    if (rc->pg)
        postgres_teardown(rc->pg);
    testutil_rm_rf(rc->dir);
    free(rc->dir);
    free(rc);
}

/* ---- postgres: a fresh schema per test in the server the test command
 * started (tests/pg_fixture.sh); MLFLOW_TEST_PG_URI names it, or the file
 * MLFLOW_TEST_PG_URI_FILE holds its URI. The store is pointed at the
 * schema with libpq's options=-csearch_path, so each test sees an empty
 * database of its own; schemas are far cheaper than CREATE DATABASE. The
 * first tests create MLflow's schema through the store; later ones get a
 * schema an earlier test used, with every table emptied. ---- */

static PGconn *pg_admin;
/* Emptied schemas of finished tests, ready for the next. */
#define PG_SPARE 4
static char *pg_spare[PG_SPARE];
static size_t pg_n_spare;

static void pg_admin_close(void)
{
    while (pg_n_spare) {
        char *schema = pg_spare[--pg_n_spare];
        pgutil_drop_schema(pg_admin, schema);
        free(schema);
    }
    PQfinish(pg_admin);
    pg_admin = NULL;
}

static int postgres_setup(char **uri, void **ctx)
{
    char server[1024];
    if (pgutil_server_uri(server, sizeof server) != 0)
        return -1;
    if (!pg_admin) {
        pg_admin = pgutil_connect(server);
        if (!pg_admin)
            return -1;
        atexit(pg_admin_close);
    }
    char *schema = NULL;
    bool ok = true;
    if (pg_n_spare) {
        schema = pg_spare[--pg_n_spare];
    } else {
        schema = malloc(64);
        if (!schema)
            return -1;
        ok = pgutil_create_schema(pg_admin, "conf", schema, 64);
    }
    size_t n = strlen(server) + strlen(schema) + 64;
    *uri = ok ? malloc(n) : NULL;
    if (!*uri) {
        free(schema);
        return -1;
    }
    pgutil_schema_uri(*uri, n, server, schema);
    *ctx = schema;
    return 0;
}

/* Empties the schema's tables for the next test (Default comes back when
 * the next store opens it): three times cheaper than creating MLflow's
 * schema again. A schema whose tables are not all there is dropped. */
static void postgres_teardown(void *ctx)
{
    char *schema = ctx, sql[1024];
    static const char *const tables[] = {
        "experiments",       "experiment_tags",    "runs",
        "tags",              "params",             "metrics",
        "latest_metrics",    "registered_models",  "registered_model_tags",
        "model_versions",    "model_version_tags", "registered_model_aliases",
        "datasets",          "inputs",             "input_tags",
    };
    size_t n = (size_t)snprintf(sql, sizeof sql, "TRUNCATE ");
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s.%s", i ? ", " : "", schema,
                              tables[i]);
    snprintf(sql + n, sizeof sql - n, " RESTART IDENTITY CASCADE");
    bool reuse = false;
    if (pg_admin && pg_n_spare < PG_SPARE) {
        PGresult *res = PQexec(pg_admin, sql);
        reuse = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    if (reuse) {
        pg_spare[pg_n_spare++] = schema;
        return;
    }
    if (pg_admin)
        pgutil_drop_schema(pg_admin, schema);
    free(schema);
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
    /* MLflow's SQL store again, on a real PostgreSQL server. */
    {"postgres", 0, postgres_setup, postgres_teardown},
    {"rest-postgres", 0, rest_postgres_setup, rest_teardown},
};

const size_t conf_n_backends = sizeof conf_backends / sizeof conf_backends[0];

const struct conf_backend *conf_backend_find(const char *name)
{
    for (size_t i = 0; i < conf_n_backends; i++)
        if (strcmp(conf_backends[i].name, name) == 0)
            return &conf_backends[i];
    return NULL;
}
