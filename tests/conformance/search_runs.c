/*
 * search_runs.c - conformance: search_runs (spec 2.5, 6.1, 6.2): view types,
 * max_results and page tokens, order_by, filters.
 *
 * Expected answers are computed here from the data the test logged (a
 * predicate and a comparator per case), never taken from the library, so a
 * bug in the shared search code cannot hide itself.
 */
#include "conformance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define T0 1700000000000LL

/* One run of the search fixture: metric m, param p, tag t (each possibly
 * absent) and a status. */
struct row {
    const char *name;
    int64_t start; /* offset from T0 */
    int has_m;
    double m;
    const char *p; /* NULL: never logged */
    const char *t;
    int status; /* 0: left RUNNING */
};

static const struct row rows[] = {
    {"r0", 0, 1, 3.0, "b", "foo", MLFLOW_RUN_STATUS_FINISHED},
    {"r1", 1000, 1, 1.0, "a", "Food", 0},
    {"r2", 2000, 1, NAN, "c", "bar", MLFLOW_RUN_STATUS_FAILED},
    {"r3", 3000, 0, 0.0, "a", NULL, MLFLOW_RUN_STATUS_FINISHED},
    {"r4", 4000, 1, 2.0, NULL, "fob", 0},
    {"r5", 5000, 1, 5.0, "b", "xfoo", MLFLOW_RUN_STATUS_FINISHED},
    {"r6", 6000, 1, 1.0, "a", "FOO", 0},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

struct fixture {
    struct conf *c;
    char exp[CONF_ID_MAX];
    char ids[N_ROWS][CONF_ID_MAX];
};

static void seed(struct conf *c, struct fixture *f)
{
    f->c = c;
    conf_experiment(c, "search", f->exp);
    for (size_t i = 0; i < N_ROWS; i++) {
        const struct row *r = &rows[i];
        conf_run(c, f->exp, r->name, T0 + r->start, f->ids[i]);
        if (r->has_m)
            CONF_OK(mlflow_client_log_metric(c->client, f->ids[i], "m", r->m, 1000, 0));
        if (r->p)
            CONF_OK(mlflow_client_log_param(c->client, f->ids[i], "p", r->p));
        if (r->t)
            CONF_OK(mlflow_client_set_tag(c->client, f->ids[i], "t", r->t));
        if (r->status)
            CONF_OK(mlflow_client_set_terminated(c->client, f->ids[i], r->status,
                                                 T0 + r->start + 500));
    }
}

typedef int (*row_pred)(const struct row *r);
/* Orders two rows on the clauses under test; 0 when they tie there. */
typedef int (*row_cmp)(const struct row *a, const struct row *b);

/* MLflow's base order under every order_by: start_time DESC. (run_id ASC
 * comes last, but no two fixture runs share a start time.) */
static int full_cmp(row_cmp cmp, const struct row *a, const struct row *b)
{
    int d = cmp ? cmp(a, b) : 0;
    if (d)
        return d;
    return (a->start < b->start) - (a->start > b->start);
}

static int run_search(struct fixture *f, const char *filter, const char *const *order,
                      size_t n_order, struct mlflow_run_list **out)
{
    const char *ids[] = {f->exp};
    const struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                              .filter = filter, .order_by = order,
                                              .n_order_by = n_order};
    return mlflow_client_search_runs(f->c->client, &o, out);
}

/* Searches and checks the answer against rows filtered by `pred` (NULL:
 * all) and sorted by `cmp` (NULL: base order only). */
static void expect(struct fixture *f, const char *filter, const char *const *order,
                   size_t n_order, row_pred pred, row_cmp cmp)
{
    const struct row *want[N_ROWS];
    size_t n = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        if (pred && !pred(&rows[i]))
            continue;
        /* Insertion sort: stable and plenty for seven rows. */
        size_t j = n++;
        while (j > 0 && full_cmp(cmp, want[j - 1], &rows[i]) > 0) {
            want[j] = want[j - 1];
            j--;
        }
        want[j] = &rows[i];
    }

    struct mlflow_run_list *l = NULL;
    CONF_OK(run_search(f, filter, order, n_order, &l));
    int ok = l->count == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(l->runs[i].info.run_name, want[i]->name) == 0;
    if (!ok) {
        char got[256] = "", exp[256] = "";
        for (size_t i = 0; i < l->count; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), " %s", l->runs[i].info.run_name);
        for (size_t i = 0; i < n; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %s", want[i]->name);
        print_error("filter \"%s\" order_by \"%s\": got [%s ], expected [%s ]\n",
                    filter ? filter : "", n_order ? order[0] : "", got, exp);
    }
    assert_true(ok);
    assert_null(l->next_page_token);
    mlflow_run_list_free(l);
}

static void expect_invalid(struct fixture *f, const char *filter, const char *order)
{
    struct mlflow_run_list *l = NULL;
    const char *o[] = {order};
    int rc = run_search(f, filter, order ? o : NULL, order ? 1 : 0, &l);
    if (rc != MLFLOW_INVALID_PARAMETER_VALUE)
        print_error("filter \"%s\" order_by \"%s\" was accepted\n", filter ? filter : "",
                    order ? order : "");
    CONF_ERR(rc, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
}

/* ---- view types, max_results, paging ---- */

void conf_test_search_runs_view_types(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX], a[CONF_ID_MAX], b[CONF_ID_MAX], d[CONF_ID_MAX];
    conf_experiment(c, "views", exp);
    conf_run(c, exp, "a", T0, a);
    conf_run(c, exp, "b", T0 + 1, b);
    conf_run(c, exp, "d", T0 + 2, d);
    CONF_OK(mlflow_client_delete_run(c->client, d));

    struct mlflow_run_list *l = conf_search_runs(c, exp, 0);
    assert_int_equal(l->count, 2);
    assert_false(conf_list_has_run(l, d));
    mlflow_run_list_free(l);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_ACTIVE_ONLY);
    assert_int_equal(l->count, 2);
    assert_true(conf_list_has_run(l, a) && conf_list_has_run(l, b));
    mlflow_run_list_free(l);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_DELETED_ONLY);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->runs[0].info.run_id, d);
    assert_string_equal(l->runs[0].info.lifecycle_stage, "deleted");
    mlflow_run_list_free(l);
    l = conf_search_runs(c, exp, MLFLOW_VIEW_ALL);
    assert_int_equal(l->count, 3);
    /* start_time DESC */
    assert_string_equal(l->runs[0].info.run_id, d);
    assert_string_equal(l->runs[1].info.run_id, b);
    assert_string_equal(l->runs[2].info.run_id, a);
    mlflow_run_list_free(l);
}

/* Ten runs p0..p9, started one second apart. */
static void seed_ten(struct conf *c, char *exp)
{
    conf_experiment(c, "paging", exp);
    for (int i = 0; i < 10; i++) {
        char name[8], id[CONF_ID_MAX];
        snprintf(name, sizeof name, "p%d", i);
        conf_run(c, exp, name, T0 + i * 1000, id);
    }
}

static int search_page(struct conf *c, const char *exp, int64_t max_results, const char *token,
                       struct mlflow_run_list **out)
{
    const char *ids[] = {exp};
    const struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                              .max_results = max_results, .page_token = token};
    *out = NULL;
    return mlflow_client_search_runs(c->client, &o, out);
}

void conf_test_search_runs_max_results(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    seed_ten(c, exp);
    struct mlflow_run_list *l;
    CONF_OK(search_page(c, exp, 4, NULL, &l));
    assert_int_equal(l->count, 4);
    assert_non_null(l->next_page_token);
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", 9 - i);
        assert_string_equal(l->runs[i].info.run_name, name);
    }
    mlflow_run_list_free(l);
    /* Exactly everything: no token, as nothing is left. */
    CONF_OK(search_page(c, exp, 10, NULL, &l));
    assert_int_equal(l->count, 10);
    assert_null(l->next_page_token);
    mlflow_run_list_free(l);
    /* 0 = the default (1000). */
    CONF_OK(search_page(c, exp, 0, NULL, &l));
    assert_int_equal(l->count, 10);
    assert_null(l->next_page_token);
    mlflow_run_list_free(l);
    CONF_OK(search_page(c, exp, 50000, NULL, &l));
    assert_int_equal(l->count, 10);
    mlflow_run_list_free(l);
    CONF_ERR(search_page(c, exp, 50001, NULL, &l), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(l);
}

/* Walks all pages of size `size`; checks every run comes once, in order. */
static void walk_pages(struct conf *c, const char *exp, int64_t size, size_t want_pages)
{
    char *token = NULL;
    size_t pages = 0, seen = 0;
    for (;;) {
        struct mlflow_run_list *l;
        CONF_OK(search_page(c, exp, size, token, &l));
        free(token);
        token = NULL;
        pages++;
        assert_true(l->count <= (size_t)size);
        for (size_t i = 0; i < l->count; i++, seen++) {
            char name[8];
            snprintf(name, sizeof name, "p%zu", 9 - seen);
            assert_true(seen < 10);
            assert_string_equal(l->runs[i].info.run_name, name);
        }
        if (l->next_page_token) {
            assert_int_equal(l->count, size);
            token = strdup(l->next_page_token);
        }
        mlflow_run_list_free(l);
        if (!token)
            break;
        assert_true(pages < 20);
    }
    assert_int_equal(seen, 10);
    assert_int_equal(pages, want_pages);
}

void conf_test_search_runs_page_tokens(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    seed_ten(c, exp);
    walk_pages(c, exp, 3, 4);
    walk_pages(c, exp, 5, 2);
    walk_pages(c, exp, 1, 10);
    walk_pages(c, exp, 11, 1);

    /* MLflow's own token for offset 3, base64 of {"offset": 3}, works here. */
    struct mlflow_run_list *l;
    CONF_OK(search_page(c, exp, 3, "eyJvZmZzZXQiOiAzfQ==", &l));
    assert_int_equal(l->count, 3);
    assert_string_equal(l->runs[0].info.run_name, "p6");
    assert_string_equal(l->runs[2].info.run_name, "p4");
    mlflow_run_list_free(l);
}

void conf_test_search_runs_bad_page_token(void **state)
{
    struct conf *c = *state;
    char exp[CONF_ID_MAX];
    seed_ten(c, exp);
    static const char *const bad[] = {
        "garbage!!",
        "bm90IGpzb24=",             /* "not json" */
        "eyJub3QiOiAianNvbiJ9",     /* {"not": "json"} */
        "eyJvZmZzZXQiOiAtMX0=",     /* {"offset": -1} */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mlflow_run_list *l;
        int rc = search_page(c, exp, 3, bad[i], &l);
        if (rc != MLFLOW_INVALID_PARAMETER_VALUE)
            print_error("page token '%s' accepted\n", bad[i]);
        CONF_ERR(rc, MLFLOW_INVALID_PARAMETER_VALUE);
        assert_null(l);
    }
}

/* ---- order_by ---- */

void conf_test_search_runs_default_order(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect(&f, NULL, NULL, 0, NULL, NULL);
    expect(&f, "", NULL, 0, NULL, NULL);

    /* Results carry the runs' data. */
    struct mlflow_run_list *l = NULL;
    CONF_OK(run_search(&f, "attributes.run_name = 'r0'", NULL, 0, &l));
    assert_int_equal(l->count, 1);
    const struct mlflow_run *r = &l->runs[0];
    assert_string_equal(r->info.run_id, f.ids[0]);
    assert_string_equal(r->info.experiment_id, f.exp);
    assert_int_equal(r->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_int_equal(r->info.start_time, T0);
    assert_int_equal(r->info.end_time, T0 + 500);
    assert_string_equal(mlflow_run_param(r, "p"), "b");
    assert_string_equal(mlflow_run_tag(r, "t"), "foo");
    assert_true(mlflow_run_metric(r, "m")->value == 3.0);
    mlflow_run_list_free(l);
}

/* 0 real value, 1 NaN, 2 missing: the order in both directions. */
static int m_rank(const struct row *r)
{
    return !r->has_m ? 2 : isnan(r->m) ? 1 : 0;
}

static int cmp_m_asc(const struct row *a, const struct row *b)
{
    if (m_rank(a) != m_rank(b))
        return m_rank(a) - m_rank(b);
    return m_rank(a) ? 0 : (a->m > b->m) - (a->m < b->m);
}

static int cmp_m_desc(const struct row *a, const struct row *b)
{
    if (m_rank(a) != m_rank(b))
        return m_rank(a) - m_rank(b);
    return m_rank(a) ? 0 : (a->m < b->m) - (a->m > b->m);
}

void conf_test_search_runs_order_by_metric(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    const char *asc[] = {"metrics.m ASC"}, *desc[] = {"metrics.m DESC"};
    const char *plain[] = {"metrics.m"}, *lower[] = {"metric.m desc"};
    expect(&f, NULL, asc, 1, NULL, cmp_m_asc);
    expect(&f, NULL, desc, 1, NULL, cmp_m_desc);
    expect(&f, NULL, plain, 1, NULL, cmp_m_asc);
    expect(&f, NULL, lower, 1, NULL, cmp_m_desc);
}

static int cmp_p_asc(const struct row *a, const struct row *b)
{
    if (!a->p || !b->p)
        return !a->p - !b->p;
    return strcmp(a->p, b->p);
}

static int cmp_p_desc(const struct row *a, const struct row *b)
{
    if (!a->p || !b->p)
        return !a->p - !b->p;
    return strcmp(b->p, a->p);
}

static int cmp_t_asc(const struct row *a, const struct row *b)
{
    if (!a->t || !b->t)
        return !a->t - !b->t;
    return strcmp(a->t, b->t);
}

static int cmp_p_asc_m_desc(const struct row *a, const struct row *b)
{
    int d = cmp_p_asc(a, b);
    return d ? d : cmp_m_desc(a, b);
}

void conf_test_search_runs_order_by_param(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    const char *asc[] = {"params.p ASC"}, *desc[] = {"params.p DESC"};
    const char *two[] = {"params.p ASC", "metrics.m DESC"};
    expect(&f, NULL, asc, 1, NULL, cmp_p_asc);
    expect(&f, NULL, desc, 1, NULL, cmp_p_desc);
    expect(&f, NULL, two, 2, NULL, cmp_p_asc_m_desc);
    /* Tags order the same way (byte order: upper case first). */
    const char *tags[] = {"tags.t ASC"};
    expect(&f, NULL, tags, 1, NULL, cmp_t_asc);
}

static int cmp_start_asc(const struct row *a, const struct row *b)
{
    return (a->start > b->start) - (a->start < b->start);
}

static int cmp_name_asc(const struct row *a, const struct row *b)
{
    return strcmp(a->name, b->name);
}

static int cmp_name_desc(const struct row *a, const struct row *b)
{
    return strcmp(b->name, a->name);
}

void conf_test_search_runs_order_by_attribute(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    const char *start_asc[] = {"attributes.start_time ASC"};
    const char *start_desc[] = {"start_time DESC"};
    const char *name_asc[] = {"attributes.run_name ASC"};
    const char *name_desc[] = {"attributes.run_name DESC"};
    expect(&f, NULL, start_asc, 1, NULL, cmp_start_asc);
    expect(&f, NULL, start_desc, 1, NULL, NULL);
    expect(&f, NULL, name_asc, 1, NULL, cmp_name_asc);
    expect(&f, NULL, name_desc, 1, NULL, cmp_name_desc);
}

/* ---- filters ---- */

static int m_real(const struct row *r)
{
    return r->has_m && !isnan(r->m);
}
static int m_gt_1_5(const struct row *r)
{
    return m_real(r) && r->m > 1.5;
}
static int m_ge_1(const struct row *r)
{
    return m_real(r) && r->m >= 1.0;
}
static int m_eq_1(const struct row *r)
{
    return m_real(r) && r->m == 1.0;
}
static int m_le_2(const struct row *r)
{
    return m_real(r) && r->m <= 2.0;
}

void conf_test_search_runs_filter_metric(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect(&f, "metrics.m > 1.5", NULL, 0, m_gt_1_5, NULL);
    expect(&f, "metrics.m >= 1", NULL, 0, m_ge_1, NULL);
    expect(&f, "metrics.m = 1", NULL, 0, m_eq_1, NULL);
    expect(&f, "metrics.m = 1.0", NULL, 0, m_eq_1, NULL);
    expect(&f, "metric.m <= 2", NULL, 0, m_le_2, NULL);
    expect(&f, "metrics.`m` > 1.5", NULL, 0, m_gt_1_5, NULL);
}

static int p_eq_a(const struct row *r)
{
    return r->p && strcmp(r->p, "a") == 0;
}
static int p_ne_a(const struct row *r)
{
    return r->p && strcmp(r->p, "a") != 0;
}
static int p_b_and_m_gt_1_5(const struct row *r)
{
    return m_gt_1_5(r) && r->p && strcmp(r->p, "b") == 0;
}

void conf_test_search_runs_filter_param(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect(&f, "params.p = 'a'", NULL, 0, p_eq_a, NULL);
    expect(&f, "params.p = \"a\"", NULL, 0, p_eq_a, NULL);
    expect(&f, "param.p != 'a'", NULL, 0, p_ne_a, NULL);
    expect(&f, "metrics.m > 1.5 AND params.p = 'b'", NULL, 0, p_b_and_m_gt_1_5, NULL);
    expect(&f, "metrics.m > 1.5 and params.p = 'b'", NULL, 0, p_b_and_m_gt_1_5, NULL);
    /* Filter and order together. */
    const char *m_desc[] = {"metrics.m DESC"};
    expect(&f, "params.p = 'a'", m_desc, 1, p_eq_a, cmp_m_desc);
}

static int t_like_fo(const struct row *r)
{
    return r->t && strncmp(r->t, "fo", 2) == 0;
}
static int t_ilike_fo(const struct row *r)
{
    return r->t && strncasecmp(r->t, "fo", 2) == 0;
}
static int t_like_pct_oo(const struct row *r)
{
    size_t n = r->t ? strlen(r->t) : 0;
    return n >= 2 && strcmp(r->t + n - 2, "oo") == 0;
}
static int t_like_f_o(const struct row *r)
{
    return r->t && strlen(r->t) == 3 && r->t[0] == 'f' && r->t[2] == 'o';
}
static int t_ne_foo(const struct row *r)
{
    return r->t && strcmp(r->t, "foo") != 0;
}

void conf_test_search_runs_filter_tag_like(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect(&f, "tags.t LIKE 'fo%'", NULL, 0, t_like_fo, NULL);
    expect(&f, "tags.t like 'fo%'", NULL, 0, t_like_fo, NULL);
    expect(&f, "tags.t ILIKE 'FO%'", NULL, 0, t_ilike_fo, NULL);
    expect(&f, "tags.t ILIKE 'fo%'", NULL, 0, t_ilike_fo, NULL);
    expect(&f, "tags.t LIKE '%oo'", NULL, 0, t_like_pct_oo, NULL);
    expect(&f, "tag.t LIKE 'f_o'", NULL, 0, t_like_f_o, NULL);
    expect(&f, "tags.t != 'foo'", NULL, 0, t_ne_foo, NULL);

    /* '_' is one character, not one byte. */
    char exp[CONF_ID_MAX], id[CONF_ID_MAX];
    conf_experiment(c, "like unicode", exp);
    static const char *const values[] = {"f\xc3\xb3o", "foo", "fo", "f\xe6\x97\xa5\xe6\x97\xa5o"};
    for (size_t i = 0; i < 4; i++) {
        conf_run(c, exp, values[i], T0 + (int64_t)i, id);
        CONF_OK(mlflow_client_set_tag(c->client, id, "t", values[i]));
    }
    const char *ids[] = {exp};
    const struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 1,
                                              .filter = "tags.t LIKE 'f_o'"};
    struct mlflow_run_list *l = NULL;
    CONF_OK(mlflow_client_search_runs(c->client, &o, &l));
    assert_int_equal(l->count, 2);
    assert_string_equal(l->runs[0].info.run_name, "foo");
    assert_string_equal(l->runs[1].info.run_name, "f\xc3\xb3o");
    mlflow_run_list_free(l);
}

static int finished(const struct row *r)
{
    return r->status == MLFLOW_RUN_STATUS_FINISHED;
}
static int not_running(const struct row *r)
{
    return r->status != 0;
}
static int failed(const struct row *r)
{
    return r->status == MLFLOW_RUN_STATUS_FAILED;
}
static int named_r3(const struct row *r)
{
    return strcmp(r->name, "r3") == 0;
}
static int started_after_2500(const struct row *r)
{
    return r->start > 2500;
}
static int all_rows(const struct row *r)
{
    (void)r;
    return 1;
}

void conf_test_search_runs_filter_attribute(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect(&f, "attributes.status = 'FINISHED'", NULL, 0, finished, NULL);
    expect(&f, "attributes.status != 'RUNNING'", NULL, 0, not_running, NULL);
    expect(&f, "status = 'FAILED'", NULL, 0, failed, NULL);
    expect(&f, "attributes.run_name = 'r3'", NULL, 0, named_r3, NULL);
    expect(&f, "attributes.run_name LIKE 'r%'", NULL, 0, all_rows, NULL);
    char filter[128];
    snprintf(filter, sizeof filter, "attributes.start_time > %lld", T0 + 2500);
    expect(&f, filter, NULL, 0, started_after_2500, NULL);
}

static int r1_or_r4(const struct row *r)
{
    return strcmp(r->name, "r1") == 0 || strcmp(r->name, "r4") == 0;
}
static int not_r1_or_r4(const struct row *r)
{
    return !r1_or_r4(r);
}

void conf_test_search_runs_filter_run_id_in(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    char filter[256];
    snprintf(filter, sizeof filter, "attributes.run_id IN ('%s', '%s')", f.ids[1], f.ids[4]);
    expect(&f, filter, NULL, 0, r1_or_r4, NULL);
    snprintf(filter, sizeof filter, "attributes.run_id NOT IN ('%s','%s')", f.ids[1], f.ids[4]);
    expect(&f, filter, NULL, 0, not_r1_or_r4, NULL);
    snprintf(filter, sizeof filter, "attributes.run_id = '%s'", f.ids[4]);
    struct mlflow_run_list *l = NULL;
    CONF_OK(run_search(&f, filter, NULL, 0, &l));
    assert_int_equal(l->count, 1);
    assert_string_equal(l->runs[0].info.run_id, f.ids[4]);
    mlflow_run_list_free(l);
}

static int none(const struct row *r)
{
    (void)r;
    return 0;
}
static int has_t(const struct row *r)
{
    return r->t != NULL;
}
static int has_p(const struct row *r)
{
    return r->p != NULL;
}

void conf_test_search_runs_filter_missing_key(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    /* A run lacking the key never matches, even with != */
    expect(&f, "metrics.nothere > 0", NULL, 0, none, NULL);
    expect(&f, "metrics.nothere != 0", NULL, 0, none, NULL);
    expect(&f, "params.nothere != 'x'", NULL, 0, none, NULL);
    expect(&f, "tags.nothere != 'x'", NULL, 0, none, NULL);
    expect(&f, "tags.t != 'zzz'", NULL, 0, has_t, NULL);
    expect(&f, "params.p != 'zzz'", NULL, 0, has_p, NULL);
}

void conf_test_search_runs_invalid_filter(void **state)
{
    struct conf *c = *state;
    struct fixture f;
    seed(c, &f);
    expect_invalid(&f, "metrics.m >", NULL);
    expect_invalid(&f, "params.p = a", NULL);
    expect_invalid(&f, "metrics.m > 'x'", NULL);
    expect_invalid(&f, "metrics.m > 1 OR params.p = 'a'", NULL);
    expect_invalid(&f, "foo.bar = 'x'", NULL);
    expect_invalid(&f, "params.p LIKE", NULL);
    expect_invalid(&f, "(params.p = 'a')", NULL);
    expect_invalid(&f, NULL, "metrics.m SIDEWAYS");
    expect_invalid(&f, NULL, "nosuchtype.m ASC");
}

void conf_test_search_runs_multiple_experiments(void **state)
{
    struct conf *c = *state;
    char e1[CONF_ID_MAX], e2[CONF_ID_MAX], e3[CONF_ID_MAX], id[CONF_ID_MAX];
    conf_experiment(c, "one", e1);
    conf_experiment(c, "two", e2);
    conf_experiment(c, "three", e3);
    conf_run(c, e1, "a", T0 + 1, id);
    conf_run(c, e2, "b", T0 + 2, id);
    conf_run(c, e1, "c", T0 + 3, id);
    conf_run(c, e2, "d", T0 + 4, id);
    conf_run(c, e3, "other", T0 + 5, id);

    const char *ids[] = {e1, e2};
    const struct mlflow_search_runs_opts o = {.experiment_ids = ids, .n_experiment_ids = 2};
    struct mlflow_run_list *l = NULL;
    CONF_OK(mlflow_client_search_runs(c->client, &o, &l));
    assert_int_equal(l->count, 4);
    static const char *const want[] = {"d", "c", "b", "a"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(l->runs[i].info.run_name, want[i]);
    mlflow_run_list_free(l);
}
