/*
 * test_sqlite_store.c - what only the SQL store does, checked in the
 * database itself where that matters:
 *   - MLflow's storage encoding (NaN as 0 + is_nan, infinities as +-max
 *     double, statuses by name, integer experiment ids);
 *   - MLflow's latest-metric rule on stored values, and identical points
 *     collapsing into one row;
 *   - a log_batch is one transaction: a rejected batch leaves nothing;
 *   - filter text never becomes SQL;
 *   - dataset filters see the inputs MLflow records;
 *   - the same searches on the same data give the file store's answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <mlflow.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "testutil.h"

struct fx {
    char *dir;
    char path[4096];
    char uri[4200];
    struct mlflow_client *c;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->dir = testutil_mkdtemp("mlflow-sqlite-store");
    if (!fx->dir)
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/mlflow.db", fx->dir);
    snprintf(fx->uri, sizeof fx->uri, "sqlite:///%s", fx->path);
    if (mlflow_client_open(fx->uri, &fx->c) != MLFLOW_OK) {
        fprintf(stderr, "open: %s\n", mlflow_last_error());
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow_client_close(fx->c);
    testutil_rm_rf(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void new_run(struct mlflow_client *c, const char *exp, const char *name, int64_t start,
                    char id[40])
{
    struct mlflow_run *r = NULL;
    const struct mlflow_create_run_opts o = {.run_name = name, .start_time = start};
    OK(mlflow_client_create_run(c, exp, &o, &r));
    snprintf(id, 40, "%s", r->info.run_id);
    mlflow_run_free(r);
}

/* ---- raw access to the database ---- */

static sqlite3 *raw_open(const struct fx *fx)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* One row of `sql` (with one text parameter) as "a|b|c". */
static void raw_row(sqlite3 *db, const char *sql, const char *arg, char *out, size_t size)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = 0;
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = sqlite3_column_type(st, i) == SQLITE_NULL
                                ? "NULL"
                                : (const char *)sqlite3_column_text(st, i);
            len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "|" : "", t);
        }
    }
    sqlite3_finalize(st);
}

static long raw_count(sqlite3 *db, const char *sql, const char *arg)
{
    char buf[64];
    raw_row(db, sql, arg, buf, sizeof buf);
    return atol(buf);
}

/* ---- storage encoding ---- */

static void test_storage_encoding(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, "0", "enc", 1700000000000, run);
    OK(mlflow_client_log_metric(fx->c, run, "nan", NAN, 1000, 0));
    OK(mlflow_client_log_metric(fx->c, run, "pinf", INFINITY, 1000, 0));
    OK(mlflow_client_log_metric(fx->c, run, "ninf", -INFINITY, 1000, 0));
    OK(mlflow_client_log_metric(fx->c, run, "real", 0.1, 1000, 0));
    OK(mlflow_client_set_terminated(fx->c, run, MLFLOW_RUN_STATUS_KILLED, 1700000000500));

    sqlite3 *db = raw_open(fx);
    char row[256];
    const char *q = "SELECT value, is_nan, typeof(value) FROM metrics WHERE \"key\" = ?";
    raw_row(db, q, "nan", row, sizeof row);
    assert_string_equal(row, "0.0|1|real");
    raw_row(db, q, "real", row, sizeof row);
    assert_string_equal(row, "0.1|0|real");
    raw_row(db, "SELECT value = 1.7976931348623157e308, is_nan FROM metrics WHERE \"key\" = ?",
            "pinf", row, sizeof row);
    assert_string_equal(row, "1|0");
    raw_row(db, "SELECT value = -1.7976931348623157e308, is_nan FROM latest_metrics WHERE "
                "\"key\" = ?",
            "ninf", row, sizeof row);
    assert_string_equal(row, "1|0");
    raw_row(db, "SELECT value, is_nan FROM latest_metrics WHERE \"key\" = ?", "nan", row,
            sizeof row);
    assert_string_equal(row, "0.0|1");
    raw_row(db,
            "SELECT status, lifecycle_stage, typeof(experiment_id), source_type, end_time, "
            "deleted_time FROM runs WHERE run_uuid = ?",
            run, row, sizeof row);
    assert_string_equal(row, "KILLED|active|integer|UNKNOWN|1700000000500|NULL");
    OK(mlflow_client_delete_run(fx->c, run));
    raw_row(db, "SELECT lifecycle_stage, deleted_time > 0 FROM runs WHERE run_uuid = ?", run, row,
            sizeof row);
    assert_string_equal(row, "deleted|1");
    OK(mlflow_client_restore_run(fx->c, run));
    raw_row(db, "SELECT lifecycle_stage, deleted_time FROM runs WHERE run_uuid = ?", run, row,
            sizeof row);
    assert_string_equal(row, "active|NULL");
    sqlite3_close(db);

    /* Reading back: NaN, and infinities as MLflow's SQL store returns them. */
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_true(isnan(mlflow_run_metric(r, "nan")->value));
    assert_true(mlflow_run_metric(r, "pinf")->value == DBL_MAX);
    assert_true(mlflow_run_metric(r, "ninf")->value == -DBL_MAX);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_KILLED);
    mlflow_run_free(r);
}

/* ---- MLflow's SQL latest-metric rule ---- */

static void test_latest_metric_rule(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, "0", "latest", 0, run);
    /* Same step and timestamp: NaN is stored as 0, which is not above 5. */
    OK(mlflow_client_log_metric(fx->c, run, "a", 5.0, 1000, 1));
    OK(mlflow_client_log_metric(fx->c, run, "a", NAN, 1000, 1));
    /* ... but is above -1. */
    OK(mlflow_client_log_metric(fx->c, run, "b", -1.0, 1000, 1));
    OK(mlflow_client_log_metric(fx->c, run, "b", NAN, 1000, 1));
    /* Within one batch too, whatever the order. */
    const struct mlflow_metric m[] = {
        {"c", 3.0, 2000, 2}, {"c", 9.0, 1000, 2}, {"c", 1.0, 3000, 1}, {"c", 4.0, 2000, 2}};
    OK(mlflow_client_log_batch(fx->c, run, m, 4, NULL, 0, NULL, 0));
    /* An older point logged later changes nothing. */
    OK(mlflow_client_log_metric(fx->c, run, "c", 100.0, 1, 0));

    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_true(mlflow_run_metric(r, "a")->value == 5.0);
    assert_true(isnan(mlflow_run_metric(r, "b")->value));
    const struct mlflow_metric *c = mlflow_run_metric(r, "c");
    assert_true(c->value == 4.0);
    assert_int_equal(c->timestamp, 2000);
    assert_int_equal(c->step, 2);
    mlflow_run_free(r);

    /* Identical points are one row, as in MLflow's SQL store. */
    OK(mlflow_client_log_metric(fx->c, run, "dup", 1.0, 1000, 0));
    OK(mlflow_client_log_metric(fx->c, run, "dup", 1.0, 1000, 0));
    const struct mlflow_metric d[] = {{"dup", 1.0, 1000, 0}, {"dup", 2.0, 1000, 0}};
    OK(mlflow_client_log_batch(fx->c, run, d, 2, NULL, 0, NULL, 0));
    struct mlflow_metric_list *h = NULL;
    OK(mlflow_client_get_metric_history(fx->c, run, "dup", &h));
    assert_int_equal(h->count, 2);
    assert_true(h->metrics[0].value == 1.0 && h->metrics[1].value == 2.0);
    mlflow_metric_list_free(h);
}

/* ---- one transaction per batch ---- */

static void test_log_batch_is_atomic(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, "0", "atomic", 0, run);
    OK(mlflow_client_log_param(fx->c, run, "lr", "0.01"));
    const struct mlflow_metric m[] = {{"loss", 0.5, 1000, 0}, {"acc", 0.9, 1000, 0}};
    const struct mlflow_kv p[] = {{"layers", "3"}, {"lr", "0.02"}};
    const struct mlflow_kv t[] = {{"note", "x"}, {"mlflow.runName", "renamed"}};
    assert_int_equal(mlflow_client_log_batch(fx->c, run, m, 2, p, 2, t, 2),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "lr"));
    sqlite3 *db = raw_open(fx);
    assert_int_equal(raw_count(db, "SELECT count(*) FROM metrics WHERE run_uuid = ?", run), 0);
    assert_int_equal(raw_count(db, "SELECT count(*) FROM latest_metrics WHERE run_uuid = ?", run),
                     0);
    assert_int_equal(raw_count(db, "SELECT count(*) FROM params WHERE run_uuid = ?", run), 1);
    assert_int_equal(raw_count(db, "SELECT count(*) FROM tags WHERE run_uuid = ?", run), 1);
    char row[64];
    raw_row(db, "SELECT name FROM runs WHERE run_uuid = ?", run, row, sizeof row);
    assert_string_equal(row, "atomic");
    sqlite3_close(db);
}

/* ---- filter text is never SQL ---- */

static void test_hostile_text(void **state)
{
    struct fx *fx = *state;
    char exp[40], a[40], b[40];
    char *id = NULL;
    OK(mlflow_client_create_experiment(fx->c, "x'); DROP TABLE runs; --", NULL, &id));
    snprintf(exp, sizeof exp, "%s", id);
    mlflow_free(id);
    new_run(fx->c, exp, "a", 1000, a);
    new_run(fx->c, exp, "b", 2000, b);
    OK(mlflow_client_log_param(fx->c, a, "q", "1; DELETE FROM params; --"));
    OK(mlflow_client_log_param(fx->c, b, "q", "plain"));
    OK(mlflow_client_set_tag(fx->c, a, "t", "\" OR 1=1 --"));
    OK(mlflow_client_set_tag(fx->c, b, "t", "100%"));

    const char *ids[] = {exp};
    struct {
        const char *filter;
        size_t count;
    } cases[] = {
        {"params.q = '1; DELETE FROM params; --'", 1},
        {"params.q = 'x'' OR ''1''=''1'", 0},
        {"tags.t = '\" OR 1=1 --'", 1},
        {"tags.t LIKE '100%'", 1},
        {"tags.t LIKE '%1=1%'", 1},
        {"params.`q` != 'plain'", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                            .filter = cases[i].filter};
        struct mlflow_run_list *l = NULL;
        int rc = mlflow_client_search_runs(fx->c, &o, &l);
        if (rc != MLFLOW_OK) {
            /* The parser may refuse odd quoting: that is fine, SQL never saw it. */
            assert_int_equal(rc, MLFLOW_INVALID_PARAMETER_VALUE);
            continue;
        }
        if (l->count != cases[i].count)
            fail_msg("\"%s\": %zu runs, expected %zu", cases[i].filter, l->count,
                     cases[i].count);
        mlflow_run_list_free(l);
    }
    struct mlflow_experiment *e = NULL;
    OK(mlflow_client_get_experiment_by_name(fx->c, "x'); DROP TABLE runs; --", &e));
    mlflow_experiment_free(e);
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, a, &r));
    assert_string_equal(mlflow_run_param(r, "q"), "1; DELETE FROM params; --");
    mlflow_run_free(r);
}

/* ---- datasets, as MLflow records them ---- */

static void test_dataset_filters(void **state)
{
    struct fx *fx = *state;
    char a[40], b[40];
    new_run(fx->c, "0", "with-dataset", 1000, a);
    new_run(fx->c, "0", "without", 2000, b);
    sqlite3 *db = raw_open(fx);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO datasets VALUES ('d-uuid', 0, 'train', 'abc123', 'local', '{}', NULL, "
             "NULL);"
             "INSERT INTO inputs VALUES ('i-uuid', 'DATASET', 'd-uuid', 'RUN', '%s');"
             "INSERT INTO input_tags VALUES ('i-uuid', 'mlflow.data.context', 'training');",
             a);
    raw_exec(db, sql);
    sqlite3_close(db);
    const char *ids[] = {"0"};
    static const char *const hits[] = {"datasets.name = 'train'",
                                       "dataset.digest = 'abc123'",
                                       "datasets.context = 'training'",
                                       "datasets.name LIKE 'tr%'",
                                       "datasets.name IN ('train', 'test')"};
    static const char *const misses[] = {"datasets.name = 'test'",
                                         "datasets.context = 'eval'",
                                         "datasets.name != 'train'"};
    for (size_t i = 0; i < 8; i++) {
        const char *f = i < 5 ? hits[i] : misses[i - 5];
        struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                            .filter = f};
        struct mlflow_run_list *l = NULL;
        OK(mlflow_client_search_runs(fx->c, &o, &l));
        if (l->count != (i < 5 ? 1u : 0u))
            fail_msg("\"%s\": %zu runs", f, l->count);
        if (l->count)
            assert_string_equal(l->runs[0].info.run_id, a);
        mlflow_run_list_free(l);
    }
}

/* ---- the file store's answers ---- */

#define N_RUNS 24

/* Same data into any store: run k is named r<k>, starts at T0 + k. */
static void seed_same(struct mlflow_client *c, char *exp)
{
    char *id = NULL;
    const struct mlflow_kv et[] = {{"kind", "cmp"}};
    const struct mlflow_experiment_opts eo = {.tags = et, .n_tags = 1};
    OK(mlflow_client_create_experiment(c, "same", &eo, &id));
    snprintf(exp, 40, "%s", id);
    mlflow_free(id);
    static const char *const words[] = {"alpha", "Beta", "gamma", "ALPHA", "\xc3\xa9t\xc3\xa9",
                                        "b%c", "b_c", ""};
    for (int k = 0; k < N_RUNS; k++) {
        char name[8], run[40];
        snprintf(name, sizeof name, "r%02d", k);
        new_run(c, exp, name, 1700000000000 + k, run);
        /* loss: ties, a NaN, an infinity, some missing. */
        if (k % 7 != 3) {
            double v = k == 5 ? NAN : k == 9 ? INFINITY : (double)(k % 5) * 0.25;
            OK(mlflow_client_log_metric(c, run, "loss", v, 1000 + k, k % 3));
        }
        if (k % 4 != 1)
            OK(mlflow_client_log_param(c, run, "opt", words[k % 8]));
        if (k % 5 != 2)
            OK(mlflow_client_set_tag(c, run, "group", words[(k * 3) % 8]));
        OK(mlflow_client_log_param(c, run, "lr", k % 2 ? "0.01" : "0.1"));
        if (k % 6 == 0)
            OK(mlflow_client_set_terminated(c, run, MLFLOW_RUN_STATUS_FINISHED,
                                            1700000000500 + k));
        if (k == 11)
            OK(mlflow_client_delete_run(c, run));
    }
}

static char *answer(struct mlflow_client *c, const char *exp, const char *filter,
                    const char *order, int view, int64_t max_results)
{
    const char *ids[] = {exp};
    const char *ord[] = {order};
    struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                        .filter = filter, .order_by = order ? ord : NULL,
                                        .n_order_by = order ? 1 : 0, .view_type = view,
                                        .max_results = max_results};
    char *out = calloc(1, 4096);
    char *token = NULL;
    for (int page = 0; page < 50; page++) {
        o.page_token = token;
        struct mlflow_run_list *l = NULL;
        int rc = mlflow_client_search_runs(c, &o, &l);
        free(token);
        token = NULL;
        if (rc != MLFLOW_OK) {
            snprintf(out + strlen(out), 4096 - strlen(out), "error %s", mlflow_error_name(rc));
            break;
        }
        for (size_t i = 0; i < l->count; i++)
            snprintf(out + strlen(out), 4096 - strlen(out), "%s ", l->runs[i].info.run_name);
        if (l->next_page_token)
            token = strdup(l->next_page_token);
        mlflow_run_list_free(l);
        if (!token)
            break;
        strcat(out, "| ");
    }
    return out;
}

static void test_same_answers_as_file_store(void **state)
{
    struct fx *fx = *state;
    char file_uri[4200], fexp[40], sexp[40];
    snprintf(file_uri, sizeof file_uri, "file://%s/mlruns", fx->dir);
    struct mlflow_client *fc = NULL;
    OK(mlflow_client_open(file_uri, &fc));
    seed_same(fc, fexp);
    seed_same(fx->c, sexp);

    static const char *const filters[] = {
        NULL,
        "metrics.loss < 0.5",
        "metrics.loss >= 0.5",
        "metrics.loss != 0.25",
        "metrics.loss = 0",
        "metrics.loss > 1e308",
        "params.opt = 'alpha'",
        "params.opt != 'alpha'",
        "params.opt LIKE 'b%'",
        "params.opt LIKE 'b_c'",
        "params.opt ILIKE 'ALPHA'",
        "params.opt ILIKE '\xc3\x89T\xc3\x89'",
        "params.opt = ''",
        "tags.group LIKE '%a%'",
        "tags.group ILIKE '%A'",
        "tags.mlflow.runName LIKE 'r1%'",
        "attributes.run_name = 'r03'",
        "attributes.run_name LIKE 'r0%'",
        "attributes.status = 'FINISHED'",
        "attributes.status != 'RUNNING'",
        "attributes.start_time > 1700000000010",
        "attributes.end_time > 0",
        "metrics.loss <= 0.5 and params.lr = '0.01'",
        "params.lr = '0.1' and tags.group != 'gamma' and metrics.loss > 0",
        "attributes.user_id = 'unknown'",
        "attributes.artifact_uri LIKE '%artifacts'",
    };
    static const char *const orders[] = {
        NULL,
        "metrics.loss ASC",
        "metrics.loss DESC",
        "params.opt ASC",
        "params.opt DESC",
        "tags.group ASC",
        "tags.group DESC",
        "attributes.start_time ASC",
        "attributes.end_time DESC",
        "attributes.run_name DESC",
        "attributes.status ASC",
    };
    static const int views[] = {MLFLOW_VIEW_ACTIVE_ONLY, MLFLOW_VIEW_ALL};
    size_t compared = 0;
    for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
        for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
            for (int v = 0; v < 2; v++) {
                int64_t max = (f + o + (size_t)v) % 3 == 0 ? 5 : 0; /* paging too */
                char *want = answer(fc, fexp, filters[f], orders[o], views[v], max);
                char *got = answer(fx->c, sexp, filters[f], orders[o], views[v], max);
                if (strcmp(want, got) != 0)
                    fail_msg("filter \"%s\" order \"%s\" view %d:\n  file:   %s\n  sqlite: %s",
                             filters[f] ? filters[f] : "", orders[o] ? orders[o] : "", views[v],
                             want, got);
                free(want);
                free(got);
                compared++;
            }
        }
    }
    assert_true(compared > 500);

    /* Experiments: the same filters find the same names. */
    static const char *const efilters[] = {"name = 'same'", "name LIKE 'sa%'",
                                           "tags.kind = 'cmp'", "name ILIKE 'DEF%'",
                                           "tags.kind != 'cmp'"};
    for (size_t i = 0; i < sizeof efilters / sizeof efilters[0]; i++) {
        const char *order[] = {"name ASC"};
        struct mlflow_search_experiments_opts o = {.filter = efilters[i], .order_by = order,
                                                   .n_order_by = 1};
        struct mlflow_experiment_list *a = NULL, *b = NULL;
        OK(mlflow_client_search_experiments(fc, &o, &a));
        OK(mlflow_client_search_experiments(fx->c, &o, &b));
        assert_int_equal(a->count, b->count);
        for (size_t k = 0; k < a->count; k++)
            assert_string_equal(a->experiments[k].name, b->experiments[k].name);
        mlflow_experiment_list_free(a);
        mlflow_experiment_list_free(b);
    }
    mlflow_client_close(fc);
}

/* ---- odds and ends ---- */

struct mem_worker {
    struct mlflow_client *c;
    const char *run;
    int id;
    int failures;
};

static void *mem_log(void *p)
{
    struct mem_worker *w = p;
    for (int i = 0; i < 200; i++)
        w->failures += mlflow_client_log_metric(w->c, w->run, "m", i, 1000 + i,
                                                (int64_t)w->id * 1000 + i) != MLFLOW_OK;
    return NULL;
}

static void test_memory_store_and_bad_paths(void **state)
{
    (void)state;
    /* In memory: one connection, shared by every thread. */
    struct mlflow_client *c = NULL;
    OK(mlflow_client_open("sqlite://", &c));
    char run[40];
    new_run(c, "0", "mem", 0, run);
    pthread_t th[4];
    struct mem_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct mem_worker){c, run, i, 0};
        pthread_create(&th[i], NULL, mem_log, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    struct mlflow_metric_list *h = NULL;
    OK(mlflow_client_get_metric_history(c, run, "m", &h));
    assert_int_equal(h->count, 800);
    mlflow_metric_list_free(h);
    mlflow_client_close(c);

    /* A server's --default-artifact-root replaces ./mlruns, for the Default
     * experiment too. */
    const struct mlflow__store_opts opts = {.default_artifact_root = "mlflow-artifacts:/"};
    struct mlflow__store *s = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__store_open_opts("sqlite://", &opts, &s, &err), MLFLOW_OK);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment(s, "0", &e, &err), MLFLOW_OK);
    assert_string_equal(e->artifact_location, "mlflow-artifacts:/0");
    mlflow_experiment_free(e);
    char *id = NULL;
    assert_int_equal(s->ops->create_experiment(s, "served", NULL, NULL, 0, &id, &err), MLFLOW_OK);
    assert_int_equal(s->ops->get_experiment(s, id, &e, &err), MLFLOW_OK);
    assert_string_equal(e->artifact_location, "mlflow-artifacts:/1");
    mlflow_experiment_free(e);
    mlflow_free(id);
    mlflow__store_close(s);

    /* A directory that does not exist is the caller's mistake. */
    c = NULL;
    assert_int_equal(mlflow_client_open("sqlite:////nonexistent-dir-mlflow/x/mlflow.db", &c),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(c);
    assert_non_null(strstr(mlflow_last_error(), "nonexistent-dir-mlflow"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storage_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_metric_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_batch_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_answers_as_file_store, setup, teardown),
        cmocka_unit_test(test_memory_store_and_bad_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
