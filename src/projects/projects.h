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

/* Resolves entry point `entry` of project p with the user's parameters:
 * checks them (missing ones all listed, floats, uris, paths), substitutes
 * shell-quoted values into the command and appends undeclared parameters
 * as `--key value`. Relative `path` values are resolved against the cwd. */
MLFLOW_INTERNAL int mlflow__project_command(const struct mlflow__project *p, const char *entry,
                                            const struct mlflow_kv *user, size_t n_user,
                                            struct mlflow__project_cmd **out,
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
struct mlflow__run_env {
    char *prefix;        /* "source <venv>/bin/activate" to run before the command, or NULL */
    const char *tag;     /* value of mlflow.project.env, or NULL (local) */
};

MLFLOW_INTERNAL int mlflow__project_env(const struct mlflow__project *p, const char *work_dir,
                                        const char *env_manager, const char *storage_dir,
                                        struct mlflow__run_env *env, struct mlflow_error *err);

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
