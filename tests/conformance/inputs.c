/*
 * inputs.c - conformance: dataset inputs (MLflow's runs/log-inputs). A run
 * reads back the datasets it used with their tags, on every backend; the same
 * dataset logged again is kept once; bad input is refused naming the field and
 * leaves the run as it was.
 */
#include "conformance.h"

#include <stdlib.h>
#include <string.h>

static const struct mlflow_dataset TRAIN = {
    .name = "train",
    .digest = "d41d8cd9",
    .source_type = "local",
    .source = "{\"uri\": \"/data/train.csv\"}",
    .schema = "{\"mlflow_colspec\": [{\"name\": \"x\", \"type\": \"double\"}]}",
    .profile = "{\"num_rows\": 1000}",
};
static const struct mlflow_dataset EVAL = {
    .name = "eval",
    .digest = "0cc175b9",
    .source_type = "http",
    .source = "{\"url\": \"https://example.com/eval.csv\"}",
};

static const struct mlflow_dataset_input *find_input(const struct mlflow_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].dataset.name, name) == 0)
            return &r->inputs[i];
    return NULL;
}

static const char *input_tag(const struct mlflow_dataset_input *in, const char *key)
{
    for (size_t i = 0; i < in->n_tags; i++)
        if (strcmp(in->tags[i].key, key) == 0)
            return in->tags[i].value;
    return NULL;
}

static void assert_dataset(const struct mlflow_dataset *got, const struct mlflow_dataset *want)
{
    assert_string_equal(got->name, want->name);
    assert_string_equal(got->digest, want->digest);
    assert_string_equal(got->source_type, want->source_type);
    assert_string_equal(got->source, want->source);
    if (want->schema)
        assert_string_equal(got->schema, want->schema);
    else
        assert_true(!got->schema || !*got->schema);
    if (want->profile)
        assert_string_equal(got->profile, want->profile);
    else
        assert_true(!got->profile || !*got->profile);
}

void conf_test_inputs_logged_and_read_back(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], run[CONF_ID_MAX];
    conf_experiment(c, "inputs", exp);
    conf_run(c, exp, "uses-data", 0, run);

    const struct mlflow_kv train_tags[] = {{"mlflow.data.context", "training"}, {"k", "v"}};
    const struct mlflow_dataset_input in[] = {
        {.dataset = TRAIN, .tags = train_tags, .n_tags = 2},
        {.dataset = EVAL},
    };
    CONF_OK(mlflow_client_log_inputs(c->client, run, in, 2));

    struct mlflow_run *r = conf_get_run(c, run);
    assert_int_equal(r->n_inputs, 2);
    const struct mlflow_dataset_input *t = find_input(r, "train");
    const struct mlflow_dataset_input *e = find_input(r, "eval");
    assert_non_null(t);
    assert_non_null(e);
    assert_dataset(&t->dataset, &TRAIN);
    assert_dataset(&e->dataset, &EVAL);
    assert_int_equal(t->n_tags, 2);
    assert_string_equal(input_tag(t, "mlflow.data.context"), "training");
    assert_string_equal(input_tag(t, "k"), "v");
    assert_int_equal(e->n_tags, 0);
    mlflow_run_free(r);

    /* search_runs carries the inputs too. */
    struct mlflow_run_list *l = conf_search_runs(c, exp, 0);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->runs[0].n_inputs, 2);
    assert_non_null(find_input(&l->runs[0], "train"));
    mlflow_run_list_free(l);
}

void conf_test_inputs_same_dataset_kept_once(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], a[CONF_ID_MAX], b[CONF_ID_MAX];
    conf_experiment(c, "inputs-once", exp);
    conf_run(c, exp, "a", 0, a);
    conf_run(c, exp, "b", 0, b);
    const struct mlflow_dataset_input in = {.dataset = TRAIN};
    CONF_OK(mlflow_client_log_inputs(c->client, a, &in, 1));
    CONF_OK(mlflow_client_log_inputs(c->client, a, &in, 1));
    /* Another run of the experiment may use the same dataset. */
    CONF_OK(mlflow_client_log_inputs(c->client, b, &in, 1));
    for (int i = 0; i < 2; i++) {
        struct mlflow_run *r = conf_get_run(c, i ? b : a);
        assert_int_equal(r->n_inputs, 1);
        assert_dataset(&r->inputs[0].dataset, &TRAIN);
        mlflow_run_free(r);
    }
    /* A run without inputs has none. */
    char none[CONF_ID_MAX];
    conf_run(c, exp, "none", 0, none);
    struct mlflow_run *r = conf_get_run(c, none);
    assert_int_equal(r->n_inputs, 0);
    mlflow_run_free(r);
}

void conf_test_inputs_invalid(void **state)
{
    struct conf *c = *state;
    char run[CONF_ID_MAX];
    conf_run(c, "0", "bad-inputs", 0, run);
    const int bad = MLFLOW_INVALID_PARAMETER_VALUE;

    struct mlflow_dataset_input in = {.dataset = TRAIN};
    in.dataset.name = NULL;
    CONF_ERR(mlflow_client_log_inputs(c->client, run, &in, 1), bad);
    assert_true(conf_error_mentions("name"));

    in.dataset = TRAIN;
    in.dataset.digest = "0123456789012345678901234567890123456789"; /* 40 > 36 */
    CONF_ERR(mlflow_client_log_inputs(c->client, run, &in, 1), bad);
    assert_true(conf_error_mentions("digest"));

    in.dataset = TRAIN;
    char *long_value = conf_repeat("v", 501);
    const struct mlflow_kv tag = {"k", long_value};
    in.tags = &tag;
    in.n_tags = 1;
    CONF_ERR(mlflow_client_log_inputs(c->client, run, &in, 1), bad);
    free(long_value);

    /* A missing run is the store's to report. */
    in.tags = NULL;
    in.n_tags = 0;
    CONF_ERR(mlflow_client_log_inputs(c->client, "0123456789abcdef0123456789abcdef", &in, 1),
             MLFLOW_RESOURCE_DOES_NOT_EXIST);

    struct mlflow_run *r = conf_get_run(c, run);
    assert_int_equal(r->n_inputs, 0);
    mlflow_run_free(r);
}
