/*
 * s3.c - the artifact repository for s3://bucket/prefix URIs (MLflow's
 * S3ArtifactRepository), on libcurl with its AWS Signature V4 signing.
 *
 * Configuration comes from the environment MLflow and boto3 read, at each
 * operation: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 * (none: anonymous requests, for public buckets), AWS_DEFAULT_REGION
 * (default us-east-1), MLFLOW_S3_ENDPOINT_URL (an S3-compatible server;
 * then buckets are addressed path-style, http://host/bucket/key),
 * MLFLOW_S3_IGNORE_TLS, AWS_CA_BUNDLE, and MLflow's multipart thresholds
 * MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE (500 MiB) and
 * MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE (10 MiB).
 *
 * Signing: libcurl (7.75+) computes the signature, but the request must be
 * shaped so that what it signs is what S3 recomputes. Facts about libcurl
 * 7.88 (Debian 12) this relies on, checked against an independent SigV4
 * implementation (tests/s3/server.js):
 *   - it signs the path exactly as written in the URL, so keys are encoded
 *     here with S3's rules (RFC 3986 unreserved kept, '/' kept, the rest
 *     %XX, so '+' and ' ' never reach the wire raw);
 *   - it signs the query string as written (7.88 neither sorts nor
 *     normalises it), so queries are built already canonical: parameters
 *     sorted, values encoded, and "uploads=" rather than "uploads"; newer
 *     libcurls canonicalise themselves, which leaves such a query unchanged;
 *   - it signs x-amz-* request headers, and takes the payload hash from an
 *     x-amz-content-sha256 header when one is given. S3 requires that
 *     header, so every request sends "UNSIGNED-PAYLOAD" (what boto3 sends
 *     over TLS): bodies are streamed from files and never hashed up front.
 *
 * Bodies never sit whole in memory: uploads are read from the file with
 * pread as they are sent (a multipart upload sends byte ranges of the same
 * file), downloads are written to a temporary file renamed into place when
 * complete. Only S3's XML answers (listings, errors) are buffered, bounded.
 */
#include "s3.h"

#include "../store/rest_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* S3's limits on multipart uploads: parts of at least 5 MiB (except the
 * last), at most 10 000 of them; a single PUT carries at most 5 GiB. */
#define MIN_PART_SIZE ((int64_t)5 << 20)
#define MAX_PARTS 10000
#define MAX_SINGLE_PUT ((int64_t)5 << 30)
/* MLflow's defaults (mlflow/environment_variables.py). */
#define DEFAULT_MULTIPART_THRESHOLD ((int64_t)500 << 20)
#define DEFAULT_PART_SIZE ((int64_t)10 << 20)
/* The largest XML answer kept in memory (a listing page is ~1 MiB). */
#define MAX_XML_BODY ((size_t)16 << 20)
/* Attempts per request: transport failures and 500/502/503/504 are
 * retried with exponential back-off, as boto3's legacy retry mode does. */
#define MAX_ATTEMPTS 5
#define CONNECT_TIMEOUT_S 30L
#define STALL_TIMEOUT_S 120L
/* Directory levels a download follows, and objects it fetches in all. */
#define MAX_DEPTH 64
#define MAX_ENTRIES 1000000

/* Keys per ListObjectsV2 page (S3's maximum; tests lower it). */
int mlflow__s3_max_keys = 1000;

/* ---- configuration ---- */

struct s3 {
    const char *root_uri;
    char *bucket;
    char *prefix;      /* key prefix without leading or trailing '/', may be "" */
    char *endpoint;    /* scheme://host[:port][/path] without trailing '/'; NULL: AWS */
    char region[64];
    char sigv4[128];   /* "aws:amz:<region>:s3" */
    const char *key_id, *secret, *token; /* from the environment; NULL: anonymous */
    bool insecure;
    const char *ca_bundle;
    CURL *h;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void set_region(struct s3 *s, const char *region)
{
    snprintf(s->region, sizeof s->region, "%s", region);
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", s->region);
}

static void s3_close(struct s3 *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    mlflow__free(s->bucket);
    mlflow__free(s->prefix);
    mlflow__free(s->endpoint);
    memset(s, 0, sizeof *s);
}

/* Splits s3://bucket/prefix and reads the environment. */
static int s3_open(const char *root_uri, struct s3 *s, struct mlflow_error *err)
{
    memset(s, 0, sizeof *s);
    s->root_uri = root_uri;
    if (strncasecmp(root_uri, "s3://", 5) != 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "Not an S3 URI: '%s'",
                              root_uri);
    const char *b = root_uri + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    /* Bucket names are 3-63 of [a-z0-9.-] on AWS; other S3 servers allow a
     * little more, so only what could break a URL is refused here. */
    bool ok = blen > 0 && blen <= 255;
    for (size_t i = 0; ok && i < blen; i++) {
        char c = b[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == '_';
    }
    if (!ok)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid S3 URI '%s': '%.*s' is not a bucket name", root_uri,
                              (int)blen, b);
    const char *p = slash ? slash : "";
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    s->bucket = mlflow__strndup(b, blen);
    s->prefix = mlflow__strndup(p, plen);
    if (!s->bucket || !s->prefix) {
        s3_close(s);
        return mlflow__oom(err);
    }
    const char *ep = env("MLFLOW_S3_ENDPOINT_URL");
    if (ep) {
        char scheme[16];
        mlflow__uri_scheme(ep, scheme, sizeof scheme);
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
            s3_close(s);
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "MLFLOW_S3_ENDPOINT_URL '%s' is not an http(s) URL", ep);
        }
        size_t n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
            n--;
        if (!(s->endpoint = mlflow__strndup(ep, n))) {
            s3_close(s);
            return mlflow__oom(err);
        }
    }
    const char *region = env("AWS_DEFAULT_REGION");
    set_region(s, region ? region : "us-east-1");
    s->key_id = env("AWS_ACCESS_KEY_ID");
    s->secret = env("AWS_SECRET_ACCESS_KEY");
    s->token = env("AWS_SESSION_TOKEN");
    if (!s->key_id || !s->secret)
        s->key_id = s->secret = s->token = NULL;
    s->insecure = mlflow__env_bool("MLFLOW_S3_IGNORE_TLS", false);
    s->ca_bundle = env("AWS_CA_BUNDLE");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        s3_close(s);
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Cannot initialise libcurl: %s",
                              curl_easy_strerror(curl_init_rc));
    }
    if (!(s->h = curl_easy_init())) {
        s3_close(s);
        return mlflow__oom(err);
    }
    return MLFLOW_OK;
}

/* The object key of rel under the root prefix. Caller frees. */
static char *key_of(const struct s3 *s, const char *rel)
{
    if (!rel || !*rel)
        return mlflow__strdup(s->prefix);
    if (!*s->prefix)
        return mlflow__strdup(rel);
    return mlflow__path_join(s->prefix, rel);
}

/* "s3://bucket/key", for messages. */
static void describe(const struct s3 *s, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "s3://%s/%s", s->bucket, key ? key : "");
}

/* Reads a positive byte count from the environment. */
static int env_size(const char *name, int64_t dflt, int64_t *out, struct mlflow_error *err)
{
    const char *v = env(name);
    *out = dflt;
    if (!v)
        return MLFLOW_OK;
    if (!mlflow__parse_int64(v, out) || *out <= 0)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "%s must be a positive number of bytes, not '%s'", name, v);
    return MLFLOW_OK;
}

/* ---- one request ---- */

struct req {
    const char *method;       /* GET, HEAD, PUT, POST, DELETE */
    const char *key;          /* object key; NULL: the bucket itself */
    const char *query;        /* canonical (see the top of the file), or NULL */
    const char *content_type; /* NULL: none sent */
    const char *body;         /* in-memory body (PUT, POST) */
    size_t body_len;
    int upload_fd;            /* >= 0: PUT the bytes [upload_off, +upload_len) of this file */
    int64_t upload_off, upload_len;
    int download_fd;          /* >= 0: a 2xx body is written here, from its offset now */
    const char *label;        /* what messages name when key is NULL (a listed prefix) */
};

#define REQ_INIT {NULL, NULL, NULL, NULL, NULL, 0, -1, 0, 0, -1, NULL}

struct resp {
    long status;
    struct mlflow__sb body; /* non-2xx bodies, and 2xx bodies not sent to a file */
    bool body_too_large;
    char etag[128];
    char bucket_region[64];
    int write_errno;
};

struct xfer {
    const struct req *rq;
    struct resp *rs;
    CURL *h;
    int64_t sent;             /* bytes of the upload handed to curl */
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    const struct req *rq = x->rq;
    int64_t total = rq->upload_fd >= 0 ? rq->upload_len : (int64_t)rq->body_len;
    int64_t left = total - x->sent;
    size_t want = size * nitems;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (rq->upload_fd < 0) {
        memcpy(buf, rq->body + x->sent, want);
        x->sent += (int64_t)want;
        return want;
    }
    for (;;) {
        ssize_t r = pread(rq->upload_fd, buf, want, (off_t)(rq->upload_off + x->sent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* The file shrank or cannot be read: fail rather than send less
             * than the Content-Length promised. */
            x->rs->write_errno = r < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        x->sent += r;
        return (size_t)r;
    }
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (int64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (x->rq->download_fd >= 0 && status >= 200 && status < 300) {
        for (size_t done = 0; done < n;) {
            ssize_t w = write(x->rq->download_fd, data + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                x->rs->write_errno = errno;
                return 0;
            }
            done += (size_t)w;
        }
        return n;
    }
    if (x->rs->body.len + n > MAX_XML_BODY) {
        x->rs->body_too_large = true;
        return 0;
    }
    mlflow__sb_add(&x->rs->body, data, n);
    return x->rs->body.oom ? 0 : n;
}

/* Copies a response header's value (trimmed) into dst when its name matches. */
static void header_value(const char *line, size_t n, const char *name, char *dst, size_t size)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    header_value(line, n, "ETag", x->rs->etag, sizeof x->rs->etag);
    header_value(line, n, "x-amz-bucket-region", x->rs->bucket_region,
                 sizeof x->rs->bucket_region);
    return n;
}

/* The URL of a request: path-style under an explicit endpoint (and for
 * bucket names with dots, which virtual-host TLS certificates cannot
 * cover), virtual-hosted on AWS otherwise. */
static void build_url(const struct s3 *s, const struct req *rq, struct mlflow__sb *url)
{
    bool vhost = !s->endpoint && !strchr(s->bucket, '.');
    if (s->endpoint)
        mlflow__sb_adds(url, s->endpoint);
    else if (vhost)
        mlflow__sb_addf(url, "https://%s.s3.%s.amazonaws.com", s->bucket, s->region);
    else
        mlflow__sb_addf(url, "https://s3.%s.amazonaws.com", s->region);
    if (!vhost) {
        mlflow__sb_addc(url, '/');
        mlflow__http_escape(url, s->bucket, false);
    }
    if (rq->key) {
        mlflow__sb_addc(url, '/');
        mlflow__http_escape(url, rq->key, true);
    } else if (vhost) {
        mlflow__sb_addc(url, '/');
    }
    if (rq->query && *rq->query) {
        mlflow__sb_addc(url, '?');
        mlflow__sb_adds(url, rq->query);
    }
}

static bool retryable_status(long status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

static bool retryable_curl(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR ||
           c == CURLE_GOT_NOTHING || c == CURLE_OPERATION_TIMEDOUT || c == CURLE_PARTIAL_FILE ||
           c == CURLE_COULDNT_RESOLVE_HOST;
}

static void backoff(int attempt)
{
    /* 100 ms, 200 ms, 400 ms, ... plus up to 100 ms of jitter. */
    unsigned char r;
    mlflow__random_bytes(&r, 1);
    long ms = (100L << (attempt < 6 ? attempt : 6)) + r * 100L / 255;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void resp_reset(struct resp *rs)
{
    mlflow__sb_reset(&rs->body);
    rs->body_too_large = false;
    rs->status = 0;
    rs->etag[0] = rs->bucket_region[0] = '\0';
    rs->write_errno = 0;
}

/* One attempt. Returns the curl result; rs holds the answer. */
static CURLcode attempt(struct s3 *s, const struct req *rq, struct resp *rs, bool *oom)
{
    struct mlflow__sb url = MLFLOW__SB_INIT;
    build_url(s, rq, &url);
    struct curl_slist *hdrs = NULL, *t;
    struct mlflow__sb line = MLFLOW__SB_INIT;
    bool bad = url.oom;
#define ADD_HEADER(...)                                                                       \
    do {                                                                                      \
        mlflow__sb_reset(&line);                                                              \
        mlflow__sb_addf(&line, __VA_ARGS__);                                                  \
        if (line.oom || !(t = curl_slist_append(hdrs, line.buf)))                             \
            bad = true;                                                                       \
        else                                                                                  \
            hdrs = t;                                                                         \
    } while (0)
    ADD_HEADER("x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (s->token)
        ADD_HEADER("x-amz-security-token: %s", s->token);
    if (rq->content_type)
        ADD_HEADER("Content-Type: %s", rq->content_type);
#undef ADD_HEADER
    mlflow__sb_release(&line);
    if (bad) {
        curl_slist_free_all(hdrs);
        mlflow__sb_release(&url);
        *oom = true;
        return CURLE_OUT_OF_MEMORY;
    }
    CURL *h = s->h;
    struct xfer x = {rq, rs, h, 0};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.buf);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (s->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (s->ca_bundle) {
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_bundle);
    }
    if (s->key_id) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->key_id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret);
    }
    if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->upload_fd >= 0 ? rq->upload_len
                                                         : (int64_t)rq->body_len));
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    CURLcode c = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    /* The handle keeps pointers to these until the next reset. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    mlflow__sb_release(&url);
    *oom = rs->body.oom;
    return c;
}

/* Turns a failed answer into an error naming the object. */
static int s3_error(const struct s3 *s, const char *op, const char *key, const struct resp *rs,
                    struct mlflow_error *err)
{
    char where[1200], code[64], msg[512];
    describe(s, key, where, sizeof where);
    if (!mlflow__s3_xml_error(rs->body.buf, rs->body.len, code, sizeof code, msg, sizeof msg))
        snprintf(msg, sizeof msg, "%.200s", rs->body.buf && rs->status != 404 ? rs->body.buf
                                                                               : "");
    int mc;
    switch (rs->status) {
    case 400: mc = MLFLOW_INVALID_PARAMETER_VALUE; break;
    case 401: mc = MLFLOW_UNAUTHENTICATED; break;
    case 403: mc = MLFLOW_PERMISSION_DENIED; break;
    case 404: mc = MLFLOW_RESOURCE_DOES_NOT_EXIST; break;
    case 503: mc = MLFLOW_TEMPORARILY_UNAVAILABLE; break;
    default: mc = MLFLOW_INTERNAL_ERROR;
    }
    if (strcmp(code, "NoSuchBucket") == 0)
        return mlflow__seterr(err, mc, "S3 %s of %s failed: bucket '%s' does not exist (%s)", op,
                              where, s->bucket, msg);
    const char *hint = "";
    if (rs->status == 403 && !s->key_id)
        hint = " (no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";
    else if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0)
        hint = " (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";
    return mlflow__seterr(err, mc, "S3 %s of %s failed: HTTP %ld%s%s%s%s%s", op, where,
                          rs->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg, hint);
}

/*
 * Sends rq, retrying transport failures and 5xx answers, and following
 * S3's hint when the bucket lives in another region. Returns 0 with a 2xx
 * answer in rs; otherwise an error naming `op` and the object. The caller
 * releases rs->body.
 */
static int s3_do(struct s3 *s, const char *op, const struct req *rq, struct resp *rs,
                 struct mlflow_error *err)
{
    off_t start = rq->download_fd >= 0 ? lseek(rq->download_fd, 0, SEEK_CUR) : 0;
    bool region_switched = false;
    for (int n = 0;; n++) {
        if (n > 0 && rq->download_fd >= 0 &&
            (ftruncate(rq->download_fd, start) != 0 ||
             lseek(rq->download_fd, start, SEEK_SET) != start))
            return mlflow__seterr_sys(err, errno, "Cannot rewind a download of %s", op);
        resp_reset(rs);
        bool oom = false;
        CURLcode c = attempt(s, rq, rs, &oom);
        if (oom)
            return mlflow__oom(err);
        char where[1200];
        describe(s, rq->key ? rq->key : rq->label, where, sizeof where);
        if (rs->write_errno)
            return mlflow__seterr_sys(err, rs->write_errno, "S3 %s of %s: local I/O failed", op,
                                      where);
        if (rs->body_too_large)
            return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                                  "S3 %s of %s: the answer is larger than %zu bytes", op, where,
                                  MAX_XML_BODY);
        bool again = n + 1 < MAX_ATTEMPTS;
        if (c != CURLE_OK) {
            if (again && retryable_curl(c)) {
                backoff(n);
                continue;
            }
            int code = c == CURLE_OPERATION_TIMEDOUT ? MLFLOW_DEADLINE_EXCEEDED
                       : retryable_curl(c)           ? MLFLOW_TEMPORARILY_UNAVAILABLE
                                                     : MLFLOW_INTERNAL_ERROR;
            return mlflow__seterr(err, code, "S3 %s of %s failed: %s (endpoint %s)", op, where,
                                  curl_easy_strerror(c),
                                  s->endpoint ? s->endpoint : "AWS");
        }
        if (rs->status >= 200 && rs->status < 300)
            return MLFLOW_OK;
        /* A bucket in another region: S3 names it; sign for it and retry. */
        if (!region_switched && rs->bucket_region[0] &&
            strcmp(rs->bucket_region, s->region) != 0 &&
            (rs->status == 301 || rs->status == 307 || rs->status == 400)) {
            set_region(s, rs->bucket_region);
            region_switched = true;
            n--;
            continue;
        }
        if (again && retryable_status(rs->status)) {
            backoff(n);
            continue;
        }
        return s3_error(s, op, rq->key ? rq->key : rq->label, rs, err);
    }
}

/* ---- objects ---- */

/* Query "name=<escaped value>" pairs, which callers add in sorted order. */
static void query_add(struct mlflow__sb *q, const char *name, const char *value)
{
    mlflow__http_query_add(q, name, value);
}

static int put_single(struct s3 *s, const char *key, int fd, int64_t size, const void *data,
                      const char *content_type, struct mlflow_error *err)
{
    struct req rq = REQ_INIT;
    rq.method = "PUT";
    rq.key = key;
    rq.content_type = content_type;
    rq.upload_fd = fd;
    rq.upload_len = size;
    rq.body = data ? data : "";
    rq.body_len = fd >= 0 ? 0 : (size_t)size;
    struct resp rs = {0};
    int rc = s3_do(s, "upload", &rq, &rs, err);
    mlflow__sb_release(&rs.body);
    return rc;
}

static void abort_multipart(struct s3 *s, const char *key, const char *upload_id)
{
    struct mlflow__sb q = MLFLOW__SB_INIT;
    query_add(&q, "uploadId", upload_id);
    if (q.oom) {
        mlflow__sb_release(&q);
        return;
    }
    struct req rq = REQ_INIT;
    rq.method = "DELETE";
    rq.key = key;
    rq.query = q.buf;
    struct resp rs = {0};
    struct mlflow_error ignored;
    /* Best effort: the upload already failed, and that error is what the
     * caller reports. A bucket lifecycle rule cleans up what this misses. */
    s3_do(s, "multipart abort", &rq, &rs, &ignored);
    mlflow__sb_release(&rs.body);
    mlflow__sb_release(&q);
}

/* Uploads [0, size) of fd in parts of part_size. */
static int put_multipart(struct s3 *s, const char *key, int fd, int64_t size, int64_t part_size,
                         const char *content_type, struct mlflow_error *err)
{
    struct req rq = REQ_INIT;
    rq.method = "POST";
    rq.key = key;
    rq.query = "uploads=";
    rq.content_type = content_type ? content_type : "binary/octet-stream";
    struct resp rs = {0};
    char *upload_id = NULL;
    int rc = s3_do(s, "multipart upload start", &rq, &rs, err);
    if (!rc)
        rc = mlflow__s3_xml_upload_id(rs.body.buf, rs.body.len, &upload_id, err);
    if (rc) {
        mlflow__sb_release(&rs.body);
        return rc;
    }
    int64_t nparts = (size + part_size - 1) / part_size;
    struct mlflow__sb done = MLFLOW__SB_INIT, q = MLFLOW__SB_INIT;
    mlflow__sb_adds(&done, "<CompleteMultipartUpload "
                           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int64_t i = 0; !rc && i < nparts; i++) {
        char num[24];
        mlflow__fmt_int64(i + 1, num);
        mlflow__sb_reset(&q);
        query_add(&q, "partNumber", num);
        query_add(&q, "uploadId", upload_id);
        if (q.oom) {
            rc = mlflow__oom(err);
            break;
        }
        struct req part = REQ_INIT;
        part.method = "PUT";
        part.key = key;
        part.query = q.buf;
        part.upload_fd = fd;
        part.upload_off = i * part_size;
        part.upload_len = i + 1 < nparts ? part_size : size - i * part_size;
        rc = s3_do(s, "multipart upload part", &part, &rs, err);
        if (!rc && !rs.etag[0])
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "S3 gave no ETag for part %s of the upload of s3://%s/%s", num,
                                s->bucket, key);
        if (!rc) {
            mlflow__sb_addf(&done, "<Part><PartNumber>%s</PartNumber><ETag>", num);
            mlflow__s3_xml_escape(&done, rs.etag);
            mlflow__sb_adds(&done, "</ETag></Part>");
        }
    }
    mlflow__sb_adds(&done, "</CompleteMultipartUpload>");
    if (!rc && (done.oom || q.oom))
        rc = mlflow__oom(err);
    if (!rc) {
        mlflow__sb_reset(&q);
        query_add(&q, "uploadId", upload_id);
        struct req fin = REQ_INIT;
        fin.method = "POST";
        fin.key = key;
        fin.query = q.buf;
        fin.content_type = "application/xml";
        fin.body = done.buf;
        fin.body_len = done.len;
        rc = q.oom ? mlflow__oom(err) : s3_do(s, "multipart upload completion", &fin, &rs, err);
        /* S3 may answer 200 and still have failed: the error is the body. */
        char code[64], msg[512];
        if (!rc && mlflow__s3_xml_error(rs.body.buf, rs.body.len, code, sizeof code, msg,
                                        sizeof msg))
            rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                "S3 multipart upload completion of s3://%s/%s failed: %s: %s",
                                s->bucket, key, code, msg);
    }
    if (rc)
        abort_multipart(s, key, upload_id);
    mlflow__sb_release(&rs.body);
    mlflow__sb_release(&done);
    mlflow__sb_release(&q);
    mlflow__free(upload_id);
    return rc;
}

/* Uploads fd (all of it) as key: one PUT, or parts above the threshold. */
static int put_fd(struct s3 *s, const char *key, int fd, const char *content_type,
                  struct mlflow_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return mlflow__seterr_sys(err, errno, "Cannot stat the file to upload to s3://%s/%s",
                                  s->bucket, key);
    int64_t size = (int64_t)st.st_size, threshold, part;
    int rc = env_size("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", DEFAULT_MULTIPART_THRESHOLD,
                      &threshold, err);
    if (!rc)
        rc = env_size("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", DEFAULT_PART_SIZE, &part, err);
    if (rc)
        return rc;
    if (size < threshold && size <= MAX_SINGLE_PUT)
        return put_single(s, key, fd, size, NULL, content_type, err);
    /* S3 refuses parts under 5 MiB and more than 10 000 parts; a part size
     * outside that would only fail at the end, so it is adjusted here. */
    if (part < MIN_PART_SIZE)
        part = MIN_PART_SIZE;
    if ((size + part - 1) / part > MAX_PARTS)
        part = (size + MAX_PARTS - 1) / MAX_PARTS;
    if (size <= part)
        return put_single(s, key, fd, size, NULL, content_type, err);
    return put_multipart(s, key, fd, size, part, content_type, err);
}

int mlflow__s3_put_fd(const char *root_uri, const char *rel, int fd, const char *content_type,
                      struct mlflow_error *err)
{
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    char *key = key_of(&s, rel);
    if (!key)
        rc = mlflow__oom(err);
    else if (!*key)
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot upload to '%s': it names a bucket, not an object", root_uri);
    else
        rc = put_fd(&s, key, fd, content_type ? content_type : mlflow__mime_type(key, false), err);
    mlflow__free(key);
    s3_close(&s);
    return rc;
}

static int get_fd(struct s3 *s, const char *key, int fd, struct mlflow_error *err)
{
    struct req rq = REQ_INIT;
    rq.method = "GET";
    rq.key = key;
    rq.download_fd = fd;
    struct resp rs = {0};
    int rc = s3_do(s, "download", &rq, &rs, err);
    mlflow__sb_release(&rs.body);
    return rc;
}

int mlflow__s3_get_fd(const char *root_uri, const char *rel, int fd, struct mlflow_error *err)
{
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    char *key = key_of(&s, rel);
    rc = key ? get_fd(&s, key, fd, err) : mlflow__oom(err);
    mlflow__free(key);
    s3_close(&s);
    return rc;
}

/* ---- listing ---- */

/* Calls fn for every entry under `prefix` (with the delimiter: one level),
 * page after page. */
static int list_all(struct s3 *s, const char *prefix, bool one_level,
                    int (*fn)(void *ud, const struct mlflow__s3_entry *e,
                              struct mlflow_error *err),
                    void *ud, struct mlflow_error *err)
{
    char *token = NULL;
    char max_keys[24];
    mlflow__fmt_int64(mlflow__s3_max_keys > 0 ? mlflow__s3_max_keys : 1000, max_keys);
    int rc = MLFLOW_OK;
    size_t pages = 0;
    do {
        struct mlflow__sb q = MLFLOW__SB_INIT;
        if (token)
            query_add(&q, "continuation-token", token);
        if (one_level)
            query_add(&q, "delimiter", "/");
        query_add(&q, "encoding-type", "url");
        query_add(&q, "list-type", "2");
        query_add(&q, "max-keys", max_keys);
        query_add(&q, "prefix", prefix);
        if (q.oom) {
            mlflow__sb_release(&q);
            rc = mlflow__oom(err);
            break;
        }
        struct req rq = REQ_INIT;
        rq.method = "GET";
        rq.query = q.buf;
        rq.label = prefix;
        struct resp rs = {0};
        rc = s3_do(s, "listing", &rq, &rs, err);
        struct mlflow__s3_list_page page;
        if (!rc)
            rc = mlflow__s3_xml_list(rs.body.buf ? rs.body.buf : "", rs.body.len, &page, err);
        mlflow__sb_release(&rs.body);
        mlflow__sb_release(&q);
        if (rc)
            break;
        for (size_t i = 0; !rc && i < page.n; i++)
            rc = fn(ud, &page.entries[i], err);
        mlflow__free(token);
        token = NULL;
        if (!rc && page.truncated) {
            if (!page.next_token || !*page.next_token)
                rc = mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                                    "S3 listing of s3://%s/%s is truncated but gives no "
                                    "continuation token",
                                    s->bucket, prefix);
            else if (++pages > MAX_ENTRIES)
                rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                                    "S3 listing of s3://%s/%s has too many pages", s->bucket,
                                    prefix);
            else
                token = page.next_token, page.next_token = NULL;
        }
        mlflow__s3_list_page_release(&page);
    } while (!rc && token);
    mlflow__free(token);
    return rc;
}

/* The prefix listing `path` (relative to the root): "<prefix>/<path>/",
 * or "" for the root of a bucket. Caller frees. */
static char *dir_prefix(const struct s3 *s, const char *path)
{
    char *key = key_of(s, path);
    if (!key || !*key)
        return key;
    char *p = mlflow__malloc(strlen(key) + 2);
    if (p)
        sprintf(p, "%s/", key);
    mlflow__free(key);
    return p;
}

struct list_ctx {
    struct mlflow_file_list *list;
    size_t cap;
    const char *dir_prefix; /* what every key must start with */
    const char *path;       /* the listed path, relative to the root ("" for it) */
    const char *root_uri;
};

static int add_entry(void *ud, const struct mlflow__s3_entry *e, struct mlflow_error *err)
{
    struct list_ctx *lc = ud;
    struct mlflow_file_list *list = lc->list;
    struct mlflow__arena *a = mlflow__obj_arena(list);
    size_t plen = strlen(lc->dir_prefix);
    if (strncmp(e->key, lc->dir_prefix, plen) != 0)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR,
                              "The S3 listing of '%s' returned '%s', which is outside it",
                              lc->root_uri, e->key);
    const char *name = e->key + plen;
    size_t nlen = strlen(name);
    if (e->is_prefix && nlen > 0 && name[nlen - 1] == '/')
        nlen--;
    /* The key equal to the prefix is a "folder" placeholder some tools
     * create; it is the directory itself, not an entry in it. */
    if (nlen == 0)
        return MLFLOW_OK;
    if (list->count >= MAX_ENTRIES)
        return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                              "The artifact listing of '%s' has more than %d entries",
                              lc->root_uri, MAX_ENTRIES);
    if (list->count == lc->cap) {
        size_t ncap = lc->cap ? lc->cap * 2 : 64;
        struct mlflow_file_info *nf = mlflow__arena_alloc(a, ncap * sizeof *nf);
        if (!nf)
            return mlflow__oom(err);
        if (list->count)
            memcpy(nf, list->files, list->count * sizeof *nf);
        list->files = nf;
        lc->cap = ncap;
    }
    struct mlflow_file_info *fi = &list->files[list->count];
    fi->path = *lc->path ? mlflow__arena_printf(a, "%s/%.*s", lc->path, (int)nlen, name)
                         : mlflow__arena_strndup(a, name, nlen);
    if (!fi->path)
        return mlflow__oom(err);
    fi->is_dir = e->is_prefix;
    fi->file_size = e->is_prefix ? -1 : e->size;
    list->count++;
    return MLFLOW_OK;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_file_info *)a)->path,
                  ((const struct mlflow_file_info *)b)->path);
}

static int list_open(struct s3 *s, const char *path, struct mlflow_file_list **out,
                     struct mlflow_error *err)
{
    *out = NULL;
    struct mlflow_file_list *list = mlflow__obj_new(sizeof *list);
    char *prefix = dir_prefix(s, path);
    int rc = list && prefix ? MLFLOW_OK : mlflow__oom(err);
    if (!rc && !(list->root_uri = mlflow__arena_strdup(mlflow__obj_arena(list), s->root_uri)))
        rc = mlflow__oom(err);
    struct list_ctx lc = {list, 0, prefix, path ? path : "", s->root_uri};
    if (!rc)
        rc = list_all(s, prefix, true, add_entry, &lc, err);
    mlflow__free(prefix);
    if (!rc && list->count) {
        qsort(list->files, list->count, sizeof *list->files, cmp_info);
        /* S3 never repeats an entry across pages; some S3-compatible
         * servers repeat a common prefix at a page boundary. */
        size_t o = 1;
        for (size_t i = 1; i < list->count; i++)
            if (strcmp(list->files[i].path, list->files[o - 1].path) != 0)
                list->files[o++] = list->files[i];
        list->count = o;
    }
    if (rc) {
        mlflow__obj_free(list);
        return rc;
    }
    *out = list;
    return MLFLOW_OK;
}

/* ---- deletion ---- */

static int delete_key(struct s3 *s, const char *key, struct mlflow_error *err)
{
    struct req rq = REQ_INIT;
    rq.method = "DELETE";
    rq.key = key;
    struct resp rs = {0};
    int rc = s3_do(s, "deletion", &rq, &rs, err);
    /* Deleting what is not there succeeds on S3 (204); some servers answer
     * 404 NoSuchKey, which means the same. A missing bucket is an error. */
    char code[64], msg[8];
    if (rc == MLFLOW_RESOURCE_DOES_NOT_EXIST &&
        mlflow__s3_xml_error(rs.body.buf, rs.body.len, code, sizeof code, msg, sizeof msg) &&
        strcmp(code, "NoSuchBucket") != 0)
        rc = MLFLOW_OK;
    mlflow__sb_release(&rs.body);
    return rc;
}

static int delete_entry(void *ud, const struct mlflow__s3_entry *e, struct mlflow_error *err)
{
    return e->is_prefix ? MLFLOW_OK : delete_key(ud, e->key, err);
}

static int delete_tree(struct s3 *s, const char *rel, struct mlflow_error *err)
{
    char *key = key_of(s, rel), *prefix = dir_prefix(s, rel);
    int rc = key && prefix ? MLFLOW_OK : mlflow__oom(err);
    /* The object itself (a file artifact), then everything below it. The
     * listing is made page by page while deleting, which S3 allows. */
    if (!rc && *key)
        rc = delete_key(s, key, err);
    if (!rc)
        rc = list_all(s, prefix, false, delete_entry, s, err);
    mlflow__free(key);
    mlflow__free(prefix);
    return rc;
}

int mlflow__s3_delete(const char *root_uri, const char *rel, struct mlflow_error *err)
{
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    rc = delete_tree(&s, rel, err);
    s3_close(&s);
    return rc;
}

/* ---- repository operations ---- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int s3_log_file(const char *root_uri, const char *local_file, const char *artifact_path,
                       struct mlflow_error *err)
{
    int fd = open(local_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? mlflow__seterr(err, MLFLOW_RESOURCE_DOES_NOT_EXIST,
                                                "Local file '%s' does not exist", local_file)
                               : mlflow__seterr_sys(err, errno, "Cannot open '%s'", local_file);
    struct stat st;
    int rc = MLFLOW_OK;
    if (fstat(fd, &st) != 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot stat '%s'", local_file);
    else if (!S_ISREG(st.st_mode))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Cannot upload '%s': it is not a regular file", local_file);
    const char *name = base_name(local_file);
    char *rel = NULL;
    if (!rc && !(rel = artifact_path && *artifact_path ? mlflow__path_join(artifact_path, name)
                                                       : mlflow__strdup(name)))
        rc = mlflow__oom(err);
    if (!rc)
        rc = mlflow__s3_put_fd(root_uri, rel, fd, mlflow__mime_type(name, false), err);
    mlflow__free(rel);
    close(fd);
    return rc;
}

static int s3_log_bytes(const char *root_uri, const char *artifact_file, const void *data,
                        size_t n, struct mlflow_error *err)
{
    const char *name = base_name(artifact_file);
    if (!*name)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact file '%s' names a directory, not a file", artifact_file);
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    char *key = key_of(&s, artifact_file);
    rc = key ? put_single(&s, key, -1, (int64_t)n, data, mlflow__mime_type(name, false), err)
             : mlflow__oom(err);
    mlflow__free(key);
    s3_close(&s);
    return rc;
}

static int s3_list(const char *root_uri, const char *path, struct mlflow_file_list **out,
                   struct mlflow_error *err)
{
    *out = NULL;
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    rc = list_open(&s, path, out, err);
    s3_close(&s);
    return rc;
}

/* Downloads key into the file dst: into a temporary file beside it first,
 * renamed over dst once the object arrived whole. */
static int download_file(struct s3 *s, const char *rel, const char *dst, struct mlflow_error *err)
{
    char *key = key_of(s, rel);
    if (!key)
        return mlflow__oom(err);
    struct mlflow__download dl;
    int rc = mlflow__download_begin(&dl, dst, err);
    if (!rc)
        rc = get_fd(s, key, dl.fd, err);
    rc = mlflow__download_end(&dl, rc, err);
    mlflow__free(key);
    return rc;
}

/* A listed name must be one plain path segment to become a local name. */
static bool safe_name(const char *name)
{
    struct mlflow_error ignored;
    return *name && strcmp(name, ".") != 0 && !strchr(name, '/') &&
           mlflow__validate_artifact_path(name, &ignored) == MLFLOW_OK;
}

static int download_tree(struct s3 *s, const char *path, const char *dst, int depth,
                         size_t *budget, struct mlflow_error *err)
{
    if (depth > MAX_DEPTH)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Artifact directory '%s' is nested too deeply", path);
    int e = mlflow__mkdirs(dst);
    if (e)
        return mlflow__seterr_sys(err, e, "Cannot create '%s'", dst);
    struct mlflow_file_list *list;
    int rc = list_open(s, path, &list, err);
    for (size_t i = 0; !rc && i < list->count; i++) {
        const struct mlflow_file_info *fi = &list->files[i];
        const char *name = base_name(fi->path);
        if (!safe_name(name)) {
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "Cannot download '%s' from %s: its name cannot be a local file "
                                "name",
                                fi->path, s->root_uri);
            break;
        }
        if (*budget == 0) {
            rc = mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED,
                                "More than %d artifacts to download", MAX_ENTRIES);
            break;
        }
        (*budget)--;
        char *child = mlflow__path_join(dst, name);
        if (!child) {
            rc = mlflow__oom(err);
            break;
        }
        rc = fi->is_dir ? download_tree(s, fi->path, child, depth + 1, budget, err)
                        : download_file(s, fi->path, child, err);
        mlflow__free(child);
    }
    if (list)
        mlflow__obj_free(list);
    return rc;
}

static int s3_download(const char *root_uri, const char *path, const char *dst_dir,
                       char **out_local, struct mlflow_error *err)
{
    struct s3 s;
    int rc = s3_open(root_uri, &s, err);
    if (rc)
        return rc;
    char *dst = path && *path ? mlflow__path_join(dst_dir, path) : mlflow__strdup(dst_dir);
    if (!dst) {
        s3_close(&s);
        return mlflow__oom(err);
    }
    size_t budget = MAX_ENTRIES;
    /* As MLflow decides: a path with entries under it is a directory,
     * anything else a file; the root is always a directory. */
    bool is_dir = !path || !*path;
    if (!is_dir) {
        struct mlflow_file_list *list;
        rc = list_open(&s, path, &list, err);
        if (!rc) {
            is_dir = list->count > 0;
            mlflow__obj_free(list);
        }
    }
    if (!rc)
        rc = is_dir ? download_tree(&s, path ? path : "", dst, 0, &budget, err)
                    : download_file(&s, path, dst, err);
    if (!rc && out_local)
        *out_local = dst;
    else
        mlflow__free(dst);
    s3_close(&s);
    return rc;
}

static int s3_remove(const char *root_uri, const char *path, struct mlflow_error *err)
{
    return mlflow__s3_delete(root_uri, path, err);
}

const struct mlflow__artifact_repo_ops mlflow__s3_artifact_repo = {
    .scheme = "s3",
    .log_file = s3_log_file,
    .log_bytes = s3_log_bytes,
    .list = s3_list,
    .download = s3_download,
    .remove = s3_remove,
};
