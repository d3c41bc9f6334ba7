/*
 * run.c - mlflow_run_project() and the submitted-run handle: fetch the
 * project, check the parameters, create the run with MLflow's project tags
 * and params, start the entry point's command, and record how it ended.
 *
 * The command is the same `bash -c` string MLflow builds (so both give the
 * same command line); command.c quotes every value that goes into it. The
 * program runs in its own process group so cancel reaches its children.
 * Nothing here installs signal handlers: a caller that wants Ctrl-C to
 * cancel (the CLI) runs asynchronously and calls cancel itself.
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

int mlflow_submitted_run_cancel(struct mlflow_submitted_run *r)
{
    struct mlflow_error err = {0};
    int wstatus = 0, rc = MLFLOW_OK;
    pid_t got = 0;

    if (!r)
        return mlflow__publish(&(struct mlflow_error){MLFLOW_INVALID_PARAMETER_VALUE,
                                                      "run is NULL"});
    pthread_mutex_lock(&r->mu);
    if (r->pid) {
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
        rc = reaped(r, wstatus, true, &err);
    }
    pthread_mutex_unlock(&r->mu);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
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

static int start(const char *uri, const struct mlflow_project_opts *o,
                 struct mlflow_submitted_run *r, struct mlflow_error *err)
{
    const char *entry = o->entry_point && *o->entry_point ? o->entry_point : "main";
    struct mlflow__fetched f = {0};
    struct mlflow__project *p = NULL;
    struct mlflow__project_cmd *cmd = NULL;
    struct mlflow__run_env env = {0};
    char *experiment_id = NULL;
    int rc;

    if ((rc = check_options(o, err)) ||
        (rc = mlflow__project_fetch(uri, o->version, o->storage_dir, &f, err)) ||
        (rc = mlflow__project_load(f.work_dir, &p, err)) ||
        (rc = mlflow__project_command(p, entry, o->parameters, o->n_parameters, &cmd, err)) ||
        (rc = mlflow__project_env(p, f.work_dir, o->env_manager, o->storage_dir, &env, err)))
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
    const struct mlflow_kv tags[] = {{"mlflow.project.backend", "local"},
                                     {"mlflow.project.env", env.tag}};

    if ((rc = mlflow__client_log_batch(r->client, r->run_id, NULL, 0, NULL, 0, tags,
                                       env.tag ? 2 : 1, err)))
        goto out;
    r->status = MLFLOW_RUN_STATUS_RUNNING;
    /* An environment's activation runs first, joined with " && " as in MLflow. */
    {
        struct mlflow__sb line = MLFLOW__SB_INIT;

        if (env.prefix)
            mlflow__sb_addf(&line, "%s && ", env.prefix);
        mlflow__sb_adds(&line, cmd->command);
        if (!(r->command = mlflow__sb_detach(&line))) {
            rc = mlflow__oom(err);
            goto out;
        }
    }
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
    mlflow__free(env.prefix);
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
        pthread_mutex_lock(&r->mu);
        rc = wait_locked(r, &err);
        pthread_mutex_unlock(&r->mu);
        if (!rc && !r->ok)
            rc = mlflow__seterr(&err, MLFLOW_INTERNAL_ERROR, "Run (ID '%s') failed", r->run_id);
    }
    if (out && r->run_id[0])
        *out = r;
    else
        mlflow_submitted_run_free(r);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}
