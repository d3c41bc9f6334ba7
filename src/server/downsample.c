/*
 * downsample.c - which points of a long metric history a chart needs.
 *
 * A chart of a million points is drawn from a few thousand: the screen has
 * no more columns than that. Uniform sampling would lose exactly what a
 * person looks for (a loss spike, a divergence), so the x range is cut into
 * equal buckets and each bucket keeps its lowest and its highest point
 * (the "min/max" or M4-style reduction): every extreme survives, and a line
 * through the kept points covers the same vertical extent in every column as
 * the full history. The points are real ones, never averages, so hover
 * values are values that were logged.
 */
#include "server.h"

#include <math.h>
#include <stdlib.h>

static int64_t x_of(const struct mlflow_metric *m, enum mlflow__ds_axis axis)
{
    return axis == MLFLOW__DS_STEP ? m->step : m->timestamp;
}

static int64_t other_of(const struct mlflow_metric *m, enum mlflow__ds_axis axis)
{
    return axis == MLFLOW__DS_STEP ? m->timestamp : m->step;
}

struct sort_ctx {
    const struct mlflow_metric *m;
    enum mlflow__ds_axis axis;
};

/* x, then the other axis, then logging order: a total order, so the
 * result does not depend on the sort algorithm. */
static int cmp_points(const struct sort_ctx *c, size_t i, size_t j)
{
    int64_t xi = x_of(&c->m[i], c->axis), xj = x_of(&c->m[j], c->axis);
    if (xi != xj)
        return xi < xj ? -1 : 1;
    int64_t oi = other_of(&c->m[i], c->axis), oj = other_of(&c->m[j], c->axis);
    if (oi != oj)
        return oi < oj ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int cmp_idx(const void *a, const void *b, void *ctx)
{
    return cmp_points(ctx, *(const size_t *)a, *(const size_t *)b);
}

/* Appends pos to out unless it is already the last one (positions arrive in
 * increasing order). */
static void keep(size_t *out, size_t *n, size_t pos)
{
    if (*n == 0 || out[*n - 1] < pos)
        out[(*n)++] = pos;
}

int mlflow__downsample(const struct mlflow_metric *m, size_t n, const struct mlflow__ds_opts *o,
                       struct mlflow__ds_result *out, struct mlflow_error *err)
{
    *out = (struct mlflow__ds_result){0};
    size_t *idx = mlflow__malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return mlflow__oom(err);
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)x_of(&m[i], o->axis);
        if ((o->has_min && x < o->min_x) || (o->has_max && x > o->max_x))
            continue;
        idx[t++] = i;
    }
    /* Stores hand histories back in logging order, which is nearly always
     * x order already: check before paying for a sort. */
    struct sort_ctx ctx = {m, o->axis};
    for (size_t k = 1; k < t; k++)
        if (cmp_points(&ctx, idx[k - 1], idx[k]) > 0) {
            qsort_r(idx, t, sizeof *idx, cmp_idx, &ctx);
            break;
        }
    out->total = t;
    size_t max_points = o->max_points < 2 ? 2 : o->max_points;
    if (t <= max_points) {
        out->idx = idx;
        out->n = t;
        return MLFLOW_OK;
    }

    size_t buckets = (max_points - 2) / 2;
    size_t *res = mlflow__malloc((2 * buckets + 2) * sizeof *res);
    if (!res) {
        mlflow__free(idx);
        return mlflow__oom(err);
    }
    size_t nres = 0;
    keep(res, &nres, 0);
    double lo = (double)x_of(&m[idx[0]], o->axis);
    double span = (double)x_of(&m[idx[t - 1]], o->axis) - lo;
    /* Positions k (into idx) of the current bucket's extremes; SIZE_MAX: none. */
    size_t cur = 0, pmin = SIZE_MAX, pmax = SIZE_MAX, pgap = SIZE_MAX;
    for (size_t k = 0; buckets && k <= t; k++) {
        size_t b = buckets;
        if (k < t) {
            /* Buckets of equal x width; when every point shares one x, of
             * equal counts instead. */
            double x = (double)x_of(&m[idx[k]], o->axis);
            b = span > 0 ? (size_t)((x - lo) / span * (double)buckets) : k * buckets / t;
            if (b >= buckets)
                b = buckets - 1;
        }
        if (b != cur) {
            /* Flush the finished bucket, its two points in x order. */
            if (pmin != SIZE_MAX) {
                keep(res, &nres, pmin < pmax ? pmin : pmax);
                keep(res, &nres, pmin < pmax ? pmax : pmin);
            } else if (pgap != SIZE_MAX) {
                keep(res, &nres, pgap);
            }
            cur = b;
            pmin = pmax = pgap = SIZE_MAX;
        }
        if (k == t)
            break;
        double v = m[idx[k]].value;
        if (!isfinite(v)) {
            if (pgap == SIZE_MAX)
                pgap = k;
            continue;
        }
        if (pmin == SIZE_MAX || v < m[idx[pmin]].value)
            pmin = k;
        if (pmax == SIZE_MAX || v > m[idx[pmax]].value)
            pmax = k;
    }
    keep(res, &nres, t - 1);
    for (size_t j = 0; j < nres; j++)
        res[j] = idx[res[j]];
    mlflow__free(idx);
    out->idx = res;
    out->n = nres;
    out->downsampled = true;
    return MLFLOW_OK;
}
