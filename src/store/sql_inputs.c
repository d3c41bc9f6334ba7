/*
 * sql_inputs.c - dataset inputs in MLflow's SQL schema (tables datasets,
 * inputs, input_tags), for every SQL driver.
 *
 * A dataset row is kept once per (experiment, name, digest) and an input
 * edge once per (dataset, run): logging again keeps the first record and
 * its tags, as MLflow's _log_inputs_impl does.
 */
#include "sql.h"

#include <stdio.h>
#include <string.h>

struct run_row {
    const struct mlflow__sql_driver *drv;
    bool found;
    char stage[32];
    int64_t experiment_id;
};

static int run_row_fn(void *ctx, const struct mlflow__sql_row *row)
{
    struct run_row *r = ctx;
    const char *s = r->drv->col_text(row, 0);
    r->found = true;
    snprintf(r->stage, sizeof r->stage, "%s", s ? s : "");
    r->experiment_id = r->drv->col_int(row, 1);
    return MLFLOW_OK;
}

struct inputs_arg {
    const char *run_id;
    const struct mlflow_dataset_input *inputs;
    size_t n;
};

static struct mlflow__sql_value text_or_null(const char *s)
{
    return s ? MLFLOW__SQL_TEXTV(s) : MLFLOW__SQL_NULLV;
}

static int dataset_uuid(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, int64_t exp_id,
                        const struct mlflow_dataset *d, char out[33], struct mlflow_error *err)
{
    struct mlflow__sql_value key[] = {MLFLOW__SQL_INTV(exp_id), MLFLOW__SQL_TEXTV(d->name),
                                      MLFLOW__SQL_TEXTV(d->digest)};
    struct mlflow__sql_cell cl;
    int rc = mlflow__sql_query_cell(st, c,
                                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? "
                                    "AND name = ? AND digest = ?",
                                    key, 3, &cl, err);
    if (rc)
        return rc;
    if (cl.found) {
        snprintf(out, 33, "%.32s", cl.text);
        return MLFLOW_OK;
    }
    mlflow__uuid_hex(out);
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(out),       MLFLOW__SQL_INTV(exp_id),
        MLFLOW__SQL_TEXTV(d->name),   MLFLOW__SQL_TEXTV(d->digest),
        MLFLOW__SQL_TEXTV(d->source_type), MLFLOW__SQL_TEXTV(d->source),
        text_or_null(d->schema),      text_or_null(d->profile)};
    return mlflow__sql_exec(st, c,
                            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, "
                            "dataset_source_type, dataset_source, dataset_schema, "
                            "dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            p, MLFLOW_ARRAY_LEN(p), NULL, err);
}

static int add_input(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *run_id,
                     const char *ds_uuid, const struct mlflow_dataset_input *in,
                     struct mlflow_error *err)
{
    struct mlflow__sql_value key[] = {MLFLOW__SQL_TEXTV(ds_uuid), MLFLOW__SQL_TEXTV(run_id)};
    struct mlflow__sql_cell cl;
    int rc = mlflow__sql_query_cell(st, c,
                                    "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' "
                                    "AND source_id = ? AND destination_type = 'RUN' AND "
                                    "destination_id = ?",
                                    key, 2, &cl, err);
    if (rc || cl.found)
        return rc;
    char id[33];
    mlflow__uuid_hex(id);
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(id), MLFLOW__SQL_TEXTV(ds_uuid),
                                    MLFLOW__SQL_TEXTV(run_id)};
    rc = mlflow__sql_exec(st, c,
                          "INSERT INTO inputs (input_uuid, source_type, source_id, "
                          "destination_type, destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)",
                          p, 3, NULL, err);
    /* A key given twice: the last value wins, as in the file store's map. */
    for (size_t t = 0; !rc && t < in->n_tags; t++) {
        struct mlflow__sql_value tp[] = {MLFLOW__SQL_TEXTV(id),
                                         MLFLOW__SQL_TEXTV(in->tags[t].key),
                                         MLFLOW__SQL_TEXTV(in->tags[t].value)};
        rc = mlflow__sql_exec(st, c,
                              "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?) "
                              "ON CONFLICT (input_uuid, name) DO UPDATE SET value = "
                              "excluded.value",
                              tp, 3, NULL, err);
    }
    return rc;
}

static int log_inputs_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    struct inputs_arg *x = arg;
    struct run_row r = {.drv = st->drv};
    struct mlflow__sql_value p = MLFLOW__SQL_TEXTV(x->run_id);
    int rc = st->drv->exec(c, "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?",
                           &p, 1, run_row_fn, &r, NULL, err);
    if (rc)
        return rc;
    if (!r.found)
        return mlflow__sql_no_run(x->run_id, err);
    if (strcmp(r.stage, "active") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "The run %s must be in the 'active' state. Current state is %s.",
                              x->run_id, r.stage);
    for (size_t i = 0; !rc && i < x->n; i++) {
        char ds[33];
        rc = dataset_uuid(st, c, r.experiment_id, &x->inputs[i].dataset, ds, err);
        if (!rc)
            rc = add_input(st, c, x->run_id, ds, &x->inputs[i], err);
    }
    return rc;
}

int mlflow__sql_log_inputs(struct mlflow__store *s, const char *run_id,
                           const struct mlflow_dataset_input *inputs, size_t n,
                           struct mlflow_error *err)
{
    struct inputs_arg x = {run_id, inputs, n};
    return mlflow__sql_with_tx((struct mlflow__sql_store *)s, true, log_inputs_tx, &x, NULL, err);
}

/* ---- reading ---- */

struct input_rows {
    const struct mlflow__sql_driver *drv;
    struct mlflow__arena *a;
    struct mlflow_dataset_input *v;
    size_t n, cap;
    char last[33];
    bool oom;
};

static const char *col(struct input_rows *x, const struct mlflow__sql_row *row, int i)
{
    if (x->drv->col_null(row, i))
        return NULL;
    const char *s = x->drv->col_text(row, i);
    char *d = mlflow__arena_strdup(x->a, s ? s : "");
    if (!d)
        x->oom = true;
    return d;
}

/* Rows come one per (input, tag), ordered by input: a new input_uuid starts
 * a new input. Tag arrays grow inside the arena (small: a few tags each). */
static int input_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct input_rows *x = ctx;
    const char *id = x->drv->col_text(row, 0);
    if (!id)
        return MLFLOW_OK;
    if (x->n == 0 || strcmp(id, x->last) != 0) {
        if (x->n == x->cap) {
            size_t nc = x->cap ? x->cap * 2 : 4;
            struct mlflow_dataset_input *nv = mlflow__arena_alloc(x->a, nc * sizeof *nv);
            if (!nv)
                return MLFLOW_RESOURCE_EXHAUSTED;
            if (x->n)
                memcpy(nv, x->v, x->n * sizeof *nv);
            x->v = nv;
            x->cap = nc;
        }
        struct mlflow_dataset *d = &x->v[x->n++].dataset;
        snprintf(x->last, sizeof x->last, "%s", id);
        d->name = col(x, row, 1);
        d->digest = col(x, row, 2);
        d->source_type = col(x, row, 3);
        d->source = col(x, row, 4);
        d->schema = col(x, row, 5);
        d->profile = col(x, row, 6);
    }
    if (!x->drv->col_null(row, 7)) {
        struct mlflow_dataset_input *in = &x->v[x->n - 1];
        struct mlflow_kv *tags = mlflow__arena_alloc(x->a, (in->n_tags + 1) * sizeof *tags);
        if (!tags)
            return MLFLOW_RESOURCE_EXHAUSTED;
        if (in->n_tags)
            memcpy(tags, in->tags, in->n_tags * sizeof *tags);
        tags[in->n_tags].key = col(x, row, 7);
        tags[in->n_tags].value = col(x, row, 8);
        in->tags = tags;
        in->n_tags++;
    }
    return x->oom ? MLFLOW_RESOURCE_EXHAUSTED : MLFLOW_OK;
}

static int found_row(void *ctx, const struct mlflow__sql_row *row)
{
    (void)row;
    *(bool *)ctx = true;
    return MLFLOW_OK;
}

int mlflow__sql_load_run_inputs(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                struct mlflow__arena *a, struct mlflow_run *runs, size_t n,
                                struct mlflow_error *err)
{
    /* One indexed query per run below; most stores hold no inputs at all,
     * and then a search of 50k runs must not pay 50k queries. */
    bool any = false;
    int rc = n ? st->drv->exec(c,
                               "SELECT 1 FROM inputs WHERE destination_type = 'RUN' LIMIT 1",
                               NULL, 0, found_row, &any, NULL, err)
               : MLFLOW_OK;
    if (rc || !any)
        return rc;
    char sql[1024];
    const char *coll = st->drv->binary_collation;
    snprintf(sql, sizeof sql,
             "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, "
             "d.dataset_schema, d.dataset_profile, t.name, t.value FROM inputs i "
             "JOIN datasets d ON d.dataset_uuid = i.source_id "
             "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
             "WHERE i.destination_type = 'RUN' AND i.source_type = 'DATASET' AND "
             "i.destination_id = ? ORDER BY d.name%s, d.digest%s, i.input_uuid, t.name%s",
             coll, coll, coll);
    for (size_t i = 0; !rc && i < n; i++) {
        struct input_rows x = {.drv = st->drv, .a = a};
        struct mlflow__sql_value p = MLFLOW__SQL_TEXTV(runs[i].info.run_id);
        rc = st->drv->exec(c, sql, &p, 1, input_row, &x, NULL, err);
        if (rc == MLFLOW_RESOURCE_EXHAUSTED || x.oom)
            rc = mlflow__oom(err);
        runs[i].inputs = x.n ? x.v : NULL;
        runs[i].n_inputs = x.n;
    }
    return rc;
}
