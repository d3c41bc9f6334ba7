/*
 * test_fixture_sqlite.c - the SQLite store and databases MLflow 2.12.2 wrote.
 *
 *   - A copy of the fixture database reads back exactly what MLflow's own
 *     client saw (MANIFEST.json): every experiment, deleted ones included,
 *     every run, param, tag, latest metric and metric point.
 *   - A database we create has MLflow's schema, statement for statement,
 *     at alembic revision acf3f17fdcc7, with the Default experiment.
 *   - A database at another MLflow revision, a database of something else
 *     and a file that is no database are refused, byte for byte untouched.
 *   - We can write into MLflow's database and read it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "manifest.h"
#include "testutil.h"

#define FIXTURE MLFLOW_TEST_DATA "/mlflow-2.12/sqlite"

struct fx {
    char *tmp;
    char db[4096];
    char uri[4200];
    struct mlflow__store *store;
    json_object *manifest;
};


static int copy_file(const char *from, const char *to)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod u+w '%s'", from, to, to);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->tmp = testutil_mkdtemp("mlflow-fixture-sqlite");
    if (!fx->tmp)
        return -1;
    snprintf(fx->db, sizeof fx->db, "%s/mlflow.db", fx->tmp);
    snprintf(fx->uri, sizeof fx->uri, "sqlite:///%s", fx->db);
    if (copy_file(FIXTURE "/mlflow.db", fx->db) != 0)
        return -1;
    fx->manifest = json_object_from_file(FIXTURE "/MANIFEST.json");
    if (!fx->manifest)
        return -1;
    struct mlflow_error err = {0};
    if (mlflow__store_open(fx->uri, &fx->store, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", fx->uri, err.message);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    mlflow__store_close(fx->store);
    json_object_put(fx->manifest);
    testutil_rm_rf(fx->tmp);
    free(fx->tmp);
    free(fx);
    return 0;
}

/* ---- reading what MLflow wrote ---- */

static void test_every_experiment(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    json_object *exps = jget(fx->manifest, "experiments");
    size_t n = json_object_array_length(exps);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        json_object *je = json_object_array_get_idx(exps, i);
        const char *id = jstr(je, "experiment_id");
        struct mlflow_experiment *e = NULL;
        struct mlflow_error err = {0};
        if (s->ops->get_experiment(s, id, &e, &err) != 0)
            fail_msg("get_experiment %s: %s", id, err.message);
        assert_string_equal(e->experiment_id, id);
        assert_string_equal(e->name, jstr(je, "name"));
        assert_string_equal(e->artifact_location, jstr(je, "artifact_location"));
        assert_string_equal(e->lifecycle_stage, jstr(je, "lifecycle_stage"));
        assert_true(e->creation_time > 0);
        assert_true(e->last_update_time >= e->creation_time);
        assert_kv_equal(jget(je, "tags"), e->tags, e->n_tags);
        mlflow_experiment_free(e);

        assert_int_equal(s->ops->get_experiment_by_name(s, jstr(je, "name"), &e, &err), 0);
        assert_string_equal(e->experiment_id, id);
        mlflow_experiment_free(e);
    }
}

static void test_search_experiments_views(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_ALL), 5);
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_ACTIVE_ONLY), 4);
    assert_int_equal(search_experiments(fx->store, MLFLOW_VIEW_DELETED_ONLY), 1);
}

static void test_every_run(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    json_object *runs = jget(fx->manifest, "runs");
    size_t n = json_object_array_length(runs), n_points = 0;
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        json_object *jr = json_object_array_get_idx(runs, i);
        const char *id = jstr(jr, "run_id");
        struct mlflow_run *r = NULL;
        struct mlflow_error err = {0};
        if (s->ops->get_run(s, id, &r, &err) != 0)
            fail_msg("get_run %s: %s", id, err.message);
        const struct mlflow_run_info *info = &r->info;
        assert_string_equal(info->run_id, id);
        assert_string_equal(info->experiment_id, jstr(jr, "experiment_id"));
        assert_string_equal(info->run_name, jstr(jr, "run_name"));
        assert_string_equal(info->user_id, jstr(jr, "user_id"));
        assert_string_equal(info->artifact_uri, jstr(jr, "artifact_uri"));
        assert_string_equal(info->lifecycle_stage, jstr(jr, "lifecycle_stage"));
        assert_string_equal(mlflow_run_status_name(info->status), jstr(jr, "status"));
        assert_int_equal(info->start_time, json_object_get_int64(jget(jr, "start_time")));
        if (jstr(jr, "end_time"))
            assert_int_equal(info->end_time, json_object_get_int64(jget(jr, "end_time")));
        else
            assert_true(info->end_time == MLFLOW_TIME_UNSET);
        assert_kv_equal(jget(jr, "params"), r->data.params, r->data.n_params);
        assert_kv_equal(jget(jr, "tags"), r->data.tags, r->data.n_tags);

        json_object *latest = jget(jr, "latest_metrics");
        assert_int_equal(json_object_object_length(latest), r->data.n_metrics);
        for (size_t m = 0; m < r->data.n_metrics; m++) {
            json_object *v = jget(latest, r->data.metrics[m].key);
            if (!v)
                fail_msg("unexpected metric '%s'", r->data.metrics[m].key);
            assert_double_same(jdouble(v), r->data.metrics[m].value);
        }
        json_object_object_foreach(jget(jr, "metric_history"), key, points)
        {
            check_history(s, id, key, points);
            n_points += json_object_array_length(points);
        }
        mlflow_run_free(r);
    }
    /* The fixture's special points: NaN, +-max double, the 100-point batch. */
    assert_true(n_points > 100);
}

static void test_special_metrics(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    struct mlflow_run *r = NULL;
    struct mlflow_error err = {0};
    /* "parent run": special = [nan, +inf, -inf] as MLflow's SQL store keeps
     * them; the latest is -inf (step 2), read back as -DBL_MAX. */
    assert_int_equal(s->ops->get_run(s, "13c6f54070dd4e328eac93cd1998f0e2", &r, &err), 0);
    const struct mlflow_metric *m = mlflow_run_metric(r, "special");
    assert_non_null(m);
    assert_true(m->value == -DBL_MAX);
    assert_int_equal(m->step, 2);
    assert_true(mlflow_run_metric(r, "tiny")->value == 5e-324);
    assert_true(mlflow_run_metric(r, "big")->value == 1e300);
    mlflow_run_free(r);
}

static size_t search_all_runs(struct mlflow__store *s, int view)
{
    const char *ids[] = {"0", "1", "2", "3", "4"};
    struct mlflow__search_runs q = {.experiment_ids = ids, .n_experiment_ids = 5,
                                    .filter = &manifest_no_filter, .order = &manifest_no_order,
                                    .view_type = view, .max_results = 1000};
    struct mlflow_run_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(s->ops->search_runs(s, &q, &l, &err), 0);
    size_t n = l->count;
    for (size_t i = 1; i < n; i++)
        assert_true(l->runs[i - 1].info.start_time >= l->runs[i].info.start_time);
    mlflow_run_list_free(l);
    return n;
}

static void test_search_runs_views(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_ALL), 10);
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_ACTIVE_ONLY), 8);
    assert_int_equal(search_all_runs(fx->store, MLFLOW_VIEW_DELETED_ONLY), 2);
}

/* ---- writing into MLflow's database ---- */

static void test_write_into_mlflow_db(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = fx->store;
    struct mlflow_error err = {0};
    const char *run = "e50ffed84371402aa198ea767dd83778"; /* "still running" */
    const struct mlflow_metric m[] = {{"batch_m", 1000.0, 1800000000000, 100},
                                      {"fresh", 0.5, 1800000000000, 0}};
    const struct mlflow_kv p[] = {{"new_param", "x"}};
    const struct mlflow_kv t[] = {{"new_tag", "y"}};
    assert_int_equal(s->ops->log_batch(s, run, m, 2, p, 1, t, 1, &err), 0);
    struct mlflow_run *r = NULL;
    assert_int_equal(s->ops->get_run(s, run, &r, &err), 0);
    assert_true(mlflow_run_metric(r, "batch_m")->value == 1000.0);
    assert_true(mlflow_run_metric(r, "fresh")->value == 0.5);
    assert_string_equal(mlflow_run_param(r, "new_param"), "x");
    assert_string_equal(mlflow_run_tag(r, "new_tag"), "y");
    mlflow_run_free(r);
    struct mlflow_metric_list *h = NULL;
    assert_int_equal(s->ops->get_metric_history(s, run, "batch_m", &h, &err), 0);
    assert_int_equal(h->count, 101);
    assert_int_equal(h->metrics[100].step, 100);
    mlflow_metric_list_free(h);

    /* New experiments continue MLflow's id sequence; names stay unique. */
    char *id = NULL;
    assert_int_equal(s->ops->create_experiment(s, "added by mlflow-c", NULL, NULL, 0, &id, &err),
                     0);
    assert_string_equal(id, "5");
    mlflow__free(id);
    id = NULL;
    assert_int_equal(s->ops->create_experiment(s, "to-be-deleted", NULL, NULL, 0, &id, &err),
                     MLFLOW_RESOURCE_ALREADY_EXISTS);
    assert_null(id);
}

/* ---- schema ---- */

/* The schema as text: every table and index, sorted by name, without
 * mlflow-c's own indexes and SQLite's planner statistics. */
static char *schema_of(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type, name, tbl_name, coalesce(sql, '') FROM "
                                        "sqlite_master WHERE name NOT LIKE 'mlflowc\\_%' ESCAPE "
                                        "'\\' AND name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\' "
                                        "ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < 4; i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            size_t n = strlen(t);
            while (len + n + 2 > cap)
                out = realloc(out, cap *= 2);
            memcpy(out + len, t, n);
            len += n;
            out[len++] = i == 3 ? '\n' : '|';
            out[len] = '\0';
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static char *query_text(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char *r = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        r = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

static void test_fresh_schema_is_mlflows(void **state)
{
    struct fx *fx = *state;
    char path[4200], uri[4300];
    snprintf(path, sizeof path, "%s/fresh.db", fx->tmp);
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
    struct mlflow__store *s = NULL;
    struct mlflow_error err = {0};
    if (mlflow__store_open(uri, &s, &err) != 0)
        fail_msg("open %s: %s", uri, err.message);
    assert_string_equal(s->ops->name, "sqlite");
    char *ours = schema_of(path), *theirs = schema_of(FIXTURE "/mlflow.db");
    if (strcmp(ours, theirs) != 0)
        fail_msg("schema differs.\nours:\n%s\nMLflow's:\n%s", ours, theirs);
    free(ours);
    free(theirs);

    char *rev = query_text(path, "SELECT group_concat(version_num) FROM alembic_version");
    assert_string_equal(rev, "acf3f17fdcc7");
    free(rev);
    char *mode = query_text(path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);

    /* Default: id 0, artifacts under ./mlruns made absolute, as MLflow. */
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment(s, "0", &e, &err), 0);
    assert_string_equal(e->name, "Default");
    char *cwd_root = mlflow__abspath("mlruns/0");
    assert_string_equal(e->artifact_location, cwd_root);
    mlflow__free(cwd_root);
    assert_true(e->creation_time > 0 && e->creation_time == e->last_update_time);
    mlflow_experiment_free(e);
    /* The first experiment of ours is 1, as with MLflow. */
    char *id = NULL;
    assert_int_equal(s->ops->create_experiment(s, "first", NULL, NULL, 0, &id, &err), 0);
    assert_string_equal(id, "1");
    mlflow__free(id);
    mlflow__store_close(s);

    /* Opening it again changes nothing and finds everything. */
    assert_int_equal(mlflow__store_open(uri, &s, &err), 0);
    e = NULL;
    assert_int_equal(s->ops->get_experiment_by_name(s, "first", &e, &err), 0);
    assert_string_equal(e->experiment_id, "1");
    mlflow_experiment_free(e);
    mlflow__store_close(s);
}

/* ---- refusals ---- */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* Opening `path` fails with INVALID_STATE naming `needle`, and leaves the
 * file exactly as it was, with no WAL beside it. */
static void expect_refused(struct fx *fx, const char *path, const char *needle)
{
    char uri[4300];
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
    size_t n0, n1;
    char *before = slurp(path, &n0);
    struct mlflow__store *s = NULL;
    struct mlflow_error err = {0};
    int rc = mlflow__store_open(uri, &s, &err);
    if (rc != MLFLOW_INVALID_STATE)
        fail_msg("%s: open gave %d (%s)", path, rc, err.message);
    assert_null(s);
    if (!strstr(err.message, needle))
        fail_msg("message does not mention '%s': %s", needle, err.message);
    char *after = slurp(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
    char wal[4300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    FILE *f = fopen(wal, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        assert_int_equal(ftell(f), 0);
        fclose(f);
    }
    (void)fx;
}

static void run_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static void test_refuses_other_revisions(void **state)
{
    struct fx *fx = *state;
    char path[4200];
    /* An older MLflow (2.11's head). */
    snprintf(path, sizeof path, "%s/older.db", fx->tmp);
    assert_int_equal(copy_file(FIXTURE "/mlflow.db", path), 0);
    run_sql(path, "UPDATE alembic_version SET version_num = '2d6e25af4d3e'");
    expect_refused(fx, path, "2d6e25af4d3e");
    /* A newer one (2.14's trace tables). */
    snprintf(path, sizeof path, "%s/newer.db", fx->tmp);
    assert_int_equal(copy_file(FIXTURE "/mlflow.db", path), 0);
    run_sql(path, "UPDATE alembic_version SET version_num = '867495a8f9d4'");
    expect_refused(fx, path, "newer");
    /* A revision nobody knows. */
    snprintf(path, sizeof path, "%s/unknown.db", fx->tmp);
    assert_int_equal(copy_file(FIXTURE "/mlflow.db", path), 0);
    run_sql(path, "UPDATE alembic_version SET version_num = 'ffffffffffff'");
    expect_refused(fx, path, "ffffffffffff");
}

static void test_refuses_foreign_files(void **state)
{
    struct fx *fx = *state;
    char path[4200];
    /* Somebody else's SQLite database. */
    snprintf(path, sizeof path, "%s/other.db", fx->tmp);
    run_sql(path, "CREATE TABLE inventory (item TEXT, qty INTEGER);"
                  "INSERT INTO inventory VALUES ('apples', 3)");
    expect_refused(fx, path, "not an MLflow tracking database");
    /* Not a database at all. */
    snprintf(path, sizeof path, "%s/notes.db", fx->tmp);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("these are my notes, not a database\n", f);
    fclose(f);
    expect_refused(fx, path, "notes.db");
}

static void test_uri_forms(void **state)
{
    struct fx *fx = *state;
    struct mlflow__store *s = NULL;
    struct mlflow_error err = {0};
    /* In memory. */
    assert_int_equal(mlflow__store_open("sqlite://", &s, &err), 0);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(s->ops->get_experiment(s, "0", &e, &err), 0);
    mlflow_experiment_free(e);
    mlflow__store_close(s);
    assert_int_equal(mlflow__store_open("sqlite:///:memory:", &s, &err), 0);
    mlflow__store_close(s);
    /* A host is not SQLite. */
    s = NULL;
    assert_int_equal(mlflow__store_open("sqlite://host/x.db", &s, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(s);
    /* Relative to the working directory. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->tmp), 0);
    int rc = mlflow__store_open("sqlite:///relative.db", &s, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    char want[4300];
    snprintf(want, sizeof want, "sqlite:///%s/relative.db", fx->tmp);
    assert_string_equal(s->uri, want);
    mlflow__store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_experiment),
        cmocka_unit_test(test_search_experiments_views),
        cmocka_unit_test(test_every_run),
        cmocka_unit_test(test_special_metrics),
        cmocka_unit_test(test_search_runs_views),
        cmocka_unit_test(test_write_into_mlflow_db),
        cmocka_unit_test(test_fresh_schema_is_mlflows),
        cmocka_unit_test(test_refuses_other_revisions),
        cmocka_unit_test(test_refuses_foreign_files),
        cmocka_unit_test(test_uri_forms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
