/*
 * client.c - MLflow's MlflowClient: validation in one place, then the store.
 *
 * Every input is checked here (spec section 3) before any store sees it, so
 * all backends share one set of rules and messages. Overlong param and tag
 * values are truncated here (MLFLOW_TRUNCATE_LONG_VALUES), which needs copies
 * of the caller's arrays; the copies are made only when something is cut.
 */
#include "client.h"

#include "artifacts/artifacts.h"
#include "async.h"
#include "search.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Runs `expr` with a local error and publishes it on failure. */
#define PUBLIC_CALL(expr)                                                       \
    do {                                                                        \
        struct mlflow_error err_ = {0};                                         \
        struct mlflow_error *err = &err_;                                       \
        int rc_ = (expr);                                                       \
        if (rc_ && err_.code == 0)                                              \
            err_.code = rc_;                                                    \
        return rc_ ? mlflow__publish(err) : MLFLOW_OK;                          \
    } while (0)

#define NEED_CLIENT(c, err)                                                     \
    do {                                                                        \
        if (!(c))                                                               \
            return mlflow__seterr((err), MLFLOW_INVALID_PARAMETER_VALUE,        \
                                  "client is NULL");                            \
    } while (0)

/* ---- tracking URI ---- */

char *mlflow__resolve_tracking_uri(const char *explicit_uri)
{
    if (explicit_uri && *explicit_uri)
        return mlflow__strdup(explicit_uri);
    const char *env = getenv("MLFLOW_TRACKING_URI");
    if (env && *env)
        return mlflow__strdup(env);
    const char *dir = getenv("MLFLOW_TRACKING_DIR");
    char *abs = mlflow__abspath(dir && *dir ? dir : "mlruns");
    char *uri = abs ? mlflow__path_to_file_uri(abs) : NULL;
    mlflow__free(abs);
    return uri;
}

int mlflow__client_open(const char *uri, struct mlflow_client **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_client *c = mlflow__calloc(1, sizeof *c);
    if (!c)
        return mlflow__oom(err);
    c->tracking_uri = mlflow__resolve_tracking_uri(uri);
    if (!c->tracking_uri) {
        mlflow__free(c);
        return mlflow__oom(err);
    }
    int rc = mlflow__store_open(c->tracking_uri, &c->store, err);
    if (rc) {
        mlflow__free(c->tracking_uri);
        mlflow__free(c);
        return rc;
    }
    mlflow__async_client_init(c);
    *out = c;
    return MLFLOW_OK;
}

int mlflow_client_open(const char *tracking_uri, struct mlflow_client **out)
{
    if (!out)
        PUBLIC_CALL(mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "out is NULL"));
    PUBLIC_CALL(mlflow__client_open(tracking_uri, out, err));
}

void mlflow_client_close(struct mlflow_client *c)
{
    if (!c)
        return;
    mlflow__async_close(c); /* queued values first: they need the store */
    mlflow__store_close(c->store);
    mlflow__free(c->tracking_uri);
    mlflow__free(c);
}

const char *mlflow_client_tracking_uri(const struct mlflow_client *c)
{
    return c ? c->tracking_uri : NULL;
}

/* ---- helpers ---- */

/* Validates keys and values of a kv array; when a value must be truncated,
 * *copy gets a malloc'ed array whose values point at malloc'ed prefixes
 * (free with free_kv_copy). kind: "param", "tag" or "experiment tag". */
static void free_kv_copy(struct mlflow_kv *copy, const struct mlflow_kv *orig, size_t n);

static int check_kvs_inner(const char *kind, const struct mlflow_kv *kv, size_t n,
                           size_t max_chars, bool truncate_ok, struct mlflow_kv **copy,
                           struct mlflow_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = mlflow__validate_key(kind, kv[i].key, err);
        if (rc)
            return rc;
        const char *v = kv[i].value ? kv[i].value : "";
        size_t keep;
        if (!truncate_ok) {
            size_t chars = mlflow__utf8_len(v);
            if (!mlflow__utf8_valid(v, strlen(v)))
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Invalid value for %s '%s': it is not valid UTF-8", kind,
                                      kv[i].key);
            if (chars > max_chars)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "%s value for key '%s' had length %zu, which exceeded "
                                      "length limit of %zu",
                                      kind, kv[i].key, chars, max_chars);
            continue;
        }
        rc = mlflow__validate_value(kind, kv[i].key, v, max_chars, &keep, err);
        if (rc)
            return rc;
        if (keep == strlen(v) && kv[i].value)
            continue;
        if (!*copy) {
            *copy = mlflow__calloc(n ? n : 1, sizeof **copy);
            if (!*copy)
                return mlflow__oom(err);
            memcpy(*copy, kv, n * sizeof *kv);
        }
        /* An owned value never aliases the caller's pointer, which is how
         * free_kv_copy tells them apart. */
        char *cut = mlflow__strndup(v, keep);
        if (!cut)
            return mlflow__oom(err);
        (*copy)[i].value = cut;
    }
    return MLFLOW_OK;
}

static int check_kvs(const char *kind, const struct mlflow_kv *kv, size_t n, size_t max_chars,
                     bool truncate_ok, struct mlflow_kv **copy, struct mlflow_error *err)
{
    *copy = NULL;
    int rc = check_kvs_inner(kind, kv, n, max_chars, truncate_ok, copy, err);
    if (rc) {
        free_kv_copy(*copy, kv, n);
        *copy = NULL;
    }
    return rc;
}

static void free_kv_copy(struct mlflow_kv *copy, const struct mlflow_kv *orig, size_t n)
{
    if (!copy)
        return;
    for (size_t i = 0; i < n; i++)
        if (copy[i].value != orig[i].value)
            mlflow__free((char *)copy[i].value);
    mlflow__free(copy);
}

static int check_max_results(int64_t *mr, int64_t dflt, struct mlflow_error *err)
{
    if (*mr == 0)
        *mr = dflt;
    if (*mr < 1 || *mr > MLFLOW_MAX_RESULTS_CAP)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value %lld for parameter 'max_results' supplied. It must "
                              "be a positive integer at most %d",
                              (long long)*mr, MLFLOW_MAX_RESULTS_CAP);
    return MLFLOW_OK;
}

static int check_view_type(int *vt, struct mlflow_error *err)
{
    if (*vt == 0)
        *vt = MLFLOW_VIEW_ACTIVE_ONLY;
    if (*vt < MLFLOW_VIEW_ACTIVE_ONLY || *vt > MLFLOW_VIEW_ALL)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value %d for parameter 'view_type'", *vt);
    return MLFLOW_OK;
}

/* ---- experiments ---- */

int mlflow__client_create_experiment(struct mlflow_client *c, const char *name,
                                     const struct mlflow_experiment_opts *opts, char **out_id,
                                     struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_experiment_name(name, err);
    if (rc)
        return rc;
    const char *loc = opts ? opts->artifact_location : NULL;
    if (loc && !*loc)
        loc = NULL;
    if (loc && strncmp(loc, "runs:", 5) == 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid artifact_location '%s': 'runs:' URIs cannot be used as an "
                              "experiment's artifact location",
                              loc);
    const struct mlflow_kv *tags = opts ? opts->tags : NULL;
    size_t n_tags = opts ? opts->n_tags : 0;
    struct mlflow_kv *copy;
    rc = check_kvs("experiment tag", tags, n_tags, MLFLOW_MAX_EXPERIMENT_TAG_VAL_LENGTH, false,
                   &copy, err);
    if (rc)
        return rc;
    char *id = NULL;
    rc = c->store->ops->create_experiment(c->store, name, loc, tags, n_tags, &id, err);
    if (!rc && out_id)
        *out_id = id;
    else
        mlflow__free(id);
    return rc;
}

int mlflow_client_create_experiment(struct mlflow_client *c, const char *name,
                                    const struct mlflow_experiment_opts *opts, char **out_id)
{
    PUBLIC_CALL(mlflow__client_create_experiment(c, name, opts, out_id, err));
}

int mlflow__client_get_experiment(struct mlflow_client *c, const char *id,
                                  struct mlflow_experiment **out, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    int rc = mlflow__validate_experiment_id(id, err);
    return rc ? rc : c->store->ops->get_experiment(c->store, id, out, err);
}

int mlflow_client_get_experiment(struct mlflow_client *c, const char *id,
                                 struct mlflow_experiment **out)
{
    PUBLIC_CALL(mlflow__client_get_experiment(c, id, out, err));
}

int mlflow__client_get_experiment_by_name(struct mlflow_client *c, const char *name,
                                          struct mlflow_experiment **out, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    if (!name || !*name)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'experiment_name'");
    return c->store->ops->get_experiment_by_name(c->store, name, out, err);
}

int mlflow_client_get_experiment_by_name(struct mlflow_client *c, const char *name,
                                         struct mlflow_experiment **out)
{
    PUBLIC_CALL(mlflow__client_get_experiment_by_name(c, name, out, err));
}

/* What searches of runs and of experiments check alike: view type and
 * max_results resolved, and the page token decoded into an offset unless
 * the store is remote (its server reads the token itself). */
static int check_search_paging(struct mlflow_client *c, int *view_type, int64_t *max_results,
                               const char *page_token, int64_t *offset, struct mlflow_error *err)
{
    int rc = check_view_type(view_type, err);
    if (!rc)
        rc = check_max_results(max_results, 1000, err);
    if (!rc && !c->store->ops->remote)
        rc = mlflow__page_token_decode(page_token, offset, err);
    return rc;
}

static int search_experiments(struct mlflow_client *c,
                              const struct mlflow_search_experiments_opts *opts,
                              struct mlflow_experiment_list **out, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    struct mlflow_search_experiments_opts o = {0};
    if (opts)
        o = *opts;
    struct mlflow__search_experiments q = {
        .view_type = o.view_type,
        .max_results = o.max_results,
        .filter_string = o.filter,
        .order_by = o.order_by,
        .n_order_by = o.n_order_by,
        .page_token = o.page_token,
    };
    /* A remote store's server parses the search itself (store.h). */
    bool remote = c->store->ops->remote;
    int rc = check_search_paging(c, &q.view_type, &q.max_results, o.page_token, &q.offset, err);
    struct mlflow__filter *f = NULL;
    struct mlflow__orders *ord = NULL;
    if (!rc)
        rc = mlflow__filter_parse_experiments(remote ? NULL : o.filter, &f, err);
    if (!rc)
        rc = mlflow__orders_parse_experiments(o.order_by, remote ? 0 : o.n_order_by, &ord, err);
    if (!rc) {
        q.filter = f;
        q.order = ord;
        rc = c->store->ops->search_experiments(c->store, &q, out, err);
    }
    mlflow__filter_free(f);
    mlflow__orders_free(ord);
    return rc;
}

int mlflow_client_search_experiments(struct mlflow_client *c,
                                     const struct mlflow_search_experiments_opts *opts,
                                     struct mlflow_experiment_list **out)
{
    PUBLIC_CALL(search_experiments(c, opts, out, err));
}

static int experiment_op(struct mlflow_client *c, const char *id, int which,
                         struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_experiment_id(id, err);
    if (rc)
        return rc;
    return which ? c->store->ops->restore_experiment(c->store, id, err)
                 : c->store->ops->delete_experiment(c->store, id, err);
}

int mlflow_client_delete_experiment(struct mlflow_client *c, const char *id)
{
    PUBLIC_CALL(experiment_op(c, id, 0, err));
}

int mlflow_client_restore_experiment(struct mlflow_client *c, const char *id)
{
    PUBLIC_CALL(experiment_op(c, id, 1, err));
}

static int rename_experiment(struct mlflow_client *c, const char *id, const char *new_name,
                             struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_experiment_id(id, err);
    if (!rc)
        rc = mlflow__validate_experiment_name(new_name, err);
    return rc ? rc : c->store->ops->rename_experiment(c->store, id, new_name, err);
}

int mlflow_client_rename_experiment(struct mlflow_client *c, const char *id, const char *new_name)
{
    PUBLIC_CALL(rename_experiment(c, id, new_name, err));
}

int mlflow__client_set_experiment_tag(struct mlflow_client *c, const char *id, const char *key,
                                      const char *value, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_experiment_id(id, err);
    if (rc)
        return rc;
    struct mlflow_kv kv = {key, value ? value : ""}, *copy;
    rc = check_kvs("experiment tag", &kv, 1, MLFLOW_MAX_EXPERIMENT_TAG_VAL_LENGTH, false, &copy,
                   err);
    return rc ? rc : c->store->ops->set_experiment_tag(c->store, id, key, kv.value, err);
}

int mlflow_client_set_experiment_tag(struct mlflow_client *c, const char *id, const char *key,
                                     const char *value)
{
    PUBLIC_CALL(mlflow__client_set_experiment_tag(c, id, key, value, err));
}

/* ---- runs ---- */

static const char *kv_get(const struct mlflow_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; kv && i < n; i++)
        if (kv[i].key && strcmp(kv[i].key, key) == 0)
            return kv[i].value ? kv[i].value : "";
    return NULL;
}

int mlflow__client_create_run(struct mlflow_client *c, const char *experiment_id,
                              const struct mlflow_create_run_opts *opts, struct mlflow_run **out,
                              struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    if (out)
        *out = NULL;
    struct mlflow_create_run_opts o = {0};
    if (opts)
        o = *opts;
    int rc = mlflow__validate_experiment_id(experiment_id, err);
    if (rc)
        return rc;
    if (o.start_time < 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value %lld for parameter 'start_time'",
                              (long long)o.start_time);
    struct mlflow_kv *copy;
    rc = check_kvs("tag", o.tags, o.n_tags, MLFLOW_MAX_TAG_VAL_LENGTH, true, &copy, err);
    if (rc)
        return rc;
    const struct mlflow_kv *tags = copy ? copy : o.tags;

    /* run_name and the mlflow.runName tag must agree; either one names the
     * run, and an unnamed run gets a generated name stored in both. */
    const char *tag_name = kv_get(tags, o.n_tags, "mlflow.runName");
    const char *name = o.run_name && *o.run_name ? o.run_name : NULL;
    if (name && tag_name && strcmp(name, tag_name) != 0) {
        free_kv_copy(copy, o.tags, o.n_tags);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Both 'run_name' argument and 'mlflow.runName' tag are specified, "
                              "but with different values (run_name='%s', mlflow.runName='%s').",
                              name, tag_name);
    }
    char generated[64];
    if (!name)
        name = tag_name && *tag_name ? tag_name : NULL;
    if (!name) {
        mlflow__random_run_name(generated);
        name = generated;
    }
    if (mlflow__utf8_len(name) > MLFLOW_MAX_ENTITY_KEY_LENGTH) {
        free_kv_copy(copy, o.tags, o.n_tags);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Run name '%.64s...' is longer than %d characters", name,
                              MLFLOW_MAX_ENTITY_KEY_LENGTH);
    }
    /* Final tag list: the caller's, plus mlflow.runName when missing. */
    size_t n = o.n_tags + (tag_name ? 0 : 1);
    struct mlflow_kv *all = mlflow__calloc(n ? n : 1, sizeof *all);
    if (!all) {
        free_kv_copy(copy, o.tags, o.n_tags);
        return mlflow__oom(err);
    }
    if (o.n_tags)
        memcpy(all, tags, o.n_tags * sizeof *all);
    if (!tag_name)
        all[o.n_tags] = (struct mlflow_kv){"mlflow.runName", name};
    const char *user = o.user_id && *o.user_id ? o.user_id : kv_get(all, n, "mlflow.user");
    /* Stores always hand back the run; a caller that did not ask for it
     * (out == NULL, as the header allows) gets it freed here. */
    struct mlflow_run *run = NULL;
    rc = c->store->ops->create_run(c->store, experiment_id, user && *user ? user : "unknown",
                                   o.start_time ? o.start_time : mlflow__now_ms(), name, all, n,
                                   &run, err);
    if (out)
        *out = run;
    else
        mlflow_run_free(run);
    mlflow__free(all);
    free_kv_copy(copy, o.tags, o.n_tags);
    return rc;
}

int mlflow_client_create_run(struct mlflow_client *c, const char *experiment_id,
                             const struct mlflow_create_run_opts *opts, struct mlflow_run **out)
{
    PUBLIC_CALL(mlflow__client_create_run(c, experiment_id, opts, out, err));
}

int mlflow__client_get_run(struct mlflow_client *c, const char *run_id, struct mlflow_run **out,
                           struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    int rc = mlflow__validate_run_id(run_id, err);
    return rc ? rc : c->store->ops->get_run(c->store, run_id, out, err);
}

int mlflow_client_get_run(struct mlflow_client *c, const char *run_id, struct mlflow_run **out)
{
    PUBLIC_CALL(mlflow__client_get_run(c, run_id, out, err));
}

int mlflow__client_update_run(struct mlflow_client *c, const char *run_id,
                              const struct mlflow_update_run_opts *opts, struct mlflow_run **out,
                              struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    if (out)
        *out = NULL;
    struct mlflow_update_run_opts o = {0};
    if (opts)
        o = *opts;
    int rc = mlflow__validate_run_id(run_id, err);
    if (rc)
        return rc;
    if (o.status && !mlflow_run_status_name(o.status))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value %d for parameter 'status'", o.status);
    if (o.end_time < 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value %lld for parameter 'end_time'",
                              (long long)o.end_time);
    if (o.run_name && *o.run_name && mlflow__utf8_len(o.run_name) > MLFLOW_MAX_ENTITY_KEY_LENGTH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Run name '%.64s...' is longer than %d characters", o.run_name,
                              MLFLOW_MAX_ENTITY_KEY_LENGTH);
    /* A run is marked ended only after its queued values are in (or, with
     * the store unreachable, its end is queued behind them). */
    struct mlflow_error flush_err = {0};
    bool ends = o.status == MLFLOW_RUN_STATUS_FINISHED || o.status == MLFLOW_RUN_STATUS_FAILED ||
                o.status == MLFLOW_RUN_STATUS_KILLED;
    if (ends && o.run_name && *o.run_name && mlflow__async_in_use(c)) {
        /* A queued end carries no name: rename now, end behind the values. */
        if ((rc = c->store->ops->update_run(c->store, run_id, 0, MLFLOW_TIME_UNSET, o.run_name,
                                            NULL, err)))
            return rc;
        o.run_name = NULL;
    }
    if (ends &&
        mlflow__async_end_run(c, run_id, o.status, o.end_time ? o.end_time : mlflow__now_ms(),
                              &flush_err) == MLFLOW__ASYNC_QUEUED) {
        *err = flush_err;
        return flush_err.code;
    }
    rc = c->store->ops->update_run(c->store, run_id, o.status,
                                   o.end_time ? o.end_time : MLFLOW_TIME_UNSET,
                                   o.run_name && *o.run_name ? o.run_name : NULL, out, err);
    if (flush_err.code) {
        *err = flush_err;
        return flush_err.code;
    }
    return rc;
}

int mlflow_client_update_run(struct mlflow_client *c, const char *run_id,
                             const struct mlflow_update_run_opts *opts, struct mlflow_run **out)
{
    PUBLIC_CALL(mlflow__client_update_run(c, run_id, opts, out, err));
}

int mlflow_client_set_terminated(struct mlflow_client *c, const char *run_id, int status,
                                 int64_t end_time)
{
    struct mlflow_update_run_opts o = {
        .status = status ? status : MLFLOW_RUN_STATUS_FINISHED,
        .end_time = end_time ? end_time : mlflow__now_ms(),
    };
    PUBLIC_CALL(mlflow__client_update_run(c, run_id, &o, NULL, err));
}

static int run_op(struct mlflow_client *c, const char *run_id, int which, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_run_id(run_id, err);
    if (rc)
        return rc;
    return which ? c->store->ops->restore_run(c->store, run_id, err)
                 : c->store->ops->delete_run(c->store, run_id, err);
}

int mlflow_client_delete_run(struct mlflow_client *c, const char *run_id)
{
    PUBLIC_CALL(run_op(c, run_id, 0, err));
}

int mlflow_client_restore_run(struct mlflow_client *c, const char *run_id)
{
    PUBLIC_CALL(run_op(c, run_id, 1, err));
}

/* ---- logging ---- */

/* The public logging calls: synchronous or queued (async.c) by `mode`. */
static int log_metric(struct mlflow_client *c, const char *run_id, const char *key, double value,
                      int64_t timestamp, int64_t step, int mode, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    struct mlflow_metric m = {key, value, timestamp ? timestamp : mlflow__now_ms(), step};
    return mlflow__client_log(c, run_id, &m, 1, NULL, 0, NULL, 0, mode, err);
}

static int log_kv(struct mlflow_client *c, const char *run_id, const char *key,
                  const char *value, bool param, int mode, struct mlflow_error *err)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return mlflow__client_log(c, run_id, NULL, 0, param ? &kv : NULL, param, param ? NULL : &kv,
                              !param, mode, err);
}

int mlflow__client_log_metric(struct mlflow_client *c, const char *run_id, const char *key,
                              double value, int64_t timestamp, int64_t step,
                              struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    struct mlflow_metric m = {key, value, timestamp ? timestamp : mlflow__now_ms(), step};
    int rc = mlflow__validate_run_id(run_id, err);
    if (!rc)
        rc = mlflow__validate_metric(&m, err);
    return rc ? rc : c->store->ops->log_batch(c->store, run_id, &m, 1, NULL, 0, NULL, 0, err);
}

int mlflow_client_log_metric(struct mlflow_client *c, const char *run_id, const char *key,
                             double value, int64_t timestamp, int64_t step)
{
    PUBLIC_CALL(log_metric(c, run_id, key, value, timestamp, step, MLFLOW__LOG_DEFAULT, err));
}

int mlflow_client_log_metric_async(struct mlflow_client *c, const char *run_id, const char *key,
                                   double value, int64_t timestamp, int64_t step)
{
    PUBLIC_CALL(log_metric(c, run_id, key, value, timestamp, step, MLFLOW__LOG_ASYNC, err));
}

int mlflow__client_log_batch(struct mlflow_client *c, const char *run_id,
                             const struct mlflow_metric *metrics, size_t n_metrics,
                             const struct mlflow_kv *params, size_t n_params,
                             const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_run_id(run_id, err);
    if (!rc)
        rc = mlflow__validate_batch_sizes(n_metrics, n_params, n_tags, err);
    if (rc)
        return rc;
    if ((n_metrics && !metrics) || (n_params && !params) || (n_tags && !tags))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "log_batch: an array is NULL but its count is not zero");
    for (size_t i = 0; i < n_metrics; i++)
        if ((rc = mlflow__validate_metric(&metrics[i], err)))
            return rc;
    for (size_t i = 0; i < n_params; i++)
        for (size_t j = 0; j < i; j++)
            if (params[i].key && params[j].key && strcmp(params[i].key, params[j].key) == 0)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Duplicate parameter keys have been submitted: ['%s']. "
                                      "Please ensure the request contains only one param value "
                                      "per param key.",
                                      params[i].key);
    struct mlflow_kv *pcopy = NULL, *tcopy = NULL;
    rc = check_kvs("param", params, n_params, MLFLOW_MAX_PARAM_VAL_LENGTH, true, &pcopy, err);
    if (!rc)
        rc = check_kvs("tag", tags, n_tags, MLFLOW_MAX_TAG_VAL_LENGTH, true, &tcopy, err);
    if (!rc)
        rc = c->store->ops->log_batch(c->store, run_id, metrics, n_metrics,
                                      pcopy ? pcopy : params, n_params, tcopy ? tcopy : tags,
                                      n_tags, err);
    free_kv_copy(pcopy, params, n_params);
    free_kv_copy(tcopy, tags, n_tags);
    return rc;
}

int mlflow__check_batch(const struct mlflow_metric *metrics, size_t n_metrics,
                        const struct mlflow_kv *params, size_t n_params,
                        const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err)
{
    if ((n_metrics && !metrics) || (n_params && !params) || (n_tags && !tags))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "log_batch: an array is NULL but its count is not zero");
    if (n_params < 2)
        return MLFLOW_OK;
    for (size_t i = 0; i < n_params; i++)
        if (!params[i].key) /* named by the per-entry validation that follows */
            return MLFLOW_OK;
    /* Sorted, so a batch of many params costs n log n; the key named is the
     * one whose repeat comes first in the batch, as MLflow's check names it. */
    struct mlflow__key_idx *o = mlflow__key_order(params, n_params, sizeof *params);
    if (!o)
        return mlflow__oom(err);
    size_t dup = SIZE_MAX;
    for (size_t k = 1; k < n_params; k++)
        if (strcmp(o[k - 1].key, o[k].key) == 0 && o[k].i < dup)
            dup = o[k].i;
    mlflow__free(o);
    if (dup == SIZE_MAX)
        return MLFLOW_OK;
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Duplicate parameter keys have been submitted: ['%s']. Please ensure "
                          "the request contains only one param value per param key.",
                          params[dup].key);
}

/* MLflow's client splits big batches before sending them (its
 * TrackingServiceClient.log_batch): params, then metrics, then tags, each
 * in requests within the server's limits. */
int mlflow__client_log_batch_chunked(struct mlflow_client *c, const char *run_id,
                                     const struct mlflow_metric *metrics, size_t n_metrics,
                                     const struct mlflow_kv *params, size_t n_params,
                                     const struct mlflow_kv *tags, size_t n_tags,
                                     struct mlflow_error *err)
{
    if (n_metrics <= MLFLOW_MAX_METRICS_PER_BATCH && n_params <= MLFLOW_MAX_PARAMS_TAGS_PER_BATCH &&
        n_tags <= MLFLOW_MAX_PARAMS_TAGS_PER_BATCH &&
        n_metrics + n_params + n_tags <= MLFLOW_MAX_ENTITIES_PER_BATCH)
        return mlflow__client_log_batch(c, run_id, metrics, n_metrics, params, n_params, tags,
                                        n_tags, err);
    int rc = mlflow__check_batch(metrics, n_metrics, params, n_params, tags, n_tags, err);
    for (size_t i = 0; !rc && i < n_params; i += MLFLOW_MAX_PARAMS_TAGS_PER_BATCH) {
        size_t n = n_params - i < MLFLOW_MAX_PARAMS_TAGS_PER_BATCH
                       ? n_params - i : MLFLOW_MAX_PARAMS_TAGS_PER_BATCH;
        rc = mlflow__client_log_batch(c, run_id, NULL, 0, params + i, n, NULL, 0, err);
    }
    for (size_t i = 0; !rc && i < n_metrics; i += MLFLOW_MAX_METRICS_PER_BATCH) {
        size_t n = n_metrics - i < MLFLOW_MAX_METRICS_PER_BATCH ? n_metrics - i
                                                                : MLFLOW_MAX_METRICS_PER_BATCH;
        rc = mlflow__client_log_batch(c, run_id, metrics + i, n, NULL, 0, NULL, 0, err);
    }
    for (size_t i = 0; !rc && i < n_tags; i += MLFLOW_MAX_PARAMS_TAGS_PER_BATCH) {
        size_t n = n_tags - i < MLFLOW_MAX_PARAMS_TAGS_PER_BATCH ? n_tags - i
                                                                 : MLFLOW_MAX_PARAMS_TAGS_PER_BATCH;
        rc = mlflow__client_log_batch(c, run_id, NULL, 0, NULL, 0, tags + i, n, err);
    }
    return rc;
}

int mlflow_client_log_batch(struct mlflow_client *c, const char *run_id,
                            const struct mlflow_metric *metrics, size_t n_metrics,
                            const struct mlflow_kv *params, size_t n_params,
                            const struct mlflow_kv *tags, size_t n_tags)
{
    PUBLIC_CALL(mlflow__client_log(c, run_id, metrics, n_metrics, params, n_params, tags, n_tags,
                                   MLFLOW__LOG_DEFAULT, err));
}

int mlflow_client_log_batch_async(struct mlflow_client *c, const char *run_id,
                                  const struct mlflow_metric *metrics, size_t n_metrics,
                                  const struct mlflow_kv *params, size_t n_params,
                                  const struct mlflow_kv *tags, size_t n_tags)
{
    PUBLIC_CALL(mlflow__client_log(c, run_id, metrics, n_metrics, params, n_params, tags, n_tags,
                                   MLFLOW__LOG_ASYNC, err));
}

int mlflow_client_log_param(struct mlflow_client *c, const char *run_id, const char *key,
                            const char *value)
{
    PUBLIC_CALL(log_kv(c, run_id, key, value, true, MLFLOW__LOG_DEFAULT, err));
}

int mlflow_client_log_param_async(struct mlflow_client *c, const char *run_id, const char *key,
                                  const char *value)
{
    PUBLIC_CALL(log_kv(c, run_id, key, value, true, MLFLOW__LOG_ASYNC, err));
}

int mlflow_client_set_tag(struct mlflow_client *c, const char *run_id, const char *key,
                          const char *value)
{
    PUBLIC_CALL(log_kv(c, run_id, key, value, false, MLFLOW__LOG_DEFAULT, err));
}

int mlflow_client_set_tag_async(struct mlflow_client *c, const char *run_id, const char *key,
                                const char *value)
{
    PUBLIC_CALL(log_kv(c, run_id, key, value, false, MLFLOW__LOG_ASYNC, err));
}

int mlflow__client_delete_tag(struct mlflow_client *c, const char *run_id, const char *key,
                              struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_run_id(run_id, err);
    if (!rc)
        rc = mlflow__validate_key("tag", key, err);
    return rc ? rc : c->store->ops->delete_tag(c->store, run_id, key, err);
}

int mlflow_client_delete_tag(struct mlflow_client *c, const char *run_id, const char *key)
{
    PUBLIC_CALL(mlflow__client_delete_tag(c, run_id, key, err));
}

int mlflow__client_log_inputs(struct mlflow_client *c, const char *run_id,
                              const struct mlflow_dataset_input *inputs, size_t n,
                              struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    int rc = mlflow__validate_run_id(run_id, err);
    if (!rc)
        rc = mlflow__validate_dataset_inputs(inputs, n, err);
    if (!rc && !c->store->ops->log_inputs)
        rc = mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                            "The %s store cannot record dataset inputs",
                            c->store->ops->name);
    return rc ? rc : c->store->ops->log_inputs(c->store, run_id, inputs, n, err);
}

int mlflow_client_log_inputs(struct mlflow_client *c, const char *run_id,
                             const struct mlflow_dataset_input *inputs, size_t n)
{
    PUBLIC_CALL(mlflow__client_log_inputs(c, run_id, inputs, n, err));
}

static int metric_history(struct mlflow_client *c, const char *run_id, const char *key,
                          struct mlflow_metric_list **out, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    int rc = mlflow__validate_run_id(run_id, err);
    if (!rc)
        rc = mlflow__validate_key("metric", key, err);
    return rc ? rc : c->store->ops->get_metric_history(c->store, run_id, key, out, err);
}

int mlflow_client_get_metric_history(struct mlflow_client *c, const char *run_id, const char *key,
                                     struct mlflow_metric_list **out)
{
    PUBLIC_CALL(metric_history(c, run_id, key, out, err));
}

static int search_runs(struct mlflow_client *c, const struct mlflow_search_runs_opts *opts,
                       struct mlflow_run_list **out, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    *out = NULL;
    struct mlflow_search_runs_opts o = {0};
    if (opts)
        o = *opts;
    struct mlflow__search_runs q = {
        .experiment_ids = o.experiment_ids,
        .n_experiment_ids = o.n_experiment_ids,
        .view_type = o.view_type,
        .max_results = o.max_results,
        .filter_string = o.filter,
        .order_by = o.order_by,
        .n_order_by = o.n_order_by,
        .page_token = o.page_token,
    };
    /* A remote store's server parses the search itself (store.h). */
    bool remote = c->store->ops->remote;
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < o.n_experiment_ids; i++)
        rc = mlflow__validate_experiment_id(o.experiment_ids[i], err);
    if (!rc)
        rc = check_search_paging(c, &q.view_type, &q.max_results, o.page_token, &q.offset, err);
    struct mlflow__filter *f = NULL;
    struct mlflow__orders *ord = NULL;
    if (!rc)
        rc = mlflow__filter_parse_runs(remote ? NULL : o.filter, &f, err);
    if (!rc)
        rc = mlflow__orders_parse_runs(o.order_by, remote ? 0 : o.n_order_by, &ord, err);
    if (!rc) {
        q.filter = f;
        q.order = ord;
        rc = c->store->ops->search_runs(c->store, &q, out, err);
    }
    mlflow__filter_free(f);
    mlflow__orders_free(ord);
    return rc;
}

int mlflow_client_search_runs(struct mlflow_client *c, const struct mlflow_search_runs_opts *opts,
                              struct mlflow_run_list **out)
{
    PUBLIC_CALL(search_runs(c, opts, out, err));
}

/* ---- artifacts ---- */

/* The run's artifact URI, malloc'ed. */
static int run_artifact_uri(struct mlflow_client *c, const char *run_id, char **out,
                            struct mlflow_error *err)
{
    struct mlflow_run *run;
    int rc = mlflow__client_get_run(c, run_id, &run, err);
    if (rc)
        return rc;
    if (!run->info.artifact_uri || !*run->info.artifact_uri) {
        mlflow_run_free(run);
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "Run '%s' has no artifact URI; its metadata may be damaged", run_id);
    }
    *out = mlflow__strdup(run->info.artifact_uri);
    mlflow_run_free(run);
    return *out ? MLFLOW_OK : mlflow__oom(err);
}

/* The repository for an artifact URI and the URI it works on: an
 * mlflow-artifacts: URI goes to this client's tracking server (spec
 * section 10). *root is malloc'ed. */
static int open_repo(struct mlflow_client *c, const char *artifact_uri,
                     const struct mlflow__artifact_repo_ops **repo, char **root,
                     struct mlflow_error *err)
{
    int rc = mlflow__artifact_uri_resolve(artifact_uri, c->tracking_uri, root, err);
    if (!rc && (rc = mlflow__artifact_repo(*root, repo, err))) {
        mlflow__free(*root);
        *root = NULL;
    }
    return rc;
}

int mlflow__client_log_artifact_path(struct mlflow_client *c, const char *artifact_uri,
                                     const char *local_path, const char *artifact_path,
                                     bool contents_only, struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    if (!local_path || !*local_path)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'local_path'");
    int rc = mlflow__validate_artifact_path(artifact_path, err);
    char *root = NULL;
    if (!rc)
        rc = mlflow__artifact_uri_resolve(artifact_uri, c->tracking_uri, &root, err);
    if (!rc)
        rc = mlflow__artifacts_log_path(root, local_path, artifact_path, contents_only, err);
    mlflow__free(root);
    return rc;
}

static int log_artifact(struct mlflow_client *c, const char *run_id, const char *local_path,
                        const char *artifact_path, bool contents_only, struct mlflow_error *err)
{
    char *uri;
    int rc = run_artifact_uri(c, run_id, &uri, err);
    if (rc)
        return rc;
    rc = mlflow__client_log_artifact_path(c, uri, local_path, artifact_path, contents_only, err);
    mlflow__free(uri);
    return rc;
}

int mlflow_client_log_artifact(struct mlflow_client *c, const char *run_id,
                               const char *local_path, const char *artifact_path)
{
    PUBLIC_CALL(log_artifact(c, run_id, local_path, artifact_path, false, err));
}

int mlflow_client_log_artifacts(struct mlflow_client *c, const char *run_id, const char *local_dir,
                                const char *artifact_path)
{
    PUBLIC_CALL(log_artifact(c, run_id, local_dir, artifact_path, true, err));
}

int mlflow__client_log_text_at(struct mlflow_client *c, const char *artifact_uri,
                               const char *text, const char *artifact_file,
                               struct mlflow_error *err)
{
    NEED_CLIENT(c, err);
    if (!artifact_file || !*artifact_file)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'artifact_file'");
    int rc = mlflow__validate_artifact_path(artifact_file, err);
    const struct mlflow__artifact_repo_ops *repo;
    char *root = NULL;
    if (!rc)
        rc = open_repo(c, artifact_uri, &repo, &root, err);
    if (rc)
        return rc;
    text = text ? text : "";
    rc = repo->log_bytes(root, artifact_file, text, strlen(text), err);
    mlflow__free(root);
    return rc;
}

static int log_text(struct mlflow_client *c, const char *run_id, const char *text,
                    const char *artifact_file, struct mlflow_error *err)
{
    char *uri;
    int rc = run_artifact_uri(c, run_id, &uri, err);
    if (rc)
        return rc;
    rc = mlflow__client_log_text_at(c, uri, text, artifact_file, err);
    mlflow__free(uri);
    return rc;
}

int mlflow_client_log_text(struct mlflow_client *c, const char *run_id, const char *text,
                           const char *artifact_file)
{
    PUBLIC_CALL(log_text(c, run_id, text, artifact_file, err));
}

static int list_artifacts(struct mlflow_client *c, const char *run_id, const char *path,
                          struct mlflow_file_list **out, struct mlflow_error *err)
{
    *out = NULL;
    int rc = mlflow__validate_artifact_path(path, err);
    char *uri = NULL, *root = NULL;
    const struct mlflow__artifact_repo_ops *repo;
    if (!rc)
        rc = run_artifact_uri(c, run_id, &uri, err);
    if (!rc)
        rc = open_repo(c, uri, &repo, &root, err);
    if (!rc)
        rc = repo->list(root, path, out, err);
    /* Paths are relative to the run's artifact URI as the run records it. */
    if (!rc && strcmp(root, uri) != 0 &&
        !((*out)->root_uri = mlflow__arena_strdup(mlflow__obj_arena(*out), uri))) {
        mlflow__obj_free(*out);
        *out = NULL;
        rc = mlflow__oom(err);
    }
    mlflow__free(root);
    mlflow__free(uri);
    return rc;
}

int mlflow_client_list_artifacts(struct mlflow_client *c, const char *run_id, const char *path,
                                 struct mlflow_file_list **out)
{
    PUBLIC_CALL(list_artifacts(c, run_id, path, out, err));
}

static int download_artifacts(struct mlflow_client *c, const char *run_id, const char *path,
                              const char *dst_dir, char **out_local, struct mlflow_error *err)
{
    if (out_local)
        *out_local = NULL;
    if (!dst_dir || !*dst_dir)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'dst_path'");
    int rc = mlflow__validate_artifact_path(path, err);
    char *uri = NULL, *root = NULL;
    const struct mlflow__artifact_repo_ops *repo;
    if (!rc)
        rc = run_artifact_uri(c, run_id, &uri, err);
    if (!rc)
        rc = open_repo(c, uri, &repo, &root, err);
    if (!rc)
        rc = repo->download(root, path, dst_dir, out_local, err);
    mlflow__free(root);
    mlflow__free(uri);
    return rc;
}

int mlflow_client_download_artifacts(struct mlflow_client *c, const char *run_id,
                                     const char *path, const char *dst_dir, char **out_local_path)
{
    PUBLIC_CALL(download_artifacts(c, run_id, path, dst_dir, out_local_path, err));
}
