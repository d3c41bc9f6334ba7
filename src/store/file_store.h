/*
 * file_store.h - the file store's private pieces, shared by its three files:
 *
 *   file.c        the store operations (experiments, runs, search, batches)
 *   file_meta.c   the on-disk format: meta.yaml, value files, metric lines,
 *                 atomic writes, directory walks
 *   file_cache.c  the per-store run cache and the metric append hot path
 *
 * Layout and formats follow MLflow 2.12's mlruns tree exactly (spec section
 * 1); see file_meta.c for the few places where we are stricter than MLflow
 * about atomicity.
 */
#ifndef MLFLOW_FILE_STORE_H
#define MLFLOW_FILE_STORE_H

#include "store.h"

#include <limits.h>

#define FS_PATH_MAX 4096
#define FS_ID_MAX 256
/* Names of files and folders being built. The leading '.' keeps our
 * listings away from them; MLflow skips them as unreadable experiments. */
#define FS_TMP_PREFIX ".mlflow-c-tmp-"

struct fcache;

struct file_store {
    struct mlflow__store base;
    char *root;          /* absolute, lexically normalised */
    char *trash;         /* <root>/.trash */
    char *artifact_root; /* file URI of root: the default artifact root */
    struct fcache *cache;
};

/* ---- dataset inputs (file_inputs.c) ---- */

/* The store op log_inputs. */
MLFLOW_INTERNAL int mlflow__fs_log_inputs(struct mlflow__store *s, const char *run_id,
                                          const struct mlflow_dataset_input *inputs, size_t n,
                                          struct mlflow_error *err);
/* The inputs of the run in run_dir (ordered by input folder name). Inputs
 * that cannot be read or whose dataset is missing are skipped, as MLflow
 * skips them; only OOM fails. */
MLFLOW_INTERNAL int mlflow__fs_read_inputs(struct mlflow__arena *a, const char *run_dir,
                                           struct mlflow_dataset_input **out, size_t *n_out,
                                           struct mlflow_error *err);

/* ---- names and paths (file_meta.c) ---- */

/* snprintf into a FS_PATH_MAX buffer; INVALID_PARAMETER_VALUE if too long. */
MLFLOW_INTERNAL int mlflow__fs_path(char *out, struct mlflow_error *err, const char *fmt, ...)
    MLFLOW_PRINTF(3, 4);
/* A key that stays below its folder: non-empty, relative, no "." or ".."
 * segment, no empty segment. The client validated it already; this is the
 * store's own cheap guard before a key becomes a path. */
MLFLOW_INTERNAL bool mlflow__fs_key_safe(const char *key);
/* An id usable as one directory name (no '/', no leading '.'). */
MLFLOW_INTERNAL bool mlflow__fs_id_safe(const char *id);
/* Whole file into a mlflow__malloc'ed, NUL-terminated buffer. Returns 0 or
 * an errno value. The last component must be a regular file: a symlink is
 * ELOOP, a directory EISDIR, anything else (a FIFO, a device) EINVAL, and
 * opening never blocks. _max: a file larger than max bytes is EFBIG. */
MLFLOW_INTERNAL int mlflow__fs_read_file(const char *path, char **buf, size_t *len);
MLFLOW_INTERNAL int mlflow__fs_read_file_max(const char *path, size_t max, char **buf,
                                             size_t *len);

/* ---- files below a run or experiment directory (file_meta.c) ----
 * Security rule R2: a key's folders are opened one by one with O_NOFOLLOW
 * beneath the directory's descriptor, so a planted symlink can never lead a
 * write (or a read) out of the store. The base directory itself is opened
 * with O_NOFOLLOW too unless FS_FOLLOW_BASE is given: a run directory that is
 * a symlink is not a run, while experiment directories may be symlinks, as
 * in MLflow (os.path.isdir follows them). All return 0 or an errno value.
 * FS_FOLLOW_BASE is a bit that no O_ flag uses. */
#define FS_FOLLOW_BASE (1 << 30)

/* The base directory, as an O_DIRECTORY descriptor. */
MLFLOW_INTERNAL int mlflow__fs_open_base(const char *base, int flags, int *fd);
/* The folder holding rel's last component, below base_fd; *leaf points into
 * rel. create: missing folders are made. *dir_fd may be base_fd itself
 * (close it only if it differs). */
MLFLOW_INTERNAL int mlflow__fs_dir_below(int base_fd, const char *rel, bool create, int *dir_fd,
                                         const char **leaf);
/* Opens base/rel (open flags; O_CREAT also makes missing folders) as a
 * regular file, never blocking on a FIFO; same errors as read_file. */
MLFLOW_INTERNAL int mlflow__fs_open_below(const char *base, const char *rel, int flags,
                                          int *fd_out);
/* mlflow__fs_read_file of base/rel (flags: 0 or FS_FOLLOW_BASE). */
MLFLOW_INTERNAL int mlflow__fs_read_below(const char *base, const char *rel, int flags,
                                          char **buf, size_t *len);
/* rm -rf that never follows a symlink. */
MLFLOW_INTERNAL int mlflow__fs_remove_tree(const char *path);
/* A fresh directory "<parent>/<prefix><random>" (prefix should start with
 * '.', so no listing takes it for an experiment or a run). */
MLFLOW_INTERNAL int mlflow__fs_make_temp_dir(const char *parent, const char *prefix, char *out);
/* rename() that fails with EEXIST instead of replacing an empty directory
 * (where the file system allows; plain rename() otherwise). */
MLFLOW_INTERNAL int mlflow__fs_rename_noreplace(const char *from, const char *to);

/* ---- atomic value files (file_meta.c) ----
 * The data goes to a temporary file in `base` (a run or experiment
 * directory, never one that readers walk), which then becomes base/rel.
 * Missing folders inside base are created, beneath base as above. */
enum { FS_REPLACE = 0, FS_CREATE_ONCE = 1 };
/* mode: FS_REPLACE: rename() over base/rel. FS_CREATE_ONCE: link() to
 * base/rel; returns 0 and sets *existed when base/rel was already there
 * (then nothing is written). Either may be or'ed with FS_FOLLOW_BASE. */
MLFLOW_INTERNAL int mlflow__fs_write_value(const char *base, const char *rel, const char *data,
                                           size_t n, int mode, bool *existed,
                                           struct mlflow_error *err);

/* ---- meta.yaml (file_meta.c) ---- */

/* meta.yaml files larger than this are refused unread. */
#define FS_META_MAX (1 << 20)

/* Reads <run_dir>/meta.yaml. Strings go to arena a. Tolerant as MLflow:
 * missing lifecycle_stage = active, missing status = RUNNING, int ids become
 * strings. run_name stays as stored (possibly ""). Errors: INTERNAL_ERROR
 * naming the file. */
MLFLOW_INTERNAL int mlflow__fs_read_run_meta(struct mlflow__arena *a, const char *run_dir,
                                             struct mlflow_run_info *info,
                                             struct mlflow_error *err);
/* Writes <run_dir>/meta.yaml byte-identical to MLflow. deleted_time is
 * written when not MLFLOW_TIME_UNSET and left out otherwise, as MLflow's
 * rewrites do. */
MLFLOW_INTERNAL int mlflow__fs_write_run_meta(const char *run_dir,
                                              const struct mlflow_run_info *info,
                                              int64_t deleted_time, struct mlflow_error *err);
/* Reads <exp_dir>/meta.yaml and <exp_dir>/tags. RESOURCE_DOES_NOT_EXIST if
 * the file's experiment_id is not expected_id (MLflow ignores such dirs). */
MLFLOW_INTERNAL int mlflow__fs_read_experiment(struct mlflow__arena *a, const char *exp_dir,
                                               const char *expected_id,
                                               struct mlflow_experiment *e,
                                               struct mlflow_error *err);
/* with_tags: MLflow's delete/restore/rename rewrites dump the whole
 * experiment, tags mapping included; creation leaves the key out. */
MLFLOW_INTERNAL int mlflow__fs_write_experiment_meta(const char *exp_dir,
                                                     const struct mlflow_experiment *e,
                                                     bool with_tags, struct mlflow_error *err);

/* ---- run contents (file_meta.c) ---- */

/* Every regular file below dir, recursively, as key (path relative to dir)
 * -> file content, sorted by key. A missing dir is empty; symlinks and
 * special files are not keys. */
MLFLOW_INTERNAL int mlflow__fs_read_kv_dir(struct mlflow__arena *a, const char *dir,
                                           struct mlflow_kv **out, size_t *n,
                                           struct mlflow_error *err);
/* Metric files are read line by line: only '\n'-terminated lines count (an
 * unterminated tail is a write in flight or cut by a crash), and a line
 * that does not parse (a torn write glued to the next one, say) is skipped
 * rather than failing the run. MLflow fails on such lines; we would rather
 * one damaged point than an unreadable run. */

/* Latest point of every metric under <run_dir>/metrics: max (step,
 * timestamp, value) with Python's tuple comparison. Files without a
 * complete line are skipped. */
MLFLOW_INTERNAL int mlflow__fs_read_latest_metrics(struct mlflow__arena *a, const char *run_dir,
                                                   struct mlflow_metric **out, size_t *n,
                                                   struct mlflow_error *err);
/* All points of one metric file in file order; a missing file is empty. */
MLFLOW_INTERNAL int mlflow__fs_read_metric_history(struct mlflow__arena *a, const char *run_dir,
                                                   const char *key, struct mlflow_metric **out,
                                                   size_t *n, struct mlflow_error *err);
/* The whole run: meta, metrics, params, tags; run_name from the
 * mlflow.runName tag when meta has none. */
MLFLOW_INTERNAL int mlflow__fs_read_run(struct mlflow__arena *a, const char *run_dir,
                                        struct mlflow_run *run, struct mlflow_error *err);
/* The second half of read_run: run->info is read already. */
MLFLOW_INTERNAL int mlflow__fs_read_run_data(struct mlflow__arena *a, const char *run_dir,
                                             struct mlflow_run *run, struct mlflow_error *err);
/* One metric line "<ts> <value> <step>\n" into buf (at least 96 bytes);
 * returns its length. */
MLFLOW_INTERNAL size_t mlflow__fs_format_metric(char *buf, int64_t ts, double value,
                                                int64_t step);

/* ---- locating things (file.c) ---- */

/* The directory of run_id in an active or trashed experiment, and that
 * experiment's id (its directory name). RESOURCE_DOES_NOT_EXIST if none;
 * a symlink and an experiment's reserved folders (tags, datasets, traces)
 * are never runs. */
MLFLOW_INTERNAL int mlflow__fs_find_run(struct file_store *fs, const char *run_id, char *dir,
                                        char *exp_id, struct mlflow_error *err);

/* ---- the run cache (file_cache.c) ---- */

MLFLOW_INTERNAL struct fcache *mlflow__fcache_new(void);
MLFLOW_INTERNAL void mlflow__fcache_free(struct fcache *c);
/* The run's directory (and experiment id, if exp_id is not NULL), from the
 * cache or the disk. need_active: a deleted run is INVALID_PARAMETER_VALUE. */
MLFLOW_INTERNAL int mlflow__fcache_run_dir(struct file_store *fs, const char *run_id,
                                           bool need_active, char *dir, char *exp_id,
                                           struct mlflow_error *err);
/* Appends complete metric lines to the run's metric file with one write(),
 * checking first that the run is active. After a write that failed half way
 * the next append starts on a fresh line. */
MLFLOW_INTERNAL int mlflow__fcache_append(struct file_store *fs, const char *run_id,
                                          const char *key, const char *buf, size_t len,
                                          struct mlflow_error *err);
/* This store changed a run's meta.yaml (NULL: every run, after an
 * experiment moved): re-check before the next use. */
MLFLOW_INTERNAL void mlflow__fcache_stale(struct fcache *c, const char *run_id);

#endif /* MLFLOW_FILE_STORE_H */
