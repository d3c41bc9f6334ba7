/*
 * bench_log.c - how fast logging into the file store is, against the
 * floor that the filesystem sets, measured in the same run.
 *
 * Baselines: a raw loop of write() appends of the same metric lines
 * (O_APPEND, one write per line, lines formatted before the clock starts),
 * and for params a raw open/write/close per file. Each case runs `reps`
 * times in a fresh directory; medians are reported with the ratio to the
 * baseline. Machines here are noisy: read ratios, not absolute numbers.
 *
 *   bench_log [reps] [points]
 */
#include "internal.h"

#include <mlflow.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define THREADS 8
#define MAX_REPS 15

static double value_of(long i)
{
    return 1.0 / (double)(i + 3); /* full-precision values, as a loss curve */
}

/* Baseline: the same lines, write() per line into one O_APPEND file. */
static double raw_write(long n)
{
    char *dir = fresh_dir("log");
    char path[512];
    snprintf(path, sizeof path, "%s/loss", dir);
    int64_t ts = mlflow__now_ms();
    char *lines = malloc((size_t)n * 64);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    for (long i = 0; i < n; i++) {
        char v[32];
        mlflow__fmt_double(value_of(i), v);
        lens[i] = (size_t)snprintf(lines + i * 64, 64, "%lld %s %ld\n", (long long)ts, v, i);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        if (write(fd, lines + i * 64, lens[i]) < 0)
            abort();
    double t = now_s() - t0;
    close(fd);
    free(lines);
    free(lens);
    remove_dir(dir);
    free(dir);
    return (double)n / t;
}

static double raw_param_files(long n)
{
    char *dir = fresh_dir("log");
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/p%ld", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 || write(fd, "0.001", 5) != 5)
            abort();
        close(fd);
    }
    double t = now_s() - t0;
    remove_dir(dir);
    free(dir);
    return (double)n / t;
}

static char *start_store(void)
{
    char *dir = fresh_dir("log");
    char uri[600];
    snprintf(uri, sizeof uri, "file://%s/mlruns", dir);
    mlflow_set_tracking_uri(uri);
    if (mlflow_start_run(NULL) != 0) {
        fprintf(stderr, "bench: start_run: %s\n", mlflow_last_error());
        exit(1);
    }
    return dir;
}

static void stop_store(char *dir)
{
    mlflow_end_run(0);
    mlflow_shutdown();
    remove_dir(dir);
    free(dir);
}

static double fluent_metric(long n)
{
    char *dir = start_store();
    mlflow_log_metric("loss", 0, 0); /* opens the file: not what we time */
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        if (mlflow_log_metric("loss", value_of(i), i) != 0)
            abort();
    double t = now_s() - t0;
    stop_store(dir);
    return (double)n / t;
}

struct thread_arg {
    long n;
    int id;
};

static void *metric_thread(void *p)
{
    struct thread_arg *a = p;
    char key[32];
    snprintf(key, sizeof key, "loss_%d", a->id);
    for (long i = 0; i < a->n; i++)
        if (mlflow_log_metric(key, value_of(i), i) != 0)
            abort();
    return NULL;
}

static double fluent_metric_threads(long n)
{
    char *dir = start_store();
    pthread_t th[THREADS];
    struct thread_arg args[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){n / THREADS, i};
        pthread_create(&th[i], NULL, metric_thread, &args[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    double t = now_s() - t0;
    stop_store(dir);
    return (double)(n / THREADS * THREADS) / t;
}

static double fluent_param(long n)
{
    char *dir = start_store();
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%ld", i);
        if (mlflow_log_param(key, "0.001") != 0)
            abort();
    }
    double t = now_s() - t0;
    stop_store(dir);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    long points = argc > 2 ? atol(argv[2]) : 200000;
    long params = points / 20;
    if (reps < 1 || reps > MAX_REPS || points < THREADS) {
        fprintf(stderr, "usage: bench_log [reps 1..%d] [points >= %d]\n", MAX_REPS, THREADS);
        return 2;
    }
    double raw[MAX_REPS], m1[MAX_REPS], m8[MAX_REPS], rawp[MAX_REPS], p1[MAX_REPS];
    /* Interleave cases so that background noise hits them alike. */
    for (int r = 0; r < reps; r++) {
        raw[r] = raw_write(points);
        m1[r] = fluent_metric(points);
        m8[r] = fluent_metric_threads(points);
        rawp[r] = raw_param_files(params);
        p1[r] = fluent_param(params);
    }
    double mraw = median(raw, reps), mm1 = median(m1, reps), mm8 = median(m8, reps);
    double mrawp = median(rawp, reps), mp1 = median(p1, reps);
    printf("file store logging, medians of %d runs (%ld metric points, %ld params per run)\n",
           reps, points, params);
    printf("%-44s %12s %8s\n", "case", "ops/s", "ratio");
    printf("%-44s %12.0f %8s\n", "baseline: raw write() per metric line", mraw, "1.00");
    printf("%-44s %12.0f %8.2f\n", "mlflow_log_metric, 1 thread", mm1, mm1 / mraw);
    printf("%-44s %12.0f %8.2f\n", "mlflow_log_metric, 8 threads (key each)", mm8, mm8 / mraw);
    printf("%-44s %12.0f %8s\n", "baseline: raw open+write+close per param", mrawp, "1.00");
    printf("%-44s %12.0f %8.2f\n", "mlflow_log_param, 1 thread", mp1, mp1 / mrawp);
    printf("%-44s %12.2f us\n", "mlflow_log_metric cost per call", 1e6 / mm1);
    return 0;
}
