/*
 * fluent_queries.c - the read-and-manage half of Python's `mlflow` module
 * (get_run, search_runs, delete_experiment, ...): thin calls through the
 * fluent layer's client, so a program that only uses the fluent API never
 * has to open a client of its own.
 */
#include "fluent.h"

#include <string.h>

/* Calls the public client function `call` (which publishes its own error)
 * with the fluent client bound to `c` and pinned for the call. */
#define WITH_CLIENT(call)                                                       \
    do {                                                                        \
        struct mlflow_error err = {0};                                          \
        struct mlflow_client *c;                                                \
        if (mlflow__fluent_client(&c, NULL, &err))                              \
            return mlflow__publish(&err);                                       \
        int rc_ = (call);                                                       \
        mlflow__fluent_release();                                               \
        return rc_;                                                             \
    } while (0)

int mlflow_get_run(const char *run_id, struct mlflow_run **out)
{
    WITH_CLIENT(mlflow_client_get_run(c, run_id, out));
}

int mlflow_delete_run(const char *run_id)
{
    WITH_CLIENT(mlflow_client_delete_run(c, run_id));
}

int mlflow_get_experiment(const char *experiment_id, struct mlflow_experiment **out)
{
    WITH_CLIENT(mlflow_client_get_experiment(c, experiment_id, out));
}

int mlflow_get_experiment_by_name(const char *name, struct mlflow_experiment **out)
{
    struct mlflow_error err = {0};
    struct mlflow_client *c;
    if (mlflow__fluent_client(&c, NULL, &err))
        return mlflow__publish(&err);
    int rc = mlflow_client_get_experiment_by_name(c, name, out);
    mlflow__fluent_release();
    return rc == MLFLOW_RESOURCE_DOES_NOT_EXIST ? MLFLOW_OK : rc;
}

int mlflow_delete_experiment(const char *experiment_id)
{
    WITH_CLIENT(mlflow_client_delete_experiment(c, experiment_id));
}

int mlflow_search_experiments(const struct mlflow_search_experiments_opts *opts,
                              struct mlflow_experiment_list **out)
{
    WITH_CLIENT(mlflow_client_search_experiments(c, opts, out));
}

int mlflow_search_runs(const struct mlflow_search_runs_opts *opts, struct mlflow_run_list **out)
{
    struct mlflow_error err = {0};
    struct mlflow_client *c;
    struct mlflow_search_runs_opts o = {0};
    if (opts)
        o = *opts;
    char *exp = NULL;
    if (mlflow__fluent_client(&c, o.n_experiment_ids ? NULL : &exp, &err))
        return mlflow__publish(&err);
    const char *ids[1] = {exp};
    if (!o.n_experiment_ids) {
        o.experiment_ids = ids;
        o.n_experiment_ids = 1;
    }
    int rc = mlflow_client_search_runs(c, &o, out);
    mlflow__fluent_release();
    mlflow__free(exp);
    return rc;
}

int mlflow_set_experiment_tags(const struct mlflow_kv *tags, size_t n)
{
    struct mlflow_error err = {0};
    struct mlflow_client *c;
    char *exp = NULL;
    if (n && !tags)
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "tags is NULL but n is %zu", n),
                                &err));
    int rc = mlflow__fluent_client(&c, &exp, &err);
    if (!rc) {
        for (size_t i = 0; !rc && i < n; i++)
            rc = mlflow__client_set_experiment_tag(c, exp, tags[i].key, tags[i].value, &err);
        mlflow__fluent_release();
    }
    mlflow__free(exp);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

int mlflow_set_experiment_tag(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value};
    return mlflow_set_experiment_tags(&kv, 1);
}
