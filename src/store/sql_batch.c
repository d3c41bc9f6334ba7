/*
 * sql_batch.c - the SQL store's bulk writes: a log_batch (or a migrated
 * run) goes to the database as a few multi-row INSERTs instead of one
 * statement per param, tag and metric point. Over a network each statement
 * is a round trip, so a batch of 1000 points used to cost 1000 of them.
 *
 * Rows are sent in chunks whose row counts are powers of two (1, 2, 4, ...
 * up to MAX_ROWS): any batch is a handful of statements, and since their
 * texts repeat, the drivers prepare each shape once per connection and keep
 * it. Chunks stay under both dialects' parameter limits (SQLite 32766,
 * PostgreSQL 65535).
 *
 * The semantics are those of one statement per row, in batch order:
 *   - metric points: identical points collapse (the primary key covers
 *     them all: ON CONFLICT DO NOTHING), and points are inserted in batch
 *     order, which is the order get_metric_history returns;
 *   - latest_metrics: one row per key of the batch, its greatest (step,
 *     timestamp, value), moved forward only, by an upsert whose WHERE the
 *     database evaluates against the newest row version (so a concurrent
 *     writer's newer value is never overwritten);
 *   - params are write-once: inserted with DO NOTHING, and when fewer rows
 *     went in than were sent, the stored values are read back and the
 *     first param of the batch whose stored value differs is refused,
 *     naming its key;
 *   - tags: the last value of a key in the batch wins.
 * Rows that update (latest_metrics, tags) go in key order, so two
 * transactions writing the same run lock its rows in the same order.
 */
#include "sql.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per statement at most, and parameters per statement at most (the
 * smaller of the two dialects' limits). */
#define MAX_ROWS 1024
#define MAX_PARAMS 32766

/* ---- multi-row INSERT ---------------------------------------------------- */

/* Fills the cols values of row i. */
typedef void (*row_fill_fn)(const void *ctx, size_t i, struct mlflow__sql_value *row);

static size_t pow2_floor(size_t n)
{
    size_t p = 1;
    while (p * 2 <= n)
        p *= 2;
    return p;
}

/* "<head>(?, ...), (?, ...) <tail>" for rows rows of cols values. */
static char *insert_text(const char *head, const char *tail, size_t cols, size_t rows)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    mlflow__sb_adds(&sb, head);
    for (size_t r = 0; r < rows; r++) {
        mlflow__sb_adds(&sb, r ? ", (?" : " (?");
        for (size_t i = 1; i < cols; i++)
            mlflow__sb_adds(&sb, ", ?");
        mlflow__sb_addc(&sb, ')');
    }
    mlflow__sb_addc(&sb, ' ');
    mlflow__sb_adds(&sb, tail);
    return mlflow__sb_detach(&sb);
}

/* Runs "<head> VALUES-rows <tail>" over rows 0..n (fill gives each row's
 * values), in order, in power-of-two chunks. *changes (may be NULL): the
 * rows the statements reported as changed, summed. */
static int insert_rows(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *head,
                       const char *tail, size_t cols, size_t n, row_fill_fn fill, const void *ctx,
                       int64_t *changes, struct mlflow_error *err)
{
    size_t cap = pow2_floor(MAX_PARAMS / cols < MAX_ROWS ? MAX_PARAMS / cols : MAX_ROWS);
    size_t first = pow2_floor(n < cap ? (n ? n : 1) : cap);
    struct mlflow__sql_value *vals = mlflow__malloc(first * cols * sizeof *vals);
    if (!vals)
        return mlflow__oom(err);
    if (changes)
        *changes = 0;
    int rc = MLFLOW_OK;
    char *sql = NULL;
    size_t sql_rows = 0;
    for (size_t done = 0; !rc && done < n;) {
        size_t left = n - done;
        size_t rows = pow2_floor(left < cap ? left : cap);
        if (rows != sql_rows) {
            mlflow__free(sql);
            sql = insert_text(head, tail, cols, rows);
            sql_rows = rows;
            if (!sql) {
                rc = mlflow__oom(err);
                break;
            }
        }
        for (size_t i = 0; i < rows; i++)
            fill(ctx, done + i, vals + i * cols);
        int64_t ch = 0;
        rc = mlflow__sql_exec(st, c, sql, vals, rows * cols, &ch, err);
        if (changes)
            *changes += ch;
        done += rows;
    }
    mlflow__free(sql);
    mlflow__free(vals);
    return rc;
}

/* ---- metrics --------------------------------------------------------------- */

double mlflow__sql_stored_value(double v, bool *is_nan)
{
    *is_nan = isnan(v);
    if (*is_nan)
        return 0.0;
    if (isinf(v))
        return v > 0 ? DBL_MAX : -DBL_MAX;
    return v;
}

struct metric_rows {
    const struct mlflow_metric *m;
    const size_t *idx; /* NULL: row i is m[i] */
    const char *run_id;
};

static void fill_metric(const void *ctx, size_t i, struct mlflow__sql_value *v)
{
    const struct metric_rows *x = ctx;
    const struct mlflow_metric *m = &x->m[x->idx ? x->idx[i] : i];
    bool is_nan;
    double d = mlflow__sql_stored_value(m->value, &is_nan);
    v[0] = MLFLOW__SQL_TEXTV(m->key);
    v[1] = MLFLOW__SQL_REALV(d);
    v[2] = MLFLOW__SQL_INTV(m->timestamp);
    v[3] = MLFLOW__SQL_INTV(m->step);
    v[4] = MLFLOW__SQL_INTV(is_nan ? 1 : 0);
    v[5] = MLFLOW__SQL_TEXTV(x->run_id);
}

/* MLflow's "more recent" on stored values: (step, timestamp, value) > . */
static bool newer(const struct mlflow_metric *a, const struct mlflow_metric *b)
{
    bool na, nb;
    double va = mlflow__sql_stored_value(a->value, &na);
    double vb = mlflow__sql_stored_value(b->value, &nb);
    if (a->step != b->step)
        return a->step > b->step;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return va > vb;
}

/* For each key of m[0..n), in key order, the index of its greatest point
 * (the first of equals). *out is malloc'ed. */
static int latest_points(const struct mlflow_metric *m, size_t n, size_t **out, size_t *n_out)
{
    *out = mlflow__malloc((n ? n : 1) * sizeof **out);
    struct mlflow__key_idx *order = mlflow__key_order(m, n, sizeof *m);
    if (!*out || !order) {
        mlflow__free(*out);
        mlflow__free(order);
        *out = NULL;
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t cur = order[i].i;
        if (i == 0 || strcmp(order[i - 1].key, order[i].key) != 0)
            (*out)[k++] = cur;
        else if (newer(&m[cur], &m[(*out)[k - 1]]))
            (*out)[k - 1] = cur;
    }
    mlflow__free(order);
    *n_out = k;
    return 0;
}

static const char METRIC_HEAD[] =
    "INSERT INTO metrics (\"key\", value, timestamp, step, is_nan, run_uuid) VALUES";
static const char METRIC_TAIL[] = "ON CONFLICT DO NOTHING";

/* latest_metrics keeps the greatest (step, timestamp, value) of the stored
 * values, as MLflow's _update_latest_metrics_if_necessary. */
static const char LATEST_HEAD[] =
    "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) VALUES";
static const char LATEST_TAIL[] =
    "ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value, timestamp = "
    "excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan WHERE (excluded.step, "
    "excluded.timestamp, excluded.value) > (latest_metrics.step, latest_metrics.timestamp, "
    "latest_metrics.value)";

int mlflow__sql_write_metrics(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                              const char *run_id, const struct mlflow_metric *m, size_t n,
                              struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    size_t *latest, n_latest;
    if (latest_points(m, n, &latest, &n_latest))
        return mlflow__oom(err);
    struct metric_rows all = {m, NULL, run_id}, best = {m, latest, run_id};
    int rc = insert_rows(st, c, METRIC_HEAD, METRIC_TAIL, 6, n, fill_metric, &all, NULL, err);
    if (!rc)
        rc = insert_rows(st, c, LATEST_HEAD, LATEST_TAIL, 6, n_latest, fill_metric, &best, NULL,
                         err);
    mlflow__free(latest);
    return rc;
}

/* ---- params and tags --------------------------------------------------------- */

struct kv_rows {
    const struct mlflow_kv *kv;
    const struct mlflow__key_idx *order; /* row i is kv[order[i].i] */
    const char *run_id;
};

static void fill_kv(const void *ctx, size_t i, struct mlflow__sql_value *v)
{
    const struct kv_rows *x = ctx;
    const struct mlflow_kv *kv = &x->kv[x->order[i].i];
    v[0] = MLFLOW__SQL_TEXTV(kv->key);
    v[1] = MLFLOW__SQL_TEXTV(kv->value ? kv->value : "");
    v[2] = MLFLOW__SQL_TEXTV(x->run_id);
}

/* kv[0..n) by key; with last_wins, only the last of each key is kept,
 * else the first. *out is malloc'ed. */
static struct mlflow__key_idx *key_order(const struct mlflow_kv *kv, size_t n, bool last_wins,
                                 size_t *n_out)
{
    struct mlflow__key_idx *o = mlflow__key_order(kv, n, sizeof *kv);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && strcmp(o[k - 1].key, o[i].key) == 0) {
            if (last_wins)
                o[k - 1] = o[i];
            continue;
        }
        o[k++] = o[i];
    }
    *n_out = k;
    return o;
}

/* Binary search in order[0..n) (sorted by key): the first entry with key,
 * or n. */
static size_t find_key(const struct mlflow__key_idx *order, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(order[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(order[lo].key, key) == 0 ? lo : n;
}

/* The stored values of some params of one run. */
struct stored_params {
    const struct mlflow__sql_driver *drv;
    const struct mlflow__key_idx *order; /* the batch's keys, sorted, unique */
    size_t n;
    char **values; /* per order[] entry: its stored value (malloc'ed) or NULL */
    bool oom;
};

static int stored_param_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct stored_params *s = ctx;
    const char *key = s->drv->col_text(row, 0), *value = s->drv->col_text(row, 1);
    size_t k = key ? find_key(s->order, s->n, key) : s->n;
    if (k < s->n && !s->values[k] && !(s->values[k] = mlflow__strdup(value ? value : "")))
        s->oom = true;
    return s->oom ? MLFLOW_RESOURCE_EXHAUSTED : MLFLOW_OK;
}

/* Reads the stored values of the keys in s->order, in power-of-two chunks
 * of bound keys. */
static int read_stored_params(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                              const char *run_id, struct stored_params *s,
                              struct mlflow_error *err)
{
    struct mlflow__sql_value *p = mlflow__malloc((pow2_floor(s->n) + 1) * sizeof *p);
    if (!p)
        return mlflow__oom(err);
    int rc = MLFLOW_OK;
    for (size_t done = 0; !rc && done < s->n;) {
        size_t rows = pow2_floor(s->n - done);
        struct mlflow__sb sql = MLFLOW__SB_INIT;
        mlflow__sb_adds(&sql,
                        "SELECT \"key\", value FROM params WHERE run_uuid = ? AND \"key\" IN (");
        p[0] = MLFLOW__SQL_TEXTV(run_id);
        for (size_t i = 0; i < rows; i++) {
            mlflow__sb_adds(&sql, i ? ", ?" : "?");
            p[i + 1] = MLFLOW__SQL_TEXTV(s->order[done + i].key);
        }
        mlflow__sb_addc(&sql, ')');
        if (sql.oom)
            rc = mlflow__oom(err);
        else
            rc = st->drv->exec(c, sql.buf, p, rows + 1, stored_param_row, s, NULL, err);
        if (rc == MLFLOW_RESOURCE_EXHAUSTED)
            rc = mlflow__oom(err);
        mlflow__sb_release(&sql);
        done += rows;
    }
    mlflow__free(p);
    return rc;
}

/* After an insert that skipped some params: refuses the first param of
 * the batch, in batch order, whose stored value is another one. */
static int check_params(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                        const char *run_id, const struct mlflow_kv *params, size_t n,
                        const struct mlflow__key_idx *order, size_t n_order,
                        struct mlflow_error *err)
{
    struct stored_params s = {st->drv, order, n_order, NULL, false};
    /* One more slot, NULL, for a key find_key does not find. */
    s.values = mlflow__calloc(n_order + 1, sizeof *s.values);
    if (!s.values)
        return mlflow__oom(err);
    int rc = read_stored_params(st, c, run_id, &s, err);
    for (size_t i = 0; !rc && i < n; i++) {
        const char *v = params[i].value ? params[i].value : "";
        const char *stored = s.values[find_key(order, n_order, params[i].key)];
        if (stored && strcmp(v, stored) != 0)
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "Changing param values is not allowed. Param with key='%s' was "
                                "already logged with value='%.300s' for run ID='%s'. Attempted "
                                "logging new value '%.300s'.",
                                params[i].key, stored, run_id, v);
    }
    for (size_t k = 0; k < n_order; k++)
        mlflow__free(s.values[k]);
    mlflow__free(s.values);
    return rc;
}

int mlflow__sql_write_params(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                             const char *run_id, const struct mlflow_kv *params, size_t n,
                             struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    size_t n_order;
    struct mlflow__key_idx *order = key_order(params, n, false, &n_order);
    if (!order)
        return mlflow__oom(err);
    struct kv_rows rows = {params, order, run_id};
    int64_t inserted = 0;
    int rc = insert_rows(st, c, "INSERT INTO params (\"key\", value, run_uuid) VALUES",
                         "ON CONFLICT (\"key\", run_uuid) DO NOTHING", 3, n_order, fill_kv, &rows,
                         &inserted, err);
    /* Some were there already: the same value is fine, another one is not.
     * (A duplicate key within the batch counts as already there.) */
    if (!rc && inserted != (int64_t)n)
        rc = check_params(st, c, run_id, params, n, order, n_order, err);
    mlflow__free(order);
    return rc;
}

int mlflow__sql_write_tags(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                           const char *run_id, const struct mlflow_kv *tags, size_t n,
                           struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    size_t n_order;
    struct mlflow__key_idx *order = key_order(tags, n, true, &n_order);
    if (!order)
        return mlflow__oom(err);
    struct kv_rows rows = {tags, order, run_id};
    int rc = insert_rows(st, c, "INSERT INTO tags (\"key\", value, run_uuid) VALUES",
                         "ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value", 3,
                         n_order, fill_kv, &rows, NULL, err);
    mlflow__free(order);
    return rc;
}
