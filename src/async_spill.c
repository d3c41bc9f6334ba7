/*
 * async_spill.c - the spill file of asynchronous logging: where queued
 * values go when memory is full, and what is kept when the process ends
 * with values undelivered.
 *
 * Format: JSON lines (compact, UTF-8, one record per line, '\n' ends every
 * line). The first line is a header, {"mlflow_c_async_spill":1,
 * "tracking_uri":"..."}; every other line is one queued value:
 *   {"run_id":"...","call":N,"metric":{"key","value","timestamp","step"}}
 *   {"run_id":"...","call":N,"param":{"key","value"}}   (likewise "tag")
 *   {"run_id":"...","call":N,"end_run":{"status":"FINISHED","end_time":T}}
 * in the order they were logged. Metric values are written as on the wire
 * (non-finite values as "NaN", "Infinity", "-Infinity"). `call` groups the
 * values of one logging call, so a refusal after replay still costs only
 * that call's values. A line without its '\n' (a write cut short) is never
 * read.
 *
 * The file is created 0600 with O_EXCL in $TMPDIR (else /tmp) and held
 * with flock(LOCK_EX), so a replay cannot deliver a file its process is
 * still delivering. Records are appended with one write(2) per logging
 * call and no fsync (the process dying loses nothing written; a machine
 * crash may); the file is fdatasync'ed when it is kept. The queue reads it
 * back in order and truncates it to its header once all of it is read.
 */
#include "async_queue.h"

#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Records read back into memory at a time. */
#define SPILL_LOAD_MAX 1000
#define SPILL_MAGIC "mlflow_c_async_spill"

/* A failed system call as error `code` (mlflow__seterr_sys says INTERNAL_ERROR). */
static int sys_error(struct mlflow_error *err, int code, int e, const char *what,
                     const char *path)
{
    mlflow__seterr_sys(err, e, "%s %s", what, path ? path : "");
    err->code = code;
    return code;
}


static const char *spill_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A new spill file in $TMPDIR, locked, with its header line written. */
static int spill_create(const char *uri, int *fd_out, char **path_out, off_t *base,
                        struct mlflow_error *err)
{
    char *path = NULL;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        uint64_t r;
        mlflow__random_bytes(&r, sizeof r);
        struct mlflow__sb sb = MLFLOW__SB_INIT;
        mlflow__sb_addf(&sb, "%s/mlflow-async-%ld-%016llx.jsonl", spill_dir(), (long)getpid(),
                        (unsigned long long)r);
        path = mlflow__sb_detach(&sb);
        if (!path)
            return mlflow__oom(err);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            sys_error(err, MLFLOW_RESOURCE_EXHAUSTED, errno,
                      "Cannot create the asynchronous logging spill file", path);
            mlflow__free(path);
            return MLFLOW_RESOURCE_EXHAUSTED;
        }
        if (fd < 0) {
            mlflow__free(path);
            path = NULL;
        }
    }
    if (fd < 0)
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                              "Cannot find a free spill file name in %s", spill_dir());
    flock(fd, LOCK_EX | LOCK_NB);
    struct mlflow__jw w;
    mlflow__jw_init(&w, MLFLOW__JW_COMPACT);
    mlflow__jw_begin_object(&w);
    mlflow__jw_kv_int64(&w, SPILL_MAGIC, 1);
    mlflow__jw_kv_string(&w, "tracking_uri", uri);
    mlflow__jw_end_object(&w);
    size_t len = 0;
    char *head = mlflow__jw_detach(&w, &len);
    int e = head ? write_all(fd, head, len) : ENOMEM;
    if (!e)
        e = write_all(fd, "\n", 1);
    mlflow__free(head);
    if (e) {
        sys_error(err, MLFLOW_RESOURCE_EXHAUSTED, e,
                  "Cannot write the asynchronous logging spill file", path);
        close(fd);
        unlink(path);
        mlflow__free(path);
        return MLFLOW_RESOURCE_EXHAUSTED;
    }
    *fd_out = fd;
    *path_out = path;
    *base = (off_t)len + 1;
    return MLFLOW_OK;
}

/* One record line: {"run_id", "call", and one of "metric", "param", "tag",
 * "end_run"}. Metric values use the wire format (NaN as "NaN"). */
static void spill_line(struct mlflow__sb *out, const char *run_id, const struct item *it)
{
    struct mlflow__jw w;
    mlflow__jw_init(&w, MLFLOW__JW_COMPACT);
    mlflow__jw_begin_object(&w);
    mlflow__jw_kv_string(&w, "run_id", run_id);
    mlflow__jw_kv_int64(&w, "call", (int64_t)it->call);
    static const char *const names[] = {"metric", "param", "tag", "end_run"};
    mlflow__jw_key(&w, names[it->kind]);
    mlflow__jw_begin_object(&w);
    switch (it->kind) {
    case K_METRIC:
        mlflow__jw_kv_string(&w, "key", it->key);
        mlflow__jw_key(&w, "value");
        mlflow__jw_double(&w, it->value);
        mlflow__jw_kv_int64(&w, "timestamp", it->timestamp);
        mlflow__jw_kv_int64(&w, "step", it->step);
        break;
    case K_PARAM:
    case K_TAG:
        mlflow__jw_kv_string(&w, "key", it->key);
        mlflow__jw_kv_string(&w, "value", it->text);
        break;
    default:
        mlflow__jw_kv_string(&w, "status", mlflow_run_status_name(it->status));
        mlflow__jw_kv_int64(&w, "end_time", it->timestamp);
        break;
    }
    mlflow__jw_end_object(&w);
    mlflow__jw_end_object(&w);
    size_t len = 0;
    char *text = mlflow__jw_detach(&w, &len);
    if (!text) {
        out->oom = true;
        return;
    }
    mlflow__sb_add(out, text, len);
    mlflow__sb_addc(out, '\n');
    mlflow__free(text);
}

/* Appends one call's values (all of run_id) to the spill file, all or
 * nothing. Called with q->mu held. */
int mlflow__spill_append(struct mlflow__async *q, const char *run_id, const struct chain *ch,
                        struct mlflow_error *err)
{
    if (q->spill_fd < 0) {
        int rc = spill_create(q->client->tracking_uri, &q->spill_fd, &q->spill_path,
                              &q->spill_base, err);
        if (rc)
            return rc;
        q->spill_read = q->spill_base;
    }
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    for (const struct item *it = ch->head; it; it = it->next)
        spill_line(&sb, run_id, it);
    if (sb.oom) {
        mlflow__sb_release(&sb);
        return mlflow__oom(err);
    }
    off_t before = lseek(q->spill_fd, 0, SEEK_END);
    int e = write_all(q->spill_fd, sb.buf, sb.len);
    mlflow__sb_release(&sb);
    if (e) {
        /* No torn record left behind for the reader. */
        if (before >= 0 && ftruncate(q->spill_fd, before) != 0)
            e = errno;
        return sys_error(err, MLFLOW_RESOURCE_EXHAUSTED, e,
                         "The asynchronous logging queue is full and cannot spill to",
                         q->spill_path);
    }
    return MLFLOW_OK;
}

/* Parses one record line into an item; *run_id points into *doc. */
static int parse_record(const char *line, size_t n, struct item **out, const char **run_id,
                        json_object **doc)
{
    struct mlflow_error e;
    *out = NULL;
    if (mlflow__json_parse(line, n, doc, &e) != MLFLOW_OK)
        return -1;
    if (!json_object_is_type(*doc, json_type_object) ||
        mlflow__json_get_string(*doc, "run_id", MLFLOW__JSON_REQUIRED, run_id, NULL, &e))
        return -1;
    int64_t call = 0;
    mlflow__json_get_int64(*doc, "call", 0, &call, NULL, &e);
    json_object *v;
    const char *key = "", *text = "";
    struct item *it = NULL;
    if ((v = mlflow__json_member(*doc, "metric"))) {
        double value = 0;
        int64_t ts = 0, step = 0;
        if (mlflow__json_get_string(v, "key", MLFLOW__JSON_REQUIRED, &key, NULL, &e) ||
            mlflow__json_get_double(v, "value", MLFLOW__JSON_REQUIRED, &value, NULL, &e) ||
            mlflow__json_get_int64(v, "timestamp", MLFLOW__JSON_REQUIRED, &ts, NULL, &e) ||
            mlflow__json_get_int64(v, "step", 0, &step, NULL, &e))
            return -1;
        if ((it = mlflow__async_item_new(K_METRIC, key, strlen(key), "", 0))) {
            it->value = value;
            it->timestamp = ts;
            it->step = step;
        }
    } else if ((v = mlflow__json_member(*doc, "param")) ||
               (v = mlflow__json_member(*doc, "tag"))) {
        int kind = mlflow__json_member(*doc, "param") ? K_PARAM : K_TAG;
        if (mlflow__json_get_string(v, "key", MLFLOW__JSON_REQUIRED, &key, NULL, &e) ||
            mlflow__json_get_string(v, "value", 0, &text, NULL, &e))
            return -1;
        it = mlflow__async_item_new(kind, key, strlen(key), text, strlen(text));
    } else if ((v = mlflow__json_member(*doc, "end_run"))) {
        int status = 0;
        int64_t end = 0;
        if (mlflow__json_get_enum(v, "status", MLFLOW__JSON_REQUIRED, mlflow_run_status_parse,
                                  mlflow_run_status_name, &status, NULL, &e) ||
            mlflow__json_get_int64(v, "end_time", MLFLOW__JSON_REQUIRED, &end, NULL, &e))
            return -1;
        if ((it = mlflow__async_item_new(K_END, "", 0, "", 0))) {
            it->status = status;
            it->timestamp = end;
        }
    } else {
        return -1;
    }
    if (!it)
        return -2;
    it->call = (uint64_t)call;
    *out = it;
    return 0;
}

/* Reads records back from the spill file into memory (the thread, with
 * q->mu held), and empties the file once all of it has been read. */
void mlflow__spill_load(struct mlflow__async *q)
{
    size_t room = q->cap_items > q->n_mem ? q->cap_items - q->n_mem : 1;
    size_t want = room < SPILL_LOAD_MAX ? room : SPILL_LOAD_MAX;
    size_t cap = 1 << 16, len = 0, loaded = 0;
    char *buf = mlflow__malloc(cap);
    if (!buf)
        return;
    off_t at = q->spill_read;
    bool eof = false;
    while (loaded < want && q->spill_unread > 0) {
        char *nl = len ? memchr(buf, '\n', len) : NULL;
        if (!nl) {
            if (eof)
                break;
            if (len == cap) {
                char *bigger = mlflow__realloc(buf, cap * 2);
                if (!bigger)
                    break;
                buf = bigger;
                cap *= 2;
            }
            ssize_t r = pread(q->spill_fd, buf + len, cap - len, at + (off_t)len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                eof = true;
            else
                len += (size_t)r;
            continue;
        }
        size_t n = (size_t)(nl - buf);
        struct item *it = NULL;
        const char *run_id = NULL;
        json_object *doc = NULL;
        int prc = parse_record(buf, n, &it, &run_id, &doc);
        if (prc == -2) {
            json_object_put(doc);
            break; /* out of memory: try again later */
        }
        struct runq *r = prc == 0 ? mlflow__async_get_run(q, run_id) : NULL;
        json_object_put(doc);
        if (prc == 0 && !r) {
            mlflow__free(it);
            break;
        }
        if (prc == 0) {
            it->seq = q->spill_first_seq;
            it->queued_ms = 0; /* long overdue: no buffering delay */
            mlflow__async_run_append(q, r, it);
            loaded++;
        } else {
            struct mlflow_error e = {MLFLOW_DATA_LOSS, ""};
            snprintf(e.message, sizeof e.message, "a damaged record in the spill file %s "
                     "was skipped", q->spill_path);
            mlflow__async_queue_error(q, &e);
        }
        q->spill_first_seq++;
        q->spill_unread--;
        at += (off_t)n + 1;
        memmove(buf, nl + 1, len - n - 1);
        len -= n + 1;
    }
    mlflow__free(buf);
    q->spill_read = at;
    if (eof && q->spill_unread > 0 && len == 0) {
        /* The file is shorter than what was written to it. */
        struct mlflow_error e = {MLFLOW_DATA_LOSS, ""};
        snprintf(e.message, sizeof e.message, "%zu records are missing from the spill file %s",
                 q->spill_unread, q->spill_path);
        mlflow__async_queue_error(q, &e);
        q->spill_first_seq += q->spill_unread;
        q->spill_unread = 0;
    }
    if (q->spill_unread == 0 && ftruncate(q->spill_fd, q->spill_base) == 0)
        q->spill_read = q->spill_base;
}

/* Nothing more will be delivered from memory: writes every undelivered
 * value to the spill file, oldest first (the values in memory, then what
 * the file had not yet given back), or removes an empty file. Returns how
 * many values the file keeps. Called with q->mu held. */
size_t mlflow__spill_keep(struct mlflow__async *q)
{
    size_t left = q->n_mem + q->spill_unread;
    if (left == 0) {
        if (q->spill_fd >= 0) {
            close(q->spill_fd);
            unlink(q->spill_path);
            q->spill_fd = -1;
            mlflow__free(q->spill_path);
            q->spill_path = NULL;
        }
        return 0;
    }
    struct mlflow_error err;
    if (q->n_mem > 0) {
        int fd;
        char *path;
        off_t base;
        if (spill_create(q->client->tracking_uri, &fd, &path, &base, &err) != MLFLOW_OK) {
            mlflow__warn_data_loss("queued tracking data", &err);
            return 0;
        }
        /* Memory in queue order across runs, one record at a time. */
        struct item **cursor = NULL;
        size_t n_runs = 0;
        for (struct runq *r = q->runs; r; r = r->next)
            n_runs++;
        cursor = mlflow__calloc(n_runs ? n_runs : 1, sizeof *cursor);
        struct runq **runs = mlflow__calloc(n_runs ? n_runs : 1, sizeof *runs);
        int e = cursor && runs ? 0 : ENOMEM;
        size_t i = 0;
        for (struct runq *r = q->runs; r && !e; r = r->next, i++) {
            runs[i] = r;
            cursor[i] = r->head;
        }
        struct mlflow__sb sb = MLFLOW__SB_INIT;
        for (;;) {
            size_t best = n_runs;
            for (i = 0; i < n_runs && !e; i++)
                if (cursor[i] && (best == n_runs || cursor[i]->seq < cursor[best]->seq))
                    best = i;
            if (e || best == n_runs)
                break;
            spill_line(&sb, runs[best]->run_id, cursor[best]);
            cursor[best] = cursor[best]->next;
            if (sb.len > (1 << 20) || sb.oom) {
                e = sb.oom ? ENOMEM : write_all(fd, sb.buf, sb.len);
                mlflow__sb_reset(&sb);
            }
        }
        if (!e && sb.len)
            e = sb.oom ? ENOMEM : write_all(fd, sb.buf, sb.len);
        mlflow__sb_release(&sb);
        mlflow__free(cursor);
        mlflow__free(runs);
        /* Then the older file's unread tail, which is newer than memory. */
        if (!e && q->spill_fd >= 0 && q->spill_unread > 0) {
            char chunk[1 << 15];
            for (off_t at = q->spill_read;;) {
                ssize_t r = pread(q->spill_fd, chunk, sizeof chunk, at);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    e = r < 0 ? errno : 0;
                    break;
                }
                if ((e = write_all(fd, chunk, (size_t)r)))
                    break;
                at += r;
            }
        }
        /* Same name as before, if there was a file: one place to look. */
        if (!e && q->spill_path && rename(path, q->spill_path) != 0)
            e = errno;
        if (e) {
            close(fd);
            unlink(path);
            mlflow__free(path);
            mlflow__seterr_sys(&err, e, "Cannot write the asynchronous logging spill file");
            mlflow__warn_data_loss("queued tracking data", &err);
            return 0;
        }
        if (q->spill_fd >= 0) {
            close(q->spill_fd);
            mlflow__free(path);
        } else {
            q->spill_path = path;
        }
        q->spill_fd = fd;
        q->spill_base = base;
    }
    fdatasync(q->spill_fd);
    q->spill_kept = true;
    if (!q->quiet) {
        struct mlflow_error w = {q->down_err.code ? q->down_err.code : MLFLOW_DEADLINE_EXCEEDED,
                                 ""};
        snprintf(w.message, sizeof w.message,
                 "%zu queued values for %s are kept in %s; mlflow_async_replay() delivers them",
                 left, q->client->tracking_uri, q->spill_path);
        mlflow__warn_data_loss("queued tracking data", &w);
    }
    return left;
}

/* Reads the header line; *uri (malloc'ed) gets its tracking URI. */
int mlflow__spill_header(int fd, const char *path, char **uri, off_t *base,
                         struct mlflow_error *err)
{
    char buf[8192];
    ssize_t n;
    do
        n = pread(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
    json_object *doc = NULL;
    const char *u = NULL;
    struct mlflow_error e;
    if (!nl || mlflow__json_parse(buf, (size_t)(nl - buf), &doc, &e) ||
        !json_object_is_type(doc, json_type_object) || !mlflow__json_member(doc, SPILL_MAGIC) ||
        mlflow__json_get_string(doc, "tracking_uri", MLFLOW__JSON_REQUIRED, &u, NULL, &e)) {
        json_object_put(doc);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "%s is not an asynchronous logging spill file", path);
    }
    *uri = mlflow__strdup(u);
    json_object_put(doc);
    *base = (off_t)(nl - buf) + 1;
    return *uri ? MLFLOW_OK : mlflow__oom(err);
}

/* Complete record lines after the header. */
size_t mlflow__spill_count(int fd, off_t from)
{
    char chunk[1 << 15];
    size_t n = 0;
    for (off_t at = from;;) {
        ssize_t r = pread(fd, chunk, sizeof chunk, at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return n;
        for (ssize_t i = 0; i < r; i++)
            n += chunk[i] == '\n';
        at += r;
    }
}

int mlflow__spill_open(const char *path, int *fd_out, char **uri, off_t *base, size_t *count,
                       struct mlflow_error *err)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return sys_error(err,
                         errno == ENOENT ? MLFLOW_RESOURCE_DOES_NOT_EXIST
                                         : MLFLOW_INVALID_PARAMETER_VALUE,
                         errno, "Cannot open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return mlflow__seterr(err, MLFLOW_RESOURCE_CONFLICT,
                              "%s is in use by another process (still delivering it?)", path);
    }
    int rc = mlflow__spill_header(fd, path, uri, base, err);
    if (rc) {
        close(fd);
        return rc;
    }
    *count = mlflow__spill_count(fd, *base);
    *fd_out = fd;
    return MLFLOW_OK;
}
