/*
 * fluent_context.c - the tags MLflow puts on every new local run (spec
 * section 5): who ran it, which program, which git commit, plus anything in
 * $MLFLOW_RUN_CONTEXT. Read from /proc and .git directly: a library should
 * not spawn processes to learn this.
 */
#include "fluent.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mlflow__tagset_put(struct mlflow__tagset *t, const char *key, const char *value)
{
    if (t->oom)
        return;
    char *v = mlflow__strdup(value ? value : "");
    if (!v) {
        t->oom = true;
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kv[i].key, key) == 0) {
            mlflow__free((char *)t->kv[i].value);
            t->kv[i].value = v;
            return;
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct mlflow_kv *kv = mlflow__realloc(t->kv, cap * sizeof *kv);
        if (!kv) {
            mlflow__free(v);
            t->oom = true;
            return;
        }
        t->kv = kv;
        t->cap = cap;
    }
    char *k = mlflow__strdup(key);
    if (!k) {
        mlflow__free(v);
        t->oom = true;
        return;
    }
    t->kv[t->n++] = (struct mlflow_kv){k, v};
}

void mlflow__tagset_free(struct mlflow__tagset *t)
{
    for (size_t i = 0; i < t->n; i++) {
        mlflow__free((char *)t->kv[i].key);
        mlflow__free((char *)t->kv[i].value);
    }
    mlflow__free(t->kv);
    *t = (struct mlflow__tagset){0};
}


/* argv[0] as the program was invoked, from /proc (a library has no argv). */
static void program_name(char *out, size_t size)
{
    out[0] = '\0';
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, out, size - 1);
        close(fd);
        out[n > 0 ? n : 0] = '\0';
    }
    if (!out[0])
        snprintf(out, size, "<console>");
}

static bool read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

/* snprintf that reports truncation instead of silently cutting a path. */
static bool pathf(char *buf, size_t size, const char *fmt, ...) MLFLOW_PRINTF(3, 4);
static bool pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size;
}

/* HEAD's commit of the git checkout holding `dir`, read from .git without
 * running git: HEAD, then the loose ref, then packed-refs. */
static bool git_commit(const char *start, char out[41])
{
    char dir[PATH_MAX], gitdir[PATH_MAX], path[PATH_MAX], head[512];
    if (!pathf(dir, sizeof dir, "%s", start))
        return false;
    for (;;) {
        if (pathf(path, sizeof path, "%s/.git", dir) && read_small(path, head, sizeof head) &&
            strncmp(head, "gitdir: ", 8) == 0) {
            /* A worktree or submodule: .git is a file naming the real dir. */
            if (!(head[8] == '/' ? pathf(gitdir, sizeof gitdir, "%s", head + 8)
                                 : pathf(gitdir, sizeof gitdir, "%s/%s", dir, head + 8)))
                return false;
            break;
        }
        if (pathf(path, sizeof path, "%s/.git/HEAD", dir) && access(path, F_OK) == 0) {
            if (!pathf(gitdir, sizeof gitdir, "%s/.git", dir))
                return false;
            break;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return false;
        *slash = '\0';
    }
    if (!pathf(path, sizeof path, "%s/HEAD", gitdir) || !read_small(path, head, sizeof head))
        return false;
    if (strncmp(head, "ref: ", 5) != 0) { /* detached HEAD */
        if (strlen(head) < 40)
            return false;
        memcpy(out, head, 40);
        out[40] = '\0';
        return true;
    }
    char ref[sizeof head];
    memcpy(ref, head + 5, strlen(head + 5) + 1);
    if (pathf(path, sizeof path, "%s/%s", gitdir, ref) && read_small(path, head, sizeof head) &&
        strlen(head) >= 40) {
        memcpy(out, head, 40);
        out[40] = '\0';
        return true;
    }
    if (!pathf(path, sizeof path, "%s/packed-refs", gitdir))
        return false;
    FILE *f = fopen(path, "re");
    bool found = false;
    if (f) {
        char line[1024];
        while (!found && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strlen(line) > 41 && line[40] == ' ' && strcmp(line + 41, ref) == 0) {
                memcpy(out, line, 40);
                out[40] = '\0';
                found = true;
            }
        }
        fclose(f);
    }
    return found;
}

void mlflow__context_tags(struct mlflow__tagset *t)
{
    char buf[PATH_MAX];
    mlflow__user_name(buf, sizeof buf);
    mlflow__tagset_put(t, "mlflow.user", buf);
    program_name(buf, sizeof buf);
    mlflow__tagset_put(t, "mlflow.source.name", buf);
    mlflow__tagset_put(t, "mlflow.source.type", "LOCAL");
    char exe[PATH_MAX], commit[41];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (git_commit(exe, commit))
            mlflow__tagset_put(t, "mlflow.source.git.commit", commit);
    }
    /* MLFLOW_RUN_CONTEXT: a JSON object of extra tags; other JSON is ignored,
     * as MLflow's run-context provider ignores what it cannot merge. */
    const char *ctx = getenv("MLFLOW_RUN_CONTEXT");
    if (ctx && *ctx) {
        json_object *o = json_tokener_parse(ctx);
        if (o && json_object_is_type(o, json_type_object)) {
            json_object_object_foreach(o, k, v) mlflow__tagset_put(t, k, json_object_get_string(v));
        }
        json_object_put(o);
    }
}
