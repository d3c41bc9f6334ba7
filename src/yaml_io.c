/*
 * yaml_io.c - PyYAML-compatible YAML on libyaml: the YAML 1.1 implicit
 * resolver, an emitter set up like CSafeDumper, and a document loader.
 *
 * The resolver's patterns are PyYAML's own regular expressions rewritten as
 * POSIX EREs. Both are anchored at both ends, so "some match exists" means
 * the same thing under Python's leftmost-first and POSIX's leftmost-longest
 * rules. PyYAML only tries the patterns registered for a scalar's first
 * character, and Python's `$` also matches before one final newline; both
 * quirks are reproduced because they decide which strings get quoted.
 */
#include "yaml_io.h"

#include <pthread.h>
#include <regex.h>
#include <string.h>

/* ---- the resolver ---- */

enum { RX_BOOL, RX_INT, RX_FLOAT, RX_TIMESTAMP, RX_COUNT };

static const char *const rx_src[RX_COUNT] = {
    [RX_BOOL] = "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    [RX_INT] = "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
               "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
    [RX_FLOAT] = "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
                 "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)"
                 "|\\.(nan|NaN|NAN))$",
    [RX_TIMESTAMP] = "^([0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
                     "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?"
                     ":[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?"
                     "([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$",
};

static regex_t rx[RX_COUNT];
static bool rx_ok;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;

static void rx_init(void)
{
    rx_ok = true;
    for (int i = 0; i < RX_COUNT; i++)
        if (regcomp(&rx[i], rx_src[i], REG_EXTENDED | REG_NOSUB) != 0)
            rx_ok = false;
}

/* regexec needs a NUL-terminated string; scalars here are short. */
static bool rx_match(int which, const char *s, size_t n)
{
    char small[256];
    char *buf = n < sizeof small ? small : mlflow__malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* A string with a NUL inside cannot match any pattern. */
    bool m = strlen(buf) == n && regexec(&rx[which], buf, 0, NULL, 0) == 0;
    if (buf != small)
        mlflow__free(buf);
    return m;
}

static bool word_in(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(*words, s, n) == 0)
            return true;
    return false;
}

/* PyYAML's resolver for one candidate text, first-character dispatch
 * included, in its registration order: bool, float, int, merge, null,
 * timestamp, value. */
static int resolve_exact(const char *s, size_t n, char first)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    if (n == 0 && first == '\0')
        return MLFLOW__YAML_NULL;
    if (strchr("yYnNtTfFoO", first) && first && rx_match(RX_BOOL, s, n))
        return MLFLOW__YAML_BOOL;
    if (strchr("-+0123456789.", first) && first && rx_match(RX_FLOAT, s, n))
        return MLFLOW__YAML_FLOAT;
    if (strchr("-+0123456789", first) && first && rx_match(RX_INT, s, n))
        return MLFLOW__YAML_INT;
    if (first == '<' && n == 2 && memcmp(s, "<<", 2) == 0)
        return MLFLOW__YAML_MERGE;
    if (strchr("~nN", first) && first && word_in(s, n, nulls))
        return MLFLOW__YAML_NULL;
    if (strchr("0123456789", first) && first && rx_match(RX_TIMESTAMP, s, n))
        return MLFLOW__YAML_TIMESTAMP;
    if (first == '=' && n == 1)
        return MLFLOW__YAML_VALUE;
    return MLFLOW__YAML_STR;
}

int mlflow__yaml_resolve_plain(const char *s, size_t n)
{
    pthread_once(&rx_once, rx_init);
    if (!rx_ok)
        return MLFLOW__YAML_STR;
    char first = n ? s[0] : '\0';
    int t = resolve_exact(s, n, first);
    /* Python's `$` also matches just before a final "\n". */
    if (t == MLFLOW__YAML_STR && n > 1 && s[n - 1] == '\n')
        t = resolve_exact(s, n - 1, first);
    return t;
}

/* ---- the writer ---- */

static int sb_write_handler(void *data, unsigned char *buffer, size_t size)
{
    struct mlflow__sb *sb = data;
    mlflow__sb_add(sb, (const char *)buffer, size);
    return !sb->oom;
}

static void emit(struct mlflow__yaml_writer *w, yaml_event_t *ev, int init_ok)
{
    if (w->failed)
        return;
    if (!init_ok || !yaml_emitter_emit(&w->emitter, ev))
        w->failed = true;
}

void mlflow__yaml_writer_init(struct mlflow__yaml_writer *w, struct mlflow__sb *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    if (!yaml_emitter_initialize(&w->emitter)) {
        w->failed = true;
        return;
    }
    w->started = true;
    yaml_emitter_set_output(&w->emitter, sb_write_handler, out);
    /* CSafeDumper(allow_unicode=True): everything else left at libyaml's
     * defaults, as PyYAML leaves them (indent 2, width 80, "\n" breaks). */
    yaml_emitter_set_unicode(&w->emitter, 1);
    yaml_event_t ev;
    emit(w, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    emit(w, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
}

void mlflow__yaml_map_start(struct mlflow__yaml_writer *w)
{
    yaml_event_t ev;
    emit(w, &ev,
         yaml_mapping_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_MAP_TAG, 1,
                                             YAML_BLOCK_MAPPING_STYLE));
}

void mlflow__yaml_map_end(struct mlflow__yaml_writer *w)
{
    yaml_event_t ev;
    emit(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void typed_scalar(struct mlflow__yaml_writer *w, const char *tag, const char *s, size_t n)
{
    yaml_event_t ev;
    emit(w, &ev,
         yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)s, (int)n, 1,
                                      0, YAML_ANY_SCALAR_STYLE));
}

void mlflow__yaml_str(struct mlflow__yaml_writer *w, const char *s)
{
    if (!s) {
        mlflow__yaml_null(w);
        return;
    }
    size_t n = strlen(s);
    if (w->failed)
        return;
    /* libyaml refuses invalid UTF-8 too, but its refusal looks like an
     * allocation failure; checking first tells the two apart. */
    if (n > INT32_MAX || !mlflow__utf8_valid(s, n)) {
        w->failed = w->bad_utf8 = true;
        return;
    }
    /* PyYAML's serializer: plain is implicit only when the resolver reads
     * the plain text back as a string; quoted is always implicit for str.
     * libyaml then picks plain, single or double quotes by itself. */
    int plain_implicit = mlflow__yaml_resolve_plain(s, n) == MLFLOW__YAML_STR;
    yaml_event_t ev;
    emit(w, &ev,
         yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)s,
                                      (int)n, plain_implicit, 1, YAML_ANY_SCALAR_STYLE));
}

void mlflow__yaml_int(struct mlflow__yaml_writer *w, int64_t v)
{
    char buf[24];
    size_t n = mlflow__fmt_int64(v, buf);
    typed_scalar(w, YAML_INT_TAG, buf, n);
}

void mlflow__yaml_null(struct mlflow__yaml_writer *w)
{
    typed_scalar(w, YAML_NULL_TAG, "null", 4);
}

void mlflow__yaml_empty_seq(struct mlflow__yaml_writer *w)
{
    yaml_event_t ev;
    emit(w, &ev,
         yaml_sequence_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_SEQ_TAG, 1,
                                              YAML_BLOCK_SEQUENCE_STYLE));
    emit(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

static int kv_cmp(const void *a, const void *b)
{
    /* strcmp orders UTF-8 by code point, which is Python's str order. */
    return strcmp(((const struct mlflow_kv *)a)->key, ((const struct mlflow_kv *)b)->key);
}

void mlflow__yaml_str_map(struct mlflow__yaml_writer *w, const struct mlflow_kv *kv, size_t n)
{
    struct mlflow_kv *sorted = NULL;
    if (n) {
        sorted = mlflow__malloc(n * sizeof *sorted);
        if (!sorted) {
            w->failed = true;
            return;
        }
        memcpy(sorted, kv, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, kv_cmp);
    }
    mlflow__yaml_map_start(w);
    for (size_t i = 0; i < n; i++) {
        mlflow__yaml_str(w, sorted[i].key);
        mlflow__yaml_str(w, sorted[i].value ? sorted[i].value : "");
    }
    mlflow__yaml_map_end(w);
    mlflow__free(sorted);
}

int mlflow__yaml_writer_finish(struct mlflow__yaml_writer *w, struct mlflow_error *err)
{
    yaml_event_t ev;
    emit(w, &ev, yaml_document_end_event_initialize(&ev, 1));
    emit(w, &ev, yaml_stream_end_event_initialize(&ev));
    int rc = MLFLOW_OK;
    if (w->bad_utf8)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot write a value to YAML: it is not valid UTF-8");
    else if (w->started && w->emitter.error == YAML_EMITTER_ERROR)
        rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Cannot write YAML: %s",
                            w->emitter.problem ? w->emitter.problem : "emitter error");
    else if (w->failed || (w->out && w->out->oom))
        rc = mlflow__oom(err);
    if (w->started)
        yaml_emitter_delete(&w->emitter);
    w->started = false;
    return rc;
}

/* ---- the reader ---- */

/* libyaml has no bound on nesting, and its scanner slows down with the
 * square of the depth of flow collections: 80 KB of '[' take it 20 s. The
 * files we read are flat, so anything nested deeper than this is refused. */
#define MAX_DEPTH 64

/* Flow nesting deeper than MAX_DEPTH takes more than MAX_DEPTH brackets,
 * so most files skip the depth pass. (Deep block nesting costs libyaml only
 * linear time and is not looked for.) */
static bool few_brackets(const char *buf, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '[' || buf[i] == '{';
    return n <= MAX_DEPTH;
}

/* An event pass that stops at the first level too deep, before the
 * scanner has gone far into it. Parse errors are left to the real load. */
static int check_depth(const char *buf, size_t len, const char *what, struct mlflow_error *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory reading YAML");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int rc = MLFLOW_OK, depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR)
                rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory reading YAML");
            break;
        }
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) {
                rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                    "Malformed YAML in %s: nested deeper than %d levels", what,
                                    MAX_DEPTH);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

int mlflow__yaml_load(struct mlflow__yaml_doc *d, const char *buf, size_t len, const char *what,
                      struct mlflow_error *err)
{
    memset(d, 0, sizeof *d);
    int rc = few_brackets(buf, len) ? MLFLOW_OK : check_depth(buf, len, what, err);
    if (rc)
        return rc;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory reading YAML");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&p, &d->doc)) {
        if (p.error == YAML_MEMORY_ERROR)
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory reading YAML");
        else
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Malformed YAML in %s: %s at line %zu",
                                what, p.problem ? p.problem : "parse error",
                                p.problem_mark.line + 1);
    } else {
        d->loaded = true;
    }
    yaml_parser_delete(&p);
    return rc;
}

void mlflow__yaml_doc_free(struct mlflow__yaml_doc *d)
{
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = false;
}

yaml_node_t *mlflow__yaml_root(struct mlflow__yaml_doc *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

yaml_node_t *mlflow__yaml_map_get(struct mlflow__yaml_doc *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    size_t klen = strlen(key);
    yaml_node_t *found = NULL;
    /* The last duplicate wins, as in PyYAML's constructor. */
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
            memcmp(k->data.scalar.value, key, klen) == 0)
            found = yaml_document_get_node(&d->doc, p->value);
    }
    return found;
}

int mlflow__yaml_scalar_type(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return 0;
    const char *tag = (const char *)n->tag;
    static const struct {
        const char *tag;
        int type;
    } tags[] = {
        {YAML_NULL_TAG, MLFLOW__YAML_NULL},   {YAML_BOOL_TAG, MLFLOW__YAML_BOOL},
        {YAML_INT_TAG, MLFLOW__YAML_INT},     {YAML_FLOAT_TAG, MLFLOW__YAML_FLOAT},
        {YAML_TIMESTAMP_TAG, MLFLOW__YAML_TIMESTAMP},
    };
    for (size_t i = 0; tag && i < MLFLOW_ARRAY_LEN(tags); i++)
        if (strcmp(tag, tags[i].tag) == 0)
            return tags[i].type;
    /* libyaml gives untagged scalars the str tag whatever their style, so
     * the style tells plain (resolved) from quoted (always a string). */
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return MLFLOW__YAML_STR;
    return mlflow__yaml_resolve_plain((const char *)n->data.scalar.value, n->data.scalar.length);
}

const char *mlflow__yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool digits_value(const char *s, int base, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return false;
        if (d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

bool mlflow__yaml_int_value(const yaml_node_t *n, int64_t *out)
{
    if (mlflow__yaml_scalar_type(n) != MLFLOW__YAML_INT)
        return false;
    const char *src = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    char buf[128];
    size_t o = 0;
    /* PyYAML drops every '_' before converting. */
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '_' || src[i] == '\n')
            continue;
        if (o + 1 >= sizeof buf)
            return false;
        buf[o++] = src[i];
    }
    buf[o] = '\0';
    char *s = buf;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    uint64_t v = 0;
    bool ok;
    if (strcmp(s, "0") == 0) {
        ok = true;
    } else if (strncmp(s, "0b", 2) == 0) {
        ok = digits_value(s + 2, 2, &v);
    } else if (strncmp(s, "0x", 2) == 0) {
        ok = digits_value(s + 2, 16, &v);
    } else if (s[0] == '0') {
        ok = digits_value(s, 8, &v);
    } else if (strchr(s, ':')) {
        ok = true;
        for (char *save = NULL, *part = strtok_r(s, ":", &save); part && ok;
             part = strtok_r(NULL, ":", &save)) {
            uint64_t d;
            ok = digits_value(part, 10, &d) && v <= (UINT64_MAX - d) / 60;
            if (ok)
                v = v * 60 + d;
        }
    } else {
        ok = digits_value(s, 10, &v);
    }
    if (!ok || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}
