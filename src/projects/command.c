/*
 * command.c - from an entry point and the user's parameters to the shell
 * command MLflow would run, and the parameters it would log.
 *
 * MLflow builds a string for `bash -c`; to run the same command line we do
 * too, so safety rests on two rules (guide R7): every substituted value goes
 * through shlex.quote, and the names of undeclared parameters, which MLflow
 * writes unquoted as `--name`, are restricted to characters the shell
 * treats as plain text.
 */
#include "projects/projects.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mlflow__shell_quote(struct mlflow__sb *sb, const char *s)
{
    bool safe = *s != '\0';

    /* shlex's safe set: ASCII word characters and @%+=:,./- */
    for (const char *c = s; *c && safe; c++)
        safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
               (*c >= '0' && *c <= '9') || strchr("_@%+=:,./-", *c);
    if (safe) {
        mlflow__sb_adds(sb, s);
        return;
    }
    mlflow__sb_addc(sb, '\'');
    for (const char *c = s; *c; c++) {
        if (*c == '\'')
            mlflow__sb_adds(sb, "'\"'\"'");
        else
            mlflow__sb_addc(sb, *c);
    }
    mlflow__sb_addc(sb, '\'');
}

/* A name that stays one plain word in a shell command. */
static bool plain_name(const char *s)
{
    if (!*s || *s == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_.-/:", *s)))
            return false;
    return true;
}

/* urllib's idea of a scheme: a letter, then letters, digits, + - . up to ':'. */
static bool has_scheme(const char *s, size_t *len)
{
    size_t i = 0;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    if (s[i] != ':')
        return false;
    if (len)
        *len = i;
    return true;
}

static const struct mlflow__entry_point *find_entry(const struct mlflow__project *p,
                                                    const char *name)
{
    for (size_t i = 0; i < p->n_entry_points; i++)
        if (strcmp(p->entry_points[i].name, name) == 0)
            return &p->entry_points[i];
    return NULL;
}

static const char *user_value(const struct mlflow_kv *user, size_t n, const char *key)
{
    const char *v = NULL;

    for (size_t i = 0; i < n; i++) /* the last one given wins, as in a dict */
        if (strcmp(user[i].key, key) == 0)
            v = user[i].value;
    return v;
}

/* The value a `path` parameter becomes in the command: an absolute local
 * path, or the local copy of a remote URI downloaded as MLflow does. */
static int path_value(const struct mlflow__project_param *pp, size_t position, const char *v,
                      struct mlflow__param_fetch *dl, char **out, struct mlflow_error *err)
{
    char scheme[32];
    char *local;
    struct stat st;

    *out = NULL;
    mlflow__uri_scheme(v, scheme, sizeof scheme);
    if (*scheme && strcmp(scheme, "file") != 0) {
        if (!dl)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "parameter '%s': remote path '%s' cannot be downloaded here",
                                  pp->name, v);
        return mlflow__project_download(v, position, dl, out, err);
    }
    if (!(local = mlflow__local_path_from_uri(v)))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "parameter '%s': '%s' is not a local path (file:// URIs name "
                              "no other host)", pp->name, v);
    if (stat(local, &st) != 0) {
        mlflow__free(local);
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Got value %s for parameter %s, but no such file or directory "
                              "was found.", v, pp->name);
    }
    *out = mlflow__abspath(local);
    mlflow__free(local);
    return *out ? MLFLOW_OK : mlflow__oom(err);
}

static int check_value(const struct mlflow__project_param *pp, const char *v,
                       struct mlflow_error *err)
{
    double d;

    if (pp->type == MLFLOW__PARAM_FLOAT && !mlflow__parse_double(v, &d))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "parameter '%s' is a float, but '%s' is not a number", pp->name, v);
    if (pp->type == MLFLOW__PARAM_URI && !has_scheme(v, NULL))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Expected URI for parameter %s but got %s", pp->name, v);
    return MLFLOW_OK;
}

/* Python's str.format over `fmt` with the quoted values. Only plain
 * `{name}` fields (and `{{`, `}}`) are supported. */
static int substitute(struct mlflow__sb *sb, const struct mlflow__entry_point *ep,
                      char **quoted, struct mlflow_error *err)
{
    const char *s = ep->command;

    while (*s) {
        if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
            mlflow__sb_addc(sb, s[0]);
            s += 2;
            continue;
        }
        if (*s == '}')
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "entry point '%s': single '}' in the command", ep->name);
        if (*s != '{') {
            mlflow__sb_addc(sb, *s++);
            continue;
        }
        const char *end = strchr(s, '}');
        size_t i, n;

        if (!end)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "entry point '%s': unclosed '{' in the command", ep->name);
        n = (size_t)(end - s - 1);
        for (i = 0; i < ep->n_params; i++)
            if (strlen(ep->params[i].name) == n && memcmp(ep->params[i].name, s + 1, n) == 0)
                break;
        if (i == ep->n_params)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "entry point '%s': the command uses {%.*s}, which is not one "
                                  "of its parameters", ep->name, (int)(n > 200 ? 200 : n), s + 1);
        mlflow__sb_adds(sb, quoted[i]);
        s = end + 1;
    }
    return MLFLOW_OK;
}

/* Entry points that are not declared: a script run by its interpreter. */
static int script_entry(const struct mlflow__project *p, const char *entry,
                        struct mlflow__sb *sb, struct mlflow_error *err)
{
    size_t n = strlen(entry);
    const char *shell = getenv("SHELL");

    if (n > 3 && strcmp(entry + n - 3, ".py") == 0) {
        mlflow__sb_adds(sb, "python ");
    } else if (n > 3 && strcmp(entry + n - 3, ".sh") == 0) {
        mlflow__sb_adds(sb, shell && *shell ? shell : "bash");
        mlflow__sb_addc(sb, ' ');
    } else {
        struct mlflow__sb names = MLFLOW__SB_INIT;

        for (size_t i = 0; i < p->n_entry_points; i++)
            mlflow__sb_addf(&names, "%s'%s'", i ? ", " : "", p->entry_points[i].name);
        mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                       "Could not find %s among entry points [%s] or interpret %s as a runnable "
                       "script. Supported script file extensions: ['.py', '.sh']", entry,
                       names.buf ? names.buf : "", entry);
        mlflow__sb_release(&names);
        return MLFLOW_INVALID_PARAMETER_VALUE;
    }
    mlflow__shell_quote(sb, entry);
    return MLFLOW_OK;
}

static int build(const struct mlflow__project *p, const char *entry,
                 const struct mlflow_kv *user, size_t n_user, struct mlflow__param_fetch *dl,
                 struct mlflow__project_cmd *cmd, char **quoted, struct mlflow__sb *sb,
                 struct mlflow_error *err)
{
    struct mlflow__arena *a = mlflow__obj_arena(cmd);
    const struct mlflow__entry_point *ep = find_entry(p, entry);
    struct mlflow__sb missing = MLFLOW__SB_INIT;
    size_t n_decl = ep ? ep->n_params : 0;
    int rc;

    for (size_t i = 0; i < n_user; i++)
        if (!user[i].key || !user[i].value)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "parameter %zu has no %s", i, user[i].key ? "value" : "name");
    if (!ep && (rc = script_entry(p, entry, sb, err)))
        return rc;
    for (size_t i = 0; i < n_decl; i++) {
        const struct mlflow__project_param *pp = &ep->params[i];
        const char *v = user_value(user, n_user, pp->name);

        if (!v)
            v = pp->dflt;
        if (!v)
            mlflow__sb_addf(&missing, "%s'%s'", missing.len ? ", " : "", pp->name);
    }
    if (missing.len) {
        mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                       "No value given for missing parameters: %s", missing.buf);
        mlflow__sb_release(&missing);
        return MLFLOW_INVALID_PARAMETER_VALUE;
    }
    mlflow__sb_release(&missing);
    cmd->params = mlflow__arena_alloc(a, (n_decl + n_user + 1) * sizeof(*cmd->params));
    if (!cmd->params)
        return mlflow__oom(err);
    for (size_t i = 0; i < n_decl; i++) {
        const struct mlflow__project_param *pp = &ep->params[i];
        const char *v = user_value(user, n_user, pp->name);
        struct mlflow__sb q = MLFLOW__SB_INIT;
        char *abs = NULL;

        v = v ? v : pp->dflt;
        if ((rc = check_value(pp, v, err)))
            return rc;
        if (pp->type == MLFLOW__PARAM_PATH && (rc = path_value(pp, i, v, dl, &abs, err)))
            return rc;
        mlflow__shell_quote(&q, abs ? abs : v);
        mlflow__free(abs);
        if (!(quoted[i] = mlflow__sb_detach(&q)))
            return mlflow__oom(err);
        cmd->params[cmd->n_params].key = pp->name;
        cmd->params[cmd->n_params++].value = v; /* a path as given, not made absolute */
    }
    if (ep && (rc = substitute(sb, ep, quoted, err)))
        return rc;
    for (size_t i = 0; i < n_user; i++) {
        bool declared = false, repeated = false;

        for (size_t j = 0; j < n_decl && !declared; j++)
            declared = strcmp(ep->params[j].name, user[i].key) == 0;
        for (size_t j = i + 1; j < n_user && !repeated; j++)
            repeated = strcmp(user[j].key, user[i].key) == 0;
        if (declared || repeated)
            continue;
        if (!plain_name(user[i].key))
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "parameter name '%s' is not declared by the entry point and "
                                  "contains characters other than letters, digits and _.-/:",
                                  user[i].key);
        mlflow__sb_addf(sb, " --%s ", user[i].key);
        mlflow__shell_quote(sb, user[i].value);
        cmd->params[cmd->n_params].key = user[i].key;
        cmd->params[cmd->n_params++].value = user[i].value;
    }
    if (sb->oom)
        return mlflow__oom(err);
    /* Copy the borrowed strings into the result's arena. MLflow logs the
     * values shell-quoted (what it substitutes), so we do too. */
    for (size_t i = 0; i < cmd->n_params; i++) {
        struct mlflow__sb q = MLFLOW__SB_INIT;

        mlflow__shell_quote(&q, cmd->params[i].value);
        cmd->params[i].key = mlflow__arena_strdup(a, cmd->params[i].key);
        cmd->params[i].value = q.buf ? mlflow__arena_strdup(a, q.buf) : NULL;
        mlflow__sb_release(&q);
        if (!cmd->params[i].key || !cmd->params[i].value)
            return mlflow__oom(err);
    }
    if (!(cmd->command = mlflow__arena_strdup(a, sb->buf ? sb->buf : "")))
        return mlflow__oom(err);
    return MLFLOW_OK;
}

int mlflow__project_command(const struct mlflow__project *p, const char *entry,
                            const struct mlflow_kv *user, size_t n_user,
                            struct mlflow__param_fetch *dl, struct mlflow__project_cmd **out,
                            struct mlflow_error *err)
{
    const struct mlflow__entry_point *ep = find_entry(p, entry);
    size_t n_decl = ep ? ep->n_params : 0;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    struct mlflow__project_cmd *cmd;
    char **quoted;
    int rc;

    *out = NULL;
    if (!(cmd = mlflow__obj_new(sizeof *cmd)))
        return mlflow__oom(err);
    if (!(quoted = mlflow__calloc(n_decl + 1, sizeof *quoted))) {
        mlflow__obj_free(cmd);
        return mlflow__oom(err);
    }
    rc = build(p, entry, user, n_user, dl, cmd, quoted, &sb, err);
    for (size_t i = 0; i < n_decl; i++)
        mlflow__free(quoted[i]);
    mlflow__free(quoted);
    mlflow__sb_release(&sb);
    if (rc) {
        mlflow__obj_free(cmd);
        return rc;
    }
    *out = cmd;
    return MLFLOW_OK;
}
