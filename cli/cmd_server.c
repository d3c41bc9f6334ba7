/*
 * cmd_server.c - `mlflow-c server` and `mlflow-c ui`: MLflow's tracking
 * server, with MLflow's flags and their environment variables.
 *
 * The one command that reaches past <mlflow.h>: the server lives in the
 * library (src/server/) but is not part of its public API, so this file
 * includes its internal header. Everything it prints is printed here; the
 * library hands over access-log lines through a callback.
 */
#include "cli.h"

#include "server/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

/* Where access-log lines go; stdio locks the stream per call, so lines
 * from the server's threads never interleave. */
static void log_line(void *ud, const char *line)
{
    fprintf((FILE *)ud, "%s\n", line);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static bool env_flag(const char *name, bool dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0;
}

static int64_t env_count(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return dflt;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? dflt : (int64_t)n;
}

/* Many concurrent clients need many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_server(struct cli_ctx *ctx, int argc, char **argv, const char *summary)
{
    const char *backend = env_or("MLFLOW_BACKEND_STORE_URI", NULL);
    const char *root = env_or("MLFLOW_DEFAULT_ARTIFACT_ROOT", NULL);
    const char *dest = env_or("MLFLOW_ARTIFACTS_DESTINATION", NULL);
    const char *host = env_or("MLFLOW_HOST", "127.0.0.1");
    const char *prefix = env_or("MLFLOW_STATIC_PREFIX", NULL);
    const char *access_log = "-";
    int64_t port = env_count("MLFLOW_PORT", 5000), workers = env_count("MLFLOW_WORKERS", 0);
    bool serve = false, no_serve = false, artifacts_only = false;
    const struct cli_opt opts[] = {
        {"backend-store-uri", 0, CLI_OPT_STRING, &backend, "URI", false,
         "Where runs are stored: a path, file:, or sqlite:/// URI (default: ./mlruns)."},
        {"default-artifact-root", 0, CLI_OPT_STRING, &root, "URI", false,
         "Artifact root for new experiments (default: mlflow-artifacts:/ when serving "
         "artifacts, else the backend store's directory)."},
        {"serve-artifacts", 0, CLI_OPT_FLAG, &serve, NULL, false,
         "Proxy artifact uploads, downloads and listings (the default)."},
        {"no-serve-artifacts", 0, CLI_OPT_FLAG, &no_serve, NULL, false,
         "Do not serve artifacts; clients write to the artifact root themselves."},
        {"artifacts-destination", 0, CLI_OPT_STRING, &dest, "DIR", false,
         "Local directory behind mlflow-artifacts: URIs (default: ./mlartifacts)."},
        {"artifacts-only", 0, CLI_OPT_FLAG, &artifacts_only, NULL, false,
         "Serve only the artifact proxy; tracking endpoints answer 503."},
        {"host", 0, CLI_OPT_STRING, &host, "HOST", false,
         "Address to listen on (default: 127.0.0.1; 0.0.0.0 for every address)."},
        {"port", 'p', CLI_OPT_COUNT, &port, "PORT", false, "Port to listen on (default: 5000)."},
        {"workers", 'w', CLI_OPT_COUNT, &workers, "N", false,
         "Worker threads (default: 4 per core, at least 8)."},
        {"static-prefix", 0, CLI_OPT_STRING, &prefix, "PREFIX", false,
         "Prefix for the UI, ajax-api, health and get-artifact routes, e.g. /mlflow."},
        {"access-log", 0, CLI_OPT_STRING, &access_log, "FILE", false,
         "Where to write one line per request: a file, '-' for stderr (default) or 'off'."},
    };
    const struct cli_spec spec = {
        .summary = summary,
        .usage_args = "[--backend-store-uri URI] [--default-artifact-root URI] "
                      "[--serve-artifacts | --no-serve-artifacts] [--artifacts-destination DIR] "
                      "[--artifacts-only] [--host HOST] [--port PORT] [--workers N] "
                      "[--static-prefix PREFIX] [--access-log FILE]",
        .details = "A drop-in replacement for `mlflow server`: MLflow's REST API at /api/2.0 and "
                   "/ajax-api/2.0, and the mlflow-artifacts proxy. The environment variables of "
                   "MLflow's flags (MLFLOW_BACKEND_STORE_URI, MLFLOW_PORT, ...) are read too. "
                   "SIGINT or SIGTERM stops it after the requests in progress finish.",
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
    };
    int status = cli_parse(ctx, &spec, argc, argv);
    if (status >= 0)
        return status;
    if (serve && no_serve)
        return cli_usage_error(ctx, "--serve-artifacts and --no-serve-artifacts conflict");
    if (port > 65535)
        return cli_usage_error(ctx, "invalid value %lld for --port", (long long)port);
    if (workers > 1024)
        return cli_usage_error(ctx, "--workers is at most 1024");

    FILE *log = NULL;
    if (strcmp(access_log, "-") == 0) {
        log = stderr;
    } else if (strcmp(access_log, "off") != 0) {
        log = fopen(access_log, "a");
        if (!log) {
            fprintf(stderr, "%s: cannot open access log '%s': %s\n", CLI_NAME, access_log,
                    strerror(errno));
            return CLI_EXIT_ERROR;
        }
        setvbuf(log, NULL, _IOLBF, 0);
    }

    struct mlflow__server_opts o = {
        .backend_store_uri = backend,
        .default_artifact_root = root,
        .serve_artifacts = !no_serve && (serve || env_flag("MLFLOW_SERVE_ARTIFACTS", true)),
        .artifacts_destination = dest,
        .artifacts_only = artifacts_only || env_flag("MLFLOW_ARTIFACTS_ONLY", false),
        .host = host,
        .port = (int)port,
        .workers = (int)workers,
        .static_prefix = prefix,
        .log = log ? log_line : NULL,
        .log_ud = log,
        .access_log = log != NULL,
    };

    /* The signals are taken by sigwait below, never by a server thread:
     * block them before any thread exists. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    struct mlflow__server *srv = NULL;
    struct mlflow_error err = {0};
    int rc = mlflow__server_start(&o, &srv, &err);
    if (rc) {
        fprintf(stderr, "%s: %s: %s\n", CLI_NAME, mlflow_error_name(err.code ? err.code : rc),
                err.message[0] ? err.message : mlflow_strerror(rc));
        if (log && log != stderr)
            fclose(log);
        return CLI_EXIT_ERROR;
    }
    fprintf(stderr, "%s server listening on http://%s%s%s:%d (default artifact root: %s)\n",
            CLI_NAME, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            mlflow__server_port(srv), mlflow__server_artifact_root(srv));

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "%s server: %s received, finishing requests in progress\n", CLI_NAME,
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    mlflow__server_stop(srv, 30 * 1000);
    if (log && log != stderr)
        fclose(log);
    return CLI_EXIT_OK;
}

int cmd_server(struct cli_ctx *ctx, int argc, char **argv)
{
    return run_server(ctx, argc, argv, "Run the tracking server (MLflow's REST API and "
                                       "artifact proxy).");
}

/* `mlflow ui` is an alias of `mlflow server` in MLflow 2.x. */
int cmd_ui(struct cli_ctx *ctx, int argc, char **argv)
{
    return run_server(ctx, argc, argv, "Run the tracking server with local defaults (./mlruns, "
                                       "./mlartifacts); the same as 'server'.");
}
