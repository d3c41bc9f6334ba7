/*
 * cmd_runs.c - `mlflow-c runs ...`: list the runs of an experiment, describe
 * one run, delete and restore runs, with MLflow's CLI flag names and messages.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

#define RUN_ID_OPT(dest) {"run-id", 0, CLI_OPT_STRING, (dest), "ID", true, "The run's id."}

static int runs_list(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const headers[] = {"Date", "Name", "ID", "Status"};
    const char *experiment_id = NULL, *view = NULL, *filter = NULL;
    struct cli_list order_by = {0};
    const struct cli_opt opts[] = {
        {"experiment-id", 'x', CLI_OPT_STRING, &experiment_id, "ID", false,
         "The experiment whose runs to list (default: $MLFLOW_EXPERIMENT_ID)."},
        {"view", 'v', CLI_OPT_STRING, &view, "VIEW",
         false, "active_only (default), deleted_only or all."},
        {"filter", 0, CLI_OPT_STRING, &filter, "FILTER", false,
         "MLflow search filter, e.g. \"metrics.loss < 0.1 and params.lr = '0.01'\"."},
        {"order-by", 0, CLI_OPT_LIST, &order_by, "CLAUSE", false,
         "Sort key, e.g. \"metrics.loss ASC\" (default: start time, newest first)."},
    };
    const struct cli_spec spec = {
        "List the runs of an experiment: start time (local), name, id and status.",
        "--experiment-id ID [--view VIEW] [--filter FILTER] [--order-by CLAUSE ...]",
        "With --json, prints a list of runs, each as `runs describe --json` does.",
        opts, N_OPTS(opts),
    };
    struct mlflow_search_runs_opts sopts = {0};
    struct mlflow_client *client = NULL;
    struct cli_table table;
    json_object *array = NULL;
    char *token = NULL;
    int status, rc = MLFLOW_OK;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        goto out;
    /* As in MLflow, the experiment may come from the environment. */
    if (!experiment_id || !*experiment_id)
        experiment_id = getenv("MLFLOW_EXPERIMENT_ID");
    if (!experiment_id || !*experiment_id) {
        status = cli_usage_error(ctx, "missing required option '--experiment-id'");
        goto out;
    }
    sopts.view_type = MLFLOW_VIEW_ACTIVE_ONLY;
    if (view && (status = cli_parse_view(ctx, view, &sopts.view_type)) != CLI_EXIT_OK)
        goto out;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        goto out;
    sopts.experiment_ids = &experiment_id;
    sopts.n_experiment_ids = 1;
    sopts.filter = filter;
    sopts.order_by = order_by.items;
    sopts.n_order_by = order_by.n;
    sopts.max_results = 1000;

    cli_table_init(&table, N_OPTS(headers), headers);
    if (ctx->json)
        array = json_object_new_array();
    do {
        struct mlflow_run_list *page = NULL;

        sopts.page_token = token;
        rc = mlflow_client_search_runs(client, &sopts, &page);
        if (rc != MLFLOW_OK)
            break;
        for (size_t i = 0; i < page->count; i++) {
            const struct mlflow_run_info *ri = &page->runs[i].info;
            const char *status_name = mlflow_run_status_name(ri->status);
            char date[32];
            const char *row[] = {cli_fmt_time(ri->start_time, date),
                                 ri->run_name ? ri->run_name : "", ri->run_id,
                                 status_name ? status_name : "?"};

            if (array)
                json_object_array_add(array, cli_json_run(&page->runs[i]));
            else
                cli_table_add(&table, row);
        }
        free(token);
        token = page->next_page_token ? cli_xstrdup(page->next_page_token) : NULL;
        mlflow_run_list_free(page);
    } while (token);

    if (rc != MLFLOW_OK) {
        status = cli_lib_error(rc);
        json_object_put(array);
    } else if (array) {
        cli_json_print(array);
        status = CLI_EXIT_OK;
    } else {
        cli_table_print(&table, stdout);
        status = CLI_EXIT_OK;
    }
    cli_table_free(&table);
    free(token);
out:
    if (client)
        mlflow_client_close(client);
    cli_list_free(&order_by);
    return status;
}

static void print_kv_section(const char *title, const struct mlflow_kv *kv, size_t n)
{
    static const char *const headers[] = {"Key", "Value"};
    const struct mlflow_kv **sorted;
    struct cli_table table;

    if (n == 0) {
        printf("\n%s: none\n", title);
        return;
    }
    printf("\n%s:\n", title);
    sorted = cli_sorted_kv(kv, n);
    cli_table_init(&table, 2, headers);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = {sorted[i]->key, sorted[i]->value};

        cli_table_add(&table, row);
    }
    cli_table_print(&table, stdout);
    cli_table_free(&table);
    free(sorted);
}

static void print_metrics_section(const struct mlflow_metric *m, size_t n)
{
    static const char *const headers[] = {"Key", "Value", "Step", "Time"};
    const struct mlflow_metric **sorted;
    struct cli_table table;

    if (n == 0) {
        printf("\nMetrics: none\n");
        return;
    }
    printf("\nMetrics (latest values):\n");
    sorted = cli_sorted_metrics(m, n);
    cli_table_init(&table, N_OPTS(headers), headers);
    for (size_t i = 0; i < n; i++) {
        char value[32], step[24], when[32];
        const char *row[] = {sorted[i]->key, cli_fmt_double(sorted[i]->value, value), step,
                             cli_fmt_time(sorted[i]->timestamp, when)};

        snprintf(step, sizeof(step), "%lld", (long long)sorted[i]->step);
        cli_table_add(&table, row);
    }
    cli_table_print(&table, stdout);
    cli_table_free(&table);
    free(sorted);
}

static void print_run(const struct mlflow_run *run)
{
    static const char *const labels[] = {
        "Run ID", "Name", "Experiment ID", "Status", "Lifecycle Stage",
        "User", "Start Time", "End Time", "Artifact URI",
    };
    const struct mlflow_run_info *ri = &run->info;
    char start[32], end[32];
    const char *values[] = {
        ri->run_id, ri->run_name, ri->experiment_id, mlflow_run_status_name(ri->status),
        ri->lifecycle_stage, ri->user_id, cli_fmt_time(ri->start_time, start),
        ri->end_time == MLFLOW_TIME_UNSET ? "-" : cli_fmt_time(ri->end_time, end),
        ri->artifact_uri,
    };

    cli_print_fields(stdout, labels, values, N_OPTS(labels));
    print_kv_section("Params", run->data.params, run->data.n_params);
    print_metrics_section(run->data.metrics, run->data.n_metrics);
    print_kv_section("Tags", run->data.tags, run->data.n_tags);
}

/* Reads a run and shows it: for humans, or as MLflow's `runs describe` JSON. */
static int show_run(const struct cli_ctx *ctx, struct mlflow_client *client, const char *id)
{
    struct mlflow_run *run = NULL;
    int rc = mlflow_client_get_run(client, id, &run);

    if (rc != MLFLOW_OK)
        return cli_lib_error(rc);
    if (ctx->json)
        cli_json_print(cli_json_run(run));
    else
        print_run(run);
    mlflow_run_free(run);
    return CLI_EXIT_OK;
}

static int runs_describe(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *run_id = NULL;
    const struct cli_opt opts[] = {RUN_ID_OPT(&run_id)};
    const struct cli_spec spec = {
        "Show a run: its info, params, latest metrics and tags.", NULL,
        "With --json, prints the run in the shape of MLflow's `mlflow runs describe`:\n"
        "{\"info\": {...}, \"data\": {\"metrics\", \"params\", \"tags\"}, \"inputs\": {...}}.",
        opts, N_OPTS(opts),
    };
    struct mlflow_client *client;
    int status;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    status = show_run(ctx, client, run_id);
    mlflow_client_close(client);
    return status;
}

/* delete and restore differ only in the call and the message; the messages
 * are MLflow's own, down to its "ID" in one and "id" in the other. */
static int runs_change(struct cli_ctx *ctx, int argc, char **argv, const char *summary,
                       int (*op)(struct mlflow_client *, const char *), const char *id_word,
                       const char *done)
{
    const char *run_id = NULL;
    const struct cli_opt opts[] = {RUN_ID_OPT(&run_id)};
    const struct cli_spec spec = {summary, NULL, NULL, opts, N_OPTS(opts)};
    struct mlflow_client *client;
    int status, rc;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    rc = op(client, run_id);
    if (rc != MLFLOW_OK)
        status = cli_lib_error(rc);
    else if (ctx->json)
        status = show_run(ctx, client, run_id);
    else
        printf("Run with %s %s has been %s.\n", id_word, run_id, done);
    mlflow_client_close(client);
    return status;
}

static int runs_delete(struct cli_ctx *ctx, int argc, char **argv)
{
    return runs_change(ctx, argc, argv,
                       "Mark a run deleted (restorable with 'runs restore').",
                       mlflow_client_delete_run, "ID", "deleted");
}

static int runs_restore(struct cli_ctx *ctx, int argc, char **argv)
{
    return runs_change(ctx, argc, argv, "Restore a deleted run.", mlflow_client_restore_run,
                       "id", "restored");
}

static const struct cli_command run_commands[] = {
    {"list", runs_list, "List the runs of an experiment"},
    {"describe", runs_describe, "Show one run: info, params, metrics, tags"},
    {"delete", runs_delete, "Mark a run deleted"},
    {"restore", runs_restore, "Restore a deleted run"},
};

int cmd_runs(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx,
                        "Manage runs. The tracking store is --tracking-uri, else "
                        "$MLFLOW_TRACKING_URI, else ./mlruns.",
                        run_commands, N_OPTS(run_commands), argc, argv);
}
