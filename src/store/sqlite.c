/*
 * sqlite.c - the SQLite driver of the SQL store (sql.h): tracking URIs
 * sqlite:///relative.db, sqlite:////absolute.db and sqlite:// (in memory),
 * as SQLAlchemy reads them.
 *
 * Each connection is one sqlite3 handle in multi-thread mode (one thread at
 * a time, the pool in sql_db.c sees to it) with its own cache of prepared
 * statements keyed by SQL text. The database runs in WAL mode with
 * synchronous=NORMAL: a commit survives the process dying the next instant,
 * and readers never wait for writers. Writers serialise on SQLite's one
 * write lock: BEGIN IMMEDIATE takes it up front, waiting up to the busy
 * timeout, and a transaction that still finds the database busy is retried
 * by sql_db.c, so "database is locked" does not reach callers.
 *
 * LIKE follows mlflow__like() exactly through a registered function, since
 * SQLite's own LIKE folds ASCII case and MLflow's patterns have no escape.
 */
#include "sql.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for every statement shape the store uses, including the multi-row
 * INSERTs of sql_batch.c (one per power-of-two row count and table). */
#define STMT_CACHE 128
/* Per statement; sql_db.c retries whole transactions beyond it. */
#define BUSY_TIMEOUT_MS 5000

/* The driver's database handle: where the file is. */
struct sqlite_db {
    char *path;   /* NULL: in memory */
    bool checked; /* the schema check passed: we may write */
};

struct cached_stmt {
    uint64_t hash;
    uint64_t used;
    char *sql;
    sqlite3_stmt *stmt;
};

struct mlflow__sql_conn {
    sqlite3 *db;
    struct sqlite_db *owner;
    uint64_t tick;
    bool unique;
    struct cached_stmt cache[STMT_CACHE];
};

/* ---- errors ---- */

static int db_error(struct mlflow__sql_conn *c, int rc, const char *sql, struct mlflow_error *err)
{
    c->unique = rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
    int code;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = MLFLOW_TEMPORARILY_UNAVAILABLE;
        break;
    case SQLITE_NOMEM:
        code = MLFLOW_RESOURCE_EXHAUSTED;
        break;
    case SQLITE_NOTADB: {
        const char *file = sqlite3_db_filename(c->db, "main");
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "'%s' is not a SQLite database (%s); mlflow-c left it untouched",
                              file && *file ? file : "(memory)", sqlite3_errmsg(c->db));
    }
    default:
        code = MLFLOW_INTERNAL_ERROR;
        break;
    }
    return mlflow__seterr(err, code, "SQLite error: %s (in \"%.160s\")", sqlite3_errmsg(c->db),
                          sql);
}

/* ---- the statement cache ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int stmt_get(struct mlflow__sql_conn *c, const char *sql, sqlite3_stmt **out,
                    struct mlflow_error *err)
{
    uint64_t h = fnv1a(sql);
    struct cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE; i++) {
        struct cached_stmt *e = &c->cache[i];
        if (e->stmt && e->hash == h && strcmp(e->sql, sql) == 0) {
            e->used = ++c->tick;
            *out = e->stmt;
            return MLFLOW_OK;
        }
        if (!e->stmt ? victim->stmt != NULL : (victim->stmt && e->used < victim->used))
            victim = e;
    }
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return db_error(c, rc, sql, err);
    char *copy = mlflow__strdup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        return mlflow__oom(err);
    }
    sqlite3_finalize(victim->stmt);
    mlflow__free(victim->sql);
    *victim = (struct cached_stmt){h, ++c->tick, copy, stmt};
    *out = stmt;
    return MLFLOW_OK;
}

/* ---- statements ---- */

static int sq_exec(struct mlflow__sql_conn *c, const char *sql, const struct mlflow__sql_value *p,
                   size_t n, mlflow__sql_row_fn fn, void *ctx, int64_t *changes,
                   struct mlflow_error *err)
{
    sqlite3_stmt *stmt = NULL;
    c->unique = false;
    int rc = stmt_get(c, sql, &stmt, err);
    if (rc)
        return rc;
    int src = SQLITE_OK;
    for (size_t i = 0; src == SQLITE_OK && i < n; i++) {
        int idx = (int)i + 1;
        switch (p[i].type) {
        case MLFLOW__SQL_INT:
            src = sqlite3_bind_int64(stmt, idx, p[i].i);
            break;
        case MLFLOW__SQL_REAL:
            src = sqlite3_bind_double(stmt, idx, p[i].d);
            break;
        case MLFLOW__SQL_TEXT:
            src = sqlite3_bind_text(stmt, idx, p[i].s, -1, SQLITE_STATIC);
            break;
        default:
            src = sqlite3_bind_null(stmt, idx);
            break;
        }
    }
    if (src != SQLITE_OK) {
        rc = db_error(c, src, sql, err);
    } else {
        for (;;) {
            src = sqlite3_step(stmt);
            if (src == SQLITE_ROW) {
                if (fn && (rc = fn(ctx, (const struct mlflow__sql_row *)stmt)) != 0)
                    break;
                continue;
            }
            if (src == SQLITE_DONE) {
                if (changes)
                    *changes = sqlite3_changes64(c->db);
            } else {
                rc = db_error(c, src, sql, err);
            }
            break;
        }
    }
    /* Reset at once: a statement left mid-way would hold its read lock. */
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

static bool sq_unique_violation(struct mlflow__sql_conn *c)
{
    return c->unique;
}

#define STMT(r) ((sqlite3_stmt *)(r))

static bool sq_col_null(const struct mlflow__sql_row *r, int i)
{
    return sqlite3_column_type(STMT(r), i) == SQLITE_NULL;
}

static int64_t sq_col_int(const struct mlflow__sql_row *r, int i)
{
    return sqlite3_column_int64(STMT(r), i);
}

static double sq_col_real(const struct mlflow__sql_row *r, int i)
{
    return sqlite3_column_double(STMT(r), i);
}

static const char *sq_col_text(const struct mlflow__sql_row *r, int i)
{
    return (const char *)sqlite3_column_text(STMT(r), i);
}

/* ---- transactions ---- */

static int sq_begin(struct mlflow__sql_conn *c, bool write, struct mlflow_error *err)
{
    return sq_exec(c, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, NULL, NULL, err);
}

static int sq_commit(struct mlflow__sql_conn *c, struct mlflow_error *err)
{
    return sq_exec(c, "COMMIT", NULL, 0, NULL, NULL, NULL, err);
}

static void sq_rollback(struct mlflow__sql_conn *c)
{
    struct mlflow_error ignored;
    if (!sqlite3_get_autocommit(c->db))
        sq_exec(c, "ROLLBACK", NULL, 0, NULL, NULL, NULL, &ignored);
}

/* ---- connections ---- */

/* mlflow_like(value, pattern, case_insensitive): mlflow__like() in SQL. */
static void like_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    const char *p = (const char *)sqlite3_value_text(argv[1]);
    sqlite3_result_int(ctx, s && p && mlflow__like(p, s, sqlite3_value_int(argv[2]) != 0));
}

static void sq_disconnect(struct mlflow__sql_conn *c)
{
    if (!c)
        return;
    /* Let SQLite refresh the planner's statistics of the tables this
     * connection searched when they are missing or stale (sampled, so
     * cheap), as SQLite recommends before closing: with them the planner
     * prefers the covering indexes. Best effort: never wait long for
     * another writer here, and never touch a database we refused. */
    if (c->db && c->owner->path && c->owner->checked) {
        struct mlflow_error ignored;
        sqlite3_busy_timeout(c->db, 50);
        sq_exec(c, "PRAGMA analysis_limit = 1000", NULL, 0, NULL, NULL, NULL, &ignored);
        sq_exec(c, "PRAGMA optimize", NULL, 0, NULL, NULL, NULL, &ignored);
    }
    for (size_t i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        mlflow__free(c->cache[i].sql);
    }
    sqlite3_close_v2(c->db);
    mlflow__free(c);
}

static int sq_connect(void *dbv, struct mlflow__sql_conn **out, struct mlflow_error *err)
{
    struct sqlite_db *d = dbv;
    *out = NULL;
    struct mlflow__sql_conn *c = mlflow__calloc(1, sizeof *c);
    if (!c)
        return mlflow__oom(err);
    c->owner = d;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(d->path ? d->path : ":memory:", &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                       "Cannot open the SQLite database '%s': %s", d->path ? d->path : ":memory:",
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_disconnect(c);
        return MLFLOW_INVALID_PARAMETER_VALUE;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    rc = sqlite3_create_function_v2(c->db, "mlflow_like", 3,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                    like_fn, NULL, NULL, NULL);
    int mrc = rc == SQLITE_OK ? MLFLOW_OK : db_error(c, rc, "mlflow_like", err);
    /* MLflow turns foreign keys on for every session too. A checkpoint
     * every 10000 pages (40 MB of WAL) instead of 1000: MLflow's key-first
     * primary keys make each logging transaction dirty many pages, and
     * rarer checkpoints write the hot ones to the database file less often
     * (about 1.5x faster logging here). Reads through mmap: a search
     * visits pages all over the file, and a pread() per page costs more
     * than the lookup itself. The mapped pages count in the server's RSS
     * (RssFile: page cache, not heap). A WAL file is only rewound, never
     * shrunk, by a checkpoint: under steady load it grew to 400 MB here;
     * journal_size_limit truncates it back to 64 MB after each rewind. */
    static const char *const pragmas[] = {"PRAGMA foreign_keys = ON",
                                          "PRAGMA synchronous = NORMAL",
                                          "PRAGMA wal_autocheckpoint = 10000",
                                          "PRAGMA journal_size_limit = 67108864",
                                          "PRAGMA mmap_size = 1073741824"};
    for (size_t i = 0; !mrc && i < MLFLOW_ARRAY_LEN(pragmas); i++)
        mrc = sq_exec(c, pragmas[i], NULL, 0, NULL, NULL, NULL, err);
    if (mrc) {
        sq_disconnect(c);
        return mrc;
    }
    *out = c;
    return MLFLOW_OK;
}

struct mode {
    char text[16];
};

static int mode_row(void *ctx, const struct mlflow__sql_row *row)
{
    const char *t = sq_col_text(row, 0);
    snprintf(((struct mode *)ctx)->text, sizeof ((struct mode *)ctx)->text, "%s", t ? t : "");
    return MLFLOW_OK;
}

/* WAL, once the schema check passed. The mode is stored in the file, so
 * this is a read after the first time. */
static int sq_prepare_db(struct mlflow__sql_conn *c, struct mlflow_error *err)
{
    struct mode m = {""};
    c->owner->checked = true;
    int rc = sq_exec(c, "PRAGMA journal_mode", NULL, 0, mode_row, &m, NULL, err);
    if (rc || strcmp(m.text, "wal") == 0 || strcmp(m.text, "memory") == 0)
        return rc;
    rc = sq_exec(c, "PRAGMA journal_mode = WAL", NULL, 0, mode_row, &m, NULL, err);
    if (!rc && strcmp(m.text, "wal") != 0)
        rc = mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                            "SQLite kept journal mode '%s' instead of WAL", m.text);
    return rc;
}

static void sq_close_db(void *dbv)
{
    struct sqlite_db *d = dbv;
    if (d) {
        mlflow__free(d->path);
        mlflow__free(d);
    }
}

static void sq_like(struct mlflow__sb *sb, const char *expr, bool case_insensitive)
{
    mlflow__sb_addf(sb, "mlflow_like(%s, ?, %d)", expr, case_insensitive ? 1 : 0);
}

/* MLflow 2.12's schema exactly as its migrations leave it in SQLite (the
 * text of sqlite_master in a database MLflow 2.12.2 created, statement by
 * statement), so a database we create is indistinguishable from MLflow's. */
static const char *const SCHEMA_DDL[] = {
    /* experiments */
    "CREATE TABLE experiments (\n"
    "\texperiment_id INTEGER NOT NULL, \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tartifact_location VARCHAR(256), \n"
    "\tlifecycle_stage VARCHAR(32), creation_time BIGINT, last_update_time BIGINT, \n"
    "\tCONSTRAINT experiment_pk PRIMARY KEY (experiment_id), \n"
    "\tCONSTRAINT experiments_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')), "
    "\n"
    "\tUNIQUE (name)\n"
    ")",
    /* alembic_version */
    "CREATE TABLE alembic_version (\n"
    "\tversion_num VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
    ")",
    /* experiment_tags */
    "CREATE TABLE experiment_tags (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\texperiment_id INTEGER NOT NULL, \n"
    "\tCONSTRAINT experiment_tag_pk PRIMARY KEY (\"key\", experiment_id), \n"
    "\tFOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)\n"
    ")",
    /* tags */
    "CREATE TABLE \"tags\" (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT tag_pk PRIMARY KEY (\"key\", run_uuid), \n"
    "\tFOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    /* registered_models */
    "CREATE TABLE registered_models (\n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tcreation_time BIGINT, \n"
    "\tlast_updated_time BIGINT, \n"
    "\tdescription VARCHAR(5000), \n"
    "\tCONSTRAINT registered_model_pk PRIMARY KEY (name), \n"
    "\tUNIQUE (name)\n"
    ")",
    /* runs */
    "CREATE TABLE \"runs\" (\n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tname VARCHAR(250), \n"
    "\tsource_type VARCHAR(20), \n"
    "\tsource_name VARCHAR(500), \n"
    "\tentry_point_name VARCHAR(50), \n"
    "\tuser_id VARCHAR(256), \n"
    "\tstatus VARCHAR(9), \n"
    "\tstart_time BIGINT, \n"
    "\tend_time BIGINT, \n"
    "\tsource_version VARCHAR(50), \n"
    "\tlifecycle_stage VARCHAR(20), \n"
    "\tartifact_uri VARCHAR(200), \n"
    "\texperiment_id INTEGER, deleted_time BIGINT, \n"
    "\tCONSTRAINT run_pk PRIMARY KEY (run_uuid), \n"
    "\tCONSTRAINT source_type CHECK (source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', "
    "'PROJECT')), \n"
    "\tCONSTRAINT runs_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')), \n"
    "\tCHECK (status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED')), \n"
    "\tFOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)\n"
    ")",
    /* registered_model_tags */
    "CREATE TABLE registered_model_tags (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tCONSTRAINT registered_model_tag_pk PRIMARY KEY (\"key\", name), \n"
    "\tFOREIGN KEY(name) REFERENCES registered_models (name) ON UPDATE cascade\n"
    ")",
    /* model_version_tags */
    "CREATE TABLE model_version_tags (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tversion INTEGER NOT NULL, \n"
    "\tCONSTRAINT model_version_tag_pk PRIMARY KEY (\"key\", name, version), \n"
    "\tFOREIGN KEY(name, version) REFERENCES model_versions (name, version) ON UPDATE cascade\n"
    ")",
    /* model_versions */
    "CREATE TABLE \"model_versions\" (\n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tversion INTEGER NOT NULL, \n"
    "\tcreation_time BIGINT, \n"
    "\tlast_updated_time BIGINT, \n"
    "\tdescription VARCHAR(5000), \n"
    "\tuser_id VARCHAR(256), \n"
    "\tcurrent_stage VARCHAR(20), \n"
    "\tsource VARCHAR(500), \n"
    "\trun_id VARCHAR(32), \n"
    "\tstatus VARCHAR(20), \n"
    "\tstatus_message VARCHAR(500), \n"
    "\trun_link VARCHAR(500), storage_location VARCHAR(500), \n"
    "\tCONSTRAINT model_version_pk PRIMARY KEY (name, version), \n"
    "\tFOREIGN KEY(name) REFERENCES registered_models (name) ON UPDATE CASCADE\n"
    ")",
    /* latest_metrics */
    "CREATE TABLE \"latest_metrics\" (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue FLOAT NOT NULL, \n"
    "\ttimestamp BIGINT, \n"
    "\tstep BIGINT NOT NULL, \n"
    "\tis_nan BOOLEAN NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT latest_metric_pk PRIMARY KEY (\"key\", run_uuid), \n"
    "\tCHECK (is_nan IN (0, 1)), \n"
    "\tFOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    /* metrics */
    "CREATE TABLE \"metrics\" (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue FLOAT NOT NULL, \n"
    "\ttimestamp BIGINT NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tstep BIGINT DEFAULT '0' NOT NULL, \n"
    "\tis_nan BOOLEAN DEFAULT '0' NOT NULL, \n"
    "\tCONSTRAINT metric_pk PRIMARY KEY (\"key\", timestamp, step, run_uuid, value, is_nan), \n"
    "\tCHECK (is_nan IN (0, 1)), \n"
    "\tFOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    /* index_metrics_run_uuid */
    "CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)",
    /* index_latest_metrics_run_uuid */
    "CREATE INDEX index_latest_metrics_run_uuid ON latest_metrics (run_uuid)",
    /* index_tags_run_uuid */
    "CREATE INDEX index_tags_run_uuid ON tags (run_uuid)",
    /* registered_model_aliases */
    "CREATE TABLE registered_model_aliases (\n"
    "\talias VARCHAR(256) NOT NULL, \n"
    "\tversion INTEGER NOT NULL, \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tCONSTRAINT registered_model_alias_pk PRIMARY KEY (name, alias), \n"
    "\tCONSTRAINT registered_model_alias_name_fkey FOREIGN KEY(name) REFERENCES "
    "registered_models (name) ON DELETE cascade ON UPDATE cascade\n"
    ")",
    /* datasets */
    "CREATE TABLE datasets (\n"
    "\tdataset_uuid VARCHAR(36) NOT NULL, \n"
    "\texperiment_id INTEGER NOT NULL, \n"
    "\tname VARCHAR(500) NOT NULL, \n"
    "\tdigest VARCHAR(36) NOT NULL, \n"
    "\tdataset_source_type VARCHAR(36) NOT NULL, \n"
    "\tdataset_source TEXT NOT NULL, \n"
    "\tdataset_schema TEXT, \n"
    "\tdataset_profile TEXT, \n"
    "\tCONSTRAINT dataset_pk PRIMARY KEY (experiment_id, name, digest), \n"
    "\tFOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)\n"
    ")",
    /* index_datasets_dataset_uuid */
    "CREATE INDEX index_datasets_dataset_uuid ON datasets (dataset_uuid)",
    /* index_datasets_experiment_id_dataset_source_type */
    "CREATE INDEX index_datasets_experiment_id_dataset_source_type ON datasets (experiment_id, "
    "dataset_source_type)",
    /* inputs */
    "CREATE TABLE inputs (\n"
    "\tinput_uuid VARCHAR(36) NOT NULL, \n"
    "\tsource_type VARCHAR(36) NOT NULL, \n"
    "\tsource_id VARCHAR(36) NOT NULL, \n"
    "\tdestination_type VARCHAR(36) NOT NULL, \n"
    "\tdestination_id VARCHAR(36) NOT NULL, \n"
    "\tCONSTRAINT inputs_pk PRIMARY KEY (source_type, source_id, destination_type, "
    "destination_id)\n"
    ")",
    /* index_inputs_destination_type_destination_id_source_type */
    "CREATE INDEX index_inputs_destination_type_destination_id_source_type ON inputs "
    "(destination_type, destination_id, source_type)",
    /* index_inputs_input_uuid */
    "CREATE INDEX index_inputs_input_uuid ON inputs (input_uuid)",
    /* input_tags */
    "CREATE TABLE input_tags (\n"
    "\tinput_uuid VARCHAR(36) NOT NULL, \n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tvalue VARCHAR(500) NOT NULL, \n"
    "\tCONSTRAINT input_tags_pk PRIMARY KEY (input_uuid, name)\n"
    ")",
    /* params */
    "CREATE TABLE \"params\" (\n"
    "\t\"key\" VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(8000) NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT param_pk PRIMARY KEY (\"key\", run_uuid), \n"
    "\tFOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    /* index_params_run_uuid */
    "CREATE INDEX index_params_run_uuid ON params (run_uuid)",
    NULL,
};

static const struct mlflow__sql_driver sqlite_driver = {
    .name = "sqlite",
    .like = sq_like,
    .binary_collation = "",
    /* Rows are appended in logging order; rowid keeps it. */
    .metric_log_order = "rowid",
    .schema_objects_sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')",
    .schema_ddl = SCHEMA_DDL,
    /* INTEGER PRIMARY KEY: any 64-bit integer. */
    .max_experiment_id = INT64_MAX,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .prepare_db = sq_prepare_db,
    .close_db = sq_close_db,
    .exec = sq_exec,
    .unique_violation = sq_unique_violation,
    .col_null = sq_col_null,
    .col_int = sq_col_int,
    .col_real = sq_col_real,
    .col_text = sq_col_text,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
};

/* The database file of a sqlite: URI (SQLAlchemy's reading: three slashes
 * then a relative path, four for an absolute one; nothing or ":memory:" for
 * an in-memory database). *path is NULL for memory. */
static int parse_uri(const char *uri, char **path, struct mlflow_error *err)
{
    *path = NULL;
    const char *rest = strstr(uri, "://");
    if (!rest)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid SQLite URI '%s': expected sqlite:///<path>", uri);
    rest += 3;
    if (*rest && *rest != '/')
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid SQLite URI '%s': a SQLite URI has no host; use "
                              "sqlite:///relative.db or sqlite:////absolute/path.db",
                              uri);
    if (*rest)
        rest++;
    /* Query arguments are connection options in SQLAlchemy; none of them
     * changes which file is meant. */
    size_t len = strcspn(rest, "?");
    if (len == 0 || (len == 8 && strncmp(rest, ":memory:", 8) == 0))
        return MLFLOW_OK;
    char *raw = mlflow__strndup(rest, len);
    if (!raw)
        return mlflow__oom(err);
    *path = raw[0] == '/' ? raw : mlflow__abspath(raw);
    if (*path != raw)
        mlflow__free(raw);
    return *path ? MLFLOW_OK : mlflow__oom(err);
}

int mlflow__sqlite_store_open(const char *uri, struct mlflow__store **out,
                              struct mlflow_error *err)
{
    return mlflow__sqlite_store_open_ex(uri, NULL, out, err);
}

int mlflow__sqlite_store_open_ex(const char *uri, const char *artifact_root,
                                 struct mlflow__store **out, struct mlflow_error *err)
{
    *out = NULL;
    char *path;
    int rc = parse_uri(uri, &path, err);
    if (rc)
        return rc;
    struct sqlite_db *d = mlflow__calloc(1, sizeof *d);
    if (!d) {
        mlflow__free(path);
        return mlflow__oom(err);
    }
    d->path = path;
    /* MLflow's default artifact root beside a database: ./mlruns, made
     * absolute (a plain path, as MLflow stores it, not a file: URI). A
     * server passes its --default-artifact-root instead. */
    char *root = artifact_root ? mlflow__strdup(artifact_root) : mlflow__abspath("mlruns");
    struct mlflow__sb norm = MLFLOW__SB_INIT;
    mlflow__sb_adds(&norm, "sqlite://");
    if (path) {
        mlflow__sb_addc(&norm, '/');
        mlflow__sb_adds(&norm, path);
    }
    char *nuri = mlflow__sb_detach(&norm);
    if (!root || !nuri) {
        mlflow__free(root);
        mlflow__free(nuri);
        sq_close_db(d);
        return mlflow__oom(err);
    }
    /* An in-memory database exists per connection: keep exactly one. */
    rc = mlflow__sql_store_open(&sqlite_driver, d, path ? 0 : 1, nuri, root, out, err);
    mlflow__free(root);
    mlflow__free(nuri);
    return rc;
}
