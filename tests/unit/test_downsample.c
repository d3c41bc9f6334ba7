/*
 * test_downsample.c - the chart's downsampling (src/server/downsample.c):
 * what a person looking at a long metric must still see after the server
 * cut it to a few thousand points. A lone spike or dip among a million
 * points survives, the first and last points stay, the output is sorted by
 * x and made of real points, the x range is honoured, and NaN or infinite
 * values neither win a bucket nor vanish when they are all a bucket has.
 */
#include "server/server.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

static struct mlflow_metric *series(size_t n)
{
    struct mlflow_metric *m = calloc(n ? n : 1, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        m[i].key = "loss";
        m[i].step = (int64_t)i;
        m[i].timestamp = 1700000000000 + (int64_t)i * 10;
        m[i].value = 1.0 + 0.001 * (double)(i % 100);
    }
    return m;
}

static struct mlflow__ds_result run(const struct mlflow_metric *m, size_t n,
                                    struct mlflow__ds_opts o)
{
    struct mlflow__ds_result r;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__downsample(m, n, &o, &r, &err), MLFLOW_OK);
    return r;
}

static int64_t x_of(const struct mlflow_metric *m, enum mlflow__ds_axis axis)
{
    return axis == MLFLOW__DS_STEP ? m->step : m->timestamp;
}

static bool has_index(const struct mlflow__ds_result *r, size_t i)
{
    for (size_t k = 0; k < r->n; k++)
        if (r->idx[k] == i)
            return true;
    return false;
}

/* Output invariants: real points, strictly increasing positions in x
 * order, never more than asked. */
static void check_sorted(const struct mlflow_metric *m, size_t n,
                         const struct mlflow__ds_result *r, enum mlflow__ds_axis axis,
                         size_t max_points)
{
    assert_true(r->n <= max_points || !r->downsampled);
    for (size_t k = 0; k < r->n; k++) {
        assert_true(r->idx[k] < n);
        if (k)
            assert_true(x_of(&m[r->idx[k - 1]], axis) <= x_of(&m[r->idx[k]], axis));
        if (k)
            assert_true(r->idx[k - 1] != r->idx[k]);
    }
}

static void test_short_history_is_whole(void **state)
{
    /* Logged out of order: still returned in step order, all of it. */
    struct mlflow_metric *m = series(5);
    m[0].step = 4;
    m[4].step = 0;
    struct mlflow__ds_result r = run(m, 5, (struct mlflow__ds_opts){.max_points = 5});
    assert_false(r.downsampled);
    assert_int_equal(r.total, 5);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.idx[0], 4);
    assert_int_equal(r.idx[1], 1);
    assert_int_equal(r.idx[4], 0);
    mlflow__free(r.idx);

    r = run(m, 0, (struct mlflow__ds_opts){.max_points = 100});
    assert_int_equal(r.n, 0);
    assert_int_equal(r.total, 0);
    assert_false(r.downsampled);
    mlflow__free(r.idx);
    free(m);
}

/* The case the endpoint exists for: one spike and one dip among 1M points. */
static void test_million_points_keep_spike(void **state)
{
    const size_t n = 1000000, spike = 777777, dip = 123457;
    struct mlflow_metric *m = series(n);
    m[spike].value = 1e9;
    m[dip].value = -42;
    struct mlflow__ds_result r = run(m, n, (struct mlflow__ds_opts){.max_points = 2000});
    assert_true(r.downsampled);
    assert_int_equal(r.total, n);
    assert_true(r.n <= 2000);
    assert_true(r.n >= 1000); /* every bucket holds points: two each */
    check_sorted(m, n, &r, MLFLOW__DS_STEP, 2000);
    assert_int_equal(r.idx[0], 0);
    assert_int_equal(r.idx[r.n - 1], n - 1);
    assert_true(has_index(&r, spike));
    assert_true(has_index(&r, dip));
    mlflow__free(r.idx);

    /* The same by timestamp, and with the fewest points that still have a
     * bucket. */
    r = run(m, n, (struct mlflow__ds_opts){.axis = MLFLOW__DS_TIMESTAMP, .max_points = 4});
    assert_true(r.n <= 4);
    assert_int_equal(r.idx[0], 0);
    assert_int_equal(r.idx[r.n - 1], n - 1);
    assert_true(has_index(&r, spike));
    assert_true(has_index(&r, dip));
    mlflow__free(r.idx);

    /* Two points: only the ends. */
    r = run(m, n, (struct mlflow__ds_opts){.max_points = 2});
    assert_int_equal(r.n, 2);
    assert_int_equal(r.idx[0], 0);
    assert_int_equal(r.idx[1], n - 1);
    mlflow__free(r.idx);
    free(m);
}

/* Shuffled logging order (e.g. async clients): same answer as sorted. */
static void test_unsorted_input(void **state)
{
    const size_t n = 50000, spike = 31337;
    struct mlflow_metric *m = series(n);
    m[spike].value = 1e6;
    srand(7);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        struct mlflow_metric t = m[i];
        m[i] = m[j];
        m[j] = t;
    }
    struct mlflow__ds_result r = run(m, n, (struct mlflow__ds_opts){.max_points = 300});
    check_sorted(m, n, &r, MLFLOW__DS_STEP, 300);
    assert_int_equal(m[r.idx[0]].step, 0);
    assert_int_equal(m[r.idx[r.n - 1]].step, (int64_t)n - 1);
    bool seen = false;
    for (size_t k = 0; k < r.n; k++)
        seen = seen || m[r.idx[k]].value == 1e6;
    assert_true(seen);
    mlflow__free(r.idx);
    free(m);
}

/* min_x/max_x cut the history first; first/last are those of the range. */
static void test_range(void **state)
{
    const size_t n = 10000;
    struct mlflow_metric *m = series(n);
    m[5000].value = 99;
    m[9000].value = 1000; /* outside the range: must not appear */
    struct mlflow__ds_result r = run(m, n,
                                     (struct mlflow__ds_opts){.has_min = true,
                                                              .min_x = 4000,
                                                              .has_max = true,
                                                              .max_x = 6000.5,
                                                              .max_points = 100});
    assert_int_equal(r.total, 2001);
    assert_true(r.downsampled);
    check_sorted(m, n, &r, MLFLOW__DS_STEP, 100);
    assert_int_equal(r.idx[0], 4000);
    assert_int_equal(r.idx[r.n - 1], 6000);
    assert_true(has_index(&r, 5000));
    assert_false(has_index(&r, 9000));
    mlflow__free(r.idx);

    /* Open-ended by timestamp: everything from t0 + 99990 on (10 points). */
    r = run(m, n,
            (struct mlflow__ds_opts){.axis = MLFLOW__DS_TIMESTAMP,
                                     .has_min = true,
                                     .min_x = 1700000000000.0 + 99900,
                                     .max_points = 2000});
    assert_int_equal(r.total, 10);
    assert_false(r.downsampled);
    assert_int_equal(r.idx[0], 9990);
    mlflow__free(r.idx);

    /* An empty range. */
    r = run(m, n, (struct mlflow__ds_opts){.has_min = true, .min_x = 1e12, .max_points = 10});
    assert_int_equal(r.total, 0);
    assert_int_equal(r.n, 0);
    mlflow__free(r.idx);
    free(m);
}

/* NaN and infinities are gaps: never a bucket's min or max while finite
 * values exist, but a bucket of nothing else keeps one, so the gap shows. */
static void test_non_finite(void **state)
{
    const size_t n = 1000;
    struct mlflow_metric *m = series(n);
    m[10].value = INFINITY;
    m[20].value = -INFINITY;
    m[30].value = NAN;
    for (size_t i = 500; i < 600; i++)
        m[i].value = NAN;
    /* 10 buckets of 100 steps (0..999 over 10): bucket 5 is all NaN. */
    struct mlflow__ds_result r = run(m, n, (struct mlflow__ds_opts){.max_points = 22});
    check_sorted(m, n, &r, MLFLOW__DS_STEP, 22);
    assert_false(has_index(&r, 10));
    assert_false(has_index(&r, 20));
    assert_false(has_index(&r, 30));
    size_t gaps = 0;
    for (size_t k = 0; k < r.n; k++)
        if (isnan(m[r.idx[k]].value)) {
            gaps++;
            assert_true(r.idx[k] >= 500 && r.idx[k] < 600);
        }
    assert_int_equal(gaps, 1);
    mlflow__free(r.idx);
    free(m);
}

/* Every point at one x (a metric logged without steps): buckets by count,
 * the spike still kept; ties ordered by the other axis. */
static void test_single_x(void **state)
{
    const size_t n = 5000;
    struct mlflow_metric *m = series(n);
    for (size_t i = 0; i < n; i++)
        m[i].step = 0;
    m[2500].value = 77;
    struct mlflow__ds_result r = run(m, n, (struct mlflow__ds_opts){.max_points = 50});
    assert_true(r.downsampled);
    assert_true(r.n <= 50 && r.n > 20);
    assert_int_equal(r.idx[0], 0);
    assert_int_equal(r.idx[r.n - 1], n - 1);
    assert_true(has_index(&r, 2500));
    for (size_t k = 1; k < r.n; k++)
        assert_true(m[r.idx[k - 1]].timestamp < m[r.idx[k]].timestamp);
    mlflow__free(r.idx);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_history_is_whole),
        cmocka_unit_test(test_million_points_keep_spike),
        cmocka_unit_test(test_unsorted_input),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_single_x),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
