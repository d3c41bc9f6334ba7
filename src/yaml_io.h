/*
 * yaml_io.h - YAML the way MLflow reads and writes it, on libyaml.
 *
 * MLflow writes meta.yaml with PyYAML's CSafeDumper, which is libyaml's
 * emitter driven by PyYAML's YAML 1.1 resolver. The writer below drives the
 * same emitter with the same settings (block style, unicode on, default
 * width, implicit document markers) and asks the same resolver whether a
 * string needs quotes, so its output is byte-identical to
 * yaml.safe_dump(..., default_flow_style=False, allow_unicode=True) as long
 * as the caller emits mapping keys in sorted order (PyYAML's sort_keys).
 *
 * The reader is libyaml's document loader plus that resolver, so a plain
 * scalar is typed as PyYAML's safe_load would type it.
 */
#ifndef MLFLOW_YAML_IO_H
#define MLFLOW_YAML_IO_H

#include "internal.h"

#include <yaml.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What PyYAML's SafeLoader makes of a scalar. */
enum mlflow__yaml_type {
    MLFLOW__YAML_STR = 1,
    MLFLOW__YAML_NULL,
    MLFLOW__YAML_BOOL,
    MLFLOW__YAML_INT,
    MLFLOW__YAML_FLOAT,
    MLFLOW__YAML_TIMESTAMP,
    MLFLOW__YAML_MERGE, /* "<<" */
    MLFLOW__YAML_VALUE, /* "=" */
};

/* The type PyYAML's implicit resolver gives the plain (unquoted) scalar
 * s[0..n). Anything but MLFLOW__YAML_STR means a string with this text must
 * be quoted to read back as a string. */
MLFLOW_INTERNAL int mlflow__yaml_resolve_plain(const char *s, size_t n);

/* ---- writing ---------------------------------------------------------------
 * Usage: init, then a sequence of map_start / key-value scalars / map_end,
 * then finish. Calls after a failure are no-ops; finish reports the first
 * failure: INVALID_PARAMETER_VALUE for a string that is not UTF-8,
 * RESOURCE_EXHAUSTED on allocation failure, INTERNAL_ERROR for events out of
 * order. */
struct mlflow__yaml_writer {
    yaml_emitter_t emitter;
    struct mlflow__sb *out;
    bool failed;
    bool bad_utf8; /* the failure was a string that is not UTF-8 */
    bool started;
};

/* Output is appended to *out. */
MLFLOW_INTERNAL void mlflow__yaml_writer_init(struct mlflow__yaml_writer *w,
                                             struct mlflow__sb *out);
MLFLOW_INTERNAL void mlflow__yaml_map_start(struct mlflow__yaml_writer *w);
MLFLOW_INTERNAL void mlflow__yaml_map_end(struct mlflow__yaml_writer *w);
/* A string scalar (mapping keys too); NULL writes null. */
MLFLOW_INTERNAL void mlflow__yaml_str(struct mlflow__yaml_writer *w, const char *s);
MLFLOW_INTERNAL void mlflow__yaml_int(struct mlflow__yaml_writer *w, int64_t v);
MLFLOW_INTERNAL void mlflow__yaml_null(struct mlflow__yaml_writer *w);
/* `[]` */
MLFLOW_INTERNAL void mlflow__yaml_empty_seq(struct mlflow__yaml_writer *w);
/* A mapping of strings with keys sorted (n == 0 writes `{}`). */
MLFLOW_INTERNAL void mlflow__yaml_str_map(struct mlflow__yaml_writer *w, const struct mlflow_kv *kv,
                                          size_t n);
/* Ends the document and releases the emitter. Returns 0 or an error code. */
MLFLOW_INTERNAL int mlflow__yaml_writer_finish(struct mlflow__yaml_writer *w,
                                               struct mlflow_error *err);

/* ---- reading ------------------------------------------------------------- */

struct mlflow__yaml_doc {
    yaml_document_t doc;
    bool loaded;
};

/* Parses the first document of buf. An empty stream loads as a document
 * without a root node (mlflow__yaml_root returns NULL). Parse errors are
 * INTERNAL_ERROR naming `what` (a file name) and the position. */
MLFLOW_INTERNAL int mlflow__yaml_load(struct mlflow__yaml_doc *d, const char *buf, size_t len,
                                      const char *what, struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__yaml_doc_free(struct mlflow__yaml_doc *d);
MLFLOW_INTERNAL yaml_node_t *mlflow__yaml_root(struct mlflow__yaml_doc *d);
/* The value node of `key` in mapping node `map`, or NULL. */
MLFLOW_INTERNAL yaml_node_t *mlflow__yaml_map_get(struct mlflow__yaml_doc *d, yaml_node_t *map,
                                                  const char *key);
/* Type of a scalar node as safe_load types it: quoted and block scalars are
 * strings, plain ones go through the resolver, explicit standard tags win. */
MLFLOW_INTERNAL int mlflow__yaml_scalar_type(const yaml_node_t *n);
/* The scalar's text (NUL-terminated by libyaml), or NULL for a non-scalar. */
MLFLOW_INTERNAL const char *mlflow__yaml_scalar(const yaml_node_t *n);
/* An int scalar's value as PyYAML constructs it (signs, '_' separators,
 * 0b/0o-style/0x prefixes, sexagesimal). False for anything else. */
MLFLOW_INTERNAL bool mlflow__yaml_int_value(const yaml_node_t *n, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_YAML_IO_H */
