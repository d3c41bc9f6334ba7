/*
 * cli.h - what the mlflow-c command's files share: the command table entry,
 * the option parser, tables for humans and JSON for --json.
 *
 * The command line uses only the public API of <mlflow.h>; nothing here may
 * reach into src/. A command is one handler that receives its own argv
 * (argv[0] is its name), declares its options in an array of struct cli_opt,
 * and calls cli_parse(). Everything a command prints goes through here or
 * through plain stdio on stdout; diagnostics go to stderr.
 *
 * Exit status: 0 success, 1 the library reported an error (or output failed),
 * 2 the command line itself was wrong (usage).
 */
#ifndef MLFLOW_CLI_H
#define MLFLOW_CLI_H

#include <mlflow.h>

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_NAME "mlflow-c"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,
    CLI_EXIT_USAGE = 2,
};

/*
 * State shared by every level of a command line. The options that every
 * command accepts (--tracking-uri, --json) land here, whether they were given
 * before the command name or after it.
 */
struct cli_ctx {
    const char *tracking_uri; /* NULL: MLFLOW_TRACKING_URI, else the default */
    bool json;
    char path[128];           /* "mlflow-c experiments create", for messages */
};

/*
 * One row of a command table (git's commands[], redis's command table). At the
 * top level a handler usually dispatches again into its own table through
 * cli_dispatch(); at the bottom it parses options and does the work. The
 * return value is the process exit status.
 */
struct cli_command {
    const char *name;
    int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
    const char *summary;
};

/*
 * Runs the sub-command named by argv[1] of the group argv[0] (e.g. argv =
 * {"experiments", "create", ...}): appends both names to ctx->path, handles
 * --help and the global options before the sub-command name, and reports an
 * unknown name with exit status 2. `about` is the group's description for
 * its help text.
 */
int cli_dispatch(struct cli_ctx *ctx, const char *about, const struct cli_command *cmds,
                 size_t n_cmds, int argc, char **argv);

/* The top-level commands (one cmd_*.c file each). */
int cmd_experiments(struct cli_ctx *ctx, int argc, char **argv);
int cmd_runs(struct cli_ctx *ctx, int argc, char **argv);
int cmd_server(struct cli_ctx *ctx, int argc, char **argv);
int cmd_ui(struct cli_ctx *ctx, int argc, char **argv);
int cmd_run(struct cli_ctx *ctx, int argc, char **argv);
int cmd_migrate(struct cli_ctx *ctx, int argc, char **argv);

/* ---- options ------------------------------------------------------------ */

enum cli_opt_kind {
    CLI_OPT_STRING, /* dest: const char **; last occurrence wins */
    CLI_OPT_LIST,   /* dest: struct cli_list *; each occurrence appends */
    CLI_OPT_COUNT,  /* dest: int64_t *; a non-negative decimal integer */
    CLI_OPT_FLAG,   /* dest: bool *; takes no value */
};

/* The values of a repeatable option, in command-line order. The strings are
 * argv's; free the array with cli_list_free(). */
struct cli_list {
    const char **items;
    size_t n;
};
void cli_list_free(struct cli_list *list);

struct cli_opt {
    const char *name;    /* long name without the dashes: "experiment-id" */
    char short_name;     /* 'x' for -x, 0 for none */
    enum cli_opt_kind kind;
    void *dest;
    const char *metavar; /* "ID" in "--experiment-id ID" */
    bool required;
    const char *help;
};

struct cli_spec {
    const char *summary;    /* one line, shown first in --help */
    const char *usage_args; /* NULL: generated from the options */
    const char *details;    /* NULL or extra paragraphs for --help */
    const struct cli_opt *opts;
    size_t n_opts;
};

/*
 * Parses argv[1..] against spec plus the options every command takes
 * (--tracking-uri URI, --json, --help/-h). Accepts "--opt value",
 * "--opt=value", "-o value" and "-ovalue"; "--" ends the options. Positional
 * arguments are refused. Returns -1 when the command should go on, or the
 * exit status to return at once: 0 after printing --help, 2 after a usage
 * message on stderr naming the offending word.
 */
int cli_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc, char **argv);

/* Whether the option word (e.g. "--experiment-name", "-e"; not "--x=v") takes
 * the next word as its value, among opts plus the common --tracking-uri.
 * Commands that take positional arguments use it to tell values from them. */
bool cli_opt_takes_value(const char *word, const struct cli_opt *opts, size_t n);

/* Prints "<path>: <message>" and a pointer to --help on stderr; returns 2. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a library failure as "mlflow-c: <ERROR_NAME>: <message>" on stderr;
 * returns 1. */
int cli_lib_error(int rc);

/* Opens the client for ctx->tracking_uri; on failure reports it and returns
 * the exit status (1), else 0. */
int cli_open_client(const struct cli_ctx *ctx, struct mlflow_client **out);

/* Parses a --view value (active_only, deleted_only, all; any case) into an
 * enum mlflow_view_type; a bad value is a usage error (returns 2). */
int cli_parse_view(const struct cli_ctx *ctx, const char *text, int *out);

/* ---- memory: out of memory ends the command (this is not the library) ---- */

void *cli_xmalloc(size_t size);
void *cli_xrealloc(void *ptr, size_t size);
char *cli_xstrdup(const char *s);

/* ---- text for humans ---------------------------------------------------- */

/* Local time "YYYY-MM-DD HH:MM:SS" of a millisecond timestamp; "" when unset. */
const char *cli_fmt_time(int64_t ms, char buf[32]);
/* Python's repr() of a float ("0.1", "3.0", "1e+16", "nan", "-inf"), as
 * MLflow shows metric values. Returns buf. */
const char *cli_fmt_double(double v, char buf[32]);

/* Pointers to the entries sorted by key (a stable display order: stores list
 * them in whatever order they read them). Free the array with free(). */
const struct mlflow_kv **cli_sorted_kv(const struct mlflow_kv *kv, size_t n);
const struct mlflow_metric **cli_sorted_metrics(const struct mlflow_metric *m, size_t n);

/*
 * A table printed with aligned columns under a header and a dashed rule, as
 * MLflow's CLI prints its tables. Cells are copied; line breaks and other
 * control characters in them are shown escaped so one row stays one line.
 */
struct cli_table {
    size_t n_cols;
    const char *const *headers;
    char **cells; /* n_rows * n_cols */
    size_t n_rows, cap_rows;
};

void cli_table_init(struct cli_table *t, size_t n_cols, const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *row);
void cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* "Label : value" lines with the labels padded to one width. */
void cli_print_fields(FILE *out, const char *const *labels, const char *const *values, size_t n);

/* ---- JSON (json-c) ------------------------------------------------------ */

/* A metric value: a number written as Python writes it, or the string "NaN",
 * "Infinity" or "-Infinity" for non-finite values. */
json_object *cli_json_double(double v);
/* A millisecond time as a number, or null when unset. */
json_object *cli_json_time(int64_t ms);
/* A string, or null for NULL. */
json_object *cli_json_string(const char *s);

/* MLflow's dict(experiment): artifact_location, creation_time, experiment_id,
 * last_update_time, lifecycle_stage, name, tags {k: v}. */
json_object *cli_json_experiment(const struct mlflow_experiment *exp);
/* MLflow's Run.to_dictionary(): {"info": {...}, "data": {"metrics",
 * "params", "tags"}, "inputs": {"dataset_inputs": []}}, status as its name. */
json_object *cli_json_run(const struct mlflow_run *run);

/* Prints obj pretty on stdout followed by a newline, and releases it. */
void cli_json_print(json_object *obj);

#endif /* MLFLOW_CLI_H */
