/*
 * json.c - MLflow's REST wire format: the writer, the typed readers over
 * json-c, and the entity codecs (contracts in json.h).
 *
 * Output is written by hand into a string buffer rather than through a
 * json-c DOM: MLflow's layout (Python's json.dumps with ensure_ascii, int64
 * as numbers, Python float repr) is not what json-c prints, and a search
 * response of thousands of runs should not be built twice. Parsing is all
 * json-c's.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- writer ---------------------------------------------------------------- */

void mlflow__jw_init(struct mlflow__jw *w, int style)
{
    memset(w, 0, sizeof *w);
    w->style = style;
}

static void newline_indent(struct mlflow__jw *w, int depth)
{
    static const char spaces[] = "                                ";
    mlflow__sb_addc(&w->sb, '\n');
    size_t n = (size_t)depth * 2;
    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        mlflow__sb_add(&w->sb, spaces, k);
        n -= k;
    }
}

/* Separator and indentation before an item of the innermost container. */
static void item_start(struct mlflow__jw *w)
{
    if (w->depth == 0)
        return;
    uint64_t bit = 1ull << (w->depth - 1);
    if (w->has_item & bit)
        mlflow__sb_adds(&w->sb, w->style == MLFLOW__JW_PYTHON ? ", " : ",");
    w->has_item |= bit;
    if (w->style == MLFLOW__JW_PRETTY)
        newline_indent(w, w->depth);
}

static void before_value(struct mlflow__jw *w)
{
    if (w->after_key)
        w->after_key = false;
    else
        item_start(w);
}

static void open_container(struct mlflow__jw *w, char c)
{
    before_value(w);
    if (w->depth >= MLFLOW__JW_MAX_DEPTH) {
        w->bad = true;
        return;
    }
    mlflow__sb_addc(&w->sb, c);
    w->depth++;
    w->has_item &= ~(1ull << (w->depth - 1));
}

static void close_container(struct mlflow__jw *w, char c)
{
    if (w->depth <= 0 || w->after_key) {
        w->bad = true;
        return;
    }
    if (w->style == MLFLOW__JW_PRETTY && (w->has_item & (1ull << (w->depth - 1))))
        newline_indent(w, w->depth - 1);
    mlflow__sb_addc(&w->sb, c);
    w->depth--;
}

void mlflow__jw_begin_object(struct mlflow__jw *w) { open_container(w, '{'); }
void mlflow__jw_end_object(struct mlflow__jw *w) { close_container(w, '}'); }
void mlflow__jw_begin_array(struct mlflow__jw *w) { open_container(w, '['); }
void mlflow__jw_end_array(struct mlflow__jw *w) { close_container(w, ']'); }

/* Python's ensure_ascii: printable ASCII as is, the short escapes for the
 * usual five controls, \uXXXX (lowercase hex, surrogate pairs above the BMP)
 * for everything else. */
static void put_u(struct mlflow__sb *sb, unsigned cp)
{
    char buf[8];
    snprintf(buf, sizeof buf, "\\u%04x", cp);
    mlflow__sb_add(sb, buf, 6);
}

/* Decodes one UTF-8 sequence at s (n bytes left); 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static void put_escaped(struct mlflow__sb *sb, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    mlflow__sb_addc(sb, '"');
    size_t run = 0; /* start of the pending run of plain characters */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        mlflow__sb_add(sb, str + run, i - run);
        switch (c) {
        case '"': mlflow__sb_add(sb, "\\\"", 2); i++; break;
        case '\\': mlflow__sb_add(sb, "\\\\", 2); i++; break;
        case '\n': mlflow__sb_add(sb, "\\n", 2); i++; break;
        case '\r': mlflow__sb_add(sb, "\\r", 2); i++; break;
        case '\t': mlflow__sb_add(sb, "\\t", 2); i++; break;
        case '\b': mlflow__sb_add(sb, "\\b", 2); i++; break;
        case '\f': mlflow__sb_add(sb, "\\f", 2); i++; break;
        default:
            if (c < 0x80) {
                put_u(sb, c);
                i++;
            } else {
                unsigned cp;
                size_t len = utf8_decode(s + i, n - i, &cp);
                if (!len) {
                    put_u(sb, 0xfffd);
                    i++;
                } else if (cp > 0xffff) {
                    cp -= 0x10000;
                    put_u(sb, 0xd800 | (cp >> 10));
                    put_u(sb, 0xdc00 | (cp & 0x3ff));
                    i += len;
                } else {
                    put_u(sb, cp);
                    i += len;
                }
            }
        }
        run = i;
    }
    mlflow__sb_add(sb, str + run, n - run);
    mlflow__sb_addc(sb, '"');
}

void mlflow__jw_key(struct mlflow__jw *w, const char *key)
{
    if (w->depth == 0 || w->after_key) {
        w->bad = true;
        return;
    }
    item_start(w);
    put_escaped(&w->sb, key, strlen(key));
    mlflow__sb_adds(&w->sb, w->style == MLFLOW__JW_COMPACT ? ":" : ": ");
    w->after_key = true;
}

void mlflow__jw_stringn(struct mlflow__jw *w, const char *s, size_t n)
{
    before_value(w);
    put_escaped(&w->sb, s, n);
}

void mlflow__jw_string(struct mlflow__jw *w, const char *s)
{
    if (!s) {
        mlflow__jw_null(w);
        return;
    }
    mlflow__jw_stringn(w, s, strlen(s));
}

void mlflow__jw_int64(struct mlflow__jw *w, int64_t v)
{
    char buf[24];
    before_value(w);
    mlflow__sb_add(&w->sb, buf, mlflow__fmt_int64(v, buf));
}

void mlflow__jw_double(struct mlflow__jw *w, double v)
{
    before_value(w);
    if (isnan(v)) {
        mlflow__sb_adds(&w->sb, "\"NaN\"");
    } else if (isinf(v)) {
        mlflow__sb_adds(&w->sb, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
        char buf[32];
        mlflow__sb_add(&w->sb, buf, mlflow__fmt_double(v, buf));
    }
}

void mlflow__jw_bool(struct mlflow__jw *w, bool v)
{
    before_value(w);
    mlflow__sb_adds(&w->sb, v ? "true" : "false");
}

void mlflow__jw_null(struct mlflow__jw *w)
{
    before_value(w);
    mlflow__sb_adds(&w->sb, "null");
}

static void write_value(struct mlflow__jw *w, json_object *v, int depth)
{
    if (depth > MLFLOW__JW_MAX_DEPTH) {
        w->bad = true;
        return;
    }
    switch (json_object_get_type(v)) {
    case json_type_null:
        mlflow__jw_null(w);
        break;
    case json_type_boolean:
        mlflow__jw_bool(w, json_object_get_boolean(v));
        break;
    case json_type_double:
        mlflow__jw_double(w, json_object_get_double(v));
        break;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        uint64_t u = json_object_get_uint64(v);
        if (i == INT64_MAX && u > (uint64_t)INT64_MAX) {
            char buf[24];
            before_value(w);
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
            mlflow__sb_adds(&w->sb, buf);
        } else {
            mlflow__jw_int64(w, i);
        }
        break;
    }
    case json_type_string:
        mlflow__jw_stringn(w, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        mlflow__jw_begin_array(w);
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            write_value(w, json_object_array_get_idx(v, i), depth + 1);
        mlflow__jw_end_array(w);
        break;
    }
    case json_type_object: {
        mlflow__jw_begin_object(w);
        json_object_object_foreach(v, key, val)
        {
            mlflow__jw_key(w, key);
            write_value(w, val, depth + 1);
        }
        mlflow__jw_end_object(w);
        break;
    }
    }
}

void mlflow__jw_value(struct mlflow__jw *w, json_object *v)
{
    write_value(w, v, 0);
}

void mlflow__jw_kv_string(struct mlflow__jw *w, const char *key, const char *s)
{
    mlflow__jw_key(w, key);
    mlflow__jw_string(w, s);
}

void mlflow__jw_kv_int64(struct mlflow__jw *w, const char *key, int64_t v)
{
    mlflow__jw_key(w, key);
    mlflow__jw_int64(w, v);
}

char *mlflow__jw_detach(struct mlflow__jw *w, size_t *len)
{
    if (w->bad || w->depth != 0 || w->after_key || w->sb.oom) {
        mlflow__sb_release(&w->sb);
        return NULL;
    }
    if (!w->sb.buf)
        mlflow__sb_add(&w->sb, "", 0);
    if (len)
        *len = w->sb.len;
    return mlflow__sb_detach(&w->sb);
}

void mlflow__jw_release(struct mlflow__jw *w)
{
    mlflow__sb_release(&w->sb);
}

/* ---- entities out -------------------------------------------------------------- */

static bool time_set(int64_t t)
{
    return t != MLFLOW_TIME_UNSET && t != 0;
}

void mlflow__json_write_kv(struct mlflow__jw *w, const struct mlflow_kv *kv)
{
    mlflow__jw_begin_object(w);
    mlflow__jw_kv_string(w, "key", kv->key ? kv->key : "");
    mlflow__jw_kv_string(w, "value", kv->value ? kv->value : "");
    mlflow__jw_end_object(w);
}

void mlflow__json_write_kvs(struct mlflow__jw *w, const char *field, const struct mlflow_kv *kv,
                            size_t n)
{
    if (n == 0)
        return;
    mlflow__jw_key(w, field);
    mlflow__jw_begin_array(w);
    for (size_t i = 0; i < n; i++)
        mlflow__json_write_kv(w, &kv[i]);
    mlflow__jw_end_array(w);
}

void mlflow__json_write_metric(struct mlflow__jw *w, const struct mlflow_metric *m,
                               const char *run_id)
{
    mlflow__jw_begin_object(w);
    mlflow__jw_kv_string(w, "key", m->key ? m->key : "");
    mlflow__jw_key(w, "value");
    mlflow__jw_double(w, m->value);
    mlflow__jw_kv_int64(w, "timestamp", m->timestamp);
    mlflow__jw_kv_int64(w, "step", m->step);
    if (run_id)
        mlflow__jw_kv_string(w, "run_id", run_id);
    mlflow__jw_end_object(w);
}

void mlflow__json_write_metrics(struct mlflow__jw *w, const char *field,
                                const struct mlflow_metric *m, size_t n)
{
    if (n == 0)
        return;
    mlflow__jw_key(w, field);
    mlflow__jw_begin_array(w);
    for (size_t i = 0; i < n; i++)
        mlflow__json_write_metric(w, &m[i], NULL);
    mlflow__jw_end_array(w);
}

void mlflow__json_write_experiment(struct mlflow__jw *w, const struct mlflow_experiment *e)
{
    mlflow__jw_begin_object(w);
    if (e->experiment_id)
        mlflow__jw_kv_string(w, "experiment_id", e->experiment_id);
    if (e->name)
        mlflow__jw_kv_string(w, "name", e->name);
    if (e->artifact_location)
        mlflow__jw_kv_string(w, "artifact_location", e->artifact_location);
    if (e->lifecycle_stage)
        mlflow__jw_kv_string(w, "lifecycle_stage", e->lifecycle_stage);
    if (time_set(e->last_update_time))
        mlflow__jw_kv_int64(w, "last_update_time", e->last_update_time);
    if (time_set(e->creation_time))
        mlflow__jw_kv_int64(w, "creation_time", e->creation_time);
    mlflow__json_write_kvs(w, "tags", e->tags, e->n_tags);
    mlflow__jw_end_object(w);
}

void mlflow__json_write_run_info(struct mlflow__jw *w, const struct mlflow_run_info *info)
{
    mlflow__jw_begin_object(w);
    /* run_uuid is the deprecated twin of run_id; MLflow still sends both. */
    if (info->run_id)
        mlflow__jw_kv_string(w, "run_uuid", info->run_id);
    if (info->experiment_id)
        mlflow__jw_kv_string(w, "experiment_id", info->experiment_id);
    if (info->run_name)
        mlflow__jw_kv_string(w, "run_name", info->run_name);
    if (info->user_id)
        mlflow__jw_kv_string(w, "user_id", info->user_id);
    const char *status = mlflow_run_status_name(info->status);
    if (status)
        mlflow__jw_kv_string(w, "status", status);
    if (info->start_time != MLFLOW_TIME_UNSET)
        mlflow__jw_kv_int64(w, "start_time", info->start_time);
    if (time_set(info->end_time))
        mlflow__jw_kv_int64(w, "end_time", info->end_time);
    if (info->artifact_uri && *info->artifact_uri)
        mlflow__jw_kv_string(w, "artifact_uri", info->artifact_uri);
    if (info->lifecycle_stage)
        mlflow__jw_kv_string(w, "lifecycle_stage", info->lifecycle_stage);
    if (info->run_id)
        mlflow__jw_kv_string(w, "run_id", info->run_id);
    mlflow__jw_end_object(w);
}

void mlflow__json_write_run(struct mlflow__jw *w, const struct mlflow_run *run)
{
    mlflow__jw_begin_object(w);
    mlflow__jw_key(w, "info");
    mlflow__json_write_run_info(w, &run->info);
    mlflow__jw_key(w, "data");
    mlflow__jw_begin_object(w);
    mlflow__json_write_metrics(w, "metrics", run->data.metrics, run->data.n_metrics);
    mlflow__json_write_kvs(w, "params", run->data.params, run->data.n_params);
    mlflow__json_write_kvs(w, "tags", run->data.tags, run->data.n_tags);
    mlflow__jw_end_object(w);
    mlflow__jw_key(w, "inputs");
    mlflow__jw_begin_object(w);
    if (run->n_inputs) {
        /* Proto field order: DatasetInput tags then dataset; empty fields
         * left out, as MLflow's message_to_json does. */
        mlflow__jw_key(w, "dataset_inputs");
        mlflow__jw_begin_array(w);
        for (size_t i = 0; i < run->n_inputs; i++) {
            const struct mlflow_dataset_input *in = &run->inputs[i];
            const struct mlflow_dataset *d = &in->dataset;
            mlflow__jw_begin_object(w);
            mlflow__json_write_kvs(w, "tags", in->tags, in->n_tags);
            mlflow__jw_key(w, "dataset");
            mlflow__jw_begin_object(w);
            const char *const f[][2] = {{"name", d->name},     {"digest", d->digest},
                                        {"source_type", d->source_type},
                                        {"source", d->source}, {"schema", d->schema},
                                        {"profile", d->profile}};
            for (size_t k = 0; k < MLFLOW_ARRAY_LEN(f); k++)
                if (f[k][1] && *f[k][1])
                    mlflow__jw_kv_string(w, f[k][0], f[k][1]);
            mlflow__jw_end_object(w);
            mlflow__jw_end_object(w);
        }
        mlflow__jw_end_array(w);
    }
    mlflow__jw_end_object(w);
    mlflow__jw_end_object(w);
}

void mlflow__json_write_file_info(struct mlflow__jw *w, const struct mlflow_file_info *f)
{
    mlflow__jw_begin_object(w);
    mlflow__jw_kv_string(w, "path", f->path ? f->path : "");
    mlflow__jw_key(w, "is_dir");
    mlflow__jw_bool(w, f->is_dir);
    if (!f->is_dir && f->file_size >= 0)
        mlflow__jw_kv_int64(w, "file_size", f->file_size);
    mlflow__jw_end_object(w);
}

/* ---- parsing ----------------------------------------------------------------------- */

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

int mlflow__json_parse(const char *text, size_t n, json_object **out, struct mlflow_error *err)
{
    *out = NULL;
    if (n > (size_t)INT32_MAX)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "The JSON body is too large");
    json_tokener *tok = json_tokener_new_ex(MLFLOW__JSON_MAX_DEPTH);
    if (!tok)
        return mlflow__oom(err);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_continue)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Malformed JSON: unexpected end of input");
    if (jerr != json_tokener_success || !obj) {
        json_object_put(obj);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Malformed JSON: %s at offset %zu",
                              json_tokener_error_desc(jerr), used);
    }
    if (used < n && !all_space(text + used, n - used)) {
        json_object_put(obj);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Malformed JSON: unexpected data at offset %zu",
                              used);
    }
    *out = obj;
    return MLFLOW_OK;
}

int mlflow__json_parse_request(const char *text, size_t n, json_object **out,
                               struct mlflow_error *err)
{
    *out = NULL;
    json_object *obj;
    if (all_space(text, n)) {
        obj = json_object_new_object();
        if (!obj)
            return mlflow__oom(err);
        *out = obj;
        return MLFLOW_OK;
    }
    int rc = mlflow__json_parse(text, n, &obj, err);
    if (rc)
        return rc;
    if (json_object_is_type(obj, json_type_string)) {
        json_object *inner;
        rc = mlflow__json_parse(json_object_get_string(obj),
                                (size_t)json_object_get_string_len(obj), &inner, err);
        json_object_put(obj);
        if (rc)
            return rc;
        obj = inner;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "The request body must be a JSON object");
    }
    *out = obj;
    return MLFLOW_OK;
}

/* ---- typed readers ----------------------------------------------------------------- */

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "NoneType";
    case json_type_boolean: return "bool";
    case json_type_double: return "float";
    case json_type_int: return "int";
    case json_type_object: return "dict";
    case json_type_array: return "list";
    case json_type_string: return "str";
    }
    return "unknown";
}

static int missing(struct mlflow_error *err, const char *field)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Missing value for required parameter '%s'. See the API docs for more "
                          "information about request parameters.",
                          field);
}

static int invalid(struct mlflow_error *err, const char *field, json_object *v)
{
    const char *text;
    if (json_object_is_type(v, json_type_string))
        text = json_object_get_string(v);
    else if (json_object_is_type(v, json_type_boolean))
        text = json_object_get_boolean(v) ? "True" : "False";
    else
        text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        text = "";
    size_t n = strlen(text);
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid value %.*s%s for parameter '%s' supplied. Hint: Value was of "
                          "type '%s'. See the API docs for more information about request "
                          "parameters.",
                          (int)(n > 200 ? 200 : n), text, n > 200 ? "..." : "", field,
                          type_name(v));
}

bool mlflow__json_as_int64(json_object *v, int64_t *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            return false;
        *out = i;
        return true;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        /* 1.7e12 is an integer written as a float; 1.5 is not. */
        if (!isfinite(d) || d != trunc(d) || d < -9223372036854775808.0 ||
            d >= 9223372036854775808.0)
            return false;
        *out = (int64_t)d;
        return true;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n == 0 || n > 24 || strlen(s) != n)
            return false;
        /* Decimal digits with an optional sign: what protobuf's JSON reads. */
        size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        if (i == n)
            return false;
        for (size_t k = i; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                return false;
        return mlflow__parse_int64(s, out);
    }
    default:
        return false;
    }
}

bool mlflow__json_as_double(json_object *v, double *out)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        *out = json_object_get_double(v);
        return true;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        uint64_t u = json_object_get_uint64(v);
        *out = (i == INT64_MAX && u > (uint64_t)INT64_MAX) ? (double)u : (double)i;
        return true;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n == 0 || n > 64 || strlen(s) != n)
            return false;
        if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
            return false;
        return mlflow__parse_double(s, out);
    }
    default:
        return false;
    }
}

json_object *mlflow__json_member(json_object *obj, const char *field)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, field, &v))
        return NULL;
    return json_object_is_type(v, json_type_null) ? NULL : v;
}

static void set_present(bool *present, bool value)
{
    if (present)
        *present = value;
}

/* The readers below take `shown`, the name used in messages, separately from
 * the member name, so list items can be reported as "metrics[3].value". */
static int get_string(json_object *obj, const char *field, const char *shown, int flags,
                      const char **out, bool *present, struct mlflow_error *err)
{
    set_present(present, false);
    json_object *v = mlflow__json_member(obj, field);
    if (!v)
        return (flags & MLFLOW__JSON_REQUIRED) ? missing(err, shown) : MLFLOW_OK;
    if (!json_object_is_type(v, json_type_string))
        return invalid(err, shown, v);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value for parameter '%s': it contains a NUL character",
                              shown);
    if (n == 0 && (flags & MLFLOW__JSON_REQUIRED))
        return missing(err, shown);
    *out = s;
    set_present(present, true);
    return MLFLOW_OK;
}

int mlflow__json_get_string(json_object *obj, const char *field, int flags, const char **out,
                            bool *present, struct mlflow_error *err)
{
    return get_string(obj, field, field, flags, out, present, err);
}

/* The member a number is read from, or NULL with *rc set: absent (an error
 * only when required), or "" where a value is required, which MLflow's proto
 * parsing treats as unset. */
static json_object *number_member(json_object *obj, const char *field, const char *shown,
                                  int flags, bool *present, int *rc, struct mlflow_error *err)
{
    set_present(present, false);
    json_object *v = mlflow__json_member(obj, field);
    bool required = flags & MLFLOW__JSON_REQUIRED;
    if (v && !(required && json_object_is_type(v, json_type_string) &&
               json_object_get_string_len(v) == 0))
        return v;
    *rc = required ? missing(err, shown) : MLFLOW_OK;
    return NULL;
}

static int get_int64(json_object *obj, const char *field, const char *shown, int flags,
                     int64_t *out, bool *present, struct mlflow_error *err)
{
    int rc;
    json_object *v = number_member(obj, field, shown, flags, present, &rc, err);
    if (!v)
        return rc;
    int64_t i;
    if (!mlflow__json_as_int64(v, &i))
        return invalid(err, shown, v);
    *out = i;
    set_present(present, true);
    return MLFLOW_OK;
}

int mlflow__json_get_int64(json_object *obj, const char *field, int flags, int64_t *out,
                           bool *present, struct mlflow_error *err)
{
    return get_int64(obj, field, field, flags, out, present, err);
}

/* Booleans are refused: MLflow's metric rule is "a number and not a bool". */
static int get_double(json_object *obj, const char *field, const char *shown, int flags,
                      double *out, bool *present, struct mlflow_error *err)
{
    int rc;
    json_object *v = number_member(obj, field, shown, flags, present, &rc, err);
    if (!v)
        return rc;
    double d;
    if (!mlflow__json_as_double(v, &d))
        return invalid(err, shown, v);
    *out = d;
    set_present(present, true);
    return MLFLOW_OK;
}

int mlflow__json_get_double(json_object *obj, const char *field, int flags, double *out,
                            bool *present, struct mlflow_error *err)
{
    return get_double(obj, field, field, flags, out, present, err);
}

int mlflow__json_get_bool(json_object *obj, const char *field, int flags, bool *out,
                          bool *present, struct mlflow_error *err)
{
    set_present(present, false);
    json_object *v = mlflow__json_member(obj, field);
    if (!v)
        return (flags & MLFLOW__JSON_REQUIRED) ? missing(err, field) : MLFLOW_OK;
    if (json_object_is_type(v, json_type_boolean)) {
        *out = json_object_get_boolean(v);
    } else if (json_object_is_type(v, json_type_string) &&
               (strcmp(json_object_get_string(v), "true") == 0 ||
                strcmp(json_object_get_string(v), "false") == 0)) {
        *out = json_object_get_string(v)[0] == 't';
    } else {
        return invalid(err, field, v);
    }
    set_present(present, true);
    return MLFLOW_OK;
}

int mlflow__json_get_enum(json_object *obj, const char *field, int flags,
                          int (*parse)(const char *, int *), const char *(*name)(int), int *out,
                          bool *present, struct mlflow_error *err)
{
    set_present(present, false);
    json_object *v = mlflow__json_member(obj, field);
    if (!v)
        return (flags & MLFLOW__JSON_REQUIRED) ? missing(err, field) : MLFLOW_OK;
    int value;
    int64_t num;
    if (json_object_is_type(v, json_type_string) && parse(json_object_get_string(v), &value) == 0) {
        /* by name */
    } else if (mlflow__json_as_int64(v, &num) && num > 0 && num < 1 << 20 && name((int)num)) {
        value = (int)num;
    } else {
        return invalid(err, field, v);
    }
    *out = value;
    set_present(present, true);
    return MLFLOW_OK;
}

int mlflow__json_get_array(json_object *obj, const char *field, int flags, json_object **out,
                           bool *owned, struct mlflow_error *err)
{
    *out = NULL;
    *owned = false;
    json_object *v = mlflow__json_member(obj, field);
    if (!v)
        return (flags & MLFLOW__JSON_REQUIRED) ? missing(err, field) : MLFLOW_OK;
    if (json_object_is_type(v, json_type_array)) {
        *out = v;
        return MLFLOW_OK;
    }
    if ((flags & MLFLOW__JSON_SCALAR_AS_LIST) &&
        !json_object_is_type(v, json_type_object)) {
        json_object *arr = json_object_new_array_ext(1);
        if (!arr)
            return mlflow__oom(err);
        json_object_array_add(arr, json_object_get(v));
        *out = arr;
        *owned = true;
        return MLFLOW_OK;
    }
    return invalid(err, field, v);
}

int mlflow__json_get_string_list(struct mlflow__arena *a, json_object *obj, const char *field,
                                 int flags, const char ***out, size_t *n,
                                 struct mlflow_error *err)
{
    *out = NULL;
    *n = 0;
    json_object *arr;
    bool owned;
    int rc = mlflow__json_get_array(obj, field, flags, &arr, &owned, err);
    if (rc || !arr)
        return rc;
    size_t len = json_object_array_length(arr);
    const char **items = mlflow__arena_alloc(a, (len ? len : 1) * sizeof *items);
    if (!items)
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < len; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(v, json_type_string) ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
            char name[160];
            snprintf(name, sizeof name, "%s[%zu]", field, i);
            rc = invalid(err, name, v);
        } else if (!(items[i] = mlflow__arena_strdup(a, json_object_get_string(v)))) {
            rc = mlflow__oom(err);
        }
    }
    if (owned)
        json_object_put(arr);
    if (rc)
        return rc;
    *out = items;
    *n = len;
    return MLFLOW_OK;
}

/* ---- entities in --------------------------------------------------------------------- */

static char *copy_str(struct mlflow__arena *a, const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *c = mlflow__arena_strdup(a, s);
    if (!c)
        *oom = true;
    return c;
}

int mlflow__json_read_metric(struct mlflow__arena *a, json_object *v, const char *field,
                             struct mlflow_metric *m, struct mlflow_error *err)
{
    char kname[192], vname[192], tname[192], sname[192];
    const char *key = NULL;
    double value = 0;
    int64_t ts = 0, step = 0;
    if (!json_object_is_type(v, json_type_object))
        return invalid(err, field, v);
    snprintf(kname, sizeof kname, "%s.key", field);
    snprintf(vname, sizeof vname, "%s.value", field);
    snprintf(tname, sizeof tname, "%s.timestamp", field);
    snprintf(sname, sizeof sname, "%s.step", field);
    int rc = get_string(v, "key", kname, MLFLOW__JSON_REQUIRED, &key, NULL, err);
    if (!rc)
        rc = get_double(v, "value", vname, MLFLOW__JSON_REQUIRED, &value, NULL, err);
    if (!rc)
        rc = get_int64(v, "timestamp", tname, MLFLOW__JSON_REQUIRED, &ts, NULL, err);
    if (!rc)
        rc = get_int64(v, "step", sname, 0, &step, NULL, err);
    if (rc)
        return rc;
    bool oom = false;
    m->key = copy_str(a, key, &oom);
    m->value = value;
    m->timestamp = ts;
    m->step = step;
    return oom ? mlflow__oom(err) : MLFLOW_OK;
}

int mlflow__json_read_metrics(struct mlflow__arena *a, json_object *obj, const char *field,
                              struct mlflow_metric **out, size_t *n, struct mlflow_error *err)
{
    *out = NULL;
    *n = 0;
    json_object *arr;
    bool owned;
    int rc = mlflow__json_get_array(obj, field, 0, &arr, &owned, err);
    if (rc || !arr)
        return rc;
    size_t len = json_object_array_length(arr);
    struct mlflow_metric *ms = mlflow__arena_alloc(a, (len ? len : 1) * sizeof *ms);
    if (!ms)
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < len; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        rc = mlflow__json_read_metric(a, json_object_array_get_idx(arr, i), name, &ms[i], err);
    }
    if (owned)
        json_object_put(arr);
    if (rc)
        return rc;
    *out = ms;
    *n = len;
    return MLFLOW_OK;
}

int mlflow__json_read_kvs(struct mlflow__arena *a, json_object *obj, const char *field,
                          struct mlflow_kv **out, size_t *n, struct mlflow_error *err)
{
    *out = NULL;
    *n = 0;
    json_object *arr;
    bool owned;
    int rc = mlflow__json_get_array(obj, field, 0, &arr, &owned, err);
    if (rc || !arr)
        return rc;
    size_t len = json_object_array_length(arr);
    struct mlflow_kv *kv = mlflow__arena_alloc(a, (len ? len : 1) * sizeof *kv);
    if (!kv)
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < len; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        char name[96];
        const char *key = NULL, *value = "";
        snprintf(name, sizeof name, "%s[%zu]", field, i);
        if (!json_object_is_type(v, json_type_object)) {
            rc = invalid(err, name, v);
            break;
        }
        snprintf(name, sizeof name, "%s[%zu].key", field, i);
        rc = get_string(v, "key", name, MLFLOW__JSON_REQUIRED, &key, NULL, err);
        snprintf(name, sizeof name, "%s[%zu].value", field, i);
        if (!rc)
            rc = get_string(v, "value", name, 0, &value, NULL, err);
        if (rc)
            break;
        bool oom = false;
        kv[i].key = copy_str(a, key, &oom);
        kv[i].value = copy_str(a, value, &oom);
        if (oom)
            rc = mlflow__oom(err);
    }
    if (owned)
        json_object_put(arr);
    if (rc)
        return rc;
    *out = kv;
    *n = len;
    return MLFLOW_OK;
}

/* Optional string member copied into the arena (NULL when absent). */
static int opt_str(struct mlflow__arena *a, json_object *v, const char *field, const char **out,
                   struct mlflow_error *err)
{
    const char *s = NULL;
    int rc = mlflow__json_get_string(v, field, 0, &s, NULL, err);
    if (rc)
        return rc;
    bool oom = false;
    *out = copy_str(a, s, &oom);
    return oom ? mlflow__oom(err) : MLFLOW_OK;
}

static int opt_time(json_object *v, const char *field, int64_t *out, struct mlflow_error *err)
{
    bool present;
    *out = MLFLOW_TIME_UNSET;
    int rc = mlflow__json_get_int64(v, field, 0, out, &present, err);
    if (!rc && !present)
        *out = MLFLOW_TIME_UNSET;
    return rc;
}

int mlflow__json_read_experiment(struct mlflow__arena *a, json_object *v,
                                 struct mlflow_experiment *e, struct mlflow_error *err)
{
    memset(e, 0, sizeof *e);
    if (!json_object_is_type(v, json_type_object))
        return invalid(err, "experiment", v);
    int rc = opt_str(a, v, "experiment_id", &e->experiment_id, err);
    if (!rc)
        rc = opt_str(a, v, "name", &e->name, err);
    if (!rc)
        rc = opt_str(a, v, "artifact_location", &e->artifact_location, err);
    if (!rc)
        rc = opt_str(a, v, "lifecycle_stage", &e->lifecycle_stage, err);
    if (!rc)
        rc = opt_time(v, "creation_time", &e->creation_time, err);
    if (!rc)
        rc = opt_time(v, "last_update_time", &e->last_update_time, err);
    if (!rc)
        rc = mlflow__json_read_kvs(a, v, "tags", &e->tags, &e->n_tags, err);
    return rc;
}

int mlflow__json_read_run_info(struct mlflow__arena *a, json_object *v,
                               struct mlflow_run_info *info, struct mlflow_error *err)
{
    memset(info, 0, sizeof *info);
    info->status = MLFLOW_RUN_STATUS_RUNNING;
    if (!json_object_is_type(v, json_type_object))
        return invalid(err, "info", v);
    int rc = opt_str(a, v, "run_id", &info->run_id, err);
    if (!rc && !info->run_id)
        rc = opt_str(a, v, "run_uuid", &info->run_id, err);
    if (!rc)
        rc = opt_str(a, v, "run_name", &info->run_name, err);
    if (!rc)
        rc = opt_str(a, v, "experiment_id", &info->experiment_id, err);
    if (!rc)
        rc = opt_str(a, v, "user_id", &info->user_id, err);
    if (!rc)
        rc = opt_str(a, v, "artifact_uri", &info->artifact_uri, err);
    if (!rc)
        rc = opt_str(a, v, "lifecycle_stage", &info->lifecycle_stage, err);
    if (!rc)
        rc = mlflow__json_get_enum(v, "status", 0, mlflow_run_status_parse,
                                   mlflow_run_status_name, &info->status, NULL, err);
    if (!rc)
        rc = opt_time(v, "start_time", &info->start_time, err);
    if (!rc)
        rc = opt_time(v, "end_time", &info->end_time, err);
    return rc;
}

/* RunInputs.dataset_inputs; a dataset's fields missing read as "" (proto3
 * defaults), schema and profile as NULL. */
static int read_dataset_inputs(struct mlflow__arena *a, json_object *list, struct mlflow_run *run,
                               struct mlflow_error *err)
{
    size_t n = json_object_array_length(list);
    if (n == 0)
        return MLFLOW_OK;
    struct mlflow_dataset_input *ins = mlflow__arena_alloc(a, n * sizeof *ins);
    if (!ins)
        return mlflow__oom(err);
    int rc = MLFLOW_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        json_object *v = json_object_array_get_idx(list, i);
        if (!json_object_is_type(v, json_type_object))
            return invalid(err, "dataset_inputs", v);
        json_object *ds = mlflow__json_member(v, "dataset");
        struct mlflow_dataset *d = &ins[i].dataset;
        const char *const names[] = {"name",   "digest", "source_type",
                                     "source", "schema", "profile"};
        const char **to[] = {&d->name,   &d->digest, &d->source_type,
                             &d->source, &d->schema, &d->profile};
        for (size_t k = 0; !rc && k < MLFLOW_ARRAY_LEN(to); k++) {
            if (ds)
                rc = opt_str(a, ds, names[k], to[k], err);
            if (!rc && !*to[k] && k < 4)
                *to[k] = "";
        }
        struct mlflow_kv *tags = NULL;
        if (!rc)
            rc = mlflow__json_read_kvs(a, v, "tags", &tags, &ins[i].n_tags, err);
        ins[i].tags = tags;
    }
    run->inputs = ins;
    run->n_inputs = n;
    return rc;
}

int mlflow__json_read_run(struct mlflow__arena *a, json_object *v, struct mlflow_run *run,
                          struct mlflow_error *err)
{
    memset(run, 0, sizeof *run);
    if (!json_object_is_type(v, json_type_object))
        return invalid(err, "run", v);
    json_object *info = mlflow__json_member(v, "info");
    json_object *empty = NULL;
    if (!info)
        info = empty = json_object_new_object();
    int rc = info ? mlflow__json_read_run_info(a, info, &run->info, err) : mlflow__oom(err);
    json_object_put(empty);
    json_object *data = mlflow__json_member(v, "data");
    if (!rc && data) {
        rc = mlflow__json_read_metrics(a, data, "metrics", &run->data.metrics,
                                       &run->data.n_metrics, err);
        if (!rc)
            rc = mlflow__json_read_kvs(a, data, "params", &run->data.params,
                                       &run->data.n_params, err);
        if (!rc)
            rc = mlflow__json_read_kvs(a, data, "tags", &run->data.tags, &run->data.n_tags,
                                       err);
    }
    json_object *inputs = mlflow__json_member(v, "inputs");
    json_object *list = inputs ? mlflow__json_member(inputs, "dataset_inputs") : NULL;
    if (!rc && list && json_object_is_type(list, json_type_array))
        rc = read_dataset_inputs(a, list, run, err);
    return rc;
}

int mlflow__json_read_file_info(struct mlflow__arena *a, json_object *v,
                                struct mlflow_file_info *f, struct mlflow_error *err)
{
    memset(f, 0, sizeof *f);
    f->file_size = -1;
    if (!json_object_is_type(v, json_type_object))
        return invalid(err, "files", v);
    int rc = opt_str(a, v, "path", &f->path, err);
    if (!rc)
        rc = mlflow__json_get_bool(v, "is_dir", 0, &f->is_dir, NULL, err);
    if (!rc)
        rc = mlflow__json_get_int64(v, "file_size", 0, &f->file_size, NULL, err);
    if (!rc && !f->path)
        f->path = "";
    return rc;
}
