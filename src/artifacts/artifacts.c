/*
 * artifacts.c - the scheme -> artifact repository table, and directory
 * uploads expressed through a repository's single-file operation so every
 * repository gets them for free.
 */
#include "artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *scheme;
    const struct mlflow__artifact_repo_ops *ops;
} repos[] = {
    {"", &mlflow__local_artifact_repo},
    {"file", &mlflow__local_artifact_repo},
    {"http", &mlflow__http_artifact_repo},
    {"https", &mlflow__http_artifact_repo},
    {"s3", &mlflow__s3_artifact_repo},
};

int mlflow__artifact_repo(const char *root_uri, const struct mlflow__artifact_repo_ops **out,
                          struct mlflow_error *err)
{
    char scheme[64];
    mlflow__uri_scheme(root_uri, scheme, sizeof scheme);
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(repos); i++)
        if (strcmp(repos[i].scheme, scheme) == 0) {
            *out = repos[i].ops;
            return MLFLOW_OK;
        }
    return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                          "Artifact URI scheme '%s' (in '%s') is not supported by this build of "
                          "mlflow-c yet",
                          scheme, root_uri);
}

/* Uploads the tree under `dir` into `artifact_path`, file by file, in name
 * order (readdir order would make uploads nondeterministic). */
static int log_tree(const struct mlflow__artifact_repo_ops *repo, const char *root_uri,
                    const char *dir, const char *artifact_path, int depth,
                    struct mlflow_error *err)
{
    if (depth > 64)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Directory '%s' is nested too deeply to upload", dir);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return mlflow__seterr_sys(err, errno, "Cannot read directory '%s'", dir);
    int rc = MLFLOW_OK;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (rc || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *child = mlflow__path_join(dir, name);
        char *child_art = artifact_path && *artifact_path ? mlflow__path_join(artifact_path, name)
                                                          : mlflow__strdup(name);
        struct stat st;
        if (!child || !child_art)
            rc = mlflow__oom(err);
        else if (stat(child, &st) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot stat '%s'", child);
        else if (S_ISDIR(st.st_mode))
            rc = log_tree(repo, root_uri, child, child_art, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            rc = repo->log_file(root_uri, child, artifact_path, err);
        /* Sockets, fifos and devices are skipped, as shutil.copytree would fail on them. */
        mlflow__free(child);
        mlflow__free(child_art);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int mlflow__artifacts_log_path(const char *root_uri, const char *local_path,
                               const char *artifact_path, bool contents_only,
                               struct mlflow_error *err)
{
    const struct mlflow__artifact_repo_ops *repo = NULL;
    int rc = mlflow__artifact_repo(root_uri, &repo, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(local_path, &st) != 0) {
        if (errno == ENOENT)
            return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                  "Cannot log artifact: local path '%s' does not exist",
                                  local_path);
        return mlflow__seterr_sys(err, errno, "Cannot log artifact '%s'", local_path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (contents_only)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "log_artifacts needs a directory, but '%s' is not one",
                                  local_path);
        return repo->log_file(root_uri, local_path, artifact_path, err);
    }
    if (contents_only)
        return log_tree(repo, root_uri, local_path, artifact_path, 0, err);
    /* A directory given to log_artifact lands under its own name, as
     * MlflowClient.log_artifact does; "." and ".." name it by where they
     * lead, never as path components. */
    size_t len = strlen(local_path);
    while (len > 1 && local_path[len - 1] == '/')
        len--;
    char *trimmed = mlflow__strndup(local_path, len), *real = NULL;
    if (!trimmed)
        return mlflow__oom(err);
    const char *name = strrchr(trimmed, '/') ? strrchr(trimmed, '/') + 1 : trimmed;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name) {
        if (!(real = realpath(local_path, NULL))) {
            mlflow__free(trimmed);
            return mlflow__seterr_sys(err, errno, "Cannot resolve '%s'", local_path);
        }
        name = strrchr(real, '/') + 1;
        if (!*name) { /* the filesystem root */
            free(real);
            mlflow__free(trimmed);
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Cannot log '/' as an artifact directory");
        }
    }
    char *sub = artifact_path && *artifact_path ? mlflow__path_join(artifact_path, name)
                                                : mlflow__strdup(name);
    free(real);
    mlflow__free(trimmed);
    if (!sub)
        return mlflow__oom(err);
    rc = log_tree(repo, root_uri, local_path, sub, 0, err);
    mlflow__free(sub);
    return rc;
}

int mlflow__download_begin(struct mlflow__download *d, const char *dst, struct mlflow_error *err)
{
    *d = (struct mlflow__download){.fd = -1, .dst = dst};
    const char *slash = strrchr(dst, '/');
    char *dir = slash ? mlflow__strndup(dst, (size_t)(slash - dst)) : mlflow__strdup(".");
    if (!dir)
        return mlflow__oom(err);
    int rc = MLFLOW_OK, e = mlflow__mkdirs(dir);
    if (e)
        rc = mlflow__seterr_sys(err, e, "Cannot create '%s'", dir);
    if (!rc && !(d->tmp = mlflow__malloc(strlen(dir) + 32)))
        rc = mlflow__oom(err);
    if (!rc) {
        sprintf(d->tmp, "%s/.mlflow-download-XXXXXX", dir);
        if ((d->fd = mkostemp(d->tmp, O_CLOEXEC)) < 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot create a file in '%s'", dir);
    }
    mlflow__free(dir);
    if (rc) {
        mlflow__free(d->tmp);
        d->tmp = NULL;
    }
    return rc;
}

int mlflow__download_end(struct mlflow__download *d, int rc, struct mlflow_error *err)
{
    if (d->fd >= 0) {
        mode_t um = umask(0);
        umask(um);
        if (!rc && fchmod(d->fd, 0666 & ~um) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot set the mode of '%s'", d->dst);
        if (close(d->fd) != 0 && !rc)
            rc = mlflow__seterr_sys(err, errno, "Cannot write '%s'", d->dst);
        if (!rc && rename(d->tmp, d->dst) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot move the download into '%s'", d->dst);
        if (rc)
            unlink(d->tmp);
        d->fd = -1;
    }
    mlflow__free(d->tmp);
    d->tmp = NULL;
    return rc;
}
