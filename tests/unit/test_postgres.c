/*
 * test_postgres.c - the PostgreSQL store where several clients (several
 * tracking servers, in production) write one database at the same instant,
 * and where the database drops its connections.
 *
 * Each client below has its own store and connection pool, as separate
 * servers would. Racing calls are released together by a barrier, many
 * rounds over, so the conflicts really happen inside PostgreSQL.
 *
 * Needs the server of tests/pg_fixture.sh (MLFLOW_TEST_PG_URI, or the file
 * named by MLFLOW_TEST_PG_URI_FILE); fails without one. Every test works in
 * a fresh schema of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <mlflow.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgutil.h"

#define ROUNDS 20

struct fx {
    PGconn *admin;
    char server[1024];
    char schema[64];
    char uri[1400];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    if (!fx || pgutil_server_uri(fx->server, sizeof fx->server) != 0) {
        free(fx);
        return -1;
    }
    fx->admin = pgutil_connect(fx->server);
    if (!fx->admin) {
        free(fx);
        return -1;
    }
    if (!pgutil_create_schema(fx->admin, "pgtest", fx->schema, sizeof fx->schema)) {
        PQfinish(fx->admin);
        free(fx);
        return -1;
    }
    pgutil_schema_uri(fx->uri, sizeof fx->uri, fx->server, fx->schema);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    pgutil_drop_schema(fx->admin, fx->schema);
    PQfinish(fx->admin);
    free(fx);
    return 0;
}

static struct mlflow_client *open_client(const char *uri)
{
    struct mlflow_client *c = NULL;
    int rc = mlflow_client_open(uri, &c);
    if (rc)
        fprintf(stderr, "open %s: %s\n", uri, mlflow_last_error());
    assert_int_equal(rc, MLFLOW_OK);
    return c;
}

/* ---- racing pairs ---- */

struct racer {
    struct mlflow_client *client;
    pthread_barrier_t *go;
    const char *run_id;
    char name[64];
    char value[64];
    int rc;
    char *id;
};

static void *create_same_experiment(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    r->rc = mlflow_client_create_experiment(r->client, r->name, NULL, &r->id);
    return NULL;
}

static void *log_same_param(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    r->rc = mlflow_client_log_param(r->client, r->run_id, r->name, r->value);
    return NULL;
}

/* Runs fn in two threads, one per client, released together. */
static void race(struct racer r[2], void *(*fn)(void *))
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        r[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, fn, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

/* Two servers creating the same experiment at the same instant: one
 * success and one RESOURCE_ALREADY_EXISTS, and one experiment. */
static void test_same_experiment_race(void **state)
{
    struct fx *fx = *state;
    struct mlflow_client *a = open_client(fx->uri), *b = open_client(fx->uri);
    for (int round = 0; round < ROUNDS; round++) {
        struct racer r[2] = {{.client = a}, {.client = b}};
        for (int i = 0; i < 2; i++)
            snprintf(r[i].name, sizeof r[i].name, "race-%d", round);
        race(r, create_same_experiment);
        int ok = (r[0].rc == MLFLOW_OK) + (r[1].rc == MLFLOW_OK);
        int exists = (r[0].rc == MLFLOW_RESOURCE_ALREADY_EXISTS) +
                     (r[1].rc == MLFLOW_RESOURCE_ALREADY_EXISTS);
        if (ok != 1 || exists != 1)
            fprintf(stderr, "round %d: %s / %s\n", round, mlflow_error_name(r[0].rc),
                    mlflow_error_name(r[1].rc));
        assert_int_equal(ok, 1);
        assert_int_equal(exists, 1);
        struct mlflow_experiment *e = NULL;
        assert_int_equal(mlflow_client_get_experiment_by_name(a, r[0].name, &e), MLFLOW_OK);
        assert_string_equal(e->experiment_id, r[0].rc == MLFLOW_OK ? r[0].id : r[1].id);
        mlflow_experiment_free(e);
        mlflow_free(r[0].id);
        mlflow_free(r[1].id);
    }
    mlflow_client_close(a);
    mlflow_client_close(b);
}

/* Params are write-once under races too: of two different values logged
 * at once, one wins, the other caller hears so, and the winner's stays. */
static void test_param_race(void **state)
{
    struct fx *fx = *state;
    struct mlflow_client *a = open_client(fx->uri), *b = open_client(fx->uri);
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_client_create_run(a, "0", NULL, &run), MLFLOW_OK);
    for (int round = 0; round < ROUNDS; round++) {
        struct racer r[2] = {{.client = a, .run_id = run->info.run_id},
                             {.client = b, .run_id = run->info.run_id}};
        for (int i = 0; i < 2; i++) {
            snprintf(r[i].name, sizeof r[i].name, "p%d", round);
            snprintf(r[i].value, sizeof r[i].value, "from-%d", i);
        }
        race(r, log_same_param);
        int ok = (r[0].rc == MLFLOW_OK) + (r[1].rc == MLFLOW_OK);
        int refused = (r[0].rc == MLFLOW_INVALID_PARAMETER_VALUE) +
                      (r[1].rc == MLFLOW_INVALID_PARAMETER_VALUE);
        assert_int_equal(ok, 1);
        assert_int_equal(refused, 1);
        struct mlflow_run *got = NULL;
        assert_int_equal(mlflow_client_get_run(b, run->info.run_id, &got), MLFLOW_OK);
        const char *stored = NULL;
        for (size_t i = 0; i < got->data.n_params; i++)
            if (strcmp(got->data.params[i].key, r[0].name) == 0)
                stored = got->data.params[i].value;
        assert_non_null(stored);
        assert_string_equal(stored, r[0].rc == MLFLOW_OK ? r[0].value : r[1].value);
        mlflow_run_free(got);
    }
    mlflow_run_free(run);
    mlflow_client_close(a);
    mlflow_client_close(b);
}

/* ---- latest_metrics under many writers ---- */

#define WRITERS 4
#define POINTS 100

struct writer {
    struct mlflow_client *client;
    const char *run_id;
    int index;
    int failures;
};

static void *write_points(void *arg)
{
    struct writer *w = arg;
    /* Writer i logs steps i, i + WRITERS, ...; half of them newest first,
     * so older points keep arriving after newer ones. */
    for (int k = 0; k < POINTS; k++) {
        int j = w->index % 2 ? POINTS - 1 - k : k;
        int64_t step = (int64_t)j * WRITERS + w->index;
        if (mlflow_client_log_metric(w->client, w->run_id, "m", (double)step * 0.5, 1000 + step,
                                     step) != MLFLOW_OK)
            w->failures++;
    }
    return NULL;
}

/* Writers on two servers racing on one metric: the latest value is the
 * greatest step's, whatever order the points arrived in. */
static void test_latest_metric_race(void **state)
{
    struct fx *fx = *state;
    struct mlflow_client *clients[2] = {open_client(fx->uri), open_client(fx->uri)};
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_client_create_run(clients[0], "0", NULL, &run), MLFLOW_OK);
    pthread_t t[WRITERS];
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){clients[i % 2], run->info.run_id, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, write_points, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(w[i].failures, 0);

    struct mlflow_run *got = NULL;
    assert_int_equal(mlflow_client_get_run(clients[1], run->info.run_id, &got), MLFLOW_OK);
    assert_int_equal(got->data.n_metrics, 1);
    int64_t last = (int64_t)POINTS * WRITERS - 1;
    assert_int_equal(got->data.metrics[0].step, last);
    assert_true(got->data.metrics[0].value == (double)last * 0.5);
    assert_int_equal(got->data.metrics[0].timestamp, 1000 + last);
    mlflow_run_free(got);

    struct mlflow_metric_list *h = NULL;
    assert_int_equal(mlflow_client_get_metric_history(clients[0], run->info.run_id, "m", &h),
                     MLFLOW_OK);
    assert_int_equal(h->count, POINTS * WRITERS);
    mlflow_metric_list_free(h);
    mlflow_run_free(run);
    mlflow_client_close(clients[0]);
    mlflow_client_close(clients[1]);
}

/* ---- lost connections ---- */

/* Rows of a query on the admin connection, -1 on error. */
static int admin_rows(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    int n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    PQclear(res);
    return n;
}

/* The server drops every connection of the store (as a restart does): the
 * next calls reconnect and succeed, on pooled connections that all died. */
static void test_reconnect(void **state)
{
    struct fx *fx = *state;
    char uri[1500];
    snprintf(uri, sizeof uri, "%s&application_name=%s", fx->uri, fx->schema);
    struct mlflow_client *c = open_client(uri);
    char *id = NULL;
    assert_int_equal(mlflow_client_create_experiment(c, "before", NULL, &id), MLFLOW_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'%s'",
             fx->schema);
    for (int round = 0; round < 3; round++) {
        assert_true(admin_rows(fx->admin, sql) > 0);
        struct mlflow_experiment *e = NULL;
        assert_int_equal(mlflow_client_get_experiment(c, id, &e), MLFLOW_OK);
        assert_string_equal(e->name, "before");
        mlflow_experiment_free(e);
        assert_true(admin_rows(fx->admin, sql) > 0);
        struct mlflow_run *r = NULL;
        assert_int_equal(mlflow_client_create_run(c, id, NULL, &r), MLFLOW_OK);
        assert_int_equal(mlflow_client_log_metric(c, r->info.run_id, "m", 1, 1, 1), MLFLOW_OK);
        mlflow_run_free(r);
    }
    mlflow_free(id);
    mlflow_client_close(c);
}

/* ---- URIs ---- */

/* MLflow users write postgresql+psycopg2://: the same database. A server
 * that is not there is an error, not a hang or a crash, and the password
 * stays out of the message. */
static void test_uris(void **state)
{
    struct fx *fx = *state;
    struct mlflow_client *a = open_client(fx->uri);
    char *id = NULL;
    assert_int_equal(mlflow_client_create_experiment(a, "named", NULL, &id), MLFLOW_OK);
    char uri[1500];
    snprintf(uri, sizeof uri, "postgresql+psycopg2%s", strstr(fx->uri, "://"));
    struct mlflow_client *b = open_client(uri);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(mlflow_client_get_experiment_by_name(b, "named", &e), MLFLOW_OK);
    assert_string_equal(e->experiment_id, id);
    mlflow_experiment_free(e);
    mlflow_free(id);
    mlflow_client_close(a);
    mlflow_client_close(b);

    struct mlflow_client *none = NULL;
    assert_int_not_equal(
        mlflow_client_open("postgresql://someone:s3cret@127.0.0.1:1/nothing", &none), MLFLOW_OK);
    assert_null(none);
    assert_null(strstr(mlflow_last_error(), "s3cret"));
    assert_int_not_equal(mlflow_client_open("postgresql://[bad", &none), MLFLOW_OK);
}

/* ---- a database MLflow created ---- */

/* Runs the SQL script a pg_dump wrote (psql's backslash lines left out). */
static bool restore_dump(PGconn *pg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t cap = 1 << 16, n = 0;
    char *sql = malloc(cap), line[8192];
    while (sql && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (line[0] == '\\')
            continue;
        if (n + len + 1 > cap) {
            char *bigger = realloc(sql, cap *= 2);
            if (!bigger) {
                free(sql);
                sql = NULL;
                break;
            }
            sql = bigger;
        }
        memcpy(sql + n, line, len);
        n += len;
    }
    fclose(f);
    if (!sql)
        return false;
    sql[n] = '\0';
    bool ok = pgutil_exec(pg, sql);
    free(sql);
    return ok;
}

static const struct mlflow_metric *find_metric(const struct mlflow_run *r, const char *key)
{
    for (size_t i = 0; i < r->data.n_metrics; i++)
        if (strcmp(r->data.metrics[i].key, key) == 0)
            return &r->data.metrics[i];
    return NULL;
}

/* MLflow 2.12.2 made this database (schema and rows: see
 * tests/data/mlflow-2.12/postgres/make_dump.py). It opens unchanged, reads
 * back as MLflow wrote it, and takes new writes where MLflow would put them. */
static void test_mlflow_database(void **state)
{
    struct fx *fx = *state;
    char db[80], sql[256];
    snprintf(db, sizeof db, "%s_mlflow", fx->schema);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    assert_true(pgutil_exec(fx->admin, sql));
    const char *keys[] = {"dbname", "dbname", NULL}, *values[] = {fx->server, db, NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PQsetNoticeProcessor(pg, pgutil_ignore_notice, NULL);
    assert_true(restore_dump(pg, MLFLOW_TEST_DATA "/mlflow-2.12/postgres/mlflow.sql"));

    /* The server's URI with the new database's name. */
    char uri[1500];
    const char *query = strchr(fx->server, '?');
    size_t base = query ? (size_t)(query - fx->server) : strlen(fx->server);
    while (base && fx->server[base - 1] != '/')
        base--;
    snprintf(uri, sizeof uri, "%.*s%s%s", (int)base, fx->server, db, query ? query : "");
    struct mlflow_client *c = open_client(uri);

    struct mlflow_experiment *e = NULL;
    assert_int_equal(mlflow_client_get_experiment_by_name(c, "pg-fixture", &e), MLFLOW_OK);
    assert_string_equal(e->experiment_id, "1");
    assert_string_equal(e->artifact_location, "/srv/fixture/pg/1");
    assert_int_equal(e->n_tags, 2);
    mlflow_experiment_free(e);
    assert_int_equal(mlflow_client_get_experiment(c, "2", &e), MLFLOW_OK);
    assert_string_equal(e->lifecycle_stage, "deleted");
    mlflow_experiment_free(e);

    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, "2942dc49063d4122962babb2e1eee072", &r), MLFLOW_OK);
    assert_string_equal(r->info.run_name, "first");
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_int_equal(r->info.start_time, 1700000000000);
    assert_int_equal(r->info.end_time, 1700000003000);
    assert_int_equal(r->data.n_params, 2);
    assert_int_equal(r->data.n_metrics, 4);
    const struct mlflow_metric *m = find_metric(r, "loss");
    assert_non_null(m);
    assert_true(m->value == 0.5);
    assert_int_equal(m->step, 2);
    assert_true(find_metric(r, "odd")->value != find_metric(r, "odd")->value); /* NaN */
    assert_true(find_metric(r, "big")->value == 1.7976931348623157e308);
    assert_int_equal(find_metric(r, "neg")->step, -3);
    mlflow_run_free(r);
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(
        mlflow_client_get_metric_history(c, "2942dc49063d4122962babb2e1eee072", "loss", &h),
        MLFLOW_OK);
    assert_int_equal(h->count, 3);
    assert_true(h->metrics[0].value == 0.9 && h->metrics[2].value == 0.5);
    mlflow_metric_list_free(h);
    assert_int_equal(mlflow_client_get_run(c, "1dadba407d30453fb0788571f074b0d6", &r), MLFLOW_OK);
    assert_string_equal(r->info.lifecycle_stage, "deleted");
    mlflow_run_free(r);

    /* New rows continue MLflow's sequence and go where MLflow puts them. */
    char *id = NULL;
    assert_int_equal(mlflow_client_create_experiment(c, "after", NULL, &id), MLFLOW_OK);
    assert_string_equal(id, "3");
    mlflow_free(id);
    assert_int_equal(mlflow_client_create_run(c, "1", NULL, &r), MLFLOW_OK);
    assert_int_equal(strncmp(r->info.artifact_uri, "/srv/fixture/pg/1/", 18), 0);
    assert_int_equal(mlflow_client_log_metric(c, r->info.run_id, "x", 2, 5, 1), MLFLOW_OK);
    mlflow_run_free(r);
    mlflow_client_close(c);

    PGresult *res = PQexec(pg, "SELECT version_num FROM public.alembic_version");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "acf3f17fdcc7");
    PQclear(res);
    PQfinish(pg);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    assert_true(pgutil_exec(fx->admin, sql));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_experiment_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_metric_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uris, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mlflow_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
