/*
 * h_experiments.c - handlers for the /mlflow/experiments endpoints and the UI's
 * /health and /version: read the request fields, call the client API,
 * write MLflow's response.
 */
#include "server.h"

#include <string.h>

#define REQ MLFLOW__JSON_REQUIRED

static int list_flags(const struct mlflow__req *r)
{
    return r->from_query ? MLFLOW__JSON_SCALAR_AS_LIST : 0;
}

static int text(struct mlflow__resp *out, const char *body, struct mlflow_error *err)
{
    out->body = mlflow__strdup(body);
    if (!out->body)
        return mlflow__oom(err);
    out->len = strlen(body);
    out->content_type = "text/plain; charset=utf-8";
    return MLFLOW_OK;
}

MLFLOW__HANDLER(mlflow__h_health)
{
    return text(out, "OK", err);
}

MLFLOW__HANDLER(mlflow__h_version)
{
    /* The MLflow release whose API this server speaks: clients compare it
     * with their own. */
    return text(out, MLFLOW_COMPAT_VERSION, err);
}

/* ---- R3: where an experiment created over the network may keep artifacts ---- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static bool inside(const char *root, const char *path)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return strncmp(root, path, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1);
}

static int bad_location(struct mlflow_error *err, const char *loc, const char *why)
{
    size_t n = strlen(loc);
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid value '%.*s%s' for parameter 'artifact_location': %s",
                          (int)(n > 200 ? 200 : n), loc, n > 200 ? "..." : "", why);
}

/*
 * The server resolves artifact locations on its own disk, so one given over
 * REST must not smuggle a path in a query, fragment or parameter (MLflow's
 * CVE-2023-6909 family), must hold no ".." in any decoding, and a local one
 * must lie inside a root the server was configured with.
 */
static int check_location(struct mlflow__server *s, struct mlflow__arena *a, const char *loc,
                          struct mlflow_error *err)
{
    size_t n = strlen(loc);
    char *d = mlflow__arena_strdup(a, loc);
    if (!d)
        return mlflow__oom(err);
    for (int round = 0;; round++) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (d[i] == '%' && i + 2 < n && hexval((unsigned char)d[i + 1]) >= 0 &&
                hexval((unsigned char)d[i + 2]) >= 0) {
                d[o++] = (char)(hexval((unsigned char)d[i + 1]) * 16 +
                                hexval((unsigned char)d[i + 2]));
                i += 2;
            } else {
                d[o++] = d[i];
            }
        }
        if (o == n)
            break;
        n = o;
        if (round == 3)
            return bad_location(err, loc, "it is percent-encoded too many times");
    }
    d[n] = '\0';
    if (strlen(d) != n)
        return bad_location(err, loc, "it contains a NUL byte");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c < 0x20 || c == 0x7f)
            return bad_location(err, loc, "it contains a control character");
        if (c == '?' || c == '#' || c == ';' || c == '\\')
            return bad_location(err, loc,
                                "an artifact location URL can't include a query, fragments, "
                                "params or backslashes");
    }
    for (const char *seg = d; seg;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return bad_location(err, loc, "'..' is not allowed in it");
        seg = slash ? slash + 1 : NULL;
    }
    char scheme[32];
    mlflow__uri_scheme(loc, scheme, sizeof scheme);
    if (scheme[0] && strcmp(scheme, "file") != 0)
        return MLFLOW_OK; /* remote stores: never fetched by this server */
    char *local = mlflow__local_path_from_uri(loc);
    char *abs = local ? mlflow__abspath(local) : NULL;
    mlflow__free(local);
    if (!abs)
        return bad_location(err, loc, "a file: URI must name a local path");
    bool ok = false;
    for (size_t i = 0; i < s->n_allowed_roots && !ok; i++)
        ok = inside(s->allowed_roots[i], abs);
    mlflow__free(abs);
    return ok ? MLFLOW_OK
              : bad_location(err, loc,
                             "local artifact locations must lie inside the server's artifact "
                             "root or artifacts destination");
}

/* ---- handlers ----------------------------------------------------------------- */

MLFLOW__HANDLER(mlflow__h_create_experiment)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char *name = NULL, *loc = NULL;
    struct mlflow_kv *tags = NULL;
    size_t n_tags = 0;
    int rc = mlflow__json_get_string(r->params, "name", REQ, &name, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "artifact_location", 0, &loc, NULL, err);
    if (!rc)
        rc = mlflow__json_read_kvs(a, r->params, "tags", &tags, &n_tags, err);
    if (!rc && loc && *loc)
        rc = check_location(r->srv, a, loc, err);
    if (rc)
        return rc;
    struct mlflow_experiment_opts o = {.artifact_location = loc, .tags = tags, .n_tags = n_tags};
    char *id = NULL;
    rc = mlflow__client_create_experiment(r->srv->client, name, &o, &id, err);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    mlflow__jw_kv_string(&w, "experiment_id", id);
    mlflow__free(id);
    return mlflow__resp_json(out, &w, err);
}

MLFLOW__HANDLER(mlflow__h_search_experiments)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    struct mlflow_search_experiments_opts o = {0};
    int rc = mlflow__json_get_int64(r->params, "max_results", 0, &o.max_results, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "page_token", 0, &o.page_token, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "filter", 0, &o.filter, NULL, err);
    const char **order = NULL;
    if (!rc)
        rc = mlflow__json_get_string_list(a, r->params, "order_by", list_flags(r), &order,
                                          &o.n_order_by, err);
    o.order_by = order;
    if (!rc)
        rc = mlflow__json_get_enum(r->params, "view_type", 0, mlflow_view_type_parse,
                                   mlflow_view_type_name, &o.view_type, NULL, err);
    if (rc)
        return rc;
    struct mlflow_experiment_list *list = NULL;
    rc = mlflow__api_err(mlflow_client_search_experiments(r->srv->client, &o, &list), err);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    if (list->count) {
        mlflow__jw_key(&w, "experiments");
        mlflow__jw_begin_array(&w);
        for (size_t i = 0; i < list->count; i++)
            mlflow__json_write_experiment(&w, &list->experiments[i]);
        mlflow__jw_end_array(&w);
    }
    if (list->next_page_token)
        mlflow__jw_kv_string(&w, "next_page_token", list->next_page_token);
    mlflow_experiment_list_free(list);
    return mlflow__resp_json(out, &w, err);
}

static int experiment_response(struct mlflow_experiment *e, struct mlflow__resp *out,
                               struct mlflow_error *err)
{
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    mlflow__jw_key(&w, "experiment");
    mlflow__json_write_experiment(&w, e);
    mlflow_experiment_free(e);
    return mlflow__resp_json(out, &w, err);
}

MLFLOW__HANDLER(mlflow__h_get_experiment)
{
    const char *id = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_id", REQ, &id, NULL, err);
    struct mlflow_experiment *e = NULL;
    if (!rc)
        rc = mlflow__client_get_experiment(r->srv->client, id, &e, err);
    return rc ? rc : experiment_response(e, out, err);
}

MLFLOW__HANDLER(mlflow__h_get_experiment_by_name)
{
    const char *name = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_name", REQ, &name, NULL, err);
    struct mlflow_experiment *e = NULL;
    if (!rc)
        rc = mlflow__client_get_experiment_by_name(r->srv->client, name, &e, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
        mlflow__seterr(err, rc, "Could not find experiment with name '%s'", name);
    return rc ? rc : experiment_response(e, out, err);
}

MLFLOW__HANDLER(mlflow__h_delete_experiment)
{
    const char *id = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_id", REQ, &id, NULL, err);
    if (!rc)
        rc = mlflow__api_err(mlflow_client_delete_experiment(r->srv->client, id), err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_restore_experiment)
{
    const char *id = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_id", REQ, &id, NULL, err);
    if (!rc)
        rc = mlflow__api_err(mlflow_client_restore_experiment(r->srv->client, id), err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_update_experiment)
{
    const char *id = NULL, *name = NULL;
    int rc = mlflow__json_get_string(r->params, "experiment_id", REQ, &id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "new_name", REQ, &name, NULL, err);
    if (!rc)
        rc = mlflow__api_err(mlflow_client_rename_experiment(r->srv->client, id, name), err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

MLFLOW__HANDLER(mlflow__h_set_experiment_tag)
{
    const char *id = NULL, *key = NULL, *value = "";
    int rc = mlflow__json_get_string(r->params, "experiment_id", REQ, &id, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "key", REQ, &key, NULL, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "value", 0, &value, NULL, err);
    if (!rc)
        rc = mlflow__client_set_experiment_tag(r->srv->client, id, key, value, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}
