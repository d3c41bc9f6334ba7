/*
 * test_server_security.c - the server under hostile input: traversal paths
 * in every spelling on every artifact route, symlinks planted inside the
 * artifact tree, malformed and oversized bodies, stalled clients, a crowd
 * of concurrent connections, and a stop in the middle of an upload. The
 * rules come from the security guide (R1, R2, R3, R5, R6): nothing outside
 * the artifact root is ever read, written or deleted, and the server keeps
 * answering everyone else.
 */
#include "http/http_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#define SECRET "TOP-SECRET-CONTENT"

struct fx {
    struct ht_server h;
    char outside[600];   /* <tmp>/outside: a directory beside the roots */
    char secret[700];    /* <tmp>/outside/secret.txt */
    char *exp, *run;
    char run_dir[900];   /* the run's artifact directory on disk */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    if (ht_start(&fx->h, NULL))
        return -1;
    snprintf(fx->outside, sizeof fx->outside, "%s/outside", fx->h.dir);
    snprintf(fx->secret, sizeof fx->secret, "%s/secret.txt", fx->outside);
    mkdir(fx->outside, 0777);
    write_file(fx->secret, SECRET);

    struct ht_resp r;
    assert_int_equal(ht_post_json(fx->h.port, "/api/2.0/mlflow/experiments/create",
                                  "{\"name\": \"sec\"}", &r),
                     0);
    fx->exp = ht_json_field(&r, "experiment_id");
    ht_resp_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"experiment_id\": \"%s\"}", fx->exp);
    assert_int_equal(ht_post_json(fx->h.port, "/api/2.0/mlflow/runs/create", body, &r), 0);
    fx->run = ht_json_field(&r, "run.info.run_id");
    ht_resp_free(&r);
    assert_non_null(fx->run);

    /* A real artifact, then symlinks inside the run's tree pointing out. */
    char target[1024], link[1100];
    snprintf(target, sizeof target, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/ok.txt",
             fx->exp, fx->run);
    assert_int_equal(ht_request(fx->h.port, "PUT", target, NULL, "fine", &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    snprintf(fx->run_dir, sizeof fx->run_dir, "%s/%s/%s/artifacts", fx->h.dest, fx->exp,
             fx->run);
    snprintf(link, sizeof link, "%s/dirlink", fx->run_dir);
    assert_int_equal(symlink(fx->outside, link), 0);
    snprintf(link, sizeof link, "%s/filelink", fx->run_dir);
    assert_int_equal(symlink(fx->secret, link), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    ht_stop(&fx->h);
    free(fx->exp);
    free(fx->run);
    free(fx);
    return 0;
}

/* Nothing outside the roots changed and no secret leaked. */
static void assert_untouched(struct fx *fx, const struct ht_resp *r, const char *what)
{
    char *s = slurp(fx->secret);
    assert_non_null(s);
    assert_string_equal(s, SECRET);
    free(s);
    if (count_entries(fx->outside) != 1)
        fail_msg("%s: something was written into %s", what, fx->outside);
    if (count_entries(fx->h.dir) != 3) /* mlruns, mlartifacts, outside */
        fail_msg("%s: something was written into %s", what, fx->h.dir);
    if (r && r->body && strstr(r->body, SECRET))
        fail_msg("%s: the secret leaked: %s", what, r->body);
}

/* ---- traversal, in every spelling, on every artifact route ---- */

/* Paths (as they go into the URL) that all try to reach outside/secret.txt
 * from the artifact destination or from the run's artifact root. */
static const char *const hostile[] = {
    "../outside/secret.txt",
    "../../../../outside/secret.txt",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "..%2foutside/secret.txt",
    "%252e%252e/outside/secret.txt",
    "%25252e%25252e/outside/secret.txt",
    "%2525252e%2525252e/outside/secret.txt",
    "..%5coutside%5csecret.txt",
    "..\\outside\\secret.txt",
    "%2Ftmp%2Fsecret.txt",
    "%2F%2E%2E%2Fsecret.txt",
    "ok.txt%00/../../outside/secret.txt",
    "a%00b",
    "a/./../../outside/secret.txt",
    "C:%5cwindows",
    "a%3f/../../x",
    "a%23/../../x",
    "a;/../../x",
    "dirlink/secret.txt",
    "dirlink%2fsecret.txt",
    "filelink",
    "a%0d%0aSet-Cookie:%20x",
};

static void try_routes(struct fx *fx, const char *p)
{
    char url[2048];
    struct ht_resp r;
    /* For the proxy routes: relative to the destination, and relative to
     * the run's root there (where the planted links are). */
    char proxied[1200];
    snprintf(proxied, sizeof proxied, "%s/%s/artifacts/%s", fx->exp, fx->run, p);
    const char *const proxy_paths[] = {p, proxied};
    for (size_t k = 0; k < 2; k++) {
        const char *pp = proxy_paths[k];
        const char *const fams[] = {"/api/2.0", "/ajax-api/2.0"};
        for (size_t f = 0; f < 2; f++) {
            snprintf(url, sizeof url, "%s/mlflow-artifacts/artifacts/%s", fams[f], pp);
            assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
            if (r.status == 200)
                fail_msg("GET %s answered 200: %s", url, r.body);
            assert_untouched(fx, &r, url);
            ht_resp_free(&r);

            assert_int_equal(ht_request(fx->h.port, "PUT", url, NULL, "PWNED", &r), 0);
            assert_untouched(fx, &r, url);
            ht_resp_free(&r);

            assert_int_equal(ht_request(fx->h.port, "DELETE", url, NULL, NULL, &r), 0);
            assert_untouched(fx, &r, url);
            ht_resp_free(&r);

            snprintf(url, sizeof url, "%s/mlflow-artifacts/artifacts?path=%s", fams[f], pp);
            assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
            assert_null(strstr(r.body, "secret.txt"));
            assert_untouched(fx, &r, url);
            ht_resp_free(&r);

            snprintf(url, sizeof url, "%s/mlflow-artifacts/mpu/create/%s", fams[f], pp);
            assert_int_equal(ht_request(fx->h.port, "POST", url,
                                        "Content-Type: application/json\r\n",
                                        "{\"path\": \"x\", \"num_parts\": 1}", &r),
                             0);
            assert_true(r.status >= 400);
            assert_untouched(fx, &r, url);
            ht_resp_free(&r);
        }
    }
    /* Routes that take the path relative to the run's artifact root. */
    snprintf(url, sizeof url, "/get-artifact?run_id=%s&path=%s", fx->run, p);
    assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
    if (r.status == 200)
        fail_msg("GET %s answered 200: %s", url, r.body);
    assert_untouched(fx, &r, url);
    ht_resp_free(&r);

    snprintf(url, sizeof url, "/api/2.0/mlflow/artifacts/list?run_id=%s&path=%s", fx->run, p);
    assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
    assert_null(strstr(r.body, "secret.txt"));
    assert_untouched(fx, &r, url);
    ht_resp_free(&r);

    snprintf(url, sizeof url, "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=%s&path=%s", fx->run,
             p);
    assert_int_equal(ht_request(fx->h.port, "POST", url, NULL, "PWNED", &r), 0);
    assert_untouched(fx, &r, url);
    ht_resp_free(&r);
}

static void test_hostile_paths_every_route(void **state)
{
    struct fx *fx = *state;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(hostile); i++)
        try_routes(fx, hostile[i]);
    /* The real artifact is still there and still served. */
    char url[512];
    struct ht_resp r;
    snprintf(url, sizeof url, "/get-artifact?run_id=%s&path=ok.txt", fx->run);
    assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "fine");
    ht_resp_free(&r);
}

/* The links themselves are never followed nor listed. */
static void test_symlinks_not_followed(void **state)
{
    struct fx *fx = *state;
    char url[1024];
    struct ht_resp r;
    snprintf(url, sizeof url, "/api/2.0/mlflow-artifacts/artifacts?path=%s/%s/artifacts",
             fx->exp, fx->run);
    assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "ok.txt"));
    assert_null(strstr(r.body, "dirlink"));
    assert_null(strstr(r.body, "filelink"));
    ht_resp_free(&r);
    /* Writing "through" the directory link fails; writing over the file
     * link replaces the link inside the tree, never its target. */
    snprintf(url, sizeof url, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/dirlink/n.txt",
             fx->exp, fx->run);
    assert_int_equal(ht_request(fx->h.port, "PUT", url, NULL, "x", &r), 0);
    assert_int_equal(r.status, 400);
    ht_resp_free(&r);
    snprintf(url, sizeof url, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/filelink",
             fx->exp, fx->run);
    assert_int_equal(ht_request(fx->h.port, "PUT", url, NULL, "replaced", &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    assert_untouched(fx, NULL, "PUT over a file link");
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/filelink", fx->run_dir);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* Deleting a directory that holds a link removes the link only. */
    snprintf(path, sizeof path, "%s/sub", fx->run_dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/sub/link", fx->run_dir);
    assert_int_equal(symlink(fx->outside, path), 0);
    snprintf(url, sizeof url, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/sub", fx->exp,
             fx->run);
    assert_int_equal(ht_request(fx->h.port, "DELETE", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    assert_untouched(fx, NULL, "DELETE of a tree holding a link");
    snprintf(path, sizeof path, "%s/sub", fx->run_dir);
    assert_int_not_equal(lstat(path, &st), 0);
}

/* A raw NUL byte or other control byte in the request line. */
static void test_raw_control_bytes(void **state)
{
    struct fx *fx = *state;
    static const char target[] = "/api/2.0/mlflow-artifacts/artifacts/a\0/../../outside/secret.txt";
    struct ht_resp r;
    int rc = ht_request_raw(fx->h.port, "GET", target, sizeof target - 1, NULL, NULL, 0, &r);
    if (rc == 0) {
        assert_int_not_equal(r.status, 200);
        assert_untouched(fx, &r, "raw NUL");
        ht_resp_free(&r);
    }
    static const char target2[] = "/api/2.0/mlflow-artifacts/artifacts/a\x01..";
    rc = ht_request_raw(fx->h.port, "GET", target2, sizeof target2 - 1, NULL, NULL, 0, &r);
    if (rc == 0) {
        assert_int_not_equal(r.status, 200);
        ht_resp_free(&r);
    }
    /* The server is still up. */
    assert_int_equal(ht_request(fx->h.port, "GET", "/health", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
}

/* The canonicalizer on its own: decoded to a fixed point, then judged. */
static void test_canonicalizer(void **state)
{
    (void)state;
    void *owner = mlflow__obj_new(8);
    struct mlflow__arena *a = mlflow__obj_arena(owner);
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } cases[] = {
        {"a/b.txt", "a/b.txt"},
        {"a/b/", "a/b"},
        {"", ""},
        {"a%20b", "a b"},
        {"a%2520b", "a b"},
        {"caf%C3%A9", "caf\xc3\xa9"},
        {"..", NULL},
        {"a/../b", NULL},
        {"%2e%2e", NULL},
        {"%252e%252e/x", NULL},
        {"%25252525252e", NULL}, /* does not settle in 3 rounds */
        {"/abs", NULL},
        {"%2fabs", NULL},
        {"a//b", NULL},
        {"./a", NULL},
        {"a\\b", NULL},
        {"a%5cb", NULL},
        {"a%00b", NULL},
        {"a%0ab", NULL},
        {"a#b", NULL},
        {"a?b", NULL},
        {"a;b", NULL},
        {"C:x", NULL},
        {"%ff%fe", NULL}, /* invalid UTF-8 */
        {"50%.txt", "50%.txt"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(cases); i++) {
        const char *out = NULL;
        struct mlflow_error err = {0};
        int rc = mlflow__afs_canon(a, cases[i].in, strlen(cases[i].in), &out, &err);
        if (cases[i].out) {
            if (rc)
                fail_msg("'%s' refused: %s", cases[i].in, err.message);
            assert_string_equal(out, cases[i].out);
        } else if (rc != MLFLOW_INVALID_PARAMETER_VALUE) {
            fail_msg("'%s' accepted as '%s'", cases[i].in, out ? out : "");
        }
    }
    const char *out;
    struct mlflow_error err = {0};
    assert_int_not_equal(mlflow__afs_canon(a, "a\0b", 3, &out, &err), 0);
    mlflow__obj_free(owner);
}

/* ---- bodies ---- */

static void test_malformed_and_mistyped_json(void **state)
{
    struct fx *fx = *state;
    struct ht_resp r;
    static const char *const bad[] = {
        "{", "{\"name\": }", "nul", "{\"name\": \"x\"} trailing", "{\"name\": \"\xff\xfe\"}",
        "{\"name\": \"a\\u0000b\"}", "{\"name\": [\"x\"]}", "{\"name\": null}", "\"\"",
        "{\"name\": \"x\", \"tags\": [1, 2]}", "{\"name\": \"x\", \"tags\": [{\"key\": 5}]}",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        assert_int_equal(ht_post_json(fx->h.port, "/api/2.0/mlflow/experiments/create", bad[i],
                                      &r),
                         0);
        if (r.status != 400 || !strstr(r.body, "INVALID_PARAMETER_VALUE"))
            fail_msg("body %s: %d %s", bad[i], r.status, r.body);
        ht_resp_free(&r);
    }
    /* Nesting beyond the parser's depth limit. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(ht_post_json(fx->h.port, "/api/2.0/mlflow/runs/log-batch", deep, &r), 0);
    assert_int_equal(r.status, 400);
    ht_resp_free(&r);
    free(deep);
    /* Wrong types name the field. */
    char body[256];
    snprintf(body, sizeof body,
             "{\"run_id\": \"%s\", \"metrics\": [{\"key\": \"m\", \"value\": 1, "
             "\"timestamp\": \"soon\"}]}",
             fx->run);
    assert_int_equal(ht_post_json(fx->h.port, "/api/2.0/mlflow/runs/log-batch", body, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "metrics[0].timestamp"));
    ht_resp_free(&r);
}

static void test_huge_bodies(void **state)
{
    struct fx *fx = *state;
    struct ht_resp r;
    /* Declared too large: refused before it is read. */
    int fd = ht_connect(fx->h.port, 10);
    assert_true(fd >= 0);
    const char *req = "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1073741824\r\n"
                      "Connection: close\r\n\r\n{";
    assert_int_equal(ht_send_all(fd, req, strlen(req)), 0);
    assert_int_equal(ht_read_response(fd, &r), 0);
    close(fd);
    assert_int_equal(r.status, 413);
    ht_resp_free(&r);
    /* Sent too large without a length (chunked): refused after the limit. */
    fd = ht_connect(fx->h.port, 20);
    assert_true(fd >= 0);
    req = "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n";
    assert_int_equal(ht_send_all(fd, req, strlen(req)), 0);
    size_t chunk = 1 << 20;
    char *data = malloc(chunk);
    memset(data, ' ', chunk);
    char head[32];
    int ok = 0;
    for (int i = 0; i < 10 && ok == 0; i++) { /* 10 MiB > the 8 MiB limit */
        snprintf(head, sizeof head, "%zx\r\n", chunk);
        ok = ht_send_all(fd, head, strlen(head));
        if (!ok)
            ok = ht_send_all(fd, data, chunk);
        if (!ok)
            ok = ht_send_all(fd, "\r\n", 2);
    }
    if (!ok)
        ht_send_all(fd, "0\r\n\r\n", 5);
    free(data);
    assert_int_equal(ht_read_response(fd, &r), 0);
    close(fd);
    assert_int_equal(r.status, 413);
    ht_resp_free(&r);
    /* Too many header bytes: MHD's own 4xx, and the server stays up. */
    size_t hn = 100 * 1024;
    char *hdr = malloc(hn + 32);
    memcpy(hdr, "X-Big: ", 7);
    memset(hdr + 7, 'a', hn);
    memcpy(hdr + 7 + hn, "\r\n", 3);
    assert_int_equal(ht_request(fx->h.port, "GET", "/health", hdr, NULL, &r), 0);
    assert_true(r.status >= 400 && r.status < 500);
    ht_resp_free(&r);
    free(hdr);
    assert_int_equal(ht_request(fx->h.port, "GET", "/health", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
}

/* Long GET URLs (clients send over 8 KiB of repeated parameters). */
static void test_long_url(void **state)
{
    struct fx *fx = *state;
    struct mlflow__sb url = MLFLOW__SB_INIT;
    mlflow__sb_adds(&url, "/api/2.0/mlflow/experiments/search?max_results=5");
    for (int i = 0; i < 700; i++)
        mlflow__sb_adds(&url, "&order_by=name+ASC");
    struct ht_resp r;
    assert_true(url.len > 8192);
    assert_int_equal(ht_request(fx->h.port, "GET", url.buf, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"experiments\""));
    ht_resp_free(&r);
    mlflow__sb_release(&url);
}

/* ---- browsers ---- */

static void test_browser_defences(void **state)
{
    struct fx *fx = *state;
    struct ht_resp r;
    char url[512];
    /* DNS rebinding: a loopback server answers local names only. */
    assert_int_equal(ht_request_raw(fx->h.port, "GET", "/health", 7, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    int fd = ht_connect(fx->h.port, 5);
    const char *req = "GET /api/2.0/mlflow/experiments/get?experiment_id=0 HTTP/1.1\r\n"
                      "Host: attacker.example\r\nConnection: close\r\n\r\n";
    ht_send_all(fd, req, strlen(req));
    assert_int_equal(ht_read_response(fd, &r), 0);
    close(fd);
    assert_int_equal(r.status, 403);
    ht_resp_free(&r);
    /* A foreign Origin may not write, on any family of routes. */
    snprintf(url, sizeof url, "/api/2.0/mlflow-artifacts/artifacts/%s/x.txt", fx->exp);
    assert_int_equal(ht_request(fx->h.port, "PUT", url, "Origin: http://evil.example\r\n", "x", &r),
                     0);
    assert_int_equal(r.status, 403);
    ht_resp_free(&r);
    snprintf(url, sizeof url, "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=%s&path=x.txt",
             fx->run);
    assert_int_equal(ht_request(fx->h.port, "POST", url, "Origin: null\r\n", "x", &r), 0);
    assert_int_equal(r.status, 403);
    ht_resp_free(&r);
}

/* ---- load and stalls ---- */

static void test_stalled_clients_do_not_block(void **state)
{
    struct fx *fx = *state;
    enum { STALLED = 24 }; /* more than the server's 4 worker threads */
    int fds[STALLED];
    for (int i = 0; i < STALLED; i++) {
        fds[i] = ht_connect(fx->h.port, 5);
        assert_true(fds[i] >= 0);
        const char *part = i % 2 ? "GET /api/2.0/mlflow/experiments/get?exp"
                                 : "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 100\r\n"
                                   "\r\n{\"run_id\"";
        assert_int_equal(ht_send_all(fds[i], part, strlen(part)), 0);
    }
    for (int i = 0; i < 20; i++) {
        struct ht_resp r;
        struct timeval t0, t1;
        gettimeofday(&t0, NULL);
        assert_int_equal(ht_request(fx->h.port, "GET",
                                    "/api/2.0/mlflow/experiments/get?experiment_id=0", NULL, NULL,
                                    &r),
                         0);
        gettimeofday(&t1, NULL);
        assert_int_equal(r.status, 200);
        ht_resp_free(&r);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
        if (ms > 2000)
            fail_msg("a request waited %ld ms behind stalled clients", ms);
    }
    for (int i = 0; i < STALLED; i++)
        close(fds[i]);
}

static void test_many_concurrent_connections(void **state)
{
    struct fx *fx = *state;
    enum { N = 200 };
    int fds[N];
    char req[512];
    snprintf(req, sizeof req,
             "GET /api/2.0/mlflow/runs/get?run_id=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n",
             fx->run);
    for (int i = 0; i < N; i++) {
        fds[i] = ht_connect(fx->h.port, 20);
        assert_true(fds[i] >= 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(ht_send_all(fds[i], req, strlen(req)), 0);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        struct ht_resp r;
        if (ht_read_response(fds[i], &r) == 0) {
            ok += r.status == 200 && strstr(r.body, fx->run) != NULL;
            ht_resp_free(&r);
        }
        close(fds[i]);
    }
    assert_int_equal(ok, N);
}

struct writer {
    int port;
    const char *run;
    int id;
    int ok;
};

static void *write_metrics(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < 25; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"run_id\": \"%s\", \"key\": \"w%d\", \"value\": %d, \"timestamp\": 1, "
                 "\"step\": %d}",
                 w->run, w->id, i, i);
        struct ht_resp r;
        if (ht_post_json(w->port, "/api/2.0/mlflow/runs/log-metric", body, &r) == 0) {
            w->ok += r.status == 200;
            ht_resp_free(&r);
        }
    }
    return NULL;
}

/* Writers on many threads at once: every accepted point is kept. */
static void test_concurrent_writers(void **state)
{
    struct fx *fx = *state;
    enum { T = 8 };
    pthread_t th[T];
    struct writer w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct writer){fx->h.port, fx->run, i, 0};
        pthread_create(&th[i], NULL, write_metrics, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 25);
    }
    for (int i = 0; i < T; i++) {
        char url[256];
        snprintf(url, sizeof url, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=w%d",
                 fx->run, i);
        struct ht_resp r;
        assert_int_equal(ht_request(fx->h.port, "GET", url, NULL, NULL, &r), 0);
        json_object *obj = json_tokener_parse(r.body), *arr = NULL;
        assert_true(json_object_object_get_ex(obj, "metrics", &arr));
        assert_int_equal(json_object_array_length(arr), 25);
        json_object_put(obj);
        ht_resp_free(&r);
    }
}

/* ---- stopping ---- */

static void *stopper(void *arg)
{
    struct ht_server *h = arg;
    mlflow__server_stop(h->srv, 10000);
    h->srv = NULL;
    return NULL;
}

/* A stop that arrives in the middle of an upload lets it finish: an
 * accepted write is never cut off. New connections are refused. */
static void test_stop_finishes_requests_in_progress(void **state)
{
    (void)state;
    struct ht_server h;
    assert_int_equal(ht_start(&h, NULL), 0);
    int fd = ht_connect(h.port, 10);
    assert_true(fd >= 0);
    const char *head = "PUT /api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/late.txt "
                       "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n"
                       "Connection: close\r\n\r\n01234";
    assert_int_equal(ht_send_all(fd, head, strlen(head)), 0);
    usleep(100 * 1000); /* the server has the headers and half the body */
    pthread_t th;
    pthread_create(&th, NULL, stopper, &h);
    usleep(200 * 1000); /* the stop is waiting for us */
    int late = ht_connect(h.port, 1);
    if (late >= 0)
        close(late);
    assert_true(late < 0);
    assert_int_equal(ht_send_all(fd, "56789", 5), 0);
    struct ht_resp r;
    assert_int_equal(ht_read_response(fd, &r), 0);
    close(fd);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    pthread_join(th, NULL);
    char path[700];
    snprintf(path, sizeof path, "%s/0/r/artifacts/late.txt", h.dest);
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, "0123456789");
    free(got);
    ht_stop(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonicalizer),
        cmocka_unit_test_setup_teardown(test_hostile_paths_every_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_control_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_and_mistyped_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_browser_defences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_clients_do_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_concurrent_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test(test_stop_finishes_requests_in_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
