/*
 * file_meta.c - the mlruns on-disk format: meta.yaml for runs and
 * experiments, param/tag value files, metric lines, directory walks.
 *
 * Where MLflow overwrites a file in place we write a temporary file and
 * rename() it over the old one, and params are created with link() so two
 * processes can never both "win" a first write. The temporary files live in
 * the run (or experiment) directory itself, which no reader walks, so
 * MLflow's own readers never see them.
 *
 * Store contents are not trusted: nothing is opened through a symlink or
 * waited on (a FIFO is refused, not opened for good), a meta.yaml is read
 * only up to FS_META_MAX, and key folders are walked one descriptor at a
 * time beneath their run (security rule R2).
 */
#include "file_store.h"

#include "../yaml_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX FS_TMP_PREFIX
#define MAX_KEY_DEPTH 128

/* ---- names and paths ---- */

int mlflow__fs_path(char *out, struct mlflow_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, FS_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= FS_PATH_MAX)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Path too long in the file store: '%.200s...'", out);
    return MLFLOW_OK;
}

bool mlflow__fs_key_safe(const char *key)
{
    if (!key || !*key || key[0] == '/')
        return false;
    for (const char *seg = key;;) {
        const char *end = strchrnul(seg, '/');
        size_t n = (size_t)(end - seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!*end)
            return true;
        seg = end + 1;
    }
}

bool mlflow__fs_id_safe(const char *id)
{
    return id && *id && id[0] != '.' && !strchr(id, '/') && strlen(id) < FS_ID_MAX;
}

/* ---- reading files ---- */

/* 0 for a regular file; the errno read_file promises otherwise. */
static int regular_or_errno(const struct stat *st)
{
    return S_ISREG(st->st_mode) ? 0 : S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
}

/* Reads the open file fd whole and closes it. */
static int read_fd(int fd, size_t max, char **buf, size_t *len)
{
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : regular_or_errno(&st);
    if (!e && (uint64_t)st.st_size > max)
        e = EFBIG;
    if (e) {
        close(fd);
        return e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = mlflow__malloc(cap + 1);
    if (!b) {
        close(fd);
        return ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            /* The file grew while we read it (a concurrent append). */
            char *nb = n > max ? NULL : mlflow__realloc(b, cap * 2 + 1);
            if (!nb) {
                mlflow__free(b);
                close(fd);
                return n > max ? EFBIG : ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            mlflow__free(b);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        mlflow__free(b);
        return EFBIG;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
 * forever (it has no effect on a regular file). */
#define OPEN_SAFE (O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

int mlflow__fs_read_file_max(const char *path, size_t max, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | OPEN_SAFE);
    return fd < 0 ? errno : read_fd(fd, max, buf, len);
}

int mlflow__fs_read_file(const char *path, char **buf, size_t *len)
{
    return mlflow__fs_read_file_max(path, SIZE_MAX - 1, buf, len);
}

/* ---- files below a run or experiment directory ---- */

int mlflow__fs_open_base(const char *base, int flags, int *fd)
{
    int nofollow = flags & FS_FOLLOW_BASE ? 0 : O_NOFOLLOW;
    *fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow);
    return *fd < 0 ? errno : 0;
}

#define DIR_BELOW (O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)

int mlflow__fs_dir_below(int base_fd, const char *rel, bool create, int *dir_fd,
                         const char **leaf)
{
    int dfd = base_fd;
    const char *seg = rel;
    for (const char *slash; (slash = strchr(seg, '/')); seg = slash + 1) {
        char name[NAME_MAX + 1];
        size_t n = (size_t)(slash - seg);
        int e = 0;
        if (n == 0 || n > NAME_MAX)
            e = n ? ENAMETOOLONG : EINVAL;
        int next = -1;
        if (!e) {
            memcpy(name, seg, n);
            name[n] = '\0';
            next = openat(dfd, name, DIR_BELOW);
            if (next < 0 && errno == ENOENT && create &&
                (mkdirat(dfd, name, 0777) == 0 || errno == EEXIST))
                next = openat(dfd, name, DIR_BELOW);
            if (next < 0)
                e = errno;
        }
        if (dfd != base_fd)
            close(dfd);
        if (e)
            return e;
        dfd = next;
    }
    *dir_fd = dfd;
    *leaf = seg;
    return 0;
}

int mlflow__fs_open_below(const char *base, const char *rel, int flags, int *fd_out)
{
    int bfd, dfd, e;
    const char *leaf;
    if ((e = mlflow__fs_open_base(base, flags & FS_FOLLOW_BASE, &bfd)))
        return e;
    flags &= ~FS_FOLLOW_BASE;
    e = mlflow__fs_dir_below(bfd, rel, (flags & O_CREAT) != 0, &dfd, &leaf);
    if (!e) {
        int fd = openat(dfd, leaf, flags | OPEN_SAFE, 0666);
        struct stat st;
        e = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : regular_or_errno(&st);
        if (e && fd >= 0)
            close(fd);
        if (!e)
            *fd_out = fd;
        if (dfd != bfd)
            close(dfd);
    }
    close(bfd);
    return e;
}

int mlflow__fs_read_below(const char *base, const char *rel, int flags, char **buf,
                          size_t *len)
{
    int fd;
    *buf = NULL;
    *len = 0;
    int e = mlflow__fs_open_below(base, rel, O_RDONLY | (flags & FS_FOLLOW_BASE), &fd);
    return e ? e : read_fd(fd, SIZE_MAX - 1, buf, len);
}

static int remove_at(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if ((errno != EISDIR && errno != EPERM) || depth > MAX_KEY_DEPTH)
        return errno;
    int fd = openat(parent, name, DIR_BELOW);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return e;
    }
    int e = 0;
    struct dirent *de;
    while (!e && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            e = remove_at(fd, de->d_name, depth + 1);
    closedir(d);
    if (!e && unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        e = errno;
    return e;
}

int mlflow__fs_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path, 0);
}

static void random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[16];
    if (nbytes > sizeof rnd)
        nbytes = sizeof rnd;
    mlflow__random_bytes(rnd, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

int mlflow__fs_make_temp_dir(const char *parent, const char *prefix, char *out)
{
    for (int attempt = 0;; attempt++) {
        char hex[17];
        random_hex(hex, 8);
        int n = snprintf(out, FS_PATH_MAX, "%s/%s%s", parent, prefix, hex);
        if (n < 0 || n >= FS_PATH_MAX)
            return ENAMETOOLONG;
        if (mkdir(out, 0777) == 0)
            return 0;
        if (errno != EEXIST || attempt > 10)
            return errno;
    }
}

int mlflow__fs_rename_noreplace(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
#endif
    return rename(from, to) == 0 ? 0 : errno;
}

/* ---- atomic value files ---- */

static int write_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

int mlflow__fs_write_value(const char *base, const char *rel, const char *data, size_t n,
                           int mode, bool *existed, struct mlflow_error *err)
{
    char name[sizeof TMP_PREFIX + 16];
    char final[FS_PATH_MAX];
    bool once = (mode & FS_CREATE_ONCE) != 0;
    int rc;
    if (existed)
        *existed = false;
    memcpy(name, TMP_PREFIX, sizeof TMP_PREFIX - 1);
    random_hex(name + sizeof TMP_PREFIX - 1, 8);
    if ((rc = mlflow__fs_path(final, err, "%s/%s", base, rel)))
        return rc;

    int bfd;
    int e = mlflow__fs_open_base(base, mode & FS_FOLLOW_BASE, &bfd);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot open '%s'", base);
    int fd = openat(bfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        e = errno;
        close(bfd);
        return mlflow__seterr_sys(err, e, "Cannot create a file in '%s'", base);
    }
    e = write_all(fd, data, n);
    if (close(fd) != 0 && !e)
        e = errno;
    int dfd = bfd;
    const char *leaf;
    if (!e)
        e = mlflow__fs_dir_below(bfd, rel, true, &dfd, &leaf);
    if (!e && (once ? linkat(bfd, name, dfd, leaf, 0) : renameat(bfd, name, dfd, leaf)) != 0) {
        e = errno;
        if (once && e == EEXIST && existed) {
            *existed = true;
            e = 0;
        }
    }
    if (dfd != bfd)
        close(dfd);
    if (e || once)
        unlinkat(bfd, name, 0);
    close(bfd);
    return e ? mlflow__seterr_sys(err, e, "Cannot write '%s'", final) : MLFLOW_OK;
}

/* ---- meta.yaml ---- */

/* MLflow retries a meta.yaml that reads as empty twice (0.1 s, 0.2 s): a
 * writer that truncates in place may be half way. Our own writes rename. */
static int load_meta(const char *dir, struct mlflow__yaml_doc *doc, yaml_node_t **root,
                     struct mlflow_error *err)
{
    char path[FS_PATH_MAX];
    int rc = mlflow__fs_path(path, err, "%s/meta.yaml", dir);
    if (rc)
        return rc;
    for (int attempt = 0;; attempt++) {
        char *buf;
        size_t len;
        int e = mlflow__fs_read_file_max(path, FS_META_MAX, &buf, &len);
        if (e == ENOMEM)
            return mlflow__oom(err);
        if (e)
            return mlflow__seterr_sys(err, e, "Cannot read '%s'", path);
        rc = mlflow__yaml_load(doc, buf, len, path, err);
        mlflow__free(buf);
        if (rc)
            return rc;
        *root = mlflow__yaml_root(doc);
        if (*root && (*root)->type == YAML_MAPPING_NODE)
            return MLFLOW_OK;
        bool empty = !*root;
        mlflow__yaml_doc_free(doc);
        if (!empty || attempt == 2)
            return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                  "Malformed meta file '%s': expected a YAML mapping", path);
        struct timespec ts = {0, (attempt + 1) * 100000000L};
        nanosleep(&ts, NULL);
    }
}

/* A string field: its text whatever the resolved type, NULL for null or a
 * missing key. */
static const char *str_field(struct mlflow__yaml_doc *d, yaml_node_t *root, const char *key)
{
    yaml_node_t *n = mlflow__yaml_map_get(d, root, key);
    if (!n || mlflow__yaml_scalar_type(n) == MLFLOW__YAML_NULL)
        return NULL;
    return mlflow__yaml_scalar(n);
}

static int64_t time_field(struct mlflow__yaml_doc *d, yaml_node_t *root, const char *key)
{
    int64_t v;
    yaml_node_t *n = mlflow__yaml_map_get(d, root, key);
    if (mlflow__yaml_int_value(n, &v))
        return v;
    if (mlflow__yaml_scalar_type(n) == MLFLOW__YAML_FLOAT) {
        double f = strtod(mlflow__yaml_scalar(n), NULL);
        if (isfinite(f) && fabs(f) < 9.2e18)
            return (int64_t)f;
    }
    return MLFLOW_TIME_UNSET;
}

/* The two stages as shared literals (result strings are never freed one by
 * one, so they may be static); anything else is copied into the arena. */
static const char *lifecycle(struct mlflow__arena *a, const char *s)
{
    if (!s || strcmp(s, "active") == 0)
        return "active";
    if (strcmp(s, "deleted") == 0)
        return "deleted";
    return mlflow__arena_strdup(a, s);
}

#define ADUP(a, s) ((s) ? mlflow__arena_strdup((a), (s)) : NULL)

int mlflow__fs_read_run_meta(struct mlflow__arena *a, const char *run_dir,
                             struct mlflow_run_info *info, struct mlflow_error *err)
{
    struct mlflow__yaml_doc d;
    yaml_node_t *root;
    int rc = load_meta(run_dir, &d, &root, err);
    if (rc)
        return rc;
    memset(info, 0, sizeof *info);
    const char *run_id = str_field(&d, root, "run_id");
    if (!run_id)
        run_id = str_field(&d, root, "run_uuid");
    const char *exp_id = str_field(&d, root, "experiment_id");
    if (!run_id || !exp_id) {
        mlflow__yaml_doc_free(&d);
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                              "Malformed run meta file in '%s': no %s", run_dir,
                              run_id ? "experiment_id" : "run_id");
    }
    const char *run_name = str_field(&d, root, "run_name");
    info->run_id = ADUP(a, run_id);
    info->experiment_id = ADUP(a, exp_id);
    info->run_name = mlflow__arena_strdup(a, run_name ? run_name : "");
    info->user_id = ADUP(a, str_field(&d, root, "user_id"));
    info->artifact_uri = ADUP(a, str_field(&d, root, "artifact_uri"));
    info->lifecycle_stage = lifecycle(a, str_field(&d, root, "lifecycle_stage"));
    info->start_time = time_field(&d, root, "start_time");
    info->end_time = time_field(&d, root, "end_time");
    int64_t status;
    yaml_node_t *sn = mlflow__yaml_map_get(&d, root, "status");
    const char *stext = mlflow__yaml_scalar(sn);
    int named;
    if (mlflow__yaml_int_value(sn, &status) && status >= 1 && status <= 5)
        info->status = (int)status;
    else if (stext && mlflow_run_status_parse(stext, &named) == 0)
        info->status = named;
    else
        info->status = MLFLOW_RUN_STATUS_RUNNING;
    mlflow__yaml_doc_free(&d);
    if (!info->run_id || !info->experiment_id || !info->run_name || !info->lifecycle_stage)
        return mlflow__oom(err);
    return MLFLOW_OK;
}

/* flags: FS_FOLLOW_BASE for an experiment's directory. */
static int finish_yaml(struct mlflow__yaml_writer *w, struct mlflow__sb *sb, const char *dir,
                       int flags, struct mlflow_error *err)
{
    int rc = mlflow__yaml_writer_finish(w, err);
    if (!rc)
        rc = mlflow__fs_write_value(dir, "meta.yaml", sb->buf, sb->len, FS_REPLACE | flags, NULL,
                                    err);
    mlflow__sb_release(sb);
    return rc;
}

static void time_or_null(struct mlflow__yaml_writer *w, int64_t t)
{
    if (t == MLFLOW_TIME_UNSET)
        mlflow__yaml_null(w);
    else
        mlflow__yaml_int(w, t);
}

int mlflow__fs_write_run_meta(const char *run_dir, const struct mlflow_run_info *info,
                              int64_t deleted_time, struct mlflow_error *err)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    struct mlflow__yaml_writer w;
    mlflow__yaml_writer_init(&w, &sb);
    int status = info->status >= 1 && info->status <= 5 ? info->status : 1;
    /* Keys in sorted order, as PyYAML's sort_keys writes them. */
    mlflow__yaml_map_start(&w);
    mlflow__yaml_str(&w, "artifact_uri");
    mlflow__yaml_str(&w, info->artifact_uri);
    if (deleted_time != MLFLOW_TIME_UNSET) {
        mlflow__yaml_str(&w, "deleted_time");
        mlflow__yaml_int(&w, deleted_time);
    }
    mlflow__yaml_str(&w, "end_time");
    time_or_null(&w, info->end_time);
    mlflow__yaml_str(&w, "entry_point_name");
    mlflow__yaml_str(&w, "");
    mlflow__yaml_str(&w, "experiment_id");
    mlflow__yaml_str(&w, info->experiment_id);
    mlflow__yaml_str(&w, "lifecycle_stage");
    mlflow__yaml_str(&w, info->lifecycle_stage ? info->lifecycle_stage : "active");
    mlflow__yaml_str(&w, "run_id");
    mlflow__yaml_str(&w, info->run_id);
    mlflow__yaml_str(&w, "run_name");
    mlflow__yaml_str(&w, info->run_name);
    mlflow__yaml_str(&w, "run_uuid");
    mlflow__yaml_str(&w, info->run_id);
    mlflow__yaml_str(&w, "source_name");
    mlflow__yaml_str(&w, "");
    mlflow__yaml_str(&w, "source_type");
    mlflow__yaml_int(&w, 4); /* SourceType.LOCAL, a legacy constant */
    mlflow__yaml_str(&w, "source_version");
    mlflow__yaml_str(&w, "");
    mlflow__yaml_str(&w, "start_time");
    time_or_null(&w, info->start_time);
    mlflow__yaml_str(&w, "status");
    mlflow__yaml_int(&w, status);
    mlflow__yaml_str(&w, "tags");
    mlflow__yaml_empty_seq(&w);
    mlflow__yaml_str(&w, "user_id");
    mlflow__yaml_str(&w, info->user_id);
    mlflow__yaml_map_end(&w);
    return finish_yaml(&w, &sb, run_dir, 0, err);
}

int mlflow__fs_read_experiment(struct mlflow__arena *a, const char *exp_dir,
                               const char *expected_id, struct mlflow_experiment *e,
                               struct mlflow_error *err)
{
    struct mlflow__yaml_doc d;
    yaml_node_t *root;
    int rc = load_meta(exp_dir, &d, &root, err);
    if (rc)
        return rc;
    memset(e, 0, sizeof *e);
    const char *id = str_field(&d, root, "experiment_id");
    if (!id || strcmp(id, expected_id) != 0) {
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Experiment '%s' does not exist: its meta.yaml records ID '%s'",
                            expected_id, id ? id : "(none)");
        mlflow__yaml_doc_free(&d);
        return rc;
    }
    e->experiment_id = mlflow__arena_strdup(a, id);
    const char *name = str_field(&d, root, "name");
    e->name = mlflow__arena_strdup(a, name ? name : "");
    e->artifact_location = ADUP(a, str_field(&d, root, "artifact_location"));
    e->lifecycle_stage = lifecycle(a, str_field(&d, root, "lifecycle_stage"));
    e->creation_time = time_field(&d, root, "creation_time");
    e->last_update_time = time_field(&d, root, "last_update_time");
    mlflow__yaml_doc_free(&d);
    if (!e->experiment_id || !e->name || !e->lifecycle_stage)
        return mlflow__oom(err);
    char tags[FS_PATH_MAX];
    if ((rc = mlflow__fs_path(tags, err, "%s/tags", exp_dir)))
        return rc;
    return mlflow__fs_read_kv_dir(a, tags, &e->tags, &e->n_tags, err);
}

int mlflow__fs_write_experiment_meta(const char *exp_dir, const struct mlflow_experiment *e,
                                     bool with_tags, struct mlflow_error *err)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    struct mlflow__yaml_writer w;
    mlflow__yaml_writer_init(&w, &sb);
    mlflow__yaml_map_start(&w);
    mlflow__yaml_str(&w, "artifact_location");
    mlflow__yaml_str(&w, e->artifact_location);
    mlflow__yaml_str(&w, "creation_time");
    time_or_null(&w, e->creation_time);
    mlflow__yaml_str(&w, "experiment_id");
    mlflow__yaml_str(&w, e->experiment_id);
    mlflow__yaml_str(&w, "last_update_time");
    time_or_null(&w, e->last_update_time);
    mlflow__yaml_str(&w, "lifecycle_stage");
    mlflow__yaml_str(&w, e->lifecycle_stage);
    mlflow__yaml_str(&w, "name");
    mlflow__yaml_str(&w, e->name);
    if (with_tags) {
        mlflow__yaml_str(&w, "tags");
        mlflow__yaml_str_map(&w, e->tags, e->n_tags);
    }
    mlflow__yaml_map_end(&w);
    return finish_yaml(&w, &sb, exp_dir, FS_FOLLOW_BASE, err);
}

/* ---- walking key folders ---- */

/* Called for every regular file below the walk's base: name in the open
 * folder dir_fd; rel is the key, path the file (for messages). */
typedef int (*walk_fn)(void *ctx, int dir_fd, const char *name, const char *rel,
                       const char *path, struct mlflow_error *err);

/* full holds base + "/" + rel; rel_off is where rel starts. Takes fd. Every
 * folder is opened beneath its parent with O_NOFOLLOW: nothing we write is
 * a symlink, and a planted one must not lead a reader out of the store. */
static int walk(int fd, char *full, size_t len, size_t rel_off, int depth, walk_fn fn, void *ctx,
                struct mlflow_error *err)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int e = errno;
        close(fd);
        return mlflow__seterr_sys(err, e, "Cannot list '%s'", full);
    }
    int rc = MLFLOW_OK;
    struct dirent *de;
    while (!rc && (de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t nl = strlen(de->d_name);
        if (len + 1 + nl >= FS_PATH_MAX)
            continue;
        full[len] = '/';
        memcpy(full + len + 1, de->d_name, nl + 1);
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            type = fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ? DT_UNKNOWN
                   : S_ISDIR(st.st_mode)                               ? DT_DIR
                   : S_ISREG(st.st_mode)                               ? DT_REG
                                                                       : DT_UNKNOWN;
        }
        if (type == DT_DIR && depth < MAX_KEY_DEPTH) {
            int sub = openat(fd, de->d_name, DIR_BELOW);
            if (sub >= 0)
                rc = walk(sub, full, len + 1 + nl, rel_off, depth + 1, fn, ctx, err);
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
                rc = mlflow__seterr_sys(err, errno, "Cannot list '%s'", full);
        } else if (type == DT_REG) {
            rc = fn(ctx, fd, de->d_name, full + rel_off, full, err);
        }
        full[len] = '\0';
    }
    closedir(dir);
    return rc;
}

/* base: a key folder (params, tags, metrics); a missing one, or one that is
 * not a folder (a symlink included), holds no keys. */
static int walk_files(const char *base, walk_fn fn, void *ctx, struct mlflow_error *err)
{
    char full[FS_PATH_MAX];
    int rc = mlflow__fs_path(full, err, "%s", base);
    if (rc)
        return rc;
    int fd = open(full, DIR_BELOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return MLFLOW_OK;
        return mlflow__seterr_sys(err, errno, "Cannot list '%s'", full);
    }
    size_t len = strlen(full);
    return walk(fd, full, len, len + 1, 0, fn, ctx, err);
}

/* A walked file's content. *skip: it is gone, or was swapped for something
 * that is not a regular file, since the folder was listed. */
static int read_walked(int dir_fd, const char *name, const char *path, char **buf, size_t *len,
                       bool *skip, struct mlflow_error *err)
{
    *skip = false;
    *buf = NULL;
    int e, fd = openat(dir_fd, name, O_RDONLY | OPEN_SAFE);
    e = fd < 0 ? errno : read_fd(fd, SIZE_MAX - 1, buf, len);
    if (e == ENOENT || e == ELOOP || e == EISDIR || e == EINVAL) {
        *skip = true;
        return MLFLOW_OK;
    }
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot read '%s'", path);
    return MLFLOW_OK;
}

struct kv_vec {
    struct mlflow__arena *a;
    struct mlflow_kv *items;
    size_t n, cap;
};

static int kv_vec_push(struct kv_vec *v, const char *key, const char *value)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct mlflow_kv *ni = mlflow__realloc(v->items, cap * sizeof *ni);
        if (!ni)
            return -1;
        v->items = ni;
        v->cap = cap;
    }
    v->items[v->n].key = key;
    v->items[v->n].value = value;
    v->n++;
    return 0;
}

static int kv_key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_kv *)a)->key, ((const struct mlflow_kv *)b)->key);
}

static int kv_file(void *ctx, int dir_fd, const char *name, const char *rel, const char *path,
                   struct mlflow_error *err)
{
    struct kv_vec *v = ctx;
    char *buf;
    size_t len;
    bool skip;
    int rc = read_walked(dir_fd, name, path, &buf, &len, &skip, err);
    if (rc || skip)
        return rc;
    char *key = mlflow__arena_strdup(v->a, rel);
    char *val = mlflow__arena_strndup(v->a, buf, len);
    mlflow__free(buf);
    if (!key || !val || kv_vec_push(v, key, val))
        return mlflow__oom(err);
    return MLFLOW_OK;
}

int mlflow__fs_read_kv_dir(struct mlflow__arena *a, const char *dir, struct mlflow_kv **out,
                           size_t *n, struct mlflow_error *err)
{
    struct kv_vec v = {a, NULL, 0, 0};
    *out = NULL;
    *n = 0;
    int rc = walk_files(dir, kv_file, &v, err);
    if (!rc && v.n) {
        qsort(v.items, v.n, sizeof *v.items, kv_key_cmp);
        *out = mlflow__arena_alloc(a, v.n * sizeof **out);
        if (!*out)
            rc = mlflow__oom(err);
        else {
            memcpy(*out, v.items, v.n * sizeof **out);
            *n = v.n;
        }
    }
    mlflow__free(v.items);
    return rc;
}

/* ---- metric files ---- */

size_t mlflow__fs_format_metric(char *buf, int64_t ts, double value, int64_t step)
{
    size_t n = mlflow__fmt_int64(ts, buf);
    buf[n++] = ' ';
    n += mlflow__fmt_double(value, buf + n);
    buf[n++] = ' ';
    n += mlflow__fmt_int64(step, buf + n);
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

/* Python's tuple order on (step, timestamp, value): the first differing
 * element decides, and a NaN value is never greater than anything. */
static bool point_greater(const struct mlflow_metric *a, const struct mlflow_metric *b)
{
    if (a->step != b->step)
        return a->step > b->step;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->value > b->value;
}

static bool is_py_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses buf in place (it is modified). Only '\n'-terminated lines count:
 * every line we and MLflow write ends in one, so an unterminated tail is a
 * write still in flight (or cut by a crash) and is not a point yet. Lines
 * that do not parse are skipped (see file_store.h).
 * Either *latest is updated (when not NULL) or points are stored into
 * pts (room for one per '\n'). */
static void parse_metric_lines(char *buf, size_t len, const char *key, struct mlflow_metric *pts,
                               size_t *npts, struct mlflow_metric *latest, bool *have)
{
    size_t count = 0;
    char *end = buf + len;
    for (char *line = buf; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            break;
        *nl = '\0';
        char *s = line, *e = nl;
        line = nl + 1;
        while (s < e && is_py_space(*s))
            s++;
        while (e > s && is_py_space(e[-1]))
            *--e = '\0';
        char *f[3];
        int nf = 0;
        for (char *p = s;; p++) {
            if (nf < 3)
                f[nf] = p;
            nf++;
            p = strchrnul(p, ' ');
            if (!*p)
                break;
            *p = '\0';
        }
        struct mlflow_metric m = {key, 0, 0, 0};
        if ((nf != 2 && nf != 3) || !mlflow__parse_int64(f[0], &m.timestamp) ||
            !mlflow__parse_double(f[1], &m.value) ||
            (nf == 3 && !mlflow__parse_int64(f[2], &m.step)))
            continue;
        if (pts) {
            pts[count] = m;
        } else if (!*have || point_greater(&m, latest)) {
            *latest = m;
            *have = true;
        }
        count++;
    }
    if (npts)
        *npts = count;
}

struct metric_vec {
    struct mlflow__arena *a;
    struct mlflow_metric *items;
    size_t n, cap;
};

static int latest_file(void *ctx, int dir_fd, const char *name, const char *rel,
                       const char *path, struct mlflow_error *err)
{
    struct metric_vec *v = ctx;
    char *buf;
    size_t len;
    bool skip;
    int rc = read_walked(dir_fd, name, path, &buf, &len, &skip, err);
    if (rc || skip)
        return rc;
    struct mlflow_metric m;
    bool have = false;
    parse_metric_lines(buf, len, rel, NULL, NULL, &m, &have);
    mlflow__free(buf);
    /* A file with no complete line yet (just created by a concurrent
     * writer) has no latest value; MLflow would fail the whole run. */
    if (!have)
        return MLFLOW_OK;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct mlflow_metric *ni = mlflow__realloc(v->items, cap * sizeof *ni);
        if (!ni)
            return mlflow__oom(err);
        v->items = ni;
        v->cap = cap;
    }
    m.key = mlflow__arena_strdup(v->a, rel);
    if (!m.key)
        return mlflow__oom(err);
    v->items[v->n++] = m;
    return MLFLOW_OK;
}

static int metric_key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_metric *)a)->key, ((const struct mlflow_metric *)b)->key);
}

int mlflow__fs_read_latest_metrics(struct mlflow__arena *a, const char *run_dir,
                                   struct mlflow_metric **out, size_t *n, struct mlflow_error *err)
{
    char dir[FS_PATH_MAX];
    struct metric_vec v = {a, NULL, 0, 0};
    *out = NULL;
    *n = 0;
    int rc = mlflow__fs_path(dir, err, "%s/metrics", run_dir);
    if (!rc)
        rc = walk_files(dir, latest_file, &v, err);
    if (!rc && v.n) {
        qsort(v.items, v.n, sizeof *v.items, metric_key_cmp);
        *out = mlflow__arena_alloc(a, v.n * sizeof **out);
        if (!*out)
            rc = mlflow__oom(err);
        else {
            memcpy(*out, v.items, v.n * sizeof **out);
            *n = v.n;
        }
    }
    mlflow__free(v.items);
    return rc;
}

int mlflow__fs_read_metric_history(struct mlflow__arena *a, const char *run_dir, const char *key,
                                   struct mlflow_metric **out, size_t *n, struct mlflow_error *err)
{
    char rel[FS_PATH_MAX], path[FS_PATH_MAX];
    *out = NULL;
    *n = 0;
    int rc;
    if ((rc = mlflow__fs_path(rel, err, "metrics/%s", key)) ||
        (rc = mlflow__fs_path(path, err, "%s/%s", run_dir, rel)))
        return rc;
    char *buf;
    size_t len;
    /* What the walk of metrics/ would not take for a metric is none. */
    int e = mlflow__fs_read_below(run_dir, rel, 0, &buf, &len);
    if (e == ENOENT || e == EISDIR || e == ENOTDIR || e == ELOOP || e == EINVAL)
        return MLFLOW_OK;
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot read '%s'", path);
    size_t lines = 0;
    for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
        lines++;
    const char *akey = mlflow__arena_strdup(a, key);
    struct mlflow_metric *pts = lines ? mlflow__arena_alloc(a, lines * sizeof *pts) : NULL;
    if (!akey || (lines && !pts)) {
        mlflow__free(buf);
        return mlflow__oom(err);
    }
    parse_metric_lines(buf, len, akey, pts, n, NULL, NULL);
    mlflow__free(buf);
    *out = *n ? pts : NULL;
    return MLFLOW_OK;
}

int mlflow__fs_read_run_data(struct mlflow__arena *a, const char *run_dir, struct mlflow_run *run,
                             struct mlflow_error *err)
{
    char params[FS_PATH_MAX], tags[FS_PATH_MAX];
    memset(&run->data, 0, sizeof run->data);
    int rc;
    if ((rc = mlflow__fs_path(params, err, "%s/params", run_dir)) ||
        (rc = mlflow__fs_path(tags, err, "%s/tags", run_dir)) ||
        (rc = mlflow__fs_read_latest_metrics(a, run_dir, &run->data.metrics, &run->data.n_metrics,
                                             err)) ||
        (rc = mlflow__fs_read_kv_dir(a, params, &run->data.params, &run->data.n_params, err)) ||
        (rc = mlflow__fs_read_kv_dir(a, tags, &run->data.tags, &run->data.n_tags, err)) ||
        (rc = mlflow__fs_read_inputs(a, run_dir, &run->inputs, &run->n_inputs, err)))
        return rc;
    if (!run->info.run_name[0]) {
        for (size_t i = 0; i < run->data.n_tags; i++)
            if (strcmp(run->data.tags[i].key, "mlflow.runName") == 0)
                run->info.run_name = run->data.tags[i].value;
    }
    return MLFLOW_OK;
}

int mlflow__fs_read_run(struct mlflow__arena *a, const char *run_dir, struct mlflow_run *run,
                        struct mlflow_error *err)
{
    memset(run, 0, sizeof *run);
    int rc = mlflow__fs_read_run_meta(a, run_dir, &run->info, err);
    return rc ? rc : mlflow__fs_read_run_data(a, run_dir, run, err);
}
