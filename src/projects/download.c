/*
 * download.c - remote values of `path` parameters, fetched before the
 * command runs, as MLflow's Parameter._compute_path_value does: into
 * <storage_dir>/<a new run folder>/param_<position>/, through the artifact
 * repository of the URI's parent (its last segment is what is downloaded,
 * a file or a whole folder). So s3://, an MLflow server's http(s) artifacts
 * URLs and mlflow-artifacts: URIs arrive the way MLflow would fetch them,
 * and a scheme with no repository in this build is an error naming it.
 *
 * MLflow's http(s) repository only understands an MLflow artifacts service
 * (it lists before it downloads); any other http(s) URL is fetched here
 * with one plain GET, sending no tracking credentials to that host.
 */
#include "artifacts/artifacts.h"
#include "projects/projects.h"
#include "store/rest_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARTIFACTS_ENDPOINT "/mlflow-artifacts/artifacts"

/* The URI without its query and fragment, split at the last '/' of the
 * path: MLflow's _get_root_uri_and_artifact_path. */
static int split_uri(const char *uri, char **root, char **leaf, struct mlflow_error *err)
{
    size_t end = strcspn(uri, "?#");
    const char *path = strstr(uri, "://");
    const char *slash = NULL;

    path = path ? path + 3 : strchr(uri, ':') + 1;
    if (path[0] == '/' && path[1] == '/')
        path += 2;
    for (const char *c = path; c < uri + end; c++)
        if (*c == '/')
            slash = c;
    if (!slash) {
        *root = mlflow__strndup(uri, end);
        *leaf = mlflow__strdup("");
    } else {
        *root = mlflow__strndup(uri, (size_t)(slash - uri));
        *leaf = mlflow__strndup(slash + 1, (size_t)(uri + end - slash - 1));
    }
    if (!*root || !*leaf) {
        mlflow__free(*root);
        mlflow__free(*leaf);
        return mlflow__oom(err);
    }
    return MLFLOW_OK;
}

/* One GET of a plain http(s) URL into dir/<leaf>. */
static int plain_get(const char *uri, const char *leaf, const char *dir, char **out,
                     struct mlflow_error *err)
{
    const char *netloc = strstr(uri, "://") + 3;
    size_t host_len = (size_t)(netloc - uri) + strcspn(netloc, "/?#");
    const char *rest = uri + host_len;
    struct mlflow__http_creds creds = {0};
    struct mlflow__http *h = NULL;
    struct mlflow__http_request req = MLFLOW__HTTP_REQUEST_INIT;
    struct mlflow__http_response resp;
    char *host = NULL, *path = NULL, *query = NULL, *dst = NULL, *tmp = NULL;
    const char *q = rest + strcspn(rest, "?#");
    mode_t um;
    int fd = -1, rc;

    if (!*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "'%s' does not name a file to download", uri);
    host = mlflow__strndup(uri, host_len);
    path = mlflow__strndup(rest, (size_t)(q - rest));
    query = *q == '?' ? mlflow__strndup(q + 1, strcspn(q + 1, "#")) : mlflow__strdup("");
    dst = mlflow__path_join(dir, leaf);
    tmp = dst ? mlflow__malloc(strlen(dst) + 16) : NULL;
    if (!host || !path || !query || !tmp) {
        rc = mlflow__oom(err);
        goto out;
    }
    sprintf(tmp, "%s.part-XXXXXX", dst);
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = mlflow__seterr_sys(err, errno, "cannot create a file in '%s'", dir);
        goto out;
    }
    creds.host = host;
    if ((rc = mlflow__http_open(&creds, &h, err)))
        goto out;
    req.method = "GET";
    req.path = *path ? path : "/";
    req.query = query;
    req.download_fd = fd;
    if (!(rc = mlflow__http_do(h, &req, &resp, err))) {
        if (resp.status != 200)
            rc = mlflow__http_error(&resp, uri, err);
        mlflow__http_response_release(&resp);
    }
    /* A plain new file's mode (0666 & ~umask), not mkstemp's 0600. */
    um = umask(0);
    umask(um);
    if (!rc && fchmod(fd, 0666 & ~um) != 0)
        rc = mlflow__seterr_sys(err, errno, "cannot set the mode of '%s'", dst);
    if (close(fd) != 0 && !rc)
        rc = mlflow__seterr_sys(err, errno, "cannot write '%s'", dst);
    fd = -1;
    if (!rc && rename(tmp, dst) != 0)
        rc = mlflow__seterr_sys(err, errno, "cannot move the download into '%s'", dst);
    if (!rc) {
        *out = dst;
        dst = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp && tmp[0])
        unlink(tmp);
    mlflow__http_close(h);
    mlflow__free(host);
    mlflow__free(path);
    mlflow__free(query);
    mlflow__free(dst);
    mlflow__free(tmp);
    return rc;
}

static int fetch(const char *uri, const char *dir, const char *tracking_uri, char **out,
                 struct mlflow_error *err)
{
    const struct mlflow__artifact_repo_ops *ops;
    char *root = NULL, *leaf = NULL, *resolved = NULL, scheme[32];
    int rc;

    if ((rc = split_uri(uri, &root, &leaf, err)))
        return rc;
    if ((rc = mlflow__artifact_uri_resolve(root, tracking_uri, &resolved, err)))
        goto out;
    mlflow__uri_scheme(resolved, scheme, sizeof scheme);
    if ((strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        !strstr(resolved, ARTIFACTS_ENDPOINT)) {
        rc = plain_get(uri, leaf, dir, out, err);
        goto out;
    }
    /* Repositories take checked artifact paths: no "..", nothing absolute,
     * so the copy stays inside dir. */
    if ((*leaf && (rc = mlflow__validate_artifact_path(leaf, err))) ||
        (rc = mlflow__artifact_repo(resolved, &ops, err)))
        goto out;
    rc = ops->download(resolved, leaf, dir, out, err);
out:
    mlflow__free(root);
    mlflow__free(leaf);
    mlflow__free(resolved);
    return rc;
}

int mlflow__project_download(const char *uri, size_t position, struct mlflow__param_fetch *dl,
                             char **out, struct mlflow_error *err)
{
    char name[32], *dir;
    int rc;

    *out = NULL;
    /* One folder per run, made on the first download (MLflow's mkdtemp). */
    if (!dl->run_dir && (rc = mlflow__project_temp_dir(dl->storage_dir, "mlflow-params",
                                                       &dl->run_dir, err)))
        return rc;
    snprintf(name, sizeof name, "param_%zu", position);
    if (!(dir = mlflow__path_join(dl->run_dir, name)))
        return mlflow__oom(err);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        rc = mlflow__seterr_sys(err, errno, "cannot create '%s'", dir);
    } else if ((rc = fetch(uri, dir, dl->tracking_uri, out, err)) != MLFLOW_OK) {
        char msg[sizeof err->message];

        snprintf(msg, sizeof msg, "%s", err->message);
        mlflow__seterr(err, rc, "cannot download '%.300s' (a path parameter): %s", uri, msg);
    }
    mlflow__free(dir);
    return rc;
}
