/*
 * experiments.c - conformance: experiment lifecycle (spec 1.4, 1.7, 3):
 * create/get, unique names, rename, soft delete and restore with their runs,
 * the reserved Default experiment, experiment tags.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A well-formed id no store hands out in these tests. */
#define MISSING_EXPERIMENT_ID "987654321098765432"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void conf_test_experiment_default_exists(void **state)
{
    struct conf *c = *state;
    struct mlflow_experiment *e = conf_get_experiment(c, "0");
    assert_string_equal(e->experiment_id, "0");
    assert_string_equal(e->name, "Default");
    assert_string_equal(e->lifecycle_stage, "active");
    assert_non_null(e->artifact_location);
    assert_true(ends_with(e->artifact_location, "/0"));
    mlflow_experiment_free(e);

    e = NULL;
    CONF_OK(mlflow_client_get_experiment_by_name(c->client, "Default", &e));
    assert_non_null(e);
    assert_string_equal(e->experiment_id, "0");
    mlflow_experiment_free(e);
}

void conf_test_experiment_create_and_get(void **state)
{
    struct conf *c = *state;
    const struct mlflow_kv tags[] = {{"team", "vision"}, {"note", "d\xc3\xa9j\xc3\xa0 vu"}};
    const struct mlflow_experiment_opts opts = {.tags = tags, .n_tags = 2};
    int64_t t0 = conf_now_ms();
    char *id = NULL;
    CONF_OK(mlflow_client_create_experiment(c->client, "my experiment", &opts, &id));
    int64_t t1 = conf_now_ms();
    assert_non_null(id);
    assert_string_not_equal(id, "0");

    struct mlflow_experiment *e = conf_get_experiment(c, id);
    assert_string_equal(e->experiment_id, id);
    assert_string_equal(e->name, "my experiment");
    assert_string_equal(e->lifecycle_stage, "active");
    /* Default location: <store's artifact root>/<id>. */
    char suffix[CONF_ID_MAX + 1];
    snprintf(suffix, sizeof suffix, "/%s", id);
    assert_true(ends_with(e->artifact_location, suffix));
    /* Times are ms since the epoch; allow a second of clock skew for
     * backends behind a server. */
    assert_true(e->creation_time >= t0 - 1000 && e->creation_time <= t1 + 1000);
    assert_true(e->last_update_time >= e->creation_time);
    assert_int_equal(e->n_tags, 2);
    assert_string_equal(mlflow_experiment_tag(e, "team"), "vision");
    assert_string_equal(mlflow_experiment_tag(e, "note"), "d\xc3\xa9j\xc3\xa0 vu");
    mlflow_experiment_free(e);

    e = NULL;
    CONF_OK(mlflow_client_get_experiment_by_name(c->client, "my experiment", &e));
    assert_non_null(e);
    assert_string_equal(e->experiment_id, id);
    assert_string_equal(mlflow_experiment_tag(e, "team"), "vision");
    mlflow_experiment_free(e);

    /* Every new experiment gets its own id. */
    char *id2 = NULL;
    CONF_OK(mlflow_client_create_experiment(c->client, "second", NULL, &id2));
    assert_string_not_equal(id, id2);
    mlflow_free(id2);
    mlflow_free(id);
}

void conf_test_experiment_create_with_artifact_location(void **state)
{
    struct conf *c = *state;
    const char *loc = "s3://some-bucket/mlflow/artifacts";
    const struct mlflow_experiment_opts opts = {.artifact_location = loc};
    char *id = NULL;
    CONF_OK(mlflow_client_create_experiment(c->client, "custom location", &opts, &id));
    struct mlflow_experiment *e = conf_get_experiment(c, id);
    assert_string_equal(e->artifact_location, loc);
    mlflow_experiment_free(e);
    mlflow_free(id);
}

void conf_test_experiment_get_missing(void **state)
{
    struct conf *c = *state;
    struct mlflow_experiment *e = NULL;
    CONF_ERR(mlflow_client_get_experiment(c->client, MISSING_EXPERIMENT_ID, &e),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(e);
    assert_int_equal(mlflow_last_error_code(), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_true(conf_error_mentions(MISSING_EXPERIMENT_ID));

    /* A malformed id is the caller's mistake, not a missing resource. */
    CONF_ERR(mlflow_client_get_experiment(c->client, "../0", &e), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(e);
    CONF_ERR(mlflow_client_get_experiment(c->client, "", &e), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(e);
}

void conf_test_experiment_get_by_name_missing(void **state)
{
    struct conf *c = *state;
    struct mlflow_experiment *e = NULL;
    CONF_ERR(mlflow_client_get_experiment_by_name(c->client, "no such experiment", &e),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(e);
    /* Exact match only: no prefix or case folding. */
    char id[CONF_ID_MAX];
    conf_experiment(c, "Exact", id);
    CONF_ERR(mlflow_client_get_experiment_by_name(c->client, "exact", &e),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_get_experiment_by_name(c->client, "Exac", &e),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(e);
}

void conf_test_create_experiment_duplicate_name(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_experiment(c, "dup", id);
    char *id2 = NULL;
    CONF_ERR(mlflow_client_create_experiment(c->client, "dup", NULL, &id2),
             MLFLOW_RESOURCE_ALREADY_EXISTS);
    assert_null(id2);
    assert_true(conf_error_mentions("dup"));
    CONF_ERR(mlflow_client_create_experiment(c->client, "Default", NULL, &id2),
             MLFLOW_RESOURCE_ALREADY_EXISTS);
    assert_null(id2);

    /* Still exactly one experiment of that name. */
    struct mlflow_search_experiments_opts o = {.view_type = MLFLOW_VIEW_ALL,
                                               .filter = "name = 'dup'"};
    struct mlflow_experiment_list *l = NULL;
    CONF_OK(mlflow_client_search_experiments(c->client, &o, &l));
    assert_int_equal(l->count, 1);
    assert_string_equal(l->experiments[0].experiment_id, id);
    mlflow_experiment_list_free(l);
}

void conf_test_experiment_name_reuse_after_delete(void **state)
{
    struct conf *c = *state;
    char id1[CONF_ID_MAX];
    conf_experiment(c, "reuse", id1);
    CONF_OK(mlflow_client_delete_experiment(c->client, id1));

    char *id2 = NULL;
    int rc = mlflow_client_create_experiment(c->client, "reuse", NULL, &id2);
    if (!conf_has(c, CONF_CAP_REUSE_DELETED_NAME)) {
        CONF_ERR(rc, MLFLOW_RESOURCE_ALREADY_EXISTS);
        assert_null(id2);
        return;
    }
    CONF_OK(rc);
    assert_string_not_equal(id1, id2);

    /* The name now finds the active experiment; the deleted one keeps it. */
    struct mlflow_experiment *e = NULL;
    CONF_OK(mlflow_client_get_experiment_by_name(c->client, "reuse", &e));
    assert_string_equal(e->experiment_id, id2);
    assert_string_equal(e->lifecycle_stage, "active");
    mlflow_experiment_free(e);
    e = conf_get_experiment(c, id1);
    assert_string_equal(e->name, "reuse");
    assert_string_equal(e->lifecycle_stage, "deleted");
    mlflow_experiment_free(e);
    mlflow_free(id2);
}

void conf_test_experiment_invalid_names(void **state)
{
    struct conf *c = *state;
    char *id = NULL;
    CONF_ERR(mlflow_client_create_experiment(c->client, "", NULL, &id),
             MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(mlflow_client_create_experiment(c->client, NULL, NULL, &id),
             MLFLOW_INVALID_PARAMETER_VALUE);
    char *too_long = conf_repeat("n", 501);
    CONF_ERR(mlflow_client_create_experiment(c->client, too_long, NULL, &id),
             MLFLOW_INVALID_PARAMETER_VALUE);
    free(too_long);
    CONF_ERR(mlflow_client_create_experiment(c->client, "bad \xff utf8", NULL, &id),
             MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(id);

    /* Names are free text otherwise. 256 characters: MLflow's SQL column
     * width, so every backend can hold it. */
    char *long_ok = conf_repeat("\xc3\xa9", 256);
    CONF_OK(mlflow_client_create_experiment(c->client, long_ok, NULL, &id));
    struct mlflow_experiment *e = conf_get_experiment(c, id);
    assert_string_equal(e->name, long_ok);
    mlflow_experiment_free(e);
    mlflow_free(id);
    free(long_ok);
    id = NULL;
    CONF_OK(mlflow_client_create_experiment(c->client, "a/b: \"quoted\" 'x' $%", NULL, &id));
    e = conf_get_experiment(c, id);
    assert_string_equal(e->name, "a/b: \"quoted\" 'x' $%");
    mlflow_experiment_free(e);
    mlflow_free(id);
}

void conf_test_experiment_rename(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX], other[CONF_ID_MAX];
    conf_experiment(c, "before", id);
    conf_experiment(c, "taken", other);
    struct mlflow_experiment *e = conf_get_experiment(c, id);
    int64_t created = e->creation_time;
    mlflow_experiment_free(e);

    CONF_OK(mlflow_client_rename_experiment(c->client, id, "after"));
    e = conf_get_experiment(c, id);
    assert_string_equal(e->name, "after");
    assert_int_equal(e->creation_time, created);
    assert_true(e->last_update_time >= created);
    mlflow_experiment_free(e);

    e = NULL;
    CONF_ERR(mlflow_client_get_experiment_by_name(c->client, "before", &e),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_OK(mlflow_client_get_experiment_by_name(c->client, "after", &e));
    assert_string_equal(e->experiment_id, id);
    mlflow_experiment_free(e);

    CONF_ERR(mlflow_client_rename_experiment(c->client, id, ""), MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(mlflow_client_rename_experiment(c->client, id, "taken"),
             MLFLOW_RESOURCE_ALREADY_EXISTS);
    CONF_ERR(mlflow_client_rename_experiment(c->client, MISSING_EXPERIMENT_ID, "x"),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    e = conf_get_experiment(c, id);
    assert_string_equal(e->name, "after");
    mlflow_experiment_free(e);

    /* Only active experiments can be renamed. */
    CONF_OK(mlflow_client_delete_experiment(c->client, other));
    assert_int_not_equal(mlflow_client_rename_experiment(c->client, other, "renamed"), MLFLOW_OK);
    e = conf_get_experiment(c, other);
    assert_string_equal(e->name, "taken");
    mlflow_experiment_free(e);
}

void conf_test_experiment_delete_restore(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_experiment(c, "to delete", id);
    struct mlflow_experiment *e = conf_get_experiment(c, id);
    int64_t updated = e->last_update_time;
    mlflow_experiment_free(e);

    CONF_OK(mlflow_client_delete_experiment(c->client, id));
    /* Soft delete: still readable by id and by name. */
    e = conf_get_experiment(c, id);
    assert_string_equal(e->lifecycle_stage, "deleted");
    assert_string_equal(e->name, "to delete");
    assert_true(e->last_update_time >= updated);
    mlflow_experiment_free(e);
    e = NULL;
    CONF_OK(mlflow_client_get_experiment_by_name(c->client, "to delete", &e));
    assert_string_equal(e->experiment_id, id);
    assert_string_equal(e->lifecycle_stage, "deleted");
    mlflow_experiment_free(e);

    CONF_ERR(mlflow_client_delete_experiment(c->client, MISSING_EXPERIMENT_ID),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);

    CONF_OK(mlflow_client_restore_experiment(c->client, id));
    e = conf_get_experiment(c, id);
    assert_string_equal(e->lifecycle_stage, "active");
    assert_string_equal(e->name, "to delete");
    mlflow_experiment_free(e);
    /* Restore wants a deleted experiment. */
    CONF_ERR(mlflow_client_restore_experiment(c->client, id), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    CONF_ERR(mlflow_client_restore_experiment(c->client, MISSING_EXPERIMENT_ID),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
}

void conf_test_experiment_delete_restore_runs(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], r1[CONF_ID_MAX], r2[CONF_ID_MAX], r3[CONF_ID_MAX];
    conf_experiment(c, "with runs", exp);
    conf_run(c, exp, "r1", 0, r1);
    conf_run(c, exp, "r2", 0, r2);
    conf_run(c, exp, "r3", 0, r3);
    CONF_OK(mlflow_client_log_param(c->client, r1, "p", "v"));
    CONF_OK(mlflow_client_set_terminated(c->client, r3, MLFLOW_RUN_STATUS_FINISHED, 0));
    /* r2 was deleted on its own before the experiment. */
    CONF_OK(mlflow_client_delete_run(c->client, r2));

    CONF_OK(mlflow_client_delete_experiment(c->client, exp));
    const char *ids[] = {r1, r2, r3};
    for (int i = 0; i < 3; i++) {
        struct mlflow_run *r = conf_get_run(c, ids[i]);
        assert_string_equal(r->info.lifecycle_stage, "deleted");
        mlflow_run_free(r);
    }
    struct mlflow_run *r = conf_get_run(c, r1);
    assert_string_equal(mlflow_run_param(r, "p"), "v");
    mlflow_run_free(r);
    r = conf_get_run(c, r3);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(r);
    struct mlflow_run_list *l = conf_search_runs(c, exp, MLFLOW_VIEW_ACTIVE_ONLY);
    assert_int_equal(l->count, 0);
    mlflow_run_list_free(l);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_DELETED_ONLY);
    assert_int_equal(l->count, 3);
    mlflow_run_list_free(l);

    /* Restore brings back every run, including the one deleted before. */
    CONF_OK(mlflow_client_restore_experiment(c->client, exp));
    for (int i = 0; i < 3; i++) {
        r = conf_get_run(c, ids[i]);
        assert_string_equal(r->info.lifecycle_stage, "active");
        mlflow_run_free(r);
    }
    l = conf_search_runs(c, exp, MLFLOW_VIEW_ACTIVE_ONLY);
    assert_int_equal(l->count, 3);
    for (int i = 0; i < 3; i++)
        assert_true(conf_list_has_run(l, ids[i]));
    mlflow_run_list_free(l);
    r = conf_get_run(c, r3);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    mlflow_run_free(r);
    /* And the runs take writes again. */
    CONF_OK(mlflow_client_log_metric(c->client, r2, "m", 1.0, 1000, 0));
}

void conf_test_experiment_delete_default_refused(void **state)
{
    struct conf *c = *state;
    /* MLflow refuses without a specific code (INTERNAL_ERROR); any error
     * will do, as long as nothing changes. */
    assert_int_not_equal(mlflow_client_delete_experiment(c->client, "0"), MLFLOW_OK);
    struct mlflow_experiment *e = conf_get_experiment(c, "0");
    assert_string_equal(e->lifecycle_stage, "active");
    mlflow_experiment_free(e);
    char run[CONF_ID_MAX];
    conf_run(c, "0", "still works", 0, run);
}

void conf_test_experiment_tags(void **state)
{
    struct conf *c = *state;
    char id[CONF_ID_MAX];
    conf_experiment(c, "tagged", id);
    CONF_OK(mlflow_client_set_experiment_tag(c->client, id, "k", "v1"));
    CONF_OK(mlflow_client_set_experiment_tag(c->client, id, "mlflow.note.content",
                                             "line 1\nline 2"));
    CONF_OK(mlflow_client_set_experiment_tag(c->client, id, "empty", ""));
    CONF_OK(mlflow_client_set_experiment_tag(c->client, id, "k", "v2"));
    struct mlflow_experiment *e = conf_get_experiment(c, id);
    assert_int_equal(e->n_tags, 3);
    assert_string_equal(mlflow_experiment_tag(e, "k"), "v2");
    assert_string_equal(mlflow_experiment_tag(e, "mlflow.note.content"), "line 1\nline 2");
    assert_string_equal(mlflow_experiment_tag(e, "empty"), "");
    mlflow_experiment_free(e);

    /* Tags are per experiment. */
    e = conf_get_experiment(c, "0");
    assert_null(mlflow_experiment_tag(e, "k"));
    mlflow_experiment_free(e);

    CONF_ERR(mlflow_client_set_experiment_tag(c->client, id, "bad//key", "v"),
             MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(mlflow_client_set_experiment_tag(c->client, MISSING_EXPERIMENT_ID, "k", "v"),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);
    /* A deleted experiment takes no tags. */
    CONF_OK(mlflow_client_delete_experiment(c->client, id));
    CONF_ERR(mlflow_client_set_experiment_tag(c->client, id, "k", "v3"),
             MLFLOW_INVALID_PARAMETER_VALUE);
    e = conf_get_experiment(c, id);
    assert_string_equal(mlflow_experiment_tag(e, "k"), "v2");
    mlflow_experiment_free(e);
}
