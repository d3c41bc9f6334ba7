/*
 * search_experiments.c - conformance: search_experiments (spec 2.5, 6.3):
 * view types, filters on name and tags, order_by name, paging.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int search(struct conf *c, int view_type, const char *filter, const char *const *order,
                  size_t n_order, int64_t max_results, const char *token,
                  struct mlflow_experiment_list **out)
{
    const struct mlflow_search_experiments_opts o = {
        .view_type = view_type, .filter = filter, .order_by = order, .n_order_by = n_order,
        .max_results = max_results, .page_token = token};
    *out = NULL;
    return mlflow_client_search_experiments(c->client, &o, out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names found, as a set, equal `want` (sorted with strcmp). */
static void expect_names(struct conf *c, int view_type, const char *filter,
                         const char *const *want, size_t n)
{
    struct mlflow_experiment_list *l;
    CONF_OK(search(c, view_type, filter, NULL, 0, 0, NULL, &l));
    const char *got[32];
    assert_true(l->count <= 32);
    for (size_t i = 0; i < l->count; i++)
        got[i] = l->experiments[i].name;
    qsort(got, l->count, sizeof got[0], cmp_str);
    int ok = l->count == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(got[i], want[i]) == 0;
    if (!ok) {
        print_error("filter \"%s\" view %d found %zu:", filter ? filter : "", view_type, l->count);
        for (size_t i = 0; i < l->count; i++)
            print_error(" '%s'", got[i]);
        print_error("; expected %zu\n", n);
    }
    assert_true(ok);
    mlflow_experiment_list_free(l);
}

void conf_test_search_experiments_view_types(void **state)
{
    struct conf *c = *state;
    char a[CONF_ID_MAX], b[CONF_ID_MAX];
    conf_experiment(c, "alpha", a);
    conf_experiment(c, "beta", b);
    CONF_OK(mlflow_client_delete_experiment(c->client, b));

    static const char *const active[] = {"Default", "alpha"};
    static const char *const deleted[] = {"beta"};
    static const char *const all[] = {"Default", "alpha", "beta"};
    expect_names(c, 0, NULL, active, 2);
    expect_names(c, MLFLOW_VIEW_ACTIVE_ONLY, NULL, active, 2);
    expect_names(c, MLFLOW_VIEW_DELETED_ONLY, NULL, deleted, 1);
    expect_names(c, MLFLOW_VIEW_ALL, NULL, all, 3);

    struct mlflow_experiment_list *l;
    CONF_OK(search(c, MLFLOW_VIEW_DELETED_ONLY, NULL, NULL, 0, 0, NULL, &l));
    assert_string_equal(l->experiments[0].experiment_id, b);
    assert_string_equal(l->experiments[0].lifecycle_stage, "deleted");
    assert_null(l->next_page_token);
    mlflow_experiment_list_free(l);

    CONF_OK(mlflow_client_restore_experiment(c->client, b));
    expect_names(c, 0, NULL, all, 3);
    expect_names(c, MLFLOW_VIEW_DELETED_ONLY, NULL, NULL, 0);
}

static void seed_tagged(struct conf *c)
{
    const struct mlflow_kv x = {"team", "x"}, y = {"team", "y"};
    const struct {
        const char *name;
        const struct mlflow_kv *tag;
    } exps[] = {{"alpha-1", &x}, {"alpha-2", &y}, {"beta", &x}, {"gamma", NULL}};
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        const struct mlflow_experiment_opts o = {.tags = exps[i].tag,
                                                 .n_tags = exps[i].tag ? 1 : 0};
        char *id = NULL;
        CONF_OK(mlflow_client_create_experiment(c->client, exps[i].name, &o, &id));
        mlflow_free(id);
    }
}

void conf_test_search_experiments_filter(void **state)
{
    struct conf *c = *state;
    seed_tagged(c);
    static const char *const alphas[] = {"alpha-1", "alpha-2"};
    static const char *const beta[] = {"beta"};
    static const char *const not_beta[] = {"Default", "alpha-1", "alpha-2", "gamma"};
    static const char *const team_x[] = {"alpha-1", "beta"};
    static const char *const team_not_x[] = {"alpha-2"};
    static const char *const alpha_x[] = {"alpha-1"};
    static const char *const gamma[] = {"gamma"};
    expect_names(c, 0, "name LIKE 'alpha%'", alphas, 2);
    expect_names(c, 0, "name ILIKE 'ALPHA%'", alphas, 2);
    expect_names(c, 0, "name LIKE 'ALPHA%'", NULL, 0);
    expect_names(c, 0, "name = 'beta'", beta, 1);
    expect_names(c, 0, "name != 'beta'", not_beta, 4);
    expect_names(c, 0, "attribute.name = 'gamma'", gamma, 1);
    expect_names(c, 0, "tags.team = 'x'", team_x, 2);
    expect_names(c, 0, "tag.team = 'x'", team_x, 2);
    /* Experiments without the tag never match. */
    expect_names(c, 0, "tags.team != 'x'", team_not_x, 1);
    expect_names(c, 0, "name LIKE 'alpha%' AND tags.team = 'x'", alpha_x, 1);
    expect_names(c, 0, "name = 'nothing'", NULL, 0);

    struct mlflow_experiment_list *l;
    CONF_ERR(search(c, 0, "metrics.x > 1", NULL, 0, 0, NULL, &l), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
    CONF_ERR(search(c, 0, "name =", NULL, 0, 0, NULL, &l), MLFLOW_INVALID_PARAMETER_VALUE);
    CONF_ERR(search(c, 0, "name = 'a' OR name = 'b'", NULL, 0, 0, NULL, &l),
             MLFLOW_INVALID_PARAMETER_VALUE);
    const char *bad_order[] = {"nosuchkey ASC"};
    CONF_ERR(search(c, 0, NULL, bad_order, 1, 0, NULL, &l), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
}

static void expect_order(struct conf *c, const char *order, const char *const *want, size_t n)
{
    const char *o[] = {order};
    struct mlflow_experiment_list *l;
    CONF_OK(search(c, 0, NULL, o, 1, 0, NULL, &l));
    assert_int_equal(l->count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->experiments[i].name, want[i]);
    mlflow_experiment_list_free(l);
}

void conf_test_search_experiments_order_by_name(void **state)
{
    struct conf *c = *state;
    seed_tagged(c);
    /* Byte order: upper case sorts before lower case. */
    static const char *const asc[] = {"Default", "alpha-1", "alpha-2", "beta", "gamma"};
    static const char *const desc[] = {"gamma", "beta", "alpha-2", "alpha-1", "Default"};
    expect_order(c, "name ASC", asc, 5);
    expect_order(c, "name", asc, 5);
    expect_order(c, "name DESC", desc, 5);
    expect_order(c, "attribute.name desc", desc, 5);
}

/* Pages through everything with page size `size`; returns copies of the
 * names in the order seen (free with free_names). */
static char **walk(struct conf *c, const char *order, int64_t size, size_t *count,
                   size_t *pages)
{
    char **names = calloc(64, sizeof *names);
    assert_non_null(names);
    char *token = NULL;
    *count = 0;
    *pages = 0;
    do {
        const char *o[] = {order};
        struct mlflow_experiment_list *l;
        CONF_OK(search(c, 0, NULL, order ? o : NULL, order ? 1 : 0, size, token, &l));
        free(token);
        token = l->next_page_token ? strdup(l->next_page_token) : NULL;
        (*pages)++;
        assert_true(l->count <= (size_t)size);
        if (token)
            assert_int_equal(l->count, size);
        for (size_t i = 0; i < l->count; i++) {
            assert_true(*count < 64);
            names[(*count)++] = strdup(l->experiments[i].name);
        }
        mlflow_experiment_list_free(l);
        assert_true(*pages < 64);
    } while (token);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void conf_test_search_experiments_paging(void **state)
{
    struct conf *c = *state;
    static const char *const names[] = {"e1", "e2", "e3", "e4", "e5"};
    for (size_t i = 0; i < 5; i++) {
        char id[CONF_ID_MAX];
        conf_experiment(c, names[i], id);
    }
    static const char *const asc[] = {"Default", "e1", "e2", "e3", "e4", "e5"};

    size_t n, pages;
    char **got = walk(c, "name ASC", 2, &n, &pages);
    assert_int_equal(n, 6);
    assert_int_equal(pages, 3);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(got[i], asc[i]);
    free_names(got, n);

    /* Default order, uneven pages: still each experiment exactly once. */
    got = walk(c, NULL, 4, &n, &pages);
    assert_int_equal(n, 6);
    assert_int_equal(pages, 2);
    qsort(got, n, sizeof got[0], cmp_str);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(got[i], asc[i]);
    free_names(got, n);

    struct mlflow_experiment_list *l;
    CONF_ERR(search(c, 0, NULL, NULL, 0, 2, "garbage!!", &l), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
    CONF_ERR(search(c, 0, NULL, NULL, 0, 50001, NULL, &l), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
}
