/*
 * routes.c - the server's one route table, and path matching.
 *
 * Every endpoint is one row: method, path, flags, handler. The flags say
 * where a route is served (the /api/2.0 and /ajax-api/2.0 twins, or plain
 * UI paths under --static-prefix), what its body is, and which server mode
 * disables it. Nothing about a route is decided anywhere else, so a new
 * endpoint is one row plus a handler, and the browser defences and limits
 * in http.c apply to it without further work.
 *
 * Two rules on top of the table: HEAD is answered wherever GET is (as
 * Flask does for MLflow), and a GET under the static prefix that no row
 * takes goes to the web UI's row, which serves its files by exact name.
 */
#include "server.h"

#include <string.h>

#define API (MLFLOW__R_API | MLFLOW__R_TRACKING)
#define API_JSON (API | MLFLOW__R_JSON)
#define PROXY (MLFLOW__R_API | MLFLOW__R_PROXY)

/* MLflow 2.12's tracking service, artifact service and UI helpers. */
static const struct mlflow__route routes[] = {
    /* experiments */
    {"POST", "/mlflow/experiments/create", API_JSON, NULL, mlflow__h_create_experiment, 0},
    {"POST", "/mlflow/experiments/search", API_JSON, NULL, mlflow__h_search_experiments, 0},
    {"GET", "/mlflow/experiments/search", API, NULL, mlflow__h_search_experiments, 0},
    {"GET", "/mlflow/experiments/get", API, NULL, mlflow__h_get_experiment, 0},
    {"GET", "/mlflow/experiments/get-by-name", API, NULL, mlflow__h_get_experiment_by_name, 0},
    {"POST", "/mlflow/experiments/delete", API_JSON, NULL, mlflow__h_delete_experiment, 0},
    {"POST", "/mlflow/experiments/restore", API_JSON, NULL, mlflow__h_restore_experiment, 0},
    {"POST", "/mlflow/experiments/update", API_JSON, NULL, mlflow__h_update_experiment, 0},
    {"POST", "/mlflow/experiments/set-experiment-tag", API_JSON, NULL,
     mlflow__h_set_experiment_tag, 0},
    /* runs */
    {"POST", "/mlflow/runs/create", API_JSON, NULL, mlflow__h_create_run, 0},
    {"POST", "/mlflow/runs/update", API_JSON, NULL, mlflow__h_update_run, 0},
    {"POST", "/mlflow/runs/delete", API_JSON, NULL, mlflow__h_delete_run, 0},
    {"POST", "/mlflow/runs/restore", API_JSON, NULL, mlflow__h_restore_run, 0},
    {"GET", "/mlflow/runs/get", API, NULL, mlflow__h_get_run, 0},
    {"POST", "/mlflow/runs/search", API_JSON, NULL, mlflow__h_search_runs, 0},
    {"POST", "/mlflow/runs/log-metric", API_JSON, NULL, mlflow__h_log_metric, 0},
    {"POST", "/mlflow/runs/log-parameter", API_JSON, NULL, mlflow__h_log_param, 0},
    {"POST", "/mlflow/runs/set-tag", API_JSON, NULL, mlflow__h_set_tag, 0},
    {"POST", "/mlflow/runs/delete-tag", API_JSON, NULL, mlflow__h_delete_tag, 0},
    {"POST", "/mlflow/runs/log-batch", API_JSON, NULL, mlflow__h_log_batch, 0},
    {"POST", "/mlflow/runs/log-model", API_JSON, NULL, mlflow__h_log_model, 0},
    {"POST", "/mlflow/runs/log-inputs", API_JSON, NULL, mlflow__h_log_inputs, 0},
    /* metrics */
    {"GET", "/mlflow/metrics/get-history", API, NULL, mlflow__h_get_history, 0},
    {"GET", "/mlflow/metrics/get-history-bulk-interval", API, NULL,
     mlflow__h_get_history_bulk_interval, 0},
    {"GET", "/mlflow/metrics/get-history-bulk", MLFLOW__R_AJAX | MLFLOW__R_TRACKING, NULL,
     mlflow__h_get_history_bulk, 0},
    /* mlflow-c's own: the chart's spike-keeping downsampling (downsample.c) */
    {"GET", "/mlflow/metrics/get-history-downsampled", API, NULL,
     mlflow__h_get_history_downsampled, 0},
    /* artifacts through the tracking service */
    {"GET", "/mlflow/artifacts/list", API, NULL, mlflow__h_list_artifacts, 0},
    {"GET", "/get-artifact", MLFLOW__R_ROOT | MLFLOW__R_TRACKING, NULL, mlflow__h_get_artifact,
     0},
    {"POST", "/mlflow/upload-artifact", MLFLOW__R_AJAX | MLFLOW__R_TRACKING | MLFLOW__R_UPLOAD,
     mlflow__h_ui_upload_begin, mlflow__h_ui_upload, 10 * 1024 * 1024},
    /* the mlflow-artifacts proxy service */
    {"GET", "/mlflow-artifacts/artifacts", PROXY, NULL, mlflow__h_proxy_list, 0},
    {"GET", "/mlflow-artifacts/artifacts/", PROXY | MLFLOW__R_TAIL, NULL,
     mlflow__h_proxy_download, 0},
    {"PUT", "/mlflow-artifacts/artifacts/", PROXY | MLFLOW__R_TAIL | MLFLOW__R_UPLOAD,
     mlflow__h_proxy_upload_begin, mlflow__h_proxy_upload, 0},
    {"DELETE", "/mlflow-artifacts/artifacts/", PROXY | MLFLOW__R_TAIL, NULL,
     mlflow__h_proxy_delete, 0},
    {"POST", "/mlflow-artifacts/mpu/create/", PROXY | MLFLOW__R_TAIL | MLFLOW__R_JSON, NULL,
     mlflow__h_mpu, 0},
    {"POST", "/mlflow-artifacts/mpu/complete/", PROXY | MLFLOW__R_TAIL | MLFLOW__R_JSON, NULL,
     mlflow__h_mpu, 0},
    {"POST", "/mlflow-artifacts/mpu/abort/", PROXY | MLFLOW__R_TAIL | MLFLOW__R_JSON, NULL,
     mlflow__h_mpu, 0},
    /* health and version answer with and without the static prefix */
    {"GET", "/health", MLFLOW__R_ROOT | MLFLOW__R_BARE, NULL, mlflow__h_health, 0},
    {"GET", "/version", MLFLOW__R_ROOT | MLFLOW__R_BARE, NULL, mlflow__h_version, 0},
    /* the web UI: not matched by path, see mlflow__route_find (must stay last) */
    {"GET", "/", MLFLOW__R_ROOT | MLFLOW__R_UI, NULL, mlflow__h_ui, 0},
};

static const struct mlflow__route *const ui_route = &routes[MLFLOW_ARRAY_LEN(routes) - 1];

/* Where a decoded request path points: which family of routes, and the
 * path inside it. */
enum family { FAM_API, FAM_AJAX, FAM_ROOT, FAM_BARE };

static bool has_prefix(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

static bool family_ok(unsigned flags, enum family fam)
{
    switch (fam) {
    case FAM_API: return flags & MLFLOW__R_API;
    case FAM_AJAX: return flags & (MLFLOW__R_API | MLFLOW__R_AJAX);
    case FAM_ROOT: return flags & MLFLOW__R_ROOT;
    case FAM_BARE: return flags & MLFLOW__R_BARE;
    }
    return false;
}

/* The rows matching (family, rest), ignoring the method. */
static enum mlflow__route_match match(enum family fam, const char *rest, const char *method,
                                      const struct mlflow__route **out, const char **tail)
{
    bool path_seen = false;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(routes); i++) {
        const struct mlflow__route *rt = &routes[i];
        if (!family_ok(rt->flags, fam) || (rt->flags & MLFLOW__R_UI))
            continue;
        const char *t = NULL;
        if (rt->flags & MLFLOW__R_TAIL) {
            if (!has_prefix(rest, rt->path, &t) || !*t)
                continue;
        } else if (strcmp(rest, rt->path) != 0) {
            continue;
        }
        path_seen = true;
        if (strcmp(rt->method, method) != 0)
            continue;
        *out = rt;
        *tail = t;
        return MLFLOW__ROUTE_FOUND;
    }
    return path_seen ? MLFLOW__ROUTE_BAD_METHOD : MLFLOW__ROUTE_NOT_FOUND;
}

enum mlflow__route_match mlflow__route_find(const struct mlflow__server *s, const char *method,
                                            const char *path, const struct mlflow__route **out,
                                            const char **tail)
{
    *out = NULL;
    *tail = NULL;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    const char *rest;
    /* /api/2.0 never carries the static prefix (spec 2.1). */
    if (has_prefix(path, "/api/2.0/", &rest))
        return match(FAM_API, rest - 1, method, out, tail);
    const char *inner = path;
    bool prefixed = !*s->static_prefix;
    if (*s->static_prefix && has_prefix(path, s->static_prefix, &rest) &&
        (*rest == '/' || *rest == '\0')) {
        inner = rest;
        prefixed = true;
    }
    enum mlflow__route_match m = MLFLOW__ROUTE_NOT_FOUND;
    if (prefixed) {
        if (has_prefix(inner, "/ajax-api/2.0/", &rest))
            return match(FAM_AJAX, rest - 1, method, out, tail);
        m = match(FAM_ROOT, inner, method, out, tail);
        if (m == MLFLOW__ROUTE_FOUND)
            return m;
        if (m == MLFLOW__ROUTE_NOT_FOUND && strcmp(method, "GET") == 0) {
            *out = ui_route;
            *tail = inner;
            return MLFLOW__ROUTE_FOUND;
        }
    }
    if (*s->static_prefix) {
        enum mlflow__route_match b = match(FAM_BARE, path, method, out, tail);
        if (b != MLFLOW__ROUTE_NOT_FOUND)
            return b;
    }
    return m;
}
