/*
 * seed_runs.c - the experiments and runs that tests/ui/test_runs.mjs looks at.
 *
 * Experiment "ui-runs": 50 plain runs "run-00".."run-49", 3 parents
 * "parent-0".."parent-2" with 2, 3 and 2 nested children "parent-P-child-C",
 * and one deleted run "deleted-run" (61 runs, 60 active). Experiment
 * "ui-runs-b": 3 runs "b-run-0".."b-run-2". One experiment whose name, and
 * whose run's name, param value and tag value, are HTML that would run script
 * if it were ever inserted as markup.
 *
 * Every value is a function of the run's index, so the tests can compute what
 * the table must show: for run-NN (i = NN)
 *   params  lr = 0.1 | 0.01 | 0.001 (i % 3), batch = 32 << (i % 4), optimizer = adam | sgd (i % 2)
 *   metrics loss at steps 0..3 = (1 + i / 50) / (1 + step)  (latest: step 3)
 *           acc at steps 0..2, latest (step 2) = ((i * 37) % 50) / 50 + 0.005
 *           (all distinct; exactly 25 runs have acc > 0.5)
 *   tags    team = vision | nlp (i % 2), "data set" = set-(i % 5)
 *   status  i % 10: 7 FAILED, 8 KILLED, 9 RUNNING, else FINISHED
 *   user    alice | bob | carol (i % 3)
 * Parents have acc 0.1, 0.2, 0.3 and no other metric; children have only loss.
 * Start times are one minute apart in creation order, ending about now, so the
 * table shows "minutes ago" and the default order (newest first) is the
 * reverse of creation.
 */
#include "seed.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define N_PLAIN 50
#define XSS_SCRIPT "<script>window.__xss=1</script>"
#define XSS_IMG "<img src=x onerror=window.__xss=1>"

struct seeder {
    struct mlflow_client *c;
    int64_t t0; /* start time of the first run created */
    int n;      /* runs created so far: the next start time is t0 + n minutes */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Creates a run with its system tags (as the fluent API would set them) plus
 * `tags`, and copies its id into id (MLFLOW_RUN_ID_SIZE bytes). */
static int new_run(struct seeder *s, const char *exp_id, const char *name, const char *user,
                   const struct mlflow_kv *tags, size_t n_tags, char *id, int64_t *start)
{
    struct mlflow_kv all[8];
    size_t n = 0;
    char commit[48];
    unsigned h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(commit, sizeof commit, "%08x%08x%08x%08x%08x", h, h ^ 0x9e3779b9u, h * 3u,
             h ^ 0x5bd1e995u, h * 7u);
    all[n++] = (struct mlflow_kv){"mlflow.user", user};
    all[n++] = (struct mlflow_kv){"mlflow.source.name", "train.py"};
    all[n++] = (struct mlflow_kv){"mlflow.source.type", "LOCAL"};
    all[n++] = (struct mlflow_kv){"mlflow.source.git.commit", commit};
    for (size_t i = 0; i < n_tags && n < 8; i++)
        all[n++] = tags[i];
    *start = s->t0 + (int64_t)s->n++ * 60000;
    struct mlflow_create_run_opts o = {
        .run_name = name, .start_time = *start, .user_id = user, .tags = all, .n_tags = n};
    struct mlflow_run *run = NULL;
    if (mlflow_client_create_run(s->c, exp_id, &o, &run) != 0)
        return seed_fail(name);
    snprintf(id, MLFLOW_RUN_ID_SIZE, "%s", run->info.run_id);
    mlflow_run_free(run);
    return 0;
}

static int end_run(struct seeder *s, const char *id, int status, int64_t start, int64_t secs)
{
    if (status == MLFLOW_RUN_STATUS_RUNNING)
        return 0;
    if (mlflow_client_set_terminated(s->c, id, status, start + secs * 1000) != 0)
        return seed_fail("set terminated");
    return 0;
}

static int plain_run(struct seeder *s, const char *exp_id, int i)
{
    static const char *const lrs[] = {"0.1", "0.01", "0.001"};
    static const char *const users[] = {"alice", "bob", "carol"};
    static const int statuses[] = {
        MLFLOW_RUN_STATUS_FINISHED, MLFLOW_RUN_STATUS_FINISHED, MLFLOW_RUN_STATUS_FINISHED,
        MLFLOW_RUN_STATUS_FINISHED, MLFLOW_RUN_STATUS_FINISHED, MLFLOW_RUN_STATUS_FINISHED,
        MLFLOW_RUN_STATUS_FINISHED, MLFLOW_RUN_STATUS_FAILED,   MLFLOW_RUN_STATUS_KILLED,
        MLFLOW_RUN_STATUS_RUNNING};
    char name[32], batch[16], set[16], id[MLFLOW_RUN_ID_SIZE];
    snprintf(name, sizeof name, "run-%02d", i);
    snprintf(batch, sizeof batch, "%d", 32 << (i % 4));
    snprintf(set, sizeof set, "set-%d", i % 5);
    struct mlflow_kv tags[] = {{"team", i % 2 ? "nlp" : "vision"}, {"data set", set}};
    int64_t start;
    if (new_run(s, exp_id, name, users[i % 3], tags, 2, id, &start))
        return 1;

    struct mlflow_kv params[] = {
        {"lr", lrs[i % 3]}, {"batch", batch}, {"optimizer", i % 2 ? "sgd" : "adam"}};
    struct mlflow_metric m[7];
    size_t n = 0;
    for (int step = 0; step < 4; step++)
        m[n++] = (struct mlflow_metric){"loss", (1.0 + i / 50.0) / (1 + step),
                                        start + step * 1000, step};
    double acc = ((i * 37) % 50) / 50.0 + 0.005;
    for (int step = 0; step < 3; step++)
        m[n++] = (struct mlflow_metric){"acc", acc - 0.1 * (2 - step), start + step * 1000, step};
    if (mlflow_client_log_batch(s->c, id, m, n, params, 3, NULL, 0) != 0)
        return seed_fail(name);
    return end_run(s, id, statuses[i % 10], start, 30 + 7 * i);
}

static int nested_runs(struct seeder *s, const char *exp_id)
{
    static const int n_children[] = {2, 3, 2};
    for (int p = 0; p < 3; p++) {
        char name[32], pid[MLFLOW_RUN_ID_SIZE];
        int64_t pstart;
        snprintf(name, sizeof name, "parent-%d", p);
        if (new_run(s, exp_id, name, "alice", NULL, 0, pid, &pstart) ||
            mlflow_client_log_metric(s->c, pid, "acc", 0.1 * (p + 1), pstart, 0) != 0)
            return seed_fail(name);
        for (int k = 0; k < n_children[p]; k++) {
            char cname[40], cid[MLFLOW_RUN_ID_SIZE];
            int64_t cstart;
            snprintf(cname, sizeof cname, "parent-%d-child-%d", p, k);
            struct mlflow_kv tag = {"mlflow.parentRunId", pid};
            if (new_run(s, exp_id, cname, "alice", &tag, 1, cid, &cstart) ||
                mlflow_client_log_metric(s->c, cid, "loss", 0.5 / (k + 1), cstart, 0) != 0 ||
                end_run(s, cid, MLFLOW_RUN_STATUS_FINISHED, cstart, 20))
                return seed_fail(cname);
        }
        if (end_run(s, pid, MLFLOW_RUN_STATUS_FINISHED, pstart, 400))
            return 1;
    }
    return 0;
}

static int deleted_run(struct seeder *s, const char *exp_id)
{
    char id[MLFLOW_RUN_ID_SIZE];
    int64_t start;
    if (new_run(s, exp_id, "deleted-run", "bob", NULL, 0, id, &start) ||
        end_run(s, id, MLFLOW_RUN_STATUS_FINISHED, start, 10))
        return 1;
    if (mlflow_client_delete_run(s->c, id) != 0)
        return seed_fail("delete run");
    return 0;
}

static int experiment_b(struct seeder *s)
{
    char *exp_id = NULL;
    if (mlflow_client_create_experiment(s->c, "ui-runs-b", NULL, &exp_id) != 0)
        return seed_fail("create experiment ui-runs-b");
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++) {
        char name[16], id[MLFLOW_RUN_ID_SIZE];
        int64_t start;
        snprintf(name, sizeof name, "b-run-%d", i);
        rc = new_run(s, exp_id, name, "dave", NULL, 0, id, &start);
        if (!rc && (mlflow_client_log_metric(s->c, id, "acc", 0.9 - 0.3 * i, start, 0) != 0 ||
                    mlflow_client_log_param(s->c, id, "lr", "0.5") != 0))
            rc = seed_fail(name);
        if (!rc)
            rc = end_run(s, id, MLFLOW_RUN_STATUS_FINISHED, start, 5);
    }
    mlflow_free(exp_id);
    return rc;
}

/* Markup in every user string that may carry it. Keys cannot: MLflow (and so
 * mlflow-c) accepts only ^[/\w.\- ]*$ in param, metric and tag keys. */
static int experiment_xss(struct seeder *s)
{
    char *exp_id = NULL;
    if (mlflow_client_create_experiment(s->c, XSS_IMG, NULL, &exp_id) != 0)
        return seed_fail("create experiment " XSS_IMG);
    char id[MLFLOW_RUN_ID_SIZE];
    int64_t start;
    struct mlflow_kv tag = {"note", XSS_IMG};
    int rc = new_run(s, exp_id, XSS_SCRIPT, "mallory", &tag, 1, id, &start);
    if (!rc) {
        struct mlflow_kv params[] = {{"payload", XSS_SCRIPT}, {"img", XSS_IMG}};
        struct mlflow_metric m = {"odd key/with spaces.and-dots", 0.5, start, 0};
        if (mlflow_client_log_batch(s->c, id, &m, 1, params, 2, NULL, 0) != 0 ||
            mlflow_client_set_tag(s->c, id, "script", XSS_SCRIPT) != 0)
            rc = seed_fail("log xss run");
    }
    if (!rc)
        rc = end_run(s, id, MLFLOW_RUN_STATUS_FINISHED, start, 1);
    mlflow_free(exp_id);
    return rc;
}

int seed_runs(const char *tracking_uri)
{
    struct seeder s = {0};
    if (mlflow_client_open(tracking_uri, &s.c) != 0)
        return seed_fail("open client");
    /* 64 runs in all, one minute apart; the last starts a minute before now. */
    s.t0 = now_ms() - 65 * 60000;
    char *exp_id = NULL;
    int rc = 0;
    if (mlflow_client_create_experiment(s.c, "ui-runs", NULL, &exp_id) != 0) {
        rc = seed_fail("create experiment ui-runs");
    } else {
        for (int i = 0; i < N_PLAIN && !rc; i++)
            rc = plain_run(&s, exp_id, i);
        if (!rc)
            rc = nested_runs(&s, exp_id);
        if (!rc)
            rc = deleted_run(&s, exp_id);
    }
    mlflow_free(exp_id);
    if (!rc)
        rc = experiment_b(&s);
    if (!rc)
        rc = experiment_xss(&s);
    mlflow_client_close(s.c);
    return rc;
}
