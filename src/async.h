/*
 * async.h - asynchronous logging (async.c): a queue per client, drained by
 * one background thread that merges queued values into log-batch requests,
 * with a spill file for when the store stays unreachable.
 *
 * The public face is in mlflow.h (mlflow_set_async_logging, the *_async
 * calls, mlflow_flush, mlflow_client_flush, mlflow_async_replay). Internal
 * callers (the server's handlers, migrate, projects) use the
 * mlflow__client_* functions of client.h, which never queue.
 */
#ifndef MLFLOW_ASYNC_H
#define MLFLOW_ASYNC_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How one logging call is delivered. DEFAULT follows the switches:
 * mlflow_set_async_logging() when it was called, else the client's
 * $MLFLOW_ENABLE_ASYNC_LOGGING as read when it was opened. */
enum {
    MLFLOW__LOG_DEFAULT = 0,
    MLFLOW__LOG_SYNC = 1,
    MLFLOW__LOG_ASYNC = 2,
};

/* What a client remembers from the environment at open time. */
MLFLOW_INTERNAL void mlflow__async_client_init(struct mlflow_client *c);

/* Logs to run_id, synchronously (as mlflow__client_log_batch_chunked) or,
 * when `mode` and the switches say so, validated now and queued. Metric
 * timestamps must already be resolved (0 is a real timestamp here). */
MLFLOW_INTERNAL int mlflow__client_log(struct mlflow_client *c, const char *run_id,
                                       const struct mlflow_metric *metrics, size_t n_metrics,
                                       const struct mlflow_kv *params, size_t n_params,
                                       const struct mlflow_kv *tags, size_t n_tags, int mode,
                                       struct mlflow_error *err);

/* The client has queued values at some point (its queue exists). */
MLFLOW_INTERNAL bool mlflow__async_in_use(struct mlflow_client *c);

/* Called before a terminal status is written to run_id: waits for the
 * run's queued values. Returns
 *   0: write the status now; *flush_err holds a delivery error of the
 *      run's values to report (code 0 if none);
 *   MLFLOW__ASYNC_QUEUED: the store is unreachable, so the status was
 *      queued behind the run's values (*flush_err says why).
 * A client that never queued anything returns 0 at once. */
#define MLFLOW__ASYNC_QUEUED (-1)
MLFLOW_INTERNAL int mlflow__async_end_run(struct mlflow_client *c, const char *run_id,
                                          int status, int64_t end_time,
                                          struct mlflow_error *flush_err);

/* Waits for everything c queued before the call; returns the first error
 * since the last flush (see mlflow.h, mlflow_flush). */
MLFLOW_INTERNAL int mlflow__async_flush(struct mlflow_client *c, struct mlflow_error *err);

/* From mlflow_client_close: delivers what it can, keeps the rest in the
 * spill file (one warning line names it), stops the thread, frees. */
MLFLOW_INTERNAL void mlflow__async_close(struct mlflow_client *c);

/* Process exit (fluent_exit.c and async.c's own atexit hook). exit_begin
 * starts the bounded wait every later flush is held to; at_exit delivers
 * what it can within it and writes the rest to spill files. */
MLFLOW_INTERNAL void mlflow__async_exit_begin(void);
MLFLOW_INTERNAL void mlflow__async_at_exit(void);

/* fork(): fluent_exit.c's fork handlers call these inside its own (after
 * taking the fluent lock, so both layers' locks are always taken in one
 * order) once it has called fork_delegate; until then async.c's own
 * handlers do. The child drops the values its parent queued: the parent
 * delivers them. */
MLFLOW_INTERNAL void mlflow__async_fork_delegate(void);
MLFLOW_INTERNAL void mlflow__async_fork_prepare(void);
MLFLOW_INTERNAL void mlflow__async_fork_parent(void);
MLFLOW_INTERNAL void mlflow__async_fork_child(void);

/* Tests: the client's spill file path (malloc'ed), NULL when it has none. */
MLFLOW_INTERNAL char *mlflow__async_spill_path(struct mlflow_client *c);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_ASYNC_H */
