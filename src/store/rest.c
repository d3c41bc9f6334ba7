/*
 * rest.c - the REST tracking store: every store operation as a call to an
 * MLflow tracking server's REST API 2.0 (spec section 2), ours or MLflow's.
 *
 * Requests are built and answers read with the wire codec of json.h, so
 * the server and this client agree on one format. GET endpoints carry
 * their fields in the query string, the rest a compact JSON body, both as
 * MLflow's RestStore sends them (run_id and the legacy run_uuid together
 * where MLflow sends both). Searches go to the server as the caller wrote
 * them (filter, order_by, page token), since the server owns their syntax.
 * Transport, retries, auth and error mapping live in rest_http.c.
 */
#include "store.h"

#include "../json.h"
#include "rest_http.h"

#include <stdio.h>
#include <string.h>

/* get-history pages followed before giving up on a server that never
 * stops handing out tokens. */
#define MAX_HISTORY_PAGES 100000

struct rest_store {
    struct mlflow__store base;
    struct mlflow__http *http;
};

static struct mlflow__http *http_of(struct mlflow__store *s)
{
    return ((struct rest_store *)s)->http;
}

/* ---- calls ---- */

/* A response that is not what the API promises: reader errors become
 * INTERNAL_ERROR naming the endpoint, so they are not mistaken for the
 * caller's invalid parameters. */
static int bad_response(struct mlflow_error *err, int rc, const char *endpoint)
{
    if (rc == MLFLOW_RESOURCE_EXHAUSTED || !err)
        return rc;
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                          "Malformed response from the tracking server's %s endpoint: %s",
                          endpoint, msg);
}

/* Calls /api/2.0<endpoint>: GET with `query` (may be NULL), or POST with the
 * JSON document in *body (released here). On 200 the answer must be a JSON
 * object; *out (if not NULL) gets it, to json_object_put. */
static int call(struct mlflow__store *s, const char *method, const char *endpoint,
                struct mlflow__jw *body, const char *query, json_object **out,
                struct mlflow_error *err)
{
    if (out)
        *out = NULL;
    char path[128];
    snprintf(path, sizeof path, "/api/2.0%s", endpoint);
    struct mlflow__http_request req = MLFLOW__HTTP_REQUEST_INIT;
    req.method = method;
    req.path = path;
    req.query = query;
    char *text = NULL;
    if (body) {
        size_t len = 0;
        text = mlflow__jw_detach(body, &len);
        if (!text)
            return mlflow__oom(err);
        req.body = text;
        req.body_len = len;
        req.content_type = "application/json";
    }
    struct mlflow__http_response resp;
    int rc = mlflow__http_do(http_of(s), &req, &resp, err);
    mlflow__free(text);
    if (rc)
        return rc;
    if (resp.status != 200) {
        rc = mlflow__http_error(&resp, path, err);
        mlflow__http_response_release(&resp);
        return rc;
    }
    json_object *obj = NULL;
    struct mlflow_error perr;
    if (mlflow__json_parse(resp.body, resp.len, &obj, &perr) != MLFLOW_OK ||
        !json_object_is_type(obj, json_type_object)) {
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "API request to endpoint was successful but the response body was "
                            "not in a valid JSON format. Response body: '%.512s'",
                            resp.body);
        json_object_put(obj);
        obj = NULL;
    }
    mlflow__http_response_release(&resp);
    if (!rc && out)
        *out = obj;
    else
        json_object_put(obj);
    return rc;
}

static int post(struct mlflow__store *s, const char *endpoint, struct mlflow__jw *w,
                json_object **out, struct mlflow_error *err)
{
    return call(s, "POST", endpoint, w, NULL, out, err);
}

static int get(struct mlflow__store *s, const char *endpoint, struct mlflow__sb *query,
               json_object **out, struct mlflow_error *err)
{
    if (query->oom) {
        mlflow__sb_release(query);
        return mlflow__oom(err);
    }
    int rc = call(s, "GET", endpoint, NULL, query->buf, out, err);
    mlflow__sb_release(query);
    return rc;
}

/* A request body: {"key": value, ...} begun here, ended by the caller. */
static void body_begin(struct mlflow__jw *w)
{
    mlflow__jw_init(w, MLFLOW__JW_COMPACT);
    mlflow__jw_begin_object(w);
}

/* ---- experiments ---- */

static int rest_create_experiment(struct mlflow__store *s, const char *name,
                                  const char *artifact_location, const struct mlflow_kv *tags,
                                  size_t n_tags, char **out_id, struct mlflow_error *err)
{
    *out_id = NULL;
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "name", name);
    if (artifact_location && *artifact_location)
        mlflow__jw_kv_string(&w, "artifact_location", artifact_location);
    mlflow__json_write_kvs(&w, "tags", tags, n_tags);
    mlflow__jw_end_object(&w);
    json_object *resp;
    int rc = post(s, "/mlflow/experiments/create", &w, &resp, err);
    if (rc)
        return rc;
    const char *id = NULL;
    rc = mlflow__json_get_string(resp, "experiment_id", MLFLOW__JSON_REQUIRED, &id, NULL, err);
    if (rc)
        rc = bad_response(err, rc, "experiments/create");
    else if (!(*out_id = mlflow__strdup(id)))
        rc = mlflow__oom(err);
    json_object_put(resp);
    return rc;
}

/* Reads resp[field] into a new result object of `size` bytes with `read`
 * (an entity reader of json.h, through the adapters below). */
typedef int (*entity_reader)(struct mlflow__arena *a, json_object *v, void *out,
                             struct mlflow_error *err);

static void *read_result(json_object *resp, const char *field, const char *endpoint, size_t size,
                         entity_reader read, int *rc, struct mlflow_error *err)
{
    json_object *v = mlflow__json_member(resp, field);
    if (!v) {
        *rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                             "Malformed response from the tracking server's %s endpoint: no %s",
                             endpoint, field);
        return NULL;
    }
    void *obj = mlflow__obj_new(size);
    if (!obj) {
        *rc = mlflow__oom(err);
        return NULL;
    }
    if ((*rc = read(mlflow__obj_arena(obj), v, obj, err))) {
        mlflow__obj_free(obj);
        *rc = bad_response(err, *rc, endpoint);
        return NULL;
    }
    return obj;
}

static int experiment_reader(struct mlflow__arena *a, json_object *v, void *out,
                             struct mlflow_error *err)
{
    return mlflow__json_read_experiment(a, v, out, err);
}

static int read_experiment_result(json_object *resp, const char *endpoint,
                                  struct mlflow_experiment **out, struct mlflow_error *err)
{
    int rc = MLFLOW_OK;
    *out = read_result(resp, "experiment", endpoint, sizeof **out, experiment_reader, &rc, err);
    return rc;
}

static int rest_get_experiment(struct mlflow__store *s, const char *id,
                               struct mlflow_experiment **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__sb q = MLFLOW__SB_INIT;
    mlflow__http_query_add(&q, "experiment_id", id);
    json_object *resp;
    int rc = get(s, "/mlflow/experiments/get", &q, &resp, err);
    if (rc)
        return rc;
    rc = read_experiment_result(resp, "experiments/get", out, err);
    json_object_put(resp);
    return rc;
}

static int rest_get_experiment_by_name(struct mlflow__store *s, const char *name,
                                       struct mlflow_experiment **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__sb q = MLFLOW__SB_INIT;
    mlflow__http_query_add(&q, "experiment_name", name);
    json_object *resp;
    int rc = get(s, "/mlflow/experiments/get-by-name", &q, &resp, err);
    if (rc)
        return rc;
    rc = read_experiment_result(resp, "experiments/get-by-name", out, err);
    json_object_put(resp);
    return rc;
}

/* "next_page_token" of resp copied into arena a; NULL when absent or "". */
static int read_token(struct mlflow__arena *a, json_object *resp, const char *endpoint,
                      const char **out, struct mlflow_error *err)
{
    const char *tok = NULL;
    int rc = mlflow__json_get_string(resp, "next_page_token", 0, &tok, NULL, err);
    if (rc)
        return bad_response(err, rc, endpoint);
    *out = NULL;
    if (tok && *tok && !(*out = mlflow__arena_strdup(a, tok)))
        return mlflow__oom(err);
    return MLFLOW_OK;
}

static void write_orders(struct mlflow__jw *w, const char *const *order_by, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += order_by[i] && *order_by[i];
    if (!used)
        return;
    mlflow__jw_key(w, "order_by");
    mlflow__jw_begin_array(w);
    for (size_t i = 0; i < n; i++)
        if (order_by[i] && *order_by[i])
            mlflow__jw_string(w, order_by[i]);
    mlflow__jw_end_array(w);
}

static int rest_search_experiments(struct mlflow__store *s,
                                   const struct mlflow__search_experiments *q,
                                   struct mlflow_experiment_list **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_int64(&w, "max_results", q->max_results);
    if (q->page_token && *q->page_token)
        mlflow__jw_kv_string(&w, "page_token", q->page_token);
    if (q->filter_string && *q->filter_string)
        mlflow__jw_kv_string(&w, "filter", q->filter_string);
    write_orders(&w, q->order_by, q->n_order_by);
    mlflow__jw_kv_string(&w, "view_type", mlflow_view_type_name(q->view_type));
    mlflow__jw_end_object(&w);
    json_object *resp;
    int rc = post(s, "/mlflow/experiments/search", &w, &resp, err);
    if (rc)
        return rc;
    struct mlflow_experiment_list *list = mlflow__obj_new(sizeof *list);
    struct mlflow__arena *a = list ? mlflow__obj_arena(list) : NULL;
    json_object *arr = NULL;
    bool owned = false;
    rc = list ? mlflow__json_get_array(resp, "experiments", 0, &arr, &owned, err)
              : mlflow__oom(err);
    if (rc && list)
        rc = bad_response(err, rc, "experiments/search");
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (!rc && n) {
        list->experiments = mlflow__arena_alloc(a, n * sizeof *list->experiments);
        if (!list->experiments)
            rc = mlflow__oom(err);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        rc = mlflow__json_read_experiment(a, json_object_array_get_idx(arr, i),
                                          &list->experiments[i], err);
        if (rc)
            rc = bad_response(err, rc, "experiments/search");
        else
            list->count++;
    }
    if (!rc)
        rc = read_token(a, resp, "experiments/search", &list->next_page_token, err);
    if (owned)
        json_object_put(arr);
    json_object_put(resp);
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

/* POST {"<id_field>": id} to endpoint, ignoring the (empty) answer. */
static int post_id(struct mlflow__store *s, const char *endpoint, const char *id_field,
                   const char *id, struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, id_field, id);
    mlflow__jw_end_object(&w);
    return post(s, endpoint, &w, NULL, err);
}

static int rest_delete_experiment(struct mlflow__store *s, const char *id,
                                  struct mlflow_error *err)
{
    return post_id(s, "/mlflow/experiments/delete", "experiment_id", id, err);
}

static int rest_restore_experiment(struct mlflow__store *s, const char *id,
                                   struct mlflow_error *err)
{
    return post_id(s, "/mlflow/experiments/restore", "experiment_id", id, err);
}

static int rest_rename_experiment(struct mlflow__store *s, const char *id, const char *new_name,
                                  struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "experiment_id", id);
    mlflow__jw_kv_string(&w, "new_name", new_name);
    mlflow__jw_end_object(&w);
    return post(s, "/mlflow/experiments/update", &w, NULL, err);
}

static int rest_set_experiment_tag(struct mlflow__store *s, const char *id, const char *key,
                                   const char *value, struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "experiment_id", id);
    mlflow__jw_kv_string(&w, "key", key);
    mlflow__jw_kv_string(&w, "value", value ? value : "");
    mlflow__jw_end_object(&w);
    return post(s, "/mlflow/experiments/set-experiment-tag", &w, NULL, err);
}

/* ---- runs ---- */

static int run_reader(struct mlflow__arena *a, json_object *v, void *out,
                      struct mlflow_error *err)
{
    return mlflow__json_read_run(a, v, out, err);
}

static int read_run_result(json_object *resp, const char *endpoint, struct mlflow_run **out,
                           struct mlflow_error *err)
{
    int rc = MLFLOW_OK;
    *out = read_result(resp, "run", endpoint, sizeof **out, run_reader, &rc, err);
    return rc;
}

static int rest_create_run(struct mlflow__store *s, const char *experiment_id,
                           const char *user_id, int64_t start_time, const char *run_name,
                           const struct mlflow_kv *tags, size_t n_tags, struct mlflow_run **out,
                           struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "experiment_id", experiment_id);
    if (user_id)
        mlflow__jw_kv_string(&w, "user_id", user_id);
    if (run_name && *run_name)
        mlflow__jw_kv_string(&w, "run_name", run_name);
    mlflow__jw_kv_int64(&w, "start_time", start_time);
    mlflow__json_write_kvs(&w, "tags", tags, n_tags);
    mlflow__jw_end_object(&w);
    json_object *resp;
    int rc = post(s, "/mlflow/runs/create", &w, &resp, err);
    if (rc)
        return rc;
    rc = read_run_result(resp, "runs/create", out, err);
    json_object_put(resp);
    return rc;
}

static int rest_get_run(struct mlflow__store *s, const char *run_id, struct mlflow_run **out,
                        struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__sb q = MLFLOW__SB_INIT;
    mlflow__http_query_add(&q, "run_uuid", run_id);
    mlflow__http_query_add(&q, "run_id", run_id);
    json_object *resp;
    int rc = get(s, "/mlflow/runs/get", &q, &resp, err);
    if (rc)
        return rc;
    rc = read_run_result(resp, "runs/get", out, err);
    json_object_put(resp);
    return rc;
}

static int rest_update_run(struct mlflow__store *s, const char *run_id, int status,
                           int64_t end_time, const char *run_name, struct mlflow_run **out,
                           struct mlflow_error *err)
{
    if (out)
        *out = NULL;
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "run_id", run_id);
    mlflow__jw_kv_string(&w, "run_uuid", run_id);
    if (status) {
        const char *name = mlflow_run_status_name(status);
        if (!name) {
            mlflow__jw_release(&w);
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid value %d for parameter 'status'", status);
        }
        mlflow__jw_kv_string(&w, "status", name);
    }
    if (end_time != MLFLOW_TIME_UNSET)
        mlflow__jw_kv_int64(&w, "end_time", end_time);
    if (run_name && *run_name)
        mlflow__jw_kv_string(&w, "run_name", run_name);
    mlflow__jw_end_object(&w);
    int rc = post(s, "/mlflow/runs/update", &w, NULL, err);
    /* The answer holds run_info only; the caller wants the whole run. */
    if (!rc && out)
        rc = rest_get_run(s, run_id, out, err);
    return rc;
}

static int rest_delete_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    return post_id(s, "/mlflow/runs/delete", "run_id", run_id, err);
}

static int rest_restore_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    return post_id(s, "/mlflow/runs/restore", "run_id", run_id, err);
}

static int rest_log_batch(struct mlflow__store *s, const char *run_id,
                          const struct mlflow_metric *metrics, size_t n_metrics,
                          const struct mlflow_kv *params, size_t n_params,
                          const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "run_id", run_id);
    mlflow__json_write_metrics(&w, "metrics", metrics, n_metrics);
    mlflow__json_write_kvs(&w, "params", params, n_params);
    mlflow__json_write_kvs(&w, "tags", tags, n_tags);
    mlflow__jw_end_object(&w);
    return post(s, "/mlflow/runs/log-batch", &w, NULL, err);
}

static int rest_delete_tag(struct mlflow__store *s, const char *run_id, const char *key,
                           struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "run_id", run_id);
    mlflow__jw_kv_string(&w, "key", key);
    mlflow__jw_end_object(&w);
    return post(s, "/mlflow/runs/delete-tag", &w, NULL, err);
}

static int rest_log_inputs(struct mlflow__store *s, const char *run_id,
                           const struct mlflow_dataset_input *inputs, size_t n,
                           struct mlflow_error *err)
{
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_kv_string(&w, "run_id", run_id);
    mlflow__jw_key(&w, "datasets");
    mlflow__jw_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        const struct mlflow_dataset *d = &inputs[i].dataset;
        mlflow__jw_begin_object(&w);
        mlflow__json_write_kvs(&w, "tags", inputs[i].tags, inputs[i].n_tags);
        mlflow__jw_key(&w, "dataset");
        mlflow__jw_begin_object(&w);
        mlflow__jw_kv_string(&w, "name", d->name);
        mlflow__jw_kv_string(&w, "digest", d->digest);
        mlflow__jw_kv_string(&w, "source_type", d->source_type);
        mlflow__jw_kv_string(&w, "source", d->source);
        if (d->schema)
            mlflow__jw_kv_string(&w, "schema", d->schema);
        if (d->profile)
            mlflow__jw_kv_string(&w, "profile", d->profile);
        mlflow__jw_end_object(&w);
        mlflow__jw_end_object(&w);
    }
    mlflow__jw_end_array(&w);
    mlflow__jw_end_object(&w);
    return post(s, "/mlflow/runs/log-inputs", &w, NULL, err);
}

/* Every point of a metric: the pages a server hands out are followed
 * until it gives no next_page_token, then read into one list. */
static int rest_get_metric_history(struct mlflow__store *s, const char *run_id, const char *key,
                                   struct mlflow_metric_list **out, struct mlflow_error *err)
{
    *out = NULL;
    json_object **pages = NULL;
    size_t n_pages = 0, cap = 0, total = 0;
    int rc = MLFLOW_OK;
    char *token = NULL;
    for (;;) {
        if (n_pages >= MAX_HISTORY_PAGES) {
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "The tracking server's metrics/get-history kept handing out "
                                "page tokens after %d pages",
                                MAX_HISTORY_PAGES);
            break;
        }
        struct mlflow__sb q = MLFLOW__SB_INIT;
        mlflow__http_query_add(&q, "run_id", run_id);
        mlflow__http_query_add(&q, "run_uuid", run_id);
        mlflow__http_query_add(&q, "metric_key", key);
        if (token)
            mlflow__http_query_add(&q, "page_token", token);
        json_object *resp;
        rc = get(s, "/mlflow/metrics/get-history", &q, &resp, err);
        if (rc)
            break;
        if (n_pages == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            json_object **np = mlflow__realloc(pages, ncap * sizeof *np);
            if (!np) {
                json_object_put(resp);
                rc = mlflow__oom(err);
                break;
            }
            pages = np;
            cap = ncap;
        }
        pages[n_pages++] = resp;
        json_object *arr = mlflow__json_member(resp, "metrics");
        if (arr && json_object_is_type(arr, json_type_array))
            total += json_object_array_length(arr);
        const char *next = NULL;
        rc = mlflow__json_get_string(resp, "next_page_token", 0, &next, NULL, err);
        if (rc) {
            rc = bad_response(err, rc, "metrics/get-history");
            break;
        }
        if (!next || !*next)
            break;
        if (token && strcmp(token, next) == 0) {
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "The tracking server's metrics/get-history returned the same "
                                "page token twice");
            break;
        }
        mlflow__free(token);
        if (!(token = mlflow__strdup(next))) {
            rc = mlflow__oom(err);
            break;
        }
    }
    mlflow__free(token);
    struct mlflow_metric_list *list = NULL;
    if (!rc && !(list = mlflow__obj_new(sizeof *list)))
        rc = mlflow__oom(err);
    struct mlflow__arena *a = list ? mlflow__obj_arena(list) : NULL;
    /* One page (the usual case) is read in place; several are joined. */
    if (!rc && n_pages > 1 && total &&
        !(list->metrics = mlflow__arena_alloc(a, total * sizeof *list->metrics)))
        rc = mlflow__oom(err);
    for (size_t p = 0; !rc && p < n_pages; p++) {
        struct mlflow_metric *ms;
        size_t n;
        rc = mlflow__json_read_metrics(a, pages[p], "metrics", &ms, &n, err);
        if (rc) {
            rc = bad_response(err, rc, "metrics/get-history");
            break;
        }
        if (n_pages == 1) {
            list->metrics = ms;
        } else if (list->count + n > total) { /* cannot happen: counted above */
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "metric history miscounted");
            break;
        } else if (n) {
            memcpy(list->metrics + list->count, ms, n * sizeof *ms);
        }
        list->count += n;
    }
    for (size_t p = 0; p < n_pages; p++)
        json_object_put(pages[p]);
    mlflow__free(pages);
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

static int rest_search_runs(struct mlflow__store *s, const struct mlflow__search_runs *q,
                            struct mlflow_run_list **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__jw w;
    body_begin(&w);
    mlflow__jw_key(&w, "experiment_ids");
    mlflow__jw_begin_array(&w);
    for (size_t i = 0; i < q->n_experiment_ids; i++)
        mlflow__jw_string(&w, q->experiment_ids[i]);
    mlflow__jw_end_array(&w);
    if (q->filter_string && *q->filter_string)
        mlflow__jw_kv_string(&w, "filter", q->filter_string);
    mlflow__jw_kv_string(&w, "run_view_type", mlflow_view_type_name(q->view_type));
    mlflow__jw_kv_int64(&w, "max_results", q->max_results);
    write_orders(&w, q->order_by, q->n_order_by);
    if (q->page_token && *q->page_token)
        mlflow__jw_kv_string(&w, "page_token", q->page_token);
    mlflow__jw_end_object(&w);
    json_object *resp;
    int rc = post(s, "/mlflow/runs/search", &w, &resp, err);
    if (rc)
        return rc;
    struct mlflow_run_list *list = mlflow__obj_new(sizeof *list);
    struct mlflow__arena *a = list ? mlflow__obj_arena(list) : NULL;
    json_object *arr = NULL;
    bool owned = false;
    rc = list ? mlflow__json_get_array(resp, "runs", 0, &arr, &owned, err) : mlflow__oom(err);
    if (rc && list)
        rc = bad_response(err, rc, "runs/search");
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (!rc && n && !(list->runs = mlflow__arena_alloc(a, n * sizeof *list->runs)))
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = mlflow__json_read_run(a, json_object_array_get_idx(arr, i), &list->runs[i], err);
        if (rc)
            rc = bad_response(err, rc, "runs/search");
        else
            list->count++;
    }
    if (!rc)
        rc = read_token(a, resp, "runs/search", &list->next_page_token, err);
    if (owned)
        json_object_put(arr);
    json_object_put(resp);
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

/* The server decides where new experiments' artifacts go; the client
 * does not know, and says so with an empty root. */
static const char *rest_default_artifact_root(struct mlflow__store *s)
{
    (void)s;
    return "";
}

static void rest_close(struct mlflow__store *s)
{
    struct rest_store *rs = (struct rest_store *)s;
    mlflow__http_close(rs->http);
    mlflow__free(rs->base.uri);
    mlflow__free(rs);
}

static const struct mlflow__store_ops rest_ops = {
    .name = "rest",
    .remote = true,
    .close = rest_close,
    .create_experiment = rest_create_experiment,
    .get_experiment = rest_get_experiment,
    .get_experiment_by_name = rest_get_experiment_by_name,
    .search_experiments = rest_search_experiments,
    .delete_experiment = rest_delete_experiment,
    .restore_experiment = rest_restore_experiment,
    .rename_experiment = rest_rename_experiment,
    .set_experiment_tag = rest_set_experiment_tag,
    .create_run = rest_create_run,
    .get_run = rest_get_run,
    .update_run = rest_update_run,
    .delete_run = rest_delete_run,
    .restore_run = rest_restore_run,
    .log_batch = rest_log_batch,
    .delete_tag = rest_delete_tag,
    .log_inputs = rest_log_inputs,
    .get_metric_history = rest_get_metric_history,
    .search_runs = rest_search_runs,
    .default_artifact_root = rest_default_artifact_root,
};

int mlflow__rest_store_open(const char *uri, struct mlflow__store **out, struct mlflow_error *err)
{
    *out = NULL;
    char scheme[16];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    struct mlflow__http *http = NULL;
    int rc;
    if (strcmp(scheme, "databricks") == 0 || strcmp(uri, "databricks") == 0) {
        rc = mlflow__http_open_databricks(uri, &http, err);
    } else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        const char *rest = uri + strlen(scheme) + 1;
        if (strncmp(rest, "//", 2) != 0 || !rest[2] || rest[2] == '/')
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid tracking URI '%s': an http(s) tracking URI needs a "
                                  "host, e.g. http://localhost:5000",
                                  uri);
        rc = mlflow__http_open_default(uri, &http, err);
    } else {
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Not a REST tracking URI: '%s'", uri);
    }
    if (rc)
        return rc;
    struct rest_store *rs = mlflow__calloc(1, sizeof *rs);
    char *copy = mlflow__strdup(uri);
    if (!rs || !copy) {
        mlflow__free(rs);
        mlflow__free(copy);
        mlflow__http_close(http);
        return mlflow__oom(err);
    }
    rs->base.ops = &rest_ops;
    rs->base.uri = copy;
    rs->http = http;
    *out = &rs->base;
    return MLFLOW_OK;
}
