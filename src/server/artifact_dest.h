/*
 * artifact_dest.h - where the server's artifacts are, behind one interface
 * for the handlers: a local directory (every operation beneath its open
 * root, artifact_fs.c) or an S3 prefix (the s3 artifact repository,
 * src/artifacts/s3.c, with the server's own AWS credentials).
 *
 * S3 transfers pass through a private spool directory (mode 0700, made on
 * first use, removed at stop), as MLflow's server passes them through
 * temporary files: an upload is streamed to disk as it arrives and sent on
 * once complete (S3 needs its length up front, and a multipart upload reads
 * its parts from the file); a download is fetched into an unnamed file and
 * streamed from there. Neither is ever whole in memory.
 *
 * Every `rel` argument is canonical (mlflow__afs_canon).
 */
#ifndef MLFLOW_ARTIFACT_DEST_H
#define MLFLOW_ARTIFACT_DEST_H

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An opened destination: exactly one of the two is set. */
struct mlflow__adest {
    int fd;         /* local root directory (owned), or -1 */
    const char *s3; /* s3://bucket/prefix (request arena), or NULL */
};

#define MLFLOW__ADEST_INIT {-1, NULL}

/* Server lifetime: the state behind s->adest. init before any request;
 * set_remote records an s3:// --artifacts-destination (NOT_IMPLEMENTED for
 * other remote schemes); fini removes the spool. */
MLFLOW_INTERNAL int mlflow__adest_init(struct mlflow__server *s, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__adest_set_remote(struct mlflow__server *s, const char *uri,
                                             struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__adest_fini(struct mlflow__server *s);
/* The s3:// --artifacts-destination, or NULL. */
MLFLOW_INTERNAL const char *mlflow__adest_remote(const struct mlflow__server *s);

/* The mlflow-artifacts proxy's destination (--artifacts-destination). */
MLFLOW_INTERNAL int mlflow__adest_proxy(struct mlflow__req *r, struct mlflow__adest *d,
                                        struct mlflow_error *err);
/* A run's artifact root and the run's path beneath it: proxied roots map
 * into the destination (when serving), s3:// roots are opened with the
 * server's credentials, local roots as mlflow__afs_run_root does. */
MLFLOW_INTERNAL int mlflow__adest_run(struct mlflow__req *r, const char *artifact_uri,
                                      bool create, struct mlflow__adest *d, const char **rel,
                                      struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__adest_close(struct mlflow__adest *d);

/* mlflow__afs_list's contract (a missing directory lists as empty). */
MLFLOW_INTERNAL int mlflow__adest_list(struct mlflow__req *r, const struct mlflow__adest *d,
                                       const char *rel, const char *prefix,
                                       struct mlflow_file_info **out, size_t *n,
                                       struct mlflow_error *err);
/* Fills out to stream the file rel as an attachment. */
MLFLOW_INTERNAL int mlflow__adest_send(struct mlflow__req *r, const struct mlflow__adest *d,
                                       const char *rel, struct mlflow__resp *out,
                                       struct mlflow_error *err);
/* Opens r->upload for rel (r->upload_open tells whether it succeeded);
 * the body is then streamed into it by the HTTP layer. */
MLFLOW_INTERNAL int mlflow__adest_upload_begin(struct mlflow__req *r,
                                               const struct mlflow__adest *d, const char *rel,
                                               struct mlflow_error *err);
/* Finishes the upload begun above: renamed into place, or sent to S3. */
MLFLOW_INTERNAL int mlflow__adest_upload_commit(struct mlflow__req *r, struct mlflow_error *err);
/* mlflow__afs_delete's contract: a file or a tree; missing is not an error. */
MLFLOW_INTERNAL int mlflow__adest_delete(struct mlflow__req *r, const struct mlflow__adest *d,
                                         const char *rel, struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_ARTIFACT_DEST_H */
