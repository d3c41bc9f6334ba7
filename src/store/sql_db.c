/*
 * sql_db.c - the SQL store's plumbing: the connection pool, transactions
 * that are retried while the database is busy, and the schema check that
 * creates MLflow's schema in an empty database and refuses anything else.
 *
 * Every operation is one transaction on one pooled connection. A write
 * transaction takes the write lock when it begins; if the database reports
 * contention (TEMPORARILY_UNAVAILABLE from the driver) the transaction is
 * rolled back and run again, with backoff, for up to RETRY_MS. So "database
 * is locked" never reaches a caller while another writer merely holds the
 * lock for a while. Transaction bodies are therefore re-runnable: they keep
 * no state across attempts except through their `reset` hook.
 */
#include "sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a transaction is retried while the database stays busy. */
#define RETRY_MS 120000

/* mlflow-c's own indexes, on top of MLflow's schema (IF NOT EXISTS makes
 * them cheap to assert on every open):
 *   - metric history by run and key (MLflow's index is by run only);
 *   - runs by experiment and start time: a search in one experiment in
 *     MLflow's base order reads its first page off the index, without
 *     sorting every run;
 *   - latest_metrics, params and tags by key and run *with* the value:
 *     MLflow's primary keys have the same columns minus the value, so every
 *     search condition or sort key costs a second lookup in the table;
 *     these answer it from the index alone (2-3x faster searches over
 *     100k runs), for one more index page per row written. */
static const char *const EXTRA_INDEXES[] = {
    "CREATE INDEX IF NOT EXISTS mlflowc_metrics_history ON metrics (run_uuid, \"key\")",
    "CREATE INDEX IF NOT EXISTS mlflowc_runs_experiment ON runs (experiment_id, start_time, "
    "lifecycle_stage, run_uuid)",
    "CREATE INDEX IF NOT EXISTS mlflowc_latest_metrics_cover ON latest_metrics (\"key\", "
    "run_uuid, value, is_nan)",
    "CREATE INDEX IF NOT EXISTS mlflowc_params_cover ON params (\"key\", run_uuid, value)",
    "CREATE INDEX IF NOT EXISTS mlflowc_tags_cover ON tags (\"key\", run_uuid, value)",
    NULL,
};

/* ---- the connection pool --------------------------------------------------- */

static int conn_get(struct mlflow__sql_store *st, struct mlflow__sql_conn **out,
                    struct mlflow_error *err)
{
    pthread_mutex_lock(&st->lock);
    pid_t pid = getpid();
    if (pid != st->pid) {
        /* A forked child: SQLite forbids using or closing the parent's
         * connections here, so they are forgotten (and leak). */
        st->n_idle = 0;
        st->n_open = 0;
        st->pid = pid;
    }
    while (st->max_conns && !st->n_idle && st->n_open >= st->max_conns)
        pthread_cond_wait(&st->freed, &st->lock);
    if (st->n_idle) {
        *out = st->idle[--st->n_idle];
        pthread_mutex_unlock(&st->lock);
        return MLFLOW_OK;
    }
    st->n_open++;
    pthread_mutex_unlock(&st->lock);
    int rc = st->drv->connect(st->db, out, err);
    if (rc) {
        pthread_mutex_lock(&st->lock);
        st->n_open--;
        pthread_cond_signal(&st->freed);
        pthread_mutex_unlock(&st->lock);
    }
    return rc;
}

static void conn_put(struct mlflow__sql_store *st, struct mlflow__sql_conn *c)
{
    pthread_mutex_lock(&st->lock);
    if (getpid() != st->pid) {
        pthread_mutex_unlock(&st->lock);
        return; /* made before a fork we are now the child of */
    }
    if (st->n_idle == st->cap_idle) {
        size_t cap = st->cap_idle ? st->cap_idle * 2 : 8;
        struct mlflow__sql_conn **ni = mlflow__realloc(st->idle, cap * sizeof *ni);
        if (!ni) {
            st->n_open--;
            pthread_cond_signal(&st->freed);
            pthread_mutex_unlock(&st->lock);
            st->drv->disconnect(c);
            return;
        }
        st->idle = ni;
        st->cap_idle = cap;
    }
    st->idle[st->n_idle++] = c;
    pthread_cond_signal(&st->freed);
    pthread_mutex_unlock(&st->lock);
}

void mlflow__sql_pool_close(struct mlflow__sql_store *st)
{
    /* Connections made before a fork belong to the parent. */
    if (getpid() == st->pid)
        for (size_t i = 0; i < st->n_idle; i++)
            st->drv->disconnect(st->idle[i]);
    mlflow__free(st->idle);
    st->idle = NULL;
    st->n_idle = st->cap_idle = 0;
}

/* ---- transactions ---------------------------------------------------------- */

static void backoff(unsigned *delay_us)
{
    unsigned char r;
    mlflow__random_bytes(&r, 1);
    unsigned us = *delay_us / 2 + (*delay_us / 2) * r / 255;
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    if (*delay_us < 100000)
        *delay_us *= 2;
}

/* Runs body in one transaction, again while the database is busy. reset
 * (may be NULL) drops what a failed attempt left in arg. */
int mlflow__sql_with_tx(struct mlflow__sql_store *st, bool write, mlflow__sql_tx_fn body, void *arg,
                        void (*reset)(void *arg), struct mlflow_error *err)
{
    struct mlflow__sql_conn *c;
    int rc = conn_get(st, &c, err);
    if (rc)
        return rc;
    int64_t start = mlflow__now_ms();
    unsigned delay_us = 500;
    bool unknown = false;
    for (;;) {
        rc = st->drv->begin(c, write, err);
        if (!rc)
            rc = body(st, c, arg, err);
        bool committing = !rc;
        if (!rc)
            rc = st->drv->commit(c, err);
        if (!rc)
            break;
        st->drv->rollback(c);
        if (reset)
            reset(arg);
        /* A commit that may have happened is not run again. */
        unknown = committing && st->drv->commit_outcome_unknown &&
                  st->drv->commit_outcome_unknown(c);
        if (rc != MLFLOW_TEMPORARILY_UNAVAILABLE || unknown ||
            mlflow__now_ms() - start > RETRY_MS)
            break;
        backoff(&delay_us);
    }
    conn_put(st, c);
    if (rc == MLFLOW_TEMPORARILY_UNAVAILABLE && !unknown) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        mlflow__seterr(err, rc, "The tracking database stayed busy for %d seconds: %s",
                       RETRY_MS / 1000, msg);
    }
    return rc;
}

/* ---- small query helpers ---------------------------------------------------- */

int mlflow__sql_exec(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *sql,
                     const struct mlflow__sql_value *p, size_t n, int64_t *changes,
                     struct mlflow_error *err)
{
    return st->drv->exec(c, sql, p, n, NULL, NULL, changes, err);
}

static int cell_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct mlflow__sql_cell *cl = ctx;
    if (cl->found)
        return MLFLOW_OK;
    cl->found = true;
    cl->i = cl->drv->col_int(row, 0);
    const char *t = cl->drv->col_text(row, 0);
    snprintf(cl->text, sizeof cl->text, "%s", t ? t : "");
    return MLFLOW_OK;
}

int mlflow__sql_query_cell(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                           const char *sql, const struct mlflow__sql_value *p, size_t n,
                           struct mlflow__sql_cell *out, struct mlflow_error *err)
{
    *out = (struct mlflow__sql_cell){.drv = st->drv};
    return st->drv->exec(c, sql, p, n, cell_row, out, NULL, err);
}

/* ---- schema: check, create, refuse ----------------------------------------- */

/* Revisions of MLflow's alembic chain, oldest first, up to ours, then the
 * later ones we know of (for a precise refusal message). */
static const char *const OLDER_REVISIONS[] = {
    "451aebb31d03", "90e64c465722", "181f10493468", "df50e92ffc5e", "7ac759974ad8", "89d4b8295536",
    "2b4d017a5e9b", "cfd24bdc0731", "0a8213491aaa", "728d730b5ebd", "27a6a02d2cf1", "84291f40a231",
    "a8c4a736bde6", "39d1c3be5f05", "c48cb773bb87", "bd07f7e963c5", "0c779009ac13", "cc1f77228345",
    "97727af70f4d", "3500859a5d39", "7f2a7d5fae7d", "2d6e25af4d3e",
};
static const char *const NEWER_REVISIONS[] = {
    "867495a8f9d4", "5b0e9adcef9c", "4465047574b1", "f5a4f2784254",
    "0584bdc529eb", "400f98739977", "6953534de441",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

struct objects {
    const struct mlflow__sql_driver *drv;
    size_t n;
    bool alembic, experiments, indexes[MLFLOW_ARRAY_LEN(EXTRA_INDEXES)];
};

static int object_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct objects *o = ctx;
    const char *name = o->drv->col_text(row, 0);
    if (!name)
        return MLFLOW_OK;
    if (strncmp(name, "sqlite_", 7) != 0)
        o->n++;
    o->alembic |= strcmp(name, "alembic_version") == 0;
    o->experiments |= strcmp(name, "experiments") == 0;
    for (size_t i = 0; EXTRA_INDEXES[i]; i++) {
        /* "CREATE INDEX IF NOT EXISTS <name> ON" */
        const char *p = EXTRA_INDEXES[i] + strlen("CREATE INDEX IF NOT EXISTS ");
        size_t len = strcspn(p, " ");
        o->indexes[i] |= strlen(name) == len && strncmp(name, p, len) == 0;
    }
    return MLFLOW_OK;
}

static int list_objects(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, struct objects *o,
                        struct mlflow_error *err)
{
    *o = (struct objects){.drv = st->drv};
    return st->drv->exec(c, st->drv->schema_objects_sql, NULL, 0, object_row, o, NULL, err);
}

static int insert_default_experiment(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                     struct mlflow_error *err)
{
    char *loc = mlflow__uri_append(st->artifact_root, "0", NULL);
    if (!loc)
        return mlflow__oom(err);
    int64_t now = mlflow__now_ms();
    struct mlflow__sql_value p[] = {MLFLOW__SQL_TEXTV(loc), MLFLOW__SQL_INTV(now),
                                    MLFLOW__SQL_INTV(now)};
    int rc = mlflow__sql_exec(
        st, c,
        "INSERT INTO experiments (experiment_id, name, artifact_location, "
        "lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', ?, "
        "'active', ?, ?)",
        p, 3, NULL, err);
    mlflow__free(loc);
    return rc;
}

/* Inside a write transaction: a still-empty database gets MLflow's schema;
 * an MLflow database at our revision gets our indexes and, if it has no
 * experiment at all, the Default one (as MLflow does on every start). */
static int init_schema_tx(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, void *arg,
                          struct mlflow_error *err)
{
    struct objects o;
    int rc = list_objects(st, c, &o, err);
    (void)arg;
    if (rc)
        return rc;
    if (o.n == 0) {
        for (const char *const *d = st->drv->schema_ddl; !rc && *d; d++)
            rc = mlflow__sql_exec(st, c, *d, NULL, 0, NULL, err);
        struct mlflow__sql_value v = MLFLOW__SQL_TEXTV(MLFLOW_SQL_SCHEMA_REVISION);
        if (!rc)
            rc = mlflow__sql_exec(st, c, "INSERT INTO alembic_version (version_num) VALUES (?)", &v,
                                  1, NULL, err);
    }
    for (size_t i = 0; !rc && EXTRA_INDEXES[i]; i++)
        if (!o.indexes[i])
            rc = mlflow__sql_exec(st, c, EXTRA_INDEXES[i], NULL, 0, NULL, err);
    struct mlflow__sql_cell any;
    if (!rc)
        rc = mlflow__sql_query_cell(st, c, "SELECT experiment_id FROM experiments LIMIT 1", NULL, 0,
                                    &any, err);
    if (!rc && !any.found)
        rc = insert_default_experiment(st, c, err);
    return rc;
}

/* Refuses anything but an empty database or MLflow's schema at our
 * revision, reading only. *init: the database needs init_schema_tx. */
static int check_schema(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, bool *init,
                        struct mlflow_error *err)
{
    struct objects o;
    *init = false;
    int rc = list_objects(st, c, &o, err);
    if (rc == MLFLOW_TEMPORARILY_UNAVAILABLE)
        return rc;
    if (rc) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "Cannot use '%s' as a tracking database: %s", st->base.uri, msg);
    }
    if (o.n == 0) {
        *init = true;
        return MLFLOW_OK;
    }
    if (!o.alembic || !o.experiments)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "'%s' is a database but not an MLflow tracking database (it has "
                              "no %s table). mlflow-c left it untouched.",
                              st->base.uri, o.alembic ? "experiments" : "alembic_version");
    struct mlflow__sql_cell rev;
    rc = mlflow__sql_query_cell(st, c, "SELECT version_num FROM alembic_version", NULL, 0, &rev,
                                err);
    if (rc)
        return rc;
    if (rev.found && strcmp(rev.text, MLFLOW_SQL_SCHEMA_REVISION) == 0) {
        for (size_t i = 0; EXTRA_INDEXES[i]; i++)
            *init |= !o.indexes[i];
        struct mlflow__sql_cell any;
        rc = mlflow__sql_query_cell(st, c, "SELECT experiment_id FROM experiments LIMIT 1", NULL, 0,
                                    &any, err);
        *init |= !rc && !any.found;
        return rc;
    }
    const char *why = !rev.found ? "no schema revision"
                      : in_list(rev.text, OLDER_REVISIONS, MLFLOW_ARRAY_LEN(OLDER_REVISIONS))
                          ? "an older MLflow schema; upgrade it with MLflow 2.12 (`mlflow db "
                            "upgrade <uri>`, after a backup) to use it here"
                      : in_list(rev.text, NEWER_REVISIONS, MLFLOW_ARRAY_LEN(NEWER_REVISIONS))
                          ? "a newer MLflow schema (written by an MLflow release after 2.12)"
                          : "a schema revision unknown to mlflow-c";
    return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                          "The database '%s' is at MLflow schema revision '%s': %s. mlflow-c "
                          "reads and writes revision %s (MLflow 2.12) only, and left the "
                          "database untouched.",
                          st->base.uri, rev.found ? rev.text : "", why, MLFLOW_SQL_SCHEMA_REVISION);
}

int mlflow__sql_open_schema(struct mlflow__sql_store *st, struct mlflow_error *err)
{
    struct mlflow__sql_conn *c;
    int rc = conn_get(st, &c, err);
    if (rc)
        return rc;
    int64_t start = mlflow__now_ms();
    unsigned delay = 500;
    bool init = false;
    /* Reads may meet a busy database too (another process creating it). */
    while ((rc = check_schema(st, c, &init, err)) == MLFLOW_TEMPORARILY_UNAVAILABLE &&
           mlflow__now_ms() - start < RETRY_MS)
        backoff(&delay);
    conn_put(st, c);
    if (!rc && init)
        rc = mlflow__sql_with_tx(st, true, init_schema_tx, NULL, NULL, err);
    if (!rc && st->drv->prepare_db) {
        if ((rc = conn_get(st, &c, err)))
            return rc;
        start = mlflow__now_ms();
        delay = 500;
        while ((rc = st->drv->prepare_db(c, err)) == MLFLOW_TEMPORARILY_UNAVAILABLE &&
               mlflow__now_ms() - start < RETRY_MS)
            backoff(&delay);
        conn_put(st, c);
    }
    return rc;
}
