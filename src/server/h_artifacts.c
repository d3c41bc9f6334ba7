/*
 * h_artifacts.c - artifact handlers: the tracking service's artifacts/list,
 * the UI's /get-artifact and upload-artifact, and the mlflow-artifacts
 * proxy service (upload, download, list, delete, to a local directory or
 * S3; multipart answers NOT_IMPLEMENTED, as MLflow does for a local
 * destination).
 *
 * Every path from a request goes through mlflow__afs_canon first, and only
 * its result reaches artifact_dest.c: artifact_fs.c, which opens everything
 * beneath a root directory descriptor, or the S3 repository.
 */
#include "artifact_dest.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define REQ MLFLOW__JSON_REQUIRED

/* A path parameter in canonical form; "" when absent and allow_empty. */
static int canon_param(struct mlflow__req *r, json_object *from, const char *field,
                       bool allow_empty, const char **out, struct mlflow_error *err)
{
    const char *raw = NULL;
    bool present;
    int rc = mlflow__json_get_string(from, field, allow_empty ? 0 : REQ, &raw, &present, err);
    if (rc)
        return rc;
    if (!present) {
        *out = "";
        return MLFLOW_OK;
    }
    rc = mlflow__afs_canon(mlflow__req_arena(r), raw, strlen(raw), out, err);
    if (!rc && !allow_empty && !**out)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Invalid path: '%s' does not name a file", field);
    return rc;
}

static int tail_path(struct mlflow__req *r, const char **out, struct mlflow_error *err)
{
    const char *t = r->tail ? r->tail : "";
    int rc = mlflow__afs_canon(mlflow__req_arena(r), t, strlen(t), out, err);
    if (!rc && !**out)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Invalid path: it is empty");
    return rc;
}

static int write_files(struct mlflow__jw *w, const struct mlflow_file_info *files, size_t n)
{
    if (!n)
        return MLFLOW_OK;
    mlflow__jw_key(w, "files");
    mlflow__jw_begin_array(w);
    for (size_t i = 0; i < n; i++)
        mlflow__json_write_file_info(w, &files[i]);
    mlflow__jw_end_array(w);
    return MLFLOW_OK;
}

/* The run's artifact URI (in the request arena). */
static int run_artifact_uri(struct mlflow__req *r, const char *run_id, const char **uri,
                            struct mlflow_error *err)
{
    struct mlflow_run *run = NULL;
    int rc = mlflow__client_get_run(r->srv->client, run_id, &run, err);
    if (rc)
        return rc;
    *uri = mlflow__arena_strdup(mlflow__req_arena(r),
                                run->info.artifact_uri ? run->info.artifact_uri : "");
    mlflow_run_free(run);
    return *uri ? MLFLOW_OK : mlflow__oom(err);
}

/* ---- the tracking service ------------------------------------------------------- */

MLFLOW__HANDLER(mlflow__h_list_artifacts)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char *run_id, *path = "", *uri = NULL, *rel = NULL;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = canon_param(r, r->params, "path", true, &path, err);
    if (!rc)
        rc = run_artifact_uri(r, run_id, &uri, err);
    if (!rc) {
        rc = mlflow__adest_run(r, uri, false, &d, &rel, err);
        /* No artifact directory yet: nothing logged. */
        if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
            rc = MLFLOW_OK;
    }
    struct mlflow_file_info *files = NULL;
    size_t n = 0;
    bool open = d.fd >= 0 || d.s3;
    const char *full = !rc && open ? mlflow__afs_join(a, rel, path) : NULL;
    if (!rc && open)
        rc = full ? mlflow__adest_list(r, &d, full, path, &files, &n, err) : mlflow__oom(err);
    mlflow__adest_close(&d);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    mlflow__jw_kv_string(&w, "root_uri", uri);
    write_files(&w, files, n);
    return mlflow__resp_json(out, &w, err);
}

MLFLOW__HANDLER(mlflow__h_get_artifact)
{
    const char *run_id, *path, *uri = NULL, *rel = NULL;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = mlflow__req_run_id(r, &run_id, err);
    if (!rc)
        rc = canon_param(r, r->params, "path", false, &path, err);
    if (!rc)
        rc = run_artifact_uri(r, run_id, &uri, err);
    if (!rc)
        rc = mlflow__adest_run(r, uri, false, &d, &rel, err);
    if (rc)
        return rc;
    const char *full = mlflow__afs_join(mlflow__req_arena(r), rel, path);
    rc = full ? mlflow__adest_send(r, &d, full, out, err) : mlflow__oom(err);
    mlflow__adest_close(&d);
    return rc;
}

/* POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=: the UI's
 * upload, raw body (at most 10 MB, the route's limit) into the run's
 * artifacts. */
int mlflow__h_ui_upload_begin(struct mlflow__req *r, struct mlflow_error *err)
{
    const char *run_id = NULL, *path, *uri = NULL, *rel = NULL;
    int rc = mlflow__json_get_string(r->query, "run_uuid", 0, &run_id, NULL, err);
    if (!rc && (!run_id || !*run_id))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Request must specify run_uuid.");
    const char *raw = NULL;
    if (!rc)
        rc = mlflow__json_get_string(r->query, "path", 0, &raw, NULL, err);
    if (!rc && (!raw || !*raw))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Request must specify path.");
    if (!rc)
        rc = canon_param(r, r->query, "path", false, &path, err);
    if (!rc)
        rc = run_artifact_uri(r, run_id, &uri, err);
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    if (!rc)
        rc = mlflow__adest_run(r, uri, true, &d, &rel, err);
    const char *full = rc ? NULL : mlflow__afs_join(mlflow__req_arena(r), rel, path);
    if (!rc)
        rc = full ? mlflow__adest_upload_begin(r, &d, full, err) : mlflow__oom(err);
    mlflow__adest_close(&d);
    r->upload_open = rc == MLFLOW_OK;
    return rc;
}

MLFLOW__HANDLER(mlflow__h_ui_upload)
{
    if (r->body_len == 0) {
        if (r->upload_open)
            mlflow__afs_upload_abort(&r->upload);
        r->upload_open = false;
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Request must specify data.");
    }
    int rc = mlflow__adest_upload_commit(r, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* ---- the mlflow-artifacts proxy service ----------------------------------------------- */

MLFLOW__HANDLER(mlflow__h_proxy_download)
{
    const char *rel;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = tail_path(r, &rel, err);
    if (!rc)
        rc = mlflow__adest_proxy(r, &d, err);
    if (!rc)
        rc = mlflow__adest_send(r, &d, rel, out, err);
    mlflow__adest_close(&d);
    return rc;
}

int mlflow__h_proxy_upload_begin(struct mlflow__req *r, struct mlflow_error *err)
{
    const char *rel;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = tail_path(r, &rel, err);
    if (!rc)
        rc = mlflow__adest_proxy(r, &d, err);
    if (!rc)
        rc = mlflow__adest_upload_begin(r, &d, rel, err);
    mlflow__adest_close(&d);
    r->upload_open = rc == MLFLOW_OK;
    return rc;
}

MLFLOW__HANDLER(mlflow__h_proxy_upload)
{
    int rc = mlflow__adest_upload_commit(r, err);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* GET /mlflow-artifacts/artifacts?path=<dir>: one level, basenames only. */
MLFLOW__HANDLER(mlflow__h_proxy_list)
{
    const char *rel = "";
    struct mlflow_file_info *files = NULL;
    size_t n = 0;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = canon_param(r, r->params, "path", true, &rel, err);
    if (!rc)
        rc = mlflow__adest_proxy(r, &d, err);
    if (!rc)
        rc = mlflow__adest_list(r, &d, rel, NULL, &files, &n, err);
    mlflow__adest_close(&d);
    if (rc)
        return rc;
    struct mlflow__jw w;
    mlflow__resp_begin(&w);
    write_files(&w, files, n);
    return mlflow__resp_json(out, &w, err);
}

MLFLOW__HANDLER(mlflow__h_proxy_delete)
{
    const char *rel;
    struct mlflow__adest d = MLFLOW__ADEST_INIT;
    int rc = tail_path(r, &rel, err);
    if (!rc)
        rc = mlflow__adest_proxy(r, &d, err);
    if (!rc)
        rc = mlflow__adest_delete(r, &d, rel, err);
    mlflow__adest_close(&d);
    return rc ? rc : mlflow__resp_empty(out, err);
}

/* mpu/create, mpu/complete, mpu/abort: the URL's path is checked, then the
 * answer is MLflow's own for a destination without multipart support; its
 * clients fall back to a plain upload on exactly this message. (The body's
 * "path" is the client's local file name; nothing here ever opens it.) */
MLFLOW__HANDLER(mlflow__h_mpu)
{
    const char *rel, *body_path = NULL;
    int rc = tail_path(r, &rel, err);
    if (!rc)
        rc = mlflow__json_get_string(r->params, "path", REQ, &body_path, NULL, err);
    if (rc)
        return rc;
    return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                          "Multipart upload is not supported for the current artifact "
                          "repository");
}
