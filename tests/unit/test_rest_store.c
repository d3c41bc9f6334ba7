/*
 * test_rest_store.c - the REST store and the HTTP artifact repository
 * against a scripted HTTP peer on 127.0.0.1: retries and back-off,
 * Retry-After, error bodies with and without error_code, authentication
 * headers (and their not following a redirect to another host), keep-alive
 * reuse, timeouts, the wire format of requests, pagination, Databricks
 * profiles, mlflow-artifacts URI resolution, and artifact transfers.
 *
 * The peer is a real HTTP/1.1 server on a loopback socket that answers
 * from a script and records what it received; nothing of libmlflow is
 * replaced. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "mlflow.h"
#include "testutil.h"

#define RUN_ID "0123456789abcdef0123456789abcdef"
/* A Run as MLflow's server writes it, and the runs/get answer holding it. */
#define RUN_OBJ                                                                               \
    "{\"info\": {\"run_id\": \"" RUN_ID "\", \"run_uuid\": \"" RUN_ID "\", "                   \
    "\"run_name\": \"r\", \"experiment_id\": \"0\", \"user_id\": \"u\", \"status\": "         \
    "\"RUNNING\", \"start_time\": 1700000000000, \"artifact_uri\": "                        \
    "\"mlflow-artifacts:/0/" RUN_ID "/artifacts\", \"lifecycle_stage\": \"active\"}, "       \
    "\"data\": {\"metrics\": [{\"key\": \"m\", \"value\": \"NaN\", \"timestamp\": 5, "          \
    "\"step\": 2}], \"params\": [{\"key\": \"p\", \"value\": \"1\"}]}, \"inputs\": {}}"
#define RUN_JSON "{\"run\": " RUN_OBJ "}"

/* ---- the scripted peer ---- */

#define MAX_REQS 64
#define MAX_CONNS 32

struct reply {
    int status;
    const char *headers; /* extra header lines, each ending "\r\n"; NULL for none */
    const char *body;
    int delay_ms;        /* wait before answering */
};

struct recorded {
    char method[16];
    char target[4096];
    char *headers;
    char *body;
    size_t body_len;
};

struct peer {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    const struct reply *script;
    size_t n_script, next;
    struct reply dflt;
    struct recorded reqs[MAX_REQS];
    size_t n_reqs;
    int n_conns;
    int conn_fds[MAX_CONNS];
    pthread_t conn_threads[MAX_CONNS];
    volatile int stopping;
};

struct conn_arg {
    struct peer *p;
    int fd;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads more bytes into buf; 0 on EOF/error/stop. Polls so stop is seen. */
static ssize_t read_some(struct peer *p, int fd, char *buf, size_t cap)
{
    while (!p->stopping) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, 50);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf, cap);
        return n > 0 ? n : 0;
    }
    return 0;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void *conn_main(void *arg)
{
    struct conn_arg *ca = arg;
    struct peer *p = ca->p;
    int fd = ca->fd;
    free(ca);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == cap)
                goto out;
            ssize_t n = read_some(p, fd, buf + len, cap - len);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        struct recorded r = {0};
        sscanf(buf, "%15s %4095s", r.method, r.target);
        r.headers = strndup(buf, head_len);
        size_t clen = 0;
        char *cl = strcasestr(r.headers, "\r\ncontent-length:");
        if (cl)
            clen = strtoul(cl + 17, NULL, 10);
        while (len < head_len + clen) {
            if (head_len + clen > cap) {
                cap = head_len + clen;
                buf = realloc(buf, cap);
            }
            ssize_t n = read_some(p, fd, buf + len, cap - len);
            if (n <= 0) {
                free(r.headers);
                goto out;
            }
            len += (size_t)n;
        }
        r.body = malloc(clen + 1);
        memcpy(r.body, buf + head_len, clen);
        r.body[clen] = '\0';
        r.body_len = clen;
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;

        pthread_mutex_lock(&p->lock);
        struct reply rep = p->next < p->n_script ? p->script[p->next++] : p->dflt;
        if (p->n_reqs < MAX_REQS) {
            p->reqs[p->n_reqs++] = r;
        } else {
            free(r.headers);
            free(r.body);
        }
        pthread_mutex_unlock(&p->lock);

        for (int waited = 0; waited < rep.delay_ms && !p->stopping; waited += 10)
            sleep_ms(10);
        if (p->stopping)
            break;
        const char *body = rep.body ? rep.body : "";
        char head[1024];
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\n"
                          "Content-Type: application/json\r\n%s\r\n",
                          rep.status, strlen(body), rep.headers ? rep.headers : "");
        write_all(fd, head, (size_t)hn);
        write_all(fd, body, strlen(body));
    }
out:
    free(buf);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct peer *p = arg;
    while (!p->stopping) {
        struct pollfd pfd = {p->lfd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&p->lock);
        if (p->n_conns == MAX_CONNS) {
            pthread_mutex_unlock(&p->lock);
            close(fd);
            continue;
        }
        struct conn_arg *ca = malloc(sizeof *ca);
        ca->p = p;
        ca->fd = fd;
        p->conn_fds[p->n_conns] = fd;
        pthread_create(&p->conn_threads[p->n_conns], NULL, conn_main, ca);
        p->n_conns++;
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static struct peer *peer_start(const struct reply *script, size_t n, struct reply dflt)
{
    struct peer *p = calloc(1, sizeof *p);
    p->script = script;
    p->n_script = n;
    p->dflt = dflt;
    pthread_mutex_init(&p->lock, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(p->lfd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->acceptor, NULL, accept_main, p);
    return p;
}

static void peer_stop(struct peer *p)
{
    p->stopping = 1;
    pthread_join(p->acceptor, NULL);
    for (int i = 0; i < p->n_conns; i++) {
        shutdown(p->conn_fds[i], SHUT_RDWR);
        pthread_join(p->conn_threads[i], NULL);
        close(p->conn_fds[i]);
    }
    close(p->lfd);
    for (size_t i = 0; i < p->n_reqs; i++) {
        free(p->reqs[i].headers);
        free(p->reqs[i].body);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static size_t peer_n_reqs(struct peer *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->n_reqs;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* The value of header `name` in request i (static buffer), or NULL. */
static const char *req_header(struct peer *p, size_t i, const char *name)
{
    static char val[1024];
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *h = strcasestr(p->reqs[i].headers, pat);
    if (!h)
        return NULL;
    h += strlen(pat);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r");
    snprintf(val, sizeof val, "%.*s", (int)n, h);
    return val;
}

static char *url_of(struct peer *p)
{
    char *u = malloc(64);
    snprintf(u, 64, "http://127.0.0.1:%d", p->port);
    return u;
}

static const struct reply OK_RUN = {200, NULL, RUN_JSON, 0};
static const struct reply OK_EMPTY = {200, NULL, "{}", 0};

/* ---- fixture: fast retries, no stray credentials ---- */

static const char *const ENV_VARS[] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",   "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",          "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_INSECURE_TLS",      "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",  "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",                  "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",               "DATABRICKS_CONFIG_FILE",
    "MLFLOW_TRACKING_URI",               "http_proxy",
    "HTTP_PROXY",                        "https_proxy",
    "all_proxy",                         "ALL_PROXY",
};

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++)
        unsetenv(ENV_VARS[i]);
    /* A HOME without ~/.mlflow/credentials or ~/.databrickscfg. */
    char *home = testutil_mkdtemp("mlflow-rest-home");
    if (!home)
        return -1;
    setenv("HOME", home, 1);
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0", 1);
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
    *state = home;
    return 0;
}

static int teardown(void **state)
{
    testutil_rm_rf(*state);
    free(*state);
    return 0;
}

static struct mlflow_client *open_client(struct peer *p)
{
    char *u = url_of(p);
    struct mlflow_client *c = NULL;
    int rc = mlflow_client_open(u, &c);
    if (rc)
        fail_msg("open %s: %s", u, mlflow_last_error());
    free(u);
    return c;
}

/* ---- retries ---- */

static void test_retry_503_twice_then_ok(void **state)
{
    (void)state;
    static const struct reply script[] = {{503, NULL, "busy", 0}, {503, NULL, "busy", 0}};
    struct peer *p = peer_start(script, 2, OK_RUN);
    struct mlflow_client *c = open_client(p);
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_OK);
    assert_string_equal(r->info.run_id, RUN_ID);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_RUNNING);
    assert_int_equal(r->info.end_time, MLFLOW_TIME_UNSET);
    assert_int_equal(r->data.n_metrics, 1);
    assert_true(isnan(r->data.metrics[0].value));
    assert_int_equal(r->data.metrics[0].step, 2);
    assert_string_equal(mlflow_run_param(r, "p"), "1");
    mlflow_run_free(r);
    assert_int_equal(peer_n_reqs(p), 3);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_every_transient_status_is_retried(void **state)
{
    (void)state;
    static const struct reply script[] = {
        {408, NULL, "", 0}, {429, NULL, "", 0}, {500, NULL, "", 0},
        {502, NULL, "", 0}, {504, NULL, "", 0},
    };
    struct peer *p = peer_start(script, 5, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_int_equal(peer_n_reqs(p), 6);
    /* A POST is retried with its body intact. */
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(p->reqs[i].method, "POST");
        assert_string_equal(p->reqs[i].body, "{\"run_id\":\"" RUN_ID "\"}");
    }
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_retries_run_out(void **state)
{
    (void)state;
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2", 1);
    struct reply busy = {503, NULL,
                         "{\"error_code\": \"TEMPORARILY_UNAVAILABLE\", \"message\": \"busy now\"}",
                         0};
    struct peer *p = peer_start(NULL, 0, busy);
    struct mlflow_client *c = open_client(p);
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_TEMPORARILY_UNAVAILABLE);
    assert_null(r);
    assert_string_equal(mlflow_last_error(), "busy now");
    assert_int_equal(peer_n_reqs(p), 3);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_client_errors_are_not_retried(void **state)
{
    (void)state;
    struct reply missing = {404, NULL,
                            "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": "
                            "\"Run '" RUN_ID "' not found\"}",
                            0};
    struct peer *p = peer_start(NULL, 0, missing);
    struct mlflow_client *c = open_client(p);
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_string_equal(mlflow_last_error(), "Run '" RUN_ID "' not found");
    assert_int_equal(peer_n_reqs(p), 1);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_backoff_grows(void **state)
{
    (void)state;
    /* urllib3's schedule: retry 1 at once, then factor * 2, factor * 4. */
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.1", 1);
    static const struct reply script[] = {{503, NULL, "", 0}, {503, NULL, "", 0},
                                          {503, NULL, "", 0}};
    struct peer *p = peer_start(script, 3, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    double t0 = now_s();
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    double took = now_s() - t0;
    assert_true(took >= 0.55);
    assert_true(took < 5.0);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_retry_after_is_honoured(void **state)
{
    (void)state;
    static const struct reply script[] = {{429, "Retry-After: 1\r\n", "slow down", 0}};
    struct peer *p = peer_start(script, 1, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    double t0 = now_s();
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    double took = now_s() - t0;
    assert_true(took >= 0.9);
    assert_true(took < 5.0);
    assert_int_equal(peer_n_reqs(p), 2);
    mlflow_client_close(c);
    peer_stop(p);

    /* Switched off, the back-off schedule applies (immediate here). */
    setenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "false", 1);
    p = peer_start(script, 1, OK_EMPTY);
    c = open_client(p);
    t0 = now_s();
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_true(now_s() - t0 < 0.8);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_connection_refused_is_retried_then_reported(void **state)
{
    (void)state;
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2", 1);
    /* A port that was free a moment ago: nothing listens there. */
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    char *u = url_of(p);
    peer_stop(p);
    struct mlflow_client *c = NULL;
    assert_int_equal(mlflow_client_open(u, &c), MLFLOW_OK);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_TEMPORARILY_UNAVAILABLE);
    assert_non_null(strstr(mlflow_last_error(), "after 2 retries"));
    assert_non_null(strstr(mlflow_last_error(), u));
    mlflow_client_close(c);
    free(u);
}

static void test_stalled_server_times_out(void **state)
{
    (void)state;
    setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1", 1);
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0", 1);
    struct reply stall = {200, NULL, "{}", 4000};
    struct peer *p = peer_start(NULL, 0, stall);
    struct mlflow_client *c = open_client(p);
    double t0 = now_s();
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_DEADLINE_EXCEEDED);
    double took = now_s() - t0;
    assert_true(took >= 0.9 && took < 3.5);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_bad_policy_variables_are_refused(void **state)
{
    (void)state;
    struct mlflow_client *c = NULL;
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11", 1);
    assert_int_equal(mlflow_client_open("http://127.0.0.1:9", &c), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "MLFLOW_HTTP_REQUEST_MAX_RETRIES"));
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "three", 1);
    assert_int_equal(mlflow_client_open("http://127.0.0.1:9", &c), MLFLOW_INVALID_PARAMETER_VALUE);
    unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
    setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "121", 1);
    assert_int_equal(mlflow_client_open("http://127.0.0.1:9", &c), MLFLOW_INVALID_PARAMETER_VALUE);
    unsetenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR");
    setenv("MLFLOW_TRACKING_INSECURE_TLS", "true", 1);
    setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "/etc/ssl/certs/ca-certificates.crt", 1);
    assert_int_equal(mlflow_client_open("https://127.0.0.1:9", &c), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(c);
    assert_int_equal(mlflow_client_open("http://", &c), MLFLOW_INVALID_PARAMETER_VALUE);
}

/* ---- error mapping ---- */

static void test_error_bodies_map_to_codes(void **state)
{
    (void)state;
    static const struct {
        struct reply rep;
        int code;
        const char *msg_part;
    } cases[] = {
        /* error_code names win over the status. */
        {{400, NULL, "{\"error_code\": \"RESOURCE_ALREADY_EXISTS\", \"message\": \"dup\"}", 0},
         MLFLOW_RESOURCE_ALREADY_EXISTS, "dup"},
        {{500, NULL, "{\"error_code\": \"INVALID_STATE\", \"message\": \"bad state\"}", 0},
         MLFLOW_INVALID_STATE, "bad state"},
        /* No error_code: the HTTP status decides, as MLflow's client does. */
        {{400, NULL, "<html>Bad Request</html>", 0}, MLFLOW_BAD_REQUEST, "<html>Bad Request"},
        {{404, NULL, "", 0}, MLFLOW_ENDPOINT_NOT_FOUND, "404"},
        {{401, NULL, "Unauthorized", 0}, MLFLOW_UNAUTHENTICATED, "Unauthorized"},
        {{403, NULL, "{\"detail\": \"no\"}", 0}, MLFLOW_PERMISSION_DENIED, "detail"},
        {{409, NULL, "{}", 0}, MLFLOW_ALREADY_EXISTS, "409"},
        {{501, NULL, "", 0}, MLFLOW_NOT_IMPLEMENTED, "501"},
        {{418, NULL, "teapot", 0}, MLFLOW_INTERNAL_ERROR, "teapot"},
        /* A proxy's numeric error_code is an HTTP status. */
        {{403, NULL, "{\"error_code\": \"401\", \"message\": \"token expired\"}", 0},
         MLFLOW_UNAUTHENTICATED, "token expired"},
        /* A 200 that is not JSON is an error too. */
        {{200, NULL, "not json", 0}, MLFLOW_INTERNAL_ERROR, "not json"},
    };
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct peer *p = peer_start(NULL, 0, cases[i].rep);
        struct mlflow_client *c = open_client(p);
        int rc = mlflow_client_set_tag(c, RUN_ID, "k", "v");
        if (rc != cases[i].code || !strstr(mlflow_last_error(), cases[i].msg_part))
            fail_msg("case %zu: got %s '%s'", i, mlflow_error_name(rc), mlflow_last_error());
        mlflow_client_close(c);
        peer_stop(p);
    }
}

static void test_malformed_answers_are_internal_errors(void **state)
{
    (void)state;
    struct reply odd = {200, NULL, "{\"run\": {\"info\": {\"status\": \"WALKING\"}}}", 0};
    struct peer *p = peer_start(NULL, 0, odd);
    struct mlflow_client *c = open_client(p);
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_INTERNAL_ERROR);
    assert_non_null(strstr(mlflow_last_error(), "runs/get"));
    assert_null(r);
    mlflow_client_close(c);
    peer_stop(p);
}

/* ---- authentication ---- */

static void test_basic_auth(void **state)
{
    (void)state;
    setenv("MLFLOW_TRACKING_USERNAME", "alice", 1);
    setenv("MLFLOW_TRACKING_PASSWORD", "s3cret", 1);
    setenv("MLFLOW_TRACKING_TOKEN", "ignored-when-basic", 1);
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    /* base64("alice:s3cret") */
    assert_string_equal(req_header(p, 0, "Authorization"), "Basic YWxpY2U6czNjcmV0");
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_bearer_auth_and_no_auth(void **state)
{
    (void)state;
    setenv("MLFLOW_TRACKING_TOKEN", "tok-123", 1);
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_string_equal(req_header(p, 0, "Authorization"), "Bearer tok-123");
    mlflow_client_close(c);
    peer_stop(p);

    unsetenv("MLFLOW_TRACKING_TOKEN");
    p = peer_start(NULL, 0, OK_EMPTY);
    c = open_client(p);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_null(req_header(p, 0, "Authorization"));
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_credentials_file(void **state)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.mlflow", (char *)*state);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/.mlflow/credentials", (char *)*state);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[mlflow]\nmlflow_tracking_username = bob\nmlflow_tracking_password = pw\n", f);
    fclose(f);
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_string_equal(req_header(p, 0, "Authorization"), "Basic Ym9iOnB3");
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_credentials_stay_with_their_host_on_redirect(void **state)
{
    (void)state;
    setenv("MLFLOW_TRACKING_TOKEN", "never-leak-me", 1);
    /* b answers; a sends everything to b under another host name. */
    struct peer *b = peer_start(NULL, 0, OK_RUN);
    char loc[256];
    snprintf(loc, sizeof loc, "Location: http://localhost:%d/api/2.0/mlflow/runs/get?run_id=" RUN_ID
             "\r\n", b->port);
    struct reply redirect = {307, loc, "", 0};
    struct peer *a = peer_start(NULL, 0, redirect);
    struct mlflow_client *c = open_client(a);
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_OK);
    mlflow_run_free(r);
    assert_int_equal(peer_n_reqs(a), 1);
    assert_int_equal(peer_n_reqs(b), 1);
    assert_string_equal(req_header(a, 0, "Authorization"), "Bearer never-leak-me");
    assert_null(req_header(b, 0, "Authorization"));
    mlflow_client_close(c);
    peer_stop(a);
    peer_stop(b);

    /* A redirect within the same host keeps them. */
    static const struct reply same[] = {
        {302, "Location: /api/2.0/mlflow/runs/get?run_id=" RUN_ID "&again=1\r\n", "", 0}};
    a = peer_start(same, 1, OK_RUN);
    c = open_client(a);
    assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_OK);
    mlflow_run_free(r);
    assert_int_equal(peer_n_reqs(a), 2);
    assert_string_equal(req_header(a, 1, "Authorization"), "Bearer never-leak-me");
    mlflow_client_close(c);
    peer_stop(a);
}

/* ---- transport ---- */

static void test_keep_alive_reuses_one_connection(void **state)
{
    (void)state;
    struct peer *p = peer_start(NULL, 0, OK_RUN);
    struct mlflow_client *c = open_client(p);
    for (int i = 0; i < 20; i++) {
        struct mlflow_run *r = NULL;
        assert_int_equal(mlflow_client_get_run(c, RUN_ID, &r), MLFLOW_OK);
        mlflow_run_free(r);
    }
    assert_int_equal(peer_n_reqs(p), 20);
    assert_int_equal(p->n_conns, 1);
    mlflow_client_close(c);
    peer_stop(p);
}

struct worker {
    struct mlflow_client *c;
    int failures;
};

static void *log_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 25; i++)
        if (mlflow_client_log_metric(w->c, RUN_ID, "m", i, 1000 + i, i) != MLFLOW_OK)
            w->failures++;
    return NULL;
}

static void test_one_client_many_threads(void **state)
{
    (void)state;
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, 0};
        pthread_create(&t[i], NULL, log_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(peer_n_reqs(p), MAX_REQS); /* 100 sent; the peer keeps 64 */
    assert_true(p->n_conns <= 4);
    mlflow_client_close(c);
    peer_stop(p);
}

/* ---- wire format ---- */

static void test_log_batch_request(void **state)
{
    (void)state;
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    struct mlflow_metric m[] = {{"loss", 0.1, 1700000000001, 3}, {"x", NAN, 7, -1},
                                {"y", -INFINITY, 8, 0}};
    struct mlflow_kv params[] = {{"lr", "0.01"}};
    struct mlflow_kv tags[] = {{"note", "caf\xc3\xa9 \"q\""}};
    assert_int_equal(mlflow_client_log_batch(c, RUN_ID, m, 3, params, 1, tags, 1), MLFLOW_OK);
    assert_string_equal(p->reqs[0].method, "POST");
    assert_string_equal(p->reqs[0].target, "/api/2.0/mlflow/runs/log-batch");
    assert_string_equal(req_header(p, 0, "Content-Type"), "application/json");
    assert_string_equal(p->reqs[0].body,
                        "{\"run_id\":\"" RUN_ID "\",\"metrics\":["
                        "{\"key\":\"loss\",\"value\":0.1,\"timestamp\":1700000000001,\"step\":3},"
                        "{\"key\":\"x\",\"value\":\"NaN\",\"timestamp\":7,\"step\":-1},"
                        "{\"key\":\"y\",\"value\":\"-Infinity\",\"timestamp\":8,\"step\":0}],"
                        "\"params\":[{\"key\":\"lr\",\"value\":\"0.01\"}],"
                        "\"tags\":[{\"key\":\"note\",\"value\":\"caf\\u00e9 \\\"q\\\"\"}]}");
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_get_requests_use_the_query_string(void **state)
{
    (void)state;
    struct reply exp = {200, NULL,
                        "{\"experiment\": {\"experiment_id\": \"7\", \"name\": \"a b&c/d\", "
                        "\"artifact_location\": \"mlflow-artifacts:/7\", \"lifecycle_stage\": "
                        "\"active\", \"last_update_time\": 2, \"creation_time\": \"1\", "
                        "\"tags\": [{\"key\": \"t\", \"value\": \"v\"}]}}",
                        0};
    struct peer *p = peer_start(NULL, 0, exp);
    struct mlflow_client *c = open_client(p);
    struct mlflow_experiment *e = NULL;
    assert_int_equal(mlflow_client_get_experiment_by_name(c, "a b&c/d", &e), MLFLOW_OK);
    assert_string_equal(p->reqs[0].method, "GET");
    assert_string_equal(p->reqs[0].target,
                        "/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%20b%26c%2Fd");
    assert_int_equal(p->reqs[0].body_len, 0);
    assert_string_equal(e->name, "a b&c/d");
    assert_int_equal(e->creation_time, 1); /* int64 as a string is accepted */
    assert_int_equal(e->n_tags, 1);
    mlflow_experiment_free(e);
    assert_int_equal(mlflow_client_get_experiment(c, "7", &e), MLFLOW_OK);
    assert_string_equal(p->reqs[1].target, "/api/2.0/mlflow/experiments/get?experiment_id=7");
    mlflow_experiment_free(e);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_search_forwards_the_callers_strings(void **state)
{
    (void)state;
    struct reply page = {200, NULL,
                         "{\"runs\": [" RUN_OBJ "], \"next_page_token\": \"srv-token==\"}", 0};
    struct reply no_exps = {200, NULL, "{}", 0};
    struct peer *p = peer_start(&page, 1, no_exps);
    struct mlflow_client *c = open_client(p);
    const char *ids[] = {"1", "2"};
    const char *order[] = {"metrics.loss ASC", "attributes.start_time DESC"};
    struct mlflow_search_runs_opts o = {
        .experiment_ids = ids,
        .n_experiment_ids = 2,
        .filter = "metrics.loss < 0.5 and tags.`a b` = 'x'",
        .view_type = MLFLOW_VIEW_ALL,
        .max_results = 10,
        .order_by = order,
        .n_order_by = 2,
        .page_token = "opaque!token", /* not one of MLflow's offsets */
    };
    struct mlflow_run_list *l = NULL;
    assert_int_equal(mlflow_client_search_runs(c, &o, &l), MLFLOW_OK);
    assert_string_equal(p->reqs[0].target, "/api/2.0/mlflow/runs/search");
    assert_string_equal(p->reqs[0].body,
                        "{\"experiment_ids\":[\"1\",\"2\"],"
                        "\"filter\":\"metrics.loss < 0.5 and tags.`a b` = 'x'\","
                        "\"run_view_type\":\"ALL\",\"max_results\":10,"
                        "\"order_by\":[\"metrics.loss ASC\",\"attributes.start_time DESC\"],"
                        "\"page_token\":\"opaque!token\"}");
    assert_int_equal(l->count, 1);
    assert_string_equal(l->runs[0].info.run_id, RUN_ID);
    assert_string_equal(l->next_page_token, "srv-token==");
    mlflow_run_list_free(l);

    struct mlflow_search_experiments_opts eo = {.filter = "name LIKE 'x%'",
                                                .page_token = "tok"};
    struct mlflow_experiment_list *el = NULL;
    assert_int_equal(mlflow_client_search_experiments(c, &eo, &el), MLFLOW_OK);
    assert_string_equal(p->reqs[1].target, "/api/2.0/mlflow/experiments/search");
    assert_string_equal(p->reqs[1].body, "{\"max_results\":1000,\"page_token\":\"tok\","
                                         "\"filter\":\"name LIKE 'x%'\","
                                         "\"view_type\":\"ACTIVE_ONLY\"}");
    assert_int_equal(el->count, 0);
    assert_null(el->next_page_token);
    mlflow_experiment_list_free(el);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_metric_history_follows_pages(void **state)
{
    (void)state;
    static const struct reply script[] = {
        {200, NULL,
         "{\"metrics\": [{\"key\": \"m\", \"value\": 1.0, \"timestamp\": 1, \"step\": 0}, "
         "{\"key\": \"m\", \"value\": 2.5, \"timestamp\": 2, \"step\": 1}], "
         "\"next_page_token\": \"p2\"}",
         0},
        {200, NULL,
         "{\"metrics\": [{\"key\": \"m\", \"value\": \"Infinity\", \"timestamp\": 3, "
         "\"step\": 2}]}",
         0},
    };
    struct peer *p = peer_start(script, 2, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    struct mlflow_metric_list *l = NULL;
    assert_int_equal(mlflow_client_get_metric_history(c, RUN_ID, "m", &l), MLFLOW_OK);
    assert_int_equal(l->count, 3);
    assert_true(l->metrics[0].value == 1.0 && l->metrics[1].value == 2.5);
    assert_true(isinf(l->metrics[2].value) && l->metrics[2].step == 2);
    mlflow_metric_list_free(l);
    assert_int_equal(peer_n_reqs(p), 2);
    assert_string_equal(p->reqs[0].target, "/api/2.0/mlflow/metrics/get-history?run_id=" RUN_ID
                                           "&run_uuid=" RUN_ID "&metric_key=m");
    assert_non_null(strstr(p->reqs[1].target, "&page_token=p2"));
    mlflow_client_close(c);
    peer_stop(p);

    /* A server that repeats its token is not followed forever. */
    struct reply loop = {200, NULL, "{\"metrics\": [], \"next_page_token\": \"same\"}", 0};
    p = peer_start(NULL, 0, loop);
    c = open_client(p);
    assert_int_equal(mlflow_client_get_metric_history(c, RUN_ID, "m", &l), MLFLOW_INTERNAL_ERROR);
    assert_int_equal(peer_n_reqs(p), 2);
    mlflow_client_close(c);
    peer_stop(p);
}

static void test_update_and_create(void **state)
{
    (void)state;
    static const struct reply script[] = {
        {200, NULL, "{\"run_info\": {}}", 0}, /* update */
        {200, NULL, RUN_JSON, 0},             /* create */
        {200, NULL, "{\"experiment_id\": \"42\"}", 0},
    };
    struct peer *p = peer_start(script, 3, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    assert_int_equal(mlflow_client_set_terminated(c, RUN_ID, MLFLOW_RUN_STATUS_KILLED, 99),
                     MLFLOW_OK);
    assert_string_equal(p->reqs[0].body, "{\"run_id\":\"" RUN_ID "\",\"run_uuid\":\"" RUN_ID
                                         "\",\"status\":\"KILLED\",\"end_time\":99}");
    struct mlflow_kv tags[] = {{"t", "1"}};
    struct mlflow_create_run_opts o = {.run_name = "nm", .start_time = 5, .tags = tags,
                                       .n_tags = 1};
    struct mlflow_run *r = NULL;
    assert_int_equal(mlflow_client_create_run(c, "3", &o, &r), MLFLOW_OK);
    mlflow_run_free(r);
    assert_string_equal(p->reqs[1].target, "/api/2.0/mlflow/runs/create");
    assert_non_null(strstr(p->reqs[1].body, "\"experiment_id\":\"3\""));
    assert_non_null(strstr(p->reqs[1].body, "\"run_name\":\"nm\",\"start_time\":5"));
    char *id = NULL;
    struct mlflow_experiment_opts eo = {.artifact_location = "s3://b/x"};
    assert_int_equal(mlflow_client_create_experiment(c, "e", &eo, &id), MLFLOW_OK);
    assert_string_equal(id, "42");
    mlflow_free(id);
    assert_string_equal(p->reqs[2].body, "{\"name\":\"e\",\"artifact_location\":\"s3://b/x\"}");
    mlflow_client_close(c);
    peer_stop(p);
}

/* ---- databricks ---- */

static void test_databricks_profile_and_env(void **state)
{
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/dbcfg", (char *)*state);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[DEFAULT]\nhost = http://127.0.0.1:%d\ntoken = default-tok\n\n"
               "[team]\ntoken: team-tok\n# inherits host from DEFAULT\n",
            p->port);
    fclose(f);
    setenv("DATABRICKS_CONFIG_FILE", cfg, 1);

    struct mlflow_client *c = NULL;
    assert_int_equal(mlflow_client_open("databricks://team", &c), MLFLOW_OK);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_string_equal(req_header(p, 0, "Authorization"), "Bearer team-tok");
    mlflow_client_close(c);

    assert_int_equal(mlflow_client_open("databricks", &c), MLFLOW_OK);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_string_equal(req_header(p, 1, "Authorization"), "Bearer default-tok");
    mlflow_client_close(c);

    /* The environment comes first for the default profile. */
    char host[64];
    snprintf(host, sizeof host, "http://127.0.0.1:%d", p->port);
    setenv("DATABRICKS_HOST", host, 1);
    setenv("DATABRICKS_TOKEN", "env-tok", 1);
    assert_int_equal(mlflow_client_open("databricks", &c), MLFLOW_OK);
    assert_int_equal(mlflow_client_delete_run(c, RUN_ID), MLFLOW_OK);
    assert_string_equal(req_header(p, 2, "Authorization"), "Bearer env-tok");
    mlflow_client_close(c);

    assert_int_equal(mlflow_client_open("databricks://nosuch", &c),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "nosuch"));
    assert_int_equal(mlflow_client_open("databricks://scope:prefix", &c), MLFLOW_NOT_IMPLEMENTED);
    peer_stop(p);
}

/* ---- artifacts ---- */

static void expect_resolve(const char *artifact, const char *tracking, const char *want)
{
    char *got = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__artifact_uri_resolve(artifact, tracking, &got, &err), MLFLOW_OK);
    assert_string_equal(got, want);
    mlflow_free(got);
}

static void test_mlflow_artifacts_uri_resolution(void **state)
{
    (void)state;
    expect_resolve("mlflow-artifacts:/a/b", "http://localhost:5000",
                   "http://localhost:5000/api/2.0/mlflow-artifacts/artifacts/a/b");
    expect_resolve("mlflow-artifacts://h:4242/a", "http://localhost:5000",
                   "http://h:4242/api/2.0/mlflow-artifacts/artifacts/a");
    expect_resolve("mlflow-artifacts:/", "http://localhost:5000",
                   "http://localhost:5000/api/2.0/mlflow-artifacts/artifacts");
    expect_resolve("mlflow-artifacts:/1/r/artifacts", "https://srv/mlflow/",
                   "https://srv/mlflow/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts");
    expect_resolve("mlflow-artifacts:/x//y/", "http://h:1", 
                   "http://h:1/api/2.0/mlflow-artifacts/artifacts/x/y");
    expect_resolve("file:///tmp/a", "http://h:1", "file:///tmp/a");
    char *got = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__artifact_uri_resolve("mlflow-artifacts://5000/a", "http://h", &got,
                                                  &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow__artifact_uri_resolve("mlflow-artifacts:/a", "file:///tmp/mlruns",
                                                  &got, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(got);
}

static char *write_temp(const char *dir, const char *name, const char *content)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_artifact_upload_is_a_put_of_the_file(void **state)
{
    struct peer *p = peer_start(NULL, 0, OK_EMPTY);
    char root[128];
    snprintf(root, sizeof root,
             "http://127.0.0.1:%d/api/2.0/mlflow-artifacts/artifacts/1/" RUN_ID "/artifacts",
             p->port);
    char *local = write_temp(*state, "my file.csv", "a,b\n1,2\n");
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__http_artifact_repo.log_file(root, local, "sub dir", &err),
                     MLFLOW_OK);
    assert_string_equal(p->reqs[0].method, "PUT");
    assert_string_equal(p->reqs[0].target, "/api/2.0/mlflow-artifacts/artifacts/1/" RUN_ID
                                           "/artifacts/sub%20dir/my%20file.csv");
    assert_string_equal(p->reqs[0].body, "a,b\n1,2\n");
    assert_string_equal(req_header(p, 0, "Content-Type"), "text/csv");
    assert_int_equal(mlflow__http_artifact_repo.log_bytes(root, "notes/n.txt", "hi", 2, &err),
                     MLFLOW_OK);
    assert_string_equal(p->reqs[1].target,
                        "/api/2.0/mlflow-artifacts/artifacts/1/" RUN_ID "/artifacts/notes/n.txt");
    assert_string_equal(p->reqs[1].body, "hi");
    free(local);
    peer_stop(p);
}

static void test_artifact_list_checks_names(void **state)
{
    (void)state;
    static const struct reply script[] = {
        {200, NULL,
         "{\"files\": [{\"path\": \"z.bin\", \"is_dir\": false, \"file_size\": 3}, "
         "{\"path\": \"d\", \"is_dir\": true}]}",
         0},
        {200, NULL, "{\"files\": [{\"path\": \"../../etc/passwd\", \"is_dir\": false}]}", 0},
        {200, NULL, "{\"files\": [{\"path\": \"a/b\", \"is_dir\": false}]}", 0},
        {200, NULL, "{}", 0},
    };
    struct peer *p = peer_start(script, 4, OK_EMPTY);
    char root[128];
    snprintf(root, sizeof root, "http://127.0.0.1:%d/api/2.0/mlflow-artifacts/artifacts/1/r/art",
             p->port);
    struct mlflow_error err = {0};
    struct mlflow_file_list *l = NULL;
    assert_int_equal(mlflow__http_artifact_repo.list(root, "sub", &l, &err), MLFLOW_OK);
    assert_string_equal(p->reqs[0].target,
                        "/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr%2Fart%2Fsub");
    assert_int_equal(l->count, 2);
    assert_string_equal(l->files[0].path, "sub/d");
    assert_true(l->files[0].is_dir);
    assert_int_equal(l->files[0].file_size, -1);
    assert_string_equal(l->files[1].path, "sub/z.bin");
    assert_int_equal(l->files[1].file_size, 3);
    mlflow_file_list_free(l);
    assert_int_equal(mlflow__http_artifact_repo.list(root, NULL, &l, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow__http_artifact_repo.list(root, NULL, &l, &err),
                     MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(mlflow__http_artifact_repo.list(root, NULL, &l, &err), MLFLOW_OK);
    assert_int_equal(l->count, 0);
    assert_string_equal(p->reqs[3].target,
                        "/api/2.0/mlflow-artifacts/artifacts?path=1%2Fr%2Fart");
    mlflow_file_list_free(l);
    peer_stop(p);
}

static void test_artifact_download_tree(void **state)
{
    static const struct reply script[] = {
        /* root listing, then "d" listing, then the files in name order */
        {200, NULL,
         "{\"files\": [{\"path\": \"d\", \"is_dir\": true}, "
         "{\"path\": \"top.txt\", \"is_dir\": false, \"file_size\": 3}]}",
         0},
        {200, NULL, "{\"files\": [{\"path\": \"in.txt\", \"is_dir\": false}]}", 0},
        {200, NULL, "inner", 0},
        {200, NULL, "top", 0},
    };
    struct peer *p = peer_start(script, 4, OK_EMPTY);
    char root[128], dst[4096], path[8192];
    snprintf(root, sizeof root, "http://127.0.0.1:%d/api/2.0/mlflow-artifacts/artifacts/x",
             p->port);
    snprintf(dst, sizeof dst, "%s/dl", (char *)*state);
    struct mlflow_error err = {0};
    char *out = NULL;
    assert_int_equal(mlflow__http_artifact_repo.download(root, NULL, dst, &out, &err), MLFLOW_OK);
    assert_string_equal(out, dst);
    mlflow_free(out);
    assert_string_equal(p->reqs[2].target, "/api/2.0/mlflow-artifacts/artifacts/x/d/in.txt");
    snprintf(path, sizeof path, "%s/d/in.txt", dst);
    char *s = slurp(path);
    assert_string_equal(s, "inner");
    free(s);
    snprintf(path, sizeof path, "%s/top.txt", dst);
    s = slurp(path);
    assert_string_equal(s, "top");
    free(s);
    peer_stop(p);
}

static void test_failed_download_leaves_no_file(void **state)
{
    setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0", 1);
    static const struct reply script[] = {
        {200, NULL, "{}", 0}, /* listing: not a directory, so a file */
        {404, NULL, "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": \"gone\"}", 0},
    };
    struct peer *p = peer_start(script, 2, OK_EMPTY);
    char root[128], dst[4096], path[8192];
    snprintf(root, sizeof root, "http://127.0.0.1:%d/api/2.0/mlflow-artifacts/artifacts/x",
             p->port);
    snprintf(dst, sizeof dst, "%s/dl", (char *)*state);
    struct mlflow_error err = {0};
    char *out = NULL;
    assert_int_equal(mlflow__http_artifact_repo.download(root, "m.bin", dst, &out, &err),
                     MLFLOW_RESOURCE_DOES_NOT_EXIST);
    assert_null(out);
    snprintf(path, sizeof path, "%s/m.bin", dst);
    assert_int_not_equal(access(path, F_OK), 0);
    /* Nor a temporary file beside it. */
    size_t entries = 0;
    DIR *d = opendir(dst);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        entries += de->d_name[0] != '.' || strncmp(de->d_name, ".mlflow-download", 16) == 0;
    closedir(d);
    assert_int_equal(entries, 0);
    peer_stop(p);
}

static void test_client_resolves_mlflow_artifacts_uris(void **state)
{
    /* runs/get gives an mlflow-artifacts: root; the upload goes to the
     * tracking server's artifacts service. */
    static const struct reply script[] = {{200, NULL, RUN_JSON, 0}, {200, NULL, "{}", 0}};
    struct peer *p = peer_start(script, 2, OK_EMPTY);
    struct mlflow_client *c = open_client(p);
    char *local = write_temp(*state, "w.txt", "weights");
    assert_int_equal(mlflow_client_log_artifact(c, RUN_ID, local, "model"), MLFLOW_OK);
    assert_string_equal(p->reqs[1].method, "PUT");
    assert_string_equal(p->reqs[1].target,
                        "/api/2.0/mlflow-artifacts/artifacts/0/" RUN_ID "/artifacts/model/w.txt");
    assert_string_equal(p->reqs[1].body, "weights");
    free(local);
    mlflow_client_close(c);
    peer_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_503_twice_then_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_transient_status_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_run_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_errors_are_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_is_retried_then_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stalled_server_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policy_variables_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_bodies_map_to_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_answers_are_internal_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_basic_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_auth_and_no_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_stay_with_their_host_on_redirect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_reuses_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_client_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_batch_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_requests_use_the_query_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_forwards_the_callers_strings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metric_history_follows_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_databricks_profile_and_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mlflow_artifacts_uri_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifact_upload_is_a_put_of_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_artifact_list_checks_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifact_download_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_download_leaves_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_resolves_mlflow_artifacts_uris, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
