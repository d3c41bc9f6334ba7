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
 *
 * With --urls it starts nothing and measures servers already running (all
 * over one database, as bench/bench_pg.sh sets them up): for each client
 * count, clients spread their requests round-robin over the URLs, as a
 * load balancer would, for a fixed time per case:
 *   - ingestion: log_batch of BATCH_URL metrics into a run of the client's
 *     own, in requests/s and metric rows/s;
 *   - search: search_runs over an experiment of `search runs` runs (made
 *     through the first URL unless it exists), searches/s and the median
 *     latency of one search.
 * With BENCH_SERVER_PIDS (comma-separated) and BENCH_PG_PID (the
 * postmaster) set, each case also reports the CPU the servers and
 * PostgreSQL used (in cores, from /proc), next to the whole machine's.
 *
 *   bench_server --urls URL[,URL...] [reps] [clients, e.g. 1,2,4,8; 0: only
 *                make the search experiment] [seconds per case] [search runs]
 */
#include "internal.h"

#include <mlflow.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_REPS 15
#define MAX_THREADS 64
#define HIST_BATCH 1000

static const char SEARCH_FILTER[] = "metrics.loss < 0.5 and params.lr = '0.01'";

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

/* ---- --urls: servers started elsewhere ---- */

#define BATCH_URL 100
#define MAX_URLS 16
#define MAX_LAT 200000

struct url_set {
    const char *url[MAX_URLS];
    int n;
};

/* CPU seconds (user + system) of one process, all threads. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command (which may hold spaces), from field 3. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static pid_t proc_ppid(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    int ppid = -1;
    if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

/* The postmaster and every backend it forked. */
static double pg_cpu_s(pid_t postmaster)
{
    double total = proc_cpu_s(postmaster);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        if (proc_ppid((pid_t)pid) == postmaster)
            total += proc_cpu_s((pid_t)pid);
    }
    if (d)
        closedir(d);
    return total;
}

/* The whole machine: busy and total jiffies of every CPU. */
static void machine_cpu(double *busy, double *total)
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += (double)v[i];
        *busy = *total - (double)v[3] - (double)v[4]; /* minus idle and iowait */
    }
    fclose(f);
}

struct cpu_mark {
    double wall, servers, pg, self, busy, total;
};

static pid_t server_pids[MAX_URLS];
static int n_server_pids;
static pid_t pg_pid;

static void cpu_mark(struct cpu_mark *m)
{
    struct timespec ts;
    m->wall = now_s();
    m->servers = 0;
    for (int i = 0; i < n_server_pids; i++)
        m->servers += proc_cpu_s(server_pids[i]);
    m->pg = pg_pid > 0 ? pg_cpu_s(pg_pid) : 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    m->self = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    machine_cpu(&m->busy, &m->total);
}

/* Cores used between a and b: servers, postgres, this bench, and how busy
 * the machine was (0..1 of all its cores). */
struct cpu_use {
    double servers, pg, self, machine;
};

static struct cpu_use cpu_between(const struct cpu_mark *a, const struct cpu_mark *b)
{
    double w = b->wall - a->wall;
    struct cpu_use u = {(b->servers - a->servers) / w, (b->pg - a->pg) / w,
                        (b->self - a->self) / w,
                        b->total > a->total ? (b->busy - a->busy) / (b->total - a->total) : 0};
    return u;
}

struct url_job {
    const struct url_set *urls;
    int id;
    bool search;
    const char *exp;         /* search: the experiment; ingest: where its run goes */
    double seconds;
    pthread_barrier_t *go;
    long done;               /* requests */
    double *lat;             /* search latencies */
};

static void *url_thread(void *p)
{
    struct url_job *j = p;
    struct mlflow_client *c[MAX_URLS];
    for (int i = 0; i < j->urls->n; i++)
        c[i] = open_client(j->urls->url[i]);
    char *run = j->search ? NULL : new_run(c[j->id % j->urls->n], j->exp);
    struct mlflow_metric m[BATCH_URL];
    const char *ids[] = {j->exp};
    const struct mlflow_search_runs_opts o = {
        .experiment_ids = ids, .n_experiment_ids = 1, .filter = SEARCH_FILTER,
        .max_results = 100};
    pthread_barrier_wait(j->go);
    double start = now_s(), end = start + j->seconds;
    long step = 0;
    for (long k = j->id; now_s() < end; k++) {
        struct mlflow_client *cl = c[k % j->urls->n];
        if (j->search) {
            struct mlflow_run_list *l;
            double t0 = now_s();
            check(mlflow_client_search_runs(cl, &o, &l), "search_runs");
            if (j->done < MAX_LAT / MAX_THREADS)
                j->lat[j->done] = now_s() - t0;
            mlflow_run_list_free(l);
        } else {
            for (int i = 0; i < BATCH_URL; i++, step++)
                m[i] = (struct mlflow_metric){i % 2 ? "loss" : "acc", 1.0 / (double)(step + 3),
                                              1700000000000 + step, step};
            check(mlflow_client_log_batch(cl, run, m, BATCH_URL, NULL, 0, NULL, 0), "log_batch");
        }
        j->done++;
    }
    pthread_barrier_wait(j->go);
    free(run);
    for (int i = 0; i < j->urls->n; i++)
        mlflow_client_close(c[i]);
    return NULL;
}

struct url_result {
    double rps;     /* requests/s */
    double lat_ms;  /* search: median latency */
    struct cpu_use cpu;
};

static struct url_result url_case(const struct url_set *urls, int threads, bool search,
                                  const char *exp, double seconds)
{
    pthread_t th[MAX_THREADS];
    struct url_job jobs[MAX_THREADS];
    static double lat[MAX_LAT];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct url_job){urls, i, search, exp, seconds, &go, 0,
                                   lat + (size_t)i * (MAX_LAT / MAX_THREADS)};
        pthread_create(&th[i], NULL, url_thread, &jobs[i]);
    }
    struct cpu_mark a, b;
    pthread_barrier_wait(&go);
    cpu_mark(&a);
    pthread_barrier_wait(&go);
    cpu_mark(&b);
    long total = 0;
    int n_lat = 0;
    static double all[MAX_LAT];
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].done;
        long k = jobs[i].done < MAX_LAT / MAX_THREADS ? jobs[i].done : MAX_LAT / MAX_THREADS;
        for (long x = 0; x < k; x++)
            all[n_lat++] = jobs[i].lat[x];
    }
    pthread_barrier_destroy(&go);
    struct url_result r = {(double)total / (b.wall - a.wall), 0, cpu_between(&a, &b)};
    if (search && n_lat)
        r.lat_ms = median(all, n_lat) * 1e3;
    return r;
}

/* The search experiment: made (through the first URL) unless there. */
static char *search_experiment(const struct url_set *urls, long n)
{
    struct mlflow_client *c = open_client(urls->url[0]);
    struct mlflow_experiment *e = NULL;
    char *id;
    if (mlflow_client_get_experiment_by_name(c, "bench-search", &e) == MLFLOW_OK) {
        id = strdup(e->experiment_id);
        mlflow_experiment_free(e);
    } else {
        id = new_experiment(c, "bench-search");
        double t0 = now_s();
        load_search_runs(c, id, n);
        fprintf(stderr, "bench: %ld search runs loaded through %s in %.1f s\n", n, urls->url[0],
                now_s() - t0);
    }
    mlflow_client_close(c);
    return id;
}

static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    char *copy = strdup(s);
    for (char *t = strtok(copy, ","); t && n < max; t = strtok(NULL, ","))
        out[n++] = atoi(t);
    free(copy);
    return n;
}

static int url_main(int argc, char **argv)
{
    struct url_set urls = {{0}, 0};
    char *list = argc > 2 ? strdup(argv[2]) : NULL;
    for (char *t = list ? strtok(list, ",") : NULL; t && urls.n < MAX_URLS; t = strtok(NULL, ","))
        urls.url[urls.n++] = t;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    int clients[16];
    int n_clients = parse_list(argc > 4 ? argv[4] : "1,2,4,8", clients, 16);
    double seconds = argc > 5 ? atof(argv[5]) : 3.0;
    long search_n = argc > 6 ? atol(argv[6]) : 2000;
    if (!urls.n || reps < 1 || reps > MAX_REPS || !n_clients || seconds <= 0 || search_n < 1) {
        fprintf(stderr, "usage: bench_server --urls URL[,URL...] [reps 1..%d] [clients 1,2,4,8] "
                        "[seconds per case] [search runs]\n", MAX_REPS);
        return 2;
    }
    /* Clients "0": make the search experiment and stop (bench_pg.sh then
     * has the database analyse it, as autovacuum would in time). */
    bool load_only = n_clients == 1 && clients[0] == 0;
    for (int i = 0; !load_only && i < n_clients; i++)
        if (clients[i] < 1 || clients[i] > MAX_THREADS) {
            fprintf(stderr, "bench: 1..%d clients\n", MAX_THREADS);
            return 2;
        }
    const char *sp = getenv("BENCH_SERVER_PIDS"), *pp = getenv("BENCH_PG_PID");
    if (sp && *sp) {
        int pids[MAX_URLS];
        n_server_pids = parse_list(sp, pids, MAX_URLS);
        for (int i = 0; i < n_server_pids; i++)
            server_pids[i] = (pid_t)pids[i];
    }
    pg_pid = pp && *pp ? (pid_t)atoi(pp) : 0;

    char *search_exp = search_experiment(&urls, search_n);
    if (load_only) {
        free(search_exp);
        free(list);
        return 0;
    }
    struct mlflow_client *c = open_client(urls.url[0]);
    char name[64];
    snprintf(name, sizeof name, "bench-ingest-%d-%ld", urls.n, (long)getpid());
    char *ingest_exp = new_experiment(c, name);
    mlflow_client_close(c);

    printf("%d server%s over one database, %.1f s per case, medians of %d; log_batch of %d "
           "metrics; search \"%s\" (max 100 of %ld runs)\n",
           urls.n, urls.n > 1 ? "s" : "", seconds, reps, BATCH_URL, SEARCH_FILTER, search_n);
    printf("%-8s %-7s %10s %12s %10s %10s  %s\n", "servers", "clients", "batches/s", "rows/s",
           "searches/s", "search ms", "CPU cores: servers / postgres / bench; machine busy");
    for (int k = 0; k < n_clients; k++) {
        double ing[MAX_REPS], srch[MAX_REPS], lat[MAX_REPS];
        struct cpu_use cu_i[MAX_REPS], cu_s[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            struct url_result a = url_case(&urls, clients[k], false, ingest_exp, seconds);
            struct url_result b = url_case(&urls, clients[k], true, search_exp, seconds);
            ing[r] = a.rps;
            srch[r] = b.rps;
            lat[r] = b.lat_ms;
            cu_i[r] = a.cpu;
            cu_s[r] = b.cpu;
        }
        /* Medians (median() sorts, so of copies), and the CPU of the rep
         * whose throughput is closest to the median. */
        double tmp[MAX_REPS];
        memcpy(tmp, ing, sizeof ing);
        double mi = median(tmp, reps);
        memcpy(tmp, srch, sizeof srch);
        double ms = median(tmp, reps);
        double ml = median(lat, reps);
        int ri = 0, rs = 0;
        for (int r = 1; r < reps; r++) {
            if (fabs(ing[r] - mi) < fabs(ing[ri] - mi))
                ri = r;
            if (fabs(srch[r] - ms) < fabs(srch[rs] - ms))
                rs = r;
        }
        struct cpu_use ci = cu_i[ri], cs = cu_s[rs];
        printf("%-8d %-7d %10.0f %12.0f %10.1f %10.1f  ingest %.2f / %.2f / %.2f; %.0f%%   "
               "search %.2f / %.2f / %.2f; %.0f%%\n",
               urls.n, clients[k], mi, mi * BATCH_URL, ms, ml, ci.servers, ci.pg, ci.self,
               ci.machine * 100, cs.servers, cs.pg, cs.self, cs.machine * 100);
        /* One line for scripts. */
        fprintf(stderr, "result servers=%d clients=%d batches_per_s=%.1f rows_per_s=%.0f "
                        "searches_per_s=%.2f search_ms=%.2f ingest_cpu_servers=%.2f "
                        "ingest_cpu_pg=%.2f ingest_machine=%.2f search_cpu_servers=%.2f "
                        "search_cpu_pg=%.2f search_machine=%.2f\n",
                urls.n, clients[k], mi, mi * BATCH_URL, ms, ml, ci.servers, ci.pg, ci.machine,
                cs.servers, cs.pg, cs.machine);
        fflush(stdout);
    }
    free(search_exp);
    free(ingest_exp);
    free(list);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--urls") == 0)
        return url_main(argc, argv);
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
    remove_dir(dir);
    return 0;
}
