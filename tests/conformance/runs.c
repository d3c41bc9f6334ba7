/*
 * runs.c - conformance: run lifecycle (spec 1.5, 1.7, 3): creation with
 * names, tags and times, generated names, updates, termination, soft
 * delete/restore, and which states accept writes.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MISSING_RUN_ID "0123456789abcdef0123456789abcdef"

static int is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* MLflow's generated names: <adjective>-<animal>-<number 0..1000>. */
static int is_generated_name(const char *s)
{
    for (int part = 0; part < 2; part++) {
        const char *start = s;
        while (*s >= 'a' && *s <= 'z')
            s++;
        if (s == start || *s != '-')
            return 0;
        s++;
    }
    size_t digits = strspn(s, "0123456789");
    return digits >= 1 && digits <= 4 && s[digits] == '\0';
}

void conf_test_run_create_with_name_tags_start_time(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    conf_experiment(c, "runs", exp);
    const struct mlflow_kv tags[] = {{"team", "a"}, {"mlflow.source.type", "LOCAL"}};
    const struct mlflow_create_run_opts o = {
        .run_name = "train-1", .start_time = 1700000000123, .tags = tags, .n_tags = 2};
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, exp, &o, &r));
    assert_non_null(r);
    char id[CONF_ID_MAX];
    strcpy(id, r->info.run_id);

    for (int pass = 0; pass < 2; pass++) {
        /* Pass 0 checks what create_run returned, pass 1 what get_run reads. */
        assert_true(is_hex32(r->info.run_id));
        assert_string_equal(r->info.run_id, id);
        assert_string_equal(r->info.run_name, "train-1");
        assert_string_equal(r->info.experiment_id, exp);
        assert_string_equal(r->info.lifecycle_stage, "active");
        assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
        assert_int_equal(r->info.start_time, 1700000000123);
        assert_true(r->info.end_time == MLFLOW_TIME_UNSET);
        assert_string_equal(mlflow_run_tag(r, "team"), "a");
        assert_string_equal(mlflow_run_tag(r, "mlflow.source.type"), "LOCAL");
        assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "train-1");
        assert_int_equal(r->data.n_tags, 3);
        assert_int_equal(r->data.n_params, 0);
        assert_int_equal(r->data.n_metrics, 0);
        mlflow_run_free(r);
        r = conf_get_run(c, id);
    }

    /* artifact_uri = <experiment artifact_location>/<run_id>/artifacts */
    struct mlflow_experiment *e = conf_get_experiment(c, exp);
    char want[1024];
    snprintf(want, sizeof want, "%s/%s/artifacts", e->artifact_location, id);
    assert_string_equal(r->info.artifact_uri, want);
    mlflow_experiment_free(e);
    mlflow_run_free(r);
}

void conf_test_run_create_defaults(void **state)
{
    struct conf *c = *state;
    int64_t t0 = conf_now_ms();
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, "0", NULL, &r));
    int64_t t1 = conf_now_ms();
    assert_string_equal(r->info.experiment_id, "0");
    assert_true(r->info.start_time >= t0 - 1000 && r->info.start_time <= t1 + 1000);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_true(r->info.end_time == MLFLOW_TIME_UNSET);
    assert_string_equal(r->info.user_id, "unknown");
    /* The client adds no system tags beyond the run name. */
    assert_int_equal(r->data.n_tags, 1);
    assert_non_null(mlflow_run_tag(r, "mlflow.runName"));
    mlflow_run_free(r);

    /* The header lets a caller not want the run back (out == NULL); the
     * REST store used to crash here. */
    CONF_OK(mlflow_client_create_run(c->client, "0", NULL, NULL));

    /* Two runs never share an id. */
    char a[CONF_ID_MAX], b[CONF_ID_MAX];
    conf_run(c, "0", NULL, 0, a);
    conf_run(c, "0", NULL, 0, b);
    assert_string_not_equal(a, b);
}

void conf_test_run_user_id(void **state)
{
    struct conf *c = *state;
    const struct mlflow_kv tags[] = {{"mlflow.user", "alice"}};
    struct mlflow_create_run_opts o = {.tags = tags, .n_tags = 1};
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, "0", &o, &r));
    assert_string_equal(r->info.user_id, "alice");
    assert_string_equal(mlflow_run_tag(r, "mlflow.user"), "alice");
    mlflow_run_free(r);

    o = (struct mlflow_create_run_opts){.user_id = "bob"};
    r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, "0", &o, &r));
    char id[CONF_ID_MAX];
    strcpy(id, r->info.run_id);
    mlflow_run_free(r);
    r = conf_get_run(c, id);
    assert_string_equal(r->info.user_id, "bob");
    mlflow_run_free(r);
}

void conf_test_run_name_tag_conflict(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    conf_experiment(c, "conflict", exp);
    const struct mlflow_kv tags[] = {{"mlflow.runName", "from-tag"}};
    struct mlflow_create_run_opts o = {.run_name = "from-arg", .tags = tags, .n_tags = 1};
    struct mlflow_run *r = NULL;
    CONF_ERR(mlflow_client_create_run(c->client, exp, &o, &r), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(r);
    struct mlflow_run_list *l = conf_search_runs(c, exp, MLFLOW_VIEW_ALL);
    assert_int_equal(l->count, 0);
    mlflow_run_list_free(l);

    /* The same name twice is no conflict. */
    o.run_name = "from-tag";
    CONF_OK(mlflow_client_create_run(c->client, exp, &o, &r));
    assert_string_equal(r->info.run_name, "from-tag");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "from-tag");
    mlflow_run_free(r);
}

void conf_test_run_name_from_tag(void **state)
{
    struct conf *c = *state;
    const struct mlflow_kv tags[] = {{"mlflow.runName", "named by tag"}};
    struct mlflow_create_run_opts o = {.tags = tags, .n_tags = 1};
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, "0", &o, &r));
    char id[CONF_ID_MAX];
    strcpy(id, r->info.run_id);
    mlflow_run_free(r);
    r = conf_get_run(c, id);
    assert_string_equal(r->info.run_name, "named by tag");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "named by tag");
    assert_int_equal(r->data.n_tags, 1);
    mlflow_run_free(r);
}

void conf_test_run_generated_name(void **state)
{
    struct conf *c = *state;
    for (int i = 0; i < 5; i++) {
        char id[CONF_ID_MAX];
        conf_run(c, "0", NULL, 0, id);
        struct mlflow_run *r = conf_get_run(c, id);
        if (!is_generated_name(r->info.run_name))
            print_error("not a generated name: '%s'\n", r->info.run_name);
        assert_true(is_generated_name(r->info.run_name));
        assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), r->info.run_name);
        mlflow_run_free(r);
    }
}

void conf_test_run_update(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "original", 1700000000000, id);

    struct mlflow_update_run_opts u = {.status = MLFLOW_RUN_STATUS_FINISHED,
                                       .end_time = 1700000005000};
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_update_run(c->client, id, &u, &r));
    assert_non_null(r);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_int_equal(r->info.end_time, 1700000005000);
    assert_string_equal(r->info.run_name, "original");
    mlflow_run_free(r);

    u = (struct mlflow_update_run_opts){.run_name = "renamed"};
    CONF_OK(mlflow_client_update_run(c->client, id, &u, NULL));
    r = conf_get_run(c, id);
    assert_string_equal(r->info.run_name, "renamed");
    assert_string_equal(mlflow_run_tag(r, "mlflow.runName"), "renamed");
    /* Fields not named stay as they were. */
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_int_equal(r->info.end_time, 1700000005000);
    assert_int_equal(r->info.start_time, 1700000000000);
    mlflow_run_free(r);

    u = (struct mlflow_update_run_opts){.status = MLFLOW_RUN_STATUS_KILLED};
    CONF_OK(mlflow_client_update_run(c->client, id, &u, NULL));
    r = conf_get_run(c, id);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_KILLED);
    assert_int_equal(r->info.end_time, 1700000005000);
    assert_string_equal(r->info.run_name, "renamed");
    mlflow_run_free(r);

    CONF_ERR(mlflow_client_update_run(c->client, MISSING_RUN_ID, &u, NULL),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
}

void conf_test_run_set_terminated(void **state)
{
    struct conf *c = *state;
    char a[CONF_ID_MAX], b[CONF_ID_MAX];
    conf_run(c, "0", "a", 0, a);
    conf_run(c, "0", "b", 0, b);

    int64_t t0 = conf_now_ms();
    CONF_OK(mlflow_client_set_terminated(c->client, a, 0, 0));
    int64_t t1 = conf_now_ms();
    struct mlflow_run *r = conf_get_run(c, a);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_true(r->info.end_time >= t0 - 1000 && r->info.end_time <= t1 + 1000);
    assert_true(r->info.end_time >= r->info.start_time);
    mlflow_run_free(r);

    CONF_OK(mlflow_client_set_terminated(c->client, b, MLFLOW_RUN_STATUS_FAILED, 1900000000001));
    r = conf_get_run(c, b);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FAILED);
    assert_int_equal(r->info.end_time, 1900000000001);
    mlflow_run_free(r);
}

void conf_test_run_delete_restore(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], keep[CONF_ID_MAX], del[CONF_ID_MAX];
    conf_experiment(c, "delete runs", exp);
    conf_run(c, exp, "keep", 0, keep);
    conf_run(c, exp, "del", 0, del);
    CONF_OK(mlflow_client_log_param(c->client, del, "p", "1"));

    CONF_OK(mlflow_client_delete_run(c->client, del));
    struct mlflow_run *r = conf_get_run(c, del);
    assert_string_equal(r->info.lifecycle_stage, "deleted");
    /* Soft delete: data and status stay. */
    assert_string_equal(mlflow_run_param(r, "p"), "1");
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    mlflow_run_free(r);

    struct mlflow_run_list *l = conf_search_runs(c, exp, 0);
    assert_int_equal(l->count, 1);
    assert_true(conf_list_has_run(l, keep));
    mlflow_run_list_free(l);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_DELETED_ONLY);
    assert_int_equal(l->count, 1);
    assert_true(conf_list_has_run(l, del));
    mlflow_run_list_free(l);

    CONF_OK(mlflow_client_restore_run(c->client, del));
    r = conf_get_run(c, del);
    assert_string_equal(r->info.lifecycle_stage, "active");
    mlflow_run_free(r);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_ACTIVE_ONLY);
    assert_int_equal(l->count, 2);
    mlflow_run_list_free(l);

    CONF_ERR(mlflow_client_delete_run(c->client, MISSING_RUN_ID), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_restore_run(c->client, MISSING_RUN_ID), MLFLOW_RESOURCE_DOES_NOT_EXIST);
}

void conf_test_run_log_into_deleted_run(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "deleted", 0, id);
    CONF_OK(mlflow_client_set_tag(c->client, id, "t", "v"));
    CONF_OK(mlflow_client_delete_run(c->client, id));

    const int bad = MLFLOW_INVALID_PARAMETER_VALUE;
    CONF_ERR(mlflow_client_log_metric(c->client, id, "m", 1.0, 1000, 0), bad);
    CONF_ERR(mlflow_client_log_param(c->client, id, "p", "v"), bad);
    CONF_ERR(mlflow_client_set_tag(c->client, id, "t2", "v"), bad);
    CONF_ERR(mlflow_client_delete_tag(c->client, id, "t"), bad);
    const struct mlflow_metric m = {"m", 1.0, 1000, 0};
    CONF_ERR(mlflow_client_log_batch(c->client, id, &m, 1, NULL, 0, NULL, 0), bad);
    const struct mlflow_update_run_opts u = {.status = MLFLOW_RUN_STATUS_FINISHED};
    CONF_ERR(mlflow_client_update_run(c->client, id, &u, NULL), bad);
    CONF_ERR(mlflow_client_set_terminated(c->client, id, 0, 0), bad);

    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(r->data.n_metrics, 0);
    assert_int_equal(r->data.n_params, 0);
    assert_string_equal(mlflow_run_tag(r, "t"), "v");
    assert_null(mlflow_run_tag(r, "t2"));
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    mlflow_run_free(r);

    /* Restored, it takes writes again. */
    CONF_OK(mlflow_client_restore_run(c->client, id));
    CONF_OK(mlflow_client_log_metric(c->client, id, "m", 1.0, 1000, 0));
}

void conf_test_run_log_into_finished_run(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_run(c, "0", "finished", 0, id);
    CONF_OK(mlflow_client_set_terminated(c->client, id, MLFLOW_RUN_STATUS_FINISHED, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "late", 2.5, 1000, 7));
    CONF_OK(mlflow_client_log_param(c->client, id, "p", "v"));
    CONF_OK(mlflow_client_set_tag(c->client, id, "t", "v"));
    struct mlflow_run *r = conf_get_run(c, id);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    const struct mlflow_metric *m = mlflow_run_metric(r, "late");
    assert_non_null(m);
    assert_true(m->value == 2.5);
    assert_int_equal(m->step, 7);
    assert_string_equal(mlflow_run_param(r, "p"), "v");
    assert_string_equal(mlflow_run_tag(r, "t"), "v");
    mlflow_run_free(r);

    /* FAILED runs too. */
    CONF_OK(mlflow_client_set_terminated(c->client, id, MLFLOW_RUN_STATUS_FAILED, 0));
    CONF_OK(mlflow_client_log_metric(c->client, id, "late", 3.5, 2000, 8));
}

void conf_test_run_create_in_deleted_experiment(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    conf_experiment(c, "gone", exp);
    CONF_OK(mlflow_client_delete_experiment(c->client, exp));
    struct mlflow_run *r = NULL;
    CONF_ERR(mlflow_client_create_run(c->client, exp, NULL, &r), MLFLOW_INVALID_STATE);
    assert_null(r);
    CONF_ERR(mlflow_client_create_run(c->client, "987654321098765432", NULL, &r),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(r);
    struct mlflow_run_list *l = conf_search_runs(c, exp, MLFLOW_VIEW_ALL);
    assert_int_equal(l->count, 0);
    mlflow_run_list_free(l);
}

void conf_test_run_get_missing(void **state)
{
    struct conf *c = *state;
    struct mlflow_run *r = NULL;
    CONF_ERR(mlflow_client_get_run(c->client, MISSING_RUN_ID, &r), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(r);
    assert_int_equal(mlflow_last_error_code(), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_true(conf_error_mentions(MISSING_RUN_ID));
    CONF_ERR(mlflow_client_log_metric(c->client, MISSING_RUN_ID, "m", 1, 1000, 0),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_log_param(c->client, MISSING_RUN_ID, "p", "v"),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_set_tag(c->client, MISSING_RUN_ID, "t", "v"),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    struct mlflow_metric_list *h = NULL;
    CONF_ERR(mlflow_client_get_metric_history(c->client, MISSING_RUN_ID, "m", &h),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(h);

    /* Malformed ids are INVALID_PARAMETER_VALUE, before any lookup. */
    CONF_ERR(mlflow_client_get_run(c->client, "not a run id", &r), MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(mlflow_client_get_run(c->client, "../../etc", &r), MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(mlflow_client_get_run(c->client, "", &r), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(r);
}
