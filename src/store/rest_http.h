/*
 * rest_http.h - the HTTP transport under the REST store and the HTTP
 * artifact repository: libcurl with MLflow's client behaviour.
 *
 * What it does for every request, as MLflow's Python client (requests +
 * urllib3) does:
 *   - retries 408, 429, 500, 502, 503, 504 and connection/read errors, for
 *     every method, up to MLFLOW_HTTP_REQUEST_MAX_RETRIES times (default 5,
 *     at most 10). The first retry is immediate, retry n waits
 *     BACKOFF_FACTOR * 2^(n-1) seconds (default factor 2, at most 120 s per
 *     wait) plus a uniform jitter in [0, BACKOFF_JITTER) (default 1.0); a
 *     429 or 503 with Retry-After waits what the server asks instead (at
 *     most 120 s), unless MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER is false;
 *   - times out a connect, and a response that stalls (no byte received),
 *     after MLFLOW_HTTP_REQUEST_TIMEOUT seconds (default 120); a slow but
 *     moving transfer is never cut;
 *   - authenticates with Basic (MLFLOW_TRACKING_USERNAME and _PASSWORD, or
 *     ~/.mlflow/credentials) or Bearer (MLFLOW_TRACKING_TOKEN), verifies TLS
 *     against MLFLOW_TRACKING_SERVER_CERT_PATH or the system store unless
 *     MLFLOW_TRACKING_INSECURE_TLS is true, and presents
 *     MLFLOW_TRACKING_CLIENT_CERT_PATH;
 *   - follows redirects (http and https only, at most 10), and never sends
 *     the credentials to a host, port or scheme other than the one they
 *     were configured for (security.md R8);
 *   - reuses connections: idle handles (and their keep-alive connections)
 *     wait in a small pool, so a thread's next request skips the handshake.
 *
 * Environment variables are read once, when the client is opened.
 * Responses are bounded (MLFLOW__HTTP_MAX_BODY) unless streamed to a file.
 * A client is safe to use from many threads at once.
 */
#ifndef MLFLOW_REST_HTTP_H
#define MLFLOW_REST_HTTP_H

#include "../internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest response body kept in memory (JSON answers, error bodies). */
#define MLFLOW__HTTP_MAX_BODY ((size_t)1 << 30)

/* Where requests go and who makes them. Strings are borrowed by
 * mlflow__http_open, which copies them. */
struct mlflow__http_creds {
    const char *host;     /* base URL, e.g. "https://h:5000/prefix"; a trailing '/' is dropped */
    const char *username; /* Basic auth when username and password are both set */
    const char *password;
    const char *token;    /* Bearer auth otherwise */
    bool insecure;        /* skip TLS verification */
    const char *server_cert; /* CA bundle path */
    const char *client_cert; /* client certificate (PEM, may hold the key too) */
};

struct mlflow__http;

/* A client for creds->host with the retry policy from the environment.
 * INVALID_PARAMETER_VALUE for a malformed policy variable, or insecure TLS
 * together with a server certificate (MLflow refuses that too). */
MLFLOW_INTERNAL int mlflow__http_open(const struct mlflow__http_creds *creds,
                                      struct mlflow__http **out, struct mlflow_error *err);
/* The same, with MLflow's default credentials for a tracking server: the
 * MLFLOW_TRACKING_* variables (and ~/.mlflow/credentials). */
MLFLOW_INTERNAL int mlflow__http_open_default(const char *host, struct mlflow__http **out,
                                              struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__http_close(struct mlflow__http *h);
/* The base URL requests go to (no trailing '/'). */
MLFLOW_INTERNAL const char *mlflow__http_host(const struct mlflow__http *h);

struct mlflow__http_request {
    const char *method;  /* "GET", "POST", "PUT", "DELETE" */
    const char *path;    /* appended to the host, already percent-encoded: "/api/2.0/..." */
    const char *query;   /* encoded, without '?'; NULL or "" for none */
    const char *body;    /* request body (with body_len), e.g. JSON */
    size_t body_len;
    const char *content_type; /* for body or upload_fd; NULL: none sent */
    int upload_fd;       /* >= 0: the body is streamed from this file, offset 0 to its end */
    int download_fd;     /* >= 0: a 200 body is streamed into this file (rewritten on retry) */
};

/* Initialises a request with no body and no files. */
#define MLFLOW__HTTP_REQUEST_INIT {NULL, NULL, NULL, NULL, 0, NULL, -1, -1}

struct mlflow__http_response {
    long status;
    char *body; /* NUL-terminated, mlflow__malloc'ed; empty when streamed to download_fd */
    size_t len;
};

/* Sends the request, retrying as described above. Returns 0 once a
 * response arrived, whatever its status (the last one, when retries ran
 * out); otherwise the transport failed: TEMPORARILY_UNAVAILABLE (no
 * connection, connection dropped), DEADLINE_EXCEEDED (timeout),
 * RESOURCE_EXHAUSTED (response larger than MLFLOW__HTTP_MAX_BODY) or
 * INTERNAL_ERROR (TLS and the rest), with a message naming the URL.
 * Free resp->body with mlflow__http_response_release. */
MLFLOW_INTERNAL int mlflow__http_do(struct mlflow__http *h, const struct mlflow__http_request *req,
                                    struct mlflow__http_response *resp, struct mlflow_error *err);
MLFLOW_INTERNAL void mlflow__http_response_release(struct mlflow__http_response *resp);

/* Turns a non-200 response into an error, as MLflow's client does: a JSON
 * body's error_code (a name, or an HTTP status as text) and message; a
 * body without error_code maps from the HTTP status (400 BAD_REQUEST, 404
 * ENDPOINT_NOT_FOUND, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 409
 * ALREADY_EXISTS, 429 RESOURCE_EXHAUSTED, 501 NOT_IMPLEMENTED, 503
 * TEMPORARILY_UNAVAILABLE, 504 DEADLINE_EXCEEDED, others INTERNAL_ERROR).
 * `what` names the endpoint in messages. Returns the code. */
MLFLOW_INTERNAL int mlflow__http_error(const struct mlflow__http_response *resp, const char *what,
                                       struct mlflow_error *err);
/* The MLflow error code for an HTTP status (the fallback above). */
MLFLOW_INTERNAL int mlflow__http_status_code(long status);

/* Appends s percent-encoded (everything but A-Z a-z 0-9 - . _ ~, and '/'
 * when keep_slash) to sb. */
MLFLOW_INTERNAL void mlflow__http_escape(struct mlflow__sb *sb, const char *s, bool keep_slash);
/* Appends "&key=value" (no '&' when sb is empty), both encoded. */
MLFLOW_INTERNAL void mlflow__http_query_add(struct mlflow__sb *sb, const char *key,
                                            const char *value);

/* A client for a Databricks workspace, "databricks" or
 * "databricks://<profile>": for the default profile DATABRICKS_HOST with
 * DATABRICKS_TOKEN (or DATABRICKS_USERNAME/PASSWORD) when set, else the
 * profile's host, token or username/password and insecure flag in
 * ~/.databrickscfg (or $DATABRICKS_CONFIG_FILE). */
MLFLOW_INTERNAL int mlflow__http_open_databricks(const char *uri, struct mlflow__http **out,
                                                 struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_REST_HTTP_H */
