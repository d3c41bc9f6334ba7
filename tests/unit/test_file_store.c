/*
 * test_file_store.c - behaviour specific to the file store: tolerant reading
 * of older or hand-made mlruns trees, MLflow's latest-metric rule, what
 * listings skip, the rules the store enforces (section 3 of the spec), key
 * paths that must not escape the store, the bound on open descriptors,
 * changes made by another store object (another process) being noticed, and
 * damaged or hostile store contents (symlinks, FIFOs, deep YAML, torn metric
 * lines, half-made experiments) that must neither escape nor stall the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/file_store.h"
#include "testutil.h"

struct fx {
    char *tmp;
    char root[4096];
    struct mlflow__store *s;
    char *exp;
};

static const struct mlflow__filter no_filter = {NULL, 0};
static const struct mlflow__orders no_order = {NULL, 0};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->tmp = testutil_mkdtemp("mlflow-fstore");
    if (!fx->tmp)
        return -1;
    snprintf(fx->root, sizeof fx->root, "%s/a/b/mlruns", fx->tmp);
    struct mlflow_error err = {0};
    if (mlflow__file_store_open(fx->root, &fx->s, &err) ||
        fx->s->ops->create_experiment(fx->s, "exp", NULL, NULL, 0, &fx->exp, &err))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow__store_close(fx->s);
    mlflow_free(fx->exp);
    testutil_rm_rf(fx->tmp);
    free(fx->tmp);
    free(fx);
    return 0;
}

static __attribute__((format(printf, 2, 3))) void put(const char *text, const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char dir[8192];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(mlflow__mkdirs(dir), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *new_run(struct fx *fx, const char *exp)
{
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    if (fx->s->ops->create_run(fx->s, exp, "u", 5, "r", NULL, 0, &r, &err))
        fail_msg("create_run: %s", err.message);
    char *id = strdup(r->info.run_id);
    mlflow_run_free(r);
    return id;
}

static int log1(struct mlflow__store *s, const char *run, const char *key, double v)
{
    struct mlflow_metric m = {key, v, 1, 0};
    struct mlflow_error err = {0};
    return s->ops->log_batch(s, run, &m, 1, NULL, 0, NULL, 0, &err);
}

/* ---- reading trees MLflow (or an older MLflow) wrote ---- */

static void test_tolerant_reading(void **state)
{
    struct fx *fx = *state;
    /* An old experiment: int id, no lifecycle, no times, a stray tags key. */
    put("artifact_location: /old/place\nexperiment_id: 7\nname: legacy\ntags: {}\n",
        "%s/7/meta.yaml", fx->root);
    /* An old run: int experiment_id, no status, no lifecycle, no
     * deleted_time, empty run_name, a long value folded over lines. */
    put("artifact_uri: /old/place/abc/artifacts\nend_time: null\nentry_point_name: ''\n"
        "experiment_id: 7\nrun_id: abc\nrun_name: ''\nrun_uuid: abc\nsource_name: ''\n"
        "source_type: 4\nsource_version: ''\nstart_time: 1_000\ntags: []\n"
        "user_id: a very long user name that someone\n  folded onto two lines\n",
        "%s/7/abc/meta.yaml", fx->root);
    put("from the tag", "%s/7/abc/tags/mlflow.runName", fx->root);
    put("100 1.5\n200 2.5\n", "%s/7/abc/metrics/legacy", fx->root);

    struct mlflow_error err = {0};
    struct mlflow_experiment *e = NULL;
    assert_int_equal(fx->s->ops->get_experiment(fx->s, "7", &e, &err), 0);
    assert_string_equal(e->experiment_id, "7");
    assert_string_equal(e->lifecycle_stage, "active");
    assert_true(e->creation_time == MLFLOW_TIME_UNSET);
    assert_int_equal(e->n_tags, 0);
    mlflow_experiment_free(e);

    struct mlflow_run *r = NULL;
    assert_int_equal(fx->s->ops->get_run(fx->s, "abc", &r, &err), 0);
    assert_string_equal(r->info.experiment_id, "7");
    assert_string_equal(r->info.lifecycle_stage, "active");
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_string_equal(r->info.run_name, "from the tag");
    assert_string_equal(r->info.user_id,
                        "a very long user name that someone folded onto two lines");
    assert_int_equal(r->info.start_time, 1000);
    const struct mlflow_metric *m = mlflow_run_metric(r, "legacy");
    assert_non_null(m);
    assert_true(m->value == 2.5 && m->step == 0 && m->timestamp == 200);
    mlflow_run_free(r);
}

static double latest_of(struct fx *fx, const char *lines)
{
    static int n;
    char id[32];
    snprintf(id, sizeof id, "latest%d", n++);
    put("experiment_id: '7'\nrun_id: x\n", "%s/7/%s/meta.yaml", fx->root, id);
    put("artifact_location: x\nexperiment_id: '7'\nname: seven\n", "%s/7/meta.yaml", fx->root);
    put(lines, "%s/7/%s/metrics/m", fx->root, id);
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->get_run(fx->s, id, &r, &err), 0);
    const struct mlflow_metric *m = mlflow_run_metric(r, "m");
    double v = m ? m->value : -12345;
    mlflow_run_free(r);
    return v;
}

static void test_latest_metric_rule(void **state)
{
    struct fx *fx = *state;
    /* Highest step wins, then timestamp, then value, whatever the order. */
    assert_true(latest_of(fx, "5 9.0 1\n1 1.0 2\n3 4.0 0\n") == 1.0);
    assert_true(latest_of(fx, "1 5.0 2\n2 3.0 2\n") == 3.0);
    assert_true(latest_of(fx, "2 3.0 2\n2 5.0 2\n2 4.0 2\n") == 5.0);
    /* NaN never compares greater, and nothing compares greater than it:
     * file order decides (Python's max over tuples). */
    assert_true(isnan(latest_of(fx, "5 nan 3\n5 1.0 3\n")));
    assert_true(latest_of(fx, "5 1.0 3\n5 nan 3\n") == 1.0);
    assert_true(latest_of(fx, "5 -inf 3\n5 inf 3\n") == INFINITY);
    /* An unterminated last line is a write in flight: not a point yet. */
    assert_true(latest_of(fx, "1 1.0 1\n2 2.0 2") == 1.0);
    /* A file with no complete line has no latest value. */
    assert_true(latest_of(fx, "") == -12345);
}

static size_t count_runs(struct fx *fx, const char *exp, int view)
{
    const char *ids[] = {exp};
    struct mlflow__search_runs q = {.experiment_ids = ids, .n_experiment_ids = 1,
                                    .filter = &no_filter, .order = &no_order,
                                    .view_type = view, .max_results = 1000};
    struct mlflow_run_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->search_runs(fx->s, &q, &l, &err), 0);
    size_t n = l->count;
    mlflow_run_list_free(l);
    return n;
}

/* A damaged line (a torn write glued to the next, hand edits) costs that
 * point, not the run: MLflow fails the whole run on one. */
static void test_malformed_metric_lines_are_skipped(void **state)
{
    struct fx *fx = *state;
    put("experiment_id: '7'\nrun_id: bad\n", "%s/7/bad/meta.yaml", fx->root);
    put("artifact_location: x\nexperiment_id: '7'\nname: seven\n", "%s/7/meta.yaml", fx->root);
    put("1 1.0 0\n1 1.0 0 extra\n\n2 2.0 1\nbogus\n3 x 2\n4 4.0", "%s/7/bad/metrics/m",
        fx->root);
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->get_run(fx->s, "bad", &r, &err), 0);
    assert_true(mlflow_run_metric(r, "m")->value == 2.0);
    mlflow_run_free(r);
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(fx->s->ops->get_metric_history(fx->s, "bad", "m", &h, &err), 0);
    assert_int_equal(h->count, 2);
    assert_true(h->metrics[0].value == 1.0 && h->metrics[1].value == 2.0);
    mlflow_metric_list_free(h);
    /* And a search finds it. */
    assert_int_equal(count_runs(fx, "7", MLFLOW_VIEW_ALL), 1);
}

static size_t count_experiments(struct fx *fx, int view)
{
    struct mlflow__search_experiments q = {.filter = &no_filter, .order = &no_order,
                                           .view_type = view, .max_results = 1000};
    struct mlflow_experiment_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->search_experiments(fx->s, &q, &l, &err), 0);
    size_t n = l->count;
    mlflow_experiment_list_free(l);
    return n;
}

static void test_listings_skip_what_mlflow_skips(void **state)
{
    struct fx *fx = *state;
    char *run = new_run(fx, fx->exp);
    size_t exps = count_experiments(fx, MLFLOW_VIEW_ALL); /* "0" and "exp" */
    assert_int_equal(exps, 2);
    /* Not experiments: the model registry, a dir without meta, a file, an
     * experiment whose meta names another id. */
    put("x", "%s/models/m/meta.yaml", fx->root);
    put("x", "%s/junk/readme", fx->root);
    put("x", "%s/loose-file", fx->root);
    put("artifact_location: x\nexperiment_id: '9'\nname: liar\n", "%s/8/meta.yaml", fx->root);
    assert_int_equal(count_experiments(fx, MLFLOW_VIEW_ALL), exps);
    /* Not runs: tags, datasets, traces, a dir without meta, a run of another
     * experiment. */
    put("x", "%s/%s/tags/k", fx->root, fx->exp);
    put("digest: d\n", "%s/%s/datasets/d/meta.yaml", fx->root, fx->exp);
    put("x", "%s/%s/traces/t/trace_info.yaml", fx->root, fx->exp);
    put("x", "%s/%s/notarun/file", fx->root, fx->exp);
    put("experiment_id: '0'\nrun_id: stray\n", "%s/%s/stray/meta.yaml", fx->root, fx->exp);
    assert_int_equal(count_runs(fx, fx->exp, MLFLOW_VIEW_ALL), 1);
    /* A run whose meta disagrees with its folder is INVALID_STATE by id. */
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->get_run(fx->s, "stray", &r, &err), MLFLOW_INVALID_STATE);
    assert_int_equal(fx->s->ops->get_run(fx->s, "nosuchrun", &r, &err),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);
    free(run);
}

/* ---- rules the store enforces ---- */

static void test_param_immutability(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    char *run = new_run(fx, fx->exp);
    struct mlflow_error err = {0};
    struct mlflow_kv p1[] = {{"lr", "0.1"}}, p2[] = {{"lr", "0.2"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, p1, 1, NULL, 0, &err), 0);
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, p1, 1, NULL, 0, &err), 0);
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, p2, 1, NULL, 0, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "key='lr'"));
    assert_non_null(strstr(err.message, "value='0.1'"));
    assert_non_null(strstr(err.message, "'0.2'"));
    struct mlflow_run *r = NULL;
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_string_equal(mlflow_run_param(r, "lr"), "0.1");
    mlflow_run_free(r);
    free(run);
}

static void test_deleted_run_rejects_writes(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    char *run = new_run(fx, fx->exp);
    struct mlflow_error err = {0};
    assert_int_equal(log1(s, run, "m", 1.0), 0); /* caches the run as active */
    struct mlflow_kv kv[] = {{"k", "v"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, kv, 1, &err), 0);
    assert_int_equal(s->ops->delete_run(s, run, &err), 0);
    assert_int_equal(log1(s, run, "m", 2.0), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, kv, 1, NULL, 0, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, kv, 1, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->delete_tag(s, run, "k", &err), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->update_run(s, run, 3, 9, NULL, NULL, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    /* Still readable by id. */
    struct mlflow_run *r = NULL;
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_string_equal(r->info.lifecycle_stage, "deleted");
    assert_true(mlflow_run_metric(r, "m")->value == 1.0);
    mlflow_run_free(r);
    assert_int_equal(s->ops->restore_run(s, run, &err), 0);
    assert_int_equal(log1(s, run, "m", 3.0), 0);
    assert_int_equal(s->ops->delete_tag(s, run, "k", &err), 0);
    assert_int_equal(s->ops->delete_tag(s, run, "k", &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    free(run);
}

static void test_experiment_rules(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    struct mlflow_error err = {0};
    char *dup = NULL, *again = NULL;
    assert_int_equal(s->ops->create_experiment(s, "exp", NULL, NULL, 0, &dup, &err),
                     MLFLOW_RESOURCE_ALREADY_EXISTS);
    assert_int_equal(s->ops->delete_experiment(s, "0", &err), MLFLOW_INTERNAL_ERROR);
    char *run = new_run(fx, fx->exp);
    assert_int_equal(s->ops->delete_experiment(s, fx->exp, &err), 0);
    assert_int_equal(s->ops->delete_experiment(s, fx->exp, &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    struct mlflow_run *r = NULL;
    assert_int_equal(s->ops->create_run(s, fx->exp, "u", 1, "x", NULL, 0, &r, &err),
                     MLFLOW_INVALID_STATE);
    assert_int_equal(s->ops->set_experiment_tag(s, fx->exp, "k", "v", &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->rename_experiment(s, fx->exp, "other", &err), MLFLOW_INVALID_STATE);
    /* The run moved to .trash with its experiment, and stays readable. */
    assert_int_equal(log1(s, run, "m", 1.0), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_string_equal(r->info.lifecycle_stage, "deleted");
    mlflow_run_free(r);
    /* Only active experiments reserve a name. */
    assert_int_equal(s->ops->create_experiment(s, "exp", NULL, NULL, 0, &again, &err), 0);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment_by_name(s, "exp", &e, &err), 0);
    assert_string_equal(e->experiment_id, again);
    mlflow_experiment_free(e);
    assert_int_equal(s->ops->restore_experiment(s, fx->exp, &err), 0);
    assert_int_equal(s->ops->restore_experiment(s, fx->exp, &err),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(log1(s, run, "m", 2.0), 0);
    assert_int_equal(s->ops->rename_experiment(s, fx->exp, "exp", &err),
                     MLFLOW_RESOURCE_ALREADY_EXISTS);
    assert_int_equal(s->ops->get_experiment(s, "123", &e, &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    mlflow_free(again);
    free(run);
}

static void test_run_name_tag_renames_run(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    char *run = new_run(fx, fx->exp);
    struct mlflow_error err = {0};
    struct mlflow_kv tags[] = {{"mlflow.runName", "renamed"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, tags, 1, &err), 0);
    struct mlflow_run *r = NULL;
    assert_int_equal(s->ops->update_run(s, run, MLFLOW_RUN_STATUS_FINISHED, 77, NULL, &r, &err),
                     0);
    assert_string_equal(r->info.run_name, "renamed");
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_int_equal(r->info.end_time, 77);
    mlflow_run_free(r);
    assert_int_equal(s->ops->update_run(s, run, 0, MLFLOW_TIME_UNSET, "again", &r, &err), 0);
    assert_string_equal(r->info.run_name, "again");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "again");
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(r);
    free(run);
}

/* ---- safety and resources ---- */

static void test_unsafe_keys_never_leave_the_run(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    char *run = new_run(fx, fx->exp);
    const char *bad[] = {"../escape", "/abs", "a//b", "a/./b", "a/..", "", "trailing/"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        struct mlflow_error err = {0};
        struct mlflow_kv kv[] = {{bad[i], "v"}};
        assert_int_equal(log1(s, run, bad[i], 1.0), MLFLOW_INVALID_PARAMETER_VALUE);
        assert_int_equal(s->ops->log_batch(s, run, NULL, 0, kv, 1, NULL, 0, &err),
                         MLFLOW_INVALID_PARAMETER_VALUE);
        assert_int_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, kv, 1, &err),
                         MLFLOW_INVALID_PARAMETER_VALUE);
        assert_int_equal(s->ops->set_experiment_tag(s, fx->exp, bad[i], "v", &err),
                         MLFLOW_INVALID_PARAMETER_VALUE);
    }
    struct stat st;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s/%s/escape", fx->root, fx->exp, run);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/%s/escape", fx->root, fx->exp);
    assert_int_not_equal(stat(path, &st), 0);
    free(run);
}

static size_t open_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static void test_descriptor_bound(void **state)
{
    struct fx *fx = *state;
    char *run = new_run(fx, fx->exp);
    size_t before = open_fds();
    char key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 600; i++) {
            snprintf(key, sizeof key, "k%03d", i);
            assert_int_equal(log1(fx->s, run, key, round), 0);
        }
    }
    assert_true(open_fds() <= before + 256);
    struct mlflow_metric_list *h = NULL;
    struct mlflow_error err = {0};
    for (int i = 0; i < 600; i += 97) {
        snprintf(key, sizeof key, "k%03d", i);
        assert_int_equal(fx->s->ops->get_metric_history(fx->s, run, key, &h, &err), 0);
        assert_int_equal(h->count, 2);
        mlflow_metric_list_free(h);
    }
    free(run);
}

/* Another store object on the same root stands in for another process. */
static void test_changes_by_another_process_are_seen(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *other;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__file_store_open(fx->root, &other, &err), 0);
    char *run = new_run(fx, fx->exp);
    assert_int_equal(log1(fx->s, run, "m", 1.0), 0);
    struct timespec pause = {0, 150 * 1000000L};

    assert_int_equal(other->ops->delete_run(other, run, &err), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(log1(fx->s, run, "m", 2.0), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(other->ops->restore_run(other, run, &err), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(log1(fx->s, run, "m", 3.0), 0);

    /* The experiment moves to .trash and back: the run is found again. */
    assert_int_equal(other->ops->delete_experiment(other, fx->exp, &err), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(log1(fx->s, run, "m", 4.0), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(other->ops->restore_experiment(other, fx->exp, &err), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(log1(fx->s, run, "m", 5.0), 0);

    struct mlflow_metric_list *h = NULL;
    assert_int_equal(other->ops->get_metric_history(other, run, "m", &h, &err), 0);
    assert_int_equal(h->count, 3);
    assert_true(h->metrics[0].value == 1.0 && h->metrics[1].value == 3.0 &&
                h->metrics[2].value == 5.0);
    mlflow_metric_list_free(h);
    mlflow__store_close(other);
    free(run);
}

static void test_existing_root_gets_no_default(void **state)
{
    struct fx *fx = *state;
    char root[8192];
    snprintf(root, sizeof root, "%s/existing", fx->tmp);
    assert_int_equal(mkdir(root, 0777), 0);
    struct mlflow__store *s;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__file_store_open(root, &s, &err), 0);
    struct stat st;
    char p[8300];
    snprintf(p, sizeof p, "%s/.trash", root);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/0", root);
    assert_int_not_equal(stat(p, &st), 0);
    mlflow__store_close(s);
    /* A root that is a file is refused. */
    snprintf(p, sizeof p, "%s/afile", fx->tmp);
    put("x", "%s", p);
    assert_int_equal(mlflow__file_store_open(p, &s, &err), MLFLOW_INVALID_PARAMETER_VALUE);
}

/* ---- damaged and hostile store contents ---- */

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    struct stat st;
    return lstat(path, &st) == 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Names in dir, sorted, joined with ' '. */
static char *listing(const char *dir)
{
    static char out[4096];
    char names[64][256];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) && n < 64)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            snprintf(names[n++], 256, "%s", de->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        int w = snprintf(out + len, sizeof out - len, "%s%s", i ? " " : "", names[i]);
        assert_true(w >= 0 && (size_t)w < sizeof out - len);
    }
    return out;
}

/* A write that fails half way (here: the file size limit) leaves part of a
 * line; the next append must start on a fresh line instead of gluing its
 * point to the fragment. */
static void test_torn_append_is_mended(void **state)
{
    struct fx *fx = *state;
    char *run = new_run(fx, fx->exp);
    char path[8192];
    snprintf(path, sizeof path, "%s/%s/%s/metrics/m", fx->root, fx->exp, run);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mlflow__store *s;
        struct mlflow_error err;
        struct mlflow_metric m = {"m", 1.0, 1000000, 0};
        if (mlflow__file_store_open(fx->root, &s, &err) ||
            s->ops->log_batch(s, run, &m, 1, NULL, 0, NULL, 0, &err))
            _exit(2);
        struct stat st;
        struct rlimit old, lim;
        if (stat(path, &st) != 0 || getrlimit(RLIMIT_FSIZE, &old) != 0)
            _exit(3);
        signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = (rlim_t)st.st_size + 4; /* room for "1000" of the next line */
        setrlimit(RLIMIT_FSIZE, &lim);
        m.value = 2.0;
        m.step = 1;
        int rc = s->ops->log_batch(s, run, &m, 1, NULL, 0, NULL, 0, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        if (rc != MLFLOW_INTERNAL_ERROR)
            _exit(4);
        m.value = 3.0;
        m.step = 2;
        if (s->ops->log_batch(s, run, &m, 1, NULL, 0, NULL, 0, &err))
            _exit(5);
        mlflow__store_close(s);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    char *text;
    size_t len;
    assert_int_equal(mlflow__fs_read_file(path, &text, &len), 0);
    assert_string_equal(text, "1000000 1.0 0\n1000\n1000000 3.0 2\n");
    mlflow__free(text);
    struct mlflow_error err = {0};
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(fx->s->ops->get_metric_history(fx->s, run, "m", &h, &err), 0);
    assert_int_equal(h->count, 2);
    assert_true(h->metrics[0].value == 1.0 && h->metrics[1].value == 3.0);
    assert_int_equal(h->metrics[1].timestamp, 1000000);
    assert_int_equal(h->metrics[1].step, 2);
    mlflow_metric_list_free(h);
    struct mlflow_run *r = NULL;
    assert_int_equal(fx->s->ops->get_run(fx->s, run, &r, &err), 0);
    assert_true(mlflow_run_metric(r, "m")->value == 3.0);
    mlflow_run_free(r);
    free(run);
}

/* An experiment's tags, datasets and traces folders are not runs. */
static void test_reserved_folders_are_not_runs(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    struct mlflow_error err = {0};
    assert_int_equal(s->ops->set_experiment_tag(s, fx->exp, "k", "v", &err), 0);
    put("digest: d\n", "%s/%s/datasets/d/meta.yaml", fx->root, fx->exp);
    put("x", "%s/%s/traces/t/trace_info.yaml", fx->root, fx->exp);
    const char *names[] = {"tags", "datasets", "traces"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(names); i++) {
        struct mlflow_run *r = NULL;
        assert_int_equal(s->ops->get_run(s, names[i], &r, &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
        assert_int_equal(log1(s, names[i], "m", 1.0), MLFLOW_RESOURCE_DOES_NOT_EXIST);
        assert_int_equal(s->ops->delete_run(s, names[i], &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
        assert_false(exists("%s/%s/%s/metrics", fx->root, fx->exp, names[i]));
    }
}

/* Security rule R2: a symlink planted in the store never leads a write, or
 * a read, outside it. */
static void test_symlinks_are_not_followed(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    struct mlflow_error err = {0};
    char out[8192];
    snprintf(out, sizeof out, "%s/outside", fx->tmp);
    put("TOPSECRET", "%s/secret", out);
    put("1 5.0 0\n", "%s/b", out);

    /* A run directory that is a symlink is not a run. */
    char *moved = new_run(fx, fx->exp);
    testutil_sh("mv '%s/%s/%s' '%s/moved-run' && ln -s '%s/moved-run' '%s/%s/%s'", fx->root,
                fx->exp, moved, fx->tmp, fx->tmp, fx->root, fx->exp, moved);
    struct mlflow_run *r = NULL;
    assert_int_equal(log1(s, moved, "m", 1.0), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(s->ops->get_run(s, moved, &r, &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_false(exists("%s/moved-run/metrics/m", fx->tmp));
    assert_int_equal(count_runs(fx, fx->exp, MLFLOW_VIEW_ALL), 0);

    /* Key folders that are symlinks, and a metrics/ that is one. */
    char *run = new_run(fx, fx->exp);
    char *run2 = new_run(fx, fx->exp);
    testutil_sh("ln -s '%s' '%s/%s/%s/metrics/a'", out, fx->root, fx->exp, run);
    testutil_sh("ln -s '%s' '%s/%s/%s/params/p'", out, fx->root, fx->exp, run);
    testutil_sh("mkdir -p '%s/%s/%s/tags' && ln -s '%s' '%s/%s/%s/tags/t'", fx->root, fx->exp,
                run, out, fx->root, fx->exp, run);
    testutil_sh("rmdir '%s/%s/%s/metrics' && ln -s '%s' '%s/%s/%s/metrics'", fx->root, fx->exp,
                run2, out, fx->root, fx->exp, run2);
    assert_int_not_equal(log1(s, run, "a/new", 1.0), 0);
    assert_int_not_equal(log1(s, run2, "new", 1.0), 0);
    struct mlflow_kv pnew[] = {{"p/new", "v"}}, psecret[] = {{"p/secret", "guess"}};
    struct mlflow_kv tnew[] = {{"t/new", "v"}};
    assert_int_not_equal(s->ops->log_batch(s, run, NULL, 0, pnew, 1, NULL, 0, &err), 0);
    assert_int_not_equal(s->ops->log_batch(s, run, NULL, 0, NULL, 0, tnew, 1, &err), 0);
    assert_false(exists("%s/new", out));
    /* Nothing outside is read back or deleted either. */
    assert_int_not_equal(s->ops->log_batch(s, run, NULL, 0, psecret, 1, NULL, 0, &err), 0);
    assert_null(strstr(err.message, "TOPSECRET"));
    assert_int_equal(s->ops->delete_tag(s, run, "t/secret", &err), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_true(exists("%s/secret", out));
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(s->ops->get_metric_history(s, run, "a/b", &h, &err), 0);
    assert_int_equal(h->count, 0);
    mlflow_metric_list_free(h);
    assert_int_equal(s->ops->get_run(s, run2, &r, &err), 0);
    assert_int_equal(r->data.n_metrics, 0);
    mlflow_run_free(r);
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_int_equal(r->data.n_metrics + r->data.n_params, 0);
    mlflow_run_free(r);
    /* The run itself still works. */
    assert_int_equal(log1(s, run, "ok", 1.0), 0);
    free(moved);
    free(run);
    free(run2);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* FIFOs, deeply nested YAML and huge meta.yaml files fail fast instead of
 * blocking or stalling a reader (the alarm turns a hang into a failure). */
static void test_hostile_files_do_not_stall(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    struct mlflow_error err = {0};
    struct mlflow_run *r = NULL;
    alarm(60);
    char *run = new_run(fx, fx->exp);
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s/%s", fx->root, fx->exp, run);
    testutil_sh("mkfifo '%s/params/fp' '%s/metrics/fm'", dir, dir);
    struct mlflow_kv fp[] = {{"fp", "v"}};
    assert_int_equal(s->ops->log_batch(s, run, NULL, 0, fp, 1, NULL, 0, &err),
                     MLFLOW_INTERNAL_ERROR);
    assert_int_equal(log1(s, run, "fm", 1.0), MLFLOW_INTERNAL_ERROR);
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(s->ops->get_metric_history(s, run, "fm", &h, &err), 0);
    assert_int_equal(h->count, 0);
    mlflow_metric_list_free(h);
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_int_equal(r->data.n_params + r->data.n_metrics, 0);
    mlflow_run_free(r);

    /* meta.yaml as a FIFO: a run, and an experiment. */
    testutil_sh("mkdir -p '%s/%s/fiforun' && mkfifo '%s/%s/fiforun/meta.yaml'", fx->root, fx->exp,
                fx->root, fx->exp);
    testutil_sh("mkdir -p '%s/555' && mkfifo '%s/555/meta.yaml'", fx->root, fx->root);
    assert_int_equal(s->ops->get_run(s, "fiforun", &r, &err), MLFLOW_INTERNAL_ERROR);
    assert_int_equal(log1(s, "fiforun", "m", 1.0), MLFLOW_INTERNAL_ERROR);
    assert_int_equal(count_runs(fx, fx->exp, MLFLOW_VIEW_ALL), 1);
    struct mlflow_experiment *e = NULL;
    assert_int_not_equal(s->ops->get_experiment(s, "555", &e, &err), 0);
    assert_int_equal(count_experiments(fx, MLFLOW_VIEW_ALL), 2);

    /* 80 KB of nested flow collections: refused before libyaml stalls. */
    size_t depth = 40000;
    char *deep = malloc(2 * depth + 200);
    int n = snprintf(deep, 200, "experiment_id: '%s'\nrun_id: deep\ntags: ", fx->exp);
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "\n");
    put(deep, "%s/%s/deep/meta.yaml", fx->root, fx->exp);
    free(deep);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(s->ops->get_run(s, "deep", &r, &err), MLFLOW_INTERNAL_ERROR);
    assert_non_null(strstr(err.message, "nested deeper"));
    assert_int_equal(count_runs(fx, fx->exp, MLFLOW_VIEW_ALL), 1);
    assert_true(seconds_since(&t0) < 2.0);
    /* Brackets that are text are no nesting. */
    char name[200];
    memset(name, '[', 150);
    name[150] = '\0';
    assert_int_equal(s->ops->update_run(s, run, 0, MLFLOW_TIME_UNSET, name, &r, &err), 0);
    mlflow_run_free(r);
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_string_equal(r->info.run_name, name);
    mlflow_run_free(r);

    /* A meta.yaml over 1 MiB is not read. */
    size_t big = (1 << 20) + 10;
    char *huge = malloc(big + 100);
    n = snprintf(huge, 100, "experiment_id: '%s'\nrun_id: huge\n#", fx->exp);
    memset(huge + n, 'x', big);
    strcpy(huge + n + big, "\n");
    put(huge, "%s/%s/huge/meta.yaml", fx->root, fx->exp);
    free(huge);
    assert_int_equal(s->ops->get_run(s, "huge", &r, &err), MLFLOW_INTERNAL_ERROR);
    assert_non_null(strstr(err.message, "too large"));
    alarm(0);
    free(run);
}

/* A failed creation leaves no directory behind, even once tags/ exists. */
static void test_failed_experiment_leaves_nothing(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->s;
    struct mlflow_error err = {0};
    char before[4096], *id = NULL;
    snprintf(before, sizeof before, "%s", listing(fx->root));
    /* "a/b" cannot be written once "a" is a file. */
    struct mlflow_kv tags[] = {{"a", "1"}, {"a/b", "2"}};
    assert_int_not_equal(s->ops->create_experiment(s, "half", NULL, tags, 2, &id, &err), 0);
    assert_string_equal(listing(fx->root), before);
    assert_int_equal(s->ops->create_experiment(s, "half", NULL, tags, 1, &id, &err), 0);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment_by_name(s, "half", &e, &err), 0);
    assert_string_equal(e->experiment_id, id);
    assert_int_equal(e->n_tags, 1);
    mlflow_experiment_free(e);
    mlflow_free(id);
}

/* The store appears whole (no temporary left beside it), and a default
 * experiment cut short by a crash of an older version is finished, while a
 * 0/ holding anything else is left alone. */
static void test_half_made_default_is_repaired(void **state)
{
    struct fx *fx = *state;
    char parent[8192];
    snprintf(parent, sizeof parent, "%s/a/b", fx->tmp);
    assert_string_equal(listing(parent), "mlruns");
    char expect[256];
    snprintf(expect, sizeof expect, ".trash 0 %s", fx->exp);
    assert_string_equal(listing(fx->root), expect);

    const char *cases[] = {"empty", "leftover", "foreign"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        char root[8192];
        snprintf(root, sizeof root, "%s/%s", fx->tmp, cases[i]);
        testutil_sh("mkdir -p '%s/0'", root);
        if (i == 1)
            put("half a meta", "%s/0/.mlflow-c-tmp-0123456789abcdef", root);
        if (i == 2)
            put("mine", "%s/0/notes.txt", root);
        struct mlflow__store *s;
        struct mlflow_error err = {0};
        assert_int_equal(mlflow__file_store_open(root, &s, &err), 0);
        struct mlflow_experiment *e = NULL;
        int rc = s->ops->get_experiment(s, "0", &e, &err);
        if (i < 2) {
            assert_int_equal(rc, 0);
            assert_string_equal(e->name, "Default");
            assert_string_equal(e->lifecycle_stage, "active");
            char uri[8300];
            snprintf(uri, sizeof uri, "file://%s/0", root);
            assert_string_equal(e->artifact_location, uri);
            mlflow_experiment_free(e);
            struct mlflow_run *r = NULL;
            assert_int_equal(s->ops->create_run(s, "0", "u", 1, "r", NULL, 0, &r, &err), 0);
            mlflow_run_free(r);
        } else {
            assert_int_not_equal(rc, 0);
            assert_false(exists("%s/0/meta.yaml", root));
            assert_true(exists("%s/0/notes.txt", root));
        }
        mlflow__store_close(s);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tolerant_reading),
        T(test_latest_metric_rule),
        T(test_malformed_metric_lines_are_skipped),
        T(test_listings_skip_what_mlflow_skips),
        T(test_param_immutability),
        T(test_deleted_run_rejects_writes),
        T(test_experiment_rules),
        T(test_run_name_tag_renames_run),
        T(test_unsafe_keys_never_leave_the_run),
        T(test_descriptor_bound),
        T(test_changes_by_another_process_are_seen),
        T(test_existing_root_gets_no_default),
        T(test_torn_append_is_mended),
        T(test_reserved_folders_are_not_runs),
        T(test_symlinks_are_not_followed),
        T(test_hostile_files_do_not_stall),
        T(test_failed_experiment_leaves_nothing),
        T(test_half_made_default_is_repaired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
