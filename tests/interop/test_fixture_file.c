/*
 * test_fixture_file.c - the file store reads an mlruns tree written by MLflow
 * 2.12.2 itself and sees exactly what MLflow's own client saw (MANIFEST.json):
 * every experiment and run, field by field, including the deleted experiment
 * in .trash and the run inside it. Reading must not change the tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "manifest.h"
#include "testutil.h"

#define FIXTURE MLFLOW_TEST_DATA "/mlflow-2.12/file"

struct fx {
    char *tmp;
    char root[4096];
    struct mlflow__store *store;
    json_object *manifest;
};


static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->tmp = testutil_mkdtemp("mlflow-fixture");
    if (!fx->tmp)
        return -1;
    snprintf(fx->root, sizeof fx->root, "%s/mlruns", fx->tmp);
    char cmd[8192];
    /* The checked-in fixture is read-only; the copy must be writable so the
     * temp dir can be removed. */
    snprintf(cmd, sizeof cmd, "cp -R '%s/mlruns' '%s' && chmod -R u+w '%s'", FIXTURE, fx->tmp,
             fx->root);
    if (system(cmd) != 0)
        return -1;
    fx->manifest = json_object_from_file(FIXTURE "/MANIFEST.json");
    if (!fx->manifest)
        return -1;
    struct mlflow_error err = {0};
    if (mlflow__file_store_open(fx->root, &fx->store, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow__store_close(fx->store);
    json_object_put(fx->manifest);
    testutil_rm_rf(fx->tmp);
    free(fx->tmp);
    free(fx);
    return 0;
}

static void test_every_experiment(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    json_object *exps = jget(fx->manifest, "experiments");
    size_t n = json_object_array_length(exps);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        json_object *je = json_object_array_get_idx(exps, i);
        const char *id = jstr(je, "experiment_id");
        struct mlflow_experiment *e = NULL;
        struct mlflow_error err = {0};
        assert_int_equal(s->ops->get_experiment(s, id, &e, &err), 0);
        assert_string_equal(e->experiment_id, id);
        assert_string_equal(e->name, jstr(je, "name"));
        assert_string_equal(e->artifact_location, jstr(je, "artifact_location"));
        assert_string_equal(e->lifecycle_stage, jstr(je, "lifecycle_stage"));
        assert_true(e->creation_time > 0);
        assert_true(e->last_update_time >= e->creation_time);
        assert_kv_equal(jget(je, "tags"), e->tags, e->n_tags);
        mlflow_experiment_free(e);

        /* By name too, deleted ones included. */
        assert_int_equal(s->ops->get_experiment_by_name(s, jstr(je, "name"), &e, &err), 0);
        assert_string_equal(e->experiment_id, id);
        mlflow_experiment_free(e);
    }
}

static void test_search_experiments_views(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_ALL), 5);
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_ACTIVE_ONLY), 4);
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_DELETED_ONLY), 1);
}

static void test_every_run(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    json_object *runs = jget(fx->manifest, "runs");
    size_t n = json_object_array_length(runs);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        json_object *jr = json_object_array_get_idx(runs, i);
        const char *id = jstr(jr, "run_id");
        struct mlflow_run *r = NULL;
        struct mlflow_error err = {0};
        if (s->ops->get_run(s, id, &r, &err) != 0)
            fail_msg("get_run %s: %s", id, err.message);
        const struct mlflow_run_info *info = &r->info;
        assert_string_equal(info->run_id, id);
        assert_string_equal(info->experiment_id, jstr(jr, "experiment_id"));
        assert_string_equal(info->run_name, jstr(jr, "run_name"));
        assert_string_equal(info->user_id, jstr(jr, "user_id"));
        assert_string_equal(info->artifact_uri, jstr(jr, "artifact_uri"));
        assert_string_equal(info->lifecycle_stage, jstr(jr, "lifecycle_stage"));
        assert_string_equal(mlflow_run_status_name(info->status), jstr(jr, "status"));
        assert_int_equal(info->start_time, json_object_get_int64(jget(jr, "start_time")));
        if (jstr(jr, "end_time"))
            assert_int_equal(info->end_time, json_object_get_int64(jget(jr, "end_time")));
        else
            assert_true(info->end_time == MLFLOW_TIME_UNSET);
        assert_kv_equal(jget(jr, "params"), r->data.params, r->data.n_params);
        assert_kv_equal(jget(jr, "tags"), r->data.tags, r->data.n_tags);

        json_object *latest = jget(jr, "latest_metrics");
        assert_int_equal(json_object_object_length(latest), r->data.n_metrics);
        for (size_t m = 0; m < r->data.n_metrics; m++) {
            json_object *v = jget(latest, r->data.metrics[m].key);
            if (!v)
                fail_msg("unexpected metric '%s'", r->data.metrics[m].key);
            assert_double_same(jdouble(v), r->data.metrics[m].value);
        }
        json_object_object_foreach(jget(jr, "metric_history"), key, points)
        {
            check_history(s, id, key, points);
        }
        mlflow_run_free(r);
    }
}

static size_t search_all_runs(struct mlflow__store *s, int view)
{
    const char *ids[] = {"0", "314660388389758561", "326085035685706854", "458431113462649809",
                         "684514009211899737"};
    struct mlflow__search_runs q = {.experiment_ids = ids, .n_experiment_ids = 5,
                                    .filter = &manifest_no_filter, .order = &manifest_no_order,
                                    .view_type = view, .max_results = 1000};
    struct mlflow_run_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(s->ops->search_runs(s, &q, &l, &err), 0);
    size_t n = l->count;
    /* MLflow's base order: start_time DESC. */
    for (size_t i = 1; i < n; i++)
        assert_true(l->runs[i - 1].info.start_time >= l->runs[i].info.start_time);
    mlflow_run_list_free(l);
    return n;
}

static void test_search_runs_views(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_ALL), 10);
    /* The deleted run and the run of the deleted experiment are deleted. */
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_ACTIVE_ONLY), 8);
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_DELETED_ONLY), 2);
}

static void test_reading_changes_nothing(void **state)
{
    struct fx *fx = *state;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "diff -r '%s/mlruns' '%s' >/dev/null", FIXTURE, fx->root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_experiment),
        cmocka_unit_test(test_search_experiments_views),
        cmocka_unit_test(test_every_run),
        cmocka_unit_test(test_search_runs_views),
        cmocka_unit_test(test_reading_changes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
