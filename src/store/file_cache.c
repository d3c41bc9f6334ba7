/*
 * file_cache.c - the file store's run cache: the hot path of log_batch.
 *
 * MLflow re-reads a run's meta.yaml and opens, appends to and closes the
 * metric file for every logged point. Here each store keeps, per run, its
 * directory, experiment and lifecycle, plus open O_APPEND descriptors per
 * metric key, so logging one point costs one write() of one whole line.
 *
 * Other processes may change a run behind our back (delete it, move its
 * experiment to .trash). An entry is therefore re-checked with one stat() of
 * its meta.yaml when it is older than REVALIDATE_NS, and whenever this store
 * itself rewrote the file (mlflow__fcache_stale). A change of inode, size or
 * mtime re-reads the meta; a vanished file drops the entry, and the next use
 * finds the run again wherever it is now.
 *
 * Locking: one mutex guards both tables, the LRU list and every field of the
 * entries. The write() itself happens outside the lock: the descriptor is
 * pinned first, and a pinned descriptor is never closed (eviction of a
 * pinned one only detaches it; the last unpin closes it). So a descriptor
 * number is never reused under a writer's feet.
 */
#include "file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 256
#define MAX_RUNS 1024
#define REVALIDATE_NS (100 * 1000000LL)

struct mfd;

struct run_ent {
    char *run_id;
    char *dir;
    char *meta_path;
    char *exp_id;
    bool deleted;
    dev_t dev; /* identity of meta.yaml when last read */
    ino_t ino;
    off_t size;
    struct timespec mtim;
    int64_t checked; /* monotonic ns of the last check; 0 = check on next use */
    uint64_t hash;
    struct run_ent *hnext;
    struct mfd *fds; /* this run's open metric files */
    size_t nfds;
};

struct mfd {
    struct run_ent *run; /* NULL once detached (closed by the last unpin) */
    char *key;
    uint64_t hash;
    int fd;
    unsigned pins;
    bool torn; /* a write failed half way: the file may end in part of a line */
    struct mfd *hnext;
    struct mfd *rprev, *rnext; /* the run's list */
    struct mfd *prev, *next;   /* LRU, most recent after the sentinel */
};

struct fcache {
    pthread_mutex_t mu;
    struct run_ent **runs;
    size_t run_buckets, nruns;
    struct mfd **fds;
    size_t fd_buckets, nfds;
    struct mfd lru;
    size_t max_fds;
    size_t evict_cursor;
};

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    /* Never 0, which means "stale". */
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + 1;
}

struct fcache *mlflow__fcache_new(void)
{
    struct fcache *c = mlflow__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->run_buckets = 64;
    c->fd_buckets = 64;
    c->runs = mlflow__calloc(c->run_buckets, sizeof *c->runs);
    c->fds = mlflow__calloc(c->fd_buckets, sizeof *c->fds);
    if (!c->runs || !c->fds || pthread_mutex_init(&c->mu, NULL) != 0) {
        mlflow__free(c->runs);
        mlflow__free(c->fds);
        mlflow__free(c);
        return NULL;
    }
    c->lru.next = c->lru.prev = &c->lru;
    /* Leave most of the process's descriptors to the program. */
    struct rlimit rl;
    c->max_fds = MAX_FDS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < c->max_fds)
        c->max_fds = rl.rlim_cur / 4 < 8 ? 8 : (size_t)(rl.rlim_cur / 4);
    return c;
}

/* ---- descriptors ---- */

static void mfd_free(struct mfd *m)
{
    close(m->fd);
    mlflow__free(m->key);
    mlflow__free(m);
}

/* Takes m out of every table; closes it now unless a writer holds it. */
static void mfd_detach(struct fcache *c, struct mfd *m)
{
    struct mfd **pp = &c->fds[m->hash % c->fd_buckets];
    while (*pp != m)
        pp = &(*pp)->hnext;
    *pp = m->hnext;
    m->prev->next = m->next;
    m->next->prev = m->prev;
    if (m->rprev)
        m->rprev->rnext = m->rnext;
    else
        m->run->fds = m->rnext;
    if (m->rnext)
        m->rnext->rprev = m->rprev;
    m->run->nfds--;
    m->run = NULL;
    c->nfds--;
    if (m->pins == 0)
        mfd_free(m);
}

static void fd_table_grow(struct fcache *c)
{
    size_t nb = c->fd_buckets * 2;
    struct mfd **t = mlflow__calloc(nb, sizeof *t);
    if (!t)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->fd_buckets; i++) {
        for (struct mfd *m = c->fds[i], *next; m; m = next) {
            next = m->hnext;
            m->hnext = t[m->hash % nb];
            t[m->hash % nb] = m;
        }
    }
    mlflow__free(c->fds);
    c->fds = t;
    c->fd_buckets = nb;
}

/* Opens (creating) metrics/<key> beneath the run's directory: no symlink on
 * the way is followed and a FIFO is refused rather than waited on. Only the
 * first append of a key pays for this; the descriptor is kept. */
static int open_metric(const struct run_ent *e, const char *key, int *fd_out,
                       struct mlflow_error *err)
{
    char rel[FS_PATH_MAX];
    int rc = mlflow__fs_path(rel, err, "metrics/%s", key);
    if (rc)
        return rc;
    int e_no = mlflow__fs_open_below(e->dir, rel, O_WRONLY | O_APPEND | O_CREAT, fd_out);
    if (e_no)
        return mlflow__seterr_sys(err, e_no, "Cannot open metric file '%s/%s'", e->dir, rel);
    return MLFLOW_OK;
}

/* The pinned descriptor for (e, key); caller holds the lock. */
static int mfd_get(struct fcache *c, struct run_ent *e, const char *key, struct mfd **out,
                   struct mlflow_error *err)
{
    uint64_t h = fnv(key, e->hash);
    for (struct mfd *m = c->fds[h % c->fd_buckets]; m; m = m->hnext) {
        if (m->hash == h && m->run == e && strcmp(m->key, key) == 0) {
            m->prev->next = m->next;
            m->next->prev = m->prev;
            m->next = c->lru.next;
            m->prev = &c->lru;
            c->lru.next->prev = m;
            c->lru.next = m;
            m->pins++;
            *out = m;
            return MLFLOW_OK;
        }
    }
    /* Evict least recently used descriptors nobody is writing to. */
    for (struct mfd *m = c->lru.prev; c->nfds >= c->max_fds && m != &c->lru;) {
        struct mfd *prev = m->prev;
        if (m->pins == 0)
            mfd_detach(c, m);
        m = prev;
    }
    struct mfd *m = mlflow__calloc(1, sizeof *m);
    if (!m || !(m->key = mlflow__strdup(key))) {
        mlflow__free(m);
        return mlflow__oom(err);
    }
    int rc = open_metric(e, key, &m->fd, err);
    if (rc) {
        mlflow__free(m->key);
        mlflow__free(m);
        return rc;
    }
    m->run = e;
    m->hash = h;
    m->pins = 1;
    m->hnext = c->fds[h % c->fd_buckets];
    c->fds[h % c->fd_buckets] = m;
    m->rnext = e->fds;
    if (e->fds)
        e->fds->rprev = m;
    e->fds = m;
    e->nfds++;
    m->next = c->lru.next;
    m->prev = &c->lru;
    c->lru.next->prev = m;
    c->lru.next = m;
    if (++c->nfds > c->fd_buckets)
        fd_table_grow(c);
    *out = m;
    return MLFLOW_OK;
}

static void mfd_unpin(struct fcache *c, struct mfd *m)
{
    pthread_mutex_lock(&c->mu);
    if (--m->pins == 0 && !m->run)
        mfd_free(m);
    pthread_mutex_unlock(&c->mu);
}

/* ---- run entries ---- */

static void ent_free(struct run_ent *e)
{
    if (!e)
        return;
    mlflow__free(e->run_id);
    mlflow__free(e->dir);
    mlflow__free(e->meta_path);
    mlflow__free(e->exp_id);
    mlflow__free(e);
}

static void ent_drop(struct fcache *c, struct run_ent *e)
{
    while (e->fds)
        mfd_detach(c, e->fds);
    struct run_ent **pp = &c->runs[e->hash % c->run_buckets];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    c->nruns--;
    ent_free(e);
}

static struct run_ent *ent_find(struct fcache *c, const char *run_id, uint64_t h)
{
    for (struct run_ent *e = c->runs[h % c->run_buckets]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->run_id, run_id) == 0)
            return e;
    return NULL;
}

static void run_table_grow(struct fcache *c)
{
    size_t nb = c->run_buckets * 2;
    struct run_ent **t = mlflow__calloc(nb, sizeof *t);
    if (!t)
        return;
    for (size_t i = 0; i < c->run_buckets; i++) {
        for (struct run_ent *e = c->runs[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = t[e->hash % nb];
            t[e->hash % nb] = e;
        }
    }
    mlflow__free(c->runs);
    c->runs = t;
    c->run_buckets = nb;
}

static void ent_insert(struct fcache *c, struct run_ent *e)
{
    /* Bound the table: forget some run without open files. */
    for (size_t tries = 0; c->nruns >= MAX_RUNS && tries < c->run_buckets; tries++) {
        size_t b = c->evict_cursor++ % c->run_buckets;
        for (struct run_ent *v = c->runs[b]; v; v = v->hnext) {
            if (v->nfds == 0) {
                ent_drop(c, v);
                break;
            }
        }
    }
    e->hnext = c->runs[e->hash % c->run_buckets];
    c->runs[e->hash % c->run_buckets] = e;
    if (++c->nruns > c->run_buckets * 2)
        run_table_grow(c);
}

/* Reads meta.yaml's lifecycle and checks its experiment; records the
 * identity of the file as it was before the read. */
static int ent_read_meta(struct run_ent *e, struct mlflow_error *err)
{
    struct stat st;
    if (stat(e->meta_path, &st) != 0)
        return mlflow__seterr_sys(err, errno, "Cannot read '%s'", e->meta_path);
    struct mlflow_run_info *info = mlflow__obj_new(sizeof *info);
    if (!info)
        return mlflow__oom(err);
    int rc = mlflow__fs_read_run_meta(mlflow__obj_arena(info), e->dir, info, err);
    if (!rc && strcmp(info->experiment_id, e->exp_id) != 0)
        rc = mlflow__seterr(err, MLFLOW_INVALID_STATE, "Run '%s' metadata is in invalid state.",
                            e->run_id);
    if (!rc) {
        e->deleted = strcmp(info->lifecycle_stage, "active") != 0;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = st.st_size;
        e->mtim = st.st_mtim;
    }
    mlflow__obj_free(info);
    return rc;
}

static int ent_load(struct file_store *fs, const char *run_id, uint64_t h, struct run_ent **out,
                    struct mlflow_error *err)
{
    char dir[FS_PATH_MAX], exp_id[FS_ID_MAX];
    int rc = mlflow__fs_find_run(fs, run_id, dir, exp_id, err);
    if (rc)
        return rc;
    struct run_ent *e = mlflow__calloc(1, sizeof *e);
    if (!e || !(e->run_id = mlflow__strdup(run_id)) || !(e->dir = mlflow__strdup(dir)) ||
        !(e->exp_id = mlflow__strdup(exp_id)) ||
        !(e->meta_path = mlflow__path_join(dir, "meta.yaml"))) {
        ent_free(e);
        return mlflow__oom(err);
    }
    e->hash = h;
    if ((rc = ent_read_meta(e, err))) {
        ent_free(e);
        return rc;
    }
    e->checked = mono_ns();
    *out = e;
    return MLFLOW_OK;
}

/* True if e still describes the run; caller holds the lock. */
static bool ent_recheck(struct run_ent *e, int64_t now)
{
    struct stat st;
    if (stat(e->meta_path, &st) != 0)
        return false;
    if (st.st_dev != e->dev || st.st_ino != e->ino || st.st_size != e->size ||
        st.st_mtim.tv_sec != e->mtim.tv_sec || st.st_mtim.tv_nsec != e->mtim.tv_nsec) {
        struct mlflow_error ignored;
        if (ent_read_meta(e, &ignored) != MLFLOW_OK)
            return false;
    }
    e->checked = now;
    return true;
}

/* The entry for run_id, fresh enough to trust. Called with the lock held;
 * the lock is dropped while a missing run is looked up on disk, so no
 * pointer into the cache survives this call except *out. */
static int ent_get(struct file_store *fs, const char *run_id, struct run_ent **out,
                   struct mlflow_error *err)
{
    struct fcache *c = fs->cache;
    uint64_t h = fnv(run_id, 1469598103934665603ULL);
    struct run_ent *e = ent_find(c, run_id, h);
    if (e) {
        int64_t now = mono_ns();
        if (now - e->checked < REVALIDATE_NS || ent_recheck(e, now)) {
            *out = e;
            return MLFLOW_OK;
        }
        ent_drop(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    struct run_ent *loaded = NULL;
    int rc = ent_load(fs, run_id, h, &loaded, err);
    pthread_mutex_lock(&c->mu);
    if (rc)
        return rc;
    if ((e = ent_find(c, run_id, h))) {
        ent_free(loaded); /* another thread was quicker */
        *out = e;
        return MLFLOW_OK;
    }
    ent_insert(c, loaded);
    *out = loaded;
    return MLFLOW_OK;
}

static int not_active(const char *run_id, struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "The run %s must be in the 'active' state. Current state is deleted.",
                          run_id);
}

int mlflow__fcache_run_dir(struct file_store *fs, const char *run_id, bool need_active, char *dir,
                           char *exp_id, struct mlflow_error *err)
{
    struct fcache *c = fs->cache;
    struct run_ent *e;
    pthread_mutex_lock(&c->mu);
    int rc = ent_get(fs, run_id, &e, err);
    if (!rc && need_active && e->deleted)
        rc = not_active(run_id, err);
    if (!rc) {
        snprintf(dir, FS_PATH_MAX, "%s", e->dir);
        if (exp_id)
            snprintf(exp_id, FS_ID_MAX, "%s", e->exp_id);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int write_all(int fd, const char *buf, size_t len, size_t *done)
{
    *done = 0;
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        buf += w;
        len -= (size_t)w;
        *done += (size_t)w;
    }
    return 0;
}

int mlflow__fcache_append(struct file_store *fs, const char *run_id, const char *key,
                          const char *buf, size_t len, struct mlflow_error *err)
{
    struct fcache *c = fs->cache;
    struct run_ent *e;
    struct mfd *m = NULL;
    bool mend = false;
    pthread_mutex_lock(&c->mu);
    int rc = ent_get(fs, run_id, &e, err);
    if (!rc && e->deleted)
        rc = not_active(run_id, err);
    if (!rc)
        rc = mfd_get(c, e, key, &m, err);
    if (!rc) {
        mend = m->torn;
        m->torn = false;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc)
        return rc;
    /* One write() of whole lines on an O_APPEND descriptor: other writers,
     * in this process or another, can never split a line. Only a hard error
     * half way (no space left, a file size limit) leaves part of a line at
     * the end; the next append here then ends it first, so one point is
     * lost (readers skip the broken line) instead of two glued into one. */
    size_t done = 0;
    int e_no = mend ? write_all(m->fd, "\n", 1, &done) : 0;
    bool torn = e_no != 0;
    if (!e_no) {
        e_no = write_all(m->fd, buf, len, &done);
        torn = e_no && done > 0;
    }
    if (torn) {
        pthread_mutex_lock(&c->mu);
        m->torn = true;
        pthread_mutex_unlock(&c->mu);
    }
    if (e_no)
        rc = mlflow__seterr_sys(err, e_no, "Cannot append to metric '%s' of run '%s'", key,
                                run_id);
    mfd_unpin(c, m);
    return rc;
}

void mlflow__fcache_stale(struct fcache *c, const char *run_id)
{
    pthread_mutex_lock(&c->mu);
    if (run_id) {
        struct run_ent *e = ent_find(c, run_id, fnv(run_id, 1469598103934665603ULL));
        if (e)
            e->checked = 0;
    } else {
        for (size_t i = 0; i < c->run_buckets; i++)
            for (struct run_ent *e = c->runs[i]; e; e = e->hnext)
                e->checked = 0;
    }
    pthread_mutex_unlock(&c->mu);
}

void mlflow__fcache_free(struct fcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->run_buckets; i++) {
        while (c->runs[i])
            ent_drop(c, c->runs[i]);
    }
    mlflow__free(c->runs);
    mlflow__free(c->fds);
    pthread_mutex_destroy(&c->mu);
    mlflow__free(c);
}
