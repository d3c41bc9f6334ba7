/*
 * sql_import.c - the SQL store's import ops (store.h): experiments and runs
 * copied from another store with their ids, times and lifecycle kept, for
 * `mlflow-c migrate`. Each import is one transaction, so a migration that
 * stops half way leaves whole runs only and can simply be rerun.
 *
 * Experiment ids become the integer experiment_id column. MLflow's schema
 * declares it INTEGER: in SQLite that holds any 64-bit value (the 18-digit
 * ids of file stores fit); in PostgreSQL INTEGER is 32-bit, so such ids
 * would need the column widened there.
 */
#include "sql.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SQ(s) ((struct mlflow__sql_store *)(s))

static const char EXP_TAG_UPSERT[] =
    "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value";
static const char RUN_TAG_UPSERT[] =
    "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value";
static const char PARAM_UPSERT[] =
    "INSERT INTO params (\"key\", value, run_uuid) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value";
/* As in log_batch (sql.c): identical points collapse, and latest_metrics
 * keeps the greatest (step, timestamp, value) of the stored values. */
static const char METRIC_INSERT[] =
    "INSERT INTO metrics (\"key\", value, timestamp, step, is_nan, run_uuid) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
static const char LATEST_UPSERT[] =
    "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (\"key\", run_uuid) DO UPDATE SET "
    "value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, "
    "is_nan = excluded.is_nan WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)";

static struct mlflow__sql_value time_value(int64_t t)
{
    return t == MLFLOW_TIME_UNSET ? MLFLOW__SQL_NULLV : MLFLOW__SQL_INTV(t);
}

static int exp_number(const char *id, int64_t *num, struct mlflow_error *err)
{
    if (mlflow__sql_experiment_id(id, num))
        return MLFLOW_OK;
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Experiment ID '%.300s' cannot be kept in a SQL store: its schema "
                          "holds experiment ids as integers",
                          id ? id : "(null)");
}

static int import_experiment_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                void *arg, struct mlflow_error *err)
{
    const struct mlflow_experiment *e = arg;
    int64_t num;
    int rc = exp_number(e->experiment_id, &num, err);
    struct mlflow__sql_value key = MLFLOW__SQL_INTV(num);
    struct mlflow__sql_cell cell;
    if (!rc)
        rc = mlflow__sql_query_cell(st, c, "SELECT name FROM experiments WHERE experiment_id = ?",
                                    &key, 1, &cell, err);
    if (!rc && cell.found)
        return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                              "Experiment with ID %s already exists.", e->experiment_id);
    bool deleted = strcmp(e->lifecycle_stage, "deleted") == 0;
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_INTV(num),
        MLFLOW__SQL_TEXTV(e->name),
        e->artifact_location ? MLFLOW__SQL_TEXTV(e->artifact_location) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_TEXTV(deleted ? "deleted" : "active"),
        time_value(e->creation_time),
        time_value(e->last_update_time),
    };
    if (!rc)
        rc = mlflow__sql_exec(st, c,
                              "INSERT INTO experiments (experiment_id, name, artifact_location, "
                              "lifecycle_stage, creation_time, last_update_time) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              p, MLFLOW_ARRAY_LEN(p), NULL, err);
    if (rc && st->drv->unique_violation(c)) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                              "Experiment(name=%s) already exists. Error: %s", e->name, msg);
    }
    if (!rc && st->drv->sync_experiment_ids_sql)
        rc = mlflow__sql_exec(st, c, st->drv->sync_experiment_ids_sql, NULL, 0, NULL, err);
    for (size_t i = 0; !rc && i < e->n_tags; i++) {
        struct mlflow__sql_value t[] = {
            MLFLOW__SQL_TEXTV(e->tags[i].key),
            MLFLOW__SQL_TEXTV(e->tags[i].value ? e->tags[i].value : ""),
            MLFLOW__SQL_INTV(num),
        };
        rc = mlflow__sql_exec(st, c, EXP_TAG_UPSERT, t, 3, NULL, err);
    }
    return rc;
}

int mlflow__sql_import_experiment(struct mlflow__store *s, const struct mlflow_experiment *e,
                                  struct mlflow_error *err)
{
    return mlflow__sql_with_tx(SQ(s), true, import_experiment_tx, (void *)e, NULL, err);
}

struct import_run_arg {
    const struct mlflow_run *run;
    const struct mlflow_metric *history;
    size_t n;
};

/* MLflow's SQL encoding: NaN is 0 with is_nan, infinities the largest
 * finite doubles. */
static void metric_values(const struct mlflow_metric *m, const char *run_id,
                          struct mlflow__sql_value v[6])
{
    bool is_nan = isnan(m->value);
    double d = is_nan ? 0.0 : isinf(m->value) ? (m->value > 0 ? DBL_MAX : -DBL_MAX) : m->value;
    v[0] = MLFLOW__SQL_TEXTV(m->key);
    v[1] = MLFLOW__SQL_REALV(d);
    v[2] = MLFLOW__SQL_INTV(m->timestamp);
    v[3] = MLFLOW__SQL_INTV(m->step);
    v[4] = MLFLOW__SQL_INTV(is_nan ? 1 : 0);
    v[5] = MLFLOW__SQL_TEXTV(run_id);
}

static int import_run_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    const struct import_run_arg *x = arg;
    const struct mlflow_run_info *info = &x->run->info;
    const struct mlflow_run_data *data = &x->run->data;
    int64_t num;
    int rc = exp_number(info->experiment_id, &num, err);
    struct mlflow__sql_value key = MLFLOW__SQL_INTV(num);
    struct mlflow__sql_cell cell;
    if (!rc)
        rc = mlflow__sql_query_cell(st, c, "SELECT name FROM experiments WHERE experiment_id = ?",
                                    &key, 1, &cell, err);
    if (!rc && !cell.found)
        return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                              "Cannot import run %s: no experiment with ID %s exists.",
                              info->run_id, info->experiment_id);
    struct mlflow__sql_value id = MLFLOW__SQL_TEXTV(info->run_id);
    if (!rc)
        rc = mlflow__sql_query_cell(st, c, "SELECT experiment_id FROM runs WHERE run_uuid = ?",
                                    &id, 1, &cell, err);
    if (!rc && cell.found)
        return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                              "Run with ID %s already exists (in experiment %s).", info->run_id,
                              cell.text);
    if (rc)
        return rc;
    const char *status = mlflow_run_status_name(info->status);
    if (!status)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Run %s has an unknown status %d", info->run_id, info->status);
    bool deleted = info->lifecycle_stage && strcmp(info->lifecycle_stage, "deleted") == 0;
    /* The source's deletion time is not part of a run; the import's will do
     * for garbage collection. */
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(info->run_id),
        MLFLOW__SQL_TEXTV(info->run_name ? info->run_name : ""),
        MLFLOW__SQL_TEXTV(info->user_id ? info->user_id : ""),
        MLFLOW__SQL_TEXTV(status),
        time_value(info->start_time),
        time_value(info->end_time),
        MLFLOW__SQL_TEXTV(deleted ? "deleted" : "active"),
        info->artifact_uri ? MLFLOW__SQL_TEXTV(info->artifact_uri) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_INTV(num),
        deleted ? MLFLOW__SQL_INTV(mlflow__now_ms()) : MLFLOW__SQL_NULLV,
    };
    rc = mlflow__sql_exec(st, c,
                          "INSERT INTO runs (run_uuid, name, source_type, source_name, "
                          "entry_point_name, user_id, status, start_time, end_time, "
                          "source_version, lifecycle_stage, artifact_uri, experiment_id, "
                          "deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', ?, ?, "
                          "?, ?)",
                          p, MLFLOW_ARRAY_LEN(p), NULL, err);
    for (size_t i = 0; !rc && i < data->n_params; i++) {
        struct mlflow__sql_value v[] = {
            MLFLOW__SQL_TEXTV(data->params[i].key),
            MLFLOW__SQL_TEXTV(data->params[i].value ? data->params[i].value : ""),
            MLFLOW__SQL_TEXTV(info->run_id),
        };
        rc = mlflow__sql_exec(st, c, PARAM_UPSERT, v, 3, NULL, err);
    }
    for (size_t i = 0; !rc && i < data->n_tags; i++) {
        struct mlflow__sql_value v[] = {
            MLFLOW__SQL_TEXTV(data->tags[i].key),
            MLFLOW__SQL_TEXTV(data->tags[i].value ? data->tags[i].value : ""),
            MLFLOW__SQL_TEXTV(info->run_id),
        };
        rc = mlflow__sql_exec(st, c, RUN_TAG_UPSERT, v, 3, NULL, err);
    }
    struct mlflow__sql_value v[6];
    for (size_t i = 0; !rc && i < x->n; i++) {
        metric_values(&x->history[i], info->run_id, v);
        rc = mlflow__sql_exec(st, c, METRIC_INSERT, v, 6, NULL, err);
        if (!rc)
            rc = mlflow__sql_exec(st, c, LATEST_UPSERT, v, 6, NULL, err);
    }
    return rc;
}

int mlflow__sql_import_run(struct mlflow__store *s, const struct mlflow_run *run,
                           const struct mlflow_metric *history, size_t n,
                           struct mlflow_error *err)
{
    struct import_run_arg x = {run, history, n};
    return mlflow__sql_with_tx(SQ(s), true, import_run_tx, &x, NULL, err);
}
