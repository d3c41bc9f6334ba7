/*
 * server.h - mlflow-c's tracking server: a drop-in for `mlflow server`.
 *
 * Layers, each in its own file:
 *   http.c         HTTP on libmicrohttpd (epoll thread pool): request
 *                  parsing, limits, the browser defences, streaming bodies,
 *                  the access log and a graceful stop
 *   routes.c       the one declarative route table and path matching
 *   h_*.c          handlers: JSON in, client API call, JSON out
 *   artifact_fs.c  the artifact path canonicalizer and every file operation
 *                  on artifacts, always beneath an open root directory
 *   artifact_dest.c  where artifacts are: a local root (artifact_fs.c) or an
 *                  S3 prefix (the s3 repository), behind one interface
 *   ui.c           the web UI's static files: embedded in the program (the
 *                  table comes from the caller, see mlflow__ui_files) or, for
 *                  development, read from a directory
 *   downsample.c   the chart's spike-keeping metric downsampling
 *
 * Handlers never touch a store: they go through the client API
 * (src/client.h), as any other program would.
 *
 * The top half of this header is what the command line uses; the rest is
 * shared by the server's own files.
 */
#ifndef MLFLOW_SERVER_H
#define MLFLOW_SERVER_H

#include "../client.h"
#include "../json.h"

#include <stdatomic.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- starting and stopping --------------------------------------------------- */

/* One file of the web UI. tools/embed.c writes a table of these into a C
 * file that only the mlflow-c program links, so libmlflow itself carries no
 * UI: the program hands its table over in the options. */
struct mlflow__ui_file {
    const char *path;           /* relative, e.g. "index.html", "app-3N6QGPTL.js" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz;    /* the same bytes gzip-compressed, or NULL */
    size_t gz_len;
    const char *etag;           /* quoted strong validator of data, e.g. "\"9f2c...\"" */
    const char *etag_gz;        /* the same for gz */
    bool immutable;             /* content-hashed name: cacheable for ever */
};

struct mlflow__ui_files {
    const struct mlflow__ui_file *files;
    size_t n;
};

struct mlflow__server_opts {
    const char *backend_store_uri;     /* NULL: ./mlruns */
    const char *default_artifact_root; /* NULL: spec section 10 (see below) */
    bool serve_artifacts;              /* MLflow's default is on */
    const char *artifacts_destination; /* NULL: ./mlartifacts; a local path or s3://b/prefix */
    bool artifacts_only;
    const char *host;                  /* NULL: 127.0.0.1 */
    int port;                          /* 0: any free port (see mlflow__server_port) */
    int workers;                       /* threads; 0: 4 per core, at least 8 */
    const char *static_prefix;         /* NULL/"": none; else "/x" (no trailing '/') */
    size_t max_json_body;              /* 0: 8 MiB */
    size_t max_upload_body;            /* 0: unlimited (artifact PUT streams to disk) */
    unsigned connection_timeout_s;     /* 0: 120 (idle time, not total) */
    unsigned max_connections;          /* 0: 4096 */
    /* Receives the access log (one line per request, when access_log) and
     * notices; NULL: nothing is reported. Called from server threads. */
    void (*log)(void *ud, const char *line);
    void *log_ud;
    bool access_log;
    /* The web UI at / (and <static-prefix>/): these embedded files, or,
     * when ui_dir is set, the files of that directory (development: the UI
     * can be rebuilt without rebuilding C). Neither: every UI path is 404. */
    const struct mlflow__ui_files *ui_files;
    const char *ui_dir;
};

struct mlflow__server;

/* Resolves the options (artifact roots as MLflow does: with serving on and
 * no --default-artifact-root, new experiments get mlflow-artifacts:/<id>;
 * with serving off, the backend store's directory if it is local, else
 * ./mlruns), opens the store and starts listening. */
MLFLOW_INTERNAL int mlflow__server_start(const struct mlflow__server_opts *opts,
                                         struct mlflow__server **out, struct mlflow_error *err);
/* The bound port (useful with port 0). */
MLFLOW_INTERNAL int mlflow__server_port(const struct mlflow__server *s);
/* The default artifact root in effect, e.g. "mlflow-artifacts:/". */
MLFLOW_INTERNAL const char *mlflow__server_artifact_root(const struct mlflow__server *s);
/* Stops accepting, lets requests in progress finish (at most grace_ms),
 * then shuts down and frees everything. NULL is a no-op. */
MLFLOW_INTERNAL void mlflow__server_stop(struct mlflow__server *s, unsigned grace_ms);

/* ---- shared inside the server ------------------------------------------------ */

struct MHD_Daemon;
struct MHD_Connection;
struct mlflow__adest_state;

struct mlflow__server {
    struct mlflow__server_opts opts; /* as given; its strings are read only at start */
    struct mlflow_client *client;
    char *store_uri;
    char *artifact_root;       /* default artifact root for new experiments */
    char *dest_path;           /* absolute --artifacts-destination (when serving) */
    int dest_fd;               /* open directory of dest_path, or -1 */
    char *static_prefix;       /* "" or "/x" */
    char *allowed_roots[3];    /* absolute local roots an artifact_location may use */
    size_t n_allowed_roots;
    bool loopback;             /* bound to a loopback address: Host must be local */
    int listen_fd;
    int port;
    char *ui_dir;              /* absolute opts.ui_dir, or NULL */
    struct MHD_Daemon *daemon;
    atomic_int active;         /* requests between their first byte and their end */
    struct mlflow__adest_state *adest; /* S3 destination and spool (artifact_dest.h) */
};

/* Upload in progress: a temporary file beside the destination, renamed
 * into place on commit (artifact_fs.c). */
struct mlflow__afs_upload {
    int dir_fd;
    int fd;
    char tmp[64];
    char *leaf;
    uint64_t written;
};

struct mlflow__route;

/* One request. Allocated as a result object (mlflow__obj_new): everything
 * per request lives in its arena and goes with one free. */
struct mlflow__req {
    struct mlflow__server *srv;
    struct MHD_Connection *conn;
    const struct mlflow__route *route;
    char method[8];
    char *raw_uri;         /* as received, for the access log */
    char *path;            /* percent-decoded once, as the router sees it */
    const char *tail;      /* after a tail route's prefix (still once-decoded) */
    json_object *params;   /* query string (GET) or JSON body (POST/PUT) */
    bool from_query;       /* params came from the query string */
    json_object *query;    /* the query string, always (upload routes use it) */
    /* body */
    struct mlflow__sb body;
    uint64_t body_len;
    uint64_t body_limit;
    bool body_too_large;
    bool upload_open;
    struct mlflow__afs_upload upload;
    const char *upload_s3; /* object an upload spooled in r->upload goes to (artifact_dest.c) */
    int upload_err_code;   /* first failure while streaming the body */
    char *upload_err_msg;
    /* lifecycle */
    bool started, responded, counted;
    int64_t t_start_us;
    int status;
    uint64_t resp_bytes;
    char client_ip[48];
};

MLFLOW_INTERNAL struct mlflow__arena *mlflow__req_arena(struct mlflow__req *r);

/* What a handler answers. A JSON body (owned, mlflow__malloc'ed) or a file
 * descriptor to stream (owned; closed by the server). */
struct mlflow__resp {
    int status;
    char *body;
    size_t len;
    const char *content_type; /* static string; NULL: application/json */
    int fd;                   /* >= 0: stream this file instead of body */
    uint64_t fd_size;
    const char *filename;     /* with fd: Content-Disposition attachment name */
    bool body_static;         /* body outlives the server: not freed (embedded files) */
    /* Further headers (static strings or in the request arena); a body with
     * headers of its own (the UI's) gets no default ones besides nosniff. */
    const char *headers[8][2];
    size_t n_headers;
};

/* Handlers return 0 with *out filled, or an MLflow error code with err set;
 * the server turns that into {"error_code", "message"}. */
typedef int (*mlflow__handler_fn)(struct mlflow__req *r, struct mlflow__resp *out,
                                  struct mlflow_error *err);

enum {
    MLFLOW__R_JSON = 1 << 0,      /* POST/PUT body is JSON (Content-Type checked) */
    MLFLOW__R_TRACKING = 1 << 1,  /* 503 with --artifacts-only */
    MLFLOW__R_PROXY = 1 << 2,     /* 503 with --no-serve-artifacts */
    MLFLOW__R_API = 1 << 3,       /* /api/2.0<path> and <prefix>/ajax-api/2.0<path> */
    MLFLOW__R_AJAX = 1 << 4,      /* <prefix>/ajax-api/2.0<path> only */
    MLFLOW__R_ROOT = 1 << 5,      /* <prefix><path> */
    MLFLOW__R_BARE = 1 << 6,      /* also <path> without the prefix */
    MLFLOW__R_TAIL = 1 << 7,      /* <path> is a prefix; the rest is an artifact path */
    MLFLOW__R_UPLOAD = 1 << 8,    /* raw body streamed to a file (begin/fn) */
    MLFLOW__R_UI = 1 << 9,        /* the UI's files: whatever GET path no other route takes */
};

struct mlflow__route {
    const char *method;
    const char *path;
    unsigned flags;
    /* Upload routes: called once the headers are in, before the body; opens
     * r->upload. NULL for others. */
    int (*begin)(struct mlflow__req *r, struct mlflow_error *err);
    mlflow__handler_fn fn;
    uint64_t max_body; /* 0: the server's limit for the route's kind */
};

enum mlflow__route_match {
    MLFLOW__ROUTE_FOUND,
    MLFLOW__ROUTE_NOT_FOUND,
    MLFLOW__ROUTE_BAD_METHOD,
};

/* Finds the route for method + decoded path (routes.c). *tail gets the
 * artifact path of tail routes. */
MLFLOW_INTERNAL enum mlflow__route_match mlflow__route_find(const struct mlflow__server *s,
                                                            const char *method,
                                                            const char *path,
                                                            const struct mlflow__route **out,
                                                            const char **tail);

/* ---- the HTTP layer (http.c) ---- */

/* Starts MHD on s->listen_fd with s->opts. */
MLFLOW_INTERNAL int mlflow__http_start(struct mlflow__server *s, struct mlflow_error *err);
/* Quiesces, waits for requests in progress (at most grace_ms), stops. */
MLFLOW_INTERNAL void mlflow__http_stop(struct mlflow__server *s, unsigned grace_ms);

/* ---- helpers for handlers (http.c) ---- */

/* A request header, NULL when absent. */
MLFLOW_INTERNAL const char *mlflow__req_header(struct mlflow__req *r, const char *name);
/* Finishes w into out as a 200 JSON response (w is released). */
MLFLOW_INTERNAL int mlflow__resp_json(struct mlflow__resp *out, struct mlflow__jw *w,
                                      struct mlflow_error *err);
/* 200 with the body "{}". */
MLFLOW_INTERNAL int mlflow__resp_empty(struct mlflow__resp *out, struct mlflow_error *err);
/* A new pretty writer with the top-level object opened. */
MLFLOW_INTERNAL void mlflow__resp_begin(struct mlflow__jw *w);
/* Copies the calling thread's last public-API error into err; returns rc. */
MLFLOW_INTERNAL int mlflow__api_err(int rc, struct mlflow_error *err);
/* run_id, or the legacy run_uuid, from the parameters. */
MLFLOW_INTERNAL int mlflow__req_run_id(struct mlflow__req *r, const char **out,
                                       struct mlflow_error *err);

/* ---- handlers (h_*.c), referenced by the route table ---- */

#define MLFLOW__HANDLER(name)                                                                 \
    MLFLOW_INTERNAL int name(struct mlflow__req *r, struct mlflow__resp *out,                \
                             struct mlflow_error *err)

MLFLOW__HANDLER(mlflow__h_health);
MLFLOW__HANDLER(mlflow__h_version);
MLFLOW__HANDLER(mlflow__h_create_experiment);
MLFLOW__HANDLER(mlflow__h_search_experiments);
MLFLOW__HANDLER(mlflow__h_get_experiment);
MLFLOW__HANDLER(mlflow__h_get_experiment_by_name);
MLFLOW__HANDLER(mlflow__h_delete_experiment);
MLFLOW__HANDLER(mlflow__h_restore_experiment);
MLFLOW__HANDLER(mlflow__h_update_experiment);
MLFLOW__HANDLER(mlflow__h_set_experiment_tag);
MLFLOW__HANDLER(mlflow__h_create_run);
MLFLOW__HANDLER(mlflow__h_update_run);
MLFLOW__HANDLER(mlflow__h_delete_run);
MLFLOW__HANDLER(mlflow__h_restore_run);
MLFLOW__HANDLER(mlflow__h_get_run);
MLFLOW__HANDLER(mlflow__h_search_runs);
MLFLOW__HANDLER(mlflow__h_log_metric);
MLFLOW__HANDLER(mlflow__h_log_param);
MLFLOW__HANDLER(mlflow__h_set_tag);
MLFLOW__HANDLER(mlflow__h_delete_tag);
MLFLOW__HANDLER(mlflow__h_log_batch);
MLFLOW__HANDLER(mlflow__h_log_model);
MLFLOW__HANDLER(mlflow__h_log_inputs);
MLFLOW__HANDLER(mlflow__h_get_history);
MLFLOW__HANDLER(mlflow__h_get_history_bulk);
MLFLOW__HANDLER(mlflow__h_get_history_bulk_interval);
MLFLOW__HANDLER(mlflow__h_get_history_downsampled);
MLFLOW__HANDLER(mlflow__h_ui);
MLFLOW__HANDLER(mlflow__h_list_artifacts);
MLFLOW__HANDLER(mlflow__h_get_artifact);
MLFLOW__HANDLER(mlflow__h_proxy_download);
MLFLOW__HANDLER(mlflow__h_proxy_upload);
MLFLOW__HANDLER(mlflow__h_proxy_list);
MLFLOW__HANDLER(mlflow__h_proxy_delete);
MLFLOW__HANDLER(mlflow__h_mpu);
MLFLOW__HANDLER(mlflow__h_ui_upload);
MLFLOW_INTERNAL int mlflow__h_proxy_upload_begin(struct mlflow__req *r, struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__h_ui_upload_begin(struct mlflow__req *r, struct mlflow_error *err);

/* ---- the web UI (ui.c) ---- */

/* Checks opts.ui_dir (when set) and keeps its absolute path in s->ui_dir. */
MLFLOW_INTERNAL int mlflow__ui_open(struct mlflow__server *s, struct mlflow_error *err);
/* Content-Type for a UI file name (by its extension; the embedded table
 * holds no types, so there is one list). */
MLFLOW_INTERNAL const char *mlflow__ui_content_type(const char *name);

/* ---- metric downsampling (downsample.c) ---- */

enum mlflow__ds_axis { MLFLOW__DS_STEP, MLFLOW__DS_TIMESTAMP };

struct mlflow__ds_opts {
    enum mlflow__ds_axis axis;
    bool has_min, has_max;      /* the x range, inclusive at both ends */
    double min_x, max_x;
    size_t max_points;          /* at least 2 */
};

struct mlflow__ds_result {
    size_t *idx;                /* indices into the input, sorted by x (mlflow__malloc'ed) */
    size_t n;
    size_t total;               /* points inside the x range */
    bool downsampled;           /* false: idx holds every point in range */
};

/*
 * Picks at most max_points real points of a metric history for a chart of
 * the x range, in x order (ties: the other axis, then input order). When the
 * range holds more than max_points, it keeps the first and the last point
 * and, in each of (max_points - 2) / 2 equal x buckets, the points of the
 * least and the greatest finite value, so no spike is ever lost. A bucket
 * holding only NaN or infinite values keeps one of them, so the chart shows
 * the gap. Otherwise every point in range is kept.
 */
MLFLOW_INTERNAL int mlflow__downsample(const struct mlflow_metric *m, size_t n,
                                       const struct mlflow__ds_opts *o,
                                       struct mlflow__ds_result *out, struct mlflow_error *err);

/* ---- artifact files (artifact_fs.c) ------------------------------------------------
 * R1: one canonicalizer. R2: every operation opens beneath a root directory
 * descriptor one component at a time with O_NOFOLLOW, so neither ".." nor a
 * symbolic link (planted before or during the call) can lead outside. */

#define MLFLOW__AFS_MAX_PATH 4096

/* The canonical relative form of an artifact path: percent-decoded until
 * stable (at most 3 rounds), then refused if it holds invalid UTF-8, NUL or
 * other control characters, '\\', '#', '?' or ';', starts with '/' or a
 * drive letter, or has an empty, "." or ".." segment (one trailing '/' is
 * dropped). "" stays "" (the root); callers decide whether that is allowed.
 * *out is allocated in arena a. Errors: INVALID_PARAMETER_VALUE "Invalid
 * path ...". */
MLFLOW_INTERNAL int mlflow__afs_canon(struct mlflow__arena *a, const char *in, size_t n,
                                      const char **out, struct mlflow_error *err);
/* Opens (and with create, makes) an absolute, trusted directory as a root. */
MLFLOW_INTERNAL int mlflow__afs_open_root(const char *abs_dir, bool create, int *fd,
                                          struct mlflow_error *err);
/* A regular file beneath root for reading. RESOURCE_DOES_NOT_EXIST when
 * missing, INVALID_PARAMETER_VALUE for a directory or a symbolic link. */
MLFLOW_INTERNAL int mlflow__afs_open_file(int root_fd, const char *rel, int *fd, uint64_t *size,
                                          struct mlflow_error *err);
/* One directory level beneath root, sorted by name; symbolic links and
 * unfinished uploads are left out; a missing directory (or a file) lists as
 * empty. Paths are `prefix/name` (just the name when prefix is NULL or "").
 * Allocated in arena a. */
MLFLOW_INTERNAL int mlflow__afs_list(int root_fd, const char *rel, const char *prefix,
                                     struct mlflow__arena *a, struct mlflow_file_info **out,
                                     size_t *n, struct mlflow_error *err);
/* Starts writing rel (non-empty) beneath root: missing parent directories
 * are created; the data goes to a temporary file until commit. */
MLFLOW_INTERNAL int mlflow__afs_upload_begin(int root_fd, const char *rel,
                                             struct mlflow__afs_upload *u,
                                             struct mlflow_error *err);
MLFLOW_INTERNAL int mlflow__afs_upload_write(struct mlflow__afs_upload *u, const void *data,
                                             size_t n, struct mlflow_error *err);
/* Renames the temporary file into place (replacing a file, never a
 * directory) and releases u. */
MLFLOW_INTERNAL int mlflow__afs_upload_commit(struct mlflow__afs_upload *u,
                                              struct mlflow_error *err);
/* Removes the temporary file and releases u. */
MLFLOW_INTERNAL void mlflow__afs_upload_abort(struct mlflow__afs_upload *u);
/* Deletes rel (non-empty): a file, or a directory tree without following
 * links. A missing path is not an error. */
MLFLOW_INTERNAL int mlflow__afs_delete(int root_fd, const char *rel, struct mlflow_error *err);

/* Where a run's artifacts live on this server: a root directory (opened by
 * the callee, closed by the caller) and the run's path beneath it. Proxied
 * roots (mlflow-artifacts:, http(s) .../mlflow-artifacts/artifacts/...) map
 * into --artifacts-destination when serving is on; local roots are opened
 * as they are. Anything else is NOT_IMPLEMENTED. */
MLFLOW_INTERNAL int mlflow__afs_run_root(struct mlflow__req *r, const char *artifact_uri,
                                         bool create, int *root_fd, const char **rel,
                                         struct mlflow_error *err);
/* Joins two canonical relative paths (either may be "") in arena a. */
MLFLOW_INTERNAL const char *mlflow__afs_join(struct mlflow__arena *a, const char *x,
                                             const char *y);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_SERVER_H */
