/*
 * artifact_dest.c - the server's artifact destinations: a local root
 * (delegated to artifact_fs.c, unchanged) or an S3 prefix (delegated to the
 * s3 artifact repository), and the spool directory S3 transfers pass
 * through. See artifact_dest.h for the why.
 *
 * Paths reach this file canonical (mlflow__afs_canon: no "..", no empty or
 * "." segment, no '?', '#', ';' or '\\'), so an S3 key built from one stays
 * beneath its destination prefix, as a local path stays beneath its root.
 */
#include "artifact_dest.h"

#include "../artifacts/s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_PREFIX "mlflow-c-spool-"

struct mlflow__adest_state {
    char *remote;         /* s3:// --artifacts-destination without trailing '/', or NULL */
    pthread_mutex_t lock; /* guards the spool's creation */
    char *spool_dir;      /* made on first use */
    int spool_fd;
};

/* ---- server lifetime ---- */

int mlflow__adest_init(struct mlflow__server *s, struct mlflow_error *err)
{
    struct mlflow__adest_state *st = mlflow__calloc(1, sizeof *st);
    if (!st)
        return mlflow__oom(err);
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        mlflow__free(st);
        return mlflow__oom(err);
    }
    st->spool_fd = -1;
    s->adest = st;
    return MLFLOW_OK;
}

int mlflow__adest_set_remote(struct mlflow__server *s, const char *uri, struct mlflow_error *err)
{
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    if (strcmp(scheme, "s3") != 0)
        return mlflow__seterr(err, MLFLOW_NOT_IMPLEMENTED,
                              "--artifacts-destination '%s': mlflow-c server supports local "
                              "directories and s3://bucket/prefix",
                              uri);
    const char *bucket = uri + strlen("s3:");
    if (strncmp(bucket, "//", 2) != 0 || !bucket[2] || bucket[2] == '/')
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "--artifacts-destination '%s': expected s3://bucket/prefix", uri);
    size_t n = strlen(uri);
    while (n > 0 && uri[n - 1] == '/')
        n--;
    mlflow__free(s->adest->remote);
    s->adest->remote = mlflow__strndup(uri, n);
    return s->adest->remote ? MLFLOW_OK : mlflow__oom(err);
}

const char *mlflow__adest_remote(const struct mlflow__server *s)
{
    return s->adest ? s->adest->remote : NULL;
}

void mlflow__adest_fini(struct mlflow__server *s)
{
    struct mlflow__adest_state *st = s->adest;
    if (!st)
        return;
    if (st->spool_fd >= 0) {
        /* Requests are over: whatever is left was abandoned mid-transfer. */
        DIR *d = fdopendir(st->spool_fd);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                    unlinkat(dirfd(d), de->d_name, 0);
            closedir(d);
        } else {
            close(st->spool_fd);
        }
        rmdir(st->spool_dir);
    }
    pthread_mutex_destroy(&st->lock);
    mlflow__free(st->spool_dir);
    mlflow__free(st->remote);
    mlflow__free(st);
    s->adest = NULL;
}

/* The spool directory's descriptor (owned by the state), made on first use
 * in $TMPDIR (else /tmp), readable by this user only. */
static int spool(struct mlflow__server *s, int *fd, struct mlflow_error *err)
{
    struct mlflow__adest_state *st = s->adest;
    int rc = MLFLOW_OK;
    pthread_mutex_lock(&st->lock);
    if (st->spool_fd < 0) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        char *dir = mlflow__malloc(strlen(tmp) + sizeof "/" SPOOL_PREFIX "XXXXXX");
        if (!dir) {
            rc = mlflow__oom(err);
        } else {
            sprintf(dir, "%s/" SPOOL_PREFIX "XXXXXX", tmp);
            if (!mkdtemp(dir))
                rc = mlflow__seterr_sys(err, errno, "Cannot create a spool directory in '%s'",
                                        tmp);
            else if ((st->spool_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                rc = mlflow__seterr_sys(err, errno, "Cannot open the spool directory '%s'", dir);
            if (rc) {
                rmdir(dir);
                mlflow__free(dir);
            } else {
                st->spool_dir = dir;
            }
        }
    }
    *fd = st->spool_fd;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- opening ---- */

void mlflow__adest_close(struct mlflow__adest *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    d->s3 = NULL;
}

int mlflow__adest_proxy(struct mlflow__req *r, struct mlflow__adest *d, struct mlflow_error *err)
{
    *d = (struct mlflow__adest)MLFLOW__ADEST_INIT;
    const char *remote = mlflow__adest_remote(r->srv);
    if (remote) {
        d->s3 = remote;
        return MLFLOW_OK;
    }
    d->fd = r->srv->dest_fd >= 0 ? fcntl(r->srv->dest_fd, F_DUPFD_CLOEXEC, 0) : -1;
    return d->fd < 0 ? mlflow__seterr_sys(err, r->srv->dest_fd >= 0 ? errno : ENOENT,
                                          "Cannot open the artifacts destination")
                     : MLFLOW_OK;
}

/* The path of a proxied artifact URI beneath the destination (no leading
 * '/'), or NULL when the URI is not proxied: mlflow-artifacts:[//host]/p,
 * or an http(s) URL of an artifacts service, as mlflow__afs_run_root reads
 * them. */
static const char *proxied_path(const char *uri)
{
    char scheme[32];
    mlflow__uri_scheme(uri, scheme, sizeof scheme);
    const char *p = NULL;
    if (strcmp(scheme, "mlflow-artifacts") == 0) {
        p = uri + strlen("mlflow-artifacts:");
        if (strncmp(p, "//", 2) == 0) {
            p = strchr(p + 2, '/');
            if (!p)
                p = "";
        }
    } else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        const char *anchor = strstr(uri, "/api/2.0/mlflow-artifacts/artifacts/");
        if (anchor)
            p = anchor + strlen("/api/2.0/mlflow-artifacts/artifacts");
    }
    while (p && *p == '/')
        p++;
    return p;
}

int mlflow__adest_run(struct mlflow__req *r, const char *artifact_uri, bool create,
                      struct mlflow__adest *d, const char **rel, struct mlflow_error *err)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    *d = (struct mlflow__adest)MLFLOW__ADEST_INIT;
    *rel = "";
    const char *remote = mlflow__adest_remote(r->srv);
    const char *proxied = remote && r->srv->opts.serve_artifacts ? proxied_path(artifact_uri)
                                                                 : NULL;
    if (proxied) {
        int rc = mlflow__afs_canon(a, proxied, strlen(proxied), rel, err);
        if (!rc)
            d->s3 = remote;
        return rc;
    }
    char scheme[32];
    mlflow__uri_scheme(artifact_uri, scheme, sizeof scheme);
    if (strcmp(scheme, "s3") == 0) {
        /* The run's own S3 location, reached with this server's
         * credentials, as MLflow's server does. */
        size_t n = strlen(artifact_uri);
        while (n > 0 && artifact_uri[n - 1] == '/')
            n--;
        d->s3 = mlflow__arena_strndup(a, artifact_uri, n);
        return d->s3 ? MLFLOW_OK : mlflow__oom(err);
    }
    return mlflow__afs_run_root(r, artifact_uri, create, &d->fd, rel, err);
}

/* ---- operations ---- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int mlflow__adest_list(struct mlflow__req *r, const struct mlflow__adest *d, const char *rel,
                       const char *prefix, struct mlflow_file_info **out, size_t *n,
                       struct mlflow_error *err)
{
    struct mlflow__arena *a = mlflow__req_arena(r);
    if (!d->s3)
        return mlflow__afs_list(d->fd, rel, prefix, a, out, n, err);
    *out = NULL;
    *n = 0;
    struct mlflow_file_list *list;
    int rc = mlflow__s3_artifact_repo.list(d->s3, rel, &list, err);
    if (rc)
        return rc;
    if (list->count && !(*out = mlflow__arena_alloc(a, list->count * sizeof **out)))
        rc = mlflow__oom(err);
    for (size_t i = 0; !rc && i < list->count; i++) {
        const struct mlflow_file_info *fi = &list->files[i];
        const char *name = base_name(fi->path);
        struct mlflow_file_info *o = &(*out)[i];
        o->path = prefix && *prefix ? mlflow__arena_printf(a, "%s/%s", prefix, name)
                                    : mlflow__arena_strdup(a, name);
        if (!o->path)
            rc = mlflow__oom(err);
        o->is_dir = fi->is_dir;
        o->file_size = fi->file_size;
    }
    if (!rc)
        *n = list->count;
    else
        *out = NULL;
    mlflow__obj_free(list);
    return rc;
}

/* An unnamed file in the spool: it disappears with its last descriptor. */
static int spool_file(struct mlflow__req *r, int *out, struct mlflow_error *err)
{
    int dir;
    int rc = spool(r->srv, &dir, err);
    if (rc)
        return rc;
    int fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* No O_TMPFILE on this filesystem: a named file, unlinked at once. */
        char name[48], hex[33];
        mlflow__uuid_hex(hex);
        snprintf(name, sizeof name, "get-%s", hex);
        fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            unlinkat(dir, name, 0);
    }
    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "Cannot create a spool file");
    *out = fd;
    return MLFLOW_OK;
}

int mlflow__adest_send(struct mlflow__req *r, const struct mlflow__adest *d, const char *rel,
                       struct mlflow__resp *out, struct mlflow_error *err)
{
    if (!*rel)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: '' names a directory, not a file");
    int rc;
    if (!d->s3) {
        rc = mlflow__afs_open_file(d->fd, rel, &out->fd, &out->fd_size, err);
    } else {
        int fd = -1;
        struct stat st;
        rc = spool_file(r, &fd, err);
        if (!rc)
            rc = mlflow__s3_get_fd(d->s3, rel, fd, err);
        if (!rc && (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0))
            rc = mlflow__seterr_sys(err, errno, "Cannot read back the download of '%s'", rel);
        if (rc) {
            if (fd >= 0)
                close(fd);
        } else {
            out->fd = fd;
            out->fd_size = (uint64_t)st.st_size;
        }
    }
    if (rc)
        return rc;
    out->filename = mlflow__arena_strdup(mlflow__req_arena(r), base_name(rel));
    out->content_type = mlflow__mime_type(rel, true);
    out->status = 200;
    return MLFLOW_OK;
}

int mlflow__adest_upload_begin(struct mlflow__req *r, const struct mlflow__adest *d,
                               const char *rel, struct mlflow_error *err)
{
    r->upload_s3 = NULL;
    int rc;
    if (!d->s3) {
        rc = mlflow__afs_upload_begin(d->fd, rel, &r->upload, err);
    } else if (!*rel) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Invalid path: an upload needs a file name");
    } else {
        /* Spooled under a random name; the object's key is kept aside. */
        int dir;
        char name[48], hex[33];
        mlflow__uuid_hex(hex);
        snprintf(name, sizeof name, "put-%s", hex);
        rc = spool(r->srv, &dir, err);
        if (!rc && !(r->upload_s3 = mlflow__arena_printf(mlflow__req_arena(r), "%s/%s", d->s3,
                                                         rel)))
            rc = mlflow__oom(err);
        if (!rc)
            rc = mlflow__afs_upload_begin(dir, name, &r->upload, err);
    }
    r->upload_open = rc == MLFLOW_OK;
    return rc;
}

int mlflow__adest_upload_commit(struct mlflow__req *r, struct mlflow_error *err)
{
    if (!r->upload_open)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "The upload was not started");
    r->upload_open = false;
    if (!r->upload_s3)
        return mlflow__afs_upload_commit(&r->upload, err);
    char name[64];
    snprintf(name, sizeof name, "%s", r->upload.leaf ? r->upload.leaf : "");
    int dir = -1, fd = -1;
    int rc = mlflow__afs_upload_commit(&r->upload, err);
    if (!rc)
        rc = spool(r->srv, &dir, err);
    if (!rc && (fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = mlflow__seterr_sys(err, errno, "Cannot reopen the spooled upload");
    if (!rc)
        rc = mlflow__s3_put_fd(r->upload_s3, "", fd, mlflow__mime_type(r->upload_s3, false), err);
    if (fd >= 0)
        close(fd);
    if (dir >= 0)
        unlinkat(dir, name, 0);
    return rc;
}

int mlflow__adest_delete(struct mlflow__req *r, const struct mlflow__adest *d, const char *rel,
                         struct mlflow_error *err)
{
    (void)r;
    if (!d->s3)
        return mlflow__afs_delete(d->fd, rel, err);
    if (!*rel)
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                              "Invalid path: the artifact root itself cannot be deleted");
    return mlflow__s3_delete(d->s3, rel, err);
}
