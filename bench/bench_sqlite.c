/*
 * bench_sqlite.c - the SQLite store's speed, each case beside a baseline
 * measured in the same run (medians; machines here are noisy, so read the
 * ratios):
 *
 *   1. log_batch of 1000 metrics (10 keys x 100 steps) into one run, in
 *      rows/s, against a raw loop of one prepared INSERT into the metrics
 *      table of the same schema, one transaction per 1000 rows (the floor:
 *      no run check, no latest_metrics);
 *   2. get_metric_history of one key holding `points` points;
 *   3. search_runs with `metrics.loss < 0.5 and params.lr = '0.01'` ordered
 *      by metrics.acc DESC over N runs (10 params, 10 metrics, 5 tags each)
 *      for the sqlite and the file store, checking both give the same runs
 *      in the same order; plus, for sqlite, the plain search (no filter,
 *      base order) that lists an experiment's latest runs.
 *
 *   1b. with MLFLOW_BENCH_PG_URI set (a PostgreSQL server; bench/bench_pg.sh
 *      starts one): the same log_batch into a fresh schema there, against a
 *      raw loop of one prepared INSERT through libpq, one transaction per
 *      1000 rows (one round trip per row: what the store did before it
 *      wrote batches as multi-row INSERTs). MLFLOW_BENCH_PG_ONLY=1 runs
 *      this case alone.
 *
 *   bench_sqlite [reps] [run counts, e.g. 1000,10000,100000] [history points]
 */
#include <mlflow.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_REPS 15
#define BATCH 1000

static char *new_run(struct mlflow_client *c, const char *exp, int64_t start)
{
    struct mlflow_run *r;
    const struct mlflow_create_run_opts o = {.start_time = start};
    check(mlflow_client_create_run(c, exp, &o, &r), "create_run");
    char *id = strdup(r->info.run_id);
    mlflow_run_free(r);
    return id;
}

/* ---- 1. log_batch against raw inserts ---- */

static char key_names[10][16];

static void fill_batch(struct mlflow_metric *m, int rep)
{
    for (int i = 0; i < BATCH; i++)
        m[i] = (struct mlflow_metric){key_names[i % 10], 1.0 / (i + 3), 1700000000000 + rep,
                                      (int64_t)rep * 100 + i / 10};
}

static double batch_rows_per_s(struct mlflow_client *c, const char *run, int rep)
{
    struct mlflow_metric m[BATCH];
    fill_batch(m, rep);
    double t0 = now_s();
    check(mlflow_client_log_batch(c, run, m, BATCH, NULL, 0, NULL, 0), "log_batch");
    return BATCH / (now_s() - t0);
}

/* The log_batch rows of the table: ours (ma rows/s) against raw inserts (mb). */
static void batch_table(const char *store, double ma, double mb)
{
    char name[64];
    snprintf(name, sizeof name, "mlflow_client_log_batch (%s)", store);
    printf("%-52s %12s %8s\n", "case", "rows/s", "ratio");
    printf("%-52s %12.0f %8s\n", "baseline: raw prepared INSERT loop, 1 transaction", mb, "1.00");
    printf("%-52s %12.0f %8.2f\n", name, ma, ma / mb);
}

static double raw_rows_per_s(sqlite3 *db, sqlite3_stmt *ins, const char *run, int rep)
{
    struct mlflow_metric m[BATCH];
    fill_batch(m, rep);
    double t0 = now_s();
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int i = 0; i < BATCH; i++) {
        sqlite3_bind_text(ins, 1, m[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 2, m[i].value);
        sqlite3_bind_int64(ins, 3, m[i].timestamp);
        sqlite3_bind_int64(ins, 4, m[i].step);
        sqlite3_bind_int(ins, 5, 0);
        sqlite3_bind_text(ins, 6, run, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "bench: raw insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return BATCH / (now_s() - t0);
}

static void bench_log_batch(int reps)
{
    char *dir = fresh_dir("sqlite");
    char uri[700], path[600];
    snprintf(path, sizeof path, "%s/mlflow.db", dir);
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
    for (int i = 0; i < 10; i++)
        snprintf(key_names[i], sizeof key_names[i], "metric_%d", i);
    struct mlflow_client *c = open_client(uri);
    char *ours = new_run(c, "0", 0), *raw_run = new_run(c, "0", 0);
    /* The raw loop writes into the same file and schema, through its own
     * connection, as a program using SQLite directly would. */
    sqlite3 *db;
    sqlite3_stmt *ins;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO metrics (\"key\", value, timestamp, step, is_nan, "
                           "run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench: raw setup: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    double a[MAX_REPS * 4], b[MAX_REPS * 4];
    int n = reps * 4; /* batches are short: more samples */
    batch_rows_per_s(c, ours, 1000); /* warm the statement caches */
    raw_rows_per_s(db, ins, raw_run, 1000);
    for (int r = 0; r < n; r++) {
        b[r] = raw_rows_per_s(db, ins, raw_run, r);
        a[r] = batch_rows_per_s(c, ours, r);
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    double ma = median(a, n), mb = median(b, n);
    printf("\n1. log_batch of %d metrics (10 keys x 100 steps), medians of %d batches\n", BATCH,
           n);
    batch_table("sqlite", ma, mb);
    free(ours);
    free(raw_run);
    mlflow_client_close(c);
    remove_dir(dir);
    free(dir);
}

/* ---- 1b. the same on PostgreSQL ---- */

static void pg_ok(PGconn *pg, PGresult *res, const char *what)
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s: %s", what, PQerrorMessage(pg));
        exit(1);
    }
    PQclear(res);
}

static double pg_raw_rows_per_s(PGconn *pg, const char *run, int rep)
{
    struct mlflow_metric m[BATCH];
    fill_batch(m, rep);
    double t0 = now_s();
    pg_ok(pg, PQexec(pg, "BEGIN"), "BEGIN");
    for (int i = 0; i < BATCH; i++) {
        char v[32], ts[24], step[24];
        snprintf(v, sizeof v, "%.17g", m[i].value);
        snprintf(ts, sizeof ts, "%lld", (long long)m[i].timestamp);
        snprintf(step, sizeof step, "%lld", (long long)m[i].step);
        const char *vals[] = {m[i].key, v, ts, step, "false", run};
        pg_ok(pg, PQexecPrepared(pg, "raw_insert", 6, vals, NULL, NULL, 0), "raw insert");
    }
    pg_ok(pg, PQexec(pg, "COMMIT"), "COMMIT");
    return BATCH / (now_s() - t0);
}

static void bench_log_batch_pg(int reps, const char *server)
{
    PGconn *pg = PQconnectdb(server);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "bench: cannot connect to %s: %s", server, PQerrorMessage(pg));
        exit(1);
    }
    char schema[64], sql[160], uri[1200];
    snprintf(schema, sizeof schema, "bench_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    pg_ok(pg, PQexec(pg, sql), "create schema");
    snprintf(uri, sizeof uri, "%s%coptions=-csearch_path%%3D%s", server,
             strchr(server, '?') ? '&' : '?', schema);
    for (int i = 0; i < 10; i++)
        snprintf(key_names[i], sizeof key_names[i], "metric_%d", i);
    struct mlflow_client *c = open_client(uri);
    char *ours = new_run(c, "0", 0), *raw_run = new_run(c, "0", 0);
    snprintf(sql, sizeof sql, "SET search_path = %s", schema);
    pg_ok(pg, PQexec(pg, sql), "search_path");
    pg_ok(pg,
          PQprepare(pg, "raw_insert",
                    "INSERT INTO metrics (\"key\", value, timestamp, step, is_nan, run_uuid) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    6, NULL),
          "prepare");
    double a[MAX_REPS * 4], b[MAX_REPS * 4];
    int n = reps * 4;
    batch_rows_per_s(c, ours, 1000);
    pg_raw_rows_per_s(pg, raw_run, 1000);
    for (int r = 0; r < n; r++) {
        b[r] = pg_raw_rows_per_s(pg, raw_run, r);
        a[r] = batch_rows_per_s(c, ours, r);
    }
    double ma = median(a, n), mb = median(b, n);
    printf("\n1b. log_batch of %d metrics on PostgreSQL %d, medians of %d batches\n", BATCH,
           PQserverVersion(pg) / 10000, n);
    batch_table("postgres", ma, mb);
    free(ours);
    free(raw_run);
    mlflow_client_close(c);
    snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA %s CASCADE",
             schema);
    pg_ok(pg, PQexec(pg, sql), "drop schema");
    PQfinish(pg);
}

/* ---- 2. metric history ---- */

static void bench_history(int reps, long points)
{
    char *dir = fresh_dir("sqlite");
    char uri[600];
    snprintf(uri, sizeof uri, "sqlite:///%s/mlflow.db", dir);
    struct mlflow_client *c = open_client(uri);
    char *run = new_run(c, "0", 0);
    char *other = new_run(c, "0", 0);
    struct mlflow_metric *m = malloc(BATCH * sizeof *m);
    double t0 = now_s();
    for (long done = 0; done < points; done += BATCH) {
        int n = points - done < BATCH ? (int)(points - done) : BATCH;
        for (int i = 0; i < n; i++)
            m[i] = (struct mlflow_metric){"loss", 1.0 / (double)(done + i + 3),
                                          1700000000000 + done + i, done + i};
        check(mlflow_client_log_batch(c, run, m, (size_t)n, NULL, 0, NULL, 0), "log_batch");
        /* Another key in the same run, so the query must pick. */
        m[0].key = "acc";
        check(mlflow_client_log_batch(c, run, m, 1, NULL, 0, NULL, 0), "log_batch");
        check(mlflow_client_log_batch(c, other, m, 1, NULL, 0, NULL, 0), "log_batch");
    }
    double load = now_s() - t0;
    free(m);
    double t[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        struct mlflow_metric_list *h;
        double s = now_s();
        check(mlflow_client_get_metric_history(c, run, "loss", &h), "history");
        t[r] = now_s() - s;
        if (h->count != (size_t)points) {
            fprintf(stderr, "bench: history has %zu points, expected %ld\n", h->count, points);
            exit(1);
        }
        mlflow_metric_list_free(h);
    }
    double mt = median(t, reps);
    printf("\n2. get_metric_history of one key with %ld points (loaded at %.0f rows/s)\n",
           points, (double)points / load);
    printf("%-52s %10.1f ms %10.0f points/s\n", "get_metric_history (sqlite)", mt * 1e3,
           (double)points / mt);
    free(run);
    free(other);
    mlflow_client_close(c);
    remove_dir(dir);
    free(dir);
}

/* ---- 3. search_runs, sqlite and file ---- */

static const char FILTER[] = "metrics.loss < 0.5 and params.lr = '0.01'";
static const char *const ORDER[] = {"metrics.acc DESC"};

/* Same pseudo-random data for both stores. */
static uint64_t rng_state;
static double rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void populate(struct mlflow_client *c, const char *exp, long n_runs)
{
    static const char *const lrs[] = {"0.01", "0.001", "0.1"};
    rng_state = 42;
    for (long i = 0; i < n_runs; i++) {
        char *run = new_run(c, exp, 1700000000000 + i);
        char pk[10][16], pv[10][24], mk[10][16], tk[5][16], tv[5][16];
        struct mlflow_kv p[10], t[5];
        struct mlflow_metric m[10];
        for (int k = 0; k < 10; k++) {
            snprintf(pk[k], sizeof pk[k], k == 0 ? "lr" : "param_%d", k);
            snprintf(pv[k], sizeof pv[k], "%s", k == 0 ? lrs[i % 3] : "value");
            if (k)
                snprintf(pv[k], sizeof pv[k], "v%ld", (long)(rnd() * 100));
            p[k] = (struct mlflow_kv){pk[k], pv[k]};
            snprintf(mk[k], sizeof mk[k], k == 0 ? "loss" : k == 1 ? "acc" : "metric_%d", k);
            m[k] = (struct mlflow_metric){mk[k], rnd(), 1700000000000 + i, 0};
        }
        for (int k = 0; k < 5; k++) {
            snprintf(tk[k], sizeof tk[k], "tag_%d", k);
            snprintf(tv[k], sizeof tv[k], "t%ld", (long)(rnd() * 10));
            t[k] = (struct mlflow_kv){tk[k], tv[k]};
        }
        check(mlflow_client_log_batch(c, run, m, 10, p, 10, t, 5), "log_batch");
        free(run);
    }
}

struct answer {
    size_t count;
    char (*ids)[33];
};

/* One search_runs; its answer (run ids in order) into ans if not NULL.
 * plain: no filter, base order. */
static double timed_search(struct mlflow_client *c, const char *exp, bool plain,
                           struct answer *ans)
{
    const char *ids[] = {exp};
    const struct mlflow_search_runs_opts o = {
        .experiment_ids = ids, .n_experiment_ids = 1, .filter = plain ? NULL : FILTER,
        .order_by = plain ? NULL : ORDER, .n_order_by = plain ? 0 : 1};
    struct mlflow_run_list *l;
    double t0 = now_s();
    check(mlflow_client_search_runs(c, &o, &l), "search_runs");
    double t = now_s() - t0;
    if (ans) {
        ans->count = l->count;
        ans->ids = malloc((l->count + 1) * sizeof *ans->ids);
        for (size_t i = 0; i < l->count; i++)
            snprintf(ans->ids[i], sizeof ans->ids[i], "%s", l->runs[i].info.run_id);
    }
    mlflow_run_list_free(l);
    return t;
}

struct store_case {
    char *dir;
    struct mlflow_client *c;
    char *exp;
    double load_s;
};

static void make_store(struct store_case *s, bool sqlite, long n_runs)
{
    char uri[600];
    s->dir = fresh_dir("sqlite");
    if (sqlite)
        snprintf(uri, sizeof uri, "sqlite:///%s/mlflow.db", s->dir);
    else
        snprintf(uri, sizeof uri, "file://%s/mlruns", s->dir);
    s->c = open_client(uri);
    check(mlflow_client_create_experiment(s->c, "bench", NULL, &s->exp), "create_experiment");
    double t0 = now_s();
    populate(s->c, s->exp, n_runs);
    s->load_s = now_s() - t0;
    /* Search from a fresh client, as a later process would (closing the
     * logging one also lets SQLite refresh its planner statistics). */
    mlflow_client_close(s->c);
    s->c = open_client(uri);
}

static void drop_store(struct store_case *s)
{
    mlflow_free(s->exp);
    mlflow_client_close(s->c);
    remove_dir(s->dir);
    free(s->dir);
}

static void bench_search(int reps, long n_runs)
{
    struct store_case sq, fs;
    make_store(&sq, true, n_runs);
    make_store(&fs, false, n_runs);
    struct answer a_sq = {0}, a_fs = {0};
    timed_search(sq.c, sq.exp, false, &a_sq); /* warm both, keep their answers */
    timed_search(fs.c, fs.exp, false, &a_fs);
    double t_sq[MAX_REPS], t_fs[MAX_REPS], t_plain[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        t_sq[r] = timed_search(sq.c, sq.exp, false, NULL);
        t_fs[r] = timed_search(fs.c, fs.exp, false, NULL);
        t_plain[r] = timed_search(sq.c, sq.exp, true, NULL);
    }
    bool same = a_sq.count == a_fs.count;
    /* Run ids differ between the stores, but run k of one got the data of
     * run k of the other and the start time T0 + k: compare those. */
    for (size_t i = 0; same && i < a_sq.count; i++) {
        struct mlflow_run *x, *y;
        check(mlflow_client_get_run(sq.c, a_sq.ids[i], &x), "get_run");
        check(mlflow_client_get_run(fs.c, a_fs.ids[i], &y), "get_run");
        same = x->info.start_time == y->info.start_time;
        mlflow_run_free(x);
        mlflow_run_free(y);
    }
    double msq = median(t_sq, reps), mfs = median(t_fs, reps);
    printf("\n3. search_runs \"%s\" order by %s, %ld runs (%zu match, page of at most 1000)\n",
           FILTER, ORDER[0], n_runs, a_sq.count);
    printf("%-52s %10.1f ms %8s   (loaded in %.1f s)\n", "file store", mfs * 1e3, "1.00",
           fs.load_s);
    printf("%-52s %10.1f ms %8.2f   (loaded in %.1f s)\n", "sqlite store", msq * 1e3, msq / mfs,
           sq.load_s);
    printf("%-52s %s\n", "same runs in the same order", same ? "yes" : "NO");
    printf("%-52s %10.1f ms\n", "sqlite, no filter, base order (first 1000 runs)",
           median(t_plain, reps) * 1e3);
    free(a_sq.ids);
    free(a_fs.ids);
    drop_store(&sq);
    drop_store(&fs);
    if (!same)
        exit(1);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const char *sizes = argc > 2 ? argv[2] : "1000,10000";
    long points = argc > 3 ? atol(argv[3]) : 1000000;
    if (reps < 1 || reps > MAX_REPS || points < 1) {
        fprintf(stderr, "usage: bench_sqlite [reps 1..%d] [runs,runs,...] [history points]\n",
                MAX_REPS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows while large cases run */
    printf("sqlite store benchmarks (SQLite %s), medians\n", sqlite3_libversion());
    const char *pg = getenv("MLFLOW_BENCH_PG_URI"), *pg_only = getenv("MLFLOW_BENCH_PG_ONLY");
    if (pg_only && *pg_only) { /* bench/bench_pg.sh: case 1b alone */
        if (pg && *pg)
            bench_log_batch_pg(reps, pg);
        return 0;
    }
    bench_log_batch(reps);
    if (pg && *pg)
        bench_log_batch_pg(reps, pg);
    bench_history(reps, points);
    char *list = strdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        bench_search(reps, atol(tok));
    free(list);
    return 0;
}
