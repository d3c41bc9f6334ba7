/*
 * projects.h - MLflow Projects inside the library: the parsed MLproject
 * file (mlproject.c) and the command an entry point runs, shared with the
 * code that fetches and launches projects (run.c).
 */
#ifndef MLFLOW_PROJECTS_H
#define MLFLOW_PROJECTS_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mlflow__param_type {
    MLFLOW__PARAM_STRING = 1,
    MLFLOW__PARAM_FLOAT,
    MLFLOW__PARAM_PATH,
    MLFLOW__PARAM_URI,
};

struct mlflow__project_param {
    const char *name;
    int type;         /* enum mlflow__param_type */
    const char *dflt; /* str() of the YAML default as Python writes it; NULL: none */
};

struct mlflow__entry_point {
    const char *name;
    const char *command;
    struct mlflow__project_param *params;
    size_t n_params;
};

enum mlflow__env_type {
    MLFLOW__ENV_NONE = 0,
    MLFLOW__ENV_CONDA,
    MLFLOW__ENV_PYTHON,
    MLFLOW__ENV_DOCKER,
};

/* One arena (mlflow__obj_new); free with mlflow__obj_free. */
struct mlflow__project {
    const char *name;
    struct mlflow__entry_point *entry_points;
    size_t n_entry_points;
    int env_type;         /* enum mlflow__env_type */
    const char *env_path; /* conda/python env file, or the docker image */
    /* docker_env's `volumes` ("host:container" strings) and `environment`:
     * [NAME, value] pairs, or a bare NAME (value NULL) copied from ours. */
    const char **docker_volumes;
    size_t n_docker_volumes;
    struct mlflow_kv *docker_environment;
    size_t n_docker_environment;
};

/* Largest MLproject file read; a bigger one is refused before parsing. */
#define MLFLOW__MLPROJECT_MAX_BYTES (1u << 20)

/* Parses MLproject text. `dir` (may be NULL) is where referenced env files
 * must exist. Errors are INVALID_PARAMETER_VALUE naming `what`, the line
 * and the key. */
MLFLOW_INTERNAL int mlflow__project_parse(const char *buf, size_t len, const char *what,
                                          const char *dir, struct mlflow__project **out,
                                          struct mlflow_error *err);
/* Loads the project in directory `dir`: its MLproject file (any case), or
 * an empty project when there is none. */
MLFLOW_INTERNAL int mlflow__project_load(const char *dir, struct mlflow__project **out,
                                         struct mlflow_error *err);

/* What running an entry point means. One arena; free with mlflow__obj_free. */
struct mlflow__project_cmd {
    const char *command;      /* the text handed to `bash -c` */
    struct mlflow_kv *params; /* declared then extra: values as given, shell-quoted (MLflow) */
    size_t n_params;
};

/* Where remote `path` parameters are downloaded: MLflow's storage_dir
 * (NULL: $TMPDIR or /tmp), and the tracking URI that mlflow-artifacts:
 * URIs are resolved against. The per-run folder under storage_dir is made
 * on the first download; its path is kept in run_dir (caller frees). */
struct mlflow__param_fetch {
    const char *storage_dir;
    const char *tracking_uri;
    char *run_dir;
};

/* Resolves entry point `entry` of project p with the user's parameters:
 * checks them (missing ones all listed, floats, uris, paths), substitutes
 * shell-quoted values into the command and appends undeclared parameters
 * as `--key value`. Relative `path` values are resolved against the cwd;
 * remote ones are downloaded through `dl` (NULL: refused). */
MLFLOW_INTERNAL int mlflow__project_command(const struct mlflow__project *p, const char *entry,
                                            const struct mlflow_kv *user, size_t n_user,
                                            struct mlflow__param_fetch *dl,
                                            struct mlflow__project_cmd **out,
                                            struct mlflow_error *err);

/* ---- downloads (download.c) -------------------------------------------- */

/* Downloads the remote `uri` given to the `path` parameter declared at
 * `position`, as MLflow does: through the artifact repository for the
 * URI's parent (s3://, http(s):// of an MLflow artifacts service,
 * mlflow-artifacts:, ...) into <run_dir>/param_<position>/. A plain
 * http(s) URL elsewhere is fetched with one GET. *out = the local copy. */
MLFLOW_INTERNAL int mlflow__project_download(const char *uri, size_t position,
                                             struct mlflow__param_fetch *dl, char **out,
                                             struct mlflow_error *err);

/* Python's shlex.quote(s), appended to sb. */
MLFLOW_INTERNAL void mlflow__shell_quote(struct mlflow__sb *sb, const char *s);

/* ---- child processes (spawn.c) -------------------------------------------
 * Programs are started with posix_spawnp and an argv, never via a shell. */

/* Runs argv (PATH lookup) in cwd (NULL: ours) with our environment, stdin
 * from /dev/null; its stdout (and stderr when with_stderr, else discarded)
 * is appended to out, at most 64 KiB kept. *status gets waitpid's status. */
MLFLOW_INTERNAL int mlflow__spawn_capture(const char *const argv[], const char *cwd,
                                          bool with_stderr, struct mlflow__sb *out, int *status,
                                          struct mlflow_error *err);
/* The same with stdin read from the file stdin_path (NULL: /dev/null). */
MLFLOW_INTERNAL int mlflow__spawn_capture_in(const char *const argv[], const char *cwd,
                                             const char *stdin_path, bool with_stderr,
                                             struct mlflow__sb *out, int *status,
                                             struct mlflow_error *err);
/* Starts argv in cwd in a new process group, with our environment plus the
 * `n_set` "NAME=value" strings of `set` (replacing variables of that name).
 * Does not wait. */
MLFLOW_INTERNAL int mlflow__spawn_group(const char *const argv[], const char *cwd,
                                        const char *const *set, size_t n_set, int *pid,
                                        struct mlflow_error *err);
/* True when `prog` is an executable file in a PATH directory. */
MLFLOW_INTERNAL bool mlflow__on_path(const char *prog);

/* ---- fetching (fetch.c) ------------------------------------------------ */

struct mlflow__fetched {
    char *root;      /* the project's top folder on disk */
    char *work_dir;  /* root + #subdirectory, absolute */
    char *temp_dir;  /* a clone or unzip we made (left in place, as MLflow does), or NULL */
    char *local_dir; /* the local folder the URI named (absolute), or NULL */
};

MLFLOW_INTERNAL int mlflow__project_fetch(const char *uri, const char *version,
                                          const char *storage_dir, struct mlflow__fetched *f,
                                          struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__fetched_free(struct mlflow__fetched *f);
/* A new directory "<name>-XXXXXX" under storage_dir (created if needed),
 * else $TMPDIR or /tmp. Caller frees the path. */
MLFLOW_INTERNAL int mlflow__project_temp_dir(const char *storage_dir, const char *name,
                                             char **out, struct mlflow_error *err);

/* ---- environments (env.c) ----------------------------------------------
 * The environment the command runs in, chosen from env_manager (NULL: from
 * the project, as MLflow does) and the project's environment. Anything
 * that cannot be provided is an error naming what is missing; there is
 * never a silent fall back to the current environment. */
/* The image a docker_env project runs in (docker.c). */
struct mlflow__docker_image {
    char *uri;  /* tag mlflow.docker.image.uri: the base image, or the one built */
    char *id;   /* tag mlflow.docker.image.id: "sha256:..." */
    char *ref;  /* what `docker run` is given: the image's first tag */
};

struct mlflow__run_env {
    char *prefix;        /* activation to run before the command ("... && cmd"), or NULL */
    const char *tag;     /* value of mlflow.project.env, or NULL (local) */
    bool docker;         /* the command runs in `docker run` of docker_image */
    struct mlflow__docker_image docker_image;
};

/* Prepares the environment options `o` ask for (env_manager, build_image)
 * for project p in work_dir. Free env with mlflow__run_env_free. */
MLFLOW_INTERNAL int mlflow__project_env(const struct mlflow__project *p, const char *work_dir,
                                        const struct mlflow_project_opts *o,
                                        struct mlflow__run_env *env, struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__run_env_free(struct mlflow__run_env *env);

/* conda (conda.c): the env for the conda yaml at env_file (absolute),
 * found or made as MLflow names it, "mlflow-<sha1 of the file>"; sets
 * env->prefix to its activation. */
MLFLOW_INTERNAL int mlflow__conda_env(const char *env_file, struct mlflow__run_env *env,
                                      struct mlflow_error *err);
/* SHA-1 of the n bytes at data as 40 hex digits and a NUL (conda.c). */
MLFLOW_INTERNAL void mlflow__sha1_hex(const void *data, size_t n, char hex[41]);

/* docker (docker.c). mlflow__docker_prepare checks the project and the
 * engine and gets the image: the docker_env image as it is (pulled when
 * missing), or with `build` one made FROM it holding work_dir's files. */
MLFLOW_INTERNAL int mlflow__docker_prepare(const struct mlflow__project *p, const char *work_dir,
                                           bool build, struct mlflow__docker_image *img,
                                           struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__docker_image_free(struct mlflow__docker_image *img);

/* What the `docker run` part of the command needs to know of the run. */
struct mlflow__docker_run {
    const char *run_id;
    const char *experiment_id;
    const char *tracking_uri;
    const char *artifact_uri;
    const struct mlflow_kv *docker_args; /* value NULL: a flag */
    size_t n_docker_args;
};

/* Appends MLflow's `docker run --rm ... IMAGE` words for the project to sb,
 * each shell-quoted (the entry point's command follows them). */
MLFLOW_INTERNAL int mlflow__docker_command(const struct mlflow__project *p,
                                           const struct mlflow__docker_image *img,
                                           const struct mlflow__docker_run *dr,
                                           struct mlflow__sb *sb, struct mlflow_error *err);

/* What git says about the folder `dir` (every field NULL outside a work
 * tree or without git). */
struct mlflow__git_info {
    char *toplevel;
    char *commit;
    char *repo_url;  /* URL of the first remote */
    bool is_branch;  /* `version` names a local branch */
};

MLFLOW_INTERNAL int mlflow__git_info(const char *dir, const char *version,
                                     struct mlflow__git_info *gi);
MLFLOW_INTERNAL void mlflow__git_info_free(struct mlflow__git_info *gi);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_PROJECTS_H */
