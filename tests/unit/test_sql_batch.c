/*
 * test_sql_batch.c - the SQL store's batch writes (src/store/sql_batch.c)
 * on both dialects, SQLite and PostgreSQL: a log_batch goes in as a few
 * multi-row INSERTs, and must mean exactly what one statement per row
 * meant:
 *   - every point of a 1000-point batch is in the history, in batch order,
 *     identical points collapsed; latest_metrics holds each key's greatest
 *     (step, timestamp, value), and only ever moves forward;
 *   - a param already stored (or twice in one batch) with another value is
 *     refused, naming the key, and nothing of that batch is written;
 *   - a tag given twice in one batch keeps its last value; mlflow.runName
 *     renames the run;
 *   - concurrent batches into one run never lose the newest latest value.
 *
 * PostgreSQL is the server of tests/pg_fixture.sh (MLFLOW_TEST_PG_URI, or
 * the file named by MLFLOW_TEST_PG_URI_FILE), a fresh schema per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <mlflow.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgutil.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
    bool pg;
    char *dir;      /* sqlite */
    PGconn *admin;  /* postgres */
    char schema[64];
    char uri[1400];
    struct mlflow_client *c;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->pg = strcmp((const char *)*state, "postgres") == 0;
    if (fx->pg) {
        char server[1024];
        if (pgutil_server_uri(server, sizeof server) != 0)
            return -1;
        fx->admin = pgutil_connect(server);
        if (!fx->admin)
            return -1;
        if (!pgutil_create_schema(fx->admin, "batch", fx->schema, sizeof fx->schema))
            return -1;
        pgutil_schema_uri(fx->uri, sizeof fx->uri, server, fx->schema);
    } else {
        fx->dir = testutil_mkdtemp("mlflow-sql-batch");
        if (!fx->dir)
            return -1;
        snprintf(fx->uri, sizeof fx->uri, "sqlite:///%s/mlflow.db", fx->dir);
    }
    if (mlflow_client_open(fx->uri, &fx->c) != MLFLOW_OK) {
        fprintf(stderr, "open %s: %s\n", fx->uri, mlflow_last_error());
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow_client_close(fx->c);
    if (fx->pg) {
        pgutil_drop_schema(fx->admin, fx->schema);
        PQfinish(fx->admin);
    } else {
        testutil_rm_rf(fx->dir);
        free(fx->dir);
    }
    free(fx);
    return 0;
}

static void new_run(struct mlflow_client *c, char id[40])
{
    struct mlflow_run *r = NULL;
    OK(mlflow_client_create_run(c, "0", NULL, &r));
    snprintf(id, 40, "%s", r->info.run_id);
    mlflow_run_free(r);
}

static uint64_t rng = 12345;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

/* The same stored point: NaN is stored as 0 with is_nan. */
static bool same_point(const struct mlflow_metric *a, const struct mlflow_metric *b)
{
    bool va = isnan(a->value) ? isnan(b->value) : (!isnan(b->value) && a->value == b->value);
    return strcmp(a->key, b->key) == 0 && a->timestamp == b->timestamp && a->step == b->step &&
           va;
}

/* MLflow's "more recent" on stored values (NaN counts as 0). */
static bool newer(const struct mlflow_metric *a, const struct mlflow_metric *b)
{
    double va = isnan(a->value) ? 0 : a->value, vb = isnan(b->value) ? 0 : b->value;
    if (a->step != b->step)
        return a->step > b->step;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return va > vb;
}

static void same_value(double got, double want)
{
    if (isnan(want))
        assert_true(isnan(got));
    else
        assert_true(got == want);
}

static const char *const KEYS[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"};

/* 1000 points over 10 keys, shuffled steps and timestamps, some NaN, some
 * repeated exactly: history and latest as one statement per point gave. */
static void test_batch_history_and_latest(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    enum { N = 1000 };
    static struct mlflow_metric m[N];
    for (int i = 0; i < N; i++) {
        if (i >= 10 && rnd(10) == 0) { /* an exact repeat of an earlier point */
            m[i] = m[rnd((unsigned)i)];
            continue;
        }
        double v = rnd(20) == 0 ? NAN : (double)rnd(1000) / 7.0;
        m[i] = (struct mlflow_metric){KEYS[rnd(10)], v, 1700000000000 + rnd(50), rnd(30)};
    }
    OK(mlflow_client_log_batch(fx->c, run, m, N, NULL, 0, NULL, 0));

    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_metrics, 10);
    for (size_t k = 0; k < 10; k++) {
        /* The expected history: batch order, identical points once. */
        struct mlflow_metric want[N];
        size_t n = 0;
        const struct mlflow_metric *best = NULL;
        for (int i = 0; i < N; i++) {
            if (strcmp(m[i].key, KEYS[k]) != 0)
                continue;
            bool seen = false;
            for (size_t j = 0; !seen && j < n; j++)
                seen = same_point(&want[j], &m[i]);
            if (!seen)
                want[n++] = m[i];
            if (!best || newer(&m[i], best))
                best = &m[i];
        }
        struct mlflow_metric_list *h = NULL;
        OK(mlflow_client_get_metric_history(fx->c, run, KEYS[k], &h));
        assert_int_equal(h->count, n);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(h->metrics[j].step, want[j].step);
            assert_int_equal(h->metrics[j].timestamp, want[j].timestamp);
            same_value(h->metrics[j].value, want[j].value);
        }
        mlflow_metric_list_free(h);
        const struct mlflow_metric *latest = mlflow_run_metric(r, KEYS[k]);
        assert_non_null(latest);
        assert_int_equal(latest->step, best->step);
        assert_int_equal(latest->timestamp, best->timestamp);
        same_value(latest->value, best->value);
    }
    mlflow_run_free(r);
}

static void expect_latest(struct fx *fx, const char *run, const char *key, double value,
                          int64_t ts, int64_t step)
{
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    const struct mlflow_metric *m = mlflow_run_metric(r, key);
    assert_non_null(m);
    same_value(m->value, value);
    assert_int_equal(m->timestamp, ts);
    assert_int_equal(m->step, step);
    mlflow_run_free(r);
}

static void test_latest_only_moves_forward(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    struct mlflow_metric a = {"m", 1.0, 5000, 10};
    OK(mlflow_client_log_batch(fx->c, run, &a, 1, NULL, 0, NULL, 0));
    /* Lower steps, later timestamps: history grows, latest stays. */
    struct mlflow_metric b[10];
    for (int i = 0; i < 10; i++)
        b[i] = (struct mlflow_metric){"m", 100.0 + i, 9000 + i, i};
    OK(mlflow_client_log_batch(fx->c, run, b, 10, NULL, 0, NULL, 0));
    expect_latest(fx, run, "m", 1.0, 5000, 10);
    /* Same step, earlier timestamp: stays. Same step and time, larger
     * value: moves. */
    struct mlflow_metric c[] = {{"m", 50.0, 4000, 10}, {"m", 2.0, 5000, 10}};
    OK(mlflow_client_log_batch(fx->c, run, c, 2, NULL, 0, NULL, 0));
    expect_latest(fx, run, "m", 2.0, 5000, 10);
    /* A NaN at a later step is the latest. */
    struct mlflow_metric d = {"m", NAN, 1, 11};
    OK(mlflow_client_log_batch(fx->c, run, &d, 1, NULL, 0, NULL, 0));
    expect_latest(fx, run, "m", NAN, 1, 11);
    struct mlflow_metric_list *h = NULL;
    OK(mlflow_client_get_metric_history(fx->c, run, "m", &h));
    assert_int_equal(h->count, 14);
    mlflow_metric_list_free(h);
}

/* 1000 keys in one batch: 1000 latest rows, in several statements. */
static void test_many_keys(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    enum { N = 1000 };
    static char names[N][16];
    static struct mlflow_metric m[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(names[i], sizeof names[i], "key_%04d", i);
            /* Round 1 moves every other key forward. */
            int64_t step = round == 0 ? 5 : (i % 2 ? 6 : 4);
            m[i] = (struct mlflow_metric){names[i], (double)i + round, 1000, step};
        }
        OK(mlflow_client_log_batch(fx->c, run, m, N, NULL, 0, NULL, 0));
    }
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_metrics, N);
    for (int i = 0; i < N; i++) {
        const struct mlflow_metric *x = mlflow_run_metric(r, names[i]);
        assert_non_null(x);
        assert_int_equal(x->step, i % 2 ? 6 : 5);
        assert_true(x->value == (double)i + (i % 2 ? 1 : 0));
    }
    mlflow_run_free(r);
}

static void test_param_conflict_names_key_writes_nothing(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    const struct mlflow_kv first[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};
    OK(mlflow_client_log_batch(fx->c, run, NULL, 0, first, 4, NULL, 0));
    const struct mlflow_kv bad[] = {{"new1", "x"}, {"c", "3"}, {"d", "40"}, {"new2", "y"}};
    const struct mlflow_metric m = {"loss", 0.5, 1000, 0};
    const struct mlflow_kv t = {"tag", "v"};
    assert_int_equal(mlflow_client_log_batch(fx->c, run, &m, 1, bad, 4, &t, 1),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "key='d'"));
    assert_non_null(strstr(mlflow_last_error(), "value='4'"));
    assert_non_null(strstr(mlflow_last_error(), "'40'"));
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_params, 4);
    assert_int_equal(r->data.n_metrics, 0);
    assert_null(mlflow_run_tag(r, "tag"));
    assert_string_equal(mlflow_run_param(r, "d"), "4");
    mlflow_run_free(r);

    /* 100 params, all there with the same values, and one new: fine. The
     * stored values are read back in several chunks. */
    static char keys[101][16], vals[101][16];
    struct mlflow_kv p[100];
    for (int i = 0; i < 99; i++) {
        snprintf(keys[i], sizeof keys[i], "p%03d", i);
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        p[i] = (struct mlflow_kv){keys[i], vals[i]};
    }
    OK(mlflow_client_log_batch(fx->c, run, NULL, 0, p, 99, NULL, 0));
    p[99] = (struct mlflow_kv){"p_new", "z"};
    OK(mlflow_client_log_batch(fx->c, run, NULL, 0, p, 100, NULL, 0));
    /* The last of 100 differs: refused, naming it. */
    p[99] = (struct mlflow_kv){"p098", "changed"};
    p[98] = (struct mlflow_kv){"p_other", "w"};
    assert_int_equal(mlflow_client_log_batch(fx->c, run, NULL, 0, p, 100, NULL, 0),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "key='p098'"));
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_params, 4 + 99 + 1);
    assert_null(mlflow_run_param(r, "p_other"));
    mlflow_run_free(r);
}

/* Below the client's checks: what the store itself does with a key given
 * twice in one batch. */
static void test_store_duplicates_in_one_batch(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    struct mlflow__store *s = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__store_open(fx->uri, &s, &err), MLFLOW_OK);
    const struct mlflow_kv same[] = {{"p", "1"}, {"q", "2"}, {"p", "1"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, same, 3, NULL, 0, &err), MLFLOW_OK);
    const struct mlflow_kv other[] = {{"r", "1"}, {"r", "2"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, other, 2, NULL, 0, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "key='r'"));
    const struct mlflow_kv tags[] = {{"t", "first"}, {"mlflow.runName", "one"},
                                     {"u", "x"},     {"t", "last"},
                                     {"mlflow.runName", "two"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, tags, 5, &err), MLFLOW_OK);
    mlflow__store_close(s);

    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_params, 2);
    assert_null(mlflow_run_param(r, "r"));
    assert_string_equal(mlflow_run_tag(r, "t"), "last");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "two");
    assert_string_equal(r->info.run_name, "two");
    mlflow_run_free(r);
}

/* Four clients (four servers, in production) log into one run at once;
 * each batch holds a step range of its own, so the final latest value of
 * every key is the one with the greatest step, whoever wrote last. */
struct writer {
    const char *uri;
    const char *run;
    int id;
    int rc;
};

#define WRITERS 4
#define ROUNDS 15

static void *write_batches(void *p)
{
    struct writer *w = p;
    struct mlflow_client *c = NULL;
    w->rc = mlflow_client_open(w->uri, &c);
    for (int round = 0; !w->rc && round < ROUNDS; round++) {
        struct mlflow_metric m[40];
        for (int i = 0; i < 40; i++) {
            /* Writer w at round r has steps r*WRITERS + w: interleaved. */
            int64_t step = (int64_t)(round * WRITERS + w->id) * 10 + i % 10;
            m[i] = (struct mlflow_metric){KEYS[i / 10 + (w->id % 2) * 4], (double)step,
                                          1000 + i, step};
        }
        w->rc = mlflow_client_log_batch(c, w->run, m, 40, NULL, 0, NULL, 0);
    }
    mlflow_client_close(c);
    return NULL;
}

static void test_concurrent_batches(void **state)
{
    struct fx *fx = *state;
    char run[40];
    new_run(fx->c, run);
    pthread_t th[WRITERS];
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){fx->uri, run, i, 0};
        pthread_create(&th[i], NULL, write_batches, &w[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, MLFLOW_OK);
    }
    struct mlflow_run *r = NULL;
    OK(mlflow_client_get_run(fx->c, run, &r));
    assert_int_equal(r->data.n_metrics, 8);
    for (int k = 0; k < 8; k++) {
        /* Keys 0-3 belong to even writers, 4-7 to odd ones. */
        int top = k < 4 ? WRITERS - 2 : WRITERS - 1;
        int64_t want = (int64_t)((ROUNDS - 1) * WRITERS + top) * 10 + 9;
        const struct mlflow_metric *m = mlflow_run_metric(r, KEYS[k]);
        assert_non_null(m);
        assert_int_equal(m->step, want);
        struct mlflow_metric_list *h = NULL;
        OK(mlflow_client_get_metric_history(fx->c, run, KEYS[k], &h));
        assert_int_equal(h->count, (size_t)(ROUNDS * WRITERS / 2 * 10));
        mlflow_metric_list_free(h);
    }
    mlflow_run_free(r);
}

#define BOTH(fn)                                                                       \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)"sqlite"),   \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)"postgres")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_batch_history_and_latest),
        BOTH(test_latest_only_moves_forward),
        BOTH(test_many_keys),
        BOTH(test_param_conflict_names_key_writes_nothing),
        BOTH(test_store_duplicates_in_one_batch),
        BOTH(test_concurrent_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
