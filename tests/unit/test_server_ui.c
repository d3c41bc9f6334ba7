/*
 * test_server_ui.c - the server's web UI files, as a browser meets them:
 * index.html at / and under --static-prefix, bundle files by exact name
 * only, the CSP the UI relies on, caching (immutable hashed files, ETag and
 * 304 for the index), gzip when asked for, HEAD, and the development
 * directory (MLFLOW_UI_DIR) that never serves anything outside itself.
 *
 * The server is the real one, in-process on 127.0.0.1, given a small table
 * of files here instead of the UI build the mlflow-c program embeds.
 */
#include "http/http_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#define CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"

static const unsigned char index_html[] = "<!doctype html><title>t</title>";
static const unsigned char index_gz[] = "GZIPPED-INDEX";
static const unsigned char app_js[] = "console.log('app')";
static const unsigned char sub_css[] = "body{}";

static const struct mlflow__ui_file files[] = {
    {"app-ABCD2345.js", app_js, sizeof app_js - 1, NULL, 0, "\"js1\"", "\"js1-gz\"", true},
    {"index.html", index_html, sizeof index_html - 1, index_gz, sizeof index_gz - 1,
     "\"ix1\"", "\"ix1-gz\"", false},
    {"sub/x.css", sub_css, sizeof sub_css - 1, NULL, 0, "\"css1\"", "\"css1-gz\"", false},
};
static const struct mlflow__ui_files table = {files, 3};

static int start(struct ht_server *h, const char *prefix, const char *ui_dir)
{
    struct mlflow__server_opts o = {.serve_artifacts = true,
                                    .workers = 2,
                                    .static_prefix = prefix,
                                    .ui_files = &table,
                                    .ui_dir = ui_dir};
    return ht_start(h, &o);
}

static void get(struct ht_server *h, const char *method, const char *target,
                const char *headers, struct ht_resp *r)
{
    assert_int_equal(ht_request(h->port, method, target, headers, NULL, r), 0);
}

/* A request whose answer must have this status; nothing else is looked at. */
static void expect_status(struct ht_server *h, const char *method, const char *target,
                          const char *headers, int status)
{
    struct ht_resp r;
    get(h, method, target, headers, &r);
    assert_int_equal(r.status, status);
    ht_resp_free(&r);
}

/* A request whose answer must have this status and exactly this body. */
static void expect_body(struct ht_server *h, const char *method, const char *target,
                        const char *headers, int status, const char *body)
{
    struct ht_resp r;
    get(h, method, target, headers, &r);
    assert_int_equal(r.status, status);
    assert_string_equal(r.body, body);
    ht_resp_free(&r);
}

static void assert_header(const struct ht_resp *r, const char *name, const char *want)
{
    char buf[1024];
    const char *got = ht_header(r, name, buf, sizeof buf);
    if (!want) {
        if (got)
            fail_msg("header %s: expected none, got '%s'", name, got);
        return;
    }
    if (!got || strcmp(got, want) != 0)
        fail_msg("header %s: expected '%s', got '%s'", name, want, got ? got : "<absent>");
}

static void test_index_and_headers(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, NULL, NULL), 0);
    struct ht_resp r;
    get(&h, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, (const char *)index_html);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    assert_header(&r, "Content-Security-Policy", CSP);
    assert_header(&r, "X-Content-Type-Options", "nosniff");
    assert_header(&r, "Cache-Control", "no-cache");
    assert_header(&r, "ETag", "\"ix1\"");
    assert_header(&r, "Content-Encoding", NULL);
    ht_resp_free(&r);

    expect_body(&h, "GET", "/index.html", NULL, 200, (const char *)index_html);

    /* Hashed bundle files are cached for good, with their own type. */
    get(&h, "GET", "/app-ABCD2345.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, (const char *)app_js);
    assert_header(&r, "Content-Type", "text/javascript; charset=utf-8");
    assert_header(&r, "Cache-Control", "public, max-age=31536000, immutable");
    assert_header(&r, "Content-Security-Policy", CSP);
    assert_header(&r, "X-Content-Type-Options", "nosniff");
    ht_resp_free(&r);

    get(&h, "GET", "/sub/x.css", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/css; charset=utf-8");
    ht_resp_free(&r);

    /* The API is untouched. */
    expect_body(&h, "GET", "/health", NULL, 200, "OK");
    expect_status(&h, "GET", "/api/2.0/mlflow/no/such/route", NULL, 404);
    ht_stop(&h);
}

/* Only the table's exact names exist: no traversal, no other file. */
static void test_exact_names_only(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, NULL, NULL), 0);
    static const char *const missing[] = {
        "/nope.js",         "/index.html/",       "/./index.html",  "/sub/../index.html",
        "/../etc/passwd",   "/%2e%2e/etc/passwd", "//index.html",   "/sub",
        "/app-abcd2345.js", "/INDEX.HTML",        "/index.html%00", "/mlflow-artifacts/x",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(missing); i++) {
        struct ht_resp r;
        get(&h, "GET", missing[i], NULL, &r);
        if (r.status != 404 && r.status != 400)
            fail_msg("%s: status %d", missing[i], r.status);
        if (r.status == 404)
            assert_int_equal(r.len, 0);
        ht_resp_free(&r);
    }
    /* Writes to UI paths are not a thing. */
    expect_status(&h, "POST", "/", NULL, 404);
    ht_stop(&h);
}

static void test_revalidation(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, NULL, NULL), 0);
    static const char *const hits[] = {
        "If-None-Match: \"ix1\"\r\n",
        "If-None-Match: W/\"ix1\"\r\n",
        "If-None-Match: \"old\", \"ix1\"\r\n",
        "If-None-Match: *\r\n",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(hits); i++) {
        struct ht_resp r;
        get(&h, "GET", "/", hits[i], &r);
        assert_int_equal(r.status, 304);
        assert_int_equal(r.len, 0);
        assert_header(&r, "ETag", "\"ix1\"");
        assert_header(&r, "Cache-Control", "no-cache");
        ht_resp_free(&r);
    }
    expect_body(&h, "GET", "/", "If-None-Match: \"ix0\"\r\n", 200, (const char *)index_html);
    /* The gzip copy is another representation with its own validator. */
    expect_status(&h, "GET", "/", "If-None-Match: \"ix1\"\r\nAccept-Encoding: gzip\r\n", 200);
    expect_status(&h, "GET", "/", "If-None-Match: \"ix1-gz\"\r\nAccept-Encoding: gzip\r\n", 304);
    ht_stop(&h);
}

static void test_gzip(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, NULL, NULL), 0);
    static const char *const yes[] = {
        "Accept-Encoding: gzip\r\n",
        "Accept-Encoding: deflate, gzip;q=1.0, br\r\n",
        "Accept-Encoding: *\r\n",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(yes); i++) {
        struct ht_resp r;
        get(&h, "GET", "/", yes[i], &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, (const char *)index_gz);
        assert_header(&r, "Content-Encoding", "gzip");
        assert_header(&r, "Vary", "Accept-Encoding");
        assert_header(&r, "ETag", "\"ix1-gz\"");
        assert_header(&r, "Content-Type", "text/html; charset=utf-8");
        ht_resp_free(&r);
    }
    static const char *const no[] = {
        NULL,
        "Accept-Encoding: gzip;q=0\r\n",
        "Accept-Encoding: br, deflate\r\n",
        "Accept-Encoding: gzipx\r\n",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(no); i++) {
        struct ht_resp r;
        get(&h, "GET", "/", no[i], &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, (const char *)index_html);
        assert_header(&r, "Content-Encoding", NULL);
        assert_header(&r, "Vary", "Accept-Encoding");
        ht_resp_free(&r);
    }
    /* A file without a gzip copy is sent as it is, whatever is accepted. */
    struct ht_resp r;
    get(&h, "GET", "/app-ABCD2345.js", "Accept-Encoding: gzip\r\n", &r);
    assert_string_equal(r.body, (const char *)app_js);
    assert_header(&r, "Content-Encoding", NULL);
    ht_resp_free(&r);
    ht_stop(&h);
}

/* HEAD answers like GET without the body, for the UI and the API alike. */
static void test_head(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, NULL, NULL), 0);
    struct ht_resp r;
    get(&h, "HEAD", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    char want[32];
    snprintf(want, sizeof want, "%zu", sizeof index_html - 1);
    assert_header(&r, "Content-Length", want);
    assert_header(&r, "ETag", "\"ix1\"");
    ht_resp_free(&r);
    get(&h, "HEAD", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    ht_resp_free(&r);
    expect_status(&h, "HEAD", "/api/2.0/mlflow/runs/log-metric", NULL, 405);
    ht_stop(&h);
}

static void test_static_prefix(void **state)
{
    struct ht_server h;
    assert_int_equal(start(&h, "/pfx", NULL), 0);
    struct ht_resp r;
    /* The bare prefix moves to "/pfx/", where the UI's relative URLs
     * (ajax-api/..., app-*.js) resolve under the prefix. */
    get(&h, "GET", "/pfx", NULL, &r);
    assert_int_equal(r.status, 301);
    assert_header(&r, "Location", "/pfx/");
    ht_resp_free(&r);
    get(&h, "GET", "/pfx/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, (const char *)index_html);
    assert_header(&r, "Content-Security-Policy", CSP);
    ht_resp_free(&r);
    expect_status(&h, "GET", "/pfx/app-ABCD2345.js", NULL, 200);
    expect_status(&h, "GET", "/pfx/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", NULL, 200);
    static const char *const outside[] = {"/", "/app-ABCD2345.js", "/pfxapp-ABCD2345.js",
                                          "/other/"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(outside); i++) {
        get(&h, "GET", outside[i], NULL, &r);
        if (r.status != 404)
            fail_msg("%s: status %d", outside[i], r.status);
        ht_resp_free(&r);
    }
    ht_stop(&h);
}

/* Without a table (a program that embeds no UI) every UI path is 404. */
static void test_no_ui(void **state)
{
    struct ht_server h;
    assert_int_equal(ht_start(&h, NULL), 0);
    expect_status(&h, "GET", "/", NULL, 404);
    ht_stop(&h);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* MLFLOW_UI_DIR: files come from the directory, re-read on each request,
 * and nothing but its regular files is ever served. */
static void test_dev_dir(void **state)
{
    char *tmp = testutil_mkdtemp("mlflow-ui");
    assert_non_null(tmp);
    char dir[512], path[700], target[700];
    snprintf(dir, sizeof dir, "%s/dist", tmp);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/index.html", dir);
    write_file(path, "<p>dev v1</p>");
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/sub/a.css", dir);
    write_file(path, "a{}");
    snprintf(path, sizeof path, "%s/secret.txt", tmp);
    write_file(path, "TOP-SECRET");
    snprintf(target, sizeof target, "%s/link.txt", dir);
    assert_int_equal(symlink(path, target), 0);
    snprintf(target, sizeof target, "%s/linkdir", dir);
    assert_int_equal(symlink(tmp, target), 0);
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0666), 0);

    struct ht_server h;
    assert_int_equal(start(&h, NULL, dir), 0);
    struct ht_resp r;
    get(&h, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "<p>dev v1</p>");
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    assert_header(&r, "Content-Security-Policy", CSP);
    assert_header(&r, "Cache-Control", "no-cache");
    char etag1[128];
    assert_non_null(ht_header(&r, "ETag", etag1, sizeof etag1));
    ht_resp_free(&r);

    char inm[200];
    snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", etag1);
    expect_status(&h, "GET", "/", inm, 304);

    /* A rebuild is seen at once, under a new validator. */
    snprintf(path, sizeof path, "%s/index.html", dir);
    write_file(path, "<p>dev v2</p>");
    expect_body(&h, "GET", "/", inm, 200, "<p>dev v2</p>");

    get(&h, "GET", "/sub/a.css", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "a{}");
    assert_header(&r, "Content-Type", "text/css; charset=utf-8");
    ht_resp_free(&r);

    /* The embedded table is not consulted when a directory is given. */
    expect_status(&h, "GET", "/app-ABCD2345.js", NULL, 404);

    static const char *const refused[] = {
        "/link.txt",          "/linkdir/secret.txt",   "/fifo",       "/sub",
        "/../secret.txt",     "/%2e%2e/secret.txt",    "/%252e%252e/secret.txt",
        "/sub/../../secret.txt", "/sub%2f..%2f..%2fsecret.txt", "/missing.js",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(refused); i++) {
        get(&h, "GET", refused[i], NULL, &r);
        if (r.status != 404 && r.status != 400)
            fail_msg("%s: status %d", refused[i], r.status);
        assert_null(strstr(r.body, "TOP-SECRET"));
        ht_resp_free(&r);
    }

    /* A rebuild that replaces the whole directory (build.mjs empties and
     * recreates it) is picked up too. */
    char old_dir[600];
    snprintf(old_dir, sizeof old_dir, "%s/dist-old", tmp);
    assert_int_equal(rename(dir, old_dir), 0);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/index.html", dir);
    write_file(path, "<p>dev v3</p>");
    expect_body(&h, "GET", "/", NULL, 200, "<p>dev v3</p>");
    ht_stop(&h);

    /* A directory that is not there stops the server from starting. */
    struct mlflow__server_opts o = {.ui_dir = "/nonexistent/mlflow-ui-dir"};
    struct mlflow__server *srv = NULL;
    struct mlflow_error err = {0};
    snprintf(path, sizeof path, "%s/mlruns", tmp);
    o.backend_store_uri = path;
    o.port = 0;
    assert_int_not_equal(mlflow__server_start(&o, &srv, &err), 0);
    assert_null(srv);
    assert_non_null(strstr(err.message, "UI directory"));
    testutil_rm_rf(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_and_headers), cmocka_unit_test(test_exact_names_only),
        cmocka_unit_test(test_revalidation),      cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_head),              cmocka_unit_test(test_static_prefix),
        cmocka_unit_test(test_no_ui),             cmocka_unit_test(test_dev_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
