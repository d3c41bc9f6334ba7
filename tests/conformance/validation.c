/*
 * validation.c - conformance: MLflow's input rules (spec 3): key names and
 * their length, and log_batch limits. Rejected input must leave the run as
 * it was.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_untouched(struct conf *c, const char *run)
{
    struct mlflow_run *r = conf_get_run(c, run);
    assert_int_equal(r->data.n_params, 0);
    assert_int_equal(r->data.n_metrics, 0);
    assert_int_equal(r->data.n_tags, 1); /* mlflow.runName */
    mlflow_run_free(r);
}

/* One rejected key through every API that takes a key. */
static void check_bad_key(struct conf *c, const char *run, const char *exp, const char *key)
{
    const int bad = MLFLOW_INVALID_PARAMETER_VALUE;
    /* Empty keys have nothing to quote; every other message names the key. */
    int quote = key[0] != '\0';
    CONF_ERR(mlflow_client_log_param(c->client, run, key, "v"), bad);
    if (quote && !conf_error_mentions(key))
        print_error("log_param('%s'): message does not name the key: %s\n", key,
                    mlflow_last_error());
    assert_true(!quote || conf_error_mentions(key));
    CONF_ERR(mlflow_client_log_metric(c->client, run, key, 1.0, 1000, 0), bad);
    assert_true(!quote || conf_error_mentions(key));
    CONF_ERR(mlflow_client_set_tag(c->client, run, key, "v"), bad);
    assert_true(!quote || conf_error_mentions(key));
    CONF_ERR(mlflow_client_set_experiment_tag(c->client, exp, key, "v"), bad);
    assert_true(!quote || conf_error_mentions(key));
    const struct mlflow_metric m = {key, 1.0, 1000, 0};
    CONF_ERR(mlflow_client_log_batch(c->client, run, &m, 1, NULL, 0, NULL, 0), bad);
    const struct mlflow_kv kv = {key, "v"};
    CONF_ERR(mlflow_client_log_batch(c->client, run, NULL, 0, &kv, 1, NULL, 0), bad);
    CONF_ERR(mlflow_client_log_batch(c->client, run, NULL, 0, NULL, 0, &kv, 1), bad);
}

void conf_test_key_invalid_names(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], run[CONF_ID_MAX];
    conf_experiment(c, "keys", exp);
    conf_run(c, exp, "keys", 0, run);
    static const char *const bad[] = {
        "a//b", "/a", "../x", "a/", ".", "x$", "", "..", "a/./b", "./x", "a/..", "a/../b",
        "a\\b", "tab\tkey", "semi;colon", "star*", "q?", "new\nline",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_bad_key(c, run, exp, bad[i]);
    CONF_ERR(mlflow_client_log_param(c->client, run, NULL, "v"), MLFLOW_INVALID_PARAMETER_VALUE);
    check_untouched(c, run);
    struct mlflow_experiment *e = conf_get_experiment(c, exp);
    assert_int_equal(e->n_tags, 0);
    mlflow_experiment_free(e);

    /* One bad key spoils the whole batch: nothing of it is written. */
    const struct mlflow_metric m[] = {{"good", 1.0, 1000, 0}, {"bad$", 2.0, 1000, 0}};
    const struct mlflow_kv p[] = {{"good", "1"}};
    CONF_ERR(mlflow_client_log_batch(c->client, run, m, 2, p, 1, NULL, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    check_untouched(c, run);
}

void conf_test_key_valid_names(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], run[CONF_ID_MAX];
    conf_experiment(c, "keys", exp);
    conf_run(c, exp, "keys", 0, run);
    static const char *const good[] = {
        "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", /* ключ */
        "with space",
        "a.b",
        "a-b",
        "a/b/c",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e_x", /* 日本語_x */
        "UPPER_lower_09",
        ".hidden",
        "-leading-dash",
        "trailing space ",
        "x",
    };
    const size_t n = sizeof good / sizeof good[0];
    for (size_t i = 0; i < n; i++) {
        char value[32];
        snprintf(value, sizeof value, "v%zu", i);
        CONF_OK(mlflow_client_log_param(c->client, run, good[i], value));
        CONF_OK(mlflow_client_log_metric(c->client, run, good[i], (double)i, 1000, 0));
        CONF_OK(mlflow_client_set_tag(c->client, run, good[i], value));
        CONF_OK(mlflow_client_set_experiment_tag(c->client, exp, good[i], value));
    }
    struct mlflow_run *r = conf_get_run(c, run);
    struct mlflow_experiment *e = conf_get_experiment(c, exp);
    assert_int_equal(r->data.n_params, n);
    assert_int_equal(r->data.n_metrics, n);
    assert_int_equal(r->data.n_tags, n + 1);
    assert_int_equal(e->n_tags, n);
    for (size_t i = 0; i < n; i++) {
        char value[32];
        snprintf(value, sizeof value, "v%zu", i);
        const char *p = mlflow_run_param(r, good[i]);
        if (!p)
            print_error("param '%s' not read back\n", good[i]);
        assert_non_null(p);
        assert_string_equal(p, value);
        assert_string_equal(mlflow_run_tag(r, good[i]), value);
        assert_non_null(mlflow_run_metric(r, good[i]));
        assert_true(mlflow_run_metric(r, good[i])->value == (double)i);
        assert_string_equal(mlflow_experiment_tag(e, good[i]), value);
    }
    mlflow_experiment_free(e);
    mlflow_run_free(r);
    struct mlflow_metric_list *h = NULL;
    CONF_OK(mlflow_client_get_metric_history(c->client, run, "a/b/c", &h));
    assert_int_equal(h->count, 1);
    assert_string_equal(h->metrics[0].key, "a/b/c");
    mlflow_metric_list_free(h);
}

void conf_test_key_length_limit(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], run[CONF_ID_MAX];
    conf_experiment(c, "keys", exp);
    conf_run(c, exp, "keys", 0, run);
    char *k250 = conf_repeat("k", 250);
    char *k251 = conf_repeat("k", 251);
    CONF_OK(mlflow_client_log_param(c->client, run, k250, "v"));
    CONF_OK(mlflow_client_log_metric(c->client, run, k250, 1.0, 1000, 0));
    CONF_OK(mlflow_client_set_tag(c->client, run, k250, "v"));
    CONF_OK(mlflow_client_set_experiment_tag(c->client, exp, k250, "v"));
    const int bad = MLFLOW_INVALID_PARAMETER_VALUE;
    CONF_ERR(mlflow_client_log_param(c->client, run, k251, "v"), bad);
    CONF_ERR(mlflow_client_log_metric(c->client, run, k251, 1.0, 1000, 0), bad);
    CONF_ERR(mlflow_client_set_tag(c->client, run, k251, "v"), bad);
    CONF_ERR(mlflow_client_set_experiment_tag(c->client, exp, k251, "v"), bad);

    struct mlflow_run *r = conf_get_run(c, run);
    assert_string_equal(mlflow_run_param(r, k250), "v");
    assert_non_null(mlflow_run_metric(r, k250));
    assert_string_equal(mlflow_run_tag(r, k250), "v");
    assert_int_equal(r->data.n_params, 1);
    assert_int_equal(r->data.n_metrics, 1);
    assert_int_equal(r->data.n_tags, 2);
    mlflow_run_free(r);
    free(k250);
    free(k251);
}

/* Key names for bulk batches: "<prefix>NNNN" in a caller-owned table. */
struct keys {
    char (*names)[32];
    size_t n;
};

static struct keys make_keys(const char *prefix, size_t n)
{
    struct keys k = {calloc(n, sizeof *k.names), n};
    assert_non_null(k.names);
    for (size_t i = 0; i < n; i++)
        snprintf(k.names[i], sizeof k.names[i], "%s%04zu", prefix, i);
    return k;
}

static struct mlflow_kv *make_kvs(const struct keys *k)
{
    struct mlflow_kv *kv = calloc(k->n, sizeof *kv);
    assert_non_null(kv);
    for (size_t i = 0; i < k->n; i++)
        kv[i] = (struct mlflow_kv){k->names[i], k->names[i]};
    return kv;
}

static struct mlflow_metric *make_points(const char *key, size_t n)
{
    struct mlflow_metric *m = calloc(n, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = (struct mlflow_metric){key, (double)i * 0.5, 1000 + (int64_t)i, (int64_t)i};
    return m;
}

/* MLflow's client (TrackingServiceClient.log_batch) splits batches over the
 * per-request limits of 1000 metrics, 100 params, 100 tags and 1000
 * entities into several requests; the limits themselves are the server's
 * to enforce per request (tests/http). Everything must land. */
void conf_test_batch_limits(void **state)
{
    struct conf *c = *state;
    char run[CONF_ID_MAX];
    conf_run(c, "0", "batch", 0, run);

    struct mlflow_metric *m2500 = make_points("m", 2500);
    struct keys pk = make_keys("p", 250), tk = make_keys("t", 101);
    struct mlflow_kv *p250 = make_kvs(&pk), *t101 = make_kvs(&tk);

    /* A duplicate param key anywhere fails the whole call before any write,
     * even when it would fall into another request. */
    struct mlflow_kv dup[150];
    memcpy(dup, p250, sizeof dup);
    dup[149].key = dup[0].key;
    dup[149].value = "other";
    CONF_ERR(mlflow_client_log_batch(c->client, run, m2500, 10, dup, 150, NULL, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    assert_true(conf_error_mentions(dup[0].key));
    check_untouched(c, run);

    CONF_OK(mlflow_client_log_batch(c->client, run, m2500, 2500, p250, 250, t101, 101));
    struct mlflow_metric_list *h = NULL;
    CONF_OK(mlflow_client_get_metric_history(c->client, run, "m", &h));
    assert_int_equal(h->count, 2500);
    for (size_t i = 0; i < h->count; i++)
        assert_int_equal(h->metrics[i].step, (int64_t)i); /* order kept across requests */
    mlflow_metric_list_free(h);
    struct mlflow_run *r = conf_get_run(c, run);
    assert_int_equal(r->data.n_params, 250);
    assert_int_equal(r->data.n_tags, 102); /* + mlflow.runName */
    assert_int_equal(r->data.n_metrics, 1);
    assert_int_equal(mlflow_run_metric(r, "m")->step, 2499);
    assert_string_equal(mlflow_run_param(r, "p0249"), "p0249");
    assert_string_equal(mlflow_run_tag(r, "t0100"), "t0100");
    mlflow_run_free(r);

    /* An empty batch is a no-op. */
    CONF_OK(mlflow_client_log_batch(c->client, run, NULL, 0, NULL, 0, NULL, 0));

    free(m2500);
    free(p250);
    free(t101);
    free(pk.names);
    free(tk.names);
}

void conf_test_batch_duplicate_param_key(void **state)
{
    struct conf *c = *state;
    char run[CONF_ID_MAX];
    conf_run(c, "0", "batch", 0, run);
    const struct mlflow_kv p[] = {{"other", "x"}, {"dup", "1"}, {"dup", "2"}};
    CONF_ERR(mlflow_client_log_batch(c->client, run, NULL, 0, p, 3, NULL, 0),
             MLFLOW_INVALID_PARAMETER_VALUE);
    assert_true(conf_error_mentions("dup"));
    check_untouched(c, run);
}

void conf_test_batch_mixed(void **state)
{
    struct conf *c = *state;
    char run[CONF_ID_MAX];
    conf_run(c, "0", "batch", 0, run);
    const struct mlflow_metric m[] = {
        {"loss", 0.9, 1000, 0}, {"loss", 0.5, 1001, 1}, {"acc", 0.7, 1001, 1},
        {"loss", 0.4, 1002, 2},
    };
    const struct mlflow_kv p[] = {{"lr", "0.1"}, {"layers", "3"}};
    const struct mlflow_kv t[] = {{"stage", "dev"}, {"mlflow.note.content", "notes"}};
    CONF_OK(mlflow_client_log_batch(c->client, run, m, 4, p, 2, t, 2));

    struct mlflow_run *r = conf_get_run(c, run);
    assert_int_equal(r->data.n_metrics, 2);
    assert_true(mlflow_run_metric(r, "loss")->value == 0.4);
    assert_int_equal(mlflow_run_metric(r, "loss")->step, 2);
    assert_true(mlflow_run_metric(r, "acc")->value == 0.7);
    assert_int_equal(r->data.n_params, 2);
    assert_string_equal(mlflow_run_param(r, "lr"), "0.1");
    assert_string_equal(mlflow_run_param(r, "layers"), "3");
    assert_int_equal(r->data.n_tags, 3);
    assert_string_equal(mlflow_run_tag(r, "stage"), "dev");
    assert_string_equal(mlflow_run_tag(r, "mlflow.note.content"), "notes");
    mlflow_run_free(r);

    struct mlflow_metric_list *h = NULL;
    CONF_OK(mlflow_client_get_metric_history(c->client, run, "loss", &h));
    assert_int_equal(h->count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(h->metrics[i].step, (int64_t)i);
    mlflow_metric_list_free(h);
}
