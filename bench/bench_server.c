/*
 * bench_server.c - what `mlflow-c server` costs on loopback, against the
 * same operations done in-process on the same kind of sqlite store,
 * measured in the same run.
 *
 * The server runs as a child process on 127.0.0.1 (sqlite backend); each
 * client thread opens its own REST client and logs into its own run (1, 8
 * and 64 clients; the 64 share the 8-client total between them). Every
 * case runs `reps` times; medians are reported with the ratio
 * server / in-process. Machines here are noisy: read ratios.
 *
 *   bench_server [reps] [metrics per thread] [search runs] [history points] [mlflow-c]
 */
#include "internal.h"

#include <mlflow.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 15
#define MAX_THREADS 64
#define HIST_BATCH 1000

static const char SEARCH_FILTER[] = "metrics.loss < 0.5 and params.lr = '0.01'";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench: %s: %s\n", what, mlflow_last_error());
        exit(1);
    }
}

static struct mlflow_client *open_client(const char *uri)
{
    struct mlflow_client *c;
    check(mlflow_client_open(uri, &c), uri);
    return c;
}

static char *new_run(struct mlflow_client *c, const char *exp)
{
    struct mlflow_run *r;
    check(mlflow_client_create_run(c, exp, NULL, &r), "create_run");
    char *id = strdup(r->info.run_id);
    mlflow_run_free(r);
    return id;
}

static char *new_experiment(struct mlflow_client *c, const char *name)
{
    char *id, *copy;
    check(mlflow_client_create_experiment(c, name, NULL, &id), "create_experiment");
    copy = strdup(id);
    mlflow_free(id);
    return copy;
}

/* ---- the child server ---- */

/* A port the kernel just handed out; free again by the time the server binds. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("bench: free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* One GET /health over a raw socket, so that waiting never depends on the
 * client library's retry policy. */
static int health_ok(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        static const char req[] = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        char buf[64] = {0};
        if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1) &&
            read(fd, buf, sizeof buf - 1) > 12)
            ok = strncmp(buf + 9, "200", 3) == 0;
    }
    close(fd);
    return ok;
}

static pid_t start_server(const char *exe, const char *dir, int port)
{
    char store[600], art[600], ports[16], log[600];
    snprintf(store, sizeof store, "sqlite:///%s/b.db", dir);
    snprintf(art, sizeof art, "%s/art", dir);
    snprintf(log, sizeof log, "%s/server.log", dir);
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        exit(1);
    }
    if (pid == 0) {
        /* If the bench dies (exit on error, crash) the server goes with it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
            _exit(125);
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        execl(exe, exe, "server", "--backend-store-uri", store, "--host", "127.0.0.1", "--port",
              ports, "--artifacts-destination", art, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* at most ~15 s */
        if (health_ok(port))
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "bench: server exited early, see %s\n", log);
            exit(1);
        }
        usleep(50000);
    }
    fprintf(stderr, "bench: server not healthy after 15 s, see %s\n", log);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    exit(1);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* ---- log_batch ingestion ---- */

struct ingest {
    const char *uri;
    const char *exp;
    long n;    /* metrics this thread logs */
    int batch; /* metrics per log_batch call */
    pthread_barrier_t *go;
};

static void *ingest_thread(void *p)
{
    struct ingest *a = p;
    struct mlflow_client *c = open_client(a->uri);
    char *run = new_run(c, a->exp);
    struct mlflow_metric *m = malloc((size_t)a->batch * sizeof *m);
    pthread_barrier_wait(a->go);
    for (long done = 0; done < a->n; done += a->batch) {
        int k = a->n - done < a->batch ? (int)(a->n - done) : a->batch;
        for (int i = 0; i < k; i++)
            m[i] = (struct mlflow_metric){"loss", 1.0 / (double)(done + i + 3),
                                          1700000000000 + done + i, done + i};
        check(mlflow_client_log_batch(c, run, m, (size_t)k, NULL, 0, NULL, 0), "log_batch");
    }
    pthread_barrier_wait(a->go);
    free(m);
    free(run);
    mlflow_client_close(c);
    return NULL;
}

/* metrics/s of `threads` clients on uri, each logging n metrics. Clients
 * and runs are made before the clock starts. */
static double ingest(const char *uri, const char *exp, int threads, int batch, long n)
{
    pthread_t th[MAX_THREADS];
    struct ingest args[MAX_THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        args[i] = (struct ingest){uri, exp, n, batch, &go};
        pthread_create(&th[i], NULL, ingest_thread, &args[i]);
    }
    pthread_barrier_wait(&go);
    double t0 = now_s();
    pthread_barrier_wait(&go);
    double t = now_s() - t0;
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    return (double)n * threads / t;
}

/* ---- runs, search, history ---- */

static double create_runs(const char *uri, const char *exp, long n)
{
    struct mlflow_client *c = open_client(uri);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        struct mlflow_run *r; /* not NULL: the REST store writes *out unconditionally */
        check(mlflow_client_create_run(c, exp, NULL, &r), "create_run");
        mlflow_run_free(r);
    }
    double t = now_s() - t0;
    mlflow_client_close(c);
    return (double)n / t;
}

/* Half the runs match the filter. Loaded in-process: it is the same file. */
static void load_search_runs(struct mlflow_client *c, const char *exp, long n)
{
    for (long i = 0; i < n; i++) {
        char *run = new_run(c, exp);
        struct mlflow_metric m = {"loss", (double)(i % 100) / 100.0, 1700000000000 + i, 0};
        struct mlflow_kv p = {"lr", i % 2 ? "0.01" : "0.1"};
        check(mlflow_client_log_batch(c, run, &m, 1, &p, 1, NULL, 0), "log_batch");
        free(run);
    }
}

/* Seconds for one search_runs page (at most 1000 runs). */
static double search_once(const char *uri, const char *exp)
{
    struct mlflow_client *c = open_client(uri);
    const char *ids[] = {exp};
    const struct mlflow_search_runs_opts o = {
        .experiment_ids = ids, .n_experiment_ids = 1, .filter = SEARCH_FILTER};
    struct mlflow_run_list *l;
    double t0 = now_s();
    check(mlflow_client_search_runs(c, &o, &l), "search_runs");
    double t = now_s() - t0;
    if (l->count == 0) {
        fprintf(stderr, "bench: search_runs found nothing\n");
        exit(1);
    }
    mlflow_run_list_free(l);
    mlflow_client_close(c);
    return t;
}

static char *load_history(const char *uri, const char *exp, long points)
{
    struct mlflow_client *c = open_client(uri);
    char *run = new_run(c, exp);
    struct mlflow_metric *m = malloc(HIST_BATCH * sizeof *m);
    for (long done = 0; done < points; done += HIST_BATCH) {
        int k = points - done < HIST_BATCH ? (int)(points - done) : HIST_BATCH;
        for (int i = 0; i < k; i++)
            m[i] = (struct mlflow_metric){"loss", 1.0 / (double)(done + i + 3),
                                          1700000000000 + done + i, done + i};
        check(mlflow_client_log_batch(c, run, m, (size_t)k, NULL, 0, NULL, 0), "log_batch");
    }
    free(m);
    mlflow_client_close(c);
    return run;
}

static double history_once(const char *uri, const char *run, long points)
{
    struct mlflow_client *c = open_client(uri);
    struct mlflow_metric_list *h;
    double t0 = now_s();
    check(mlflow_client_get_metric_history(c, run, "loss", &h), "get_metric_history");
    double t = now_s() - t0;
    if (h->count != (size_t)points) {
        fprintf(stderr, "bench: history has %zu points, expected %ld\n", h->count, points);
        exit(1);
    }
    mlflow_metric_list_free(h);
    mlflow_client_close(c);
    return t;
}

static void row(const char *name, double server, double inproc, const char *unit)
{
    printf("%-40s %12.0f %12.0f %8.2f  %s\n", name, server, inproc, server / inproc, unit);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    long per_thread = argc > 2 ? atol(argv[2]) : 5000;
    long search_n = argc > 3 ? atol(argv[3]) : 10000;
    long hist_n = argc > 4 ? atol(argv[4]) : 100000;
#ifdef MLFLOW_C_PATH
    const char *exe = argc > 5 ? argv[5] : MLFLOW_C_PATH;
#else
    const char *exe = argc > 5 ? argv[5] : "mlflow-c";
#endif
    if (reps < 1 || reps > MAX_REPS || per_thread < 1000 || search_n < 1 || hist_n < 1) {
        fprintf(stderr, "usage: bench_server [reps 1..%d] [metrics/thread >= 1000] "
                        "[search runs] [history points] [mlflow-c path]\n", MAX_REPS);
        return 2;
    }
    char tmpl[] = "/tmp/mlflow-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("bench: mkdtemp");
        return 1;
    }
    char srv_db[600], in_uri[600], srv_uri[64];
    snprintf(srv_db, sizeof srv_db, "sqlite:///%s/b.db", dir);
    snprintf(in_uri, sizeof in_uri, "sqlite:///%s/in.db", dir);

    /* The search runs go into the server's own file before it starts. */
    struct mlflow_client *pre = open_client(srv_db);
    char *search_exp = new_experiment(pre, "search");
    double t0 = now_s();
    load_search_runs(pre, search_exp, search_n);
    double search_load = now_s() - t0;
    mlflow_client_close(pre);

    int port = free_port();
    snprintf(srv_uri, sizeof srv_uri, "http://127.0.0.1:%d", port);
    pid_t pid = start_server(exe, dir, port);
    long rss_idle = rss_kb(pid);

    struct mlflow_client *sc = open_client(srv_uri), *ic = open_client(in_uri);
    char *s_exp = new_experiment(sc, "bench"), *i_exp = new_experiment(ic, "bench");
    mlflow_client_close(sc);
    mlflow_client_close(ic);

    /* 64 clients log as many metrics in total as 8 do, to keep the run short. */
    static const int batches[] = {10, 1000}, threads[] = {1, 8, 64};
    enum { NB = 2, NT = 3, NCASE = NB * NT };
    double srv[NCASE][MAX_REPS], inp[NCASE][MAX_REPS], cr_s[MAX_REPS], cr_i[MAX_REPS];
    long rss_load = -1;
    /* Interleave server and in-process so that background noise hits both alike. */
    for (int r = 0; r < reps; r++) {
        for (int b = 0; b < NB; b++)
            for (int t = 0; t < NT; t++) {
                int k = b * NT + t;
                long n = threads[t] > 8 ? per_thread * 8 / threads[t] : per_thread;
                srv[k][r] = ingest(srv_uri, s_exp, threads[t], batches[b], n);
                if (threads[t] == 8)
                    rss_load = rss_kb(pid);
                inp[k][r] = ingest(in_uri, i_exp, threads[t], batches[b], n);
            }
        cr_s[r] = create_runs(srv_uri, s_exp, 200);
        cr_i[r] = create_runs(in_uri, i_exp, 200);
    }

    double se_s[MAX_REPS], se_i[MAX_REPS], h_s[MAX_REPS], h_i[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        se_s[r] = search_once(srv_uri, search_exp);
        se_i[r] = search_once(srv_db, search_exp);
    }
    t0 = now_s();
    char *hrun = load_history(srv_uri, s_exp, hist_n);
    double hist_load = now_s() - t0;
    for (int r = 0; r < reps; r++) {
        h_s[r] = history_once(srv_uri, hrun, hist_n);
        h_i[r] = history_once(srv_db, hrun, hist_n);
    }
    free(hrun);

    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);

    printf("mlflow-c server on 127.0.0.1 (sqlite), medians of %d runs; ratio = server / "
           "in-process sqlite\n", reps);
    printf("%-40s %12s %12s %8s\n", "case", "server", "in-process", "ratio");
    for (int b = 0; b < NB; b++)
        for (int t = 0; t < NT; t++) {
            char name[64];
            int k = b * NT + t;
            snprintf(name, sizeof name, "log_batch of %d, %d client%s", batches[b], threads[t],
                     threads[t] > 1 ? "s" : "");
            row(name, median(srv[k], reps), median(inp[k], reps), "metrics/s");
        }
    row("runs/create, 1 client", median(cr_s, reps), median(cr_i, reps), "runs/s");
    char name[96];
    snprintf(name, sizeof name, "search_runs over %ld runs", search_n);
    row(name, 1.0 / median(se_s, reps), 1.0 / median(se_i, reps), "searches/s");
    snprintf(name, sizeof name, "get_metric_history, %ld points", hist_n);
    double mh_s = median(h_s, reps), mh_i = median(h_i, reps);
    row(name, (double)hist_n / mh_s, (double)hist_n / mh_i, "points/s");
    printf("search filter: %s (first page, at most 1000 runs; loaded in-process in %.1f s)\n",
           SEARCH_FILTER, search_load);
    printf("history loaded through the server in batches of %d: %.0f points/s\n", HIST_BATCH,
           (double)hist_n / hist_load);
    printf("server VmRSS: %ld kB idle, %ld kB right after the 8-client load\n", rss_idle,
           rss_load);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("note: server exit status %d after SIGTERM\n", status);

    free(s_exp);
    free(i_exp);
    free(search_exp);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    return 0;
}
