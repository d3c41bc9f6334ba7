/*
 * file_meta.c - the mlruns on-disk format: meta.yaml for runs and
 * experiments, param/tag value files, metric lines, directory walks.
 *
 * Where MLflow overwrites a file in place we write a temporary file and
 * rename() it over the old one, and params are created with link() so two
 * processes can never both "win" a first write. The temporary files live in
 * the run (or experiment) directory itself, which no reader walks, so
 * MLflow's own readers never see them.
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

#define TMP_PREFIX ".mlflow-c-tmp-"
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

int mlflow__fs_read_file(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
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
            char *nb = mlflow__realloc(b, cap * 2 + 1);
            if (!nb) {
                mlflow__free(b);
                close(fd);
                return ENOMEM;
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
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int mlflow__fs_mkdirs_under(const char *base, const char *rel)
{
    char path[FS_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", base, rel);
    if (n < 0 || n >= (int)sizeof path)
        return ENAMETOOLONG;
    size_t start = strlen(base) + 1;
    for (size_t i = start;; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char saved = path[i];
            path[i] = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return errno;
            path[i] = saved;
            if (!saved)
                return 0;
        }
    }
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
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[8];
    char name[2 * sizeof rnd + 1];
    char tmp[FS_PATH_MAX], final[FS_PATH_MAX];
    int rc;
    if (existed)
        *existed = false;
    mlflow__random_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) {
        name[2 * i] = hex[rnd[i] >> 4];
        name[2 * i + 1] = hex[rnd[i] & 15];
    }
    name[2 * sizeof rnd] = '\0';
    if ((rc = mlflow__fs_path(tmp, err, "%s/" TMP_PREFIX "%s", base, name)) ||
        (rc = mlflow__fs_path(final, err, "%s/%s", base, rel)))
        return rc;

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot create a file in '%s'", base);
    int e = write_all(fd, data, n);
    if (close(fd) != 0 && !e)
        e = errno;
    if (e) {
        unlink(tmp);
        return mlflow__seterr_sys(err, e, "Cannot write '%s'", final);
    }

    for (int attempt = 0;; attempt++) {
        int r = mode == FS_REPLACE ? rename(tmp, final) : link(tmp, final);
        if (r == 0)
            break;
        e = errno;
        if (e == ENOENT && attempt == 0 && strchr(rel, '/')) {
            /* First value under a new folder ("tags/", or a key with '/'). */
            char dir[FS_PATH_MAX];
            snprintf(dir, sizeof dir, "%s", rel);
            *strrchr(dir, '/') = '\0';
            if ((e = mlflow__fs_mkdirs_under(base, dir)) == 0)
                continue;
        }
        if (mode == FS_CREATE_ONCE && e == EEXIST && existed) {
            *existed = true;
            break;
        }
        unlink(tmp);
        return mlflow__seterr_sys(err, e, "Cannot write '%s'", final);
    }
    if (mode == FS_CREATE_ONCE)
        unlink(tmp);
    return MLFLOW_OK;
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
        int e = mlflow__fs_read_file(path, &buf, &len);
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

static int finish_yaml(struct mlflow__yaml_writer *w, struct mlflow__sb *sb, const char *dir,
                       struct mlflow_error *err)
{
    int rc = mlflow__yaml_writer_finish(w, err);
    if (!rc)
        rc = mlflow__fs_write_value(dir, "meta.yaml", sb->buf, sb->len, FS_REPLACE, NULL, err);
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
    return finish_yaml(&w, &sb, run_dir, err);
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
    return finish_yaml(&w, &sb, exp_dir, err);
}

/* ---- walking key folders ---- */

/* Called for every regular file below the walk's base; rel is the key. */
typedef int (*walk_fn)(void *ctx, const char *path, const char *rel, struct mlflow_error *err);

/* full holds base + "/" + rel; rel_off is where rel starts. */
static int walk(char *full, size_t len, size_t rel_off, int depth, walk_fn fn, void *ctx,
                struct mlflow_error *err)
{
    DIR *dir = opendir(full);
    if (!dir) {
        if (errno == ENOENT || errno == ENOTDIR)
            return MLFLOW_OK;
        return mlflow__seterr_sys(err, errno, "Cannot list '%s'", full);
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
            type = lstat(full, &st) != 0 ? DT_UNKNOWN
                   : S_ISDIR(st.st_mode) ? DT_DIR
                   : S_ISREG(st.st_mode) ? DT_REG
                                         : DT_UNKNOWN;
        }
        /* Symlinks are never followed: nothing we write is one, and a
         * planted one must not lead a reader out of the store. */
        if (type == DT_DIR && depth < MAX_KEY_DEPTH)
            rc = walk(full, len + 1 + nl, rel_off, depth + 1, fn, ctx, err);
        else if (type == DT_REG)
            rc = fn(ctx, full, full + rel_off, err);
        full[len] = '\0';
    }
    closedir(dir);
    return rc;
}

static int walk_files(const char *base, walk_fn fn, void *ctx, struct mlflow_error *err)
{
    char full[FS_PATH_MAX];
    int rc = mlflow__fs_path(full, err, "%s", base);
    if (rc)
        return rc;
    size_t len = strlen(full);
    return walk(full, len, len + 1, 0, fn, ctx, err);
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

static int kv_file(void *ctx, const char *path, const char *rel, struct mlflow_error *err)
{
    struct kv_vec *v = ctx;
    char *buf;
    size_t len;
    int e = mlflow__fs_read_file(path, &buf, &len);
    if (e == ENOENT) /* deleted while we walked */
        return MLFLOW_OK;
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot read '%s'", path);
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
 * write still in flight (or cut by a crash) and is not a point yet.
 * Either *latest is updated (when not NULL) or points are stored into
 * pts (room for one per '\n'). */
static int parse_metric_lines(char *buf, size_t len, const char *key, struct mlflow_metric *pts,
                              size_t *npts, struct mlflow_metric *latest, bool *have,
                              struct mlflow_error *err)
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
        if (nf != 2 && nf != 3)
            return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                  "Metric '%s' is malformed; persisted metric data contained %d "
                                  "fields. Expected 2 or 3 fields.",
                                  key, nf);
        if (!mlflow__parse_int64(f[0], &m.timestamp) || !mlflow__parse_double(f[1], &m.value) ||
            (nf == 3 && !mlflow__parse_int64(f[2], &m.step)))
            return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                  "Metric '%s' is malformed: cannot parse line '%s %s%s%s'", key,
                                  f[0], f[1], nf == 3 ? " " : "", nf == 3 ? f[2] : "");
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
    return MLFLOW_OK;
}

struct metric_vec {
    struct mlflow__arena *a;
    struct mlflow_metric *items;
    size_t n, cap;
};

static int latest_file(void *ctx, const char *path, const char *rel, struct mlflow_error *err)
{
    struct metric_vec *v = ctx;
    char *buf;
    size_t len;
    int e = mlflow__fs_read_file(path, &buf, &len);
    if (e == ENOENT)
        return MLFLOW_OK;
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot read '%s'", path);
    struct mlflow_metric m;
    bool have = false;
    int rc = parse_metric_lines(buf, len, rel, NULL, NULL, &m, &have, err);
    mlflow__free(buf);
    /* A file with no complete line yet (just created by a concurrent
     * writer) has no latest value; MLflow would fail the whole run. */
    if (rc || !have)
        return rc;
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
    char path[FS_PATH_MAX];
    *out = NULL;
    *n = 0;
    int rc = mlflow__fs_path(path, err, "%s/metrics/%s", run_dir, key);
    if (rc)
        return rc;
    char *buf;
    size_t len;
    int e = mlflow__fs_read_file(path, &buf, &len);
    if (e == ENOENT || e == EISDIR || e == ENOTDIR)
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
    rc = parse_metric_lines(buf, len, akey, pts, n, NULL, NULL, err);
    mlflow__free(buf);
    if (!rc)
        *out = pts;
    else
        *n = 0;
    return rc;
}

int mlflow__fs_read_run(struct mlflow__arena *a, const char *run_dir, struct mlflow_run *run,
                        struct mlflow_error *err)
{
    char params[FS_PATH_MAX], tags[FS_PATH_MAX];
    memset(run, 0, sizeof *run);
    int rc;
    if ((rc = mlflow__fs_path(params, err, "%s/params", run_dir)) ||
        (rc = mlflow__fs_path(tags, err, "%s/tags", run_dir)) ||
        (rc = mlflow__fs_read_run_meta(a, run_dir, &run->info, err)) ||
        (rc = mlflow__fs_read_latest_metrics(a, run_dir, &run->data.metrics, &run->data.n_metrics,
                                             err)) ||
        (rc = mlflow__fs_read_kv_dir(a, params, &run->data.params, &run->data.n_params, err)) ||
        (rc = mlflow__fs_read_kv_dir(a, tags, &run->data.tags, &run->data.n_tags, err)))
        return rc;
    if (!run->info.run_name[0]) {
        for (size_t i = 0; i < run->data.n_tags; i++)
            if (strcmp(run->data.tags[i].key, "mlflow.runName") == 0)
                run->info.run_name = run->data.tags[i].value;
    }
    return MLFLOW_OK;
}
