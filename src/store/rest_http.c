/*
 * rest_http.c - HTTP requests the way MLflow's Python client makes them:
 * libcurl, a pool of reusable handles (keep-alive), urllib3's retry and
 * back-off rules, MLflow's credentials and its error mapping. Contracts are
 * in rest_http.h.
 */
#include "rest_http.h"

#include "../json.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Idle handles kept for reuse; more concurrent requests than this still
 * work, their handles are just closed afterwards. */
#define POOL_MAX 16
/* urllib3's cap on one back-off wait, also applied to Retry-After. */
#define MAX_WAIT_S 120.0
/* A non-200 body streamed for a download is kept only this far (it is an
 * error message, not the file). */
#define MAX_ERROR_BODY ((size_t)1 << 16)

struct policy {
    int max_retries;
    double backoff_factor;
    double backoff_jitter;
    long timeout_s;
    bool respect_retry_after;
};

struct mlflow__http {
    char *host;
    char *username, *password, *token;
    char *server_cert, *client_cert;
    bool insecure;
    struct policy policy;
    pthread_mutex_t lock; /* guards idle[] and n_idle */
    CURL *idle[POOL_MAX];
    int n_idle;
};

/* ---- libcurl setup ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *d = mlflow__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* ---- the retry policy from the environment ---- */

static int env_number(const char *name, double dflt, double lo, double hi, bool integral,
                      double *out, struct mlflow_error *err)
{
    const char *v = getenv(name);
    *out = dflt;
    if (!v || !*v)
        return MLFLOW_OK;
    double d;
    if (!mlflow__parse_double(v, &d) || !isfinite(d) || (integral && d != floor(d)))
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value '%s' for %s: it must be a%s number", v, name,
                              integral ? "n integer" : "");
    if (d < lo || d > hi)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid value '%s' for %s: it must be between %g and %g", v, name,
                              lo, hi);
    *out = d;
    return MLFLOW_OK;
}

static int read_policy(struct policy *p, struct mlflow_error *err)
{
    double retries, factor, jitter, timeout;
    int rc = env_number("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 5, 0, 10, true, &retries, err);
    if (!rc)
        rc = env_number("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2, 0, 120, false, &factor, err);
    if (!rc)
        rc = env_number("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0, 0, 3600, false, &jitter, err);
    if (!rc)
        rc = env_number("MLFLOW_HTTP_REQUEST_TIMEOUT", 120, 1, 86400 * 7, true, &timeout, err);
    if (rc)
        return rc;
    p->max_retries = (int)retries;
    p->backoff_factor = factor;
    p->backoff_jitter = jitter;
    p->timeout_s = (long)timeout;
    p->respect_retry_after = mlflow__env_bool("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", true);
    return MLFLOW_OK;
}

/* ---- open / close ---- */

int mlflow__http_open(const struct mlflow__http_creds *creds, struct mlflow__http **out,
                      struct mlflow_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Cannot initialise libcurl: %s",
                              curl_easy_strerror(curl_init_rc));
    if (!creds->host || !*creds->host)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "No server URL was given");
    if (creds->insecure && creds->server_cert && *creds->server_cert)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "When 'ignore_tls_verification' is true then 'server_cert_path' "
                              "must not be set! This error may have occurred because the "
                              "'MLFLOW_TRACKING_INSECURE_TLS' and "
                              "'MLFLOW_TRACKING_SERVER_CERT_PATH' environment variables are both "
                              "set - only one of these environment variables may be set.");
    struct policy p;
    int rc = read_policy(&p, err);
    if (rc)
        return rc;
    struct mlflow__http *h = mlflow__calloc(1, sizeof *h);
    if (!h)
        return mlflow__oom(err);
    bool oom = false;
    h->host = dup_opt(creds->host, &oom);
    if (h->host) {
        size_t n = strlen(h->host);
        while (n > 0 && h->host[n - 1] == '/')
            h->host[--n] = '\0';
    }
    h->username = dup_opt(creds->username, &oom);
    h->password = dup_opt(creds->password, &oom);
    h->token = dup_opt(creds->token, &oom);
    h->server_cert = dup_opt(creds->server_cert, &oom);
    h->client_cert = dup_opt(creds->client_cert, &oom);
    h->insecure = creds->insecure;
    h->policy = p;
    if (oom || pthread_mutex_init(&h->lock, NULL) != 0) {
        h->n_idle = -1; /* the mutex was not made */
        mlflow__http_close(h);
        return mlflow__oom(err);
    }
    *out = h;
    return MLFLOW_OK;
}

void mlflow__http_close(struct mlflow__http *h)
{
    if (!h)
        return;
    if (h->n_idle >= 0) {
        for (int i = 0; i < h->n_idle; i++)
            curl_easy_cleanup(h->idle[i]);
        pthread_mutex_destroy(&h->lock);
    }
    mlflow__free(h->host);
    mlflow__free(h->username);
    mlflow__free(h->password);
    mlflow__free(h->token);
    mlflow__free(h->server_cert);
    mlflow__free(h->client_cert);
    mlflow__free(h);
}

const char *mlflow__http_host(const struct mlflow__http *h)
{
    return h->host;
}

static CURL *pool_get(struct mlflow__http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->lock);
    if (h->n_idle > 0)
        c = h->idle[--h->n_idle];
    pthread_mutex_unlock(&h->lock);
    if (c) {
        /* Options go, the connection cache stays: that is the keep-alive. */
        curl_easy_reset(c);
        return c;
    }
    return curl_easy_init();
}

static void pool_put(struct mlflow__http *h, CURL *c)
{
    pthread_mutex_lock(&h->lock);
    if (h->n_idle < POOL_MAX) {
        h->idle[h->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->lock);
    if (c)
        curl_easy_cleanup(c);
}

/* ---- one transfer ---- */

struct xfer {
    CURL *curl;
    const struct mlflow__http_request *req;
    struct mlflow__sb body;
    bool too_large;
    bool write_failed;
    bool stalled;
    int write_errno;
    off_t upload_off;
    off_t download_off;
    /* The stall clock: when a byte last moved either way. */
    long timeout_s;
    double last_move;
    curl_off_t last_dl, last_ul;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* requests' read timeout: the transfer fails when no byte moved for
 * timeout seconds, however long it has been running. (libcurl's low-speed
 * limit averages over a window, which lets a stalled answer linger.) */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct xfer *x = arg;
    double now = mono_s();
    if (dlnow != x->last_dl || ulnow != x->last_ul) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        x->last_move = now;
        return 0;
    }
    if (now - x->last_move >= (double)x->timeout_s) {
        x->stalled = true;
        return 1;
    }
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->req->download_fd >= 0) {
        if (status == 200) {
            for (size_t off = 0; off < n;) {
                ssize_t w = pwrite(x->req->download_fd, data + off, n - off, x->download_off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0) {
                    x->write_failed = true;
                    x->write_errno = errno;
                    return 0;
                }
                off += (size_t)w;
                x->download_off += w;
            }
            return n;
        }
        if (x->body.len < MAX_ERROR_BODY)
            mlflow__sb_add(&x->body, data,
                           n < MAX_ERROR_BODY - x->body.len ? n : MAX_ERROR_BODY - x->body.len);
        return n;
    }
    if (x->body.len + n > MLFLOW__HTTP_MAX_BODY) {
        x->too_large = true;
        return 0;
    }
    mlflow__sb_add(&x->body, data, n);
    if (x->body.oom) {
        x->write_failed = true;
        x->write_errno = ENOMEM;
        return 0;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    for (;;) {
        ssize_t r = pread(x->req->upload_fd, buf, size * nmemb, x->upload_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return CURL_READFUNC_ABORT;
        x->upload_off += r;
        return (size_t)r;
    }
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct xfer *x = arg;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    x->upload_off = (off_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Everything but the per-attempt state; set once per request. */
static int setup(struct mlflow__http *h, struct xfer *x, const char *url,
                 struct curl_slist **headers, char *errbuf, struct mlflow_error *err)
{
    CURL *c = x->curl;
    const struct mlflow__http_request *req = x->req;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (cc == CURLE_OK)                                                                    \
            cc = curl_easy_setopt(c, opt, val);                                                \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 10L);
    /* Credentials go to the configured host only (the default, said out
     * loud because leaking them on a redirect is the bug to avoid). */
    SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
    SET(CURLOPT_USERAGENT, "mlflow-c/" MLFLOW_VERSION);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_CONNECTTIMEOUT, h->policy.timeout_s);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    if (h->username && h->password) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, h->username);
        SET(CURLOPT_PASSWORD, h->password);
    } else if (h->token) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_XOAUTH2_BEARER, h->token);
    }
    if (h->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (h->server_cert) {
        SET(CURLOPT_CAINFO, h->server_cert);
    }
    if (h->client_cert) {
        SET(CURLOPT_SSLCERT, h->client_cert);
        SET(CURLOPT_SSLKEY, h->client_cert);
    }

    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    if (hl && req->content_type) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
        struct curl_slist *n = curl_slist_append(hl, ct);
        if (!n) {
            curl_slist_free_all(hl);
            hl = NULL;
        } else {
            hl = n;
        }
    }
    *headers = hl;
    if (!hl)
        return mlflow__oom(err);
    SET(CURLOPT_HTTPHEADER, hl);

    if (req->upload_fd >= 0) {
        off_t size = lseek(req->upload_fd, 0, SEEK_END);
        if (size < 0)
            return mlflow__seterr_sys(err, errno, "Cannot upload to %s", url);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        if (strcmp(req->method, "PUT") != 0)
            SET(CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
        if (strcmp(req->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, req->method);
    }
#undef SET
    if (cc != CURLE_OK)
        return mlflow__seterr(err, cc == CURLE_OUT_OF_MEMORY ? MLFLOW_RESOURCE_EXHAUSTED
                                                             : MLFLOW_INTERNAL_ERROR,
                              "Cannot set up the request to %s: %s", url,
                              curl_easy_strerror(cc));
    return MLFLOW_OK;
}

static bool retry_status(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

/* Connection and read failures, retried as urllib3 retries them. TLS
 * verification failures are not: they fail the same way every time. */
static bool retry_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static int curl_code_to_mlflow(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return MLFLOW_DEADLINE_EXCEEDED;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return MLFLOW_TEMPORARILY_UNAVAILABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return MLFLOW_INVALID_PARAMETER_VALUE;
    case CURLE_OUT_OF_MEMORY:
        return MLFLOW_RESOURCE_EXHAUSTED;
    default:
        return MLFLOW_INTERNAL_ERROR;
    }
}

/* urllib3's wait before retry number `failures` (1-based): none before the
 * first retry, then factor * 2^(failures-1) plus jitter, capped. */
static double backoff_s(const struct policy *p, int failures)
{
    if (failures <= 1)
        return 0;
    double v = p->backoff_factor * ldexp(1.0, failures - 1);
    if (p->backoff_jitter > 0) {
        uint64_t r;
        mlflow__random_bytes(&r, sizeof r);
        v += (double)(r >> 11) / 9007199254740992.0 * p->backoff_jitter;
    }
    return v < MAX_WAIT_S ? v : MAX_WAIT_S;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int reset_attempt(struct xfer *x, struct mlflow_error *err)
{
    mlflow__sb_reset(&x->body);
    x->too_large = x->write_failed = x->stalled = false;
    x->upload_off = 0;
    x->download_off = 0;
    x->last_move = mono_s();
    x->last_dl = x->last_ul = 0;
    if (x->req->download_fd >= 0 && ftruncate(x->req->download_fd, 0) != 0)
        return mlflow__seterr_sys(err, errno, "Cannot rewrite the download file");
    return MLFLOW_OK;
}

int mlflow__http_do(struct mlflow__http *h, const struct mlflow__http_request *req,
                    struct mlflow__http_response *resp, struct mlflow_error *err)
{
    memset(resp, 0, sizeof *resp);
    struct mlflow__sb url = MLFLOW__SB_INIT;
    mlflow__sb_adds(&url, h->host);
    mlflow__sb_adds(&url, req->path);
    if (req->query && *req->query) {
        mlflow__sb_addc(&url, '?');
        mlflow__sb_adds(&url, req->query);
    }
    if (url.oom) {
        mlflow__sb_release(&url);
        return mlflow__oom(err);
    }
    struct xfer x = {.req = req, .body = MLFLOW__SB_INIT, .timeout_s = h->policy.timeout_s};
    x.curl = pool_get(h);
    if (!x.curl) {
        mlflow__sb_release(&url);
        return mlflow__oom(err);
    }
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    struct curl_slist *headers = NULL;
    int rc = setup(h, &x, url.buf, &headers, errbuf, err);
    for (int failures = 0; !rc;) {
        rc = reset_attempt(&x, err);
        if (rc)
            break;
        errbuf[0] = '\0';
        CURLcode cc = curl_easy_perform(x.curl);
        if (cc == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &status);
            if (retry_status(status) && failures < h->policy.max_retries) {
                failures++;
                curl_off_t after = -1;
                double wait = backoff_s(&h->policy, failures);
                if (h->policy.respect_retry_after &&
                    curl_easy_getinfo(x.curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
                    after > 0)
                    wait = (double)after < MAX_WAIT_S ? (double)after : MAX_WAIT_S;
                sleep_s(wait);
                continue;
            }
            resp->status = status;
            resp->len = x.body.len;
            resp->body = x.body.buf ? mlflow__sb_detach(&x.body) : mlflow__strdup("");
            if (!resp->body)
                rc = mlflow__oom(err);
            break;
        }
        if (x.too_large) {
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                                "The response from %s is larger than %zu bytes", url.buf,
                                MLFLOW__HTTP_MAX_BODY);
            break;
        }
        if (x.write_failed) {
            rc = x.write_errno == ENOMEM
                     ? mlflow__oom(err)
                     : mlflow__seterr_sys(err, x.write_errno, "Cannot save the response of %s",
                                          url.buf);
            break;
        }
        if (x.stalled)
            cc = CURLE_OPERATION_TIMEDOUT;
        if (retry_curl(cc) && failures < h->policy.max_retries) {
            failures++;
            sleep_s(backoff_s(&h->policy, failures));
            continue;
        }
        if (x.stalled)
            snprintf(errbuf, CURL_ERROR_SIZE,
                     "no data for %ld seconds (MLFLOW_HTTP_REQUEST_TIMEOUT)", x.timeout_s);
        rc = mlflow__seterr(err, curl_code_to_mlflow(cc), "API request to %s failed: %s%s%.0d%s",
                            url.buf, errbuf[0] ? errbuf : curl_easy_strerror(cc),
                            failures ? " (after " : "", failures, failures ? " retries)" : "");
    }
    curl_slist_free_all(headers);
    mlflow__sb_release(&x.body);
    /* A handle whose transfer failed may hold a broken connection; curl
     * notices and reconnects, so it goes back to the pool all the same. */
    pool_put(h, x.curl);
    mlflow__sb_release(&url);
    if (rc)
        mlflow__http_response_release(resp);
    return rc;
}

void mlflow__http_response_release(struct mlflow__http_response *resp)
{
    if (!resp)
        return;
    mlflow__free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

/* ---- errors ---- */

int mlflow__http_status_code(long status)
{
    /* MLflow's HTTP_STATUS_TO_ERROR_CODE: the inverse of its status table
     * (the last code listed for a status wins), with 400, 404 and 500
     * pinned to the generic codes. */
    switch (status) {
    case 400: return MLFLOW_BAD_REQUEST;
    case 401: return MLFLOW_UNAUTHENTICATED;
    case 403: return MLFLOW_PERMISSION_DENIED;
    case 404: return MLFLOW_ENDPOINT_NOT_FOUND;
    case 409: return MLFLOW_ALREADY_EXISTS;
    case 429: return MLFLOW_RESOURCE_EXHAUSTED;
    case 499: return MLFLOW_CANCELLED;
    case 501: return MLFLOW_NOT_IMPLEMENTED;
    case 503: return MLFLOW_TEMPORARILY_UNAVAILABLE;
    case 504: return MLFLOW_DEADLINE_EXCEEDED;
    default: return MLFLOW_INTERNAL_ERROR;
    }
}

/* A code from an error_code value: a name from the table, or an HTTP
 * status written as text (some proxies put one there). -1: neither. */
static int code_from_name(const char *name)
{
    if (strcmp(name, "OK") != 0 && mlflow_error_from_name(name) != MLFLOW_INTERNAL_ERROR)
        return mlflow_error_from_name(name);
    if (strcmp(name, "INTERNAL_ERROR") == 0)
        return MLFLOW_INTERNAL_ERROR;
    int64_t status;
    if (mlflow__parse_int64(name, &status) && status >= 100 && status <= 599)
        return mlflow__http_status_code((long)status);
    return -1;
}

int mlflow__http_error(const struct mlflow__http_response *resp, const char *what,
                       struct mlflow_error *err)
{
    const char *body = resp->body ? resp->body : "";
    json_object *obj = NULL;
    struct mlflow_error ignored;
    if (resp->len && mlflow__json_parse(body, resp->len, &obj, &ignored) == MLFLOW_OK &&
        !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        obj = NULL;
    }
    if (obj) {
        json_object *code_v = mlflow__json_member(obj, "error_code");
        json_object *msg_v = mlflow__json_member(obj, "message");
        const char *name = code_v && json_object_is_type(code_v, json_type_string)
                               ? json_object_get_string(code_v)
                               : NULL;
        int code = name ? code_from_name(name) : -1;
        if (code < 0)
            code = mlflow__http_status_code(resp->status);
        const char *msg = msg_v && json_object_is_type(msg_v, json_type_string)
                              ? json_object_get_string(msg_v)
                              : NULL;
        if (msg)
            mlflow__seterr(err, code, "%s", msg);
        else
            mlflow__seterr(err, code, "%s (HTTP %ld from %s). Response: %.512s",
                           name ? name : mlflow_error_name(code), resp->status, what, body);
        json_object_put(obj);
        return code;
    }
    int code = mlflow__http_status_code(resp->status);
    return mlflow__seterr(err, code,
                          "API request to endpoint %s failed with error code %ld != 200. "
                          "Response body: '%.512s'",
                          what, resp->status, body);
}

/* ---- URL encoding ---- */

void mlflow__http_escape(struct mlflow__sb *sb, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            mlflow__sb_addc(sb, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            mlflow__sb_add(sb, e, 3);
        }
    }
}

void mlflow__http_query_add(struct mlflow__sb *sb, const char *key, const char *value)
{
    if (sb->len)
        mlflow__sb_addc(sb, '&');
    mlflow__http_escape(sb, key, false);
    mlflow__sb_addc(sb, '=');
    mlflow__http_escape(sb, value ? value : "", false);
}

/* ---- credentials ---- */

/* A tiny reader for the INI files configparser reads (~/.mlflow/credentials,
 * ~/.databrickscfg): "[section]", "key = value" or "key: value", comments
 * with '#' or ';'. Keys compare case-insensitively, as configparser
 * lowercases them. Sections other than DEFAULT inherit DEFAULT's keys. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* The value of key in section (or in DEFAULT when the section exists),
 * malloc'ed; NULL if absent or the file cannot be read. *oom set on
 * allocation failure. */
static char *ini_get(const char *path, const char *section, const char *key, bool *oom)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char line[4096], cur[256] = "";
    char *found = NULL, *dflt = NULL;
    bool seen = strcmp(section, "DEFAULT") == 0;
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) {
                *end = '\0';
                snprintf(cur, sizeof cur, "%s", trim(s + 1));
                seen = seen || strcmp(cur, section) == 0;
            }
            continue;
        }
        char *sep = strpbrk(s, "=:");
        if (!sep)
            continue;
        *sep = '\0';
        if (strcasecmp(trim(s), key) != 0)
            continue;
        char **slot = strcmp(cur, section) == 0 ? &found : strcmp(cur, "DEFAULT") == 0 ? &dflt
                                                                                      : NULL;
        if (!slot)
            continue;
        mlflow__free(*slot);
        *slot = mlflow__strdup(trim(sep + 1));
        if (!*slot)
            *oom = true;
    }
    fclose(f);
    if (found || !seen) {
        mlflow__free(dflt);
        return found;
    }
    return dflt;
}

static char *home_file(const char *rel)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    return mlflow__path_join(home, rel);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int mlflow__http_open_default(const char *host, struct mlflow__http **out,
                              struct mlflow_error *err)
{
    struct mlflow__http_creds c = {
        .host = host,
        .username = env_nonempty("MLFLOW_TRACKING_USERNAME"),
        .password = env_nonempty("MLFLOW_TRACKING_PASSWORD"),
        .token = env_nonempty("MLFLOW_TRACKING_TOKEN"),
        .insecure = mlflow__env_bool("MLFLOW_TRACKING_INSECURE_TLS", false),
        .server_cert = env_nonempty("MLFLOW_TRACKING_SERVER_CERT_PATH"),
        .client_cert = env_nonempty("MLFLOW_TRACKING_CLIENT_CERT_PATH"),
    };
    /* The environment wins over ~/.mlflow/credentials, field by field. */
    char *fuser = NULL, *fpass = NULL;
    bool oom = false;
    if (!c.username || !c.password) {
        char *path = home_file(".mlflow/credentials");
        if (path) {
            fuser = ini_get(path, "mlflow", "mlflow_tracking_username", &oom);
            fpass = ini_get(path, "mlflow", "mlflow_tracking_password", &oom);
        }
        mlflow__free(path);
        if (!c.username)
            c.username = fuser;
        if (!c.password)
            c.password = fpass;
    }
    int rc = oom ? mlflow__oom(err) : mlflow__http_open(&c, out, err);
    mlflow__free(fuser);
    mlflow__free(fpass);
    return rc;
}

int mlflow__http_open_databricks(const char *uri, struct mlflow__http **out,
                                 struct mlflow_error *err)
{
    /* "databricks" / "databricks://profile" / "databricks://scope:prefix". */
    char profile[256] = "";
    if (strncmp(uri, "databricks://", 13) == 0) {
        const char *p = uri + 13;
        size_t n = strcspn(p, "/?#");
        if (n == 0)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "URI is formatted incorrectly: no netloc in URI '%s'. This may "
                                  "be the case if there is only one slash in the URI.",
                                  uri);
        if (memchr(p, ':', n))
            return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                                  "Tracking URI '%s': reading credentials from Databricks "
                                  "secrets (databricks://scope:prefix) works only inside "
                                  "Databricks; use a profile name instead",
                                  uri);
        if (n >= sizeof profile)
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "Databricks profile name in '%s' is too long", uri);
        memcpy(profile, p, n);
        profile[n] = '\0';
    } else if (strcmp(uri, "databricks") != 0 && strcmp(uri, "databricks:") != 0 &&
               strcmp(uri, "databricks:/") != 0) {
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid Databricks tracking URI '%s': use 'databricks' or "
                              "'databricks://<profile>'",
                              uri);
    }
    char *host = NULL, *token = NULL, *user = NULL, *pass = NULL, *insecure = NULL;
    bool oom = false, from_env = false;
    if (!profile[0]) {
        /* The CLI's environment provider comes first for the default profile. */
        const char *eh = env_nonempty("DATABRICKS_HOST");
        const char *et = env_nonempty("DATABRICKS_TOKEN");
        const char *eu = env_nonempty("DATABRICKS_USERNAME");
        const char *ep = env_nonempty("DATABRICKS_PASSWORD");
        if (eh && (et || (eu && ep))) {
            from_env = true;
            host = dup_opt(eh, &oom);
            token = dup_opt(et, &oom);
            user = dup_opt(eu, &oom);
            pass = dup_opt(ep, &oom);
            insecure = dup_opt(env_nonempty("DATABRICKS_INSECURE"), &oom);
        }
    }
    if (!from_env) {
        const char *cfg_env = env_nonempty("DATABRICKS_CONFIG_FILE");
        char *path = cfg_env ? mlflow__strdup(cfg_env) : home_file(".databrickscfg");
        const char *section = profile[0] ? profile : "DEFAULT";
        if (path) {
            host = ini_get(path, section, "host", &oom);
            token = ini_get(path, section, "token", &oom);
            user = ini_get(path, section, "username", &oom);
            pass = ini_get(path, section, "password", &oom);
            insecure = ini_get(path, section, "insecure", &oom);
        }
        mlflow__free(path);
    }
    int rc = MLFLOW_OK;
    char *full_host = NULL;
    if (oom) {
        rc = mlflow__oom(err);
    } else if (!host || !*host || (!(token && *token) && !(user && *user && pass && *pass))) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Reading Databricks credential configuration failed with MLflow "
                            "tracking URI '%s'. Please ensure that the 'databricks-sdk' PyPI "
                            "library is installed, the tracking URI is set correctly, and "
                            "Databricks authentication is properly configured: set "
                            "DATABRICKS_HOST and DATABRICKS_TOKEN, or add host and token to "
                            "profile '%s' in ~/.databrickscfg.",
                            uri, profile[0] ? profile : "DEFAULT");
    } else {
        /* A bare workspace name gets https://, as the CLI's clients assume. */
        struct mlflow__sb sb = MLFLOW__SB_INIT;
        if (!strstr(host, "://"))
            mlflow__sb_adds(&sb, "https://");
        mlflow__sb_adds(&sb, host);
        full_host = mlflow__sb_detach(&sb);
        if (!full_host)
            rc = mlflow__oom(err);
    }
    if (!rc) {
        bool insec = insecure && (strcasecmp(insecure, "true") == 0 ||
                                  strcmp(insecure, "1") == 0 || strcasecmp(insecure, "yes") == 0);
        struct mlflow__http_creds c = {.host = full_host, .insecure = insec};
        if (user && *user && pass && *pass) {
            c.username = user;
            c.password = pass;
        } else {
            c.token = token;
        }
        rc = mlflow__http_open(&c, out, err);
    }
    mlflow__free(full_host);
    mlflow__free(host);
    mlflow__free(token);
    mlflow__free(user);
    mlflow__free(pass);
    mlflow__free(insecure);
    return rc;
}
