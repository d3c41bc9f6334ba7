/*
 * migrate.c - `mlflow-c migrate`: copies a store into another through the
 * source's ordinary read API and the destination's import ops (store.h),
 * which keep ids. Matching by id is what makes a rerun cheap and safe: what
 * the destination has is skipped, what it lacks is copied whole. The one
 * exception is an experiment id the destination cannot hold (PostgreSQL's
 * 32-bit ids against a file store's 18 digits): that experiment gets a new
 * id there, is matched by name and creation time on a rerun, and the
 * caller is told the mapping.
 */
#include "migrate.h"

#include "client.h"
#include "store/store.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 1000

struct migration {
    struct mlflow_client *src, *dst;
    const struct mlflow__migrate_opts *opts;
    struct mlflow__migrate_stats *stats;
    struct mlflow_error *err;
};

/* The public client reports failures per thread; bring them back into err. */
static int client_failed(struct migration *m, int rc)
{
    return mlflow__seterr(m->err, rc, "%s", mlflow_last_error());
}

/* Opening a store creates a missing one; a source must be there already. */
static int check_source(const char *uri, struct mlflow_error *err)
{
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    char *path = NULL;
    if (!scheme[0] || strcmp(scheme, "file") == 0) {
        path = mlflow__local_path_from_uri(uri);
        if (!path)
            return mlflow__oom(err);
    } else if (strcmp(scheme, "sqlite") == 0) {
        const char *rest = strstr(uri, "://");
        rest = rest ? rest + 3 : uri;
        if (*rest == '/')
            rest++;
        size_t len = strcspn(rest, "?");
        if (len == 0 || (len == 8 && strncmp(rest, ":memory:", 8) == 0))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Cannot migrate from '%s': an in-memory database is empty", uri);
        if (!(path = mlflow__strndup(rest, len)))
            return mlflow__oom(err);
    } else {
        return MLFLOW_OK; /* a server: reading it tells */
    }
    struct stat st;
    int rc = MLFLOW_OK;
    if (stat(path, &st) != 0)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Cannot migrate from '%s': '%s' does not exist", uri, path);
    mlflow__free(path);
    return rc;
}

static void report(struct migration *m, bool done)
{
    if (m->opts && m->opts->progress)
        m->opts->progress(m->opts->ctx, m->stats, done);
}

/* Every point of every metric of run, in logging order per key, into
 * experiment exp_id of the destination. */
static int copy_run(struct migration *m, const struct mlflow_run *run, const char *exp_id)
{
    struct mlflow__store *dst = m->dst->store;
    const char *id = run->info.run_id;
    struct mlflow_run *have = NULL;
    int rc = mlflow_client_get_run(m->dst, id, &have);
    mlflow_run_free(have);
    if (rc == MLFLOW_OK)
        return MLFLOW_OK; /* copied before */
    if (rc != MLFLOW_RESOURCE_DOES_NOT_EXIST)
        return client_failed(m, rc);

    size_t nk = run->data.n_metrics, total = 0;
    struct mlflow_metric_list **lists = mlflow__calloc(nk ? nk : 1, sizeof *lists);
    if (!lists)
        return mlflow__oom(m->err);
    rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < nk; i++) {
        int r = mlflow_client_get_metric_history(m->src, id, run->data.metrics[i].key, &lists[i]);
        if (r)
            rc = client_failed(m, r);
        else
            total += lists[i]->count;
    }
    struct mlflow_metric *points = NULL;
    if (!rc && !(points = mlflow__malloc((total ? total : 1) * sizeof *points)))
        rc = mlflow__oom(m->err);
    size_t n = 0;
    for (size_t i = 0; !rc && i < nk; i++) {
        memcpy(points + n, lists[i]->metrics, lists[i]->count * sizeof *points);
        n += lists[i]->count;
    }
    struct mlflow_run moved = *run;
    moved.info.experiment_id = exp_id;
    if (!rc)
        rc = dst->ops->import_run(dst, &moved, points, n, m->err);
    if (!rc) {
        m->stats->runs_copied++;
        m->stats->metric_points += n;
        m->stats->params += run->data.n_params;
        m->stats->tags += run->data.n_tags;
    }
    mlflow__free(points);
    for (size_t i = 0; i < nk; i++)
        mlflow_metric_list_free(lists[i]);
    mlflow__free(lists);
    return rc;
}

/* The runs of source experiment src_id into destination experiment dst_id. */
static int copy_runs(struct migration *m, const char *src_id, const char *dst_id)
{
    const char *ids[] = {src_id};
    char *token = NULL;
    int rc = MLFLOW_OK;
    do {
        struct mlflow_search_runs_opts q = {
            .experiment_ids = ids,
            .n_experiment_ids = 1,
            .view_type = MLFLOW_VIEW_ALL,
            .max_results = PAGE,
            .page_token = token,
        };
        struct mlflow_run_list *list = NULL;
        int r = mlflow_client_search_runs(m->src, &q, &list);
        mlflow__free(token);
        token = NULL;
        if (r)
            return client_failed(m, r);
        for (size_t i = 0; !rc && i < list->count; i++) {
            rc = copy_run(m, &list->runs[i], dst_id);
            m->stats->runs++;
            size_t every = m->opts ? m->opts->progress_every : 0;
            if (!rc && every && m->stats->runs % every == 0)
                report(m, false);
        }
        if (!rc && list->next_page_token && !(token = mlflow__strdup(list->next_page_token)))
            rc = mlflow__oom(m->err);
        mlflow_run_list_free(list);
    } while (!rc && token);
    mlflow__free(token);
    return rc;
}

/* e under a new id in the destination, or the copy a previous migration
 * made (same name, same creation time); its id into *new_id. */
static int renumber(struct migration *m, const struct mlflow_experiment *e, char **new_id)
{
    struct mlflow__store *dst = m->dst->store;
    struct mlflow_experiment *have = NULL;
    int rc = dst->ops->get_experiment_by_name(dst, e->name, &have, m->err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST) {
        struct mlflow_experiment fresh = *e;
        fresh.experiment_id = NULL; /* the destination picks it */
        rc = dst->ops->import_experiment(dst, &fresh, m->err);
        if (!rc)
            rc = dst->ops->get_experiment_by_name(dst, e->name, &have, m->err);
        if (!rc)
            m->stats->experiments_copied++;
    } else if (!rc && have->creation_time != e->creation_time) {
        rc = mlflow__seterr(m->err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                            "Experiment '%s' (id %s) needs a new id in the destination, which "
                            "cannot hold its id, but the name is taken there by experiment %s, "
                            "which is not a copy of it (another creation time)",
                            e->name, e->experiment_id, have->experiment_id);
    }
    if (!rc && !(*new_id = mlflow__strdup(have->experiment_id)))
        rc = mlflow__oom(m->err);
    mlflow_experiment_free(have);
    if (rc)
        return rc;
    m->stats->experiments_renumbered++;
    if (m->opts && m->opts->renumbered)
        m->opts->renumbered(m->opts->ctx, e->experiment_id, *new_id, e->name);
    return MLFLOW_OK;
}

/* Pass 0 copies the experiments whose ids the destination keeps, pass 1
 * the others: by then the destination's sequence is past every kept id. */
static int copy_experiment(struct migration *m, const struct mlflow_experiment *e, int pass)
{
    struct mlflow__store *dst = m->dst->store;
    bool keep = !dst->ops->keeps_experiment_id ||
                dst->ops->keeps_experiment_id(dst, e->experiment_id);
    if (keep != (pass == 0))
        return MLFLOW_OK;
    m->stats->experiments++;
    if (!keep) {
        char *new_id = NULL;
        int rc = renumber(m, e, &new_id);
        if (!rc)
            rc = copy_runs(m, e->experiment_id, new_id);
        mlflow__free(new_id);
        return rc;
    }
    struct mlflow_experiment *have = NULL;
    int rc = mlflow_client_get_experiment(m->dst, e->experiment_id, &have);
    mlflow_experiment_free(have);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST) {
        rc = dst->ops->import_experiment(dst, e, m->err);
        if (rc)
            return rc;
        m->stats->experiments_copied++;
    } else if (rc) {
        return client_failed(m, rc);
    }
    return copy_runs(m, e->experiment_id, e->experiment_id);
}

static int copy_all(struct migration *m, int pass)
{
    char *token = NULL;
    int rc = MLFLOW_OK;
    do {
        struct mlflow_search_experiments_opts q = {
            .view_type = MLFLOW_VIEW_ALL,
            .max_results = PAGE,
            .page_token = token,
        };
        struct mlflow_experiment_list *list = NULL;
        int r = mlflow_client_search_experiments(m->src, &q, &list);
        mlflow__free(token);
        token = NULL;
        if (r)
            return client_failed(m, r);
        for (size_t i = 0; !rc && i < list->count; i++)
            rc = copy_experiment(m, &list->experiments[i], pass);
        if (!rc && list->next_page_token && !(token = mlflow__strdup(list->next_page_token)))
            rc = mlflow__oom(m->err);
        mlflow_experiment_list_free(list);
    } while (!rc && token);
    mlflow__free(token);
    return rc;
}

int mlflow__migrate(const char *src_uri, const char *dst_uri,
                    const struct mlflow__migrate_opts *opts, struct mlflow__migrate_stats *stats,
                    struct mlflow_error *err)
{
    struct mlflow__migrate_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!src_uri || !*src_uri || !dst_uri || !*dst_uri)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Both a source and a destination tracking URI are needed");
    struct migration m = {NULL, NULL, opts, stats, err};
    char *src = mlflow__resolve_tracking_uri(src_uri);
    char *dst = mlflow__resolve_tracking_uri(dst_uri);
    int rc = src && dst ? MLFLOW_OK : mlflow__oom(err);
    if (!rc && strcmp(src, dst) == 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Source and destination are the same store ('%s')", src);
    if (!rc)
        rc = check_source(src, err);
    if (!rc)
        rc = mlflow__client_open(src, &m.src, err);
    if (!rc)
        rc = mlflow__client_open(dst, &m.dst, err);
    if (!rc && (!m.dst->store->ops->import_experiment || !m.dst->store->ops->import_run))
        rc = mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                            "The '%s' store ('%s') cannot be migrated into: it cannot keep the "
                            "ids of imported experiments and runs",
                            m.dst->store->ops->name, dst);
    for (int pass = 0; !rc && pass < 2; pass++)
        rc = copy_all(&m, pass);
    if (!rc)
        report(&m, true);
    mlflow_client_close(m.src);
    mlflow_client_close(m.dst);
    mlflow__free(src);
    mlflow__free(dst);
    return rc;
}
