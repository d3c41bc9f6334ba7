/*
 * run.c - mlflow_run_project() and the submitted-run handle: fetch the
 * project, check the parameters, create the run with MLflow's project tags
 * and params, start the entry point's command, and record how it ended.
 *
 * The command is the same `bash -c` string MLflow builds (so both give the
 * same command line); command.c quotes every value that goes into it. The
 * program runs in its own process group so cancel reaches its children.
 * Because of that group, a terminal's Ctrl-C reaches only us: while a
 * synchronous run waits, SIGINT is caught, the run cancelled (KILLED), and
 * the signal raised again under the caller's own disposition, as MLflow
 * re-raises KeyboardInterrupt after cancelling.
 */
#include "client.h"
#include "projects/projects.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mlflow_submitted_run {
    pthread_mutex_t mu;
    struct mlflow_client *client;
    char run_id[MLFLOW_RUN_ID_SIZE];
    char *command;
    pid_t pid;     /* 0 once reaped */
    int status;    /* enum mlflow_run_status */
    bool ok;       /* exit status 0 */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- ending the run ------------------------------------------------------ */

/* Sets the run's final status unless the program already ended it. */
static int record_end(struct mlflow_submitted_run *r, int status, struct mlflow_error *err)
{
    struct mlflow_update_run_opts u = {status, mlflow__now_ms(), NULL};
    struct mlflow_run *run = NULL;
    int rc = mlflow__client_get_run(r->client, r->run_id, &run, err);

    if (!rc && run->info.status == MLFLOW_RUN_STATUS_RUNNING)
        rc = mlflow__client_update_run(r->client, r->run_id, &u, NULL, err);
    mlflow_run_free(run);
    return rc;
}

/* Interprets a waitpid status; `killed` says we cancelled it. */
static int reaped(struct mlflow_submitted_run *r, int wstatus, bool killed,
                  struct mlflow_error *err)
{
    r->pid = 0;
    r->ok = !killed && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    r->status = killed ? MLFLOW_RUN_STATUS_KILLED
                       : r->ok ? MLFLOW_RUN_STATUS_FINISHED : MLFLOW_RUN_STATUS_FAILED;
    return record_end(r, r->status, err);
}

static int wait_locked(struct mlflow_submitted_run *r, struct mlflow_error *err)
{
    int wstatus;

    if (!r->pid)
        return MLFLOW_OK;
    while (waitpid(r->pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return mlflow__seterr_sys(err, errno, "waiting for the run's process");
    return reaped(r, wstatus, false, err);
}

const char *mlflow_submitted_run_id(const struct mlflow_submitted_run *r)
{
    return r ? r->run_id : NULL;
}

const char *mlflow_submitted_run_command(const struct mlflow_submitted_run *r)
{
    return r && r->command ? r->command : "";
}

int mlflow_submitted_run_wait(struct mlflow_submitted_run *r, bool *succeeded)
{
    struct mlflow_error err = {0};
    int rc;

    if (succeeded)
        *succeeded = false;
    if (!r)
        return mlflow__publish(&(struct mlflow_error){MLFLOW_INVALID_PARAMETER_VALUE,
                                                      "run is NULL"});
    pthread_mutex_lock(&r->mu);
    rc = wait_locked(r, &err);
    if (succeeded)
        *succeeded = r->ok;
    pthread_mutex_unlock(&r->mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

int mlflow_submitted_run_status(struct mlflow_submitted_run *r)
{
    struct mlflow_error err = {0};
    int wstatus, status;

    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    if (r->pid && waitpid(r->pid, &wstatus, WNOHANG) == r->pid && reaped(r, wstatus, false, &err))
        mlflow__publish(&err);
    status = r->status;
    pthread_mutex_unlock(&r->mu);
    return status;
}

static int cancel_locked(struct mlflow_submitted_run *r, struct mlflow_error *err)
{
    int wstatus = 0;
    pid_t got = 0;

    if (!r->pid)
        return MLFLOW_OK;
    kill(-r->pid, SIGTERM);
    for (long waited = 0; waited < MLFLOW_PROJECT_CANCEL_GRACE_MS; waited += 20) {
        got = waitpid(r->pid, &wstatus, WNOHANG);
        if (got == r->pid || (got < 0 && errno != EINTR))
            break;
        sleep_ms(20);
    }
    /* Whatever is left of the group does not get to linger. */
    kill(-r->pid, SIGKILL);
    if (got != r->pid)
        while ((got = waitpid(r->pid, &wstatus, 0)) < 0 && errno == EINTR)
            ;
    return reaped(r, wstatus, true, err);
}

int mlflow_submitted_run_cancel(struct mlflow_submitted_run *r)
{
    struct mlflow_error err = {0};
    int rc;

    if (!r)
        return mlflow__publish(&(struct mlflow_error){MLFLOW_INVALID_PARAMETER_VALUE,
                                                      "run is NULL"});
    pthread_mutex_lock(&r->mu);
    rc = cancel_locked(r, &err);
    pthread_mutex_unlock(&r->mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

/* ---- Ctrl-C while a synchronous run waits ------------------------------- */

/* The handler is installed by the first waiting thread and the caller's
 * disposition put back by the last; every SIGINT meanwhile is counted. */
static pthread_mutex_t sigint_mu = PTHREAD_MUTEX_INITIALIZER;
static int sigint_waiters;
static struct sigaction sigint_saved;
static volatile sig_atomic_t sigint_count;

static void on_sigint(int sig)
{
    (void)sig;
    sigint_count = sigint_count + 1;
}

/* False when the program ignores SIGINT: then it stays ignored. */
static bool sigint_hook(void)
{
    struct sigaction sa, cur;
    bool hooked = true;

    pthread_mutex_lock(&sigint_mu);
    if (sigint_waiters == 0) {
        sigaction(SIGINT, NULL, &cur);
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) {
            hooked = false;
        } else {
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_sigint;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGINT, &sa, &sigint_saved);
        }
    }
    if (hooked)
        sigint_waiters++;
    pthread_mutex_unlock(&sigint_mu);
    return hooked;
}

static void sigint_unhook(bool reraise)
{
    pthread_mutex_lock(&sigint_mu);
    if (--sigint_waiters == 0)
        sigaction(SIGINT, &sigint_saved, NULL);
    pthread_mutex_unlock(&sigint_mu);
    if (reraise)
        raise(SIGINT);
}

/* Waits for the program; a SIGINT (when hooked) cancels it instead. */
static int wait_sync(struct mlflow_submitted_run *r, bool hooked, bool *interrupted,
                     struct mlflow_error *err)
{
    sig_atomic_t seen = sigint_count;
    long nap = 1;
    int wstatus;

    *interrupted = false;
    while (r->pid) {
        pid_t got = waitpid(r->pid, &wstatus, WNOHANG);

        if (got == r->pid)
            return reaped(r, wstatus, false, err);
        if (got < 0 && errno != EINTR)
            return mlflow__seterr_sys(err, errno, "waiting for the run's process");
        if (hooked && sigint_count != seen) {
            *interrupted = true;
            return cancel_locked(r, err);
        }
        /* Quick programs are noticed quickly, long ones polled 20 times a second. */
        sleep_ms(nap);
        nap = nap < 50 ? nap * 2 : 50;
    }
    return MLFLOW_OK;
}

void mlflow_submitted_run_free(struct mlflow_submitted_run *r)
{
    if (!r)
        return;
    mlflow_client_close(r->client);
    mlflow__free(r->command);
    pthread_mutex_destroy(&r->mu);
    mlflow__free(r);
}

/* ---- starting ------------------------------------------------------------ */

static int check_options(const struct mlflow_project_opts *o, struct mlflow_error *err)
{
    if (o->backend && *o->backend && strcmp(o->backend, "local") != 0)
        return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                              "backend '%s' is not supported; the only backend is 'local'",
                              o->backend);
    for (size_t i = 0; i < o->n_docker_args; i++)
        if (!o->docker_args[i].key || !*o->docker_args[i].key)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "docker argument %zu has no name", i);
    if (o->experiment_name && *o->experiment_name && o->experiment_id && *o->experiment_id)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Specify only one of 'experiment_name' or 'experiment_id'.");
    if (o->env_manager && *o->env_manager && strcmp(o->env_manager, "local") != 0 &&
        strcmp(o->env_manager, "conda") != 0 && strcmp(o->env_manager, "virtualenv") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value for env_manager: '%s' (expected local, conda or "
                              "virtualenv)", o->env_manager);
    if (o->backend_config && *o->backend_config) {
        const char *text = o->backend_config;
        json_object *j;

        /* A JSON object, or a file holding one, as MLflow's --backend-config. */
        j = *text == '{' ? json_tokener_parse(text) : json_object_from_file(text);
        bool ok = j && json_object_is_type(j, json_type_object);
        json_object_put(j);
        if (!ok)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "backend config must be a JSON object or the path of a file "
                                  "holding one: '%.200s'", text);
    }
    return MLFLOW_OK;
}

static int resolve_experiment(struct mlflow_client *c, const struct mlflow_project_opts *o,
                              char **out, struct mlflow_error *err)
{
    const char *name = o->experiment_name, *id = o->experiment_id;
    struct mlflow_experiment *e = NULL;
    int rc;

    *out = NULL;
    if (!(name && *name) && !(id && *id)) {
        name = getenv("MLFLOW_EXPERIMENT_NAME");
        id = name && *name ? NULL : getenv("MLFLOW_EXPERIMENT_ID");
    }
    if (name && *name) {
        rc = mlflow__client_get_experiment_by_name(c, name, &e, err);
        if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
            return mlflow__client_create_experiment(c, name, NULL, out, err);
        if (!rc && strcmp(e->lifecycle_stage, "active") != 0)
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "experiment '%s' is deleted", name);
        if (!rc && !(*out = mlflow__strdup(e->experiment_id)))
            rc = mlflow__oom(err);
        mlflow_experiment_free(e);
        return rc;
    }
    if (!id || !*id)
        id = "0";
    if ((rc = mlflow__client_get_experiment(c, id, &e, err)))
        return rc;
    mlflow_experiment_free(e);
    return (*out = mlflow__strdup(id)) ? MLFLOW_OK : mlflow__oom(err);
}

/* MLflow's mlflow.source.name: a local folder inside a git work tree is
 * named file://<top>#<subdir>; other local paths by their absolute path;
 * remote URIs as given. */
static char *source_name(const char *uri, const struct mlflow__fetched *f)
{
    struct mlflow__git_info gi;
    char *abs, *name;

    if (!f->local_dir || strchr(uri, '#'))
        return mlflow__strdup(uri);
    /* The folder named, even when a version was checked out in a clone. */
    if (!(abs = mlflow__strdup(f->local_dir)))
        return NULL;
    mlflow__git_info(abs, NULL, &gi);
    if (!gi.toplevel) {
        mlflow__git_info_free(&gi);
        return abs;
    }
    size_t n = strlen(gi.toplevel);
    const char *rel = strncmp(abs, gi.toplevel, n) == 0 ? abs + n : "";
    struct mlflow__sb sb = MLFLOW__SB_INIT;

    while (*rel == '/')
        rel++;
    mlflow__sb_addf(&sb, "file://%s%s%s", gi.toplevel, *rel ? "#" : "", rel);
    name = mlflow__sb_detach(&sb);
    mlflow__git_info_free(&gi);
    mlflow__free(abs);
    return name;
}

static int create_run(struct mlflow_client *c, const char *uri, const char *experiment_id,
                      const struct mlflow_project_opts *o, const char *entry,
                      const struct mlflow__fetched *f, const struct mlflow__project_cmd *cmd,
                      char *run_id, struct mlflow_error *err)
{
    struct mlflow_kv tags[12];
    size_t n = 0;
    char user[256], parent[MLFLOW_RUN_ID_SIZE];
    char *src = source_name(uri, f);
    struct mlflow__git_info gi;
    struct mlflow_run *run = NULL;
    int rc;

    if (!src)
        return mlflow__oom(err);
    mlflow__git_info(f->work_dir, o->version, &gi);
    mlflow__user_name(user, sizeof user);
    tags[n++] = (struct mlflow_kv){"mlflow.user", user};
    tags[n++] = (struct mlflow_kv){"mlflow.source.name", src};
    tags[n++] = (struct mlflow_kv){"mlflow.source.type", "PROJECT"};
    tags[n++] = (struct mlflow_kv){"mlflow.project.entryPoint", entry};
    if (gi.commit)
        tags[n++] = (struct mlflow_kv){"mlflow.source.git.commit", gi.commit};
    if (mlflow_active_run_id(parent, sizeof parent) == MLFLOW_OK)
        tags[n++] = (struct mlflow_kv){"mlflow.parentRunId", parent};
    if (gi.repo_url) {
        tags[n++] = (struct mlflow_kv){"mlflow.source.git.repoURL", gi.repo_url};
        tags[n++] = (struct mlflow_kv){"mlflow.gitRepoURL", gi.repo_url};
    }
    if (gi.is_branch) {
        tags[n++] = (struct mlflow_kv){"mlflow.source.git.branch", o->version};
        tags[n++] = (struct mlflow_kv){"mlflow.gitBranchName", o->version};
    }
    struct mlflow_create_run_opts copts = {o->run_name, 0, user, tags, n};

    rc = mlflow__client_create_run(c, experiment_id, &copts, &run, err);
    if (!rc) {
        snprintf(run_id, MLFLOW_RUN_ID_SIZE, "%s", run->info.run_id);
        rc = mlflow__client_log_batch_chunked(c, run_id, NULL, 0, cmd->params, cmd->n_params,
                                              NULL, 0, err);
    }
    mlflow_run_free(run);
    mlflow__git_info_free(&gi);
    mlflow__free(src);
    return rc;
}

/* The environment's tags: mlflow.project.backend and .env, and for docker
 * the image (MLflow's mlflow.docker.image.uri and .id). */
static int log_env_tags(struct mlflow_submitted_run *r, const struct mlflow__run_env *env,
                        struct mlflow_error *err)
{
    struct mlflow_kv tags[4] = {{"mlflow.project.backend", "local"}};
    size_t n = 1;

    if (env->tag)
        tags[n++] = (struct mlflow_kv){"mlflow.project.env", env->tag};
    if (env->docker) {
        tags[n++] = (struct mlflow_kv){"mlflow.docker.image.uri", env->docker_image.uri};
        tags[n++] = (struct mlflow_kv){"mlflow.docker.image.id", env->docker_image.id};
    }
    return mlflow__client_log_batch(r->client, r->run_id, NULL, 0, NULL, 0, tags, n, err);
}

/* The line for `bash -c`: the entry point's command after the
 * environment's activation (" && ", as MLflow joins them), or as the
 * arguments of `docker run` (" "). */
static int command_line(struct mlflow_submitted_run *r, const struct mlflow__project *p,
                        const struct mlflow_project_opts *o, const struct mlflow__run_env *env,
                        const char *experiment_id, const char *entry_cmd,
                        struct mlflow_error *err)
{
    struct mlflow__sb line = MLFLOW__SB_INIT;
    int rc = MLFLOW_OK;

    if (env->docker) {
        struct mlflow_run *run = NULL;

        if (!(rc = mlflow__client_get_run(r->client, r->run_id, &run, err))) {
            struct mlflow__docker_run dr = {r->run_id, experiment_id, r->client->tracking_uri,
                                            run->info.artifact_uri, o->docker_args,
                                            o->n_docker_args};

            rc = mlflow__docker_command(p, &env->docker_image, &dr, &line, err);
            mlflow__sb_addc(&line, ' ');
        }
        mlflow_run_free(run);
    } else if (env->prefix) {
        mlflow__sb_addf(&line, "%s && ", env->prefix);
    }
    mlflow__sb_adds(&line, entry_cmd);
    if (!rc && !(r->command = mlflow__sb_detach(&line)))
        rc = mlflow__oom(err);
    mlflow__sb_release(&line);
    return rc;
}

static int start(const char *uri, const struct mlflow_project_opts *o,
                 struct mlflow_submitted_run *r, struct mlflow_error *err)
{
    const char *entry = o->entry_point && *o->entry_point ? o->entry_point : "main";
    struct mlflow__fetched f = {0};
    struct mlflow__project *p = NULL;
    struct mlflow__project_cmd *cmd = NULL;
    struct mlflow__run_env env = {0};
    struct mlflow__param_fetch dl = {o->storage_dir, NULL, NULL};
    char *experiment_id = NULL, *tracking_uri = mlflow__resolve_tracking_uri(o->tracking_uri);
    int rc;

    /* All that can fail does so before the run exists: fetching, the
     * parameters (remote paths downloaded) and the environment. */
    dl.tracking_uri = tracking_uri;
    if (!tracking_uri) {
        rc = mlflow__oom(err);
        goto out;
    }
    if ((rc = check_options(o, err)) ||
        (rc = mlflow__project_fetch(uri, o->version, o->storage_dir, &f, err)) ||
        (rc = mlflow__project_load(f.work_dir, &p, err)) ||
        (rc = mlflow__project_command(p, entry, o->parameters, o->n_parameters, &dl, &cmd,
                                      err)) ||
        (rc = mlflow__project_env(p, f.work_dir, o, &env, err)))
        goto out;
    if ((rc = mlflow__client_open(o->tracking_uri, &r->client, err)) ||
        (rc = resolve_experiment(r->client, o, &experiment_id, err)))
        goto out;
    if (o->run_id && *o->run_id) {
        struct mlflow_run *run = NULL;

        if ((rc = mlflow__client_get_run(r->client, o->run_id, &run, err)))
            goto out;
        snprintf(r->run_id, sizeof r->run_id, "%s", run->info.run_id);
        mlflow__free(experiment_id);
        experiment_id = mlflow__strdup(run->info.experiment_id);
        mlflow_run_free(run);
        if (!experiment_id) {
            rc = mlflow__oom(err);
            goto out;
        }
        if (o->run_name && *o->run_name) {
            struct mlflow_update_run_opts u = {0, 0, o->run_name};

            if ((rc = mlflow__client_update_run(r->client, r->run_id, &u, NULL, err)))
                goto out;
        }
    } else if ((rc = create_run(r->client, uri, experiment_id, o, entry, &f, cmd, r->run_id,
                                err))) {
        goto out;
    }
    if ((rc = log_env_tags(r, &env, err)))
        goto out;
    r->status = MLFLOW_RUN_STATUS_RUNNING;
    if ((rc = command_line(r, p, o, &env, experiment_id, cmd->command, err)))
        goto out;
    {
        struct mlflow__sb e1 = MLFLOW__SB_INIT, e2 = MLFLOW__SB_INIT, e3 = MLFLOW__SB_INIT;
        const char *argv[] = {"bash", "-c", r->command, NULL};

        mlflow__sb_addf(&e1, "MLFLOW_RUN_ID=%s", r->run_id);
        mlflow__sb_addf(&e2, "MLFLOW_TRACKING_URI=%s", r->client->tracking_uri);
        mlflow__sb_addf(&e3, "MLFLOW_EXPERIMENT_ID=%s", experiment_id);
        const char *set[] = {e1.buf, e2.buf, e3.buf};

        if (e1.oom || e2.oom || e3.oom)
            rc = mlflow__oom(err);
        else
            rc = mlflow__spawn_group(argv, f.work_dir, set, 3, &r->pid, err);
        mlflow__sb_release(&e1);
        mlflow__sb_release(&e2);
        mlflow__sb_release(&e3);
    }
out:
    if (rc && r->run_id[0] && !r->pid) {
        /* The run exists but its program never started: it failed. */
        struct mlflow_error ignored;

        r->status = MLFLOW_RUN_STATUS_FAILED;
        record_end(r, MLFLOW_RUN_STATUS_FAILED, &ignored);
    }
    mlflow__run_env_free(&env);
    mlflow__free(dl.run_dir);
    mlflow__free(tracking_uri);
    mlflow__free(experiment_id);
    mlflow__obj_free(cmd);
    mlflow__obj_free(p);
    mlflow__fetched_free(&f);
    return rc;
}

int mlflow_run_project(const char *uri, const struct mlflow_project_opts *opts,
                       struct mlflow_submitted_run **out)
{
    static const struct mlflow_project_opts defaults;
    struct mlflow_error err = {0};
    struct mlflow_submitted_run *r;
    int rc;

    if (out)
        *out = NULL;
    if (!uri || !*uri)
        return mlflow__publish(&(struct mlflow_error){MLFLOW_INVALID_PARAMETER_VALUE,
                                                      "project URI is empty"});
    if (!opts)
        opts = &defaults;
    if (opts->asynchronous && !out)
        return mlflow__publish(&(struct mlflow_error){MLFLOW_INVALID_PARAMETER_VALUE,
                                                      "an asynchronous run needs `out`: only "
                                                      "its handle can record how it ends"});
    if (!(r = mlflow__calloc(1, sizeof *r)))
        return mlflow__publish(&(struct mlflow_error){MLFLOW_RESOURCE_EXHAUSTED,
                                                      "out of memory"});
    pthread_mutex_init(&r->mu, NULL);
    rc = start(uri, opts, r, &err);
    if (!rc && !opts->asynchronous) {
        bool hooked = sigint_hook(), interrupted = false;

        pthread_mutex_lock(&r->mu);
        rc = wait_sync(r, hooked, &interrupted, &err);
        pthread_mutex_unlock(&r->mu);
        /* The caller's disposition decides what the Ctrl-C does next. */
        if (hooked)
            sigint_unhook(interrupted);
        if (!rc && interrupted)
            rc = mlflow__seterr(&err, MLFLOW_CANCELLED,
                                "Run (ID '%s') was interrupted (SIGINT) and cancelled", r->run_id);
        else if (!rc && !r->ok)
            rc = mlflow__seterr(&err, MLFLOW_INTERNAL_ERROR, "Run (ID '%s') failed", r->run_id);
    }
    if (out && r->run_id[0])
        *out = r;
    else
        mlflow_submitted_run_free(r);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}
