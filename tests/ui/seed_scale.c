/*
 * seed_scale.c - the data behind the UI's scale targets (bench/ui_scale.mjs):
 * many runs in one experiment, and one metric with a very long history.
 * Over HTTP, runs are created by a few threads, each with its own client (and
 * so its own keep-alive connection), because one request at a time would make
 * seeding 100k runs take longer than the measurement it serves. Into a
 * database directly, one thread is faster: SQLite has one writer at a time and
 * the others would only wait for its lock.
 */
#include "seed.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 4

struct worker {
    const char *uri;
    const char *experiment_id;
    long first, count;
    int rc;
};

static void *create_runs(void *arg)
{
    struct worker *w = arg;
    struct mlflow_client *c = NULL;
    if (mlflow_client_open(w->uri, &c) != 0) {
        w->rc = seed_fail("open client");
        return NULL;
    }
    static const char *const optimizers[] = {"sgd", "adam", "adamw", "lion"};
    for (long i = w->first; i < w->first + w->count && w->rc == 0; i++) {
        char name[32], lr[32], batch[16], seed[24];
        snprintf(name, sizeof(name), "scale-%06ld", i);
        snprintf(lr, sizeof(lr), "%g", 1e-4 * (double)(1 + i % 10));
        snprintf(batch, sizeof(batch), "%ld", 16L << (i % 4));
        snprintf(seed, sizeof(seed), "%ld", i);
        struct mlflow_create_run_opts o = {.run_name = name, .start_time = 1700000000000 + i};
        struct mlflow_run *run = NULL;
        if (mlflow_client_create_run(c, w->experiment_id, &o, &run) != 0) {
            w->rc = seed_fail("create run");
            break;
        }
        double u = (double)((i * 2654435761u) % 1000003) / 1000003.0;
        struct mlflow_metric m[] = {
            {"loss", 1.0 - 0.9 * u, 1700000000000 + i, 10},
            {"acc", 0.5 + 0.5 * u, 1700000000000 + i, 10},
        };
        struct mlflow_kv p[] = {
            {"lr", lr}, {"batch_size", batch}, {"optimizer", optimizers[i % 4]}, {"seed", seed}};
        struct mlflow_kv t[] = {{"team", i % 2 ? "vision" : "nlp"}};
        if (mlflow_client_log_batch(c, run->info.run_id, m, 2, p, 4, t, 1) != 0 ||
            mlflow_client_set_terminated(c, run->info.run_id, MLFLOW_RUN_STATUS_FINISHED,
                                         1700000000000 + i + 60000) != 0)
            w->rc = seed_fail("log run");
        mlflow_run_free(run);
    }
    mlflow_client_close(c);
    return NULL;
}

static int log_history(struct mlflow_client *c, long n_points)
{
    char *exp_id = NULL;
    if (mlflow_client_create_experiment(c, "scale-history", NULL, &exp_id) != 0)
        return seed_fail("create experiment scale-history");
    struct mlflow_create_run_opts o = {.run_name = "million", .start_time = 1700000000000};
    struct mlflow_run *run = NULL;
    int rc = mlflow_client_create_run(c, exp_id, &o, &run);
    mlflow_free(exp_id);
    if (rc != 0)
        return seed_fail("create run million");
    enum { CHUNK = 10000 };
    struct mlflow_metric *m = calloc(CHUNK, sizeof(*m));
    for (long s = 0; s < n_points && rc == 0; s += CHUNK) {
        size_t n = 0;
        for (long i = s; i < s + CHUNK && i < n_points; i++, n++) {
            /* A slowly falling curve with noise, and one spike that a uniform
             * sample would almost surely miss. */
            double noise = (double)((i * 2654435761u) % 1000) / 1000.0;
            double v = 1.0 / (1.0 + (double)i / 1e5) + 0.05 * noise;
            if (i == n_points / 3)
                v = 50.0;
            m[n] = (struct mlflow_metric){"series", v, 1700000000000 + i * 10, i};
        }
        rc = mlflow_client_log_batch(c, run->info.run_id, m, n, NULL, 0, NULL, 0);
    }
    free(m);
    if (rc != 0)
        seed_fail("log series");
    else
        printf("run million: %s\n", run->info.run_id);
    mlflow_run_free(run);
    return rc;
}

int seed_scale(const char *tracking_uri, long n_runs, long n_points)
{
    struct mlflow_client *c = NULL;
    if (mlflow_client_open(tracking_uri, &c) != 0)
        return seed_fail("open client");
    char *exp_id = NULL;
    if (mlflow_client_create_experiment(c, "scale", NULL, &exp_id) != 0) {
        mlflow_client_close(c);
        return seed_fail("create experiment scale");
    }
    int threads = strncmp(tracking_uri, "http", 4) == 0 ? MAX_THREADS : 1;
    struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    long per = (n_runs + threads - 1) / threads;
    for (int i = 0; i < threads; i++) {
        long first = per * i;
        long count = first >= n_runs ? 0 : (n_runs - first < per ? n_runs - first : per);
        w[i] = (struct worker){tracking_uri, exp_id, first, count, 0};
        pthread_create(&th[i], NULL, create_runs, &w[i]);
    }
    int rc = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        rc |= w[i].rc;
    }
    printf("experiment scale: %s (%ld runs)\n", exp_id, n_runs);
    mlflow_free(exp_id);
    if (rc == 0 && n_points > 0)
        rc = log_history(c, n_points);
    mlflow_client_close(c);
    return rc;
}
