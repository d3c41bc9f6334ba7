/*
 * test_file_format.c - what the file store writes is byte-identical to what
 * MLflow 2.12 writes: meta.yaml of experiments and runs (checked against the
 * fixture MLflow wrote, and against PyYAML's output for quoting and line
 * folding), metric lines, param and tag files, and '/' keys as folders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/file_store.h"
#include "testutil.h"

#define FIXTURE MLFLOW_TEST_DATA "/mlflow-2.12/file/mlruns"

struct fx {
    char *tmp;
    char root[4096];
    char root_uri[4200];
    struct mlflow__store *s;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->tmp = testutil_mkdtemp("mlflow-format");
    if (!fx->tmp)
        return -1;
    snprintf(fx->root, sizeof fx->root, "%s/mlruns", fx->tmp);
    snprintf(fx->root_uri, sizeof fx->root_uri, "file://%s", fx->root);
    struct mlflow_error err = {0};
    if (mlflow__file_store_open(fx->root, &fx->s, &err) != 0)
        return -1;
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

/* Whole file as a malloc'ed string; fails the test if unreadable. */
static __attribute__((format(printf, 1, 2))) char *slurp(const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static __attribute__((format(printf, 1, 2))) bool exists(const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(path, &st) == 0;
}

static char *create_exp(struct fx *fx, const char *name, const char *loc)
{
    char *id = NULL;
    struct mlflow_error err = {0};
    if (fx->s->ops->create_experiment(fx->s, name, loc, NULL, 0, &id, &err) != 0)
        fail_msg("create_experiment: %s", err.message);
    return id;
}

static struct mlflow_run *create_run(struct fx *fx, const char *exp, const char *name)
{
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    struct mlflow_kv tags[] = {{"mlflow.runName", name}, {"mlflow.user", "alice"}};
    if (fx->s->ops->create_run(fx->s, exp, "alice", 1700000000123, name, tags, 2, &r, &err) != 0)
        fail_msg("create_run: %s", err.message);
    return r;
}

static void test_default_experiment(void **state)
{
    struct fx *fx = *state;
    char *meta = slurp("%s/0/meta.yaml", fx->root);
    struct mlflow_experiment *e = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->get_experiment(fx->s, "0", &e, &err), 0);
    char expected[8192];
    snprintf(expected, sizeof expected,
             "artifact_location: %s/0\n"
             "creation_time: %lld\n"
             "experiment_id: '0'\n"
             "last_update_time: %lld\n"
             "lifecycle_stage: active\n"
             "name: Default\n",
             fx->root_uri, (long long)e->creation_time, (long long)e->creation_time);
    assert_string_equal(meta, expected);
    assert_true(exists("%s/.trash", fx->root));
    mlflow_experiment_free(e);
    free(meta);
}

static void test_experiment_meta(void **state)
{
    struct fx *fx = *state;
    struct mlflow_error err = {0};
    /* A name YAML would read as a number must be quoted. */
    char *id = create_exp(fx, "1.5", NULL);
    assert_int_equal(strlen(id), 18);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(fx->s->ops->get_experiment(fx->s, id, &e, &err), 0);
    char expected[8192];
    snprintf(expected, sizeof expected,
             "artifact_location: %s/%s\n"
             "creation_time: %lld\n"
             "experiment_id: '%s'\n"
             "last_update_time: %lld\n"
             "lifecycle_stage: active\n"
             "name: '1.5'\n",
             fx->root_uri, id, (long long)e->creation_time, id, (long long)e->creation_time);
    char *meta = slurp("%s/%s/meta.yaml", fx->root, id);
    assert_string_equal(meta, expected);
    free(meta);
    mlflow_experiment_free(e);
    mlflow_free(id);

    /* An absolute plain path is kept as given, as MLflow does. */
    id = create_exp(fx, "custom", "/srv/artifacts/x");
    meta = slurp("%s/%s/meta.yaml", fx->root, id);
    assert_non_null(strstr(meta, "artifact_location: /srv/artifacts/x\n"));
    free(meta);
    struct mlflow_run *r = create_run(fx, id, "r");
    char uri[256];
    snprintf(uri, sizeof uri, "/srv/artifacts/x/%s/artifacts", r->info.run_id);
    assert_string_equal(r->info.artifact_uri, uri);
    mlflow_run_free(r);
    mlflow_free(id);
}

/* Fresh run meta.yaml has the shape of the fixture's "still running" run. */
static void test_run_meta_at_creation(void **state)
{
    struct fx *fx = *state;
    char *exp = create_exp(fx, "runs", NULL);
    struct mlflow_run *r = create_run(fx, exp, "my run");
    const char *id = r->info.run_id;
    char expected[8192];
    snprintf(expected, sizeof expected,
             "artifact_uri: %s/%s/%s/artifacts\n"
             "end_time: null\n"
             "entry_point_name: ''\n"
             "experiment_id: '%s'\n"
             "lifecycle_stage: active\n"
             "run_id: %s\n"
             "run_name: my run\n"
             "run_uuid: %s\n"
             "source_name: ''\n"
             "source_type: 4\n"
             "source_version: ''\n"
             "start_time: 1700000000123\n"
             "status: 1\n"
             "tags: []\n"
             "user_id: alice\n",
             fx->root_uri, exp, id, exp, id, id);
    char *meta = slurp("%s/%s/%s/meta.yaml", fx->root, exp, id);
    assert_string_equal(meta, expected);
    free(meta);
    /* The folders MLflow creates with every run. */
    assert_true(exists("%s/%s/%s/metrics", fx->root, exp, id));
    assert_true(exists("%s/%s/%s/params", fx->root, exp, id));
    assert_true(exists("%s/%s/%s/artifacts", fx->root, exp, id));
    char *tag = slurp("%s/%s/%s/tags/mlflow.runName", fx->root, exp, id);
    assert_string_equal(tag, "my run");
    free(tag);

    /* end_run: status as an int, end_time set. */
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->update_run(fx->s, id, MLFLOW_RUN_STATUS_KILLED, 1700000000999,
                                            NULL, NULL, &err),
                     0);
    meta = slurp("%s/%s/%s/meta.yaml", fx->root, exp, id);
    assert_non_null(strstr(meta, "\nend_time: 1700000000999\n"));
    assert_non_null(strstr(meta, "\nstatus: 5\n"));
    free(meta);
    mlflow_run_free(r);
    mlflow_free(exp);
}

static int64_t deleted_time_of(const char *meta)
{
    const char *p = strstr(meta, "deleted_time: ");
    return p ? strtoll(p + 14, NULL, 10) : -1;
}

static void test_run_delete_restore_bytes(void **state)
{
    struct fx *fx = *state;
    struct mlflow_error err = {0};
    char *exp = create_exp(fx, "lifecycle", NULL);
    struct mlflow_run *r = create_run(fx, exp, "doomed");
    const char *id = r->info.run_id;
    assert_int_equal(fx->s->ops->delete_run(fx->s, id, &err), 0);
    char *meta = slurp("%s/%s/%s/meta.yaml", fx->root, exp, id);
    /* Sorted keys: deleted_time sits between artifact_uri and end_time. */
    char head[8192];
    snprintf(head, sizeof head, "artifact_uri: %s/%s/%s/artifacts\ndeleted_time: ", fx->root_uri,
             exp, id);
    assert_true(strncmp(meta, head, strlen(head)) == 0);
    assert_true(deleted_time_of(meta) > 1700000000000);
    assert_non_null(strstr(meta, "\nend_time: null\nentry_point_name: ''\n"));
    assert_non_null(strstr(meta, "\nlifecycle_stage: deleted\n"));
    free(meta);
    assert_int_equal(fx->s->ops->restore_run(fx->s, id, &err), 0);
    meta = slurp("%s/%s/%s/meta.yaml", fx->root, exp, id);
    assert_null(strstr(meta, "deleted_time"));
    assert_non_null(strstr(meta, "\nlifecycle_stage: active\n"));
    free(meta);
    mlflow_run_free(r);
    mlflow_free(exp);
}

static void test_experiment_delete_restore_rename_bytes(void **state)
{
    struct fx *fx = *state;
    struct mlflow_error err = {0};
    char *exp = create_exp(fx, "to-trash", NULL);
    struct mlflow__store *s = fx->s;
    assert_int_equal(s->ops->set_experiment_tag(s, exp, "team", "ml", &err), 0);
    assert_int_equal(s->ops->set_experiment_tag(s, exp, "a/b", "1", &err), 0);
    struct mlflow_run *active = create_run(fx, exp, "active run");
    struct mlflow_run *gone = create_run(fx, exp, "deleted first");
    assert_int_equal(s->ops->delete_run(s, gone->info.run_id, &err), 0);
    char *before = slurp("%s/%s/%s/meta.yaml", fx->root, exp, gone->info.run_id);

    assert_int_equal(s->ops->delete_experiment(s, exp, &err), 0);
    assert_false(exists("%s/%s", fx->root, exp));
    char *meta = slurp("%s/.trash/%s/meta.yaml", fx->root, exp);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment(s, exp, &e, &err), 0);
    assert_string_equal(e->lifecycle_stage, "deleted");
    char expected[8192];
    /* The rewrite dumps the whole experiment, tags mapping included. */
    snprintf(expected, sizeof expected,
             "artifact_location: %s/%s\n"
             "creation_time: %lld\n"
             "experiment_id: '%s'\n"
             "last_update_time: %lld\n"
             "lifecycle_stage: deleted\n"
             "name: to-trash\n"
             "tags:\n"
             "  a/b: '1'\n"
             "  team: ml\n",
             fx->root_uri, exp, (long long)e->creation_time, exp, (long long)e->last_update_time);
    assert_string_equal(meta, expected);
    free(meta);
    mlflow_experiment_free(e);
    /* Active runs get deleted_time; the one deleted before is untouched. */
    meta = slurp("%s/.trash/%s/%s/meta.yaml", fx->root, exp, active->info.run_id);
    assert_non_null(strstr(meta, "\nlifecycle_stage: deleted\n"));
    assert_true(deleted_time_of(meta) > 0);
    free(meta);
    meta = slurp("%s/.trash/%s/%s/meta.yaml", fx->root, exp, gone->info.run_id);
    assert_string_equal(meta, before);
    free(meta);
    free(before);

    /* Restore brings back every deleted run, without deleted_time. */
    assert_int_equal(s->ops->restore_experiment(s, exp, &err), 0);
    assert_false(exists("%s/.trash/%s", fx->root, exp));
    meta = slurp("%s/%s/meta.yaml", fx->root, exp);
    assert_non_null(strstr(meta, "\nlifecycle_stage: active\nname: to-trash\ntags:\n"));
    free(meta);
    const char *ids[] = {active->info.run_id, gone->info.run_id};
    for (int i = 0; i < 2; i++) {
        meta = slurp("%s/%s/%s/meta.yaml", fx->root, exp, ids[i]);
        assert_non_null(strstr(meta, "\nlifecycle_stage: active\n"));
        assert_null(strstr(meta, "deleted_time"));
        free(meta);
    }

    assert_int_equal(s->ops->rename_experiment(s, exp, "yes", &err), 0);
    meta = slurp("%s/%s/meta.yaml", fx->root, exp);
    assert_non_null(strstr(meta, "\nname: 'yes'\ntags:\n  a/b: '1'\n  team: ml\n"));
    free(meta);
    mlflow_run_free(active);
    mlflow_run_free(gone);
    mlflow_free(exp);
}

/* Quoting and line folding as PyYAML's CSafeDumper does them (expected text
 * produced by yaml.dump(..., Dumper=CSafeDumper, default_flow_style=False,
 * allow_unicode=True)). */
static void test_yaml_quoting_and_folding(void **state)
{
    struct fx *fx = *state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/yaml", fx->tmp);
    assert_int_equal(mkdir(dir, 0777), 0);
    struct mlflow_run_info info = {
        .run_id = "r",
        .run_name = "word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 "
                    "word12 word13 word14 word15 word16 word17 word18 word19 word20 word21 word22 "
                    "word23 word24",
        .experiment_id = "0",
        .user_id = "yes",
        .artifact_uri = "file:///tmp/with space/x",
        .lifecycle_stage = "active",
        .status = 1,
        .start_time = 0,
        .end_time = MLFLOW_TIME_UNSET,
    };
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__fs_write_run_meta(dir, &info, MLFLOW_TIME_UNSET, &err), 0);
    char *meta = slurp("%s/meta.yaml", dir);
    assert_non_null(strstr(meta, "artifact_uri: file:///tmp/with space/x\n"));
    assert_non_null(
        strstr(meta, "\nrun_name: word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 "
                     "word10 word11\n  word12 word13 word14 word15 word16 word17 word18 word19 "
                     "word20 word21 word22 word23\n  word24\n"));
    assert_non_null(strstr(meta, "\nuser_id: 'yes'\n"));
    assert_non_null(strstr(meta, "\nstart_time: 0\n"));
    free(meta);

    /* And a real YAML reader folds it back. */
    struct mlflow_run_info *back = mlflow__obj_new(sizeof *back);
    assert_int_equal(mlflow__fs_read_run_meta(mlflow__obj_arena(back), dir, back, &err), 0);
    assert_string_equal(back->run_name, info.run_name);
    assert_string_equal(back->user_id, "yes");
    assert_true(back->end_time == MLFLOW_TIME_UNSET);
    mlflow__obj_free(back);
}

struct fixture_metas {
    char paths[32][4096];
    int n;
};

static struct fixture_metas *found;

static int find_meta(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    if (type == FTW_F && strcmp(path + ftw->base, "meta.yaml") == 0 && found->n < 32)
        snprintf(found->paths[found->n++], 4096, "%s", path);
    return 0;
}

/* Read each meta.yaml MLflow wrote and write it again with the same field
 * values: the bytes must not change. */
static void test_fixture_meta_round_trip(void **state)
{
    struct fx *fx = *state;
    struct fixture_metas metas = {.n = 0};
    found = &metas;
    assert_int_equal(nftw(FIXTURE, find_meta, 16, FTW_PHYS), 0);
    assert_int_equal(metas.n, 15); /* 5 experiments, 10 runs */
    int runs = 0;
    for (int i = 0; i < metas.n; i++) {
        char *orig = slurp("%s", metas.paths[i]);
        char src[4096], out[4096];
        snprintf(src, sizeof src, "%s", metas.paths[i]);
        *strrchr(src, '/') = '\0';
        snprintf(out, sizeof out, "%s/rt%d", fx->tmp, i);
        assert_int_equal(mkdir(out, 0777), 0);
        struct mlflow_error err = {0};
        if (strstr(orig, "\nrun_uuid: ")) {
            struct mlflow_run_info *info = mlflow__obj_new(sizeof *info);
            assert_int_equal(mlflow__fs_read_run_meta(mlflow__obj_arena(info), src, info, &err),
                             0);
            int64_t dt = deleted_time_of(orig);
            assert_int_equal(
                mlflow__fs_write_run_meta(out, info, dt < 0 ? MLFLOW_TIME_UNSET : dt, &err), 0);
            mlflow__obj_free(info);
            runs++;
        } else {
            struct mlflow_experiment *e = mlflow__obj_new(sizeof *e);
            assert_int_equal(mlflow__fs_read_experiment(mlflow__obj_arena(e), src,
                                                        strrchr(src, '/') + 1, e, &err),
                             0);
            bool with_tags = strstr(orig, "\ntags: {}\n") != NULL;
            /* The file recorded no tags when it was written. */
            e->n_tags = 0;
            assert_int_equal(mlflow__fs_write_experiment_meta(out, e, with_tags, &err), 0);
            mlflow__obj_free(e);
        }
        char *ours = slurp("%s/meta.yaml", out);
        if (strcmp(orig, ours) != 0)
            fail_msg("%s differs:\n--- MLflow\n%s--- ours\n%s", metas.paths[i], orig, ours);
        free(orig);
        free(ours);
    }
    assert_int_equal(runs, 10);
}

static void test_metric_lines(void **state)
{
    struct fx *fx = *state;
    char *exp = create_exp(fx, "metrics", NULL);
    struct mlflow_run *r = create_run(fx, exp, "m");
    struct mlflow_metric m[] = {
        {"v", 0.1, 1700000000001, 0},
        {"v", 3.0, 1700000000002, 1},
        {"v", 1e16, 1700000000003, 2},
        {"v", NAN, 1700000000004, 3},
        {"v", INFINITY, 1700000000005, 4},
        {"v", -INFINITY, 1700000000006, -5},
        {"v", 0.30000000000000004, 1700000000007, 6},
        {"v", 5e-324, 1700000000008, 7},
        {"v", 1e300, 1700000000009, 8},
        {"v", 1e15, 1700000000010, 9},
        {"v", -0.0, 1700000000011, 10},
        {"v", 2.5e-7, 1700000000012, 11},
    };
    struct mlflow_error err = {0};
    /* One point per call (the hot path) and the rest as one batch. */
    assert_int_equal(fx->s->ops->log_batch(fx->s, r->info.run_id, m, 1, NULL, 0, NULL, 0, &err),
                     0);
    assert_int_equal(fx->s->ops->log_batch(fx->s, r->info.run_id, m + 1, MLFLOW_ARRAY_LEN(m) - 1,
                                           NULL, 0, NULL, 0, &err),
                     0);
    char *text = slurp("%s/%s/%s/metrics/v", fx->root, exp, r->info.run_id);
    assert_string_equal(text, "1700000000001 0.1 0\n"
                              "1700000000002 3.0 1\n"
                              "1700000000003 1e+16 2\n"
                              "1700000000004 nan 3\n"
                              "1700000000005 inf 4\n"
                              "1700000000006 -inf -5\n"
                              "1700000000007 0.30000000000000004 6\n"
                              "1700000000008 5e-324 7\n"
                              "1700000000009 1e+300 8\n"
                              "1700000000010 1000000000000000.0 9\n"
                              "1700000000011 -0.0 10\n"
                              "1700000000012 2.5e-07 11\n");
    free(text);
    mlflow_run_free(r);
    mlflow_free(exp);
}

static void test_params_tags_and_folders(void **state)
{
    struct fx *fx = *state;
    char *exp = create_exp(fx, "values", NULL);
    struct mlflow_run *r = create_run(fx, exp, "p");
    const char *id = r->info.run_id;
    struct mlflow_kv params[] = {
        {"lr", "0.01"}, {"empty", ""}, {"unicode_ключ", "значение ✓"}, {"a/b", "slash key"}};
    struct mlflow_kv tags[] = {{"multi", "line one\nline two"}, {"t/u/v", "deep"}};
    struct mlflow_metric m[] = {{"nested/metric/key", 0.5, 1, 0}};
    struct mlflow_error err = {0};
    assert_int_equal(fx->s->ops->log_batch(fx->s, id, m, 1, params, 4, tags, 2, &err), 0);
    char base[8192];
    snprintf(base, sizeof base, "%s/%s/%s", fx->root, exp, id);
    const char *files[][2] = {
        {"params/lr", "0.01"},
        {"params/empty", ""},
        {"params/unicode_ключ", "значение ✓"},
        {"params/a/b", "slash key"},
        {"tags/multi", "line one\nline two"},
        {"tags/t/u/v", "deep"},
        {"metrics/nested/metric/key", "1 0.5 0\n"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(files); i++) {
        char *text = slurp("%s/%s", base, files[i][0]);
        assert_string_equal(text, files[i][1]);
        free(text);
    }
    /* No temporary file is left anywhere in the run. */
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '.mlflow-c-tmp-*')\"", base);
    assert_int_equal(system(cmd), 0);
    /* Readers rebuild '/' keys from the folders. */
    struct mlflow_run *g = NULL;
    assert_int_equal(fx->s->ops->get_run(fx->s, id, &g, &err), 0);
    assert_string_equal(mlflow_run_param(g, "a/b"), "slash key");
    assert_string_equal(mlflow_run_tag(g, "t/u/v"), "deep");
    assert_non_null(mlflow_run_metric(g, "nested/metric/key"));
    mlflow_run_free(g);
    mlflow_run_free(r);
    mlflow_free(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_experiment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_experiment_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_meta_at_creation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_delete_restore_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_experiment_delete_restore_rename_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_quoting_and_folding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_meta_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_tags_and_folders, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
