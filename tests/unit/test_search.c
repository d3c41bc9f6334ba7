/*
 * test_search.c - MLflow's search language: filter and order_by parsing,
 * LIKE, evaluation on hand-built runs and experiments, and sort order.
 *
 * Expected answers are written out by hand from MLflow 2.12.2's behaviour
 * (its SearchUtils run on the same inputs), not computed by the code under
 * test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "search.h"

/* ---- helpers ------------------------------------------------------------ */

static struct mlflow__filter *parse_runs_ok(const char *s)
{
    struct mlflow__filter *f = NULL;
    struct mlflow_error err = {0, ""};
    int rc = mlflow__filter_parse_runs(s, &f, &err);
    if (rc)
        print_error("filter %s: %s\n", s, err.message);
    assert_int_equal(rc, MLFLOW_OK);
    assert_non_null(f);
    return f;
}

static struct mlflow__filter *parse_exps_ok(const char *s)
{
    struct mlflow__filter *f = NULL;
    struct mlflow_error err = {0, ""};
    int rc = mlflow__filter_parse_experiments(s, &f, &err);
    if (rc)
        print_error("filter %s: %s\n", s, err.message);
    assert_int_equal(rc, MLFLOW_OK);
    assert_non_null(f);
    return f;
}

/* The parse fails with INVALID_PARAMETER_VALUE and the message names `token`. */
static void expect_filter_error(bool experiments, const char *s, const char *token)
{
    struct mlflow__filter *f = (void *)1;
    struct mlflow_error err = {0, ""};
    int rc = experiments ? mlflow__filter_parse_experiments(s, &f, &err)
                         : mlflow__filter_parse_runs(s, &f, &err);
    if (rc != MLFLOW_INVALID_PARAMETER_VALUE || !strstr(err.message, token))
        print_error("filter [%s]: rc %d, message [%s], wanted token [%s]\n", s, rc, err.message,
                    token);
    assert_int_equal(rc, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(err.code, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, token));
    assert_null(f);
}

static void expect_order_error(bool experiments, const char *s, const char *token)
{
    struct mlflow__orders *o = (void *)1;
    struct mlflow_error err = {0, ""};
    const char *list[] = {"metrics.ok", s};
    int rc = experiments ? mlflow__orders_parse_experiments(list + 1, 1, &o, &err)
                         : mlflow__orders_parse_runs(list, 2, &o, &err);
    if (rc != MLFLOW_INVALID_PARAMETER_VALUE || !strstr(err.message, token))
        print_error("order_by [%s]: rc %d, message [%s], wanted token [%s]\n", s ? s : "(null)",
                    rc, err.message, token);
    assert_int_equal(rc, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(err.code, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, token));
    assert_null(o);
}

/* A run built on the stack: a few metrics, params and tags. */
struct trun {
    struct mlflow_run r;
    struct mlflow_metric m[4];
    struct mlflow_kv p[4];
    struct mlflow_kv t[4];
};

static void trun_init(struct trun *t, const char *id, int64_t start)
{
    memset(t, 0, sizeof *t);
    t->r.info.run_id = id;
    t->r.info.run_name = "run";
    t->r.info.experiment_id = "0";
    t->r.info.user_id = "alice";
    t->r.info.artifact_uri = "file:///tmp/mlruns/0/x/artifacts";
    t->r.info.lifecycle_stage = "active";
    t->r.info.status = MLFLOW_RUN_STATUS_FINISHED;
    t->r.info.start_time = start;
    t->r.info.end_time = MLFLOW_TIME_UNSET;
    t->r.data.metrics = t->m;
    t->r.data.params = t->p;
    t->r.data.tags = t->t;
}

static void trun_metric(struct trun *t, const char *key, double v)
{
    t->m[t->r.data.n_metrics++] = (struct mlflow_metric){key, v, 1, 0};
}

static void trun_param(struct trun *t, const char *key, const char *v)
{
    t->p[t->r.data.n_params++] = (struct mlflow_kv){key, v};
}

static void trun_tag(struct trun *t, const char *key, const char *v)
{
    t->t[t->r.data.n_tags++] = (struct mlflow_kv){key, v};
}

static bool run_matches(const char *filter, const struct trun *t)
{
    struct mlflow__filter *f = parse_runs_ok(filter);
    bool m = mlflow__run_matches(f, &t->r);
    mlflow__filter_free(f);
    return m;
}

/* Which of runs[] match, as their ids joined by ','. */
static void matching(const char *filter, struct trun *runs, size_t n, char *out, size_t size)
{
    struct mlflow__filter *f = parse_runs_ok(filter);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (mlflow__run_matches(f, &runs[i].r)) {
            if (out[0])
                strncat(out, ",", size - strlen(out) - 1);
            strncat(out, runs[i].r.info.run_id, size - strlen(out) - 1);
        }
    }
    mlflow__filter_free(f);
}

#define ASSERT_MATCHING(filter, runs, expected)                                           \
    do {                                                                                  \
        char got_[256];                                                                   \
        matching(filter, runs, MLFLOW_ARRAY_LEN(runs), got_, sizeof got_);                \
        if (strcmp(got_, expected) != 0)                                                  \
            print_error("filter [%s]: got [%s], want [%s]\n", filter, got_, expected);    \
        assert_string_equal(got_, expected);                                              \
    } while (0)

/* Sorts runs[] (insertion sort: any correct sort gives the same answer for
 * a total order) under order_by and returns the ids joined by ','. */
static void sorted_ids(const char *const *order_by, size_t n_order, struct trun *runs, size_t n,
                       char *out, size_t size)
{
    struct mlflow__orders *o = NULL;
    struct mlflow_error err = {0, ""};
    int rc = mlflow__orders_parse_runs(order_by, n_order, &o, &err);
    if (rc)
        print_error("%s\n", err.message);
    assert_int_equal(rc, MLFLOW_OK);
    const struct mlflow_run *v[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        const struct mlflow_run *x = &runs[i].r;
        size_t j = i;
        while (j > 0 && mlflow__run_compare(o, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    /* A total order: every pair compares consistently both ways. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int a = mlflow__run_compare(o, &runs[i].r, &runs[j].r);
            int b = mlflow__run_compare(o, &runs[j].r, &runs[i].r);
            assert_true((a > 0) == (b < 0));
            assert_true((a == 0) == (i == j));
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, v[i]->info.run_id, size - strlen(out) - 1);
    }
    mlflow__orders_free(o);
}

#define ASSERT_SORTED(runs, expected, ...)                                                \
    do {                                                                                  \
        const char *ob_[] = {__VA_ARGS__};                                                \
        char got_[256];                                                                   \
        size_t nob_ = MLFLOW_ARRAY_LEN(ob_);                                              \
        if (nob_ == 1 && ob_[0] == NULL)                                                  \
            nob_ = 0;                                                                     \
        sorted_ids(ob_, nob_, runs, MLFLOW_ARRAY_LEN(runs), got_, sizeof got_);           \
        if (strcmp(got_, expected) != 0)                                                  \
            print_error("order_by [%s]: got [%s], want [%s]\n", ob_[0] ? ob_[0] : "",      \
                        got_, expected);                                                  \
        assert_string_equal(got_, expected);                                              \
    } while (0)

/* ---- filter parsing ----------------------------------------------------- */

static void test_filter_empty(void **state)
{
    (void)state;
    struct mlflow__filter *f = parse_runs_ok(NULL);
    assert_int_equal(f->n, 0);
    mlflow__filter_free(f);
    f = parse_runs_ok("");
    assert_int_equal(f->n, 0);
    mlflow__filter_free(f);
    /* MLflow refuses a filter of only whitespace (sqlparse finds no statement). */
    expect_filter_error(false, "   ", "Invalid filter '   '");
    /* A lone AND has no comparison in it: everything matches. */
    f = parse_runs_ok("AND");
    assert_int_equal(f->n, 0);
    mlflow__filter_free(f);
    mlflow__filter_free(NULL);
    mlflow__orders_free(NULL);
}

static void test_filter_metric(void **state)
{
    (void)state;
    struct mlflow__filter *f = parse_runs_ok("metrics.acc > 0.5");
    assert_int_equal(f->n, 1);
    assert_int_equal(f->conds[0].ident, MLFLOW__ID_METRIC);
    assert_string_equal(f->conds[0].key, "acc");
    assert_int_equal(f->conds[0].cmp, MLFLOW__CMP_GT);
    assert_true(f->conds[0].numeric);
    assert_true(f->conds[0].num == 0.5);
    assert_null(f->conds[0].str);
    mlflow__filter_free(f);

    static const struct {
        const char *filter;
        int cmp;
        double num;
    } cases[] = {
        {"metrics.a = -1", MLFLOW__CMP_EQ, -1.0},
        {"metrics.a != 1e5", MLFLOW__CMP_NE, 1e5},
        {"metrics.a>=.5", MLFLOW__CMP_GE, 0.5},
        {"metrics.a < 1.", MLFLOW__CMP_LT, 1.0},
        {"metrics.a <= -1.5e-3", MLFLOW__CMP_LE, -1.5e-3},
        {"metrics.a = 00012", MLFLOW__CMP_EQ, 12.0},
        {"metric.a = 1E2", MLFLOW__CMP_EQ, 100.0},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        f = parse_runs_ok(cases[i].filter);
        assert_int_equal(f->n, 1);
        assert_int_equal(f->conds[0].ident, MLFLOW__ID_METRIC);
        assert_string_equal(f->conds[0].key, "a");
        assert_int_equal(f->conds[0].cmp, cases[i].cmp);
        assert_true(f->conds[0].num == cases[i].num);
        mlflow__filter_free(f);
    }
}

static void test_filter_identifiers(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        int ident;
        const char *key;
    } cases[] = {
        {"metric.a = 1", MLFLOW__ID_METRIC, "a"},
        {"metrics.`f1-score` > 1", MLFLOW__ID_METRIC, "f1-score"},
        {"metrics.\"f1-score\" > 1", MLFLOW__ID_METRIC, "f1-score"},
        {"metrics.1abc > 1", MLFLOW__ID_METRIC, "1abc"},
        {"`metrics`.a > 1", MLFLOW__ID_METRIC, "a"},
        {"params.a = 'x'", MLFLOW__ID_PARAM, "a"},
        {"param.a = 'x'", MLFLOW__ID_PARAM, "a"},
        {"parameter.a = 'x'", MLFLOW__ID_PARAM, "a"},
        {"parameters.a = 'x'", MLFLOW__ID_PARAM, "a"},
        {"tag.a = 'x'", MLFLOW__ID_TAG, "a"},
        {"tags.\"my key\" = 'x'", MLFLOW__ID_TAG, "my key"},
        {"tags.`my key` = 'x'", MLFLOW__ID_TAG, "my key"},
        {"tags.a.b = 'x'", MLFLOW__ID_TAG, "a.b"},
        {"tags.mlflow.runName = 'x'", MLFLOW__ID_TAG, "mlflow.runName"},
        {"`tags`.`a.b` = 'x'", MLFLOW__ID_TAG, "a.b"},
        {"tags.`a``b` = 'x'", MLFLOW__ID_TAG, "a``b"},
        {"tags.\xc3\xa9 = 'x'", MLFLOW__ID_TAG, "\xc3\xa9"},
        {"attribute.status = 'x'", MLFLOW__ID_ATTR, "status"},
        {"attributes.status = 'x'", MLFLOW__ID_ATTR, "status"},
        {"attr.status = 'x'", MLFLOW__ID_ATTR, "status"},
        {"run.status = 'x'", MLFLOW__ID_ATTR, "status"},
        {"status = 'x'", MLFLOW__ID_ATTR, "status"},
        {"run_id = 'x'", MLFLOW__ID_ATTR, "run_id"},
        {"user_id = 'x'", MLFLOW__ID_ATTR, "user_id"},
        {"artifact_uri = 'x'", MLFLOW__ID_ATTR, "artifact_uri"},
        {"run_name = 'x'", MLFLOW__ID_ATTR, "run_name"},
        {"\"run name\" = 'x'", MLFLOW__ID_ATTR, "run_name"},
        {"`Run name` = 'x'", MLFLOW__ID_ATTR, "run_name"},
        {"`Run Name` = 'x'", MLFLOW__ID_ATTR, "run_name"},
        {"attribute.\"Run name\" = 'x'", MLFLOW__ID_ATTR, "run_name"},
        {"start_time > 5", MLFLOW__ID_ATTR, "start_time"},
        {"end_time >= 0", MLFLOW__ID_ATTR, "end_time"},
        {"created > 5", MLFLOW__ID_ATTR, "start_time"},
        {"Created > 5", MLFLOW__ID_ATTR, "start_time"},
        {"dataset.name = 'x'", MLFLOW__ID_DATASET, "name"},
        {"datasets.digest = 'x'", MLFLOW__ID_DATASET, "digest"},
        {"datasets.context = 'x'", MLFLOW__ID_DATASET, "context"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        struct mlflow__filter *f = parse_runs_ok(cases[i].filter);
        assert_int_equal(f->n, 1);
        if (f->conds[0].ident != cases[i].ident || strcmp(f->conds[0].key, cases[i].key) != 0)
            print_error("%s\n", cases[i].filter);
        assert_int_equal(f->conds[0].ident, cases[i].ident);
        assert_string_equal(f->conds[0].key, cases[i].key);
        bool numeric = cases[i].ident == MLFLOW__ID_METRIC ||
                       strstr(cases[i].key, "_time") != NULL;
        assert_int_equal(f->conds[0].numeric, numeric);
        mlflow__filter_free(f);
    }
}

static void test_filter_strings_and_comparators(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        int cmp;
        const char *value;
    } cases[] = {
        {"tags.x = \"value\"", MLFLOW__CMP_EQ, "value"},
        {"tags.x = ''", MLFLOW__CMP_EQ, ""},
        {"tags.x = \"\"", MLFLOW__CMP_EQ, ""},
        /* Verbatim between the quotes, as MLflow keeps it. */
        {"tags.x = 'it''s'", MLFLOW__CMP_EQ, "it''s"},
        {"tags.x = 'a\\'b'", MLFLOW__CMP_EQ, "a\\'b"},
        {"tags.x = 'C:\\'", MLFLOW__CMP_EQ, "C:\\"},
        {"tags.x = 'a AND b'", MLFLOW__CMP_EQ, "a AND b"},
        {"tags.x != 'x'", MLFLOW__CMP_NE, "x"},
        {"tags.x !='x'", MLFLOW__CMP_NE, "x"},
        {"params.x LIKE '%a_'", MLFLOW__CMP_LIKE, "%a_"},
        {"params.x like 'a'", MLFLOW__CMP_LIKE, "a"},
        {"params.x ILIKE 'X%'", MLFLOW__CMP_ILIKE, "X%"},
        {"params.x iLike 'X%'", MLFLOW__CMP_ILIKE, "X%"},
        {"tags.x = '\xc3\xbc'", MLFLOW__CMP_EQ, "\xc3\xbc"},
        {"status = 'FINISHED'", MLFLOW__CMP_EQ, "FINISHED"},
        {"run_name LIKE 'a%'", MLFLOW__CMP_LIKE, "a%"},
        {"dataset.name ILIKE 'a%'", MLFLOW__CMP_ILIKE, "a%"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        struct mlflow__filter *f = parse_runs_ok(cases[i].filter);
        assert_int_equal(f->n, 1);
        assert_int_equal(f->conds[0].cmp, cases[i].cmp);
        assert_false(f->conds[0].numeric);
        assert_non_null(f->conds[0].str);
        assert_string_equal(f->conds[0].str, cases[i].value);
        mlflow__filter_free(f);
    }
}

static void test_filter_in_lists(void **state)
{
    (void)state;
    /* Values with uppercase letters, or no letters at all, are dropped
     * (Python's str.islower()), as MLflow does for run ids. */
    struct mlflow__filter *f = parse_runs_ok("run_id IN ('abc', 'DEF', '123', 'a1')");
    assert_int_equal(f->n, 1);
    assert_int_equal(f->conds[0].ident, MLFLOW__ID_ATTR);
    assert_string_equal(f->conds[0].key, "run_id");
    assert_int_equal(f->conds[0].cmp, MLFLOW__CMP_IN);
    assert_int_equal(f->conds[0].n_list, 2);
    assert_string_equal(f->conds[0].list[0], "abc");
    assert_string_equal(f->conds[0].list[1], "a1");
    mlflow__filter_free(f);

    static const struct {
        const char *filter;
        int cmp;
        size_t n;
    } cases[] = {
        {"run_id NOT IN ('abc')", MLFLOW__CMP_NOT_IN, 1},
        {"run_id in ('abc')", MLFLOW__CMP_IN, 1},
        {"run_id not in ('abc')", MLFLOW__CMP_NOT_IN, 1},
        {"run_id NOT  IN ('a')", MLFLOW__CMP_NOT_IN, 1},
        {"run_id IN('a','b')", MLFLOW__CMP_IN, 2},
        {"run_id IN ( 'a' , 'b' )", MLFLOW__CMP_IN, 2},
        {"run_id IN ('ABC')", MLFLOW__CMP_IN, 0},
        {"dataset.digest IN ('a')", MLFLOW__CMP_IN, 1},
        {"dataset.name NOT IN ('Ab', 'cd')", MLFLOW__CMP_NOT_IN, 1},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        f = parse_runs_ok(cases[i].filter);
        assert_int_equal(f->n, 1);
        assert_int_equal(f->conds[0].cmp, cases[i].cmp);
        assert_int_equal(f->conds[0].n_list, cases[i].n);
        mlflow__filter_free(f);
    }
}

static void test_filter_and(void **state)
{
    (void)state;
    struct mlflow__filter *f =
        parse_runs_ok("metrics.a > 1 and params.p = 'x' AND tags.t LIKE 'y%'\tAND\trun_id IN "
                      "('r1') AND created < 10");
    assert_int_equal(f->n, 5);
    assert_int_equal(f->conds[0].ident, MLFLOW__ID_METRIC);
    assert_int_equal(f->conds[1].ident, MLFLOW__ID_PARAM);
    assert_string_equal(f->conds[1].str, "x");
    assert_int_equal(f->conds[2].ident, MLFLOW__ID_TAG);
    assert_int_equal(f->conds[2].cmp, MLFLOW__CMP_LIKE);
    assert_int_equal(f->conds[3].cmp, MLFLOW__CMP_IN);
    assert_string_equal(f->conds[4].key, "start_time");
    assert_int_equal(f->conds[4].cmp, MLFLOW__CMP_LT);
    mlflow__filter_free(f);

    /* MLflow's tokenizer lets stray ANDs through, and a string can touch it. */
    static const char *const lenient[] = {
        "metrics.a = 1 AND",
        "AND metrics.a = 1",
        "metrics.a = 1 AND AND metrics.b = 2",
        "tags.a = 'x'AND tags.b = 'y'",
        "metrics.a = 1 metrics.b = 2",
    };
    static const size_t counts[] = {1, 1, 2, 2, 2};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(lenient); i++) {
        f = parse_runs_ok(lenient[i]);
        assert_int_equal(f->n, counts[i]);
        mlflow__filter_free(f);
    }
}

static void test_filter_errors(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        const char *token;
    } cases[] = {
        /* statements and clauses */
        {"metrics.a = 1 OR metrics.b = 2", "'OR'"},
        {"tags.a = 'x' AND OR tags.b = 'y'", "'OR'"},
        {"tags.a = 'x'  or tags.b = 'y'", "'or'"},
        {"NOT metrics.a > 1", "'NOT'"},
        {"(metrics.a = 1)", "'(metrics.a = 1)'"},
        {"metrics.a = 1 AND ()", "'()'"},
        {"metrics.a = 1; metrics.b = 2", "multiple expression 'metrics.a = 1; metrics.b = 2'"},
        {"metrics.a = 1;", "';'"},
        {"metrics.a >", "'>'"},
        {"metrics.a", "'metrics.a'"},
        {"metrics.a > 1 AND metrics.b", "'metrics.b'"},
        {"metrics.a IS NULL", "'IS'"},
        {"metrics.a BETWEEN 1 AND 2", "'BETWEEN'"},
        {"metrics.a > 1 -- comment", "'--'"},
        {"metrics.a > 1 /* c */", "'/*'"},
        {"metrics.f1-score > 1", "'metrics.f1-score'"},
        {"tags.a = 'x' = 'y'", "'='"},
        /* entity types and keys */
        {"foo.a = 'x'", "'foo'"},
        {"METRICS.a > 1", "'METRICS'"},
        {"\"tags\".a = 'x'", "'\"tags\"'"},
        {"`metrics.a` > 1", "'`metrics'"},
        {"name = 'x'", "'name'"},
        {"lifecycle_stage = 'active'", "'lifecycle_stage'"},
        {"Run_Name = 'x'", "'Run_Name'"},
        {"experiment_id = '0'", "'experiment_id'"},
        {"dataset.foo = 'x'", "'foo'"},
        /* values */
        {"metrics.acc > '1'", "Found '1'"},
        {"metrics.acc > nan", "Found nan"},
        {"metrics.acc > 1e+5", "Found 1e+5"},
        {"metrics.a = 0x1F", "0x1F"},
        {"metrics.a = 1.5.5", "1.5.5"},
        {"metrics.a = +1", "+1"},
        {"metrics.a > metrics.b", "Found metrics.b"},
        {"metrics.a IN ('x')", "Found ('x')"},
        {"tags.x = value", "string value value."},
        {"tags.a = tags.b", "string value tags.b."},
        {"tags.x = 5", "Got value 5"},
        {"params.x = ('a')", "Got value ('a')"},
        {"status = FINISHED", "string value FINISHED."},
        {"run_name = 5", "Got value 5"},
        {"start_time = '5'", "numeric attribute: start_time. Found '5'"},
        {"created > '5'", "numeric attribute: created. Found '5'"},
        {"start_time > 1.5", "1.5"},
        {"dataset.name = 5", "Got value 5"},
        {"tags.a = 'unterminated", "'unterminated"},
        /* lists */
        {"status IN ('a')", "'run_id'"},
        {"run_id IN ()", "empty list"},
        {"run_id IN (1, 2)", "(1, 2)"},
        {"run_id IN (\"abc\")", "(\"abc\")"},
        {"run_id IN ('a',)", "ill-formed"},
        {"run_id IN ('a' 'b')", "ill-formed"},
        {"run_id IN 'abc'", "'abc'"},
        {"run_id = ('abc')", "('abc')"},
        /* comparators (MLflow only finds these while evaluating) */
        {"metrics.acc == 1", "'=='"},
        {"metrics.acc <> 1", "'<>'"},
        {"metrics.acc LIKE 1", "'LIKE'"},
        {"params.a > 'x'", "'>'"},
        {"tags.a =! 'x'", "'=!'"},
        {"tags.a ~ 'x'", "'~'"},
        {"tags.a NOT LIKE 'x'", "'NOT LIKE'"},
        {"run_name < 'x'", "'<'"},
        {"start_time LIKE 5", "'LIKE'"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++)
        expect_filter_error(false, cases[i].filter, cases[i].token);
}

static void test_filter_experiments(void **state)
{
    (void)state;
    struct mlflow__filter *f = parse_exps_ok("name = 'x' AND tags.a = 'b'");
    assert_int_equal(f->n, 2);
    assert_int_equal(f->conds[0].ident, MLFLOW__ID_ATTR);
    assert_string_equal(f->conds[0].key, "name");
    assert_string_equal(f->conds[0].str, "x");
    assert_int_equal(f->conds[1].ident, MLFLOW__ID_TAG);
    assert_string_equal(f->conds[1].key, "a");
    mlflow__filter_free(f);

    f = parse_exps_ok("attribute.name like 'x%' and tag.t != 'v' and creation_time > 1.5 and "
                      "last_update_time <= 7");
    assert_int_equal(f->n, 4);
    assert_int_equal(f->conds[0].cmp, MLFLOW__CMP_LIKE);
    assert_int_equal(f->conds[1].ident, MLFLOW__ID_TAG);
    assert_int_equal(f->conds[1].cmp, MLFLOW__CMP_NE);
    assert_string_equal(f->conds[2].key, "creation_time");
    assert_true(f->conds[2].numeric);
    assert_true(f->conds[2].num == 1.5); /* experiments take float() */
    assert_string_equal(f->conds[3].key, "last_update_time");
    mlflow__filter_free(f);

    static const struct {
        const char *filter;
        const char *token;
    } cases[] = {
        {"attr.name = 'x'", "'attr'"},
        {"`tags`.a = 'x'", "'`tags`'"},
        {"metrics.a > 1", "'metrics'"},
        {"params.a = 'x'", "'params'"},
        {"experiment_id = '1'", "'experiment_id'"},
        {"lifecycle_stage = 'active'", "'lifecycle_stage'"},
        {"run_id = 'x'", "'run_id'"},
        {"name IN ('a')", "'run_id'"},
        {"name > 'a'", "'>'"},
        {"tags.a > 'a'", "'>'"},
        {"creation_time LIKE 5", "'LIKE'"},
        {"creation_time = '1'", "Found '1'"},
        {"name = x", "string value x."},
        {"name = 'x' OR name = 'y'", "'OR'"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++)
        expect_filter_error(true, cases[i].filter, cases[i].token);
}

/* ---- order_by parsing --------------------------------------------------- */

static void test_orders_runs(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ident;
        const char *key;
        bool ascending;
    } cases[] = {
        {"metrics.acc", MLFLOW__ID_METRIC, "acc", true},
        {"metrics.acc DESC", MLFLOW__ID_METRIC, "acc", false},
        {"metrics.acc desc", MLFLOW__ID_METRIC, "acc", false},
        {"metrics.acc Asc", MLFLOW__ID_METRIC, "acc", true},
        {"metrics.acc  DESC", MLFLOW__ID_METRIC, "acc", false},
        {"metrics.acc\tDESC", MLFLOW__ID_METRIC, "acc", false},
        {"metrics.`my key` DESC", MLFLOW__ID_METRIC, "my key", false},
        {"metrics.\"my key\" DESC", MLFLOW__ID_METRIC, "my key", false},
        {"`metrics`.`a b` DESC", MLFLOW__ID_METRIC, "a b", false},
        {"`metrics`.acc", MLFLOW__ID_METRIC, "acc", true},
        {"tags.a.b ASC", MLFLOW__ID_TAG, "a.b", true},
        {"tags.`a.b`", MLFLOW__ID_TAG, "a.b", true},
        {"params.p", MLFLOW__ID_PARAM, "p", true},
        {"param.p", MLFLOW__ID_PARAM, "p", true},
        {"start_time", MLFLOW__ID_ATTR, "start_time", true},
        {"created DESC", MLFLOW__ID_ATTR, "start_time", false},
        {"Created", MLFLOW__ID_ATTR, "start_time", true},
        {"run_name", MLFLOW__ID_ATTR, "run_name", true},
        {"attr.status", MLFLOW__ID_ATTR, "status", true},
        {"user_id DESC", MLFLOW__ID_ATTR, "user_id", false},
        {"end_time", MLFLOW__ID_ATTR, "end_time", true},
        {"artifact_uri", MLFLOW__ID_ATTR, "artifact_uri", true},
        {"attribute.run_id", MLFLOW__ID_ATTR, "run_id", true},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        struct mlflow__orders *o = NULL;
        struct mlflow_error err = {0, ""};
        const char *one[] = {cases[i].text};
        int rc = mlflow__orders_parse_runs(one, 1, &o, &err);
        if (rc)
            print_error("%s: %s\n", cases[i].text, err.message);
        assert_int_equal(rc, MLFLOW_OK);
        assert_int_equal(o->n, 1);
        assert_int_equal(o->items[0].ident, cases[i].ident);
        assert_string_equal(o->items[0].key, cases[i].key);
        assert_int_equal(o->items[0].ascending, cases[i].ascending);
        mlflow__orders_free(o);
    }

    /* Several clauses keep their order; none at all is an empty list. */
    struct mlflow__orders *o = NULL;
    struct mlflow_error err = {0, ""};
    const char *two[] = {"params.p DESC", "metrics.m"};
    assert_int_equal(mlflow__orders_parse_runs(two, 2, &o, &err), MLFLOW_OK);
    assert_int_equal(o->n, 2);
    assert_int_equal(o->items[0].ident, MLFLOW__ID_PARAM);
    assert_false(o->items[0].ascending);
    assert_int_equal(o->items[1].ident, MLFLOW__ID_METRIC);
    mlflow__orders_free(o);
    assert_int_equal(mlflow__orders_parse_runs(NULL, 0, &o, &err), MLFLOW_OK);
    assert_int_equal(o->n, 0);
    mlflow__orders_free(o);

    static const struct {
        const char *text;
        const char *token;
    } bad[] = {
        {"  metrics.acc DESC  ", "'  metrics.acc DESC  '"},
        {"metrics.acc ", "'metrics.acc '"},
        {"metrics.acc FOO", "ordering key in order_by clause 'metrics.acc FOO'"},
        {"metrics.acc DESC ASC", "'metrics.acc DESC ASC'"},
        {"run name", "ordering key in order_by clause 'run name'"},
        {"`run name`", "'run name'"},
        {"lifecycle_stage", "'lifecycle_stage'"},
        {"experiment_id", "'experiment_id'"},
        {"timestamp", "'timestamp'"},
        {"dataset.name", "'dataset'"},
        {"foo.bar", "'foo'"},
        {"metrics.a, metrics.b", "'metrics.a, metrics.b'"},
        {"(metrics.a)", "'(metrics.a)'"},
        {"metrics.a;", "'metrics.a;'"},
        {"metrics.f1-score", "'metrics.f1-score'"},
        {"", "''"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++)
        expect_order_error(false, bad[i].text, bad[i].token);
    expect_order_error(false, NULL, "''");
}

static void test_orders_experiments(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *key;
        bool ascending;
    } cases[] = {
        {"name", "name", true},
        {"name DESC", "name", false},
        {"`name`", "name", true},
        {"attribute.name", "name", true},
        {"experiment_id", "experiment_id", true},
        {"creation_time desc", "creation_time", false},
        {"last_update_time", "last_update_time", true},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        struct mlflow__orders *o = NULL;
        struct mlflow_error err = {0, ""};
        const char *one[] = {cases[i].text};
        int rc = mlflow__orders_parse_experiments(one, 1, &o, &err);
        if (rc)
            print_error("%s: %s\n", cases[i].text, err.message);
        assert_int_equal(rc, MLFLOW_OK);
        assert_int_equal(o->n, 1);
        assert_int_equal(o->items[0].ident, MLFLOW__ID_ATTR);
        assert_string_equal(o->items[0].key, cases[i].key);
        assert_int_equal(o->items[0].ascending, cases[i].ascending);
        mlflow__orders_free(o);
    }
    expect_order_error(true, "tags.a", "Invalid order_by entity: tag");
    expect_order_error(true, "tag.a", "Invalid order_by entity: tag");
    expect_order_error(true, "lifecycle_stage", "'lifecycle_stage'");
    expect_order_error(true, "start_time", "'start_time'");
    expect_order_error(true, "metrics.a", "'metrics'");
    expect_order_error(true, "name UP", "'name UP'");
}

/* ---- LIKE --------------------------------------------------------------- */

static void test_like(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        const char *s;
        bool ci;
        bool want;
    } cases[] = {
        /* anchored at both ends */
        {"abc", "abc", false, true},
        {"abc", "abd", false, false},
        {"abc", "ab", false, false},
        {"abc", "abcd", false, false},
        {"abc", "xabc", false, false},
        /* % is any run, including none */
        {"a%", "abc", false, true},
        {"a%", "a", false, true},
        {"%c", "abc", false, true},
        {"%b%", "abc", false, true},
        {"%b%", "ac", false, false},
        {"%", "", false, true},
        {"%", "anything", false, true},
        {"%%", "", false, true},
        {"a%c%e", "abcde", false, true},
        {"a%c%e", "abcd", false, false},
        {"%a%a%a", "aaa", false, true},
        {"%a%a%a", "aa", false, false},
        {"%ab", "aab", false, true},
        {"a%b", "ab", false, true},
        {"a%b", "axbxb", false, true},
        {"a%b", "axbxc", false, false},
        /* empty pattern matches only the empty string */
        {"", "", false, true},
        {"", "a", false, false},
        /* _ is exactly one character, counted in code points */
        {"a_c", "abc", false, true},
        {"a_c", "ac", false, false},
        {"a_c", "abbc", false, false},
        {"_", "", false, false},
        {"_", "\xc3\xa9", false, true},               /* é is one character */
        {"__", "\xc3\xa9", false, false},
        {"_", "\xf0\x9f\x98\x80", false, true},       /* so is an emoji */
        {"\xe6\x97\xa5_\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false, true},
        {"\xe6\x97\xa5%", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false, true},
        {"%\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false, true},
        /* nothing but % and _ is special */
        {"a.c", "abc", false, false},
        {"a.c", "a.c", false, true},
        {"[a]*", "[a]*", false, true},
        {"a\\_c", "a\\xc", false, true},
        /* LIKE is case-sensitive, ILIKE is not (ASCII and common scripts) */
        {"ABC", "abc", false, false},
        {"ABC", "abc", true, true},
        {"a%C", "AbC", true, true},
        {"\xc3\x89" "cole", "\xc3\xa9" "cole", false, false},   /* École / école */
        {"\xc3\x89" "cole", "\xc3\xa9" "cole", true, true},
        {"\xc3\xa9" "COLE", "\xc3\x89" "cole", true, true},
        {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", /* Привет */
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true, true},
        {"\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91", /* ΣΟΦΙΑ / σοφια */
         "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1", true, true},
        {"\xc5\x81%", "\xc5\x82" "odz", true, true},           /* Ł / ł */
        {"abc", "abd", true, false},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        bool got = mlflow__like(cases[i].pattern, cases[i].s, cases[i].ci);
        if (got != cases[i].want)
            print_error("LIKE %zu: '%s' %s '%s' gave %d\n", i, cases[i].s,
                        cases[i].ci ? "ILIKE" : "LIKE", cases[i].pattern, got);
        assert_int_equal(got, cases[i].want);
    }
    /* Malformed UTF-8 does not derail matching: each bad byte is one character. */
    assert_true(mlflow__like("a_b", "a\xff" "b", false));
    assert_true(mlflow__like("%\xff", "xx\xff", false));
    assert_false(mlflow__like("a", NULL, false));
}

/* ---- evaluation --------------------------------------------------------- */

static void test_eval_metrics(void **state)
{
    (void)state;
    struct trun runs[5];
    trun_init(&runs[0], "r1", 100);
    trun_metric(&runs[0], "m", 2.0);
    trun_init(&runs[1], "r2", 100);
    trun_metric(&runs[1], "m", NAN);
    trun_init(&runs[2], "r3", 100); /* no metric m */
    trun_metric(&runs[2], "other", 1.0);
    trun_init(&runs[3], "r4", 100);
    trun_metric(&runs[3], "m", 1.0);
    trun_init(&runs[4], "r5", 100);
    trun_metric(&runs[4], "m", -INFINITY);

    ASSERT_MATCHING("metrics.m = 1", runs, "r4");
    ASSERT_MATCHING("metrics.m = 1.0", runs, "r4");
    /* NaN compares false, except != which holds; a missing metric never matches. */
    ASSERT_MATCHING("metrics.m != 1", runs, "r1,r2,r5");
    ASSERT_MATCHING("metrics.m < 1", runs, "r5");
    ASSERT_MATCHING("metrics.m <= 1", runs, "r4,r5");
    ASSERT_MATCHING("metrics.m >= 2", runs, "r1");
    ASSERT_MATCHING("metrics.m > 0.5", runs, "r1,r4");
    /* 1e400 reads as infinity, as Python's float() does. */
    ASSERT_MATCHING("metrics.m > -1e400", runs, "r1,r4");
    ASSERT_MATCHING("metrics.m = -1e400", runs, "r5");
    ASSERT_MATCHING("metrics.m > 1 AND metrics.m < 3", runs, "r1");
    ASSERT_MATCHING("metrics.other = 1", runs, "r3");
    ASSERT_MATCHING("metrics.m > 0 AND metrics.other = 1", runs, "");
}

static void test_eval_params_tags(void **state)
{
    (void)state;
    struct trun runs[4];
    trun_init(&runs[0], "r1", 100);
    trun_param(&runs[0], "p", "b");
    trun_tag(&runs[0], "t", "Hello World");
    trun_init(&runs[1], "r2", 100);
    trun_param(&runs[1], "p", "B");
    trun_tag(&runs[1], "t", "hello");
    trun_init(&runs[2], "r3", 100);
    trun_param(&runs[2], "p", "");
    trun_tag(&runs[2], "my key", "x");
    trun_init(&runs[3], "r4", 100); /* no params, no tags */

    ASSERT_MATCHING("params.p = 'b'", runs, "r1");
    ASSERT_MATCHING("params.p != 'b'", runs, "r2,r3");
    ASSERT_MATCHING("params.p = ''", runs, "r3");
    ASSERT_MATCHING("params.p LIKE 'b'", runs, "r1");
    ASSERT_MATCHING("params.p ILIKE 'b'", runs, "r1,r2");
    ASSERT_MATCHING("params.p LIKE '%'", runs, "r1,r2,r3");
    ASSERT_MATCHING("params.p LIKE '_'", runs, "r1,r2");
    ASSERT_MATCHING("tags.t LIKE 'Hello%'", runs, "r1");
    ASSERT_MATCHING("tags.t ILIKE 'hello%'", runs, "r1,r2");
    ASSERT_MATCHING("tags.t ILIKE '%WORLD'", runs, "r1");
    ASSERT_MATCHING("tags.t != 'hello'", runs, "r1");
    ASSERT_MATCHING("tags.`my key` = 'x'", runs, "r3");
    ASSERT_MATCHING("tags.\"my key\" = \"x\"", runs, "r3");
    /* A param is not a tag. */
    ASSERT_MATCHING("tags.p = 'b'", runs, "");
}

static void test_eval_attributes(void **state)
{
    (void)state;
    struct trun runs[4];
    trun_init(&runs[0], "aaa1", 100);
    runs[0].r.info.end_time = 150;
    runs[0].r.info.run_name = "bright-fox-1";
    trun_init(&runs[1], "bbb2", 200);
    runs[1].r.info.status = MLFLOW_RUN_STATUS_RUNNING;
    runs[1].r.info.user_id = "bob";
    runs[1].r.info.run_name = "calm-owl-2";
    trun_init(&runs[2], "ccc3", 300);
    runs[2].r.info.status = MLFLOW_RUN_STATUS_FAILED;
    runs[2].r.info.end_time = 310;
    runs[2].r.info.artifact_uri = "s3://bucket/ccc3/artifacts";
    runs[2].r.info.run_name = NULL;
    trun_init(&runs[3], "ddd4", 400);
    runs[3].r.info.status = MLFLOW_RUN_STATUS_KILLED;
    runs[3].r.info.end_time = 0;
    runs[3].r.info.lifecycle_stage = "deleted";

    /* status compares against the name; case matters */
    ASSERT_MATCHING("status = 'FINISHED'", runs, "aaa1");
    ASSERT_MATCHING("attributes.status != 'FINISHED'", runs, "bbb2,ccc3,ddd4");
    ASSERT_MATCHING("status = 'finished'", runs, "");
    ASSERT_MATCHING("status ILIKE 'finished'", runs, "aaa1");
    ASSERT_MATCHING("user_id = 'bob'", runs, "bbb2");
    ASSERT_MATCHING("artifact_uri LIKE 's3://%'", runs, "ccc3");
    /* a run without a name lacks it, even for != */
    ASSERT_MATCHING("run_name != 'calm-owl-2'", runs, "aaa1,ddd4");
    ASSERT_MATCHING("`Run Name` LIKE '%-1'", runs, "aaa1");
    ASSERT_MATCHING("\"run name\" = 'run'", runs, "ddd4");
    ASSERT_MATCHING("run_id = 'bbb2'", runs, "bbb2");
    ASSERT_MATCHING("run_id IN ('aaa1', 'ccc3', 'zzz9')", runs, "aaa1,ccc3");
    ASSERT_MATCHING("run_id NOT IN ('aaa1', 'ccc3')", runs, "bbb2,ddd4");
    /* uppercase values are dropped from the list */
    ASSERT_MATCHING("run_id IN ('AAA1')", runs, "");
    ASSERT_MATCHING("run_id NOT IN ('AAA1')", runs, "aaa1,bbb2,ccc3,ddd4");
    ASSERT_MATCHING("start_time >= 200", runs, "bbb2,ccc3,ddd4");
    ASSERT_MATCHING("created < 200", runs, "aaa1");
    ASSERT_MATCHING("attribute.start_time = 300", runs, "ccc3");
    /* end_time unset means the run lacks it; 0 is a real value */
    ASSERT_MATCHING("end_time > 100", runs, "aaa1,ccc3");
    ASSERT_MATCHING("end_time != 150", runs, "ccc3,ddd4");
    ASSERT_MATCHING("end_time = 0", runs, "ddd4");
    ASSERT_MATCHING("start_time > 100 AND status != 'RUNNING' AND end_time >= 0", runs,
                    "ccc3,ddd4");
    /* No run carries dataset inputs here, so dataset conditions never hold. */
    ASSERT_MATCHING("dataset.name = 'x'", runs, "");
    ASSERT_MATCHING("dataset.name NOT IN ('x')", runs, "");
}

static void test_eval_without_filter(void **state)
{
    (void)state;
    struct trun r;
    trun_init(&r, "r1", 1);
    assert_true(mlflow__run_matches(NULL, &r.r));
    assert_true(run_matches("", &r));
    struct mlflow_experiment e = {"1", "x", "loc", "active", 1, 1, NULL, 0};
    assert_true(mlflow__experiment_matches(NULL, &e));
}

static void test_eval_lifecycle_stage_cond(void **state)
{
    (void)state;
    /* Not in the language (MLflow does not search on it), but a store may
     * build the condition itself. */
    struct trun r;
    trun_init(&r, "r1", 1);
    struct mlflow__cond c = {MLFLOW__ID_ATTR, (char *)"lifecycle_stage", MLFLOW__CMP_EQ, false,
                             0, (char *)"active", NULL, 0};
    struct mlflow__filter f = {&c, 1};
    assert_true(mlflow__run_matches(&f, &r.r));
    r.r.info.lifecycle_stage = "deleted";
    assert_false(mlflow__run_matches(&f, &r.r));
}

/* ---- sorting runs ------------------------------------------------------- */

/* The eight runs MLflow 2.12.2 sorted for the expectations below. */
static void sort_fixture(struct trun runs[8])
{
    trun_init(&runs[0], "r1", 100);
    trun_metric(&runs[0], "m", 2.0);
    trun_param(&runs[0], "p", "b");
    runs[0].r.info.end_time = 5;
    trun_init(&runs[1], "r2", 200);
    trun_metric(&runs[1], "m", NAN);
    trun_param(&runs[1], "p", "B");
    trun_init(&runs[2], "r3", 300);
    trun_param(&runs[2], "p", "\xc3\xa9");
    runs[2].r.info.end_time = 7;
    trun_init(&runs[3], "r4", 100);
    trun_metric(&runs[3], "m", 1.0);
    runs[3].r.info.end_time = 6;
    trun_init(&runs[4], "r5", 100);
    trun_metric(&runs[4], "m", NAN);
    trun_param(&runs[4], "p", "a");
    trun_init(&runs[5], "r6", 300);
    trun_param(&runs[5], "p", "b");
    runs[5].r.info.end_time = 5;
    trun_init(&runs[6], "r7", 200);
    trun_metric(&runs[6], "m", -INFINITY);
    trun_param(&runs[6], "p", "b");
    trun_init(&runs[7], "r8", 200);
    trun_metric(&runs[7], "m", INFINITY);
    runs[7].r.info.end_time = 1;
}

static void test_sort_runs(void **state)
{
    (void)state;
    struct trun runs[8];
    sort_fixture(runs);
    /* Base order: start_time DESC, then run_id ASC. */
    ASSERT_SORTED(runs, "r3,r6,r2,r7,r8,r1,r4,r5", NULL);
    /* Values first (sorted), then NaN, then missing, in both directions;
     * ties fall back to the base order. */
    ASSERT_SORTED(runs, "r7,r4,r1,r8,r2,r5,r3,r6", "metrics.m");
    ASSERT_SORTED(runs, "r8,r1,r4,r7,r2,r5,r3,r6", "metrics.m DESC");
    /* Strings compare by code point: "B" < "a" < "b" < "é". */
    ASSERT_SORTED(runs, "r2,r5,r6,r7,r1,r3,r8,r4", "params.p");
    ASSERT_SORTED(runs, "r3,r6,r7,r1,r5,r2,r8,r4", "params.p DESC");
    /* The first clause is the most significant. */
    ASSERT_SORTED(runs, "r2,r5,r1,r7,r6,r3,r8,r4", "params.p", "metrics.m DESC");
    /* Unset end_time is missing: last either way. */
    ASSERT_SORTED(runs, "r8,r6,r1,r4,r3,r2,r7,r5", "end_time");
    ASSERT_SORTED(runs, "r3,r4,r6,r1,r8,r2,r7,r5", "end_time DESC");
    ASSERT_SORTED(runs, "r1,r4,r5,r2,r7,r8,r3,r6", "created");
    ASSERT_SORTED(runs, "r1,r4,r5,r2,r7,r8,r3,r6", "start_time ASC");
    ASSERT_SORTED(runs, "r8,r7,r6,r5,r4,r3,r2,r1", "run_id DESC");
    /* A key no run has leaves the base order. */
    ASSERT_SORTED(runs, "r3,r6,r2,r7,r8,r1,r4,r5", "tags.none DESC");
}

static void test_sort_runs_attributes(void **state)
{
    (void)state;
    struct trun runs[4];
    trun_init(&runs[0], "a", 10);
    runs[0].r.info.status = MLFLOW_RUN_STATUS_RUNNING;
    runs[0].r.info.run_name = "zeta";
    trun_init(&runs[1], "b", 10);
    runs[1].r.info.status = MLFLOW_RUN_STATUS_FAILED;
    runs[1].r.info.run_name = NULL;
    trun_init(&runs[2], "c", 10);
    runs[2].r.info.status = MLFLOW_RUN_STATUS_FINISHED;
    runs[2].r.info.run_name = "alpha";
    trun_init(&runs[3], "d", 10);
    runs[3].r.info.status = MLFLOW_RUN_STATUS_FAILED;
    runs[3].r.info.run_name = "mid";
    /* status sorts by its name: FAILED < FINISHED < RUNNING */
    ASSERT_SORTED(runs, "b,d,c,a", "status");
    ASSERT_SORTED(runs, "a,c,b,d", "status DESC");
    ASSERT_SORTED(runs, "c,d,a,b", "run_name");
    ASSERT_SORTED(runs, "a,d,c,b", "run_name DESC");
}

/* ---- experiments -------------------------------------------------------- */

static struct mlflow_experiment exp_make(const char *id, const char *name, int64_t created)
{
    struct mlflow_experiment e = {id, name, "loc", "active", created, created, NULL, 0};
    return e;
}

static void sorted_exp_ids(const char *const *order_by, size_t n_order,
                           struct mlflow_experiment *exps, size_t n, char *out, size_t size)
{
    struct mlflow__orders *o = NULL;
    struct mlflow_error err = {0, ""};
    int rc = mlflow__orders_parse_experiments(order_by, n_order, &o, &err);
    if (rc)
        print_error("%s\n", err.message);
    assert_int_equal(rc, MLFLOW_OK);
    const struct mlflow_experiment *v[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && mlflow__experiment_compare(o, v[j - 1], &exps[i]) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = &exps[i];
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, v[i]->experiment_id, size - strlen(out) - 1);
    }
    mlflow__orders_free(o);
}

#define ASSERT_EXP_SORTED(exps, expected, ...)                                            \
    do {                                                                                  \
        const char *ob_[] = {__VA_ARGS__};                                                \
        char got_[256];                                                                   \
        size_t nob_ = MLFLOW_ARRAY_LEN(ob_);                                              \
        if (nob_ == 1 && ob_[0] == NULL)                                                  \
            nob_ = 0;                                                                     \
        sorted_exp_ids(ob_, nob_, exps, MLFLOW_ARRAY_LEN(exps), got_, sizeof got_);       \
        if (strcmp(got_, expected) != 0)                                                  \
            print_error("order_by [%s]: got [%s], want [%s]\n", ob_[0] ? ob_[0] : "",      \
                        got_, expected);                                                  \
        assert_string_equal(got_, expected);                                              \
    } while (0)

static void test_sort_experiments(void **state)
{
    (void)state;
    struct mlflow_experiment exps[5] = {
        exp_make("9", "b", 100), exp_make("10", "a", 100), exp_make("2", "c", MLFLOW_TIME_UNSET),
        exp_make("11", "a", 300), exp_make("1", "d", 200),
    };
    /* Default: creation_time DESC, experiment_id ASC (ids compare as strings). */
    ASSERT_EXP_SORTED(exps, "11,1,10,9,2", NULL);
    ASSERT_EXP_SORTED(exps, "11,1,10,9,2", "creation_time DESC", "experiment_id ASC");
    /* Otherwise experiment_id DESC breaks ties, and missing times sort last. */
    ASSERT_EXP_SORTED(exps, "11,10,9,2,1", "name");
    ASSERT_EXP_SORTED(exps, "1,2,9,11,10", "name DESC");
    ASSERT_EXP_SORTED(exps, "9,10,1,11,2", "creation_time");
    ASSERT_EXP_SORTED(exps, "11,1,9,10,2", "creation_time DESC");
    ASSERT_EXP_SORTED(exps, "1,10,11,2,9", "experiment_id");
    ASSERT_EXP_SORTED(exps, "9,2,11,10,1", "experiment_id DESC");
    ASSERT_EXP_SORTED(exps, "10,11,9,2,1", "name", "experiment_id");
}

static void test_eval_experiments(void **state)
{
    (void)state;
    struct mlflow_kv tags_a[] = {{"team", "vision"}, {"mlflow.note.content", "hi"}};
    struct mlflow_kv tags_b[] = {{"team", "NLP"}};
    struct mlflow_experiment exps[3] = {
        exp_make("1", "Default", 100),
        exp_make("2", "vision-resnet", 200),
        exp_make("3", "nlp_bert", MLFLOW_TIME_UNSET),
    };
    exps[1].tags = tags_a;
    exps[1].n_tags = 2;
    exps[2].tags = tags_b;
    exps[2].n_tags = 1;
    static const struct {
        const char *filter;
        const char *want; /* ids joined by ',' */
    } cases[] = {
        {"name = 'Default'", "1"},
        {"name != 'Default'", "2,3"},
        {"name LIKE 'vision%'", "2"},
        {"name LIKE '%_%'", "1,2,3"},
        {"name ILIKE 'DEFAULT'", "1"},
        {"attribute.name LIKE 'nlp\\_%'", ""}, /* no escape character: \ is literal */
        {"tags.team = 'vision'", "2"},
        {"tags.team ILIKE 'nlp'", "3"},
        {"tags.team != 'vision'", "3"},      /* experiment 1 lacks the tag */
        {"tag.`mlflow.note.content` = 'hi'", "2"},
        {"creation_time > 150", "2"},
        {"creation_time >= 100.0", "1,2"}, /* a missing time never matches */
        {"creation_time < 150.5", "1"},
        {"creation_time != 100", "2"},
        {"last_update_time = 200", "2"},
        {"name LIKE '%' AND tags.team LIKE '%'", "2,3"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        struct mlflow__filter *f = parse_exps_ok(cases[i].filter);
        char got[64] = "";
        for (size_t j = 0; j < MLFLOW_ARRAY_LEN(exps); j++) {
            if (mlflow__experiment_matches(f, &exps[j])) {
                if (got[0])
                    strcat(got, ",");
                strcat(got, exps[j].experiment_id);
            }
        }
        if (strcmp(got, cases[i].want) != 0)
            print_error("filter [%s]: got [%s], want [%s]\n", cases[i].filter, got,
                        cases[i].want);
        assert_string_equal(got, cases[i].want);
        mlflow__filter_free(f);
    }
}

/* ---- allocation failures ------------------------------------------------ */

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *filter = "metrics.`f1-score` > 0.5 AND params.p LIKE 'a%' AND created < 10 AND "
                         "run_id IN ('a1', 'b2', 'c3', 'd4', 'e5') AND tags.t = 'x'";
    const char *orders[] = {"metrics.m DESC", "created", "params.`p q` ASC"};
    int failures = 0;
    for (long nth = 1; nth < 200; nth++) {
        struct mlflow__filter *f = NULL;
        struct mlflow_error err = {0, ""};
        mlflow__alloc_fail_at(nth);
        int rc = mlflow__filter_parse_runs(filter, &f, &err);
        mlflow__alloc_fail_at(0);
        if (rc == MLFLOW_OK) {
            assert_int_equal(f->n, 5);
            mlflow__filter_free(f);
            break;
        }
        failures++;
        assert_int_equal(rc, MLFLOW_RESOURCE_EXHAUSTED);
        assert_null(f);
    }
    assert_true(failures > 5);
    failures = 0;
    for (long nth = 1; nth < 200; nth++) {
        struct mlflow__orders *o = NULL;
        struct mlflow_error err = {0, ""};
        mlflow__alloc_fail_at(nth);
        int rc = mlflow__orders_parse_runs(orders, 3, &o, &err);
        mlflow__alloc_fail_at(0);
        if (rc == MLFLOW_OK) {
            assert_int_equal(o->n, 3);
            mlflow__orders_free(o);
            break;
        }
        failures++;
        assert_int_equal(rc, MLFLOW_RESOURCE_EXHAUSTED);
        assert_null(o);
    }
    assert_true(failures > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_empty),
        cmocka_unit_test(test_filter_metric),
        cmocka_unit_test(test_filter_identifiers),
        cmocka_unit_test(test_filter_strings_and_comparators),
        cmocka_unit_test(test_filter_in_lists),
        cmocka_unit_test(test_filter_and),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_filter_experiments),
        cmocka_unit_test(test_orders_runs),
        cmocka_unit_test(test_orders_experiments),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_eval_metrics),
        cmocka_unit_test(test_eval_params_tags),
        cmocka_unit_test(test_eval_attributes),
        cmocka_unit_test(test_eval_without_filter),
        cmocka_unit_test(test_eval_lifecycle_stage_cond),
        cmocka_unit_test(test_sort_runs),
        cmocka_unit_test(test_sort_runs_attributes),
        cmocka_unit_test(test_sort_experiments),
        cmocka_unit_test(test_eval_experiments),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
