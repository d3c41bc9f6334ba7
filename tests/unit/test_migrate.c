/*
 * test_migrate.c - `mlflow-c migrate`'s copy logic (src/migrate.c) and the
 * stores' import ops: the MLflow-written file store goes into a fresh SQLite
 * database and back into a file store, and everything a user reads through
 * the client (experiments, runs, params, tags, latest metrics, full metric
 * histories) must come out the same. Reruns copy only what is new.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <mlflow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "migrate.h"
#include "testutil.h"

/* The fixture's content: five experiments (with Default) and ten runs. */
#define FIXTURE_EXPERIMENTS 5
#define FIXTURE_RUNS 10

struct state {
    char *tmp;
    char src[512];  /* file URI of the copy of the fixture */
    char db[512];   /* sqlite URI */
    char back[512]; /* file URI of the sqlite -> file copy */
};

static int setup(void **st)
{
    struct state *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->tmp = testutil_mkdtemp("mlflow-migrate");
    assert_non_null(s->tmp);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cp -R '%s/mlflow-2.12/file/mlruns' '%s/src' && chmod -R u+w '%s/src' && "
             "cp '%s/mlflow-2.12/sqlite/mlflow.db' '%s/mlflow.db' && chmod u+w '%s/mlflow.db'",
             MLFLOW_TEST_DATA, s->tmp, s->tmp, MLFLOW_TEST_DATA, s->tmp, s->tmp);
    assert_int_equal(system(cmd), 0);
    snprintf(s->src, sizeof s->src, "file://%s/src", s->tmp);
    snprintf(s->db, sizeof s->db, "sqlite:///%s/dst.db", s->tmp);
    snprintf(s->back, sizeof s->back, "file://%s/back", s->tmp);
    *st = s;
    return 0;
}

static int teardown(void **st)
{
    struct state *s = *st;
    testutil_rm_rf(s->tmp);
    free(s->tmp);
    free(s);
    return 0;
}

/* ---- comparing two stores through the public client ---- */

/* A SQL store keeps +-inf as the largest finite doubles, as MLflow does
 * (the column cannot hold them), so a trip through one reads them so. */
static double sql_encoded(double v)
{
    return isinf(v) ? (v > 0 ? DBL_MAX : -DBL_MAX) : v;
}

static void assert_same_double(double a, double b)
{
    if (isnan(a))
        assert_true(isnan(b));
    else if (a != b && sql_encoded(a) != sql_encoded(b))
        fail_msg("metric value %.17g read back as %.17g", a, b);
}

static void assert_same_kv(const struct mlflow_kv *a, size_t na, const struct mlflow_kv *b,
                           size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i].key, b[j].key) != 0)
            j++;
        if (j == nb)
            fail_msg("key '%s' missing", a[i].key);
        assert_string_equal(a[i].value, b[j].value);
    }
}

static void assert_same_experiment(const struct mlflow_experiment *a,
                                   const struct mlflow_experiment *b)
{
    assert_string_equal(a->experiment_id, b->experiment_id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->lifecycle_stage, b->lifecycle_stage);
    /* Default (0) is the destination's own: every store makes one. */
    if (strcmp(a->experiment_id, "0") == 0)
        return;
    assert_string_equal(a->artifact_location, b->artifact_location);
    assert_true(a->creation_time == b->creation_time);
    assert_true(a->last_update_time == b->last_update_time);
    assert_same_kv(a->tags, a->n_tags, b->tags, b->n_tags);
}

static void assert_same_run(struct mlflow_client *ca, struct mlflow_client *cb,
                            const struct mlflow_run *a)
{
    struct mlflow_run *b = NULL;
    assert_int_equal(mlflow_client_get_run(cb, a->info.run_id, &b), 0);
    const struct mlflow_run_info *x = &a->info, *y = &b->info;
    assert_string_equal(x->run_id, y->run_id);
    assert_string_equal(x->run_name, y->run_name);
    assert_string_equal(x->experiment_id, y->experiment_id);
    assert_string_equal(x->user_id, y->user_id);
    assert_string_equal(x->artifact_uri, y->artifact_uri);
    assert_string_equal(x->lifecycle_stage, y->lifecycle_stage);
    assert_int_equal(x->status, y->status);
    assert_true(x->start_time == y->start_time);
    assert_true(x->end_time == y->end_time);
    assert_same_kv(a->data.params, a->data.n_params, b->data.params, b->data.n_params);
    assert_same_kv(a->data.tags, a->data.n_tags, b->data.tags, b->data.n_tags);
    assert_int_equal(a->data.n_metrics, b->data.n_metrics);
    for (size_t i = 0; i < a->data.n_metrics; i++) {
        const struct mlflow_metric *m = &a->data.metrics[i];
        const struct mlflow_metric *n = mlflow_run_metric(b, m->key);
        assert_non_null(n);
        assert_same_double(m->value, n->value);
        assert_true(m->timestamp == n->timestamp);
        assert_true(m->step == n->step);

        struct mlflow_metric_list *ha = NULL, *hb = NULL;
        assert_int_equal(mlflow_client_get_metric_history(ca, x->run_id, m->key, &ha), 0);
        assert_int_equal(mlflow_client_get_metric_history(cb, x->run_id, m->key, &hb), 0);
        assert_int_equal(ha->count, hb->count);
        for (size_t k = 0; k < ha->count; k++) {
            assert_string_equal(ha->metrics[k].key, hb->metrics[k].key);
            assert_same_double(ha->metrics[k].value, hb->metrics[k].value);
            assert_true(ha->metrics[k].timestamp == hb->metrics[k].timestamp);
            assert_true(ha->metrics[k].step == hb->metrics[k].step);
        }
        mlflow_metric_list_free(ha);
        mlflow_metric_list_free(hb);
    }
    mlflow_run_free(b);
}

static size_t count_runs(struct mlflow_client *c, const char *experiment_id)
{
    struct mlflow_search_runs_opts q = {.experiment_ids = &experiment_id,
                                        .n_experiment_ids = 1,
                                        .view_type = MLFLOW_VIEW_ALL};
    struct mlflow_run_list *l = NULL;
    assert_int_equal(mlflow_client_search_runs(c, &q, &l), 0);
    size_t n = l->count;
    mlflow_run_list_free(l);
    return n;
}

/* Everything in a is in b, read back the same; b has nothing more. Returns
 * the number of runs compared. */
static size_t assert_same_stores(const char *uri_a, const char *uri_b)
{
    struct mlflow_client *ca = NULL, *cb = NULL;
    assert_int_equal(mlflow_client_open(uri_a, &ca), 0);
    assert_int_equal(mlflow_client_open(uri_b, &cb), 0);
    struct mlflow_search_experiments_opts q = {.view_type = MLFLOW_VIEW_ALL};
    struct mlflow_experiment_list *la = NULL, *lb = NULL;
    assert_int_equal(mlflow_client_search_experiments(ca, &q, &la), 0);
    assert_int_equal(mlflow_client_search_experiments(cb, &q, &lb), 0);
    assert_int_equal(la->count, lb->count);
    size_t runs = 0;
    for (size_t i = 0; i < la->count; i++) {
        const struct mlflow_experiment *e = &la->experiments[i];
        struct mlflow_experiment *f = NULL;
        assert_int_equal(mlflow_client_get_experiment(cb, e->experiment_id, &f), 0);
        assert_same_experiment(e, f);
        mlflow_experiment_free(f);

        const char *id = e->experiment_id;
        struct mlflow_search_runs_opts rq = {
            .experiment_ids = &id, .n_experiment_ids = 1, .view_type = MLFLOW_VIEW_ALL};
        struct mlflow_run_list *rl = NULL;
        assert_int_equal(mlflow_client_search_runs(ca, &rq, &rl), 0);
        assert_int_equal(rl->count, count_runs(cb, id));
        for (size_t k = 0; k < rl->count; k++)
            assert_same_run(ca, cb, &rl->runs[k]);
        runs += rl->count;
        mlflow_run_list_free(rl);
    }
    mlflow_experiment_list_free(la);
    mlflow_experiment_list_free(lb);
    mlflow_client_close(ca);
    mlflow_client_close(cb);
    return runs;
}

/* ---- tests (in order: each builds on the stores the previous left) ---- */

struct progress_log {
    size_t calls, done, last_runs;
};

static void on_progress(void *ctx, const struct mlflow__migrate_stats *st, bool done)
{
    struct progress_log *p = ctx;
    p->calls++;
    p->done += done;
    p->last_runs = st->runs;
}

static void test_file_to_sqlite(void **st)
{
    struct state *s = *st;
    struct progress_log log = {0};
    struct mlflow__migrate_opts o = {.progress = on_progress, .ctx = &log, .progress_every = 1};
    struct mlflow__migrate_stats stats;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__migrate(s->src, s->db, &o, &stats, &err), 0);
    assert_int_equal(stats.experiments, FIXTURE_EXPERIMENTS);
    assert_int_equal(stats.experiments_copied, FIXTURE_EXPERIMENTS - 1); /* not Default */
    assert_int_equal(stats.runs, FIXTURE_RUNS);
    assert_int_equal(stats.runs_copied, FIXTURE_RUNS);
    assert_true(stats.metric_points > 100); /* the fixture's log_batch alone has 100 */
    assert_true(stats.params > 0 && stats.tags > 0);
    /* One report per run, and the final one. */
    assert_int_equal(log.calls, FIXTURE_RUNS + 1);
    assert_int_equal(log.done, 1);
    assert_int_equal(log.last_runs, FIXTURE_RUNS);
    assert_int_equal(assert_same_stores(s->src, s->db), FIXTURE_RUNS);

    /* A rerun finds everything there and writes nothing. */
    assert_int_equal(mlflow__migrate(s->src, s->db, NULL, &stats, &err), 0);
    assert_int_equal(stats.experiments, FIXTURE_EXPERIMENTS);
    assert_int_equal(stats.experiments_copied, 0);
    assert_int_equal(stats.runs, FIXTURE_RUNS);
    assert_int_equal(stats.runs_copied, 0);
    assert_int_equal(stats.metric_points, 0);
    assert_int_equal(assert_same_stores(s->src, s->db), FIXTURE_RUNS);
}

static void test_sqlite_to_file(void **st)
{
    struct state *s = *st;
    struct mlflow__migrate_stats stats;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__migrate(s->db, s->back, NULL, &stats, &err), 0);
    assert_int_equal(stats.runs_copied, FIXTURE_RUNS);
    assert_int_equal(assert_same_stores(s->db, s->back), FIXTURE_RUNS);
    /* The round trip loses nothing of the original either. */
    assert_int_equal(assert_same_stores(s->src, s->back), FIXTURE_RUNS);
    /* The deleted experiment went to .trash, as MLflow keeps it. */
    char path[1024];
    struct stat sb;
    snprintf(path, sizeof path, "%s/back/.trash/458431113462649809/meta.yaml", s->tmp);
    assert_int_equal(stat(path, &sb), 0);
}

static void test_rerun_copies_only_new_runs(void **st)
{
    struct state *s = *st;
    struct mlflow_client *c = NULL;
    assert_int_equal(mlflow_client_open(s->src, &c), 0);
    struct mlflow_kv tag = {"team", "vision"};
    struct mlflow_create_run_opts ro = {.run_name = "late-arrival", .start_time = 1700000000000,
                                        .user_id = "ada", .tags = &tag, .n_tags = 1};
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_client_create_run(c, "314660388389758561", &ro, &run), 0);
    const char *id = run->info.run_id;
    assert_int_equal(mlflow_client_log_param(c, id, "lr", "0.01"), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(mlflow_client_log_metric(c, id, "loss", 1.0 / (i + 1),
                                                  1700000000000 + i, i), 0);
    assert_int_equal(mlflow_client_log_metric(c, id, "loss", NAN, 1700000000009, 2), 0);
    assert_int_equal(mlflow_client_set_terminated(c, id, MLFLOW_RUN_STATUS_KILLED,
                                                  1700000000100), 0);

    struct mlflow__migrate_stats stats;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__migrate(s->src, s->db, NULL, &stats, &err), 0);
    assert_int_equal(stats.experiments_copied, 0);
    assert_int_equal(stats.runs, FIXTURE_RUNS + 1);
    assert_int_equal(stats.runs_copied, 1);
    assert_int_equal(stats.metric_points, 6);
    assert_int_equal(stats.params, 1);
    assert_int_equal(assert_same_stores(s->src, s->db), FIXTURE_RUNS + 1);
    mlflow_run_free(run);
    mlflow_client_close(c);
}

static void test_new_experiment_keeps_its_id(void **st)
{
    struct state *s = *st;
    struct mlflow_client *c = NULL;
    assert_int_equal(mlflow_client_open(s->src, &c), 0);
    char *eid = NULL;
    struct mlflow_kv tag = {"owner", "ada"};
    struct mlflow_experiment_opts eo = {.tags = &tag, .n_tags = 1};
    assert_int_equal(mlflow_client_create_experiment(c, "arrived later", &eo, &eid), 0);
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_client_create_run(c, eid, NULL, &run), 0);
    assert_int_equal(mlflow_client_delete_run(c, run->info.run_id), 0);

    struct mlflow__migrate_stats stats;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__migrate(s->src, s->db, NULL, &stats, &err), 0);
    assert_int_equal(stats.experiments_copied, 1);
    assert_int_equal(stats.runs_copied, 1);
    assert_int_equal(assert_same_stores(s->src, s->db), FIXTURE_RUNS + 2);
    mlflow_run_free(run);
    mlflow_free(eid);
    mlflow_client_close(c);
}

/* The database MLflow itself wrote goes into a file store whole. */
static void test_mlflow_sqlite_to_file(void **st)
{
    struct state *s = *st;
    char db[1024], dir[1024];
    snprintf(db, sizeof db, "sqlite:///%s/mlflow.db", s->tmp);
    snprintf(dir, sizeof dir, "file://%s/from-mlflow-db", s->tmp);
    struct mlflow__migrate_stats stats;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__migrate(db, dir, NULL, &stats, &err), 0);
    assert_int_equal(stats.runs, stats.runs_copied);
    assert_true(stats.runs > 0);
    assert_int_equal(assert_same_stores(db, dir), stats.runs);
}

static void test_errors(void **st)
{
    struct state *s = *st;
    struct mlflow_error err = {0};
    char missing[1024], uri[1100];
    snprintf(missing, sizeof missing, "%s/no-such-store", s->tmp);
    snprintf(uri, sizeof uri, "file://%s", missing);
    assert_int_equal(mlflow__migrate(uri, s->back, NULL, NULL, &err),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_non_null(strstr(err.message, "does not exist"));
    struct stat sb;
    assert_int_not_equal(stat(missing, &sb), 0); /* not created by the attempt */

    /* A server keeps its own ids: it cannot take a migration. */
    assert_int_equal(mlflow__migrate(s->src, "http://127.0.0.1:9", NULL, NULL, &err),
                     MLFLOW_NOT_IMPLEMENTED);
    assert_non_null(strstr(err.message, "'rest' store"));

    assert_int_equal(mlflow__migrate(s->src, s->src, NULL, NULL, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_to_sqlite),
        cmocka_unit_test(test_sqlite_to_file),
        cmocka_unit_test(test_rerun_copies_only_new_runs),
        cmocka_unit_test(test_new_experiment_keeps_its_id),
        cmocka_unit_test(test_mlflow_sqlite_to_file),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
