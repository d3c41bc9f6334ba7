/*
 * cmd_migrate.c - `mlflow-c migrate SRC_URI DST_URI`: copies one tracking
 * store into another (file -> sqlite, sqlite -> file, ...) with ids kept,
 * through the library's internal migration (src/migrate.h). Progress (and
 * the experiments that got new ids) goes to stderr, the summary to stdout.
 */
#include "cli.h"

#include "migrate.h"

#include <stdlib.h>
#include <string.h>

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

/* Moves the positional words out of argv (cli_parse refuses them) into
 * pos[0..*n_pos), at most max of them counted; returns the new argc. */
static int take_positionals(int argc, char **argv, const struct cli_opt *opts, size_t n,
                            const char **pos, size_t max, size_t *n_pos, char **rest)
{
    int m = 0;
    bool only_pos = false;
    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (i > 0 && !only_pos && strcmp(w, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (i > 0 && !only_pos && w[0] == '-' && w[1] && cli_opt_takes_value(w, opts, n) &&
            i + 1 < argc) {
            rest[m++] = argv[i++];
            rest[m++] = argv[i];
            continue;
        }
        if (i > 0 && (only_pos || w[0] != '-' || !w[1])) {
            if (*n_pos < max)
                pos[*n_pos] = w;
            (*n_pos)++;
            continue;
        }
        rest[m++] = argv[i];
    }
    rest[m] = NULL;
    return m;
}

/* Experiments that got new ids, for the summary. */
struct renumbering {
    bool quiet;
    size_t n, cap;
    struct {
        char *old_id, *new_id, *name;
    } *map;
};

static void note_renumbered(void *ctx, const char *old_id, const char *new_id, const char *name)
{
    struct renumbering *r = ctx;
    if (!r->quiet) {
        fprintf(stderr, "%s migrate: experiment '%s': id %s -> %s (too large for the "
                        "destination)\n",
                CLI_NAME, name, old_id, new_id);
        fflush(stderr);
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->map = cli_xrealloc(r->map, r->cap * sizeof *r->map);
    }
    r->map[r->n].old_id = cli_xstrdup(old_id);
    r->map[r->n].new_id = cli_xstrdup(new_id);
    r->map[r->n].name = cli_xstrdup(name);
    r->n++;
}

static void print_progress(void *ctx, const struct mlflow__migrate_stats *st, bool done)
{
    (void)ctx;
    if (done)
        return; /* the summary says it */
    fprintf(stderr, "%s migrate: %zu runs checked, %zu copied (%zu metric points)\n", CLI_NAME,
            st->runs, st->runs_copied, st->metric_points);
    fflush(stderr);
}

/* The summary on stdout: counts, and the experiments that got new ids. */
static void print_summary(struct cli_ctx *ctx, const struct mlflow__migrate_stats *st,
                          const struct renumbering *ren)
{
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "experiments", json_object_new_int64((int64_t)st->experiments));
        json_object_object_add(o, "experiments_copied",
                               json_object_new_int64((int64_t)st->experiments_copied));
        json_object_object_add(o, "runs", json_object_new_int64((int64_t)st->runs));
        json_object_object_add(o, "runs_copied", json_object_new_int64((int64_t)st->runs_copied));
        json_object_object_add(o, "metric_points",
                               json_object_new_int64((int64_t)st->metric_points));
        json_object_object_add(o, "params", json_object_new_int64((int64_t)st->params));
        json_object_object_add(o, "tags", json_object_new_int64((int64_t)st->tags));
        json_object *map = json_object_new_array();
        for (size_t i = 0; i < ren->n; i++) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "old_id", json_object_new_string(ren->map[i].old_id));
            json_object_object_add(e, "new_id", json_object_new_string(ren->map[i].new_id));
            json_object_object_add(e, "name", json_object_new_string(ren->map[i].name));
            json_object_array_add(map, e);
        }
        json_object_object_add(o, "renumbered_experiments", map);
        cli_json_print(o);
    } else {
        printf("Copied %zu of %zu experiments and %zu of %zu runs (%zu metric points, %zu params, "
               "%zu tags); the rest were in the destination already.\n",
               st->experiments_copied, st->experiments, st->runs_copied, st->runs,
               st->metric_points, st->params, st->tags);
        if (ren->n)
            printf("%zu experiment%s got new ids (the destination cannot hold the old ones); "
                   "their runs kept theirs:\n",
                   ren->n, ren->n == 1 ? "" : "s");
        for (size_t i = 0; i < ren->n; i++)
            printf("  %s -> %s  %s\n", ren->map[i].old_id, ren->map[i].new_id,
                   ren->map[i].name);
    }
}

int cmd_migrate(struct cli_ctx *ctx, int argc, char **argv)
{
    bool quiet = false;
    int64_t every = 100;
    const struct cli_opt opts[] = {
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, false, "Print no progress lines on stderr."},
        {"progress-every", 0, CLI_OPT_COUNT, &every, "N", false,
         "Print a progress line on stderr after every N runs (default 100; 0: never)."},
    };
    const struct cli_spec spec = {
        "Copy every experiment, run, param, tag and metric point from one store to another.",
        "SRC_URI DST_URI [--quiet] [--progress-every N]",
        "Ids, names, times, statuses and lifecycle stages (deleted experiments and runs\n"
        "included) are kept; metrics keep their full history. Artifacts are not copied:\n"
        "runs keep their artifact URIs as they are. DST_URI is created when missing.\n"
        "\n"
        "Rerunning is safe: experiments and runs already in DST_URI (matched by id) are\n"
        "skipped as they are, so only new ones are copied. A run is written whole or not\n"
        "at all. The destination must be a file or SQL store; a server is refused.\n"
        "\n"
        "PostgreSQL holds experiment ids as 32-bit integers; a file store's 18-digit ids do\n"
        "not fit. Such an experiment gets a new id from the destination (its runs keep\n"
        "theirs); each mapping OLD -> NEW is printed on stderr as it happens and listed in\n"
        "the summary. A rerun finds the copy by name and creation time.\n"
        "\n"
        "Prints a summary on stdout (with --json: the counts as an object).\n"
        "Example: mlflow-c migrate ./mlruns sqlite:///mlflow.db",
        opts, N_OPTS(opts),
    };
    char **rest = cli_xmalloc(((size_t)argc + 1) * sizeof *rest);
    const char *pos[2] = {NULL, NULL};
    size_t n_pos;
    int n = take_positionals(argc, argv, opts, N_OPTS(opts), pos, 2, &n_pos, rest);
    int status = cli_parse(ctx, &spec, n, rest);
    free(rest);
    if (status >= 0)
        return status;
    if (n_pos < 2)
        return cli_usage_error(ctx, "expected two arguments, SRC_URI and DST_URI");
    if (n_pos > 2)
        return cli_usage_error(ctx, "expected two arguments, SRC_URI and DST_URI; got %zu",
                               n_pos);

    struct renumbering ren = {.quiet = quiet};
    struct mlflow__migrate_opts mopts = {
        .progress = quiet ? NULL : print_progress,
        .ctx = &ren,
        .progress_every = (size_t)every,
        .renumbered = note_renumbered,
    };
    struct mlflow__migrate_stats st;
    struct mlflow_error err = {0};
    int rc = mlflow__migrate(pos[0], pos[1], &mopts, &st, &err);
    if (rc) {
        fprintf(stderr, "%s: %s: %s\n", CLI_NAME, mlflow_error_name(rc),
                err.message[0] ? err.message : mlflow_strerror(rc));
    } else {
        print_summary(ctx, &st, &ren);
    }
    for (size_t i = 0; i < ren.n; i++) {
        free(ren.map[i].old_id);
        free(ren.map[i].new_id);
        free(ren.map[i].name);
    }
    free(ren.map);
    if (rc)
        return CLI_EXIT_ERROR;
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

