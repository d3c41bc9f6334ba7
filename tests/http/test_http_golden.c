/*
 * test_http_golden.c - the wire format, pinned: every .http file in tests/http
 * file is one case, run against a fresh in-process server on a fresh file
 * store, and every response must match its expected text byte for byte
 * (field order, pretty printing, escaping, omitted fields included).
 *
 * A case file holds one or more exchanges:
 *
 *     # what the case shows (comment lines at the top)
 *     >>> POST /api/2.0/mlflow/experiments/create
 *     Content-Type: application/json
 *
 *     {"name": "x"}
 *     <<< 200
 *     {
 *       "experiment_id": "{{int:NEW}}"
 *     }
 *
 * Request header lines follow the request line; a blank line ends them.
 * Response header lines after the status are checked (name: exact value).
 * In both, ${NAME} is replaced by a variable: EXP and RUN (the experiment
 * and run every case starts with, see fixture()) or one a previous exchange
 * captured. In expected text, {{int}} matches an integer, {{hex32}} a run
 * id, {{str}} any text up to the next '"'; {{int:NAME}} and friends also
 * capture it. With MLFLOW_HTTP_RECORD=1 the actual responses are printed
 * instead (with known values replaced), to help write a new case.
 */
#include "http/http_test.h"

#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#ifndef MLFLOW_HTTP_CASES
#error "MLFLOW_HTTP_CASES must name the directory of the case files"
#endif

#define MAX_VARS 32

struct vars {
    char name[MAX_VARS][32];
    char *value[MAX_VARS];
    int n;
};

static void var_set(struct vars *v, const char *name, const char *value, size_t len)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->name[i], name) == 0) {
            free(v->value[i]);
            v->value[i] = strndup(value, len);
            return;
        }
    assert_true(v->n < MAX_VARS);
    snprintf(v->name[v->n], sizeof v->name[v->n], "%s", name);
    v->value[v->n++] = strndup(value, len);
}

static void vars_free(struct vars *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->value[i]);
    v->n = 0;
}

/* text with every ${NAME} replaced; malloc'ed. */
static char *subst(const struct vars *v, const char *text)
{
    size_t cap = strlen(text) + 1;
    for (int i = 0; i < v->n; i++)
        cap += 8 * strlen(v->value[i]);
    char *out = malloc(cap * 2 + 64), *o = out;
    for (const char *p = text; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            bool done = false;
            for (int i = 0; end && i < v->n; i++)
                if (strlen(v->name[i]) == (size_t)(end - p - 2) &&
                    strncmp(v->name[i], p + 2, (size_t)(end - p - 2)) == 0) {
                    o += sprintf(o, "%s", v->value[i]);
                    p = end + 1;
                    done = true;
                    break;
                }
            if (done)
                continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

/* ---- matching ---- */

/* Matches actual[0..n) against the pattern; captures go into v. */
static bool match(const char *pat, const char *act, size_t n, struct vars *v, char *why,
                  size_t why_size)
{
    size_t i = 0;
    const char *p = pat;
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            const char *end = strstr(p, "}}");
            assert_non_null(end);
            char tok[64];
            snprintf(tok, sizeof tok, "%.*s", (int)(end - p - 2), p + 2);
            char *colon = strchr(tok, ':');
            if (colon)
                *colon++ = '\0';
            size_t start = i;
            if (strcmp(tok, "int") == 0) {
                if (i < n && act[i] == '-')
                    i++;
                while (i < n && isdigit((unsigned char)act[i]))
                    i++;
                if (i == start) {
                    snprintf(why, why_size, "expected an integer at byte %zu", start);
                    return false;
                }
            } else if (strcmp(tok, "hex32") == 0) {
                while (i < n && i - start < 32 && isxdigit((unsigned char)act[i]))
                    i++;
                if (i - start != 32) {
                    snprintf(why, why_size, "expected a 32-digit id at byte %zu", start);
                    return false;
                }
            } else if (strcmp(tok, "str") == 0) {
                while (i < n && act[i] != '"' && act[i] != '\n')
                    i++;
            } else {
                fail_msg("unknown token {{%s}}", tok);
            }
            if (colon)
                var_set(v, colon, act + start, i - start);
            p = end + 2;
            continue;
        }
        if (i >= n || act[i] != *p) {
            size_t line = 1;
            for (size_t k = 0; k < i && k < n; k++)
                line += act[k] == '\n';
            snprintf(why, why_size, "differs at byte %zu (line %zu): expected '%.40s', got '%.40s'",
                     i, line, p, i < n ? act + i : "<end>");
            return false;
        }
        i++;
        p++;
    }
    if (i != n) {
        snprintf(why, why_size, "extra text at byte %zu: '%.60s'", i, act + i);
        return false;
    }
    return true;
}

/* ---- case files ---- */

struct exchange {
    char method[16];
    char *target;
    char *req_headers; /* "Name: value\r\n"... */
    char *req_body;    /* NULL: none */
    int status;
    char *resp_headers; /* "Name: value\n"... to check */
    char *resp_body;
};

static bool header_line(const char *line)
{
    const char *c = strchr(line, ':');
    if (!c || c == line || c[1] != ' ')
        return false;
    for (const char *p = line; p < c; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    return true;
}

static void strip_trailing_newlines(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Splits a case file into exchanges. */
static int parse_case(char *text, struct exchange *ex, int max)
{
    int n = 0;
    char *p = strstr(text, ">>> ");
    while (p && n < max) {
        struct exchange *e = &ex[n++];
        memset(e, 0, sizeof *e);
        char *eol = strchr(p, '\n');
        assert_non_null(eol);
        *eol = '\0';
        char target[16384];
        assert_int_equal(sscanf(p + 4, "%15s %16383s", e->method, target), 2);
        e->target = strdup(target);
        p = eol + 1;
        /* request headers */
        struct mlflow__sb h = MLFLOW__SB_INIT;
        while (*p && strncmp(p, "<<< ", 4) != 0) {
            eol = strchr(p, '\n');
            size_t len = eol ? (size_t)(eol - p) : strlen(p);
            char line[4096];
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            if (!header_line(line))
                break;
            mlflow__sb_addf(&h, "%s\r\n", line);
            p = eol ? eol + 1 : p + len;
        }
        e->req_headers = h.buf ? strdup(h.buf) : strdup("");
        mlflow__sb_release(&h);
        if (*p == '\n')
            p++;
        char *resp = strstr(p, "\n<<< ");
        if (strncmp(p, "<<< ", 4) == 0)
            resp = p - 1;
        assert_non_null(resp);
        if (resp > p) {
            e->req_body = strndup(p, (size_t)(resp - p));
            strip_trailing_newlines(e->req_body);
        }
        p = resp + 1;
        eol = strchr(p, '\n');
        e->status = atoi(p + 4);
        p = eol ? eol + 1 : p + strlen(p);
        struct mlflow__sb rh = MLFLOW__SB_INIT;
        bool had_headers = false;
        while (*p) {
            eol = strchr(p, '\n');
            size_t len = eol ? (size_t)(eol - p) : strlen(p);
            char line[4096];
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            if (!header_line(line) || line[0] == '{' || line[0] == '"')
                break;
            mlflow__sb_addf(&rh, "%s\n", line);
            had_headers = true;
            p = eol ? eol + 1 : p + len;
        }
        e->resp_headers = rh.buf ? strdup(rh.buf) : strdup("");
        mlflow__sb_release(&rh);
        if (had_headers && *p == '\n')
            p++;
        char *next = strncmp(p, ">>> ", 4) == 0 ? p : strstr(p, "\n>>> ");
        e->resp_body = next ? strndup(p, (size_t)(next - p)) : strdup(p);
        strip_trailing_newlines(e->resp_body);
        p = next ? (next == p ? p : next + 1) : NULL;
    }
    return n;
}

static void exchange_free(struct exchange *e)
{
    free(e->target);
    free(e->req_headers);
    free(e->req_body);
    free(e->resp_headers);
    free(e->resp_body);
}

/* ---- the fixture every case starts from ---- */

static void must(int port, const char *method, const char *target, const char *headers,
                 const char *body, struct ht_resp *r)
{
    assert_int_equal(ht_request(port, method, target, headers, body, r), 0);
    if (r->status != 200)
        fail_msg("fixture %s %s: %d %s", method, target, r->status, r->body);
}

static void fixture(int port, struct vars *v)
{
    struct ht_resp r;
    const char *json = "Content-Type: application/json\r\n";
    must(port, "POST", "/api/2.0/mlflow/experiments/create", json,
         "{\"name\": \"golden\", \"tags\": [{\"key\": \"team\", \"value\": \"ml\"}]}", &r);
    char *exp = ht_json_field(&r, "experiment_id");
    ht_resp_free(&r);
    var_set(v, "EXP", exp, strlen(exp));
    char body[1024];
    snprintf(body, sizeof body,
             "{\"experiment_id\": \"%s\", \"run_name\": \"golden-run\", \"user_id\": \"alice\", "
             "\"start_time\": 1700000000000, \"tags\": [{\"key\": \"mlflow.source.name\", "
             "\"value\": \"train.py\"}]}",
             exp);
    must(port, "POST", "/api/2.0/mlflow/runs/create", json, body, &r);
    char *run = ht_json_field(&r, "run.info.run_id");
    ht_resp_free(&r);
    var_set(v, "RUN", run, strlen(run));
    snprintf(body, sizeof body,
             "{\"run_id\": \"%s\", \"metrics\": ["
             "{\"key\": \"loss\", \"value\": 0.5, \"timestamp\": 1700000000100, \"step\": 0},"
             "{\"key\": \"loss\", \"value\": 0.25, \"timestamp\": 1700000000200, \"step\": 1},"
             "{\"key\": \"loss\", \"value\": 0.125, \"timestamp\": 1700000000300, \"step\": 2}],"
             "\"params\": [{\"key\": \"lr\", \"value\": \"0.01\"}],"
             "\"tags\": [{\"key\": \"stage\", \"value\": \"dev\"}]}",
             run);
    must(port, "POST", "/api/2.0/mlflow/runs/log-batch", json, body, &r);
    ht_resp_free(&r);
    char target[512];
    snprintf(target, sizeof target, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/hello.txt",
             exp, run);
    must(port, "PUT", target, "Content-Type: text/plain\r\n", "hello world\n", &r);
    ht_resp_free(&r);
    snprintf(target, sizeof target,
             "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/data/table.csv", exp, run);
    must(port, "PUT", target, NULL, "a,b\n1,2\n", &r);
    ht_resp_free(&r);
    free(exp);
    free(run);
}

/* Replaces known variable values and clock readings, to record a case. */
static void print_recorded(const struct vars *v, const struct ht_resp *r)
{
    printf("<<< %d\n", r->status);
    char *text = strdup(r->body);
    for (int i = 0; i < v->n; i++) {
        size_t vl = strlen(v->value[i]);
        for (char *at; vl && (at = strstr(text, v->value[i]));) {
            char *nt = malloc(strlen(text) + strlen(v->name[i]) + 4);
            sprintf(nt, "%.*s${%s}%s", (int)(at - text), text, v->name[i], at + vl);
            free(text);
            text = nt;
        }
    }
    for (char *p = text; *p; p++) {
        size_t hex = 0;
        while (isxdigit((unsigned char)p[hex]) && !isupper((unsigned char)p[hex]))
            hex++;
        if (hex == 32 && (p == text || !isalnum((unsigned char)p[-1]))) {
            printf("{{hex32}}");
            p += 31;
            continue;
        }
        if (isdigit((unsigned char)*p) && (p == text || !isalnum((unsigned char)p[-1]))) {
            size_t k = 0;
            while (isdigit((unsigned char)p[k]))
                k++;
            if ((k == 13 && strncmp(p, "1700000000", 10) != 0) || k == 18) {
                printf("{{int}}");
                p += k - 1;
                continue;
            }
        }
        putchar(*p);
    }
    printf("\n");
    free(text);
}

static void run_case(void **state)
{
    const char *path = *state;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    struct exchange ex[32];
    int count = parse_case(text, ex, 32);
    assert_true(count > 0);
    bool record = getenv("MLFLOW_HTTP_RECORD") && *getenv("MLFLOW_HTTP_RECORD") == '1';

    struct ht_server h;
    assert_int_equal(ht_start(&h, NULL), 0);
    struct vars v = {0};
    char port[16];
    snprintf(port, sizeof port, "%d", h.port);
    var_set(&v, "PORT", port, strlen(port));
    fixture(h.port, &v);
    for (int i = 0; i < count; i++) {
        struct exchange *e = &ex[i];
        char *target = subst(&v, e->target);
        char *headers = subst(&v, e->req_headers);
        char *body = e->req_body ? subst(&v, e->req_body) : NULL;
        struct ht_resp r;
        assert_int_equal(ht_request_raw(h.port, e->method, target, strlen(target), headers, body,
                                        body ? strlen(body) : 0, &r),
                         0);
        strip_trailing_newlines(r.body);
        r.len = strlen(r.body);
        if (record) {
            printf(">>> %s %s\n", e->method, e->target);
            print_recorded(&v, &r);
        } else {
            if (r.status != e->status)
                fail_msg("%s exchange %d (%s %s): status %d, expected %d; body: %s", path,
                         i + 1, e->method, target, r.status, e->status, r.body);
            char *want = subst(&v, e->resp_body);
            char why[256];
            if (!match(want, r.body, r.len, &v, why, sizeof why))
                fail_msg("%s exchange %d (%s %s): body %s\n--- got:\n%s", path, i + 1,
                         e->method, target, why, r.body);
            free(want);
            for (char *line = e->resp_headers; line && *line;) {
                char *eol = strchr(line, '\n');
                char name[128], want_v[1024], got[1024];
                char *colon = strchr(line, ':');
                snprintf(name, sizeof name, "%.*s", (int)(colon - line), line);
                snprintf(want_v, sizeof want_v, "%.*s", (int)(eol - colon - 2), colon + 2);
                if (!ht_header(&r, name, got, sizeof got) || strcmp(got, want_v) != 0)
                    fail_msg("%s exchange %d: header %s is '%s', expected '%s'", path, i + 1,
                             name, ht_header(&r, name, got, sizeof got) ? got : "<absent>",
                             want_v);
                line = eol + 1;
            }
        }
        ht_resp_free(&r);
        free(target);
        free(headers);
        free(body);
    }
    for (int i = 0; i < count; i++)
        exchange_free(&ex[i]);
    vars_free(&v);
    ht_stop(&h);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".http") == 0;
}

int main(void)
{
    struct dirent **names;
    int n = scandir(MLFLOW_HTTP_CASES, &names, is_case, by_name);
    if (n <= 0) {
        fprintf(stderr, "no case files in %s\n", MLFLOW_HTTP_CASES);
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    char **paths = calloc((size_t)n, sizeof *paths);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(MLFLOW_HTTP_CASES) + strlen(names[i]->d_name) + 2;
        paths[i] = malloc(len);
        snprintf(paths[i], len, "%s/%s", MLFLOW_HTTP_CASES, names[i]->d_name);
        tests[i].name = names[i]->d_name;
        tests[i].test_func = run_case;
        tests[i].initial_state = paths[i];
    }
    int rc = _cmocka_run_group_tests("http_golden", tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n; i++) {
        free(paths[i]);
        free(names[i]);
    }
    free(paths);
    free(names);
    free(tests);
    return rc;
}
