/*
 * conformance.h - shared fixture, helpers and the test list of the
 * conformance suite.
 *
 * Tests use only the public client API (mlflow.h), so the same program
 * checks every backend. Each test gets a fresh store and an open client in
 * struct conf. To add a test: write `void conf_test_<name>(void **state)` in
 * the file of its area and add X(<name>) to CONF_TESTS below.
 */
#ifndef CONF_CONFORMANCE_H
#define CONF_CONFORMANCE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "backends.h"
#include "mlflow.h"

#define CONF_TESTS(X)                                   \
    /* experiments.c */                                 \
    X(experiment_default_exists)                        \
    X(experiment_create_and_get)                        \
    X(experiment_create_with_artifact_location)         \
    X(experiment_get_missing)                           \
    X(experiment_get_by_name_missing)                   \
    X(create_experiment_duplicate_name)                 \
    X(experiment_name_reuse_after_delete)               \
    X(experiment_invalid_names)                         \
    X(experiment_rename)                                \
    X(experiment_delete_restore)                        \
    X(experiment_delete_restore_runs)                   \
    X(experiment_delete_default_refused)                \
    X(experiment_tags)                                  \
    /* runs.c */                                        \
    X(run_create_with_name_tags_start_time)             \
    X(run_create_defaults)                              \
    X(run_user_id)                                      \
    X(run_name_tag_conflict)                            \
    X(run_name_from_tag)                                \
    X(run_generated_name)                               \
    X(run_update)                                       \
    X(run_set_terminated)                               \
    X(run_delete_restore)                               \
    X(run_log_into_deleted_run)                         \
    X(run_log_into_finished_run)                        \
    X(run_create_in_deleted_experiment)                 \
    X(run_get_missing)                                  \
    /* logging.c */                                     \
    X(param_immutable)                                  \
    X(param_empty_value)                                \
    X(param_long_values)                                \
    X(param_unicode_value)                              \
    X(metric_latest_is_max_step_timestamp_value)        \
    X(metric_special_values)                            \
    X(metric_negative_step)                             \
    X(metric_history_in_order)                          \
    X(metric_negative_timestamp)                        \
    X(metric_exact_round_trip)                          \
    X(tag_overwrite)                                    \
    X(tag_delete)                                       \
    X(tag_delete_missing)                               \
    X(tag_run_name_renames)                             \
    /* validation.c */                                  \
    X(key_invalid_names)                                \
    X(key_valid_names)                                  \
    X(key_length_limit)                                 \
    X(batch_limits)                                     \
    X(batch_duplicate_param_key)                        \
    X(batch_mixed)                                      \
    /* search_runs.c */                                 \
    X(search_runs_view_types)                           \
    X(search_runs_max_results)                          \
    X(search_runs_page_tokens)                          \
    X(search_runs_bad_page_token)                       \
    X(search_runs_default_order)                        \
    X(search_runs_order_by_metric)                      \
    X(search_runs_order_by_param)                       \
    X(search_runs_order_by_attribute)                   \
    X(search_runs_filter_metric)                        \
    X(search_runs_filter_param)                         \
    X(search_runs_filter_tag_like)                      \
    X(search_runs_filter_attribute)                     \
    X(search_runs_filter_run_id_in)                     \
    X(search_runs_filter_missing_key)                   \
    X(search_runs_invalid_filter)                       \
    X(search_runs_multiple_experiments)                 \
    /* search_experiments.c */                          \
    X(search_experiments_view_types)                    \
    X(search_experiments_filter)                        \
    X(search_experiments_order_by_name)                 \
    X(search_experiments_paging)                        \
    /* inputs.c */                                      \
    X(inputs_logged_and_read_back)                      \
    X(inputs_same_dataset_kept_once)                    \
    X(inputs_invalid)                                   \
    /* concurrency.c */                                 \
    X(concurrent_log_metric)

#define CONF_DECLARE(name) void conf_test_##name(void **state);
CONF_TESTS(CONF_DECLARE)
#undef CONF_DECLARE

/* The per-test fixture: a fresh store behind an open client. */
struct conf {
    const struct conf_backend *backend;
    void *backend_ctx;
    char *uri;
    struct mlflow_client *client;
};

/* Room for any backend's run or experiment id plus the NUL. */
#define CONF_ID_MAX 80

/* Fails the test, printing the call, both codes and mlflow_last_error(),
 * unless rc == want. */
void conf_check_rc(int rc, int want, const char *expr, const char *file, int line);
#define CONF_OK(expr) conf_check_rc((expr), MLFLOW_OK, #expr, __FILE__, __LINE__)
#define CONF_ERR(expr, code) conf_check_rc((expr), (code), #expr, __FILE__, __LINE__)

/* True when the running backend has capability `cap` (enum conf_cap). */
int conf_has(const struct conf *c, unsigned cap);

int64_t conf_now_ms(void);

/* Creates an experiment (test fails otherwise); id into id[CONF_ID_MAX]. */
void conf_experiment(struct conf *c, const char *name, char *id);
/* Creates a run with run_name `name` (NULL: generated) and start_time
 * (0: now) in experiment `exp_id`; id into id[CONF_ID_MAX]. */
void conf_run(struct conf *c, const char *exp_id, const char *name, int64_t start_time, char *id);
/* Fetches a run; the test fails when that fails. Free with mlflow_run_free. */
struct mlflow_run *conf_get_run(struct conf *c, const char *run_id);
struct mlflow_experiment *conf_get_experiment(struct conf *c, const char *id);
/* Runs of `exp_id` with view_type (0 = active only) as a list (max 1000). */
struct mlflow_run_list *conf_search_runs(struct conf *c, const char *exp_id, int view_type);
/* True when the list holds a run with this id. */
int conf_list_has_run(const struct mlflow_run_list *l, const char *run_id);
/* mlflow_last_error() contains `needle`. */
int conf_error_mentions(const char *needle);
/* A malloc'ed string of `count` copies of `unit`. */
char *conf_repeat(const char *unit, size_t count);

#endif /* CONF_CONFORMANCE_H */
