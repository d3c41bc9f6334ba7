/*
 * test_format.c - the text forms MLflow files and tokens use: Python's
 * repr() of floats (metric files), int64 text, strict number parsing,
 * UTF-8 checks and character counts, and page tokens.
 *
 * The expected float strings were written by hand from Python 3's repr();
 * the test never runs Python.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store/store.h"

/* ---- mlflow__fmt_double ---- */

static const struct {
    double value;
    const char *repr;
} repr_table[] = {
    {0.1, "0.1"},
    {3.0, "3.0"},
    {1e16, "1e+16"},
    {1e15, "1000000000000000.0"},
    {1e-05, "1e-05"},
    {0.0001, "0.0001"},
    {5e-324, "5e-324"},
    {1e300, "1e+300"},
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {0.1 + 0.2, "0.30000000000000004"},
    {123456789.123, "123456789.123"},
    {9007199254740992.0, "9007199254740992.0"}, /* 2**53 */
    {9007199254740994.0, "9007199254740994.0"}, /* 2**53 + 2 */
    {1.0 / 3.0, "0.3333333333333333"},
    {-1.5, "-1.5"},
    {1e22, "1e+22"},
    {1e21, "1e+21"},
    {1e23, "1e+23"},
    {9999999999999998.0, "9999999999999998.0"},
    {1234567890123456.0, "1234567890123456.0"},
    {12345678901234567.0, "1.2345678901234568e+16"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {-2.5e-310, "-2.5e-310"},
    {1.5e-323, "1.5e-323"},
    {100.0, "100.0"},
    {65536.0, "65536.0"},
    {0.000123456, "0.000123456"},
    {-1e-07, "-1e-07"},
    {2.5, "2.5"},
    {1e100, "1e+100"},
    {123e-20, "1.23e-18"},
    {4.35, "4.35"},
    {0.5, "0.5"},
    {1.0, "1.0"},
    {-7.0, "-7.0"},
};

static void test_fmt_double_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(repr_table); i++) {
        char buf[32];
        memset(buf, 'X', sizeof buf);
        size_t n = mlflow__fmt_double(repr_table[i].value, buf);
        if (strcmp(buf, repr_table[i].repr) != 0)
            print_error("%.17g: got '%s', Python writes '%s'\n", repr_table[i].value, buf,
                        repr_table[i].repr);
        assert_string_equal(buf, repr_table[i].repr);
        assert_int_equal(n, strlen(repr_table[i].repr));
    }
}

static void test_fmt_double_special(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(mlflow__fmt_double(NAN, buf), 3);
    assert_string_equal(buf, "nan");
    /* Python prints every NaN as "nan", whatever its sign bit. */
    mlflow__fmt_double(-NAN, buf);
    assert_string_equal(buf, "nan");
    assert_int_equal(mlflow__fmt_double(INFINITY, buf), 3);
    assert_string_equal(buf, "inf");
    assert_int_equal(mlflow__fmt_double(-INFINITY, buf), 4);
    assert_string_equal(buf, "-inf");
}

/* xorshift64*: a fixed sequence, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void check_round_trip(double v)
{
    char buf[32];
    size_t n = mlflow__fmt_double(v, buf);
    assert_true(n > 0 && n < 32);
    assert_int_equal(strlen(buf), n);
    char *end;
    double back = strtod(buf, &end);
    assert_true(*end == '\0');
    if (memcmp(&back, &v, sizeof v) != 0)
        print_error("%a -> '%s' -> %a\n", v, buf, back);
    assert_memory_equal(&back, &v, sizeof v);
    double parsed;
    assert_true(mlflow__parse_double(buf, &parsed));
    assert_memory_equal(&parsed, &v, sizeof v);
}

static void test_fmt_double_round_trip(void **state)
{
    (void)state;
    /* Uniform bit patterns: every exponent, subnormals included. */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isnan(v) || isinf(v))
            continue;
        check_round_trip(v);
    }
    /* Decimal-looking values, the kind metrics hold. */
    for (int i = 0; i < 20000; i++) {
        double v = (double)(int64_t)(rng() % 2000000001) - 1000000000.0;
        v /= pow(10.0, (double)(rng() % 12));
        check_round_trip(v);
    }
}

/* ---- integers ---- */

static void test_fmt_int64(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *s;
    } t[] = {
        {0, "0"},
        {-1, "-1"},
        {7, "7"},
        {1700000000000, "1700000000000"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MIN + 1, "-9223372036854775807"},
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(t); i++) {
        char buf[21];
        size_t n = mlflow__fmt_int64(t[i].v, buf);
        assert_string_equal(buf, t[i].s);
        assert_int_equal(n, strlen(t[i].s));
    }
}

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_true(mlflow__parse_int64("0", &v));
    assert_int_equal(v, 0);
    assert_true(mlflow__parse_int64("1700000000000", &v));
    assert_int_equal(v, 1700000000000);
    assert_true(mlflow__parse_int64("-42", &v));
    assert_int_equal(v, -42);
    assert_true(mlflow__parse_int64("9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    assert_true(mlflow__parse_int64("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);

    v = 99;
    static const char *const bad[] = {
        "", "abc", "12a", "1.0", "1e3", "9223372036854775808", "-9223372036854775809",
        "99999999999999999999", "-", "0x10",
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        if (mlflow__parse_int64(bad[i], &v))
            print_error("parse_int64 accepted '%s'\n", bad[i]);
        assert_false(mlflow__parse_int64(bad[i], &v));
    }
    assert_false(mlflow__parse_int64(NULL, &v));
    assert_int_equal(v, 99); /* untouched on failure */
}

static void test_parse_double(void **state)
{
    (void)state;
    double v;
    assert_true(mlflow__parse_double("0.1", &v));
    assert_true(v == 0.1);
    assert_true(mlflow__parse_double("1e-05", &v));
    assert_true(v == 1e-05);
    assert_true(mlflow__parse_double("1e+16", &v));
    assert_true(v == 1e16);
    assert_true(mlflow__parse_double("5e-324", &v));
    assert_true(v == 5e-324);
    assert_true(mlflow__parse_double("-0.0", &v));
    assert_true(v == 0.0 && signbit(v));
    assert_true(mlflow__parse_double("3", &v)); /* a Python int written as "3" */
    assert_true(v == 3.0);
    /* Python's float() spellings of the special values. */
    static const char *const nans[] = {"nan", "NaN", "NAN"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(nans); i++) {
        assert_true(mlflow__parse_double(nans[i], &v));
        assert_true(isnan(v));
    }
    static const char *const pinf[] = {"inf", "Inf", "Infinity", "infinity"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(pinf); i++) {
        assert_true(mlflow__parse_double(pinf[i], &v));
        assert_true(isinf(v) && v > 0);
    }
    static const char *const ninf[] = {"-inf", "-Infinity"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(ninf); i++) {
        assert_true(mlflow__parse_double(ninf[i], &v));
        assert_true(isinf(v) && v < 0);
    }
    /* Out of range reads as Python does: inf, or a denormal/zero. */
    assert_true(mlflow__parse_double("1e400", &v));
    assert_true(isinf(v) && v > 0);
    assert_true(mlflow__parse_double("1e-400", &v));
    assert_true(v == 0.0);

    v = 42.0;
    static const char *const bad[] = {"", "abc", "1.5x", "1e", "--1", "1,5", "0.1 2"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        if (mlflow__parse_double(bad[i], &v))
            print_error("parse_double accepted '%s'\n", bad[i]);
        assert_false(mlflow__parse_double(bad[i], &v));
    }
    assert_false(mlflow__parse_double(NULL, &v));
    assert_true(v == 42.0);
}

/* ---- UTF-8 ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", "abc", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above */
        "\xc2\x80",         /* U+0080, smallest two-byte */
        "\xe0\xa0\x80",     /* U+0800, smallest three-byte */
        "\xf0\x90\x80\x80", /* U+10000, smallest four-byte */
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(good); i++)
        assert_true(mlflow__utf8_valid(good[i], strlen(good[i])));
    static const char *const bad[] = {
        "\x80", "\xbf", "a\x80z",
        "\xc0\x80", "\xc0\xaf", "\xc1\xbf",                 /* overlong two-byte */
        "\xe0\x80\xaf", "\xe0\x9f\xbf",                     /* overlong three-byte */
        "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",             /* overlong four-byte */
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xb0\x80",     /* surrogates */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",             /* beyond U+10FFFF */
        "\xff", "\xfe", "\xf8\x88\x80\x80\x80",
        "\xc3", "a\xc3", "\xe6\x97", "\xf0\x9f\x98",        /* truncated */
        ("\xe6\x97" "a"), "\xc3\xc3\xa9",                   /* bad continuation */
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        if (mlflow__utf8_valid(bad[i], strlen(bad[i])))
            print_error("bad UTF-8 #%zu accepted\n", i);
        assert_false(mlflow__utf8_valid(bad[i], strlen(bad[i])));
    }
    /* n bounds the check: a character cut by n is truncated. */
    assert_false(mlflow__utf8_valid("\xc3\xa9", 1));
    assert_true(mlflow__utf8_valid("ab\xc3\xa9", 2));
}

static void test_utf8_len_prefix(void **state)
{
    (void)state;
    assert_int_equal(mlflow__utf8_len(""), 0);
    assert_int_equal(mlflow__utf8_len("abc"), 3);
    assert_int_equal(mlflow__utf8_len("h\xc3\xa9llo"), 5);
    assert_int_equal(mlflow__utf8_len("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 3);
    assert_int_equal(mlflow__utf8_len("\xf0\x9f\x98\x80x"), 2);

    assert_int_equal(mlflow__utf8_prefix("h\xc3\xa9llo", 0), 0);
    assert_int_equal(mlflow__utf8_prefix("h\xc3\xa9llo", 1), 1);
    assert_int_equal(mlflow__utf8_prefix("h\xc3\xa9llo", 2), 3);
    assert_int_equal(mlflow__utf8_prefix("h\xc3\xa9llo", 5), 6);
    assert_int_equal(mlflow__utf8_prefix("h\xc3\xa9llo", 100), 6);
    assert_int_equal(mlflow__utf8_prefix("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 2), 6);
    assert_int_equal(mlflow__utf8_prefix("\xf0\x9f\x98\x80x", 1), 4);
    assert_int_equal(mlflow__utf8_prefix("", 3), 0);
}

/* ---- page tokens ---- */

static const struct {
    int64_t offset;
    const char *token; /* base64.b64encode(json.dumps({"offset": N})) */
} tokens[] = {
    {0, "eyJvZmZzZXQiOiAwfQ=="},
    {3, "eyJvZmZzZXQiOiAzfQ=="},
    {10, "eyJvZmZzZXQiOiAxMH0="},
    {1000, "eyJvZmZzZXQiOiAxMDAwfQ=="},
    {123456789012, "eyJvZmZzZXQiOiAxMjM0NTY3ODkwMTJ9"},
};

static void test_page_token_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(tokens); i++) {
        char *t = mlflow__page_token_encode(tokens[i].offset);
        assert_non_null(t);
        assert_string_equal(t, tokens[i].token);
        mlflow__free(t);
    }
}

static void test_page_token_decode(void **state)
{
    (void)state;
    struct mlflow_error err = {0};
    int64_t off = -1;
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(tokens); i++) {
        assert_int_equal(mlflow__page_token_decode(tokens[i].token, &off, &err), MLFLOW_OK);
        assert_int_equal(off, tokens[i].offset);
    }
    /* No token: start at the beginning. */
    assert_int_equal(mlflow__page_token_decode(NULL, &off, &err), MLFLOW_OK);
    assert_int_equal(off, 0);
    assert_int_equal(mlflow__page_token_decode("", &off, &err), MLFLOW_OK);
    assert_int_equal(off, 0);
    /* Round trip of our own tokens. */
    for (int64_t n = 1; n < 100000000; n = n * 7 + 3) {
        char *t = mlflow__page_token_encode(n);
        assert_non_null(t);
        assert_int_equal(mlflow__page_token_decode(t, &off, &err), MLFLOW_OK);
        assert_int_equal(off, n);
        mlflow__free(t);
    }

    char *huge = malloc(4001);
    assert_non_null(huge);
    memset(huge, 'A', 4000);
    huge[4000] = '\0';
    const char *bad[] = {
        "garbage!!",
        "bm90IGpzb24=",         /* not json */
        "eyJub3QiOiAianNvbiJ9", /* {"not": "json"} */
        "eyJvZmZzZXQiOiAtMX0=", /* {"offset": -1} */
        "WzNd",                 /* [3] */
        "eyJvZmZzZXQiOiAiYWJjIn0=", /* {"offset": "abc"} */
        "e30=",                 /* {} */
        "\xc3\xa9",
        huge,
    };
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof err);
        int rc = mlflow__page_token_decode(bad[i], &off, &err);
        if (rc != MLFLOW_INVALID_PARAMETER_VALUE)
            print_error("bad token #%zu accepted (offset %lld)\n", i, (long long)off);
        assert_int_equal(rc, MLFLOW_INVALID_PARAMETER_VALUE);
        assert_int_equal(err.code, MLFLOW_INVALID_PARAMETER_VALUE);
        assert_non_null(strstr(err.message, "token"));
    }
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_double_table),
        cmocka_unit_test(test_fmt_double_special),
        cmocka_unit_test(test_fmt_double_round_trip),
        cmocka_unit_test(test_fmt_int64),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_len_prefix),
        cmocka_unit_test(test_page_token_encode),
        cmocka_unit_test(test_page_token_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
