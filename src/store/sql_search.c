/*
 * sql_search.c - the parsed search language (search.h) compiled to SQL.
 *
 * Every value of the filter, keys included, becomes a bound parameter; the
 * text holds only our own column names and constants. The order is the one
 * mlflow__run_compare / mlflow__experiment_compare define for the file
 * store, so both stores answer a search with the same runs in the same
 * order:
 *   - a clause sorts present values first, then NaN (metrics), then runs
 *     lacking the key, in either direction: NULLS LAST, and for metrics a
 *     rank term (0 present, 1 NaN, 2 missing) before the value;
 *   - strings compare bytewise (the driver's binary collation);
 *   - ties fall to start_time DESC (missing last), then run_id ASC;
 *     written plainly, so an index on (experiment_id, start_time) can hand
 *     out the first page of a one-experiment search without a sort.
 *
 * Filters on metrics, params and tags inner-join the row of that key (the
 * tables' primary keys make it unique), so a run lacking the key never
 * matches, even for `!=`. A NaN metric (is_nan) satisfies only `!=`, as in
 * Python. Where MLflow's SQL store does something the in-memory evaluator
 * cannot see, we follow MLflow: run_name filters test the mlflow.runName
 * tag, and dataset filters look at the run's dataset inputs.
 */
#include "sql.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- query builder ------------------------------------------------------- */

void mlflow__sql_query_release(struct mlflow__sql_query *q)
{
    mlflow__sb_release(&q->sql);
    mlflow__free(q->params);
    q->params = NULL;
    q->n = q->cap = 0;
}

void mlflow__sql_add(struct mlflow__sql_query *q, const char *text)
{
    mlflow__sb_adds(&q->sql, text);
    if (q->sql.oom)
        q->oom = true;
}

void mlflow__sql_bind(struct mlflow__sql_query *q, struct mlflow__sql_value v)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct mlflow__sql_value *np = mlflow__realloc(q->params, cap * sizeof *np);
        if (!np) {
            q->oom = true;
            return;
        }
        q->params = np;
        q->cap = cap;
    }
    q->params[q->n++] = v;
}

static void addf(struct mlflow__sql_query *q, const char *fmt, ...) MLFLOW_PRINTF(2, 3);

static void addf(struct mlflow__sql_query *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlflow__sb_vaddf(&q->sql, fmt, ap);
    va_end(ap);
    if (q->sql.oom)
        q->oom = true;
}

bool mlflow__sql_experiment_id(const char *id, int64_t *out)
{
    /* Decimal digits only: "007" and "+7" are not the id 7 in MLflow's
     * string-typed API either. */
    if (!id || !*id || (id[0] == '0' && id[1]) || strlen(id) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* A number from a filter: an integer parameter when it is one (times are
 * integers), else a double. */
static struct mlflow__sql_value num_value(double d)
{
    if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
        return MLFLOW__SQL_INTV((int64_t)d);
    return MLFLOW__SQL_REALV(d);
}

static const char *cmp_op(int cmp)
{
    switch (cmp) {
    case MLFLOW__CMP_EQ:
        return "=";
    case MLFLOW__CMP_NE:
        return "<>";
    case MLFLOW__CMP_GT:
        return ">";
    case MLFLOW__CMP_GE:
        return ">=";
    case MLFLOW__CMP_LT:
        return "<";
    case MLFLOW__CMP_LE:
        return "<=";
    default:
        return NULL;
    }
}

/* A string comparison of the text expression `expr` with the condition's
 * value(s), all bound. */
static void string_cond(const struct mlflow__sql_driver *drv, struct mlflow__sql_query *q,
                        const char *expr, const struct mlflow__cond *c)
{
    switch (c->cmp) {
    case MLFLOW__CMP_LIKE:
    case MLFLOW__CMP_ILIKE:
        if (!c->str) {
            mlflow__sql_add(q, "1 = 0");
            return;
        }
        drv->like(&q->sql, expr, c->cmp == MLFLOW__CMP_ILIKE);
        mlflow__sql_bind(q, MLFLOW__SQL_TEXTV(c->str));
        return;
    case MLFLOW__CMP_IN:
    case MLFLOW__CMP_NOT_IN:
        if (c->n_list == 0) {
            /* IN () matches nothing, NOT IN () everything (the key exists). */
            mlflow__sql_add(q, c->cmp == MLFLOW__CMP_IN ? "1 = 0" : "1 = 1");
            return;
        }
        addf(q, "%s %s (", expr, c->cmp == MLFLOW__CMP_IN ? "IN" : "NOT IN");
        for (size_t i = 0; i < c->n_list; i++) {
            mlflow__sql_add(q, i ? ", ?" : "?");
            mlflow__sql_bind(q, MLFLOW__SQL_TEXTV(c->list[i]));
        }
        mlflow__sql_add(q, ")");
        return;
    default: {
        const char *op = cmp_op(c->cmp);
        if (!op || !c->str) {
            mlflow__sql_add(q, "1 = 0");
            return;
        }
        addf(q, "%s%s %s ?", expr, drv->binary_collation, op);
        mlflow__sql_bind(q, MLFLOW__SQL_TEXTV(c->str));
        return;
    }
    }
}

/* A numeric comparison of a nullable integer column (run and experiment
 * times): NULL never matches. */
static void time_cond(struct mlflow__sql_query *q, const char *col, const struct mlflow__cond *c)
{
    const char *op = cmp_op(c->cmp);
    if (!c->numeric || !op) {
        mlflow__sql_add(q, "1 = 0");
    } else if (isnan(c->num)) {
        /* Python: only != holds against NaN. */
        addf(q, c->cmp == MLFLOW__CMP_NE ? "%s IS NOT NULL" : "1 = 0", col);
    } else {
        addf(q, "%s %s ?", col, op);
        mlflow__sql_bind(q, num_value(c->num));
    }
}

/* A metric condition on the joined latest_metrics row `alias`. */
static void metric_cond(struct mlflow__sql_query *q, const char *alias,
                        const struct mlflow__cond *c)
{
    const char *op = cmp_op(c->cmp);
    if (!c->numeric || !op)
        mlflow__sql_add(q, "1 = 0");
    else if (isnan(c->num))
        mlflow__sql_add(q, c->cmp == MLFLOW__CMP_NE ? "1 = 1" : "1 = 0");
    else if (c->cmp == MLFLOW__CMP_NE)
        addf(q, "(%s.is_nan OR %s.value <> ?)", alias, alias);
    else
        addf(q, "(NOT %s.is_nan AND %s.value %s ?)", alias, alias, op);
    if (op && c->numeric && !isnan(c->num))
        mlflow__sql_bind(q, MLFLOW__SQL_REALV(c->num));
}

/* ---- runs ----------------------------------------------------------------- */

static const char *const ENTITY_TABLE[] = {
    [MLFLOW__ID_METRIC] = "latest_metrics",
    [MLFLOW__ID_PARAM] = "params",
    [MLFLOW__ID_TAG] = "tags",
};

static bool joins_entity(int ident)
{
    return ident == MLFLOW__ID_METRIC || ident == MLFLOW__ID_PARAM || ident == MLFLOW__ID_TAG;
}

/* Text expression of a string run attribute, NULL if `key` is numeric or
 * unknown. NULL columns read back as "" (see sql_read.c), so they compare as "". */
static const char *run_string_attr(const char *key)
{
    static const struct {
        const char *key, *expr;
    } tab[] = {
        {"run_id", "r.run_uuid"},
        {"run_name", "COALESCE(r.name, '')"},
        {"status", "r.status"},
        {"user_id", "COALESCE(r.user_id, '')"},
        {"artifact_uri", "COALESCE(r.artifact_uri, '')"},
        {"lifecycle_stage", "r.lifecycle_stage"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(tab); i++)
        if (strcmp(tab[i].key, key) == 0)
            return tab[i].expr;
    return NULL;
}

static const char *run_time_attr(const char *key)
{
    if (strcmp(key, "start_time") == 0)
        return "r.start_time";
    if (strcmp(key, "end_time") == 0)
        return "r.end_time";
    return NULL;
}

/* EXISTS over the run's dataset inputs (MLflow's dataset filters). */
static void dataset_cond(const struct mlflow__sql_driver *drv, struct mlflow__sql_query *q,
                         const struct mlflow__cond *c)
{
    const char *col = strcmp(c->key, "name") == 0      ? "d.name"
                      : strcmp(c->key, "digest") == 0  ? "d.digest"
                      : strcmp(c->key, "context") == 0 ? "it.value"
                                                       : NULL;
    if (!col || c->numeric) {
        mlflow__sql_add(q, "1 = 0");
        return;
    }
    mlflow__sql_add(q, "EXISTS (SELECT 1 FROM datasets d JOIN inputs i ON i.source_id = "
                       "d.dataset_uuid");
    if (strcmp(col, "it.value") == 0) {
        mlflow__sql_add(q, " JOIN input_tags it ON it.input_uuid = i.input_uuid AND it.name = ?");
        mlflow__sql_bind(q, MLFLOW__SQL_TEXTV("mlflow.data.context"));
    }
    mlflow__sql_add(q, " WHERE i.destination_id = r.run_uuid AND ");
    string_cond(drv, q, col, c);
    mlflow__sql_add(q, ")");
}

static void run_cond(const struct mlflow__sql_driver *drv, struct mlflow__sql_query *q,
                     const struct mlflow__cond *c, size_t j)
{
    char alias[32];
    snprintf(alias, sizeof alias, "f%zu", j);
    if (c->ident == MLFLOW__ID_METRIC) {
        metric_cond(q, alias, c);
    } else if (c->ident == MLFLOW__ID_PARAM || c->ident == MLFLOW__ID_TAG) {
        char expr[48];
        snprintf(expr, sizeof expr, "%s.value", alias);
        if (c->numeric)
            mlflow__sql_add(q, "1 = 0");
        else
            string_cond(drv, q, expr, c);
    } else if (c->ident == MLFLOW__ID_ATTR && strcmp(c->key, "run_name") == 0) {
        /* MLflow tests the tag: the name column is empty for runs logged by
         * MLflow <= 1.29. The tag row is joined as f<j>. */
        char expr[48];
        snprintf(expr, sizeof expr, "%s.value", alias);
        if (c->numeric)
            mlflow__sql_add(q, "1 = 0");
        else
            string_cond(drv, q, expr, c);
    } else if (c->ident == MLFLOW__ID_ATTR) {
        const char *s = run_string_attr(c->key), *t = run_time_attr(c->key);
        if (s && !c->numeric)
            string_cond(drv, q, s, c);
        else if (t)
            time_cond(q, t, c);
        else
            mlflow__sql_add(q, "1 = 0");
    } else if (c->ident == MLFLOW__ID_DATASET) {
        dataset_cond(drv, q, c);
    } else {
        mlflow__sql_add(q, "1 = 0");
    }
}

static void run_order(const struct mlflow__sql_driver *drv, struct mlflow__sql_query *q,
                      const struct mlflow__order *o, size_t i)
{
    const char *dir = o->ascending ? "ASC" : "DESC";
    if (o->ident == MLFLOW__ID_METRIC) {
        addf(q,
             "CASE WHEN o%zu.run_uuid IS NULL THEN 2 WHEN o%zu.is_nan THEN 1 ELSE 0 END, "
             "o%zu.value %s, ",
             i, i, i, dir);
    } else if (o->ident == MLFLOW__ID_PARAM || o->ident == MLFLOW__ID_TAG) {
        addf(q, "o%zu.value%s %s NULLS LAST, ", i, drv->binary_collation, dir);
    } else if (o->ident == MLFLOW__ID_ATTR) {
        const char *s = run_string_attr(o->key), *t = run_time_attr(o->key);
        if (t)
            addf(q, "%s %s NULLS LAST, ", t, dir);
        else if (s)
            addf(q, "%s%s %s, ", s, drv->binary_collation, dir);
    }
}

int mlflow__sql_compile_runs(const struct mlflow__sql_driver *drv,
                             const struct mlflow__search_runs *q, struct mlflow__sql_query *out,
                             struct mlflow_error *err)
{
    const struct mlflow__filter *f = q->filter;
    const struct mlflow__orders *ord = q->order;
    size_t n_cond = f ? f->n : 0, n_ord = ord ? ord->n : 0;

    /* Ids only: the sort then carries small rows, and an index on runs
     * can answer without the table. sql_read.c fetches the page's rows. */
    mlflow__sql_add(out, "SELECT r.run_uuid FROM runs r");
    /* Outer joins for the sort keys: a run lacking the key stays. */
    for (size_t i = 0; i < n_ord; i++) {
        const struct mlflow__order *o = &ord->items[i];
        if (!joins_entity(o->ident))
            continue;
        addf(out, " LEFT JOIN %s o%zu ON o%zu.run_uuid = r.run_uuid AND o%zu.\"key\" = ?",
             ENTITY_TABLE[o->ident], i, i, i);
        mlflow__sql_bind(out, MLFLOW__SQL_TEXTV(o->key));
    }
    /* Inner joins for the filtered keys: a run lacking the key goes. */
    for (size_t j = 0; j < n_cond; j++) {
        const struct mlflow__cond *c = &f->conds[j];
        bool name = c->ident == MLFLOW__ID_ATTR && strcmp(c->key, "run_name") == 0;
        if (!joins_entity(c->ident) && !name)
            continue;
        addf(out, " JOIN %s f%zu ON f%zu.run_uuid = r.run_uuid AND f%zu.\"key\" = ?",
             name ? "tags" : ENTITY_TABLE[c->ident], j, j, j);
        mlflow__sql_bind(out, MLFLOW__SQL_TEXTV(name ? "mlflow.runName" : c->key));
    }

    mlflow__sql_add(out, " WHERE r.experiment_id IN (");
    size_t n_ids = 0;
    for (size_t i = 0; i < q->n_experiment_ids; i++) {
        int64_t id;
        if (!mlflow__sql_experiment_id(q->experiment_ids[i], &id))
            continue; /* no experiment has it: it adds no runs */
        mlflow__sql_add(out, n_ids++ ? ", ?" : "?");
        mlflow__sql_bind(out, MLFLOW__SQL_INTV(id));
    }
    if (n_ids == 0)
        mlflow__sql_add(out, "NULL");
    mlflow__sql_add(out, ")");
    if (q->view_type == MLFLOW_VIEW_ACTIVE_ONLY)
        mlflow__sql_add(out, " AND r.lifecycle_stage = 'active'");
    else if (q->view_type == MLFLOW_VIEW_DELETED_ONLY)
        mlflow__sql_add(out, " AND r.lifecycle_stage = 'deleted'");
    for (size_t j = 0; j < n_cond; j++) {
        mlflow__sql_add(out, " AND ");
        run_cond(drv, out, &f->conds[j], j);
    }

    mlflow__sql_add(out, " ORDER BY ");
    for (size_t i = 0; i < n_ord; i++)
        run_order(drv, out, &ord->items[i], i);
    addf(out, "r.start_time DESC NULLS LAST, r.run_uuid%s ASC LIMIT ? OFFSET ?",
         drv->binary_collation);
    mlflow__sql_bind(out, MLFLOW__SQL_INTV(q->max_results + 1));
    mlflow__sql_bind(out, MLFLOW__SQL_INTV(q->offset));
    return out->oom ? mlflow__oom(err) : MLFLOW_OK;
}

/* ---- experiments ----------------------------------------------------------- */

static const char *exp_string_attr(const struct mlflow__sql_driver *drv, const char *key, char *buf,
                                   size_t size)
{
    if (strcmp(key, "name") == 0)
        return "e.name";
    if (strcmp(key, "experiment_id") == 0) {
        /* Ids compare as strings, as in the file store (search.h). */
        snprintf(buf, size, "CAST(e.experiment_id AS TEXT)");
        return buf;
    }
    (void)drv;
    return NULL;
}

static const char *exp_time_attr(const char *key)
{
    if (strcmp(key, "creation_time") == 0)
        return "e.creation_time";
    if (strcmp(key, "last_update_time") == 0)
        return "e.last_update_time";
    return NULL;
}

/* One ORDER BY clause; *first tells whether a separator is needed. */
static void exp_order(const struct mlflow__sql_driver *drv, struct mlflow__sql_query *q,
                      const char *key, bool ascending, bool *first)
{
    char buf[64];
    const char *dir = ascending ? "ASC" : "DESC";
    const char *s = exp_string_attr(drv, key, buf, sizeof buf), *t = exp_time_attr(key);
    if (!s && !t)
        return;
    if (!*first)
        mlflow__sql_add(q, ", ");
    *first = false;
    if (t)
        addf(q, "%s %s NULLS LAST", t, dir);
    else
        addf(q, "%s%s %s", s, drv->binary_collation, dir);
}

int mlflow__sql_compile_experiments(const struct mlflow__sql_driver *drv,
                                    const struct mlflow__search_experiments *q,
                                    struct mlflow__sql_query *out, struct mlflow_error *err)
{
    const struct mlflow__filter *f = q->filter;
    const struct mlflow__orders *ord = q->order;
    size_t n_cond = f ? f->n : 0, n_ord = ord ? ord->n : 0;

    mlflow__sql_add(out, "SELECT " MLFLOW__SQL_EXP_COLUMNS " FROM experiments e");
    for (size_t j = 0; j < n_cond; j++) {
        const struct mlflow__cond *c = &f->conds[j];
        if (c->ident != MLFLOW__ID_TAG)
            continue;
        addf(out,
             " JOIN experiment_tags f%zu ON f%zu.experiment_id = e.experiment_id AND "
             "f%zu.\"key\" = ?",
             j, j, j);
        mlflow__sql_bind(out, MLFLOW__SQL_TEXTV(c->key));
    }
    if (q->view_type == MLFLOW_VIEW_ACTIVE_ONLY)
        mlflow__sql_add(out, " WHERE e.lifecycle_stage = 'active'");
    else if (q->view_type == MLFLOW_VIEW_DELETED_ONLY)
        mlflow__sql_add(out, " WHERE e.lifecycle_stage = 'deleted'");
    else
        mlflow__sql_add(out, " WHERE 1 = 1");
    for (size_t j = 0; j < n_cond; j++) {
        const struct mlflow__cond *c = &f->conds[j];
        char buf[64], expr[48];
        mlflow__sql_add(out, " AND ");
        if (c->ident == MLFLOW__ID_TAG) {
            snprintf(expr, sizeof expr, "f%zu.value", j);
            if (c->numeric)
                mlflow__sql_add(out, "1 = 0");
            else
                string_cond(drv, out, expr, c);
        } else if (c->ident == MLFLOW__ID_ATTR) {
            const char *s = exp_string_attr(drv, c->key, buf, sizeof buf);
            const char *t = exp_time_attr(c->key);
            if (s && !c->numeric)
                string_cond(drv, out, s, c);
            else if (t)
                time_cond(out, t, c);
            else
                mlflow__sql_add(out, "1 = 0");
        } else {
            mlflow__sql_add(out, "1 = 0");
        }
    }

    mlflow__sql_add(out, " ORDER BY ");
    bool has_id = false, first = true;
    if (n_ord == 0) {
        exp_order(drv, out, "creation_time", false, &first);
        exp_order(drv, out, "experiment_id", true, &first);
        has_id = true;
    }
    for (size_t i = 0; i < n_ord; i++) {
        const struct mlflow__order *o = &ord->items[i];
        if (o->ident != MLFLOW__ID_ATTR)
            continue;
        has_id |= strcmp(o->key, "experiment_id") == 0;
        exp_order(drv, out, o->key, o->ascending, &first);
    }
    if (!has_id)
        exp_order(drv, out, "experiment_id", false, &first);
    mlflow__sql_add(out, " LIMIT ? OFFSET ?");
    mlflow__sql_bind(out, MLFLOW__SQL_INTV(q->max_results + 1));
    mlflow__sql_bind(out, MLFLOW__SQL_INTV(q->offset));
    return out->oom ? mlflow__oom(err) : MLFLOW_OK;
}
