/*
 * s3.h - the S3 artifact repository's internals shared beyond s3.c: the
 * object operations the tracking server's proxy uses (artifact_dest.c), and
 * the XML readers of S3's answers (s3_xml.c).
 *
 * Every `rel` argument is a path relative to the s3://bucket/prefix root
 * that has passed artifact-path validation; it becomes the object key
 * "<prefix>/<rel>".
 */
#ifndef MLFLOW_S3_H
#define MLFLOW_S3_H

#include "artifacts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- object operations (s3.c) ---- */

/* Uploads the whole of the open file fd (read with pread, never all in
 * memory) as <root>/<rel>: one PUT, or a multipart upload when the file is
 * at least MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE bytes (aborted if any
 * part fails). content_type NULL: guessed from rel. */
MLFLOW_INTERNAL int mlflow__s3_put_fd(const char *root_uri, const char *rel, int fd,
                                      const char *content_type, struct mlflow_error *err);
/* Streams the object <root>/<rel> into fd at its current offset.
 * RESOURCE_DOES_NOT_EXIST when there is no such object. */
MLFLOW_INTERNAL int mlflow__s3_get_fd(const char *root_uri, const char *rel, int fd,
                                      struct mlflow_error *err);
/* Deletes the object <root>/<rel> and every object under <root>/<rel>/
 * (rel "" : everything under the root). Nothing there is not an error. */
MLFLOW_INTERNAL int mlflow__s3_delete(const char *root_uri, const char *rel,
                                      struct mlflow_error *err);

/* Keys asked for per ListObjectsV2 page: 1000, S3's maximum. Tests lower
 * it to exercise continuation tokens. */
MLFLOW_INTERNAL extern int mlflow__s3_max_keys;

/* ---- S3's XML answers (s3_xml.c, on expat) ---- */

struct mlflow__s3_entry {
    char *key;        /* object key, or common prefix (ends with the delimiter) */
    int64_t size;     /* objects only; -1 for prefixes */
    bool is_prefix;
};

/* One page of ListObjectsV2. Keys are already decoded when the answer
 * says EncodingType=url. */
struct mlflow__s3_list_page {
    struct mlflow__s3_entry *entries;
    size_t n, cap;
    bool truncated;
    char *next_token; /* NextContinuationToken, or NULL */
};

MLFLOW_INTERNAL int mlflow__s3_xml_list(const char *xml, size_t n,
                                        struct mlflow__s3_list_page *out,
                                        struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__s3_list_page_release(struct mlflow__s3_list_page *p);

/* The UploadId of an InitiateMultipartUploadResult. Caller frees *out. */
MLFLOW_INTERNAL int mlflow__s3_xml_upload_id(const char *xml, size_t n, char **out,
                                             struct mlflow_error *err);

/* An <Error> document's Code and Message, truncated to fit; false (and
 * both "") when the text is not one. CompleteMultipartUpload can answer
 * 200 with such a body, so callers check successful answers too. */
MLFLOW_INTERNAL bool mlflow__s3_xml_error(const char *xml, size_t n, char *code, size_t code_size,
                                          char *msg, size_t msg_size);

/* Appends s to sb with the XML metacharacters escaped. */
MLFLOW_INTERNAL void mlflow__s3_xml_escape(struct mlflow__sb *sb, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_S3_H */
