/*
 * test_file_concurrency.c - the file store under concurrent writers: several
 * processes and several threads logging into the same runs, and a writer
 * killed with SIGKILL. Every acknowledged point must be on disk exactly
 * once, no line may be torn, params stay write-once across processes, and
 * rewritten files (tags, meta.yaml) are always whole. Processes that start
 * together on a store that does not exist yet all get a usable one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/file_store.h"
#include "testutil.h"

#define WORKERS 8
#define POINTS 2000 /* per worker: half into the shared run, half into its own */
#define HALF (POINTS / 2)
#define BATCH 10

struct fx {
    char *tmp;
    char root[4096];
    struct mlflow__store *s;
    char exp[32];
    char shared[64];
    char own[WORKERS][64];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->tmp = testutil_mkdtemp("mlflow-conc");
    if (!fx->tmp)
        return -1;
    snprintf(fx->root, sizeof fx->root, "%s/mlruns", fx->tmp);
    struct mlflow_error err = {0};
    char *id = NULL;
    if (mlflow__file_store_open(fx->root, &fx->s, &err) ||
        fx->s->ops->create_experiment(fx->s, "conc", NULL, NULL, 0, &id, &err))
        return -1;
    snprintf(fx->exp, sizeof fx->exp, "%s", id);
    mlflow_free(id);
    for (int i = -1; i < WORKERS; i++) {
        struct mlflow_run *r = NULL;
        if (fx->s->ops->create_run(fx->s, fx->exp, "u", 1, i < 0 ? "shared" : "own", NULL, 0, &r,
                                   &err))
            return -1;
        snprintf(i < 0 ? fx->shared : fx->own[i], 64, "%s", r->info.run_id);
        mlflow_run_free(r);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow__store_close(fx->s);
    testutil_rm_rf(fx->tmp);
    free(fx->tmp);
    free(fx);
    return 0;
}

/* ---- the worker, run as a process or a thread ---- */

struct job {
    struct mlflow__store *s; /* NULL: open one (a child process) */
    const char *root;
    const char *shared;
    const char *own;
    int k;
    int result; /* 0 ok, 1 ok but lost the "conflict" param, 2+ failure */
};

static int log_points(struct mlflow__store *s, const char *run, const char *key, int k,
                      struct mlflow_error *err)
{
    struct mlflow_metric batch[BATCH];
    for (int i = 0; i < HALF;) {
        /* Alternate single points (the hot path) and batches. */
        int n = (i / BATCH) % 2 ? BATCH : 1;
        if (i + n > HALF)
            n = HALF - i;
        for (int j = 0; j < n; j++, i++)
            batch[j] = (struct mlflow_metric){key, k * 100000.0 + i + 0.5, 1000 + i,
                                              k * 100000 + i};
        if (s->ops->log_batch(s, run, batch, (size_t)n, NULL, 0, NULL, 0, err))
            return 2;
    }
    return 0;
}

static void *work(void *arg)
{
    struct job *j = arg;
    struct mlflow_error err = {0};
    struct mlflow__store *s = j->s;
    j->result = 9;
    if (!s && mlflow__file_store_open(j->root, &s, &err))
        return NULL;
    char pkey[32], val[32], tagval[64];
    snprintf(pkey, sizeof pkey, "p_%d", j->k);
    snprintf(val, sizeof val, "%d", j->k);
    struct mlflow_kv params[] = {{pkey, "v"}, {"common", "same"}};
    struct mlflow_kv conflict[] = {{"conflict", val}};
    int rc = 0;
    if (log_points(s, j->shared, "shared", j->k, &err) || log_points(s, j->own, "own", j->k, &err))
        rc = 3;
    if (!rc && s->ops->log_batch(s, j->shared, NULL, 0, params, 2, NULL, 0, &err))
        rc = 4;
    if (!rc) {
        int c = s->ops->log_batch(s, j->shared, NULL, 0, conflict, 1, NULL, 0, &err);
        if (c == MLFLOW_INVALID_PARAMETER_VALUE)
            rc = 1;
        else if (c)
            rc = 5;
    }
    /* Rewrites: a tag file and (through mlflow.runName) meta.yaml. */
    for (int i = 0; rc < 2 && i < 20; i++) {
        snprintf(tagval, sizeof tagval, "value-from-worker-%d-%d", j->k, i);
        struct mlflow_kv tags[] = {{"t", tagval}, {"mlflow.runName", tagval}};
        if (s->ops->log_batch(s, j->shared, NULL, 0, NULL, 0, tags, 2, &err))
            rc = 6;
    }
    if (!j->s)
        mlflow__store_close(s);
    j->result = rc;
    return NULL;
}

/* ---- checking the result ---- */

static __attribute__((format(printf, 1, 2))) char *read_text(const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char *buf;
    size_t len;
    if (mlflow__fs_read_file(path, &buf, &len))
        fail_msg("cannot read %s", path);
    return buf;
}

/* Every line is "<ts> <value> <step>\n" and matches what worker k sent for
 * point i; each (k, i) appears exactly once. Returns the number of lines. */
static size_t check_metric_file(const char *text, int only_k, bool ordered)
{
    static unsigned char seen[WORKERS][HALF];
    memset(seen, 0, sizeof seen);
    size_t lines = 0;
    int last_i = -1;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            fail_msg("torn last line: '%s'", p);
        long long ts, step;
        double v;
        int used = 0;
        if (sscanf(p, "%lld %lf %lld%n", &ts, &v, &step, &used) != 3 || p + used != nl)
            fail_msg("malformed line: '%.*s'", (int)(nl - p), p);
        int k = (int)(step / 100000), i = (int)(step % 100000);
        assert_true(k >= 0 && k < WORKERS && i >= 0 && i < HALF);
        if (only_k >= 0)
            assert_int_equal(k, only_k);
        assert_true(v == k * 100000.0 + i + 0.5);
        assert_int_equal(ts, 1000 + i);
        if (seen[k][i]++)
            fail_msg("point %d of worker %d twice", i, k);
        if (ordered) {
            assert_int_equal(i, last_i + 1);
            last_i = i;
        }
        lines++;
        p = nl + 1;
    }
    return lines;
}

static void check_store(struct fx *fx, struct job *jobs)
{
    char base[8192];
    snprintf(base, sizeof base, "%s/%s", fx->root, fx->exp);
    char *text = read_text("%s/%s/metrics/shared", base, fx->shared);
    assert_int_equal(check_metric_file(text, -1, false), WORKERS * HALF);
    free(text);
    int winners = 0;
    for (int k = 0; k < WORKERS; k++) {
        if (jobs[k].result >= 2)
            fail_msg("worker %d failed with %d", k, jobs[k].result);
        winners += jobs[k].result == 0;
        text = read_text("%s/%s/metrics/own", base, fx->own[k]);
        assert_int_equal(check_metric_file(text, k, true), HALF);
        free(text);
    }
    assert_int_equal(winners, 1);

    /* The store agrees, and every rewritten file is whole. */
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->get_run(fx->s, fx->shared, &r, &err), 0);
    assert_string_equal(mlflow_run_param(r, "common"), "same");
    for (int k = 0; k < WORKERS; k++) {
        char key[16];
        snprintf(key, sizeof key, "p_%d", k);
        assert_string_equal(mlflow_run_param(r, key), "v");
    }
    const char *conflict = mlflow_run_param(r, "conflict");
    assert_non_null(conflict);
    assert_int_equal(jobs[atoi(conflict)].result, 0);
    int k, i, used = 0;
    const char *t = mlflow_run_tag(r, "t");
    assert_int_equal(sscanf(t, "value-from-worker-%d-%d%n", &k, &i, &used), 2);
    assert_int_equal((size_t)used, strlen(t));
    assert_int_equal(sscanf(r->info.run_name, "value-from-worker-%d-%d%n", &k, &i, &used), 2);
    assert_int_equal((size_t)used, strlen(r->info.run_name));
    const struct mlflow_metric *m = mlflow_run_metric(r, "shared");
    assert_non_null(m);
    assert_int_equal(m->step, (WORKERS - 1) * 100000 + HALF - 1);
    mlflow_run_free(r);

    struct mlflow_metric_list *h = NULL;
    assert_int_equal(fx->s->ops->get_metric_history(fx->s, fx->shared, "shared", &h, &err), 0);
    assert_int_equal(h->count, WORKERS * HALF);
    mlflow_metric_list_free(h);
}

static void test_processes(void **state)
{
    struct fx *fx = *state;
    struct job jobs[WORKERS];
    pid_t pids[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        jobs[k] = (struct job){NULL, fx->root, fx->shared, fx->own[k], k, 9};
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            work(&jobs[k]);
            _exit(jobs[k].result);
        }
    }
    for (int k = 0; k < WORKERS; k++) {
        int status;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status));
        jobs[k].result = WEXITSTATUS(status);
    }
    check_store(fx, jobs);
}

static void test_threads(void **state)
{
    struct fx *fx = *state;
    struct job jobs[WORKERS];
    pthread_t th[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        jobs[k] = (struct job){fx->s, fx->root, fx->shared, fx->own[k], k, 9};
        assert_int_equal(pthread_create(&th[k], NULL, work, &jobs[k]), 0);
    }
    for (int k = 0; k < WORKERS; k++)
        pthread_join(th[k], NULL);
    check_store(fx, jobs);
}

/* A writer killed with SIGKILL loses nothing it acknowledged and leaves no
 * torn line. The child reports each acknowledged step through a pipe. */
static void test_kill_9(void **state)
{
    struct fx *fx = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        struct mlflow__store *s;
        struct mlflow_error err;
        if (mlflow__file_store_open(fx->root, &s, &err))
            _exit(2);
        for (int64_t i = 0;; i++) {
            struct mlflow_metric m = {"k", (double)i, 1000 + i, i};
            if (s->ops->log_batch(s, fx->own[0], &m, 1, NULL, 0, NULL, 0, &err))
                _exit(3);
            if (write(p[1], &i, sizeof i) != sizeof i)
                _exit(4);
        }
    }
    close(p[1]);
    int64_t acked = -1, v;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        assert_int_equal(read(p[0], &v, sizeof v), sizeof v);
        acked = v;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (acked < 20000 && now.tv_sec - t0.tv_sec < 3);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    /* Steps still in the pipe were acknowledged too. */
    while (read(p[0], &v, sizeof v) == sizeof v)
        acked = v;
    close(p[0]);
    assert_true(acked > 100);

    char *text = read_text("%s/%s/%s/metrics/k", fx->root, fx->exp, fx->own[0]);
    int64_t expect = 0;
    for (const char *q = text; *q; expect++) {
        const char *nl = strchr(q, '\n');
        if (!nl)
            fail_msg("torn last line: '%s'", q);
        long long ts, step;
        double val;
        int used = 0;
        if (sscanf(q, "%lld %lf %lld%n", &ts, &val, &step, &used) != 3 || q + used != nl)
            fail_msg("malformed line: '%.*s'", (int)(nl - q), q);
        assert_int_equal(step, expect);
        assert_true(val == (double)expect);
        q = nl + 1;
    }
    free(text);
    /* Every acknowledged step is there (at most one more may be too). */
    assert_true(expect >= acked + 1);
    assert_true(expect <= acked + 2);
}

/* Several processes opening a new store at once: each either makes the
 * root or finds it complete, with experiment 0 readable. Children wait on a
 * pipe so they start together; several rounds make the race likely. */
static void test_fresh_store_race(void **state)
{
    struct fx *fx = *state;
    for (int round = 0; round < 10; round++) {
        char root[8192];
        snprintf(root, sizeof root, "%s/fresh%d/mlruns", fx->tmp, round);
        int gate[2];
        assert_int_equal(pipe(gate), 0);
        pid_t pids[WORKERS];
        for (int k = 0; k < WORKERS; k++) {
            pids[k] = fork();
            assert_true(pids[k] >= 0);
            if (pids[k] == 0) {
                char c;
                close(gate[1]);
                if (read(gate[0], &c, 1) != 0)
                    _exit(8);
                struct mlflow__store *s;
                struct mlflow_error err;
                struct mlflow_run *r = NULL;
                if (mlflow__file_store_open(root, &s, &err))
                    _exit(2);
                int rc = s->ops->create_run(s, "0", "u", 1, "r", NULL, 0, &r, &err);
                struct mlflow_metric m = {"x", 1.0, 1, 0};
                if (!rc)
                    rc = s->ops->log_batch(s, r->info.run_id, &m, 1, NULL, 0, NULL, 0, &err);
                mlflow_run_free(r);
                mlflow__store_close(s);
                _exit(rc ? 3 : 0);
            }
        }
        close(gate[0]);
        close(gate[1]); /* go */
        for (int k = 0; k < WORKERS; k++) {
            int status;
            assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
            assert_true(WIFEXITED(status));
            if (WEXITSTATUS(status) != 0)
                fail_msg("round %d: process %d failed with %d", round, k, WEXITSTATUS(status));
        }
        /* One store, one default experiment, every run in it, no leftovers. */
        struct mlflow__store *s;
        struct mlflow_error err = {0};
        assert_int_equal(mlflow__file_store_open(root, &s, &err), 0);
        const char *ids[] = {"0"};
        struct mlflow__search_runs q = {.experiment_ids = ids, .n_experiment_ids = 1,
                                        .filter = &(struct mlflow__filter){NULL, 0},
                                        .order = &(struct mlflow__orders){NULL, 0},
                                        .view_type = MLFLOW_VIEW_ALL, .max_results = 1000};
        struct mlflow_run_list *l = NULL;
        assert_int_equal(s->ops->search_runs(s, &q, &l, &err), 0);
        assert_int_equal(l->count, WORKERS);
        mlflow_run_list_free(l);
        mlflow__store_close(s);
        char parent[8192];
        snprintf(parent, sizeof parent, "%s/fresh%d", fx->tmp, round);
        DIR *d = opendir(parent);
        assert_non_null(d);
        struct dirent *de;
        int entries = 0;
        while ((de = readdir(d)))
            entries += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        assert_int_equal(entries, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_store_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
