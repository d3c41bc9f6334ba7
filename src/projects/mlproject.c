/*
 * mlproject.c - reading MLproject files and turning an entry point plus the
 * user's parameters into the command MLflow would run.
 *
 * The YAML is read by libyaml through yaml_io (PyYAML's scalar typing), so a
 * default written `alpha: {type: float, default: 1e-3}` becomes the same text
 * as Python's str() of what safe_load made of it. Substitution follows
 * Python's str.format with every value passed through shlex.quote, as
 * MLflow's EntryPoint.compute_command does.
 */
#include "projects/projects.h"
#include "yaml_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds on what one file may declare, so aliases that share one big
 * mapping between many entry points cannot make the walk quadratic. */
#define MAX_ENTRY_POINTS 1000
#define MAX_PARAMS 1000

struct parser {
    struct mlflow__yaml_doc doc;
    struct mlflow__arena *arena;
    const char *what;
    const char *dir;
    struct mlflow_error *err;
};

static size_t line_of(const yaml_node_t *n)
{
    return n ? n->start_mark.line + 1 : 0;
}

static int bad(struct parser *ps, const yaml_node_t *n, const char *fmt, ...) MLFLOW_PRINTF(3, 4);

static int bad(struct parser *ps, const yaml_node_t *n, const char *fmt, ...)
{
    char detail[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return mlflow__seterr(ps->err, MLFLOW_INVALID_PARAMETER_VALUE, "%s:%zu: %s", ps->what,
                          line_of(n), detail);
}

static char *dup_str(struct parser *ps, const char *s)
{
    char *d = mlflow__arena_strdup(ps->arena, s);

    if (!d)
        mlflow__oom(ps->err);
    return d;
}

/* Python's str() of a YAML scalar as safe_load types it; NULL for null. */
static int scalar_text(struct parser *ps, const yaml_node_t *n, const char *key,
                       const char **out)
{
    const char *s = mlflow__yaml_scalar(n);
    char buf[64];

    *out = NULL;
    if (!s)
        return bad(ps, n, "'%s' must be a single value, not a list or mapping", key);
    switch (mlflow__yaml_scalar_type(n)) {
    case MLFLOW__YAML_NULL:
        return MLFLOW_OK;
    case MLFLOW__YAML_BOOL:
        /* YAML 1.1 booleans: y/yes/true/on and their negatives. */
        *out = strchr("yYtToO", s[0]) && strcasecmp(s, "off") != 0 ? "True" : "False";
        return MLFLOW_OK;
    case MLFLOW__YAML_INT: {
        int64_t v;

        if (mlflow__yaml_int_value(n, &v)) {
            mlflow__fmt_int64(v, buf);
            s = buf;
        }
        break;
    }
    case MLFLOW__YAML_FLOAT: {
        char clean[64];
        size_t j = 0;
        double v;

        for (size_t i = 0; s[i] && j < sizeof clean - 1; i++)
            if (s[i] != '_')
                clean[j++] = s[i];
        clean[j] = '\0';
        if (strcasecmp(clean, ".nan") == 0) {
            s = "nan";
        } else if (strcasecmp(clean, ".inf") == 0 || strcasecmp(clean, "+.inf") == 0) {
            s = "inf";
        } else if (strcasecmp(clean, "-.inf") == 0) {
            s = "-inf";
        } else if (mlflow__parse_double(clean, &v)) {
            mlflow__fmt_double(v, buf);
            s = buf;
        }
        break;
    }
    default:
        break;
    }
    *out = dup_str(ps, s);
    return *out ? MLFLOW_OK : MLFLOW_RESOURCE_EXHAUSTED;
}

static int parse_type(struct parser *ps, const yaml_node_t *n, const char *pname, int *out)
{
    static const char *const names[] = {"string", "float", "path", "uri"};
    const char *s = mlflow__yaml_scalar(n);

    if (s)
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(names); i++)
            if (strcmp(s, names[i]) == 0) {
                *out = (int)i + MLFLOW__PARAM_STRING;
                return MLFLOW_OK;
            }
    return bad(ps, n, "parameter '%s': unknown type '%s' (expected string, float, path or uri)",
               pname, s ? s : "(not a scalar)");
}

static int parse_param(struct parser *ps, yaml_node_t *key, yaml_node_t *val,
                       struct mlflow__project_param *p)
{
    const char *name = mlflow__yaml_scalar(key);
    int rc;

    if (!name || !*name)
        return bad(ps, key, "parameter names must be non-empty strings");
    if (!(p->name = dup_str(ps, name)))
        return MLFLOW_RESOURCE_EXHAUSTED;
    p->type = MLFLOW__PARAM_STRING;
    if (val->type == YAML_SCALAR_NODE)
        return parse_type(ps, val, name, &p->type);
    if (val->type != YAML_MAPPING_NODE)
        return bad(ps, val, "parameter '%s' must be a type name or a {type, default} mapping",
                   name);
    for (yaml_node_pair_t *pr = val->data.mapping.pairs.start; pr < val->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&ps->doc.doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&ps->doc.doc, pr->value);
        const char *ks = mlflow__yaml_scalar(k);

        if (ks && strcmp(ks, "type") == 0) {
            if ((rc = parse_type(ps, v, name, &p->type)))
                return rc;
        } else if (ks && strcmp(ks, "default") == 0) {
            if ((rc = scalar_text(ps, v, "default", &p->dflt)))
                return rc;
        }
    }
    return MLFLOW_OK;
}

static int parse_entry_point(struct parser *ps, yaml_node_t *key, yaml_node_t *val,
                             struct mlflow__entry_point *ep)
{
    const char *name = mlflow__yaml_scalar(key);
    yaml_node_t *cmd, *params;
    int rc;

    if (!name || !*name)
        return bad(ps, key, "entry point names must be non-empty strings");
    if (!(ep->name = dup_str(ps, name)))
        return MLFLOW_RESOURCE_EXHAUSTED;
    if (val->type != YAML_MAPPING_NODE)
        return bad(ps, val, "entry point '%s' must be a mapping with a 'command'", name);
    cmd = mlflow__yaml_map_get(&ps->doc, val, "command");
    if (!cmd)
        return bad(ps, key, "entry point '%s': missing key 'command'", name);
    if (!mlflow__yaml_scalar(cmd) || mlflow__yaml_scalar_type(cmd) == MLFLOW__YAML_NULL)
        return bad(ps, cmd, "entry point '%s': 'command' must be a string", name);
    if (!(ep->command = dup_str(ps, mlflow__yaml_scalar(cmd))))
        return MLFLOW_RESOURCE_EXHAUSTED;
    params = mlflow__yaml_map_get(&ps->doc, val, "parameters");
    if (!params || (params->type == YAML_SCALAR_NODE &&
                    mlflow__yaml_scalar_type(params) == MLFLOW__YAML_NULL))
        return MLFLOW_OK;
    if (params->type != YAML_MAPPING_NODE)
        return bad(ps, params, "entry point '%s': 'parameters' must be a mapping", name);
    size_t n = (size_t)(params->data.mapping.pairs.top - params->data.mapping.pairs.start);
    if (n > MAX_PARAMS)
        return bad(ps, params, "entry point '%s': more than 1000 parameters", name);
    ep->params = mlflow__arena_alloc(ps->arena, (n ? n : 1) * sizeof(*ep->params));
    if (!ep->params)
        return mlflow__oom(ps->err);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &params->data.mapping.pairs.start[i];

        rc = parse_param(ps, yaml_document_get_node(&ps->doc.doc, pr->key),
                         yaml_document_get_node(&ps->doc.doc, pr->value), &ep->params[i]);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ep->params[j].name, ep->params[i].name) == 0)
                return bad(ps, yaml_document_get_node(&ps->doc.doc, pr->key),
                           "entry point '%s': parameter '%s' declared twice", name,
                           ep->params[i].name);
    }
    ep->n_params = n;
    return MLFLOW_OK;
}

/* conda_env / python_env name a file that must exist in the project. */
static int parse_env_file(struct parser *ps, yaml_node_t *n, const char *key, const char **out)
{
    const char *s = mlflow__yaml_scalar(n);
    struct stat st;

    if (!s || !*s || mlflow__yaml_scalar_type(n) != MLFLOW__YAML_STR)
        return bad(ps, n, "'%s' must be the path of a file in the project", key);
    if (!(*out = dup_str(ps, s)))
        return MLFLOW_RESOURCE_EXHAUSTED;
    if (ps->dir) {
        char *full = mlflow__path_join(ps->dir, s);

        if (!full)
            return mlflow__oom(ps->err);
        int missing = stat(full, &st) != 0;
        mlflow__free(full);
        if (missing)
            return bad(ps, n, "'%s': file '%s' does not exist in the project", key, s);
    }
    return MLFLOW_OK;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct parser *ps, const yaml_node_t *n, size_t i)
{
    return yaml_document_get_node(&ps->doc.doc, n->data.sequence.items.start[i]);
}

/* An absent or null key, as Python's falsy .get(). */
static bool absent(const yaml_node_t *n)
{
    return !n || (n->type == YAML_SCALAR_NODE && mlflow__yaml_scalar_type(n) == MLFLOW__YAML_NULL);
}

/* docker_env's `volumes`: a list of strings, as MLflow checks. */
static int parse_volumes(struct parser *ps, yaml_node_t *n, struct mlflow__project *p)
{
    if (absent(n))
        return MLFLOW_OK;
    if (n->type != YAML_SEQUENCE_NODE || seq_len(n) > MAX_PARAMS)
        return bad(ps, n, "docker_env 'volumes' must be a list of strings, e.g. "
                   "[\"/path1/:/path1\", \"/path2/:/path2\"]");
    p->n_docker_volumes = seq_len(n);
    p->docker_volumes = mlflow__arena_alloc(ps->arena, (seq_len(n) + 1) * sizeof(char *));
    if (!p->docker_volumes)
        return mlflow__oom(ps->err);
    for (size_t i = 0; i < seq_len(n); i++) {
        yaml_node_t *v = seq_item(ps, n, i);

        if (!mlflow__yaml_scalar(v) || mlflow__yaml_scalar_type(v) != MLFLOW__YAML_STR)
            return bad(ps, v, "docker_env 'volumes' must be a list of strings");
        if (!(p->docker_volumes[i] = dup_str(ps, mlflow__yaml_scalar(v))))
            return MLFLOW_RESOURCE_EXHAUSTED;
    }
    return MLFLOW_OK;
}

/* docker_env's `environment`: bare names to copy from the host, or
 * [NAME, value] pairs; values as Python's str() writes them. */
static int parse_environment(struct parser *ps, yaml_node_t *n, struct mlflow__project *p)
{
    static const char *const shape =
        "docker_env 'environment' must be a list of names (copied from the host) or "
        "[NAME, value] pairs, e.g. [[\"NEW_VAR\", \"new_value\"], \"VAR_TO_COPY_FROM_HOST\"]";
    int rc;

    if (absent(n))
        return MLFLOW_OK;
    if (n->type != YAML_SEQUENCE_NODE || seq_len(n) > MAX_PARAMS)
        return bad(ps, n, "%s", shape);
    p->docker_environment = mlflow__arena_alloc(ps->arena,
                                                (seq_len(n) + 1) * sizeof(struct mlflow_kv));
    if (!p->docker_environment)
        return mlflow__oom(ps->err);
    for (size_t i = 0; i < seq_len(n); i++) {
        yaml_node_t *e = seq_item(ps, n, i);
        struct mlflow_kv *kv = &p->docker_environment[i];

        if (e->type == YAML_SEQUENCE_NODE && seq_len(e) == 2) {
            if ((rc = scalar_text(ps, seq_item(ps, e, 0), "environment", &kv->key)) ||
                (rc = scalar_text(ps, seq_item(ps, e, 1), "environment", &kv->value)))
                return rc;
            if (!kv->value)
                kv->value = "None";
        } else if (mlflow__yaml_scalar(e) && mlflow__yaml_scalar_type(e) == MLFLOW__YAML_STR) {
            if (!(kv->key = dup_str(ps, mlflow__yaml_scalar(e))))
                return MLFLOW_RESOURCE_EXHAUSTED;
        } else {
            return bad(ps, e, "%s", shape);
        }
        /* The name becomes `-e NAME=value`: an '=' in it would change both. */
        if (!kv->key || !*kv->key || strchr(kv->key, '='))
            return bad(ps, e, "docker_env 'environment': invalid variable name '%s'",
                       kv->key ? kv->key : "None");
    }
    p->n_docker_environment = seq_len(n);
    return MLFLOW_OK;
}

static int parse_docker(struct parser *ps, yaml_node_t *n, struct mlflow__project *p)
{
    yaml_node_t *img = n->type == YAML_MAPPING_NODE ? mlflow__yaml_map_get(&ps->doc, n, "image")
                                                    : NULL;
    int rc;

    if (!img || !mlflow__yaml_scalar(img) || !*mlflow__yaml_scalar(img))
        return bad(ps, n, "'docker_env' must be a mapping with an 'image'");
    if (!(p->env_path = dup_str(ps, mlflow__yaml_scalar(img))))
        return MLFLOW_RESOURCE_EXHAUSTED;
    if ((rc = parse_volumes(ps, mlflow__yaml_map_get(&ps->doc, n, "volumes"), p)))
        return rc;
    return parse_environment(ps, mlflow__yaml_map_get(&ps->doc, n, "environment"), p);
}

static int parse_root(struct parser *ps, yaml_node_t *root, struct mlflow__project *p)
{
    static const char *const env_keys[] = {"conda_env", "python_env", "docker_env"};
    yaml_node_t *name, *eps, *env_node = NULL;
    const char *env_key = NULL;
    int rc;

    if (!root)
        return MLFLOW_OK; /* an empty file is an empty project */
    if (root->type != YAML_MAPPING_NODE)
        return bad(ps, root, "the top level must be a mapping");
    if ((name = mlflow__yaml_map_get(&ps->doc, root, "name"))) {
        const char *s;

        if ((rc = scalar_text(ps, name, "name", &s)))
            return rc;
        p->name = s;
    }
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(env_keys); i++) {
        yaml_node_t *n = mlflow__yaml_map_get(&ps->doc, root, env_keys[i]);

        if (!n)
            continue;
        if (env_node)
            return bad(ps, n, "'%s' and '%s' are both set; a project has at most one "
                       "environment", env_key, env_keys[i]);
        env_node = n;
        env_key = env_keys[i];
        p->env_type = (int)i + MLFLOW__ENV_CONDA;
    }
    if (env_node) {
        rc = p->env_type == MLFLOW__ENV_DOCKER ? parse_docker(ps, env_node, p)
                                               : parse_env_file(ps, env_node, env_key,
                                                                &p->env_path);
        if (rc)
            return rc;
    }
    eps = mlflow__yaml_map_get(&ps->doc, root, "entry_points");
    if (!eps || (eps->type == YAML_SCALAR_NODE &&
                 mlflow__yaml_scalar_type(eps) == MLFLOW__YAML_NULL))
        return MLFLOW_OK;
    if (eps->type != YAML_MAPPING_NODE)
        return bad(ps, eps, "'entry_points' must be a mapping of names to entry points");
    size_t n = (size_t)(eps->data.mapping.pairs.top - eps->data.mapping.pairs.start);
    if (n > MAX_ENTRY_POINTS)
        return bad(ps, eps, "more than 1000 entry points");
    p->entry_points = mlflow__arena_alloc(ps->arena, (n ? n : 1) * sizeof(*p->entry_points));
    if (!p->entry_points)
        return mlflow__oom(ps->err);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = &eps->data.mapping.pairs.start[i];

        rc = parse_entry_point(ps, yaml_document_get_node(&ps->doc.doc, pr->key),
                               yaml_document_get_node(&ps->doc.doc, pr->value),
                               &p->entry_points[i]);
        if (rc)
            return rc;
    }
    p->n_entry_points = n;
    return MLFLOW_OK;
}

int mlflow__project_parse(const char *buf, size_t len, const char *what, const char *dir,
                          struct mlflow__project **out, struct mlflow_error *err)
{
    struct parser ps = {.what = what, .dir = dir, .err = err};
    struct mlflow__project *p;
    int rc;

    *out = NULL;
    if (len > MLFLOW__MLPROJECT_MAX_BYTES)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "%s is larger than %u bytes", what, MLFLOW__MLPROJECT_MAX_BYTES);
    if (!(p = mlflow__obj_new(sizeof *p)))
        return mlflow__oom(err);
    ps.arena = mlflow__obj_arena(p);
    rc = mlflow__yaml_load(&ps.doc, buf, len, what, err);
    if (rc == MLFLOW_INTERNAL_ERROR)
        err->code = rc = MLFLOW_INVALID_PARAMETER_VALUE;
    if (!rc)
        rc = parse_root(&ps, mlflow__yaml_root(&ps.doc), p);
    mlflow__yaml_doc_free(&ps.doc);
    if (rc) {
        mlflow__obj_free(p);
        return rc;
    }
    *out = p;
    return MLFLOW_OK;
}

/* The MLproject file of dir, matched case-insensitively as MLflow does. */
static int find_mlproject(const char *dir, char **path, struct mlflow_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    *path = NULL;
    if (!d)
        return mlflow__seterr_sys(err, errno, "cannot open project directory '%s'", dir);
    while ((e = readdir(d)))
        if (strcasecmp(e->d_name, "mlproject") == 0) {
            *path = mlflow__path_join(dir, e->d_name);
            break;
        }
    closedir(d);
    return e && !*path ? mlflow__oom(err) : MLFLOW_OK;
}

int mlflow__project_load(const char *dir, struct mlflow__project **out, struct mlflow_error *err)
{
    char *path = NULL, *buf = NULL;
    ssize_t got = 0;
    size_t len = 0;
    struct stat st;
    int fd = -1, rc;

    *out = NULL;
    if ((rc = find_mlproject(dir, &path, err)))
        return rc;
    if (!path) {
        *out = mlflow__obj_new(sizeof **out);
        return *out ? MLFLOW_OK : mlflow__oom(err);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = mlflow__seterr_sys(err, fd < 0 ? errno : EINVAL, "cannot read '%s'", path);
        goto out;
    }
    if ((size_t)st.st_size > MLFLOW__MLPROJECT_MAX_BYTES) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "%s is larger than %u bytes", path, MLFLOW__MLPROJECT_MAX_BYTES);
        goto out;
    }
    if (!(buf = mlflow__malloc((size_t)st.st_size + 1))) {
        rc = mlflow__oom(err);
        goto out;
    }
    while (len < (size_t)st.st_size &&
           (got = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)got;
    if (got < 0) {
        rc = mlflow__seterr_sys(err, errno, "cannot read '%s'", path);
        goto out;
    }
    rc = mlflow__project_parse(buf, len, "MLproject", dir, out, err);
out:
    if (fd >= 0)
        close(fd);
    mlflow__free(buf);
    mlflow__free(path);
    return rc;
}
