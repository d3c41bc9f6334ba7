/*
 * output.c - how mlflow-c shows results: aligned tables and labelled fields
 * for people, JSON (json-c) in MLflow's own dictionary shapes for --json, and
 * the number and time formats both use.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- numbers and times -------------------------------------------------- */

const char *cli_fmt_time(int64_t ms, char buf[32])
{
    time_t secs;
    struct tm tm;

    buf[0] = '\0';
    if (ms == MLFLOW_TIME_UNSET)
        return buf;
    /* Floor division, so times before 1970 land in the right second. */
    secs = (time_t)(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    if (!localtime_r(&secs, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, 32, "%lld", (long long)ms);
    return buf;
}

/*
 * Python's float repr: the fewest significant digits that read back as the
 * same double, then positional notation when the decimal exponent is in
 * [-4, 16), else scientific with a signed two-digit-minimum exponent. glibc's
 * printf rounds correctly, so the first precision that round-trips gives the
 * digits.
 */
const char *cli_fmt_double(double v, char buf[32])
{
    char sci[40], digits[20];
    const char *p;
    size_t nd = 0;
    int exp10, prec, decpt;
    char *out = buf;

    if (isnan(v))
        return strcpy(buf, "nan");
    if (isinf(v))
        return strcpy(buf, v < 0 ? "-inf" : "inf");
    if (v == 0)
        return strcpy(buf, signbit(v) ? "-0.0" : "0.0");

    for (prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    /* sci is "-d.ddde+XX": collect the digits and the exponent. */
    p = sci;
    if (*p == '-') {
        *out++ = '-';
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    decpt = exp10 + 1;

    if (decpt > 16 || decpt < -3) {
        *out++ = digits[0];
        if (nd > 1) {
            *out++ = '.';
            memcpy(out, digits + 1, nd - 1);
            out += nd - 1;
        }
        /* A double's decimal exponent has at most three digits. */
        snprintf(out, (size_t)(buf + 32 - out), "e%c%02d", exp10 < 0 ? '-' : '+',
                 abs(exp10) % 1000);
    } else if (decpt <= 0) {
        *out++ = '0';
        *out++ = '.';
        for (int i = 0; i < -decpt; i++)
            *out++ = '0';
        memcpy(out, digits, nd + 1);
    } else if ((size_t)decpt >= nd) {
        memcpy(out, digits, nd);
        out += nd;
        for (size_t i = nd; i < (size_t)decpt; i++)
            *out++ = '0';
        strcpy(out, ".0");
    } else {
        memcpy(out, digits, (size_t)decpt);
        out += decpt;
        *out++ = '.';
        memcpy(out, digits + decpt, nd - (size_t)decpt + 1);
    }
    return buf;
}

/* ---- sorting ------------------------------------------------------------ */

static int cmp_kv(const void *a, const void *b)
{
    const struct mlflow_kv *x = *(const struct mlflow_kv *const *)a;
    const struct mlflow_kv *y = *(const struct mlflow_kv *const *)b;

    return strcmp(x->key, y->key);
}

static int cmp_metric(const void *a, const void *b)
{
    const struct mlflow_metric *x = *(const struct mlflow_metric *const *)a;
    const struct mlflow_metric *y = *(const struct mlflow_metric *const *)b;

    return strcmp(x->key, y->key);
}

const struct mlflow_kv **cli_sorted_kv(const struct mlflow_kv *kv, size_t n)
{
    const struct mlflow_kv **v = cli_xmalloc(n * sizeof(*v));

    for (size_t i = 0; i < n; i++)
        v[i] = &kv[i];
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_kv);
    return v;
}

const struct mlflow_metric **cli_sorted_metrics(const struct mlflow_metric *m, size_t n)
{
    const struct mlflow_metric **v = cli_xmalloc(n * sizeof(*v));

    for (size_t i = 0; i < n; i++)
        v[i] = &m[i];
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_metric);
    return v;
}

/* ---- tables ------------------------------------------------------------- */

/* Columns are measured in code points, so names in any script line up as
 * long as the terminal gives each one cell. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* A copy with control characters written as escapes, so a multi-line tag
 * value cannot break the table's rows apart. */
static char *cell_text(const char *s)
{
    size_t n = 1;
    char *copy, *o;

    if (!s)
        s = "";
    for (const char *p = s; *p; p++)
        n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
    copy = o = cli_xmalloc(n);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '\n') {
            o += sprintf(o, "\\n");
        } else if (c == '\t') {
            o += sprintf(o, "\\t");
        } else if (c == '\r') {
            o += sprintf(o, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\x%02x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return copy;
}

void cli_table_init(struct cli_table *t, size_t n_cols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->n_cols = n_cols;
    t->headers = headers;
}

void cli_table_add(struct cli_table *t, const char *const *row)
{
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
        t->cells = cli_xrealloc(t->cells, t->cap_rows * t->n_cols * sizeof(*t->cells));
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * t->n_cols + c] = cell_text(row[c]);
    t->n_rows++;
}

static void print_padded(FILE *out, const char *s, size_t width, bool last)
{
    fputs(s, out);
    if (last)
        return;
    for (size_t w = text_width(s); w < width; w++)
        fputc(' ', out);
    fputs("  ", out);
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
    size_t *width = cli_xmalloc(t->n_cols * sizeof(*width));

    for (size_t c = 0; c < t->n_cols; c++) {
        width[c] = text_width(t->headers[c]);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t w = text_width(t->cells[r * t->n_cols + c]);

            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t c = 0; c < t->n_cols; c++)
        print_padded(out, t->headers[c], width[c], c + 1 == t->n_cols);
    fputc('\n', out);
    for (size_t c = 0; c < t->n_cols; c++) {
        for (size_t w = 0; w < width[c]; w++)
            fputc('-', out);
        if (c + 1 < t->n_cols)
            fputs("  ", out);
    }
    fputc('\n', out);
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++)
            print_padded(out, t->cells[r * t->n_cols + c], width[c], c + 1 == t->n_cols);
        fputc('\n', out);
    }
    free(width);
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n_rows = t->cap_rows = 0;
}

void cli_print_fields(FILE *out, const char *const *labels, const char *const *values, size_t n)
{
    size_t width = 0;

    for (size_t i = 0; i < n; i++)
        if (text_width(labels[i]) > width)
            width = text_width(labels[i]);
    for (size_t i = 0; i < n; i++) {
        fputs(labels[i], out);
        for (size_t w = text_width(labels[i]); w < width + 2; w++)
            fputc(' ', out);
        fprintf(out, ": %s\n", values[i] ? values[i] : "");
    }
}

/* ---- JSON --------------------------------------------------------------- */

/* json-c hands back NULL only when out of memory; the command cannot go on
 * then, as with every other allocation here. */
static json_object *checked(json_object *obj)
{
    if (!obj) {
        fprintf(stderr, "%s: out of memory\n", CLI_NAME);
        exit(CLI_EXIT_ERROR);
    }
    return obj;
}

static void add(json_object *obj, const char *key, json_object *value)
{
    if (json_object_object_add(obj, key, value) != 0) {
        fprintf(stderr, "%s: out of memory\n", CLI_NAME);
        exit(CLI_EXIT_ERROR);
    }
}

json_object *cli_json_double(double v)
{
    char buf[32];

    /* Protobuf JSON's spelling of non-finite values: the strings MLflow's REST
     * API uses, which every JSON reader accepts (bare NaN is not JSON). */
    if (isnan(v))
        return checked(json_object_new_string("NaN"));
    if (isinf(v))
        return checked(json_object_new_string(v < 0 ? "-Infinity" : "Infinity"));
    return checked(json_object_new_double_s(v, cli_fmt_double(v, buf)));
}

json_object *cli_json_time(int64_t ms)
{
    return ms == MLFLOW_TIME_UNSET ? NULL : checked(json_object_new_int64(ms));
}

json_object *cli_json_string(const char *s)
{
    return s ? checked(json_object_new_string(s)) : NULL;
}

static json_object *kv_object(const struct mlflow_kv *kv, size_t n)
{
    json_object *obj = checked(json_object_new_object());
    const struct mlflow_kv **sorted = cli_sorted_kv(kv, n);

    for (size_t i = 0; i < n; i++)
        add(obj, sorted[i]->key, cli_json_string(sorted[i]->value));
    free(sorted);
    return obj;
}

/* Keys in the order Python's dict() of the entity gives them: sorted names
 * of its properties. */
json_object *cli_json_experiment(const struct mlflow_experiment *exp)
{
    json_object *obj = checked(json_object_new_object());

    add(obj, "artifact_location", cli_json_string(exp->artifact_location));
    add(obj, "creation_time", cli_json_time(exp->creation_time));
    add(obj, "experiment_id", cli_json_string(exp->experiment_id));
    add(obj, "last_update_time", cli_json_time(exp->last_update_time));
    add(obj, "lifecycle_stage", cli_json_string(exp->lifecycle_stage));
    add(obj, "name", cli_json_string(exp->name));
    add(obj, "tags", kv_object(exp->tags, exp->n_tags));
    return obj;
}

json_object *cli_json_run(const struct mlflow_run *run)
{
    const struct mlflow_run_info *ri = &run->info;
    const struct mlflow_run_data *rd = &run->data;
    json_object *obj = checked(json_object_new_object());
    json_object *info = checked(json_object_new_object());
    json_object *data = checked(json_object_new_object());
    json_object *metrics = checked(json_object_new_object());
    json_object *inputs = checked(json_object_new_object());
    const struct mlflow_metric **sorted = cli_sorted_metrics(rd->metrics, rd->n_metrics);

    add(info, "artifact_uri", cli_json_string(ri->artifact_uri));
    add(info, "end_time", cli_json_time(ri->end_time));
    add(info, "experiment_id", cli_json_string(ri->experiment_id));
    add(info, "lifecycle_stage", cli_json_string(ri->lifecycle_stage));
    add(info, "run_id", cli_json_string(ri->run_id));
    add(info, "run_name", cli_json_string(ri->run_name));
    add(info, "run_uuid", cli_json_string(ri->run_id));
    add(info, "start_time", cli_json_time(ri->start_time));
    add(info, "status", cli_json_string(mlflow_run_status_name(ri->status)));
    add(info, "user_id", cli_json_string(ri->user_id));
    add(obj, "info", info);

    for (size_t i = 0; i < rd->n_metrics; i++)
        add(metrics, sorted[i]->key, cli_json_double(sorted[i]->value));
    free(sorted);
    add(data, "metrics", metrics);
    add(data, "params", kv_object(rd->params, rd->n_params));
    add(data, "tags", kv_object(rd->tags, rd->n_tags));
    add(obj, "data", data);

    /* The public API has no dataset inputs yet; MLflow prints the empty list. */
    add(inputs, "dataset_inputs", checked(json_object_new_array()));
    add(obj, "inputs", inputs);
    return obj;
}

void cli_json_print(json_object *obj)
{
    const char *text = json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

    if (!text) {
        fprintf(stderr, "%s: out of memory\n", CLI_NAME);
        exit(CLI_EXIT_ERROR);
    }
    puts(text);
    json_object_put(obj);
}
