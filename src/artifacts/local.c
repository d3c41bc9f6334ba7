/*
 * local.c - the local filesystem artifact repository (file: URIs and plain
 * paths), MLflow's LocalArtifactRepository.
 *
 * Nothing below the repository root is reached by joining strings: every
 * operation opens the root once and walks down one component at a time
 * with openat(O_NOFOLLOW | O_DIRECTORY), creating missing directories with
 * mkdirat, so a symlink planted inside the artifact tree can never lead a
 * read or a write outside it (security rule R2; MLflow patched this class
 * in 2025). Writes go through a temporary file and renameat(), so a reader
 * never sees half a file. Paths arrive validated lexically (no "..", no
 * empty or absolute parts) by mlflow__validate_artifact_path.
 */
#include "artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Opens the repository root (created when `create`). The root itself is
 * configuration, not data, so a symlinked root is followed. */
static int open_root(const char *root_uri, bool create, int *out, struct mlflow_error *err)
{
    *out = -1;
    char *root = mlflow__local_path_from_uri(root_uri);
    if (!root)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact root '%s' is not a local path", root_uri);
    int rc = MLFLOW_OK;
    if (!*root) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_STATE, "Artifact root URI '%s' is empty",
                            root_uri);
    } else {
        int e = create ? mlflow__mkdirs(root) : 0;
        if (e)
            rc = mlflow__seterr_sys(err, e, "Cannot create artifact root '%s'", root);
        else if ((*out = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            rc = errno == ENOENT
                     ? mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                      "Artifact root '%s' does not exist", root)
                     : mlflow__seterr_sys(err, errno, "Cannot open artifact root '%s'", root);
    }
    mlflow__free(root);
    return rc;
}

/* Walks `rel` (may be NULL or "") down from dirfd `fd`, which it consumes;
 * *out gets the final directory. A component that is a symlink or not a
 * directory stops the walk. ENOENT is reported as RESOURCE_DOES_NOT_EXIST
 * so callers can tell "absent" from "refused". */
static int walk(int fd, const char *rel, bool create, int *out, struct mlflow_error *err)
{
    *out = -1;
    const char *p = rel ? rel : "";
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char comp[256];
        if (n >= sizeof comp) {
            close(fd);
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Artifact path component '%.64s...' is too long", p);
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n + (slash ? 1 : 0);
        if (n == 0)
            continue; /* a trailing '/' */
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                return mlflow__seterr_sys(err, e, "Cannot create artifact directory '%s' in '%s'",
                                          comp, rel);
            }
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        close(fd);
        if (next < 0) {
            if (e == ENOENT)
                return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                      "Artifact path '%s' does not exist", rel);
            if (e == ELOOP || e == ENOTDIR)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Artifact path '%s' goes through '%s', which is a symbolic "
                                      "link or not a directory",
                                      rel, comp);
            return mlflow__seterr_sys(err, e, "Cannot open artifact directory '%s'", rel);
        }
        fd = next;
    }
    *out = fd;
    return MLFLOW_OK;
}

static int open_dir(const char *root_uri, const char *rel, bool create, int *out,
                    struct mlflow_error *err)
{
    int root;
    int rc = open_root(root_uri, create, &root, err);
    return rc ? rc : walk(root, rel, create, out, err);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int copy_fd(int dst, int src)
{
    for (;;) {
        ssize_t w = sendfile(dst, src, NULL, 1 << 30);
        if (w == 0)
            return 0;
        if (w > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EINVAL && errno != ENOSYS)
            return -1;
        /* sendfile refuses some sources: plain read/write then. */
        char buf[1 << 16];
        ssize_t r;
        while ((r = read(src, buf, sizeof buf)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || write_all(dst, buf, (size_t)r) != 0)
                return -1;
        }
        return 0;
    }
}

/* Writes dirfd/name from src_fd (or the buffer) through a temporary file
 * in the same directory. */
static int write_atomic(int dirfd, const char *name, int src_fd, const void *data, size_t n,
                        mode_t mode, struct mlflow_error *err)
{
    char rnd[33], tmp[64];
    mlflow__uuid_hex(rnd);
    snprintf(tmp, sizeof tmp, ".mlflow-c-tmp-%.16s", rnd);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot create a file for artifact '%s'", name);
    int failed = src_fd >= 0 ? copy_fd(fd, src_fd) : write_all(fd, data, n);
    int e = errno;
    if (close(fd) != 0 && !failed) {
        failed = -1;
        e = errno;
    }
    if (!failed && renameat(dirfd, tmp, dirfd, name) != 0) {
        failed = -1;
        e = errno;
    }
    if (failed) {
        unlinkat(dirfd, tmp, 0);
        return mlflow__seterr_sys(err, e, "Cannot write artifact '%s'", name);
    }
    return MLFLOW_OK;
}

static int local_log_file(const char *root_uri, const char *local_file, const char *artifact_path,
                          struct mlflow_error *err)
{
    int src = open(local_file, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return errno == ENOENT ? mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                                "Local file '%s' does not exist", local_file)
                               : mlflow__seterr_sys(err, errno, "Cannot open '%s'", local_file);
    struct stat st;
    int dir = -1;
    int rc = fstat(src, &st) != 0 ? mlflow__seterr_sys(err, errno, "Cannot stat '%s'", local_file)
                                  : open_dir(root_uri, artifact_path, true, &dir, err);
    if (!rc)
        rc = write_atomic(dir, base_name(local_file), src, NULL, 0, st.st_mode, err);
    if (dir >= 0)
        close(dir);
    close(src);
    return rc;
}

static int local_log_bytes(const char *root_uri, const char *artifact_file, const void *data,
                           size_t n, struct mlflow_error *err)
{
    const char *slash = strrchr(artifact_file, '/');
    const char *name = slash ? slash + 1 : artifact_file;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact file '%s' does not name a file", artifact_file);
    char *parent = slash ? mlflow__strndup(artifact_file, (size_t)(slash - artifact_file)) : NULL;
    if (slash && !parent)
        return mlflow__oom(err);
    int dir = -1;
    int rc = open_dir(root_uri, parent, true, &dir, err);
    mlflow__free(parent);
    if (!rc)
        rc = write_atomic(dir, name, -1, data, n, 0666, err);
    if (dir >= 0)
        close(dir);
    return rc;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_file_info *)a)->path,
                  ((const struct mlflow_file_info *)b)->path);
}

static int list_dir(struct mlflow_file_list *list, int dir_fd, const char *path,
                    struct mlflow_error *err)
{
    struct mlflow__arena *a = mlflow__obj_arena(list);
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        int e = errno;
        close(dir_fd);
        return mlflow__seterr_sys(err, e, "Cannot list artifacts in '%s'", path ? path : "");
    }
    size_t cap = 0;
    int rc = MLFLOW_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, ".mlflow-c-tmp-", 14) == 0)
            continue;
        struct stat st;
        /* Links are not followed, and not listed: nothing we write is a
         * link, and one found here leads somewhere we do not serve. */
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode))
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
        fi->is_dir = S_ISDIR(st.st_mode);
        fi->file_size = fi->is_dir ? -1 : (int64_t)st.st_size;
        list->count++;
    }
    closedir(d);
    if (!rc && list->count)
        qsort(list->files, list->count, sizeof *list->files, cmp_info);
    return rc;
}

static int local_list(const char *root_uri, const char *path, struct mlflow_file_list **out,
                      struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_file_list *list = mlflow__obj_new(sizeof *list);
    if (!list)
        return mlflow__oom(err);
    int rc = (list->root_uri = mlflow__arena_strdup(mlflow__obj_arena(list), root_uri))
                 ? MLFLOW_OK
                 : mlflow__oom(err);
    int dir = -1;
    if (!rc) {
        struct mlflow_error ignored;
        /* A missing path, or one naming a file, lists as empty, as MLflow's
         * local repository does. */
        if (open_dir(root_uri, path, false, &dir, &ignored) == MLFLOW_OK)
            rc = list_dir(list, dir, path, err);
    }
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

/* Copies the entry `name` of directory `dirfd` to the local path `dst`. */
static int copy_out(int dir_fd, const char *name, const char *dst, int depth,
                    struct mlflow_error *err)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return mlflow__seterr_sys(err, errno, "Cannot read artifact '%s'", name);
    if (S_ISLNK(st.st_mode))
        return MLFLOW_OK; /* never follow links out of the artifact store */
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                     (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot open artifact '%s'", name);
    if (!S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(dst, '/');
        char *dir = mlflow__strndup(dst, (size_t)(slash - dst));
        int rc = MLFLOW_OK, out = -1, e;
        if (!dir)
            rc = mlflow__oom(err);
        else if ((e = mlflow__mkdirs(dir)))
            rc = mlflow__seterr_sys(err, e, "Cannot create '%s'", dir);
        else if ((out = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot open '%s'", dir);
        if (!rc)
            rc = write_atomic(out, slash + 1, fd, NULL, 0, st.st_mode, err);
        if (out >= 0)
            close(out);
        close(fd);
        mlflow__free(dir);
        return rc;
    }
    if (depth > MAX_DEPTH) {
        close(fd);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact directory '%s' is nested too deeply", name);
    }
    int e = mlflow__mkdirs(dst);
    if (e) {
        close(fd);
        return mlflow__seterr_sys(err, e, "Cannot create '%s'", dst);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        e = errno;
        close(fd);
        return mlflow__seterr_sys(err, e, "Cannot list artifact directory '%s'", name);
    }
    int rc = MLFLOW_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, ".mlflow-c-tmp-", 14) == 0)
            continue;
        char *t = mlflow__path_join(dst, de->d_name);
        rc = t ? copy_out(dirfd(d), de->d_name, t, depth + 1, err) : mlflow__oom(err);
        mlflow__free(t);
    }
    closedir(d);
    return rc;
}

static int local_download(const char *root_uri, const char *path, const char *dst_dir,
                          char **out_local, struct mlflow_error *err)
{
    /* Walk to the parent of `path`, then copy its last component (or the
     * whole root's contents when path is empty). */
    char *parent = NULL;
    const char *name = NULL;
    if (path && *path) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
            n--;
        const char *end = path + n, *s = end;
        while (s > path && s[-1] != '/')
            s--;
        if (!(parent = mlflow__strndup(path, (size_t)(s - path))) ||
            !(name = mlflow__strndup(s, (size_t)(end - s)))) {
            mlflow__free(parent);
            return mlflow__oom(err);
        }
    }
    int dir = -1;
    int rc = open_dir(root_uri, parent, false, &dir, err);
    char *dst = path && *path ? mlflow__path_join(dst_dir, path) : mlflow__strdup(dst_dir);
    if (!rc && !dst)
        rc = mlflow__oom(err);
    if (!rc && name) {
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                "Artifact '%s' does not exist under '%s'", path, root_uri);
        else
            rc = copy_out(dir, name, dst, 0, err);
    } else if (!rc) {
        rc = copy_out(dir, ".", dst, 0, err);
    }
    if (dir >= 0)
        close(dir);
    mlflow__free(parent);
    mlflow__free((char *)name);
    if (!rc && out_local)
        *out_local = dst;
    else
        mlflow__free(dst);
    return rc;
}

const struct mlflow__artifact_repo_ops mlflow__local_artifact_repo = {
    .scheme = "file",
    .log_file = local_log_file,
    .log_bytes = local_log_bytes,
    .list = local_list,
    .download = local_download,
};
