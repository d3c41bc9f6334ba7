/*
 * uri.c - local paths and file: URIs, the way MLflow turns one into the
 * other (pathlib.Path.as_uri and urllib's unquote), plus mkdir -p.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *mlflow__path_join(const char *a, const char *b)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    mlflow__sb_adds(&sb, a);
    while (*b == '/')
        b++;
    if (sb.len > 0 && sb.buf[sb.len - 1] != '/' && *b)
        mlflow__sb_addc(&sb, '/');
    mlflow__sb_adds(&sb, b);
    return mlflow__sb_detach(&sb);
}

/* Lexical normalisation like os.path.abspath: no symlink resolution, so a
 * path the user typed keeps its shape in URIs. */
char *mlflow__abspath(const char *p)
{
    struct mlflow__sb in = MLFLOW__SB_INIT;
    if (p[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
            return NULL;
        mlflow__sb_adds(&in, cwd);
        mlflow__sb_addc(&in, '/');
        free(cwd);
    }
    mlflow__sb_adds(&in, p);
    if (in.oom) {
        mlflow__sb_release(&in);
        return NULL;
    }
    /* Rebuild segment by segment, popping on "..". */
    char *out = mlflow__malloc(in.len + 2);
    if (!out) {
        mlflow__sb_release(&in);
        return NULL;
    }
    size_t o = 0;
    char *save = NULL;
    for (char *seg = strtok_r(in.buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        out[o++] = '/';
        size_t n = strlen(seg);
        memcpy(out + o, seg, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    mlflow__sb_release(&in);
    return out;
}

/* pathlib's as_uri() keeps RFC 3986 unreserved characters and "/" and
 * percent-encodes everything else (urllib.parse.quote with safe="/"). */
char *mlflow__path_to_file_uri(const char *abs_path)
{
    static const char hex[] = "0123456789ABCDEF";
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    mlflow__sb_adds(&sb, "file://");
    for (const unsigned char *p = (const unsigned char *)abs_path; *p; p++) {
        if (isalnum(*p) || strchr("/-._~", *p)) {
            mlflow__sb_addc(&sb, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mlflow__sb_add(&sb, e, 3);
        }
    }
    return mlflow__sb_detach(&sb);
}

void mlflow__uri_scheme(const char *uri, char *buf, size_t size)
{
    size_t i = 0;
    /* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (isalpha((unsigned char)uri[0])) {
        while (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')
            i++;
    }
    /* "C:" style single letters are not schemes here (no Windows). */
    if (uri[i] != ':' || i < 2) {
        if (size)
            buf[0] = '\0';
        return;
    }
    snprintf(buf, size, "%.*s", (int)i, uri);
    for (char *c = buf; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

char *mlflow__local_path_from_uri(const char *uri)
{
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    const char *p = uri;
    if (scheme[0]) {
        if (strcmp(scheme, "file") != 0)
            return NULL;
        p = uri + 5; /* after "file:" */
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
            /* file://host/path: only an empty host or localhost is local. */
            const char *slash = strchr(p, '/');
            if (!slash)
                return NULL;
            if (slash != p && strncmp(p, "localhost", (size_t)(slash - p)) != 0)
                return NULL;
            p = slash;
        }
    }
    char *out = mlflow__malloc(strlen(p) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; p[i]; i++) {
        if (scheme[0] && p[i] == '%' && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else if (scheme[0] && (p[i] == '?' || p[i] == '#')) {
            break;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return out;
}

int mlflow__mkdirs(const char *path)
{
    if (!path || !*path)
        return ENOENT;
    char *tmp = mlflow__strdup(path);
    if (!tmp)
        return ENOMEM;
    int rc = 0;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
                rc = errno;
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = errno;
        else if (!S_ISDIR(st.st_mode))
            rc = ENOTDIR;
    }
    mlflow__free(tmp);
    return rc;
}

char *mlflow__uri_append(const char *base, const char *a, const char *b)
{
    size_t path_end = strlen(base);
    const char *sep = strstr(base, "://");
    if (sep) {
        const char *q = strpbrk(sep + 3, "?#");
        if (q)
            path_end = (size_t)(q - base);
    }
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    mlflow__sb_add(&sb, base, path_end);
    if (path_end == 0 || base[path_end - 1] != '/')
        mlflow__sb_addc(&sb, '/');
    mlflow__sb_adds(&sb, a);
    if (b) {
        mlflow__sb_addc(&sb, '/');
        mlflow__sb_adds(&sb, b);
    }
    mlflow__sb_adds(&sb, base + path_end);
    return mlflow__sb_detach(&sb);
}

char *mlflow__resolve_uri_if_local(const char *loc)
{
    char scheme[32];
    mlflow__uri_scheme(loc, scheme, sizeof scheme);
    if (!scheme[0])
        return loc[0] == '/' ? mlflow__strdup(loc) : mlflow__abspath(loc);
    if (strcmp(scheme, "file") != 0)
        return mlflow__strdup(loc);
    char *path = mlflow__local_path_from_uri(loc);
    if (!path || path[0] == '/') {
        mlflow__free(path);
        return mlflow__strdup(loc);
    }
    char *abs = mlflow__abspath(path);
    mlflow__free(path);
    if (!abs)
        return NULL;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    mlflow__sb_adds(&sb, "file://");
    mlflow__sb_adds(&sb, abs);
    mlflow__free(abs);
    return mlflow__sb_detach(&sb);
}
