/*
 * http.c - the artifact repository for http(s) URIs served by an MLflow
 * tracking server's mlflow-artifacts API (MLflow's HttpArtifactRepository),
 * and the resolution of mlflow-artifacts: URIs against the tracking URI
 * (MlflowArtifactsRepository, spec section 10).
 *
 * Files travel streamed in both directions: an upload is a PUT read from
 * the file as it is sent, a download is written to a temporary file in
 * the destination directory and renamed into place when complete, so a
 * failed download never leaves half a file under the real name. Names the
 * server lists are checked before they become local paths (security.md
 * R8): a hostile server cannot make a download write outside dst_dir.
 */
#include "artifacts.h"

#include "../json.h"
#include "../store/rest_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARTIFACTS_ENDPOINT "/mlflow-artifacts/artifacts"
/* Directory levels a download follows, and entries it accepts in all. */
#define MAX_DEPTH 64
#define MAX_ENTRIES 1000000

/* ---- mlflow-artifacts: URIs ---- */

/* Splits "scheme://netloc/path?q#f" into its parts (pointers into a copy). */
struct url_parts {
    char *buf;
    const char *scheme, *netloc, *path;
};

static int split_url(const char *uri, struct url_parts *u, struct mlflow_error *err)
{
    memset(u, 0, sizeof *u);
    u->buf = mlflow__malloc(strlen(uri) + 2);
    if (!u->buf)
        return mlflow__oom(err);
    strcpy(u->buf, uri);
    char *p = strchr(u->buf, ':');
    if (!p) {
        mlflow__free(u->buf);
        u->buf = NULL;
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "'%s' is not a URI", uri);
    }
    *p++ = '\0';
    u->scheme = u->buf;
    /* Query and fragment play no part in artifact locations. */
    p[strcspn(p, "?#")] = '\0';
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        char *slash = strchr(p, '/');
        u->netloc = p;
        if (slash) {
            /* Shift the path right by one so the netloc can end with a NUL. */
            memmove(slash + 1, slash, strlen(slash) + 1);
            *slash = '\0';
            u->path = slash + 1;
        } else {
            u->path = "";
        }
    } else {
        u->netloc = "";
        u->path = p;
    }
    return MLFLOW_OK;
}

/* "a//b/" -> "a/b/" in place. */
static void collapse_slashes(char *s)
{
    char *o = s;
    for (const char *i = s; *i; i++)
        if (!(*i == '/' && o > s && o[-1] == '/'))
            *o++ = *i;
    *o = '\0';
}

static bool all_digits_or_dot(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    return true;
}

int mlflow__artifact_uri_resolve(const char *artifact_uri, const char *tracking_uri, char **out,
                                 struct mlflow_error *err)
{
    *out = NULL;
    char scheme[32];
    mlflow__uri_scheme(artifact_uri, scheme, sizeof scheme);
    if (strcmp(scheme, "mlflow-artifacts") != 0) {
        *out = mlflow__strdup(artifact_uri);
        return *out ? MLFLOW_OK : mlflow__oom(err);
    }
    struct url_parts a, t;
    int rc = split_url(artifact_uri, &a, err);
    if (rc)
        return rc;
    /* "mlflow-artifacts://5000/x": a port with no host. */
    const char *colon = strchr(a.netloc, ':');
    size_t hostlen = colon ? (size_t)(colon - a.netloc) : strlen(a.netloc);
    if (all_digits_or_dot(a.netloc, hostlen) && (!colon || !colon[1])) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The mlflow-artifacts uri was supplied with a port number: %.*s, but "
                            "no host was defined.",
                            (int)hostlen, a.netloc);
        mlflow__free(a.buf);
        return rc;
    }
    rc = split_url(tracking_uri ? tracking_uri : "", &t, err);
    if (!rc && strcmp(t.scheme, "http") != 0 && strcmp(t.scheme, "https") != 0) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "The configured tracking uri scheme: '%s' is invalid for use with the "
                            "proxy mlflow-artifact scheme. The allowed tracking schemes are: "
                            "{'http', 'https'}",
                            t.scheme);
    }
    if (rc) {
        mlflow__free(a.buf);
        mlflow__free(t.buf);
        return rc;
    }
    struct mlflow__sb path = MLFLOW__SB_INIT;
    const char *base = "/api/2.0" ARTIFACTS_ENDPOINT;
    if (strcmp(a.path, "/") == 0) {
        /* MLflow's quirk, kept: the root ignores the tracking URI's path. */
        mlflow__sb_adds(&path, base);
    } else if (strcmp(a.path, base) == 0) {
        mlflow__sb_adds(&path, base);
    } else {
        mlflow__sb_addf(&path, "%s/%s/%s", t.path, base, a.path);
    }
    struct mlflow__sb url = MLFLOW__SB_INIT;
    if (!path.oom) {
        collapse_slashes(path.buf);
        mlflow__sb_addf(&url, "%s://%s%s", t.scheme, *a.netloc ? a.netloc : t.netloc,
                        path.buf);
    }
    mlflow__sb_release(&path);
    mlflow__free(a.buf);
    mlflow__free(t.buf);
    char *s = mlflow__sb_detach(&url);
    if (!s)
        return mlflow__oom(err);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    *out = s;
    return MLFLOW_OK;
}

/* ---- helpers ---- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int check_http_root(const char *root_uri, struct mlflow_error *err)
{
    char scheme[16];
    mlflow__uri_scheme(root_uri, scheme, sizeof scheme);
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact URI '%s' is not an http(s) URL", root_uri);
    return MLFLOW_OK;
}

/* "/<a>/<b>" percent-encoded, for the parts that are given (NULL or ""
 * parts are skipped). */
static void add_path(struct mlflow__sb *sb, const char *a, const char *b)
{
    const char *parts[] = {a, b};
    for (size_t i = 0; i < 2; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        mlflow__sb_addc(sb, '/');
        mlflow__http_escape(sb, parts[i], true);
    }
}

/* Sends one request to the repository at root_uri and checks for 200. */
static int request(const char *host, struct mlflow__http_request *req,
                   struct mlflow__http_response *resp, struct mlflow_error *err)
{
    struct mlflow__http *h;
    int rc = mlflow__http_open_default(host, &h, err);
    if (rc)
        return rc;
    rc = mlflow__http_do(h, req, resp, err);
    if (!rc && resp->status != 200) {
        char what[512];
        snprintf(what, sizeof what, "%s%s", host, req->path);
        rc = mlflow__http_error(resp, what, err);
        mlflow__http_response_release(resp);
    }
    mlflow__http_close(h);
    return rc;
}

static int put(const char *root_uri, const char *dir, const char *name, int fd, const void *data,
               size_t n, struct mlflow_error *err)
{
    int rc = check_http_root(root_uri, err);
    if (rc)
        return rc;
    struct mlflow__sb path = MLFLOW__SB_INIT;
    add_path(&path, dir, name);
    if (path.oom) {
        mlflow__sb_release(&path);
        return mlflow__oom(err);
    }
    struct mlflow__http_request req = MLFLOW__HTTP_REQUEST_INIT;
    req.method = "PUT";
    req.path = path.buf;
    req.content_type = mlflow__mime_type(name, false);
    req.upload_fd = fd;
    req.body = data;
    req.body_len = n;
    struct mlflow__http_response resp;
    rc = request(root_uri, &req, &resp, err);
    if (!rc)
        mlflow__http_response_release(&resp);
    mlflow__sb_release(&path);
    return rc;
}

/* ---- repository operations ---- */

static int http_log_file(const char *root_uri, const char *local_file, const char *artifact_path,
                         struct mlflow_error *err)
{
    int fd = open(local_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot open '%s'", local_file);
    struct stat st;
    int rc = MLFLOW_OK;
    if (fstat(fd, &st) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot stat '%s'", local_file);
    else if (!S_ISREG(st.st_mode))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot upload '%s': it is not a regular file", local_file);
    if (!rc)
        rc = put(root_uri, artifact_path, base_name(local_file), fd, NULL, 0, err);
    close(fd);
    return rc;
}

static int http_log_bytes(const char *root_uri, const char *artifact_file, const void *data,
                          size_t n, struct mlflow_error *err)
{
    const char *name = base_name(artifact_file);
    if (!*name)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact file '%s' names a directory, not a file", artifact_file);
    char *dir = name > artifact_file
                    ? mlflow__strndup(artifact_file, (size_t)(name - artifact_file - 1))
                    : NULL;
    if (name > artifact_file && !dir)
        return mlflow__oom(err);
    int rc = put(root_uri, dir, name, -1, data ? data : "", n, err);
    mlflow__free(dir);
    return rc;
}

/* A name the server listed must be one plain path segment below the
 * directory asked for. */
static bool safe_name(const char *name)
{
    struct mlflow_error ignored;
    return *name && strcmp(name, ".") != 0 && !strchr(name, '/') &&
           mlflow__validate_artifact_path(name, &ignored) == MLFLOW_OK;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_file_info *)a)->path,
                  ((const struct mlflow_file_info *)b)->path);
}

static int http_list(const char *root_uri, const char *path, struct mlflow_file_list **out,
                     struct mlflow_error *err)
{
    *out = NULL;
    int rc = check_http_root(root_uri, err);
    if (rc)
        return rc;
    const char *at = strstr(root_uri, ARTIFACTS_ENDPOINT);
    if (!at)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Cannot list artifacts under '%s': the URL does not lead to an "
                              "MLflow artifacts service (" ARTIFACTS_ENDPOINT ")",
                              root_uri);
    char *host = mlflow__strndup(root_uri, (size_t)(at - root_uri));
    const char *tail = at + strlen(ARTIFACTS_ENDPOINT);
    while (*tail == '/')
        tail++;
    struct mlflow__sb full = MLFLOW__SB_INIT, query = MLFLOW__SB_INIT;
    mlflow__sb_adds(&full, tail);
    if (path && *path) {
        if (full.len)
            mlflow__sb_addc(&full, '/');
        mlflow__sb_adds(&full, path);
    }
    if (!full.oom)
        mlflow__http_query_add(&query, "path", full.buf ? full.buf : "");
    mlflow__sb_release(&full);
    if (!host || query.oom) {
        mlflow__free(host);
        mlflow__sb_release(&query);
        return mlflow__oom(err);
    }
    struct mlflow__http_request req = MLFLOW__HTTP_REQUEST_INIT;
    req.method = "GET";
    req.path = ARTIFACTS_ENDPOINT;
    req.query = query.buf;
    struct mlflow__http_response resp;
    rc = request(host, &req, &resp, err);
    mlflow__free(host);
    mlflow__sb_release(&query);
    if (rc)
        return rc;

    struct mlflow_file_list *list = mlflow__obj_new(sizeof *list);
    struct mlflow__arena *a = list ? mlflow__obj_arena(list) : NULL;
    json_object *obj = NULL, *files = NULL;
    bool owned = false;
    rc = list ? MLFLOW_OK : mlflow__oom(err);
    if (!rc && !(list->root_uri = mlflow__arena_strdup(a, root_uri)))
        rc = mlflow__oom(err);
    if (!rc && (mlflow__json_parse(resp.body, resp.len, &obj, err) != MLFLOW_OK ||
                !json_object_is_type(obj, json_type_object) ||
                mlflow__json_get_array(obj, "files", 0, &files, &owned, err) != MLFLOW_OK))
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "Malformed artifact listing from %s: '%.256s'", root_uri, resp.body);
    size_t n = files ? json_object_array_length(files) : 0;
    if (!rc && n > MAX_ENTRIES)
        rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                            "The artifact listing of '%s' has more than %d entries",
                            path ? path : "", MAX_ENTRIES);
    if (!rc && n && !(list->files = mlflow__arena_alloc(a, n * sizeof *list->files)))
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < n; i++) {
        struct mlflow_file_info *fi = &list->files[i];
        rc = mlflow__json_read_file_info(a, json_object_array_get_idx(files, i), fi, err);
        if (rc) {
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "Malformed artifact listing from %s: %s", root_uri, err->message);
            break;
        }
        if (!safe_name(fi->path)) {
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "The artifact server listed an unsafe name '%.200s' under '%s'",
                                fi->path, path ? path : "");
            break;
        }
        if (path && *path && !(fi->path = mlflow__arena_printf(a, "%s/%s", path, fi->path))) {
            rc = mlflow__oom(err);
            break;
        }
        if (fi->is_dir)
            fi->file_size = -1;
        list->count++;
    }
    if (!rc && list->count)
        qsort(list->files, list->count, sizeof *list->files, cmp_info);
    if (owned)
        json_object_put(files);
    json_object_put(obj);
    mlflow__http_response_release(&resp);
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

/* Downloads root/<path> into the file dst: into a temporary file beside
 * it first, renamed over dst once the body arrived whole. */
static int download_file(const char *root_uri, const char *path, const char *dst,
                         struct mlflow_error *err)
{
    struct mlflow__download dl;
    int rc = mlflow__download_begin(&dl, dst, err);
    struct mlflow__sb url_path = MLFLOW__SB_INIT;
    add_path(&url_path, path, NULL);
    if (!rc && url_path.oom)
        rc = mlflow__oom(err);
    if (!rc) {
        struct mlflow__http_request req = MLFLOW__HTTP_REQUEST_INIT;
        req.method = "GET";
        req.path = url_path.buf;
        req.download_fd = dl.fd;
        struct mlflow__http_response resp;
        rc = request(root_uri, &req, &resp, err);
        if (!rc)
            mlflow__http_response_release(&resp);
    }
    mlflow__sb_release(&url_path);
    return mlflow__download_end(&dl, rc, err);
}

/* Downloads the directory root/<path> (listed entries only) into dst. */
static int download_tree(const char *root_uri, const char *path, const char *dst, int depth,
                         size_t *budget, struct mlflow_error *err)
{
    if (depth > MAX_DEPTH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact directory '%s' is nested too deeply", path);
    int e = mlflow__mkdirs(dst);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot create '%s'", dst);
    struct mlflow_file_list *list;
    int rc = http_list(root_uri, path, &list, err);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < list->count; i++) {
        const struct mlflow_file_info *fi = &list->files[i];
        if (*budget == 0) {
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                                "More than %d artifacts to download", MAX_ENTRIES);
            break;
        }
        (*budget)--;
        /* fi->path is path + "/" + a checked name. */
        char *child = mlflow__path_join(dst, base_name(fi->path));
        if (!child) {
            rc = mlflow__oom(err);
            break;
        }
        rc = fi->is_dir ? download_tree(root_uri, fi->path, child, depth + 1, budget, err)
                        : download_file(root_uri, fi->path, child, err);
        mlflow__free(child);
    }
    mlflow__obj_free(list);
    return rc;
}

static int http_download(const char *root_uri, const char *path, const char *dst_dir,
                         char **out_local, struct mlflow_error *err)
{
    int rc = check_http_root(root_uri, err);
    if (rc)
        return rc;
    char *dst = path && *path ? mlflow__path_join(dst_dir, path) : mlflow__strdup(dst_dir);
    if (!dst)
        return mlflow__oom(err);
    size_t budget = MAX_ENTRIES;
    /* As MLflow decides: a path that lists entries is a directory, else a
     * file; the root is always a directory. */
    bool is_dir = !path || !*path;
    if (!is_dir) {
        struct mlflow_file_list *list;
        rc = http_list(root_uri, path, &list, err);
        if (!rc) {
            is_dir = list->count > 0;
            mlflow__obj_free(list);
        }
    }
    if (!rc)
        rc = is_dir ? download_tree(root_uri, path ? path : "", dst, 0, &budget, err)
                    : download_file(root_uri, path, dst, err);
    if (!rc && out_local)
        *out_local = dst;
    else
        mlflow__free(dst);
    return rc;
}

const struct mlflow__artifact_repo_ops mlflow__http_artifact_repo = {
    .scheme = "http",
    .log_file = http_log_file,
    .log_bytes = http_log_bytes,
    .list = http_list,
    .download = http_download,
};
