/*
 * store.c - the scheme table: a tracking URI in, a store out. Also MLflow's
 * page-token format, which every store shares.
 */
#include "store.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*store_open_fn)(const char *uri, struct mlflow__store **out,
                             struct mlflow_error *err);
/* The same with options (opts never NULL); a row without one cannot take
 * a default artifact root. */
typedef int (*store_open_opts_fn)(const char *uri, const struct mlflow__store_opts *opts,
                                  struct mlflow__store **out, struct mlflow_error *err);

static int open_file_opts(const char *uri, const struct mlflow__store_opts *opts,
                          struct mlflow__store **out, struct mlflow_error *err)
{
    char scheme[16];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    /* file://host/path names another machine's disk. */
    if (scheme[0] && strncmp(uri + 5, "//", 2) == 0 && uri[7] != '/' &&
        strncmp(uri + 7, "localhost/", 10) != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid file store URI '%s': only local paths are supported", uri);
    char *path = mlflow__local_path_from_uri(uri);
    if (!path)
        return mlflow__oom(err);
    int rc = mlflow__file_store_open_ex(path, opts->default_artifact_root, out, err);
    mlflow__free(path);
    return rc;
}

static int open_file(const char *uri, struct mlflow__store **out, struct mlflow_error *err)
{
    static const struct mlflow__store_opts none = {0};
    return open_file_opts(uri, &none, out, err);
}

static int open_sqlite_opts(const char *uri, const struct mlflow__store_opts *opts,
                            struct mlflow__store **out, struct mlflow_error *err)
{
    return mlflow__sqlite_store_open_ex(uri, opts->default_artifact_root, out, err);
}

static int open_postgres(const char *uri, struct mlflow__store **out, struct mlflow_error *err)
{
    return mlflow__postgres_store_open(uri, NULL, out, err);
}

static int open_postgres_opts(const char *uri, const struct mlflow__store_opts *opts,
                              struct mlflow__store **out, struct mlflow_error *err)
{
    return mlflow__postgres_store_open(uri, opts->default_artifact_root, out, err);
}

/* One row per scheme MLflow knows. A NULL opener means the backend is
 * planned but not built yet; the user gets an error naming the scheme. */
static const struct scheme {
    const char *scheme;
    store_open_fn open;
    store_open_opts_fn open_opts; /* NULL: takes no options */
} schemes[] = {
    {"", open_file, open_file_opts},
    {"file", open_file, open_file_opts},
    {"sqlite", mlflow__sqlite_store_open, open_sqlite_opts},
    {"postgresql", open_postgres, open_postgres_opts},
    {"mysql", NULL, NULL},
    {"mssql", NULL, NULL},
    {"http", mlflow__rest_store_open, NULL},
    {"https", mlflow__rest_store_open, NULL},
    {"databricks", mlflow__rest_store_open, NULL},
};

int mlflow__store_open(const char *uri, struct mlflow__store **out, struct mlflow_error *err)
{
    return mlflow__store_open_opts(uri, NULL, out, err);
}

int mlflow__store_open_opts(const char *uri, const struct mlflow__store_opts *opts,
                            struct mlflow__store **out, struct mlflow_error *err)
{
    char scheme[64];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    /* "postgresql+psycopg2" selects the postgresql store, as in MLflow. */
    char *plus = strchr(scheme, '+');
    if (plus)
        *plus = '\0';
    /* A bare "databricks" is Databricks' default profile, not a directory
     * named so (MLflow special-cases it the same way). */
    if (strcmp(uri, "databricks") == 0)
        strcpy(scheme, "databricks");
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(schemes); i++) {
        if (strcmp(schemes[i].scheme, scheme) != 0)
            continue;
        if (!schemes[i].open)
            return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                                  "Tracking URI scheme '%s' (in '%s') is not supported by this "
                                  "build of mlflow-c yet; use a local path or a file: URI",
                                  scheme, uri);
        if (opts && opts->default_artifact_root) {
            if (schemes[i].open_opts)
                return schemes[i].open_opts(uri, opts, out, err);
            return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                                  "The '%s' store cannot take a default artifact root yet "
                                  "(wanted '%s')",
                                  scheme, opts->default_artifact_root);
        }
        return schemes[i].open(uri, out, err);
    }
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Unsupported tracking URI scheme '%s' in '%s'. Supported: file, sqlite, "
                          "postgresql, http, https, databricks",
                          scheme, uri);
}

void mlflow__store_close(struct mlflow__store *s)
{
    if (s)
        s->ops->close(s);
}

/* ---- page tokens: base64(JSON {"offset": N}) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *mlflow__page_token_encode(int64_t offset)
{
    char json[64];
    int n = snprintf(json, sizeof json, "{\"offset\": %lld}", (long long)offset);
    char *out = mlflow__malloc(((size_t)n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)json[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)json[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)json[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

int mlflow__page_token_decode(const char *token, int64_t *offset, struct mlflow_error *err)
{
    *offset = 0;
    if (!token || !*token)
        return MLFLOW_OK;
    size_t n = strlen(token);
    unsigned char buf[96];
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    bool bad = n > 128;
    for (size_t i = 0; !bad && i < n; i++) {
        char c = token[i];
        if (c == '=')
            break;
        const char *p = strchr(b64, c);
        /* urlsafe alphabet too, as Python's b64decode is lenient there. */
        if (c == '-')
            p = b64 + 62;
        else if (c == '_')
            p = b64 + 63;
        if (!p || !c) {
            bad = true;
            break;
        }
        v = (v << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= sizeof buf - 1) {
                bad = true;
                break;
            }
            buf[o++] = (unsigned char)(v >> bits);
        }
    }
    json_object *obj = NULL, *off = NULL;
    if (!bad) {
        buf[o] = '\0';
        obj = json_tokener_parse((const char *)buf);
        bad = !obj || !json_object_is_type(obj, json_type_object) ||
              !json_object_object_get_ex(obj, "offset", &off) ||
              !json_object_is_type(off, json_type_int) || json_object_get_int64(off) < 0;
    }
    if (!bad)
        *offset = json_object_get_int64(off);
    json_object_put(obj);
    if (bad)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid page token '%.64s': it could not be decoded", token);
    return MLFLOW_OK;
}
