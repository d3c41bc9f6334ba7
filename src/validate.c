/*
 * validate.c - MLflow's input rules (spec section 3) in one place.
 *
 * Every message names the field and quotes the value, the way MLflow's
 * do, so a user can find the bad call from the message alone.
 */
#include "internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <wctype.h>

/* Quote at most 64 bytes of a user value in messages; the rest is "...". */
#define Q(s) (int)(strlen(s) > 64 ? 64 : strlen(s)), (s), (strlen(s) > 64 ? "..." : "")

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Python's \w on one code point: letters and digits of any script, or '_'.
 * glibc's C.UTF-8 locale carries the Unicode classification tables. */
static bool is_word_cp(unsigned cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               (cp >= '0' && cp <= '9') || cp == '_';
    pthread_once(&utf8_once, utf8_init);
    if (!utf8_locale)
        return true; /* no tables: accept rather than reject valid names */
    return iswalnum_l((wint_t)cp, utf8_locale) != 0;
}

/* Decodes one code point from valid UTF-8; returns its byte length. */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    unsigned v = s[0] & (0x7f >> len);
    for (size_t k = 1; k < len; k++)
        v = (v << 6) | (s[k] & 0x3f);
    *cp = v;
    return len;
}

/* ^[/\w.\- ]*$ */
static bool key_chars_ok(const char *key)
{
    const unsigned char *s = (const unsigned char *)key;
    while (*s) {
        unsigned cp;
        size_t n = utf8_next(s, &cp);
        if (!(cp == '/' || cp == '.' || cp == '-' || cp == ' ' || is_word_cp(cp)))
            return false;
        s += n;
    }
    return true;
}

/* posixpath.normpath(key) == key, and not "." / leading ".." or "/". */
static bool key_path_normal(const char *key)
{
    if (key[0] == '\0' || key[0] == '/' || strncmp(key, "..", 2) == 0)
        return false;
    const char *seg = key;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

/* Characters of ^[/\w.\- ]*$ in ASCII. */
static const unsigned char key_ascii[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['_'] = 1, ['-'] = 1,
    ['.'] = 1, [' '] = 1, ['/'] = 1,
};

int mlflow__validate_key(const char *kind, const char *key, struct mlflow_error *err)
{
    if (!key)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter '%s key'", kind);
    /* Fast path for the keys nearly everyone uses (this runs on every
     * log_metric): plain ASCII, within the length limit, path-normal. Any
     * other key takes the full checks below, which also write the message. */
    size_t n = 0;
    while (key_ascii[(unsigned char)key[n]])
        n++;
    if (key[n] == '\0' && n <= MLFLOW_MAX_ENTITY_KEY_LENGTH && key_path_normal(key))
        return MLFLOW_OK;
    n = strlen(key);
    if (!mlflow__utf8_valid(key, n))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid %s name: it is not valid UTF-8", kind);
    if (!key_chars_ok(key))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid %s name: '%.*s%s'. Names may only contain alphanumerics, "
                              "underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).",
                              kind, Q(key));
    if (!key_path_normal(key))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid %s name: '%.*s%s'. Names must be relative, normalized "
                              "paths: no leading '/', no '..', no empty or '.' components.",
                              kind, Q(key));
    if (mlflow__utf8_len(key) > MLFLOW_MAX_ENTITY_KEY_LENGTH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "%s name '%.*s%s' had length %zu, which exceeded length limit of %d",
                              kind, Q(key), mlflow__utf8_len(key), MLFLOW_MAX_ENTITY_KEY_LENGTH);
    return MLFLOW_OK;
}

/* ^[a-zA-Z0-9][\w\-]{0,max_tail}$ over ASCII. A table keeps this cheap: it
 * runs on every logging call. 1 = alnum, 2 = '_' or '-'. */
static const unsigned char id_class[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['_'] = 2, ['-'] = 2,
};

static bool id_ok(const char *id, size_t max_tail)
{
    const unsigned char *s = (const unsigned char *)id;
    if (id_class[s[0]] != 1)
        return false;
    size_t i = 1;
    while (id_class[s[i]])
        i++;
    return s[i] == '\0' && i <= max_tail + 1;
}

int mlflow__validate_run_id(const char *run_id, struct mlflow_error *err)
{
    if (!run_id || !*run_id)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'run_id'");
    if (!id_ok(run_id, 255))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Invalid run ID: '%.*s%s'",
                              Q(run_id));
    return MLFLOW_OK;
}

int mlflow__validate_experiment_id(const char *id, struct mlflow_error *err)
{
    if (!id || !*id)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Missing value for required parameter 'experiment_id'");
    if (!id_ok(id, 63))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid experiment ID: '%.*s%s'", Q(id));
    return MLFLOW_OK;
}

int mlflow__validate_experiment_name(const char *name, struct mlflow_error *err)
{
    if (!name || !*name)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid experiment name: '%s'. Expects a non-empty string.",
                              name ? name : "None");
    if (!mlflow__utf8_valid(name, strlen(name)))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid experiment name: it is not valid UTF-8");
    size_t len = mlflow__utf8_len(name);
    if (len > MLFLOW_MAX_EXPERIMENT_NAME_LENGTH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Experiment name '%.*s%s' had length %zu, which exceeded length "
                              "limit of %d",
                              Q(name), len, MLFLOW_MAX_EXPERIMENT_NAME_LENGTH);
    return MLFLOW_OK;
}

int mlflow__validate_value(const char *kind, const char *key, const char *value,
                           size_t max_chars, size_t *len_out, struct mlflow_error *err)
{
    size_t n = strlen(value);
    if (!mlflow__utf8_valid(value, n))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value for %s '%.*s%s': it is not valid UTF-8", kind,
                              Q(key));
    *len_out = n;
    if (n <= max_chars) /* fast path: bytes bound characters */
        return MLFLOW_OK;
    size_t chars = mlflow__utf8_len(value);
    if (chars <= max_chars)
        return MLFLOW_OK;
    if (mlflow__env_bool("MLFLOW_TRUNCATE_LONG_VALUES", true)) {
        *len_out = mlflow__utf8_prefix(value, max_chars);
        return MLFLOW_OK;
    }
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "%s value '%.*s%s' for key '%.*s%s' had length %zu, which exceeded "
                          "length limit of %zu",
                          kind, Q(value), Q(key), chars, max_chars);
}

int mlflow__validate_metric(const struct mlflow_metric *m, struct mlflow_error *err)
{
    int rc = mlflow__validate_key("metric", m->key, err);
    if (rc)
        return rc;
    if (m->timestamp < 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Got invalid timestamp %lld for metric '%.*s%s' (value=%g). "
                              "Timestamp must be a nonnegative long (64-bit integer)",
                              (long long)m->timestamp, Q(m->key), m->value);
    return MLFLOW_OK;
}

int mlflow__validate_batch_sizes(size_t n_metrics, size_t n_params, size_t n_tags,
                                 struct mlflow_error *err)
{
    if (n_metrics > MLFLOW_MAX_METRICS_PER_BATCH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "A batch logging request can contain at most %d metrics. Got %zu "
                              "metrics. Please split up metrics across multiple requests and try "
                              "again.",
                              MLFLOW_MAX_METRICS_PER_BATCH, n_metrics);
    if (n_params > MLFLOW_MAX_PARAMS_TAGS_PER_BATCH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "A batch logging request can contain at most %d params. Got %zu "
                              "params. Please split up params across multiple requests and try "
                              "again.",
                              MLFLOW_MAX_PARAMS_TAGS_PER_BATCH, n_params);
    if (n_tags > MLFLOW_MAX_PARAMS_TAGS_PER_BATCH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "A batch logging request can contain at most %d tags. Got %zu "
                              "tags. Please split up tags across multiple requests and try again.",
                              MLFLOW_MAX_PARAMS_TAGS_PER_BATCH, n_tags);
    size_t total = n_metrics + n_params + n_tags;
    if (total > MLFLOW_MAX_ENTITIES_PER_BATCH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "A batch logging request can contain at most %d metrics, params "
                              "and tags in total. Got %zu. Please split up the request and try "
                              "again.",
                              MLFLOW_MAX_ENTITIES_PER_BATCH, total);
    return MLFLOW_OK;
}

int mlflow__validate_artifact_path(const char *path, struct mlflow_error *err)
{
    if (!path || !*path)
        return MLFLOW_OK;
    if (path[0] == '/' || strchr(path, '\\') ||
        (((path[0] | 0x20) >= 'a' && (path[0] | 0x20) <= 'z') && path[1] == ':'))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid artifact path: '%.*s%s'. It must be a relative path "
                              "with '/' separators.",
                              Q(path));
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid artifact path: '%.*s%s'. It contains a control "
                                  "character.",
                                  Q(path));
    const char *seg = path;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        /* A trailing '/' is tolerated (MLflow users write "dir/"). */
        if ((len == 0 && end) || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid artifact path: '%.*s%s'. '..' and empty path "
                                  "components are not allowed.",
                                  Q(path));
        if (!end || end[1] == '\0')
            return MLFLOW_OK;
        seg = end + 1;
    }
}

/* MLflow's _validate_dataset_inputs: required fields, then lengths in
 * characters (the limits are its database columns'). */
int mlflow__validate_dataset_inputs(const struct mlflow_dataset_input *inputs, size_t n,
                                    struct mlflow_error *err)
{
    if (n > MLFLOW_MAX_DATASETS_PER_BATCH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "A batch logging request can contain at most %d datasets. Got %zu "
                              "datasets.",
                              MLFLOW_MAX_DATASETS_PER_BATCH, n);
    if (n && !inputs)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "log_inputs: inputs is NULL but its count is not zero");
    for (size_t i = 0; i < n; i++) {
        const struct mlflow_dataset *d = &inputs[i].dataset;
        const struct {
            const char *field, *value;
            bool required;
            size_t max;
        } f[] = {
            {"name", d->name, true, 500},
            {"digest", d->digest, true, 36},
            {"source_type", d->source_type, true, SIZE_MAX},
            {"source", d->source, true, 65535},
            {"schema", d->schema, false, 65535},
            {"profile", d->profile, false, 16777215},
        };
        for (size_t k = 0; k < MLFLOW_ARRAY_LEN(f); k++) {
            if (!f[k].value) {
                if (f[k].required)
                    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                          "Dataset %s cannot be None", f[k].field);
                continue;
            }
            if (f[k].max != SIZE_MAX && strlen(f[k].value) > f[k].max &&
                mlflow__utf8_len(f[k].value) > f[k].max)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Dataset %s exceeds the maximum length of %zu", f[k].field,
                                      f[k].max);
        }
        if (inputs[i].n_tags && !inputs[i].tags)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "log_inputs: tags is NULL but n_tags is not zero");
        for (size_t t = 0; t < inputs[i].n_tags; t++) {
            const struct mlflow_kv *kv = &inputs[i].tags[t];
            if (!kv->key)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "InputTag key cannot be None");
            if (!kv->value)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "InputTag value cannot be None");
            if (strlen(kv->key) > 255 && mlflow__utf8_len(kv->key) > 255)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "InputTag key exceeds the maximum length of 255");
            if (strlen(kv->value) > 500 && mlflow__utf8_len(kv->value) > 500)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "InputTag value exceeds the maximum length of 500");
        }
    }
    return MLFLOW_OK;
}
