/*
 * artifact_fs.c - artifact paths and files for the server (rules R1 and R2
 * of the security guide).
 *
 * MLflow's artifact CVEs were all one mistake: a path checked in one form
 * and used in another (decoded once more, joined to another root, followed
 * through a symlink). Here a path is canonicalized exactly once, and the
 * canonical text is the only thing any file operation sees. Operations never
 * join strings onto a root: they walk from an open root directory one
 * component at a time with O_NOFOLLOW, so a symbolic link anywhere below the
 * root (planted before or during the request) stops the walk instead of
 * leading out.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEGMENT 255
#define MAX_DEPTH 128
/* Unfinished uploads are named so; listings skip them. */
#define TMP_PREFIX ".mlflow-upload-"

/* ---- R1: the canonicalizer -------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* One round of percent-decoding in place; returns the new length. */
static size_t pct_decode(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            s[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
                            hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

static int bad_path(struct mlflow_error *err, const char *why)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Invalid path: %s", why);
}

int mlflow__afs_canon(struct mlflow__arena *a, const char *in, size_t n, const char **out,
                      struct mlflow_error *err)
{
    *out = NULL;
    if (n > MLFLOW__AFS_MAX_PATH * 3)
        return bad_path(err, "it is too long");
    char *s = mlflow__arena_alloc(a, n + 1);
    if (!s)
        return mlflow__oom(err);
    memcpy(s, in, n);
    /* Decode until the text stops changing. Legitimate clients encode once;
     * a path that still changes after three rounds is an attack. */
    for (int round = 0;; round++) {
        size_t m = pct_decode(s, n);
        if (m == n)
            break;
        if (round == 3)
            return bad_path(err, "it is percent-encoded too many times");
        n = m;
    }
    s[n] = '\0';
    if (memchr(s, '\0', n))
        return bad_path(err, "it contains a NUL byte");
    if (!mlflow__utf8_valid(s, n))
        return bad_path(err, "it is not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return bad_path(err, "it contains a control character");
        if (c == '\\' || c == '#' || c == '?' || c == ';')
            return bad_path(err, "it contains one of '\\', '#', '?' or ';'");
    }
    if (n > MLFLOW__AFS_MAX_PATH)
        return bad_path(err, "it is too long");
    if (n && s[0] == '/')
        return bad_path(err, "it must be relative");
    if (n >= 2 && s[1] == ':' && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return bad_path(err, "it must not start with a drive letter");
    if (n && s[n - 1] == '/')
        s[--n] = '\0';
    size_t segments = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0)
            return bad_path(err, "it has an empty segment");
        if ((len == 1 && s[i] == '.') || (len == 2 && s[i] == '.' && s[i + 1] == '.'))
            return bad_path(err, "'.' and '..' segments are not allowed");
        if (len > MAX_SEGMENT)
            return bad_path(err, "a segment is too long");
        if (++segments > MAX_DEPTH)
            return bad_path(err, "it is nested too deeply");
        i = j + 1;
    }
    *out = s;
    return MLFLOW_OK;
}

const char *mlflow__afs_join(struct mlflow__arena *a, const char *x, const char *y)
{
    if (!x || !*x)
        return mlflow__arena_strdup(a, y ? y : "");
    if (!y || !*y)
        return mlflow__arena_strdup(a, x);
    return mlflow__arena_printf(a, "%s/%s", x, y);
}

/* ---- R2: walking beneath a root ----------------------------------------------- */

static int sys_err(struct mlflow_error *err, int e, const char *what, const char *rel)
{
    if (e == ENOENT || e == ENOTDIR)
        return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                              "No such artifact: '%s'", rel);
    if (e == ELOOP || e == EMLINK)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: '%s' goes through a symbolic link", rel);
    if (e == ENOSPC || e == EDQUOT)
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                              "Cannot %s '%s': no space left on the artifact store", what, rel);
    return mlflow__seterr_sys(err, e, "Cannot %s artifact '%s'", what, rel);
}

int mlflow__afs_open_root(const char *abs_dir, bool create, int *fd, struct mlflow_error *err)
{
    *fd = -1;
    if (create) {
        int e = mlflow__mkdirs(abs_dir);
        if (e)
            return mlflow__seterr_sys(err, e, "Cannot create artifact directory '%s'", abs_dir);
    }
    int f = open(abs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT)
            return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                  "Artifact directory '%s' does not exist", abs_dir);
        return mlflow__seterr_sys(err, errno, "Cannot open artifact directory '%s'", abs_dir);
    }
    *fd = f;
    return MLFLOW_OK;
}

/*
 * Opens the directory made of the first `len` bytes of rel beneath root
 * (len 0: the root itself, duplicated). With create, missing components
 * are made. Returns 0 and *out, or an errno value.
 */
static int walk_dir(int root_fd, const char *rel, size_t len, bool create, int *out)
{
    int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return errno;
    char name[MAX_SEGMENT + 1];
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && rel[j] != '/')
            j++;
        if (j - i > MAX_SEGMENT) {
            close(cur);
            return ENAMETOOLONG;
        }
        memcpy(name, rel + i, j - i);
        name[j - i] = '\0';
        int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(cur, name, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                close(cur);
                return e;
            }
            next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            /* O_DIRECTORY|O_NOFOLLOW on a symlink fails with ELOOP or
             * ENOTDIR depending on the kernel; report ELOOP for links. */
            int e = errno;
            struct stat st;
            if (e == ENOTDIR && fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                e = ELOOP;
            close(cur);
            return e;
        }
        close(cur);
        cur = next;
        i = j + 1;
    }
    *out = cur;
    return 0;
}

/* Splits rel into its directory part length and its last segment. */
static const char *split_leaf(const char *rel, size_t *dir_len)
{
    const char *slash = strrchr(rel, '/');
    *dir_len = slash ? (size_t)(slash - rel) : 0;
    return slash ? slash + 1 : rel;
}

int mlflow__afs_open_file(int root_fd, const char *rel, int *fd, uint64_t *size,
                          struct mlflow_error *err)
{
    *fd = -1;
    if (!*rel)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: '' names a directory, not a file");
    size_t dir_len;
    const char *leaf = split_leaf(rel, &dir_len);
    int dir;
    int e = walk_dir(root_fd, rel, dir_len, false, &dir);
    if (e)
        return sys_err(err, e, "read", rel);
    int f = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    e = errno;
    struct stat st;
    if (f < 0) {
        /* Tell a symlink (refused) from a missing file. */
        if (e == ELOOP || (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISLNK(st.st_mode))) {
            close(dir);
            return sys_err(err, ELOOP, "read", rel);
        }
        close(dir);
        return sys_err(err, e, "read", rel);
    }
    close(dir);
    if (fstat(f, &st) != 0) {
        e = errno;
        close(f);
        return sys_err(err, e, "read", rel);
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: '%s' is not a regular file", rel);
    }
    /* O_NONBLOCK only kept a fifo from hanging the open. */
    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
    *fd = f;
    *size = (uint64_t)st.st_size;
    return MLFLOW_OK;
}

static int cmp_info(const void *x, const void *y)
{
    const struct mlflow_file_info *a = x, *b = y;
    return strcmp(a->path, b->path);
}

int mlflow__afs_list(int root_fd, const char *rel, const char *prefix, struct mlflow__arena *a,
                     struct mlflow_file_info **out, size_t *n, struct mlflow_error *err)
{
    *out = NULL;
    *n = 0;
    int dir;
    int e = walk_dir(root_fd, rel, strlen(rel), false, &dir);
    if (e == ENOENT || e == ENOTDIR || e == ELOOP)
        return MLFLOW_OK; /* MLflow lists a missing directory as empty */
    if (e)
        return sys_err(err, e, "list", rel);
    DIR *d = fdopendir(dir);
    if (!d) {
        e = errno;
        close(dir);
        return sys_err(err, e, "list", rel);
    }
    size_t cap = 16, count = 0;
    struct mlflow_file_info *items = mlflow__malloc(cap * sizeof *items);
    int rc = items ? MLFLOW_OK : mlflow__oom(err);
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue; /* links, fifos, sockets: nothing to serve */
        if (count == cap) {
            struct mlflow_file_info *grown = mlflow__realloc(items, cap * 2 * sizeof *items);
            if (!grown) {
                rc = mlflow__oom(err);
                break;
            }
            items = grown;
            cap *= 2;
        }
        const char *path = prefix && *prefix ? mlflow__arena_printf(a, "%s/%s", prefix, name)
                                             : mlflow__arena_strdup(a, name);
        if (!path) {
            rc = mlflow__oom(err);
            break;
        }
        items[count].path = path;
        items[count].is_dir = S_ISDIR(st.st_mode);
        items[count].file_size = S_ISDIR(st.st_mode) ? -1 : (int64_t)st.st_size;
        count++;
    }
    closedir(d);
    if (!rc && count) {
        qsort(items, count, sizeof *items, cmp_info);
        *out = mlflow__arena_alloc(a, count * sizeof *items);
        if (!*out)
            rc = mlflow__oom(err);
        else
            memcpy(*out, items, count * sizeof *items);
    }
    mlflow__free(items);
    if (!rc)
        *n = count;
    else
        *out = NULL;
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

int mlflow__afs_upload_begin(int root_fd, const char *rel, struct mlflow__afs_upload *u,
                             struct mlflow_error *err)
{
    memset(u, 0, sizeof *u);
    u->dir_fd = u->fd = -1;
    if (!*rel)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: an upload needs a file name");
    size_t dir_len;
    const char *leaf = split_leaf(rel, &dir_len);
    int e = walk_dir(root_fd, rel, dir_len, true, &u->dir_fd);
    if (e)
        return sys_err(err, e == ENOENT ? EIO : e, "write", rel);
    struct stat st;
    if (fstatat(u->dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        close(u->dir_fd);
        u->dir_fd = -1;
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: '%s' is a directory", rel);
    }
    u->leaf = mlflow__strdup(leaf);
    if (!u->leaf) {
        close(u->dir_fd);
        u->dir_fd = -1;
        return mlflow__oom(err);
    }
    for (int tries = 0; tries < 16; tries++) {
        char hex[33];
        mlflow__uuid_hex(hex);
        snprintf(u->tmp, sizeof u->tmp, TMP_PREFIX "%.16s", hex);
        u->fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0666);
        if (u->fd >= 0 || errno != EEXIST)
            break;
    }
    if (u->fd < 0) {
        e = errno;
        mlflow__afs_upload_abort(u);
        return sys_err(err, e, "write", rel);
    }
    return MLFLOW_OK;
}

int mlflow__afs_upload_write(struct mlflow__afs_upload *u, const void *data, size_t n,
                             struct mlflow_error *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(u->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return sys_err(err, errno, "write", u->leaf ? u->leaf : "");
        }
        p += w;
        n -= (size_t)w;
        u->written += (uint64_t)w;
    }
    return MLFLOW_OK;
}

int mlflow__afs_upload_commit(struct mlflow__afs_upload *u, struct mlflow_error *err)
{
    int rc = MLFLOW_OK;
    if (close(u->fd) != 0)
        rc = sys_err(err, errno, "write", u->leaf);
    u->fd = -1;
    /* renameat replaces a file or a symlink itself, never what a link
     * points to. */
    if (!rc && renameat(u->dir_fd, u->tmp, u->dir_fd, u->leaf) != 0)
        rc = errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST
                 ? mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid path: '%s' is a directory", u->leaf)
                 : sys_err(err, errno, "write", u->leaf);
    if (rc) {
        mlflow__afs_upload_abort(u);
        return rc;
    }
    close(u->dir_fd);
    u->dir_fd = -1;
    mlflow__free(u->leaf);
    u->leaf = NULL;
    return MLFLOW_OK;
}

void mlflow__afs_upload_abort(struct mlflow__afs_upload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    if (u->dir_fd >= 0) {
        if (u->tmp[0])
            unlinkat(u->dir_fd, u->tmp, 0);
        close(u->dir_fd);
    }
    mlflow__free(u->leaf);
    u->fd = u->dir_fd = -1;
    u->leaf = NULL;
    u->tmp[0] = '\0';
}

/* Removes everything inside the directory `fd` (consumed), then nothing
 * else: the caller unlinks the directory itself. */
static int remove_contents(int fd, int depth)
{
    if (depth > MAX_DEPTH) {
        close(fd);
        return ELOOP;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return e;
    }
    int e = 0;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                e = errno;
                break;
            }
            e = remove_contents(sub, depth + 1);
            if (!e && unlinkat(dirfd(d), name, AT_REMOVEDIR) != 0 && errno != ENOENT)
                e = errno;
        } else if (unlinkat(dirfd(d), name, 0) != 0 && errno != ENOENT) {
            e = errno; /* a symlink is removed itself, never followed */
        }
    }
    closedir(d);
    return e;
}

int mlflow__afs_delete(int root_fd, const char *rel, struct mlflow_error *err)
{
    if (!*rel)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: the artifact root itself cannot be deleted");
    size_t dir_len;
    const char *leaf = split_leaf(rel, &dir_len);
    int dir;
    int e = walk_dir(root_fd, rel, dir_len, false, &dir);
    if (e == ENOENT)
        return MLFLOW_OK;
    if (e)
        return sys_err(err, e, "delete", rel);
    struct stat st;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        e = errno;
        close(dir);
        return e == ENOENT ? MLFLOW_OK : sys_err(err, e, "delete", rel);
    }
    if (S_ISDIR(st.st_mode)) {
        int sub = openat(dir, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        e = sub < 0 ? errno : remove_contents(sub, 0);
        if (!e && unlinkat(dir, leaf, AT_REMOVEDIR) != 0 && errno != ENOENT)
            e = errno;
    } else if (unlinkat(dir, leaf, 0) != 0 && errno != ENOENT) {
        e = errno;
    }
    close(dir);
    return e ? sys_err(err, e, "delete", rel) : MLFLOW_OK;
}

/* ---- run artifact roots ---------------------------------------------------------- */

int mlflow__afs_run_root(struct mlflow__req *r, const char *uri, bool create, int *root_fd,
                         const char **rel, struct mlflow_error *err)
{
    struct mlflow__server *s = r->srv;
    struct mlflow__arena *a = mlflow__req_arena(r);
    *root_fd = -1;
    *rel = "";
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    const char *proxied = NULL;
    if (strcmp(scheme, "mlflow-artifacts") == 0) {
        proxied = uri + strlen("mlflow-artifacts:");
        if (strncmp(proxied, "//", 2) == 0) { /* mlflow-artifacts://host:port/path */
            proxied = strchr(proxied + 2, '/');
            if (!proxied)
                proxied = "";
        }
    } else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        const char *anchor = strstr(uri, "/api/2.0/mlflow-artifacts/artifacts/");
        if (anchor)
            proxied = anchor + strlen("/api/2.0/mlflow-artifacts/artifacts");
    }
    if (proxied) {
        if (!s->opts.serve_artifacts || s->dest_fd < 0)
            return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                                  "The run's artifacts are at '%s', which this server does not "
                                  "serve (it runs with --no-serve-artifacts)",
                                  uri);
        while (*proxied == '/')
            proxied++;
        int rc = mlflow__afs_canon(a, proxied, strlen(proxied), rel, err);
        if (rc)
            return rc;
        *root_fd = fcntl(s->dest_fd, F_DUPFD_CLOEXEC, 0);
        return *root_fd < 0 ? mlflow__seterr_sys(err, errno, "Cannot open the artifact root")
                            : MLFLOW_OK;
    }
    char *local = mlflow__local_path_from_uri(uri);
    if (!local)
        return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                              "The run's artifact URI '%s' is not served by this server "
                              "(only local and mlflow-artifacts: roots are)",
                              uri);
    int rc = local[0] == '/' ? mlflow__afs_open_root(local, create, root_fd, err)
                             : mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                                              "The run's artifact root '%s' is not absolute",
                                              uri);
    mlflow__free(local);
    return rc;
}
