/*
 * test_alloc.c - allocation-failure sweep (curl's and SQLite's technique).
 *
 * For n = 1, 2, ...: make the nth allocation (and every later one) fail, run
 * a representative client sequence on a fresh file store, and check that
 * each call either succeeds or reports RESOURCE_EXHAUSTED/INTERNAL_ERROR.
 * Crashes and leaks are the sanitizers' to find (run under ASan+LSan). The
 * sweep ends when a whole sequence runs without reaching the failure point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

/* Far above what the sequence needs; a runaway sweep fails instead. */
#define MAX_FAIL_POINT 200000

static const char *step_name;

static int bad_code; /* set when a call failed with a code OOM cannot explain */

/* Allocation failure may surface as RESOURCE_EXHAUSTED, or as INTERNAL_ERROR
 * where a lower layer could not tell; anything else misreports it. A failure
 * must also be what mlflow_last_error_code() says. */
static void check_code(int rc)
{
    if (rc != MLFLOW_RESOURCE_EXHAUSTED && rc != MLFLOW_INTERNAL_ERROR)
        bad_code = rc;
    else if (mlflow_last_error_code() != rc)
        bad_code = -1;
}

/* Runs one call, remembering its name for the failure message; the sequence
 * stops at the first error. */
#define STEP(name, call)          \
    do {                          \
        step_name = name;         \
        rc = (call);              \
        if (rc != MLFLOW_OK) {    \
            check_code(rc);       \
            goto out;             \
        }                         \
    } while (0)

/* The operations a training program performs, in order. Returns the first
 * non-zero code (or 0). */
static int sequence(const char *uri)
{
    struct mlflow_client *c = NULL;
    char *exp = NULL;
    struct mlflow_run *run = NULL, *got = NULL;
    struct mlflow_run_list *runs = NULL;
    struct mlflow_experiment_list *exps = NULL;
    struct mlflow_metric_list *hist = NULL;
    struct mlflow_experiment *e = NULL;
    int rc;

    STEP("open", mlflow_client_open(uri, &c));
    const struct mlflow_kv etags[] = {{"team", "core"}};
    const struct mlflow_experiment_opts eo = {.tags = etags, .n_tags = 1};
    STEP("create_experiment", mlflow_client_create_experiment(c, "alloc sweep", &eo, &exp));
    STEP("get_experiment_by_name", mlflow_client_get_experiment_by_name(c, "alloc sweep", &e));
    const struct mlflow_kv rtags[] = {{"mlflow.user", "tester"}, {"stage", "dev"}};
    const struct mlflow_create_run_opts ro = {.run_name = "sweep", .tags = rtags, .n_tags = 2};
    STEP("create_run", mlflow_client_create_run(c, exp, &ro, &run));
    const char *id = run->info.run_id;
    const struct mlflow_metric m[] = {
        {"loss", 0.5, 1000, 0}, {"loss", 0.25, 1001, 1}, {"nested/acc", 0.9, 1001, 1}};
    const struct mlflow_kv p[] = {{"lr", "0.01"}, {"layers", "3"}};
    const struct mlflow_kv t[] = {{"note", "batch"}, {"mlflow.runName", "renamed"}};
    STEP("log_batch", mlflow_client_log_batch(c, id, m, 3, p, 2, t, 2));
    STEP("log_metric", mlflow_client_log_metric(c, id, "loss", 0.125, 1002, 2));
    STEP("log_param", mlflow_client_log_param(c, id, "opt", "adam"));
    STEP("set_tag", mlflow_client_set_tag(c, id, "t", "v"));
    STEP("get_run", mlflow_client_get_run(c, id, &got));
    STEP("get_metric_history", mlflow_client_get_metric_history(c, id, "loss", &hist));
    const char *ids[] = {exp};
    const char *order[] = {"metrics.loss DESC", "params.lr ASC"};
    const struct mlflow_search_runs_opts so = {
        .experiment_ids = ids, .n_experiment_ids = 1,
        .filter = "metrics.loss > 0 AND params.lr = '0.01'",
        .order_by = order, .n_order_by = 2, .max_results = 1};
    STEP("search_runs", mlflow_client_search_runs(c, &so, &runs));
    const struct mlflow_search_experiments_opts seo = {.filter = "name LIKE 'alloc%'"};
    STEP("search_experiments", mlflow_client_search_experiments(c, &seo, &exps));
    STEP("set_terminated", mlflow_client_set_terminated(c, id, 0, 0));
    STEP("delete_run", mlflow_client_delete_run(c, id));
    STEP("delete_experiment", mlflow_client_delete_experiment(c, exp));

out:
    mlflow_experiment_list_free(exps);
    mlflow_run_list_free(runs);
    mlflow_metric_list_free(hist);
    mlflow_run_free(got);
    mlflow_run_free(run);
    mlflow_experiment_free(e);
    mlflow_free(exp);
    mlflow_client_close(c);
    return rc;
}

static void test_alloc_failure_sweep(void **state)
{
    (void)state;
    mlflow_set_warnings(false);
    long n, misreported = 0;
    for (n = 1; n <= MAX_FAIL_POINT; n++) {
        char *dir = testutil_mkdtemp("mlflow-alloc");
        assert_non_null(dir);
        char uri[4200];
        snprintf(uri, sizeof uri, "file://%s/mlruns", dir);

        bad_code = 0;
        step_name = NULL;
        mlflow__alloc_fail_at(n);
        int rc = sequence(uri);
        long made = mlflow__alloc_fail_at(0);
        testutil_rm_rf(dir);
        free(dir);

        /* Keep sweeping after a misreported failure, so one run lists them all. */
        if (bad_code && ++misreported <= 50) {
            if (bad_code == -1)
                print_error("fail point %ld: %s returned %s but last error code is %d\n", n,
                            step_name, mlflow_error_name(rc), mlflow_last_error_code());
            else
                print_error("fail point %ld: %s returned %s (%d): %s\n", n, step_name,
                            mlflow_error_name(rc), rc, mlflow_last_error());
        }
        if (made < n) {
            /* The failure point was never reached: a clean run. */
            if (rc != MLFLOW_OK)
                print_error("clean run: %s returned %s: %s\n", step_name,
                            mlflow_error_name(rc), mlflow_last_error());
            assert_int_equal(rc, MLFLOW_OK);
            print_message("allocation failure sweep: %ld fail points checked\n", n - 1);
            break;
        }
    }
    assert_true(n <= MAX_FAIL_POINT);
    mlflow_set_warnings(true);
    if (misreported)
        print_error("%ld fail points misreported\n", misreported);
    assert_int_equal(misreported, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_failure_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
