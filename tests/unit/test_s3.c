/*
 * test_s3.c - s3://bucket/prefix artifact storage against a real
 * S3-compatible server: s3rver (npm, tests/s3/) started on 127.0.0.1 on a
 * free port with a fresh directory, behind tests/s3/server.js, which
 * verifies every request's AWS Signature V4 and can fail a multipart part
 * on purpose. What a user relies on: files and directories go up, list
 * (one level, with sizes, across pages) and come back byte for byte, keys
 * with spaces, '+', '%' and non-ASCII survive, large files go up in parts
 * (and a failed part aborts the upload), errors name the bucket and key,
 * and `mlflow-c server --artifacts-destination s3://...` (and
 * --default-artifact-root s3://... without serving) work end to end.
 *
 * Without node, or with tests/s3/node_modules missing (`npm ci` there),
 * the program says so and exits 77, which CTest reports as skipped.
 */
#include "artifacts/s3.h"
#include "http/http_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#define BUCKET "mlflow-test"
#define SKIP_CODE 77

static struct {
    char *dir;      /* everything of the S3 server: data, port file, log */
    pid_t pid;
    int stdin_fd;   /* the server exits when this closes */
    int port;
    char endpoint[64];
} g = {.pid = -1, .stdin_fd = -1};

/* ---- the S3 server ---- */

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path ? path : ""; *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p += n + (colon ? 1 : 0);
    }
    return false;
}

static void print_log(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/server.log", g.dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  s3 server: %s", line);
    fclose(f);
}

/* 0: started; SKIP_CODE: node or s3rver is missing; -1: failed. */
static int s3_start(void)
{
    char script[600], pkg[600];
    snprintf(script, sizeof script, "%s/server.js", MLFLOW_S3_TEST_DIR);
    snprintf(pkg, sizeof pkg, "%s/node_modules/s3rver/package.json", MLFLOW_S3_TEST_DIR);
    if (!on_path("node")) {
        fprintf(stderr, "test_s3: SKIPPED: node is not installed (the S3 tests run s3rver)\n");
        return SKIP_CODE;
    }
    if (access(pkg, R_OK) != 0) {
        fprintf(stderr, "test_s3: SKIPPED: s3rver is not installed; run `npm ci` in %s "
                        "(scripts/test.sh does)\n", MLFLOW_S3_TEST_DIR);
        return SKIP_CODE;
    }
    g.dir = testutil_mkdtemp("mlflow-s3");
    if (!g.dir)
        return -1;
    char data[600], port_file[600], log[600];
    snprintf(data, sizeof data, "%s/data", g.dir);
    snprintf(port_file, sizeof port_file, "%s/port", g.dir);
    snprintf(log, sizeof log, "%s/server.log", g.dir);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    g.pid = fork();
    if (g.pid == 0) {
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(pfd[0], 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execlp("node", "node", script, "--dir", data, "--port-file", port_file, "--bucket",
               BUCKET, "--bucket", "other-bucket", (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    g.stdin_fd = pfd[1];
    if (g.pid < 0)
        return -1;
    for (int i = 0; i < 400; i++) { /* 20 s: node's first start can be slow */
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &g.port);
            fclose(f);
            if (ok == 1 && g.port > 0) {
                snprintf(g.endpoint, sizeof g.endpoint, "http://127.0.0.1:%d", g.port);
                return 0;
            }
        }
        int status;
        if (waitpid(g.pid, &status, WNOHANG) == g.pid) {
            g.pid = -1;
            fprintf(stderr, "test_s3: the S3 server exited at start:\n");
            print_log();
            return -1;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "test_s3: the S3 server did not start in 20 s\n");
    print_log();
    return -1;
}

static void s3_stop(void)
{
    if (g.stdin_fd >= 0)
        close(g.stdin_fd);
    if (g.pid > 0) {
        kill(g.pid, SIGTERM);
        waitpid(g.pid, NULL, 0);
    }
    if (g.dir) {
        testutil_rm_rf(g.dir);
        free(g.dir);
    }
}

/* The front's counters: multipart parts and completions seen, aborted
 * keys, and requests whose signature it refused. */
struct stats {
    int parts, completes;
    char aborts[4096];
    int rejected;
};

static void get_stats(struct stats *st)
{
    struct ht_resp r;
    assert_int_equal(ht_request(g.port, "GET", "/__test/stats", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_object *o = json_tokener_parse(r.body), *v;
    assert_non_null(o);
    memset(st, 0, sizeof *st);
    if (json_object_object_get_ex(o, "parts", &v))
        st->parts = json_object_get_int(v);
    if (json_object_object_get_ex(o, "completes", &v))
        st->completes = json_object_get_int(v);
    if (json_object_object_get_ex(o, "aborts", &v))
        snprintf(st->aborts, sizeof st->aborts, "%s",
                 json_object_to_json_string_ext(v, JSON_C_TO_STRING_NOSLASHESCAPE));
    if (json_object_object_get_ex(o, "rejected", &v)) {
        st->rejected = (int)json_object_array_length(v);

    }
    json_object_put(o);
    ht_resp_free(&r);
}

/* Requests the front refused so far (bad signature, unknown key). */
static int rejected_now(void)
{
    struct stats st;
    get_stats(&st);
    return st.rejected;
}

/* ---- fixtures: a file store whose experiment keeps artifacts on S3 ---- */

struct fx {
    char *dir;
    struct mlflow_client *c;
    char *exp;
    struct mlflow_run *run;
    const char *uri; /* the run's artifact URI */
};

static void set_s3_env(void)
{
    setenv("MLFLOW_S3_ENDPOINT_URL", g.endpoint, 1);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE");
    unsetenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE");
}

/* A run in a new experiment stored at s3://<bucket>/<unique prefix>. */
static void fx_open(struct fx *f, const char *bucket)
{
    memset(f, 0, sizeof *f);
    set_s3_env();
    f->dir = testutil_mkdtemp("mlflow-s3-fx");
    assert_non_null(f->dir);
    char store[600], loc[256], name[64];
    snprintf(store, sizeof store, "%s/mlruns", f->dir);
    assert_int_equal(mlflow_client_open(store, &f->c), 0);
    char hex[33];
    mlflow__uuid_hex(hex);
    snprintf(loc, sizeof loc, "s3://%s/t-%.12s", bucket, hex);
    snprintf(name, sizeof name, "exp-%.12s", hex);
    struct mlflow_experiment_opts eo = {.artifact_location = loc};
    assert_int_equal(mlflow_client_create_experiment(f->c, name, &eo, &f->exp), 0);
    assert_int_equal(mlflow_client_create_run(f->c, f->exp, NULL, &f->run), 0);
    f->uri = f->run->info.artifact_uri;
    char want[400];
    snprintf(want, sizeof want, "%s/%s/artifacts", loc, f->run->info.run_id);
    assert_string_equal(f->uri, want);
}

static void fx_close(struct fx *f)
{
    mlflow_run_free(f->run);
    mlflow_free(f->exp);
    mlflow_client_close(f->c);
    testutil_rm_rf(f->dir);
    free(f->dir);
    set_s3_env();
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    assert_int_equal(mlflow__mkdirs(dir), 0);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* Pseudo-random bytes from a seed, so a large file can be checked without
 * keeping a copy. */
static void fill(unsigned char *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
}

static void write_big(const char *path, size_t n, uint32_t seed)
{
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    fill(buf, n, seed);
    write_bytes(path, buf, n);
    free(buf);
}

static void assert_big(const char *path, size_t n, uint32_t seed)
{
    unsigned char *want = malloc(n), *got = malloc(n + 1);
    assert_non_null(want);
    assert_non_null(got);
    fill(want, n, seed);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t r = fread(got, 1, n + 1, fp);
    fclose(fp);
    assert_int_equal(r, n);
    assert_memory_equal(got, want, n);
    free(want);
    free(got);
}

static void assert_file(const char *path, const void *want, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("missing %s", path);
    char *got = malloc(n + 2);
    size_t r = fread(got, 1, n + 1, fp);
    fclose(fp);
    assert_int_equal(r, n);
    assert_memory_equal(got, want, n);
    free(got);
}

static void assert_text(const char *path, const char *want)
{
    assert_file(path, want, strlen(want));
}

/* The listing of path as "name:size name/ ..." (dirs end with '/'). */
static void listing(struct mlflow_client *c, const char *run_id, const char *path, char *out,
                    size_t size)
{
    struct mlflow_file_list *l = NULL;
    int rc = mlflow_client_list_artifacts(c, run_id, path, &l);
    if (rc)
        fail_msg("list_artifacts(%s): %s", path ? path : "", mlflow_last_error());
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < l->count; i++) {
        const struct mlflow_file_info *fi = &l->files[i];
        if (fi->is_dir) {
            assert_int_equal(fi->file_size, -1);
            len += (size_t)snprintf(out + len, size - len, "%s%s/", len ? " " : "", fi->path);
        } else {
            len += (size_t)snprintf(out + len, size - len, "%s%s:%lld", len ? " " : "",
                                    fi->path, (long long)fi->file_size);
        }
    }
    mlflow_file_list_free(l);
}

static void expect_ok(int rc)
{
    if (rc)
        fail_msg("call failed: %s", mlflow_last_error());
}

/* Files above 6 MiB go up in parts of 5 MiB, S3's smallest part. */
static void multipart_sizes(void)
{
    setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "6291456", 1);
    setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "5242880", 1);
}

/* ---- direct client ---- */

static void test_log_list_download_delete(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    const char *rid = f.run->info.run_id;
    char in[700], p[800];
    snprintf(in, sizeof in, "%s/in", f.dir);
    unsigned char bin[1000];
    fill(bin, sizeof bin, 7);
    bin[10] = 0;
    snprintf(p, sizeof p, "%s/model.txt", in);
    write_text(p, "hello");
    snprintf(p, sizeof p, "%s/dir/a.bin", in);
    write_bytes(p, bin, sizeof bin);
    snprintf(p, sizeof p, "%s/dir/sub/b.json", in);
    write_text(p, "{\"b\": 1}");
    snprintf(p, sizeof p, "%s/model.txt", in);
    expect_ok(mlflow_client_log_artifact(f.c, rid, p, NULL));
    snprintf(p, sizeof p, "%s/dir", in);
    expect_ok(mlflow_client_log_artifacts(f.c, rid, p, "data"));
    expect_ok(mlflow_client_log_text(f.c, rid, "some notes", "notes/n.txt"));

    char got[2048];
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "data/ model.txt:5 notes/");
    listing(f.c, rid, "data", got, sizeof got);
    assert_string_equal(got, "data/a.bin:1000 data/sub/");
    listing(f.c, rid, "data/sub", got, sizeof got);
    assert_string_equal(got, "data/sub/b.json:8");
    listing(f.c, rid, "nothing/here", got, sizeof got);
    assert_string_equal(got, "");

    /* Everything, then one file. */
    char out[700], *local = NULL;
    snprintf(out, sizeof out, "%s/out", f.dir);
    expect_ok(mlflow_client_download_artifacts(f.c, rid, NULL, out, &local));
    assert_string_equal(local, out);
    mlflow_free(local);
    snprintf(p, sizeof p, "%s/model.txt", out);
    assert_text(p, "hello");
    snprintf(p, sizeof p, "%s/data/a.bin", out);
    assert_file(p, bin, sizeof bin);
    snprintf(p, sizeof p, "%s/data/sub/b.json", out);
    assert_text(p, "{\"b\": 1}");
    snprintf(p, sizeof p, "%s/notes/n.txt", out);
    assert_text(p, "some notes");
    snprintf(out, sizeof out, "%s/one", f.dir);
    expect_ok(mlflow_client_download_artifacts(f.c, rid, "data/sub/b.json", out, &local));
    snprintf(p, sizeof p, "%s/data/sub/b.json", out);
    assert_string_equal(local, p);
    assert_text(local, "{\"b\": 1}");
    mlflow_free(local);

    /* Deletion: a tree, then a single file; the rest stays. */
    const struct mlflow__artifact_repo_ops *repo;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__artifact_repo(f.uri, &repo, &err), 0);
    assert_non_null(repo->remove);
    assert_int_equal(repo->remove(f.uri, "data", &err), 0);
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "model.txt:5 notes/");
    assert_int_equal(repo->remove(f.uri, "model.txt", &err), 0);
    assert_int_equal(repo->remove(f.uri, "not/there", &err), 0);
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "notes/");
    fx_close(&f);
}

/* Keys that must be percent-encoded on the wire (and signed so) come back
 * exactly as they were named. */
static void test_keys_with_spaces_unicode_plus(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    int rejected = rejected_now();
    const char *rid = f.run->info.run_id;
    static const char *const names[] = {
        "with space.txt",
        "plus+sign.txt",
        "pct%20literal.txt",
        "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x9c\x93.txt", /* "ünïcødé ✓.txt" */
        "eq=amp&tilde~.txt",
    };
    const char *dir = "dir with space/\xc3\xbc+x";
    char p[900];
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(names); i++) {
        snprintf(p, sizeof p, "%s/in/%s", f.dir, names[i]);
        write_text(p, names[i]);
        expect_ok(mlflow_client_log_artifact(f.c, rid, p, dir));
    }
    char got[2048], want[2048] = "";
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "dir with space/");
    const char *sorted[MLFLOW_ARRAY_LEN(names)];
    memcpy(sorted, names, sizeof names);
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(sorted); i++)
        for (size_t j = i + 1; j < MLFLOW_ARRAY_LEN(sorted); j++)
            if (strcmp(sorted[j], sorted[i]) < 0) {
                const char *t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    size_t len = 0;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(sorted); i++)
        len += (size_t)snprintf(want + len, sizeof want - len, "%s%s/%s:%zu", i ? " " : "", dir,
                                sorted[i], strlen(sorted[i]));
    listing(f.c, rid, dir, got, sizeof got);
    assert_string_equal(got, want);
    char out[700];
    snprintf(out, sizeof out, "%s/out", f.dir);
    expect_ok(mlflow_client_download_artifacts(f.c, rid, NULL, out, NULL));
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(names); i++) {
        snprintf(p, sizeof p, "%s/%s/%s", out, dir, names[i]);
        assert_text(p, names[i]);
    }
    assert_int_equal(rejected_now(), rejected);
    fx_close(&f);
}

/* Listings longer than a page follow continuation tokens, and so does a
 * recursive delete. */
static void test_listing_pages(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    const char *rid = f.run->info.run_id;
    mlflow__s3_max_keys = 2;
    char in[700], p[800];
    snprintf(in, sizeof in, "%s/in", f.dir);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/f%d.txt", in, i);
        write_text(p, "x");
    }
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/d1/g%d.txt", in, i);
        write_text(p, "yy");
    }
    snprintf(p, sizeof p, "%s/d2/x/h.txt", in);
    write_text(p, "zzz");
    expect_ok(mlflow_client_log_artifacts(f.c, rid, in, NULL));
    char got[2048];
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "d1/ d2/ f0.txt:1 f1.txt:1 f2.txt:1 f3.txt:1 f4.txt:1");
    listing(f.c, rid, "d1", got, sizeof got);
    assert_string_equal(got, "d1/g0.txt:2 d1/g1.txt:2 d1/g2.txt:2");
    char out[700];
    snprintf(out, sizeof out, "%s/out", f.dir);
    expect_ok(mlflow_client_download_artifacts(f.c, rid, NULL, out, NULL));
    snprintf(p, sizeof p, "%s/d2/x/h.txt", out);
    assert_text(p, "zzz");
    snprintf(p, sizeof p, "%s/d1/g2.txt", out);
    assert_text(p, "yy");
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__s3_delete(f.uri, "", &err), 0);
    listing(f.c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "");
    mlflow__s3_max_keys = 1000;
    fx_close(&f);
}

/* Above MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE a file goes up in parts
 * of MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE (5 MiB at least, S3's minimum). */
static void test_multipart_upload(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    multipart_sizes();
    const size_t n = (12u << 20) + 123;
    char p[800];
    snprintf(p, sizeof p, "%s/in/big.bin", f.dir);
    write_big(p, n, 42);
    struct stats before, after;
    get_stats(&before);
    expect_ok(mlflow_client_log_artifact(f.c, f.run->info.run_id, p, "models"));
    get_stats(&after);
    assert_int_equal(after.parts - before.parts, 3);
    assert_int_equal(after.completes - before.completes, 1);
    char got[256], want[256];
    listing(f.c, f.run->info.run_id, "models", got, sizeof got);
    snprintf(want, sizeof want, "models/big.bin:%zu", n);
    assert_string_equal(got, want);
    char out[700];
    snprintf(out, sizeof out, "%s/out", f.dir);
    char *local = NULL;
    expect_ok(mlflow_client_download_artifacts(f.c, f.run->info.run_id, "models/big.bin", out,
                                               &local));
    assert_big(local, n, 42);
    mlflow_free(local);
    /* Below the threshold: one PUT. */
    snprintf(p, sizeof p, "%s/in/small.bin", f.dir);
    write_big(p, 1 << 20, 3);
    get_stats(&before);
    expect_ok(mlflow_client_log_artifact(f.c, f.run->info.run_id, p, "models"));
    get_stats(&after);
    assert_int_equal(after.parts, before.parts);
    fx_close(&f);
}

/* A part that fails (every retry) aborts the upload: the error names the
 * object, nothing is left half-made. */
static void test_multipart_failure_aborts(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    multipart_sizes();
    char p[800];
    snprintf(p, sizeof p, "%s/in/fail-part-2.bin", f.dir);
    write_big(p, 11u << 20, 9);
    struct stats st;
    int rc = mlflow_client_log_artifact(f.c, f.run->info.run_id, p, NULL);
    assert_int_not_equal(rc, 0);
    const char *msg = mlflow_last_error();
    assert_non_null(strstr(msg, "s3://" BUCKET "/"));
    assert_non_null(strstr(msg, "fail-part-2.bin"));
    assert_non_null(strstr(msg, "InternalError"));
    get_stats(&st);
    char key[400];
    snprintf(key, sizeof key, "%s/fail-part-2.bin", f.uri + strlen("s3://"));
    assert_non_null(strstr(st.aborts, key));
    char got[256];
    listing(f.c, f.run->info.run_id, NULL, got, sizeof got);
    assert_string_equal(got, "");
    fx_close(&f);
}

static void expect_error(int rc, int code, const char *const *parts)
{
    assert_int_not_equal(rc, 0);
    const char *msg = mlflow_last_error();
    if (rc != code)
        fail_msg("got %s, want %s: %s", mlflow_error_name(rc), mlflow_error_name(code), msg);
    for (; *parts; parts++)
        if (!strstr(msg, *parts))
            fail_msg("'%s' not in the message: %s", *parts, msg);
}

static void test_errors_name_bucket_and_key(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    const char *rid = f.run->info.run_id;
    struct mlflow_file_list *l = NULL;
    char key[400];
    snprintf(key, sizeof key, "%s/n.txt", f.uri);

    setenv("AWS_ACCESS_KEY_ID", "NO-SUCH-KEY", 1);
    expect_error(mlflow_client_log_text(f.c, rid, "x", "n.txt"), MLFLOW_PERMISSION_DENIED,
                 (const char *const[]){key, "InvalidAccessKeyId", "AWS_ACCESS_KEY_ID", NULL});
    set_s3_env();
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    expect_error(mlflow_client_log_text(f.c, rid, "x", "n.txt"), MLFLOW_PERMISSION_DENIED,
                 (const char *const[]){key, "SignatureDoesNotMatch", NULL});
    expect_error(mlflow_client_list_artifacts(f.c, rid, NULL, &l), MLFLOW_PERMISSION_DENIED,
                 (const char *const[]){"s3://" BUCKET, "SignatureDoesNotMatch", NULL});
    set_s3_env();

    /* A file that is not there. */
    char out[700];
    snprintf(out, sizeof out, "%s/out", f.dir);
    snprintf(key, sizeof key, "%s/missing.txt", f.uri);
    expect_error(mlflow_client_download_artifacts(f.c, rid, "missing.txt", out, NULL),
                 MLFLOW_RESOURCE_DOES_NOT_EXIST, (const char *const[]){key, NULL});
    fx_close(&f);

    /* A bucket that is not there. */
    fx_open(&f, "no-such-bucket");
    expect_error(mlflow_client_log_text(f.c, f.run->info.run_id, "x", "n.txt"),
                 MLFLOW_RESOURCE_DOES_NOT_EXIST,
                 (const char *const[]){"bucket 'no-such-bucket' does not exist", NULL});
    expect_error(mlflow_client_list_artifacts(f.c, f.run->info.run_id, NULL, &l),
                 MLFLOW_RESOURCE_DOES_NOT_EXIST,
                 (const char *const[]){"bucket 'no-such-bucket' does not exist", NULL});

    /* Nobody listening: retried, then a transport error naming the endpoint. */
    setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:1", 1);
    expect_error(mlflow_client_log_text(f.c, f.run->info.run_id, "x", "n.txt"),
                 MLFLOW_TEMPORARILY_UNAVAILABLE,
                 (const char *const[]){"http://127.0.0.1:1", "n.txt", NULL});
    /* Misconfiguration is refused before any request. */
    setenv("MLFLOW_S3_ENDPOINT_URL", "ftp://127.0.0.1", 1);
    expect_error(mlflow_client_log_text(f.c, f.run->info.run_id, "x", "n.txt"),
                 MLFLOW_INVALID_PARAMETER_VALUE,
                 (const char *const[]){"MLFLOW_S3_ENDPOINT_URL", NULL});
    set_s3_env();
    setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "ten", 1);
    char p[800];
    snprintf(p, sizeof p, "%s/in/a.txt", f.dir);
    write_text(p, "a");
    expect_error(mlflow_client_log_artifact(f.c, f.run->info.run_id, p, NULL),
                 MLFLOW_INVALID_PARAMETER_VALUE,
                 (const char *const[]){"MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", NULL});
    fx_close(&f);
}

/* Temporary credentials: the session token travels, signed. */
static void test_session_token(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, BUCKET);
    int rejected = rejected_now();
    setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE+tok/en==", 1);
    expect_ok(mlflow_client_log_text(f.c, f.run->info.run_id, "t", "t.txt"));
    char got[256];
    listing(f.c, f.run->info.run_id, NULL, got, sizeof got);
    assert_string_equal(got, "t.txt:1");
    assert_int_equal(rejected_now(), rejected);
    fx_close(&f);
}

/* ---- through mlflow-c server ---- */

/* The tracking service's artifacts/list answer for a run, as text. */
static char *server_list(int port, const char *run_id, const char *path)
{
    char target[512];
    snprintf(target, sizeof target, "/api/2.0/mlflow/artifacts/list?run_id=%s%s%s", run_id,
             path ? "&path=" : "", path ? path : "");
    struct ht_resp r;
    assert_int_equal(ht_request(port, "GET", target, NULL, NULL, &r), 0);
    if (r.status != 200)
        fail_msg("artifacts/list: %d %s", r.status, r.body);
    char *body = strdup(r.body);
    ht_resp_free(&r);
    return body;
}

static char *server_get(int port, const char *run_id, const char *path, int *status)
{
    char target[512];
    snprintf(target, sizeof target, "/get-artifact?run_uuid=%s&path=%s", run_id, path);
    struct ht_resp r;
    assert_int_equal(ht_request(port, "GET", target, NULL, NULL, &r), 0);
    *status = r.status;
    char *body = strdup(r.body);
    ht_resp_free(&r);
    return body;
}

/* An in-process server with o, a REST client to it, and a fresh run in a
 * new experiment named exp_name. */
struct srv_fx {
    struct ht_server h;
    struct mlflow_client *c;
    char *exp;
    struct mlflow_run *run;
};

static void srv_open(struct srv_fx *s, const struct mlflow__server_opts *o, const char *exp_name)
{
    assert_int_equal(ht_start(&s->h, o), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->h.port);
    assert_int_equal(mlflow_client_open(url, &s->c), 0);
    s->exp = NULL;
    s->run = NULL;
    expect_ok(mlflow_client_create_experiment(s->c, exp_name, NULL, &s->exp));
    expect_ok(mlflow_client_create_run(s->c, s->exp, NULL, &s->run));
}

static void srv_close(struct srv_fx *s)
{
    mlflow_run_free(s->run);
    mlflow_free(s->exp);
    mlflow_client_close(s->c);
    ht_stop(&s->h);
}

static bool dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n == 0;
}

/* `mlflow-c server --artifacts-destination s3://...`: a REST client logs
 * through the proxy, the objects land in S3, and list, download, the UI's
 * routes and delete all reach them. */
static void test_server_proxies_to_s3(void **state)
{
    (void)state;
    set_s3_env();
    int rejected = rejected_now();
    char *tmp = testutil_mkdtemp("mlflow-s3-srv");
    assert_non_null(tmp);
    char spool_root[600], dest[256], hex[33];
    snprintf(spool_root, sizeof spool_root, "%s/tmp", tmp);
    assert_int_equal(mlflow__mkdirs(spool_root), 0);
    char *old_tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", spool_root, 1);
    mlflow__uuid_hex(hex);
    snprintf(dest, sizeof dest, "s3://" BUCKET "/proxied-%.12s/", hex);
    struct mlflow__server_opts o = {.serve_artifacts = true, .workers = 4,
                                    .artifacts_destination = dest};
    struct srv_fx s;
    srv_open(&s, &o, "proxied");
    struct mlflow_client *c = s.c;
    const char *exp = s.exp, *rid = s.run->info.run_id;
    char want_uri[300];
    snprintf(want_uri, sizeof want_uri, "mlflow-artifacts:/%s/%s/artifacts", exp, rid);
    assert_string_equal(s.run->info.artifact_uri, want_uri);

    char p[800];
    snprintf(p, sizeof p, "%s/in/model.txt", tmp);
    write_text(p, "proxied hello");
    expect_ok(mlflow_client_log_artifact(c, rid, p, NULL));
    snprintf(p, sizeof p, "%s/in/tree/x y.txt", tmp);
    write_text(p, "xy");
    snprintf(p, sizeof p, "%s/in/tree/deep/z.txt", tmp);
    write_text(p, "zz");
    snprintf(p, sizeof p, "%s/in/tree", tmp);
    expect_ok(mlflow_client_log_artifacts(c, rid, p, "tree"));
    /* A large one, which the server sends on to S3 in parts. */
    multipart_sizes();
    const size_t big = (11u << 20) + 7;
    snprintf(p, sizeof p, "%s/in/big.bin", tmp);
    write_big(p, big, 5);
    struct stats before, after;
    get_stats(&before);
    expect_ok(mlflow_client_log_artifact(c, rid, p, "tree"));
    get_stats(&after);
    assert_int_equal(after.parts - before.parts, 3);

    char got[1024], want[1024];
    listing(c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "model.txt:13 tree/");
    listing(c, rid, "tree", got, sizeof got);
    snprintf(want, sizeof want, "tree/big.bin:%zu tree/deep/ tree/x y.txt:2", big);
    assert_string_equal(got, want);

    /* The objects are in S3, under the destination. */
    char s3root[400];
    snprintf(s3root, sizeof s3root, "%.*s/%s/%s/artifacts", (int)strlen(dest) - 1, dest, exp,
             rid);
    struct mlflow_file_list *l = NULL;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__s3_artifact_repo.list(s3root, "tree/deep", &l, &err), 0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->files[0].path, "tree/deep/z.txt");
    mlflow_file_list_free(l);

    char out[700];
    snprintf(out, sizeof out, "%s/out", tmp);
    expect_ok(mlflow_client_download_artifacts(c, rid, NULL, out, NULL));
    snprintf(p, sizeof p, "%s/model.txt", out);
    assert_text(p, "proxied hello");
    snprintf(p, sizeof p, "%s/tree/x y.txt", out);
    assert_text(p, "xy");
    snprintf(p, sizeof p, "%s/tree/deep/z.txt", out);
    assert_text(p, "zz");
    snprintf(p, sizeof p, "%s/tree/big.bin", out);
    assert_big(p, big, 5);

    /* The tracking service's routes (the UI's) read S3 too. */
    char *body = server_list(s.h.port, rid, "tree");
    assert_non_null(strstr(body, "\"tree/deep\""));
    assert_non_null(strstr(body, "\"tree/x y.txt\""));
    free(body);
    int status;
    body = server_get(s.h.port, rid, "model.txt", &status);
    assert_int_equal(status, 200);
    assert_string_equal(body, "proxied hello");
    free(body);
    body = server_get(s.h.port, rid, "nope.txt", &status);
    assert_int_equal(status, 404);
    free(body);

    /* Proxy delete: a file, then a tree. */
    struct ht_resp r;
    char target[512];
    snprintf(target, sizeof target, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model.txt",
             exp, rid);
    assert_int_equal(ht_request(s.h.port, "DELETE", target, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    snprintf(target, sizeof target, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/tree",
             exp, rid);
    assert_int_equal(ht_request(s.h.port, "DELETE", target, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    ht_resp_free(&r);
    listing(c, rid, NULL, got, sizeof got);
    assert_string_equal(got, "");

    srv_close(&s);
    /* Nothing of the transfers is left in the spool, nor the spool. */
    assert_true(dir_empty(spool_root));
    if (old_tmpdir) {
        setenv("TMPDIR", old_tmpdir, 1);
        free(old_tmpdir);
    } else {
        unsetenv("TMPDIR");
    }
    assert_int_equal(rejected_now(), rejected);
    testutil_rm_rf(tmp);
    free(tmp);
    set_s3_env();
}

/* --no-serve-artifacts with --default-artifact-root s3://...: runs get
 * s3:// artifact URIs, the client writes to S3 itself, and the server
 * reads them back for the UI with its own credentials. */
static void test_server_default_root_s3(void **state)
{
    (void)state;
    set_s3_env();
    char root[256], hex[33];
    mlflow__uuid_hex(hex);
    snprintf(root, sizeof root, "s3://" BUCKET "/direct-%.12s", hex);
    struct mlflow__server_opts o = {.serve_artifacts = false, .workers = 4,
                                    .default_artifact_root = root};
    struct srv_fx s;
    srv_open(&s, &o, "direct");
    struct mlflow_client *c = s.c;
    const char *exp = s.exp, *rid = s.run->info.run_id;
    char want[400];
    snprintf(want, sizeof want, "%s/%s/%s/artifacts", root, exp, rid);
    assert_string_equal(s.run->info.artifact_uri, want);
    expect_ok(mlflow_client_log_text(c, rid, "direct!", "d/t.txt"));
    char got[256];
    listing(c, rid, "d", got, sizeof got);
    assert_string_equal(got, "d/t.txt:7");
    char *body = server_list(s.h.port, rid, "d");
    assert_non_null(strstr(body, "\"d/t.txt\""));
    free(body);
    int status;
    body = server_get(s.h.port, rid, "d/t.txt", &status);
    assert_int_equal(status, 200);
    assert_string_equal(body, "direct!");
    free(body);
    srv_close(&s);
}

/* ---- XML edge cases, no server needed ---- */

static void test_xml_answers(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    struct mlflow__s3_list_page page;
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>"
        "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a+b%2Bc%C3%A9.txt</Key><Size>12</Size></Contents>"
        "<Contents><Key>p/amp&amp;.txt</Key><Size>0</Size></Contents>"
        "<CommonPrefixes><Prefix>p/sub/</Prefix></CommonPrefixes>"
        "<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>";
    assert_int_equal(mlflow__s3_xml_list(xml, strlen(xml), &page, &err), 0);
    assert_int_equal(page.n, 3);
    assert_string_equal(page.entries[0].key, "p/a b+c\xc3\xa9.txt");
    assert_int_equal(page.entries[0].size, 12);
    assert_string_equal(page.entries[1].key, "p/amp&.txt");
    assert_true(page.entries[2].is_prefix);
    assert_string_equal(page.entries[2].key, "p/sub/");
    assert_true(page.truncated);
    assert_string_equal(page.next_token, "tok+/=");
    mlflow__s3_list_page_release(&page);

    /* A DTD is refused (no entity tricks), and so is garbage. */
    const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>"
                      "<ListBucketResult><Contents><Key>&a;</Key></Contents></ListBucketResult>";
    assert_int_not_equal(mlflow__s3_xml_list(dtd, strlen(dtd), &page, &err), 0);
    assert_int_not_equal(mlflow__s3_xml_list("<a><b></a>", 10, &page, &err), 0);

    char code[64], msg[128];
    const char *e = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                    "</Message><Key>k</Key></Error>";
    assert_true(mlflow__s3_xml_error(e, strlen(e), code, sizeof code, msg, sizeof msg));
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The specified key does not exist.");
    assert_false(mlflow__s3_xml_error("<CompleteMultipartUploadResult/>", 32, code, sizeof code,
                                      msg, sizeof msg));
    char *id = NULL;
    const char *init = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                       "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
    assert_int_equal(mlflow__s3_xml_upload_id(init, strlen(init), &id, &err), 0);
    assert_string_equal(id, "VXBsb2FkIElE");
    mlflow__free(id);
    assert_int_not_equal(mlflow__s3_xml_upload_id("<x/>", 4, &id, &err), 0);
}

int main(void)
{
    int rc = s3_start();
    if (rc) {
        s3_stop();
        return rc == SKIP_CODE ? SKIP_CODE : 1;
    }
    set_s3_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_answers),
        cmocka_unit_test(test_log_list_download_delete),
        cmocka_unit_test(test_keys_with_spaces_unicode_plus),
        cmocka_unit_test(test_listing_pages),
        cmocka_unit_test(test_multipart_upload),
        cmocka_unit_test(test_multipart_failure_aborts),
        cmocka_unit_test(test_errors_name_bucket_and_key),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_server_proxies_to_s3),
        cmocka_unit_test(test_server_default_root_s3),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    s3_stop();
    return rc;
}
