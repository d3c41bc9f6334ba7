/*
 * artifacts.h - artifact repositories: where a run's files go, chosen by
 * the scheme of its artifact URI (file: and plain paths, and http(s) for an
 * MLflow server's artifacts service, which mlflow-artifacts: URIs resolve
 * to, and s3 for S3 and S3-compatible object stores).
 *
 * Every `artifact_path` argument has passed mlflow__validate_artifact_path;
 * repositories check containment again where they touch the filesystem.
 */
#ifndef MLFLOW_ARTIFACTS_H
#define MLFLOW_ARTIFACTS_H

#include "../internal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlflow__artifact_repo_ops {
    const char *scheme;
    /* Copies a file into <root>/<artifact_path>/<basename>. */
    int (*log_file)(const char *root_uri, const char *local_file, const char *artifact_path,
                    struct mlflow_error *err);
    /* Writes bytes as <root>/<artifact_file>. */
    int (*log_bytes)(const char *root_uri, const char *artifact_file, const void *data, size_t n,
                     struct mlflow_error *err);
    /* One directory level, paths relative to root, sorted. */
    int (*list)(const char *root_uri, const char *path, struct mlflow_file_list **out,
                struct mlflow_error *err);
    /* Copies <root>/<path> (file or tree) into dst_dir; *out_local = local copy. */
    int (*download)(const char *root_uri, const char *path, const char *dst_dir,
                    char **out_local, struct mlflow_error *err);
    /* Deletes <root>/<path>, a file or a whole tree (MLflow's
     * delete_artifacts); NULL where the repository has none yet. */
    int (*remove)(const char *root_uri, const char *path, struct mlflow_error *err);
};

/* The repository for an artifact root URI; NOT_IMPLEMENTED naming the scheme
 * when there is none yet. */
MLFLOW_INTERNAL int mlflow__artifact_repo(const char *root_uri,
                                          const struct mlflow__artifact_repo_ops **out,
                                          struct mlflow_error *err);

/* Generic operations built on a repository's log_file. */
MLFLOW_INTERNAL int mlflow__artifacts_log_path(const char *root_uri, const char *local_path,
                                               const char *artifact_path, bool contents_only,
                                               struct mlflow_error *err);

/* A download into the file dst goes through a temporary file beside it
 * (dst's directory is created), renamed over dst only once it is complete,
 * so an interrupted transfer never leaves a partial file under dst's name. */
struct mlflow__download {
    int fd;      /* write the bytes here; -1 when begin failed */
    char *tmp;   /* the temporary file's path */
    const char *dst;
};
MLFLOW_INTERNAL int mlflow__download_begin(struct mlflow__download *d, const char *dst,
                                           struct mlflow_error *err);
/* rc is how the transfer went. On success the file gets a new file's mode
 * (0666 & ~umask, not mkstemp's 0600) and takes dst's name; otherwise it is
 * removed. Returns rc, or the first error of finishing. */
MLFLOW_INTERNAL int mlflow__download_end(struct mlflow__download *d, int rc,
                                         struct mlflow_error *err);

MLFLOW_INTERNAL extern const struct mlflow__artifact_repo_ops mlflow__local_artifact_repo;
/* http(s) URLs of an MLflow artifacts service (http.c). */
MLFLOW_INTERNAL extern const struct mlflow__artifact_repo_ops mlflow__http_artifact_repo;
/* s3://bucket/prefix on S3 or an S3-compatible server (s3.c). */
MLFLOW_INTERNAL extern const struct mlflow__artifact_repo_ops mlflow__s3_artifact_repo;

/* The URI a repository works on for artifact_uri: an mlflow-artifacts: URI
 * becomes the http(s) URL of the tracking server's artifacts service (spec
 * section 10; INVALID_PARAMETER_VALUE unless tracking_uri is http or
 * https), anything else is copied. Caller frees *out. */
MLFLOW_INTERNAL int mlflow__artifact_uri_resolve(const char *artifact_uri,
                                                 const char *tracking_uri, char **out,
                                                 struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_ARTIFACTS_H */
