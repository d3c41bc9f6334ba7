/*
 * http.c - the server's HTTP layer on libmicrohttpd.
 *
 * MHD runs an epoll thread pool. It calls us once when a request's headers
 * are in (start_request: routing, limits, browser defences, early errors),
 * once per body chunk (consume: JSON is buffered up to its limit, uploads go
 * straight to a temporary file), and once at the end (finish_request: the
 * handler runs and the response is queued). Store calls block their worker
 * thread, so the pool is sized above the core count.
 *
 * MHD is told not to decode anything: the raw request target comes from the
 * URI log callback and is decoded here exactly once, so the router and the
 * artifact canonicalizer see one well-defined text (a %00 cannot silently
 * shorten a path, as it would in a C string MHD had decoded).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NON_JSON_BODY_LIMIT (64 * 1024)
/* Past its limit a body is discarded this much longer (so the client can
 * read its 413), then the connection is dropped. */
#define DISCARD_SLACK (16u * 1024 * 1024)

struct mlflow__arena *mlflow__req_arena(struct mlflow__req *r)
{
    return mlflow__obj_arena(r);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- decoding ------------------------------------------------------------------ */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Percent-decodes n bytes of s into the arena (plus_space: '+' is a space,
 * as in query strings). Fails on NUL, other control characters (after
 * decoding) and invalid UTF-8. */
static char *decode(struct mlflow__arena *a, const char *s, size_t n, bool plus_space)
{
    char *out = mlflow__arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
                                hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f)
            return NULL;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return mlflow__utf8_valid(out, o) ? out : NULL;
}

/* The query string as a JSON object: a key seen once maps to its string,
 * a repeated key to an array of its strings. "name[]" and "name[0]" (older
 * clients) count as "name". */
static int parse_query(struct mlflow__arena *a, const char *q, json_object **out,
                       struct mlflow_error *err)
{
    json_object *obj = json_object_new_object();
    if (!obj)
        return mlflow__oom(err);
    size_t count = 0;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (len > 0) {
            if (++count > 10000) {
                json_object_put(obj);
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Too many query parameters");
            }
            char *key = decode(a, q, klen, true);
            char *val = eq ? decode(a, eq + 1, len - klen - 1, true) : decode(a, "", 0, true);
            if (!key || !val) {
                json_object_put(obj);
                return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                      "Invalid query string: a parameter holds a control "
                                      "character or invalid UTF-8");
            }
            size_t kl = strlen(key);
            if (kl >= 2 && key[kl - 1] == ']') {
                char *br = strrchr(key, '[');
                bool digits = br != NULL;
                for (char *p = br ? br + 1 : NULL; p && p < key + kl - 1; p++)
                    digits = digits && *p >= '0' && *p <= '9';
                if (digits)
                    *br = '\0';
            }
            json_object *prev = NULL, *sv = json_object_new_string(val);
            if (!sv) {
                json_object_put(obj);
                return mlflow__oom(err);
            }
            if (!json_object_object_get_ex(obj, key, &prev)) {
                json_object_object_add(obj, key, sv);
            } else if (json_object_is_type(prev, json_type_array)) {
                json_object_array_add(prev, sv);
            } else {
                json_object *arr = json_object_new_array();
                if (!arr) {
                    json_object_put(sv);
                    json_object_put(obj);
                    return mlflow__oom(err);
                }
                json_object_array_add(arr, json_object_get(prev));
                json_object_array_add(arr, sv);
                json_object_object_add(obj, key, arr);
            }
        }
        q = amp ? amp + 1 : NULL;
    }
    *out = obj;
    return MLFLOW_OK;
}

/* ---- responses ------------------------------------------------------------------- */

static void free_body(void *p)
{
    mlflow__free(p);
}

/* Queues a response; body (mlflow__malloc'ed or NULL) is taken over unless
 * body_static. headers: n extra name/value pairs. */
static enum MHD_Result send_body_ex(struct mlflow__req *r, int status, char *body, size_t len,
                                    bool body_static, const char *content_type,
                                    const char *const (*headers)[2], size_t n)
{
    struct MHD_Response *resp =
        !body ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
        : body_static ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT)
                      : MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
    if (!resp) {
        if (!body_static)
            mlflow__free(body);
        return MHD_NO;
    }
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < n; i++)
        MHD_add_response_header(resp, headers[i][0], headers[i][1]);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->responded = true;
    r->status = status;
    r->resp_bytes = body ? len : 0;
    return ok;
}

static enum MHD_Result send_body(struct mlflow__req *r, int status, char *body, size_t len,
                                 const char *content_type)
{
    return send_body_ex(r, status, body, len, false, content_type, NULL, 0);
}

/* {"error_code": ..., "message": ...} in MLflow's json.dumps layout. */
static enum MHD_Result send_error(struct mlflow__req *r, int status, int code, const char *msg)
{
    struct mlflow__jw w;
    mlflow__jw_init(&w, MLFLOW__JW_PYTHON);
    mlflow__jw_begin_object(&w);
    mlflow__jw_kv_string(&w, "error_code", mlflow_error_name(code));
    mlflow__jw_kv_string(&w, "message", msg && *msg ? msg : mlflow_strerror(code));
    mlflow__jw_end_object(&w);
    size_t len;
    char *body = mlflow__jw_detach(&w, &len);
    return send_body(r, status ? status : mlflow_error_http_status(code), body, body ? len : 0,
                     "application/json");
}

static enum MHD_Result send_err(struct mlflow__req *r, const struct mlflow_error *err, int rc)
{
    int code = err->code ? err->code : rc;
    return send_error(r, 0, code, err->message);
}

static enum MHD_Result send_text(struct mlflow__req *r, int status, const char *text)
{
    char *body = mlflow__strdup(text);
    return send_body(r, status, body, body ? strlen(body) : 0, "text/plain; charset=utf-8");
}

/* Content-Disposition for a file name: plain when it is a simple token,
 * else an ASCII fallback plus the RFC 5987 UTF-8 form. */
static void add_disposition(struct MHD_Response *resp, const char *name)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '%' || *p == ',')
            plain = false;
    mlflow__sb_adds(&sb, "attachment; filename=");
    if (plain) {
        mlflow__sb_adds(&sb, name);
    } else {
        mlflow__sb_addc(&sb, '"');
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
            mlflow__sb_addc(&sb, (*p < 0x20 || *p >= 0x7f || *p == '"') ? '_' : (char)*p);
        mlflow__sb_adds(&sb, "\"; filename*=UTF-8''");
        for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || strchr("-._~", *p))
                mlflow__sb_addc(&sb, (char)*p);
            else
                mlflow__sb_addf(&sb, "%%%02X", *p);
        }
    }
    char *v = mlflow__sb_detach(&sb);
    if (v)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, v);
    mlflow__free(v);
}

/* A file: streamed from its descriptor (sendfile), always as an attachment
 * that the browser may neither sniff nor run (R5). */
static enum MHD_Result send_file(struct mlflow__req *r, struct mlflow__resp *out)
{
    struct MHD_Response *resp = MHD_create_response_from_fd64(out->fd_size, out->fd);
    if (!resp) {
        close(out->fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            out->content_type ? out->content_type : "application/octet-stream");
    add_disposition(resp, out->filename ? out->filename : "artifact");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'; sandbox");
    enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->responded = true;
    r->status = MHD_HTTP_OK;
    r->resp_bytes = out->fd_size;
    return ok;
}

/* ---- helpers for handlers ----------------------------------------------------------- */

const char *mlflow__req_header(struct mlflow__req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void mlflow__resp_begin(struct mlflow__jw *w)
{
    mlflow__jw_init(w, MLFLOW__JW_PRETTY);
    mlflow__jw_begin_object(w);
}

int mlflow__resp_json(struct mlflow__resp *out, struct mlflow__jw *w, struct mlflow_error *err)
{
    if (w->depth == 1 && !w->after_key)
        mlflow__jw_end_object(w);
    out->body = mlflow__jw_detach(w, &out->len);
    if (!out->body)
        return mlflow__oom(err);
    out->status = MHD_HTTP_OK;
    return MLFLOW_OK;
}

int mlflow__resp_empty(struct mlflow__resp *out, struct mlflow_error *err)
{
    out->body = mlflow__strdup("{}");
    if (!out->body)
        return mlflow__oom(err);
    out->len = 2;
    out->status = MHD_HTTP_OK;
    return MLFLOW_OK;
}

int mlflow__api_err(int rc, struct mlflow_error *err)
{
    if (rc)
        mlflow__seterr(err, mlflow_last_error_code() ? mlflow_last_error_code() : rc, "%s",
                       mlflow_last_error());
    return rc;
}

int mlflow__req_run_id(struct mlflow__req *r, const char **out, struct mlflow_error *err)
{
    bool present = false;
    int rc = mlflow__json_get_string(r->params, "run_id", 0, out, &present, err);
    if (!rc && (!present || !**out))
        rc = mlflow__json_get_string(r->params, "run_uuid", 0, out, &present, err);
    if (!rc && (!present || !**out))
        return mlflow__json_get_string(r->params, "run_id", MLFLOW__JSON_REQUIRED, out, NULL,
                                       err);
    return rc;
}

/* ---- browser defences (R5) ------------------------------------------------------------- */

/* host[:port] of an "http://host:port" Origin, lowercased, into buf. */
static bool origin_host(const char *origin, char *buf, size_t size)
{
    const char *p = strstr(origin, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    buf[n] = '\0';
    return true;
}

/* A state-changing request carrying a foreign Origin comes from a page on
 * another site (CSRF, DNS rebinding): refuse it, on every route family. */
static bool foreign_origin(struct mlflow__req *r)
{
    const char *origin = mlflow__req_header(r, "Origin");
    if (!origin)
        return false;
    const char *host = mlflow__req_header(r, MHD_HTTP_HEADER_HOST);
    char oh[256];
    if (!host || !origin_host(origin, oh, sizeof oh))
        return true;
    return strcasecmp(oh, host) != 0;
}

/* A server on a loopback address is reachable from the local browser only,
 * so a Host naming anything else is a DNS-rebinding attempt. */
static bool bad_host(struct mlflow__req *r)
{
    if (!r->srv->loopback)
        return false;
    const char *host = mlflow__req_header(r, MHD_HTTP_HEADER_HOST);
    if (!host)
        return false;
    char name[256];
    size_t n;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        n = end ? (size_t)(end - host) + 1 : strlen(host);
    } else {
        n = strcspn(host, ":");
    }
    if (n >= sizeof name)
        return true;
    memcpy(name, host, n);
    name[n] = '\0';
    static const char *const ok[] = {"localhost", "127.0.0.1", "[::1]", "0.0.0.0"};
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(ok); i++)
        if (strcasecmp(name, ok[i]) == 0)
            return false;
    return true;
}

static bool is_json_content_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* ---- the request lifecycle ------------------------------------------------------------ */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct mlflow__server *s = cls;
    struct mlflow__req *r = mlflow__obj_new(sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->t_start_us = now_us();
    r->raw_uri = mlflow__arena_strdup(mlflow__req_arena(r), uri ? uri : "");
    r->upload.fd = r->upload.dir_fd = -1;
    if (!r->raw_uri) {
        mlflow__obj_free(r);
        return NULL;
    }
    return r;
}

/* MHD decodes nothing (we do it once, above). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static uint64_t body_limit(const struct mlflow__server *s, const struct mlflow__route *rt)
{
    if (rt->max_body)
        return rt->max_body;
    if (rt->flags & MLFLOW__R_UPLOAD)
        return s->opts.max_upload_body ? s->opts.max_upload_body : UINT64_MAX - DISCARD_SLACK;
    if (rt->flags & MLFLOW__R_JSON)
        return s->opts.max_json_body;
    return NON_JSON_BODY_LIMIT;
}

static enum MHD_Result start_request(struct mlflow__req *r, const char *method)
{
    struct mlflow__server *s = r->srv;
    struct mlflow__arena *a = mlflow__req_arena(r);
    struct mlflow_error err = {0};
    r->started = true;
    atomic_fetch_add(&s->active, 1);
    r->counted = true;
    snprintf(r->method, sizeof r->method, "%s", method);

    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      r->client_ip, sizeof r->client_ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      r->client_ip, sizeof r->client_ip);
    }

    const char *qmark = strchr(r->raw_uri, '?');
    size_t plen = qmark ? (size_t)(qmark - r->raw_uri) : strlen(r->raw_uri);
    r->path = decode(a, r->raw_uri, plen, false);
    if (!r->path)
        return send_error(r, 0, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Invalid path: the request path holds a control character or "
                          "invalid UTF-8");
    if (bad_host(r))
        return send_error(r, 0, MLFLOW_PERMISSION_DENIED,
                          "Invalid Host header - possible DNS rebinding attack detected");

    const char *tail = NULL;
    switch (mlflow__route_find(s, method, r->path, &r->route, &tail)) {
    case MLFLOW__ROUTE_NOT_FOUND:
        return send_body(r, MHD_HTTP_NOT_FOUND, NULL, 0, NULL);
    case MLFLOW__ROUTE_BAD_METHOD:
        return send_body(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, 0, NULL);
    case MLFLOW__ROUTE_FOUND:
        break;
    }
    r->tail = tail;
    const struct mlflow__route *rt = r->route;
    bool writes = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
                  strcmp(method, "OPTIONS") != 0;
    if (writes && foreign_origin(r))
        return send_error(r, 0, MLFLOW_PERMISSION_DENIED, "Cross-origin request blocked");
    if ((rt->flags & MLFLOW__R_TRACKING) && s->opts.artifacts_only) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Endpoint: %s disabled due to the mlflow server running in `--artifacts-only` "
                 "mode. To enable tracking server functionality, run `mlflow server` without "
                 "`--artifacts-only`",
                 r->path);
        return send_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    if ((rt->flags & MLFLOW__R_PROXY) && !s->opts.serve_artifacts) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Endpoint: %s disabled due to the mlflow server running with "
                 "`--no-serve-artifacts`. To enable artifacts server functionality, run "
                 "`mlflow server` with `--serve-artifacts`",
                 r->path);
        return send_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    bool has_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    if ((rt->flags & MLFLOW__R_JSON) && has_body &&
        !is_json_content_type(mlflow__req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return send_error(r, 0, MLFLOW_INVALID_PARAMETER_VALUE,
                          "Bad Request. Content-Type must be one of ['application/json'].");

    int rc = parse_query(a, qmark ? qmark + 1 : NULL, &r->query, &err);
    if (rc)
        return send_err(r, &err, rc);

    r->body_limit = body_limit(s, rt);
    const char *cl = mlflow__req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (!errno && *end == '\0' && n > r->body_limit) {
            char msg[160];
            snprintf(msg, sizeof msg, "The request body is larger than the limit of %llu bytes",
                     (unsigned long long)r->body_limit);
            return send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MLFLOW_INVALID_PARAMETER_VALUE,
                              msg);
        }
    }
    if (rt->begin) {
        rc = rt->begin(r, &err);
        if (rc)
            return send_err(r, &err, rc);
    }
    return MHD_YES;
}

static enum MHD_Result consume(struct mlflow__req *r, const char *data, size_t n)
{
    r->body_len += n;
    if (r->body_len > r->body_limit) {
        if (!r->body_too_large) {
            r->body_too_large = true;
            mlflow__sb_release(&r->body);
            if (r->upload_open) {
                mlflow__afs_upload_abort(&r->upload);
                r->upload_open = false;
            }
        }
        return r->body_len - r->body_limit > DISCARD_SLACK ? MHD_NO : MHD_YES;
    }
    const struct mlflow__route *rt = r->route;
    if (rt->flags & MLFLOW__R_UPLOAD) {
        if (r->upload_open && !r->upload_err_code) {
            struct mlflow_error err = {0};
            int rc = mlflow__afs_upload_write(&r->upload, data, n, &err);
            if (rc) {
                r->upload_err_code = err.code ? err.code : rc;
                r->upload_err_msg = mlflow__arena_strdup(mlflow__req_arena(r), err.message);
                mlflow__afs_upload_abort(&r->upload);
                r->upload_open = false;
            }
        }
    } else if (rt->flags & MLFLOW__R_JSON) {
        mlflow__sb_add(&r->body, data, n);
    }
    return MHD_YES;
}

static enum MHD_Result finish_request(struct mlflow__req *r)
{
    struct mlflow_error err = {0};
    const struct mlflow__route *rt = r->route;
    if (r->body_too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "The request body is larger than the limit of %llu bytes",
                 (unsigned long long)r->body_limit);
        return send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MLFLOW_INVALID_PARAMETER_VALUE, msg);
    }
    if (r->upload_err_code)
        return send_error(r, 0, r->upload_err_code, r->upload_err_msg);
    if (r->body.oom)
        return send_error(r, 0, MLFLOW_RESOURCE_EXHAUSTED, NULL);
    int rc = MLFLOW_OK;
    if ((rt->flags & MLFLOW__R_JSON) && strcmp(r->method, "GET") != 0) {
        rc = mlflow__json_parse_request(r->body.buf ? r->body.buf : "", r->body.len, &r->params,
                                        &err);
        mlflow__sb_release(&r->body);
    } else {
        r->params = json_object_get(r->query);
        r->from_query = true;
    }
    struct mlflow__resp out = {.fd = -1};
    if (!rc)
        rc = rt->fn(r, &out, &err);
    if (rc) {
        if (out.fd >= 0)
            close(out.fd);
        mlflow__free(out.body);
        return send_err(r, &err, rc);
    }
    if (out.fd >= 0)
        return send_file(r, &out);
    /* JSON unless the handler says otherwise (a content type, or headers of
     * its own); an empty body has no type. */
    const char *type = out.content_type ? out.content_type
                       : out.body && !out.n_headers ? "application/json"
                                                    : NULL;
    return send_body_ex(r, out.status ? out.status : MHD_HTTP_OK, out.body, out.len,
                        out.body_static, type, (const char *const (*)[2])out.headers,
                        out.n_headers);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct mlflow__req *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in on_uri */
    r->conn = conn;
    if (!r->started)
        return start_request(r, method);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return r->responded ? MHD_YES : consume(r, upload_data, n);
    }
    return r->responded ? MHD_YES : finish_request(r);
}

/* One access-log line, with anything unprintable in the request target
 * escaped so a request cannot forge log lines. */
static void log_request(struct mlflow__req *r, enum MHD_RequestTerminationCode toe)
{
    struct mlflow__server *s = r->srv;
    if (!s->opts.access_log || !s->opts.log)
        return;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S %z", &tm);
    mlflow__sb_addf(&sb, "%s - - [%s] \"%s ", r->client_ip[0] ? r->client_ip : "-", when,
                    r->method[0] ? r->method : "-");
    for (const unsigned char *p = (const unsigned char *)r->raw_uri; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            mlflow__sb_addf(&sb, "\\x%02x", *p);
        else
            mlflow__sb_addc(&sb, (char)*p);
    }
    mlflow__sb_addf(&sb, "\" %d %llu %.3fms%s", r->status ? r->status : 0,
                    (unsigned long long)r->resp_bytes,
                    (double)(now_us() - r->t_start_us) / 1000.0,
                    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    char *line = mlflow__sb_detach(&sb);
    if (line)
        s->opts.log(s->opts.log_ud, line);
    mlflow__free(line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mlflow__server *s = cls;
    struct mlflow__req *r = *con_cls;
    *con_cls = NULL;
    if (!r)
        return;
    if (r->started)
        log_request(r, toe);
    if (r->upload_open)
        mlflow__afs_upload_abort(&r->upload);
    mlflow__sb_release(&r->body);
    json_object_put(r->params);
    json_object_put(r->query);
    bool counted = r->counted;
    mlflow__obj_free(r);
    if (counted)
        atomic_fetch_sub(&s->active, 1);
}

/* ---- daemon ------------------------------------------------------------------------------- */

int mlflow__http_start(struct mlflow__server *s, struct mlflow_error *err)
{
    int workers = s->opts.workers;
    if (workers <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = (int)(cores > 0 ? cores * 4 : 8);
        if (workers < 8)
            workers = 8;
    }
    if (workers > 1024)
        workers = 1024;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)workers, MHD_OPTION_CONNECTION_LIMIT,
        s->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, s->opts.connection_timeout_s,
        /* Request line and headers must fit here: 64 KiB keeps long GET URLs
         * (MLflow clients send over 8 KiB) and refuses header floods (431). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)4096, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!s->daemon)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                              "Cannot start the HTTP server (libmicrohttpd refused the "
                              "configuration)");
    return MLFLOW_OK;
}

void mlflow__http_stop(struct mlflow__server *s, unsigned grace_ms)
{
    if (!s->daemon)
        return;
    /* Stop accepting, then let every request already started run to its
     * end: an accepted write is never cut off. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd); /* handed back to us; new connections are refused */
    int64_t deadline = now_us() + (int64_t)grace_ms * 1000;
    while (atomic_load(&s->active) > 0 && now_us() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon); /* closes the listener if quiescing failed */
    s->daemon = NULL;
    s->listen_fd = -1;
}
