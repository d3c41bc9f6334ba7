/*
 * h_runs.c - handlers for the /mlflow/runs endpoints: create, update, delete, restore,
 * get, search, and the logging endpoints (metric, param, tag, batch, model,
 * inputs). Each reads its fields, calls the client API, writes MLflow's
 * response.
 */
#include "server.h"

#include <pthread.h>
#include <string.h>

#define REQ MLFLOW__JSON_REQUIRED
#define LOG_MODEL_TAG "mlflow.log-model.history"

static int list_flags(const struct mlflow__req *r)
{
    return r->from_query ? MLFLOW__JSON_SCALAR_AS_LIST : 0;
}

static int run_response(const char *field, struct mlflow_run *run, struct mlflow__resp *out,
                        struct mlflow_error *err)
{
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    mlflow__jw_key(&w, field);
    if (strcmp(field, "run_info") == 0)
        mlflow__json_write_run_info(&w, &run->info);
    else
        mlflow__json_write_run(&w, run);
    mlflow_run_free(run);
    return mlflow__resp_json(out, &w, err);
}

MLFLOW__HANDLER(mlflow__h_create_run)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char *exp = "";
    struct mlflow_create_run_opts o = {0};
    struct mlflow_kv *tags = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_id", 0, &exp, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "user_id", 0, &o.user_id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "run_name", 0, &o.run_name, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "start_time", 0, &o.start_time, NULL, err);
    if (!rc)
        rc = mlflow__json_read_kvs(a, r->params, "tags", &tags, &o.n_tags, err);
    o.tags = tags;
    struct mlflow_run *run = NULL;
    if (!rc)
        rc = mlflow__client_create_run(r->srv->client, exp, &o, &run, err);
    return rc ? rc : run_response("run", run, out, err);
}

MLFLOW__HANDLER(mlflow__h_update_run)
{
    const char *run_id;
    struct mlflow_update_run_opts o = {0};
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__json_get_enum(r->params, "status", 0, mlflow_run_status_parse,
                                   mlflow_run_status_name, &o.status, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "end_time", 0, &o.end_time, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "run_name", 0, &o.run_name, NULL, err);
    struct mlflow_run *run = NULL;
    if (!rc)
        rc = mlflow__client_update_run(r->srv->client, run_id, &o, &run, err);
    return rc ? rc : run_response("run_info", run, out, err);
}

MLFLOW__HANDLER(mlflow__h_delete_run)
{
    const char *run_id = NULL;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__api_err(mlflow_client_delete_run(r->srv->client, run_id), err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_restore_run)
{
    const char *run_id = NULL;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__api_err(mlflow_client_restore_run(r->srv->client, run_id), err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_get_run)
{
    const char *run_id;
    struct mlflow_run *run = NULL;
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__client_get_run(r->srv->client, run_id, &run, err);
    return rc ? rc : run_response("run", run, out, err);
}

MLFLOW__HANDLER(mlflow__h_search_runs)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    struct mlflow_search_runs_opts o = {0};
    const char **ids = NULL, **order = NULL;
    int rc = mlflow__json_get_string_list(a, r->params, "experiment_ids", list_flags(r), &ids,
                                          &o.n_experiment_ids, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "filter", 0, &o.filter, NULL, err);
    if (!rc)
        rc = mlflow__json_get_enum(r->params, "run_view_type", 0, mlflow_view_type_parse,
                                   mlflow_view_type_name, &o.view_type, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "max_results", 0, &o.max_results, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string_list(a, r->params, "order_by", list_flags(r), &order,
                                          &o.n_order_by, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "page_token", 0, &o.page_token, NULL, err);
    if (rc)
        return rc;
    o.experiment_ids = ids;
    o.order_by = order;
    struct mlflow_run_list *list = NULL;
    rc = mlflow__api_err(mlflow_client_search_runs(r->srv->client, &o, &list), err);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    if (list->count) {
        mlflow__jw_key(&w, "runs");
        mlflow__jw_begin_array(&w);
        for (size_t i = 0; i < list->count; i++)
            mlflow__json_write_run(&w, &list->runs[i]);
        mlflow__jw_end_array(&w);
    }
    if (list->next_page_token)
        mlflow__jw_kv_string(&w, "next_page_token", list->next_page_token);
    mlflow_run_list_free(list);
    return mlflow__resp_json(out, &w, err);
}

/* ---- logging --------------------------------------------------------------------- */

MLFLOW__HANDLER(mlflow__h_log_metric)
{
    const char *run_id;
    struct mlflow_metric m = {0};
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "key", REQ, &m.key, NULL, err);
    if (!rc) {
        json_object *v = mlflow__json_member(r->params, "value");
        if (v && json_object_is_type(v, json_type_boolean))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid value %s for parameter 'value' supplied. Hint: Value "
                                  "was of type 'bool'. See the API docs for more information "
                                  "about request parameters.",
                                  json_object_get_boolean(v) ? "True" : "False");
        rc = mlflow__json_get_double(r->params, "value", REQ, &m.value, NULL, err);
    }
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "timestamp", REQ, &m.timestamp, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(r->params, "step", 0, &m.step, NULL, err);
    /* Through log_batch: log_metric would turn timestamp 0 into "now". */
    if (!rc)
        rc = mlflow__client_log_batch(r->srv->client, run_id, &m, 1, NULL, 0, NULL, 0, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* log-parameter and set-tag: one key/value through log_batch. */
static int log_kv(struct mlflow__req *r, bool param, struct mlflow__resp *out,
                  struct mlflow_error *err)
{
    const char *run_id;
    struct mlflow_kv kv = {NULL, ""};
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "key", REQ, &kv.key, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "value", 0, &kv.value, NULL, err);
    if (!rc)
        rc = mlflow__client_log_batch(r->srv->client, run_id, NULL, 0, param ? &kv : NULL,
                                      param ? 1 : 0, param ? NULL : &kv, param ? 0 : 1, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_log_param)
{
    return log_kv(r, true, out, err);
}

MLFLOW__HANDLER(mlflow__h_set_tag)
{
    return log_kv(r, false, out, err);
}

MLFLOW__HANDLER(mlflow__h_delete_tag)
{
    const char *run_id = NULL, *key = NULL;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "key", REQ, &key, NULL, err);
    if (!rc)
        rc = mlflow__client_delete_tag(r->srv->client, run_id, key, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_log_batch)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char *run_id = NULL;
    struct mlflow_metric *metrics = NULL;
    struct mlflow_kv *params = NULL, *tags = NULL;
    size_t n_metrics = 0, n_params = 0, n_tags = 0;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__json_read_metrics(a, r->params, "metrics", &metrics, &n_metrics, err);
    if (!rc)
        rc = mlflow__json_read_kvs(a, r->params, "params", &params, &n_params, err);
    if (!rc)
        rc = mlflow__json_read_kvs(a, r->params, "tags", &tags, &n_tags, err);
    if (!rc)
        rc = mlflow__client_log_batch(r->srv->client, run_id, metrics, n_metrics, params,
                                      n_params, tags, n_tags, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* One log-model at a time per server: the history tag is read, extended
 * and written back. */
static pthread_mutex_t log_model_lock = PTHREAD_MUTEX_INITIALIZER;

/* The history with `model` appended, as Python's json.dumps writes it. If
 * it would pass the tag value limit, the oldest entries are dropped (a cut
 * in the middle would leave invalid JSON behind). */
static int history_text(json_object *history, json_object *model, char **out,
                        struct mlflow_error *err)
{
    size_t n = json_object_array_length(history);
    for (size_t skip = 0; skip <= n; skip++) {
        struct mlflow__jw w;
        mlflow__jw_init(&w, MLFLOW__JW_PYTHON);
        mlflow__jw_begin_array(&w);
        for (size_t i = skip; i < n; i++)
            mlflow__jw_value(&w, json_object_array_get_idx(history, i));
        mlflow__jw_value(&w, model);
        mlflow__jw_end_array(&w);
        size_t len;
        char *text = mlflow__jw_detach(&w, &len);
        if (!text)
            return mlflow__oom(err);
        /* ensure_ascii output: bytes are characters. */
        if (len <= MLFLOW_MAX_TAG_VAL_LENGTH) {
            *out = text;
            return MLFLOW_OK;
        }
        mlflow__free(text);
    }
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "The model's metadata is longer than the %d characters a run tag "
                          "can hold",
                          MLFLOW_MAX_TAG_VAL_LENGTH);
}

MLFLOW__HANDLER(mlflow__h_log_model)
{
    const char *run_id = NULL, *model_json = NULL;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "model_json", REQ, &model_json, NULL, err);
    if (rc)
        return rc;
    json_object *model = NULL;
    struct mlflow_error perr = {0};
    if (mlflow__json_parse(model_json, strlen(model_json), &model, &perr) ||
        !json_object_is_type(model, json_type_object)) {
        json_object_put(model);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Malformed model info. \n %.300s \n is not a valid JSON.",
                              model_json);
    }
    static const char *const needed[] = {"artifact_path", "flavors", "utc_time_created",
                                         "run_id"};
    struct mlflow__sb missing = MLFLOW__SB_INIT;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(needed); i++)
        if (!json_object_object_get_ex(model, needed[i], NULL))
            mlflow__sb_addf(&missing, "%s'%s'", missing.len ? ", " : "", needed[i]);
    if (missing.len) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Model json is missing mandatory fields: {%s}", missing.buf);
        mlflow__sb_release(&missing);
        json_object_put(model);
        return rc;
    }
    mlflow__sb_release(&missing);

    pthread_mutex_lock(&log_model_lock);
    struct mlflow_run *run = NULL;
    json_object *history = NULL;
    char *text = NULL;
    rc = mlflow__client_get_run(r->srv->client, run_id, &run, err);
    if (!rc) {
        const char *old = mlflow_run_tag(run, LOG_MODEL_TAG);
        if (old && mlflow__json_parse(old, strlen(old), &history, &perr) == 0 &&
            !json_object_is_type(history, json_type_array)) {
            json_object_put(history);
            history = NULL;
        }
        if (old && !history)
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "The run's tag '%s' does not hold a JSON list", LOG_MODEL_TAG);
    }
    if (!rc && !history && !(history = json_object_new_array()))
        rc = mlflow__oom(err);
    if (!rc)
        rc = history_text(history, model, &text, err);
    if (!rc) {
        struct mlflow_kv tag = {LOG_MODEL_TAG, text};
        rc = mlflow__client_log_batch(r->srv->client, run_id, NULL, 0, NULL, 0, &tag, 1, err);
    }
    pthread_mutex_unlock(&log_model_lock);
    mlflow__free(text);
    json_object_put(history);
    json_object_put(model);
    mlflow_run_free(run);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* One DatasetInput message. Fields left out read as "" (proto3 defaults, as
 * MLflow's server parses them), except schema and profile, which stay unset. */
static int read_dataset_input(struct mlflow__arena *a, json_object *v,
                              struct mlflow_dataset_input *in, struct mlflow_error *err)
{
    memset(in, 0, sizeof *in);
    if (!json_object_is_type(v, json_type_object))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value for parameter 'datasets': each entry must be an "
                              "object");
    json_object *ds = mlflow__json_member(v, "dataset");
    struct mlflow_dataset *d = &in->dataset;
    const char *const names[] = {"name", "digest", "source_type", "source", "schema", "profile"};
    const char **to[] = {&d->name, &d->digest, &d->source_type, &d->source, &d->schema,
                         &d->profile};
    int rc = MLFLOW_OK;
    for (size_t k = 0; !rc && k < MLFLOW_ARRAY_LEN(to); k++) {
        const char *s = NULL;
        if (ds && json_object_is_type(ds, json_type_object))
            rc = mlflow__json_get_string(ds, names[k], 0, &s, NULL, err);
        if (!rc && (s || k < 4) && !(*to[k] = mlflow__arena_strdup(a, s ? s : "")))
            rc = mlflow__oom(err);
    }
    struct mlflow_kv *tags = NULL;
    if (!rc)
        rc = mlflow__json_read_kvs(a, v, "tags", &tags, &in->n_tags, err);
    in->tags = tags;
    return rc;
}

MLFLOW__HANDLER(mlflow__h_log_inputs)
{
    const char *run_id = NULL;
    json_object *datasets;
    bool owned;
    int rc = mlflow__json_get_string(r->params, "run_id", REQ, &run_id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_array(r->params, "datasets", REQ, &datasets, &owned, err);
    if (rc)
        return rc;
    struct mlflow__arena *a = mlflow__req_arena(r);
    size_t n = json_object_array_length(datasets);
    struct mlflow_dataset_input *ins = n ? mlflow__arena_alloc(a, n * sizeof *ins) : NULL;
    if (n && !ins)
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = read_dataset_input(a, json_object_array_get_idx(datasets, i), &ins[i], err);
    if (owned)
        json_object_put(datasets);
    if (!rc)
        rc = mlflow__client_log_inputs(r->srv->client, run_id, ins, n, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}
