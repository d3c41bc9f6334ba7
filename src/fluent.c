/*
 * fluent.c - Python's `mlflow` module in C: the process-wide stack of active
 * runs, experiment resolution, system tags, and ending runs at exit or on a
 * fatal signal.
 *
 * Locking: `mu` guards every field of `fl` below (tracking URI, client,
 * active experiment, run stack, last run). Logging calls hold it only to
 * read the top run's id and the client pointer, then log without it, so
 * threads logging into the active run do not serialise on each other. A
 * client, once opened, is never freed before exit (set_tracking_uri retires
 * it to a list) because another thread may still be logging through it.
 */
#include "client.h"

#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 64

struct active_run {
    char run_id[40];
    pid_t pid;          /* the process that started it; only it ends it */
    char *artifact_uri; /* cached for log_artifact/get_artifact_uri */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
    char *tracking_uri;            /* set_tracking_uri; NULL = default */
    struct mlflow_client *client;  /* for the current URI; opened lazily */
    struct mlflow_client **retired;
    size_t n_retired;
    char *experiment_id;           /* set_experiment */
    struct active_run stack[MAX_DEPTH];
    int depth;
    char last_run_id[40];
    bool hooks_installed;
    long lost_values;              /* data-loss lines suppressed after the first */
    bool lost_reported;
} fl;

static int end_run_locked(int status, struct mlflow_error *err);

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

/* ---- client ---- */

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
    pthread_mutex_lock(&mu);
    int rc = client_locked(&c, &err);
    pthread_mutex_unlock(&mu);
    if (!rc)
        rc = mlflow__client_create_experiment(c, name, opts, out_id, &err);
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
    pthread_mutex_lock(&mu);
    int rc = client_locked(c, err);
    if (!rc && experiment_id)
        rc = resolve_experiment_locked(*c, experiment_id, err);
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- system tags (spec section 5) ---- */

/* argv[0] as the program was invoked, from /proc (a library has no argv). */
static void program_name(char *out, size_t size)
{
    out[0] = '\0';
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, out, size - 1);
        close(fd);
        out[n > 0 ? n : 0] = '\0';
    }
    if (!out[0])
        snprintf(out, size, "<console>");
}

static bool read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

/* snprintf that reports truncation instead of silently cutting a path. */
static bool pathf(char *buf, size_t size, const char *fmt, ...) MLFLOW_PRINTF(3, 4);
static bool pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size;
}

/* HEAD's commit of the git checkout holding `dir`, read from .git without
 * running git: HEAD, then the loose ref, then packed-refs. */
static bool git_commit(const char *start, char out[41])
{
    char dir[PATH_MAX], gitdir[PATH_MAX], path[PATH_MAX], head[512];
    if (!pathf(dir, sizeof dir, "%s", start))
        return false;
    for (;;) {
        if (pathf(path, sizeof path, "%s/.git", dir) && read_small(path, head, sizeof head) &&
            strncmp(head, "gitdir: ", 8) == 0) {
            /* A worktree or submodule: .git is a file naming the real dir. */
            if (!(head[8] == '/' ? pathf(gitdir, sizeof gitdir, "%s", head + 8)
                                 : pathf(gitdir, sizeof gitdir, "%s/%s", dir, head + 8)))
                return false;
            break;
        }
        if (pathf(path, sizeof path, "%s/.git/HEAD", dir) && access(path, F_OK) == 0) {
            if (!pathf(gitdir, sizeof gitdir, "%s/.git", dir))
                return false;
            break;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return false;
        *slash = '\0';
    }
    if (!pathf(path, sizeof path, "%s/HEAD", gitdir) || !read_small(path, head, sizeof head))
        return false;
    if (strncmp(head, "ref: ", 5) != 0) { /* detached HEAD */
        if (strlen(head) < 40)
            return false;
        memcpy(out, head, 40);
        out[40] = '\0';
        return true;
    }
    char ref[sizeof head];
    memcpy(ref, head + 5, strlen(head + 5) + 1);
    if (pathf(path, sizeof path, "%s/%s", gitdir, ref) && read_small(path, head, sizeof head) &&
        strlen(head) >= 40) {
        memcpy(out, head, 40);
        out[40] = '\0';
        return true;
    }
    if (!pathf(path, sizeof path, "%s/packed-refs", gitdir))
        return false;
    FILE *f = fopen(path, "re");
    bool found = false;
    if (f) {
        char line[1024];
        while (!found && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strlen(line) > 41 && line[40] == ' ' && strcmp(line + 41, ref) == 0) {
                memcpy(out, line, 40);
                out[40] = '\0';
                found = true;
            }
        }
        fclose(f);
    }
    return found;
}

struct tagset {
    struct mlflow_kv kv[64];
    size_t n;
    char store[8192]; /* the keys and values kv[] points into */
    size_t used;
};

/* Adds or replaces key (later providers override earlier ones). */
static void tags_put(struct tagset *t, const char *key, const char *value)
{
    size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
    if (t->used + kl + vl > sizeof t->store)
        return;
    char *k = memcpy(t->store + t->used, key, kl);
    char *v = memcpy(t->store + t->used + kl, value, vl);
    t->used += kl + vl;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kv[i].key, key) == 0) {
            t->kv[i].value = v;
            return;
        }
    if (t->n < MLFLOW_ARRAY_LEN(t->kv))
        t->kv[t->n++] = (struct mlflow_kv){k, v};
}

static void context_tags(struct tagset *t)
{
    char buf[PATH_MAX];
    mlflow__user_name(buf, sizeof buf);
    tags_put(t, "mlflow.user", buf);
    program_name(buf, sizeof buf);
    tags_put(t, "mlflow.source.name", buf);
    tags_put(t, "mlflow.source.type", "LOCAL");
    char exe[PATH_MAX], commit[41];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (git_commit(exe, commit))
            tags_put(t, "mlflow.source.git.commit", commit);
    }
    /* MLFLOW_RUN_CONTEXT: a JSON object of extra tags. */
    const char *ctx = getenv("MLFLOW_RUN_CONTEXT");
    if (ctx && *ctx) {
        json_object *o = json_tokener_parse(ctx);
        if (o && json_object_is_type(o, json_type_object)) {
            json_object_object_foreach(o, k, v) tags_put(t, k, json_object_get_string(v));
        }
        json_object_put(o);
    }
}

/* ---- signals and exit ---- */

static const struct {
    int sig;
    int status;
} fatal_signals[] = {
    {SIGSEGV, MLFLOW_RUN_STATUS_FAILED}, {SIGABRT, MLFLOW_RUN_STATUS_FAILED},
    {SIGBUS, MLFLOW_RUN_STATUS_FAILED},  {SIGFPE, MLFLOW_RUN_STATUS_FAILED},
    {SIGINT, MLFLOW_RUN_STATUS_KILLED},  {SIGTERM, MLFLOW_RUN_STATUS_KILLED},
};
static struct sigaction previous[MLFLOW_ARRAY_LEN(fatal_signals)];

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

/* Best effort by design: the process is dying. The store call is not
 * async-signal-safe, so it runs only when no other thread holds the fluent
 * lock (trylock), and only for runs this process started. Then the
 * previous disposition runs, so the signal has its normal effect. */
static void on_signal(int sig)
{
    int saved_errno = errno;
    size_t i = 0;
    while (i < MLFLOW_ARRAY_LEN(fatal_signals) && fatal_signals[i].sig != sig)
        i++;
    if (i == MLFLOW_ARRAY_LEN(fatal_signals))
        return;
    if (pthread_mutex_trylock(&mu) == 0) {
        end_all_locked(fatal_signals[i].status);
        pthread_mutex_unlock(&mu);
    }
    sigaction(sig, &previous[i], NULL);
    if (previous[i].sa_handler == SIG_IGN) {
        errno = saved_errno;
        return;
    }
    if (previous[i].sa_handler == SIG_DFL || (previous[i].sa_flags & SA_SIGINFO)) {
        raise(sig); /* delivered when this handler returns (it is unblocked then) */
    } else {
        previous[i].sa_handler(sig);
    }
    errno = saved_errno;
}

static void at_exit(void)
{
    mlflow_shutdown();
}

static void install_hooks_locked(void)
{
    if (fl.hooks_installed)
        return;
    fl.hooks_installed = true;
    atexit(at_exit);
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(fatal_signals); i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(fatal_signals[i].sig, NULL, &previous[i]);
        /* An ignored SIGINT/SIGTERM (nohup, background jobs) stays ignored. */
        if (previous[i].sa_handler == SIG_IGN)
            continue;
        sigaction(fatal_signals[i].sig, &sa, NULL);
    }
}

void mlflow_shutdown(void)
{
    pthread_mutex_lock(&mu);
    end_all_locked(MLFLOW_RUN_STATUS_FINISHED);
    long lost = fl.lost_values;
    fl.lost_values = 0;
    fl.lost_reported = false;
    mlflow_client_close(fl.client);
    fl.client = NULL;
    for (size_t i = 0; i < fl.n_retired; i++)
        mlflow_client_close(fl.retired[i]);
    mlflow__free(fl.retired);
    fl.retired = NULL;
    fl.n_retired = 0;
    mlflow__free(fl.experiment_id);
    fl.experiment_id = NULL;
    mlflow__free(fl.tracking_uri);
    fl.tracking_uri = NULL;
    pthread_mutex_unlock(&mu);
    if (lost > 0) {
        struct mlflow_error e = {MLFLOW_DATA_LOSS, ""};
        snprintf(e.message, sizeof e.message, "%ld more logged values were not stored", lost);
        mlflow__warn_data_loss("tracking data", &e);
    }
}

/* ---- runs ---- */

static int push_locked(struct mlflow_run *run, struct mlflow_error *err)
{
    if (fl.depth == MAX_DEPTH)
        return mlflow__seterr(err, MLFLOW_INVALID_STATE, "More than %d nested runs are active",
                              MAX_DEPTH);
    struct active_run *a = &fl.stack[fl.depth];
    snprintf(a->run_id, sizeof a->run_id, "%s", run->info.run_id);
    a->pid = getpid();
    a->artifact_uri = mlflow__strdup(run->info.artifact_uri ? run->info.artifact_uri : "");
    if (!a->artifact_uri)
        return mlflow__oom(err);
    fl.depth++;
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
        struct tagset *t = mlflow__calloc(1, sizeof *t);
        if (!t) {
            rc = mlflow__oom(err);
        } else {
            for (size_t i = 0; i < o->n_tags; i++)
                tags_put(t, o->tags[i].key, o->tags[i].value ? o->tags[i].value : "");
            if (o->description && *o->description)
                tags_put(t, "mlflow.note.content", o->description);
            rc = mlflow__client_log_batch(c, run_id, NULL, 0, NULL, 0, t->kv, t->n, err);
            mlflow__free(t);
        }
    }
    if (!rc)
        rc = push_locked(run, err);
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
    struct tagset *t = mlflow__calloc(1, sizeof *t);
    if (!t)
        return mlflow__oom(err);
    context_tags(t);
    if (fl.depth > 0)
        tags_put(t, "mlflow.parentRunId", fl.stack[fl.depth - 1].run_id);
    if (o->run_name && *o->run_name)
        tags_put(t, "mlflow.runName", o->run_name);
    if (o->description && *o->description)
        tags_put(t, "mlflow.note.content", o->description);
    for (size_t i = 0; i < o->n_tags; i++) /* user tags override context tags */
        if (o->tags[i].key)
            tags_put(t, o->tags[i].key, o->tags[i].value ? o->tags[i].value : "");

    char *exp = NULL;
    int rc = o->experiment_id && *o->experiment_id
                 ? ((exp = mlflow__strdup(o->experiment_id)) ? MLFLOW_OK : mlflow__oom(err))
                 : resolve_experiment_locked(c, &exp, err);
    struct mlflow_run *run = NULL;
    if (!rc) {
        struct mlflow_create_run_opts co = {.run_name = o->run_name, .tags = t->kv,
                                            .n_tags = t->n};
        rc = mlflow__client_create_run(c, exp, &co, &run, err);
    }
    if (!rc)
        rc = push_locked(run, err);
    mlflow_run_free(run);
    mlflow__free(exp);
    mlflow__free(t);
    return rc;
}

static int start_run_locked(const struct mlflow_run_opts *opts, struct mlflow_error *err)
{
    struct mlflow_run_opts o = {0};
    if (opts)
        o = *opts;
    if (fl.depth > 0 && !o.nested)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Run with UUID %s is already active. To start a new run, first end "
                              "the current run with mlflow_end_run(). To start a nested run, call "
                              "start_run with .nested = true",
                              fl.stack[fl.depth - 1].run_id);
    struct mlflow_client *c;
    int rc = client_locked(&c, err);
    if (rc)
        return rc;
    install_hooks_locked();
    /* $MLFLOW_RUN_ID is consumed: a later start_run makes a new run. */
    char env_run[300] = "";
    const char *resume = o.run_id && *o.run_id ? o.run_id : NULL;
    if (!resume) {
        const char *e = getenv("MLFLOW_RUN_ID");
        if (e && *e) {
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
    mlflow__free(a->artifact_uri);
    a->artifact_uri = NULL;
    unsetenv("MLFLOW_RUN_ID");
    struct mlflow_update_run_opts u = {
        .status = status ? status : MLFLOW_RUN_STATUS_FINISHED,
        .end_time = mlflow__now_ms(),
    };
    return fl.client ? mlflow__client_update_run(fl.client, a->run_id, &u, NULL, err) : MLFLOW_OK;
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
                            "Buffer too small for a run id");
    else
        snprintf(buf, size, "%s", fl.stack[fl.depth - 1].run_id);
    pthread_mutex_unlock(&mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int fetch_run(bool or_last, struct mlflow_run **out)
{
    struct mlflow_error err = {0};
    *out = NULL;
    char id[40] = "";
    struct mlflow_client *c = NULL;
    pthread_mutex_lock(&mu);
    if (fl.depth > 0)
        snprintf(id, sizeof id, "%s", fl.stack[fl.depth - 1].run_id);
    else if (or_last)
        snprintf(id, sizeof id, "%s", fl.last_run_id);
    int rc = id[0] ? client_locked(&c, &err) : MLFLOW_OK;
    pthread_mutex_unlock(&mu);
    if (!rc && id[0])
        rc = mlflow__client_get_run(c, id, out, &err);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

int mlflow_active_run(struct mlflow_run **out)
{
    return out ? fetch_run(false, out) : MLFLOW_INVALID_PARAMETER_VALUE;
}

int mlflow_last_active_run(struct mlflow_run **out)
{
    return out ? fetch_run(true, out) : MLFLOW_INVALID_PARAMETER_VALUE;
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
    struct mlflow_error err = {0};
    int rc = MLFLOW_OK;
    pthread_mutex_lock(&mu);
    /* End this scope's run, and nested runs left open inside it, only if it
     * is still where the scope put it: the block may have ended it itself. */
    if (fl.depth >= s->depth_ && strcmp(fl.stack[s->depth_ - 1].run_id, s->run_id_) == 0)
        while (fl.depth >= s->depth_ && !rc)
            rc = end_run_locked(MLFLOW_RUN_STATUS_FINISHED, &err);
    pthread_mutex_unlock(&mu);
    if (rc)
        mlflow__publish(&err);
}

/* ---- logging ---- */

/* The innermost active run (started when none is) and the client, copied
 * out under the lock so the caller can log without holding it. */
static int current_run(char run_id[40], struct mlflow_client **c, char **artifact_uri,
                       struct mlflow_error *err)
{
    pthread_mutex_lock(&mu);
    int rc = MLFLOW_OK;
    if (fl.depth == 0)
        rc = start_run_locked(NULL, err);
    if (!rc)
        rc = client_locked(c, err);
    if (!rc) {
        memcpy(run_id, fl.stack[fl.depth - 1].run_id, 40);
        if (artifact_uri && !(*artifact_uri = mlflow__strdup(fl.stack[fl.depth - 1].artifact_uri)))
            rc = mlflow__oom(err);
    }
    pthread_mutex_unlock(&mu);
    return rc;
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

int mlflow_log_metric_ts(const char *key, double value, int64_t step, int64_t timestamp)
{
    struct mlflow_error err = {0};
    char run_id[40];
    struct mlflow_client *c;
    int rc = current_run(run_id, &c, NULL, &err);
    if (!rc)
        rc = mlflow__client_log_metric(c, run_id, key, value, timestamp, step, &err);
    return finish(rc, "a metric value", &err);
}

int mlflow_log_metric(const char *key, double value, int64_t step)
{
    return mlflow_log_metric_ts(key, value, step, 0);
}

static int log_batch(const struct mlflow_metric *m, size_t nm, const struct mlflow_kv *p,
                     size_t np, const struct mlflow_kv *t, size_t nt, const char *what)
{
    struct mlflow_error err = {0};
    char run_id[40];
    struct mlflow_client *c;
    int rc = current_run(run_id, &c, NULL, &err);
    if (!rc)
        rc = mlflow__client_log_batch(c, run_id, m, nm, p, np, t, nt, &err);
    return finish(rc, what, &err);
}

int mlflow_log_metrics(const struct mlflow_metric *metrics, size_t n, int64_t step)
{
    struct mlflow_error err = {0};
    if (n > MLFLOW_MAX_METRICS_PER_BATCH)
        return finish(mlflow__validate_batch_sizes(n, 0, 0, &err), "metrics", &err);
    if (n && !metrics)
        return MLFLOW_INVALID_PARAMETER_VALUE;
    struct mlflow_metric *copy = mlflow__malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return finish(mlflow__oom(&err), "metrics", &err);
    int64_t now = mlflow__now_ms();
    for (size_t i = 0; i < n; i++)
        copy[i] = (struct mlflow_metric){metrics[i].key, metrics[i].value, now, step};
    int rc = log_batch(copy, n, NULL, 0, NULL, 0, "metric values");
    mlflow__free(copy);
    return rc;
}

int mlflow_log_param(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, &kv, 1, NULL, 0, "a param");
}

int mlflow_log_paramf(const char *key, const char *fmt, ...)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    mlflow__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    char *value = mlflow__sb_detach(&sb);
    if (!value) {
        struct mlflow_error err = {0};
        return finish(mlflow__oom(&err), "a param", &err);
    }
    int rc = mlflow_log_param(key, value);
    mlflow__free(value);
    return rc;
}

int mlflow_log_params(const struct mlflow_kv *params, size_t n)
{
    return log_batch(NULL, 0, params, n, NULL, 0, "params");
}

int mlflow_set_tag(const char *key, const char *value)
{
    struct mlflow_kv kv = {key, value ? value : ""};
    return log_batch(NULL, 0, NULL, 0, &kv, 1, "a tag");
}

int mlflow_set_tags(const struct mlflow_kv *tags, size_t n)
{
    return log_batch(NULL, 0, NULL, 0, tags, n, "tags");
}

int mlflow_delete_tag(const char *key)
{
    struct mlflow_error err = {0};
    char run_id[40];
    struct mlflow_client *c;
    int rc = current_run(run_id, &c, NULL, &err);
    if (!rc)
        rc = mlflow__client_delete_tag(c, run_id, key, &err);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int log_artifact(const char *local_path, const char *artifact_path, bool contents_only)
{
    struct mlflow_error err = {0};
    char run_id[40];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = current_run(run_id, &c, &uri, &err);
    if (!rc)
        rc = mlflow__client_log_artifact_path(c, uri, local_path, artifact_path, contents_only,
                                              &err);
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
    char run_id[40];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = current_run(run_id, &c, &uri, &err);
    if (!rc)
        rc = mlflow__client_log_text_at(c, uri, text, artifact_file, &err);
    mlflow__free(uri);
    return finish(rc, "a text artifact", &err);
}

int mlflow_get_artifact_uri(const char *path, char **out)
{
    struct mlflow_error err = {0};
    if (!out)
        return MLFLOW_INVALID_PARAMETER_VALUE;
    *out = NULL;
    char run_id[40];
    struct mlflow_client *c;
    char *uri = NULL;
    int rc = current_run(run_id, &c, &uri, &err);
    if (!rc && path && *path) {
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
