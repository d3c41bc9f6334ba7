/*
 * async.c - asynchronous logging, MLflow's `synchronous=False`: logging
 * calls validate, queue and return; a background thread per client sends
 * the queued values as merged log-batch requests.
 *
 * How it holds together:
 *   - A queue per client, made at its first queued value, drained by one
 *     thread. Values are validated (and truncated) when queued, so a bad key
 *     fails the call itself; what only the store can refuse (a param
 *     changed, a deleted run) surfaces at the next flush.
 *   - In memory the queue is one FIFO per run. The thread takes the run
 *     whose oldest value is oldest and sends as much of its FIFO as one
 *     request may hold (1000 metrics, 100 params, 100 tags, 1000 in all).
 *     A request ends early at a param or tag key it already carries (a
 *     request may not name a param twice) and at a queued end of run. A
 *     run's values go out in the order they were logged, so every key keeps
 *     its order.
 *   - A request the store refuses as a whole is retried one logging call at
 *     a time, so only the call the store refuses loses its values, as when
 *     logging synchronously.
 *   - Transient failures (unreachable, 5xx or 429 after the REST store's own
 *     retries) keep the values queued: the thread retries with back-off, and
 *     a flush asks for a retry at once.
 *   - Memory is bounded (values and bytes). Past the bound, values are
 *     appended to a spill file, and keep going there until the thread has
 *     read the file back, so order holds. One write(2) per logging call, no
 *     fsync: spilled values survive the process dying, not the machine. The
 *     file is fdatasync'ed when it is kept at close or exit.
 *
 * Locks: the registry lock before a queue's lock, and the fluent lock before
 * both (end_run flushes under it; fork handlers take them in that order). No
 * lock is held during a store call.
 */
#include "async_queue.h"

#include "json.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* Defaults of the MLFLOW_ASYNC_LOGGING_* variables (see mlflow.h). */
#define DEFAULT_QUEUE_SIZE 100000
#define DEFAULT_EXIT_TIMEOUT_S 10.0
/* Bytes of queued values kept in memory, whatever the count. */
#define MAX_QUEUE_BYTES ((size_t)64 << 20)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* How long a fork waits for delivery threads to leave their store calls. */
#define FORK_WAIT_MS 2000

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mlflow__async *registry;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static atomic_int global_switch = -1; /* mlflow_set_async_logging; -1: not called */
static atomic_llong exit_deadline_ms; /* monotonic; 0: not exiting */
static atomic_bool fork_delegated;
static bool fork_by_self;

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on c until signalled or until `until` (monotonic ms; < 0: none). */
static void wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t until)
{
    if (until < 0) {
        pthread_cond_wait(c, m);
        return;
    }
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(c, m, &ts);
}

/* Condition variables on the monotonic clock. */
static void init_conds(struct mlflow__async *q)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &ca);
    pthread_cond_init(&q->done, &ca);
    pthread_condattr_destroy(&ca);
}

static int env_number(const char *name, double dflt, double lo, double hi, double *out,
                      struct mlflow_error *err)
{
    const char *s = getenv(name);
    *out = dflt;
    if (!s || !*s)
        return MLFLOW_OK;
    double v;
    if (!mlflow__parse_double(s, &v) || !(v >= lo && v <= hi))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value '%.64s' for %s: expected a number from %g to %g", s,
                              name, lo, hi);
    *out = v;
    return MLFLOW_OK;
}

static int64_t exit_deadline(void)
{
    int64_t d = atomic_load(&exit_deadline_ms);
    return d ? d : -1;
}

/* The store could not be reached, or answered "later": keep the values. A
 * server's INTERNAL_ERROR is a 5xx that outlived the REST store's retries;
 * a local store's is a real failure. */
static bool is_transient(const struct mlflow__async *q, int code)
{
    switch (code) {
    case MLFLOW_TEMPORARILY_UNAVAILABLE:
    case MLFLOW_DEADLINE_EXCEEDED:
    case MLFLOW_RESOURCE_EXHAUSTED:
    case MLFLOW_REQUEST_LIMIT_EXCEEDED:
        return true;
    case MLFLOW_INTERNAL_ERROR:
        return q->remote;
    default:
        return false;
    }
}

/* ---- switches ---- */

void mlflow_set_async_logging(bool enabled)
{
    atomic_store(&global_switch, enabled ? 1 : 0);
}

void mlflow__async_client_init(struct mlflow_client *c)
{
    c->async = NULL;
    c->async_env = mlflow__env_bool("MLFLOW_ENABLE_ASYNC_LOGGING", false);
}

static bool wants_async(const struct mlflow_client *c, int mode)
{
    if (mode != MLFLOW__LOG_DEFAULT)
        return mode == MLFLOW__LOG_ASYNC;
    int g = atomic_load(&global_switch);
    return g >= 0 ? g == 1 : c->async_env;
}

static struct mlflow__async *queue_of(struct mlflow_client *c)
{
    return __atomic_load_n(&c->async, __ATOMIC_ACQUIRE);
}

bool mlflow__async_in_use(struct mlflow_client *c)
{
    return queue_of(c) != NULL;
}

/* ---- items ---- */

struct item *mlflow__async_item_new(int kind, const char *key, size_t klen, const char *text,
                                    size_t tlen)
{
    size_t size = sizeof(struct item) + klen + tlen + 2;
    struct item *it = mlflow__malloc(size);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    char *k = (char *)(it + 1);
    memcpy(k, key, klen);
    k[klen] = '\0';
    char *t = k + klen + 1;
    memcpy(t, text, tlen);
    t[tlen] = '\0';
    it->key = k;
    it->text = t;
    it->kind = kind;
    it->size = size;
    return it;
}

static void chain_add(struct chain *ch, struct item *it)
{
    it->next = NULL;
    if (ch->tail)
        ch->tail->next = it;
    else
        ch->head = it;
    ch->tail = it;
    ch->n++;
    ch->bytes += it->size;
}

static void chain_free(struct chain *ch)
{
    for (struct item *it = ch->head, *next; it; it = next) {
        next = it->next;
        mlflow__free(it);
    }
    memset(ch, 0, sizeof *ch);
}

/* Validates one call's values as the synchronous path does and copies them
 * into items: params, then metrics, then tags (the order of a batch). */
static int build_chain(const char *run_id, const struct mlflow_metric *m, size_t nm,
                       const struct mlflow_kv *p, size_t np, const struct mlflow_kv *t, size_t nt,
                       struct chain *ch, struct mlflow_error *err)
{
    int rc = mlflow__validate_run_id(run_id, err);
    if (rc)
        return rc;
    if ((rc = mlflow__check_batch(m, nm, p, np, t, nt, err)))
        return rc;
    for (int pass = 0; pass < 3; pass++) {
        const struct mlflow_kv *kv = pass == 0 ? p : t;
        size_t n = pass == 0 ? np : pass == 1 ? nm : nt;
        for (size_t i = 0; i < n; i++) {
            struct item *it;
            if (pass == 1) {
                if ((rc = mlflow__validate_metric(&m[i], err)))
                    goto fail;
                it = mlflow__async_item_new(K_METRIC, m[i].key, strlen(m[i].key), "", 0);
                if (it) {
                    it->value = m[i].value;
                    it->timestamp = m[i].timestamp;
                    it->step = m[i].step;
                }
            } else {
                const char *kind = pass == 0 ? "param" : "tag";
                const char *v = kv[i].value ? kv[i].value : "";
                size_t keep;
                if ((rc = mlflow__validate_key(kind, kv[i].key, err)) ||
                    (rc = mlflow__validate_value(kind, kv[i].key, v,
                                                 pass == 0 ? MLFLOW_MAX_PARAM_VAL_LENGTH
                                                           : MLFLOW_MAX_TAG_VAL_LENGTH,
                                                 &keep, err)))
                    goto fail;
                it = mlflow__async_item_new(pass == 0 ? K_PARAM : K_TAG, kv[i].key,
                                            strlen(kv[i].key), v, keep);
            }
            if (!it) {
                rc = mlflow__oom(err);
                goto fail;
            }
            chain_add(ch, it);
        }
    }
    return MLFLOW_OK;
fail:
    chain_free(ch);
    return rc;
}

/* ---- runs ---- */

static struct runq *find_run(struct mlflow__async *q, const char *run_id)
{
    for (struct runq *r = q->runs; r; r = r->next)
        if (strcmp(r->run_id, run_id) == 0)
            return r;
    return NULL;
}

struct runq *mlflow__async_get_run(struct mlflow__async *q, const char *run_id)
{
    struct runq *r = find_run(q, run_id);
    if (r)
        return r;
    size_t n = strlen(run_id) + 1;
    r = mlflow__calloc(1, sizeof *r + n);
    if (!r)
        return NULL;
    memcpy(r->run_id, run_id, n);
    r->next = q->runs;
    q->runs = r;
    return r;
}

/* Frees r once it holds nothing: no values and no error to report. */
static void drop_run_if_idle(struct mlflow__async *q, struct runq *r)
{
    if (r->head || r->err_id)
        return;
    for (struct runq **pp = &q->runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            mlflow__free(r);
            return;
        }
}

void mlflow__async_run_append(struct mlflow__async *q, struct runq *r, struct item *it)
{
    it->next = NULL;
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    q->n_mem++;
    q->bytes_mem += it->size;
}

/* Unlinks the first n values of r; the caller frees the chain it gets
 * (outside the lock, when it can). */
static struct item *run_detach(struct mlflow__async *q, struct runq *r, size_t n)
{
    struct item *first = r->head, *last = NULL;
    while (n-- && r->head) {
        last = r->head;
        r->head = last->next;
        q->n_mem--;
        q->bytes_mem -= last->size;
    }
    if (!r->head)
        r->tail = NULL;
    if (last)
        last->next = NULL;
    return last ? first : NULL;
}

static void items_free(struct item *it)
{
    for (struct item *next; it; it = next) {
        next = it->next;
        mlflow__free(it);
    }
}

static void run_pop(struct mlflow__async *q, struct runq *r, size_t n)
{
    items_free(run_detach(q, r, n));
}

/* The run whose first value was queued first. */
static struct runq *oldest_run(struct mlflow__async *q)
{
    struct runq *best = NULL;
    for (struct runq *r = q->runs; r; r = r->next)
        if (r->head && (!best || r->head->seq < best->head->seq))
            best = r;
    return best;
}

/* A value queued before `target` (of run_id, or of any run when NULL) is
 * still undelivered. Spilled records are not sorted by run: any counts. */
static bool pending_before(struct mlflow__async *q, uint64_t target, const char *run_id)
{
    for (struct runq *r = q->runs; r; r = r->next)
        if (r->head && r->head->seq < target && (!run_id || strcmp(r->run_id, run_id) == 0))
            return true;
    return q->spill_unread > 0 && q->spill_first_seq < target;
}

static size_t pending_count(const struct mlflow__async *q)
{
    return q->n_mem + q->spill_unread;
}

/* ---- errors ---- */

static void record_error(struct mlflow__async *q, struct runq *r, const struct mlflow_error *e)
{
    struct mlflow_error x = {.code = e->code};
    snprintf(x.message, sizeof x.message, "Queued values for run %.256s were not stored: %.700s",
             r->run_id, e->message);
    uint64_t id = ++q->err_ids;
    if (!r->err_id) {
        r->err_id = id;
        r->err = x;
    }
    if (!q->err_id) {
        q->err_id = id;
        q->err = x;
    }
}

/* A failure that belongs to no run (a damaged spill file). */
void mlflow__async_queue_error(struct mlflow__async *q, const struct mlflow_error *e)
{
    uint64_t id = ++q->err_ids;
    if (!q->err_id) {
        q->err_id = id;
        q->err = *e;
    }
}

/* After the queue-wide error was handed out through a run flush, the next
 * oldest run error (if any) becomes the queue-wide one. */
static void promote_next_error(struct mlflow__async *q)
{
    q->err_id = 0;
    for (struct runq *r = q->runs; r; r = r->next)
        if (r->err_id && (!q->err_id || r->err_id < q->err_id)) {
            q->err_id = r->err_id;
            q->err = r->err;
        }
}

/* Moves the first error since the last flush (of run_id, or of any run)
 * into *err; returns its code, 0 if none. */
static int take_error(struct mlflow__async *q, const char *run_id, struct mlflow_error *err)
{
    if (run_id) {
        struct runq *r = find_run(q, run_id);
        if (!r || !r->err_id)
            return MLFLOW_OK;
        *err = r->err;
        bool was_first = q->err_id == r->err_id;
        r->err_id = 0;
        drop_run_if_idle(q, r);
        if (was_first)
            promote_next_error(q);
        return err->code;
    }
    if (!q->err_id)
        return MLFLOW_OK;
    *err = q->err;
    q->err_id = 0;
    for (struct runq *r = q->runs, *next; r; r = next) {
        next = r->next;
        r->err_id = 0;
        drop_run_if_idle(q, r);
    }
    return err->code;
}

/* ---- the delivery thread ---- */

struct batch {
    struct runq *r;
    size_t n;          /* values taken from the head of r */
    size_t nm, np, nt;
    size_t calls;      /* distinct logging calls among them */
    uint64_t last_seq;
    bool end;
    int status;
    int64_t end_time;
};

static bool has_key(const struct mlflow_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return true;
    return false;
}

/* The longest prefix of r's FIFO that is one valid request. */
static void build_batch(struct mlflow__async *q, struct runq *r, struct batch *b)
{
    memset(b, 0, sizeof *b);
    b->r = r;
    struct item *it = r->head;
    if (it->kind == K_END) {
        b->end = true;
        b->status = it->status;
        b->end_time = it->timestamp;
        b->n = b->calls = 1;
        b->last_seq = it->seq;
        return;
    }
    bool isolate = q->isolating && it->seq <= q->isolate_upto;
    uint64_t first_call = it->call, last_call = it->call;
    b->calls = 1;
    for (; it; it = it->next) {
        if (it->kind == K_END || (isolate && it->call != first_call) ||
            b->nm + b->np + b->nt == MLFLOW_MAX_ENTITIES_PER_BATCH)
            break;
        if (it->kind == K_METRIC) {
            if (b->nm == MLFLOW_MAX_METRICS_PER_BATCH)
                break;
            q->bm[b->nm++] = (struct mlflow_metric){it->key, it->value, it->timestamp, it->step};
        } else if (it->kind == K_PARAM) {
            if (b->np == MLFLOW_MAX_PARAMS_TAGS_PER_BATCH || has_key(q->bp, b->np, it->key))
                break;
            q->bp[b->np++] = (struct mlflow_kv){it->key, it->text};
        } else {
            if (b->nt == MLFLOW_MAX_PARAMS_TAGS_PER_BATCH || has_key(q->bt, b->nt, it->key))
                break;
            q->bt[b->nt++] = (struct mlflow_kv){it->key, it->text};
        }
        if (it->call != last_call) {
            b->calls++;
            last_call = it->call;
        }
        b->n++;
        b->last_seq = it->seq;
    }
}

static int deliver(struct mlflow__async *q, const struct batch *b, struct mlflow_error *err)
{
    struct mlflow_client *c = q->client;
    if (b->end)
        return c->store->ops->update_run(c->store, b->r->run_id, b->status, b->end_time, NULL,
                                         NULL, err);
    return mlflow__client_log_batch(c, b->r->run_id, q->bm, b->nm, q->bp, b->np, q->bt, b->nt,
                                    err);
}

static void *worker_main(void *arg)
{
    struct mlflow__async *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stop && !q->closed) {
        int64_t now = mono_ms();
        if (q->fork_hold) {
            wait_until(&q->work, &q->mu, -1);
            continue;
        }
        if (q->failures && !q->kick && now < q->retry_at_ms) {
            wait_until(&q->work, &q->mu, q->retry_at_ms);
            continue;
        }
        if (q->n_mem == 0 && q->spill_unread > 0)
            mlflow__spill_load(q);
        struct runq *r = oldest_run(q);
        if (!r) {
            q->idle = true;
            wait_until(&q->work, &q->mu, -1);
            q->idle = false;
            continue;
        }
        /* MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS: let values gather into
         * bigger requests, unless a flush is waiting or memory fills. */
        int64_t ready = r->head->queued_ms + q->linger_ms;
        if (q->linger_ms > 0 && !q->kick && now < ready && q->n_mem < q->cap_items / 2) {
            wait_until(&q->work, &q->mu, ready);
            continue;
        }
        struct batch b;
        build_batch(q, r, &b);
        uint64_t attempt = ++q->attempts;
        q->kick = false;
        q->in_call = true;
        pthread_mutex_unlock(&q->mu);
        struct mlflow_error err = {0};
        int rc = deliver(q, &b, &err);
        pthread_mutex_lock(&q->mu);
        q->in_call = false;
        if (q->fork_hold)
            pthread_cond_broadcast(&q->done);
        if (q->closed)
            break; /* exit took the values over, this batch included */
        if (rc && is_transient(q, rc)) {
            q->failures++;
            q->failed_attempt = attempt;
            q->down_err = err;
            int64_t wait = BACKOFF_MIN_MS;
            for (int i = 1; i < q->failures && wait < BACKOFF_MAX_MS; i++)
                wait *= 2;
            q->retry_at_ms = mono_ms() + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
        } else if (rc && b.calls > 1) {
            /* Find the call the store refuses: one call per request. */
            q->failures = 0;
            q->isolating = true;
            q->isolate_upto = b.last_seq;
        } else {
            q->failures = 0;
            if (rc)
                record_error(q, r, &err);
            struct item *done = run_detach(q, r, b.n);
            if (q->isolating && b.last_seq >= q->isolate_upto)
                q->isolating = false;
            drop_run_if_idle(q, r);
            pthread_cond_broadcast(&q->done);
            /* A thousand frees are not done holding up the loggers. */
            pthread_mutex_unlock(&q->mu);
            items_free(done);
            pthread_mutex_lock(&q->mu);
            continue;
        }
        pthread_cond_broadcast(&q->done);
    }
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Starts the thread (q->mu held), with every signal blocked in it so the
 * program's handlers never run there. */
static bool start_thread(struct mlflow__async *q)
{
    if (q->thread_running)
        return true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&q->thread, NULL, worker_main, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    q->thread_running = rc == 0;
    return q->thread_running;
}

/* ---- queues ---- */

static void at_exit_hook(void);
static void own_prepare(void);
static void own_parent(void);
static void own_child(void);

static void install_hooks(void)
{
    atexit(at_exit_hook);
    pthread_atfork(own_prepare, own_parent, own_child);
}

static void queue_free(struct mlflow__async *q)
{
    for (struct runq *r = q->runs, *next; r; r = next) {
        next = r->next;
        run_pop(q, r, SIZE_MAX);
        mlflow__free(r);
    }
    q->runs = NULL;
    if (q->spill_fd >= 0)
        close(q->spill_fd);
    mlflow__free(q->spill_path);
    mlflow__free(q->bm);
    mlflow__free(q->bp);
    mlflow__free(q->bt);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
    mlflow__free(q);
}

static int queue_new(struct mlflow_client *c, struct mlflow__async **out, struct mlflow_error *err)
{
    double size, linger;
    int rc = env_number("MLFLOW_ASYNC_LOGGING_QUEUE_SIZE", DEFAULT_QUEUE_SIZE, 1, 1e9, &size,
                        err);
    if (!rc)
        rc = env_number("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", 0, 0, 3600, &linger, err);
    if (rc)
        return rc;
    struct mlflow__async *q = mlflow__calloc(1, sizeof *q);
    if (!q)
        return mlflow__oom(err);
    q->bm = mlflow__malloc(MLFLOW_MAX_METRICS_PER_BATCH * sizeof *q->bm);
    q->bp = mlflow__malloc(MLFLOW_MAX_PARAMS_TAGS_PER_BATCH * sizeof *q->bp);
    q->bt = mlflow__malloc(MLFLOW_MAX_PARAMS_TAGS_PER_BATCH * sizeof *q->bt);
    if (!q->bm || !q->bp || !q->bt) {
        mlflow__free(q->bm);
        mlflow__free(q->bp);
        mlflow__free(q->bt);
        mlflow__free(q);
        return mlflow__oom(err);
    }
    pthread_mutex_init(&q->mu, NULL);
    init_conds(q);
    q->client = c;
    q->pid = getpid();
    q->remote = c->store->ops->remote;
    q->cap_items = (size_t)size;
    q->cap_bytes = MAX_QUEUE_BYTES;
    q->linger_ms = (int64_t)(linger * 1000);
    q->spill_fd = -1;
    q->next_call = 1;
    *out = q;
    return MLFLOW_OK;
}

/* The client's queue, made on first use. */
static int queue_get(struct mlflow_client *c, struct mlflow__async **out,
                     struct mlflow_error *err)
{
    if ((*out = queue_of(c)))
        return MLFLOW_OK;
    pthread_once(&hooks_once, install_hooks);
    int rc = MLFLOW_OK;
    pthread_mutex_lock(&reg_mu);
    if (!(*out = c->async) && !(rc = queue_new(c, out, err))) {
        (*out)->reg_next = registry;
        registry = *out;
        __atomic_store_n(&c->async, *out, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

#define NOT_QUEUED 1

/* Queues one call's values (all for run_id): in memory while there is
 * room and nothing waits in the spill file, else appended to the file.
 * NOT_QUEUED: the caller delivers synchronously (no thread can run). */
static int enqueue(struct mlflow__async *q, const char *run_id, struct chain *ch,
                   struct mlflow_error *err)
{
    int rc = MLFLOW_OK;
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        /* After exit: append behind what the file keeps, else the caller
         * writes directly. */
        rc = q->spill_kept && q->spill_fd >= 0 ? mlflow__spill_append(q, run_id, ch, err)
                                                : NOT_QUEUED;
        pthread_mutex_unlock(&q->mu);
        chain_free(ch);
        return rc;
    }
    if (!start_thread(q)) {
        pthread_mutex_unlock(&q->mu);
        chain_free(ch);
        return NOT_QUEUED;
    }
    uint64_t call = q->next_call++;
    int64_t now = mono_ms();
    for (struct item *it = ch->head; it; it = it->next) {
        it->seq = q->next_seq++;
        it->call = call;
        it->queued_ms = now;
    }
    struct runq *r = NULL;
    bool to_file = q->spill_unread > 0 || q->n_mem + ch->n > q->cap_items ||
                   q->bytes_mem + ch->bytes > q->cap_bytes;
    if (!to_file && !(r = mlflow__async_get_run(q, run_id)))
        rc = mlflow__oom(err);
    if (!rc && to_file) {
        rc = mlflow__spill_append(q, run_id, ch, err);
        if (!rc) {
            if (q->spill_unread == 0)
                q->spill_first_seq = ch->head->seq;
            q->spill_unread += ch->n;
        }
        chain_free(ch);
    } else if (!rc) {
        for (struct item *it = ch->head, *next; it; it = next) {
            next = it->next;
            mlflow__async_run_append(q, r, it);
        }
        memset(ch, 0, sizeof *ch);
    } else {
        chain_free(ch);
    }
    /* A thread that is busy or lingering finds the values by itself;
     * lingering ends early once memory is half full. */
    if (q->idle || (q->linger_ms > 0 && q->n_mem >= q->cap_items / 2))
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int mlflow__client_log(struct mlflow_client *c, const char *run_id,
                       const struct mlflow_metric *metrics, size_t n_metrics,
                       const struct mlflow_kv *params, size_t n_params,
                       const struct mlflow_kv *tags, size_t n_tags, int mode,
                       struct mlflow_error *err)
{
    if (!c)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "client is NULL");
    if (!wants_async(c, mode))
        return mlflow__client_log_batch_chunked(c, run_id, metrics, n_metrics, params, n_params,
                                                tags, n_tags, err);
    struct chain ch = {0};
    int rc = build_chain(run_id, metrics, n_metrics, params, n_params, tags, n_tags, &ch, err);
    if (rc)
        return rc;
    if (!ch.n)
        return MLFLOW_OK;
    struct mlflow__async *q;
    if ((rc = queue_get(c, &q, err))) {
        chain_free(&ch);
        return rc;
    }
    rc = enqueue(q, run_id, &ch, err);
    if (rc == NOT_QUEUED)
        return mlflow__client_log_batch_chunked(c, run_id, metrics, n_metrics, params, n_params,
                                                tags, n_tags, err);
    return rc;
}

/* ---- flushing ---- */

/* Waits until every value queued before the call (of run_id, or all) was
 * delivered or refused, an attempt that began after the call failed
 * transiently, or `deadline` (monotonic ms, < 0: none) passed. Returns the
 * first refusal since the last flush (*refused), else the reason values
 * are still pending (*pending tells whether some are). */
static int flush_queue(struct mlflow__async *q, const char *run_id, int64_t deadline,
                       bool *pending, bool *refused, struct mlflow_error *err)
{
    pthread_mutex_lock(&q->mu);
    *pending = *refused = false;
    if (q->pid != getpid()) { /* a child's copy (fork handlers reset it) */
        pthread_mutex_unlock(&q->mu);
        return MLFLOW_OK;
    }
    uint64_t target = q->next_seq, started = q->attempts;
    bool timed_out = false;
    while (!q->closed && pending_before(q, target, run_id)) {
        if (q->failed_attempt > started)
            break;
        if (!start_thread(q)) {
            timed_out = true;
            break;
        }
        if (deadline >= 0 && mono_ms() >= deadline) {
            timed_out = true;
            break;
        }
        q->kick = true;
        pthread_cond_signal(&q->work);
        wait_until(&q->done, &q->mu, deadline);
    }
    *pending = q->closed ? q->spill_kept : pending_before(q, target, run_id);
    int rc = take_error(q, run_id, err);
    *refused = rc != MLFLOW_OK;
    if (!rc && *pending) {
        size_t left = pending_count(q);
        if (q->closed)
            rc = mlflow__seterr(err, MLFLOW_TEMPORARILY_UNAVAILABLE,
                                "%zu queued values for %s are kept in %s", left,
                                q->client->tracking_uri, q->spill_path ? q->spill_path : "");
        else if (timed_out)
            rc = mlflow__seterr(err, MLFLOW_DEADLINE_EXCEEDED,
                                "%zu queued values for %s were not delivered in time; they stay "
                                "queued",
                                left, q->client->tracking_uri);
        else
            rc = mlflow__seterr(err, q->down_err.code,
                                "%zu queued values stay queued: the tracking store cannot be "
                                "reached: %s",
                                left, q->down_err.message);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int mlflow__async_flush(struct mlflow_client *c, struct mlflow_error *err)
{
    struct mlflow__async *q = c ? queue_of(c) : NULL;
    bool pending, refused;
    return q ? flush_queue(q, NULL, exit_deadline(), &pending, &refused, err) : MLFLOW_OK;
}

int mlflow__async_end_run(struct mlflow_client *c, const char *run_id, int status,
                          int64_t end_time, struct mlflow_error *flush_err)
{
    flush_err->code = 0;
    flush_err->message[0] = '\0';
    struct mlflow__async *q = queue_of(c);
    if (!q)
        return MLFLOW_OK;
    bool pending, refused;
    struct mlflow_error why = {0};
    int rc = flush_queue(q, run_id, exit_deadline(), &pending, &refused, &why);
    if (!pending) {
        if (rc)
            *flush_err = why;
        return MLFLOW_OK;
    }
    /* The run's values cannot be delivered now: its end goes behind them,
     * so the run is never marked ended before its data is in. */
    struct chain ch = {0};
    struct item *it = mlflow__async_item_new(K_END, "", 0, "", 0);
    if (!it) {
        *flush_err = why;
        return MLFLOW_OK;
    }
    it->status = status;
    it->timestamp = end_time;
    chain_add(&ch, it);
    struct mlflow_error qerr = {0};
    if (enqueue(q, run_id, &ch, &qerr) != MLFLOW_OK) {
        *flush_err = why;
        return MLFLOW_OK;
    }
    flush_err->code = why.code;
    snprintf(flush_err->message, sizeof flush_err->message,
             "Run %.256s: its end (%s) is queued behind its undelivered values: %.700s", run_id,
             mlflow_run_status_name(status), why.message);
    return MLFLOW__ASYNC_QUEUED;
}

/* ---- close, exit ---- */

void mlflow__async_close(struct mlflow_client *c)
{
    struct mlflow__async *q = queue_of(c);
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    bool exited = q->closed;
    pthread_mutex_unlock(&q->mu);
    if (exited)
        return; /* the process is exiting: its thread may still be busy */
    if (q->pid == getpid()) {
        struct mlflow_error e = {0};
        bool pending, refused;
        flush_queue(q, NULL, exit_deadline(), &pending, &refused, &e);
        if (refused && !q->quiet) /* refused values nobody flushed for */
            mlflow__warn_data_loss("queued tracking data", &e);
    }
    pthread_mutex_lock(&reg_mu);
    for (struct mlflow__async **pp = &registry; *pp; pp = &(*pp)->reg_next)
        if (*pp == q) {
            *pp = q->reg_next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->work);
    bool joined = q->thread_running;
    pthread_mutex_unlock(&q->mu);
    if (joined)
        pthread_join(q->thread, NULL);
    pthread_mutex_lock(&q->mu);
    exited = q->closed; /* exit began meanwhile and kept the values itself */
    if (!exited && q->pid == getpid())
        mlflow__spill_keep(q);
    pthread_mutex_unlock(&q->mu);
    if (exited)
        return;
    __atomic_store_n(&c->async, NULL, __ATOMIC_RELEASE);
    queue_free(q);
}

void mlflow__async_exit_begin(void)
{
    double s;
    struct mlflow_error e;
    if (env_number("MLFLOW_ASYNC_LOGGING_EXIT_TIMEOUT_SECONDS", DEFAULT_EXIT_TIMEOUT_S, 0, 86400,
                   &s, &e))
        s = DEFAULT_EXIT_TIMEOUT_S;
    long long expected = 0, deadline = (long long)(mono_ms() + (int64_t)(s * 1000)) | 1;
    atomic_compare_exchange_strong(&exit_deadline_ms, &expected, deadline);
}

/* Delivers what can be delivered before the deadline; the rest goes to the
 * spill files. Queues stay allocated (their threads may be inside a
 * request) and reachable from the registry. */
void mlflow__async_at_exit(void)
{
    mlflow__async_exit_begin();
    pthread_mutex_lock(&reg_mu);
    for (struct mlflow__async *q = registry; q; q = q->reg_next) {
        if (q->pid != getpid() || q->closed)
            continue;
        struct mlflow_error e = {0};
        bool pending, refused;
        flush_queue(q, NULL, exit_deadline(), &pending, &refused, &e);
        if (refused && !q->quiet)
            mlflow__warn_data_loss("queued tracking data", &e);
        pthread_mutex_lock(&q->mu);
        q->closed = true;
        pthread_cond_signal(&q->work);
        mlflow__spill_keep(q);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}

static void at_exit_hook(void)
{
    mlflow__async_at_exit();
}

/* ---- fork ---- */

void mlflow__async_fork_delegate(void)
{
    atomic_store(&fork_delegated, true);
}

/* Besides our locks, a thread inside a store call holds the store's and
 * its libraries' (libcurl, SQLite): the fork waits, a bounded time, for
 * delivery threads to come out of their calls, and holds them out until
 * it is done. */
void mlflow__async_fork_prepare(void)
{
    int64_t until = mono_ms() + FORK_WAIT_MS;
    pthread_mutex_lock(&reg_mu);
    for (struct mlflow__async *q = registry; q; q = q->reg_next) {
        pthread_mutex_lock(&q->mu);
        q->fork_hold = true;
        while (q->in_call && q->pid == getpid() && mono_ms() < until)
            wait_until(&q->done, &q->mu, until);
    }
}

void mlflow__async_fork_parent(void)
{
    for (struct mlflow__async *q = registry; q; q = q->reg_next) {
        q->fork_hold = false;
        pthread_cond_signal(&q->work);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}

/* The child has no delivery threads, and the values queued so far are its
 * parent's to deliver: it drops them and starts afresh. The locks taken by
 * prepare are this thread's in the child too; condition variables may
 * record waiters that no longer exist, so they are made anew. */
void mlflow__async_fork_child(void)
{
    for (struct mlflow__async *q = registry; q; q = q->reg_next) {
        init_conds(q);
        for (struct runq *r = q->runs, *next; r; r = next) {
            next = r->next;
            run_pop(q, r, SIZE_MAX);
            mlflow__free(r);
        }
        q->runs = NULL;
        q->n_mem = q->bytes_mem = 0;
        if (q->spill_fd >= 0)
            close(q->spill_fd); /* the parent's file stays the parent's */
        q->spill_fd = -1;
        mlflow__free(q->spill_path);
        q->spill_path = NULL;
        q->spill_unread = 0;
        q->spill_kept = false;
        q->thread_running = q->stop = q->closed = q->kick = q->isolating = false;
        q->in_call = q->fork_hold = q->idle = false;
        q->failures = 0;
        q->err_id = 0;
        q->pid = getpid();
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}

static void own_prepare(void)
{
    fork_by_self = !atomic_load(&fork_delegated);
    if (fork_by_self)
        mlflow__async_fork_prepare();
}

static void own_parent(void)
{
    if (fork_by_self)
        mlflow__async_fork_parent();
}

static void own_child(void)
{
    if (fork_by_self)
        mlflow__async_fork_child();
}

/* ---- public: flush and replay ---- */

char *mlflow__async_spill_path(struct mlflow_client *c)
{
    struct mlflow__async *q = queue_of(c);
    if (!q)
        return NULL;
    pthread_mutex_lock(&q->mu);
    char *p = q->spill_path ? mlflow__strdup(q->spill_path) : NULL;
    pthread_mutex_unlock(&q->mu);
    return p;
}

int mlflow_client_flush(struct mlflow_client *c)
{
    struct mlflow_error err = {0};
    if (!c)
        return mlflow__publish((mlflow__seterr(&err, MLFLOW_INVALID_PARAMETER_VALUE,
                                               "client is NULL"),
                                &err));
    int rc = mlflow__async_flush(c, &err);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}

static int replay(const char *path, const char *tracking_uri, struct mlflow_error *err)
{
    if (!path || !*path)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "spill_path is empty");
    int fd;
    char *uri = NULL;
    off_t base;
    size_t count;
    int rc = mlflow__spill_open(path, &fd, &uri, &base, &count, err);
    if (rc)
        return rc;
    struct mlflow_client *c = NULL;
    rc = mlflow__client_open(tracking_uri && *tracking_uri ? tracking_uri : uri, &c, err);
    mlflow__free(uri);
    char *own = NULL;
    struct mlflow__async *q = NULL;
    if (!rc && !(own = mlflow__strdup(path)))
        rc = mlflow__oom(err);
    if (!rc)
        rc = queue_get(c, &q, err);
    if (rc) {
        close(fd);
        mlflow__free(own);
        mlflow_client_close(c);
        return rc;
    }
    /* The file becomes this queue's spill file, read from the start. */
    pthread_mutex_lock(&q->mu);
    q->quiet = true;
    q->spill_fd = fd;
    q->spill_path = own;
    q->spill_base = q->spill_read = base;
    q->spill_unread = count;
    q->spill_first_seq = q->next_seq;
    q->next_seq += q->spill_unread;
    pthread_mutex_unlock(&q->mu);
    bool pending, refused;
    rc = flush_queue(q, NULL, -1, &pending, &refused, err);
    mlflow_client_close(c);
    return rc;
}

int mlflow_async_replay(const char *spill_path, const char *tracking_uri)
{
    struct mlflow_error err = {0};
    int rc = replay(spill_path, tracking_uri, &err);
    return rc ? mlflow__publish(&err) : MLFLOW_OK;
}
