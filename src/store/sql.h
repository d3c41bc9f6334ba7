/*
 * sql.h - the SQL tracking store, written once for every SQL dialect.
 *
 * MLflow keeps its SQL stores in one schema (spec section 9) whatever the
 * database. So does mlflow-c, in dialect-neutral SQL over the small driver
 * interface below: sql.c implements every store operation, sql_db.c the
 * connection pool, retried transactions and the schema check, sql_read.c
 * reading rows into results, sql_batch.c writing a batch's rows in a few
 * multi-row statements, and sql_search.c compiles the parsed search
 * tree (search.h) to SQL. A driver
 * (sqlite.c, postgres.c) supplies connections, statement execution,
 * transactions, MLflow's DDL for its dialect, and the few pieces of SQL text
 * that differ between dialects.
 *
 * Rules the neutral SQL follows, so a driver has little to translate:
 *   - Parameters are written `?`, in order; no `?` appears anywhere else in
 *     the text. A driver whose dialect numbers them ($1, $2, ...) renders
 *     its own placeholders when it prepares the statement.
 *   - Values are always bound, never pasted into the text: keys, names,
 *     patterns, ids, numbers. The only literals are the store's constants
 *     ('active', 'RUNNING', ...).
 *   - Booleans (is_nan) are bound as the integers 0 and 1 and tested as
 *     plain truth values (`CASE WHEN m.is_nan THEN ...`), which SQLite and
 *     PostgreSQL both accept.
 *   - Upserts use `INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING`, row
 *     values compare as `(a, b) > (c, d)`, new ids come back through
 *     `RETURNING`; the identifier "key" is always double-quoted.
 */
#ifndef MLFLOW_SQL_H
#define MLFLOW_SQL_H

#include "store.h"

#include <pthread.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The alembic head this schema is (MLflow 2.12). */
#define MLFLOW_SQL_SCHEMA_REVISION "acf3f17fdcc7"

/* ---- values and rows ---------------------------------------------------- */

enum mlflow__sql_type {
    MLFLOW__SQL_NULL = 0,
    MLFLOW__SQL_INT,
    MLFLOW__SQL_REAL,
    MLFLOW__SQL_TEXT,
};

/* One bound parameter. TEXT is NUL-terminated UTF-8 and borrowed: it must
 * outlive the exec call only. */
struct mlflow__sql_value {
    int type; /* enum mlflow__sql_type */
    int64_t i;
    double d;
    const char *s;
};

#define MLFLOW__SQL_INTV(x) ((struct mlflow__sql_value){MLFLOW__SQL_INT, (x), 0, NULL})
#define MLFLOW__SQL_REALV(x) ((struct mlflow__sql_value){MLFLOW__SQL_REAL, 0, (x), NULL})
#define MLFLOW__SQL_TEXTV(x) ((struct mlflow__sql_value){MLFLOW__SQL_TEXT, 0, 0, (x)})
#define MLFLOW__SQL_NULLV ((struct mlflow__sql_value){MLFLOW__SQL_NULL, 0, 0, NULL})

struct mlflow__sql_conn; /* a driver's connection; one thread uses it at a time */
struct mlflow__sql_row;  /* the current result row, valid inside a row callback only */

/* Called once per result row. Return 0 to go on; anything else stops the
 * statement and becomes exec's return value. */
typedef int (*mlflow__sql_row_fn)(void *ctx, const struct mlflow__sql_row *row);

/* ---- the driver ------------------------------------------------------- */

struct mlflow__sql_driver {
    const char *name; /* "sqlite", ...: the store's name in messages and tests */

    /* -- SQL text that differs between dialects -- */

    /* Appends a boolean expression that holds when the text expression
     * `expr` (a column reference, no placeholders) matches the pattern bound
     * at the single `?` the rendering contains. Semantics are exactly
     * mlflow__like(): '%' and '_' only, no escape character, anchored,
     * case-sensitive unless case_insensitive. */
    void (*like)(struct mlflow__sb *sb, const char *expr, bool case_insensitive);
    /* Appended to a text expression in ORDER BY so strings sort bytewise,
     * as the file store sorts them ("" when that is the default). */
    const char *binary_collation;
    /* ORDER BY list that gives one run's points of one metric in the order
     * they were logged (get_metric_history). Columns of table `metrics`. */
    const char *metric_log_order;
    /* One query listing every table and index name in the database
     * (column 0). An empty answer means an empty database. */
    const char *schema_objects_sql;
    /* MLflow's DDL at MLFLOW_SQL_SCHEMA_REVISION in this dialect, statement
     * by statement, NULL-terminated. sql_db.c adds alembic_version's row, the
     * Default experiment and mlflow-c's extra indexes. */
    const char *const *schema_ddl;
    /* Run after an experiment was inserted with an explicit id (migrate's
     * import), so ids generated later do not collide with it: PostgreSQL
     * keeps a sequence apart from the table. NULL when the next id comes
     * from the table itself (SQLite). No parameters. */
    const char *sync_experiment_ids_sql;
    /* The largest experiment id the schema's experiment_id column holds. */
    int64_t max_experiment_id;

    /* -- connections -- */

    /* Opens a connection to the database described by `db` (the driver's
     * own handle, given to mlflow__sql_store_open). */
    int (*connect)(void *db, struct mlflow__sql_conn **out, struct mlflow_error *err);
    void (*disconnect)(struct mlflow__sql_conn *c);
    /* Called once on a connection after the schema check passed, before
     * the store is used (SQLite switches the file to WAL here, never
     * earlier: a database we refuse is never modified). May be NULL. */
    int (*prepare_db)(struct mlflow__sql_conn *c, struct mlflow_error *err);
    /* Frees the handle given to mlflow__sql_store_open. */
    void (*close_db)(void *db);

    /* -- statements -- */

    /* Runs one statement with n bound parameters. Rows go to fn (may be
     * NULL). *changes (changes may be NULL) gets the number of rows an
     * INSERT/UPDATE/DELETE affected. Drivers keep prepared statements per
     * connection, keyed by the SQL text. Errors: TEMPORARILY_UNAVAILABLE
     * when the database is busy or the transaction lost a conflict (the
     * caller rolls back and retries the whole transaction), RESOURCE_
     * EXHAUSTED when out of memory, INTERNAL_ERROR otherwise, each with the
     * database's message. */
    int (*exec)(struct mlflow__sql_conn *c, const char *sql, const struct mlflow__sql_value *p,
                size_t n, mlflow__sql_row_fn fn, void *ctx, int64_t *changes,
                struct mlflow_error *err);
    /* Whether the last failed exec on c violated a UNIQUE or PRIMARY KEY
     * constraint. */
    bool (*unique_violation)(struct mlflow__sql_conn *c);

    /* Column i (0-based) of the current row. col_text returns NULL for SQL
     * NULL; the text lives until the callback returns. */
    bool (*col_null)(const struct mlflow__sql_row *r, int i);
    int64_t (*col_int)(const struct mlflow__sql_row *r, int i);
    double (*col_real)(const struct mlflow__sql_row *r, int i);
    const char *(*col_text)(const struct mlflow__sql_row *r, int i);

    /* -- transactions -- */

    /* write: take the write lock up front (SQLite's BEGIN IMMEDIATE), so
     * a write transaction never fails half-way on a lock upgrade. */
    int (*begin)(struct mlflow__sql_conn *c, bool write, struct mlflow_error *err);
    int (*commit)(struct mlflow__sql_conn *c, struct mlflow_error *err);
    /* Never fails; a no-op without an open transaction. */
    void (*rollback)(struct mlflow__sql_conn *c);
    /* Whether the last failed commit on c may have committed after all
     * (the connection broke before the answer came): the transaction must
     * not run again. May be NULL (never). */
    bool (*commit_outcome_unknown)(struct mlflow__sql_conn *c);
};

/* ---- the store -------------------------------------------------------- */

/* A SQL store: one per opened tracking URI. Connections come from a small
 * pool; each is used by one thread at a time. */
struct mlflow__sql_store {
    struct mlflow__store base;
    struct mlflow__store_ops ops; /* base.ops points here; name = drv->name */
    const struct mlflow__sql_driver *drv;
    void *db;            /* the driver's handle */
    char *artifact_root; /* default artifact root for new experiments */

    /* The pool. `lock` guards idle, n_idle, n_open and pid. */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct mlflow__sql_conn **idle;
    size_t n_idle, cap_idle;
    size_t n_open;
    size_t max_conns; /* 0: no limit */
    pid_t pid;        /* connections never cross a fork() */
};

/* Opens a store over an opened driver handle: checks (or creates) the
 * schema, then hands out connections. Takes ownership of db (also on
 * failure). max_conns 0: one connection per concurrent caller; 1 for
 * databases that exist per connection (SQLite's :memory:). uri is the
 * store's normalised URI; artifact_root the default artifact root. */
MLFLOW_INTERNAL int mlflow__sql_store_open(const struct mlflow__sql_driver *drv, void *db,
                                           size_t max_conns, const char *uri,
                                           const char *artifact_root, struct mlflow__store **out,
                                           struct mlflow_error *err);

/* ---- shared by sql.c, sql_db.c and sql_read.c ------------------------------ */

/* A transaction body: runs inside one transaction on connection c. It may
 * run again (the database was busy), so it keeps no state across attempts
 * except what the caller's reset hook drops. */
typedef int (*mlflow__sql_tx_fn)(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                 void *arg, struct mlflow_error *err);

/* Runs body in one transaction (write: the write lock from the start),
 * retrying the whole transaction with backoff while the database reports
 * contention, for up to two minutes. reset (may be NULL) is called after
 * every failed attempt. */
MLFLOW_INTERNAL int mlflow__sql_with_tx(struct mlflow__sql_store *st, bool write,
                                        mlflow__sql_tx_fn body, void *arg, void (*reset)(void *arg),
                                        struct mlflow_error *err);
/* One statement without result rows. */
MLFLOW_INTERNAL int mlflow__sql_exec(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                     const char *sql, const struct mlflow__sql_value *p, size_t n,
                                     int64_t *changes, struct mlflow_error *err);

/* The first cell of the first row, as integer and (truncated) text. */
struct mlflow__sql_cell {
    const struct mlflow__sql_driver *drv;
    bool found;
    int64_t i;
    char text[64];
};
MLFLOW_INTERNAL int mlflow__sql_query_cell(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                           const char *sql, const struct mlflow__sql_value *p,
                                           size_t n, struct mlflow__sql_cell *out,
                                           struct mlflow_error *err);
/* Checks the database behind a new store; creates MLflow's schema in an
 * empty one; refuses (INVALID_STATE, database untouched) anything else. */
MLFLOW_INTERNAL int mlflow__sql_open_schema(struct mlflow__sql_store *st, struct mlflow_error *err);
/* Disconnects the pool's idle connections (store close). */
MLFLOW_INTERNAL void mlflow__sql_pool_close(struct mlflow__sql_store *st);

/* A growable vector of runs or experiments (size: the element size) whose
 * strings live in arena a. */
struct mlflow__sql_rows {
    const struct mlflow__sql_driver *drv;
    struct mlflow__arena *a;
    void *items;
    size_t n, cap, size;
    bool oom;
};
/* Appends the rows of a SELECT of MLFLOW__SQL_RUN_COLUMNS (runs) or
 * MLFLOW__SQL_EXP_COLUMNS to v (info only). */
MLFLOW_INTERNAL int mlflow__sql_collect(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                        const char *sql, const struct mlflow__sql_value *p,
                                        size_t n, struct mlflow__sql_rows *v, bool runs,
                                        struct mlflow_error *err);
/* Params, tags and latest metrics of n runs whose info is filled in. */
MLFLOW_INTERNAL int mlflow__sql_load_run_data(struct mlflow__sql_store *st,
                                              struct mlflow__sql_conn *c, struct mlflow__arena *a,
                                              struct mlflow_run *runs, size_t n,
                                              struct mlflow_error *err);
/* The dataset inputs of runs whose info is filled in (sql_inputs.c). */
MLFLOW_INTERNAL int mlflow__sql_load_run_inputs(struct mlflow__sql_store *st,
                                                struct mlflow__sql_conn *c,
                                                struct mlflow__arena *a, struct mlflow_run *runs,
                                                size_t n, struct mlflow_error *err);
/* The store op log_inputs (sql_inputs.c). */
MLFLOW_INTERNAL int mlflow__sql_log_inputs(struct mlflow__store *s, const char *run_id,
                                           const struct mlflow_dataset_input *inputs, size_t n,
                                           struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__sql_load_experiment_tags(struct mlflow__sql_store *st,
                                                     struct mlflow__sql_conn *c,
                                                     struct mlflow__arena *a,
                                                     struct mlflow_experiment *exps, size_t n,
                                                     struct mlflow_error *err);
/* The runs (info only) with ids[0..n) into runs[0..n), in that order. */
MLFLOW_INTERNAL int mlflow__sql_load_runs_by_id(struct mlflow__sql_store *st,
                                                struct mlflow__sql_conn *c, struct mlflow__arena *a,
                                                char (*ids)[33], size_t n, struct mlflow_run *runs,
                                                struct mlflow_error *err);
/* One experiment with tags, found by `where` (on alias e, one parameter);
 * *out NULL when none matches. */
MLFLOW_INTERNAL int mlflow__sql_read_experiment(struct mlflow__sql_store *st,
                                                struct mlflow__sql_conn *c, const char *where,
                                                struct mlflow__sql_value key,
                                                struct mlflow_experiment **out,
                                                struct mlflow_error *err);
/* The whole run; RESOURCE_DOES_NOT_EXIST (mlflow__sql_no_run) if missing. */
MLFLOW_INTERNAL int mlflow__sql_read_run(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                         const char *run_id, struct mlflow_run **out,
                                         struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__sql_no_run(const char *run_id, struct mlflow_error *err);
/* A metric value as stored: NaN when is_nan, else the value column. */
MLFLOW_INTERNAL double mlflow__sql_read_value(const struct mlflow__sql_driver *drv,
                                              const struct mlflow__sql_row *row, int value_col,
                                              int is_nan_col);

/* ---- bulk writes (sql_batch.c): multi-row INSERTs in few statements ------- */

/* MLflow's SQL encoding of a metric value: NaN is 0 with is_nan, infinities
 * are the largest finite doubles (the column cannot hold them). */
MLFLOW_INTERNAL double mlflow__sql_stored_value(double v, bool *is_nan);
/* Points m[0..n) of run_id, in that order (identical points collapse into
 * one), and each key's latest_metrics row moved forward to the batch's
 * greatest (step, timestamp, value) if that is greater than the stored one. */
MLFLOW_INTERNAL int mlflow__sql_write_metrics(struct mlflow__sql_store *st,
                                              struct mlflow__sql_conn *c, const char *run_id,
                                              const struct mlflow_metric *m, size_t n,
                                              struct mlflow_error *err);
/* Params are write-once: a key already stored (or twice in the batch) with
 * another value is INVALID_PARAMETER_VALUE naming the first such param. */
MLFLOW_INTERNAL int mlflow__sql_write_params(struct mlflow__sql_store *st,
                                             struct mlflow__sql_conn *c, const char *run_id,
                                             const struct mlflow_kv *params, size_t n,
                                             struct mlflow_error *err);
/* Tags are upserted; of a key given twice the last value wins. Nothing
 * else: the run's name (tag mlflow.runName) is the caller's. */
MLFLOW_INTERNAL int mlflow__sql_write_tags(struct mlflow__sql_store *st,
                                           struct mlflow__sql_conn *c, const char *run_id,
                                           const struct mlflow_kv *tags, size_t n,
                                           struct mlflow_error *err);

/* ---- import (sql_import.c): store.h's import ops ---------------------------- */

MLFLOW_INTERNAL int mlflow__sql_import_experiment(struct mlflow__store *s,
                                                  const struct mlflow_experiment *e,
                                                  struct mlflow_error *err);
MLFLOW_INTERNAL bool mlflow__sql_keeps_experiment_id(struct mlflow__store *s, const char *id);
MLFLOW_INTERNAL int mlflow__sql_import_run(struct mlflow__store *s, const struct mlflow_run *run,
                                           const struct mlflow_metric *history, size_t n,
                                           struct mlflow_error *err);

/* ---- search compilation (sql_search.c) ------------------------------------ */

/* A statement under construction: text plus its parameters in order. */
struct mlflow__sql_query {
    struct mlflow__sb sql;
    struct mlflow__sql_value *params;
    size_t n, cap;
    bool oom;
};

#define MLFLOW__SQL_QUERY_INIT             \
    {                                      \
        MLFLOW__SB_INIT, NULL, 0, 0, false \
    }

MLFLOW_INTERNAL void mlflow__sql_query_release(struct mlflow__sql_query *q);
/* Appends text / one parameter (the caller writes its `?`). */
MLFLOW_INTERNAL void mlflow__sql_add(struct mlflow__sql_query *q, const char *text);
MLFLOW_INTERNAL void mlflow__sql_bind(struct mlflow__sql_query *q, struct mlflow__sql_value v);

/* Columns the compiled run search selects, in order. */
enum {
    MLFLOW__SQL_RUN_UUID,
    MLFLOW__SQL_RUN_NAME,
    MLFLOW__SQL_RUN_EXPERIMENT_ID,
    MLFLOW__SQL_RUN_USER_ID,
    MLFLOW__SQL_RUN_STATUS,
    MLFLOW__SQL_RUN_START_TIME,
    MLFLOW__SQL_RUN_END_TIME,
    MLFLOW__SQL_RUN_LIFECYCLE_STAGE,
    MLFLOW__SQL_RUN_ARTIFACT_URI,
};
/* The SELECT list of those columns for table alias r. */
#define MLFLOW__SQL_RUN_COLUMNS                                                            \
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, " \
    "r.lifecycle_stage, r.artifact_uri"

/* Columns the compiled experiment search selects, in order. */
enum {
    MLFLOW__SQL_EXP_ID,
    MLFLOW__SQL_EXP_NAME,
    MLFLOW__SQL_EXP_ARTIFACT_LOCATION,
    MLFLOW__SQL_EXP_LIFECYCLE_STAGE,
    MLFLOW__SQL_EXP_CREATION_TIME,
    MLFLOW__SQL_EXP_LAST_UPDATE_TIME,
};
#define MLFLOW__SQL_EXP_COLUMNS                                                          \
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, " \
    "e.last_update_time"

/* SELECT of the ids of the runs matching q, in MLflow's order (the caller's clauses,
 * then start_time DESC, then run_id ASC; values first, then NaN, then
 * missing, in both directions: mlflow__run_compare's order), from row
 * q->offset, at most q->max_results + 1 rows (one more than a page tells
 * whether another page follows). Parameters point into q. */
MLFLOW_INTERNAL int mlflow__sql_compile_runs(const struct mlflow__sql_driver *drv,
                                             const struct mlflow__search_runs *q,
                                             struct mlflow__sql_query *out,
                                             struct mlflow_error *err);
/* The same for experiments, in mlflow__experiment_compare's order. */
MLFLOW_INTERNAL int mlflow__sql_compile_experiments(const struct mlflow__sql_driver *drv,
                                                    const struct mlflow__search_experiments *q,
                                                    struct mlflow__sql_query *out,
                                                    struct mlflow_error *err);
/* An experiment id as the integer the SQL schema stores; false when the
 * text is no such integer (then no experiment has it). */
MLFLOW_INTERNAL bool mlflow__sql_experiment_id(const char *id, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_SQL_H */
