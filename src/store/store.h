/*
 * store.h - the one interface every tracking backend implements.
 *
 * A store is a table of function pointers (SQLite's sqlite3_vfs, git's ref
 * backends). Backends embed `struct mlflow__store` as their first member and
 * fill a `struct mlflow__store_ops`. Only store.c and client.c call through
 * ops; everything else uses the client. The conformance suite
 * (tests/conformance) drives this interface directly and runs unchanged
 * against every backend.
 *
 * Contract for every op:
 *   - Inputs have passed the client's validation (validate.c): ids, keys,
 *     lengths and batch sizes are well formed; values are already truncated.
 *     Stores check what only they can: existence, lifecycle, immutability.
 *   - Errors: return an MLflow code and fill *err (mlflow__seterr) with a
 *     message naming the entity. Never print.
 *   - Results: allocate with mlflow__obj_new() and its arena; the caller owns
 *     them and frees with the matching mlflow_*_free().
 *   - Threads: every op may be called concurrently on one store; the store
 *     does its own locking. Several processes may use one store location at
 *     once.
 *   - Durability: once a write op returns 0, the data survives the process
 *     being killed.
 */
#ifndef MLFLOW_STORE_H
#define MLFLOW_STORE_H

#include "../internal.h"
#include "../search.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlflow__store;

/* Search requests as the store sees them: the client has parsed filter and
 * order_by (search.h), resolved view_type (never 0) and max_results
 * (1..50000), and decoded the page token into an offset.
 *
 * The caller's own strings travel along (filter_string, order_by,
 * page_token) for stores that hand the search to a server as it was given
 * (REST). For such stores (ops->remote) the client parses and decodes
 * nothing: filter and order are empty and offset is 0, since the server is
 * the judge of its own syntax and tokens. */
struct mlflow__search_runs {
    const char *const *experiment_ids;
    size_t n_experiment_ids;
    const struct mlflow__filter *filter; /* never NULL; may be empty */
    const struct mlflow__orders *order;  /* never NULL; may be empty */
    int view_type;
    int64_t max_results;
    int64_t offset;
    const char *filter_string;    /* as given; NULL or "" = none */
    const char *const *order_by;  /* as given */
    size_t n_order_by;
    const char *page_token;       /* as given; NULL or "" = first page */
};

struct mlflow__search_experiments {
    const struct mlflow__filter *filter;
    const struct mlflow__orders *order;
    int view_type;
    int64_t max_results;
    int64_t offset;
    const char *filter_string;    /* as for runs */
    const char *const *order_by;
    size_t n_order_by;
    const char *page_token;
};

struct mlflow__store_ops {
    const char *name; /* "file", "sqlite", ... for messages and test names */
    /* The store forwards searches to a server (REST): see struct
     * mlflow__search_runs. */
    bool remote;

    void (*close)(struct mlflow__store *s);

    /* -- experiments -- */
    /* artifact_location NULL: the store's default root + "/<id>". *out_id is
     * mlflow__malloc'ed. */
    int (*create_experiment)(struct mlflow__store *s, const char *name,
                             const char *artifact_location, const struct mlflow_kv *tags,
                             size_t n_tags, char **out_id, struct mlflow_error *err);
    int (*get_experiment)(struct mlflow__store *s, const char *id,
                          struct mlflow_experiment **out, struct mlflow_error *err);
    /* RESOURCE_DOES_NOT_EXIST when no experiment (active or deleted) has it. */
    int (*get_experiment_by_name)(struct mlflow__store *s, const char *name,
                                  struct mlflow_experiment **out, struct mlflow_error *err);
    int (*search_experiments)(struct mlflow__store *s, const struct mlflow__search_experiments *q,
                              struct mlflow_experiment_list **out, struct mlflow_error *err);
    int (*delete_experiment)(struct mlflow__store *s, const char *id, struct mlflow_error *err);
    int (*restore_experiment)(struct mlflow__store *s, const char *id, struct mlflow_error *err);
    int (*rename_experiment)(struct mlflow__store *s, const char *id, const char *new_name,
                             struct mlflow_error *err);
    int (*set_experiment_tag)(struct mlflow__store *s, const char *id, const char *key,
                              const char *value, struct mlflow_error *err);

    /* -- runs -- */
    /* run_name is final (the client resolved it and put it in tags as
     * mlflow.runName too); user_id is final. */
    int (*create_run)(struct mlflow__store *s, const char *experiment_id, const char *user_id,
                      int64_t start_time, const char *run_name, const struct mlflow_kv *tags,
                      size_t n_tags, struct mlflow_run **out, struct mlflow_error *err);
    int (*get_run)(struct mlflow__store *s, const char *run_id, struct mlflow_run **out,
                   struct mlflow_error *err);
    /* status 0 / end_time MLFLOW_TIME_UNSET / run_name NULL: unchanged.
     * *out (may be NULL) gets the updated run. */
    int (*update_run)(struct mlflow__store *s, const char *run_id, int status, int64_t end_time,
                      const char *run_name, struct mlflow_run **out, struct mlflow_error *err);
    int (*delete_run)(struct mlflow__store *s, const char *run_id, struct mlflow_error *err);
    int (*restore_run)(struct mlflow__store *s, const char *run_id, struct mlflow_error *err);
    /* The hot path. Params first, then metrics, then tags. A deleted run is
     * INVALID_PARAMETER_VALUE; a param re-logged with another value is
     * INVALID_PARAMETER_VALUE. Setting tag mlflow.runName renames the run. */
    int (*log_batch)(struct mlflow__store *s, const char *run_id,
                     const struct mlflow_metric *metrics, size_t n_metrics,
                     const struct mlflow_kv *params, size_t n_params,
                     const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err);
    /* RESOURCE_DOES_NOT_EXIST when the tag is absent. */
    int (*delete_tag)(struct mlflow__store *s, const char *run_id, const char *key,
                      struct mlflow_error *err);
    int (*get_metric_history)(struct mlflow__store *s, const char *run_id, const char *key,
                              struct mlflow_metric_list **out, struct mlflow_error *err);
    int (*search_runs)(struct mlflow__store *s, const struct mlflow__search_runs *q,
                       struct mlflow_run_list **out, struct mlflow_error *err);

    /* Datasets used by a run (MLflow's log_inputs); inputs are validated
     * (mlflow__validate_dataset_inputs). The run must exist and be active.
     * A dataset is kept once per (experiment, name, digest), the first
     * record winning; an input already logged for (dataset, run) keeps its
     * first tags. n == 0 only checks the run. May be NULL (the store
     * cannot record datasets: the client answers NOT_IMPLEMENTED). */
    int (*log_inputs)(struct mlflow__store *s, const char *run_id,
                      const struct mlflow_dataset_input *inputs, size_t n,
                      struct mlflow_error *err);

    /* The store's default artifact root for new experiments (e.g.
     * "file:///abs/mlruns"); owned by the store. */
    const char *(*default_artifact_root)(struct mlflow__store *s);

    /* -- import (migrate.c): copies that keep ids; NULL when the store
     * cannot take them (REST). Nothing is validated beyond what the store
     * needs; the input was read from another store. -- */
    /* Writes e as it is: id, name, artifact_location (verbatim), lifecycle,
     * times and tags. RESOURCE_ALREADY_EXISTS when the id exists (active or
     * deleted) or, for an active experiment, when an active one has the
     * name. */
    int (*import_experiment)(struct mlflow__store *s, const struct mlflow_experiment *e,
                             struct mlflow_error *err);
    /* Writes run->info as it is (id, name, user, status, times, lifecycle,
     * artifact_uri verbatim) with run->data's params and tags, and every
     * point of history[0..n) in that order (run->data.metrics is not used:
     * the latest values are recomputed from history). The experiment must
     * exist, in any lifecycle stage. All or nothing. RESOURCE_ALREADY_EXISTS
     * when the run id exists. */
    int (*import_run)(struct mlflow__store *s, const struct mlflow_run *run,
                      const struct mlflow_metric *history, size_t n, struct mlflow_error *err);
    /* Whether import_experiment can keep experiment id `id`: a store's ids
     * may be narrower than another's (PostgreSQL's are 32-bit, a file
     * store's 18 digits). NULL: every id. For an id it cannot keep, the
     * caller passes e->experiment_id NULL to import_experiment, which then
     * takes a new id as create_experiment would. */
    bool (*keeps_experiment_id)(struct mlflow__store *s, const char *id);
};

struct mlflow__store {
    const struct mlflow__store_ops *ops;
    char *uri; /* the URI it was opened with, normalised; owned */
};

/* Opens the store for a tracking URI through the scheme table. Unknown or
 * not-yet-built schemes fail with a message naming the scheme. */
MLFLOW_INTERNAL int mlflow__store_open(const char *uri, struct mlflow__store **out,
                                       struct mlflow_error *err);

/* Options a store takes when it is opened (MLflow passes the same to its
 * store constructors). Zero/NULL members mean the backend's default. */
struct mlflow__store_opts {
    /* Artifact root for experiments created without an artifact location,
     * including the default experiment a fresh store creates: the server's
     * --default-artifact-root (e.g. "mlflow-artifacts:/"). NULL: the
     * backend's own (the file store's root directory). */
    const char *default_artifact_root;
};

/* mlflow__store_open with options; opts may be NULL. */
MLFLOW_INTERNAL int mlflow__store_open_opts(const char *uri, const struct mlflow__store_opts *opts,
                                            struct mlflow__store **out,
                                            struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__store_close(struct mlflow__store *s);

/* Backend constructors (one per file in src/store/). */
MLFLOW_INTERNAL int mlflow__file_store_open(const char *root_path, struct mlflow__store **out,
                                            struct mlflow_error *err);
/* artifact_root NULL: the file URI of the root directory, as above. */
MLFLOW_INTERNAL int mlflow__file_store_open_ex(const char *root_path, const char *artifact_root,
                                               struct mlflow__store **out,
                                               struct mlflow_error *err);
/* uri: sqlite:///relative.db, sqlite:////absolute.db or sqlite:// (memory). */
MLFLOW_INTERNAL int mlflow__sqlite_store_open(const char *uri, struct mlflow__store **out,
                                              struct mlflow_error *err);
/* artifact_root NULL: ./mlruns made absolute, as MLflow. */
MLFLOW_INTERNAL int mlflow__sqlite_store_open_ex(const char *uri, const char *artifact_root,
                                                 struct mlflow__store **out,
                                                 struct mlflow_error *err);
/* uri: postgresql://user:password@host:port/database, also with a
 * SQLAlchemy driver (postgresql+psycopg2://...) (postgres.c, over libpq).
 * artifact_root NULL: ./mlruns, made absolute. */
MLFLOW_INTERNAL int mlflow__postgres_store_open(const char *uri, const char *artifact_root,
                                                struct mlflow__store **out,
                                                struct mlflow_error *err);
/* uri: http(s)://host[:port][/prefix], databricks or databricks://<profile>
 * (rest.c: a client of an MLflow tracking server). */
MLFLOW_INTERNAL int mlflow__rest_store_open(const char *uri, struct mlflow__store **out,
                                            struct mlflow_error *err);

/* Page tokens: base64 of {"offset": N}, as MLflow writes them. */
MLFLOW_INTERNAL char *mlflow__page_token_encode(int64_t offset);
MLFLOW_INTERNAL int mlflow__page_token_decode(const char *token, int64_t *offset,
                                              struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_STORE_H */
