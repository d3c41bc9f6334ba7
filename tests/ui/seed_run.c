/*
 * seed_run.c - the runs behind the run page, artifact previews, charts and compare
 * tests (tests/ui/test_run.mjs), all in experiment "ui-run".
 *
 * Every value is fixed (times included) so the tests can assert exactly what a
 * user would read; hostile strings sit wherever a user-controlled string is shown,
 * so the same data proves that none of them runs as script.
 */
#include "seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000)
#define XSS_SCRIPT "<script>window.__xss=1</script>"
#define XSS_IMG "<img src=x onerror=window.__xss=1>"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Markdown with a heading, a list, a link, raw HTML and a javascript: link;
 * the last two must come out as inert text. */
static const char description[] =
    "# Detail run\n"
    "\n"
    "Trains a **small** model on the toy data.\n"
    "\n"
    "- first item\n"
    "- second item\n"
    "\n"
    "See [the docs](https://mlflow.org/docs/latest/index.html).\n"
    "\n"
    XSS_SCRIPT "\n"
    "\n"
    "[x](javascript:window.__xss=1)\n";

/* A real 4x3 red RGB PNG. */
static const unsigned char png_bytes[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x08, 0x02, 0x00, 0x00, 0x00, 0x3b,
    0x96, 0x39, 0x91, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8,
    0xcf, 0xc0, 0x00, 0x47, 0x0c, 0x38, 0x39, 0x00, 0xf5, 0x31, 0x0b, 0xf5, 0xdd, 0x7a, 0x54,
    0x0d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

static const char config_json[] =
    "{\"model\": {\"name\": \"resnet\", \"layers\": [64, 128, 256]}, \"epochs\": 3, "
    "\"note\": \"" XSS_IMG "\"}";

static const char params_yaml[] =
    "optimizer: adam\n"
    "lr: 0.01\n"
    "schedule:\n"
    "  - warmup\n"
    "  - cosine\n";

static const char table_csv[] =
    "epoch,loss,acc,comment\n"
    "1,0.9,0.55,first\n"
    "2,0.5,0.71,\"quoted, with comma\"\n"
    "3,0.25,0.83," XSS_IMG "\n";

static const char page_html[] =
    "<!doctype html>\n<html><body><h1>report</h1>\n" XSS_SCRIPT "\n</body></html>\n";

static const char pic_svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
    "<script>window.__xss=1</script><rect width=\"10\" height=\"10\" fill=\"red\"/></svg>\n";

static int create_run(struct mlflow_client *c, const char *exp_id, const char *name,
                      int64_t start, const struct mlflow_kv *tags, size_t n_tags,
                      char *run_id)
{
    struct mlflow_create_run_opts o = {
        .run_name = name, .start_time = start, .user_id = "alice", .tags = tags, .n_tags = n_tags};
    struct mlflow_run *run = NULL;
    if (mlflow_client_create_run(c, exp_id, &o, &run) != 0)
        return seed_fail(name);
    snprintf(run_id, MLFLOW_RUN_ID_SIZE, "%s", run->info.run_id);
    mlflow_run_free(run);
    return 0;
}

static int finish(struct mlflow_client *c, const char *run_id, int64_t end)
{
    if (mlflow_client_set_terminated(c, run_id, MLFLOW_RUN_STATUS_FINISHED, end) != 0)
        return seed_fail("set terminated");
    return 0;
}

/* Writes bytes to dir/name and logs that file under artifact_dir. */
static int log_bytes(struct mlflow_client *c, const char *run_id, const char *dir,
                     const char *name, const void *data, size_t n, const char *artifact_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        if (f)
            fclose(f);
        fprintf(stderr, "ui_seed: cannot write %s\n", path);
        return 1;
    }
    fclose(f);
    int rc = mlflow_client_log_artifact(c, run_id, path, artifact_dir);
    remove(path);
    return rc ? seed_fail(name) : 0;
}

static int log_text(struct mlflow_client *c, const char *run_id, const char *text,
                    const char *file)
{
    return mlflow_client_log_text(c, run_id, text, file) ? seed_fail(file) : 0;
}

/* A 1.2 MB log (more than the UI previews) and a CSV of 1500 rows (more than
 * the table shows). */
static int log_big_files(struct mlflow_client *c, const char *run_id)
{
    size_t cap = 1300000, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 1;
    for (int i = 1; len + 64 < 1200000; i++)
        len += (size_t)snprintf(buf + len, cap - len, "line %06d: the quick brown fox jumps\n",
                                i);
    int rc = log_text(c, run_id, buf, "logs/big.log");
    len = (size_t)snprintf(buf, cap, "i,square\n");
    for (int i = 0; i < 1500; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%d,%d\n", i, i * i);
    if (!rc)
        rc = log_text(c, run_id, buf, "data/big.csv");
    free(buf);
    return rc;
}

static int log_artifacts(struct mlflow_client *c, const char *run_id)
{
    char dir[] = "/tmp/ui-seed-run-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("ui_seed: mkdtemp");
        return 1;
    }
    int rc = log_text(c, run_id, "hello from detail-run\nsecond line " XSS_SCRIPT "\n",
                      "notes.txt");
    rc = rc ? rc : log_text(c, run_id, config_json, "data/config.json");
    rc = rc ? rc : log_text(c, run_id, params_yaml, "data/params.yaml");
    rc = rc ? rc : log_text(c, run_id, table_csv, "data/table.csv");
    rc = rc ? rc : log_text(c, run_id, page_html, "page.html");
    rc = rc ? rc : log_text(c, run_id, pic_svg, "pic.svg");
    rc = rc ? rc : log_bytes(c, run_id, dir, "a.png", png_bytes, sizeof(png_bytes), "plots");
    rc = rc ? rc : log_big_files(c, run_id);
    if (!rc && mlflow_client_log_text(c, run_id, "evil name\n", "evil/" XSS_IMG ".txt") != 0) {
        /* A store may refuse the name; the UI still gets a hostile-looking one. */
        fprintf(stderr, "ui_seed: note: evil artifact name refused (%s); using a safe one\n",
                mlflow_last_error());
        rc = log_text(c, run_id, "evil name\n", "evil/img src=x onerror=x.txt");
    }
    rmdir(dir);
    return rc;
}

static int seed_detail(struct mlflow_client *c, const char *exp_id)
{
    const struct mlflow_kv tags[] = {
        {"mlflow.user", "alice"},
        {"mlflow.source.name", "train.py"},
        {"mlflow.source.type", "LOCAL"},
        {"mlflow.source.git.commit", "0123456789abcdef0123456789abcdef01234567"},
        {"mlflow.project.entryPoint", "main"},
        {"mlflow.note.content", description},
        {"team", "vision"},
        {"xss_tag", XSS_SCRIPT},
    };
    char id[MLFLOW_RUN_ID_SIZE];
    if (create_run(c, exp_id, "detail-run", T0, tags, ARRAY_LEN(tags), id))
        return 1;
    const struct mlflow_kv params[] = {
        {"lr", "0.01"}, {"batch_size", "32"}, {"optimizer", "adam"}, {"comment", XSS_IMG}};
    struct mlflow_metric m[200 + 11 + 5];
    size_t n = 0;
    for (int s = 0; s < 200; s++)
        m[n++] = (struct mlflow_metric){"loss", 2.0 - 0.01 * s, T0 + s * 1000, s};
    for (int s = 0; s <= 10; s++)
        m[n++] = (struct mlflow_metric){"acc", 0.5 + 0.04 * s, T0 + s * 1000, s};
    for (int s = 0; s < 5; s++)
        m[n++] = (struct mlflow_metric){"train/loss", 1.0 / (1 + s), T0 + s * 1000, s};
    if (mlflow_client_log_batch(c, id, m, n, params, ARRAY_LEN(params), NULL, 0) != 0)
        return seed_fail("log detail-run");
    if (log_artifacts(c, id))
        return 1;
    printf("run detail-run: %s\n", id);
    return finish(c, id, T0 + 75000);
}

static int seed_family(struct mlflow_client *c, const char *exp_id)
{
    char parent[MLFLOW_RUN_ID_SIZE], child[MLFLOW_RUN_ID_SIZE];
    if (create_run(c, exp_id, "parent-run", T0 + 100000, NULL, 0, parent))
        return 1;
    static const char *const names[] = {"child-1", "child-2"};
    for (int i = 0; i < 2; i++) {
        const struct mlflow_kv tags[] = {{"mlflow.parentRunId", parent}};
        if (create_run(c, exp_id, names[i], T0 + 101000 + i * 1000, tags, 1, child) ||
            mlflow_client_log_metric(c, child, "loss", 0.5 + i, T0 + 102000, 0) != 0 ||
            finish(c, child, T0 + 110000 + i * 1000))
            return 1;
    }
    printf("run parent-run: %s\n", parent);
    return finish(c, parent, T0 + 120000);
}

/* 200,000 points in [0, 1) and one spike of 1000 that uniform sampling would miss. */
static int seed_big(struct mlflow_client *c, const char *exp_id)
{
    enum { POINTS = 200000, CHUNK = 10000, SPIKE = 123457 };
    char id[MLFLOW_RUN_ID_SIZE];
    if (create_run(c, exp_id, "big-run", T0 + 200000, NULL, 0, id))
        return 1;
    struct mlflow_metric *m = calloc(CHUNK, sizeof(*m));
    if (!m)
        return 1;
    int rc = 0;
    for (long s = 0; s < POINTS && !rc; s += CHUNK) {
        for (long i = 0; i < CHUNK; i++) {
            long step = s + i;
            double v = (double)(((uint64_t)step * 2654435761u) % 1000) / 1000.0;
            m[i] = (struct mlflow_metric){"series", step == SPIKE ? 1000.0 : v,
                                          T0 + 200000 + step * 10, step};
        }
        rc = mlflow_client_log_batch(c, id, m, CHUNK, NULL, 0, NULL, 0);
    }
    free(m);
    if (rc)
        return seed_fail("log big-run series");
    printf("run big-run: %s\n", id);
    return finish(c, id, T0 + 200000 + POINTS * 10);
}

/* Three runs for compare: lr and optimizer differ, batch_size is shared, and
 * cmp-c alone has a hostile param. */
static int seed_compare(struct mlflow_client *c, const char *exp_id)
{
    static const char *const names[] = {"cmp-a", "cmp-b", "cmp-c"};
    static const char *const lrs[] = {"0.1", "0.01", "0.001"};
    static const char *const opts[] = {"adam", "adam", "sgd"};
    for (int r = 0; r < 3; r++) {
        char id[MLFLOW_RUN_ID_SIZE];
        if (create_run(c, exp_id, names[r], T0 + 300000 + r * 1000, NULL, 0, id))
            return 1;
        struct mlflow_kv params[4] = {
            {"lr", lrs[r]}, {"batch_size", "32"}, {"optimizer", opts[r]}, {"note", XSS_SCRIPT}};
        struct mlflow_metric m[10 + 1];
        for (int s = 0; s < 10; s++)
            m[s] = (struct mlflow_metric){"loss", (1.0 + r) / (1 + s), T0 + 300000 + s * 1000, s};
        m[10] = (struct mlflow_metric){"acc", 0.7 + 0.1 * r, T0 + 310000, 9};
        if (mlflow_client_log_batch(c, id, m, 11, params, r == 2 ? 4 : 3, NULL, 0) != 0)
            return seed_fail("log compare run");
        if (finish(c, id, T0 + 320000 + r * 1000))
            return 1;
        printf("run %s: %s\n", names[r], id);
    }
    return 0;
}

int seed_run(const char *tracking_uri)
{
    struct mlflow_client *c = NULL;
    if (mlflow_client_open(tracking_uri, &c) != 0)
        return seed_fail("open client");
    char *exp_id = NULL;
    int rc = mlflow_client_create_experiment(c, "ui-run", NULL, &exp_id);
    if (rc) {
        mlflow_client_close(c);
        return seed_fail("create experiment ui-run");
    }
    printf("experiment ui-run: %s\n", exp_id);
    rc = seed_detail(c, exp_id);
    rc = rc ? rc : seed_family(c, exp_id);
    rc = rc ? rc : seed_big(c, exp_id);
    rc = rc ? rc : seed_compare(c, exp_id);
    mlflow_free(exp_id);
    mlflow_client_close(c);
    return rc;
}
