/*
 * test_sqlite_concurrency.c - eight processes on one SQLite database file.
 *
 * Processes start together (they block on a pipe until the parent closes
 * it) so their transactions really collide. Every call must succeed: a
 * busy database is waited for, never reported ("database is locked" must not
 * reach users). Afterwards every point, param and tag must be there, once.
 *
 *   - creation: eight processes open a database that does not exist yet;
 *     exactly one schema and one Default experiment come out of it;
 *   - logging: each process logs single metrics, params, tags and batches
 *     into one shared run and into a run of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mlflow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define N_PROCS 8
#define N_POINTS 150 /* single log_metric calls per process and run */
#define N_BATCHES 10

struct fx {
    char *dir;
    char uri[4200];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->dir = testutil_mkdtemp("mlflow-sqlite-conc");
    if (!fx->dir)
        return -1;
    snprintf(fx->uri, sizeof fx->uri, "sqlite:///%s/mlflow.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    testutil_rm_rf(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* A failed call in a child: say which and why, and exit non-zero. */
#define CHILD_OK(expr)                                                                       \
    do {                                                                                     \
        if ((expr) != MLFLOW_OK) {                                                           \
            fprintf(stderr, "child %d: %s failed: %s\n", me, #expr, mlflow_last_error());    \
            _exit(1);                                                                        \
        }                                                                                    \
    } while (0)

typedef void (*child_fn)(int me, const struct fx *fx, const char *shared_run);

/* Runs fn in N_PROCS children released at once; asserts all exit 0. */
static void run_children(const struct fx *fx, const char *shared_run, child_fn fn)
{
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pids[N_PROCS];
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            char c;
            while (read(gate[0], &c, 1) > 0)
                ;
            close(gate[0]);
            fn(i, fx, shared_run);
            _exit(0);
        }
    }
    close(gate[0]);
    close(gate[1]); /* go */
    int failed = 0;
    for (int i = 0; i < N_PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    assert_int_equal(failed, 0);
}

/* ---- creating one database from eight processes ---- */

static void create_child(int me, const struct fx *fx, const char *unused)
{
    (void)unused;
    struct mlflow_client *c;
    CHILD_OK(mlflow_client_open(fx->uri, &c));
    char name[32], *id = NULL;
    snprintf(name, sizeof name, "exp-%d", me);
    CHILD_OK(mlflow_client_create_experiment(c, name, NULL, &id));
    struct mlflow_run *r = NULL;
    CHILD_OK(mlflow_client_create_run(c, id, NULL, &r));
    CHILD_OK(mlflow_client_log_metric(c, r->info.run_id, "m", me, 1000, 0));
    mlflow_run_free(r);
    mlflow_free(id);
    mlflow_client_close(c);
}

static void test_concurrent_creation(void **state)
{
    struct fx *fx = *state;
    run_children(fx, NULL, create_child);

    struct mlflow_client *c;
    assert_int_equal(mlflow_client_open(fx->uri, &c), MLFLOW_OK);
    struct mlflow_search_experiments_opts o = {.view_type = MLFLOW_VIEW_ALL};
    struct mlflow_experiment_list *l = NULL;
    assert_int_equal(mlflow_client_search_experiments(c, &o, &l), MLFLOW_OK);
    assert_int_equal(l->count, N_PROCS + 1);
    int defaults = 0;
    const char *ids[N_PROCS + 1];
    for (size_t i = 0; i < l->count; i++) {
        defaults += strcmp(l->experiments[i].name, "Default") == 0;
        ids[i] = l->experiments[i].experiment_id;
    }
    assert_int_equal(defaults, 1);
    struct mlflow_search_runs_opts ro = {.experiment_ids = ids, .n_experiment_ids = l->count};
    struct mlflow_run_list *runs = NULL;
    assert_int_equal(mlflow_client_search_runs(c, &ro, &runs), MLFLOW_OK);
    assert_int_equal(runs->count, N_PROCS);
    mlflow_run_list_free(runs);
    mlflow_experiment_list_free(l);
    mlflow_client_close(c);
}

/* ---- eight processes logging into one database ---- */

static void log_child(int me, const struct fx *fx, const char *shared)
{
    struct mlflow_client *c;
    CHILD_OK(mlflow_client_open(fx->uri, &c));
    struct mlflow_run *r = NULL;
    char name[32];
    snprintf(name, sizeof name, "own-%d", me);
    const struct mlflow_create_run_opts ro = {.run_name = name};
    CHILD_OK(mlflow_client_create_run(c, "0", &ro, &r));
    char own[40];
    snprintf(own, sizeof own, "%s", r->info.run_id);
    mlflow_run_free(r);

    char key[64], value[64];
    for (int i = 0; i < N_POINTS; i++) {
        /* Steps are unique across processes in the shared run. */
        int64_t step = (int64_t)me * N_POINTS + i;
        CHILD_OK(mlflow_client_log_metric(c, shared, "shared", (double)step * 0.5, 1000 + i,
                                          step));
        CHILD_OK(mlflow_client_log_metric(c, own, "own", (double)i, 1000 + i, i));
        if (i % 10 == 0) {
            /* The same param from everyone (same value: fine), and one each. */
            CHILD_OK(mlflow_client_log_param(c, shared, "lr", "0.01"));
            snprintf(key, sizeof key, "p-%d-%d", me, i);
            snprintf(value, sizeof value, "v%d", i);
            CHILD_OK(mlflow_client_log_param(c, shared, key, value));
            snprintf(key, sizeof key, "t-%d", me);
            CHILD_OK(mlflow_client_set_tag(c, shared, key, value)); /* overwritten */
            CHILD_OK(mlflow_client_set_tag(c, own, "progress", value));
        }
    }
    for (int b = 0; b < N_BATCHES; b++) {
        struct mlflow_metric m[50];
        char keys[50][32];
        for (int i = 0; i < 50; i++) {
            snprintf(keys[i], sizeof keys[i], "batch-%d", i % 5);
            m[i] = (struct mlflow_metric){keys[i], b * 100 + i, 2000 + b,
                                          (int64_t)me * 1000 + b * 10 + i / 5};
        }
        char pk[5][32], pv[5][32];
        struct mlflow_kv p[5], t[5];
        for (int i = 0; i < 5; i++) {
            snprintf(pk[i], sizeof pk[i], "bp-%d-%d-%d", me, b, i);
            snprintf(pv[i], sizeof pv[i], "%d", i);
            p[i] = (struct mlflow_kv){pk[i], pv[i]};
            t[i] = (struct mlflow_kv){pk[i], pv[i]};
        }
        CHILD_OK(mlflow_client_log_batch(c, shared, m, 50, p, 5, t, 5));
    }
    CHILD_OK(mlflow_client_set_terminated(c, own, MLFLOW_RUN_STATUS_FINISHED, 0));
    mlflow_client_close(c);
}

static int cmp_step(const void *a, const void *b)
{
    const struct mlflow_metric *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

static void test_concurrent_logging(void **state)
{
    struct fx *fx = *state;
    struct mlflow_client *c;
    assert_int_equal(mlflow_client_open(fx->uri, &c), MLFLOW_OK);
    struct mlflow_run *r = NULL;
    const struct mlflow_create_run_opts ro = {.run_name = "shared"};
    assert_int_equal(mlflow_client_create_run(c, "0", &ro, &r), MLFLOW_OK);
    char shared[40];
    snprintf(shared, sizeof shared, "%s", r->info.run_id);
    mlflow_run_free(r);
    mlflow_client_close(c); /* no connection crosses the fork */

    run_children(fx, shared, log_child);

    assert_int_equal(mlflow_client_open(fx->uri, &c), MLFLOW_OK);
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(mlflow_client_get_metric_history(c, shared, "shared", &h), MLFLOW_OK);
    assert_int_equal(h->count, N_PROCS * N_POINTS);
    struct mlflow_metric *m = malloc(h->count * sizeof *m);
    memcpy(m, h->metrics, h->count * sizeof *m);
    qsort(m, h->count, sizeof *m, cmp_step);
    for (size_t i = 0; i < h->count; i++) {
        assert_int_equal(m[i].step, (int64_t)i);
        assert_true(m[i].value == (double)i * 0.5);
        assert_int_equal(m[i].timestamp, 1000 + (int64_t)(i % N_POINTS));
    }
    free(m);
    mlflow_metric_list_free(h);
    for (int k = 0; k < 5; k++) {
        char key[32];
        snprintf(key, sizeof key, "batch-%d", k);
        assert_int_equal(mlflow_client_get_metric_history(c, shared, key, &h), MLFLOW_OK);
        assert_int_equal(h->count, N_PROCS * N_BATCHES * 10);
        mlflow_metric_list_free(h);
    }

    assert_int_equal(mlflow_client_get_run(c, shared, &r), MLFLOW_OK);
    /* lr + 15 singles and 50 batch params per process. */
    assert_int_equal(r->data.n_params, 1 + N_PROCS * (N_POINTS / 10 + N_BATCHES * 5));
    assert_string_equal(mlflow_run_param(r, "lr"), "0.01");
    /* runName + one t-<me> and 50 batch tags per process. */
    assert_int_equal(r->data.n_tags, 1 + N_PROCS * (1 + N_BATCHES * 5));
    const struct mlflow_metric *latest = mlflow_run_metric(r, "shared");
    assert_non_null(latest);
    assert_int_equal(latest->step, N_PROCS * N_POINTS - 1);
    latest = mlflow_run_metric(r, "batch-4");
    assert_int_equal(latest->step, (N_PROCS - 1) * 1000 + (N_BATCHES - 1) * 10 + 9);
    mlflow_run_free(r);

    const char *ids[] = {"0"};
    struct mlflow_search_runs_opts so = {.experiment_ids = ids, .n_experiment_ids = 1,
                                         .filter = "attributes.status = 'FINISHED'"};
    struct mlflow_run_list *l = NULL;
    assert_int_equal(mlflow_client_search_runs(c, &so, &l), MLFLOW_OK);
    assert_int_equal(l->count, N_PROCS);
    for (size_t i = 0; i < l->count; i++) {
        assert_int_equal(mlflow_run_metric(&l->runs[i], "own")->step, N_POINTS - 1);
        assert_string_equal(mlflow_run_tag(&l->runs[i], "progress"), "v140");
        assert_int_equal(mlflow_client_get_metric_history(c, l->runs[i].info.run_id, "own", &h),
                         MLFLOW_OK);
        assert_int_equal(h->count, N_POINTS);
        mlflow_metric_list_free(h);
    }
    mlflow_run_list_free(l);
    mlflow_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_creation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_logging, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
