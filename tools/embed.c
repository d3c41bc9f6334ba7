/*
 * embed.c - a build-time tool: turns the web UI's build (a directory of
 * static files) into a C file holding them, so mlflow-c serves its UI with
 * no files beside it and no Node.js at run time.
 *
 *   embed OUT.c DIR
 *
 * For every regular file beneath DIR (sorted by path, so the output is the
 * same for the same input): its bytes, a gzip copy when that is smaller by
 * a tenth (built with zlib, when the build found it), an ETag from its
 * content, and whether its name carries a content hash (esbuild's
 * "name-HASH.ext"), which lets the server tell browsers to cache it for
 * good. The table's type is struct mlflow__ui_files in src/server/server.h.
 *
 * A host program, run by CMake; it prints its errors and exits 1.
 */
#include "fnv1a.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef MLFLOW_EMBED_ZLIB
#include <zlib.h>
#endif

#define MAX_FILES 1024

struct file {
    char *path; /* relative to DIR */
    unsigned char *data;
    size_t len;
    unsigned char *gz;
    size_t gz_len;
};

static struct file files[MAX_FILES];
static size_t n_files;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "embed: %s '%s': %s\n", what, path, errno ? strerror(errno) : "");
    exit(1);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            die("out of memory reading", path);
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        unsigned char *g = realloc(buf, cap);
        if (!g)
            free(buf);
        buf = g;
    }
    if (ferror(f))
        die("cannot read", path);
    fclose(f);
    *len = n;
    return buf;
}

/* Names that need no escaping in C and that the server can match. */
static int plain_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-/", *s)))
            return 0;
    return 1;
}

static void walk(const char *root, const char *rel)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        die("cannot list", dir);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char sub[4096], full[8192];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (name[0] == '.' || lstat(full, &st) != 0) {
            free(names[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            walk(root, sub);
        } else if (S_ISREG(st.st_mode)) {
            if (!plain_name(sub)) {
                errno = 0;
                die("file name outside [A-Za-z0-9._-/]", sub);
            }
            if (n_files == MAX_FILES) {
                errno = 0;
                die("too many files in", root);
            }
            struct file *f = &files[n_files++];
            f->path = strdup(sub);
            f->data = slurp(full, &f->len);
        }
        free(names[i]);
    }
    free(names);
}

/* Already-compressed formats gain nothing. */
static int compressible(const char *path)
{
    static const char *const no[] = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2",
                                     ".ico", ".gz", ".zip"};
    size_t pl = strlen(path);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        size_t el = strlen(no[i]);
        if (pl > el && strcmp(path + pl - el, no[i]) == 0)
            return 0;
    }
    return 1;
}

static void compress_file(struct file *f)
{
#ifdef MLFLOW_EMBED_ZLIB
    if (!compressible(f->path) || f->len < 256)
        return;
    z_stream zs = {0};
    /* 15 + 16: a gzip wrapper (with a zero mtime: reproducible output). */
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    uLong cap = deflateBound(&zs, (uLong)f->len) + 32;
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return;
    }
    zs.next_in = f->data;
    zs.avail_in = (uInt)f->len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END || n * 10 > f->len * 9) {
        free(out);
        return;
    }
    f->gz = out;
    f->gz_len = n;
#else
    (void)f;
    (void)compressible;
#endif
}

/* esbuild's names are "name-HASH.ext" with an 8-character hash of
 * [A-Z0-9]: such a file never changes under its name. */
static int hashed_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot - base < 10 || dot[-9] != '-')
        return 0;
    for (const char *p = dot - 8; p < dot; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

static void write_bytes(FILE *out, const char *name, const unsigned char *p, size_t n)
{
    fprintf(out, "static const unsigned char %s[%zu] = {", name, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%u,", i % 24 ? "" : "\n", p[i]);
    fprintf(out, "%s};\n", n ? "\n" : "0");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embed OUT.c DIR\n");
        return 2;
    }
    const char *out_path = argv[1], *root = argv[2];
    walk(root, "");
    if (n_files == 0) {
        errno = 0;
        die("no files in", root);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        die("cannot create", tmp);
    fprintf(out, "/* Generated by tools/embed.c from the web UI build: do not edit. */\n"
                 "#include \"server/server.h\"\n\n"
                 "extern const struct mlflow__ui_files mlflow__ui_embedded;\n\n");
    for (size_t i = 0; i < n_files; i++) {
        char name[32];
        compress_file(&files[i]);
        snprintf(name, sizeof name, "f%zu", i);
        write_bytes(out, name, files[i].data, files[i].len);
        if (files[i].gz) {
            snprintf(name, sizeof name, "f%zu_gz", i);
            write_bytes(out, name, files[i].gz, files[i].gz_len);
        }
    }
    fprintf(out, "\nstatic const struct mlflow__ui_file files[] = {\n");
    for (size_t i = 0; i < n_files; i++) {
        struct file *f = &files[i];
        unsigned long long h = (unsigned long long)mlflow__fnv1a(f->data, f->len);
        char gz[32] = "NULL";
        if (f->gz)
            snprintf(gz, sizeof gz, "f%zu_gz", i);
        fprintf(out,
                "    {\"%s\", f%zu, %zu, %s, %zu, \"\\\"%016llx-%zx\\\"\", "
                "\"\\\"%016llx-%zx-gz\\\"\", %s},\n",
                f->path, i, f->len, gz, f->gz_len, h, f->len, h, f->len,
                hashed_name(f->path) ? "true" : "false");
    }
    fprintf(out, "};\n\nconst struct mlflow__ui_files mlflow__ui_embedded = {files, %zu};\n",
            n_files);
    if (fclose(out) != 0)
        die("cannot write", tmp);
    if (rename(tmp, out_path) != 0)
        die("cannot rename to", out_path);
    for (size_t i = 0; i < n_files; i++) {
        free(files[i].path);
        free(files[i].data);
        free(files[i].gz);
    }
    fprintf(stderr, "embed: %zu UI file(s) from %s\n", n_files, root);
    return 0;
}
