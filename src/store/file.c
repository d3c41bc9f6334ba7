/*
 * file.c - the `file:` tracking store: MLflow's mlruns directory tree.
 *
 * Semantics follow MLflow 2.12's FileStore (spec sections 1, 3 and 6); the
 * format itself lives in file_meta.c and the logging hot path in
 * file_cache.c. What this file adds to MLflow's behaviour is locking:
 *
 *   - flock(LOCK_EX) on the root directory around every operation that
 *     checks experiment names or moves experiment directories (create,
 *     rename, delete, restore), LOCK_SH around run creation, so two
 *     processes cannot create one name twice or create a run in an
 *     experiment that is being moved to .trash;
 *   - flock(LOCK_EX) on a run directory around every read-modify-write of
 *     its meta.yaml, so concurrent end_run / set runName / delete calls from
 *     several processes never lose each other's change.
 *
 * flock locks belong to an open file description, so they serialise the
 * threads of one process as well as separate processes.
 */
#include "file_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS(s) ((struct file_store *)(s))

static const char RUN_NAME_TAG[] = "mlflow.runName";
static const char DEFAULT_EXPERIMENT_ID[] = "0";

/* ---- small helpers ---- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A directory and not a symlink to one. */
static bool is_real_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* flags: O_NOFOLLOW for a run directory (a symlink is not a run). */
static int lock_dir(const char *path, int flags, int how, int *fd_out, struct mlflow_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot open '%s'", path);
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return mlflow__seterr_sys(err, e, "Cannot lock '%s'", path);
        }
    }
    *fd_out = fd;
    return MLFLOW_OK;
}

static void unlock_dir(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* Names of the sub-directories of dir that may be experiments or runs.
 * skip: NULL-terminated reserved names. follow: a symlink to a directory
 * counts (experiments, as os.path.isdir() in MLflow); a run directory that
 * is a symlink is not a run, so nothing is written through it. Free with
 * free_names. */
static int list_subdirs(const char *dir, const char *const *skip, bool follow, char ***out,
                        size_t *n, struct mlflow_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return MLFLOW_OK;
        return mlflow__seterr_sys(err, errno, "Cannot list '%s'", dir);
    }
    size_t cap = 0;
    int rc = MLFLOW_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        bool reserved = false;
        for (const char *const *s = skip; s && *s && !reserved; s++)
            reserved = strcmp(name, *s) == 0;
        if (reserved || !mlflow__fs_id_safe(name))
            continue;
        if (de->d_type != DT_DIR) {
            char p[FS_PATH_MAX];
            if (de->d_type != DT_UNKNOWN && (de->d_type != DT_LNK || !follow))
                continue;
            if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p ||
                !(follow ? is_dir(p) : is_real_dir(p)))
                continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = mlflow__realloc(*out, cap * sizeof *nv);
            if (!nv) {
                rc = mlflow__oom(err);
                break;
            }
            *out = nv;
        }
        if (!((*out)[*n] = mlflow__strdup(name))) {
            rc = mlflow__oom(err);
            break;
        }
        (*n)++;
    }
    closedir(d);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mlflow__free(names[i]);
    mlflow__free(names);
}

static const char *const ROOT_RESERVED[] = {".trash", "models", NULL};
static const char *const EXP_RESERVED[] = {"tags", "datasets", "traces", NULL};

/* The experiment's directory: active first, then .trash. */
static int exp_dir(struct file_store *fs, const char *id, char *dir, bool *in_trash,
                   struct mlflow_error *err)
{
    if (mlflow__fs_id_safe(id)) {
        if (snprintf(dir, FS_PATH_MAX, "%s/%s", fs->root, id) < FS_PATH_MAX && is_dir(dir)) {
            if (in_trash)
                *in_trash = false;
            return MLFLOW_OK;
        }
        if (snprintf(dir, FS_PATH_MAX, "%s/%s", fs->trash, id) < FS_PATH_MAX && is_dir(dir)) {
            if (in_trash)
                *in_trash = true;
            return MLFLOW_OK;
        }
    }
    return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                          "Could not find experiment with ID %s", id);
}

int mlflow__fs_find_run(struct file_store *fs, const char *run_id, char *dir, char *exp_id,
                        struct mlflow_error *err)
{
    if (!mlflow__fs_id_safe(run_id))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Invalid run ID: '%.100s'",
                              run_id);
    for (const char *const *r = EXP_RESERVED; *r; r++)
        if (strcmp(run_id, *r) == 0)
            return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST, "Run '%s' not found",
                                  run_id);
    const char *parents[] = {fs->root, fs->trash};
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(parents[i]);
        if (!d)
            continue;
        struct dirent *de;
        bool found = false;
        while (!found && (de = readdir(d))) {
            if (de->d_name[0] == '.' || (i == 0 && strcmp(de->d_name, "models") == 0))
                continue;
            if (snprintf(dir, FS_PATH_MAX, "%s/%s/%s", parents[i], de->d_name, run_id) <
                    FS_PATH_MAX &&
                strlen(de->d_name) < FS_ID_MAX && is_real_dir(dir)) {
                snprintf(exp_id, FS_ID_MAX, "%s", de->d_name);
                found = true;
            }
        }
        closedir(d);
        if (found)
            return MLFLOW_OK;
    }
    return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST, "Run '%s' not found", run_id);
}

static bool tags_safe(const struct mlflow_kv *kv, size_t n, const char **bad)
{
    for (size_t i = 0; i < n; i++) {
        if (!mlflow__fs_key_safe(kv[i].key)) {
            *bad = kv[i].key ? kv[i].key : "(null)";
            return false;
        }
    }
    return true;
}

static int bad_key(const char *kind, const char *key, struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid %s name: '%.300s'. Names may be treated as files in certain "
                          "cases, and must not resolve to other names when treated as such.",
                          kind, key);
}

/* flags: FS_FOLLOW_BASE when dir is an experiment's. */
static int write_tag(const char *dir, int flags, const char *key, const char *value,
                     struct mlflow_error *err)
{
    char rel[FS_PATH_MAX];
    int rc = mlflow__fs_path(rel, err, "tags/%s", key);
    if (!value)
        value = "";
    return rc ? rc
              : mlflow__fs_write_value(dir, rel, value, strlen(value), FS_REPLACE | flags, NULL,
                                       err);
}

/* Reads the experiment in dir into a fresh result object. */
static int load_experiment(const char *dir, const char *id, struct mlflow_experiment **out,
                           struct mlflow_error *err)
{
    struct mlflow_experiment *e = mlflow__obj_new(sizeof *e);
    if (!e)
        return mlflow__oom(err);
    int rc = mlflow__fs_read_experiment(mlflow__obj_arena(e), dir, id, e, err);
    if (rc) {
        mlflow__obj_free(e);
        return rc;
    }
    *out = e;
    return MLFLOW_OK;
}

/* Calls fn for every readable experiment in root (active) or .trash; fn
 * owns the experiment it is given. fn returns <0 to go on, else the walk
 * stops and returns that code (0 included). */
typedef int (*exp_visit_fn)(void *ctx, struct mlflow_experiment *e);

static int for_each_experiment(struct file_store *fs, bool deleted, exp_visit_fn fn, void *ctx,
                               struct mlflow_error *err)
{
    const char *parent = deleted ? fs->trash : fs->root;
    char **names;
    size_t n;
    int rc = list_subdirs(parent, deleted ? NULL : ROOT_RESERVED, true, &names, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char dir[FS_PATH_MAX];
        struct mlflow_experiment *e = NULL;
        struct mlflow_error ignored;
        int r = mlflow__fs_path(dir, &ignored, "%s/%s", parent, names[i]);
        if (!r)
            r = load_experiment(dir, names[i], &e, &ignored);
        if (r == MLFLOW_RESOURCE_EXHAUSTED) {
            rc = mlflow__oom(err);
            break;
        }
        if (r)
            continue; /* malformed: MLflow skips it with a warning */
        r = fn(ctx, e);
        if (r >= 0) {
            rc = r;
            break;
        }
    }
    free_names(names, n);
    return rc;
}

struct by_name {
    const char *name;
    struct mlflow_experiment *found; /* kept; the visitor frees the rest */
};

static int match_name(void *ctx, struct mlflow_experiment *e)
{
    struct by_name *b = ctx;
    if (strcmp(e->name, b->name) == 0) {
        b->found = e;
        return MLFLOW_OK;
    }
    mlflow__obj_free(e);
    return -1;
}

static int find_by_name(struct file_store *fs, const char *name, bool include_deleted,
                        struct mlflow_experiment **out, struct mlflow_error *err)
{
    struct by_name b = {name, NULL};
    int rc = for_each_experiment(fs, false, match_name, &b, err);
    if (!rc && !b.found && include_deleted)
        rc = for_each_experiment(fs, true, match_name, &b, err);
    *out = b.found;
    return rc;
}

static int name_taken(struct mlflow_experiment *e, struct mlflow_error *err)
{
    int rc = mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS, "Experiment '%s' already exists.",
                            e->name);
    mlflow__obj_free(e);
    return rc;
}

/* Writes meta.yaml (and tags) of a new experiment into dir, a new
 * directory that is not yet in its place. */
static int write_new_experiment(struct file_store *fs, const char *dir, const char *id,
                                const char *name, const char *artifact_location,
                                const struct mlflow_kv *tags, size_t n_tags,
                                struct mlflow_error *err)
{
    int rc;
    char *loc = artifact_location ? mlflow__resolve_uri_if_local(artifact_location)
                                  : mlflow__uri_append(fs->artifact_root, id, NULL);
    if (!loc)
        return mlflow__oom(err);
    int64_t now = mlflow__now_ms();
    struct mlflow_experiment e = {
        .experiment_id = id,
        .name = name,
        .artifact_location = loc,
        .lifecycle_stage = "active",
        .creation_time = now,
        .last_update_time = now,
    };
    rc = mlflow__fs_write_experiment_meta(dir, &e, false, err);
    for (size_t i = 0; !rc && i < n_tags; i++)
        rc = write_tag(dir, 0, tags[i].key, tags[i].value, err);
    mlflow__free(loc);
    return rc;
}

/* ---- run meta.yaml read-modify-write ---- */

struct run_change {
    const char *stage;         /* new lifecycle_stage, or NULL */
    const char *only_if_stage; /* skip runs in another stage */
    bool require_active;       /* a deleted run is an error */
    int status;                /* 0: unchanged */
    int64_t end_time;          /* MLFLOW_TIME_UNSET: unchanged */
    const char *run_name;      /* NULL: unchanged */
    int64_t deleted_time;      /* written if set; MLflow drops it otherwise */
};

#define RUN_CHANGE_INIT {NULL, NULL, false, 0, MLFLOW_TIME_UNSET, NULL, MLFLOW_TIME_UNSET}

static int change_run(const char *run_dir, const char *exp_id, const struct run_change *ch,
                      struct mlflow_error *err)
{
    int lock = -1;
    int rc = lock_dir(run_dir, O_NOFOLLOW, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    struct mlflow_run_info *info = mlflow__obj_new(sizeof *info);
    if (!info) {
        unlock_dir(lock);
        return mlflow__oom(err);
    }
    rc = mlflow__fs_read_run_meta(mlflow__obj_arena(info), run_dir, info, err);
    if (!rc && exp_id && strcmp(info->experiment_id, exp_id) != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_STATE, "Run '%s' metadata is in invalid state.",
                            info->run_id);
    bool skip = !rc && ch->only_if_stage && strcmp(info->lifecycle_stage, ch->only_if_stage) != 0;
    if (!rc && !skip && ch->require_active && strcmp(info->lifecycle_stage, "active") != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The run %s must be in the 'active' state. Current state is %s.",
                            info->run_id, info->lifecycle_stage);
    if (!rc && !skip) {
        if (ch->stage)
            info->lifecycle_stage = ch->stage;
        if (ch->status)
            info->status = ch->status;
        if (ch->end_time != MLFLOW_TIME_UNSET)
            info->end_time = ch->end_time;
        if (ch->run_name)
            info->run_name = ch->run_name;
        rc = mlflow__fs_write_run_meta(run_dir, info, ch->deleted_time, err);
    }
    mlflow__obj_free(info);
    unlock_dir(lock);
    return rc;
}

/* Applies ch to every run of the experiment in exp_path (experiment
 * delete/restore); runs that cannot be read are left alone, as in MLflow. */
static int change_all_runs(const char *exp_path, const char *exp_id, const struct run_change *ch,
                           struct mlflow_error *err)
{
    char **names;
    size_t n;
    int rc = list_subdirs(exp_path, EXP_RESERVED, false, &names, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char dir[FS_PATH_MAX], meta[FS_PATH_MAX];
        struct mlflow_error ignored;
        if (mlflow__fs_path(dir, &ignored, "%s/%s", exp_path, names[i]) ||
            mlflow__fs_path(meta, &ignored, "%s/meta.yaml", dir) || access(meta, F_OK) != 0)
            continue;
        change_run(dir, exp_id, ch, &ignored);
    }
    free_names(names, n);
    return rc;
}

/* ---- experiments ---- */

/* The experiment is built in a temporary folder of the root and renamed
 * into place whole: a reader never sees it half made, and a failure (a tag
 * that cannot be written) leaves nothing behind. */
static int fs_create_experiment(struct mlflow__store *s, const char *name,
                                const char *artifact_location, const struct mlflow_kv *tags,
                                size_t n_tags, char **out_id, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    const char *bad;
    if (!tags_safe(tags, n_tags, &bad))
        return bad_key("tag", bad, err);
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    struct mlflow_experiment *same;
    rc = find_by_name(fs, name, false, &same, err);
    if (!rc && same)
        rc = name_taken(same, err);
    char id[19];
    char tmp[FS_PATH_MAX], dir[FS_PATH_MAX], trashed[FS_PATH_MAX];
    bool made = false;
    if (!rc) {
        int e = mlflow__fs_make_temp_dir(fs->root, FS_TMP_PREFIX, tmp);
        if (e)
            rc = mlflow__seterr_sys(err, e, "Cannot create a directory in '%s'", fs->root);
        made = !e;
    }
    mlflow__experiment_id18(id);
    if (!rc)
        rc = write_new_experiment(fs, tmp, id, name, artifact_location, tags, n_tags, err);
    for (int attempt = 0; !rc; attempt++) {
        struct stat st;
        snprintf(dir, sizeof dir, "%s/%s", fs->root, id);
        snprintf(trashed, sizeof trashed, "%s/%s", fs->trash, id);
        int e = lstat(trashed, &st) == 0 ? EEXIST : mlflow__fs_rename_noreplace(tmp, dir);
        if (!e) {
            made = false;
            break;
        }
        if ((e != EEXIST && e != ENOTEMPTY) || attempt > 100) {
            rc = mlflow__seterr_sys(err, e, "Cannot create experiment directory '%s'", dir);
            break;
        }
        /* The id is taken (vanishingly rare): the meta.yaml names it, so
         * write that again under a new one. */
        mlflow__experiment_id18(id);
        rc = write_new_experiment(fs, tmp, id, name, artifact_location, NULL, 0, err);
    }
    if (made)
        mlflow__fs_remove_tree(tmp);
    unlock_dir(lock);
    if (!rc && !(*out_id = mlflow__strdup(id)))
        rc = mlflow__oom(err);
    return rc;
}

static int fs_get_experiment(struct mlflow__store *s, const char *id,
                             struct mlflow_experiment **out, struct mlflow_error *err)
{
    char dir[FS_PATH_MAX];
    int rc = exp_dir(FS(s), id, dir, NULL, err);
    if (!rc)
        rc = load_experiment(dir, id, out, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
        mlflow__seterr(err, rc, "Experiment '%s' does not exist.", id);
    return rc;
}

static int fs_get_experiment_by_name(struct mlflow__store *s, const char *name,
                                     struct mlflow_experiment **out, struct mlflow_error *err)
{
    *out = NULL;
    int rc = find_by_name(FS(s), name, true, out, err);
    if (!rc && !*out)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Experiment with name '%s' does not exist.", name);
    return rc;
}

struct exp_vec {
    struct mlflow_experiment **items;
    size_t n, cap;
    const struct mlflow__filter *filter;
};

static int collect_experiment(void *ctx, struct mlflow_experiment *e)
{
    struct exp_vec *v = ctx;
    if (!mlflow__experiment_matches(v->filter, e)) {
        mlflow__obj_free(e);
        return -1;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        struct mlflow_experiment **ni = mlflow__realloc(v->items, cap * sizeof *ni);
        if (!ni) {
            mlflow__obj_free(e);
            return MLFLOW_RESOURCE_EXHAUSTED;
        }
        v->items = ni;
        v->cap = cap;
    }
    v->items[v->n++] = e;
    return -1;
}

static int exp_cmp(const void *a, const void *b, void *order)
{
    return mlflow__experiment_compare(order, *(struct mlflow_experiment *const *)a,
                                      *(struct mlflow_experiment *const *)b);
}

/* The page [offset, offset + max) of n sorted items, and the next token. */
static size_t page_bounds(int64_t offset, int64_t max, size_t n, size_t *start, bool *more)
{
    *start = offset < 0 ? 0 : (size_t)offset > n ? n : (size_t)offset;
    size_t count = n - *start;
    if (max > 0 && (uint64_t)max < count)
        count = (size_t)max;
    *more = *start + count < n;
    return count;
}

static const char *arena_token(struct mlflow__arena *a, int64_t offset, bool *oom)
{
    char *t = mlflow__page_token_encode(offset);
    const char *r = t ? mlflow__arena_strdup(a, t) : NULL;
    mlflow__free(t);
    *oom = !r;
    return r;
}

static int fs_search_experiments(struct mlflow__store *s,
                                 const struct mlflow__search_experiments *q,
                                 struct mlflow_experiment_list **out, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    struct exp_vec v = {NULL, 0, 0, q->filter};
    int rc = MLFLOW_OK;
    if (q->view_type != MLFLOW_VIEW_DELETED_ONLY)
        rc = for_each_experiment(fs, false, collect_experiment, &v, err);
    if (!rc && q->view_type != MLFLOW_VIEW_ACTIVE_ONLY)
        rc = for_each_experiment(fs, true, collect_experiment, &v, err);
    if (rc == MLFLOW_RESOURCE_EXHAUSTED)
        mlflow__oom(err);
    struct mlflow_experiment_list *list = NULL;
    if (!rc) {
        if (v.n > 1)
            qsort_r(v.items, v.n, sizeof *v.items, exp_cmp, (void *)q->order);
        list = mlflow__obj_new(sizeof *list);
        if (!list)
            rc = mlflow__oom(err);
    }
    if (!rc) {
        struct mlflow__arena *a = mlflow__obj_arena(list);
        size_t start;
        bool more, oom = false;
        list->count = page_bounds(q->offset, q->max_results, v.n, &start, &more);
        if (list->count &&
            !(list->experiments = mlflow__arena_alloc(a, list->count * sizeof *list->experiments)))
            oom = true;
        for (size_t i = 0; !oom && i < list->count; i++)
            oom = mlflow__experiment_copy(a, &list->experiments[i], v.items[start + i]) != 0;
        if (!oom && more)
            list->next_page_token = arena_token(a, (int64_t)(start + list->count), &oom);
        if (oom) {
            mlflow__obj_free(list);
            rc = mlflow__oom(err);
        }
    }
    for (size_t i = 0; i < v.n; i++)
        mlflow__obj_free(v.items[i]);
    mlflow__free(v.items);
    *out = rc ? NULL : list;
    return rc;
}

static int fs_delete_experiment(struct mlflow__store *s, const char *id, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    if (strcmp(id, DEFAULT_EXPERIMENT_ID) == 0)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                              "Cannot delete the default experiment '0'. This is an internally "
                              "reserved experiment.");
    char dir[FS_PATH_MAX], dest[FS_PATH_MAX];
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    struct mlflow_experiment *e = NULL;
    if (!mlflow__fs_id_safe(id) || mlflow__fs_path(dir, err, "%s/%s", fs->root, id) ||
        !is_dir(dir))
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Could not find experiment with ID %s", id);
    if (!rc)
        rc = mlflow__fs_path(dest, err, "%s/%s", fs->trash, id);
    if (!rc && access(dest, F_OK) == 0)
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "Cannot delete experiment %s: '%s' already exists", id, dest);
    if (!rc)
        rc = load_experiment(dir, id, &e, err);
    if (!rc) {
        int64_t now = mlflow__now_ms();
        struct run_change ch = RUN_CHANGE_INIT;
        ch.stage = "deleted";
        ch.only_if_stage = "active";
        ch.deleted_time = now;
        rc = change_all_runs(dir, id, &ch, err);
        e->lifecycle_stage = "deleted";
        e->last_update_time = now;
        if (!rc)
            rc = mlflow__fs_write_experiment_meta(dir, e, true, err);
        if (!rc && rename(dir, dest) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot move '%s' to '%s'", dir, dest);
    }
    mlflow__obj_free(e);
    unlock_dir(lock);
    mlflow__fcache_stale(fs->cache, NULL);
    return rc;
}

static int fs_restore_experiment(struct mlflow__store *s, const char *id,
                                 struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    char src[FS_PATH_MAX], dir[FS_PATH_MAX];
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    struct mlflow_experiment *e = NULL;
    if (!mlflow__fs_id_safe(id) || mlflow__fs_path(src, err, "%s/%s", fs->trash, id) ||
        !is_dir(src))
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                            "Could not find deleted experiment with ID %s", id);
    if (!rc)
        rc = mlflow__fs_path(dir, err, "%s/%s", fs->root, id);
    if (!rc && access(dir, F_OK) == 0)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                            "Cannot restore experiment with ID %s. An experiment with same ID "
                            "already exists.",
                            id);
    if (!rc && rename(src, dir) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot move '%s' to '%s'", src, dir);
    if (!rc)
        rc = load_experiment(dir, id, &e, err);
    if (!rc) {
        struct run_change ch = RUN_CHANGE_INIT;
        ch.stage = "active";
        ch.only_if_stage = "deleted";
        rc = change_all_runs(dir, id, &ch, err);
        e->lifecycle_stage = "active";
        e->last_update_time = mlflow__now_ms();
        if (!rc)
            rc = mlflow__fs_write_experiment_meta(dir, e, true, err);
    }
    mlflow__obj_free(e);
    unlock_dir(lock);
    mlflow__fcache_stale(fs->cache, NULL);
    return rc;
}

static int fs_rename_experiment(struct mlflow__store *s, const char *id, const char *new_name,
                                struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    char dir[FS_PATH_MAX];
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    struct mlflow_experiment *e = NULL, *same = NULL;
    rc = exp_dir(fs, id, dir, NULL, err);
    if (!rc)
        rc = load_experiment(dir, id, &e, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
        mlflow__seterr(err, rc, "Experiment '%s' does not exist.", id);
    if (!rc)
        rc = find_by_name(fs, new_name, false, &same, err);
    if (!rc && same)
        rc = name_taken(same, err);
    if (!rc && strcmp(e->lifecycle_stage, "active") != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_STATE,
                            "Cannot rename experiment in non-active lifecycle stage. Current "
                            "stage: %s",
                            e->lifecycle_stage);
    if (!rc) {
        e->name = new_name;
        e->last_update_time = mlflow__now_ms();
        rc = mlflow__fs_write_experiment_meta(dir, e, true, err);
    }
    mlflow__obj_free(e);
    unlock_dir(lock);
    return rc;
}

static int fs_set_experiment_tag(struct mlflow__store *s, const char *id, const char *key,
                                 const char *value, struct mlflow_error *err)
{
    if (!mlflow__fs_key_safe(key))
        return bad_key("tag", key, err);
    char dir[FS_PATH_MAX];
    struct mlflow_experiment *e = NULL;
    int rc = exp_dir(FS(s), id, dir, NULL, err);
    if (!rc)
        rc = load_experiment(dir, id, &e, err);
    if (!rc && strcmp(e->lifecycle_stage, "active") != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The experiment %s must be in the 'active' lifecycle_stage to set "
                            "tags",
                            id);
    if (!rc)
        rc = write_tag(dir, FS_FOLLOW_BASE, key, value, err);
    mlflow__obj_free(e);
    return rc;
}

/* ---- runs ---- */

static int load_run(const char *run_dir, struct mlflow_run **out, struct mlflow_error *err)
{
    struct mlflow_run *r = mlflow__obj_new(sizeof *r);
    if (!r)
        return mlflow__oom(err);
    int rc = mlflow__fs_read_run(mlflow__obj_arena(r), run_dir, r, err);
    if (rc) {
        mlflow__obj_free(r);
        return rc;
    }
    *out = r;
    return MLFLOW_OK;
}

static int new_run_dir(const char *exp_path, const struct mlflow_experiment *e, const char *user_id,
                       int64_t start_time, const char *run_name, const struct mlflow_kv *tags,
                       size_t n_tags, char *run_dir, struct mlflow_error *err)
{
    char run_id[33];
    int rc = MLFLOW_OK;
    for (int attempt = 0;; attempt++) {
        mlflow__uuid_hex(run_id);
        if ((rc = mlflow__fs_path(run_dir, err, "%s/%s", exp_path, run_id)))
            return rc;
        if (mkdir(run_dir, 0777) == 0)
            break;
        if (errno != EEXIST || attempt > 10)
            return mlflow__seterr_sys(err, errno, "Cannot create run directory '%s'", run_dir);
    }
    static const char *const subdirs[] = {"metrics", "params", "artifacts"};
    for (size_t i = 0; !rc && i < MLFLOW_ARRAY_LEN(subdirs); i++) {
        char p[FS_PATH_MAX];
        if (!(rc = mlflow__fs_path(p, err, "%s/%s", run_dir, subdirs[i])) && mkdir(p, 0777) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot create '%s'", p);
    }
    bool has_name_tag = false;
    for (size_t i = 0; !rc && i < n_tags; i++) {
        has_name_tag |= strcmp(tags[i].key, RUN_NAME_TAG) == 0;
        rc = write_tag(run_dir, 0, tags[i].key, tags[i].value, err);
    }
    if (!rc && !has_name_tag && run_name[0])
        rc = write_tag(run_dir, 0, RUN_NAME_TAG, run_name, err);
    char *artifact_uri = rc ? NULL : mlflow__uri_append(e->artifact_location, run_id, "artifacts");
    if (!rc && !artifact_uri)
        rc = mlflow__oom(err);
    if (!rc) {
        /* meta.yaml last: until it exists, readers skip the directory.
         * MLflow's create_run ends with a rewrite (setting mlflow.runName)
         * that drops deleted_time, so the final file has none. */
        struct mlflow_run_info info = {
            .run_id = run_id,
            .run_name = run_name,
            .experiment_id = e->experiment_id,
            .user_id = user_id,
            .artifact_uri = artifact_uri,
            .lifecycle_stage = "active",
            .status = MLFLOW_RUN_STATUS_RUNNING,
            .start_time = start_time,
            .end_time = MLFLOW_TIME_UNSET,
        };
        rc = mlflow__fs_write_run_meta(run_dir, &info, MLFLOW_TIME_UNSET, err);
    }
    mlflow__free(artifact_uri);
    return rc;
}

static int fs_create_run(struct mlflow__store *s, const char *experiment_id, const char *user_id,
                         int64_t start_time, const char *run_name, const struct mlflow_kv *tags,
                         size_t n_tags, struct mlflow_run **out, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    const char *bad;
    if (!tags_safe(tags, n_tags, &bad))
        return bad_key("tag", bad, err);
    if (!run_name || !run_name[0]) {
        run_name = "";
        for (size_t i = 0; i < n_tags; i++)
            if (strcmp(tags[i].key, RUN_NAME_TAG) == 0 && tags[i].value)
                run_name = tags[i].value;
    }
    /* Shared root lock: an experiment cannot move to .trash meanwhile. */
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_SH, &lock, err);
    if (rc)
        return rc;
    char dir[FS_PATH_MAX], run_dir[FS_PATH_MAX];
    bool in_trash = false;
    struct mlflow_experiment *e = NULL;
    rc = exp_dir(fs, experiment_id, dir, &in_trash, err);
    if (!rc)
        rc = load_experiment(dir, experiment_id, &e, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
        mlflow__seterr(err, rc,
                       "Could not create run under experiment with ID %s - no such experiment "
                       "exists.",
                       experiment_id);
    if (!rc && (in_trash || strcmp(e->lifecycle_stage, "active") != 0))
        rc = mlflow__seterr(err, MLFLOW_INVALID_STATE,
                            "Could not create run under non-active experiment with ID %s.",
                            experiment_id);
    if (!rc)
        rc = new_run_dir(dir, e, user_id, start_time, run_name, tags, n_tags, run_dir, err);
    mlflow__obj_free(e);
    unlock_dir(lock);
    if (!rc && out)
        rc = load_run(run_dir, out, err);
    return rc;
}

static int fs_get_run(struct mlflow__store *s, const char *run_id, struct mlflow_run **out,
                      struct mlflow_error *err)
{
    char dir[FS_PATH_MAX];
    int rc = mlflow__fcache_run_dir(FS(s), run_id, false, dir, NULL, err);
    return rc ? rc : load_run(dir, out, err);
}

static int fs_update_run(struct mlflow__store *s, const char *run_id, int status, int64_t end_time,
                         const char *run_name, struct mlflow_run **out, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    char dir[FS_PATH_MAX], exp_id[FS_ID_MAX];
    int rc = mlflow__fcache_run_dir(fs, run_id, true, dir, exp_id, err);
    if (rc)
        return rc;
    struct run_change ch = RUN_CHANGE_INIT;
    ch.require_active = true;
    ch.status = status;
    ch.end_time = end_time;
    ch.run_name = run_name && run_name[0] ? run_name : NULL;
    if (ch.run_name)
        rc = write_tag(dir, 0, RUN_NAME_TAG, run_name, err);
    if (!rc)
        rc = change_run(dir, exp_id, &ch, err);
    mlflow__fcache_stale(fs->cache, run_id);
    if (!rc && out)
        rc = load_run(dir, out, err);
    return rc;
}

static int set_lifecycle(struct mlflow__store *s, const char *run_id, bool deleted,
                         struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    char dir[FS_PATH_MAX], exp_id[FS_ID_MAX];
    int rc = mlflow__fcache_run_dir(fs, run_id, false, dir, exp_id, err);
    if (rc)
        return rc;
    struct run_change ch = RUN_CHANGE_INIT;
    ch.stage = deleted ? "deleted" : "active";
    if (deleted)
        ch.deleted_time = mlflow__now_ms();
    rc = change_run(dir, exp_id, &ch, err);
    mlflow__fcache_stale(fs->cache, run_id);
    return rc;
}

static int fs_delete_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    return set_lifecycle(s, run_id, true, err);
}

static int fs_restore_run(struct mlflow__store *s, const char *run_id, struct mlflow_error *err)
{
    return set_lifecycle(s, run_id, false, err);
}

/* Params are write-once: link() makes the first writer win atomically,
 * across processes too; a later writer compares. */
static int log_param(const char *run_dir, const char *run_id, const char *key, const char *value,
                     struct mlflow_error *err)
{
    char rel[FS_PATH_MAX], path[FS_PATH_MAX];
    int rc;
    if (!value)
        value = "";
    if ((rc = mlflow__fs_path(rel, err, "params/%s", key)) ||
        (rc = mlflow__fs_path(path, err, "%s/%s", run_dir, rel)))
        return rc;
    size_t n = strlen(value);
    char *old = NULL;
    size_t old_len = 0;
    int e = mlflow__fs_read_below(run_dir, rel, 0, &old, &old_len);
    if (e == ENOENT) {
        bool existed;
        if ((rc = mlflow__fs_write_value(run_dir, rel, value, n, FS_CREATE_ONCE, &existed, err)))
            return rc;
        if (!existed)
            return MLFLOW_OK;
        e = mlflow__fs_read_below(run_dir, rel, 0, &old, &old_len); /* lost a race: compare */
    }
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot read param file '%s'", path);
    if (old_len != n || memcmp(old, value, n) != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Changing param values is not allowed. Param with key='%s' was "
                            "already logged with value='%.300s' for run ID='%s'. Attempted "
                            "logging new value '%.300s'.",
                            key, old, run_id, value);
    mlflow__free(old);
    return rc;
}

/* Metric lines, one write() per key (several only past the buffer size,
 * always at line boundaries). */
static int log_metrics(struct file_store *fs, const char *run_id, const struct mlflow_metric *m,
                       size_t n, struct mlflow_error *err)
{
    if (n == 1) {
        char line[128];
        size_t len = mlflow__fs_format_metric(line, m->timestamp, m->value, m->step);
        return mlflow__fcache_append(fs, run_id, m->key, line, len, err);
    }
    struct mlflow__key_idx *order = mlflow__key_order(m, n, sizeof *m);
    if (!order)
        return mlflow__oom(err);
    char buf[16384];
    size_t len = 0;
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        const struct mlflow_metric *p = &m[order[i].i];
        len += mlflow__fs_format_metric(buf + len, p->timestamp, p->value, p->step);
        bool last_of_key = i + 1 == n || strcmp(order[i + 1].key, p->key) != 0;
        if (last_of_key || len > sizeof buf - 128) {
            rc = mlflow__fcache_append(fs, run_id, p->key, buf, len, err);
            len = 0;
        }
    }
    mlflow__free(order);
    return rc;
}

static int fs_log_batch(struct mlflow__store *s, const char *run_id,
                        const struct mlflow_metric *metrics, size_t n_metrics,
                        const struct mlflow_kv *params, size_t n_params,
                        const struct mlflow_kv *tags, size_t n_tags, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    for (size_t i = 0; i < n_metrics; i++)
        if (!mlflow__fs_key_safe(metrics[i].key))
            return bad_key("metric", metrics[i].key ? metrics[i].key : "(null)", err);
    const char *bad;
    if (!tags_safe(params, n_params, &bad))
        return bad_key("param", bad, err);
    if (!tags_safe(tags, n_tags, &bad))
        return bad_key("tag", bad, err);
    /* The hot path: metrics only; the cache checks the run. */
    if (n_params == 0 && n_tags == 0 && n_metrics > 0)
        return log_metrics(fs, run_id, metrics, n_metrics, err);

    char dir[FS_PATH_MAX], exp_id[FS_ID_MAX];
    int rc = mlflow__fcache_run_dir(fs, run_id, true, dir, exp_id, err);
    for (size_t i = 0; !rc && i < n_params; i++)
        rc = log_param(dir, run_id, params[i].key, params[i].value, err);
    if (!rc && n_metrics)
        rc = log_metrics(fs, run_id, metrics, n_metrics, err);
    for (size_t i = 0; !rc && i < n_tags; i++) {
        if (strcmp(tags[i].key, RUN_NAME_TAG) == 0) {
            /* Keep meta.yaml's run_name in step with the tag. */
            struct run_change ch = RUN_CHANGE_INIT;
            ch.require_active = true;
            ch.run_name = tags[i].value ? tags[i].value : "";
            rc = change_run(dir, exp_id, &ch, err);
            mlflow__fcache_stale(fs->cache, run_id);
        }
        if (!rc)
            rc = write_tag(dir, 0, tags[i].key, tags[i].value, err);
    }
    return rc;
}

static int fs_delete_tag(struct mlflow__store *s, const char *run_id, const char *key,
                         struct mlflow_error *err)
{
    if (!mlflow__fs_key_safe(key))
        return bad_key("tag", key, err);
    char dir[FS_PATH_MAX], rel[FS_PATH_MAX];
    int rc = mlflow__fcache_run_dir(FS(s), run_id, true, dir, NULL, err);
    if (!rc)
        rc = mlflow__fs_path(rel, err, "tags/%s", key);
    if (rc)
        return rc;
    /* Beneath the run's descriptor: a folder of the key that is a symlink
     * holds no tags. */
    int bfd, dfd = -1;
    const char *leaf;
    int e = mlflow__fs_open_base(dir, 0, &bfd);
    if (!e) {
        e = mlflow__fs_dir_below(bfd, rel, false, &dfd, &leaf);
        if (!e && unlinkat(dfd, leaf, 0) != 0)
            e = errno;
        if (dfd >= 0 && dfd != bfd)
            close(dfd);
        close(bfd);
    }
    if (!e)
        return MLFLOW_OK;
    if (e == ENOENT || e == ENOTDIR || e == EISDIR || e == ELOOP)
        return mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                              "No tag with name: %s in run with id %s", key, run_id);
    return mlflow__seterr_sys(err, e, "Cannot delete tag file '%s/%s'", dir, rel);
}

static int fs_get_metric_history(struct mlflow__store *s, const char *run_id, const char *key,
                                 struct mlflow_metric_list **out, struct mlflow_error *err)
{
    if (!mlflow__fs_key_safe(key))
        return bad_key("metric", key, err);
    char dir[FS_PATH_MAX];
    int rc = mlflow__fcache_run_dir(FS(s), run_id, false, dir, NULL, err);
    if (rc)
        return rc;
    struct mlflow_metric_list *l = mlflow__obj_new(sizeof *l);
    if (!l)
        return mlflow__oom(err);
    rc = mlflow__fs_read_metric_history(mlflow__obj_arena(l), dir, key, &l->metrics, &l->count,
                                        err);
    if (rc) {
        mlflow__obj_free(l);
        return rc;
    }
    *out = l;
    return MLFLOW_OK;
}

/* ---- search_runs ---- */

struct run_vec {
    struct mlflow_run **items;
    size_t n, cap;
};

static bool view_matches(int view, const char *stage)
{
    bool active = strcmp(stage, "active") == 0;
    return view == MLFLOW_VIEW_ALL || (view == MLFLOW_VIEW_ACTIVE_ONLY) == active;
}

static int collect_runs(struct file_store *fs, const char *exp_id,
                        const struct mlflow__search_runs *q, struct run_vec *v,
                        struct mlflow_error *err)
{
    char dir[FS_PATH_MAX];
    struct mlflow_error ignored;
    if (exp_dir(fs, exp_id, dir, NULL, &ignored))
        return MLFLOW_OK; /* unknown experiments contribute nothing, as in MLflow */
    char **names;
    size_t n;
    int rc = list_subdirs(dir, EXP_RESERVED, false, &names, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char run_dir[FS_PATH_MAX];
        struct mlflow_run *r = mlflow__obj_new(sizeof *r);
        if (!r) {
            rc = mlflow__oom(err);
            break;
        }
        struct mlflow__arena *a = mlflow__obj_arena(r);
        int lr = mlflow__fs_path(run_dir, &ignored, "%s/%s", dir, names[i]);
        if (!lr)
            lr = mlflow__fs_read_run_meta(a, run_dir, &r->info, &ignored);
        if (lr == MLFLOW_RESOURCE_EXHAUSTED)
            rc = mlflow__oom(err);
        /* Not a run without a readable meta.yaml, as in MLflow; a run of
         * another experiment or view is not read further. */
        if (lr || strcmp(r->info.experiment_id, exp_id) != 0 ||
            !view_matches(q->view_type, r->info.lifecycle_stage)) {
            mlflow__obj_free(r);
            continue;
        }
        /* Past its meta.yaml a run is readable whatever damage its files
         * have (see file_store.h); what still fails here is the system (an
         * I/O error, permissions), and that fails the search rather than
         * leaving the run out unnoticed. */
        if ((rc = mlflow__fs_read_run_data(a, run_dir, r, err))) {
            mlflow__obj_free(r);
            break;
        }
        if (!mlflow__run_matches(q->filter, r)) {
            mlflow__obj_free(r);
            continue;
        }
        if (v->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 64;
            struct mlflow_run **ni = mlflow__realloc(v->items, cap * sizeof *ni);
            if (!ni) {
                mlflow__obj_free(r);
                rc = mlflow__oom(err);
                break;
            }
            v->items = ni;
            v->cap = cap;
        }
        v->items[v->n++] = r;
    }
    free_names(names, n);
    return rc;
}

static int run_cmp(const void *a, const void *b, void *order)
{
    return mlflow__run_compare(order, *(struct mlflow_run *const *)a,
                               *(struct mlflow_run *const *)b);
}

static int fs_search_runs(struct mlflow__store *s, const struct mlflow__search_runs *q,
                          struct mlflow_run_list **out, struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    struct run_vec v = {NULL, 0, 0};
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < q->n_experiment_ids; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(q->experiment_ids[i], q->experiment_ids[j]) == 0;
        if (!dup)
            rc = collect_runs(fs, q->experiment_ids[i], q, &v, err);
    }
    struct mlflow_run_list *list = NULL;
    if (!rc) {
        if (v.n > 1)
            qsort_r(v.items, v.n, sizeof *v.items, run_cmp, (void *)q->order);
        if (!(list = mlflow__obj_new(sizeof *list)))
            rc = mlflow__oom(err);
    }
    if (!rc) {
        struct mlflow__arena *a = mlflow__obj_arena(list);
        size_t start;
        bool more, oom = false;
        list->count = page_bounds(q->offset, q->max_results, v.n, &start, &more);
        if (list->count && !(list->runs = mlflow__arena_alloc(a, list->count * sizeof *list->runs)))
            oom = true;
        for (size_t i = 0; !oom && i < list->count; i++)
            oom = mlflow__run_copy(a, &list->runs[i], v.items[start + i]) != 0;
        if (!oom && more)
            list->next_page_token = arena_token(a, (int64_t)(start + list->count), &oom);
        if (oom) {
            mlflow__obj_free(list);
            rc = mlflow__oom(err);
        }
    }
    for (size_t i = 0; i < v.n; i++)
        mlflow__obj_free(v.items[i]);
    mlflow__free(v.items);
    *out = rc ? NULL : list;
    return rc;
}

/* ---- lifecycle of the store ---- */

static const char *fs_default_artifact_root(struct mlflow__store *s)
{
    return FS(s)->artifact_root;
}

static void fs_close(struct mlflow__store *s)
{
    struct file_store *fs = FS(s);
    mlflow__fcache_free(fs->cache);
    mlflow__free(fs->root);
    mlflow__free(fs->trash);
    mlflow__free(fs->artifact_root);
    mlflow__free(fs->base.uri);
    mlflow__free(fs);
}

/* ---- import (migrate.c): copies from another store that keep ids ---- */

/* Like creation, the experiment is built in a temporary folder and renamed
 * into place whole (into .trash when it is deleted). */
static int fs_import_experiment(struct mlflow__store *s, const struct mlflow_experiment *e,
                                struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    const char *bad;
    if (!mlflow__fs_id_safe(e->experiment_id))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid experiment ID '%.300s': a file store keeps it as a "
                              "directory name",
                              e->experiment_id);
    if (!tags_safe(e->tags, e->n_tags, &bad))
        return bad_key("tag", bad, err);
    bool deleted = strcmp(e->lifecycle_stage, "deleted") == 0;
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_EX, &lock, err);
    if (rc)
        return rc;
    char dir[FS_PATH_MAX], tmp[FS_PATH_MAX];
    struct mlflow_error ignored;
    if (exp_dir(fs, e->experiment_id, dir, NULL, &ignored) == MLFLOW_OK)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                            "Experiment with ID %s already exists.", e->experiment_id);
    struct mlflow_experiment *same = NULL;
    if (!rc && !deleted)
        rc = find_by_name(fs, e->name, false, &same, err);
    if (!rc && same)
        rc = name_taken(same, err);
    if (!rc)
        rc = mlflow__fs_path(dir, err, "%s/%s", deleted ? fs->trash : fs->root,
                             e->experiment_id);
    bool made = false;
    if (!rc) {
        int x = mlflow__fs_make_temp_dir(fs->root, FS_TMP_PREFIX, tmp);
        if (x)
            rc = mlflow__seterr_sys(err, x, "Cannot create a directory in '%s'", fs->root);
        made = !x;
    }
    /* A source without an artifact location gets this store's default, as
     * creation would give it. MLflow's rewrites of a deleted experiment dump
     * its tags too. */
    struct mlflow_experiment copy = *e;
    char *loc = NULL;
    if (!rc && !copy.artifact_location) {
        if (!(loc = mlflow__uri_append(fs->artifact_root, e->experiment_id, NULL)))
            rc = mlflow__oom(err);
        copy.artifact_location = loc;
    }
    if (!rc)
        rc = mlflow__fs_write_experiment_meta(tmp, &copy, deleted, err);
    mlflow__free(loc);
    for (size_t i = 0; !rc && i < e->n_tags; i++)
        rc = write_tag(tmp, 0, e->tags[i].key, e->tags[i].value, err);
    if (!rc) {
        int x = mlflow__fs_rename_noreplace(tmp, dir);
        if (x)
            rc = mlflow__seterr_sys(err, x, "Cannot create experiment directory '%s'", dir);
        else
            made = false;
    }
    if (made)
        mlflow__fs_remove_tree(tmp);
    unlock_dir(lock);
    return rc;
}

/* One file per metric key with all its points, in the order given. */
static int write_history(const char *run_dir, const struct mlflow_metric *h, size_t n,
                         struct mlflow_error *err)
{
    if (n == 0)
        return MLFLOW_OK;
    struct mlflow__key_idx *order = mlflow__key_order(h, n, sizeof *h);
    if (!order)
        return mlflow__oom(err);
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        const struct mlflow_metric *p = &h[order[i].i];
        char line[128], rel[FS_PATH_MAX];
        size_t len = mlflow__fs_format_metric(line, p->timestamp, p->value, p->step);
        mlflow__sb_add(&sb, line, len);
        if (i + 1 < n && strcmp(order[i + 1].key, p->key) == 0)
            continue;
        if (sb.oom)
            rc = mlflow__oom(err);
        else if (!mlflow__fs_key_safe(p->key))
            rc = bad_key("metric", p->key, err);
        else if (!(rc = mlflow__fs_path(rel, err, "metrics/%s", p->key)))
            rc = mlflow__fs_write_value(run_dir, rel, sb.buf, sb.len, FS_REPLACE, NULL, err);
        mlflow__sb_reset(&sb);
    }
    mlflow__sb_release(&sb);
    mlflow__free(order);
    return rc;
}

/* The run is built in a temporary folder of its experiment and renamed into
 * place with meta.yaml written: readers never see it half copied. */
static int fs_import_run(struct mlflow__store *s, const struct mlflow_run *run,
                         const struct mlflow_metric *history, size_t n,
                         struct mlflow_error *err)
{
    struct file_store *fs = FS(s);
    struct mlflow_run_info info = run->info;
    const char *bad;
    if (!info.run_id || !mlflow__fs_id_safe(info.run_id))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Invalid run ID '%.300s'",
                              info.run_id ? info.run_id : "(null)");
    if (!tags_safe(run->data.params, run->data.n_params, &bad))
        return bad_key("param", bad, err);
    if (!tags_safe(run->data.tags, run->data.n_tags, &bad))
        return bad_key("tag", bad, err);
    if (!info.run_name)
        info.run_name = "";
    if (!info.user_id)
        info.user_id = "";
    if (!info.artifact_uri)
        info.artifact_uri = "";
    bool deleted = info.lifecycle_stage && strcmp(info.lifecycle_stage, "deleted") == 0;
    info.lifecycle_stage = deleted ? "deleted" : "active";
    /* Shared root lock: the experiment cannot move to or from .trash. */
    int lock = -1;
    int rc = lock_dir(fs->root, 0, LOCK_SH, &lock, err);
    if (rc)
        return rc;
    char edir[FS_PATH_MAX], tmp[FS_PATH_MAX], dir[FS_PATH_MAX], found_exp[FS_ID_MAX];
    struct mlflow_error ignored;
    rc = exp_dir(fs, info.experiment_id, edir, NULL, err);
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST)
        mlflow__seterr(err, rc, "Cannot import run %s: no experiment with ID %s exists.",
                       info.run_id, info.experiment_id);
    if (!rc && mlflow__fs_find_run(fs, info.run_id, dir, found_exp, &ignored) == MLFLOW_OK)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_ALREADY_EXISTS,
                            "Run with ID %s already exists (in experiment %s).", info.run_id,
                            found_exp);
    if (!rc)
        rc = mlflow__fs_path(dir, err, "%s/%s", edir, info.run_id);
    bool made = false;
    if (!rc) {
        int x = mlflow__fs_make_temp_dir(edir, FS_TMP_PREFIX, tmp);
        if (x)
            rc = mlflow__seterr_sys(err, x, "Cannot create a directory in '%s'", edir);
        made = !x;
    }
    static const char *const subdirs[] = {"metrics", "params"};
    for (size_t i = 0; !rc && i < MLFLOW_ARRAY_LEN(subdirs); i++) {
        char p[FS_PATH_MAX];
        if (!(rc = mlflow__fs_path(p, err, "%s/%s", tmp, subdirs[i])) && mkdir(p, 0777) != 0)
            rc = mlflow__seterr_sys(err, errno, "Cannot create '%s'", p);
    }
    for (size_t i = 0; !rc && i < run->data.n_params; i++) {
        const struct mlflow_kv *p = &run->data.params[i];
        const char *v = p->value ? p->value : "";
        char rel[FS_PATH_MAX];
        if (!(rc = mlflow__fs_path(rel, err, "params/%s", p->key)))
            rc = mlflow__fs_write_value(tmp, rel, v, strlen(v), FS_REPLACE, NULL, err);
    }
    for (size_t i = 0; !rc && i < run->data.n_tags; i++)
        rc = write_tag(tmp, 0, run->data.tags[i].key, run->data.tags[i].value, err);
    if (!rc)
        rc = write_history(tmp, history, n, err);
    /* The source's deletion time is not part of a run; the import's will do
     * for garbage collection. */
    if (!rc)
        rc = mlflow__fs_write_run_meta(tmp, &info, deleted ? mlflow__now_ms() : MLFLOW_TIME_UNSET,
                                       err);
    if (!rc) {
        int x = mlflow__fs_rename_noreplace(tmp, dir);
        if (x)
            rc = mlflow__seterr_sys(err, x, "Cannot create run directory '%s'", dir);
        else
            made = false;
    }
    if (made)
        mlflow__fs_remove_tree(tmp);
    unlock_dir(lock);
    mlflow__fcache_stale(fs->cache, info.run_id);
    return rc;
}

static const struct mlflow__store_ops file_ops = {
    .name = "file",
    .close = fs_close,
    .create_experiment = fs_create_experiment,
    .get_experiment = fs_get_experiment,
    .get_experiment_by_name = fs_get_experiment_by_name,
    .search_experiments = fs_search_experiments,
    .delete_experiment = fs_delete_experiment,
    .restore_experiment = fs_restore_experiment,
    .rename_experiment = fs_rename_experiment,
    .set_experiment_tag = fs_set_experiment_tag,
    .create_run = fs_create_run,
    .get_run = fs_get_run,
    .update_run = fs_update_run,
    .delete_run = fs_delete_run,
    .restore_run = fs_restore_run,
    .log_batch = fs_log_batch,
    .delete_tag = fs_delete_tag,
    .log_inputs = mlflow__fs_log_inputs,
    .get_metric_history = fs_get_metric_history,
    .search_runs = fs_search_runs,
    .default_artifact_root = fs_default_artifact_root,
    .import_experiment = fs_import_experiment,
    .import_run = fs_import_run,
};

/* A new store appears whole. The root, with experiment 0 "Default" (as
 * MLflow makes it) and .trash, is built under a temporary name beside it and
 * renamed into place, so a process opening the store at the same time sees
 * either no root or a complete one; if several race, one rename wins and the
 * others drop their copies and use the winner's. */
static int make_root(struct file_store *fs, struct mlflow_error *err)
{
    const char *slash = strrchr(fs->root, '/');
    char parent[FS_PATH_MAX], prefix[160], tmp[FS_PATH_MAX], path[FS_PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", slash == fs->root ? 1 : (int)(slash - fs->root),
             fs->root);
    snprintf(prefix, sizeof prefix, ".%.100s" FS_TMP_PREFIX, slash + 1);
    int e = mlflow__mkdirs(parent);
    if (!e)
        e = mlflow__fs_make_temp_dir(strcmp(parent, "/") == 0 ? "" : parent, prefix, tmp);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot create the store directory '%s'", fs->root);
    int rc = mlflow__fs_path(path, err, "%s/%s", tmp, DEFAULT_EXPERIMENT_ID);
    if (!rc && mkdir(path, 0777) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot create '%s'", path);
    if (!rc)
        rc = write_new_experiment(fs, path, DEFAULT_EXPERIMENT_ID, "Default", NULL, NULL, 0, err);
    if (!rc && (rc = mlflow__fs_path(path, err, "%s/.trash", tmp)) == 0 && mkdir(path, 0777) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot create '%s'", path);
    if (!rc && (e = mlflow__fs_rename_noreplace(tmp, fs->root)) == 0)
        return MLFLOW_OK;
    if (!rc && e != EEXIST && e != ENOTEMPTY)
        rc = mlflow__seterr_sys(err, e, "Cannot create the store directory '%s'", fs->root);
    mlflow__fs_remove_tree(tmp);
    return rc;
}

/* Older versions made 0/ and then wrote its meta.yaml, so a crash in
 * between left a store whose default experiment could never be read. A 0/
 * without meta.yaml that holds nothing but our temporary files is that
 * half-made experiment, and is finished; a 0/ with anything else in it is
 * somebody's data and is left as it is. */
static int repair_default(struct file_store *fs, struct mlflow_error *err)
{
    char dir[FS_PATH_MAX], meta[FS_PATH_MAX];
    struct stat st;
    int rc;
    if ((rc = mlflow__fs_path(dir, err, "%s/%s", fs->root, DEFAULT_EXPERIMENT_ID)) ||
        (rc = mlflow__fs_path(meta, err, "%s/meta.yaml", dir)))
        return rc;
    if (lstat(meta, &st) == 0 || errno != ENOENT || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return MLFLOW_OK;
    DIR *d = opendir(dir);
    if (!d)
        return MLFLOW_OK;
    bool ours = true;
    struct dirent *de;
    while (ours && (de = readdir(d)))
        ours = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
               strncmp(de->d_name, FS_TMP_PREFIX, sizeof FS_TMP_PREFIX - 1) == 0;
    closedir(d);
    if (!ours)
        return MLFLOW_OK;
    /* Written aside and linked into place: of several processes repairing
     * at once, the first wins and the others keep its file. */
    char tmp[FS_PATH_MAX], made[FS_PATH_MAX];
    int e = mlflow__fs_make_temp_dir(fs->root, FS_TMP_PREFIX, tmp);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot create a directory in '%s'", fs->root);
    if (!(rc = write_new_experiment(fs, tmp, DEFAULT_EXPERIMENT_ID, "Default", NULL, NULL, 0,
                                    err)) &&
        !(rc = mlflow__fs_path(made, err, "%s/meta.yaml", tmp)) && link(made, meta) != 0 &&
        errno != EEXIST)
        rc = mlflow__seterr_sys(err, errno, "Cannot write '%s'", meta);
    mlflow__fs_remove_tree(tmp);
    return rc;
}

static int init_root(struct file_store *fs, struct mlflow_error *err)
{
    struct stat st;
    int rc;
    if (stat(fs->root, &st) != 0) {
        if (errno != ENOENT)
            return mlflow__seterr_sys(err, errno, "Cannot access '%s'", fs->root);
        if ((rc = make_root(fs, err)))
            return rc;
        if (stat(fs->root, &st) != 0)
            return mlflow__seterr_sys(err, errno, "Cannot access '%s'", fs->root);
    }
    if (!S_ISDIR(st.st_mode))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "'%s' is not a directory.",
                              fs->root);
    /* An existing root only gets .trash, and the repair above, which is
     * best effort: if it fails, experiment 0 stays as unreadable as it was. */
    struct mlflow_error ignored;
    repair_default(fs, &ignored);
    if (mkdir(fs->trash, 0777) != 0 && errno != EEXIST)
        return mlflow__seterr_sys(err, errno, "Cannot create '%s'", fs->trash);
    return MLFLOW_OK;
}

int mlflow__file_store_open(const char *root_path, struct mlflow__store **out,
                            struct mlflow_error *err)
{
    return mlflow__file_store_open_ex(root_path, NULL, out, err);
}

int mlflow__file_store_open_ex(const char *root_path, const char *artifact_root,
                               struct mlflow__store **out, struct mlflow_error *err)
{
    *out = NULL;
    struct file_store *fs = mlflow__calloc(1, sizeof *fs);
    if (!fs)
        return mlflow__oom(err);
    fs->base.ops = &file_ops;
    fs->root = mlflow__abspath(root_path && *root_path ? root_path : "mlruns");
    fs->trash = fs->root ? mlflow__path_join(fs->root, ".trash") : NULL;
    fs->base.uri = fs->root ? mlflow__path_to_file_uri(fs->root) : NULL;
    fs->artifact_root = artifact_root ? mlflow__strdup(artifact_root)
                        : fs->base.uri ? mlflow__strdup(fs->base.uri) : NULL;
    fs->cache = mlflow__fcache_new();
    int rc;
    if (!fs->root || !fs->trash || !fs->artifact_root || !fs->base.uri || !fs->cache)
        rc = mlflow__oom(err);
    else if (strlen(fs->root) > FS_PATH_MAX - 1024)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The store path '%.200s...' is too long", fs->root);
    else
        rc = init_root(fs, err);
    if (rc) {
        fs_close(&fs->base);
        return rc;
    }
    *out = &fs->base;
    return MLFLOW_OK;
}
