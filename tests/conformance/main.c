/*
 * main.c - runner of the conformance suite: `conformance <backend> [filter]`.
 *
 * Every test runs on a fresh store made by the backend's fixture row, and its
 * result prints as <backend>/<test>. The exit status is non-zero when any
 * test failed. The optional filter is cmocka's name pattern (`*` and `?`),
 * matched against the full name, e.g. 'file/search_runs_*'.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct conf_backend *current_backend;

/* ---- helpers shared by the test files ---- */

void conf_check_rc(int rc, int want, const char *expr, const char *file, int line)
{
    if (rc == want)
        return;
    print_error("%s returned %s (%d), expected %s (%d); last error: %s\n", expr,
                mlflow_error_name(rc), rc, mlflow_error_name(want), want, mlflow_last_error());
    _fail(file, line);
}

int conf_has(const struct conf *c, unsigned cap)
{
    return (c->backend->caps & cap) != 0;
}

int64_t conf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_id(char *dst, const char *src)
{
    assert_non_null(src);
    assert_true(strlen(src) < CONF_ID_MAX);
    strcpy(dst, src);
}

void conf_experiment(struct conf *c, const char *name, char *id)
{
    char *got = NULL;
    CONF_OK(mlflow_client_create_experiment(c->client, name, NULL, &got));
    copy_id(id, got);
    mlflow_free(got);
}

void conf_run(struct conf *c, const char *exp_id, const char *name, int64_t start_time, char *id)
{
    struct mlflow_create_run_opts o = {.run_name = name, .start_time = start_time};
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_create_run(c->client, exp_id, &o, &r));
    copy_id(id, r->info.run_id);
    mlflow_run_free(r);
}

struct mlflow_run *conf_get_run(struct conf *c, const char *run_id)
{
    struct mlflow_run *r = NULL;
    CONF_OK(mlflow_client_get_run(c->client, run_id, &r));
    assert_non_null(r);
    return r;
}

struct mlflow_experiment *conf_get_experiment(struct conf *c, const char *id)
{
    struct mlflow_experiment *e = NULL;
    CONF_OK(mlflow_client_get_experiment(c->client, id, &e));
    assert_non_null(e);
    return e;
}

struct mlflow_run_list *conf_search_runs(struct conf *c, const char *exp_id, int view_type)
{
    const char *ids[] = {exp_id};
    struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                        .view_type = view_type};
    struct mlflow_run_list *l = NULL;
    CONF_OK(mlflow_client_search_runs(c->client, &o, &l));
    assert_non_null(l);
    return l;
}

int conf_list_has_run(const struct mlflow_run_list *l, const char *run_id)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->runs[i].info.run_id, run_id) == 0)
            return 1;
    return 0;
}

int conf_error_mentions(const char *needle)
{
    return strstr(mlflow_last_error(), needle) != NULL;
}

char *conf_repeat(const char *unit, size_t count)
{
    size_t n = strlen(unit);
    char *s = malloc(n * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * n, unit, n);
    s[n * count] = '\0';
    return s;
}

/* ---- per-test fixture ---- */

static int conf_setup(void **state)
{
    struct conf *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->backend = current_backend;
    if (c->backend->setup(&c->uri, &c->backend_ctx) != 0) {
        print_error("backend '%s': setup failed\n", c->backend->name);
        free(c);
        return -1;
    }
    int rc = mlflow_client_open(c->uri, &c->client);
    if (rc != MLFLOW_OK) {
        print_error("mlflow_client_open(%s): %s: %s\n", c->uri, mlflow_error_name(rc),
                    mlflow_last_error());
        c->backend->teardown(c->backend_ctx);
        free(c->uri);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int conf_teardown(void **state)
{
    struct conf *c = *state;
    if (!c)
        return 0;
    mlflow_client_close(c->client);
    c->backend->teardown(c->backend_ctx);
    free(c->uri);
    free(c);
    *state = NULL;
    return 0;
}

#define CONF_ROW(name) {#name, conf_test_##name, conf_setup, conf_teardown, NULL},

static struct CMUnitTest tests[] = {CONF_TESTS(CONF_ROW)};

static void usage(void)
{
    fprintf(stderr, "usage: conformance <backend> [name-pattern]\nbackends:");
    for (size_t i = 0; i < conf_n_backends; i++)
        fprintf(stderr, " %s", conf_backends[i].name);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        usage();
        return 2;
    }
    current_backend = conf_backend_find(argv[1]);
    if (!current_backend) {
        fprintf(stderr, "conformance: unknown backend '%s'\n", argv[1]);
        usage();
        return 2;
    }
    /* The suite checks MLflow's defaults; the caller's environment must not
     * change them. */
    unsetenv("MLFLOW_TRUNCATE_LONG_VALUES");
    unsetenv("MLFLOW_TRACKING_URI");
    if (argc == 3)
        cmocka_set_test_filter(argv[2]);

    /* Names print as <backend>/<test>. */
    size_t n = sizeof tests / sizeof tests[0];
    char **names = calloc(n, sizeof *names);
    if (!names)
        return 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(current_backend->name) + strlen(tests[i].name) + 2;
        names[i] = malloc(len);
        if (!names[i])
            return 1;
        snprintf(names[i], len, "%s/%s", current_backend->name, tests[i].name);
        tests[i].name = names[i];
    }
    int failed = cmocka_run_group_tests_name(current_backend->name, tests, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return failed ? 1 : 0;
}
