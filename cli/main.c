/*
 * main.c - the mlflow-c command: the top-level command table, dispatch into
 * each command's sub-command table, the option parser every command uses,
 * help text, and the exit-status conventions (0 ok, 1 error, 2 usage).
 *
 * Adding a command is one row in commands[] below plus its cmd_*.c file.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Kept in the order `mlflow-c --help` lists them. server, ui, run and gc
 * belong here when they exist. */
static const struct cli_command commands[] = {
    {"experiments", cmd_experiments, "Manage experiments"},
    {"runs", cmd_runs, "Manage runs"},
    {"server", cmd_server, "Run the tracking server (MLflow's REST API)"},
    {"ui", cmd_ui, "Run the tracking server with local defaults"},
    {"run", cmd_run, "Run an MLflow project (MLproject) as a tracked run"},
    {"migrate", cmd_migrate, "Copy every experiment and run from one store to another"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The options every command accepts, wherever they appear on the line. Their
 * destinations are filled in per parse because they live in the context. */
#define TRACKING_URI_HELP "Tracking URI (default: $MLFLOW_TRACKING_URI, else ./mlruns)."
#define JSON_HELP "Print JSON instead of text for humans."

/* ---- diagnostics -------------------------------------------------------- */

int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", ctx->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee '%s --help'.\n", ctx->path);
    return CLI_EXIT_USAGE;
}

int cli_lib_error(int rc)
{
    const char *msg = mlflow_last_error();

    if (!msg || !*msg)
        msg = mlflow_strerror(rc);
    fprintf(stderr, "%s: %s: %s\n", CLI_NAME, mlflow_error_name(rc), msg);
    return CLI_EXIT_ERROR;
}

int cli_open_client(const struct cli_ctx *ctx, struct mlflow_client **out)
{
    int rc = mlflow_client_open(ctx->tracking_uri, out);

    if (rc != MLFLOW_OK) {
        *out = NULL;
        return cli_lib_error(rc);
    }
    return CLI_EXIT_OK;
}

int cli_parse_view(const struct cli_ctx *ctx, const char *text, int *out)
{
    char upper[32];
    size_t i;

    /* MLflow's ViewType.from_string upper-cases, so "ALL" and "all" both work. */
    for (i = 0; text[i] && i < sizeof(upper) - 1; i++)
        upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 'a' + 'A' : text[i]);
    upper[i] = '\0';
    if (text[i] != '\0' || mlflow_view_type_parse(upper, out) != MLFLOW_OK)
        return cli_usage_error(ctx, "invalid value '%s' for --view "
                               "(expected active_only, deleted_only or all)", text);
    return CLI_EXIT_OK;
}

/* ---- memory ------------------------------------------------------------- */

static void out_of_memory(void)
{
    fprintf(stderr, "%s: out of memory\n", CLI_NAME);
    exit(CLI_EXIT_ERROR);
}

void *cli_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        out_of_memory();
    return p;
}

void *cli_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p)
        out_of_memory();
    return p;
}

char *cli_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(cli_xmalloc(n), s, n);
}

void cli_list_free(struct cli_list *list)
{
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

/* ---- option parsing ----------------------------------------------------- */

static void append_path(struct cli_ctx *ctx, const char *word)
{
    size_t len = strlen(ctx->path);

    snprintf(ctx->path + len, sizeof(ctx->path) - len, " %s", word);
}

static void print_opt_help(FILE *out, const struct cli_opt *o)
{
    char left[96];
    int n;

    n = snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->short_name ? '-' : ' ',
                 o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name,
                 o->metavar && o->kind != CLI_OPT_FLAG ? " " : "",
                 o->metavar && o->kind != CLI_OPT_FLAG ? o->metavar : "");
    if (n >= 30)
        fprintf(out, "  %s\n  %-30s %s%s\n", left, "", o->help ? o->help : "",
                o->kind == CLI_OPT_LIST ? " Repeatable." : "");
    else
        fprintf(out, "  %-30s %s%s\n", left, o->help ? o->help : "",
                o->kind == CLI_OPT_LIST ? " Repeatable." : "");
}

static void print_usage_line(FILE *out, const struct cli_ctx *ctx, const struct cli_spec *spec)
{
    fprintf(out, "usage: %s", ctx->path);
    if (spec->usage_args) {
        fprintf(out, " %s", spec->usage_args);
    } else {
        for (size_t i = 0; i < spec->n_opts; i++) {
            const struct cli_opt *o = &spec->opts[i];
            const char *meta = o->kind == CLI_OPT_FLAG ? NULL : o->metavar;

            fprintf(out, " %s--%s%s%s%s%s", o->required ? "" : "[", o->name, meta ? " " : "",
                    meta ? meta : "", o->kind == CLI_OPT_LIST ? " ..." : "",
                    o->required ? "" : "]");
        }
    }
    fprintf(out, " [--tracking-uri URI] [--json]\n");
}

static void print_spec_help(const struct cli_ctx *ctx, const struct cli_spec *spec)
{
    static const struct cli_opt common[] = {
        {"tracking-uri", 0, CLI_OPT_STRING, NULL, "URI", false, TRACKING_URI_HELP},
        {"json", 0, CLI_OPT_FLAG, NULL, NULL, false, JSON_HELP},
        {"help", 'h', CLI_OPT_FLAG, NULL, NULL, false, "Show this help."},
    };

    print_usage_line(stdout, ctx, spec);
    printf("\n%s\n", spec->summary);
    if (spec->details)
        printf("\n%s\n", spec->details);
    printf("\nOptions:\n");
    for (size_t i = 0; i < spec->n_opts; i++)
        print_opt_help(stdout, &spec->opts[i]);
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        print_opt_help(stdout, &common[i]);
}

/* Finds the option a word names: "--name", "--name=value", "-x", "-xvalue".
 * *inline_value points at the value glued to the word, if any. */
static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t n, const char *word,
                                      const char **inline_value)
{
    *inline_value = NULL;
    if (word[1] == '-') {
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);

        for (size_t i = 0; i < n; i++) {
            if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) {
                *inline_value = eq ? eq + 1 : NULL;
                return &opts[i];
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (opts[i].short_name && opts[i].short_name == word[1]) {
            *inline_value = word[2] ? word + 2 : NULL;
            return &opts[i];
        }
    }
    return NULL;
}

/* Levenshtein distance, capped: enough to tell a typo from another word. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[64], prev, tmp;

    if (la >= 64 || lb >= 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev + (a[i - 1] != b[j - 1]);

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

/* The closest of `n` names to word, when it is close enough to be a typo of
 * it, else NULL. The names are the first member of structs `stride` bytes
 * apart (struct cli_opt and struct cli_command both start with theirs). */
static const char *closest_name(const char *word, size_t len, const void *names, size_t n,
                                size_t stride)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits */

    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)names + i * stride);
        size_t d = edit_distance(word, len, name, strlen(name));

        if (d < best_d && d < len) {
            best_d = d;
            best = name;
        }
    }
    return best;
}

/* The word as the user wrote it, without any "=value", for messages. */
static const char *opt_word(const char *word, char *buf, size_t size)
{
    const char *eq = word[1] == '-' ? strchr(word, '=') : NULL;
    size_t len = eq ? (size_t)(eq - word) : strlen(word);

    if (word[1] != '-' && len > 2)
        len = 2;
    if (len >= size)
        len = size - 1;
    memcpy(buf, word, len);
    buf[len] = '\0';
    return buf;
}

static int parse_count(const char *text, int64_t *out)
{
    char *end;
    long long v;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int store_value(const struct cli_ctx *ctx, const struct cli_opt *o, const char *value)
{
    switch (o->kind) {
    case CLI_OPT_STRING:
        *(const char **)o->dest = value;
        break;
    case CLI_OPT_LIST: {
        struct cli_list *l = o->dest;

        l->items = cli_xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
        l->items[l->n++] = value;
        break;
    }
    case CLI_OPT_COUNT:
        if (parse_count(value, o->dest) != 0)
            return cli_usage_error(ctx, "invalid value '%s' for --%s "
                                   "(expected a non-negative integer)", value, o->name);
        break;
    case CLI_OPT_FLAG:
        *(bool *)o->dest = true;
        break;
    }
    return -1;
}

int cli_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc, char **argv)
{
    bool help = false, json = false;
    const char *tracking_uri = NULL;
    const struct cli_opt common[] = {
        {"tracking-uri", 0, CLI_OPT_STRING, &tracking_uri, "URI", false, NULL},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, false, NULL},
        {"help", 'h', CLI_OPT_FLAG, &help, NULL, false, NULL},
    };
    bool *seen = cli_xmalloc(spec->n_opts * sizeof(*seen) + 1);
    int status = -1;
    int i;

    append_path(ctx, argv[0]);
    memset(seen, 0, spec->n_opts * sizeof(*seen));
    for (i = 1; i < argc && status < 0; i++) {
        const char *word = argv[i], *value;
        const struct cli_opt *o;
        char shown[64];

        if (strcmp(word, "--") == 0) {
            if (i + 1 < argc)
                status = cli_usage_error(ctx, "unexpected argument '%s'", argv[i + 1]);
            break;
        }
        if (word[0] != '-' || word[1] == '\0') {
            status = cli_usage_error(ctx, "unexpected argument '%s'", word);
            break;
        }
        o = find_opt(spec->opts, spec->n_opts, word, &value);
        if (o)
            seen[o - spec->opts] = true;
        else
            o = find_opt(common, sizeof(common) / sizeof(common[0]), word, &value);
        if (!o) {
            const char *guess = NULL;

            opt_word(word, shown, sizeof(shown));
            if (word[1] == '-')
                guess = closest_name(shown + 2, strlen(shown + 2), spec->opts, spec->n_opts,
                                     sizeof(*spec->opts));
            if (word[1] == '-' && !guess)
                guess = closest_name(shown + 2, strlen(shown + 2), common,
                                     sizeof(common) / sizeof(common[0]), sizeof(*common));
            if (guess)
                status = cli_usage_error(ctx, "unknown option '%s' (did you mean '--%s'?)",
                                         shown, guess);
            else
                status = cli_usage_error(ctx, "unknown option '%s'", shown);
            break;
        }
        if (o->kind == CLI_OPT_FLAG) {
            if (value) {
                status = cli_usage_error(ctx, "option '%s' takes no value",
                                         opt_word(word, shown, sizeof(shown)));
                break;
            }
        } else if (!value) {
            if (i + 1 >= argc) {
                status = cli_usage_error(ctx, "option '%s' needs a value",
                                         opt_word(word, shown, sizeof(shown)));
                break;
            }
            value = argv[++i];
        }
        status = store_value(ctx, o, value);
    }

    if (status < 0 && help) {
        print_spec_help(ctx, spec);
        status = CLI_EXIT_OK;
    }
    for (size_t k = 0; status < 0 && k < spec->n_opts; k++)
        if (spec->opts[k].required && !seen[k])
            status = cli_usage_error(ctx, "missing required option '--%s'", spec->opts[k].name);
    free(seen);
    if (tracking_uri)
        ctx->tracking_uri = tracking_uri;
    if (json)
        ctx->json = true;
    return status;
}

/* ---- dispatch ----------------------------------------------------------- */

/*
 * Consumes the options that may stand before a command name: --tracking-uri,
 * --json and --help. Returns -1 to go on (with *help set when asked), else an
 * exit status. *pos is the index of the first word not consumed.
 */
static int parse_leading(struct cli_ctx *ctx, int argc, char **argv, int *pos, bool *help)
{
    int i = *pos;

    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *w = argv[i];
        char shown[64];

        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            *help = true;
        } else if (strcmp(w, "--json") == 0) {
            ctx->json = true;
        } else if (strncmp(w, "--tracking-uri=", 15) == 0) {
            ctx->tracking_uri = w + 15;
        } else if (strcmp(w, "--tracking-uri") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(ctx, "option '--tracking-uri' needs a value");
            ctx->tracking_uri = argv[++i];
        } else {
            return cli_usage_error(ctx, "unknown option '%s'", opt_word(w, shown, sizeof(shown)));
        }
    }
    *pos = i;
    return -1;
}

static const struct cli_command *find_command(const struct cli_command *cmds, size_t n,
                                              const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

static int unknown_command(const char *path, const char *word, const struct cli_command *cmds,
                           size_t n)
{
    const char *guess = closest_name(word, strlen(word), cmds, n, sizeof(*cmds));

    if (strcmp(path, CLI_NAME) == 0)
        fprintf(stderr, "%s: '%s' is not a command.", CLI_NAME, word);
    else
        fprintf(stderr, "%s: '%s' is not a command of '%s'.", CLI_NAME, word, path);
    if (guess)
        fprintf(stderr, " Did you mean '%s'?", guess);
    fprintf(stderr, " See '%s --help'.\n", path);
    return CLI_EXIT_USAGE;
}

static void print_command_list(FILE *out, const struct cli_command *cmds, size_t n)
{
    size_t width = 0;

    for (size_t i = 0; i < n; i++)
        if (strlen(cmds[i].name) > width)
            width = strlen(cmds[i].name);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-*s  %s\n", (int)width, cmds[i].name, cmds[i].summary);
}

static void print_group_help(FILE *out, const struct cli_ctx *ctx, const char *about,
                             const struct cli_command *cmds, size_t n)
{
    fprintf(out, "usage: %s <command> [<options>]\n\n%s\n\nCommands:\n", ctx->path, about);
    print_command_list(out, cmds, n);
    fprintf(out, "\nRun '%s <command> --help' for the options of a command.\n", ctx->path);
}

int cli_dispatch(struct cli_ctx *ctx, const char *about, const struct cli_command *cmds,
                 size_t n_cmds, int argc, char **argv)
{
    const struct cli_command *cmd;
    bool help = false;
    int pos = 1, status;

    append_path(ctx, argv[0]);
    status = parse_leading(ctx, argc, argv, &pos, &help);
    if (status >= 0)
        return status;
    if (help && pos >= argc) {
        print_group_help(stdout, ctx, about, cmds, n_cmds);
        return CLI_EXIT_OK;
    }
    if (pos >= argc) {
        print_group_help(stderr, ctx, about, cmds, n_cmds);
        return CLI_EXIT_USAGE;
    }
    cmd = find_command(cmds, n_cmds, argv[pos]);
    if (!cmd)
        return unknown_command(ctx->path, argv[pos], cmds, n_cmds);
    if (help) {
        /* "mlflow-c experiments --help create" asks for create's help. */
        char *sub_argv[] = {argv[pos], (char *)"--help", NULL};

        return cmd->fn(ctx, 2, sub_argv);
    }
    /* Each level appends its own name to ctx->path: groups here, leaves in
     * cli_parse(). */
    return cmd->fn(ctx, argc - pos, argv + pos);
}

/* ---- top level ---------------------------------------------------------- */

static void print_main_help(FILE *out)
{
    fprintf(out,
            "usage: %s [--version] [--help] [--tracking-uri URI] [--json] <command> [<args>]\n"
            "\n"
            "MLflow experiment tracking from the command line (MLflow %s formats).\n"
            "\n"
            "Commands:\n",
            CLI_NAME, MLFLOW_COMPAT_VERSION);
    print_command_list(out, commands, N_COMMANDS);
    fprintf(out,
            "\n"
            "Options accepted by every command:\n"
            "  --tracking-uri URI  " TRACKING_URI_HELP "\n"
            "  --json              " JSON_HELP "\n"
            "\n"
            "Run '%s help <command>' or '%s <command> --help' for details.\n",
            CLI_NAME, CLI_NAME);
}

/* "help", "help experiments", "help experiments create". */
static int cmd_help(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_command *cmd;
    char **sub_argv;
    int status;

    if (argc < 2) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(commands, N_COMMANDS, argv[1]);
    if (!cmd)
        return unknown_command(ctx->path, argv[1], commands, N_COMMANDS);
    /* Re-run the command line with --help in place of the rest: the command
     * itself knows how to describe itself. */
    sub_argv = cli_xmalloc((size_t)(argc + 1) * sizeof(*sub_argv));
    for (int i = 1; i < argc; i++)
        sub_argv[i - 1] = argv[i];
    sub_argv[argc - 1] = (char *)"--help";
    sub_argv[argc] = NULL;
    status = cmd->fn(ctx, argc, sub_argv);
    free(sub_argv);
    return status;
}

/* Output that could not be written (a full disk, a closed pipe) is an error:
 * a script must not take a half-written table for a result. */
static int finish_output(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write output: %s\n", CLI_NAME, strerror(errno));
        return status == CLI_EXIT_OK ? CLI_EXIT_ERROR : status;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {0};
    const struct cli_command *cmd;
    bool help = false;
    int pos = 1, status;

    snprintf(ctx.path, sizeof(ctx.path), "%s", CLI_NAME);
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("%s %s (MLflow %s compatible)\n", CLI_NAME, MLFLOW_VERSION,
               MLFLOW_COMPAT_VERSION);
        return finish_output(CLI_EXIT_OK);
    }
    status = parse_leading(&ctx, argc, argv, &pos, &help);
    if (status >= 0)
        return status;
    if (pos >= argc) {
        print_main_help(help ? stdout : stderr);
        return finish_output(help ? CLI_EXIT_OK : CLI_EXIT_USAGE);
    }
    if (strcmp(argv[pos], "help") == 0)
        return finish_output(cmd_help(&ctx, argc - pos, argv + pos));
    cmd = find_command(commands, N_COMMANDS, argv[pos]);
    if (!cmd)
        return unknown_command(ctx.path, argv[pos], commands, N_COMMANDS);
    if (help) {
        char *sub_argv[] = {argv[pos], (char *)"--help", NULL};

        return finish_output(cmd->fn(&ctx, 2, sub_argv));
    }
    return finish_output(cmd->fn(&ctx, argc - pos, argv + pos));
}

bool cli_opt_takes_value(const char *word, const struct cli_opt *opts, size_t n)
{
    if (word[1] == '-') {
        if (strchr(word, '='))
            return false;
        if (strcmp(word + 2, "tracking-uri") == 0)
            return true;
        for (size_t i = 0; i < n; i++)
            if (strcmp(word + 2, opts[i].name) == 0)
                return opts[i].kind != CLI_OPT_FLAG;
        return false;
    }
    if (word[2] != '\0')
        return false;
    for (size_t i = 0; i < n; i++)
        if (opts[i].short_name == word[1])
            return opts[i].kind != CLI_OPT_FLAG;
    return false;
}
