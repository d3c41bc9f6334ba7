/*
 * alloc.c - the library's one allocator, result arenas, and strbuf.
 *
 * Routing every allocation through mlflow__malloc lets the tests fail the
 * Nth allocation (curl's and SQLite's technique) and prove that each error
 * path frees what it took and reports RESOURCE_EXHAUSTED instead of crashing.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_count;
static atomic_long fail_at; /* 0: never fail */

static bool should_fail(void)
{
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long f = atomic_load(&fail_at);
    return f > 0 && n >= f;
}

long mlflow__alloc_fail_at(long nth)
{
    long made = atomic_exchange(&alloc_count, 0);
    atomic_store(&fail_at, nth);
    return made;
}

void *mlflow__malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *mlflow__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *mlflow__realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *mlflow__strndup(const char *s, size_t n)
{
    char *d = mlflow__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *mlflow__strdup(const char *s)
{
    return s ? mlflow__strndup(s, strlen(s)) : NULL;
}

void mlflow__free(void *p)
{
    free(p);
}

void mlflow_free(void *p)
{
    free(p);
}

/* ---- arenas ----
 * A chain of chunks. The first chunk holds the arena header and then the
 * result object, so the object's address locates the header. */

#define ALIGN (_Alignof(max_align_t))
#define ROUND(n) (((n) + ALIGN - 1) & ~(size_t)(ALIGN - 1))
#define CHUNK_MIN 4096

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
};

struct mlflow__arena {
    struct chunk *head;
    _Alignas(max_align_t) unsigned char obj[]; /* the result object */
};

static struct chunk *chunk_new(size_t need)
{
    size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
    struct chunk *c = mlflow__malloc(sizeof *c + cap);
    if (c) {
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
    }
    return c;
}

void *mlflow__obj_new(size_t size)
{
    struct mlflow__arena *a = mlflow__calloc(1, sizeof *a + ROUND(size));
    return a ? a->obj : NULL;
}

struct mlflow__arena *mlflow__obj_arena(void *obj)
{
    return (struct mlflow__arena *)((unsigned char *)obj - offsetof(struct mlflow__arena, obj));
}

void mlflow__obj_free(void *obj)
{
    if (!obj)
        return;
    struct mlflow__arena *a = mlflow__obj_arena(obj);
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *mlflow__arena_alloc(struct mlflow__arena *a, size_t size)
{
    size = ROUND(size ? size : 1);
    struct chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        /* Big requests get their own chunk behind the head, so the head's
         * free space is not thrown away. */
        struct chunk *n = chunk_new(size);
        if (!n)
            return NULL;
        if (c && size > CHUNK_MIN) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *mlflow__arena_strndup(struct mlflow__arena *a, const char *s, size_t n)
{
    char *d = mlflow__arena_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n); /* already zeroed, so NUL-terminated */
    return d;
}

char *mlflow__arena_strdup(struct mlflow__arena *a, const char *s)
{
    return s ? mlflow__arena_strndup(a, s, strlen(s)) : NULL;
}

char *mlflow__arena_printf(struct mlflow__arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = n < 0 ? NULL : mlflow__arena_alloc(a, (size_t)n + 1);
    if (d)
        vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

/* ---- strbuf ---- */

static bool sb_grow(struct mlflow__sb *sb, size_t extra)
{
    if (sb->oom)
        return false;
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *b = mlflow__realloc(sb->buf, cap);
    if (!b) {
        sb->oom = true;
        return false;
    }
    sb->buf = b;
    sb->cap = cap;
    return true;
}

void mlflow__sb_add(struct mlflow__sb *sb, const char *s, size_t n)
{
    if (!sb_grow(sb, n))
        return;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void mlflow__sb_adds(struct mlflow__sb *sb, const char *s)
{
    mlflow__sb_add(sb, s, strlen(s));
}

void mlflow__sb_addc(struct mlflow__sb *sb, char c)
{
    mlflow__sb_add(sb, &c, 1);
}

void mlflow__sb_vaddf(struct mlflow__sb *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->oom = true;
        return;
    }
    if (!sb_grow(sb, (size_t)n))
        return;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void mlflow__sb_addf(struct mlflow__sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlflow__sb_vaddf(sb, fmt, ap);
    va_end(ap);
}

void mlflow__sb_reset(struct mlflow__sb *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *mlflow__sb_detach(struct mlflow__sb *sb)
{
    char *b = sb->oom ? NULL : sb->buf;
    if (sb->oom)
        free(sb->buf);
    else if (!b)
        b = mlflow__strdup("");
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
    return b;
}

void mlflow__sb_release(struct mlflow__sb *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}
