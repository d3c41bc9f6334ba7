/*
 * server.c - starting and stopping the tracking server: options resolved as
 * `mlflow server` resolves them (spec section 10), the store opened with the
 * default artifact root, the artifact destination opened once, the
 * listening socket made, and the HTTP layer started; and the reverse.
 */
#include "artifact_dest.h"

#include "../store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_JSON_BODY (8u * 1024 * 1024)

static bool is_local_uri(const char *uri)
{
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    return !scheme[0] || strcmp(scheme, "file") == 0;
}

/* An absolute local path for a plain path or file: URI; NULL otherwise. */
static char *local_abs(const char *uri)
{
    char *p = mlflow__local_path_from_uri(uri);
    if (!p)
        return NULL;
    char *abs = mlflow__abspath(p);
    mlflow__free(p);
    return abs;
}

static int add_allowed_root(struct mlflow__server *s, const char *uri)
{
    if (!uri || !is_local_uri(uri) || s->n_allowed_roots >= MLFLOW_ARRAY_LEN(s->allowed_roots))
        return MLFLOW_OK;
    char *abs = local_abs(uri);
    if (!abs)
        return MLFLOW_OK; /* file://otherhost/... is not ours to allow */
    s->allowed_roots[s->n_allowed_roots++] = abs;
    return MLFLOW_OK;
}

static int bad_opt(struct mlflow_error *err, const char *what)
{
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "%s", what);
}

static int resolve_options(struct mlflow__server *s, const struct mlflow__server_opts *o,
                           struct mlflow_error *err)
{
    s->opts = *o;
    s->dest_fd = -1;
    s->listen_fd = -1;
    if (!s->opts.host || !*s->opts.host)
        s->opts.host = "127.0.0.1";
    if (!s->opts.max_json_body)
        s->opts.max_json_body = DEFAULT_MAX_JSON_BODY;
    if (!s->opts.connection_timeout_s)
        s->opts.connection_timeout_s = 120;
    if (!s->opts.max_connections)
        s->opts.max_connections = 4096;
    if (s->opts.port < 0 || s->opts.port > 65535)
        return bad_opt(err, "--port must be between 0 and 65535");
    const char *prefix = o->static_prefix ? o->static_prefix : "";
    size_t plen = strlen(prefix);
    if (plen && (prefix[0] != '/' || prefix[plen - 1] == '/'))
        return bad_opt(err, "--static-prefix must begin with a '/' and must not end with a '/'");
    s->static_prefix = mlflow__strdup(prefix);

    /* The backend: ./mlruns unless told otherwise, as `mlflow server`. */
    if (o->backend_store_uri && *o->backend_store_uri) {
        s->store_uri = mlflow__strdup(o->backend_store_uri);
    } else {
        char *abs = mlflow__abspath("mlruns");
        s->store_uri = abs ? mlflow__path_to_file_uri(abs) : NULL;
        mlflow__free(abs);
    }
    if (!s->static_prefix || !s->store_uri)
        return mlflow__oom(err);

    /* Where proxied artifacts live: a local directory, or an S3 prefix
     * (artifact_dest.c, which also serves runs whose artifacts are on S3). */
    int rc = mlflow__adest_init(s, err);
    if (rc)
        return rc;
    if (s->opts.serve_artifacts) {
        const char *dest = o->artifacts_destination && *o->artifacts_destination
                               ? o->artifacts_destination
                               : "mlartifacts";
        if (!is_local_uri(dest))
            rc = mlflow__adest_set_remote(s, dest, err);
        else if (!(s->dest_path = local_abs(dest)))
            return bad_opt(err, "--artifacts-destination: a file: URI with a host is not local");
        else
            rc = mlflow__afs_open_root(s->dest_path, true, &s->dest_fd, err);
        if (rc)
            return rc;
    } else if (s->opts.artifacts_only) {
        return bad_opt(err, "--artifacts-only needs artifact serving (--serve-artifacts)");
    }

    /* The default artifact root for new experiments (spec section 10). */
    if (o->default_artifact_root && *o->default_artifact_root) {
        const char *root = o->default_artifact_root;
        char scheme[32];
        mlflow__uri_scheme(root, scheme, sizeof scheme);
        s->artifact_root = scheme[0] ? mlflow__strdup(root) : mlflow__abspath(root);
    } else if (s->opts.serve_artifacts) {
        s->artifact_root = mlflow__strdup("mlflow-artifacts:/");
    }
    /* Serving off and no root: the store's own default (its directory for
     * a file store, ./mlruns beside a database), filled in after open. */
    if (o->default_artifact_root && *o->default_artifact_root && !s->artifact_root)
        return mlflow__oom(err);
    return MLFLOW_OK;
}

static int open_store(struct mlflow__server *s, struct mlflow_error *err)
{
    struct mlflow_client *c = mlflow__calloc(1, sizeof *c);
    if (!c)
        return mlflow__oom(err);
    c->tracking_uri = mlflow__strdup(s->store_uri);
    if (!c->tracking_uri) {
        mlflow__free(c);
        return mlflow__oom(err);
    }
    struct mlflow__store_opts so = {.default_artifact_root = s->artifact_root};
    int rc = mlflow__store_open_opts(s->store_uri, &so, &c->store, err);
    if (rc) {
        mlflow__free(c->tracking_uri);
        mlflow__free(c);
        return rc;
    }
    s->client = c;
    if (!s->artifact_root) {
        const char *own = c->store->ops->default_artifact_root(c->store);
        s->artifact_root = mlflow__strdup(own ? own : "");
        if (!s->artifact_root)
            return mlflow__oom(err);
    }
    /* Local places an experiment's artifact_location may name over REST
     * (R3): the default root, the proxy destination, the file store. */
    add_allowed_root(s, s->artifact_root);
    if (s->dest_path)
        add_allowed_root(s, s->dest_path);
    if (is_local_uri(s->store_uri))
        add_allowed_root(s, s->store_uri);
    return MLFLOW_OK;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static int open_listener(struct mlflow__server *s, struct mlflow_error *err)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->opts.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(s->opts.host, port, &hints, &res);
    if (gai)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Cannot resolve host '%s': %s",
                              s->opts.host, gai_strerror(gai));
    int last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            last = errno;
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            s->port = ntohs(ss.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                : ((struct sockaddr_in *)&ss)->sin_port);
            s->loopback = addr_is_loopback((struct sockaddr *)&ss);
        }
        s->listen_fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (s->listen_fd < 0)
        return mlflow__seterr_sys(err, last ? last : EADDRNOTAVAIL, "Cannot listen on %s:%d",
                                  s->opts.host, s->opts.port);
    return MLFLOW_OK;
}

int mlflow__server_start(const struct mlflow__server_opts *opts, struct mlflow__server **out,
                         struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow__server *s = mlflow__calloc(1, sizeof *s);
    if (!s)
        return mlflow__oom(err);
    atomic_init(&s->active, 0);
    int rc = resolve_options(s, opts, err);
    if (!rc)
        rc = mlflow__ui_open(s, err);
    if (!rc)
        rc = open_store(s, err);
    if (!rc)
        rc = open_listener(s, err);
    if (!rc)
        rc = mlflow__http_start(s, err);
    if (rc) {
        mlflow__server_stop(s, 0);
        return rc;
    }
    *out = s;
    return MLFLOW_OK;
}

int mlflow__server_port(const struct mlflow__server *s)
{
    return s->port;
}

const char *mlflow__server_artifact_root(const struct mlflow__server *s)
{
    return s->artifact_root;
}

void mlflow__server_stop(struct mlflow__server *s, unsigned grace_ms)
{
    if (!s)
        return;
    mlflow__http_stop(s, grace_ms);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->dest_fd >= 0)
        close(s->dest_fd);
    mlflow__adest_fini(s);
    mlflow__free(s->ui_dir);
    mlflow_client_close(s->client);
    for (size_t i = 0; i < s->n_allowed_roots; i++)
        mlflow__free(s->allowed_roots[i]);
    mlflow__free(s->store_uri);
    mlflow__free(s->artifact_root);
    mlflow__free(s->dest_path);
    mlflow__free(s->static_prefix);
    mlflow__free(s);
}
