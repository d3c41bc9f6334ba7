/*
 * cmd_run.c - `mlflow-c run URI`: MLflow's `mlflow run` for the local
 * backend. Runs the project asynchronously and waits itself, so that
 * Ctrl-C (or SIGTERM) cancels the program and marks the run KILLED
 * instead of leaving it RUNNING.
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* Takes the one positional argument (the URI) out of argv; cli_parse
 * refuses positional words. Returns the new argc. */
static int take_uri(int argc, char **argv, const struct cli_opt *opts, size_t n,
                    const char **uri, char **rest)
{
    int m = 0;

    *uri = NULL;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];

        if (i > 0 && !*uri && strcmp(w, "--") == 0 && i + 1 < argc) {
            *uri = argv[++i];
            continue;
        }
        if (i > 0 && w[0] == '-' && w[1] && cli_opt_takes_value(w, opts, n) && i + 1 < argc) {
            rest[m++] = argv[i++];
            rest[m++] = argv[i];
            continue;
        }
        if (i > 0 && !*uri && (w[0] != '-' || !w[1])) {
            *uri = w;
            continue;
        }
        rest[m++] = argv[i];
    }
    rest[m] = NULL;
    return m;
}

static int wait_interruptibly(struct mlflow_submitted_run *run, bool *cancelled)
{
    struct sigaction sa, old_int, old_term;
    const struct timespec tick = {0, 50 * 1000000L};
    int status;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    *cancelled = false;
    while ((status = mlflow_submitted_run_status(run)) == MLFLOW_RUN_STATUS_RUNNING) {
        if (interrupted) {
            fprintf(stderr, "=== Cancelling run (ID '%s') ===\n", mlflow_submitted_run_id(run));
            *cancelled = true;
            if (mlflow_submitted_run_cancel(run) != MLFLOW_OK)
                cli_lib_error(mlflow_last_error_code());
            status = MLFLOW_RUN_STATUS_KILLED;
            break;
        }
        nanosleep(&tick, NULL);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *entry = NULL, *version = NULL, *experiment_name = NULL, *experiment_id = NULL;
    const char *run_name = NULL, *env_manager = NULL, *backend = NULL, *backend_config = NULL;
    const char *storage_dir = NULL, *run_id = NULL, *uri;
    struct cli_list params = {0}, docker_args = {0};
    bool build_image = false;
    const struct cli_opt opts[] = {
        {"entry-point", 'e', CLI_OPT_STRING, &entry, "NAME", false,
         "Entry point to run (default: main). A .sh or .py file that is not declared runs "
         "that file."},
        {"version", 'v', CLI_OPT_STRING, &version, "VERSION", false,
         "Git branch, tag or commit to run (git projects only)."},
        {"param-list", 'P', CLI_OPT_LIST, &params, "KEY=VALUE", false,
         "A parameter, repeatable. Undeclared ones are passed as --KEY VALUE."},
        {"experiment-name", 0, CLI_OPT_STRING, &experiment_name, "NAME", false,
         "Experiment to run in, created when missing."},
        {"experiment-id", 0, CLI_OPT_STRING, &experiment_id, "ID", false,
         "Experiment to run in (default: $MLFLOW_EXPERIMENT_NAME/_ID, else 0)."},
        {"run-name", 0, CLI_OPT_STRING, &run_name, "NAME", false, "Name of the new run."},
        {"env-manager", 0, CLI_OPT_STRING, &env_manager, "MANAGER", false,
         "local (run in the current environment), conda or virtualenv."},
        {"backend", 'b', CLI_OPT_STRING, &backend, "BACKEND", false,
         "Execution backend; only 'local'."},
        {"backend-config", 'c', CLI_OPT_STRING, &backend_config, "FILE|JSON", false,
         "Backend configuration: a JSON object or a JSON file."},
        {"storage-dir", 0, CLI_OPT_STRING, &storage_dir, "DIR", false,
         "Where git clones, unpacked archives and downloaded path parameters go (default: "
         "$TMPDIR or /tmp)."},
        {"run-id", 0, CLI_OPT_STRING, &run_id, "ID", false,
         "Run in this existing run instead of creating one."},
        {"docker-args", 'A', CLI_OPT_LIST, &docker_args, "NAME=VALUE", false,
         "A `docker run` argument, repeatable: -A gpus=all gives --gpus all, -A t gives -t "
         "(docker_env projects)."},
        {"build-image", 0, CLI_OPT_FLAG, &build_image, NULL, false,
         "docker_env projects: build an image FROM the docker_env image holding the "
         "project's files, instead of running the docker_env image as it is."},
    };
    const struct cli_spec spec = {
        "Run an MLflow project from a folder, a git repository or a .zip file.",
        "URI [-e NAME] [-v VERSION] [-P KEY=VALUE ...] [--experiment-name NAME | "
        "--experiment-id ID] [--run-name NAME] [--env-manager MANAGER] [-b local] "
        "[-c FILE|JSON] [--storage-dir DIR] [--run-id ID] [-A NAME[=VALUE] ...] "
        "[--build-image]",
        "URI may end in #subdirectory. The entry point's command runs with bash in the\n"
        "project folder, with MLFLOW_RUN_ID, MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID\n"
        "set; a docker_env project's runs in `docker run`, as MLflow runs it. Exit\n"
        "status 0 ends the run FINISHED, anything else FAILED; Ctrl-C cancels the\n"
        "program and ends the run KILLED.",
        opts, N_OPTS(opts),
    };
    char **rest = cli_xmalloc(((size_t)argc + 1) * sizeof(*rest));
    struct mlflow_kv *kv = NULL, *dargs = NULL;
    struct mlflow_submitted_run *run = NULL;
    int status, rc;

    argc = take_uri(argc, argv, opts, N_OPTS(opts), &uri, rest);
    if ((status = cli_parse(ctx, &spec, argc, rest)) >= 0)
        goto out;
    if (!uri) {
        status = cli_usage_error(ctx, "missing argument 'URI'");
        goto out;
    }
    kv = cli_xmalloc((params.n + 1) * sizeof(*kv));
    memset(kv, 0, (params.n + 1) * sizeof(*kv));
    for (size_t i = 0; i < params.n; i++) {
        const char *eq = strchr(params.items[i], '=');

        if (!eq || eq == params.items[i]) {
            status = cli_usage_error(ctx, "invalid -P value '%s' (expected KEY=VALUE)",
                                     params.items[i]);
            goto out;
        }
        kv[i].key = cli_xstrdup(params.items[i]);
        ((char *)kv[i].key)[eq - params.items[i]] = '\0';
        kv[i].value = eq + 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(kv[j].key, kv[i].key) == 0) {
                status = cli_usage_error(ctx, "Repeated parameter: '%s'", kv[i].key);
                goto out;
            }
    }
    /* -A name=value, or -A name for a flag (MLflow's _user_args_to_dict). */
    dargs = cli_xmalloc((docker_args.n + 1) * sizeof(*dargs));
    memset(dargs, 0, (docker_args.n + 1) * sizeof(*dargs));
    for (size_t i = 0; i < docker_args.n; i++) {
        char *eq = strchr(docker_args.items[i], '=');

        if (eq == docker_args.items[i] || !docker_args.items[i][0]) {
            status = cli_usage_error(ctx, "Invalid format for -A parameter: '%s'. Use -A "
                                     "name=value.", docker_args.items[i]);
            goto out;
        }
        dargs[i].key = cli_xstrdup(docker_args.items[i]);
        if (eq) {
            ((char *)dargs[i].key)[eq - docker_args.items[i]] = '\0';
            dargs[i].value = eq + 1;
        }
    }
    struct mlflow_project_opts popts = {
        .entry_point = entry, .version = version, .parameters = kv,
        .n_parameters = params.n, .experiment_name = experiment_name,
        .experiment_id = experiment_id, .run_name = run_name, .backend = backend,
        .backend_config = backend_config, .env_manager = env_manager,
        .storage_dir = storage_dir, .asynchronous = true, .run_id = run_id,
        .tracking_uri = ctx->tracking_uri, .build_image = build_image,
        .docker_args = dargs, .n_docker_args = docker_args.n,
    };

    rc = mlflow_run_project(uri, &popts, &run);
    if (rc != MLFLOW_OK) {
        status = cli_lib_error(rc);
        goto out;
    }
    fprintf(stderr, "=== Running command '%s' in run with ID '%s' === \n",
            mlflow_submitted_run_command(run), mlflow_submitted_run_id(run));
    bool cancelled;
    int end = wait_interruptibly(run, &cancelled);
    const char *id = mlflow_submitted_run_id(run);

    if (ctx->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "run_id", json_object_new_string(id));
        json_object_object_add(o, "status", cli_json_string(mlflow_run_status_name(end)));
        cli_json_print(o);
    }
    if (end == MLFLOW_RUN_STATUS_FINISHED) {
        fprintf(stderr, "=== Run (ID '%s') succeeded ===\n", id);
        status = CLI_EXIT_OK;
    } else {
        fprintf(stderr, "%s: Run (ID '%s') %s\n", CLI_NAME, id,
                cancelled ? "was cancelled" : "failed");
        status = cancelled ? 128 + (interrupted ? interrupted : SIGINT) : CLI_EXIT_ERROR;
    }
out:
    if (kv)
        for (size_t i = 0; i < params.n; i++)
            free((char *)kv[i].key);
    free(kv);
    if (dargs)
        for (size_t i = 0; i < docker_args.n; i++)
            free((char *)dargs[i].key);
    free(dargs);
    mlflow_submitted_run_free(run);
    cli_list_free(&params);
    cli_list_free(&docker_args);
    free(rest);
    return status;
}
