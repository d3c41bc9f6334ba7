/*
 * test_validate.c - MLflow's input rules (spec section 3) as validate.c
 * implements them: key names, ids, experiment names, value lengths with and
 * without truncation, batch sizes, metric timestamps and artifact paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char *repeat(const char *unit, size_t count)
{
    size_t n = strlen(unit);
    char *s = malloc(n * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * n, unit, n);
    s[n * count] = '\0';
    return s;
}

static void expect_bad(int rc, const struct mlflow_error *err)
{
    assert_int_equal(rc, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_equal(err->code, MLFLOW_INVALID_PARAMETER_VALUE);
    assert_true(err->message[0] != '\0');
}

static void test_key_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a", "loss", "a.b", "a-b", "a_b", "with space", "a/b", "a/b/c", ".hidden", "x.", "-x",
        "trailing ", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",          /* ключ */
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",                   /* 日本語 */
        "caf\xc3\xa9/\xc3\xa9t\xc3\xa9", "UPPER09", "a..b", "a/b.c/d-e f",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(good); i++) {
        struct mlflow_error err = {0};
        int rc = mlflow__validate_key("param", good[i], &err);
        if (rc)
            print_error("key '%s' rejected: %s\n", good[i], err.message);
        assert_int_equal(rc, MLFLOW_OK);
    }
}

static void test_key_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a//b", "/a", "../x", "a/", ".", "x$", "", "..", "a/./b", "./x", "a/..", "a/../b",
        "..x", "a\\b", "tab\t", "new\nline", "semi;colon", "q?", "star*", "pct%", "c:x",
        "emoji\xf0\x9f\x98\x80", /* not a word character */
        "bad\xc3(",              /* invalid UTF-8 */
        "\xc0\xaf",              /* overlong '/' */
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        struct mlflow_error err = {0};
        int rc = mlflow__validate_key("metric", bad[i], &err);
        if (rc != MLFLOW_INVALID_PARAMETER_VALUE)
            print_error("key '%s' accepted\n", bad[i]);
        expect_bad(rc, &err);
        /* The message names the kind of key. */
        assert_non_null(strstr(err.message, "metric"));
    }
    /* Printable bad keys are quoted in the message. */
    struct mlflow_error err = {0};
    expect_bad(mlflow__validate_key("tag", "x$", &err), &err);
    assert_non_null(strstr(err.message, "'x$'"));
    assert_non_null(strstr(err.message, "tag"));
    expect_bad(mlflow__validate_key("param", "a//b", &err), &err);
    assert_non_null(strstr(err.message, "a//b"));
    expect_bad(mlflow__validate_key("param", NULL, &err), &err);
    /* NULL err is allowed: the code alone comes back. */
    assert_int_equal(mlflow__validate_key("param", "a//b", NULL), MLFLOW_INVALID_PARAMETER_VALUE);
}

static void test_key_length(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    char *k250 = repeat("k", 250), *k251 = repeat("k", 251);
    assert_int_equal(mlflow__validate_key("param", k250, &err), MLFLOW_OK);
    expect_bad(mlflow__validate_key("param", k251, &err), &err);
    assert_non_null(strstr(err.message, "250"));
    /* Characters, not bytes. */
    char *u250 = repeat("\xc3\xa9", 250), *u251 = repeat("\xc3\xa9", 251);
    assert_int_equal(mlflow__validate_key("param", u250, &err), MLFLOW_OK);
    expect_bad(mlflow__validate_key("param", u251, &err), &err);
    /* A long bad key is quoted only in part. */
    char *long_bad = repeat("$", 2000);
    expect_bad(mlflow__validate_key("param", long_bad, &err), &err);
    assert_true(strlen(err.message) < 400);
    free(k250);
    free(k251);
    free(u250);
    free(u251);
    free(long_bad);
}

static void test_run_id(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    char *id256 = repeat("a", 256), *id257 = repeat("a", 257);
    static const char *const good[] = {"0123456789abcdef0123456789abcdef", "a", "A-b_c", "9"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(good); i++)
        assert_int_equal(mlflow__validate_run_id(good[i], &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_run_id(id256, &err), MLFLOW_OK);
    static const char *const bad[] = {"", "-abc", "_abc", "a b", "a/b", "../x", "a.b", "a$"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++)
        expect_bad(mlflow__validate_run_id(bad[i], &err), &err);
    expect_bad(mlflow__validate_run_id(NULL, &err), &err);
    expect_bad(mlflow__validate_run_id(id257, &err), &err);
    expect_bad(mlflow__validate_run_id("not/valid", &err), &err);
    assert_non_null(strstr(err.message, "not/valid"));
    free(id256);
    free(id257);
}

static void test_experiment_id(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    char *id64 = repeat("1", 64), *id65 = repeat("1", 65);
    assert_int_equal(mlflow__validate_experiment_id("0", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_id("123456789012345678", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_id("abc-DEF_1", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_id(id64, &err), MLFLOW_OK);
    expect_bad(mlflow__validate_experiment_id(id65, &err), &err);
    expect_bad(mlflow__validate_experiment_id("", &err), &err);
    expect_bad(mlflow__validate_experiment_id(NULL, &err), &err);
    expect_bad(mlflow__validate_experiment_id("../0", &err), &err);
    expect_bad(mlflow__validate_experiment_id("-1", &err), &err);
    expect_bad(mlflow__validate_experiment_id("1 2", &err), &err);
    free(id64);
    free(id65);
}

static void test_experiment_name(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    char *n500 = repeat("n", 500), *n501 = repeat("n", 501);
    char *u500 = repeat("\xe6\x97\xa5", 500), *u501 = repeat("\xe6\x97\xa5", 501);
    assert_int_equal(mlflow__validate_experiment_name("Default", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_name("a/b: $weird 'name'", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_name(" ", &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_name(n500, &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_experiment_name(u500, &err), MLFLOW_OK);
    expect_bad(mlflow__validate_experiment_name(n501, &err), &err);
    expect_bad(mlflow__validate_experiment_name(u501, &err), &err);
    expect_bad(mlflow__validate_experiment_name("", &err), &err);
    expect_bad(mlflow__validate_experiment_name(NULL, &err), &err);
    expect_bad(mlflow__validate_experiment_name("bad \xff", &err), &err);
    free(n500);
    free(n501);
    free(u500);
    free(u501);
}

static void test_value_truncation(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    size_t len = 0;
    unsetenv("MLFLOW_TRUNCATE_LONG_VALUES");

    char *v6000 = repeat("x", 6000), *v6001 = repeat("x", 6001);
    assert_int_equal(mlflow__validate_value("param", "k", v6000, 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 6000);
    /* Default: truncated to the limit. */
    assert_int_equal(mlflow__validate_value("param", "k", v6001, 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 6000);
    assert_int_equal(mlflow__validate_value("param", "k", "", 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 0);

    /* Characters, not bytes: 6000 two-byte characters fit; 6001 keep 6000
     * whole characters (12000 bytes), never half of one. */
    char *u6000 = repeat("\xc3\xa9", 6000), *u6001 = repeat("\xc3\xa9", 6001);
    assert_int_equal(mlflow__validate_value("param", "k", u6000, 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 12000);
    assert_int_equal(mlflow__validate_value("param", "k", u6001, 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 12000);
    /* Mixed widths: 4999 ASCII then two 3-byte characters, limit 5000. */
    char *mixed = malloc(4999 + 6 + 1);
    assert_non_null(mixed);
    memset(mixed, 'a', 4999);
    memcpy(mixed + 4999, "\xe6\x97\xa5\xe6\x9c\xac", 7);
    assert_int_equal(mlflow__validate_value("tag", "k", mixed, 5000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 4999 + 3);

    setenv("MLFLOW_TRUNCATE_LONG_VALUES", "true", 1);
    assert_int_equal(mlflow__validate_value("param", "k", v6001, 6000, &len, &err), MLFLOW_OK);
    assert_int_equal(len, 6000);

    /* Truncation off: overlong values are errors naming key and limit. */
    static const char *const off[] = {"false", "FALSE", "0", "False"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(off); i++) {
        setenv("MLFLOW_TRUNCATE_LONG_VALUES", off[i], 1);
        expect_bad(mlflow__validate_value("param", "mykey", v6001, 6000, &len, &err), &err);
        assert_non_null(strstr(err.message, "mykey"));
        assert_non_null(strstr(err.message, "6000"));
        expect_bad(mlflow__validate_value("param", "k", u6001, 6000, &len, &err), &err);
        /* At the limit is still fine. */
        assert_int_equal(mlflow__validate_value("param", "k", v6000, 6000, &len, &err),
                         MLFLOW_OK);
        assert_int_equal(mlflow__validate_value("param", "k", u6000, 6000, &len, &err),
                         MLFLOW_OK);
        assert_int_equal(len, 12000);
    }
    unsetenv("MLFLOW_TRUNCATE_LONG_VALUES");

    /* Invalid UTF-8 never passes. */
    expect_bad(mlflow__validate_value("param", "k", "a\xc3", 6000, &len, &err), &err);
    expect_bad(mlflow__validate_value("param", "k", "\xed\xa0\x80", 6000, &len, &err), &err);

    free(v6000);
    free(v6001);
    free(u6000);
    free(u6001);
    free(mixed);
}

static void test_env_bool(void **state)
{
    (void)state;
    unsetenv("MLFLOW_TEST_BOOL");
    assert_true(mlflow__env_bool("MLFLOW_TEST_BOOL", true));
    assert_false(mlflow__env_bool("MLFLOW_TEST_BOOL", false));
    setenv("MLFLOW_TEST_BOOL", "TrUe", 1);
    assert_true(mlflow__env_bool("MLFLOW_TEST_BOOL", false));
    setenv("MLFLOW_TEST_BOOL", "1", 1);
    assert_true(mlflow__env_bool("MLFLOW_TEST_BOOL", false));
    setenv("MLFLOW_TEST_BOOL", "false", 1);
    assert_false(mlflow__env_bool("MLFLOW_TEST_BOOL", true));
    setenv("MLFLOW_TEST_BOOL", "0", 1);
    assert_false(mlflow__env_bool("MLFLOW_TEST_BOOL", true));
    setenv("MLFLOW_TEST_BOOL", "", 1);
    assert_true(mlflow__env_bool("MLFLOW_TEST_BOOL", true));
    unsetenv("MLFLOW_TEST_BOOL");
}

static void test_metric(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    struct mlflow_metric m = {"loss", 0.5, 0, -3};
    assert_int_equal(mlflow__validate_metric(&m, &err), MLFLOW_OK);
    m.timestamp = INT64_MAX;
    assert_int_equal(mlflow__validate_metric(&m, &err), MLFLOW_OK);
    m.value = NAN;
    assert_int_equal(mlflow__validate_metric(&m, &err), MLFLOW_OK);
    m.value = -INFINITY;
    assert_int_equal(mlflow__validate_metric(&m, &err), MLFLOW_OK);
    m.timestamp = -1;
    expect_bad(mlflow__validate_metric(&m, &err), &err);
    assert_non_null(strstr(err.message, "loss"));
    m.timestamp = 1;
    m.key = "bad//key";
    expect_bad(mlflow__validate_metric(&m, &err), &err);
}

static void test_batch_sizes(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__validate_batch_sizes(0, 0, 0, &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_batch_sizes(1000, 0, 0, &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_batch_sizes(0, 100, 100, &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_batch_sizes(800, 100, 100, &err), MLFLOW_OK);
    expect_bad(mlflow__validate_batch_sizes(1001, 0, 0, &err), &err);
    assert_non_null(strstr(err.message, "1000"));
    expect_bad(mlflow__validate_batch_sizes(0, 101, 0, &err), &err);
    assert_non_null(strstr(err.message, "params"));
    expect_bad(mlflow__validate_batch_sizes(0, 0, 101, &err), &err);
    assert_non_null(strstr(err.message, "tags"));
    expect_bad(mlflow__validate_batch_sizes(1000, 1, 0, &err), &err);
    expect_bad(mlflow__validate_batch_sizes(900, 100, 1, &err), &err);
    expect_bad(mlflow__validate_batch_sizes(SIZE_MAX, 0, 0, &err), &err);
}

static void test_artifact_path(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a", "a/b", "model/MLmodel", "dir/", "a.txt", "..a", "a..", "a/.../b", ".hidden/x",
        "with space/f.txt", "caf\xc3\xa9.txt", "a/b/c/d/e/f",
    };
    struct mlflow_error err = {0};
    assert_int_equal(mlflow__validate_artifact_path(NULL, &err), MLFLOW_OK);
    assert_int_equal(mlflow__validate_artifact_path("", &err), MLFLOW_OK);
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(good); i++) {
        int rc = mlflow__validate_artifact_path(good[i], &err);
        if (rc)
            print_error("artifact path '%s' rejected: %s\n", good[i], err.message);
        assert_int_equal(rc, MLFLOW_OK);
    }
    static const char *const bad[] = {
        "..", "../x", "a/..", "a/../b", "a/../../etc/passwd", "/etc/passwd", "/", "C:x",
        "c:\\windows", "a\\b", "..\\x", "a//b", "a\nb", "a\tb", "\x01", "a\x7f", "x/../../y",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        int rc = mlflow__validate_artifact_path(bad[i], &err);
        if (rc != MLFLOW_INVALID_PARAMETER_VALUE)
            print_error("artifact path '%s' accepted\n", bad[i]);
        expect_bad(rc, &err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test(test_key_invalid),
        cmocka_unit_test(test_key_length),
        cmocka_unit_test(test_run_id),
        cmocka_unit_test(test_experiment_id),
        cmocka_unit_test(test_experiment_name),
        cmocka_unit_test(test_value_truncation),
        cmocka_unit_test(test_env_bool),
        cmocka_unit_test(test_metric),
        cmocka_unit_test(test_batch_sizes),
        cmocka_unit_test(test_artifact_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
