/*
 * sql_read.c - rows of the SQL store into result objects: runs with their
 * params, tags and latest metrics, experiments with their tags.
 *
 * A run's children are read for many runs at once, with the runs' ids
 * bound in chunks of a few fixed sizes (so the statement cache keeps them),
 * and distributed over the runs afterwards: a page of 1000 runs costs a
 * few dozen statements, not thousands.
 */
#include "sql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mlflow__sql_no_run(const char *run_id, struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
}

static char *adup(struct mlflow__arena *a, const char *s, bool *oom)
{
    char *r = mlflow__arena_strdup(a, s ? s : "");
    if (!r)
        *oom = true;
    return r;
}

double mlflow__sql_read_value(const struct mlflow__sql_driver *drv,
                              const struct mlflow__sql_row *row, int value_col, int is_nan_col)
{
    if (drv->col_int(row, is_nan_col))
        return NAN;
    return drv->col_real(row, value_col);
}

static int64_t read_time(const struct mlflow__sql_driver *drv, const struct mlflow__sql_row *row,
                         int col)
{
    return drv->col_null(row, col) ? MLFLOW_TIME_UNSET : drv->col_int(row, col);
}

/* ---- loading key/value children (params, tags, latest metrics, experiment
 * tags) for a set of entities, in chunks of bound ids ---- */

/* Chunk sizes: a few fixed statement shapes, so the statement cache holds
 * them; a short chunk is padded with NULL ids, which match nothing. */
static const size_t CHUNKS[] = {1, 16, 128};

struct child_row {
    size_t owner;
    struct mlflow_metric m; /* key and value (or metric fields) */
    const char *value;
};

struct owner_ref {
    const char *id;
    size_t idx;
};

struct children {
    const struct mlflow__sql_driver *drv;
    struct mlflow__arena *a;
    struct owner_ref *refs; /* sorted by id */
    size_t n_refs;
    bool int_ids; /* column 0 is an integer id (experiments) */
    bool metrics; /* rows are (id, key, value, timestamp, step, is_nan) */
    struct child_row *rows;
    size_t n, cap;
    bool oom;
};

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct owner_ref *)a)->id, ((const struct owner_ref *)b)->id);
}

static int child_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct children *ch = ctx;
    const struct mlflow__sql_driver *drv = ch->drv;
    char idbuf[24];
    struct owner_ref key = {NULL, 0};
    if (ch->int_ids) {
        mlflow__fmt_int64(drv->col_int(row, 0), idbuf);
        key.id = idbuf;
    } else {
        key.id = drv->col_text(row, 0);
    }
    if (!key.id)
        return MLFLOW_OK;
    const struct owner_ref *ref = bsearch(&key, ch->refs, ch->n_refs, sizeof *ch->refs, ref_cmp);
    if (!ref)
        return MLFLOW_OK;
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 64;
        struct child_row *nr = mlflow__realloc(ch->rows, cap * sizeof *nr);
        if (!nr)
            return MLFLOW_RESOURCE_EXHAUSTED;
        ch->rows = nr;
        ch->cap = cap;
    }
    struct child_row *r = &ch->rows[ch->n];
    memset(r, 0, sizeof *r);
    r->owner = ref->idx;
    r->m.key = adup(ch->a, drv->col_text(row, 1), &ch->oom);
    if (ch->metrics) {
        r->m.value = mlflow__sql_read_value(drv, row, 2, 5);
        r->m.timestamp = drv->col_int(row, 3);
        r->m.step = drv->col_int(row, 4);
    } else {
        r->value = adup(ch->a, drv->col_text(row, 2), &ch->oom);
    }
    if (ch->oom)
        return MLFLOW_RESOURCE_EXHAUSTED;
    ch->n++;
    return MLFLOW_OK;
}

/* Runs "<head> IN (?, ...) <tail>" over all ids; rows go to ch. */
static int load_children(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *head,
                         const char *tail, struct children *ch, struct mlflow_error *err)
{
    struct mlflow__sql_value params[128];
    int rc = MLFLOW_OK;
    for (size_t done = 0; !rc && done < ch->n_refs;) {
        size_t left = ch->n_refs - done, slots = CHUNKS[MLFLOW_ARRAY_LEN(CHUNKS) - 1];
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(CHUNKS); i++) {
            if (CHUNKS[i] >= left) {
                slots = CHUNKS[i];
                break;
            }
        }
        size_t take = left < slots ? left : slots;
        struct mlflow__sb sql = MLFLOW__SB_INIT;
        mlflow__sb_adds(&sql, head);
        mlflow__sb_adds(&sql, " IN (");
        for (size_t i = 0; i < slots; i++) {
            mlflow__sb_adds(&sql, i ? ", ?" : "?");
            /* refs are sorted by id; position i of this chunk is ref done+i */
            if (i >= take)
                params[i] = MLFLOW__SQL_NULLV;
            else if (ch->int_ids) {
                int64_t id = 0;
                mlflow__sql_experiment_id(ch->refs[done + i].id, &id);
                params[i] = MLFLOW__SQL_INTV(id);
            } else {
                params[i] = MLFLOW__SQL_TEXTV(ch->refs[done + i].id);
            }
        }
        mlflow__sb_adds(&sql, ") ");
        mlflow__sb_adds(&sql, tail);
        if (sql.oom) {
            mlflow__sb_release(&sql);
            return mlflow__oom(err);
        }
        rc = st->drv->exec(c, sql.buf, params, slots, child_row, ch, NULL, err);
        if (rc == MLFLOW_RESOURCE_EXHAUSTED)
            mlflow__oom(err);
        mlflow__sb_release(&sql);
        done += take;
    }
    return rc;
}

/* Distributes ch's rows over the owners' arrays (rows arrive ordered by
 * owner id, then key, so each array comes out sorted by key). */
static int distribute(struct children *ch, size_t n_owners, void *owners, size_t stride,
                      size_t arr_off, size_t count_off, bool metrics)
{
    size_t *counts = mlflow__calloc(n_owners ? n_owners : 1, sizeof *counts);
    if (!counts)
        return -1;
    for (size_t i = 0; i < ch->n; i++)
        counts[ch->rows[i].owner]++;
    int rc = 0;
    for (size_t o = 0; !rc && o < n_owners; o++) {
        char *base = (char *)owners + o * stride;
        size_t elem = metrics ? sizeof(struct mlflow_metric) : sizeof(struct mlflow_kv);
        void *arr = counts[o] ? mlflow__arena_alloc(ch->a, counts[o] * elem) : NULL;
        if (counts[o] && !arr)
            rc = -1;
        memcpy(base + arr_off, &arr, sizeof arr);
        memset(base + count_off, 0, sizeof(size_t));
    }
    for (size_t i = 0; !rc && i < ch->n; i++) {
        const struct child_row *r = &ch->rows[i];
        char *base = (char *)owners + r->owner * stride;
        void *arr;
        size_t cnt;
        memcpy(&arr, base + arr_off, sizeof arr);
        memcpy(&cnt, base + count_off, sizeof cnt);
        if (metrics)
            ((struct mlflow_metric *)arr)[cnt] = r->m;
        else
            ((struct mlflow_kv *)arr)[cnt] = (struct mlflow_kv){r->m.key, r->value};
        cnt++;
        memcpy(base + count_off, &cnt, sizeof cnt);
    }
    mlflow__free(counts);
    return rc;
}

static struct owner_ref *make_refs(size_t n, const char *(*id_of)(void *owners, size_t i),
                                   void *owners)
{
    struct owner_ref *refs = mlflow__calloc(n ? n : 1, sizeof *refs);
    if (!refs)
        return NULL;
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct owner_ref){id_of(owners, i), i};
    qsort(refs, n, sizeof *refs, ref_cmp);
    return refs;
}

static const char *run_id_of(void *owners, size_t i)
{
    return ((struct mlflow_run *)owners)[i].info.run_id;
}

static const char *exp_id_of(void *owners, size_t i)
{
    return ((struct mlflow_experiment *)owners)[i].experiment_id;
}

/* Params, tags and latest metrics of runs whose info is filled in. */
int mlflow__sql_load_run_data(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                              struct mlflow__arena *a, struct mlflow_run *runs, size_t n,
                              struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    struct owner_ref *refs = make_refs(n, run_id_of, runs);
    if (!refs)
        return mlflow__oom(err);
    char tail[96];
    snprintf(tail, sizeof tail, "ORDER BY run_uuid, \"key\"%s", st->drv->binary_collation);
    static const struct {
        const char *head;
        bool metrics;
        size_t arr, count;
    } parts[] = {
        {"SELECT run_uuid, \"key\", value FROM params WHERE run_uuid", false,
         offsetof(struct mlflow_run, data.params), offsetof(struct mlflow_run, data.n_params)},
        {"SELECT run_uuid, \"key\", value FROM tags WHERE run_uuid", false,
         offsetof(struct mlflow_run, data.tags), offsetof(struct mlflow_run, data.n_tags)},
        {"SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics WHERE "
         "run_uuid",
         true, offsetof(struct mlflow_run, data.metrics),
         offsetof(struct mlflow_run, data.n_metrics)},
    };
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < MLFLOW_ARRAY_LEN(parts); i++) {
        struct children ch = {
            .drv = st->drv, .a = a, .refs = refs, .n_refs = n, .metrics = parts[i].metrics};
        rc = load_children(st, c, parts[i].head, tail, &ch, err);
        if (!rc &&
            distribute(&ch, n, runs, sizeof *runs, parts[i].arr, parts[i].count, parts[i].metrics))
            rc = mlflow__oom(err);
        mlflow__free(ch.rows);
    }
    mlflow__free(refs);
    if (!rc)
        rc = mlflow__sql_load_run_inputs(st, c, a, runs, n, err);
    return rc;
}

int mlflow__sql_load_experiment_tags(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                     struct mlflow__arena *a, struct mlflow_experiment *exps,
                                     size_t n, struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    struct owner_ref *refs = make_refs(n, exp_id_of, exps);
    if (!refs)
        return mlflow__oom(err);
    char tail[96];
    snprintf(tail, sizeof tail, "ORDER BY experiment_id, \"key\"%s", st->drv->binary_collation);
    struct children ch = {.drv = st->drv, .a = a, .refs = refs, .n_refs = n, .int_ids = true};
    int rc = load_children(st, c,
                           "SELECT experiment_id, \"key\", value FROM experiment_tags WHERE "
                           "experiment_id",
                           tail, &ch, err);
    if (!rc && distribute(&ch, n, exps, sizeof *exps, offsetof(struct mlflow_experiment, tags),
                          offsetof(struct mlflow_experiment, n_tags), false))
        rc = mlflow__oom(err);
    mlflow__free(ch.rows);
    mlflow__free(refs);
    return rc;
}

/* ---- rows into entities ---------------------------------------------------- */

static void *rowvec_push(struct mlflow__sql_rows *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void *ni = mlflow__realloc(v->items, cap * v->size);
        if (!ni) {
            v->oom = true;
            return NULL;
        }
        v->items = ni;
        v->cap = cap;
    }
    void *p = (char *)v->items + v->n++ * v->size;
    memset(p, 0, v->size);
    return p;
}

static int run_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct mlflow__sql_rows *v = ctx;
    const struct mlflow__sql_driver *drv = v->drv;
    struct mlflow_run *r = rowvec_push(v);
    if (!r)
        return MLFLOW_RESOURCE_EXHAUSTED;
    struct mlflow_run_info *in = &r->info;
    char idbuf[24];
    mlflow__fmt_int64(drv->col_int(row, MLFLOW__SQL_RUN_EXPERIMENT_ID), idbuf);
    in->run_id = adup(v->a, drv->col_text(row, MLFLOW__SQL_RUN_UUID), &v->oom);
    in->run_name = adup(v->a, drv->col_text(row, MLFLOW__SQL_RUN_NAME), &v->oom);
    in->experiment_id = adup(v->a, idbuf, &v->oom);
    in->user_id = adup(v->a, drv->col_text(row, MLFLOW__SQL_RUN_USER_ID), &v->oom);
    in->artifact_uri = adup(v->a, drv->col_text(row, MLFLOW__SQL_RUN_ARTIFACT_URI), &v->oom);
    const char *stage = drv->col_text(row, MLFLOW__SQL_RUN_LIFECYCLE_STAGE);
    in->lifecycle_stage = adup(v->a, stage ? stage : "active", &v->oom);
    const char *status = drv->col_text(row, MLFLOW__SQL_RUN_STATUS);
    if (!status || mlflow_run_status_parse(status, &in->status) != MLFLOW_OK)
        in->status = MLFLOW_RUN_STATUS_RUNNING;
    in->start_time = read_time(drv, row, MLFLOW__SQL_RUN_START_TIME);
    in->end_time = read_time(drv, row, MLFLOW__SQL_RUN_END_TIME);
    return v->oom ? MLFLOW_RESOURCE_EXHAUSTED : MLFLOW_OK;
}

static int exp_row(void *ctx, const struct mlflow__sql_row *row)
{
    struct mlflow__sql_rows *v = ctx;
    const struct mlflow__sql_driver *drv = v->drv;
    struct mlflow_experiment *e = rowvec_push(v);
    if (!e)
        return MLFLOW_RESOURCE_EXHAUSTED;
    char idbuf[24];
    mlflow__fmt_int64(drv->col_int(row, MLFLOW__SQL_EXP_ID), idbuf);
    e->experiment_id = adup(v->a, idbuf, &v->oom);
    e->name = adup(v->a, drv->col_text(row, MLFLOW__SQL_EXP_NAME), &v->oom);
    e->artifact_location =
        adup(v->a, drv->col_text(row, MLFLOW__SQL_EXP_ARTIFACT_LOCATION), &v->oom);
    const char *stage = drv->col_text(row, MLFLOW__SQL_EXP_LIFECYCLE_STAGE);
    e->lifecycle_stage = adup(v->a, stage ? stage : "active", &v->oom);
    e->creation_time = read_time(drv, row, MLFLOW__SQL_EXP_CREATION_TIME);
    e->last_update_time = read_time(drv, row, MLFLOW__SQL_EXP_LAST_UPDATE_TIME);
    return v->oom ? MLFLOW_RESOURCE_EXHAUSTED : MLFLOW_OK;
}

/* Runs a SELECT of run (or experiment) columns into v. */
int mlflow__sql_collect(struct mlflow__sql_store *st, struct mlflow__sql_conn *c, const char *sql,
                        const struct mlflow__sql_value *p, size_t n, struct mlflow__sql_rows *v,
                        bool runs, struct mlflow_error *err)
{
    int rc = st->drv->exec(c, sql, p, n, runs ? run_row : exp_row, v, NULL, err);
    if (rc == MLFLOW_RESOURCE_EXHAUSTED || v->oom)
        rc = mlflow__oom(err);
    return rc;
}

/* ---- single entities ---------------------------------------------------------- */

static const char EXP_SELECT[] = "SELECT " MLFLOW__SQL_EXP_COLUMNS " FROM experiments e WHERE ";

/* Reads one experiment (with tags) into a new result object; *out stays
 * NULL when no row matches. */
int mlflow__sql_read_experiment(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                const char *where, struct mlflow__sql_value key,
                                struct mlflow_experiment **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_experiment *e = mlflow__obj_new(sizeof *e);
    if (!e)
        return mlflow__oom(err);
    struct mlflow__sql_rows v = {st->drv, mlflow__obj_arena(e), NULL, 0, 0, sizeof *e, false};
    char sql[256];
    snprintf(sql, sizeof sql, "%s%s", EXP_SELECT, where);
    int rc = mlflow__sql_collect(st, c, sql, &key, 1, &v, false, err);
    if (!rc && v.n) {
        *e = *(struct mlflow_experiment *)v.items;
        rc = mlflow__sql_load_experiment_tags(st, c, mlflow__obj_arena(e), e, 1, err);
    }
    mlflow__free(v.items);
    if (rc || !v.n) {
        mlflow__obj_free(e);
        return rc;
    }
    *out = e;
    return MLFLOW_OK;
}

static const char RUN_SELECT[] = "SELECT " MLFLOW__SQL_RUN_COLUMNS " FROM runs r WHERE "
                                 "r.run_uuid = ?";

/* Reads the whole run into a new result object (NULL when missing). */
int mlflow__sql_read_run(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                         const char *run_id, struct mlflow_run **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_run *r = mlflow__obj_new(sizeof *r);
    if (!r)
        return mlflow__oom(err);
    struct mlflow__sql_rows v = {st->drv, mlflow__obj_arena(r), NULL, 0, 0, sizeof *r, false};
    struct mlflow__sql_value p = MLFLOW__SQL_TEXTV(run_id);
    int rc = mlflow__sql_collect(st, c, RUN_SELECT, &p, 1, &v, true, err);
    if (!rc && v.n) {
        *r = *(struct mlflow_run *)v.items;
        rc = mlflow__sql_load_run_data(st, c, mlflow__obj_arena(r), r, 1, err);
    }
    mlflow__free(v.items);
    if (rc || !v.n) {
        mlflow__obj_free(r);
        return rc ? rc : mlflow__sql_no_run(run_id, err);
    }
    *out = r;
    return MLFLOW_OK;
}

/* The runs (info only) of ids[0..n) into runs[0..n), in that order. */
int mlflow__sql_load_runs_by_id(struct mlflow__sql_store *st, struct mlflow__sql_conn *c,
                                struct mlflow__arena *a, char (*ids)[33], size_t n,
                                struct mlflow_run *runs, struct mlflow_error *err)
{
    struct mlflow__sql_rows v = {st->drv, a, NULL, 0, 0, sizeof(struct mlflow_run), false};
    struct owner_ref *refs = mlflow__calloc(n ? n : 1, sizeof *refs);
    if (!refs)
        return mlflow__oom(err);
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct owner_ref){ids[i], i};
    qsort(refs, n, sizeof *refs, ref_cmp);
    struct mlflow__sql_value params[128];
    int rc = MLFLOW_OK;
    for (size_t done = 0; !rc && done < n;) {
        size_t take = n - done < 128 ? n - done : 128;
        size_t slots = take == 1 ? 1 : take <= 16 ? 16 : 128;
        struct mlflow__sb sql = MLFLOW__SB_INIT;
        mlflow__sb_adds(&sql,
                        "SELECT " MLFLOW__SQL_RUN_COLUMNS " FROM runs r WHERE r.run_uuid IN (");
        for (size_t i = 0; i < slots; i++) {
            mlflow__sb_adds(&sql, i ? ", ?" : "?");
            params[i] = i < take ? MLFLOW__SQL_TEXTV(ids[done + i]) : MLFLOW__SQL_NULLV;
        }
        mlflow__sb_addc(&sql, ')');
        if (sql.oom)
            rc = mlflow__oom(err);
        else
            rc = mlflow__sql_collect(st, c, sql.buf, params, slots, &v, true, err);
        mlflow__sb_release(&sql);
        done += take;
    }
    /* Rows come back in any order: put each where its id was. */
    struct mlflow_run *got = v.items;
    for (size_t i = 0; !rc && i < v.n; i++) {
        struct owner_ref key = {got[i].info.run_id, 0};
        const struct owner_ref *ref = bsearch(&key, refs, n, sizeof *refs, ref_cmp);
        if (ref)
            runs[ref->idx] = got[i];
    }
    /* Both phases read one snapshot, so every id has its row. */
    if (!rc && v.n != n)
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "Search found %zu runs but could read %zu of them", n, v.n);
    mlflow__free(v.items);
    mlflow__free(refs);
    return rc;
}
