/*
 * client.h - the client layer's internal face: the same operations as the
 * public mlflow_client_* functions, but reporting through a caller-owned
 * struct mlflow_error, so the fluent layer (and later the server) can
 * compose them and publish one error at its own boundary.
 */
#ifndef MLFLOW_CLIENT_H
#define MLFLOW_CLIENT_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlflow__store;
struct mlflow__async;

struct mlflow_client {
    struct mlflow__store *store;
    char *tracking_uri; /* as resolved at open time */
    /* Asynchronous logging (async.c): the queue, made on first use, and
     * $MLFLOW_ENABLE_ASYNC_LOGGING as it was at open time. */
    struct mlflow__async *async;
    bool async_env;
};

/* The tracking URI in effect: `explicit_uri` when non-empty, else
 * $MLFLOW_TRACKING_URI, else the file URI of $MLFLOW_TRACKING_DIR or
 * ./mlruns (resolved against the cwd now). Caller frees. */
MLFLOW_INTERNAL char *mlflow__resolve_tracking_uri(const char *explicit_uri);

MLFLOW_INTERNAL int mlflow__client_open(const char *uri, struct mlflow_client **out,
                                        struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_create_experiment(struct mlflow_client *c, const char *name,
                                                     const struct mlflow_experiment_opts *opts,
                                                     char **out_id, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_get_experiment(struct mlflow_client *c, const char *id,
                                                  struct mlflow_experiment **out,
                                                  struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_get_experiment_by_name(struct mlflow_client *c, const char *name,
                                                          struct mlflow_experiment **out,
                                                          struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_set_experiment_tag(struct mlflow_client *c, const char *id,
                                                      const char *key, const char *value,
                                                      struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_create_run(struct mlflow_client *c, const char *experiment_id,
                                              const struct mlflow_create_run_opts *opts,
                                              struct mlflow_run **out, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_get_run(struct mlflow_client *c, const char *run_id,
                                           struct mlflow_run **out, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_update_run(struct mlflow_client *c, const char *run_id,
                                              const struct mlflow_update_run_opts *opts,
                                              struct mlflow_run **out, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_log_batch(struct mlflow_client *c, const char *run_id,
                                             const struct mlflow_metric *metrics, size_t n_metrics,
                                             const struct mlflow_kv *params, size_t n_params,
                                             const struct mlflow_kv *tags, size_t n_tags,
                                             struct mlflow_error *err);
/* What a batch of any size must satisfy before any of it is split or queued:
 * no NULL array with a non-zero count, and no param key twice (across
 * chunks or queued calls the per-request check would not see it). */
MLFLOW_INTERNAL int mlflow__check_batch(const struct mlflow_metric *metrics, size_t n_metrics,
                                        const struct mlflow_kv *params, size_t n_params,
                                        const struct mlflow_kv *tags, size_t n_tags,
                                        struct mlflow_error *err);
/* The same, splitting batches over MLflow's per-request limits into several
 * requests (what the public mlflow_client_log_batch and the fluent calls
 * do; a server answering one request must not). */
MLFLOW_INTERNAL int mlflow__client_log_batch_chunked(struct mlflow_client *c, const char *run_id,
                                                     const struct mlflow_metric *metrics,
                                                     size_t n_metrics,
                                                     const struct mlflow_kv *params,
                                                     size_t n_params, const struct mlflow_kv *tags,
                                                     size_t n_tags, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_log_metric(struct mlflow_client *c, const char *run_id,
                                              const char *key, double value, int64_t timestamp,
                                              int64_t step, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_log_inputs(struct mlflow_client *c, const char *run_id,
                                              const struct mlflow_dataset_input *inputs,
                                              size_t n, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_delete_tag(struct mlflow_client *c, const char *run_id,
                                              const char *key, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_log_artifact_path(struct mlflow_client *c,
                                                     const char *artifact_uri,
                                                     const char *local_path,
                                                     const char *artifact_path, bool contents_only,
                                                     struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__client_log_text_at(struct mlflow_client *c, const char *artifact_uri,
                                               const char *text, const char *artifact_file,
                                               struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_CLIENT_H */
