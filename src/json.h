/*
 * json.h - MLflow's REST wire format, both directions.
 *
 * The server answers with it and the REST store (a client) sends and reads
 * it, so everything here is written for both sides:
 *
 *   - a writer that prints what MLflow 2.12's server prints: proto field
 *     order, snake_case, int64 as numbers, doubles as Python's repr() with
 *     non-finite values as the strings "NaN", "Infinity", "-Infinity", and
 *     Python's json.dumps layout (2-space indent, ensure_ascii escaping);
 *   - typed readers over json-c that accept what MLflow accepts: int64 from a
 *     number or a decimal string, doubles from a number, a bare NaN/Infinity
 *     token or a string ("NaN", "1.5"), enums by name or number, unknown
 *     fields ignored, JSON null treated as absent;
 *   - entity codecs (Experiment, Run, RunInfo, Metric, Param/RunTag,
 *     FileInfo) on top of both, with MLflow's omission rules: unset optional
 *     fields and empty lists are left out.
 *
 * Page tokens are opaque strings on the wire; store.h encodes and decodes
 * them (mlflow__page_token_*).
 *
 * Reader errors are INVALID_PARAMETER_VALUE with MLflow's messages ("Missing
 * value for required parameter 'x'. ..." / "Invalid value ... for parameter
 * 'x' supplied. ..."), so a server can send them as they are.
 */
#ifndef MLFLOW_JSON_H
#define MLFLOW_JSON_H

#include "internal.h"

#include <json-c/json.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writer --------------------------------------------------------------- */

enum mlflow__jw_style {
    MLFLOW__JW_PRETTY,  /* json.dumps(x, indent=2): MLflow's proto responses */
    MLFLOW__JW_PYTHON,  /* json.dumps(x): ", " and ": " (MLflow's error bodies) */
    MLFLOW__JW_COMPACT, /* "," and ":" (Flask's jsonify, and requests we send) */
};

#define MLFLOW__JW_MAX_DEPTH 64

/* Builds one JSON document in a string buffer. Calls after an allocation
 * failure or a nesting error are ignored; mlflow__jw_detach reports them. */
struct mlflow__jw {
    struct mlflow__sb sb;
    int style;
    int depth;
    bool bad;         /* nesting misuse (a bug in the caller) */
    bool after_key;   /* the next value completes a "key": pair */
    uint64_t has_item; /* bit d: the container at depth d has an item */
};

MLFLOW_INTERNAL void mlflow__jw_init(struct mlflow__jw *w, int style);
MLFLOW_INTERNAL void mlflow__jw_begin_object(struct mlflow__jw *w);
MLFLOW_INTERNAL void mlflow__jw_end_object(struct mlflow__jw *w);
MLFLOW_INTERNAL void mlflow__jw_begin_array(struct mlflow__jw *w);
MLFLOW_INTERNAL void mlflow__jw_end_array(struct mlflow__jw *w);
/* The key of the next member of the current object. */
MLFLOW_INTERNAL void mlflow__jw_key(struct mlflow__jw *w, const char *key);
/* A string value (NULL writes null); escaped as Python's ensure_ascii does,
 * invalid UTF-8 bytes becoming U+FFFD. */
MLFLOW_INTERNAL void mlflow__jw_string(struct mlflow__jw *w, const char *s);
MLFLOW_INTERNAL void mlflow__jw_stringn(struct mlflow__jw *w, const char *s, size_t n);
MLFLOW_INTERNAL void mlflow__jw_int64(struct mlflow__jw *w, int64_t v);
/* Python's repr() for finite values, else "NaN", "Infinity", "-Infinity"
 * as strings (protobuf's JSON rule). */
MLFLOW_INTERNAL void mlflow__jw_double(struct mlflow__jw *w, double v);
MLFLOW_INTERNAL void mlflow__jw_bool(struct mlflow__jw *w, bool v);
MLFLOW_INTERNAL void mlflow__jw_null(struct mlflow__jw *w);
/* Any json-c value, members in their stored order (json.dumps of what
 * json.loads read). */
MLFLOW_INTERNAL void mlflow__jw_value(struct mlflow__jw *w, json_object *v);
/* Shorthands for a member: "key": value. */
MLFLOW_INTERNAL void mlflow__jw_kv_string(struct mlflow__jw *w, const char *key, const char *s);
MLFLOW_INTERNAL void mlflow__jw_kv_int64(struct mlflow__jw *w, const char *key, int64_t v);
/* The finished document (malloc'ed, NUL-terminated; free with mlflow__free)
 * and its length; NULL after an allocation failure or unbalanced nesting. */
MLFLOW_INTERNAL char *mlflow__jw_detach(struct mlflow__jw *w, size_t *len);
MLFLOW_INTERNAL void mlflow__jw_release(struct mlflow__jw *w);

/* ---- entities out ----------------------------------------------------------
 * Each writes one value; fields in MLflow's proto order, unset ones omitted
 * (times equal to MLFLOW_TIME_UNSET or 0, NULL strings, empty lists). */

MLFLOW_INTERNAL void mlflow__json_write_experiment(struct mlflow__jw *w,
                                                   const struct mlflow_experiment *e);
MLFLOW_INTERNAL void mlflow__json_write_run_info(struct mlflow__jw *w,
                                                 const struct mlflow_run_info *info);
/* {"info", "data", "inputs": {}}: MLflow always sends the (empty) inputs. */
MLFLOW_INTERNAL void mlflow__json_write_run(struct mlflow__jw *w, const struct mlflow_run *run);
/* {"key", "value", "timestamp", "step"[, "run_id"]}; run_id NULL: omitted. */
MLFLOW_INTERNAL void mlflow__json_write_metric(struct mlflow__jw *w, const struct mlflow_metric *m,
                                               const char *run_id);
MLFLOW_INTERNAL void mlflow__json_write_kv(struct mlflow__jw *w, const struct mlflow_kv *kv);
/* "field": [kv...] as an object member; nothing at all when n == 0. */
MLFLOW_INTERNAL void mlflow__json_write_kvs(struct mlflow__jw *w, const char *field,
                                            const struct mlflow_kv *kv, size_t n);
/* "field": [metric...]; nothing when n == 0. */
MLFLOW_INTERNAL void mlflow__json_write_metrics(struct mlflow__jw *w, const char *field,
                                                const struct mlflow_metric *m, size_t n);
/* {"path", "is_dir"[, "file_size"]}: directories (file_size < 0) have no size. */
MLFLOW_INTERNAL void mlflow__json_write_file_info(struct mlflow__jw *w,
                                                  const struct mlflow_file_info *f);

/* ---- parsing ---------------------------------------------------------------- */

#define MLFLOW__JSON_MAX_DEPTH 64

/* Parses a complete document of n bytes (not necessarily NUL-terminated):
 * strict JSON plus Python's NaN/Infinity tokens, valid UTF-8 only, nesting
 * at most MLFLOW__JSON_MAX_DEPTH, nothing but whitespace after the value.
 * Empty (or all-whitespace) text gives an empty object, and a document that
 * is a JSON string is decoded once more (MLflow's legacy double encoding).
 * The result must be an object. Free *out with json_object_put. */
MLFLOW_INTERNAL int mlflow__json_parse_request(const char *text, size_t n, json_object **out,
                                               struct mlflow_error *err);
/* Parses any document (no double decoding, any top-level type). */
MLFLOW_INTERNAL int mlflow__json_parse(const char *text, size_t n, json_object **out,
                                       struct mlflow_error *err);

/* ---- typed readers ------------------------------------------------------------
 * Field access on an object. A field that is absent or null is "absent";
 * with MLFLOW__JSON_REQUIRED an absent field, and an empty string, is the
 * "Missing value" error. On success *present (if not NULL) tells whether the
 * field was there; *out is left alone when it was not. */

enum {
    MLFLOW__JSON_REQUIRED = 1,
    /* Lists: a lone scalar counts as a list of one (GET query strings carry
     * repeated fields that way). */
    MLFLOW__JSON_SCALAR_AS_LIST = 2,
};

/* Value conversions (false when v does not convert). */
MLFLOW_INTERNAL bool mlflow__json_as_int64(json_object *v, int64_t *out);
MLFLOW_INTERNAL bool mlflow__json_as_double(json_object *v, double *out);

/* The field's member value, NULL when absent or null. */
MLFLOW_INTERNAL json_object *mlflow__json_member(json_object *obj, const char *field);

/* A string without NUL bytes. *out points into obj. */
MLFLOW_INTERNAL int mlflow__json_get_string(json_object *obj, const char *field, int flags,
                                            const char **out, bool *present,
                                            struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__json_get_int64(json_object *obj, const char *field, int flags,
                                           int64_t *out, bool *present, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__json_get_double(json_object *obj, const char *field, int flags,
                                            double *out, bool *present, struct mlflow_error *err);
/* true/false, or the strings "true"/"false" (query strings). */
MLFLOW_INTERNAL int mlflow__json_get_bool(json_object *obj, const char *field, int flags,
                                          bool *out, bool *present, struct mlflow_error *err);
/* An enum by name (parse, e.g. mlflow_run_status_parse) or by number (name
 * must know it, e.g. mlflow_run_status_name). */
MLFLOW_INTERNAL int mlflow__json_get_enum(json_object *obj, const char *field, int flags,
                                          int (*parse)(const char *, int *),
                                          const char *(*name)(int), int *out, bool *present,
                                          struct mlflow_error *err);
/* An array member; *out is borrowed from obj, or (SCALAR_AS_LIST) a new
 * one-element array the caller must json_object_put: *owned says which. */
MLFLOW_INTERNAL int mlflow__json_get_array(json_object *obj, const char *field, int flags,
                                           json_object **out, bool *owned,
                                           struct mlflow_error *err);
/* An array of strings, copied into arena a as a NULL-free array of n. */
MLFLOW_INTERNAL int mlflow__json_get_string_list(struct mlflow__arena *a, json_object *obj,
                                                 const char *field, int flags,
                                                 const char ***out, size_t *n,
                                                 struct mlflow_error *err);

/* ---- entities in -----------------------------------------------------------------
 * Strings are copied into arena a. `field` names the list in messages
 * ("metrics[3].value"). */

/* key, value and timestamp required; step defaults to 0. */
MLFLOW_INTERNAL int mlflow__json_read_metric(struct mlflow__arena *a, json_object *v,
                                             const char *field, struct mlflow_metric *m,
                                             struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__json_read_metrics(struct mlflow__arena *a, json_object *obj,
                                              const char *field, struct mlflow_metric **out,
                                              size_t *n, struct mlflow_error *err);
/* [{"key", "value"}]: key required; a missing value reads as "". */
MLFLOW_INTERNAL int mlflow__json_read_kvs(struct mlflow__arena *a, json_object *obj,
                                          const char *field, struct mlflow_kv **out, size_t *n,
                                          struct mlflow_error *err);
/* Missing times read as MLFLOW_TIME_UNSET. */
MLFLOW_INTERNAL int mlflow__json_read_experiment(struct mlflow__arena *a, json_object *v,
                                                 struct mlflow_experiment *e,
                                                 struct mlflow_error *err);
/* run_id falls back to run_uuid; status by name or number. */
MLFLOW_INTERNAL int mlflow__json_read_run_info(struct mlflow__arena *a, json_object *v,
                                               struct mlflow_run_info *info,
                                               struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__json_read_run(struct mlflow__arena *a, json_object *v,
                                          struct mlflow_run *run, struct mlflow_error *err);
/* file_size absent (directories) reads as -1. */
MLFLOW_INTERNAL int mlflow__json_read_file_info(struct mlflow__arena *a, json_object *v,
                                                struct mlflow_file_info *f,
                                                struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_JSON_H */
