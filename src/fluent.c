/*
 * fluent.c - Python's `mlflow` module in C: the process-wide stack of active
 * runs, experiment resolution, and logging into the active run.
 *
 * Locks, always taken in this order:
 *   - `pins` (a rwlock) keeps clients alive. Every call that uses a client
 *     outside `mu` holds it shared for the duration; mlflow_shutdown() takes
 *     it exclusive before freeing clients, so it waits for calls in flight.
 *   - `mu` guards every field of `fl`: tracking URI, clients, the active
 *     experiment, the run stack, the last run, the data-loss counters.
 * Logging calls hold `mu` only to copy the top run's id and client, then
 * log without it, so threads logging into one run do not serialise here.
 * A client is never freed while the process runs (set_tracking_uri retires
 * it to a list): a run on the stack keeps logging through the client, and
 * so the store, that created it.
 *
 * Ending runs at exit and on fatal signals lives in fluent_exit.c, system
 * tags in fluent_context.c.
 */
#include "fluent.h"

#include "async.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 64
#define ID_SIZE MLFLOW_RUN_ID_SIZE

struct active_run {
    char run_id[ID_SIZE];
    pid_t pid;                    /* the process that started it; only it ends it */
    struct mlflow_client *client; /* the client (store) it lives in */
    char *artifact_uri;           /* cached for log_artifact/get_artifact_uri */
};

static pthread_rwlock_t pins = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
    char *tracking_uri;            /* set_tracking_uri; NULL = default */
    struct mlflow_client *client;  /* for the current URI; opened lazily */
    struct mlflow_client **retired;
    size_t n_retired;
    char *experiment_id;           /* set_experiment */
    struct active_run stack[MAX_DEPTH];
    int depth;
    char last_run_id[ID_SIZE];
    struct mlflow_client *last_client;
    long lost_values;              /* data-loss lines suppressed after the first */
    bool lost_reported;
} fl;

static int end_run_locked(int status, struct mlflow_error *err);

void mlflow__fluent_lock(void)
{
    pthread_mutex_lock(&mu);
}

void mlflow__fluent_unlock(void)
{
    pthread_mutex_unlock(&mu);
}

/* ---- data loss reporting ---- */

static void report_loss(const char *what, const struct mlflow_error *err)
{
    pthread_mutex_lock(&mu);
    bool first = !fl.lost_reported;
    fl.lost_reported = true;
    if (!first)
        fl.lost_values++;
    pthread_mutex_unlock(&mu);
    /* The first loss is printed; later ones are counted and summarised at
     * exit, so a failing training loop cannot flood stderr. */
    if (first)
        mlflow__warn_data_loss(what, err);
}

static void report_lost_summary(void)
{
    pthread_mutex_lock(&mu);
    long lost = fl.lost_values;
    fl.lost_values = 0;
    fl.lost_reported = false;
    pthread_mutex_unlock(&mu);
    if (lost > 0) {
        struct mlflow_error e = {MLFLOW_DATA_LOSS, ""};
        snprintf(e.message, sizeof e.message, "%ld more logged values were not stored", lost);
        mlflow__warn_data_loss("tracking data", &e);
    }
}

/* ---- clients ---- */

static int client_locked(struct mlflow_client **out, struct mlflow_error *err)
{
    if (!fl.client) {
        int rc = mlflow__client_open(fl.tracking_uri, &fl.client, err);
        if (rc)
            return rc;
    }
    *out = fl.client;
    return MLFLOW_OK;
}

int mlflow__fluent_client(struct mlflow_client **c, char **experiment_id,
                          struct mlflow_error *err);

int mlflow_set_tracking_uri(const char *uri)
{
    struct mlflow_error err = {0};
    char *copy = NULL;
    if (uri && *uri && !(copy = mlflow__strdup(uri)))
        return mlflow__publish((mlflow__oom(&err), &err));
    pthread_mutex_lock(&mu);
    if (fl.client) {
        struct mlflow_client **r =
            mlflow__realloc(fl.retired, (fl.n_retired + 1) * sizeof *fl.retired);
        if (!r) {
            pthread_mutex_unlock(&mu);
            mlflow__free(copy);
            return mlflow__publish((mlflow__oom(&err), &err));
        }
        fl.retired = r;
        fl.retired[fl.n_retired++] = fl.client;
        fl.client = NULL;
    }
    mlflow__free(fl.tracking_uri);
    fl.tracking_uri = copy;
    pthread_mutex_unlock(&mu);
    return MLFLOW_OK;
}

char *mlflow_get_tracking_uri(void)
{
    pthread_mutex_lock(&mu);
    char *uri = mlflow__resolve_tracking_uri(fl.tracking_uri);
    pthread_mutex_unlock(&mu);
    return uri;
}

/* ---- experiments ---- */

int mlflow_create_experiment(const char *name, const struct mlflow_experiment_opts *opts,
                             char **out_id)
{
    struct mlflow_error err = {0};
    struct mlflow_client *c;
    int rc = mlflow__fluent_client(&c, NULL, &err);
    if (!rc) {
        rc = mlflow__client_create_experiment(c, name, opts, out_id, &err);
        mlflow__fluent_release();
    }
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

/* get-or-create by name; a deleted experiment is an error, never restored. */
static int experiment_by_name(struct mlflow_client *c, const char *name, bool create,
                              char **out_id, struct mlflow_error *err)
{
    struct mlflow_experiment *e = NULL;
    int rc = mlflow__client_get_experiment_by_name(c, name, &e, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST && create) {
        rc = mlflow__client_create_experiment(c, name, NULL, out_id, err);
        /* Another process may have created it in between: use theirs. */
        if (rc == MLFLOW_RESOURCE_ALREADY_EXISTS)
            rc = mlflow__client_get_experiment_by_name(c, name, &e, err);
        else
            return rc;
    }
    if (rc)
        return rc;
    if (strcmp(e->lifecycle_stage, "deleted") == 0) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot set a deleted experiment '%s' as the active experiment. You "
                            "can restore the experiment, or permanently delete the experiment "
                            "to create a new one.",
                            name);
    } else if (!(*out_id = mlflow__strdup(e->experiment_id))) {
        rc = mlflow__oom(err);
    }
    mlflow_experiment_free(e);
    return rc;
}

static int experiment_by_id(struct mlflow_client *c, const char *id, char **out_id,
                            struct mlflow_error *err)
{
    struct mlflow_experiment *e = NULL;
    int rc = mlflow__client_get_experiment(c, id, &e, err);
    if (rc)
        return rc;
    if (strcmp(e->lifecycle_stage, "deleted") == 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot set a deleted experiment '%s' as the active experiment.", id);
    else if (!(*out_id = mlflow__strdup(e->experiment_id)))
        rc = mlflow__oom(err);
    mlflow_experiment_free(e);
    return rc;
}

int mlflow_set_experiment(const char *name, const char *experiment_id, char **out_id)
{
    struct mlflow_error err = {0};
    if (out_id)
        *out_id = NULL;
    if ((name && *name) == (experiment_id && *experiment_id))
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "Must specify exactly one of: `experiment_id` or "
                                               "`experiment_name`."),
                                &err));
    pthread_mutex_lock(&mu);
    struct mlflow_client *c;
    char *id = NULL;
    int rc = client_locked(&c, &err);
    if (!rc)
        rc = name && *name ? experiment_by_name(c, name, true, &id, &err)
                           : experiment_by_id(c, experiment_id, &id, &err);
    char *for_caller = NULL;
    if (!rc && out_id && !(for_caller = mlflow__strdup(id)))
        rc = mlflow__oom(&err);
    if (!rc) {
        mlflow__free(fl.experiment_id);
        fl.experiment_id = id;
        id = NULL;
        if (out_id)
            *out_id = for_caller;
    }
    pthread_mutex_unlock(&mu);
    mlflow__free(id);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

/* The experiment new runs go to: set_experiment, $MLFLOW_EXPERIMENT_NAME
 * (created when missing), $MLFLOW_EXPERIMENT_ID (must exist), else "0". */
static int resolve_experiment_locked(struct mlflow_client *c, char **out,
                                     struct mlflow_error *err)
{
    if (fl.experiment_id)
        return (*out = mlflow__strdup(fl.experiment_id)) ? MLFLOW_OK : mlflow__oom(err);
    const char *name = getenv("MLFLOW_EXPERIMENT_NAME");
    const char *id = getenv("MLFLOW_EXPERIMENT_ID");
    if (name && *name) {
        int rc = experiment_by_name(c, name, true, out, err);
        if (!rc && id && *id && strcmp(id, *out) != 0) {
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "The provided MLFLOW_EXPERIMENT_ID environment variable value "
                                "`%s` does not match the experiment id `%s` for experiment name "
                                "`%s`",
                                id, *out, name);
            mlflow__free(*out);
            *out = NULL;
        }
        return rc;
    }
    if (id && *id) {
        struct mlflow_experiment *e = NULL;
        int rc = mlflow__client_get_experiment(c, id, &e, err);
        mlflow_experiment_free(e);
        if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "The experiment id '%s' from MLFLOW_EXPERIMENT_ID does not "
                                  "exist",
                                  id);
        if (rc)
            return rc;
        return (*out = mlflow__strdup(id)) ? MLFLOW_OK : mlflow__oom(err);
    }
    return (*out = mlflow__strdup("0")) ? MLFLOW_OK : mlflow__oom(err);
}

int mlflow__fluent_client(struct mlflow_client **c, char **experiment_id,
                          struct mlflow_error *err)
{
    pthread_rwlock_rdlock(&pins);
    pthread_mutex_lock(&mu);
    int rc = client_locked(c, err);
    if (!rc && experiment_id)
        rc = resolve_experiment_locked(*c, experiment_id, err);
    pthread_mutex_unlock(&mu);
    if (rc)
        pthread_rwlock_unlock(&pins);
    return rc;
}

void mlflow__fluent_release(void)
{
    pthread_rwlock_unlock(&pins);
}

/* ---- ending runs (also for fluent_exit.c) ---- */

/* Ends every open run this process started, innermost first. Runs a
 * forked child inherited from its parent are dropped from the child's
 * stack, never ended: a worker process exiting must not finish the
 * parent's run. */
static void end_all_locked(int status)
{
    struct mlflow_error err;
    pid_t self = getpid();
    while (fl.depth > 0) {
        if (fl.stack[fl.depth - 1].pid == self) {
            end_run_locked(status, &err);
        } else {
            fl.depth--;
            mlflow__free(fl.stack[fl.depth].artifact_uri);
            fl.stack[fl.depth].artifact_uri = NULL;
        }
    }
}

bool mlflow__fluent_end_all(int status, int timeout_ms)
{
    if (timeout_ms < 0) {
        pthread_mutex_lock(&mu);
    } else {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&mu, &until) != 0)
            return false;
    }
    end_all_locked(status);
    pthread_mutex_unlock(&mu);
    if (status == MLFLOW_RUN_STATUS_FINISHED)
        report_lost_summary();
    return true;
}

void mlflow_shutdown(void)
{
    /* Exclusive pins: every call still using a client finishes first. */
    pthread_rwlock_wrlock(&pins);
    pthread_mutex_lock(&mu);
    end_all_locked(MLFLOW_RUN_STATUS_FINISHED);
    mlflow_client_close(fl.client);
    fl.client = NULL;
    for (size_t i = 0; i < fl.n_retired; i++)
        mlflow_client_close(fl.retired[i]);
    mlflow__free(fl.retired);
    fl.retired = NULL;
    fl.n_retired = 0;
    fl.last_client = NULL;
    fl.last_run_id[0] = '\0';
    mlflow__free(fl.experiment_id);
    fl.experiment_id = NULL;
    mlflow__free(fl.tracking_uri);
    fl.tracking_uri = NULL;
    pthread_mutex_unlock(&mu);
    pthread_rwlock_unlock(&pins);
    report_lost_summary();
}

/* ---- runs ---- */

static int push_locked(struct mlflow_client *c, struct mlflow_run *run, struct mlflow_error *err)
{
    if (fl.depth == MAX_DEPTH)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE, "More than %d nested runs are active",
                              MAX_DEPTH);
    if (!run->info.artifact_uri || !*run->info.artifact_uri)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE,
                              "Run '%s' has no artifact URI; its metadata may be damaged",
                              run->info.run_id);
    if (strlen(run->info.run_id) >= ID_SIZE)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE, "Run id '%.64s...' is too long",
                              run->info.run_id);
    struct active_run *a = &fl.stack[fl.depth];
    a->artifact_uri = mlflow__strdup(run->info.artifact_uri);
    if (!a->artifact_uri)
        return mlflow__oom(err);
    snprintf(a->run_id, sizeof a->run_id, "%s", run->info.run_id);
    a->pid = getpid();
    a->client = c;
    fl.depth++;
    return MLFLOW_OK;
}

/* Tag keys from the caller are checked before anything is written, so a
 * bad key fails the start instead of vanishing. */
static int check_tag_keys(const struct mlflow_kv *tags, size_t n, struct mlflow_error *err)
{
    if (n && !tags)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "tags is NULL but n_tags is %zu", n);
    for (size_t i = 0; i < n; i++) {
        int rc = mlflow__validate_key("tag", tags[i].key, err);
        if (rc)
            return rc;
    }
    return MLFLOW_OK;
}

static int resume_locked(struct mlflow_client *c, const char *run_id,
                         const struct mlflow_run_opts *o, struct mlflow_error *err)
{
    struct mlflow_run *run = NULL;
    int rc = mlflow__client_get_run(c, run_id, &run, err);
    if (rc)
        return rc;
    if (fl.experiment_id && strcmp(fl.experiment_id, run->info.experiment_id) != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The run %s is in experiment %s, but the active experiment is %s",
                            run_id, run->info.experiment_id, fl.experiment_id);
    else if (strcmp(run->info.lifecycle_stage, "deleted") == 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot start run with ID %s because it is in the deleted state.",
                            run_id);
    if (!rc) {
        struct mlflow_update_run_opts u = {.status = MLFLOW_RUN_STATUS_RUNNING};
        rc = mlflow__client_update_run(c, run_id, &u, NULL, err);
    }
    if (!rc && (o->n_tags || (o->description && *o->description))) {
        struct mlflow__tagset t = {0};
        for (size_t i = 0; i < o->n_tags; i++)
            mlflow__tagset_put(&t, o->tags[i].key, o->tags[i].value);
        if (o->description && *o->description)
            mlflow__tagset_put(&t, "mlflow.note.content", o->description);
        rc = t.oom ? mlflow__oom(err)
                   : mlflow__client_log_batch(c, run_id, NULL, 0, NULL, 0, t.kv, t.n, err);
        mlflow__tagset_free(&t);
    }
    if (!rc)
        rc = push_locked(c, run, err);
    mlflow_run_free(run);
    return rc;
}

static int create_locked(struct mlflow_client *c, const struct mlflow_run_opts *o,
                         struct mlflow_error *err)
{
    if (o->description && *o->description)
        for (size_t i = 0; i < o->n_tags; i++)
            if (strcmp(o->tags[i].key, "mlflow.note.content") == 0)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Description is already set via the tag "
                                      "mlflow.note.content in tags. Remove the key "
                                      "mlflow.note.content from the tags or omit the "
                                      "description.");
    struct mlflow__tagset t = {0};
    mlflow__context_tags(&t);
    if (fl.depth > 0)
        mlflow__tagset_put(&t, "mlflow.parentRunId", fl.stack[fl.depth - 1].run_id);
    if (o->run_name && *o->run_name)
        mlflow__tagset_put(&t, "mlflow.runName", o->run_name);
    if (o->description && *o->description)
        mlflow__tagset_put(&t, "mlflow.note.content", o->description);
    for (size_t i = 0; i < o->n_tags; i++) /* user tags override context tags */
        mlflow__tagset_put(&t, o->tags[i].key, o->tags[i].value);

    char *exp = NULL;
    int rc = t.oom ? mlflow__oom(err) : MLFLOW_OK;
    if (!rc)
        rc = o->experiment_id && *o->experiment_id
                 ? ((exp = mlflow__strdup(o->experiment_id)) ? MLFLOW_OK : mlflow__oom(err))
                 : resolve_experiment_locked(c, &exp, err);
    struct mlflow_run *run = NULL;
    if (!rc) {
        struct mlflow_create_run_opts co = {.run_name = o->run_name, .tags = t.kv,
                                            .n_tags = t.n};
        rc = mlflow__client_create_run(c, exp, &co, &run, err);
    }
    if (!rc)
        rc = push_locked(c, run, err);
    mlflow_run_free(run);
    mlflow__free(exp);
    mlflow__tagset_free(&t);
    return rc;
}

/* Copies the caller's options, honouring struct_size_: a program built
 * against an older, smaller struct passes fewer bytes, and 0 (a struct
 * filled by hand) means "this version's size". */
static void copy_opts(struct mlflow_run_opts *o, const struct mlflow_run_opts *opts)
{
    memset(o, 0, sizeof *o);
    if (!opts)
        return;
    size_t n = opts->struct_size_ > 0 && (size_t)opts->struct_size_ < sizeof *o
                   ? (size_t)opts->struct_size_
                   : sizeof *o;
    memcpy(o, opts, n);
}

static int start_run_locked(const struct mlflow_run_opts *opts, struct mlflow_error *err)
{
    struct mlflow_run_opts o;
    copy_opts(&o, opts);
    if (fl.depth > 0 && !o.nested)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Run with UUID %s is already active. To start a new run, first end "
                              "the current run with mlflow_end_run(). To start a nested run, call "
                              "start_run with .nested = true",
                              fl.stack[fl.depth - 1].run_id);
    int rc = check_tag_keys(o.tags, o.n_tags, err);
    struct mlflow_client *c;
    if (!rc)
        rc = client_locked(&c, err);
    if (rc)
        return rc;
    mlflow__exit_hooks_install();
    /* $MLFLOW_RUN_ID is consumed: a later start_run makes a new run. */
    char env_run[ID_SIZE] = "";
    const char *resume = o.run_id && *o.run_id ? o.run_id : NULL;
    if (!resume) {
        const char *e = getenv("MLFLOW_RUN_ID");
        if (e && *e) {
            if (strlen(e) >= sizeof env_run)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Invalid run ID in MLFLOW_RUN_ID: '%.64s...'", e);
            snprintf(env_run, sizeof env_run, "%s", e);
            unsetenv("MLFLOW_RUN_ID");
            resume = env_run;
        }
    }
    return resume ? resume_locked(c, resume, &o, err) : create_locked(c, &o, err);
}

int mlflow_start_run(const struct mlflow_run_opts *opts)
{
    struct mlflow_error err = {0};
    pthread_mutex_lock(&mu);
    int rc = start_run_locked(opts, &err);
    pthread_mutex_unlock(&mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int end_run_locked(int status, struct mlflow_error *err)
{
    if (fl.depth == 0)
        return MLFLOW_OK;
    struct active_run *a = &fl.stack[--fl.depth];
    snprintf(fl.last_run_id, sizeof fl.last_run_id, "%s", a->run_id);
    fl.last_client = a->client;
    mlflow__free(a->artifact_uri);
    a->artifact_uri = NULL;
    unsetenv("MLFLOW_RUN_ID");
    struct mlflow_update_run_opts u = {
        .status = status ? status : MLFLOW_RUN_STATUS_FINISHED,
        .end_time = mlflow__now_ms(),
    };
    return mlflow__client_update_run(a->client, a->run_id, &u, NULL, err);
}

int mlflow_end_run(int status)
{
    struct mlflow_error err = {0};
    if (status && !mlflow_run_status_name(status))
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "Invalid run status %d", status),
                                &err));
    pthread_mutex_lock(&mu);
    int rc = end_run_locked(status, &err);
    pthread_mutex_unlock(&mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

int mlflow_active_run_id(char *buf, size_t size)
{
    struct mlflow_error err = {0};
    pthread_mutex_lock(&mu);
    int rc = MLFLOW_OK;
    if (fl.depth == 0)
        rc = mlflow__seterr(&err, MLFLOW_RESOURCE_DOES_NOT_EXIST, "No run is active");
    else if (!buf || size <= strlen(fl.stack[fl.depth - 1].run_id))
        rc = mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Buffer of %zu bytes is too small for run id '%s'", size,
                            fl.stack[fl.depth - 1].run_id);
    else
        snprintf(buf, size, "%s", fl.stack[fl.depth - 1].run_id);
    pthread_mutex_unlock(&mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int fetch_run(bool or_last, struct mlflow_run **out)
{
    struct mlflow_error err = {0};
    if (!out)
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "out is NULL"),
                                &err));
    *out = NULL;
    char id[ID_SIZE] = "";
    struct mlflow_client *c = NULL;
    pthread_rwlock_rdlock(&pins);
    pthread_mutex_lock(&mu);
    if (fl.depth > 0) {
        snprintf(id, sizeof id, "%s", fl.stack[fl.depth - 1].run_id);
        c = fl.stack[fl.depth - 1].client;
    } else if (or_last && fl.last_client) {
        snprintf(id, sizeof id, "%s", fl.last_run_id);
        c = fl.last_client;
    }
    pthread_mutex_unlock(&mu);
    int rc = c ? mlflow__client_get_run(c, id, out, &err) : MLFLOW_OK;
    pthread_rwlock_unlock(&pins);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

int mlflow_active_run(struct mlflow_run **out)
{
    return fetch_run(false, out);
}

int mlflow_last_active_run(struct mlflow_run **out)
{
    return fetch_run(true, out);
}

/* ---- the run scope (MLFLOW_RUN) ---- */

struct mlflow_run_scope_ mlflow_run_scope_enter_(const struct mlflow_run_opts *opts)
{
    struct mlflow_run_scope_ s = {.pending_ = 1};
    struct mlflow_error err = {0};
    pthread_mutex_lock(&mu);
    int rc = start_run_locked(opts, &err);
    if (!rc) {
        s.depth_ = fl.depth;
        snprintf(s.run_id_, sizeof s.run_id_, "%s", fl.stack[fl.depth - 1].run_id);
    }
    pthread_mutex_unlock(&mu);
    if (rc) {
        mlflow__publish(&err);
        report_loss("the run", &err);
    }
    return s;
}

void mlflow_run_scope_leave_(struct mlflow_run_scope_ *s)
{
    if (s->depth_ == 0)
        return;
    struct mlflow_error err = {0}, first = {0};
    pthread_mutex_lock(&mu);
    /* End this scope's run, and nested runs left open inside it, only if it
     * is still where the scope put it: the block may have ended it itself.
     * A failure to end one run does not stop the others from ending. */
    if (fl.depth >= s->depth_ && strcmp(fl.stack[s->depth_ - 1].run_id, s->run_id_) == 0)
        while (fl.depth >= s->depth_)
            if (end_run_locked(MLFLOW_RUN_STATUS_FINISHED, &err) && !first.code)
                first = err;
    pthread_mutex_unlock(&mu);
    if (first.code)
        mlflow__publish(&first);
}

/* ---- logging ---- */

/* The innermost active run (started when none is) and its client, copied
 * out under the lock so the caller can log without holding it. On success
 * the client is pinned until end_call(). */
static int begin_call(char run_id[ID_SIZE], struct mlflow_client **c, char **artifact_uri,
                      struct mlflow_error *err)
{
    pthread_rwlock_rdlock(&pins);
    pthread_mutex_lock(&mu);
    int rc = MLFLOW_OK;
    if (fl.depth == 0)
        rc = start_run_locked(NULL, err);
    if (!rc) {
        const struct active_run *a = &fl.stack[fl.depth - 1];
        memcpy(run_id, a->run_id, ID_SIZE);
        *c = a->client;
        if (artifact_uri && !(*artifact_uri = mlflow__strdup(a->artifact_uri)))
            rc = mlflow__oom(err);
    }
    pthread_mutex_unlock(&mu);
    if (rc)
        pthread_rwlock_unlock(&pins);
    return rc;
}

static void end_call(void)
{
    pthread_rwlock_unlock(&pins);
}

static int finish(int rc, const char *what, struct mlflow_error *err)
{
    if (!rc)
        return MLFLOW_OK;
    mlflow__publish(err);
    /* Bad input (an invalid key, a missing local file) is the caller's to
     * see in the return code; a valid value that could not be stored is data
     * loss and is reported. */
    if (rc != MLFLOW_INVALID_PARAMETER_VALUE && rc != MLFLOW_RESOURCE_DOES_NOT_EXIST)
        report_loss(what, err);
    return rc;
}

/* Batches of any size, split the way MLflow's client splits them, or
 * queued (async.c), as `mode` and the switches say. */
static int log_batch(const struct mlflow_metric *m, size_t nm, const struct mlflow_kv *p,
                     size_t np, const struct mlflow_kv *t, size_t nt, int mode, const char *what)
{
    struct mlflow_error err = {0};
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    int rc = begin_call(run_id, &c, NULL, &err);
    if (!rc) {
        rc = mlflow__client_log(c, run_id, m, nm, p, np, t, nt, mode, &err);
        end_call();
    }
    return finish(rc, what, &err);
}

static int log_metric(const char *key, double value, int64_t step, int64_t timestamp, int mode)
{
    struct mlflow_metric m = {key, value, timestamp ? timestamp : mlflow__now_ms(), step};
    return log_batch(&m, 1, NULL, 0, NULL, 0, mode, "a metric value");
}

int mlflow_log_metric_ts(const char *key, double value, int64_t step, int64_t timestamp)
{
    return log_metric(key, value, step, timestamp, MLFLOW__LOG_DEFAULT);
}

int mlflow_log_metric(const char *key, double value, int64_t step)
{
    return log_metric(key, value, step, 0, MLFLOW__LOG_DEFAULT);
}

int mlflow_log_metric_async(const char *key, double value, int64_t step)
{
    return log_metric(key, value, step, 0, MLFLOW__LOG_ASYNC);
}

static int log_metrics(const struct mlflow_metric *metrics, size_t n, int64_t step, int mode)
{
    struct mlflow_error err = {0};
    if (n && !metrics)
        return finish(mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                     "metrics is NULL but n is %zu", n),
                      "metrics", &err);
    struct mlflow_metric *copy = mlflow__malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return finish(mlflow__oom(&err), "metrics", &err);
    int64_t now = mlflow__now_ms();
    for (size_t i = 0; i < n; i++)
        copy[i] = (struct mlflow_metric){metrics[i].key, metrics[i].value, now, step};
    int rc = log_batch(copy, n, NULL, 0, NULL, 0, mode, "metric values");
    mlflow__free(copy);
    return rc;
}

int mlflow_log_metrics(const struct mlflow_metric *metrics, size_t n, int64_t step)
{
    return log_metrics(metrics, n, step, MLFLOW__LOG_DEFAULT);
}

int mlflow_log_metrics_async(const struct mlflow_metric *metrics, size_t n, int64_t step)
{
    return log_metrics(metrics, n, step, MLFLOW__LOG_ASYNC);
}

int mlflow_log_param(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, &kv, 1, NULL, 0, MLFLOW__LOG_DEFAULT, "a param");
}

int mlflow_log_param_async(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, &kv, 1, NULL, 0, MLFLOW__LOG_ASYNC, "a param");
}

int mlflow_log_paramf(const char *key, const char *fmt, ...)
{
    struct mlflow_error err = {0};
    if (!fmt)
        return finish(mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE, "fmt is NULL"),
                      "a param", &err);
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    mlflow__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    char *value = mlflow__sb_detach(&sb);
    if (!value)
        return finish(mlflow__oom(&err), "a param", &err);
    int rc = mlflow_log_param(key, value);
    mlflow__free(value);
    return rc;
}

int mlflow_log_params(const struct mlflow_kv *params, size_t n)
{
    return log_batch(NULL, 0, params, n, NULL, 0, MLFLOW__LOG_DEFAULT, "params");
}

int mlflow_log_params_async(const struct mlflow_kv *params, size_t n)
{
    return log_batch(NULL, 0, params, n, NULL, 0, MLFLOW__LOG_ASYNC, "params");
}

int mlflow_set_tag(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, NULL, 0, &kv, 1, MLFLOW__LOG_DEFAULT, "a tag");
}

int mlflow_set_tag_async(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, NULL, 0, &kv, 1, MLFLOW__LOG_ASYNC, "a tag");
}

int mlflow_set_tags(const struct mlflow_kv *tags, size_t n)
{
    return log_batch(NULL, 0, NULL, 0, tags, n, MLFLOW__LOG_DEFAULT, "tags");
}

int mlflow_set_tags_async(const struct mlflow_kv *tags, size_t n)
{
    return log_batch(NULL, 0, NULL, 0, tags, n, MLFLOW__LOG_ASYNC, "tags");
}

/* Every client the fluent layer has opened: the current one and those a
 * set_tracking_uri retired (runs may still log through them). */
int mlflow_flush(void)
{
    struct mlflow_error err = {0}, first = {0};
    pthread_rwlock_rdlock(&pins);
    pthread_mutex_lock(&mu);
    size_t n = fl.n_retired + (fl.client != NULL);
    struct mlflow_client **cs = mlflow__malloc((n ? n : 1) * sizeof *cs);
    if (cs) {
        if (fl.n_retired)
            memcpy(cs, fl.retired, fl.n_retired * sizeof *cs);
        if (fl.client)
            cs[fl.n_retired] = fl.client;
    }
    pthread_mutex_unlock(&mu);
    if (!cs)
        mlflow__oom(&first);
    for (size_t i = 0; cs && i < n; i++)
        if (mlflow__async_flush(cs[i], &err) && !first.code)
            first = err;
    pthread_rwlock_unlock(&pins);
    mlflow__free(cs);
    return first.code ? mlflow__publish(&first) : MLFLOW_OK;
}

int mlflow_delete_tag(const char *key)
{
    struct mlflow_error err = {0};
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    int rc = begin_call(run_id, &c, NULL, &err);
    if (!rc) {
        rc = mlflow__client_delete_tag(c, run_id, key, &err);
        end_call();
    }
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

/* As mlflow.log_input: the given tags, then the context tag. */
int mlflow_log_input(const struct mlflow_dataset *dataset, const char *context,
                     const struct mlflow_kv *tags, size_t n_tags)
{
    struct mlflow_error err = {0};
    if (!dataset) {
        mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE, "Dataset cannot be None");
        return mlflow__publish(&err);
    }
    if (n_tags && !tags) {
        mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                       "log_input: tags is NULL but n_tags is not zero");
        return mlflow__publish(&err);
    }
    size_t n = n_tags + (context != NULL);
    struct mlflow_kv *all = mlflow__malloc((n ? n : 1) * sizeof *all);
    if (!all) {
        mlflow__oom(&err);
        return mlflow__publish(&err);
    }
    if (n_tags)
        memcpy(all, tags, n_tags * sizeof *all);
    if (context)
        all[n_tags] = (struct mlflow_kv){"mlflow.data.context", context};
    struct mlflow_dataset_input in = {*dataset, all, n};
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    int rc = begin_call(run_id, &c, NULL, &err);
    if (!rc) {
        rc = mlflow__client_log_inputs(c, run_id, &in, 1, &err);
        end_call();
    }
    mlflow__free(all);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int log_artifact(const char *local_path, const char *artifact_path, bool contents_only)
{
    struct mlflow_error err = {0};
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = begin_call(run_id, &c, &uri, &err);
    if (!rc) {
        rc = mlflow__client_log_artifact_path(c, uri, local_path, artifact_path, contents_only,
                                              &err);
        end_call();
    }
    mlflow__free(uri);
    return finish(rc, "an artifact", &err);
}

int mlflow_log_artifact(const char *local_path, const char *artifact_path)
{
    return log_artifact(local_path, artifact_path, false);
}

int mlflow_log_artifacts(const char *local_dir, const char *artifact_path)
{
    return log_artifact(local_dir, artifact_path, true);
}

int mlflow_log_text(const char *text, const char *artifact_file)
{
    struct mlflow_error err = {0};
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = begin_call(run_id, &c, &uri, &err);
    if (!rc) {
        rc = mlflow__client_log_text_at(c, uri, text, artifact_file, &err);
        end_call();
    }
    mlflow__free(uri);
    return finish(rc, "a text artifact", &err);
}

int mlflow_get_artifact_uri(const char *path, char **out)
{
    struct mlflow_error err = {0};
    if (!out)
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "out is NULL"),
                                &err));
    *out = NULL;
    char run_id[ID_SIZE];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = begin_call(run_id, &c, &uri, &err);
    if (rc)
        return mlflow__publish(&err);
    end_call();
    if (path && *path) {
        rc = mlflow__validate_artifact_path(path, &err);
        char *joined = rc ? NULL : mlflow__path_join(uri, path);
        if (!rc && !joined)
            rc = mlflow__oom(&err);
        mlflow__free(uri);
        uri = joined;
    }
    if (!rc)
        *out = uri;
    else
        mlflow__free(uri);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}
