/*
 * sql_import.c - the SQL store's import ops (store.h): experiments and runs
 * copied from another store with their ids, times and lifecycle kept, for
 * `mlflow-c migrate`. Each import is one transaction, so a migration that
 * stops half way leaves whole runs only and can simply be rerun.
 *
 * Experiment ids become the integer experiment_id column. MLflow's schema
 * declares it INTEGER: in SQLite that holds any 64-bit value (the 18-digit
 * ids of file stores fit); in PostgreSQL it is 32-bit (SERIAL), so such an
 * experiment is imported under a new id from the table's sequence instead
 * (keeps_experiment_id says which; migrate.c asks and keeps the mapping).
 * Rows are written by sql_batch.c's multi-row statements, as log_batch's.
 */
#include "sql.h"

#include <stdio.h>
#include <string.h>

#define SQ(s) ((struct mlflow__sql_store *)(s))

static const char EXP_TAG_UPSERT[] =
    "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value";
static struct mlflow__sql_value time_value(int64_t t)
{
    return t == MLFLOW_TIME_UNSET ? MLFLOW__SQL_NULLV : MLFLOW__SQL_INTV(t);
}

bool mlflow__sql_keeps_experiment_id(struct mlflow__store *s, const char *id)
{
    int64_t num;
    return id && mlflow__sql_experiment_id(id, &num) && num >= 0 &&
           num <= SQ(s)->drv->max_experiment_id;
}

static int exp_number(struct mlflow__sql_store *st, const char *id, int64_t *num,
                      struct mlflow_error *err)
{
    if (id && mlflow__sql_experiment_id(id, num) && *num <= st->drv->max_experiment_id)
        return MLFLOW_OK;
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Experiment ID '%.300s' cannot be kept in this %s store: its schema "
                          "holds experiment ids as integers up to %lld",
                          id ? id : "(null)", st->drv->name,
                          (long long)st->drv->max_experiment_id);
}

/* Inserts e with its own id, or with a new one from the database's
 * sequence when e->experiment_id is NULL; *num gets the id. */
static int insert_experiment(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                             const struct mlflow_experiment *e, int64_t *num,
                             struct mlflow_error *err)
{
    bool deleted = strcmp(e->lifecycle_stage, "deleted") == 0;
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(e->name),
        e->artifact_location ? MLFLOW__SQL_TEXTV(e->artifact_location) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_TEXTV(deleted ? "deleted" : "active"),
        time_value(e->creation_time),
        time_value(e->last_update_time),
        MLFLOW__SQL_INTV(*num),
    };
    int rc;
    if (e->experiment_id) {
        rc = mlflow__sql_exec(st, c,
                              "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                              "creation_time, last_update_time, experiment_id) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              p, MLFLOW_ARRAY_LEN(p), NULL, err);
        /* Ids generated later must not collide with this one. */
        if (!rc && st->drv->sync_experiment_ids_sql)
            rc = mlflow__sql_exec(st, c, st->drv->sync_experiment_ids_sql, NULL, 0, NULL, err);
    } else {
        struct mlflow__sql_cell id;
        rc = mlflow__sql_query_cell(st, c,
                                    "INSERT INTO experiments (name, artifact_location, "
                                    "lifecycle_stage, creation_time, last_update_time) "
                                    "VALUES (?, ?, ?, ?, ?) RETURNING experiment_id",
                                    p, MLFLOW_ARRAY_LEN(p) - 1, &id, err);
        if (!rc && !id.found)
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "Importing experiment '%s' returned no id", e->name);
        *num = id.i;
    }
    return rc;
}

static int import_experiment_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                void *arg, struct mlflow_error *err)
{
    const struct mlflow_experiment *e = arg;
    int64_t num = 0;
    int rc = MLFLOW_OK;
    if (e->experiment_id) {
        struct mlflow__sql_cell cell;
        rc = exp_number(st, e->experiment_id, &num, err);
        struct mlflow__sql_value key = MLFLOW__SQL_INTV(num);
        if (!rc)
            rc = mlflow__sql_query_cell(st, c,
                                        "SELECT name FROM experiments WHERE experiment_id = ?",
                                        &key, 1, &cell, err);
        if (!rc && cell.found)
            return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                                  "Experiment with ID %s already exists.", e->experiment_id);
    }
    if (!rc)
        rc = insert_experiment(st, c, e, &num, err);
    if (rc && st->drv->unique_violation(c)) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                              "Experiment(name=%s) already exists. Error: %s", e->name, msg);
    }
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

static int import_run_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    const struct import_run_arg *x = arg;
    const struct mlflow_run_info *info = &x->run->info;
    const struct mlflow_run_data *data = &x->run->data;
    int64_t num;
    int rc = exp_number(st, info->experiment_id, &num, err);
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
    /* log_batch's writes: points in history order, latest_metrics from
     * them; the run is new, so no param is there yet. */
    if (!rc)
        rc = mlflow__sql_write_params(st, c, info->run_id, data->params, data->n_params, err);
    if (!rc)
        rc = mlflow__sql_write_tags(st, c, info->run_id, data->tags, data->n_tags, err);
    if (!rc)
        rc = mlflow__sql_write_metrics(st, c, info->run_id, x->history, x->n, err);
    return rc;
}

int mlflow__sql_import_run(struct mlflow__store *s, const struct mlflow_run *run,
                           const struct mlflow_metric *history, size_t n,
                           struct mlflow_error *err)
{
    struct import_run_arg x = {run, history, n};
    return mlflow__sql_with_tx(SQ(s), true, import_run_tx, &x, NULL, err);
}
