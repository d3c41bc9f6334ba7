/*
 * bench_async.c - what asynchronous logging buys a training loop that logs
 * to a tracking server: mlflow_client_log_metric over REST, synchronous
 * (one request per call, the baseline) against queued (merged into
 * log-batch requests), measured in the same run.
 *
 * Our server runs in-process on 127.0.0.1 over a fresh sqlite store (each
 * case a fresh run). For the queued case two rates are reported: calls/s
 * as the training loop sees them (the clock stops when the last call
 * returns) and end to end (the clock stops when mlflow_client_flush says
 * everything is stored). Medians of `reps` runs; ratios against the
 * synchronous rate. Machines here are noisy: read ratios.
 *
 *   bench_async [reps] [sync calls] [async calls]
 */
#include "internal.h"
#include "server/server.h"

#include <mlflow.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_REPS 15

static atomic_long batch_requests;

static void on_log(void *ud, const char *line)
{
    (void)ud;
    if (strstr(line, "/runs/log-batch"))
        atomic_fetch_add(&batch_requests, 1);
}

struct env {
    char dir[64];
    struct mlflow__server *srv;
    struct mlflow_client *client;
};

static void env_start(struct env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/mlflow-bench-async-XXXXXX");
    if (!mkdtemp(e->dir))
        abort();
    char store[128], art[128];
    snprintf(store, sizeof store, "sqlite:///%s/mlflow.db", e->dir);
    snprintf(art, sizeof art, "%s/mlartifacts", e->dir);
    struct mlflow__server_opts o = {
        .backend_store_uri = store,
        .serve_artifacts = true,
        .artifacts_destination = art,
        .host = "127.0.0.1",
        .workers = 4,
        .log = on_log,
        .access_log = true,
    };
    struct mlflow_error err = {0};
    if (mlflow__server_start(&o, &e->srv, &err) != 0) {
        fprintf(stderr, "bench: server: %s\n", err.message);
        exit(1);
    }
    char uri[64];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d", mlflow__server_port(e->srv));
    check(mlflow_client_open(uri, &e->client), "open");
}

static void env_stop(struct env *e)
{
    mlflow_client_close(e->client);
    mlflow__server_stop(e->srv, 2000);
    remove_dir(e->dir);
}

static void new_run(struct env *e, char id[MLFLOW_RUN_ID_SIZE])
{
    struct mlflow_run *run = NULL;
    check(mlflow_client_create_run(e->client, "0", NULL, &run), "create_run");
    snprintf(id, MLFLOW_RUN_ID_SIZE, "%s", run->info.run_id);
    mlflow_run_free(run);
    /* The connection is open and warm before the clock starts. */
    check(mlflow_client_log_metric(e->client, id, "warmup", 0, 0, 0), "warmup");
}

static double sync_rate(struct env *e, long n)
{
    char id[MLFLOW_RUN_ID_SIZE];
    new_run(e, id);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        check(mlflow_client_log_metric(e->client, id, "loss", 1.0 / (double)(i + 3), 0, i),
              "log_metric");
    return (double)n / (now_s() - t0);
}

/* *calls: rate seen by the caller; *total: rate until all is stored. */
static void async_rate(struct env *e, long n, double *calls, double *total, long *requests)
{
    char id[MLFLOW_RUN_ID_SIZE];
    new_run(e, id);
    long before = atomic_load(&batch_requests);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        check(mlflow_client_log_metric_async(e->client, id, "loss", 1.0 / (double)(i + 3), 0, i),
              "log_metric_async");
    double t1 = now_s();
    check(mlflow_client_flush(e->client), "flush");
    double t2 = now_s();
    *calls = (double)n / (t1 - t0);
    *total = (double)n / (t2 - t0);
    /* The access log line comes just after the answer: give it a moment. */
    usleep(100000);
    *requests = atomic_load(&batch_requests) - before;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    long n_sync = argc > 2 ? atol(argv[2]) : 2000;
    long n_async = argc > 3 ? atol(argv[3]) : 200000;
    if (reps < 1 || reps > MAX_REPS || n_sync < 1 || n_async < 1) {
        fprintf(stderr, "usage: bench_async [reps 1..%d] [sync calls] [async calls]\n",
                MAX_REPS);
        return 2;
    }
    /* No retries to wait for on a loopback server that is always up. */
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0", 1);
    double s[MAX_REPS], ac[MAX_REPS], at[MAX_REPS];
    long req[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        struct env e;
        env_start(&e);
        s[r] = sync_rate(&e, n_sync);
        async_rate(&e, n_async, &ac[r], &at[r], &req[r]);
        env_stop(&e);
    }
    double ms = median(s, reps), mac = median(ac, reps), mat = median(at, reps);
    printf("log_metric over REST to an in-process server (sqlite), medians of %d runs\n"
           "(%ld synchronous calls, %ld queued calls per run)\n",
           reps, n_sync, n_async);
    printf("%-48s %12s %8s\n", "case", "calls/s", "ratio");
    printf("%-48s %12.0f %8s\n", "baseline: synchronous, one request per call", ms, "1.00");
    printf("%-48s %12.0f %8.1f\n", "async: calls returned (training loop's view)", mac,
           mac / ms);
    printf("%-48s %12.0f %8.1f\n", "async: end to end, until flush returned", mat, mat / ms);
    printf("%-48s %12.2f us\n", "synchronous cost per call", 1e6 / ms);
    printf("%-48s %12.2f us\n", "async cost per call", 1e6 / mac);
    printf("%-48s %12ld\n", "log-batch requests for the queued calls (last run)", req[reps - 1]);
    return 0;
}
