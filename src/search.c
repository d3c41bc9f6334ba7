/*
 * search.c - MLflow's search language (spec section 6): filter and order_by
 * strings parsed into the trees of search.h, and their in-memory evaluation
 * and ordering for the file store.
 *
 * MLflow tokenises with sqlparse and then inspects the tokens. This file is a
 * hand-written scanner for the subset of SQL that MLflow accepts, checked
 * against MLflow 2.12.2 with the sqlparse it runs on. Checks happen in
 * MLflow's order (identifier, then value, then comparator), so the first
 * error reported is the one MLflow reports; errors that MLflow only raises
 * while evaluating (a comparator the type does not allow, a fractional
 * start_time) are raised here at parse time, so every store rejects them the
 * same way, even when there is nothing to evaluate.
 *
 * Deliberate differences, all on inputs MLflow itself handles badly:
 *   - LIKE follows SQL (only '%' and '_' are special, no escape character).
 *     MLflow's file store turns the pattern into a regular expression, so
 *     '.' or '[' in a pattern behave differently there than in its SQL store.
 *   - "run_id = ('a')" (a list without IN) and "run_id IN 'a'" are errors;
 *     MLflow accepts them and then never matches / does a substring test.
 *   - Quoted values are taken verbatim between the quotes, as MLflow does
 *     ('it''s' stays it''s); IN lists too (MLflow evaluates them as Python
 *     literals, which no run id or dataset name could rely on).
 */
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static int oom(struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory");
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* sqlparse's \w for names: ASCII letters, digits, '_', and (approximately)
 * every non-ASCII character. */
static bool is_word(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
           u == '_' || u >= 0x80;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_cmp_char(char c) { return c && strchr("<>=~!", c) != NULL; }

static const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 32) : c; }

/* Length of keyword kw (upper case) at p, matched case-insensitively as a
 * whole word; 0 if absent. */
static size_t match_kw(const char *p, const char *kw)
{
    size_t n = strlen(kw);
    for (size_t i = 0; i < n; i++)
        if (ascii_upper(p[i]) != kw[i])
            return 0;
    return is_word(p[n]) ? 0 : n;
}

/* A quoted run starting at p (p[0] is the quote): doubled quotes and
 * backslash escapes do not end it. Returns the length including both quotes,
 * 0 when unterminated. When the escape-aware scan runs off the end, a
 * backslash before the quote is taken literally instead, as sqlparse's
 * backtracking regular expression ends up doing ('C:\'). */
static size_t scan_quoted(const char *p)
{
    char q = p[0];
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 1;
        for (;;) {
            if (p[i] == '\0')
                break;
            if (p[i] == q) {
                if (p[i + 1] == q) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            if (pass == 0 && p[i] == '\\' && (p[i + 1] == '\\' || p[i + 1] == q)) {
                i += 2;
                continue;
            }
            i++;
        }
    }
    return 0;
}

/* A backquoted name: `` inside stands for one backtick. */
static size_t scan_backquoted(const char *p)
{
    size_t i = 1;
    for (;;) {
        if (p[i] == '\0')
            return 0;
        if (p[i] == '`') {
            if (p[i + 1] == '`') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
}

/* One part of a dotted name: a word, a `backquoted` or a "double-quoted" name. */
static size_t scan_segment(const char *p)
{
    if (*p == '`')
        return scan_backquoted(p);
    if (*p == '"')
        return scan_quoted(p);
    size_t n = 0;
    while (is_word(p[n]))
        n++;
    return n;
}

/* A dotted name such as metrics.`f1-score` or tags.a.b; 0 if none at p. */
static size_t scan_ident(const char *p)
{
    size_t n = scan_segment(p);
    if (!n)
        return 0;
    while (p[n] == '.') {
        size_t m = scan_segment(p + n + 1);
        if (!m)
            break;
        n += 1 + m;
    }
    return n;
}

/* From '(' to its matching ')', skipping quoted text; 0 if unbalanced. */
static size_t scan_parens(const char *p)
{
    int depth = 0;
    size_t i = 0;
    while (p[i]) {
        if (p[i] == '\'' || p[i] == '"') {
            size_t q = scan_quoted(p + i);
            if (!q)
                return 0;
            i += q;
            continue;
        }
        if (p[i] == '(')
            depth++;
        else if (p[i] == ')' && --depth == 0)
            return i + 1;
        i++;
    }
    return 0;
}

/* sqlparse's integer and float literals: -?(\d+(\.\d*)?|\.\d+)([eE]-?\d+)?,
 * not followed by a name character. Sets *integral for plain integers. */
static size_t scan_number(const char *p, bool *integral)
{
    size_t i = 0, digits = 0;
    *integral = true;
    if (p[i] == '-')
        i++;
    while (is_digit(p[i]))
        i++, digits++;
    if (p[i] == '.') {
        *integral = false;
        i++;
        while (is_digit(p[i]))
            i++, digits++;
    }
    if (!digits)
        return 0;
    if (p[i] == 'e' || p[i] == 'E') {
        size_t j = i + 1;
        if (p[j] == '-')
            j++;
        if (is_digit(p[j])) {
            while (is_digit(p[j]))
                j++;
            i = j;
            *integral = false;
        }
    }
    if (is_word(p[i]) || p[i] == '.')
        return 0;
    return i;
}

/* The extent of the offending token at p, for error messages. */
static size_t bad_token_len(const char *p)
{
    size_t n;
    if (*p == '(' && (n = scan_parens(p)))
        return n;
    if ((*p == '\'' || *p == '"') && (n = scan_quoted(p)))
        return n;
    /* A name (which may hold quoted spaces) or a run of non-blanks. */
    size_t m = scan_ident(p);
    n = 0;
    while (p[n] && !is_ws(p[n]))
        n++;
    if (m > n)
        n = m;
    return n ? n : 1;
}

static bool is_quoted_with(const char *s, size_t n, char q)
{
    return n >= 2 && s[0] == q && s[n - 1] == q;
}

/* Python's str.islower(), ASCII-cased: some lowercase letter, no uppercase.
 * Non-ASCII characters count as lowercase letters (run ids are hex; this only
 * decides what survives in IN lists). */
static bool py_islower(const char *s)
{
    bool cased = false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z')
            return false;
        if ((c >= 'a' && c <= 'z') || c >= 0x80)
            cased = true;
    }
    return cased;
}

/* ---- the language's vocabulary ----------------------------------------- */

struct alias {
    const char *name;
    int ident;
};

static const struct alias run_types[] = {
    {"metric", MLFLOW__ID_METRIC},     {"metrics", MLFLOW__ID_METRIC},
    {"parameter", MLFLOW__ID_PARAM},   {"parameters", MLFLOW__ID_PARAM},
    {"param", MLFLOW__ID_PARAM},       {"params", MLFLOW__ID_PARAM},
    {"tag", MLFLOW__ID_TAG},           {"tags", MLFLOW__ID_TAG},
    {"attribute", MLFLOW__ID_ATTR},    {"attributes", MLFLOW__ID_ATTR},
    {"attr", MLFLOW__ID_ATTR},         {"run", MLFLOW__ID_ATTR},
    {"dataset", MLFLOW__ID_DATASET},   {"datasets", MLFLOW__ID_DATASET},
};

/* Experiments accept only these spellings, and no backquotes around them. */
static const struct alias experiment_types[] = {
    {"attribute", MLFLOW__ID_ATTR},
    {"tag", MLFLOW__ID_TAG},
    {"tags", MLFLOW__ID_TAG},
};

struct attr {
    const char *name;
    const char *canonical;
    bool numeric;
    bool searchable; /* else order_by only */
};

static const struct attr run_attrs[] = {
    {"run_id", "run_id", false, true},
    {"run_name", "run_name", false, true},
    {"user_id", "user_id", false, true},
    {"status", "status", false, true},
    {"artifact_uri", "artifact_uri", false, true},
    {"start_time", "start_time", true, true},
    {"end_time", "end_time", true, true},
    {"created", "start_time", true, true},
    {"Created", "start_time", true, true},
    {"run name", "run_name", false, true},
    {"Run name", "run_name", false, true},
    {"Run Name", "run_name", false, true},
};
/* The "run name" spellings are searchable but not orderable. */
#define RUN_ORDERABLE_ATTRS 9

static const struct attr experiment_attrs[] = {
    {"name", "name", false, true},
    {"creation_time", "creation_time", true, true},
    {"last_update_time", "last_update_time", true, true},
    {"experiment_id", "experiment_id", false, false},
};

#define RUN_SEARCH_KEYS                                                                  \
    "{'Created', 'Run Name', 'Run name', 'artifact_uri', 'created', 'end_time', "      \
    "'run name', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}"
#define RUN_ORDER_KEYS                                                                   \
    "{'Created', 'artifact_uri', 'created', 'end_time', 'run_id', 'run_name', "         \
    "'start_time', 'status', 'user_id'}"
#define EXP_SEARCH_KEYS "{'creation_time', 'last_update_time', 'name'}"
#define EXP_ORDER_KEYS "{'creation_time', 'experiment_id', 'last_update_time', 'name'}"
#define RUN_TYPES "['metric', 'parameter', 'tag', 'attribute', 'dataset']"
#define EXP_TYPES "('attribute', 'tag', 'tags')"

#define BIT(c) (1u << (c))
#define CMPS_NUMERIC                                                                     \
    (BIT(MLFLOW__CMP_EQ) | BIT(MLFLOW__CMP_NE) | BIT(MLFLOW__CMP_GT) | BIT(MLFLOW__CMP_GE) | \
     BIT(MLFLOW__CMP_LT) | BIT(MLFLOW__CMP_LE))
#define CMPS_STRING                                                                      \
    (BIT(MLFLOW__CMP_EQ) | BIT(MLFLOW__CMP_NE) | BIT(MLFLOW__CMP_LIKE) | BIT(MLFLOW__CMP_ILIKE))
#define CMPS_LIST (CMPS_STRING | BIT(MLFLOW__CMP_IN) | BIT(MLFLOW__CMP_NOT_IN))
#define CMPS_NUMERIC_TEXT "{'!=', '<', '<=', '=', '>', '>='}"
#define CMPS_STRING_TEXT "{'!=', '=', 'ILIKE', 'LIKE'}"
#define CMPS_LIST_TEXT "{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}"

static const struct attr *find_attr(const struct attr *tab, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, key) == 0)
            return &tab[i];
    return NULL;
}

static int find_type(const struct alias *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0)
            return tab[i].ident;
    return 0;
}

/* ---- identifiers -------------------------------------------------------- */

struct ident {
    int type;          /* enum mlflow__ident */
    char *key;         /* canonical for attributes */
    bool numeric;      /* numeric attribute */
    bool experiments;
};

enum ident_use { USE_FILTER, USE_ORDER };

/* Resolves "<type>.<key>" or a bare key (an attribute), the text being split
 * at its first '.' as MLflow does. For filters the key loses one layer of
 * quotes, then backquotes; order_by text arrives already unquoted. */
static int resolve_ident(const char *text, size_t len, bool experiments, enum ident_use use,
                         struct ident *out, struct mlflow_error *err)
{
    const char *dot = memchr(text, '.', len);
    const char *key = text;
    size_t klen = len;
    memset(out, 0, sizeof *out);
    out->experiments = experiments;
    out->type = MLFLOW__ID_ATTR;
    if (dot) {
        const char *t = text;
        size_t tlen = (size_t)(dot - text);
        key = dot + 1;
        klen = len - tlen - 1;
        if (experiments) {
            char buf[16];
            int type = 0;
            if (tlen < sizeof buf) {
                memcpy(buf, t, tlen);
                buf[tlen] = '\0';
                type = find_type(experiment_types, MLFLOW_ARRAY_LEN(experiment_types), buf);
            }
            if (!type)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Invalid entity type '%.*s'. Valid entity types are "
                                      EXP_TYPES, (int)tlen, t);
            out->type = type;
        } else {
            char buf[16];
            int type = 0;
            const char *tt = t;
            size_t ttlen = tlen;
            if (is_quoted_with(tt, ttlen, '`'))
                tt++, ttlen -= 2;
            if (ttlen < sizeof buf) {
                memcpy(buf, tt, ttlen);
                buf[ttlen] = '\0';
                type = find_type(run_types, MLFLOW_ARRAY_LEN(run_types), buf);
            }
            if (!type)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Invalid entity type '%.*s'. Valid values are " RUN_TYPES,
                                      (int)ttlen, tt);
            out->type = type;
        }
    }
    if (use == USE_FILTER) {
        if (is_quoted_with(key, klen, '\'') || is_quoted_with(key, klen, '"'))
            key++, klen -= 2;
        if (is_quoted_with(key, klen, '`'))
            key++, klen -= 2;
    }
    out->key = mlflow__strndup(key, klen);
    if (!out->key)
        return oom(err);

    if (out->type == MLFLOW__ID_ATTR) {
        const struct attr *a;
        const char *valid;
        if (experiments) {
            a = find_attr(experiment_attrs, MLFLOW_ARRAY_LEN(experiment_attrs), out->key);
            if (a && use == USE_FILTER && !a->searchable)
                a = NULL;
            valid = use == USE_FILTER ? EXP_SEARCH_KEYS : EXP_ORDER_KEYS;
        } else {
            size_t n = use == USE_FILTER ? MLFLOW_ARRAY_LEN(run_attrs) : RUN_ORDERABLE_ATTRS;
            a = find_attr(run_attrs, n, out->key);
            valid = use == USE_FILTER ? RUN_SEARCH_KEYS : RUN_ORDER_KEYS;
        }
        if (!a) {
            int rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                    "Invalid attribute key '%s' specified. Valid keys are '%s'",
                                    out->key, valid);
            mlflow__free(out->key);
            out->key = NULL;
            return rc;
        }
        out->numeric = a->numeric;
        if (strcmp(a->canonical, out->key) != 0) {
            char *c = mlflow__strdup(a->canonical);
            if (!c) {
                mlflow__free(out->key);
                out->key = NULL;
                return oom(err);
            }
            mlflow__free(out->key);
            out->key = c;
        }
    } else if (out->type == MLFLOW__ID_DATASET) {
        if (strcmp(out->key, "name") != 0 && strcmp(out->key, "digest") != 0 &&
            strcmp(out->key, "context") != 0) {
            int rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                    "Invalid dataset key '%s' specified. Valid keys are "
                                    "'{'context', 'digest', 'name'}'", out->key);
            mlflow__free(out->key);
            out->key = NULL;
            return rc;
        }
    }
    return MLFLOW_OK;
}

/* ---- filters ------------------------------------------------------------ */

static void cond_clear(struct mlflow__cond *c)
{
    mlflow__free(c->key);
    mlflow__free(c->str);
    for (size_t i = 0; i < c->n_list; i++)
        mlflow__free(c->list[i]);
    mlflow__free(c->list);
    memset(c, 0, sizeof *c);
}

void mlflow__filter_free(struct mlflow__filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        cond_clear(&f->conds[i]);
    mlflow__free(f->conds);
    mlflow__free(f);
}

enum vtype { VAL_NONE, VAL_STRING, VAL_DQ, VAL_NUMBER, VAL_LIST, VAL_WORD };

struct value {
    enum vtype type;
    const char *p; /* the whole token */
    size_t n;
    bool integral;
};

static struct value scan_value(const char *p)
{
    struct value v = {VAL_NONE, p, 0, false};
    size_t n;
    if (*p == '\0')
        return v;
    if (*p == '\'' && (n = scan_quoted(p))) {
        v.type = VAL_STRING;
    } else if (*p == '"' && (n = scan_quoted(p))) {
        v.type = VAL_DQ;
    } else if (*p == '(' && (n = scan_parens(p))) {
        v.type = VAL_LIST;
    } else if ((n = scan_number(p, &v.integral))) {
        v.type = VAL_NUMBER;
    } else {
        n = bad_token_len(p);
        v.type = VAL_WORD;
    }
    v.n = n;
    return v;
}

/* The comparator after an identifier: an operator run (checked later, as
 * MLflow accepts any run of <>=~! at this stage) or LIKE / ILIKE / IN /
 * NOT IN, case-insensitive. */
struct comparator {
    int cmp;       /* 0 when the text is no comparator MLflow knows */
    char text[32]; /* upper-cased, for messages */
    size_t n;      /* length in the source; 0 if there is no comparator */
};

static struct comparator scan_comparator(const char *p)
{
    struct comparator c = {0, "", 0};
    size_t n = 0, k;
    if (is_cmp_char(*p)) {
        while (is_cmp_char(p[n]))
            n++;
        snprintf(c.text, sizeof c.text, "%.*s", (int)n, p);
        static const struct {
            const char *op;
            int cmp;
        } ops[] = {{"=", MLFLOW__CMP_EQ}, {"!=", MLFLOW__CMP_NE}, {">", MLFLOW__CMP_GT},
                   {">=", MLFLOW__CMP_GE}, {"<", MLFLOW__CMP_LT}, {"<=", MLFLOW__CMP_LE}};
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(ops); i++)
            if (strcmp(c.text, ops[i].op) == 0)
                c.cmp = ops[i].cmp;
        c.n = n;
        return c;
    }
    if ((k = match_kw(p, "LIKE"))) {
        c.cmp = MLFLOW__CMP_LIKE;
        snprintf(c.text, sizeof c.text, "LIKE");
        c.n = k;
    } else if ((k = match_kw(p, "ILIKE"))) {
        c.cmp = MLFLOW__CMP_ILIKE;
        snprintf(c.text, sizeof c.text, "ILIKE");
        c.n = k;
    } else if ((k = match_kw(p, "IN"))) {
        c.cmp = MLFLOW__CMP_IN;
        snprintf(c.text, sizeof c.text, "IN");
        c.n = k;
    } else if ((k = match_kw(p, "NOT")) && is_ws(p[k])) {
        const char *q = skip_ws(p + k);
        size_t m;
        if ((m = match_kw(q, "IN"))) {
            c.cmp = MLFLOW__CMP_NOT_IN;
            snprintf(c.text, sizeof c.text, "NOT IN");
            c.n = (size_t)(q - p) + m;
        } else if ((m = match_kw(q, "LIKE")) || (m = match_kw(q, "ILIKE"))) {
            /* sqlparse makes "NOT LIKE" one comparator; MLflow refuses it. */
            snprintf(c.text, sizeof c.text, "NOT %s", ascii_upper(*q) == 'I' ? "ILIKE" : "LIKE");
            c.n = (size_t)(q - p) + m;
        }
    }
    return c;
}

/* Parses the inside of "( 'a', 'b' )" into c->list, dropping values with
 * uppercase letters as MLflow does (its run ids are lowercase hex). */
static int parse_list(const struct value *v, struct mlflow__cond *c, struct mlflow_error *err)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    size_t cap = 0;
    p = skip_ws(p);
    if (p == end)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "While parsing a list in the query, expected a non-empty list of "
                              "string values, but got empty list");
    for (;;) {
        size_t n = *p == '\'' ? scan_quoted(p) : 0;
        if (!n || p + n > end)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "While parsing a list in the query, expected string value, "
                                  "punctuation, or whitespace, but got different type in list: "
                                  "%.*s", (int)v->n, v->p);
        char *s = mlflow__strndup(p + 1, n - 2);
        if (!s)
            return oom(err);
        if (!py_islower(s)) {
            mlflow__free(s);
        } else {
            if (c->n_list == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                char **l = mlflow__realloc(c->list, ncap * sizeof *l);
                if (!l) {
                    mlflow__free(s);
                    return oom(err);
                }
                c->list = l;
                cap = ncap;
            }
            c->list[c->n_list++] = s;
        }
        p = skip_ws(p + n);
        if (p == end)
            return MLFLOW_OK;
        if (*p != ',')
            break;
        p = skip_ws(p + 1);
        if (p == end)
            break; /* trailing comma */
    }
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "While parsing a list in the query, expected a non-empty list of "
                          "string values, but got ill-formed list.");
}

/* Checks the value token against the identifier's type, in MLflow's order
 * and with its messages, and stores it in c. */
static int take_value(const struct ident *id, const char *raw_key, const struct value *v,
                      struct mlflow__cond *c, struct mlflow_error *err)
{
    int tok = (int)v->n;
    const char *tp = v->p;
    bool numeric = id->type == MLFLOW__ID_METRIC || (id->type == MLFLOW__ID_ATTR && id->numeric);

    if (numeric) {
        if (v->type != VAL_NUMBER) {
            if (id->type == MLFLOW__ID_METRIC)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Expected numeric value type for metric. Found %.*s", tok,
                                      tp);
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Expected numeric value type for numeric attribute: %s. "
                                  "Found %.*s", raw_key, tok, tp);
        }
        char *s = mlflow__strndup(tp, v->n);
        if (!s)
            return oom(err);
        c->numeric = true;
        c->num = strtod(s, NULL);
        mlflow__free(s);
        return MLFLOW_OK;
    }
    if (v->type == VAL_STRING || v->type == VAL_DQ) {
        c->str = mlflow__strndup(tp + 1, v->n - 2);
        return c->str ? MLFLOW_OK : oom(err);
    }
    if (v->type == VAL_WORD && scan_ident(tp) == v->n)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Parameter value is either not quoted or unidentified quote types "
                              "used for string value %.*s. Use either single or double quotes.",
                              tok, tp);
    switch (id->type) {
    case MLFLOW__ID_PARAM:
    case MLFLOW__ID_TAG:
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Expected a quoted string value for %s (e.g. 'my-value'). Got "
                              "value %.*s", id->type == MLFLOW__ID_TAG ? "tag" : "parameter",
                              tok, tp);
    case MLFLOW__ID_ATTR:
        if (v->type == VAL_LIST) {
            if (strcmp(id->key, "run_id") != 0 || id->experiments)
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Only the 'run_id' attribute supports comparison with a "
                                      "list of quoted string values.");
            return parse_list(v, c, err);
        }
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Expected a quoted string value for attributes. Got value %.*s",
                              tok, tp);
    default: /* dataset */
        if (v->type == VAL_LIST)
            return parse_list(v, c, err);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Expected a quoted string value for dataset attributes. Got value "
                              "%.*s", tok, tp);
    }
}

static int check_comparator(const struct ident *id, const struct comparator *cmp,
                            const struct value *v, struct mlflow__cond *c,
                            struct mlflow_error *err)
{
    unsigned allowed;
    const char *text;
    switch (id->type) {
    case MLFLOW__ID_METRIC:
        allowed = CMPS_NUMERIC, text = CMPS_NUMERIC_TEXT;
        break;
    case MLFLOW__ID_PARAM:
    case MLFLOW__ID_TAG:
        allowed = CMPS_STRING, text = CMPS_STRING_TEXT;
        break;
    case MLFLOW__ID_ATTR:
        if (id->numeric)
            allowed = CMPS_NUMERIC, text = CMPS_NUMERIC_TEXT;
        else if (id->experiments)
            allowed = CMPS_STRING, text = CMPS_STRING_TEXT;
        else
            allowed = CMPS_LIST, text = CMPS_LIST_TEXT;
        break;
    default:
        allowed = CMPS_LIST, text = CMPS_LIST_TEXT;
        break;
    }
    if (!cmp->cmp || !(allowed & BIT(cmp->cmp)))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid comparator '%s' not one of '%s'", cmp->text, text);
    bool list_cmp = cmp->cmp == MLFLOW__CMP_IN || cmp->cmp == MLFLOW__CMP_NOT_IN;
    if (list_cmp != (v->type == VAL_LIST))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              list_cmp ? "Comparator '%s' needs a parenthesised list of quoted "
                                         "strings, got %.*s"
                                       : "Comparator '%s' cannot compare with a list: %.*s; use "
                                         "IN or NOT IN",
                              cmp->text, (int)v->n, v->p);
    /* MLflow evaluates run times with int(value), which refuses "1.5". */
    if (id->type == MLFLOW__ID_ATTR && id->numeric && !id->experiments && !v->integral)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Expected an integer value for numeric attribute: %s. Found %.*s",
                              id->key, (int)v->n, v->p);
    c->cmp = cmp->cmp;
    return MLFLOW_OK;
}

static int invalid_clause(struct mlflow_error *err, const char *p)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid clause(s) in filter string: '%.*s'", (int)bad_token_len(p), p);
}

/* One "<identifier> <comparator> <value>" at *pp. */
static int parse_comparison(const char **pp, bool experiments, struct mlflow__cond *c,
                            struct mlflow_error *err)
{
    const char *p = *pp;
    size_t ilen = scan_ident(p);
    if (!ilen)
        return invalid_clause(err, p);
    if (!(is_ws(p[ilen]) || is_cmp_char(p[ilen]) || p[ilen] == '\0')) {
        /* A name running into other characters, as in metrics.f1-score. */
        size_t n = ilen;
        while (p[n] && !is_ws(p[n]) && !is_cmp_char(p[n]))
            n++;
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid clause(s) in filter string: '%.*s' (quote keys that "
                              "contain special characters with backticks or double quotes)",
                              (int)n, p);
    }

    const char *q = skip_ws(p + ilen);
    struct comparator cmp = scan_comparator(q);
    if (!cmp.n) {
        if (*q == '\0')
            return invalid_clause(err, p);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid clause(s) in filter string: '%.*s', '%.*s'", (int)ilen, p,
                              (int)bad_token_len(q), q);
    }
    const char *r = skip_ws(q + cmp.n);
    struct value v = scan_value(r);
    if (v.type == VAL_NONE)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid clause(s) in filter string: '%.*s', '%.*s'", (int)ilen, p,
                              (int)cmp.n, q);
    if ((cmp.cmp == MLFLOW__CMP_IN || cmp.cmp == MLFLOW__CMP_NOT_IN) && v.type != VAL_LIST)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid clause(s) in filter string: '%.*s', '%s', '%.*s'",
                              (int)ilen, p, cmp.text, (int)v.n, v.p);

    struct ident id;
    int rc = resolve_ident(p, ilen, experiments, USE_FILTER, &id, err);
    if (rc)
        return rc;
    c->ident = id.type;
    c->key = id.key; /* owned by c from here on */

    /* The raw attribute spelling ("created") names the key in messages. */
    char raw_key[32] = "";
    if (id.type == MLFLOW__ID_ATTR) {
        const char *k = memchr(p, '.', ilen);
        k = k ? k + 1 : p;
        size_t kn = ilen - (size_t)(k - p);
        if (is_quoted_with(k, kn, '\'') || is_quoted_with(k, kn, '"') ||
            is_quoted_with(k, kn, '`'))
            k++, kn -= 2;
        snprintf(raw_key, sizeof raw_key, "%.*s", (int)kn, k);
    }
    if ((rc = take_value(&id, raw_key, &v, c, err)) ||
        (rc = check_comparator(&id, &cmp, &v, c, err)))
        return rc;
    *pp = v.p + v.n;
    return MLFLOW_OK;
}

static int filter_parse(const char *s, bool experiments, struct mlflow__filter **out,
                        struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__filter *f = mlflow__calloc(1, sizeof *f);
    if (!f)
        return oom(err);
    if (!s || !*s) {
        *out = f;
        return MLFLOW_OK;
    }
    int rc = MLFLOW_OK;
    size_t cap = 0;
    const char *p = skip_ws(s);
    if (*p == '\0') {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Invalid filter '%s'. Could not be parsed.", s);
        goto fail;
    }
    /* MLflow accepts comparisons joined by AND, and (a sqlparse artefact)
     * also stray, leading, trailing and missing ANDs between them. */
    while (*p) {
        size_t k = match_kw(p, "AND");
        if (k) {
            p = skip_ws(p + k);
            continue;
        }
        if (*p == ';') {
            if (*skip_ws(p + 1))
                rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                    "Search filter contained multiple expression '%s'. Provide "
                                    "AND-ed expression list.", s);
            else
                rc = invalid_clause(err, p);
            goto fail;
        }
        if (f->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct mlflow__cond *nc = mlflow__realloc(f->conds, ncap * sizeof *nc);
            if (!nc) {
                rc = oom(err);
                goto fail;
            }
            f->conds = nc;
            cap = ncap;
        }
        struct mlflow__cond *c = &f->conds[f->n];
        memset(c, 0, sizeof *c);
        f->n++; /* counted now so that mlflow__filter_free releases a half-built one */
        if ((rc = parse_comparison(&p, experiments, c, err)))
            goto fail;
        p = skip_ws(p);
    }
    *out = f;
    return MLFLOW_OK;
fail:
    mlflow__filter_free(f);
    return rc;
}

int mlflow__filter_parse_runs(const char *s, struct mlflow__filter **out,
                              struct mlflow_error *err)
{
    return filter_parse(s, false, out, err);
}

int mlflow__filter_parse_experiments(const char *s, struct mlflow__filter **out,
                                     struct mlflow_error *err)
{
    return filter_parse(s, true, out, err);
}

/* ---- order_by ----------------------------------------------------------- */

void mlflow__orders_free(struct mlflow__orders *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        mlflow__free(o->items[i].key);
    mlflow__free(o->items);
    mlflow__free(o);
}

/* One "<identifier> [ASC|DESC]". MLflow reads it as a single sqlparse
 * identifier, so surrounding whitespace or anything after the direction
 * makes it unparseable; quotes are then dropped (shlex) before the split. */
static int order_parse_one(const char *s, bool experiments, struct mlflow__order *o,
                           struct mlflow_error *err)
{
    size_t ilen = scan_ident(s);
    bool ascending = true;
    if (!ilen)
        goto unparseable;
    if (s[ilen]) {
        const char *d = s + ilen;
        if (!is_ws(*d))
            goto unparseable;
        d = skip_ws(d);
        size_t wn = 0;
        while (is_word(d[wn]))
            wn++;
        if (!wn || d[wn] != '\0')
            goto unparseable;
        if (wn == 3 && match_kw(d, "ASC"))
            ascending = true;
        else if (wn == 4 && match_kw(d, "DESC"))
            ascending = false;
        else
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid ordering key in order_by clause '%s'.", s);
    }

    char *text = mlflow__malloc(ilen + 1);
    if (!text)
        return oom(err);
    size_t n = 0;
    for (size_t i = 0; i < ilen; i++)
        if (s[i] != '`' && s[i] != '"')
            text[n++] = s[i];
    text[n] = '\0';
    struct ident id;
    int rc = resolve_ident(text, n, experiments, USE_ORDER, &id, err);
    mlflow__free(text);
    if (rc)
        return rc;
    if (id.type == MLFLOW__ID_DATASET || (experiments && id.type != MLFLOW__ID_ATTR)) {
        mlflow__free(id.key);
        if (experiments)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Invalid order_by entity: tag");
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid order_by entity type 'dataset'");
    }
    o->ident = id.type;
    o->key = id.key;
    o->ascending = ascending;
    return MLFLOW_OK;

unparseable:
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid order_by clause '%s'. Could not be parsed.", s);
}

static int orders_parse(const char *const *order_by, size_t n, bool experiments,
                        struct mlflow__orders **out, struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__orders *o = mlflow__calloc(1, sizeof *o);
    if (!o)
        return oom(err);
    if (n) {
        o->items = mlflow__calloc(n, sizeof *o->items);
        if (!o->items) {
            mlflow__free(o);
            return oom(err);
        }
    }
    for (size_t i = 0; i < n; i++) {
        int rc = order_parse_one(order_by[i] ? order_by[i] : "", experiments, &o->items[i], err);
        if (rc) {
            mlflow__orders_free(o);
            return rc;
        }
        o->n++;
    }
    *out = o;
    return MLFLOW_OK;
}

int mlflow__orders_parse_runs(const char *const *order_by, size_t n, struct mlflow__orders **out,
                              struct mlflow_error *err)
{
    return orders_parse(order_by, n, false, out, err);
}

int mlflow__orders_parse_experiments(const char *const *order_by, size_t n,
                                     struct mlflow__orders **out, struct mlflow_error *err)
{
    return orders_parse(order_by, n, true, out, err);
}

/* ---- LIKE --------------------------------------------------------------- */

/* Decodes one UTF-8 code point; a malformed byte stands for itself (as an
 * unpaired surrogate), so every byte sequence advances. */
static uint32_t utf8_next(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t c = p[0];
    size_t n = 1;
    if (c >= 0xC2 && c <= 0xDF && (p[1] & 0xC0) == 0x80) {
        c = ((c & 0x1F) << 6) | (p[1] & 0x3F);
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        c = ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        n = 3;
    } else if (c >= 0xF0 && c <= 0xF4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
               (p[3] & 0xC0) == 0x80) {
        c = ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
            ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        n = 4;
    } else if (c >= 0x80) {
        c = 0xDC00 + c;
    }
    *pp = p + n;
    return c;
}

/* Simple lowercase mapping: ASCII, Latin-1, Latin Extended-A, basic Greek
 * and Cyrillic. Enough for ILIKE on the names people give runs. */
static uint32_t fold(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && c % 2 == 0)
            return c + 1;
        if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1)
            return c + 1;
        return c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

bool mlflow__like(const char *pattern, const char *s, bool case_insensitive)
{
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *t = (const unsigned char *)s;
    const unsigned char *star_p = NULL, *star_t = NULL;
    if (!pattern || !s)
        return false;
    /* Greedy matching with one backtrack point, the last '%' seen: a later
     * '%' subsumes every choice an earlier one could make. */
    while (*t) {
        if (*p == '%') {
            while (*p == '%')
                p++;
            star_p = p;
            star_t = t;
            continue;
        }
        if (*p) {
            const unsigned char *pn = p, *tn = t;
            uint32_t pc = utf8_next(&pn);
            uint32_t tc = utf8_next(&tn);
            if (pc == '_' || pc == tc || (case_insensitive && fold(pc) == fold(tc))) {
                p = pn;
                t = tn;
                continue;
            }
        }
        if (!star_p)
            return false;
        p = star_p;
        utf8_next(&star_t);
        t = star_t;
    }
    while (*p == '%')
        p++;
    return *p == '\0';
}

/* ---- evaluation --------------------------------------------------------- */

enum vkind { V_MISSING, V_NUM, V_INT, V_STR };

struct val {
    enum vkind kind;
    double num;
    int64_t i;
    const char *str;
};

static struct val str_val(const char *s)
{
    struct val v = {s ? V_STR : V_MISSING, 0, 0, s};
    return v;
}

static struct val time_val(int64_t t)
{
    struct val v = {t == MLFLOW_TIME_UNSET ? V_MISSING : V_INT, 0, t, NULL};
    return v;
}

static const char *kv_get(const struct mlflow_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; kv && i < n; i++)
        if (kv[i].key && strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static struct val run_value(const struct mlflow_run *r, int ident, const char *key)
{
    struct val v = {V_MISSING, 0, 0, NULL};
    const struct mlflow_run_info *in = &r->info;
    switch (ident) {
    case MLFLOW__ID_METRIC:
        for (size_t i = 0; i < r->data.n_metrics; i++) {
            if (r->data.metrics[i].key && strcmp(r->data.metrics[i].key, key) == 0) {
                v.kind = V_NUM;
                v.num = r->data.metrics[i].value;
                break;
            }
        }
        return v;
    case MLFLOW__ID_PARAM:
        return str_val(kv_get(r->data.params, r->data.n_params, key));
    case MLFLOW__ID_TAG:
        return str_val(kv_get(r->data.tags, r->data.n_tags, key));
    case MLFLOW__ID_ATTR:
        if (strcmp(key, "run_id") == 0)
            return str_val(in->run_id);
        if (strcmp(key, "run_name") == 0)
            return str_val(in->run_name);
        if (strcmp(key, "user_id") == 0)
            return str_val(in->user_id);
        if (strcmp(key, "status") == 0)
            return str_val(mlflow_run_status_name(in->status));
        if (strcmp(key, "artifact_uri") == 0)
            return str_val(in->artifact_uri);
        if (strcmp(key, "lifecycle_stage") == 0)
            return str_val(in->lifecycle_stage);
        if (strcmp(key, "start_time") == 0)
            return time_val(in->start_time);
        if (strcmp(key, "end_time") == 0)
            return time_val(in->end_time);
        return v;
    default:
        /* Datasets: struct mlflow_run carries no inputs, and a run without
         * dataset inputs matches no dataset condition in MLflow either. */
        return v;
    }
}

static struct val experiment_value(const struct mlflow_experiment *e, int ident, const char *key)
{
    struct val v = {V_MISSING, 0, 0, NULL};
    if (ident == MLFLOW__ID_TAG)
        return str_val(kv_get(e->tags, e->n_tags, key));
    if (ident != MLFLOW__ID_ATTR)
        return v;
    if (strcmp(key, "name") == 0)
        return str_val(e->name);
    if (strcmp(key, "experiment_id") == 0)
        return str_val(e->experiment_id);
    if (strcmp(key, "creation_time") == 0)
        return time_val(e->creation_time);
    if (strcmp(key, "last_update_time") == 0)
        return time_val(e->last_update_time);
    return v;
}

/* Python's int/float comparison is exact; so is this one. Returns <0, 0, >0,
 * or 2 when either side is NaN (unordered). */
static int cmp_int_double(int64_t i, double d)
{
    if (isnan(d))
        return 2;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double fl = floor(d);
    int64_t di = (int64_t)fl;
    if (i != di)
        return i < di ? -1 : 1;
    return d > fl ? -1 : 0;
}

static bool ordered_holds(int cmp, int rel)
{
    if (rel == 2) /* NaN: only != holds, as in Python */
        return cmp == MLFLOW__CMP_NE;
    switch (cmp) {
    case MLFLOW__CMP_EQ:
        return rel == 0;
    case MLFLOW__CMP_NE:
        return rel != 0;
    case MLFLOW__CMP_GT:
        return rel > 0;
    case MLFLOW__CMP_GE:
        return rel >= 0;
    case MLFLOW__CMP_LT:
        return rel < 0;
    case MLFLOW__CMP_LE:
        return rel <= 0;
    default:
        return false;
    }
}

static bool cond_holds(const struct mlflow__cond *c, struct val v)
{
    switch (v.kind) {
    case V_MISSING:
        return false;
    case V_NUM: {
        if (!c->numeric)
            return false;
        int rel = isnan(v.num) || isnan(c->num) ? 2 : (v.num > c->num) - (v.num < c->num);
        return ordered_holds(c->cmp, rel);
    }
    case V_INT:
        if (!c->numeric)
            return false;
        return ordered_holds(c->cmp, cmp_int_double(v.i, c->num));
    case V_STR:
        if (c->numeric)
            return false;
        switch (c->cmp) {
        case MLFLOW__CMP_LIKE:
            return mlflow__like(c->str, v.str, false);
        case MLFLOW__CMP_ILIKE:
            return mlflow__like(c->str, v.str, true);
        case MLFLOW__CMP_IN:
        case MLFLOW__CMP_NOT_IN: {
            bool found = false;
            for (size_t i = 0; i < c->n_list && !found; i++)
                found = strcmp(c->list[i], v.str) == 0;
            return found == (c->cmp == MLFLOW__CMP_IN);
        }
        default: {
            if (!c->str)
                return false;
            int rel = strcmp(v.str, c->str);
            return ordered_holds(c->cmp, (rel > 0) - (rel < 0));
        }
        }
    }
    return false;
}

bool mlflow__run_matches(const struct mlflow__filter *f, const struct mlflow_run *r)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (!cond_holds(&f->conds[i], run_value(r, f->conds[i].ident, f->conds[i].key)))
            return false;
    return true;
}

bool mlflow__experiment_matches(const struct mlflow__filter *f, const struct mlflow_experiment *e)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (!cond_holds(&f->conds[i], experiment_value(e, f->conds[i].ident, f->conds[i].key)))
            return false;
    return true;
}

/* ---- ordering ----------------------------------------------------------- */

/* Rank of a value in MLflow's file-store sort: real values, then NaN, then
 * missing, whichever the direction. */
static int rank(struct val v)
{
    if (v.kind == V_MISSING)
        return 2;
    if (v.kind == V_NUM && isnan(v.num))
        return 1;
    return 0;
}

static int compare_vals(struct val a, struct val b, bool ascending)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra != 0)
        return 0;
    int c = 0;
    if (a.kind == V_STR && b.kind == V_STR) {
        c = strcmp(a.str, b.str);
        c = (c > 0) - (c < 0);
    } else if (a.kind == V_INT && b.kind == V_INT) {
        c = (a.i > b.i) - (a.i < b.i);
    } else if (a.kind == V_NUM && b.kind == V_NUM) {
        c = (a.num > b.num) - (a.num < b.num);
    }
    return ascending ? c : -c;
}

int mlflow__run_compare(const struct mlflow__orders *o, const struct mlflow_run *a,
                        const struct mlflow_run *b)
{
    for (size_t i = 0; o && i < o->n; i++) {
        const struct mlflow__order *it = &o->items[i];
        int c = compare_vals(run_value(a, it->ident, it->key), run_value(b, it->ident, it->key),
                             it->ascending);
        if (c)
            return c;
    }
    int c = compare_vals(time_val(a->info.start_time), time_val(b->info.start_time), false);
    if (c)
        return c;
    return compare_vals(str_val(a->info.run_id), str_val(b->info.run_id), true);
}

int mlflow__experiment_compare(const struct mlflow__orders *o, const struct mlflow_experiment *a,
                               const struct mlflow_experiment *b)
{
    bool has_id = false;
    int c;
    if (!o || o->n == 0) {
        c = compare_vals(time_val(a->creation_time), time_val(b->creation_time), false);
        if (c)
            return c;
        return compare_vals(str_val(a->experiment_id), str_val(b->experiment_id), true);
    }
    for (size_t i = 0; i < o->n; i++) {
        const struct mlflow__order *it = &o->items[i];
        if (it->ident == MLFLOW__ID_ATTR && strcmp(it->key, "experiment_id") == 0)
            has_id = true;
        c = compare_vals(experiment_value(a, it->ident, it->key),
                         experiment_value(b, it->ident, it->key), it->ascending);
        if (c)
            return c;
    }
    if (has_id)
        return 0;
    return compare_vals(str_val(a->experiment_id), str_val(b->experiment_id), false);
}
