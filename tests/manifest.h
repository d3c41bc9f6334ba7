/*
 * manifest.h - checking a store against a fixture's MANIFEST.json, shared by
 * the interop tests of every store that reads what MLflow wrote
 * (test_fixture_file.c, test_fixture_sqlite.c). Header-only, like
 * testutil.h: each test program is built from one .c file. Include after
 * <cmocka.h>.
 */
#ifndef MLFLOW_TEST_MANIFEST_H
#define MLFLOW_TEST_MANIFEST_H

#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "store/store.h"

static const struct mlflow__filter manifest_no_filter = {NULL, 0};
static const struct mlflow__orders manifest_no_order = {NULL, 0};

static inline const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

static inline json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

/* Manifest numbers, or the strings "nan", "inf", "-inf". */
static inline double jdouble(json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (strcmp(s, "nan") == 0)
            return NAN;
        return strcmp(s, "inf") == 0 ? INFINITY : -INFINITY;
    }
    return json_object_get_double(v);
}

static inline void assert_double_same(double expected, double actual)
{
    if (isnan(expected))
        assert_true(isnan(actual));
    else
        assert_true(expected == actual);
}

/* The manifest map {key: value} equals kv exactly. */
static inline void assert_kv_equal(json_object *map, const struct mlflow_kv *kv, size_t n)
{
    assert_int_equal(json_object_object_length(map), n);
    for (size_t i = 0; i < n; i++) {
        const char *expected = jstr(map, kv[i].key);
        if (!expected)
            fail_msg("unexpected key '%s'", kv[i].key);
        assert_string_equal(expected, kv[i].value);
    }
}

static inline size_t search_experiments(struct mlflow__store *s, int view)
{
    struct mlflow__search_experiments q = {.filter = &manifest_no_filter, .order = &manifest_no_order,
                                           .view_type = view, .max_results = 1000};
    struct mlflow_experiment_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(s->ops->search_experiments(s, &q, &l, &err), 0);
    size_t n = l->count;
    for (size_t i = 0; i < n; i++) {
        bool deleted = strcmp(l->experiments[i].lifecycle_stage, "deleted") == 0;
        if (view == MLFLOW_VIEW_ACTIVE_ONLY)
            assert_false(deleted);
        if (view == MLFLOW_VIEW_DELETED_ONLY)
            assert_true(deleted);
    }
    mlflow_experiment_list_free(l);
    return n;
}

static inline void check_history(struct mlflow__store *s, const char *run_id, const char *key,
                          json_object *points)
{
    struct mlflow_metric_list *h = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(s->ops->get_metric_history(s, run_id, key, &h, &err), 0);
    size_t n = json_object_array_length(points);
    assert_int_equal(h->count, n);
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(points, i);
        assert_string_equal(h->metrics[i].key, key);
        assert_int_equal(h->metrics[i].timestamp,
                         json_object_get_int64(json_object_array_get_idx(p, 0)));
        assert_double_same(jdouble(json_object_array_get_idx(p, 1)), h->metrics[i].value);
        assert_int_equal(h->metrics[i].step,
                         json_object_get_int64(json_object_array_get_idx(p, 2)));
    }
    mlflow_metric_list_free(h);
}

#endif /* MLFLOW_TEST_MANIFEST_H */
