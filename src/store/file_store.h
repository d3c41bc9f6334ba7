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

struct fcache;

struct file_store {
    struct mlflow__store base;
    char *root;          /* absolute, lexically normalised */
    char *trash;         /* <root>/.trash */
    char *artifact_root; /* file URI of root: the default artifact root */
    struct fcache *cache;
};

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
 * an errno value. Symlinks are not followed. */
MLFLOW_INTERNAL int mlflow__fs_read_file(const char *path, char **buf, size_t *len);
/* mkdir -p of base/rel, never creating base itself (a directory that was
 * moved away stays gone). Returns 0 or an errno value. */
MLFLOW_INTERNAL int mlflow__fs_mkdirs_under(const char *base, const char *rel);

/* ---- atomic value files (file_meta.c) ----
 * The data goes to a temporary file in `base` (a run or experiment
 * directory, never one that readers walk), which then becomes base/rel.
 * Missing folders inside base are created. */
enum { FS_REPLACE, FS_CREATE_ONCE };
/* FS_REPLACE: rename() over base/rel. FS_CREATE_ONCE: link() to base/rel;
 * returns 0 and sets *existed when base/rel was already there (then nothing
 * is written). */
MLFLOW_INTERNAL int mlflow__fs_write_value(const char *base, const char *rel, const char *data,
                                           size_t n, int mode, bool *existed,
                                           struct mlflow_error *err);

/* ---- meta.yaml (file_meta.c) ---- */

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

/* Every file below dir, recursively, as key (path relative to dir) -> file
 * content, sorted by key. A missing dir is empty. */
MLFLOW_INTERNAL int mlflow__fs_read_kv_dir(struct mlflow__arena *a, const char *dir,
                                           struct mlflow_kv **out, size_t *n,
                                           struct mlflow_error *err);
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
/* One metric line "<ts> <value> <step>\n" into buf (at least 96 bytes);
 * returns its length. */
MLFLOW_INTERNAL size_t mlflow__fs_format_metric(char *buf, int64_t ts, double value,
                                                int64_t step);

/* ---- locating things (file.c) ---- */

/* The directory of run_id in an active or trashed experiment, and that
 * experiment's id (its directory name). RESOURCE_DOES_NOT_EXIST if none. */
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
 * checking first that the run is active. */
MLFLOW_INTERNAL int mlflow__fcache_append(struct file_store *fs, const char *run_id,
                                          const char *key, const char *buf, size_t len,
                                          struct mlflow_error *err);
/* This store changed a run's meta.yaml (NULL: every run, after an
 * experiment moved): re-check before the next use. */
MLFLOW_INTERNAL void mlflow__fcache_stale(struct fcache *c, const char *run_id);

#endif /* MLFLOW_FILE_STORE_H */
