/*
 * test_async.c - asynchronous logging as a training program relies on it:
 * queued values all arrive (file, sqlite, REST), merged into few requests,
 * in order; logging keeps returning while the server is down, values wait
 * (spilling to a file when the queue is full) and arrive when it is back;
 * refusals surface at flush naming the key; end_run waits for its run;
 * exit keeps what could not be delivered in a file that replay delivers;
 * threads and fork.
 *
 * The REST tests run our server in-process on 127.0.0.1 over a sqlite
 * store, stop it and start it again on the same port, and count its
 * log-batch requests from the access log.
 */
#include <mlflow.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "async.h"
#include "server/server.h"
#include "testutil.h"

struct fx {
    char *dir;
    char *old_tmpdir;
    char store_uri[700]; /* what the server serves */
    char uri[64];        /* http://127.0.0.1:<port> */
    struct mlflow__server *srv;
    int port;
    atomic_int batches;  /* log-batch requests the server answered */
};

static const char *const ENV_VARS[] = {
    "MLFLOW_ENABLE_ASYNC_LOGGING",      "MLFLOW_ASYNC_LOGGING_QUEUE_SIZE",
    "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "MLFLOW_ASYNC_LOGGING_EXIT_TIMEOUT_SECONDS",
    "MLFLOW_TRACKING_URI",              "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",           "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_TRACKING_USERNAME",         "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",            "http_proxy",
    "HTTP_PROXY",                       "all_proxy",
    "ALL_PROXY",
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = testutil_mkdtemp("mlflow-async");
    if (!f->dir)
        return -1;
    const char *t = getenv("TMPDIR");
    f->old_tmpdir = t ? strdup(t) : NULL;
    for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++)
        unsetenv(ENV_VARS[i]);
    /* Spill files land in the test's directory. */
    setenv("TMPDIR", f->dir, 1);
    /* A dead server is found out in one quick retry. */
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1", 1);
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0", 1);
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
    setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10", 1);
    snprintf(f->store_uri, sizeof f->store_uri, "sqlite:///%s/mlflow.db", f->dir);
    *state = f;
    return 0;
}

static void server_stop(struct fx *f);

static int teardown(void **state)
{
    struct fx *f = *state;
    mlflow_shutdown();
    mlflow_set_warnings(true);
    server_stop(f);
    for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++)
        unsetenv(ENV_VARS[i]);
    if (f->old_tmpdir)
        setenv("TMPDIR", f->old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    testutil_rm_rf(f->dir);
    free(f->old_tmpdir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- the in-process server ---- */

static void on_log(void *ud, const char *line)
{
    struct fx *f = ud;
    if (strstr(line, "/runs/log-batch") && strstr(line, "\" 200 "))
        atomic_fetch_add(&f->batches, 1);
}

/* Starts the server; the first time on any free port, then on the same. */
static void server_start(struct fx *f)
{
    char art[800];
    snprintf(art, sizeof art, "%s/mlartifacts", f->dir);
    struct mlflow__server_opts o = {
        .backend_store_uri = f->store_uri,
        .serve_artifacts = true,
        .artifacts_destination = art,
        .host = "127.0.0.1",
        .port = f->port,
        .workers = 4,
        .log = on_log,
        .log_ud = f,
        .access_log = true,
    };
    struct mlflow_error err = {0};
    if (mlflow__server_start(&o, &f->srv, &err) != 0)
        fail_msg("server start: %s", err.message);
    f->port = mlflow__server_port(f->srv);
    snprintf(f->uri, sizeof f->uri, "http://127.0.0.1:%d", f->port);
}

static void server_stop(struct fx *f)
{
    if (f->srv)
        mlflow__server_stop(f->srv, 2000);
    f->srv = NULL;
}

/* The access log line is written when a request completes, just after
 * its answer went out: wait until the count reaches `want`, or 5 s. */
static int batches_seen(struct fx *f, int want)
{
    for (int i = 0; i < 500 && atomic_load(&f->batches) < want; i++)
        usleep(10000);
    usleep(50000); /* and a moment for any request beyond it */
    return atomic_load(&f->batches);
}

/* ---- helpers ---- */

static struct mlflow_client *open_client(const char *uri)
{
    struct mlflow_client *c = NULL;
    if (mlflow_client_open(uri, &c) != 0)
        fail_msg("open %s: %s", uri, mlflow_last_error());
    return c;
}

/* A client of uri and a fresh run in experiment 0, its id in id. */
static struct mlflow_client *client_with_run(const char *uri, char id[MLFLOW_RUN_ID_SIZE])
{
    struct mlflow_client *c = open_client(uri);
    struct mlflow_run *run = NULL;
    if (mlflow_client_create_run(c, "0", NULL, &run) != 0)
        fail_msg("create_run: %s", mlflow_last_error());
    snprintf(id, MLFLOW_RUN_ID_SIZE, "%s", run->info.run_id);
    mlflow_run_free(run);
    return c;
}

static size_t history_len(struct mlflow_client *c, const char *run_id, const char *key)
{
    struct mlflow_metric_list *h = NULL;
    if (mlflow_client_get_metric_history(c, run_id, key, &h) != 0)
        fail_msg("get_metric_history(%s): %s", key, mlflow_last_error());
    size_t n = h->count;
    mlflow_metric_list_free(h);
    return n;
}

/* Exactly n points of `key`, in logging order: step i has value i * scale. */
static void expect_history(struct mlflow_client *c, const char *run_id, const char *key,
                           size_t n, double scale)
{
    struct mlflow_metric_list *h = NULL;
    if (mlflow_client_get_metric_history(c, run_id, key, &h) != 0)
        fail_msg("get_metric_history(%s): %s", key, mlflow_last_error());
    assert_int_equal(h->count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(h->metrics[i].step, (int64_t)i);
        assert_true(h->metrics[i].value == (double)i * scale);
    }
    mlflow_metric_list_free(h);
}

static struct mlflow_run *get_run(struct mlflow_client *c, const char *run_id)
{
    struct mlflow_run *run = NULL;
    if (mlflow_client_get_run(c, run_id, &run) != 0)
        fail_msg("get_run: %s", mlflow_last_error());
    return run;
}

static void expect_param(struct mlflow_client *c, const char *run_id, const char *key,
                         const char *value)
{
    struct mlflow_run *run = get_run(c, run_id);
    const char *v = mlflow_run_param(run, key);
    if (!value)
        assert_null(v);
    else if (!v || strcmp(v, value) != 0)
        fail_msg("param %s = %s, want %s", key, v ? v : "(absent)", value);
    mlflow_run_free(run);
}

/* Queues "loss" = i at step i, for i in [from, to); every call succeeds. */
static void queue_losses(struct mlflow_client *c, const char *run_id, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_int_equal(mlflow_client_log_metric_async(c, run_id, "loss", i, 1, i), 0);
}

/* Waits for the forked child; it must have exited with status 0. */
static void expect_child_ok(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static size_t count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = 0;
    for (int ch; (ch = fgetc(fp)) != EOF;)
        n += ch == '\n';
    fclose(fp);
    return n;
}

/* The spill files in the test's $TMPDIR. */
static int find_spill(struct fx *f, char *out, size_t size)
{
    DIR *d = opendir(f->dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, "mlflow-async-", 13) == 0) {
            snprintf(out, size, "%s/%s", f->dir, e->d_name);
            n++;
        }
    if (d)
        closedir(d);
    return n;
}

/* ---- every value arrives ---- */

/* Metrics (single and batched), params and tags queued in one run, with a
 * flush at the end: all of it is in the store, each key in order. */
static void log_everything_async(struct mlflow_client *c, const char *run_id)
{
    for (int i = 0; i < 3000; i++)
        assert_int_equal(mlflow_client_log_metric_async(c, run_id, "loss", i * 0.5, 1000 + i, i),
                         0);
    struct mlflow_metric m[1500];
    for (int i = 0; i < 1500; i++)
        m[i] = (struct mlflow_metric){"acc", (double)i, 5000, i};
    assert_int_equal(mlflow_client_log_batch_async(c, run_id, m, 1500, NULL, 0, NULL, 0), 0);
    for (int i = 0; i < 150; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "p%d", i);
        snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(mlflow_client_log_param_async(c, run_id, k, v), 0);
        snprintf(k, sizeof k, "t%d", i);
        assert_int_equal(mlflow_client_set_tag_async(c, run_id, k, v), 0);
    }
    /* A tag set twice: the last value wins, as synchronously. */
    assert_int_equal(mlflow_client_set_tag_async(c, run_id, "t0", "again"), 0);
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_history(c, run_id, "loss", 3000, 0.5);
    expect_history(c, run_id, "acc", 1500, 1.0);
    struct mlflow_run *run = get_run(c, run_id);
    assert_int_equal(run->data.n_params, 150);
    assert_string_equal(mlflow_run_param(run, "p149"), "v149");
    assert_string_equal(mlflow_run_tag(run, "t149"), "v149");
    assert_string_equal(mlflow_run_tag(run, "t0"), "again");
    mlflow_run_free(run);
}

static void test_file_store_gets_every_value(void **state)
{
    struct fx *f = *state;
    char uri[800], id[MLFLOW_RUN_ID_SIZE];
    snprintf(uri, sizeof uri, "file://%s/mlruns", f->dir);
    struct mlflow_client *c = client_with_run(uri, id);
    log_everything_async(c, id);
    mlflow_client_close(c);
}

static void test_sqlite_store_gets_every_value(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    log_everything_async(c, id);
    mlflow_client_close(c);
}

static void test_rest_gets_every_value(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    struct mlflow_client *c = client_with_run(f->uri, id);
    log_everything_async(c, id);
    mlflow_client_close(c);
}

/* Bad input is the caller's to see at once; nothing is queued. */
static void test_bad_input_fails_the_call(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    assert_int_equal(mlflow_client_log_metric_async(c, id, "bad//key", 1, 0, 0),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "bad//key"));
    assert_int_equal(mlflow_client_log_metric_async(c, "not a run id!", "k", 1, 0, 0),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    struct mlflow_kv dup[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(mlflow_client_log_batch_async(c, id, NULL, 0, dup, 2, NULL, 0),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_param(c, id, "a", NULL);
    mlflow_client_close(c);
}

/* ---- merged requests ---- */

/* With the thread told to wait (MLflow's buffering variable), 2500 queued
 * metrics go out as 1000 + 1000 + 500, and 250 params (one call each) as
 * 100 + 100 + 50. */
static void test_rest_merges_values_into_batches(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1);
    struct mlflow_client *c = client_with_run(f->uri, id);
    queue_losses(c, id, 0, 2500);
    assert_int_equal(mlflow_client_flush(c), 0);
    assert_int_equal(batches_seen(f, 3), 3);
    for (int i = 0; i < 250; i++) {
        char k[32];
        snprintf(k, sizeof k, "p%03d", i);
        assert_int_equal(mlflow_client_log_param_async(c, id, k, "x"), 0);
    }
    assert_int_equal(mlflow_client_flush(c), 0);
    assert_int_equal(batches_seen(f, 6), 6);
    expect_history(c, id, "loss", 2500, 1.0);
    expect_param(c, id, "p249", "x");
    mlflow_client_close(c);
}

/* ---- the server goes away and comes back ---- */

static void test_rest_server_down_nothing_lost(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    struct mlflow_client *c = client_with_run(f->uri, id);
    queue_losses(c, id, 0, 100);
    assert_int_equal(mlflow_client_flush(c), 0);

    server_stop(f);
    /* Nothing listens now; logging carries on. */
    queue_losses(c, id, 100, 600);
    assert_int_equal(mlflow_client_log_param_async(c, id, "lr", "0.1"), 0);
    /* A flush says the values could not be delivered yet. */
    assert_int_equal(mlflow_client_flush(c), MLFLOW_TEMPORARILY_UNAVAILABLE);
    assert_non_null(strstr(mlflow_last_error(), "stay queued"));
    queue_losses(c, id, 600, 700);

    server_start(f); /* same port, same store */
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_history(c, id, "loss", 700, 1.0);
    expect_param(c, id, "lr", "0.1");
    mlflow_client_close(c);
}

/* A queue of 10: the rest goes to the spill file while the server is
 * away, and comes back from it, in order, when it returns. */
static void test_full_queue_spills_to_file_and_drains(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    setenv("MLFLOW_ASYNC_LOGGING_QUEUE_SIZE", "10", 1);
    struct mlflow_client *c = client_with_run(f->uri, id);
    server_stop(f);
    queue_losses(c, id, 0, 300);
    char *path = mlflow__async_spill_path(c);
    assert_non_null(path);
    /* A header line, then (at least) everything memory could not hold. */
    assert_true(count_lines(path) >= 1 + 290);
    assert_int_equal(mlflow_client_flush(c), MLFLOW_TEMPORARILY_UNAVAILABLE);

    server_start(f);
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_history(c, id, "loss", 300, 1.0);
    /* Drained: the file holds its header only, and is gone after close. */
    assert_int_equal(count_lines(path), 1);
    /* Memory is usable again: new values do not go to the file. */
    assert_int_equal(mlflow_client_log_metric_async(c, id, "after", 0, 1, 0), 0);
    assert_int_equal(mlflow_client_flush(c), 0);
    assert_int_equal(count_lines(path), 1);
    mlflow_client_close(c);
    assert_int_not_equal(access(path, F_OK), 0);
    mlflow__free(path);
}

/* ---- refusals ---- */

/* A param logged again with another value is refused at flush, naming the
 * key; the values queued with it (even in the same request) are stored. */
static void test_changed_param_fails_at_flush(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1); /* one merged request */
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    assert_int_equal(mlflow_client_log_param(c, id, "batch_size", "32"), 0);
    assert_int_equal(mlflow_client_log_param_async(c, id, "lr", "0.1"), 0);
    queue_losses(c, id, 0, 10);
    assert_int_equal(mlflow_client_log_param_async(c, id, "batch_size", "64"), 0);
    assert_int_equal(mlflow_client_set_tag_async(c, id, "note", "kept"), 0);

    assert_int_equal(mlflow_client_flush(c), MLFLOW_INVALID_PARAMETER_VALUE);
    const char *msg = mlflow_last_error();
    assert_non_null(strstr(msg, "batch_size"));
    assert_non_null(strstr(msg, id));
    expect_param(c, id, "lr", "0.1");
    expect_param(c, id, "batch_size", "32");
    expect_history(c, id, "loss", 10, 1.0);
    struct mlflow_run *run = get_run(c, id);
    assert_string_equal(mlflow_run_tag(run, "note"), "kept");
    mlflow_run_free(run);
    /* Reported once: the next flush has nothing to say. */
    assert_int_equal(mlflow_client_flush(c), 0);
    /* The same value again is fine, as synchronously. */
    assert_int_equal(mlflow_client_log_param_async(c, id, "lr", "0.1"), 0);
    assert_int_equal(mlflow_client_log_param_async(c, id, "lr", "0.1"), 0);
    assert_int_equal(mlflow_client_flush(c), 0);
    mlflow_client_close(c);
}

/* ---- ending runs ---- */

/* end_run waits for the run's values before it marks the run FINISHED. */
static void test_end_run_flushes_the_run(void **state)
{
    struct fx *f = *state;
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1); /* nothing leaves by itself */
    assert_int_equal(mlflow_set_tracking_uri(f->store_uri), 0);
    assert_int_equal(mlflow_start_run(NULL), 0);
    char id[MLFLOW_RUN_ID_SIZE];
    assert_int_equal(mlflow_active_run_id(id, sizeof id), 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(mlflow_log_metric_async("loss", i, i), 0);
    assert_int_equal(mlflow_log_param_async("lr", "0.1"), 0);
    assert_int_equal(mlflow_end_run(0), 0);

    struct mlflow_client *c = open_client(f->store_uri);
    expect_history(c, id, "loss", 500, 1.0);
    expect_param(c, id, "lr", "0.1");
    struct mlflow_run *run = get_run(c, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);
    mlflow_client_close(c);
}

/* A refusal in the run's values is end_run's to report; the run still ends. */
static void test_end_run_reports_the_runs_refusal(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mlflow_set_tracking_uri(f->store_uri), 0);
    assert_int_equal(mlflow_start_run(NULL), 0);
    char id[MLFLOW_RUN_ID_SIZE];
    assert_int_equal(mlflow_active_run_id(id, sizeof id), 0);
    assert_int_equal(mlflow_log_param("lr", "0.1"), 0);
    assert_int_equal(mlflow_log_param_async("lr", "0.2"), 0);
    assert_int_equal(mlflow_end_run(0), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "lr"));
    assert_int_equal(mlflow_flush(), 0); /* already reported */
    struct mlflow_client *c = open_client(f->store_uri);
    struct mlflow_run *run = get_run(c, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);
    mlflow_client_close(c);
}

/* With the server away, set_terminated queues the end behind the values;
 * both arrive, in that order, when it is back. */
static void test_end_queued_behind_values_while_server_down(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    struct mlflow_client *c = client_with_run(f->uri, id);
    server_stop(f);
    queue_losses(c, id, 0, 50);
    assert_int_equal(mlflow_client_set_terminated(c, id, MLFLOW_RUN_STATUS_FAILED, 0),
                     MLFLOW_TEMPORARILY_UNAVAILABLE);
    assert_non_null(strstr(mlflow_last_error(), "queued"));
    server_start(f);
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_history(c, id, "loss", 50, 1.0);
    struct mlflow_run *run = get_run(c, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FAILED);
    assert_true(run->info.end_time != MLFLOW_TIME_UNSET);
    mlflow_run_free(run);
    mlflow_client_close(c);
}

/* update_run to a terminal status waits too, and still renames the run. */
static void test_update_run_ends_after_values_and_renames(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1);
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    queue_losses(c, id, 0, 10);
    struct mlflow_update_run_opts u = {.status = MLFLOW_RUN_STATUS_FINISHED,
                                       .run_name = "renamed"};
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_client_update_run(c, id, &u, &run), 0);
    assert_non_null(run);
    assert_string_equal(run->info.run_name, "renamed");
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);
    expect_history(c, id, "loss", 10, 1.0);
    mlflow_client_close(c);
}

/* ---- switches ---- */

/* Once called, mlflow_set_async_logging() overrides the variable for good:
 * this is the first test that calls it. */
static void test_env_and_global_switch(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1);
    /* Without the variable, plain calls are synchronous. */
    struct mlflow_client *sync_c = client_with_run(f->store_uri, id);
    assert_int_equal(mlflow_client_log_metric(sync_c, id, "s", 1, 1, 0), 0);
    assert_int_equal(history_len(sync_c, id, "s"), 1);
    /* Read when the client is opened: this one queues plain calls. */
    setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true", 1);
    struct mlflow_client *c = open_client(f->store_uri);
    unsetenv("MLFLOW_ENABLE_ASYNC_LOGGING");
    assert_int_equal(mlflow_client_log_metric(c, id, "a", 1, 1, 0), 0);
    assert_int_equal(mlflow_client_log_param(c, id, "p", "1"), 0);
    assert_int_equal(history_len(c, id, "a"), 0); /* still queued */
    assert_int_equal(mlflow_client_flush(c), 0);
    assert_int_equal(history_len(c, id, "a"), 1);
    expect_param(c, id, "p", "1");
    /* The global switch overrides both ways. */
    mlflow_set_async_logging(false);
    assert_int_equal(mlflow_client_log_metric(c, id, "b", 1, 1, 0), 0);
    assert_int_equal(history_len(c, id, "b"), 1);
    mlflow_set_async_logging(true);
    assert_int_equal(mlflow_client_log_metric(sync_c, id, "c", 1, 1, 0), 0);
    assert_int_equal(history_len(sync_c, id, "c"), 0);
    assert_int_equal(mlflow_client_flush(sync_c), 0);
    assert_int_equal(history_len(sync_c, id, "c"), 1);
    mlflow_set_async_logging(false);
    mlflow_client_close(c);
    mlflow_client_close(sync_c);
}

/* The fluent calls obey the switch too, and mlflow_flush covers them. */
static void test_fluent_global_switch_and_flush(void **state)
{
    struct fx *f = *state;
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1);
    assert_int_equal(mlflow_set_tracking_uri(f->store_uri), 0);
    mlflow_set_async_logging(true);
    assert_int_equal(mlflow_start_run(NULL), 0);
    char id[MLFLOW_RUN_ID_SIZE];
    assert_int_equal(mlflow_active_run_id(id, sizeof id), 0);
    struct mlflow_metric m[] = {{"x", 1, 0, 0}, {"y", 2, 0, 0}};
    assert_int_equal(mlflow_log_metrics(m, 2, 0), 0);
    assert_int_equal(mlflow_set_tag("t", "v"), 0);
    struct mlflow_client *c = open_client(f->store_uri);
    assert_int_equal(history_len(c, id, "x"), 0);
    assert_int_equal(mlflow_flush(), 0);
    assert_int_equal(history_len(c, id, "x"), 1);
    assert_int_equal(history_len(c, id, "y"), 1);
    mlflow_set_async_logging(false);
    assert_int_equal(mlflow_end_run(0), 0);
    mlflow_client_close(c);
}

/* ---- threads and fork ---- */

struct worker_arg {
    struct mlflow_client *c;
    const char *run_id;
    int index;
};

static void *log_worker(void *p)
{
    struct worker_arg *a = p;
    char key[32];
    snprintf(key, sizeof key, "w%d", a->index);
    for (int i = 0; i < 500; i++)
        if (mlflow_client_log_metric_async(a->c, a->run_id, key, i, 1, i) != 0)
            return (void *)1;
    return NULL;
}

static void test_many_threads_one_queue(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    pthread_t t[8];
    struct worker_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct worker_arg){c, id, i};
        assert_int_equal(pthread_create(&t[i], NULL, log_worker, &a[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(mlflow_client_flush(c), 0);
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof key, "w%d", i);
        expect_history(c, id, key, 500, 1.0);
    }
    mlflow_client_close(c);
}

/* A child forked while values wait in the parent's queue delivers only its
 * own; the parent delivers its own once. */
static void test_fork_child_does_not_inherit_the_queue(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    setenv("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "30", 1);
    struct mlflow_client *c = client_with_run(f->store_uri, id);
    /* The parent's thread is up and idle before the fork. (Under ASan, a
     * thread still starting holds the sanitizer allocator's lock, which a
     * child inherits locked; glibc's malloc has fork handlers, ASan's does
     * not.) */
    assert_int_equal(mlflow_client_log_metric_async(c, id, "warmup", 0, 1, 0), 0);
    assert_int_equal(mlflow_client_flush(c), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(mlflow_client_log_metric_async(c, id, "parent", i, 1, i), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = mlflow_client_log_metric_async(c, id, "child", 0, 1, 0) == 0 &&
                 mlflow_client_flush(c) == 0;
        mlflow_client_close(c);
        _exit(ok ? 0 : 1);
    }
    expect_child_ok(pid);
    assert_int_equal(history_len(c, id, "child"), 1);
    assert_int_equal(history_len(c, id, "parent"), 0); /* the child sent none of it */
    assert_int_equal(mlflow_client_flush(c), 0);
    expect_history(c, id, "parent", 100, 1.0);
    mlflow_client_close(c);
}

/* ---- exit, close and replay ---- */

/* A program that exits while the server is away: exit waits its bounded
 * time, keeps the values in a spill file and says where on stderr; replay
 * delivers the file, in order, once the server is back. */
static void test_exit_keeps_spill_file_and_replay_delivers(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    struct mlflow_client *c = client_with_run(f->uri, id);
    mlflow_client_close(c);
    server_stop(f);

    int errpipe[2];
    assert_int_equal(pipe(errpipe), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(errpipe[1], 2);
        close(errpipe[0]);
        setenv("MLFLOW_ASYNC_LOGGING_EXIT_TIMEOUT_SECONDS", "2", 1);
        struct mlflow_client *cc = NULL;
        if (mlflow_client_open(f->uri, &cc) != 0)
            _exit(2);
        for (int i = 0; i < 50; i++)
            if (mlflow_client_log_metric_async(cc, id, "loss", i, 1, i) != 0)
                _exit(3);
        exit(0); /* no close: the exit hook does the work */
    }
    close(errpipe[1]);
    char out[4096] = "";
    size_t len = 0;
    for (ssize_t r; (r = read(errpipe[0], out + len, sizeof out - 1 - len)) > 0;)
        len += (size_t)r;
    out[len] = '\0';
    close(errpipe[0]);
    expect_child_ok(pid);

    char path[1200];
    assert_int_equal(find_spill(f, path, sizeof path), 1);
    if (!strstr(out, path) || !strstr(out, "50 queued values"))
        fail_msg("stderr does not name the spill file %s: %s", path, out);
    assert_int_equal(count_lines(path), 51);

    server_start(f);
    assert_int_equal(mlflow_async_replay(path, NULL), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    c = open_client(f->uri);
    expect_history(c, id, "loss", 50, 1.0);
    mlflow_client_close(c);
}

/* close with the server away keeps the values the same way; a replay
 * while it is still away leaves the file as it was. */
static void test_close_keeps_leftovers_replay_waits_for_server(void **state)
{
    struct fx *f = *state;
    char id[MLFLOW_RUN_ID_SIZE];
    server_start(f);
    struct mlflow_client *c = client_with_run(f->uri, id);
    server_stop(f);
    queue_losses(c, id, 0, 20);
    assert_int_equal(mlflow_client_set_tag_async(c, id, "stage", "done"), 0);
    mlflow_set_warnings(false);
    mlflow_client_close(c);
    char path[1200];
    assert_int_equal(find_spill(f, path, sizeof path), 1);
    assert_int_equal(count_lines(path), 22);

    assert_int_equal(mlflow_async_replay(path, NULL), MLFLOW_TEMPORARILY_UNAVAILABLE);
    assert_int_equal(count_lines(path), 22);

    server_start(f);
    assert_int_equal(mlflow_async_replay(path, NULL), 0);
    assert_int_equal(find_spill(f, path, sizeof path), 0);
    c = open_client(f->uri);
    expect_history(c, id, "loss", 20, 1.0);
    struct mlflow_run *run = get_run(c, id);
    assert_string_equal(mlflow_run_tag(run, "stage"), "done");
    mlflow_run_free(run);
    mlflow_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_store_gets_every_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_store_gets_every_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest_gets_every_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_fails_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest_merges_values_into_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rest_server_down_nothing_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_spills_to_file_and_drains, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_param_fails_at_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_run_flushes_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_run_reports_the_runs_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_queued_behind_values_while_server_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_run_ends_after_values_and_renames, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_env_and_global_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fluent_global_switch_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_threads_one_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_child_does_not_inherit_the_queue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exit_keeps_spill_file_and_replay_delivers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_keeps_leftovers_replay_waits_for_server,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
