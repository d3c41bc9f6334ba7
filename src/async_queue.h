/*
 * async_queue.h - the queue's insides, shared by async.c (the queue and its
 * thread) and async_spill.c (its spill file) only. Everything else goes
 * through async.h.
 */
#ifndef MLFLOW_ASYNC_QUEUE_H
#define MLFLOW_ASYNC_QUEUE_H

#include "async.h"

#include <pthread.h>
#include <sys/types.h>

enum kind { K_METRIC, K_PARAM, K_TAG, K_END };

/* One queued value, key and text in the same block. */
struct item {
    struct item *next;
    uint64_t seq;       /* queue order */
    uint64_t call;      /* the logging call it came from */
    int64_t queued_ms;  /* monotonic, for the buffering delay */
    int64_t timestamp;  /* metric; K_END: the end time */
    int64_t step;
    double value;
    size_t size;
    int kind;
    int status;         /* K_END */
    const char *key;
    const char *text;   /* param or tag value */
};

struct runq {
    struct runq *next;
    struct item *head, *tail;
    uint64_t err_id;          /* 0: no error waiting for a flush */
    struct mlflow_error err;
    char run_id[];
};

struct mlflow__async {
    struct mlflow__async *reg_next;
    struct mlflow_client *client;
    pid_t pid;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread waits here for values, kicks, stop */
    pthread_cond_t done; /* flushers wait here for progress */
    pthread_t thread;
    bool thread_running;
    bool stop;           /* close: the thread ends */
    bool closed;         /* exit: nothing more is delivered from memory */
    bool kick;           /* a flush wants an attempt now */
    bool in_call;        /* the thread is inside a store call */
    bool idle;           /* the thread waits for values (needs a signal) */
    bool fork_hold;      /* a fork is being prepared: start no store call */
    bool quiet;          /* replay: the caller gets the result, no warning line */
    bool remote;
    /* memory */
    struct runq *runs;
    size_t n_mem, bytes_mem, cap_items, cap_bytes;
    int64_t linger_ms;
    uint64_t next_seq, next_call;
    /* delivery */
    uint64_t attempts;        /* started so far */
    uint64_t failed_attempt;  /* number of the last one that failed transiently */
    int failures;             /* transient failures in a row */
    int64_t retry_at_ms;
    struct mlflow_error down_err;
    bool isolating;           /* values up to isolate_upto go one call per request */
    uint64_t isolate_upto;
    /* refused values, since the last flush */
    uint64_t err_ids;
    uint64_t err_id;
    struct mlflow_error err;
    /* spill file */
    int spill_fd;
    char *spill_path;
    off_t spill_base;         /* where records start, after the header line */
    off_t spill_read;         /* next record to read back */
    size_t spill_unread;
    uint64_t spill_first_seq; /* seq of the record at spill_read */
    bool spill_kept;          /* closed with values left in the file */
    /* the thread's request buffers */
    struct mlflow_metric *bm;
    struct mlflow_kv *bp, *bt;
};

struct chain {
    struct item *head, *tail;
    size_t n, bytes;
};

/* Queue helpers from async.c (q->mu held where a queue is passed). */
MLFLOW_INTERNAL struct item *mlflow__async_item_new(int kind, const char *key, size_t klen,
                                                    const char *text, size_t tlen);
MLFLOW_INTERNAL struct runq *mlflow__async_get_run(struct mlflow__async *q, const char *run_id);
MLFLOW_INTERNAL void mlflow__async_run_append(struct mlflow__async *q, struct runq *r,
                                              struct item *it);
/* A failure that belongs to no run (a damaged spill file). */
MLFLOW_INTERNAL void mlflow__async_queue_error(struct mlflow__async *q,
                                               const struct mlflow_error *e);

/* The spill file (async_spill.c), q->mu held. */
/* Appends one call's values (all of run_id) to q's file, creating it on
 * first use; all or nothing. RESOURCE_EXHAUSTED when it cannot. */
MLFLOW_INTERNAL int mlflow__spill_append(struct mlflow__async *q, const char *run_id,
                                         const struct chain *ch, struct mlflow_error *err);
/* The thread reads records back into memory (as many as memory has room
 * for, at most 1000) and truncates the file once all are read. */
MLFLOW_INTERNAL void mlflow__spill_load(struct mlflow__async *q);
/* Nothing more will be delivered from memory: every undelivered value goes
 * to the file, oldest first, which is fdatasync'ed and kept (one warning
 * line names it unless q->quiet); an empty file is removed. Returns how
 * many values the file keeps. */
MLFLOW_INTERNAL size_t mlflow__spill_keep(struct mlflow__async *q);
/* Opens an existing spill file for replay: locked, *uri (malloc'ed) from
 * its header, *base where records start, *count complete records. */
MLFLOW_INTERNAL int mlflow__spill_open(const char *path, int *fd, char **uri, off_t *base,
                                       size_t *count, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__spill_header(int fd, const char *path, char **uri, off_t *base,
                                         struct mlflow_error *err);
MLFLOW_INTERNAL size_t mlflow__spill_count(int fd, off_t from);

#endif /* MLFLOW_ASYNC_QUEUE_H */
