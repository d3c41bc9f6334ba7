/*
 * http_test.h - what the server tests share: an in-process mlflow-c server
 * on 127.0.0.1 over a fresh file store, and a deliberately plain HTTP/1.1
 * client on raw sockets, so a test can send exactly the bytes it means
 * (traversal paths are not normalised, NUL bytes are not refused, a client
 * can stall half-way). Header-only: each test program is one .c file.
 */
#ifndef MLFLOW_HTTP_TEST_H
#define MLFLOW_HTTP_TEST_H

#include "server/server.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct ht_server {
    char *dir;                  /* fresh temp dir holding everything */
    char store[512];            /* <dir>/mlruns */
    char dest[512];             /* <dir>/mlartifacts */
    struct mlflow__server *srv;
    int port;
};

/* Starts a server over <tmp>/mlruns serving <tmp>/mlartifacts. opts may
 * be NULL; its store and destination are filled in here. 0 on success. */
static inline int ht_start(struct ht_server *h, const struct mlflow__server_opts *opts)
{
    memset(h, 0, sizeof *h);
    h->dir = testutil_mkdtemp("mlflow-http");
    if (!h->dir)
        return -1;
    snprintf(h->store, sizeof h->store, "%s/mlruns", h->dir);
    snprintf(h->dest, sizeof h->dest, "%s/mlartifacts", h->dir);
    struct mlflow__server_opts o = {.serve_artifacts = true, .workers = 4};
    if (opts)
        o = *opts;
    o.backend_store_uri = h->store;
    if (!o.artifacts_destination)
        o.artifacts_destination = h->dest;
    o.host = "127.0.0.1";
    o.port = 0;
    struct mlflow_error err = {0};
    if (mlflow__server_start(&o, &h->srv, &err) != 0) {
        fprintf(stderr, "server start failed: %s\n", err.message);
        testutil_rm_rf(h->dir);
        free(h->dir);
        h->dir = NULL;
        return -1;
    }
    h->port = mlflow__server_port(h->srv);
    return 0;
}

static inline void ht_stop(struct ht_server *h)
{
    mlflow__server_stop(h->srv, 5000);
    h->srv = NULL;
    if (h->dir) {
        testutil_rm_rf(h->dir);
        free(h->dir);
        h->dir = NULL;
    }
}

/* ---- the client ---- */

struct ht_resp {
    int status;
    char *headers; /* raw header block */
    char *body;
    size_t len;
};

static inline void ht_resp_free(struct ht_resp *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* A header's value (first occurrence, case-insensitive name) copied into
 * buf; NULL when absent. */
static inline const char *ht_header(const struct ht_resp *r, const char *name, char *buf,
                                    size_t size)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = len - (size_t)(v - p);
            if (vl >= size)
                vl = size - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol ? eol + 2 : p + len;
    }
    return NULL;
}

/* A connected socket to 127.0.0.1:port with send/receive timeouts. */
static inline int ht_connect(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int ht_send_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; returns its length. */
static inline size_t ht_dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long sz = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || end == b + in)
            break;
        in = (size_t)(crlf - b) + 2;
        if (sz == 0 || in + sz > n)
            break;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz + 2;
    }
    return out;
}

/* Reads a whole response from fd until the server closes it (requests are
 * sent with Connection: close). 0 on success. */
static inline int ht_read_response(int fd, struct ht_resp *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return -1;
    for (;;) {
        if (len == cap) {
            char *g = realloc(buf, cap * 2 + 1);
            if (!g) {
                free(buf);
                return -1;
            }
            buf = g;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && len == 0) {
            free(buf);
            return -1;
        }
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    size_t hlen = (size_t)(sep - buf) + 2;
    out->headers = malloc(hlen + 1);
    memcpy(out->headers, buf, hlen);
    out->headers[hlen] = '\0';
    size_t blen = len - (hlen + 2);
    out->body = malloc(blen + 1);
    memcpy(out->body, sep + 4, blen);
    char te[64];
    if (ht_header(out, "Transfer-Encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0)
        blen = ht_dechunk(out->body, blen);
    out->body[blen] = '\0';
    out->len = blen;
    free(buf);
    return 0;
}

/*
 * One request on a new connection. `target` is sent byte for byte (it may
 * hold anything, NUL bytes included when target_len says so); extra_headers
 * is a block of "Name: value\r\n" lines or NULL; a body is sent with its
 * Content-Length. Returns 0 and fills *out, -1 on a transport failure.
 */
static inline int ht_request_raw(int port, const char *method, const char *target,
                                 size_t target_len, const char *extra_headers, const void *body,
                                 size_t body_len, struct ht_resp *out)
{
    int fd = ht_connect(port, 30);
    if (fd < 0)
        return -1;
    size_t cap = target_len + (extra_headers ? strlen(extra_headers) : 0) + 256;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s ", method);
    memcpy(req + n, target, target_len);
    size_t off = (size_t)n + target_len;
    off += (size_t)snprintf(req + off, cap - off,
                            " HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", port,
                            extra_headers ? extra_headers : "");
    if (body)
        off += (size_t)snprintf(req + off, cap - off, "Content-Length: %zu\r\n", body_len);
    off += (size_t)snprintf(req + off, cap - off, "\r\n");
    int rc = ht_send_all(fd, req, off);
    free(req);
    if (!rc && body && body_len)
        rc = ht_send_all(fd, body, body_len);
    if (!rc)
        rc = ht_read_response(fd, out);
    close(fd);
    return rc;
}

static inline int ht_request(int port, const char *method, const char *target,
                             const char *extra_headers, const char *body, struct ht_resp *out)
{
    return ht_request_raw(port, method, target, strlen(target), extra_headers, body,
                          body ? strlen(body) : 0, out);
}

/* POST with a JSON body and Content-Type: application/json. */
static inline int ht_post_json(int port, const char *target, const char *json,
                               struct ht_resp *out)
{
    return ht_request(port, "POST", target, "Content-Type: application/json\r\n", json, out);
}

/* The text of a top-level or dotted JSON string field ("run.info.run_id")
 * of a response body, malloc'ed; NULL when missing. */
static inline char *ht_json_field(const struct ht_resp *r, const char *dotted)
{
    json_object *obj = json_tokener_parse(r->body);
    json_object *cur = obj;
    char path[256];
    snprintf(path, sizeof path, "%s", dotted);
    for (char *save = NULL, *part = strtok_r(path, ".", &save); part && cur;
         part = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(cur, part, &cur))
            cur = NULL;
    char *out = cur ? strdup(json_object_get_string(cur)) : NULL;
    json_object_put(obj);
    return out;
}

#endif /* MLFLOW_HTTP_TEST_H */
