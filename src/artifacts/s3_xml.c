/*
 * s3_xml.c - reading S3's XML answers (ListObjectsV2 pages, the upload id
 * of a multipart upload, <Error> documents) with expat.
 *
 * Why expat: it is a small streaming (SAX) parser, already on every Debian
 * system (libcurl's and Python's dependency chain pulls it in), with
 * billion-laughs protection built in; S3's answers are flat records, which
 * a path-matching callback reads without building a tree. Documents with a
 * DOCTYPE are refused outright: S3 never sends one, so any DTD (and with it
 * every entity trick) is hostile or broken input. Expat allocates through
 * mlflow__malloc and friends like the rest of the library.
 */
#include "s3.h"

#include <expat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Deepest element path kept; S3's answers nest three or four levels. */
#define MAX_PATH 256

/* Walks a document calling on_start/on_end with the slash-joined path of
 * element names ("/ListBucketResult/Contents/Key") and, at the end of an
 * element, its text. */
struct walker {
    XML_Parser parser;
    char path[MAX_PATH];
    size_t path_len;
    size_t skipped_depth; /* levels below MAX_PATH, ignored */
    struct mlflow__sb text;
    bool failed;          /* a callback refused (oom, bad value) */
    bool oom;
    void (*on_start)(struct walker *w, const char *path);
    void (*on_end)(struct walker *w, const char *path, const char *text);
    void *ud;
};

static void stop(struct walker *w)
{
    w->failed = true;
    XML_StopParser(w->parser, XML_FALSE);
}

static void XMLCALL start_el(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct walker *w = ud;
    size_t n = strlen(name);
    if (w->skipped_depth || w->path_len + 1 + n >= sizeof w->path) {
        w->skipped_depth++;
        return;
    }
    w->path[w->path_len++] = '/';
    memcpy(w->path + w->path_len, name, n + 1);
    w->path_len += n;
    mlflow__sb_reset(&w->text);
    if (w->on_start)
        w->on_start(w, w->path);
}

static void XMLCALL end_el(void *ud, const XML_Char *name)
{
    (void)name;
    struct walker *w = ud;
    if (w->skipped_depth) {
        w->skipped_depth--;
        return;
    }
    if (w->text.oom) {
        stop(w);
        return;
    }
    if (w->on_end)
        w->on_end(w, w->path, w->text.buf ? w->text.buf : "");
    mlflow__sb_reset(&w->text);
    while (w->path_len > 0 && w->path[w->path_len - 1] != '/')
        w->path_len--;
    if (w->path_len > 0)
        w->path_len--;
    w->path[w->path_len] = '\0';
}

static void XMLCALL chars(void *ud, const XML_Char *s, int len)
{
    struct walker *w = ud;
    if (!w->skipped_depth && len > 0)
        mlflow__sb_add(&w->text, s, (size_t)len);
}

static void XMLCALL doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                            const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud);
}

/* Expat's allocator hooks: the library's counted allocator. */
static void *xml_malloc(size_t n)
{
    return mlflow__malloc(n);
}

static void *xml_realloc(void *p, size_t n)
{
    return mlflow__realloc(p, n);
}

static void xml_free(void *p)
{
    mlflow__free(p);
}

static const XML_Memory_Handling_Suite xml_memory = {xml_malloc, xml_realloc, xml_free};

/* Parses the document through w's callbacks. */
static int walk(struct walker *w, const char *xml, size_t n, const char *what,
                struct mlflow_error *err)
{
    if (n > INT_MAX)
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "The S3 %s answer is too large",
                              what);
    w->parser = XML_ParserCreate_MM(NULL, &xml_memory, NULL);
    if (!w->parser)
        return mlflow__oom(err);
    XML_SetUserData(w->parser, w);
    XML_SetElementHandler(w->parser, start_el, end_el);
    XML_SetCharacterDataHandler(w->parser, chars);
    XML_SetStartDoctypeDeclHandler(w->parser, doctype);
    enum XML_Status st = XML_Parse(w->parser, xml, (int)n, XML_TRUE);
    int rc = MLFLOW_OK;
    if (w->oom || w->text.oom)
        rc = mlflow__oom(err);
    else if (w->failed || st != XML_STATUS_OK)
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "Malformed S3 %s answer (%s at line %lu): '%.200s'", what,
                            w->failed ? "refused content"
                                      : XML_ErrorString(XML_GetErrorCode(w->parser)),
                            (unsigned long)XML_GetCurrentLineNumber(w->parser), xml);
    XML_ParserFree(w->parser);
    mlflow__sb_release(&w->text);
    return rc;
}

/* ---- ListObjectsV2 ---- */

struct list_state {
    struct mlflow__s3_list_page *page;
    bool url_encoded;
    bool bad;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes a key S3 sent with EncodingType=url, as botocore does
 * (unquote_plus: '+' is a space, a literal '+' arrives as %2B). */
static void url_decode_plus(char *s)
{
    char *o = s;
    for (const char *i = s; *i; i++) {
        if (*i == '+') {
            *o++ = ' ';
        } else if (*i == '%' && hexval(i[1]) >= 0 && hexval(i[2]) >= 0) {
            *o++ = (char)(hexval(i[1]) * 16 + hexval(i[2]));
            i += 2;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
}

static void list_start(struct walker *w, const char *path)
{
    struct list_state *ls = w->ud;
    struct mlflow__s3_list_page *p = ls->page;
    bool obj = strcmp(path, "/ListBucketResult/Contents") == 0;
    if (!obj && strcmp(path, "/ListBucketResult/CommonPrefixes") != 0)
        return;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        struct mlflow__s3_entry *ne = mlflow__realloc(p->entries, ncap * sizeof *ne);
        if (!ne) {
            w->oom = true;
            stop(w);
            return;
        }
        p->entries = ne;
        p->cap = ncap;
    }
    p->entries[p->n++] = (struct mlflow__s3_entry){NULL, obj ? 0 : -1, !obj};
}

static void set_string(struct walker *w, char **dst, const char *text)
{
    mlflow__free(*dst);
    if (!(*dst = mlflow__strdup(text))) {
        w->oom = true;
        stop(w);
    }
}

static void list_end(struct walker *w, const char *path, const char *text)
{
    struct list_state *ls = w->ud;
    struct mlflow__s3_list_page *p = ls->page;
    struct mlflow__s3_entry *last = p->n ? &p->entries[p->n - 1] : NULL;
    if (strcmp(path, "/ListBucketResult/IsTruncated") == 0) {
        p->truncated = strcmp(text, "true") == 0;
    } else if (strcmp(path, "/ListBucketResult/NextContinuationToken") == 0) {
        set_string(w, &p->next_token, text);
    } else if (strcmp(path, "/ListBucketResult/EncodingType") == 0) {
        ls->url_encoded = strcmp(text, "url") == 0;
    } else if (last && !last->is_prefix && strcmp(path, "/ListBucketResult/Contents/Key") == 0) {
        set_string(w, &last->key, text);
    } else if (last && last->is_prefix &&
               strcmp(path, "/ListBucketResult/CommonPrefixes/Prefix") == 0) {
        set_string(w, &last->key, text);
    } else if (last && !last->is_prefix &&
               strcmp(path, "/ListBucketResult/Contents/Size") == 0) {
        if (!mlflow__parse_int64(text, &last->size) || last->size < 0) {
            ls->bad = true;
            stop(w);
        }
    }
}

void mlflow__s3_list_page_release(struct mlflow__s3_list_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        mlflow__free(p->entries[i].key);
    mlflow__free(p->entries);
    mlflow__free(p->next_token);
    memset(p, 0, sizeof *p);
}

int mlflow__s3_xml_list(const char *xml, size_t n, struct mlflow__s3_list_page *out,
                        struct mlflow_error *err)
{
    memset(out, 0, sizeof *out);
    struct list_state ls = {.page = out};
    struct walker w = {.text = MLFLOW__SB_INIT, .on_start = list_start, .on_end = list_end,
                       .ud = &ls};
    int rc = walk(&w, xml, n, "object listing", err);
    if (!rc && ls.bad)
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "Malformed S3 object listing: an object size is not a number");
    for (size_t i = 0; !rc && i < out->n; i++) {
        if (!out->entries[i].key) {
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "Malformed S3 object listing: an entry has no key");
            break;
        }
        if (ls.url_encoded)
            url_decode_plus(out->entries[i].key);
    }
    if (rc)
        mlflow__s3_list_page_release(out);
    return rc;
}

/* ---- InitiateMultipartUpload ---- */

static void upload_id_end(struct walker *w, const char *path, const char *text)
{
    if (strcmp(path, "/InitiateMultipartUploadResult/UploadId") == 0)
        set_string(w, w->ud, text);
}

int mlflow__s3_xml_upload_id(const char *xml, size_t n, char **out, struct mlflow_error *err)
{
    *out = NULL;
    struct walker w = {.text = MLFLOW__SB_INIT, .on_end = upload_id_end, .ud = out};
    int rc = walk(&w, xml, n, "multipart upload", err);
    if (!rc && (!*out || !**out))
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                            "The S3 answer to a multipart upload has no UploadId: '%.200s'", xml);
    if (rc) {
        mlflow__free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- <Error> ---- */

struct error_state {
    bool is_error;
    char *code, *msg;
    size_t code_size, msg_size;
};

static void copy_trunc(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void error_start(struct walker *w, const char *path)
{
    if (strcmp(path, "/Error") == 0)
        ((struct error_state *)w->ud)->is_error = true;
}

static void error_end(struct walker *w, const char *path, const char *text)
{
    struct error_state *es = w->ud;
    if (strcmp(path, "/Error/Code") == 0)
        copy_trunc(es->code, es->code_size, text);
    else if (strcmp(path, "/Error/Message") == 0)
        copy_trunc(es->msg, es->msg_size, text);
}

bool mlflow__s3_xml_error(const char *xml, size_t n, char *code, size_t code_size, char *msg,
                          size_t msg_size)
{
    code[0] = msg[0] = '\0';
    if (!xml || !n)
        return false;
    struct error_state es = {false, code, msg, code_size, msg_size};
    struct walker w = {.text = MLFLOW__SB_INIT, .on_start = error_start, .on_end = error_end,
                       .ud = &es};
    struct mlflow_error ignored;
    if (walk(&w, xml, n, "error", &ignored) != MLFLOW_OK || !es.is_error) {
        code[0] = msg[0] = '\0';
        return false;
    }
    return true;
}

void mlflow__s3_xml_escape(struct mlflow__sb *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': mlflow__sb_adds(sb, "&amp;"); break;
        case '<': mlflow__sb_adds(sb, "&lt;"); break;
        case '>': mlflow__sb_adds(sb, "&gt;"); break;
        case '"': mlflow__sb_adds(sb, "&quot;"); break;
        case '\'': mlflow__sb_adds(sb, "&apos;"); break;
        default: mlflow__sb_addc(sb, *s);
        }
    }
}
