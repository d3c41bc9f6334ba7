/*
 * fluent_exit.c - runs are never left RUNNING when it can be helped: open
 * runs end FINISHED at a normal exit, FAILED on SIGSEGV/SIGABRT/SIGBUS/
 * SIGFPE, KILLED on SIGINT/SIGTERM, and then the signal has its normal
 * effect.
 *
 * Ending a run is a store write: it takes locks (the fluent lock, store
 * mutexes, flock, malloc's), none of it async-signal-safe. A signal handler
 * that did the write itself would hang forever whenever the signal landed
 * on a thread holding one of those locks. So the handler only asks: it
 * writes one byte to a pipe read by a watcher thread (started with the
 * first run), waits at most two seconds for the answer with poll(), and
 * then lets the signal proceed. If the interrupted thread holds a lock the
 * watcher needs, the runs stay RUNNING, but the process still dies.
 *
 * fork(): the fluent lock is held across fork so the child never inherits
 * it locked. The child has no watcher thread (threads do not survive fork)
 * and its own pipes are made when it starts its first run; runs inherited
 * from the parent are never ended by the child. The asynchronous logging
 * queues' locks are taken here too, after the fluent lock (the order
 * end_run takes them in), rather than by async.c's own handlers, which
 * could run first.
 *
 * At exit, queued values get a bounded wait (async.c): runs are ended
 * behind their values, and what cannot be delivered in time is kept in a
 * spill file.
 */
#include "fluent.h"

#include "async.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIGNAL_WAIT_MS 2000
#define WATCHER_LOCK_MS 1500

static const struct {
    int sig;
    int status;
} fatal_signals[] = {
    {SIGSEGV, MLFLOW_RUN_STATUS_FAILED}, {SIGABRT, MLFLOW_RUN_STATUS_FAILED},
    {SIGBUS, MLFLOW_RUN_STATUS_FAILED},  {SIGFPE, MLFLOW_RUN_STATUS_FAILED},
    {SIGINT, MLFLOW_RUN_STATUS_KILLED},  {SIGTERM, MLFLOW_RUN_STATUS_KILLED},
};
static struct sigaction previous[MLFLOW_ARRAY_LEN(fatal_signals)];

/* Written before the handlers can see them (install runs under the fluent
 * lock before any run exists in this process). */
static int req_pipe[2] = {-1, -1};  /* handler -> watcher: the status byte */
static int done_pipe[2] = {-1, -1}; /* watcher -> handler: finished */
static volatile pid_t watcher_pid;  /* the process whose watcher is alive */
static bool process_hooks_installed;

static void *watcher_main(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned char status;
        ssize_t n = read(req_pipe[0], &status, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1)
            return NULL;
        mlflow__fluent_end_all(status, WATCHER_LOCK_MS);
        char done = 1;
        while (write(done_pipe[1], &done, 1) < 0 && errno == EINTR)
            ;
    }
}

static void close_pipe(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

/* A watcher for this process: new pipes (a forked child must not share
 * its parent's) and a detached thread with every signal blocked, so the
 * signals it serves are never delivered to it. */
static void start_watcher(void)
{
    close_pipe(req_pipe);
    close_pipe(done_pipe);
    if (pipe2(req_pipe, O_CLOEXEC) != 0)
        return;
    if (pipe2(done_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        close_pipe(req_pipe);
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, watcher_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close_pipe(req_pipe);
        close_pipe(done_pipe);
        return;
    }
    watcher_pid = getpid();
}

static void on_signal(int sig)
{
    int saved_errno = errno;
    size_t i = 0;
    while (i < MLFLOW_ARRAY_LEN(fatal_signals) && fatal_signals[i].sig != sig)
        i++;
    if (i == MLFLOW_ARRAY_LEN(fatal_signals))
        return;
    if (watcher_pid == getpid()) {
        unsigned char status = (unsigned char)fatal_signals[i].status;
        if (write(req_pipe[1], &status, 1) == 1) {
            struct pollfd p = {.fd = done_pipe[0], .events = POLLIN};
            int r;
            do
                r = poll(&p, 1, SIGNAL_WAIT_MS);
            while (r < 0 && errno == EINTR);
            char done;
            if (r > 0)
                (void)!read(done_pipe[0], &done, 1);
        }
    }
    /* Now the signal's normal effect: the previous disposition. */
    sigaction(sig, &previous[i], NULL);
    if (previous[i].sa_handler == SIG_IGN) {
        errno = saved_errno;
        return;
    }
    if (previous[i].sa_handler == SIG_DFL || (previous[i].sa_flags & SA_SIGINFO))
        raise(sig); /* delivered once this handler returns and unblocks it */
    else
        previous[i].sa_handler(sig);
    errno = saved_errno;
}

static void at_exit(void)
{
    mlflow__async_exit_begin();
    mlflow__fluent_end_all(MLFLOW_RUN_STATUS_FINISHED, -1);
    mlflow__async_at_exit();
}

static void before_fork(void)
{
    mlflow__fluent_lock();
    mlflow__async_fork_prepare();
}

static void after_fork_parent(void)
{
    mlflow__async_fork_parent();
    mlflow__fluent_unlock();
}

static void after_fork_child(void)
{
    mlflow__async_fork_child();
    mlflow__fluent_unlock();
}

void mlflow__exit_hooks_install(void)
{
    if (watcher_pid != getpid())
        start_watcher();
    if (process_hooks_installed)
        return; /* handlers, atexit and atfork survive fork: once per image */
    process_hooks_installed = true;
    atexit(at_exit);
    mlflow__async_fork_delegate();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(fatal_signals); i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(fatal_signals[i].sig, NULL, &previous[i]);
        /* An ignored SIGINT/SIGTERM (nohup, background jobs) stays ignored. */
        if (previous[i].sa_handler == SIG_IGN)
            continue;
        sigaction(fatal_signals[i].sig, &sa, NULL);
    }
}
