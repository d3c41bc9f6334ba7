/*
 * test_fluent.c - the fluent API as a training program uses it: the run
 * stack, scopes, resume, experiment resolution, system tags, artifacts,
 * threads, and what happens to open runs at exit and on fatal signals.
 *
 * The fluent state is process-wide, so every test points it at a fresh
 * store and calls mlflow_shutdown() afterwards.
 */
#include <mlflow.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

struct fx {
    char *dir;
    char uri[600];
    struct mlflow_client *client;
};

static void clear_env(void)
{
    unsetenv("MLFLOW_RUN_ID");
    unsetenv("MLFLOW_EXPERIMENT_NAME");
    unsetenv("MLFLOW_EXPERIMENT_ID");
    unsetenv("MLFLOW_TRACKING_URI");
    unsetenv("MLFLOW_RUN_CONTEXT");
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->dir = testutil_mkdtemp("mlflow-fluent");
    snprintf(f->uri, sizeof f->uri, "file://%s/mlruns", f->dir);
    clear_env();
    assert_int_equal(mlflow_set_tracking_uri(f->uri), 0);
    assert_int_equal(mlflow_client_open(f->uri, &f->client), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mlflow_shutdown();
    mlflow_set_warnings(true);
    mlflow_client_close(f->client);
    testutil_rm_rf(f->dir);
    free(f->dir);
    free(f);
    clear_env();
    return 0;
}

static struct mlflow_run *get_run(struct fx *f, const char *id)
{
    struct mlflow_run *run = NULL;
    int rc = mlflow_client_get_run(f->client, id, &run);
    if (rc)
        fail_msg("get_run(%s): %s", id, mlflow_last_error());
    return run;
}

static void active_id(char id[40])
{
    assert_int_equal(mlflow_active_run_id(id, 40), 0);
    assert_int_equal(strlen(id), 32);
}

static bool matches(const char *re, const char *s)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void test_start_end_and_system_tags(void **state)
{
    struct fx *f = *state;
    char id[40];
    assert_int_equal(mlflow_start_run(NULL), 0);
    active_id(id);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_string_equal(run->info.experiment_id, "0");
    assert_true(run->info.end_time == MLFLOW_TIME_UNSET);
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.type"), "LOCAL");
    assert_non_null(mlflow_run_tag(run, "mlflow.user"));
    assert_string_equal(mlflow_run_tag(run, "mlflow.user"), run->info.user_id);
    assert_non_null(strstr(mlflow_run_tag(run, "mlflow.source.name"), "test_fluent"));
    const char *name = mlflow_run_tag(run, "mlflow.runName");
    assert_non_null(name);
    assert_true(matches("^[a-z]+-[a-z]+-[0-9]{1,3}$", name));
    assert_string_equal(run->info.run_name, name);
    mlflow_run_free(run);

    assert_int_equal(mlflow_end_run(0), 0);
    assert_int_equal(mlflow_active_run_id(id, sizeof id), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    struct mlflow_run *active = (struct mlflow_run *)1;
    assert_int_equal(mlflow_active_run(&active), 0);
    assert_null(active);
    struct mlflow_run *last = NULL;
    assert_int_equal(mlflow_last_active_run(&last), 0);
    assert_non_null(last);
    assert_int_equal(last->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_true(last->info.end_time >= last->info.start_time);
    mlflow_run_free(last);
    /* end_run with nothing active is a no-op */
    assert_int_equal(mlflow_end_run(0), 0);
}

static void test_nested_requires_flag(void **state)
{
    struct fx *f = *state;
    char outer[40], inner[40];
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.run_name = "outer")), 0);
    active_id(outer);
    assert_int_equal(mlflow_start_run(NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), outer));
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.nested = true, .run_name = "inner")), 0);
    active_id(inner);
    assert_string_not_equal(inner, outer);
    struct mlflow_run *run = get_run(f, inner);
    assert_string_equal(mlflow_run_tag(run, "mlflow.parentRunId"), outer);
    assert_string_equal(run->info.run_name, "inner");
    mlflow_run_free(run);
    assert_int_equal(mlflow_end_run(MLFLOW_RUN_STATUS_FAILED), 0);
    active_id(inner);
    assert_string_equal(inner, outer);
    assert_int_equal(mlflow_end_run(0), 0);
}

static int scope_with_return(char *id_out)
{
    MLFLOW_RUN(.run_name = "returns") {
        mlflow_active_run_id(id_out, 40);
        mlflow_log_metric("m", 1, 0);
        return 7; /* leaving by return still ends the run */
    }
    return 0;
}

static void test_scope_ends_run(void **state)
{
    struct fx *f = *state;
    char id[40] = "", nested[40] = "", failed[40] = "";
    assert_int_equal(scope_with_return(id), 7);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);

    MLFLOW_RUN(.run_name = "breaks") {
        mlflow_active_run_id(id, sizeof id);
        /* A nested run left open inside the scope is ended with it. */
        mlflow_start_run(MLFLOW_RUN_OPTS(.nested = true));
        mlflow_active_run_id(nested, sizeof nested);
        break;
    }
    assert_int_equal(mlflow_active_run_id(failed, sizeof failed), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);
    run = get_run(f, nested);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);

    MLFLOW_RUN(.run_name = "fails") {
        mlflow_active_run_id(failed, sizeof failed);
        mlflow_end_run(MLFLOW_RUN_STATUS_FAILED);
    }
    run = get_run(f, failed);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FAILED);
    assert_string_equal(run->info.run_name, "fails");
    mlflow_run_free(run);
}

static void test_resume_by_id_and_env(void **state)
{
    struct fx *f = *state;
    struct mlflow_run *created = NULL;
    assert_int_equal(mlflow_client_create_run(f->client, "0", NULL, &created), 0);
    char id[40];
    snprintf(id, sizeof id, "%s", created->info.run_id);
    mlflow_run_free(created);
    assert_int_equal(mlflow_client_set_terminated(f->client, id, 0, 0), 0);

    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.run_id = id, .description = "again")), 0);
    char active[40];
    active_id(active);
    assert_string_equal(active, id);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_string_equal(mlflow_run_tag(run, "mlflow.note.content"), "again");
    mlflow_run_free(run);
    assert_int_equal(mlflow_end_run(0), 0);

    /* MLFLOW_RUN_ID resumes once and is consumed. */
    setenv("MLFLOW_RUN_ID", id, 1);
    assert_int_equal(mlflow_start_run(NULL), 0);
    active_id(active);
    assert_string_equal(active, id);
    assert_null(getenv("MLFLOW_RUN_ID"));
    assert_int_equal(mlflow_end_run(0), 0);
    assert_int_equal(mlflow_start_run(NULL), 0);
    active_id(active);
    assert_string_not_equal(active, id);
    assert_int_equal(mlflow_end_run(0), 0);

    /* A deleted run cannot be resumed. */
    assert_int_equal(mlflow_client_delete_run(f->client, id), 0);
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.run_id = id)),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.run_id = "0123456789abcdef0123456789abcdef")),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);
}

static char *run_experiment(struct fx *f)
{
    char id[40];
    assert_int_equal(mlflow_start_run(NULL), 0);
    active_id(id);
    struct mlflow_run *run = get_run(f, id);
    char *exp = strdup(run->info.experiment_id);
    mlflow_run_free(run);
    assert_int_equal(mlflow_end_run(0), 0);
    return exp;
}

static void test_experiment_resolution(void **state)
{
    struct fx *f = *state;
    char *exp = run_experiment(f);
    assert_string_equal(exp, "0");
    free(exp);

    /* MLFLOW_EXPERIMENT_NAME: created when missing */
    setenv("MLFLOW_EXPERIMENT_NAME", "from-env", 1);
    exp = run_experiment(f);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(mlflow_client_get_experiment_by_name(f->client, "from-env", &e), 0);
    assert_string_equal(exp, e->experiment_id);
    /* ... and an MLFLOW_EXPERIMENT_ID that disagrees is an error */
    setenv("MLFLOW_EXPERIMENT_ID", "0", 1);
    assert_int_equal(mlflow_start_run(NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    setenv("MLFLOW_EXPERIMENT_ID", e->experiment_id, 1);
    free(exp);
    exp = run_experiment(f);
    assert_string_equal(exp, e->experiment_id);
    free(exp);
    unsetenv("MLFLOW_EXPERIMENT_NAME");

    /* MLFLOW_EXPERIMENT_ID alone must exist */
    setenv("MLFLOW_EXPERIMENT_ID", "424242", 1);
    assert_int_equal(mlflow_start_run(NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "424242"));
    setenv("MLFLOW_EXPERIMENT_ID", e->experiment_id, 1);
    exp = run_experiment(f);
    assert_string_equal(exp, e->experiment_id);
    free(exp);

    /* set_experiment wins over the environment */
    char *set_id = NULL;
    assert_int_equal(mlflow_set_experiment("explicit", NULL, &set_id), 0);
    exp = run_experiment(f);
    assert_string_equal(exp, set_id);
    free(exp);
    /* explicit experiment_id option wins over everything */
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.experiment_id = "0")), 0);
    char id[40];
    active_id(id);
    struct mlflow_run *run = get_run(f, id);
    assert_string_equal(run->info.experiment_id, "0");
    mlflow_run_free(run);
    mlflow_end_run(0);
    free(set_id);
    mlflow_experiment_free(e);
}

static void test_set_experiment_rules(void **state)
{
    struct fx *f = *state;
    char *id = NULL, *again = NULL;
    assert_int_equal(mlflow_set_experiment(NULL, NULL, NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_set_experiment("a", "0", NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_set_experiment("exp-a", NULL, &id), 0);
    assert_int_equal(mlflow_set_experiment("exp-a", NULL, &again), 0);
    assert_string_equal(id, again); /* found, not created twice */
    assert_int_equal(mlflow_set_experiment(NULL, "999999", NULL), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(mlflow_client_delete_experiment(f->client, id), 0);
    assert_int_equal(mlflow_set_experiment(NULL, id, NULL), MLFLOW_INVALID_PARAMETER_VALUE);
    free(id);
    free(again);
}

static void test_logging_autostarts_and_lands(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mlflow_log_metric("loss", 0.5, 1), 0); /* starts a run */
    char id[40];
    active_id(id);
    assert_int_equal(mlflow_log_metric_ts("loss", 0.25, 2, 1700000000000), 0);
    assert_int_equal(mlflow_log_param("lr", "0.01"), 0);
    assert_int_equal(mlflow_log_paramf("layers", "%d-%s", 3, "deep"), 0);
    assert_int_equal(mlflow_log_param("lr", "0.02"), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "lr"));
    struct mlflow_kv params[] = {{"a", "1"}, {"b", "2"}};
    assert_int_equal(mlflow_log_params(params, 2), 0);
    struct mlflow_metric ms[] = {{.key = "acc", .value = 0.9}, {.key = "f1", .value = 0.8}};
    assert_int_equal(mlflow_log_metrics(ms, 2, 5), 0);
    struct mlflow_kv tags[] = {{"t1", "x"}, {"t2", "y"}};
    assert_int_equal(mlflow_set_tags(tags, 2), 0);
    assert_int_equal(mlflow_set_tag("t3", "z"), 0);
    assert_int_equal(mlflow_delete_tag("t2"), 0);
    assert_int_equal(mlflow_delete_tag("t2"), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(mlflow_log_metric("bad//key", 1, 0), MLFLOW_INVALID_PARAMETER_VALUE);

    struct mlflow_run *run = get_run(f, id);
    assert_string_equal(mlflow_run_param(run, "lr"), "0.01");
    assert_string_equal(mlflow_run_param(run, "layers"), "3-deep");
    assert_string_equal(mlflow_run_param(run, "b"), "2");
    assert_true(mlflow_run_metric(run, "loss")->value == 0.25);
    assert_int_equal(mlflow_run_metric(run, "loss")->step, 2);
    assert_int_equal(mlflow_run_metric(run, "acc")->step, 5);
    assert_int_equal(mlflow_run_metric(run, "acc")->timestamp,
                     mlflow_run_metric(run, "f1")->timestamp);
    assert_string_equal(mlflow_run_tag(run, "t1"), "x");
    assert_null(mlflow_run_tag(run, "t2"));
    assert_string_equal(mlflow_run_tag(run, "t3"), "z");
    mlflow_run_free(run);

    struct mlflow_metric_list *h = NULL;
    assert_int_equal(mlflow_client_get_metric_history(f->client, id, "loss", &h), 0);
    assert_int_equal(h->count, 2);
    assert_int_equal(h->metrics[1].timestamp, 1700000000000);
    mlflow_metric_list_free(h);
}

static void test_description_and_tags(void **state)
{
    struct fx *f = *state;
    struct mlflow_kv tags[] = {{"mlflow.note.content", "x"}};
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.description = "d", .tags = tags,
                                                      .n_tags = 1)),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    struct mlflow_kv mine[] = {{"mlflow.source.type", "JOB"}, {"team", "ml"}};
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.description = "# Notes", .tags = mine,
                                                      .n_tags = 2)),
                     0);
    char id[40];
    active_id(id);
    struct mlflow_run *run = get_run(f, id);
    assert_string_equal(mlflow_run_tag(run, "mlflow.note.content"), "# Notes");
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.type"), "JOB"); /* user wins */
    assert_string_equal(mlflow_run_tag(run, "team"), "ml");
    mlflow_run_free(run);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_artifacts(void **state)
{
    struct fx *f = *state;
    char path[700], sub[700], dst[700];
    snprintf(path, sizeof path, "%s/model.bin", f->dir);
    write_file(path, "weights");
    snprintf(sub, sizeof sub, "%s/plots", f->dir);
    mkdir(sub, 0777);
    snprintf(dst, sizeof dst, "%s/plots/a.txt", f->dir);
    write_file(dst, "A");
    snprintf(dst, sizeof dst, "%s/plots/inner", f->dir);
    mkdir(dst, 0777);
    snprintf(dst, sizeof dst, "%s/plots/inner/b.txt", f->dir);
    write_file(dst, "B");

    assert_int_equal(mlflow_log_artifact(path, NULL), 0);
    assert_int_equal(mlflow_log_artifact(path, "models/v1"), 0);
    assert_int_equal(mlflow_log_artifact(sub, NULL), 0);     /* a dir lands as plots/ */
    assert_int_equal(mlflow_log_artifacts(sub, "figs"), 0);  /* contents into figs/ */
    assert_int_equal(mlflow_log_text("hello\n", "notes/readme.md"), 0);
    assert_int_equal(mlflow_log_artifact(path, "../escape"), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_log_text("x", "/abs.txt"), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_log_artifact("/nonexistent/file", NULL),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);

    char id[40];
    active_id(id);
    char *uri = NULL, *file_uri = NULL;
    assert_int_equal(mlflow_get_artifact_uri(NULL, &uri), 0);
    assert_int_equal(mlflow_get_artifact_uri("notes/readme.md", &file_uri), 0);
    char expect[800];
    snprintf(expect, sizeof expect, "%s/notes/readme.md", uri);
    assert_string_equal(file_uri, expect);
    assert_true(strncmp(uri, f->uri, strlen(f->uri)) == 0);
    assert_non_null(strstr(uri, id));

    struct mlflow_file_list *l = NULL;
    assert_int_equal(mlflow_client_list_artifacts(f->client, id, NULL, &l), 0);
    const char *want[] = {"figs", "model.bin", "models", "notes", "plots"};
    assert_int_equal(l->count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(l->files[i].path, want[i]);
    assert_true(l->files[0].is_dir);
    assert_false(l->files[1].is_dir);
    assert_int_equal(l->files[1].file_size, 7);
    mlflow_file_list_free(l);
    assert_int_equal(mlflow_client_list_artifacts(f->client, id, "plots/inner", &l), 0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->files[0].path, "plots/inner/b.txt");
    mlflow_file_list_free(l);

    snprintf(dst, sizeof dst, "%s/download", f->dir);
    char *local = NULL;
    assert_int_equal(mlflow_client_download_artifacts(f->client, id, "figs", dst, &local), 0);
    char p2[900];
    snprintf(p2, sizeof p2, "%s/inner/b.txt", local);
    assert_string_equal(read_file(p2), "B");
    snprintf(p2, sizeof p2, "%s/models/v1/model.bin", uri + strlen("file://"));
    assert_string_equal(read_file(p2), "weights");
    snprintf(p2, sizeof p2, "%s/notes/readme.md", uri + strlen("file://"));
    assert_string_equal(read_file(p2), "hello\n");
    mlflow_free(local);
    mlflow_free(uri);
    mlflow_free(file_uri);
}

#define THREADS 8
#define POINTS 500

static void *log_thread(void *arg)
{
    long t = (long)arg;
    char key[32];
    snprintf(key, sizeof key, "p%ld", t);
    for (int i = 0; i < POINTS; i++)
        if (mlflow_log_metric("shared", (double)(t * POINTS + i), t * POINTS + i) != 0)
            return (void *)1;
    return mlflow_log_param(key, "v") == 0 ? NULL : (void *)1;
}

static void test_threads_share_active_run(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mlflow_start_run(NULL), 0);
    char id[40];
    active_id(id);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, log_thread, (void *)i);
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(mlflow_client_get_metric_history(f->client, id, "shared", &h), 0);
    assert_int_equal(h->count, THREADS * POINTS);
    static char seen[THREADS * POINTS];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < h->count; i++) {
        int64_t s = h->metrics[i].step;
        assert_true(s >= 0 && s < THREADS * POINTS);
        assert_true(h->metrics[i].value == (double)s);
        assert_false(seen[s]);
        seen[s] = 1;
    }
    mlflow_metric_list_free(h);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->data.n_params, THREADS);
    mlflow_run_free(run);
}

/* The child side of the exit/signal tests runs in a freshly exec'ed copy
 * of this program, so neither cmocka's signal handlers nor the parent's
 * fluent state are inherited: it is a plain program that logs and dies. */
static volatile int child_stop;

static void *child_logger(void *arg)
{
    long i = 0;
    char name[32];
    while (!child_stop) {
        /* run renames rewrite meta.yaml under the store's locks: the case
         * where a signal handler that wrote itself would hang */
        snprintf(name, sizeof name, "n%ld", i % 7);
        if (arg)
            mlflow_set_tag("mlflow.runName", name);
        mlflow_log_metric("busy", (double)i, i);
        i++;
    }
    return NULL;
}

static int child_main(const char *mode, const char *uri)
{
    mlflow_set_tracking_uri(uri);
    if (mlflow_start_run(NULL) != 0 || mlflow_start_run(MLFLOW_RUN_OPTS(.nested = true)) != 0)
        return 90;
    char id[40];
    mlflow_active_run_id(id, sizeof id);
    if (write(1, id, 32) != 32)
        return 91;
    if (strcmp(mode, "exit") == 0)
        exit(0);
    if (strcmp(mode, "segv") == 0)
        raise(SIGSEGV);
    if (strcmp(mode, "abort") == 0)
        abort();
    if (strcmp(mode, "term") == 0)
        raise(SIGTERM);
    if (strcmp(mode, "busy") == 0 || strcmp(mode, "threads") == 0) {
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, child_logger, mode[0] == 'b' ? (void *)1 : NULL);
        usleep(50 * 1000);
        if (mode[0] == 't')
            exit(0); /* exit while the threads still log: at-exit must not free under them */
        for (;;)
            pause(); /* "busy": wait for the parent's SIGTERM */
    }
    return 92;
}

/* Runs child_main(mode) in a new process; returns the final status of its
 * nested run as the store sees it (its parent run must agree). */
static int child_run(struct fx *f, const char *mode, int *wstatus)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "test_fluent", "--child", mode, f->uri, (char *)NULL);
        _exit(93);
    }
    close(fds[1]);
    char id[40] = "";
    ssize_t n = read(fds[0], id, 32);
    close(fds[0]);
    if (strcmp(mode, "busy") == 0) {
        usleep(200 * 1000);
        kill(pid, SIGTERM);
    }
    /* Bounded wait: a child stuck in its signal handler fails the test
     * instead of hanging it. */
    int waited = 0;
    pid_t got;
    while ((got = waitpid(pid, wstatus, WNOHANG)) == 0 && waited < 15000) {
        usleep(10 * 1000);
        waited += 10;
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, wstatus, 0);
        fail_msg("child (%s) did not finish within 15 s", mode);
    }
    assert_int_equal(got, pid);
    assert_int_equal(n, 32);
    struct mlflow_run *run = get_run(f, id);
    int status = run->info.status;
    struct mlflow_run *parent = get_run(f, mlflow_run_tag(run, "mlflow.parentRunId"));
    assert_int_equal(parent->info.status, status);
    mlflow_run_free(parent);
    mlflow_run_free(run);
    return status;
}

static void test_exit_and_signals_end_runs(void **state)
{
    struct fx *f = *state;
    int ws;
    assert_int_equal(child_run(f, "exit", &ws), MLFLOW_RUN_STATUS_FINISHED);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* The signal keeps its normal effect (a sanitizer's own handler may turn
     * it into a non-zero exit instead), and the runs end FAILED / KILLED. */
    assert_int_equal(child_run(f, "segv", &ws), MLFLOW_RUN_STATUS_FAILED);
    assert_true(WIFSIGNALED(ws) || (WIFEXITED(ws) && WEXITSTATUS(ws) != 0));
    assert_int_equal(child_run(f, "abort", &ws), MLFLOW_RUN_STATUS_FAILED);
    assert_true(WIFSIGNALED(ws) || (WIFEXITED(ws) && WEXITSTATUS(ws) != 0));
    assert_int_equal(child_run(f, "term", &ws), MLFLOW_RUN_STATUS_KILLED);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);
}

static void test_signal_while_threads_log(void **state)
{
    struct fx *f = *state;
    int ws;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(child_run(f, "busy", &ws), MLFLOW_RUN_STATUS_KILLED);
        assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);
    }
    assert_int_equal(child_run(f, "threads", &ws), MLFLOW_RUN_STATUS_FINISHED);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void test_forked_child_exit_leaves_parent_runs(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mlflow_start_run(NULL), 0);
    char id[40];
    active_id(id);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exit(0); /* runs atexit handlers in the child */
    int ws;
    waitpid(pid, &ws, 0);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_RUNNING);
    mlflow_run_free(run);
}

static void test_tracking_uri_resolution(void **state)
{
    struct fx *f = *state;
    char *uri = mlflow_get_tracking_uri();
    assert_string_equal(uri, f->uri);
    mlflow_free(uri);
    assert_int_equal(mlflow_set_tracking_uri(NULL), 0);
    setenv("MLFLOW_TRACKING_URI", "file:///tmp/from-env", 1);
    uri = mlflow_get_tracking_uri();
    assert_string_equal(uri, "file:///tmp/from-env");
    mlflow_free(uri);
    unsetenv("MLFLOW_TRACKING_URI");
    uri = mlflow_get_tracking_uri();
    char *cwd = getcwd(NULL, 0);
    char expect[4200];
    snprintf(expect, sizeof expect, "file://%s/mlruns", cwd);
    assert_string_equal(uri, expect);
    free(cwd);
    mlflow_free(uri);
    /* Schemes MLflow knows but mlflow-c has no store for fail clearly,
     * naming the scheme. */
    assert_int_equal(mlflow_set_tracking_uri("mysql://db.example/mlflow"), 0);
    mlflow_set_warnings(false);
    assert_int_equal(mlflow_start_run(NULL), MLFLOW_NOT_IMPLEMENTED);
    assert_non_null(strstr(mlflow_last_error(), "mysql"));
}

static void test_data_loss_reported_once(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        mlflow_set_tracking_uri("mysql://db.example/mlflow");
        for (int i = 0; i < 5; i++)
            mlflow_log_metric("x", i, i);
        mlflow_shutdown();
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    waitpid(pid, NULL, 0);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2); /* the first failure, then one summary */
    assert_non_null(strstr(buf, "not stored"));
    assert_non_null(strstr(buf, "4 more"));
}

/* Defects a review found; each case failed before its fix. */
static void test_review_regressions(void **state)
{
    struct fx *f = *state;
    char id[40], path[1400], outside[700];

    /* A symlink inside the artifact tree leads nowhere: no directory is
     * created through it, it is not listed, and it is not downloaded. */
    assert_int_equal(mlflow_start_run(NULL), 0);
    active_id(id);
    char *uri = NULL;
    assert_int_equal(mlflow_get_artifact_uri(NULL, &uri), 0);
    snprintf(outside, sizeof outside, "%s/outside", f->dir);
    mkdir(outside, 0777);
    mkdir(uri + strlen("file://"), 0777);
    snprintf(path, sizeof path, "%s/link", uri + strlen("file://"));
    assert_int_equal(symlink(outside, path), 0);
    assert_int_equal(mlflow_log_text("x", "link/made/f.txt"), MLFLOW_INVALID_PARAMETER_VALUE);
    snprintf(path, sizeof path, "%s/made", outside);
    assert_int_equal(access(path, F_OK), -1);
    struct mlflow_file_list *l = NULL;
    assert_int_equal(mlflow_client_list_artifacts(f->client, id, NULL, &l), 0);
    assert_int_equal(l->count, 0);
    mlflow_file_list_free(l);

    /* log_artifact(".") names the directory, never a "." component. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(path, sizeof path, "%s/mydir", f->dir);
    mkdir(path, 0777);
    assert_int_equal(chdir(path), 0);
    write_file("w.txt", "w");
    assert_int_equal(mlflow_log_artifact(".", NULL), 0);
    assert_int_equal(chdir(cwd), 0);
    snprintf(path, sizeof path, "%s/mydir/w.txt", uri + strlen("file://"));
    assert_string_equal(read_file(path), "w");
    mlflow_free(uri);

    /* NULL tag keys are refused, not dereferenced. */
    struct mlflow_kv bad[] = {{NULL, "v"}};
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.nested = true, .tags = bad, .n_tags = 1)),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.run_id = id, .tags = bad, .n_tags = 1)),
                     MLFLOW_INVALID_PARAMETER_VALUE);

    /* Batches over MLflow's per-request limits are split, not refused. */
    static struct mlflow_kv params[150];
    static char names[150][16];
    for (int i = 0; i < 150; i++) {
        snprintf(names[i], sizeof names[i], "p%03d", i);
        params[i] = (struct mlflow_kv){names[i], "v"};
    }
    assert_int_equal(mlflow_log_params(params, 150), 0);
    assert_int_equal(mlflow_set_tags(params, 150), 0);
    struct mlflow_run *run = get_run(f, id);
    assert_int_equal(run->data.n_params, 150);
    assert_true(run->data.n_tags >= 150);
    mlflow_run_free(run);

    /* A run ends in the store it was started in, whatever the tracking URI
     * says by then. */
    char other[700];
    snprintf(other, sizeof other, "file://%s/other", f->dir);
    assert_int_equal(mlflow_set_tracking_uri(other), 0);
    assert_int_equal(mlflow_end_run(0), 0);
    run = get_run(f, id);
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(run);

    /* Many large tags on a new run are all kept. */
    static char big[3][4001];
    struct mlflow_kv bigtags[3];
    for (int i = 0; i < 3; i++) {
        memset(big[i], 'a' + i, 4000);
        big[i][4000] = '\0';
        bigtags[i] = (struct mlflow_kv){i == 0 ? "t0" : i == 1 ? "t1" : "t2", big[i]};
    }
    assert_int_equal(mlflow_set_tracking_uri(f->uri), 0);
    assert_int_equal(mlflow_start_run(MLFLOW_RUN_OPTS(.tags = bigtags, .n_tags = 3)), 0);
    active_id(id);
    run = get_run(f, id);
    assert_string_equal(mlflow_run_tag(run, "t1"), big[1]);
    assert_string_equal(mlflow_run_tag(run, "t2"), big[2]);
    mlflow_run_free(run);
}

static void test_fluent_queries(void **state)
{
    (void)state;
    char *exp = NULL;
    assert_int_equal(mlflow_set_experiment("queries", NULL, &exp), 0);
    char ids[2][40];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mlflow_start_run(NULL), 0);
        active_id(ids[i]);
        assert_int_equal(mlflow_log_metric("loss", i + 1, 0), 0);
        assert_int_equal(mlflow_end_run(0), 0);
    }
    struct mlflow_run_list *l = NULL;
    assert_int_equal(mlflow_search_runs(NULL, &l), 0); /* current experiment */
    assert_int_equal(l->count, 2);
    mlflow_run_list_free(l);
    struct mlflow_search_runs_opts q = {.filter = "metrics.loss > 1.5"};
    assert_int_equal(mlflow_search_runs(&q, &l), 0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->runs[0].info.run_id, ids[1]);
    mlflow_run_list_free(l);

    struct mlflow_kv tags[] = {{"team", "ml"}, {"goal", "speed"}};
    assert_int_equal(mlflow_set_experiment_tags(tags, 2), 0);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(mlflow_get_experiment(exp, &e), 0);
    assert_string_equal(mlflow_experiment_tag(e, "goal"), "speed");
    mlflow_experiment_free(e);
    e = (struct mlflow_experiment *)1;
    assert_int_equal(mlflow_get_experiment_by_name("no such experiment", &e), 0);
    assert_null(e);

    assert_int_equal(mlflow_delete_run(ids[0]), 0);
    struct mlflow_run *run = NULL;
    assert_int_equal(mlflow_get_run(ids[0], &run), 0);
    assert_string_equal(run->info.lifecycle_stage, "deleted");
    mlflow_run_free(run);
    assert_int_equal(mlflow_delete_experiment(exp), 0);
    struct mlflow_experiment_list *el = NULL;
    struct mlflow_search_experiments_opts eo = {.view_type = MLFLOW_VIEW_DELETED_ONLY};
    assert_int_equal(mlflow_search_experiments(&eo, &el), 0);
    assert_int_equal(el->count, 1);
    assert_string_equal(el->experiments[0].name, "queries");
    mlflow_experiment_list_free(el);
    free(exp);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_end_and_system_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_requires_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_ends_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_by_id_and_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_experiment_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_experiment_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logging_autostarts_and_lands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_description_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_active_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_and_signals_end_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_while_threads_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_regressions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forked_child_exit_leaves_parent_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tracking_uri_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_loss_reported_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fluent_queries, setup, teardown),
    };
    return cmocka_run_group_tests_name("fluent", tests, NULL, NULL);
}
