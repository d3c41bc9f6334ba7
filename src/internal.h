/*
 * internal.h - declarations shared across src/, never installed.
 *
 * Naming: shared internal functions are mlflow__x; static ones carry no
 * prefix. Everything here is hidden from the shared library's symbol table.
 */
#ifndef MLFLOW_INTERNAL_H
#define MLFLOW_INTERNAL_H

#include "mlflow.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLFLOW_INTERNAL __attribute__((visibility("hidden")))
#define MLFLOW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors -------------------------------------------------------------
 * Internal layers report through a caller-owned struct mlflow_error; the
 * public boundary copies it into the thread's last-error slot. */
struct mlflow_error {
    int code;
    char message[1024];
};

/* Sets err (if not NULL) and returns code, so `return mlflow__seterr(...)`. */
MLFLOW_INTERNAL int mlflow__seterr(struct mlflow_error *err, int code, const char *fmt, ...)
    MLFLOW_PRINTF(3, 4);
/* Same, for a failed system call: appends ": strerror(errno_value)". */
MLFLOW_INTERNAL int mlflow__seterr_sys(struct mlflow_error *err, int errno_value,
                                       const char *fmt, ...) MLFLOW_PRINTF(3, 4);
/* Out of memory: RESOURCE_EXHAUSTED with a fixed message. */
MLFLOW_INTERNAL int mlflow__oom(struct mlflow_error *err);
/* Records err as this thread's last error and returns err->code. */
MLFLOW_INTERNAL int mlflow__publish(const struct mlflow_error *err);
/* Prints the data-loss warning line (once per distinct call site is the
 * caller's business) unless warnings are off. */
MLFLOW_INTERNAL void mlflow__warn_data_loss(const char *what, const struct mlflow_error *err);

/* ---- allocation ---------------------------------------------------------
 * Every allocation in the library goes through these, so a test can make the
 * Nth one fail (mlflow__alloc_fail_at) and check that the code recovers. */
MLFLOW_INTERNAL void *mlflow__malloc(size_t n);
MLFLOW_INTERNAL void *mlflow__calloc(size_t count, size_t size);
MLFLOW_INTERNAL void *mlflow__realloc(void *p, size_t n);
MLFLOW_INTERNAL char *mlflow__strdup(const char *s);
MLFLOW_INTERNAL char *mlflow__strndup(const char *s, size_t n);
MLFLOW_INTERNAL void mlflow__free(void *p);
/* Test hook: the nth allocation from now (1-based) and every later one fail;
 * 0 switches failures off. Returns how many allocations were made since the
 * last call. Not thread-aware; tests use it single-threaded. */
MLFLOW_API long mlflow__alloc_fail_at(long nth);

/* ---- arenas and result objects -----------------------------------------
 * Every result handed to users (run, experiment, lists) is one arena. The
 * result struct is the arena's first allocation, so *_free(obj) finds the
 * arena from the object pointer alone. */
struct mlflow__arena;

/* Allocates a zeroed result object of `size` bytes in a new arena. */
MLFLOW_INTERNAL void *mlflow__obj_new(size_t size);
/* The arena owning a result object made by mlflow__obj_new. */
MLFLOW_INTERNAL struct mlflow__arena *mlflow__obj_arena(void *obj);
/* Frees the object and everything allocated in its arena. NULL is a no-op. */
MLFLOW_INTERNAL void mlflow__obj_free(void *obj);
/* Zeroed, max-aligned; NULL on allocation failure. */
MLFLOW_INTERNAL void *mlflow__arena_alloc(struct mlflow__arena *a, size_t size);
MLFLOW_INTERNAL char *mlflow__arena_strdup(struct mlflow__arena *a, const char *s);
MLFLOW_INTERNAL char *mlflow__arena_strndup(struct mlflow__arena *a, const char *s, size_t n);
MLFLOW_INTERNAL char *mlflow__arena_printf(struct mlflow__arena *a, const char *fmt, ...)
    MLFLOW_PRINTF(2, 3);
/* Deep copies into arena `a` (all strings copied). Return 0 or -1 on OOM. */
MLFLOW_INTERNAL int mlflow__run_copy(struct mlflow__arena *a, struct mlflow_run *dst,
                                     const struct mlflow_run *src);
/* Copies n dataset inputs (datasets and tags) into arena a; *dst NULL when n is 0. */
MLFLOW_INTERNAL int mlflow__inputs_copy(struct mlflow__arena *a, struct mlflow_dataset_input **dst,
                                        const struct mlflow_dataset_input *src, size_t n);
MLFLOW_INTERNAL int mlflow__experiment_copy(struct mlflow__arena *a, struct mlflow_experiment *dst,
                                            const struct mlflow_experiment *src);

/* ---- growable string buffer (git's strbuf) ------------------------------
 * buf is always NUL-terminated once any append succeeded; `oom` latches the
 * first allocation failure so callers can check once at the end. */
struct mlflow__sb {
    char *buf;
    size_t len;
    size_t cap;
    bool oom;
};
#define MLFLOW__SB_INIT {NULL, 0, 0, false}
MLFLOW_INTERNAL void mlflow__sb_add(struct mlflow__sb *sb, const char *s, size_t n);
MLFLOW_INTERNAL void mlflow__sb_adds(struct mlflow__sb *sb, const char *s);
MLFLOW_INTERNAL void mlflow__sb_addc(struct mlflow__sb *sb, char c);
MLFLOW_INTERNAL void mlflow__sb_addf(struct mlflow__sb *sb, const char *fmt, ...)
    MLFLOW_PRINTF(2, 3);
MLFLOW_INTERNAL void mlflow__sb_vaddf(struct mlflow__sb *sb, const char *fmt, va_list ap)
    MLFLOW_PRINTF(2, 0);
MLFLOW_INTERNAL void mlflow__sb_reset(struct mlflow__sb *sb);
/* Hands the buffer over (caller frees with mlflow__free); NULL after OOM. */
MLFLOW_INTERNAL char *mlflow__sb_detach(struct mlflow__sb *sb);
MLFLOW_INTERNAL void mlflow__sb_release(struct mlflow__sb *sb);

/* ---- numbers and text ---------------------------------------------------- */

/* Python's repr() of a float: the shortest text that reads back to the same
 * double ("0.1", "3.0", "1e+16", "1e-05", "nan", "inf", "-inf"). Writes at
 * most 32 bytes including the NUL; returns the length. */
MLFLOW_INTERNAL size_t mlflow__fmt_double(double v, char buf[32]);
/* Decimal int64 into buf (at least 21 bytes); returns the length. */
MLFLOW_INTERNAL size_t mlflow__fmt_int64(int64_t v, char *buf);
/* Strict parsers: the whole string must be consumed. Python's float() forms
 * ("nan", "inf", "-inf", "Infinity") are accepted by parse_double. */
MLFLOW_INTERNAL bool mlflow__parse_int64(const char *s, int64_t *out);
MLFLOW_INTERNAL bool mlflow__parse_double(const char *s, double *out);
/* Valid UTF-8 (no overlongs, no surrogates). */
MLFLOW_INTERNAL bool mlflow__utf8_valid(const char *s, size_t n);
/* Number of Unicode code points (MLflow's limits count characters). */
MLFLOW_INTERNAL size_t mlflow__utf8_len(const char *s);
/* Byte length of the first max_chars code points of s. */
MLFLOW_INTERNAL size_t mlflow__utf8_prefix(const char *s, size_t max_chars);

/* A batch's entries (metrics, params or tags: each struct starts with its
 * `const char *key`, stride bytes apart) ordered by key, ties kept in batch
 * order, so a store can write or check one key at a time. Returns a
 * malloc'ed array of n entries (valid for n == 0), NULL when out of memory. */
struct mlflow__key_idx {
    const char *key;
    size_t i; /* position in the batch */
};
MLFLOW_INTERNAL struct mlflow__key_idx *mlflow__key_order(const void *items, size_t n,
                                                          size_t stride);

/* ---- time, ids, names ---------------------------------------------------- */

MLFLOW_INTERNAL int64_t mlflow__now_ms(void);
/* 32 lowercase hex chars + NUL (uuid4().hex). */
MLFLOW_INTERNAL void mlflow__uuid_hex(char out[33]);
/* MLflow's 2.x file-store experiment id: 18 decimal digits, no leading zero. */
MLFLOW_INTERNAL void mlflow__experiment_id18(char out[19]);
/* Random bytes from the kernel (getrandom); falls back to a seeded PRNG. */
MLFLOW_INTERNAL void mlflow__random_bytes(void *buf, size_t n);
/* "<adjective>-<animal>-<0..999>", as MLflow names unnamed runs. */
MLFLOW_INTERNAL void mlflow__random_run_name(char out[64]);
/* Login name ($USER, else getpwuid), else "unknown". */
MLFLOW_INTERNAL void mlflow__user_name(char *out, size_t size);

/* ---- validation (validate.c): MLflow's rules of spec section 3 ---------- */

#define MLFLOW_MAX_ENTITY_KEY_LENGTH 250
#define MLFLOW_MAX_PARAM_VAL_LENGTH 6000
#define MLFLOW_MAX_TAG_VAL_LENGTH 5000
#define MLFLOW_MAX_EXPERIMENT_TAG_VAL_LENGTH 5000
#define MLFLOW_MAX_EXPERIMENT_NAME_LENGTH 500
#define MLFLOW_MAX_METRICS_PER_BATCH 1000
#define MLFLOW_MAX_PARAMS_TAGS_PER_BATCH 100
#define MLFLOW_MAX_ENTITIES_PER_BATCH 1000
#define MLFLOW_MAX_RESULTS_CAP 50000

/* kind is "metric", "param", "tag" or "experiment tag"; names the field in
 * the message. */
MLFLOW_INTERNAL int mlflow__validate_key(const char *kind, const char *key,
                                         struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__validate_run_id(const char *run_id, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__validate_experiment_id(const char *id, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__validate_experiment_name(const char *name, struct mlflow_error *err);
/* Param/tag value length: with truncation enabled ($MLFLOW_TRUNCATE_LONG_VALUES,
 * default true) *len_out gets the byte length to keep; otherwise overlong
 * values are INVALID_PARAMETER_VALUE. kind is "param" or "tag". */
MLFLOW_INTERNAL int mlflow__validate_value(const char *kind, const char *key, const char *value,
                                           size_t max_chars, size_t *len_out,
                                           struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__validate_metric(const struct mlflow_metric *m,
                                            struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__validate_batch_sizes(size_t n_metrics, size_t n_params, size_t n_tags,
                                                 struct mlflow_error *err);
#define MLFLOW_MAX_DATASETS_PER_BATCH 1000
/* Dataset inputs as MLflow's _validate_dataset_inputs checks them; the
 * message names the field ("Dataset name cannot be None"). */
MLFLOW_INTERNAL int mlflow__validate_dataset_inputs(const struct mlflow_dataset_input *inputs,
                                                    size_t n, struct mlflow_error *err);
/* A relative artifact path that cannot leave its root: no "..", no absolute
 * path, no NUL/backslash, no empty segment. NULL and "" are accepted. */
MLFLOW_INTERNAL int mlflow__validate_artifact_path(const char *path, struct mlflow_error *err);
/* Reads a boolean env var (true/false/1/0, case-insensitive). */
MLFLOW_INTERNAL bool mlflow__env_bool(const char *name, bool dflt);

/* ---- content types (mime.c) ---------------------------------------------- */

/* Content-Type of an artifact by its name: as Python's mimetypes guesses it
 * (serving = false, for uploads), or as MLflow's server sends it (serving =
 * true: plain-text formats as text/plain). Unknown: application/octet-stream. */
MLFLOW_INTERNAL const char *mlflow__mime_type(const char *name, bool serving);

/* ---- paths and URIs (uri.c) ---------------------------------------------- */

/* MLflow's append_to_uri_path: base + "/" + a [+ "/" + b], keeping a URI's
 * query or fragment at the end. Caller frees; NULL when out of memory. */
MLFLOW_INTERNAL char *mlflow__uri_append(const char *base, const char *a, const char *b);
/* MLflow's resolve_uri_if_local: a relative path or file: URI made absolute
 * against the cwd; anything else copied unchanged. Caller frees. */
MLFLOW_INTERNAL char *mlflow__resolve_uri_if_local(const char *loc);

/* Joins a and b with exactly one '/'. Caller frees. */
MLFLOW_INTERNAL char *mlflow__path_join(const char *a, const char *b);
/* Absolute, lexically normalised path of p (relative to the cwd). Caller frees. */
MLFLOW_INTERNAL char *mlflow__abspath(const char *p);
/* "file:///abs/path" for an absolute path, percent-encoding what Python's
 * pathlib.as_uri() encodes. Caller frees. */
MLFLOW_INTERNAL char *mlflow__path_to_file_uri(const char *abs_path);
/* Local path of a file: URI or plain path; NULL if `uri` has another scheme.
 * Percent-decodes. Caller frees. */
MLFLOW_INTERNAL char *mlflow__local_path_from_uri(const char *uri);
/* The scheme of a URI ("file", "sqlite", ...) in buf, or "" for a plain path. */
MLFLOW_INTERNAL void mlflow__uri_scheme(const char *uri, char *buf, size_t size);
/* mkdir -p; mode 0777 & ~umask. Returns 0 or errno. */
MLFLOW_INTERNAL int mlflow__mkdirs(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_INTERNAL_H */
