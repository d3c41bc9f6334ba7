/*
 * postgres.c - the PostgreSQL driver of the SQL store (sql.h), over libpq:
 * tracking URIs postgresql://user:pass@host:port/db and
 * postgresql+psycopg2://... as MLflow users write them.
 *
 * Each connection is one PGconn with its own cache of server-side prepared
 * statements, keyed by SQL text and parameter types. The neutral SQL's `?`
 * placeholders become $1, $2, ... when a statement is prepared. Integers are
 * sent untyped (the server infers the column's type, so the 0/1 bound for
 * is_nan lands in a boolean column) unless they exceed 32 bits, reals as
 * float8.
 *
 * Transactions: writes run at READ COMMITTED, which is enough for every
 * race the store cares about, because each one is decided by a single
 * statement: a unique constraint (experiment names: the loser gets
 * 23505, RESOURCE_ALREADY_EXISTS), ON CONFLICT DO NOTHING followed by a read
 * (params are write-once), or an upsert whose WHERE is re-evaluated on the
 * newest row version (latest_metrics never loses a newer value). Reads run
 * in one REPEATABLE READ READ ONLY snapshot, so a search and the rows it
 * loads agree. Serialization failures and deadlocks are reported as
 * TEMPORARILY_UNAVAILABLE; sql_db.c retries the whole transaction.
 *
 * A lost connection (the server restarted) is reset when the next
 * transaction begins, and that transaction goes ahead on the new one. A
 * transaction that loses its connection before COMMIT was rolled back by
 * the server, so running it again is safe. Only a COMMIT whose answer never
 * arrived has an unknown outcome; that is reported, never retried.
 */
#include "sql.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 128
#define INT8_OID 20
#define FLOAT8_OID 701

/* The driver's database handle: how to connect. */
struct pg_db {
    char *conninfo; /* a libpq URI */
};

struct cached_stmt {
    uint64_t hash;
    uint64_t used;
    char *sql;
    char *sig; /* one letter per parameter type */
    char name[24];
};

struct mlflow__sql_conn {
    PGconn *pg;
    struct pg_db *owner;
    uint64_t tick;
    unsigned next_name;
    bool unique;
    bool commit_lost; /* the last COMMIT's outcome is unknown */
    struct cached_stmt cache[STMT_CACHE];
};

struct pg_row {
    PGresult *res;
    int row;
};

/* ---- errors ---- */

static void trim_copy(char *dst, size_t size, const char *msg)
{
    snprintf(dst, size, "%s", msg ? msg : "");
    size_t n = strlen(dst);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static bool starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool conn_lost(struct mlflow__sql_conn *c, const char *state)
{
    return PQstatus(c->pg) == CONNECTION_BAD || starts(state, "08") || starts(state, "57P0");
}

/* Maps a failed statement (res may be NULL) to an mlflow error code. */
static int pg_error(struct mlflow__sql_conn *c, PGresult *res, const char *sql,
                    struct mlflow_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[400];
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    trim_copy(msg, sizeof msg, m && *m ? m : PQerrorMessage(c->pg));
    c->unique = state && strcmp(state, "23505") == 0;
    int code = MLFLOW_INTERNAL_ERROR;
    if (conn_lost(c, state)) {
        return mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                              "Lost the connection to PostgreSQL: %s", msg);
    } else if (starts(state, "40001") || starts(state, "40P01") || starts(state, "55P03") ||
               starts(state, "53300")) {
        code = MLFLOW_TEMPORARILY_UNAVAILABLE; /* serialization, deadlock, lock, too many */
    } else if (starts(state, "42P07") && starts(sql, "CREATE")) {
        /* Another process created the schema at the same moment; the retry
         * finds it there. */
        code = MLFLOW_TEMPORARILY_UNAVAILABLE;
    } else if (starts(state, "53")) {
        code = MLFLOW_RESOURCE_EXHAUSTED;
    } else if (starts(state, "22001") || starts(state, "22003") || starts(state, "22021") ||
               starts(state, "22P02")) {
        code = MLFLOW_INVALID_PARAMETER_VALUE; /* too long, out of range, bad encoding */
    }
    return mlflow__seterr(err, code, "PostgreSQL error%s%s: %s (in \"%.160s\")",
                          state ? " " : "", state ? state : "", msg, sql);
}

/* ---- the statement cache ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void cache_clear(struct mlflow__sql_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE; i++) {
        mlflow__free(c->cache[i].sql);
        mlflow__free(c->cache[i].sig);
        c->cache[i] = (struct cached_stmt){0};
    }
}

/* The neutral SQL with `?` numbered $1, $2, ... */
static char *number_params(const char *sql)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    unsigned n = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '?')
            mlflow__sb_addf(&sb, "$%u", ++n);
        else
            mlflow__sb_addc(&sb, *p);
    }
    return mlflow__sb_detach(&sb);
}

/* The prepared statement for sql with parameter types sig, preparing it on
 * first use. */
static int stmt_get(struct mlflow__sql_conn *c, const char *sql, const char *sig,
                    const Oid *types, int n, const char **name, struct mlflow_error *err)
{
    uint64_t h = fnv1a(fnv1a(1469598103934665603ull, sql), sig);
    struct cached_stmt *victim = &c->cache[0];
    for (size_t i = 0; i < STMT_CACHE; i++) {
        struct cached_stmt *e = &c->cache[i];
        if (e->sql && e->hash == h && strcmp(e->sql, sql) == 0 && strcmp(e->sig, sig) == 0) {
            e->used = ++c->tick;
            *name = e->name;
            return MLFLOW_OK;
        }
        if (!e->sql ? victim->sql != NULL : (victim->sql && e->used < victim->used))
            victim = e;
    }
    char *text = number_params(sql);
    char *sql_copy = mlflow__strdup(sql), *sig_copy = mlflow__strdup(sig);
    if (!text || !sql_copy || !sig_copy) {
        mlflow__free(text);
        mlflow__free(sql_copy);
        mlflow__free(sig_copy);
        return mlflow__oom(err);
    }
    if (victim->sql) {
        /* Best effort: an undropped statement only costs server memory. */
        char drop[48];
        snprintf(drop, sizeof drop, "DEALLOCATE %s", victim->name);
        PQclear(PQexec(c->pg, drop));
        mlflow__free(victim->sql);
        mlflow__free(victim->sig);
        *victim = (struct cached_stmt){0};
    }
    char stmt_name[24];
    snprintf(stmt_name, sizeof stmt_name, "mlflowc_%u", ++c->next_name);
    PGresult *res = PQprepare(c->pg, stmt_name, text, n, types);
    mlflow__free(text);
    int rc = MLFLOW_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_error(c, res, sql, err);
    PQclear(res);
    if (rc) {
        mlflow__free(sql_copy);
        mlflow__free(sig_copy);
        return rc;
    }
    victim->hash = h;
    victim->used = ++c->tick;
    victim->sql = sql_copy;
    victim->sig = sig_copy;
    snprintf(victim->name, sizeof victim->name, "%s", stmt_name);
    *name = victim->name;
    return MLFLOW_OK;
}

/* ---- statements ---- */

static void format_real(char *buf, size_t size, double d)
{
    if (isnan(d))
        snprintf(buf, size, "NaN");
    else if (isinf(d))
        snprintf(buf, size, d > 0 ? "Infinity" : "-Infinity");
    else
        snprintf(buf, size, "%.17g", d);
}

#define LOCAL_PARAMS 32

static int pg_exec(struct mlflow__sql_conn *c, const char *sql, const struct mlflow__sql_value *p,
                   size_t n, mlflow__sql_row_fn fn, void *ctx, int64_t *changes,
                   struct mlflow_error *err)
{
    c->unique = false;
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                              "Lost the connection to PostgreSQL: %s", PQerrorMessage(c->pg));
    if (n > 65535)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Too many values (%zu) for one PostgreSQL statement", n);
    char local_sig[LOCAL_PARAMS + 1], local_buf[LOCAL_PARAMS][32];
    Oid local_types[LOCAL_PARAMS];
    const char *local_values[LOCAL_PARAMS];
    char *sig = local_sig;
    char(*buf)[32] = local_buf;
    Oid *types = local_types;
    const char **values = local_values;
    if (n > LOCAL_PARAMS) {
        sig = mlflow__malloc(n + 1);
        buf = mlflow__malloc(n * sizeof *buf);
        types = mlflow__malloc(n * sizeof *types);
        values = mlflow__malloc(n * sizeof *values);
        if (!sig || !buf || !types || !values) {
            mlflow__free(sig);
            mlflow__free(buf);
            mlflow__free(types);
            mlflow__free(values);
            return mlflow__oom(err);
        }
    }
    for (size_t i = 0; i < n; i++) {
        switch (p[i].type) {
        case MLFLOW__SQL_INT: {
            /* Untyped, so the server takes the column's type (int, bigint
             * or boolean); typed bigint beyond 32 bits, so an id no integer
             * column can hold simply matches nothing. */
            bool big = p[i].i > INT32_MAX || p[i].i < INT32_MIN;
            sig[i] = big ? 'I' : 'i';
            types[i] = big ? INT8_OID : 0;
            snprintf(buf[i], sizeof buf[i], "%lld", (long long)p[i].i);
            values[i] = buf[i];
            break;
        }
        case MLFLOW__SQL_REAL:
            sig[i] = 'r';
            types[i] = FLOAT8_OID;
            format_real(buf[i], sizeof buf[i], p[i].d);
            values[i] = buf[i];
            break;
        case MLFLOW__SQL_TEXT:
            sig[i] = 't';
            types[i] = 0;
            values[i] = p[i].s;
            break;
        default:
            sig[i] = 'n';
            types[i] = 0;
            values[i] = NULL;
            break;
        }
    }
    sig[n] = '\0';
    const char *name = NULL;
    int rc = stmt_get(c, sql, sig, types, (int)n, &name, err);
    PGresult *res = NULL;
    if (!rc) {
        res = PQexecPrepared(c->pg, name, (int)n, values, NULL, NULL, 0);
        ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            int rows = PQntuples(res);
            for (int r = 0; fn && r < rows; r++) {
                struct pg_row row = {res, r};
                if ((rc = fn(ctx, (const struct mlflow__sql_row *)&row)) != 0)
                    break;
            }
            if (!rc && changes) {
                const char *t = PQcmdTuples(res);
                *changes = t && *t ? strtoll(t, NULL, 10) : 0;
            }
        } else {
            rc = pg_error(c, res, sql, err);
        }
    }
    PQclear(res);
    if (n > LOCAL_PARAMS) {
        mlflow__free(sig);
        mlflow__free(buf);
        mlflow__free(types);
        mlflow__free(values);
    }
    return rc;
}

static bool pg_unique_violation(struct mlflow__sql_conn *c)
{
    return c->unique;
}

#define ROW(r) ((const struct pg_row *)(r))

static bool pg_col_null(const struct mlflow__sql_row *r, int i)
{
    return PQgetisnull(ROW(r)->res, ROW(r)->row, i) != 0;
}

static const char *pg_col_text(const struct mlflow__sql_row *r, int i)
{
    if (PQgetisnull(ROW(r)->res, ROW(r)->row, i))
        return NULL;
    return PQgetvalue(ROW(r)->res, ROW(r)->row, i);
}

static int64_t pg_col_int(const struct mlflow__sql_row *r, int i)
{
    const char *t = pg_col_text(r, i);
    if (!t)
        return 0;
    /* Booleans (is_nan) arrive as 't' and 'f'. */
    if (t[0] == 't')
        return 1;
    if (t[0] == 'f')
        return 0;
    return strtoll(t, NULL, 10);
}

static double pg_col_real(const struct mlflow__sql_row *r, int i)
{
    const char *t = pg_col_text(r, i);
    return t ? strtod(t, NULL) : 0.0;
}

/* ---- transactions ---- */

static int simple(struct mlflow__sql_conn *c, const char *sql, struct mlflow_error *err)
{
    PGresult *res = PQexec(c->pg, sql);
    int rc = MLFLOW_OK;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_error(c, res, sql, err);
    PQclear(res);
    return rc;
}

/* Reconnects a connection the server dropped. Its prepared statements went
 * with it. */
static int reconnect(struct mlflow__sql_conn *c, struct mlflow_error *err)
{
    cache_clear(c);
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[400];
        trim_copy(msg, sizeof msg, PQerrorMessage(c->pg));
        return mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                              "Cannot reconnect to PostgreSQL: %s", msg);
    }
    return MLFLOW_OK;
}

static int pg_begin(struct mlflow__sql_conn *c, bool write, struct mlflow_error *err)
{
    const char *sql = write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    c->commit_lost = false;
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        int rc = reconnect(c, err);
        if (rc)
            return rc;
    }
    int rc = simple(c, sql, err);
    /* An idle connection whose server went away fails here first; nothing
     * was done yet, so reconnect and begin again at once. */
    if (rc == MLFLOW_TEMPORARILY_UNAVAILABLE && PQstatus(c->pg) == CONNECTION_BAD) {
        rc = reconnect(c, err);
        if (!rc)
            rc = simple(c, sql, err);
    }
    return rc;
}

static int pg_commit(struct mlflow__sql_conn *c, struct mlflow_error *err)
{
    int rc = simple(c, "COMMIT", err);
    if (rc == MLFLOW_TEMPORARILY_UNAVAILABLE && PQstatus(c->pg) == CONNECTION_BAD) {
        /* The COMMIT may or may not have happened: running the transaction
         * again could apply it twice. */
        c->commit_lost = true;
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                              "The connection to PostgreSQL was lost while committing; the "
                              "change may or may not have been saved: %s",
                              msg);
    }
    return rc;
}

static bool pg_commit_outcome_unknown(struct mlflow__sql_conn *c)
{
    return c->commit_lost;
}

static void pg_rollback(struct mlflow__sql_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(c->pg, "ROLLBACK"));
}

/* ---- connections ---- */

/* libpq prints notices ("relation already exists, skipping") to stderr by
 * default; a library must not. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_disconnect(struct mlflow__sql_conn *c)
{
    if (!c)
        return;
    cache_clear(c);
    PQfinish(c->pg);
    mlflow__free(c);
}

static int pg_connect(void *dbv, struct mlflow__sql_conn **out, struct mlflow_error *err)
{
    struct pg_db *d = dbv;
    *out = NULL;
    struct mlflow__sql_conn *c = mlflow__calloc(1, sizeof *c);
    if (!c)
        return mlflow__oom(err);
    c->owner = d;
    c->pg = PQconnectdb(d->conninfo);
    if (!c->pg) {
        mlflow__free(c);
        return mlflow__oom(err);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[400];
        trim_copy(msg, sizeof msg, PQerrorMessage(c->pg));
        pg_disconnect(c);
        return mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                              "Cannot connect to PostgreSQL: %s", msg);
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    int rc = PQsetClientEncoding(c->pg, "UTF8") == 0 ? MLFLOW_OK : pg_error(c, NULL, "", err);
    if (rc) {
        pg_disconnect(c);
        return rc;
    }
    *out = c;
    return MLFLOW_OK;
}

static void pg_close_db(void *dbv)
{
    struct pg_db *d = dbv;
    if (d) {
        mlflow__free(d->conninfo);
        mlflow__free(d);
    }
}

/* MLflow's patterns have '%' and '_' only: no escape character. */
static void pg_like(struct mlflow__sb *sb, const char *expr, bool case_insensitive)
{
    mlflow__sb_addf(sb, "%s %s ? ESCAPE ''", expr, case_insensitive ? "ILIKE" : "LIKE");
}

/* MLflow 2.12's schema as its migrations leave it in PostgreSQL: the same
 * tables, types, constraint names and indexes that `pg_dump --schema-only`
 * shows for a database MLflow 2.12.2 created. Unqualified, so it goes into
 * the connection's current schema. The first statement serialises
 * concurrent creators of one database. */
static const char *const SCHEMA_DDL[] = {
    "SELECT pg_advisory_xact_lock(2120012)",
    "CREATE TABLE alembic_version (\n"
    "\tversion_num VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
    ")",
    "CREATE TABLE experiments (\n"
    "\texperiment_id SERIAL NOT NULL, \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tartifact_location VARCHAR(256), \n"
    "\tlifecycle_stage VARCHAR(32), \n"
    "\tcreation_time BIGINT, \n"
    "\tlast_update_time BIGINT, \n"
    "\tCONSTRAINT experiment_pk PRIMARY KEY (experiment_id), \n"
    "\tCONSTRAINT experiments_name_key UNIQUE (name), \n"
    "\tCONSTRAINT experiments_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted'))\n"
    ")",
    "CREATE TABLE experiment_tags (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\texperiment_id INTEGER NOT NULL, \n"
    "\tCONSTRAINT experiment_tag_pk PRIMARY KEY (key, experiment_id), \n"
    "\tCONSTRAINT experiment_tags_experiment_id_fkey FOREIGN KEY(experiment_id) REFERENCES "
    "experiments (experiment_id)\n"
    ")",
    "CREATE TABLE runs (\n"
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
    "\texperiment_id INTEGER, \n"
    "\tdeleted_time BIGINT, \n"
    "\tCONSTRAINT run_pk PRIMARY KEY (run_uuid), \n"
    "\tCONSTRAINT runs_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')), \n"
    "\tCONSTRAINT runs_status_check CHECK (status IN ('SCHEDULED', 'FAILED', 'FINISHED', "
    "'RUNNING', 'KILLED')), \n"
    "\tCONSTRAINT source_type CHECK (source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', "
    "'PROJECT')), \n"
    "\tCONSTRAINT runs_experiment_id_fkey FOREIGN KEY(experiment_id) REFERENCES experiments "
    "(experiment_id)\n"
    ")",
    "CREATE TABLE tags (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT tag_pk PRIMARY KEY (key, run_uuid), \n"
    "\tCONSTRAINT tags_run_uuid_fkey FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    "CREATE TABLE params (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(8000) NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT param_pk PRIMARY KEY (key, run_uuid), \n"
    "\tCONSTRAINT params_run_uuid_fkey FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    "CREATE TABLE metrics (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue DOUBLE PRECISION NOT NULL, \n"
    "\t\"timestamp\" BIGINT NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tstep BIGINT DEFAULT '0'::bigint NOT NULL, \n"
    "\tis_nan BOOLEAN DEFAULT false NOT NULL, \n"
    "\tCONSTRAINT metric_pk PRIMARY KEY (key, \"timestamp\", step, run_uuid, value, is_nan), \n"
    "\tCONSTRAINT metrics_run_uuid_fkey FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid)\n"
    ")",
    "CREATE TABLE latest_metrics (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue DOUBLE PRECISION NOT NULL, \n"
    "\t\"timestamp\" BIGINT, \n"
    "\tstep BIGINT NOT NULL, \n"
    "\tis_nan BOOLEAN NOT NULL, \n"
    "\trun_uuid VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT latest_metric_pk PRIMARY KEY (key, run_uuid), \n"
    "\tCONSTRAINT latest_metrics_run_uuid_fkey FOREIGN KEY(run_uuid) REFERENCES runs "
    "(run_uuid)\n"
    ")",
    "CREATE TABLE registered_models (\n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tcreation_time BIGINT, \n"
    "\tlast_updated_time BIGINT, \n"
    "\tdescription VARCHAR(5000), \n"
    "\tCONSTRAINT registered_model_pk PRIMARY KEY (name)\n"
    ")",
    "CREATE TABLE registered_model_tags (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tCONSTRAINT registered_model_tag_pk PRIMARY KEY (key, name), \n"
    "\tCONSTRAINT registered_model_tags_name_fkey FOREIGN KEY(name) REFERENCES "
    "registered_models (name) ON UPDATE CASCADE\n"
    ")",
    "CREATE TABLE model_versions (\n"
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
    "\trun_link VARCHAR(500), \n"
    "\tstorage_location VARCHAR(500), \n"
    "\tCONSTRAINT model_version_pk PRIMARY KEY (name, version), \n"
    "\tCONSTRAINT model_versions_name_fkey FOREIGN KEY(name) REFERENCES registered_models "
    "(name) ON UPDATE CASCADE\n"
    ")",
    "CREATE TABLE model_version_tags (\n"
    "\tkey VARCHAR(250) NOT NULL, \n"
    "\tvalue VARCHAR(5000), \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tversion INTEGER NOT NULL, \n"
    "\tCONSTRAINT model_version_tag_pk PRIMARY KEY (key, name, version), \n"
    "\tCONSTRAINT model_version_tags_name_version_fkey FOREIGN KEY(name, version) REFERENCES "
    "model_versions (name, version) ON UPDATE CASCADE\n"
    ")",
    "CREATE TABLE registered_model_aliases (\n"
    "\talias VARCHAR(256) NOT NULL, \n"
    "\tversion INTEGER NOT NULL, \n"
    "\tname VARCHAR(256) NOT NULL, \n"
    "\tCONSTRAINT registered_model_alias_pk PRIMARY KEY (name, alias), \n"
    "\tCONSTRAINT registered_model_alias_name_fkey FOREIGN KEY(name) REFERENCES "
    "registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE\n"
    ")",
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
    "\tCONSTRAINT datasets_experiment_id_fkey FOREIGN KEY(experiment_id) REFERENCES "
    "experiments (experiment_id)\n"
    ")",
    "CREATE TABLE inputs (\n"
    "\tinput_uuid VARCHAR(36) NOT NULL, \n"
    "\tsource_type VARCHAR(36) NOT NULL, \n"
    "\tsource_id VARCHAR(36) NOT NULL, \n"
    "\tdestination_type VARCHAR(36) NOT NULL, \n"
    "\tdestination_id VARCHAR(36) NOT NULL, \n"
    "\tCONSTRAINT inputs_pk PRIMARY KEY (source_type, source_id, destination_type, "
    "destination_id)\n"
    ")",
    "CREATE TABLE input_tags (\n"
    "\tinput_uuid VARCHAR(36) NOT NULL, \n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tvalue VARCHAR(500) NOT NULL, \n"
    "\tCONSTRAINT input_tags_pk PRIMARY KEY (input_uuid, name)\n"
    ")",
    "CREATE INDEX index_datasets_dataset_uuid ON datasets (dataset_uuid)",
    "CREATE INDEX index_datasets_experiment_id_dataset_source_type ON datasets (experiment_id, "
    "dataset_source_type)",
    "CREATE INDEX index_inputs_destination_type_destination_id_source_type ON inputs "
    "(destination_type, destination_id, source_type)",
    "CREATE INDEX index_inputs_input_uuid ON inputs (input_uuid)",
    "CREATE INDEX index_latest_metrics_run_uuid ON latest_metrics (run_uuid)",
    "CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)",
    "CREATE INDEX index_params_run_uuid ON params (run_uuid)",
    "CREATE INDEX index_tags_run_uuid ON tags (run_uuid)",
    NULL,
};

static const struct mlflow__sql_driver postgres_driver = {
    .name = "postgres",
    .like = pg_like,
    .binary_collation = " COLLATE \"C\"",
    /* Metric rows are only ever appended (never updated), so their physical
     * order is the order they were logged in. */
    .metric_log_order = "ctid",
    .schema_objects_sql = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                          "c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN "
                          "('r', 'p', 'i')",
    .schema_ddl = SCHEMA_DDL,
    .sync_experiment_ids_sql = "SELECT setval(pg_get_serial_sequence('experiments', "
                               "'experiment_id'), GREATEST((SELECT MAX(experiment_id) FROM "
                               "experiments), 1))",
    /* SERIAL: a 32-bit integer. */
    .max_experiment_id = INT32_MAX,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .prepare_db = NULL,
    .close_db = pg_close_db,
    .exec = pg_exec,
    .unique_violation = pg_unique_violation,
    .col_null = pg_col_null,
    .col_int = pg_col_int,
    .col_real = pg_col_real,
    .col_text = pg_col_text,
    .begin = pg_begin,
    .commit = pg_commit,
    .commit_outcome_unknown = pg_commit_outcome_unknown,
    .rollback = pg_rollback,
};

/* The store's URI with the password hidden: it shows up in messages. */
static char *display_uri(const char *uri)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    const char *auth = strstr(uri, "://");
    const char *at = auth ? strchr(auth + 3, '@') : NULL;
    const char *slash = auth ? strchr(auth + 3, '/') : NULL;
    const char *colon = auth ? strchr(auth + 3, ':') : NULL;
    if (at && (!slash || at < slash) && colon && colon < at) {
        mlflow__sb_add(&sb, uri, (size_t)(colon - uri));
        mlflow__sb_adds(&sb, ":***");
        mlflow__sb_adds(&sb, at);
    } else {
        mlflow__sb_adds(&sb, uri);
    }
    return mlflow__sb_detach(&sb);
}

/* An environment variable as a count, or def. */
static size_t env_count(const char *name, size_t def)
{
    const char *v = getenv(name);
    char *end;
    long long n = v && *v ? strtoll(v, &end, 10) : -1;
    return v && *v && !*end && n >= 0 && n < 100000 ? (size_t)n : def;
}

int mlflow__postgres_store_open(const char *uri, const char *artifact_root,
                                struct mlflow__store **out, struct mlflow_error *err)
{
    *out = NULL;
    const char *rest = strstr(uri, "://");
    if (!rest || strncmp(uri, "postgresql", 10) != 0 || (uri[10] != ':' && uri[10] != '+'))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid PostgreSQL URI '%s': expected "
                              "postgresql://user:password@host:port/database",
                              uri);
    /* SQLAlchemy's "+driver" picks a Python driver; libpq is ours. */
    struct mlflow__sb ci = MLFLOW__SB_INIT;
    mlflow__sb_adds(&ci, "postgresql");
    mlflow__sb_adds(&ci, rest);
    struct pg_db *d = mlflow__calloc(1, sizeof *d);
    char *conninfo = mlflow__sb_detach(&ci);
    char *shown = display_uri(uri);
    char *root = artifact_root ? mlflow__strdup(artifact_root) : mlflow__abspath("mlruns");
    if (!d || !conninfo || !shown || !root) {
        mlflow__free(d);
        mlflow__free(conninfo);
        mlflow__free(shown);
        mlflow__free(root);
        return mlflow__oom(err);
    }
    d->conninfo = conninfo;
    /* A bad URI fails here, before any connection is tried. */
    char *parse_err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &parse_err);
    if (!opts) {
        char msg[300];
        trim_copy(msg, sizeof msg, parse_err ? parse_err : "out of memory");
        PQfreemem(parse_err);
        int rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "Invalid PostgreSQL URI '%s': %s", shown, msg);
        pg_close_db(d);
        mlflow__free(shown);
        mlflow__free(root);
        return rc;
    }
    PQconninfoFree(opts);
    /* MLflow's pool: MLFLOW_SQLALCHEMYSTORE_POOL_SIZE connections plus
     * MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW more under load (5 + 10). Callers
     * beyond that wait for a free connection instead of failing. */
    size_t max_conns = env_count("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", 5) +
                       env_count("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", 10);
    int rc = mlflow__sql_store_open(&postgres_driver, d, max_conns ? max_conns : 1, shown, root,
                                    out, err);
    mlflow__free(shown);
    mlflow__free(root);
    return rc;
}
