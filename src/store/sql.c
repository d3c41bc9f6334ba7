/*
 * sql.c - the SQL tracking store: every store operation, once, over the
 * driver interface of sql.h.
 *
 * Semantics are MLflow 2.12's SqlAlchemyStore (spec sections 3 and 9) where
 * the store contract (store.h) and the conformance suite agree with it:
 * NaN is stored as 0 with is_nan = 1 and +-inf as +-DBL_MAX; latest_metrics
 * keeps the greatest (step, timestamp, value) of the stored values; names
 * are unique across active and deleted experiments; statuses are stored by
 * name; params are write-once. Where the contract is stricter than MLflow's
 * SQL store (history of a missing run, refusing to delete experiment 0,
 * the file store's default experiment order) we follow the contract.
 *
 * Each operation is one transaction (sql_db.c runs it, again while the
 * database is busy); reading rows into result objects is sql_read.c's,
 * writing a batch's rows in a few multi-row statements sql_batch.c's.
 */
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQ(s) ((struct mlflow__sql_store *)(s))

static const char RUN_NAME_TAG[] = "mlflow.runName";

static int no_experiment(const char *id, struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists",
                          id);
}

/* ---- experiments ------------------------------------------------------------ */

struct exp_arg {
    const char *id;
    int64_t num;
    const char *name;
    const char *location; /* resolved; NULL for the default */
    const struct mlflow_kv *tags;
    size_t n_tags;
    struct mlflow_experiment *out;
};

static void exp_arg_reset(void *arg)
{
    struct exp_arg *x = arg;
    mlflow__obj_free(x->out);
    x->out = NULL;
}

static const char EXP_TAG_UPSERT[] =
    "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value";

static int create_experiment_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                                struct mlflow_error *err)
{
    struct exp_arg *x = arg;
    int64_t now = mlflow__now_ms();
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(x->name),
        x->location ? MLFLOW__SQL_TEXTV(x->location) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_INTV(now),
        MLFLOW__SQL_INTV(now),
    };
    struct mlflow__sql_cell id;
    int rc =
        mlflow__sql_query_cell(st, c,
                               "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                               "creation_time, last_update_time) VALUES (?, ?, 'active', ?, ?) "
                               "RETURNING experiment_id",
                               p, 4, &id, err);
    if (rc && st->drv->unique_violation(c)) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                              "Experiment(name=%s) already exists. Error: %s", x->name, msg);
    }
    if (rc)
        return rc;
    if (!id.found)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Creating experiment '%s' returned no id",
                              x->name);
    x->num = id.i;
    if (!x->location) {
        char idbuf[24];
        mlflow__fmt_int64(id.i, idbuf);
        char *loc = mlflow__uri_append(st->artifact_root, idbuf, NULL);
        if (!loc)
            return mlflow__oom(err);
        struct mlflow__sql_value u[] = {MLFLOW__SQL_TEXTV(loc), MLFLOW__SQL_INTV(id.i)};
        rc = mlflow__sql_exec(
            st, c, "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", u, 2,
            NULL, err);
        mlflow__free(loc);
    }
    for (size_t i = 0; !rc && i < x->n_tags; i++) {
        struct mlflow__sql_value t[] = {MLFLOW__SQL_TEXTV(x->tags[i].key),
                                        MLFLOW__SQL_TEXTV(x->tags[i].value ? x->tags[i].value : ""),
                                        MLFLOW__SQL_INTV(id.i)};
        rc = mlflow__sql_exec(st, c, EXP_TAG_UPSERT, t, 3, NULL, err);
    }
    return rc;
}

static int sql_create_experiment(struct mlflow__store *s, const char *name,
                                 const char *artifact_location, const struct mlflow_kv *tags,
                                 size_t n_tags, char **out_id, struct mlflow_error *err)
{
    struct mlflow__sql_store *st = SQ(s);
    char *loc = NULL;
    if (artifact_location && *artifact_location &&
        !(loc = mlflow__resolve_uri_if_local(artifact_location)))
        return mlflow__oom(err);
    struct exp_arg x = {.name = name, .location = loc, .tags = tags, .n_tags = n_tags};
    int rc = mlflow__sql_with_tx(st, true, create_experiment_tx, &x, NULL, err);
    mlflow__free(loc);
    if (rc)
        return rc;
    char idbuf[24];
    mlflow__fmt_int64(x.num, idbuf);
    *out_id = mlflow__strdup(idbuf);
    return *out_id ? MLFLOW_OK : mlflow__oom(err);
}

static int get_experiment_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                             struct mlflow_error *err)
{
    struct exp_arg *x = arg;
    int rc;
    if (x->name) {
        rc = mlflow__sql_read_experiment(st, c, "e.name = ?", MLFLOW__SQL_TEXTV(x->name), &x->out,
                                         err);
        if (!rc && !x->out)
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                "Experiment with name '%s' does not exist.", x->name);
    } else {
        rc = mlflow__sql_read_experiment(st, c, "e.experiment_id = ?", MLFLOW__SQL_INTV(x->num),
                                         &x->out, err);
        if (!rc && !x->out)
            rc = no_experiment(x->id, err);
    }
    return rc;
}

static int sql_get_experiment(struct mlflow__store *s, const char *id,
                              struct mlflow_experiment **out, struct mlflow_error *err)
{
    struct exp_arg x = {.id = id};
    if (!mlflow__sql_experiment_id(id, &x.num))
        return no_experiment(id, err);
    int rc = mlflow__sql_with_tx(SQ(s), false, get_experiment_tx, &x, exp_arg_reset, err);
    *out = rc ? NULL : x.out;
    return rc;
}

static int sql_get_experiment_by_name(struct mlflow__store *s, const char *name,
                                      struct mlflow_experiment **out, struct mlflow_error *err)
{
    struct exp_arg x = {.name = name};
    int rc = mlflow__sql_with_tx(SQ(s), false, get_experiment_tx, &x, exp_arg_reset, err);
    *out = rc ? NULL : x.out;
    return rc;
}

/* The experiment's lifecycle stage into stage[16]; RESOURCE_DOES_NOT_EXIST
 * when there is none. */
static int experiment_stage(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                            const struct exp_arg *x, char *stage, struct mlflow_error *err)
{
    struct mlflow__sql_value p = MLFLOW__SQL_INTV(x->num);
    struct mlflow__sql_cell cl;
    int rc = mlflow__sql_query_cell(
        st, c, "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", &p, 1, &cl, err);
    if (rc)
        return rc;
    if (!cl.found)
        return no_experiment(x->id, err);
    snprintf(stage, 16, "%.15s", cl.text);
    return MLFLOW_OK;
}

struct lifecycle_arg {
    struct exp_arg x;
    bool deleted; /* the new stage */
};

static int set_experiment_stage_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                   void *arg, struct mlflow_error *err)
{
    struct lifecycle_arg *l = arg;
    char stage[16];
    int rc = experiment_stage(st, c, &l->x, stage, err);
    if (rc)
        return rc;
    /* Delete wants an active experiment, restore a deleted one. */
    if (strcmp(stage, l->deleted ? "active" : "deleted") != 0)
        return no_experiment(l->x.id, err);
    int64_t now = mlflow__now_ms();
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(l->deleted ? "deleted" : "active"),
                                    MLFLOW__SQL_INTV(now), MLFLOW__SQL_INTV(l->x.num)};
    rc = mlflow__sql_exec(st, c,
                          "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE "
                          "experiment_id = ?",
                          p, 3, NULL, err);
    /* MLflow moves every run of the experiment, whatever its own stage. */
    if (!rc && l->deleted)
        rc = mlflow__sql_exec(
            st, c, "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?",
            p, 3, NULL, err);
    if (!rc && !l->deleted) {
        struct mlflow__sql_value q[] = {MLFLOW__SQL_INTV(l->x.num)};
        rc = mlflow__sql_exec(
            st, c,
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE "
            "experiment_id = ?",
            q, 1, NULL, err);
    }
    return rc;
}

static int set_experiment_stage(struct mlflow__store *s, const char *id, bool deleted,
                                struct mlflow_error *err)
{
    struct lifecycle_arg l = {.x = {.id = id}, .deleted = deleted};
    if (!mlflow__sql_experiment_id(id, &l.x.num))
        return no_experiment(id, err);
    return mlflow__sql_with_tx(SQ(s), true, set_experiment_stage_tx, &l, NULL, err);
}

static int sql_delete_experiment(struct mlflow__store *s, const char *id, struct mlflow_error *err)
{
    if (strcmp(id, "0") == 0)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                              "Cannot delete the default experiment '0'. This is an internally "
                              "reserved experiment.");
    return set_experiment_stage(s, id, true, err);
}

static int sql_restore_experiment(struct mlflow__store *s, const char *id, struct mlflow_error *err)
{
    return set_experiment_stage(s, id, false, err);
}

static int rename_experiment_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                                struct mlflow_error *err)
{
    struct exp_arg *x = arg;
    char stage[16];
    int rc = experiment_stage(st, c, x, stage, err);
    if (rc)
        return rc;
    if (strcmp(stage, "active") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE, "Cannot rename a non-active experiment.");
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(x->name), MLFLOW__SQL_INTV(mlflow__now_ms()),
                                    MLFLOW__SQL_INTV(x->num)};
    rc = mlflow__sql_exec(
        st, c, "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?", p,
        3, NULL, err);
    if (rc && st->drv->unique_violation(c))
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                            "Experiment(name=%s) already exists.", x->name);
    return rc;
}

static int sql_rename_experiment(struct mlflow__store *s, const char *id, const char *new_name,
                                 struct mlflow_error *err)
{
    struct exp_arg x = {.id = id, .name = new_name};
    if (!mlflow__sql_experiment_id(id, &x.num))
        return no_experiment(id, err);
    return mlflow__sql_with_tx(SQ(s), true, rename_experiment_tx, &x, NULL, err);
}

static int set_experiment_tag_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                 void *arg, struct mlflow_error *err)
{
    struct exp_arg *x = arg;
    char stage[16];
    int rc = experiment_stage(st, c, x, stage, err);
    if (rc)
        return rc;
    if (strcmp(stage, "active") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "The experiment %s must be in the 'active' state. Current state is "
                              "%s.",
                              x->id, stage);
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(x->tags[0].key),
                                    MLFLOW__SQL_TEXTV(x->tags[0].value), MLFLOW__SQL_INTV(x->num)};
    return mlflow__sql_exec(st, c, EXP_TAG_UPSERT, p, 3, NULL, err);
}

static int sql_set_experiment_tag(struct mlflow__store *s, const char *id, const char *key,
                                  const char *value, struct mlflow_error *err)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    struct exp_arg x = {.id = id, .tags = &kv, .n_tags = 1};
    if (!mlflow__sql_experiment_id(id, &x.num))
        return no_experiment(id, err);
    return mlflow__sql_with_tx(SQ(s), true, set_experiment_tag_tx, &x, NULL, err);
}

/* The page [offset, offset + max) of a list fetched with LIMIT max + 1:
 * whether another page follows, and its token. */
static int page_token(struct mlflow__arena *a, size_t fetched, const int64_t max, int64_t offset,
                      const char **token, size_t *count)
{
    *token = NULL;
    *count = fetched;
    if (fetched <= (uint64_t)max)
        return 0;
    *count = (size_t)max;
    char *t = mlflow__page_token_encode(offset + max);
    *token = t ? mlflow__arena_strdup(a, t) : NULL;
    mlflow__free(t);
    return *token ? 0 : -1;
}

struct search_exp_arg {
    const struct mlflow__search_experiments *q;
    struct mlflow__sql_query *sql;
    struct mlflow_experiment_list *out;
};

static void search_exp_reset(void *arg)
{
    struct search_exp_arg *x = arg;
    mlflow__obj_free(x->out);
    x->out = NULL;
}

static int search_experiments_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                 void *arg, struct mlflow_error *err)
{
    struct search_exp_arg *x = arg;
    struct mlflow_experiment_list *l = mlflow__obj_new(sizeof *l);
    if (!l)
        return mlflow__oom(err);
    struct mlflow__arena *a = mlflow__obj_arena(l);
    struct mlflow__sql_rows v = {st->drv, a, NULL, 0, 0, sizeof(struct mlflow_experiment), false};
    int rc = mlflow__sql_collect(st, c, x->sql->sql.buf, x->sql->params, x->sql->n, &v, false, err);
    size_t count = 0;
    if (!rc && page_token(a, v.n, x->q->max_results, x->q->offset, &l->next_page_token, &count))
        rc = mlflow__oom(err);
    if (!rc && count) {
        l->experiments = mlflow__arena_alloc(a, count * sizeof *l->experiments);
        if (!l->experiments)
            rc = mlflow__oom(err);
        else
            memcpy(l->experiments, v.items, count * sizeof *l->experiments);
    }
    l->count = rc ? 0 : count;
    if (!rc)
        rc = mlflow__sql_load_experiment_tags(st, c, a, l->experiments, l->count, err);
    mlflow__free(v.items);
    if (rc) {
        mlflow__obj_free(l);
        return rc;
    }
    x->out = l;
    return MLFLOW_OK;
}

static int sql_search_experiments(struct mlflow__store *s,
                                  const struct mlflow__search_experiments *q,
                                  struct mlflow_experiment_list **out, struct mlflow_error *err)
{
    struct mlflow__sql_store *st = SQ(s);
    struct mlflow__sql_query sql = MLFLOW__SQL_QUERY_INIT;
    *out = NULL;
    int rc = mlflow__sql_compile_experiments(st->drv, q, &sql, err);
    struct search_exp_arg x = {q, &sql, NULL};
    if (!rc)
        rc = mlflow__sql_with_tx(st, false, search_experiments_tx, &x, search_exp_reset, err);
    mlflow__sql_query_release(&sql);
    if (!rc)
        *out = x.out;
    return rc;
}

/* ---- runs ------------------------------------------------------------------- */

static const char TAG_UPSERT[] =
    "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?, ?, ?) "
    "ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value";

/* The run must exist (RESOURCE_DOES_NOT_EXIST) and, if need_active, be
 * active (INVALID_PARAMETER_VALUE). */
static int check_run(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *run_id,
                     bool need_active, struct mlflow_error *err)
{
    struct mlflow__sql_value p = MLFLOW__SQL_TEXTV(run_id);
    struct mlflow__sql_cell cl;
    int rc = mlflow__sql_query_cell(st, c, "SELECT lifecycle_stage FROM runs WHERE run_uuid = ?",
                                    &p, 1, &cl, err);
    if (rc)
        return rc;
    if (!cl.found)
        return mlflow__sql_no_run(run_id, err);
    if (need_active && strcmp(cl.text, "active") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "The run %s must be in the 'active' state. Current state is %s.",
                              run_id, cl.text);
    return MLFLOW_OK;
}

struct run_arg {
    const char *run_id;
    const char *experiment_id;
    const char *user_id;
    int64_t start_time;
    const char *run_name;
    const struct mlflow_kv *tags;
    size_t n_tags;
    int status;
    int64_t end_time;
    bool deleted;
    bool want_out;
    char new_id[33];
    struct mlflow_run *out;
};

static void run_arg_reset(void *arg)
{
    struct run_arg *x = arg;
    mlflow__obj_free(x->out);
    x->out = NULL;
}

static int create_run_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    struct run_arg *x = arg;
    int64_t exp_num;
    struct mlflow_experiment *e = NULL;
    int rc = MLFLOW_OK;
    if (mlflow__sql_experiment_id(x->experiment_id, &exp_num))
        rc = mlflow__sql_read_experiment(st, c, "e.experiment_id = ?", MLFLOW__SQL_INTV(exp_num),
                                         &e, err);
    if (rc)
        return rc;
    if (!e)
        return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                              "Could not create run under experiment with ID %s - no such "
                              "experiment exists.",
                              x->experiment_id);
    if (strcmp(e->lifecycle_stage, "active") != 0) {
        mlflow__obj_free(e);
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "Could not create run under non-active experiment with ID %s.",
                              x->experiment_id);
    }
    mlflow__uuid_hex(x->new_id);
    char *uri = mlflow__uri_append(e->artifact_location, x->new_id, "artifacts");
    mlflow__obj_free(e);
    if (!uri)
        return mlflow__oom(err);
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(x->new_id),  MLFLOW__SQL_TEXTV(x->run_name ? x->run_name : ""),
        MLFLOW__SQL_TEXTV(x->user_id), MLFLOW__SQL_INTV(x->start_time),
        MLFLOW__SQL_TEXTV(uri),        MLFLOW__SQL_INTV(exp_num),
    };
    rc = mlflow__sql_exec(
        st, c,
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
        "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
        "artifact_uri, experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, "
        "'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
        p, 6, NULL, err);
    mlflow__free(uri);
    if (!rc)
        rc = mlflow__sql_write_tags(st, c, x->new_id, x->tags, x->n_tags, err);
    if (!rc && x->want_out)
        rc = mlflow__sql_read_run(st, c, x->new_id, &x->out, err);
    return rc;
}

static int sql_create_run(struct mlflow__store *s, const char *experiment_id, const char *user_id,
                          int64_t start_time, const char *run_name, const struct mlflow_kv *tags,
                          size_t n_tags, struct mlflow_run **out, struct mlflow_error *err)
{
    struct run_arg x = {.experiment_id = experiment_id,
                        .user_id = user_id ? user_id : "",
                        .start_time = start_time,
                        .run_name = run_name,
                        .tags = tags,
                        .n_tags = n_tags,
                        .want_out = out != NULL};
    int rc = mlflow__sql_with_tx(SQ(s), true, create_run_tx, &x, run_arg_reset, err);
    if (out)
        *out = rc ? NULL : x.out;
    return rc;
}

static int get_run_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                      struct mlflow_error *err)
{
    struct run_arg *x = arg;
    return mlflow__sql_read_run(st, c, x->run_id, &x->out, err);
}

static int sql_get_run(struct mlflow__store *s, const char *run_id, struct mlflow_run **out,
                       struct mlflow_error *err)
{
    struct run_arg x = {.run_id = run_id};
    int rc = mlflow__sql_with_tx(SQ(s), false, get_run_tx, &x, run_arg_reset, err);
    *out = rc ? NULL : x.out;
    return rc;
}

static int set_run_name(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                        const char *run_id, const char *name, struct mlflow_error *err)
{
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(name), MLFLOW__SQL_TEXTV(run_id)};
    int rc =
        mlflow__sql_exec(st, c, "UPDATE runs SET name = ? WHERE run_uuid = ?", p, 2, NULL, err);
    struct mlflow__sql_value t[] = {MLFLOW__SQL_TEXTV(RUN_NAME_TAG), MLFLOW__SQL_TEXTV(name),
                                    MLFLOW__SQL_TEXTV(run_id)};
    return rc ? rc : mlflow__sql_exec(st, c, TAG_UPSERT, t, 3, NULL, err);
}

static int update_run_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    struct run_arg *x = arg;
    int rc = check_run(st, c, x->run_id, true, err);
    if (rc)
        return rc;
    const char *status = x->status ? mlflow_run_status_name(x->status) : NULL;
    struct mlflow__sql_value p[] = {
        status ? MLFLOW__SQL_TEXTV(status) : MLFLOW__SQL_NULLV,
        x->end_time != MLFLOW_TIME_UNSET ? MLFLOW__SQL_INTV(x->end_time) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_TEXTV(x->run_id),
    };
    rc = mlflow__sql_exec(
        st, c,
        "UPDATE runs SET status = COALESCE(?, status), end_time = COALESCE(?, end_time) "
        "WHERE run_uuid = ?",
        p, 3, NULL, err);
    if (!rc && x->run_name)
        rc = set_run_name(st, c, x->run_id, x->run_name, err);
    if (!rc && x->want_out)
        rc = mlflow__sql_read_run(st, c, x->run_id, &x->out, err);
    return rc;
}

static int sql_update_run(struct mlflow__store *s, const char *run_id, int status, int64_t end_time,
                          const char *run_name, struct mlflow_run **out, struct mlflow_error *err)
{
    struct run_arg x = {.run_id = run_id,
                        .status = status,
                        .end_time = end_time,
                        .run_name = run_name && *run_name ? run_name : NULL,
                        .want_out = out != NULL};
    int rc = mlflow__sql_with_tx(SQ(s), true, update_run_tx, &x, run_arg_reset, err);
    if (out)
        *out = rc ? NULL : x.out;
    return rc;
}

static int set_run_stage_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                            struct mlflow_error *err)
{
    struct run_arg *x = arg;
    int rc = check_run(st, c, x->run_id, false, err);
    if (rc)
        return rc;
    struct mlflow__sql_value p[] = {
        MLFLOW__SQL_TEXTV(x->deleted ? "deleted" : "active"),
        x->deleted ? MLFLOW__SQL_INTV(mlflow__now_ms()) : MLFLOW__SQL_NULLV,
        MLFLOW__SQL_TEXTV(x->run_id),
    };
    return mlflow__sql_exec(
        st, c, "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?", p, 3,
        NULL, err);
}

static int sql_delete_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    struct run_arg x = {.run_id = run_id, .deleted = true};
    return mlflow__sql_with_tx(SQ(s), true, set_run_stage_tx, &x, NULL, err);
}

static int sql_restore_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    struct run_arg x = {.run_id = run_id, .deleted = false};
    return mlflow__sql_with_tx(SQ(s), true, set_run_stage_tx, &x, NULL, err);
}

/* ---- logging ---------------------------------------------------------------- */

struct batch_arg {
    const char *run_id;
    const struct mlflow_metric *metrics;
    size_t n_metrics;
    const struct mlflow_kv *params;
    size_t n_params;
    const struct mlflow_kv *tags;
    size_t n_tags;
};

/* Params, then metrics, then tags, each in a few multi-row statements
 * (sql_batch.c). */
static int log_batch_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                        struct mlflow_error *err)
{
    struct batch_arg *x = arg;
    int rc = check_run(st, c, x->run_id, true, err);
    if (!rc)
        rc = mlflow__sql_write_params(st, c, x->run_id, x->params, x->n_params, err);
    if (!rc)
        rc = mlflow__sql_write_metrics(st, c, x->run_id, x->metrics, x->n_metrics, err);
    if (!rc)
        rc = mlflow__sql_write_tags(st, c, x->run_id, x->tags, x->n_tags, err);
    /* Setting tag mlflow.runName renames the run; the last one wins. */
    for (size_t i = x->n_tags; !rc && i-- > 0;) {
        if (strcmp(x->tags[i].key, RUN_NAME_TAG) != 0)
            continue;
        struct mlflow__sql_value p[] = {
            MLFLOW__SQL_TEXTV(x->tags[i].value ? x->tags[i].value : ""),
            MLFLOW__SQL_TEXTV(x->run_id)};
        rc = mlflow__sql_exec(st, c, "UPDATE runs SET name = ? WHERE run_uuid = ?", p, 2, NULL,
                              err);
        break;
    }
    return rc;
}

static int sql_log_batch(struct mlflow__store *s, const char *run_id,
                         const struct mlflow_metric *metrics, size_t n_metrics,
                         const struct mlflow_kv *params, size_t n_params,
                         const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err)
{
    struct batch_arg x = {run_id, metrics, n_metrics, params, n_params, tags, n_tags};
    return mlflow__sql_with_tx(SQ(s), true, log_batch_tx, &x, NULL, err);
}

static int delete_tag_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                         struct mlflow_error *err)
{
    const struct mlflow_kv *x = arg; /* key: run id, value: tag key */
    int rc = check_run(st, c, x->key, true, err);
    if (rc)
        return rc;
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(x->key), MLFLOW__SQL_TEXTV(x->value)};
    int64_t changes = 0;
    rc = mlflow__sql_exec(st, c, "DELETE FROM tags WHERE run_uuid = ? AND \"key\" = ?", p, 2,
                          &changes, err);
    if (!rc && changes == 0)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "No tag with name: %s in run with id %s", x->value, x->key);
    return rc;
}

static int sql_delete_tag(struct mlflow__store *s, const char *run_id, const char *key,
                          struct mlflow_error *err)
{
    struct mlflow_kv x = {run_id, key};
    return mlflow__sql_with_tx(SQ(s), true, delete_tag_tx, &x, NULL, err);
}

struct history_arg {
    const struct mlflow__sql_driver *drv;
    const char *run_id;
    const char *key;
    struct mlflow_metric *points; /* malloc'ed while reading */
    size_t n, cap;
    struct mlflow_metric_list *out;
};

static void history_reset(void *arg)
{
    struct history_arg *x = arg;
    mlflow__obj_free(x->out);
    x->out = NULL;
    mlflow__free(x->points);
    x->points = NULL;
    x->n = x->cap = 0;
}

static int history_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct history_arg *x = ctx;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        struct mlflow_metric *np = mlflow__realloc(x->points, cap * sizeof *np);
        if (!np)
            return MLFLOW_RESOURCE_EXHAUSTED;
        x->points = np;
        x->cap = cap;
    }
    struct mlflow_metric *m = &x->points[x->n++];
    m->value = mlflow__sql_read_value(x->drv, row, 0, 3);
    m->timestamp = x->drv->col_int(row, 1);
    m->step = x->drv->col_int(row, 2);
    return MLFLOW_OK;
}

static int history_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                      struct mlflow_error *err)
{
    struct history_arg *x = arg;
    int rc = check_run(st, c, x->run_id, false, err);
    if (rc)
        return rc;
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(x->run_id), MLFLOW__SQL_TEXTV(x->key)};
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND "
             "\"key\" = ? ORDER BY %s",
             st->drv->metric_log_order);
    rc = st->drv->exec(c, sql, p, 2, history_row, x, NULL, err);
    if (rc == MLFLOW_RESOURCE_EXHAUSTED)
        rc = mlflow__oom(err);
    if (rc)
        return rc;
    /* One result block: the points, then their one shared key. */
    x->out = mlflow__obj_new(sizeof *x->out);
    struct mlflow__arena *a = x->out ? mlflow__obj_arena(x->out) : NULL;
    const char *key = a ? mlflow__arena_strdup(a, x->key) : NULL;
    if (!key || (x->n && !(x->out->metrics = mlflow__arena_alloc(a, x->n * sizeof *x->points))))
        return mlflow__oom(err);
    for (size_t i = 0; i < x->n; i++) {
        x->points[i].key = key;
        x->out->metrics[i] = x->points[i];
    }
    x->out->count = x->n;
    mlflow__free(x->points);
    x->points = NULL;
    return MLFLOW_OK;
}

static int sql_get_metric_history(struct mlflow__store *s, const char *run_id, const char *key,
                                  struct mlflow_metric_list **out, struct mlflow_error *err)
{
    struct history_arg x = {SQ(s)->drv, run_id, key, NULL, 0, 0, NULL};
    int rc = mlflow__sql_with_tx(SQ(s), false, history_tx, &x, history_reset, err);
    if (rc)
        history_reset(&x);
    *out = rc ? NULL : x.out;
    return rc;
}

/* ---- search_runs ------------------------------------------------------------- */

struct search_runs_arg {
    const struct mlflow__search_runs *q;
    struct mlflow__sql_query *sql;
    struct mlflow_run_list *out;
};

static void search_runs_reset(void *arg)
{
    struct search_runs_arg *x = arg;
    mlflow__obj_free(x->out);
    x->out = NULL;
}

/* Run ids in result order (phase one of a search). */
struct id_list {
    const struct mlflow__sql_driver *drv;
    char (*ids)[33];
    size_t n, cap;
};

static int id_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct id_list *l = ctx;
    const char *id = l->drv->col_text(row, 0);
    if (!id)
        return MLFLOW_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char(*ni)[33] = mlflow__realloc(l->ids, cap * sizeof *ni);
        if (!ni)
            return MLFLOW_RESOURCE_EXHAUSTED;
        l->ids = ni;
        l->cap = cap;
    }
    snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", id);
    return MLFLOW_OK;
}

static int search_runs_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                          struct mlflow_error *err)
{
    struct search_runs_arg *x = arg;
    struct id_list ids = {st->drv, NULL, 0, 0};
    int rc = st->drv->exec(c, x->sql->sql.buf, x->sql->params, x->sql->n, id_row, &ids, NULL, err);
    if (rc == MLFLOW_RESOURCE_EXHAUSTED)
        rc = mlflow__oom(err);
    struct mlflow_run_list *l = rc ? NULL : mlflow__obj_new(sizeof *l);
    if (!rc && !l)
        rc = mlflow__oom(err);
    struct mlflow__arena *a = l ? mlflow__obj_arena(l) : NULL;
    size_t count = 0;
    if (!rc && page_token(a, ids.n, x->q->max_results, x->q->offset, &l->next_page_token, &count))
        rc = mlflow__oom(err);
    if (!rc && count && !(l->runs = mlflow__arena_alloc(a, count * sizeof *l->runs)))
        rc = mlflow__oom(err);
    if (!rc)
        rc = mlflow__sql_load_runs_by_id(st, c, a, ids.ids, count, l->runs, err);
    if (!rc) {
        l->count = count;
        rc = mlflow__sql_load_run_data(st, c, a, l->runs, l->count, err);
    }
    mlflow__free(ids.ids);
    if (rc) {
        mlflow__obj_free(l);
        return rc;
    }
    x->out = l;
    return MLFLOW_OK;
}

static int sql_search_runs(struct mlflow__store *s, const struct mlflow__search_runs *q,
                           struct mlflow_run_list **out, struct mlflow_error *err)
{
    struct mlflow__sql_store *st = SQ(s);
    struct mlflow__sql_query sql = MLFLOW__SQL_QUERY_INIT;
    *out = NULL;
    int rc = mlflow__sql_compile_runs(st->drv, q, &sql, err);
    struct search_runs_arg x = {q, &sql, NULL};
    if (!rc)
        rc = mlflow__sql_with_tx(st, false, search_runs_tx, &x, search_runs_reset, err);
    mlflow__sql_query_release(&sql);
    if (!rc)
        *out = x.out;
    return rc;
}

/* ---- the store ----------------------------------------------------------------- */

static const char *sql_default_artifact_root(struct mlflow__store *s)
{
    return SQ(s)->artifact_root;
}

static void sql_close(struct mlflow__store *s)
{
    struct mlflow__sql_store *st = SQ(s);
    mlflow__sql_pool_close(st);
    if (st->db)
        st->drv->close_db(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->freed);
    mlflow__free(st->artifact_root);
    mlflow__free(st->base.uri);
    mlflow__free(st);
}

static void set_ops(struct mlflow__sql_store *st)
{
    st->ops = (struct mlflow__store_ops){
        .name = st->drv->name,
        .close = sql_close,
        .create_experiment = sql_create_experiment,
        .get_experiment = sql_get_experiment,
        .get_experiment_by_name = sql_get_experiment_by_name,
        .search_experiments = sql_search_experiments,
        .delete_experiment = sql_delete_experiment,
        .restore_experiment = sql_restore_experiment,
        .rename_experiment = sql_rename_experiment,
        .set_experiment_tag = sql_set_experiment_tag,
        .create_run = sql_create_run,
        .get_run = sql_get_run,
        .update_run = sql_update_run,
        .delete_run = sql_delete_run,
        .restore_run = sql_restore_run,
        .log_batch = sql_log_batch,
        .delete_tag = sql_delete_tag,
        .log_inputs = mlflow__sql_log_inputs,
        .get_metric_history = sql_get_metric_history,
        .search_runs = sql_search_runs,
        .default_artifact_root = sql_default_artifact_root,
        .import_experiment = mlflow__sql_import_experiment,
        .import_run = mlflow__sql_import_run,
        .keeps_experiment_id = mlflow__sql_keeps_experiment_id,
    };
    st->base.ops = &st->ops;
}

int mlflow__sql_store_open(const struct mlflow__sql_driver *drv, void *db, size_t max_conns,
                           const char *uri, const char *artifact_root, struct mlflow__store **out,
                           struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__sql_store *st = mlflow__calloc(1, sizeof *st);
    if (!st) {
        drv->close_db(db);
        return mlflow__oom(err);
    }
    st->drv = drv;
    set_ops(st);
    st->db = db;
    st->max_conns = max_conns;
    st->pid = getpid();
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->freed, NULL);
    st->base.uri = mlflow__strdup(uri);
    st->artifact_root = mlflow__strdup(artifact_root);
    int rc;
    if (!st->base.uri || !st->artifact_root)
        rc = mlflow__oom(err);
    else
        rc = mlflow__sql_open_schema(st, err);
    if (rc) {
        sql_close(&st->base);
        return rc;
    }
    *out = &st->base;
    return MLFLOW_OK;
}
