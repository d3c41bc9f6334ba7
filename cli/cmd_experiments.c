/*
 * cmd_experiments.c - `mlflow-c experiments ...`: create, search, get, delete,
 * restore and rename experiments, with MLflow's CLI flag names and messages.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

#define EXPERIMENT_ID_OPT(dest, req) \
    {"experiment-id", 'x', CLI_OPT_STRING, (dest), "ID", (req), "The experiment's id."}

/* The human form of one experiment, and its JSON form under --json. */
static void print_experiment(const struct cli_ctx *ctx, const struct mlflow_experiment *exp)
{
    static const char *const labels[] = {
        "Experiment ID", "Name", "Artifact Location", "Lifecycle Stage",
        "Creation Time", "Last Update Time", "Tags",
    };
    char created[64], updated[64], tbuf[32];
    const struct mlflow_kv **tags;
    size_t len = 1;
    char *tag_text;

    if (ctx->json) {
        cli_json_print(cli_json_experiment(exp));
        return;
    }
    if (exp->creation_time == MLFLOW_TIME_UNSET)
        snprintf(created, sizeof(created), "N/A");
    else
        snprintf(created, sizeof(created), "%s (%lld)", cli_fmt_time(exp->creation_time, tbuf),
                 (long long)exp->creation_time);
    if (exp->last_update_time == MLFLOW_TIME_UNSET)
        snprintf(updated, sizeof(updated), "N/A");
    else
        snprintf(updated, sizeof(updated), "%s (%lld)",
                 cli_fmt_time(exp->last_update_time, tbuf), (long long)exp->last_update_time);

    /* Tags on one line, "k=v, k=v", as `mlflow experiments get` shows them. */
    tags = cli_sorted_kv(exp->tags, exp->n_tags);
    for (size_t i = 0; i < exp->n_tags; i++)
        len += strlen(tags[i]->key) + strlen(tags[i]->value) + 3;
    tag_text = cli_xmalloc(len);
    tag_text[0] = '\0';
    for (size_t i = 0; i < exp->n_tags; i++) {
        if (i)
            strcat(tag_text, ", ");
        strcat(tag_text, tags[i]->key);
        strcat(tag_text, "=");
        strcat(tag_text, tags[i]->value);
    }
    {
        const char *values[] = {
            exp->experiment_id, exp->name, exp->artifact_location, exp->lifecycle_stage,
            created, updated, tag_text,
        };

        cli_print_fields(stdout, labels, values, N_OPTS(labels));
    }
    free(tag_text);
    free(tags);
}

/* After a change, --json shows the experiment as it now is. */
static int print_experiment_by_id(const struct cli_ctx *ctx, struct mlflow_client *client,
                                  const char *id)
{
    struct mlflow_experiment *exp = NULL;
    int rc = mlflow_client_get_experiment(client, id, &exp);

    if (rc != MLFLOW_OK)
        return cli_lib_error(rc);
    print_experiment(ctx, exp);
    mlflow_experiment_free(exp);
    return CLI_EXIT_OK;
}

static int exp_create(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *location = NULL;
    const struct cli_opt opts[] = {
        {"experiment-name", 'n', CLI_OPT_STRING, &name, "NAME", true,
         "Name of the new experiment."},
        {"artifact-location", 'l', CLI_OPT_STRING, &location, "URI", false,
         "Where runs of this experiment store artifacts (<URI>/<run_id>/artifacts); "
         "default: chosen by the tracking store."},
    };
    const struct cli_spec spec = {
        "Create an experiment.", NULL,
        "With --json, prints the new experiment as `experiments get --json` does.",
        opts, N_OPTS(opts),
    };
    struct mlflow_experiment_opts eopts = {0};
    struct mlflow_client *client;
    char *id = NULL;
    int status, rc;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    eopts.artifact_location = location;
    rc = mlflow_client_create_experiment(client, name, &eopts, &id);
    if (rc != MLFLOW_OK)
        status = cli_lib_error(rc);
    else if (ctx->json)
        status = print_experiment_by_id(ctx, client, id);
    else
        printf("Created experiment '%s' with id %s\n", name, id);
    mlflow_free(id);
    mlflow_client_close(client);
    return status;
}

static int exp_search(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const headers[] = {
        "Experiment Id", "Name", "Artifact Location", "Lifecycle Stage",
    };
    const char *view = NULL, *filter = NULL;
    int64_t max_results = -1;
    struct cli_list order_by = {0};
    const struct cli_opt opts[] = {
        {"view", 'v', CLI_OPT_STRING, &view, "VIEW", false,
         "active_only (default), deleted_only or all."},
        {"filter", 0, CLI_OPT_STRING, &filter, "FILTER", false,
         "MLflow search filter, e.g. \"name LIKE 'prod-%'\"."},
        {"max-results", 0, CLI_OPT_COUNT, &max_results, "N", false,
         "Show at most N experiments (default: all)."},
        {"order-by", 0, CLI_OPT_LIST, &order_by, "CLAUSE", false,
         "Sort key, e.g. \"name ASC\" or \"creation_time DESC\"."},
    };
    const struct cli_spec spec = {"Search experiments.", NULL, NULL, opts, N_OPTS(opts)};
    struct mlflow_search_experiments_opts sopts = {0};
    struct mlflow_client *client = NULL;
    struct cli_table table;
    json_object *array = NULL;
    char *token = NULL;
    int64_t shown = 0;
    int status, rc = MLFLOW_OK;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        goto out;
    sopts.view_type = MLFLOW_VIEW_ACTIVE_ONLY;
    if (view && (status = cli_parse_view(ctx, view, &sopts.view_type)) != CLI_EXIT_OK)
        goto out;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        goto out;
    sopts.filter = filter;
    sopts.order_by = order_by.items;
    sopts.n_order_by = order_by.n;

    cli_table_init(&table, N_OPTS(headers), headers);
    if (ctx->json)
        array = json_object_new_array();
    /* Follow the pages until the store has no more or --max-results is met. */
    while (max_results < 0 || shown < max_results) {
        struct mlflow_experiment_list *page = NULL;

        sopts.max_results = 1000;
        if (max_results >= 0 && max_results - shown < sopts.max_results)
            sopts.max_results = max_results - shown;
        sopts.page_token = token;
        rc = mlflow_client_search_experiments(client, &sopts, &page);
        if (rc != MLFLOW_OK)
            break;
        for (size_t i = 0; i < page->count; i++) {
            const struct mlflow_experiment *e = &page->experiments[i];
            const char *row[] = {e->experiment_id, e->name, e->artifact_location,
                                 e->lifecycle_stage};

            if (array)
                json_object_array_add(array, cli_json_experiment(e));
            else
                cli_table_add(&table, row);
        }
        shown += (int64_t)page->count;
        free(token);
        token = page->next_page_token ? cli_xstrdup(page->next_page_token) : NULL;
        mlflow_experiment_list_free(page);
        if (!token)
            break;
    }
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

static int exp_get(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *name = NULL;
    const struct cli_opt opts[] = {
        EXPERIMENT_ID_OPT(&id, false),
        {"experiment-name", 'n', CLI_OPT_STRING, &name, "NAME", false,
         "The experiment's name (active or deleted)."},
    };
    const struct cli_spec spec = {
        "Show one experiment: name, artifact location, lifecycle stage, times and tags.",
        "(--experiment-id ID | --experiment-name NAME)", NULL, opts, N_OPTS(opts),
    };
    struct mlflow_experiment *exp = NULL;
    struct mlflow_client *client;
    int status, rc;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if (!id == !name)
        return cli_usage_error(ctx, "give exactly one of '--experiment-id' and "
                               "'--experiment-name'");
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    if (id)
        rc = mlflow_client_get_experiment(client, id, &exp);
    else
        rc = mlflow_client_get_experiment_by_name(client, name, &exp);
    if (rc != MLFLOW_OK)
        status = cli_lib_error(rc);
    else
        print_experiment(ctx, exp);
    mlflow_experiment_free(exp);
    mlflow_client_close(client);
    return status;
}

/* delete and restore differ only in the call and the message; the messages
 * are MLflow's own, down to its "ID" in one and "id" in the other. */
static int exp_change(struct cli_ctx *ctx, int argc, char **argv, const char *summary,
                      int (*op)(struct mlflow_client *, const char *), const char *id_word,
                      const char *done)
{
    const char *id = NULL;
    const struct cli_opt opts[] = {EXPERIMENT_ID_OPT(&id, true)};
    const struct cli_spec spec = {summary, NULL, NULL, opts, N_OPTS(opts)};
    struct mlflow_client *client;
    int status, rc;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    rc = op(client, id);
    if (rc != MLFLOW_OK)
        status = cli_lib_error(rc);
    else if (ctx->json)
        status = print_experiment_by_id(ctx, client, id);
    else
        printf("Experiment with %s %s has been %s.\n", id_word, id, done);
    mlflow_client_close(client);
    return status;
}

static int exp_delete(struct cli_ctx *ctx, int argc, char **argv)
{
    return exp_change(ctx, argc, argv,
                      "Mark an active experiment and its runs deleted (restorable with "
                      "'experiments restore').",
                      mlflow_client_delete_experiment, "ID", "deleted");
}

static int exp_restore(struct cli_ctx *ctx, int argc, char **argv)
{
    return exp_change(ctx, argc, argv, "Restore a deleted experiment and its deleted runs.",
                      mlflow_client_restore_experiment, "id", "restored");
}

static int exp_rename(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *new_name = NULL;
    const struct cli_opt opts[] = {
        EXPERIMENT_ID_OPT(&id, true),
        {"new-name", 0, CLI_OPT_STRING, &new_name, "NAME", true, "The new name."},
    };
    const struct cli_spec spec = {"Rename an active experiment.", NULL, NULL, opts,
                                  N_OPTS(opts)};
    struct mlflow_client *client;
    int status, rc;

    if ((status = cli_parse(ctx, &spec, argc, argv)) >= 0)
        return status;
    if ((status = cli_open_client(ctx, &client)) != CLI_EXIT_OK)
        return status;
    rc = mlflow_client_rename_experiment(client, id, new_name);
    if (rc != MLFLOW_OK)
        status = cli_lib_error(rc);
    else if (ctx->json)
        status = print_experiment_by_id(ctx, client, id);
    else
        printf("Experiment with id %s has been renamed to '%s'.\n", id, new_name);
    mlflow_client_close(client);
    return status;
}

static const struct cli_command experiment_commands[] = {
    {"create", exp_create, "Create an experiment"},
    {"search", exp_search, "List experiments matching a filter"},
    {"get", exp_get, "Show one experiment by id or name"},
    {"delete", exp_delete, "Mark an experiment deleted"},
    {"restore", exp_restore, "Restore a deleted experiment"},
    {"rename", exp_rename, "Rename an experiment"},
};

int cmd_experiments(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_dispatch(ctx,
                        "Manage experiments. The tracking store is --tracking-uri, else "
                        "$MLFLOW_TRACKING_URI, else ./mlruns.",
                        experiment_commands, N_OPTS(experiment_commands), argc, argv);
}
