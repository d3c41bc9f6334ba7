/*
 * fluent.h - what the fluent layer's files share: fluent.c (run stack and
 * logging), fluent_context.c (system tags), fluent_exit.c (ending runs at
 * exit and on fatal signals) and fluent_queries.c.
 */
#ifndef MLFLOW_FLUENT_H
#define MLFLOW_FLUENT_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable set of tags that owns copies of its keys and values; putting
 * an existing key replaces its value (later providers override earlier
 * ones). `oom` latches the first allocation failure. */
struct mlflow__tagset {
    struct mlflow_kv *kv;
    size_t n, cap;
    bool oom;
};

MLFLOW_INTERNAL void mlflow__tagset_put(struct mlflow__tagset *t, const char *key,
                                        const char *value);
MLFLOW_INTERNAL void mlflow__tagset_free(struct mlflow__tagset *t);
/* MLflow's context tags for a new local run (spec section 5): mlflow.user,
 * mlflow.source.name/type, mlflow.source.git.commit, and $MLFLOW_RUN_CONTEXT. */
MLFLOW_INTERNAL void mlflow__context_tags(struct mlflow__tagset *t);

/* Installs, once per process, the atexit hook, the fatal-signal handlers,
 * the fork handlers and the thread that ends runs when a signal arrives.
 * Called with the fluent lock held, before the first run starts. */
MLFLOW_INTERNAL void mlflow__exit_hooks_install(void);

/* Provided by fluent.c for fluent_exit.c. Ends every open run this process
 * started with `status`; gives up (returns false) if the fluent lock cannot
 * be had within timeout_ms (< 0: wait as long as it takes). */
MLFLOW_INTERNAL bool mlflow__fluent_end_all(int status, int timeout_ms);
/* fork() support: hold the fluent lock across fork, release in both. */
MLFLOW_INTERNAL void mlflow__fluent_lock(void);
MLFLOW_INTERNAL void mlflow__fluent_unlock(void);

/* The fluent client for a call made outside the fluent lock, and the
 * current experiment when experiment_id is not NULL (malloc'ed). On
 * success the client stays pinned, so mlflow_shutdown() cannot free it
 * under the caller, until mlflow__fluent_release(). */
MLFLOW_INTERNAL int mlflow__fluent_client(struct mlflow_client **c, char **experiment_id,
                                          struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__fluent_release(void);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_FLUENT_H */
