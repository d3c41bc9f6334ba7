/*
 * search.h - MLflow's search language (spec section 6), parsed once.
 *
 * The client parses the filter and order_by strings into the structures
 * below and hands them to the store. SQL stores compile them to SQL with
 * bound parameters; the file store evaluates them in memory with
 * mlflow__run_matches() and mlflow__run_compare(). Both must agree.
 */
#ifndef MLFLOW_SEARCH_H
#define MLFLOW_SEARCH_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mlflow__ident {
    MLFLOW__ID_METRIC = 1,
    MLFLOW__ID_PARAM,
    MLFLOW__ID_TAG,
    MLFLOW__ID_ATTR,
    MLFLOW__ID_DATASET,
};

enum mlflow__cmp {
    MLFLOW__CMP_EQ = 1,
    MLFLOW__CMP_NE,
    MLFLOW__CMP_GT,
    MLFLOW__CMP_GE,
    MLFLOW__CMP_LT,
    MLFLOW__CMP_LE,
    MLFLOW__CMP_LIKE,
    MLFLOW__CMP_ILIKE,
    MLFLOW__CMP_IN,
    MLFLOW__CMP_NOT_IN,
};

/* Canonical attribute keys after alias resolution. Runs: "run_id",
 * "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time",
 * "lifecycle_stage". Experiments: "name", "creation_time", "last_update_time",
 * "experiment_id".
 *
 * What the parser produces (search.c; MLflow 2.12's rules):
 *   - "lifecycle_stage" never comes out of a filter or order_by (MLflow does
 *     not search on it); the evaluators still honour it, for conditions a
 *     store builds itself. Experiment filters never hold "experiment_id";
 *     experiment orders may.
 *   - numeric conditions: metrics and the time attributes. For run
 *     start_time/end_time, num is always integral (fractions are refused).
 *   - str is the text between the quotes, verbatim (no unescaping, as MLflow).
 *   - IN / NOT IN: only run_id and dataset keys; str is NULL and list holds
 *     the values. n_list may be 0, since values with uppercase letters are
 *     dropped as MLflow does (IN () matches nothing, NOT IN () everything).
 *   - Dataset conditions (key "name", "digest" or "context") never match in
 *     mlflow__run_matches: struct mlflow_run carries no dataset inputs, and a
 *     run without inputs matches none in MLflow either. */
struct mlflow__cond {
    int ident;      /* enum mlflow__ident */
    char *key;      /* metric/param/tag key, or canonical attribute name */
    int cmp;        /* enum mlflow__cmp */
    bool numeric;   /* value is num (metrics, numeric attributes) */
    double num;
    char *str;      /* string value (also the LIKE pattern) */
    char **list;    /* IN / NOT IN values */
    size_t n_list;
};

struct mlflow__filter {
    struct mlflow__cond *conds; /* joined by AND */
    size_t n;
};

struct mlflow__order {
    int ident;   /* enum mlflow__ident */
    char *key;
    bool ascending;
};

struct mlflow__orders {
    struct mlflow__order *items;
    size_t n;
};

/* Parse a runs filter ("" or NULL gives an empty filter, n == 0; a filter of
 * only whitespace is an error, as in MLflow). Errors are
 * INVALID_PARAMETER_VALUE with a message that quotes the bad token
 * (RESOURCE_EXHAUSTED when out of memory); *out is then NULL. Free with
 * mlflow__filter_free (NULL is a no-op). */
MLFLOW_INTERNAL int mlflow__filter_parse_runs(const char *s, struct mlflow__filter **out,
                                              struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__filter_parse_experiments(const char *s, struct mlflow__filter **out,
                                                     struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__filter_free(struct mlflow__filter *f);

/* Each order_by string is one "<identifier> [ASC|DESC]". The result holds
 * the caller's clauses only (n may be 0); the base order is applied by the
 * compare functions below, and SQL stores must append the same. */

MLFLOW_INTERNAL int mlflow__orders_parse_runs(const char *const *order_by, size_t n,
                                              struct mlflow__orders **out,
                                              struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__orders_parse_experiments(const char *const *order_by, size_t n,
                                                     struct mlflow__orders **out,
                                                     struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__orders_free(struct mlflow__orders *o);

/* In-memory evaluation (file store). A run lacking a referenced key never
 * matches. Metric conditions use the latest value (run->data.metrics). */
MLFLOW_INTERNAL bool mlflow__run_matches(const struct mlflow__filter *f, const struct mlflow_run *r);
MLFLOW_INTERNAL bool mlflow__experiment_matches(const struct mlflow__filter *f,
                                                const struct mlflow_experiment *e);
/* Total orders for qsort (o may be NULL: no clauses).
 * Runs: the caller's clauses, then start_time DESC, then run_id ASC.
 * Experiments: with no clauses, creation_time DESC then experiment_id ASC;
 * otherwise the caller's clauses, then experiment_id DESC unless a clause is
 * on experiment_id (ids compare as strings, as in MLflow's file store).
 * Values present sort first, then NaN, then missing, in both directions;
 * strings compare bytewise (= by code point). */
MLFLOW_INTERNAL int mlflow__run_compare(const struct mlflow__orders *o, const struct mlflow_run *a,
                                        const struct mlflow_run *b);
MLFLOW_INTERNAL int mlflow__experiment_compare(const struct mlflow__orders *o,
                                               const struct mlflow_experiment *a,
                                               const struct mlflow_experiment *b);
/* SQL LIKE: '%' any run, '_' one character (UTF-8 aware), anchored. */
MLFLOW_INTERNAL bool mlflow__like(const char *pattern, const char *s, bool case_insensitive);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_SEARCH_H */
