/*
 * concurrency.c - conformance: one client shared by many threads (the
 * header promises every function may be called from any thread). Points
 * logged concurrently into one run must all be there, none mangled.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_THREADS 8
#define N_POINTS 1000

struct worker {
    struct conf *c;
    const char *run_id;
    int index;
    int failures;
    int first_rc;
};

static void *log_points(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < N_POINTS; i++) {
        int64_t step = (int64_t)w->index * N_POINTS + i;
        /* The value encodes the step, so a torn or mixed-up line shows. */
        int rc = mlflow_client_log_metric(w->c->client, w->run_id, "c", (double)step * 0.25,
                                          1000 + i, step);
        if (rc != MLFLOW_OK && w->failures++ == 0)
            w->first_rc = rc;
    }
    return NULL;
}

static int cmp_step(const void *a, const void *b)
{
    const struct mlflow_metric *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

void conf_test_concurrent_log_metric(void **state)
{
    struct conf *c = *state;
    char run[CONF_ID_MAX];
    conf_run(c, "0", "threads", 0, run);

    pthread_t threads[N_THREADS];
    struct worker workers[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        workers[t] = (struct worker){c, run, t, 0, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, log_points, &workers[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < N_THREADS; t++) {
        if (workers[t].failures)
            print_error("thread %d: %d failed calls, first %s\n", t, workers[t].failures,
                        mlflow_error_name(workers[t].first_rc));
        assert_int_equal(workers[t].failures, 0);
    }

    struct mlflow_metric_list *h = NULL;
    CONF_OK(mlflow_client_get_metric_history(c->client, run, "c", &h));
    assert_int_equal(h->count, N_THREADS * N_POINTS);
    /* Every step exactly once, each with its own value and timestamp. */
    struct mlflow_metric *m = malloc(h->count * sizeof *m);
    assert_non_null(m);
    memcpy(m, h->metrics, h->count * sizeof *m);
    qsort(m, h->count, sizeof *m, cmp_step);
    for (size_t i = 0; i < h->count; i++) {
        assert_int_equal(m[i].step, (int64_t)i);
        assert_true(m[i].value == (double)i * 0.25);
        assert_int_equal(m[i].timestamp, 1000 + (int64_t)(i % N_POINTS));
    }
    free(m);
    mlflow_metric_list_free(h);

    struct mlflow_run *r = conf_get_run(c, run);
    const struct mlflow_metric *latest = mlflow_run_metric(r, "c");
    assert_non_null(latest);
    assert_int_equal(latest->step, N_THREADS * N_POINTS - 1);
    mlflow_run_free(r);
}
