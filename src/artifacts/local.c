/*
 * local.c - the local filesystem artifact repository (file: URIs and plain
 * paths), MLflow's LocalArtifactRepository.
 *
 * Paths were validated lexically by the caller; here every operation also
 * checks, after resolving symlinks, that it stays inside the repository
 * root (the class of escape MLflow patched in 2025), and writes go through
 * a temporary file and rename() so a reader never sees half a file.
 */
#include "artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* realpath(path) must equal realpath(root) or lie below it. */
static int check_inside(const char *root, const char *path, struct mlflow_error *err)
{
    char rroot[PATH_MAX], rpath[PATH_MAX];
    if (!realpath(root, rroot))
        return mlflow__seterr_sys(err, errno, "Cannot resolve artifact root '%s'", root);
    if (!realpath(path, rpath))
        return mlflow__seterr_sys(err, errno, "Cannot resolve artifact path '%s'", path);
    size_t n = strlen(rroot);
    if (strncmp(rroot, rpath, n) != 0 || (rpath[n] != '\0' && rpath[n] != '/' && n > 1))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact path '%s' resolves outside the artifact root '%s'", path,
                              root);
    return MLFLOW_OK;
}

/* The local directory for root_uri + artifact_path, created when `create`. */
static int resolve_dir(const char *root_uri, const char *artifact_path, bool create,
                       char **root_out, char **dir_out, struct mlflow_error *err)
{
    *root_out = *dir_out = NULL;
    char *root = mlflow__local_path_from_uri(root_uri);
    if (!root)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact root '%s' is not a local path", root_uri);
    char *dir = artifact_path && *artifact_path ? mlflow__path_join(root, artifact_path)
                                                : mlflow__strdup(root);
    if (!dir) {
        mlflow__free(root);
        return mlflow__oom(err);
    }
    int rc = MLFLOW_OK;
    if (create) {
        int e = mlflow__mkdirs(dir);
        if (e)
            rc = mlflow__seterr_sys(err, e, "Cannot create artifact directory '%s'", dir);
    }
    if (!rc && access(dir, F_OK) == 0)
        rc = check_inside(root, dir, err);
    if (rc) {
        mlflow__free(root);
        mlflow__free(dir);
        return rc;
    }
    *root_out = root;
    *dir_out = dir;
    return MLFLOW_OK;
}

/* Writes from `src_fd` (or the buffer) into dir/name via a temporary file
 * in the same directory, then renames it into place. */
static int write_atomic(const char *dir, const char *name, int src_fd, const void *data, size_t n,
                        mode_t mode, struct mlflow_error *err)
{
    char *dst = mlflow__path_join(dir, name);
    char *tmp = dst ? mlflow__malloc(strlen(dst) + 32) : NULL;
    if (!dst || !tmp) {
        mlflow__free(dst);
        return mlflow__oom(err);
    }
    char rnd[33];
    mlflow__uuid_hex(rnd);
    sprintf(tmp, "%s/.tmp-%.16s", dir, rnd);
    int rc = MLFLOW_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
    if (fd < 0) {
        rc = mlflow__seterr_sys(err, errno, "Cannot create '%s'", tmp);
        goto out;
    }
    if (src_fd >= 0) {
        for (;;) {
            ssize_t w = sendfile(fd, src_fd, NULL, 1 << 30);
            if (w == 0)
                break;
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                /* sendfile can refuse some sources; fall back to read/write. */
                char buf[1 << 16];
                ssize_t r;
                while ((r = read(src_fd, buf, sizeof buf)) > 0) {
                    for (ssize_t off = 0; off < r;) {
                        ssize_t k = write(fd, buf + off, (size_t)(r - off));
                        if (k < 0 && errno == EINTR)
                            continue;
                        if (k < 0) {
                            r = -1;
                            break;
                        }
                        off += k;
                    }
                    if (r < 0)
                        break;
                }
                if (r < 0)
                    rc = mlflow__seterr_sys(err, errno, "Cannot copy into '%s'", dst);
                break;
            }
        }
    } else {
        const char *p = data;
        for (size_t off = 0; off < n;) {
            ssize_t k = write(fd, p + off, n - off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                rc = mlflow__seterr_sys(err, errno, "Cannot write '%s'", dst);
                break;
            }
            off += (size_t)k;
        }
    }
    if (close(fd) != 0 && !rc)
        rc = mlflow__seterr_sys(err, errno, "Cannot write '%s'", dst);
    if (!rc && rename(tmp, dst) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot move artifact into '%s'", dst);
    if (rc)
        unlink(tmp);
out:
    mlflow__free(tmp);
    mlflow__free(dst);
    return rc;
}

static int local_log_file(const char *root_uri, const char *local_file, const char *artifact_path,
                          struct mlflow_error *err)
{
    char *root, *dir;
    int rc = resolve_dir(root_uri, artifact_path, true, &root, &dir, err);
    if (rc)
        return rc;
    int fd = open(local_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = mlflow__seterr_sys(err, errno, "Cannot open '%s'", local_file);
    } else {
        struct stat st;
        fstat(fd, &st);
        rc = write_atomic(dir, base_name(local_file), fd, NULL, 0, st.st_mode, err);
        close(fd);
    }
    mlflow__free(root);
    mlflow__free(dir);
    return rc;
}

static int local_log_bytes(const char *root_uri, const char *artifact_file, const void *data,
                           size_t n, struct mlflow_error *err)
{
    const char *slash = strrchr(artifact_file, '/');
    char *parent = slash ? mlflow__strndup(artifact_file, (size_t)(slash - artifact_file)) : NULL;
    if (slash && !parent)
        return mlflow__oom(err);
    const char *name = slash ? slash + 1 : artifact_file;
    if (!*name) {
        mlflow__free(parent);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact file '%s' names a directory, not a file", artifact_file);
    }
    char *root, *dir;
    int rc = resolve_dir(root_uri, parent, true, &root, &dir, err);
    mlflow__free(parent);
    if (rc)
        return rc;
    rc = write_atomic(dir, name, -1, data, n, 0666, err);
    mlflow__free(root);
    mlflow__free(dir);
    return rc;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_file_info *)a)->path,
                  ((const struct mlflow_file_info *)b)->path);
}

static int local_list(const char *root_uri, const char *path, struct mlflow_file_list **out,
                      struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_file_list *list = mlflow__obj_new(sizeof *list);
    if (!list)
        return mlflow__oom(err);
    struct mlflow__arena *a = mlflow__obj_arena(list);
    list->root_uri = mlflow__arena_strdup(a, root_uri);
    char *root = NULL, *dir = NULL;
    int rc = list->root_uri ? MLFLOW_OK : mlflow__oom(err);
    if (!rc)
        rc = resolve_dir(root_uri, path, false, &root, &dir, err);
    struct stat st;
    /* A missing path or a file lists as empty, as MLflow's local repository. */
    if (rc || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        goto done;
    DIR *d = opendir(dir);
    if (!d) {
        rc = mlflow__seterr_sys(err, errno, "Cannot list '%s'", dir);
        goto done;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (list->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct mlflow_file_info *nf = mlflow__arena_alloc(a, ncap * sizeof *nf);
            if (!nf) {
                rc = mlflow__oom(err);
                break;
            }
            if (list->count)
                memcpy(nf, list->files, list->count * sizeof *nf);
            list->files = nf;
            cap = ncap;
        }
        struct mlflow_file_info *fi = &list->files[list->count];
        fi->path = path && *path ? mlflow__arena_printf(a, "%s/%s", path, de->d_name)
                                 : mlflow__arena_strdup(a, de->d_name);
        if (!fi->path) {
            rc = mlflow__oom(err);
            break;
        }
        struct stat cst;
        if (fstatat(dirfd(d), de->d_name, &cst, 0) != 0)
            continue; /* vanished or dangling: not listed */
        fi->is_dir = S_ISDIR(cst.st_mode);
        fi->file_size = fi->is_dir ? -1 : (int64_t)cst.st_size;
        list->count++;
    }
    closedir(d);
    if (!rc && list->count)
        qsort(list->files, list->count, sizeof *list->files, cmp_info);
done:
    mlflow__free(root);
    mlflow__free(dir);
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

static int copy_tree(const char *src, const char *dst, int depth, struct mlflow_error *err)
{
    struct stat st;
    if (lstat(src, &st) != 0)
        return mlflow__seterr_sys(err, errno, "Cannot read artifact '%s'", src);
    if (S_ISLNK(st.st_mode))
        return MLFLOW_OK; /* never follow links out of the artifact store */
    if (!S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(dst, '/');
        char *dir = mlflow__strndup(dst, (size_t)(slash - dst));
        if (!dir)
            return mlflow__oom(err);
        int rc = MLFLOW_OK, e = mlflow__mkdirs(dir);
        if (e)
            rc = mlflow__seterr_sys(err, e, "Cannot create '%s'", dir);
        int fd = rc ? -1 : open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (!rc && fd < 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot open '%s'", src);
        if (!rc)
            rc = write_atomic(dir, slash + 1, fd, NULL, 0, st.st_mode, err);
        if (fd >= 0)
            close(fd);
        mlflow__free(dir);
        return rc;
    }
    if (depth > 64)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "'%s' is nested too deeply",
                              src);
    int e = mlflow__mkdirs(dst);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot create '%s'", dst);
    DIR *d = opendir(src);
    if (!d)
        return mlflow__seterr_sys(err, errno, "Cannot list '%s'", src);
    int rc = MLFLOW_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *s = mlflow__path_join(src, de->d_name), *t = mlflow__path_join(dst, de->d_name);
        rc = s && t ? copy_tree(s, t, depth + 1, err) : mlflow__oom(err);
        mlflow__free(s);
        mlflow__free(t);
    }
    closedir(d);
    return rc;
}

static int local_download(const char *root_uri, const char *path, const char *dst_dir,
                          char **out_local, struct mlflow_error *err)
{
    char *root, *src;
    int rc = resolve_dir(root_uri, path, false, &root, &src, err);
    if (rc)
        return rc;
    char *dst = path && *path ? mlflow__path_join(dst_dir, path) : mlflow__strdup(dst_dir);
    if (!dst)
        rc = mlflow__oom(err);
    else if (access(src, F_OK) != 0)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Artifact '%s' does not exist under '%s'", path ? path : "", root_uri);
    else
        rc = copy_tree(src, dst, 0, err);
    if (!rc && out_local)
        *out_local = dst;
    else
        mlflow__free(dst);
    mlflow__free(root);
    mlflow__free(src);
    return rc;
}

const struct mlflow__artifact_repo_ops mlflow__local_artifact_repo = {
    .scheme = "file",
    .log_file = local_log_file,
    .log_bytes = local_log_bytes,
    .list = local_list,
    .download = local_download,
};
