/*
 * entities.c - result lifetimes (every result is one arena), lookups inside
 * results, deep copies, and the enum <-> name tables.
 */
#include "internal.h"

#include <string.h>

void mlflow_experiment_free(struct mlflow_experiment *exp) { mlflow__obj_free(exp); }
void mlflow_experiment_list_free(struct mlflow_experiment_list *l) { mlflow__obj_free(l); }
void mlflow_run_free(struct mlflow_run *run) { mlflow__obj_free(run); }
void mlflow_run_list_free(struct mlflow_run_list *l) { mlflow__obj_free(l); }
void mlflow_metric_list_free(struct mlflow_metric_list *l) { mlflow__obj_free(l); }
void mlflow_file_list_free(struct mlflow_file_list *l) { mlflow__obj_free(l); }

static const char *kv_find(const struct mlflow_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; kv && i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *mlflow_run_param(const struct mlflow_run *run, const char *key)
{
    return run ? kv_find(run->data.params, run->data.n_params, key) : NULL;
}

const char *mlflow_run_tag(const struct mlflow_run *run, const char *key)
{
    return run ? kv_find(run->data.tags, run->data.n_tags, key) : NULL;
}

const struct mlflow_metric *mlflow_run_metric(const struct mlflow_run *run, const char *key)
{
    for (size_t i = 0; run && i < run->data.n_metrics; i++)
        if (strcmp(run->data.metrics[i].key, key) == 0)
            return &run->data.metrics[i];
    return NULL;
}

const char *mlflow_experiment_tag(const struct mlflow_experiment *exp, const char *key)
{
    return exp ? kv_find(exp->tags, exp->n_tags, key) : NULL;
}

/* ---- deep copies ---- */

#define DUP(field) \
    do { \
        if (src->field && !(dst->field = mlflow__arena_strdup(a, src->field))) \
            return -1; \
    } while (0)

static int kv_copy(struct mlflow__arena *a, struct mlflow_kv **dst, const struct mlflow_kv *src,
                   size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    struct mlflow_kv *d = mlflow__arena_alloc(a, n * sizeof *d);
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++) {
        d[i].key = mlflow__arena_strdup(a, src[i].key);
        d[i].value = mlflow__arena_strdup(a, src[i].value ? src[i].value : "");
        if (!d[i].key || !d[i].value)
            return -1;
    }
    *dst = d;
    return 0;
}

int mlflow__run_copy(struct mlflow__arena *a, struct mlflow_run *dst, const struct mlflow_run *src)
{
    *dst = *src;
    DUP(info.run_id);
    DUP(info.run_name);
    DUP(info.experiment_id);
    DUP(info.user_id);
    DUP(info.artifact_uri);
    DUP(info.lifecycle_stage);
    if (kv_copy(a, &dst->data.params, src->data.params, src->data.n_params) ||
        kv_copy(a, &dst->data.tags, src->data.tags, src->data.n_tags))
        return -1;
    if (mlflow__inputs_copy(a, &dst->inputs, src->inputs, src->n_inputs))
        return -1;
    dst->data.metrics = NULL;
    if (src->data.n_metrics) {
        dst->data.metrics = mlflow__arena_alloc(a, src->data.n_metrics * sizeof *dst->data.metrics);
        if (!dst->data.metrics)
            return -1;
        for (size_t i = 0; i < src->data.n_metrics; i++) {
            dst->data.metrics[i] = src->data.metrics[i];
            if (!(dst->data.metrics[i].key = mlflow__arena_strdup(a, src->data.metrics[i].key)))
                return -1;
        }
    }
    return 0;
}

int mlflow__inputs_copy(struct mlflow__arena *a, struct mlflow_dataset_input **dst,
                        const struct mlflow_dataset_input *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    struct mlflow_dataset_input *d = mlflow__arena_alloc(a, n * sizeof *d);
    if (!d)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct mlflow_dataset *s = &src[i].dataset;
        struct mlflow_dataset *t = &d[i].dataset;
        const char *const from[] = {s->name, s->digest, s->source_type,
                                    s->source, s->schema, s->profile};
        const char **to[] = {&t->name, &t->digest, &t->source_type,
                             &t->source, &t->schema, &t->profile};
        for (size_t k = 0; k < MLFLOW_ARRAY_LEN(to); k++)
            if (from[k] && !(*to[k] = mlflow__arena_strdup(a, from[k])))
                return -1;
        struct mlflow_kv *tags = NULL;
        if (kv_copy(a, &tags, src[i].tags, src[i].n_tags))
            return -1;
        d[i].tags = tags;
        d[i].n_tags = src[i].n_tags;
    }
    *dst = d;
    return 0;
}

int mlflow__experiment_copy(struct mlflow__arena *a, struct mlflow_experiment *dst,
                            const struct mlflow_experiment *src)
{
    *dst = *src;
    DUP(experiment_id);
    DUP(name);
    DUP(artifact_location);
    DUP(lifecycle_stage);
    return kv_copy(a, &dst->tags, src->tags, src->n_tags);
}

/* ---- enums ---- */

static const char *const status_names[] = {NULL, "RUNNING", "SCHEDULED", "FINISHED", "FAILED",
                                           "KILLED"};
static const char *const view_names[] = {NULL, "ACTIVE_ONLY", "DELETED_ONLY", "ALL"};

const char *mlflow_run_status_name(int status)
{
    return status >= 1 && status <= 5 ? status_names[status] : NULL;
}

int mlflow_run_status_parse(const char *name, int *out)
{
    for (int i = 1; name && i <= 5; i++)
        if (strcmp(status_names[i], name) == 0) {
            *out = i;
            return MLFLOW_OK;
        }
    return MLFLOW_INVALID_PARAMETER_VALUE;
}

const char *mlflow_view_type_name(int v)
{
    return v >= 1 && v <= 3 ? view_names[v] : NULL;
}

int mlflow_view_type_parse(const char *name, int *out)
{
    for (int i = 1; name && i <= 3; i++)
        if (strcmp(view_names[i], name) == 0) {
            *out = i;
            return MLFLOW_OK;
        }
    return MLFLOW_INVALID_PARAMETER_VALUE;
}
