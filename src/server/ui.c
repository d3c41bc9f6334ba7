/*
 * ui.c - the web UI's files: index.html at / and <static-prefix>/, and the
 * bundle's other files beside it.
 *
 * Normally the files are embedded in the program: tools/embed.c turns the
 * UI build into a table that mlflow-c passes in the server options, and a
 * request names a file by its exact table name, so no request path can
 * reach anything else. For development, opts.ui_dir names a directory read
 * instead, file by file, through the artifact walker (beneath the opened
 * directory, no "..", no symbolic links, regular files only). It is opened
 * anew for each request, since a UI rebuild replaces it.
 *
 * Headers: the Content-Security-Policy the UI is written for (no inline
 * script or style, nothing from elsewhere), nosniff (added by http.c to
 * every response), and caching that fits the names: bundle files carry a
 * content hash in their name, so browsers keep them for a year; index.html
 * names the current hashes, so it is revalidated every time (ETag, 304).
 * Embedded files also come gzip-compressed when the client accepts it.
 */
#include "server.h"

#include "fnv1a.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define UI_CSP                                                                                  \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
/* A development directory's files are small; anything bigger is a mistake. */
#define MAX_DEV_FILE (64u * 1024 * 1024)

const char *mlflow__ui_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"wasm", "application/wasm"},
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(types); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

int mlflow__ui_open(struct mlflow__server *s, struct mlflow_error *err)
{
    if (!s->opts.ui_dir || !*s->opts.ui_dir)
        return MLFLOW_OK;
    s->ui_dir = mlflow__abspath(s->opts.ui_dir);
    if (!s->ui_dir)
        return mlflow__oom(err);
    /* Opened again for every request (a UI rebuild replaces the directory),
     * but a wrong path should stop the server now, not 404 later. */
    int fd;
    int rc = mlflow__afs_open_root(s->ui_dir, false, &fd, err);
    if (rc)
        return mlflow__seterr(err, err->code ? err->code : rc,
                              "Cannot open the UI directory '%s'", s->ui_dir);
    close(fd);
    return MLFLOW_OK;
}

/* ---- request headers ----------------------------------------------------------- */

/* Whether an If-None-Match list names etag (weak comparison, "*" too). */
static bool etag_matches(const char *list, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        size_t len = strcspn(p, ",");
        size_t tag = len;
        while (tag && (p[tag - 1] == ' ' || p[tag - 1] == '\t'))
            tag--;
        if (tag == n && memcmp(p, etag, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Whether Accept-Encoding takes gzip: "gzip", "x-gzip" or "*", unless its
 * q is 0. */
static bool accepts_gzip(const char *list)
{
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t name = strcspn(p, "; \t,");
        bool gz = (name == 4 && strncasecmp(p, "gzip", 4) == 0) ||
                  (name == 6 && strncasecmp(p, "x-gzip", 6) == 0) || (name == 1 && *p == '*');
        if (gz) {
            const char *q = p + name;
            while (q < p + len && (*q == ';' || *q == ' ' || *q == '\t'))
                q++;
            if (q + 2 <= p + len && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                double v = strtod(q + 2, NULL);
                if (v <= 0)
                    return false;
            }
            return true;
        }
        p += len;
    }
    return false;
}

/* ---- responses ------------------------------------------------------------------------ */

static void add_header(struct mlflow__resp *out, const char *name, const char *value)
{
    if (out->n_headers < MLFLOW_ARRAY_LEN(out->headers)) {
        out->headers[out->n_headers][0] = name;
        out->headers[out->n_headers][1] = value;
        out->n_headers++;
    }
}

/* Sets the UI headers and the status: 304 (true) when If-None-Match shows
 * the client holds this version already, else 200 and the caller adds the
 * body. */
static bool headers_or_304(struct mlflow__req *r, struct mlflow__resp *out, const char *etag,
                         const char *cache, const char *content_type)
{
    add_header(out, "Content-Type", content_type);
    add_header(out, "Cache-Control", cache);
    add_header(out, "ETag", etag);
    add_header(out, "Content-Security-Policy", UI_CSP);
    const char *inm = mlflow__req_header(r, "If-None-Match");
    out->status = inm && etag_matches(inm, etag) ? 304 : 200;
    return out->status == 304;
}

static const struct mlflow__ui_file *find_file(const struct mlflow__ui_files *t,
                                               const char *name)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->files[i].path, name) == 0)
            return &t->files[i];
    return NULL;
}

static int serve_embedded(struct mlflow__req *r, const char *name, struct mlflow__resp *out)
{
    const struct mlflow__ui_file *f = find_file(r->srv->opts.ui_files, name);
    if (!f) {
        out->status = 404;
        return MLFLOW_OK;
    }
    bool gz = f->gz && accepts_gzip(mlflow__req_header(r, "Accept-Encoding"));
    if (f->gz)
        add_header(out, "Vary", "Accept-Encoding");
    if (gz)
        add_header(out, "Content-Encoding", "gzip");
    if (headers_or_304(r, out, gz ? f->etag_gz : f->etag,
                     f->immutable ? CACHE_IMMUTABLE : "no-cache", mlflow__ui_content_type(name)))
        return MLFLOW_OK;
    out->body = (char *)(gz ? f->gz : f->data);
    out->len = gz ? f->gz_len : f->len;
    out->body_static = true;
    return MLFLOW_OK;
}

static int serve_dir(struct mlflow__req *r, const char *name, struct mlflow__resp *out,
                     struct mlflow_error *err)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    const char *rel;
    struct mlflow_error ignored = {0};
    int fd = -1;
    uint64_t size = 0;
    /* Anything that is not a regular file beneath the directory is simply
     * not there. */
    int root = -1;
    bool found = mlflow__afs_canon(a, name, strlen(name), &rel, &ignored) == MLFLOW_OK && *rel &&
                 mlflow__afs_open_root(r->srv->ui_dir, false, &root, &ignored) == MLFLOW_OK &&
                 mlflow__afs_open_file(root, rel, &fd, &size, &ignored) == MLFLOW_OK;
    if (root >= 0)
        close(root);
    if (!found) {
        out->status = 404;
        return MLFLOW_OK;
    }
    if (size > MAX_DEV_FILE) {
        close(fd);
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "UI file '%s' is too large", rel);
    }
    char *buf = mlflow__malloc((size_t)size + 1);
    if (!buf) {
        close(fd);
        return mlflow__oom(err);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, (size_t)size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    unsigned long long h = mlflow__fnv1a((unsigned char *)buf, got);
    char *etag = mlflow__arena_printf(a, "\"%016llx-%zx\"", h, got);
    if (!etag) {
        mlflow__free(buf);
        return mlflow__oom(err);
    }
    /* Rebuilt files keep hashed names but the directory changes under us:
     * revalidate everything. */
    if (headers_or_304(r, out, etag, "no-cache", mlflow__ui_content_type(rel))) {
        mlflow__free(buf);
        return MLFLOW_OK;
    }
    out->body = buf;
    out->len = got;
    return MLFLOW_OK;
}

/* GET and HEAD of every path no other route takes, below the static
 * prefix. r->tail is that path ("/" for the index; "" for the bare prefix,
 * which is redirected so that the UI's relative URLs resolve under it). */
MLFLOW__HANDLER(mlflow__h_ui)
{
    const char *tail = r->tail ? r->tail : "/";
    if (!*tail) {
        char *loc = mlflow__arena_printf(mlflow__req_arena(r), "%s/", r->srv->static_prefix);
        if (!loc)
            return mlflow__oom(err);
        add_header(out, "Location", loc);
        out->status = 301;
        return MLFLOW_OK;
    }
    const char *name = tail[1] ? tail + 1 : "index.html";
    if (r->srv->ui_dir)
        return serve_dir(r, name, out, err);
    return serve_embedded(r, name, out);
}
