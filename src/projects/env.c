/*
 * env.c - the environment a project's command runs in.
 *
 * `local` runs it in ours. `virtualenv` makes a fresh `python3 -m venv`
 * from the project's python_env.yaml (its dependencies installed with pip)
 * and prefixes the command with `source <venv>/bin/activate &&`, as MLflow
 * does. MLflow would also install another Python version with pyenv; we do
 * not, so a python_env.yaml asking for a version python3 is not is refused.
 * `conda` is conda.c's, a docker_env (which wins over any env manager, as
 * in MLflow) docker.c's. What is missing is named in the error; nothing
 * falls back to the current environment.
 */
#include "projects/projects.h"
#include "yaml_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool file_exists(const char *dir, const char *name)
{
    char *path = mlflow__path_join(dir, name);
    struct stat st;
    bool found = path && stat(path, &st) == 0;

    mlflow__free(path);
    return found;
}

/* Runs argv; on failure the error quotes its output. */
static int run_step(const char *const argv[], const char *cwd, const char *what,
                    struct mlflow_error *err)
{
    struct mlflow__sb out = MLFLOW__SB_INIT;
    int status, rc = mlflow__spawn_capture(argv, cwd, true, &out, &status, err);

    if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        size_t n = out.len;

        while (n && (out.buf[n - 1] == '\n' || out.buf[n - 1] == ' '))
            n--;
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "%s failed%s%.*s", what,
                            n ? ": " : "", (int)(n > 600 ? 600 : n),
                            n > 600 ? out.buf + out.len - 600 : (out.buf ? out.buf : ""));
    }
    mlflow__sb_release(&out);
    return rc;
}

struct python_env {
    struct mlflow__yaml_doc doc;
    const char *python;      /* requested version, or NULL */
    yaml_node_t *lists[2];   /* build_dependencies, dependencies (sequences) or NULL */
};

static int load_python_env(const char *path, struct python_env *pe, struct mlflow_error *err)
{
    struct mlflow__sb buf = MLFLOW__SB_INIT;
    char chunk[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    memset(pe, 0, sizeof *pe);
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "cannot read '%s'", path);
    while ((n = read(fd, chunk, sizeof chunk)) > 0 && buf.len <= MLFLOW__MLPROJECT_MAX_BYTES)
        mlflow__sb_add(&buf, chunk, (size_t)n);
    close(fd);
    if (buf.oom)
        return mlflow__oom(err);
    if (buf.len > MLFLOW__MLPROJECT_MAX_BYTES) {
        mlflow__sb_release(&buf);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "'%s' is too large", path);
    }
    rc = mlflow__yaml_load(&pe->doc, buf.buf ? buf.buf : "", buf.len, path, err);
    mlflow__sb_release(&buf);
    if (rc)
        return rc;
    yaml_node_t *root = mlflow__yaml_root(&pe->doc), *py;
    static const char *const keys[] = {"build_dependencies", "dependencies"};

    if (root && root->type != YAML_MAPPING_NODE)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "%s: the top level must be a mapping", path);
    if ((py = mlflow__yaml_map_get(&pe->doc, root, "python")))
        pe->python = mlflow__yaml_scalar(py);
    for (size_t i = 0; i < 2; i++) {
        yaml_node_t *l = mlflow__yaml_map_get(&pe->doc, root, keys[i]);

        if (l && l->type == YAML_SEQUENCE_NODE)
            pe->lists[i] = l;
        else if (l && !(l->type == YAML_SCALAR_NODE &&
                        mlflow__yaml_scalar_type(l) == MLFLOW__YAML_NULL))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "%s:%zu: '%s' must be a list of requirements", path,
                                  l->start_mark.line + 1, keys[i]);
    }
    return MLFLOW_OK;
}

/* "3.11" matches python3 3.11.7; "3.11.7" must match exactly. */
static int check_python_version(const char *want, struct mlflow_error *err)
{
    const char *argv[] = {"python3", "-c", "import platform; print(platform.python_version())",
                          NULL};
    struct mlflow__sb out = MLFLOW__SB_INIT;
    int status, rc = mlflow__spawn_capture(argv, NULL, false, &out, &status, err);
    size_t n = strlen(want);

    if (rc)
        return rc;
    while (out.len && (out.buf[out.len - 1] == '\n' || out.buf[out.len - 1] == '\r'))
        out.buf[--out.len] = '\0';
    if (!out.buf || strncmp(out.buf, want, n) != 0 || (out.buf[n] && out.buf[n] != '.'))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "python_env.yaml asks for Python %s, but python3 is %s; mlflow-c "
                            "does not install Python versions", want,
                            out.buf ? out.buf : "unknown");
    mlflow__sb_release(&out);
    return rc;
}

/* Writes one requirements list to a file in the venv and pip-installs it. */
static int install(struct python_env *pe, yaml_node_t *list, const char *venv, int index,
                   const char *work_dir, struct mlflow_error *err)
{
    struct mlflow__sb text = MLFLOW__SB_INIT, name = MLFLOW__SB_INIT;
    char *path = NULL, *python = NULL;
    size_t count = 0;
    int rc = MLFLOW_OK;
    FILE *fp;

    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        const char *req = mlflow__yaml_scalar(yaml_document_get_node(&pe->doc.doc, *it));

        if (!req || strchr(req, '\n'))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "requirements in python_env.yaml must be one-line strings");
        mlflow__sb_addf(&text, "%s\n", req);
        count++;
    }
    if (!count)
        return MLFLOW_OK;
    mlflow__sb_addf(&name, "requirements.%d.txt", index);
    path = name.buf ? mlflow__path_join(venv, name.buf) : NULL;
    python = mlflow__path_join(venv, "bin/python");
    if (!path || !python || text.oom) {
        rc = mlflow__oom(err);
        goto out;
    }
    if (!(fp = fopen(path, "w")) || fputs(text.buf, fp) < 0 || fclose(fp) != 0) {
        rc = mlflow__seterr_sys(err, errno, "cannot write '%s'", path);
        goto out;
    }
    const char *argv[] = {python, "-m", "pip", "install", "--quiet", "-r", path, NULL};
    rc = run_step(argv, work_dir, "installing the python_env.yaml dependencies", err);
out:
    mlflow__free(path);
    mlflow__free(python);
    mlflow__sb_release(&text);
    mlflow__sb_release(&name);
    return rc;
}

static int make_virtualenv(const struct mlflow__project *p, const char *work_dir,
                           const char *storage_dir, struct mlflow__run_env *env,
                           struct mlflow_error *err)
{
    struct python_env pe;
    char *env_file = NULL, *venv = NULL;
    bool has_deps;
    int rc;

    memset(&pe, 0, sizeof pe);
    if (p->env_type == MLFLOW__ENV_CONDA || (p->env_type == MLFLOW__ENV_NONE &&
                                             !file_exists(work_dir, "python_env.yaml") &&
                                             file_exists(work_dir, "conda.yaml")))
        return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                              "the project's environment is a conda.yaml; mlflow-c cannot turn "
                              "it into a virtualenv (use --env-manager local or conda)");
    if (!mlflow__on_path("python3"))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "env manager 'virtualenv' needs the 'python3' program, which is "
                              "not on PATH");
    if (p->env_type == MLFLOW__ENV_PYTHON)
        env_file = mlflow__path_join(work_dir, p->env_path);
    else if (file_exists(work_dir, "python_env.yaml"))
        env_file = mlflow__path_join(work_dir, "python_env.yaml");
    if (env_file && (rc = load_python_env(env_file, &pe, err)))
        goto out;
    if (pe.python && (rc = check_python_version(pe.python, err)))
        goto out;
    if ((rc = mlflow__project_temp_dir(storage_dir, "mlflow-venv", &venv, err)))
        goto out;
    has_deps = false;
    for (int i = 0; i < 2; i++)
        if (pe.lists[i] && pe.lists[i]->data.sequence.items.top >
                               pe.lists[i]->data.sequence.items.start)
            has_deps = true;
    {
        /* Without requirements there is nothing for pip to do. */
        const char *argv[] = {"python3", "-m", "venv", has_deps ? venv : "--without-pip",
                              has_deps ? NULL : venv, NULL};

        if ((rc = run_step(argv, NULL, "python3 -m venv", err)))
            goto out;
    }
    for (int i = 0; i < 2 && !rc; i++)
        if (pe.lists[i])
            rc = install(&pe, pe.lists[i], venv, i, work_dir, err);
    if (rc)
        goto out;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    char *activate = mlflow__path_join(venv, "bin/activate");

    if (activate) {
        mlflow__sb_adds(&sb, "source ");
        mlflow__shell_quote(&sb, activate);
    }
    mlflow__free(activate);
    if (!(env->prefix = mlflow__sb_detach(&sb)))
        rc = mlflow__oom(err);
    env->tag = "virtualenv";
out:
    mlflow__yaml_doc_free(&pe.doc);
    mlflow__free(env_file);
    mlflow__free(venv);
    return rc;
}

void mlflow__run_env_free(struct mlflow__run_env *env)
{
    mlflow__free(env->prefix);
    mlflow__docker_image_free(&env->docker_image);
    memset(env, 0, sizeof *env);
}

int mlflow__project_env(const struct mlflow__project *p, const char *work_dir,
                        const struct mlflow_project_opts *o, struct mlflow__run_env *env,
                        struct mlflow_error *err)
{
    const char *mgr = o->env_manager, *storage_dir = o->storage_dir;
    int type = p->env_type, rc;

    memset(env, 0, sizeof *env);
    if (type == MLFLOW__ENV_NONE) {
        if (file_exists(work_dir, "python_env.yaml"))
            type = MLFLOW__ENV_PYTHON;
        else if (file_exists(work_dir, "conda.yaml"))
            type = MLFLOW__ENV_CONDA;
    }
    if (type == MLFLOW__ENV_DOCKER) {
        if ((rc = mlflow__docker_prepare(p, work_dir, o->build_image, &env->docker_image, err)))
            return rc;
        env->docker = true;
        env->tag = "docker";
        return MLFLOW_OK;
    }
    if (!mgr || !*mgr) {
        /* As MLflow: the project's own environment decides. */
        if (type == MLFLOW__ENV_NONE)
            return MLFLOW_OK;
        mgr = type == MLFLOW__ENV_CONDA ? "conda" : "virtualenv";
    }
    if (strcmp(mgr, "local") == 0)
        return MLFLOW_OK;
    if (strcmp(mgr, "virtualenv") == 0)
        return make_virtualenv(p, work_dir, storage_dir, env, err);
    /* MLflow counts a project without conda yaml as a python_env one. */
    if (type != MLFLOW__ENV_CONDA)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "python_env project cannot be executed using conda. Set "
                              "`--env-manager` to 'virtualenv' or 'local' to execute this "
                              "project.");
    char *file = mlflow__path_join(work_dir, p->env_type == MLFLOW__ENV_CONDA ? p->env_path
                                                                           : "conda.yaml");

    if (!file)
        return mlflow__oom(err);
    rc = mlflow__conda_env(file, env, err);
    mlflow__free(file);
    return rc;
}
