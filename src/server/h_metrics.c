/*
 * h_metrics.c - metric history handlers: get-history, and the UI's
 * get-history-bulk and get-history-bulk-interval (sampled steps that always
 * keep each run's first and last step), and mlflow-c's get-history-downsampled
 * for the web UI's charts (downsample.c picks the points).
 */
#include "server.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REQ MLFLOW__JSON_REQUIRED
#define MAX_BULK_RUNS 100
#define MAX_BULK_RESULTS 25000
#define MAX_INTERVAL_RESULTS 2500

MLFLOW__HANDLER(mlflow__h_get_history)
{
    const char *run_id, *key = NULL;
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "metric_key", REQ, &key, NULL, err);
    struct mlflow_metric_list *list = NULL;
    if (!rc)
        rc = mlflow__api_err(mlflow_client_get_metric_history(r->srv->client, run_id, key, &list),
                             err);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    mlflow__json_write_metrics(&w, "metrics", list->metrics, list->count);
    mlflow_metric_list_free(list);
    return mlflow__resp_json(out, &w, err);
}

/* Python's tuple order of (a, b, c) for int64/double triples. */
static int cmp3(int64_t a1, int64_t b1, double c1, int64_t a2, int64_t b2, double c2)
{
    if (a1 != a2)
        return a1 < a2 ? -1 : 1;
    if (b1 != b2)
        return b1 < b2 ? -1 : 1;
    if (c1 < c2)
        return -1;
    return c1 > c2 ? 1 : 0;
}

static int by_time_step_value(const void *x, const void *y)
{
    const struct mlflow_metric *a = x, *b = y;
    return cmp3(a->timestamp, a->step, a->value, b->timestamp, b->step, b->value);
}

static int by_step_time(const void *x, const void *y)
{
    const struct mlflow_metric *a = x, *b = y;
    return cmp3(a->step, a->timestamp, 0, b->step, b->timestamp, 0);
}

static int by_string(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The UI's endpoint: MLflow answers it with Flask's jsonify (compact,
 * keys sorted). Non-finite values go out as strings here too, where MLflow
 * writes bare NaN tokens that browsers cannot parse. */
MLFLOW__HANDLER(mlflow__h_get_history_bulk)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char **ids = NULL, *key = NULL;
    size_t n_ids = 0;
    int64_t max_results = MAX_BULK_RESULTS;
    int rc = mlflow__json_get_string_list(a, r->params, "run_id", MLFLOW__JSON_SCALAR_AS_LIST,
                                          &ids, &n_ids, err);
    if (rc)
        return rc;
    if (n_ids == 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "GetMetricHistoryBulk request must specify at least one run_id.");
    if (n_ids > MAX_BULK_RUNS)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "GetMetricHistoryBulk request cannot specify more than %d run_ids. "
                              "Received %zu run_ids.",
                              MAX_BULK_RUNS, n_ids);
    rc = mlflow__json_get_string(r->params, "metric_key", 0, &key, NULL, err);
    if (!rc && !key)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "GetMetricHistoryBulk request must specify a metric_key.");
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "max_results", 0, &max_results, NULL, err);
    if (rc)
        return rc;
    if (max_results > MAX_BULK_RESULTS)
        max_results = MAX_BULK_RESULTS;
    qsort(ids, n_ids, sizeof *ids, by_string);

    struct mlflow__jw w;
    mlflow__jw_init(&w, MLFLOW__JW_COMPACT);
    mlflow__jw_begin_object(&w);
    mlflow__jw_key(&w, "metrics");
    mlflow__jw_begin_array(&w);
    int64_t written = 0;
    for (size_t i = 0; i < n_ids && written < max_results; i++) {
        struct mlflow_metric_list *list = NULL;
        rc = mlflow__api_err(mlflow_client_get_metric_history(r->srv->client, ids[i], key, &list),
                             err);
        if (rc) {
            mlflow__jw_release(&w);
            return rc;
        }
        qsort(list->metrics, list->count, sizeof *list->metrics, by_time_step_value);
        for (size_t k = 0; k < list->count && written < max_results; k++, written++) {
            const struct mlflow_metric *m = &list->metrics[k];
            mlflow__jw_begin_object(&w);
            mlflow__jw_kv_string(&w, "key", m->key);
            mlflow__jw_kv_string(&w, "run_id", ids[i]);
            mlflow__jw_kv_int64(&w, "step", m->step);
            mlflow__jw_kv_int64(&w, "timestamp", m->timestamp);
            mlflow__jw_key(&w, "value");
            mlflow__jw_double(&w, m->value);
            mlflow__jw_end_object(&w);
        }
        mlflow_metric_list_free(list);
    }
    mlflow__jw_end_array(&w);
    mlflow__jw_end_object(&w);
    /* jsonify ends its documents with a newline. */
    mlflow__sb_addc(&w.sb, '\n');
    return mlflow__resp_json(out, &w, err);
}

/* ---- get-history-bulk-interval --------------------------------------------------- */

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Sorts and removes duplicates; returns the new count. */
static size_t sort_unique(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[o - 1])
            v[o++] = v[i];
    return o;
}

static size_t lower_bound(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t upper_bound(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool contains(const int64_t *v, size_t n, int64_t x)
{
    size_t i = lower_bound(v, n, x);
    return i < n && v[i] == x;
}

/*
 * MLflow's step sampling: the steps logged in [start, end] across all runs;
 * when there are more than max_results, max_results of them evenly spaced
 * plus the last one; then every run's own first and last step inside the
 * range. (The index test against the count rather than the end index is
 * MLflow's, kept so both servers pick the same steps.)
 */
static int sample_steps(struct mlflow_metric_list **hist, size_t n_runs, bool have_range,
                        int64_t start, int64_t end, int64_t max_results, int64_t **out,
                        size_t *n_out, struct mlflow_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n_runs; i++)
        total += hist[i]->count;
    int64_t *all = mlflow__malloc((total + 1) * sizeof *all);
    int64_t *extremes = mlflow__malloc((2 * n_runs + 1) * sizeof *extremes);
    int64_t *picked = mlflow__malloc(((size_t)max_results + 2 * n_runs + 2) * sizeof *picked);
    if (!all || !extremes || !picked) {
        mlflow__free(all);
        mlflow__free(extremes);
        mlflow__free(picked);
        return mlflow__oom(err);
    }
    size_t n_all = 0, n_ext = 0, n_picked = 0;
    for (size_t i = 0; i < n_runs; i++) {
        if (!hist[i]->count)
            continue;
        int64_t lo = hist[i]->metrics[0].step, hi = lo;
        for (size_t k = 0; k < hist[i]->count; k++) {
            int64_t s = hist[i]->metrics[k].step;
            all[n_all++] = s;
            lo = s < lo ? s : lo;
            hi = s > hi ? s : hi;
        }
        extremes[n_ext++] = lo;
        extremes[n_ext++] = hi;
    }
    n_all = sort_unique(all, n_all);
    if (!have_range) {
        start = 0;
        end = n_all ? all[n_all - 1] : 0;
    }
    size_t s_idx = lower_bound(all, n_all, start);
    size_t e_idx = upper_bound(all, n_all, end);
    size_t count = e_idx > s_idx ? e_idx - s_idx : 0;
    if (count <= (size_t)max_results) {
        for (size_t i = s_idx; i < e_idx; i++)
            picked[n_picked++] = all[i];
    } else {
        double interval = (double)count / (double)max_results;
        for (int64_t i = 0; i < max_results; i++) {
            size_t idx = s_idx + (size_t)((double)i * interval);
            if (idx < count)
                picked[n_picked++] = all[idx];
        }
        picked[n_picked++] = all[e_idx - 1];
    }
    for (size_t i = 0; i < n_ext; i++)
        if (extremes[i] >= start && extremes[i] <= end)
            picked[n_picked++] = extremes[i];
    mlflow__free(all);
    mlflow__free(extremes);
    *n_out = sort_unique(picked, n_picked);
    *out = picked;
    return MLFLOW_OK;
}

MLFLOW__HANDLER(mlflow__h_get_history_bulk_interval)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char **ids = NULL, *key = NULL;
    size_t n_ids = 0;
    int64_t start = 0, end = 0, max_results = MAX_INTERVAL_RESULTS;
    bool has_start = false, has_end = false;
    int flags = REQ | (r->from_query ? MLFLOW__JSON_SCALAR_AS_LIST : 0);
    int rc = mlflow__json_get_string_list(a, r->params, "run_ids", flags, &ids, &n_ids, err);
    if (!rc && n_ids == 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Missing value for required parameter 'run_ids'. See the API docs "
                            "for more information about request parameters.");
    if (!rc && n_ids > MAX_BULK_RUNS)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "GetMetricHistoryBulkInterval request must specify at most %d "
                            "run_ids. Received %zu run_ids.",
                            MAX_BULK_RUNS, n_ids);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "metric_key", REQ, &key, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "start_step", 0, &start, &has_start, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "end_step", 0, &end, &has_end, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "max_results", 0, &max_results, NULL, err);
    if (!rc && (max_results < 1 || max_results > MAX_INTERVAL_RESULTS))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "max_results must be between 1 and %d. See the API docs for more "
                            "information about request parameters.",
                            MAX_INTERVAL_RESULTS);
    if (!rc && has_start != has_end)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "If either start step or end step are specified, both must be "
                            "specified.");
    if (!rc && has_start && start > end)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "end_step must be greater than start_step. Found start_step=%lld "
                            "and end_step=%lld.",
                            (long long)start, (long long)end);
    if (rc)
        return rc;

    struct mlflow_metric_list **hist = mlflow__calloc(n_ids, sizeof *hist);
    if (!hist)
        return mlflow__oom(err);
    for (size_t i = 0; !rc && i < n_ids; i++)
        rc = mlflow__api_err(
            mlflow_client_get_metric_history(r->srv->client, ids[i], key, &hist[i]), err);
    int64_t *steps = NULL;
    size_t n_steps = 0;
    if (!rc)
        rc = sample_steps(hist, n_ids, has_start, start, end, max_results, &steps, &n_steps,
                          err);
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    bool opened = false;
    for (size_t i = 0; !rc && i < n_ids; i++) {
        struct mlflow_metric_list *l = hist[i];
        qsort(l->metrics, l->count, sizeof *l->metrics, by_step_time);
        size_t sent = 0;
        for (size_t k = 0; k < l->count && sent < MAX_BULK_RESULTS; k++) {
            if (!contains(steps, n_steps, l->metrics[k].step))
                continue;
            if (!opened) {
                mlflow__jw_key(&w, "metrics");
                mlflow__jw_begin_array(&w);
                opened = true;
            }
            mlflow__json_write_metric(&w, &l->metrics[k], ids[i]);
            sent++;
        }
    }
    if (opened)
        mlflow__jw_end_array(&w);
    for (size_t i = 0; i < n_ids; i++)
        mlflow_metric_list_free(hist[i]);
    mlflow__free(hist);
    mlflow__free(steps);
    if (rc) {
        mlflow__jw_release(&w);
        return rc;
    }
    return mlflow__resp_json(out, &w, err);
}

/* ---- get-history-downsampled (mlflow-c's own, for the web UI's charts) ------------- */

#define DS_DEFAULT_POINTS 2000
#define DS_MAX_POINTS 100000

static int bad_value(struct mlflow_error *err, const char *field, const char *why)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid value for parameter '%s' supplied: %s", field, why);
}

/* An optional finite bound of the x range. */
static int read_bound(json_object *params, const char *field, bool *has, double *v,
                      struct mlflow_error *err)
{
    int rc = mlflow__json_get_double(params, field, 0, v, has, err);
    if (!rc && *has && !isfinite(*v))
        rc = bad_value(err, field, "it must be a finite number");
    return rc;
}

/*
 * GET metrics/get-history-downsampled?run_id=&metric_key=&max_points=
 *     &x_axis=step|timestamp[&min_x=&max_x=]
 * -> {"metrics": [...], "total_points": T, "downsampled": bool}, compact,
 * every member always present. The points are real ones in x order; see
 * mlflow__downsample for which.
 */
MLFLOW__HANDLER(mlflow__h_get_history_downsampled)
{
    const char *run_id, *key = NULL, *axis = "step";
    int64_t max_points = DS_DEFAULT_POINTS;
    struct mlflow__ds_opts o = {.axis = MLFLOW__DS_STEP};
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "metric_key", REQ, &key, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "max_points", 0, &max_points, NULL, err);
    if (!rc && (max_points < 2 || max_points > DS_MAX_POINTS))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Invalid value %lld for parameter 'max_points' supplied: it must be "
                            "between 2 and %d",
                            (long long)max_points, DS_MAX_POINTS);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "x_axis", 0, &axis, NULL, err);
    if (!rc && strcmp(axis, "timestamp") == 0)
        o.axis = MLFLOW__DS_TIMESTAMP;
    else if (!rc && strcmp(axis, "step") != 0)
        rc = bad_value(err, "x_axis", "it must be 'step' or 'timestamp'");
    if (!rc)
        rc = read_bound(r->params, "min_x", &o.has_min, &o.min_x, err);
    if (!rc)
        rc = read_bound(r->params, "max_x", &o.has_max, &o.max_x, err);
    if (!rc && o.has_min && o.has_max && o.min_x > o.max_x)
        rc = bad_value(err, "min_x", "it must not be greater than max_x");
    if (rc)
        return rc;
    o.max_points = (size_t)max_points;

    struct mlflow_metric_list *list = NULL;
    rc = mlflow__api_err(mlflow_client_get_metric_history(r->srv->client, run_id, key, &list),
                         err);
    if (rc)
        return rc;
    struct mlflow__ds_result ds;
    rc = mlflow__downsample(list->metrics, list->count, &o, &ds, err);
    if (rc) {
        mlflow_metric_list_free(list);
        return rc;
    }
    struct mlflow__jw w;
    mlflow__jw_init(&w, MLFLOW__JW_COMPACT);
    mlflow__jw_begin_object(&w);
    mlflow__jw_key(&w, "metrics");
    mlflow__jw_begin_array(&w);
    for (size_t i = 0; i < ds.n; i++)
        mlflow__json_write_metric(&w, &list->metrics[ds.idx[i]], NULL);
    mlflow__jw_end_array(&w);
    mlflow__jw_kv_int64(&w, "total_points", (int64_t)ds.total);
    mlflow__jw_key(&w, "downsampled");
    mlflow__jw_bool(&w, ds.downsampled);
    mlflow__jw_end_object(&w);
    mlflow__free(ds.idx);
    mlflow_metric_list_free(list);
    return mlflow__resp_json(out, &w, err);
}
