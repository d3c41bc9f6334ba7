/*
 * mlflow.h - the whole public API of libmlflow: MLflow experiment tracking in C.
 *
 * Three layers, each usable on its own:
 *
 *   1. The fluent API (mlflow_start_run, mlflow_log_metric, ...): a process-wide
 *      stack of active runs, as in Python's `mlflow` module. Logging calls start
 *      a run when none is active.
 *   2. The client API (struct mlflow_client, MLflow's MlflowClient): explicit
 *      handles for programs that manage many runs.
 *   3. Entities (struct mlflow_run, struct mlflow_experiment, ...): results that
 *      the two layers above hand back.
 *
 * Conventions that hold for every function below:
 *
 *   - Errors. Functions return int: 0 (MLFLOW_OK) on success, otherwise one of
 *     the MLflow error codes of MLFLOW_ERROR_MAP. The numbers are MLflow's own
 *     ErrorCode values, so a code read from a REST error body and a code
 *     returned here mean the same thing. A message that names the field and the
 *     value is kept per thread: mlflow_last_error() returns it until the next
 *     failing call on that thread.
 *   - Memory. `const char *` arguments are borrowed for the duration of the call.
 *     Results come back through `**out` parameters and belong to the caller; the
 *     comment on each function names the function that frees them, and every
 *     *_free() accepts NULL. A result is one allocation block: all strings inside
 *     it live exactly as long as the result itself.
 *   - Threads. Every function may be called from any thread at any time. The
 *     fluent API's active-run stack is shared by the whole process (not per
 *     thread), so worker threads log into the run the main thread started.
 *     mlflow_shutdown() waits for calls in flight on other threads.
 *   - fork(). A child process may use the library. Runs it inherited from
 *     its parent stay the parent's: the child never ends them, at exit or
 *     on a signal.
 *   - Output. The library prints nothing, except one line on stderr when a
 *     logged value could not be stored (data loss), or when queued values
 *     are kept in a spill file at exit (see "Asynchronous logging");
 *     mlflow_set_warnings(false) silences that too.
 *
 * Tracking URIs: "" or NULL (the default, ./mlruns or $MLFLOW_TRACKING_URI), a
 * plain path, or file:/ file:/// URIs select the local file store in MLflow's
 * mlruns layout. Other schemes (sqlite, postgresql, http, https, databricks) are
 * routed through the same store table.
 */
#ifndef MLFLOW_H
#define MLFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MLFLOW_API
#else
#define MLFLOW_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MLFLOW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MLFLOW_PRINTF(fmt, args)
#endif

#define MLFLOW_VERSION "0.1.0"
/* The MLflow release whose on-disk and wire formats this library follows. */
#define MLFLOW_COMPAT_VERSION "2.12.2"

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * X(NAME, MLflow ErrorCode number, HTTP status, default message).
 * This one table generates the enum below, mlflow_error_name(), the server's
 * HTTP status mapping and the REST client's reverse mapping.
 */
#define MLFLOW_ERROR_MAP(X)                                                        \
    X(INTERNAL_ERROR, 1, 500, "internal error")                                    \
    X(TEMPORARILY_UNAVAILABLE, 2, 503, "temporarily unavailable")                  \
    X(BAD_REQUEST, 4, 400, "bad request")                                          \
    X(DEADLINE_EXCEEDED, 7, 504, "deadline exceeded")                              \
    X(CANCELLED, 8, 499, "cancelled")                                              \
    X(RESOURCE_EXHAUSTED, 9, 429, "resource exhausted")                            \
    X(ABORTED, 10, 409, "aborted")                                                 \
    X(NOT_FOUND, 11, 404, "not found")                                             \
    X(ALREADY_EXISTS, 12, 409, "already exists")                                   \
    X(UNAUTHENTICATED, 13, 401, "unauthenticated")                                 \
    X(INVALID_PARAMETER_VALUE, 1000, 400, "invalid parameter value")               \
    X(ENDPOINT_NOT_FOUND, 1001, 404, "endpoint not found")                         \
    X(MALFORMED_REQUEST, 1002, 500, "malformed request")                           \
    X(INVALID_STATE, 1003, 500, "invalid state")                                   \
    X(PERMISSION_DENIED, 1004, 403, "permission denied")                           \
    X(FEATURE_DISABLED, 1005, 500, "feature disabled")                             \
    X(CUSTOMER_UNAUTHORIZED, 1006, 401, "unauthorized")                            \
    X(REQUEST_LIMIT_EXCEEDED, 1007, 429, "request limit exceeded")                 \
    X(RESOURCE_CONFLICT, 1008, 409, "resource conflict")                           \
    X(NOT_IMPLEMENTED, 1010, 501, "not implemented")                               \
    X(DATA_LOSS, 1011, 500, "data loss")                                           \
    X(RESOURCE_ALREADY_EXISTS, 3001, 400, "resource already exists")               \
    X(RESOURCE_DOES_NOT_EXIST, 3002, 404, "resource does not exist")

enum mlflow_errcode {
    MLFLOW_OK = 0,
#define MLFLOW__ERRENUM(name, num, http, msg) MLFLOW_##name = num,
    MLFLOW_ERROR_MAP(MLFLOW__ERRENUM)
#undef MLFLOW__ERRENUM
};

/* "INVALID_PARAMETER_VALUE" for MLFLOW_INVALID_PARAMETER_VALUE; "OK" for 0;
 * "INTERNAL_ERROR" for a number outside the table. Static storage. */
MLFLOW_API const char *mlflow_error_name(int code);
/* Inverse of mlflow_error_name(); unknown names give MLFLOW_INTERNAL_ERROR. */
MLFLOW_API int mlflow_error_from_name(const char *name);
/* The table's default message for a code. Static storage. */
MLFLOW_API const char *mlflow_strerror(int code);
/* HTTP status MLflow answers with for a code (500 for unknown codes). */
MLFLOW_API int mlflow_error_http_status(int code);

/* The message of the last failing call made by this thread, or "" if none.
 * Valid until this thread's next call into the library. */
MLFLOW_API const char *mlflow_last_error(void);
/* The code of the last failing call made by this thread, 0 if none. */
MLFLOW_API int mlflow_last_error_code(void);
/* Turn the data-loss line on stderr on or off (default on). */
MLFLOW_API void mlflow_set_warnings(bool enabled);

/* ------------------------------------------------------------------------ */
/* Entities                                                                 */
/* ------------------------------------------------------------------------ */

enum mlflow_run_status {
    MLFLOW_RUN_STATUS_RUNNING = 1,
    MLFLOW_RUN_STATUS_SCHEDULED = 2,
    MLFLOW_RUN_STATUS_FINISHED = 3,
    MLFLOW_RUN_STATUS_FAILED = 4,
    MLFLOW_RUN_STATUS_KILLED = 5,
};

enum mlflow_view_type {
    MLFLOW_VIEW_ACTIVE_ONLY = 1,
    MLFLOW_VIEW_DELETED_ONLY = 2,
    MLFLOW_VIEW_ALL = 3,
};

/* "RUNNING", "FINISHED", ...; NULL for a value outside the enum. */
MLFLOW_API const char *mlflow_run_status_name(int status);
/* Parses "FINISHED" (case-sensitive, as MLflow) into *out. */
MLFLOW_API int mlflow_run_status_parse(const char *name, int *out);
/* "ACTIVE_ONLY", "DELETED_ONLY", "ALL"; NULL otherwise. */
MLFLOW_API const char *mlflow_view_type_name(int view_type);
MLFLOW_API int mlflow_view_type_parse(const char *name, int *out);

/* Times are milliseconds since the Unix epoch. This marks "not set" (a run that
 * has not ended has end_time == MLFLOW_TIME_UNSET). */
#define MLFLOW_TIME_UNSET INT64_MIN

/* A key/value pair: params, run tags, experiment tags. As an argument it is
 * borrowed; inside a result it is owned by that result. */
struct mlflow_kv {
    const char *key;
    const char *value;
};

/* One metric point. In RunData the value is the latest point per key: the
 * largest (step, timestamp, value), as MLflow defines it. */
struct mlflow_metric {
    const char *key;
    double value;
    int64_t timestamp;
    int64_t step;
};

struct mlflow_experiment {
    const char *experiment_id;
    const char *name;
    const char *artifact_location;
    const char *lifecycle_stage; /* "active" or "deleted" */
    int64_t creation_time;       /* MLFLOW_TIME_UNSET when the store has none */
    int64_t last_update_time;
    struct mlflow_kv *tags;
    size_t n_tags;
};

struct mlflow_run_info {
    const char *run_id;
    const char *run_name;
    const char *experiment_id;
    const char *user_id;
    const char *artifact_uri;
    const char *lifecycle_stage; /* "active" or "deleted" */
    int status;                  /* enum mlflow_run_status */
    int64_t start_time;
    int64_t end_time; /* MLFLOW_TIME_UNSET while the run has not ended */
};

struct mlflow_run_data {
    struct mlflow_metric *metrics; /* latest value per key */
    size_t n_metrics;
    struct mlflow_kv *params;
    size_t n_params;
    struct mlflow_kv *tags;
    size_t n_tags;
};

/* A dataset as MLflow records it (mlflow.entities.Dataset): name, digest,
 * source_type and source are required; schema and profile may be NULL. */
struct mlflow_dataset {
    const char *name;        /* at most 500 characters */
    const char *digest;      /* at most 36 */
    const char *source_type; /* e.g. "local", "http" */
    const char *source;      /* JSON text, at most 65535 characters */
    const char *schema;      /* JSON text or NULL, at most 65535 */
    const char *profile;     /* JSON text or NULL, at most 16777215 */
};

/* A dataset used by a run, with tags on that use (keys at most 255
 * characters, values at most 500); "mlflow.data.context" holds the context
 * ("training", "testing", ...). */
struct mlflow_dataset_input {
    struct mlflow_dataset dataset;
    const struct mlflow_kv *tags;
    size_t n_tags;
};

struct mlflow_run {
    struct mlflow_run_info info;
    struct mlflow_run_data data;
    /* RunInputs: the datasets logged with mlflow_client_log_inputs(), in
     * the store's order. */
    struct mlflow_dataset_input *inputs;
    size_t n_inputs;
};

struct mlflow_experiment_list {
    struct mlflow_experiment *experiments;
    size_t count;
    const char *next_page_token; /* NULL when this is the last page */
};

struct mlflow_run_list {
    struct mlflow_run *runs;
    size_t count;
    const char *next_page_token; /* NULL when this is the last page */
};

struct mlflow_metric_list {
    struct mlflow_metric *metrics;
    size_t count;
    const char *next_page_token;
};

struct mlflow_file_info {
    const char *path;  /* relative to the run's artifact root, '/'-separated */
    bool is_dir;
    int64_t file_size; /* -1 for directories */
};

struct mlflow_file_list {
    const char *root_uri; /* the artifact URI the paths are relative to */
    struct mlflow_file_info *files;
    size_t count;
    const char *next_page_token;
};

/* Each frees one result and everything inside it. NULL is a no-op. */
MLFLOW_API void mlflow_experiment_free(struct mlflow_experiment *exp);
MLFLOW_API void mlflow_experiment_list_free(struct mlflow_experiment_list *list);
MLFLOW_API void mlflow_run_free(struct mlflow_run *run);
MLFLOW_API void mlflow_run_list_free(struct mlflow_run_list *list);
MLFLOW_API void mlflow_metric_list_free(struct mlflow_metric_list *list);
MLFLOW_API void mlflow_file_list_free(struct mlflow_file_list *list);
/* Frees a plain string result (ids, URIs). NULL is a no-op. */
MLFLOW_API void mlflow_free(void *ptr);

/* Lookups inside results. They return pointers into the result (NULL when the
 * key is absent), valid as long as the result. */
MLFLOW_API const char *mlflow_run_param(const struct mlflow_run *run, const char *key);
MLFLOW_API const char *mlflow_run_tag(const struct mlflow_run *run, const char *key);
MLFLOW_API const struct mlflow_metric *mlflow_run_metric(const struct mlflow_run *run,
                                                         const char *key);
MLFLOW_API const char *mlflow_experiment_tag(const struct mlflow_experiment *exp,
                                             const char *key);

/* ------------------------------------------------------------------------ */
/* Client API                                                               */
/* ------------------------------------------------------------------------ */

struct mlflow_client;

/* Opens a client on a tracking URI (NULL or "" = the default resolution of
 * mlflow_get_tracking_uri()). Free with mlflow_client_close(). A client is
 * safe to share between threads. */
MLFLOW_API int mlflow_client_open(const char *tracking_uri, struct mlflow_client **out);
MLFLOW_API void mlflow_client_close(struct mlflow_client *client);
/* The resolved tracking URI (e.g. "file:///abs/mlruns"); owned by the client. */
MLFLOW_API const char *mlflow_client_tracking_uri(const struct mlflow_client *client);

/* -- experiments -- */

struct mlflow_experiment_opts {
    const char *artifact_location; /* NULL: <store default root>/<id> */
    const struct mlflow_kv *tags;
    size_t n_tags;
};

/* Creates an experiment; *out_id (free with mlflow_free) receives its id.
 * opts may be NULL. RESOURCE_ALREADY_EXISTS if an active one has that name. */
MLFLOW_API int mlflow_client_create_experiment(struct mlflow_client *client, const char *name,
                                               const struct mlflow_experiment_opts *opts,
                                               char **out_id);
/* Free *out with mlflow_experiment_free(). Deleted experiments are returned
 * too; RESOURCE_DOES_NOT_EXIST when there is no such id. */
MLFLOW_API int mlflow_client_get_experiment(struct mlflow_client *client,
                                            const char *experiment_id,
                                            struct mlflow_experiment **out);
/* Active or deleted experiment by exact name. RESOURCE_DOES_NOT_EXIST (and
 * *out = NULL) when there is none. Free with mlflow_experiment_free(). */
MLFLOW_API int mlflow_client_get_experiment_by_name(struct mlflow_client *client,
                                                    const char *name,
                                                    struct mlflow_experiment **out);

struct mlflow_search_experiments_opts {
    int view_type;       /* 0 = MLFLOW_VIEW_ACTIVE_ONLY */
    int64_t max_results; /* 0 = 1000; at most 50000 */
    const char *filter;  /* MLflow search syntax; NULL or "" = all */
    const char *const *order_by;
    size_t n_order_by;
    const char *page_token; /* from a previous page's next_page_token */
};

/* opts may be NULL. Free *out with mlflow_experiment_list_free(). */
MLFLOW_API int mlflow_client_search_experiments(struct mlflow_client *client,
                                                const struct mlflow_search_experiments_opts *opts,
                                                struct mlflow_experiment_list **out);
/* Soft-deletes an experiment and its active runs (id "0" is refused). */
MLFLOW_API int mlflow_client_delete_experiment(struct mlflow_client *client,
                                               const char *experiment_id);
/* Restores a deleted experiment and all of its deleted runs. */
MLFLOW_API int mlflow_client_restore_experiment(struct mlflow_client *client,
                                                const char *experiment_id);
MLFLOW_API int mlflow_client_rename_experiment(struct mlflow_client *client,
                                               const char *experiment_id, const char *new_name);
MLFLOW_API int mlflow_client_set_experiment_tag(struct mlflow_client *client,
                                                const char *experiment_id, const char *key,
                                                const char *value);

/* -- runs -- */

struct mlflow_create_run_opts {
    const char *run_name; /* NULL: from tag mlflow.runName, else generated */
    int64_t start_time;   /* 0: now */
    const char *user_id;  /* NULL: tag mlflow.user, else "unknown" */
    const struct mlflow_kv *tags;
    size_t n_tags;
};

/* Creates a RUNNING run. Free *out (may be NULL if not wanted) with
 * mlflow_run_free(). The client adds no system tags; the fluent API does. */
MLFLOW_API int mlflow_client_create_run(struct mlflow_client *client, const char *experiment_id,
                                        const struct mlflow_create_run_opts *opts,
                                        struct mlflow_run **out);
/* Free *out with mlflow_run_free(). */
MLFLOW_API int mlflow_client_get_run(struct mlflow_client *client, const char *run_id,
                                     struct mlflow_run **out);

struct mlflow_update_run_opts {
    int status;           /* 0: unchanged */
    int64_t end_time;     /* 0: unchanged */
    const char *run_name; /* NULL: unchanged; also sets tag mlflow.runName */
};

/* Free *out (may be NULL if not wanted) with mlflow_run_free(). */
MLFLOW_API int mlflow_client_update_run(struct mlflow_client *client, const char *run_id,
                                        const struct mlflow_update_run_opts *opts,
                                        struct mlflow_run **out);
/* Sets status (0 = FINISHED) and end_time (0 = now). */
MLFLOW_API int mlflow_client_set_terminated(struct mlflow_client *client, const char *run_id,
                                            int status, int64_t end_time);
MLFLOW_API int mlflow_client_delete_run(struct mlflow_client *client, const char *run_id);
MLFLOW_API int mlflow_client_restore_run(struct mlflow_client *client, const char *run_id);

/* timestamp 0 = now. */
MLFLOW_API int mlflow_client_log_metric(struct mlflow_client *client, const char *run_id,
                                        const char *key, double value, int64_t timestamp,
                                        int64_t step);
MLFLOW_API int mlflow_client_log_param(struct mlflow_client *client, const char *run_id,
                                       const char *key, const char *value);
MLFLOW_API int mlflow_client_set_tag(struct mlflow_client *client, const char *run_id,
                                     const char *key, const char *value);
MLFLOW_API int mlflow_client_delete_tag(struct mlflow_client *client, const char *run_id,
                                        const char *key);
/* Any number of entries, sent as MLflow's client sends them: in batches of
 * at most 100 params, 1000 metrics or 100 tags, params first, then metrics,
 * then tags. Duplicate param keys are refused before anything is written. */
MLFLOW_API int mlflow_client_log_batch(struct mlflow_client *client, const char *run_id,
                                       const struct mlflow_metric *metrics, size_t n_metrics,
                                       const struct mlflow_kv *params, size_t n_params,
                                       const struct mlflow_kv *tags, size_t n_tags);
/* The same four, queued instead of sent (MLflow's synchronous=False), as
 * described under "Asynchronous logging" below. */
MLFLOW_API int mlflow_client_log_metric_async(struct mlflow_client *client, const char *run_id,
                                              const char *key, double value, int64_t timestamp,
                                              int64_t step);
MLFLOW_API int mlflow_client_log_param_async(struct mlflow_client *client, const char *run_id,
                                             const char *key, const char *value);
MLFLOW_API int mlflow_client_set_tag_async(struct mlflow_client *client, const char *run_id,
                                           const char *key, const char *value);
MLFLOW_API int mlflow_client_log_batch_async(struct mlflow_client *client, const char *run_id,
                                             const struct mlflow_metric *metrics,
                                             size_t n_metrics, const struct mlflow_kv *params,
                                             size_t n_params, const struct mlflow_kv *tags,
                                             size_t n_tags);
/* Waits for the values this client queued before the call; see mlflow_flush(). */
MLFLOW_API int mlflow_client_flush(struct mlflow_client *client);
/* Records that the run used these datasets (MLflow's log_inputs). A
 * dataset is stored once per experiment by (name, digest); logging the same
 * dataset to the same run again keeps the first record and its tags. An
 * input without name, digest, source_type or source, or with a field over
 * its limit, is INVALID_PARAMETER_VALUE naming the field; nothing is
 * written then. At most 1000 inputs per call. */
MLFLOW_API int mlflow_client_log_inputs(struct mlflow_client *client, const char *run_id,
                                        const struct mlflow_dataset_input *inputs, size_t n);
/* Every logged point of one metric, in logging order. Free with
 * mlflow_metric_list_free(). */
MLFLOW_API int mlflow_client_get_metric_history(struct mlflow_client *client,
                                                const char *run_id, const char *key,
                                                struct mlflow_metric_list **out);

struct mlflow_search_runs_opts {
    const char *const *experiment_ids;
    size_t n_experiment_ids;
    const char *filter; /* MLflow search syntax; NULL or "" = all */
    int view_type;      /* 0 = MLFLOW_VIEW_ACTIVE_ONLY */
    int64_t max_results; /* 0 = 1000; at most 50000 */
    const char *const *order_by;
    size_t n_order_by;
    const char *page_token;
};

/* Free *out with mlflow_run_list_free(). */
MLFLOW_API int mlflow_client_search_runs(struct mlflow_client *client,
                                         const struct mlflow_search_runs_opts *opts,
                                         struct mlflow_run_list **out);

/* -- artifacts -- */

/* Copies a file, or a directory recursively, under the run's artifact root,
 * inside artifact_path (NULL = the root). */
MLFLOW_API int mlflow_client_log_artifact(struct mlflow_client *client, const char *run_id,
                                          const char *local_path, const char *artifact_path);
/* Copies the contents of local_dir (not the directory itself). */
MLFLOW_API int mlflow_client_log_artifacts(struct mlflow_client *client, const char *run_id,
                                           const char *local_dir, const char *artifact_path);
/* Writes text (UTF-8) as the artifact file artifact_file ("dir/name.txt"). */
MLFLOW_API int mlflow_client_log_text(struct mlflow_client *client, const char *run_id,
                                      const char *text, const char *artifact_file);
/* Lists one directory level (path NULL = root). Free with mlflow_file_list_free(). */
MLFLOW_API int mlflow_client_list_artifacts(struct mlflow_client *client, const char *run_id,
                                            const char *path, struct mlflow_file_list **out);
/* Copies artifact `path` (file or directory; NULL = everything) into dst_dir
 * (created if missing). *out_local_path, if out_local_path is not NULL, gets the
 * local path of the copy; free it with mlflow_free(). */
MLFLOW_API int mlflow_client_download_artifacts(struct mlflow_client *client, const char *run_id,
                                                const char *path, const char *dst_dir,
                                                char **out_local_path);

/* ------------------------------------------------------------------------ */
/* Fluent API                                                               */
/* ------------------------------------------------------------------------ */

/* Sets the process-wide tracking URI (NULL resets to the default). */
MLFLOW_API int mlflow_set_tracking_uri(const char *uri);
/* The explicit URI, else $MLFLOW_TRACKING_URI, else file://<cwd>/mlruns (or
 * $MLFLOW_TRACKING_DIR). Free with mlflow_free(). */
MLFLOW_API char *mlflow_get_tracking_uri(void);

/* Creates an experiment; *out_id (may be NULL) gets its id, free with mlflow_free(). */
MLFLOW_API int mlflow_create_experiment(const char *name, const struct mlflow_experiment_opts *opts,
                                        char **out_id);
/* Makes an experiment the active one for new runs, creating it when missing.
 * Exactly one of name and experiment_id must be non-NULL. A deleted experiment
 * is an error (INVALID_PARAMETER_VALUE). *out_id (may be NULL) gets its id. */
MLFLOW_API int mlflow_set_experiment(const char *name, const char *experiment_id,
                                     char **out_id);
/* Tag on the current experiment (the one new runs would go to). */
MLFLOW_API int mlflow_set_experiment_tag(const char *key, const char *value);

struct mlflow_run_opts {
    int struct_size_;          /* set by MLFLOW_RUN_OPTS(); 0 = this header's size */
    const char *run_id;        /* resume this run (else $MLFLOW_RUN_ID, consumed) */
    const char *experiment_id; /* else set_experiment, $MLFLOW_EXPERIMENT_NAME/_ID, "0" */
    const char *run_name;
    bool nested;               /* required when a run is already active */
    const struct mlflow_kv *tags;
    size_t n_tags;
    const char *description;   /* stored as tag mlflow.note.content */
};

/* Builds a pointer to options with designated initialisers:
 *     mlflow_start_run(MLFLOW_RUN_OPTS(.run_name = "baseline", .nested = true));
 * In C++ this needs C++20 designated initialisers, written in the order the
 * fields are declared. The options live until the end of the statement. */
#ifdef __cplusplus
}
inline const mlflow_run_opts *mlflow_run_opts_ptr_(const mlflow_run_opts &o) { return &o; }
extern "C" {
/* Fields left out are zero, as in C. (g++ -Wextra warns about each one
 * left out, -Wmissing-field-initializers; clang++ does not.) */
#define MLFLOW_RUN_OPTS(...) \
    mlflow_run_opts_ptr_(mlflow_run_opts{.struct_size_ = (int)sizeof(mlflow_run_opts), __VA_ARGS__})
#else
#define MLFLOW_RUN_OPTS(...) \
    (&(const struct mlflow_run_opts){.struct_size_ = (int)sizeof(struct mlflow_run_opts), __VA_ARGS__})
#endif

/* Starts (or resumes) a run and pushes it on the active-run stack. opts may be
 * NULL. With a run already active and opts->nested false it fails with
 * INVALID_PARAMETER_VALUE. */
MLFLOW_API int mlflow_start_run(const struct mlflow_run_opts *opts);
/* Ends the innermost active run with `status` (0 = FINISHED), once its
 * queued values are stored (see "Asynchronous logging"). No-op when no run
 * is active. */
MLFLOW_API int mlflow_end_run(int status);
/* A buffer of this size holds any run id (MLflow allows 256 characters;
 * the ids mlflow-c and MLflow generate have 32). */
#define MLFLOW_RUN_ID_SIZE 257

/* Copies the innermost active run's id into buf (MLFLOW_RUN_ID_SIZE bytes
 * always suffice). Returns RESOURCE_DOES_NOT_EXIST when no run is active. */
MLFLOW_API int mlflow_active_run_id(char *buf, size_t size);
/* The active run as the store sees it now; *out = NULL (and 0 returned) when no
 * run is active. Free with mlflow_run_free(). */
MLFLOW_API int mlflow_active_run(struct mlflow_run **out);
/* The active run, else the run ended last in this process, else *out = NULL. */
MLFLOW_API int mlflow_last_active_run(struct mlflow_run **out);

/*
 * Scope for a run, C's `with mlflow.start_run():`. The block runs whatever
 * happens to tracking (a tracking failure never stops training; see
 * mlflow_last_error()). When control leaves the block, by falling off its end,
 * `break`, `return` or `goto`, the run it started is ended FINISHED, together
 * with any nested run still open inside it. To end it FAILED instead, call
 * mlflow_end_run(MLFLOW_RUN_STATUS_FAILED) inside the block; the scope then has
 * nothing left to end.
 *
 *     MLFLOW_RUN(.run_name = "baseline") {
 *         mlflow_log_metric("loss", loss, step);
 *         if (diverged) { mlflow_end_run(MLFLOW_RUN_STATUS_FAILED); break; }
 *     }
 *
 * Needs GCC or Clang (it uses the cleanup attribute).
 */
#define MLFLOW_RUN(...) MLFLOW_RUN_SCOPE_(MLFLOW_CAT_(mlflow_scope_, __COUNTER__), __VA_ARGS__)
/* Each scope gets its own variable, so scopes nest without shadowing. */
#define MLFLOW_RUN_SCOPE_(var, ...)                                                           \
    for (struct mlflow_run_scope_ var __attribute__((cleanup(mlflow_run_scope_leave_))) =     \
             mlflow_run_scope_enter_(MLFLOW_RUN_OPTS(__VA_ARGS__));                           \
         var.pending_; var.pending_ = 0)
#define MLFLOW_CAT_(a, b) MLFLOW_CAT2_(a, b)
#define MLFLOW_CAT2_(a, b) a##b

struct mlflow_run_scope_ {
    int pending_;
    int depth_; /* stack depth after the start; 0 if the start failed */
    char run_id_[MLFLOW_RUN_ID_SIZE];
};
MLFLOW_API struct mlflow_run_scope_ mlflow_run_scope_enter_(const struct mlflow_run_opts *opts);
MLFLOW_API void mlflow_run_scope_leave_(struct mlflow_run_scope_ *scope);

/* Logging into the active run; each starts a run when none is active. */
MLFLOW_API int mlflow_log_param(const char *key, const char *value);
MLFLOW_API int mlflow_log_paramf(const char *key, const char *fmt, ...) MLFLOW_PRINTF(2, 3);
/* One log_batch. */
MLFLOW_API int mlflow_log_params(const struct mlflow_kv *params, size_t n);
/* Timestamp is now. */
MLFLOW_API int mlflow_log_metric(const char *key, double value, int64_t step);
/* Explicit timestamp (ms since epoch; 0 = now). */
MLFLOW_API int mlflow_log_metric_ts(const char *key, double value, int64_t step,
                                    int64_t timestamp);
/* One log_batch; every point gets this step and one shared timestamp
 * (the `key`s come from metrics[i].key and values from metrics[i].value;
 * the timestamp/step fields of the array are ignored). */
MLFLOW_API int mlflow_log_metrics(const struct mlflow_metric *metrics, size_t n, int64_t step);
MLFLOW_API int mlflow_set_tag(const char *key, const char *value);
MLFLOW_API int mlflow_set_tags(const struct mlflow_kv *tags, size_t n);
/* The same, queued instead of sent (see "Asynchronous logging" below). */
MLFLOW_API int mlflow_log_metric_async(const char *key, double value, int64_t step);
MLFLOW_API int mlflow_log_metrics_async(const struct mlflow_metric *metrics, size_t n,
                                        int64_t step);
MLFLOW_API int mlflow_log_param_async(const char *key, const char *value);
MLFLOW_API int mlflow_log_params_async(const struct mlflow_kv *params, size_t n);
MLFLOW_API int mlflow_set_tag_async(const char *key, const char *value);
MLFLOW_API int mlflow_set_tags_async(const struct mlflow_kv *tags, size_t n);
MLFLOW_API int mlflow_delete_tag(const char *key);
/* log_inputs for one dataset into the active run, as Python's
 * mlflow.log_input(dataset, context, tags): context (may be NULL) is added
 * as the tag "mlflow.data.context" after the given tags. */
MLFLOW_API int mlflow_log_input(const struct mlflow_dataset *dataset, const char *context,
                                const struct mlflow_kv *tags, size_t n_tags);
MLFLOW_API int mlflow_log_artifact(const char *local_path, const char *artifact_path);
MLFLOW_API int mlflow_log_artifacts(const char *local_dir, const char *artifact_path);
MLFLOW_API int mlflow_log_text(const char *text, const char *artifact_file);
/* The active run's artifact URI, joined with "/path" when path is not NULL.
 * Free *out with mlflow_free(). */
MLFLOW_API int mlflow_get_artifact_uri(const char *path, char **out);

/* Queries through the fluent layer's tracking URI, for programs that do not
 * hold a client. Each behaves as the mlflow_client_* function of the same
 * name; results are freed the same way. */
MLFLOW_API int mlflow_get_run(const char *run_id, struct mlflow_run **out);
MLFLOW_API int mlflow_delete_run(const char *run_id);
MLFLOW_API int mlflow_get_experiment(const char *experiment_id, struct mlflow_experiment **out);
/* As Python's mlflow.get_experiment_by_name: 0 and *out = NULL when absent. */
MLFLOW_API int mlflow_get_experiment_by_name(const char *name, struct mlflow_experiment **out);
MLFLOW_API int mlflow_delete_experiment(const char *experiment_id);
MLFLOW_API int mlflow_search_experiments(const struct mlflow_search_experiments_opts *opts,
                                         struct mlflow_experiment_list **out);
/* With no experiment ids in opts (or opts NULL), searches the current
 * experiment: the one new runs would go to. */
MLFLOW_API int mlflow_search_runs(const struct mlflow_search_runs_opts *opts,
                                  struct mlflow_run_list **out);
/* Tags on the current experiment, one call per tag. */
MLFLOW_API int mlflow_set_experiment_tags(const struct mlflow_kv *tags, size_t n);

/* Ends every open run FINISHED and releases the fluent state (clients,
 * tracking URI, active experiment); the next fluent call starts afresh. It
 * waits for fluent calls in progress on other threads. At a normal exit
 * open runs are ended automatically (without freeing anything, since other
 * threads may still be running). */
MLFLOW_API void mlflow_shutdown(void);

/* ------------------------------------------------------------------------ */
/* Asynchronous logging                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Queued logging, MLflow's `synchronous=False`: log_metric(s), log_param(s),
 * set_tag(s) and log_batch validate their input, queue it and return; a
 * thread per client sends the queued values as log-batch requests (at most
 * 1000 metrics, 100 params, 100 tags, 1000 values each), per run. It works
 * with every store; it pays most over REST, where it turns one request per
 * value into one per thousand.
 *
 * Which calls are queued: the *_async functions always; the others when
 * mlflow_set_async_logging(true) was called, or, until it is called, when
 * $MLFLOW_ENABLE_ASYNC_LOGGING was true when the client (or the fluent
 * layer's client) was opened. Internal calls (the server's) never queue.
 *
 * What is guaranteed:
 *   - Input errors (a bad key, an overlong value that may not be cut) are
 *     returned by the logging call itself.
 *   - Values of one run reach the store in the order they were logged, so
 *     every key keeps its order. Runs are independent of each other, and of
 *     synchronous calls (a get_run may not see queued values yet).
 *   - mlflow_flush() and mlflow_client_flush() wait until every value queued
 *     before them is delivered, and return the first error since the last
 *     flush: a value the store refused (a param logged again with another
 *     value, a deleted run); the message names the run and the store's
 *     reason (for a param, its key). Only the refused call's values are
 *     lost; the others are delivered. If the store cannot be reached (REST:
 *     connection refused, 5xx or 429 after the REST retries), they return
 *     TEMPORARILY_UNAVAILABLE (or the code the store gave) as soon as one
 *     new attempt has failed: the values stay queued and a later flush
 *     tries again.
 *   - Ending a run (mlflow_end_run, mlflow_client_set_terminated, an
 *     update_run to FINISHED/FAILED/KILLED) waits for that run's values
 *     first. With the store unreachable, the end is queued behind them and
 *     the call returns the store's error.
 *   - Logging never blocks on the store. Memory is bounded: at most
 *     $MLFLOW_ASYNC_LOGGING_QUEUE_SIZE values (default 100000) and 64 MiB
 *     per client. Past that, values are appended to a spill file,
 *     $TMPDIR/mlflow-async-<pid>-<random>.jsonl (mode 0600), and delivered
 *     from it, in order, when the store answers again. If the file cannot
 *     be written, the call fails with RESOURCE_EXHAUSTED (data loss).
 *   - mlflow_client_close(), mlflow_shutdown() and a normal exit deliver
 *     what they can: close waits while the store answers; exit waits at most
 *     $MLFLOW_ASYNC_LOGGING_EXIT_TIMEOUT_SECONDS (default 10). Values left
 *     over are written to the spill file, which is kept (fdatasync'ed), and
 *     one line on stderr names it; mlflow_async_replay() delivers it.
 * What is not:
 *   - A crash (SIGKILL, a fatal signal) loses the values still in memory;
 *     spilled values survive it (written with write(2), not fsync'ed: they
 *     do not survive a machine crash).
 *   - Delivery is at least once: a request that reached the store but whose
 *     answer was lost is sent again (metric points may then appear twice).
 *   - $MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS (MLflow's variable) delays
 *     sending to gather bigger requests (default 0: send at once);
 *     MLflow's MLFLOW_ASYNC_LOGGING_THREADPOOL_SIZE is not used (one thread
 *     per client keeps the order).
 */
MLFLOW_API void mlflow_set_async_logging(bool enabled);
/* Waits for every value queued through the fluent API (every client it
 * opened) before the call. 0 when all were delivered; else the first error
 * since the last flush, as described above. */
MLFLOW_API int mlflow_flush(void);
/* Delivers the values kept in a spill file, in order, to tracking_uri (NULL:
 * the URI recorded in the file), and removes the file when all are in; what
 * cannot be delivered stays in it. Returns as mlflow_flush(). */
MLFLOW_API int mlflow_async_replay(const char *spill_path, const char *tracking_uri);

/* ------------------------------------------------------------------------ */
/* Projects (MLflow's `mlflow run`)                                         */
/* ------------------------------------------------------------------------ */

struct mlflow_project_opts {
    const char *entry_point;      /* NULL: "main" */
    const char *version;          /* git branch, tag or commit; NULL: the default branch */
    const struct mlflow_kv *parameters; /* -P k=v, in order; undeclared ones are appended */
    size_t n_parameters;
    const char *experiment_name;  /* created when missing; at most one of name and id */
    const char *experiment_id;    /* neither: $MLFLOW_EXPERIMENT_ID/_NAME, else "0" */
    const char *run_name;
    const char *backend;          /* NULL or "local" (the only one) */
    const char *backend_config;   /* JSON object text or a JSON file path; NULL: none */
    /* "local" (the current environment), "virtualenv" (a new python3 -m venv
     * with python_env.yaml's dependencies) or "conda" (an env made by
     * `conda env create` from the conda yaml, reused while it is unchanged);
     * NULL: as the project's environment says, local when it has none.
     * docker_env projects always run in `docker run`. */
    const char *env_manager;
    /* clones, archives, venvs, downloaded `path` params; NULL: $TMPDIR or /tmp */
    const char *storage_dir;
    bool asynchronous;            /* false (MLflow's synchronous=True): wait for the end */
    const char *run_id;           /* run in this existing run instead of a new one */
    const char *tracking_uri;     /* NULL: mlflow_get_tracking_uri()'s default resolution */
    /* docker_env only. build_image (MLflow's --build-image): run an image
     * built FROM the docker_env image with the project copied in, instead
     * of the docker_env image itself. docker_args (MLflow's -A): each
     * becomes `docker run --key value`, or the flag `--key` when value is
     * NULL (one-letter keys take one dash). */
    bool build_image;
    const struct mlflow_kv *docker_args;
    size_t n_docker_args;
};

struct mlflow_submitted_run;

/*
 * Fetches the project at `uri` (a local folder, a file:// URI, or anything
 * `git clone` accepts, each with an optional "#subdirectory"), creates a run
 * with the project tags and every parameter logged, and runs the entry
 * point's command with `bash -c` in the project folder, with MLFLOW_RUN_ID,
 * MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID set (a docker_env project's
 * command runs in MLflow's `docker run` line). Parameter values reach
 * the program as literal text (each is shell-quoted); as in MLflow, the
 * params logged are those shell-quoted values ("it's" is logged as
 * 'it'"'"'s'), and `path` params as given, not made absolute.
 *
 * Synchronous (the default): waits, ends the run FINISHED on exit status 0,
 * else FAILED and returns MLFLOW_INTERNAL_ERROR ("Run (ID '...') failed");
 * a run the program already ended itself keeps its status. Asynchronous:
 * returns as soon as the program started; its status is recorded by
 * mlflow_submitted_run_wait(), _status() or _cancel().
 *
 * Git clones, unpacked archives and virtualenvs are made under storage_dir
 * and left there, as MLflow leaves them. While a synchronous run waits,
 * SIGINT (Ctrl-C) cancels it as mlflow_submitted_run_cancel() does (the run
 * ends KILLED), then the caller's own SIGINT disposition is restored and
 * the signal raised again, so the program stops or handles it as it would
 * have; if it goes on, the call returns MLFLOW_CANCELLED. A SIGINT the
 * program ignores stays ignored. Asynchronous runs install nothing.
 *
 * *out gets the submitted run whenever the run was created, failures
 * included; free it with mlflow_submitted_run_free(). It may be NULL for a
 * synchronous run only.
 */
MLFLOW_API int mlflow_run_project(const char *uri, const struct mlflow_project_opts *opts,
                                  struct mlflow_submitted_run **out);
/* The run's id, owned by the handle. */
MLFLOW_API const char *mlflow_submitted_run_id(const struct mlflow_submitted_run *run);
/* The command line given to `bash -c` ("" if none was started); owned by
 * the handle. */
MLFLOW_API const char *mlflow_submitted_run_command(const struct mlflow_submitted_run *run);
/* Waits for the program to end and records the run's final status;
 * *succeeded (may be NULL) is true iff it exited with status 0. */
MLFLOW_API int mlflow_submitted_run_wait(struct mlflow_submitted_run *run, bool *succeeded);
/* RUNNING while the program runs, then FINISHED, FAILED or KILLED
 * (enum mlflow_run_status). Does not block. */
MLFLOW_API int mlflow_submitted_run_status(struct mlflow_submitted_run *run);
/* SIGTERM to the program's process group, SIGKILL after a grace period
 * (MLFLOW_PROJECT_CANCEL_GRACE_MS), then marks the run KILLED unless it
 * had already ended. */
#define MLFLOW_PROJECT_CANCEL_GRACE_MS 5000
MLFLOW_API int mlflow_submitted_run_cancel(struct mlflow_submitted_run *run);
/* Releases the handle. A program still running keeps running (and its run
 * keeps its status); NULL is a no-op. */
MLFLOW_API void mlflow_submitted_run_free(struct mlflow_submitted_run *run);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_H */
