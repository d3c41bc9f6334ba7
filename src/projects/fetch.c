/*
 * fetch.c - getting a project onto local disk and asking git about it:
 * local folders and file:// URIs used in place, git URIs cloned (branch,
 * tag or commit checked out), .zip archives unpacked, a `#subdirectory`
 * selected without letting it leave the project.
 *
 * Helper programs (git, unzip) are started with posix_spawnp and a fixed
 * argv, never through a shell, and each user-supplied word is placed after
 * `--` or checked not to start with '-', so it cannot become an option.
 */
#include "projects/projects.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv in cwd and waits. *out (may be NULL) gets its stdout, and
 * stderr too when `with_stderr`; otherwise stderr is discarded. Returns 0
 * when it exited with status 0, 1 when it ran and failed, or an error. */
static int run_tool(const char *const argv[], const char *cwd, bool with_stderr, char **out,
                    struct mlflow_error *err)
{
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    int status, rc;

    rc = mlflow__spawn_capture(argv, cwd, with_stderr, &sb, &status, err);
    if (rc) {
        mlflow__sb_release(&sb);
        return rc;
    }
    if (sb.oom) {
        mlflow__sb_release(&sb);
        return mlflow__oom(err);
    }
    if (out) {
        *out = sb.buf ? mlflow__sb_detach(&sb) : mlflow__strdup("");
        if (!*out)
            return mlflow__oom(err);
    }
    mlflow__sb_release(&sb);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void chomp(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* The first line of a tool's output, or NULL when it failed. */
static char *tool_line(const char *const argv[], const char *cwd)
{
    char *out = NULL;

    if (run_tool(argv, cwd, false, &out, NULL) != 0) {
        mlflow__free(out);
        return NULL;
    }
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    chomp(out);
    if (!*out) {
        mlflow__free(out);
        return NULL;
    }
    return out;
}

int mlflow__git_info(const char *dir, const char *version, struct mlflow__git_info *gi)
{
    const char *head[] = {"git", "rev-parse", "HEAD", NULL};
    const char *top[] = {"git", "rev-parse", "--show-toplevel", NULL};
    const char *remotes[] = {"git", "remote", NULL};
    char *remote;

    memset(gi, 0, sizeof *gi);
    if (!(gi->toplevel = tool_line(top, dir)))
        return MLFLOW_OK; /* not in a git work tree, or no git: no git tags */
    gi->commit = tool_line(head, dir);
    if ((remote = tool_line(remotes, dir))) {
        const char *url[] = {"git", "remote", "get-url", "--", remote, NULL};

        gi->repo_url = tool_line(url, dir);
        mlflow__free(remote);
    }
    if (version && *version && *version != '-') {
        char *ref = mlflow__malloc(strlen(version) + 12);

        if (ref) {
            sprintf(ref, "refs/heads/%s", version);
            const char *verify[] = {"git", "rev-parse", "--verify", "--quiet", ref, NULL};
            gi->is_branch = run_tool(verify, dir, false, NULL, NULL) == 0;
            mlflow__free(ref);
        }
    }
    return MLFLOW_OK;
}

void mlflow__git_info_free(struct mlflow__git_info *gi)
{
    mlflow__free(gi->toplevel);
    mlflow__free(gi->commit);
    mlflow__free(gi->repo_url);
    memset(gi, 0, sizeof *gi);
}

int mlflow__project_temp_dir(const char *storage_dir, const char *name, char **out,
                             struct mlflow_error *err)
{
    const char *base = storage_dir && *storage_dir ? storage_dir : getenv("TMPDIR");
    char *tmpl;
    int e;

    if (!base || !*base)
        base = "/tmp";
    if (storage_dir && *storage_dir && (e = mlflow__mkdirs(storage_dir)) != 0)
        return mlflow__seterr_sys(err, e, "cannot create storage dir '%s'", storage_dir);
    struct mlflow__sb sb = MLFLOW__SB_INIT;

    mlflow__sb_addf(&sb, "%s-XXXXXX", name);
    tmpl = sb.buf ? mlflow__path_join(base, sb.buf) : NULL;
    mlflow__sb_release(&sb);
    if (!tmpl)
        return mlflow__oom(err);
    if (!mkdtemp(tmpl)) {
        e = errno;
        mlflow__free(tmpl);
        return mlflow__seterr_sys(err, e, "cannot create a directory under '%s'", base);
    }
    *out = tmpl;
    return MLFLOW_OK;
}

static int tool_failed(const char *what, char *output, struct mlflow_error *err)
{
    if (output)
        chomp(output);
    mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "%s%s%.700s", what,
                   output && *output ? ": " : "", output ? output : "");
    mlflow__free(output);
    return MLFLOW_INVALID_PARAMETER_VALUE;
}

static int git_clone(const char *uri, const char *version, const char *dst,
                     struct mlflow_error *err)
{
    /* ext:: URLs run commands; git refuses them by default, and so do we. */
    const char *clone[] = {"git", "-c", "advice.detachedHead=false", "-c",
                           "protocol.ext.allow=never", "clone", "--quiet", "--", uri, dst, NULL};
    const char *checkout[] = {"git", "-c", "advice.detachedHead=false", "checkout", "--quiet",
                              version, "--", NULL};
    const char *submodules[] = {"git", "submodule", "update", "--init", "--recursive",
                                "--quiet", NULL};
    char *output = NULL;
    char msg[512];
    int rc;

    if ((rc = run_tool(clone, NULL, true, &output, err)) != 0) {
        if (rc != 1)
            return rc;
        snprintf(msg, sizeof msg, "git clone of '%.400s' failed", uri);
        return tool_failed(msg, output, err);
    }
    mlflow__free(output);
    output = NULL;
    if (version) {
        if (!*version || *version == '-')
            return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                  "invalid version '%s'", version);
        if ((rc = run_tool(checkout, dst, true, &output, err)) != 0) {
            if (rc != 1)
                return rc;
            snprintf(msg, sizeof msg, "Unable to checkout version '%.200s' of git repo %.200s "
                     "- please ensure that the version exists in the repo", version, uri);
            return tool_failed(msg, output, err);
        }
        mlflow__free(output);
        output = NULL;
    }
    if ((rc = run_tool(submodules, dst, true, &output, err)) != 0) {
        if (rc != 1)
            return rc;
        return tool_failed("git submodule update failed", output, err);
    }
    mlflow__free(output);
    return MLFLOW_OK;
}

static int unzip_to(const char *zip, const char *dst, struct mlflow_error *err)
{
    /* unzip refuses absolute names and strips "../" from member names. */
    const char *argv[] = {"unzip", "-q", "-o", zip, "-d", dst, NULL};
    char *output = NULL;
    int rc;

    if (*zip == '-')
        return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "invalid zip path '%s'", zip);
    if ((rc = run_tool(argv, NULL, true, &output, err)) == 0) {
        mlflow__free(output);
        return MLFLOW_OK;
    }
    if (rc != 1)
        return rc;
    return tool_failed("unzip failed", output, err);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* True when the local path exists (what MLflow's _is_local_uri checks). */
static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static bool is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int mlflow__project_fetch(const char *uri, const char *version, const char *storage_dir,
                          struct mlflow__fetched *f, struct mlflow_error *err)
{
    char *base = NULL, *local = NULL;
    const char *hash, *sub = "";
    size_t start = 0, end = strlen(uri);
    int rc = MLFLOW_OK;

    memset(f, 0, sizeof *f);
    /* MLflow strips quotes a shell left around the URI. */
    while (start < end && (uri[start] == '\'' || uri[start] == '"'))
        start++;
    while (end > start && (uri[end - 1] == '\'' || uri[end - 1] == '"'))
        end--;
    if (!(base = mlflow__strndup(uri + start, end - start)))
        return mlflow__oom(err);
    if ((hash = strchr(base, '#'))) {
        sub = hash + 1;
        base[hash - base] = '\0';
    }
    /* MLflow refuses any '.' here; that also keeps ".." out. An absolute
     * subdirectory would replace the project folder when joined. */
    if (strchr(sub, '.') || *sub == '/') {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "'.' is not allowed in project subdirectory paths, and they must be "
                            "relative: '%s'", sub);
        goto out;
    }
    if (!*base) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "empty project URI");
        goto out;
    }
    local = strncmp(base, "file:", 5) == 0 ? mlflow__local_path_from_uri(base)
                                           : mlflow__strdup(base);
    if (!local) {
        rc = mlflow__oom(err);
        goto out;
    }
    if (exists(local) && ends_with(local, ".zip")) {
        if ((rc = mlflow__project_temp_dir(storage_dir, "mlflow-project", &f->temp_dir, err)) ||
            (rc = unzip_to(local, f->temp_dir, err)))
            goto out;
        f->root = mlflow__strdup(f->temp_dir);
    } else if (exists(local)) {
        if (!is_dir(local)) {
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "project '%s' is neither a directory nor a .zip file", local);
            goto out;
        }
        if (!(f->local_dir = mlflow__abspath(local))) {
            rc = mlflow__oom(err);
            goto out;
        }
        const char *bare_q[] = {"git", "rev-parse", "--is-bare-repository", NULL};
        char *bare = tool_line(bare_q, local);
        bool is_bare = bare && strcmp(bare, "true") == 0;

        mlflow__free(bare);
        if (is_bare) {
            /* A bare repository has no files to run: check one out. */
            if ((rc = mlflow__project_temp_dir(storage_dir, "mlflow-project", &f->temp_dir,
                                               err)) ||
                (rc = git_clone(local, version, f->temp_dir, err)))
                goto out;
            f->root = mlflow__strdup(f->temp_dir);
        } else if (version) {
            struct mlflow__git_info gi;

            mlflow__git_info(local, NULL, &gi);
            bool git = gi.toplevel != NULL;
            mlflow__git_info_free(&gi);
            if (!git) {
                rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                    "Setting a version is only supported for Git project URIs");
                goto out;
            }
            /* Checked out in a clone, so the user's own work tree is left as is. */
            if ((rc = mlflow__project_temp_dir(storage_dir, "mlflow-project", &f->temp_dir, err)) ||
                (rc = git_clone(local, version, f->temp_dir, err)))
                goto out;
            f->root = mlflow__strdup(f->temp_dir);
        } else {
            f->root = mlflow__abspath(local);
        }
    } else {
        if (*base == '-') {
            rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                                "invalid project URI '%s'", base);
            goto out;
        }
        if ((rc = mlflow__project_temp_dir(storage_dir, "mlflow-project", &f->temp_dir, err)) ||
            (rc = git_clone(base, version, f->temp_dir, err)))
            goto out;
        f->root = mlflow__strdup(f->temp_dir);
    }
    if (!f->root) {
        rc = mlflow__oom(err);
        goto out;
    }
    f->work_dir = *sub ? mlflow__path_join(f->root, sub) : mlflow__strdup(f->root);
    if (!f->work_dir) {
        rc = mlflow__oom(err);
        goto out;
    }
    if (!is_dir(f->work_dir))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "Could not find subdirectory %s of %s", sub, f->root);
out:
    mlflow__free(base);
    mlflow__free(local);
    /* A failed clone or unzip leaves nothing behind (symlinks not followed). */
    if (rc && f->temp_dir)
        nftw(f->temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc)
        mlflow__fetched_free(f);
    return rc;
}

void mlflow__fetched_free(struct mlflow__fetched *f)
{
    mlflow__free(f->root);
    mlflow__free(f->work_dir);
    mlflow__free(f->temp_dir);
    mlflow__free(f->local_dir);
    memset(f, 0, sizeof *f);
}
