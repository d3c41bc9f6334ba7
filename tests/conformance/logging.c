/*
 * logging.c - conformance: what logged data reads back as (spec 1.6, 3):
 * write-once params and their length limit, metric points and MLflow's
 * "latest" rule, exact float round trips, tags.
 */
#include "conformance.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- params ---- */

void conf_test_param_immutable(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "params", 0, id);
    CONF_OK(mlflow_client_log_param(c->client, id, "lr", "0.01"));
    /* The same value again is a no-op. */
    CONF_OK(mlflow_client_log_param(c->client, id, "lr", "0.01"));
    CONF_ERR(mlflow_client_log_param(c->client, id, "lr", "0.02"), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_true(conf_error_mentions("lr"));
    const struct mlflow_kv p = {"lr", "0.03"};
    CONF_ERR(mlflow_client_log_batch(c->client, id, NULL, 0, &p, 1, NULL, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    const struct mlflow_kv same = {"lr", "0.01"};
    CONF_OK(mlflow_client_log_batch(c->client, id, NULL, 0, &same, 1, NULL, 0));

    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(r->data.n_params, 1);
    assert_string_equal(mlflow_run_param(r, "lr"), "0.01");
    mlflow_run_free(r);

    /* Params belong to one run: another run may use the key freely. */
    char other[CONF_ID_MAX];
    conf_run(c, "0", "other", 0, other);
    CONF_OK(mlflow_client_log_param(c->client, other, "lr", "0.5"));
    r = conf_get_run(c, other);
    assert_string_equal(mlflow_run_param(r, "lr"), "0.5");
    mlflow_run_free(r);
}

void conf_test_param_empty_value(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "empty", 0, id);
    CONF_OK(mlflow_client_log_param(c->client, id, "empty", ""));
    CONF_OK(mlflow_client_log_param(c->client, id, "empty", ""));
    CONF_ERR(mlflow_client_log_param(c->client, id, "empty", "x"), MLFLOW_INVALID_PARAMETER_VALUE);
    struct mlflow_run *r = conf_get_run(c, id);
    assert_non_null(mlflow_run_param(r, "empty"));
    assert_string_equal(mlflow_run_param(r, "empty"), "");
    mlflow_run_free(r);
}

/* Logs `value` as param `key` and checks it reads back as `want`. */
static void check_param(struct conf *c, const char *run, const char *key, const char *value,
                        const char *want)
{
    CONF_OK(mlflow_client_log_param(c->client, run, key, value));
    struct mlflow_run *r = conf_get_run(c, run);
    const char *got = mlflow_run_param(r, key);
    assert_non_null(got);
    assert_int_equal(strlen(got), strlen(want));
    assert_string_equal(got, want);
    mlflow_run_free(r);
}

void conf_test_param_long_values(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "long", 0, id);

    char *exact = conf_repeat("x", 6000);
    check_param(c, id, "exact", exact, exact);

    /* Longer values are truncated to 6000 characters by default. */
    char *over = conf_repeat("y", 6001);
    char *over_want = conf_repeat("y", 6000);
    check_param(c, id, "over", over, over_want);
    /* Re-logging the long value compares after truncation: same value. */
    CONF_OK(mlflow_client_log_param(c->client, id, "over", over));

    /* Characters, not bytes: 7000 two-byte characters keep 6000 of them. */
    char *uni = conf_repeat("\xc3\xa9", 7000);
    char *uni_want = conf_repeat("\xc3\xa9", 6000);
    check_param(c, id, "unicode", uni, uni_want);
    /* 6000 three-byte characters (18000 bytes) fit. */
    char *cjk = conf_repeat("\xe6\x97\xa5", 6000);
    check_param(c, id, "cjk", cjk, cjk);

    /* log_batch truncates the same way. */
    char *batch = conf_repeat("z", 6500);
    char *batch_want = conf_repeat("z", 6000);
    const struct mlflow_kv p = {"batch", batch};
    CONF_OK(mlflow_client_log_batch(c->client, id, NULL, 0, &p, 1, NULL, 0));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_string_equal(mlflow_run_param(r, "batch"), batch_want);
    mlflow_run_free(r);

    free(exact);
    free(over);
    free(over_want);
    free(uni);
    free(uni_want);
    free(cjk);
    free(batch);
    free(batch_want);
}

void conf_test_param_unicode_value(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "unicode", 0, id);
    const char *v = "\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5 "
                    "\xe2\x9c\x93\nline two\ttab 'quote' \"dq\" \xf0\x9f\x98\x80";
    check_param(c, id, "text", v, v);
    check_param(c, id, "spaces", "  leading and trailing  ", "  leading and trailing  ");
    CONF_ERR(mlflow_client_log_param(c->client, id, "bad", "\xc3\x28"),
             MLFLOW_INVALID_PARAMETER_VALUE);
}

/* ---- metrics ---- */

struct point {
    double value;
    int64_t timestamp;
    int64_t step;
};

/* MLflow's latest point: the maximum of (step, timestamp, value). */
static const struct point *expected_latest(const struct point *p, size_t n)
{
    const struct point *best = &p[0];
    for (size_t i = 1; i < n; i++) {
        const struct point *q = &p[i];
        if (q->step != best->step) {
            if (q->step > best->step)
                best = q;
        } else if (q->timestamp != best->timestamp) {
            if (q->timestamp > best->timestamp)
                best = q;
        } else if (q->value > best->value) {
            best = q;
        }
    }
    return best;
}

static void log_points(struct conf *c, const char *run, const char *key, const struct point *p,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        CONF_OK(mlflow_client_log_metric(c->client, run, key, p[i].value, p[i].timestamp,
                                         p[i].step));
}

static void check_latest(const struct mlflow_run *r, const char *key, const struct point *p,
                         size_t n)
{
    const struct point *want = expected_latest(p, n);
    const struct mlflow_metric *m = mlflow_run_metric(r, key);
    assert_non_null(m);
    assert_string_equal(m->key, key);
    if (m->value != want->value || m->timestamp != want->timestamp || m->step != want->step)
        print_error("metric %s: latest is (step %lld, ts %lld, %g), expected (%lld, %lld, %g)\n",
                    key, (long long)m->step, (long long)m->timestamp, m->value,
                    (long long)want->step, (long long)want->timestamp, want->value);
    assert_true(m->value == want->value);
    assert_int_equal(m->timestamp, want->timestamp);
    assert_int_equal(m->step, want->step);
}

void conf_test_metric_latest_is_max_step_timestamp_value(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "latest", 0, id);
    /* A later point at a smaller step does not replace the latest. */
    static const struct point a[] = {{1.0, 1000, 5}, {2.0, 2000, 3}, {9.0, 500, 5}};
    /* Same step: the larger timestamp wins, whatever the order logged. */
    static const struct point b[] = {{5.0, 200, 1}, {3.0, 300, 1}, {4.0, 250, 1}};
    /* Same step and timestamp: the larger value wins. */
    static const struct point d[] = {{1.0, 100, 0}, {7.0, 100, 0}, {4.0, 100, 0}};
    /* Negative steps order as numbers. */
    static const struct point e[] = {{-1.0, 100, -2}, {-5.0, 50, -1}, {8.0, 900, -3}};
    log_points(c, id, "a", a, 3);
    log_points(c, id, "b", b, 3);
    log_points(c, id, "d", d, 3);
    log_points(c, id, "e", e, 3);

    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(r->data.n_metrics, 4);
    check_latest(r, "a", a, 3);
    check_latest(r, "b", b, 3);
    check_latest(r, "d", d, 3);
    check_latest(r, "e", e, 3);
    mlflow_run_free(r);
}

static int is_pinf(const struct conf *c, double v)
{
    return conf_has(c, CONF_CAP_EXACT_INF) ? (isinf(v) && v > 0) : (v == INFINITY || v == DBL_MAX);
}

static int is_ninf(const struct conf *c, double v)
{
    return conf_has(c, CONF_CAP_EXACT_INF) ? (isinf(v) && v < 0)
                                           : (v == -INFINITY || v == -DBL_MAX);
}

static struct mlflow_metric_list *history(struct conf *c, const char *run, const char *key)
{
    struct mlflow_metric_list *h = NULL;
    CONF_OK(mlflow_client_get_metric_history(c->client, run, key, &h));
    assert_non_null(h);
    return h;
}

void conf_test_metric_special_values(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "special", 0, id);
    CONF_OK(mlflow_client_log_metric(c->client, id, "nan", NAN, 1000, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "pinf", INFINITY, 1000, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "ninf", -INFINITY, 1000, 0));
    /* A NaN at a later step is the latest value. */
    CONF_OK(mlflow_client_log_metric(c->client, id, "then_nan", 1.0, 1000, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "then_nan", NAN, 1000, 1));

    struct mlflow_run *r = conf_get_run(c, id);
    assert_true(isnan(mlflow_run_metric(r, "nan")->value));
    assert_true(is_pinf(c, mlflow_run_metric(r, "pinf")->value));
    assert_true(is_ninf(c, mlflow_run_metric(r, "ninf")->value));
    assert_true(isnan(mlflow_run_metric(r, "then_nan")->value));
    assert_int_equal(mlflow_run_metric(r, "then_nan")->step, 1);
    mlflow_run_free(r);

    struct mlflow_metric_list *h = history(c, id, "nan");
    assert_int_equal(h->count, 1);
    assert_true(isnan(h->metrics[0].value));
    mlflow_metric_list_free(h);
    h = history(c, id, "pinf");
    assert_int_equal(h->count, 1);
    assert_true(is_pinf(c, h->metrics[0].value));
    mlflow_metric_list_free(h);
    h = history(c, id, "ninf");
    assert_int_equal(h->count, 1);
    assert_true(is_ninf(c, h->metrics[0].value));
    mlflow_metric_list_free(h);
    h = history(c, id, "then_nan");
    assert_int_equal(h->count, 2);
    assert_true(h->metrics[0].value == 1.0);
    assert_true(isnan(h->metrics[1].value));
    mlflow_metric_list_free(h);
}

void conf_test_metric_negative_step(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "negative", 0, id);
    CONF_OK(mlflow_client_log_metric(c->client, id, "m", 0.5, 1000, -7));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(mlflow_run_metric(r, "m")->step, -7);
    mlflow_run_free(r);
    struct mlflow_metric_list *h = history(c, id, "m");
    assert_int_equal(h->count, 1);
    assert_int_equal(h->metrics[0].step, -7);
    assert_true(h->metrics[0].value == 0.5);
    mlflow_metric_list_free(h);
}

void conf_test_metric_history_in_order(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "history", 0, id);
    /* Steps out of order; timestamps rise, so logging order is unambiguous. */
    static const struct point p[] = {{0.9, 1000, 5}, {0.7, 1001, 3}, {0.5, 1002, 9},
                                     {0.4, 1003, -1}, {0.3, 1004, 3}, {0.1, 1005, 10}};
    const size_t n = sizeof p / sizeof p[0];
    log_points(c, id, "loss", p, n);
    CONF_OK(mlflow_client_log_metric(c->client, id, "other", 42, 1000, 0));

    struct mlflow_metric_list *h = history(c, id, "loss");
    assert_int_equal(h->count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(h->metrics[i].key, "loss");
        assert_true(h->metrics[i].value == p[i].value);
        assert_int_equal(h->metrics[i].timestamp, p[i].timestamp);
        assert_int_equal(h->metrics[i].step, p[i].step);
    }
    assert_null(h->next_page_token);
    mlflow_metric_list_free(h);

    /* A key never logged has an empty history. */
    h = history(c, id, "never");
    assert_int_equal(h->count, 0);
    mlflow_metric_list_free(h);

    /* timestamp 0 means now. */
    int64_t t0 = conf_now_ms();
    CONF_OK(mlflow_client_log_metric(c->client, id, "now", 1.0, 0, 0));
    int64_t t1 = conf_now_ms();
    h = history(c, id, "now");
    assert_int_equal(h->count, 1);
    assert_true(h->metrics[0].timestamp >= t0 - 1000 && h->metrics[0].timestamp <= t1 + 1000);
    mlflow_metric_list_free(h);
}

void conf_test_metric_negative_timestamp(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "timestamps", 0, id);
    CONF_ERR(mlflow_client_log_metric(c->client, id, "m", 1.0, -1, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    const struct mlflow_metric m = {"m", 1.0, -5, 0};
    CONF_ERR(mlflow_client_log_batch(c->client, id, &m, 1, NULL, 0, NULL, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(r->data.n_metrics, 0);
    mlflow_run_free(r);
}

void conf_test_metric_exact_round_trip(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "exact", 0, id);
    const double v[] = {
        1e300, 5e-324, -1e300, 0.1 + 0.2, 1.0 / 3.0, 123456789.123, 9007199254740992.0,
        2.2250738585072014e-308, DBL_MAX, -2.5e-310, 0.1, 1e16, 1e-05, 3.0, -7.0,
        3.141592653589793, 1e22, 0.0,
    };
    const size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++)
        CONF_OK(mlflow_client_log_metric(c->client, id, "x", v[i], 1000 + (int64_t)i,
                                         (int64_t)i));

    struct mlflow_metric_list *h = history(c, id, "x");
    assert_int_equal(h->count, n);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&h->metrics[i].value, &v[i], sizeof(double)) != 0)
            print_error("point %zu: wrote %.17g, read %.17g\n", i, v[i], h->metrics[i].value);
        assert_memory_equal(&h->metrics[i].value, &v[i], sizeof(double));
    }
    mlflow_metric_list_free(h);

    /* The latest value goes through the same path. */
    CONF_OK(mlflow_client_log_metric(c->client, id, "tiny", 5e-324, 1000, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "huge", 1e300, 1000, 0));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_true(mlflow_run_metric(r, "tiny")->value == 5e-324);
    assert_true(mlflow_run_metric(r, "huge")->value == 1e300);
    assert_true(mlflow_run_metric(r, "x")->value == 0.0);
    mlflow_run_free(r);
}

/* ---- tags ---- */

void conf_test_tag_overwrite(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "tags", 0, id);
    CONF_OK(mlflow_client_set_tag(c->client, id, "t", "v1"));
    CONF_OK(mlflow_client_set_tag(c->client, id, "t", "v2"));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_string_equal(mlflow_run_tag(r, "t"), "v2");
    mlflow_run_free(r);

    const struct mlflow_kv t = {"t", "v3"};
    CONF_OK(mlflow_client_log_batch(c->client, id, NULL, 0, NULL, 0, &t, 1));
    const char *multi = "line 1\nline 2\n\n\xe2\x9c\x93 done";
    CONF_OK(mlflow_client_set_tag(c->client, id, "mlflow.note.content", multi));
    CONF_OK(mlflow_client_set_tag(c->client, id, "empty", ""));
    r = conf_get_run(c, id);
    assert_string_equal(mlflow_run_tag(r, "t"), "v3");
    assert_string_equal(mlflow_run_tag(r, "mlflow.note.content"), multi);
    assert_string_equal(mlflow_run_tag(r, "empty"), "");
    /* t, the note, empty and mlflow.runName. */
    assert_int_equal(r->data.n_tags, 4);
    mlflow_run_free(r);
}

void conf_test_tag_delete(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "tags", 0, id);
    CONF_OK(mlflow_client_set_tag(c->client, id, "a", "1"));
    CONF_OK(mlflow_client_set_tag(c->client, id, "b/c", "2"));
    CONF_OK(mlflow_client_delete_tag(c->client, id, "a"));
    CONF_OK(mlflow_client_delete_tag(c->client, id, "b/c"));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_null(mlflow_run_tag(r, "a"));
    assert_null(mlflow_run_tag(r, "b/c"));
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "tags");
    mlflow_run_free(r);
    /* A deleted tag can be set again. */
    CONF_OK(mlflow_client_set_tag(c->client, id, "a", "again"));
    r = conf_get_run(c, id);
    assert_string_equal(mlflow_run_tag(r, "a"), "again");
    mlflow_run_free(r);
}

void conf_test_tag_delete_missing(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "tags", 0, id);
    CONF_ERR(mlflow_client_delete_tag(c->client, id, "never-set"), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_OK(mlflow_client_set_tag(c->client, id, "once", "1"));
    CONF_OK(mlflow_client_delete_tag(c->client, id, "once"));
    CONF_ERR(mlflow_client_delete_tag(c->client, id, "once"), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_delete_tag(c->client, id, "a//b"), MLFLOW_INVALID_PARAMETER_VALUE);
}

void conf_test_tag_run_name_renames(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "first", 0, id);
    CONF_OK(mlflow_client_set_tag(c->client, id, "mlflow.runName", "second"));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_string_equal(r->info.run_name, "second");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "second");
    mlflow_run_free(r);

    const struct mlflow_kv t = {"mlflow.runName", "third"};
    CONF_OK(mlflow_client_log_batch(c->client, id, NULL, 0, NULL, 0, &t, 1));
    r = conf_get_run(c, id);
    assert_string_equal(r->info.run_name, "third");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "third");
    /* Renaming changes nothing else. */
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_string_equal(r->info.lifecycle_stage, "active");
    mlflow_run_free(r);
}
