/*
 * conda.c - the conda env manager as MLflow 2.12 runs it (mlflow/utils/
 * conda.py): the env is named "mlflow-<sha1 of the conda yaml's text>", so
 * an unchanged file reuses the env `conda env list --json` already shows;
 * otherwise `conda env create -n NAME --file FILE --quiet` makes it, and a
 * failed creation leaves nothing behind (`conda remove --all`). The command
 * then runs after MLflow's activation:
 *   with $CONDA_EXE or $MLFLOW_CONDA_HOME set:
 *     source <conda's bin>/../etc/profile.d/conda.sh && conda activate NAME 1>&2
 *   otherwise:
 *     source activate NAME 1>&2
 * $MLFLOW_CONDA_HOME/bin holds conda (else $CONDA_EXE's folder, else PATH);
 * $MLFLOW_CONDA_CREATE_ENV_CMD names another program there (mamba, say)
 * for the creation. Programs run with posix_spawnp and a fixed argv.
 */
#include "projects/projects.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- SHA-1 (FIPS 180-4), for MLflow's env names ---------------------- */

struct sha1 {
    uint32_t h[5];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
};

static uint32_t rol(uint32_t x, int s)
{
    return (x << s) | (x >> (32 - s));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;

        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};

    memset(s, 0, sizeof *s);
    memcpy(s->h, iv, sizeof iv);
}

static void sha1_add(struct sha1 *s, const void *data, size_t n)
{
    const unsigned char *p = data;

    s->bytes += n;
    while (n) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;

        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            sha1_block(s->h, s->block);
            s->fill = 0;
        }
    }
}

static void sha1_hex(struct sha1 *s, char hex[41])
{
    uint64_t bits = s->bytes * 8;
    unsigned char pad = 0x80, len[8];

    sha1_add(s, &pad, 1);
    pad = 0;
    while (s->fill != 56)
        sha1_add(s, &pad, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_add(s, len, 8);
    for (int i = 0; i < 20; i++)
        sprintf(hex + 2 * i, "%02x", (unsigned)(s->h[i / 4] >> (24 - 8 * (i % 4))) & 0xff);
}

void mlflow__sha1_hex(const void *data, size_t n, char hex[41])
{
    struct sha1 s;

    sha1_init(&s);
    sha1_add(&s, data, n);
    sha1_hex(&s, hex);
}

/* MLflow hashes the file as Python's text mode reads it: "\r\n" and a
 * lone "\r" become "\n". */
static int env_name(const char *path, char name[48], struct mlflow_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char buf[8192], out[8192];
    bool cr = false;
    struct sha1 s;
    char hex[41];
    ssize_t n;

    if (fd < 0)
        return mlflow__seterr_sys(err, errno, "cannot read '%s'", path);
    sha1_init(&s);
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        size_t k = 0;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return mlflow__seterr_sys(err, errno, "cannot read '%s'", path);
        }
        for (ssize_t i = 0; i < n; i++) {
            if (cr && buf[i] == '\n') {
                cr = false;
                continue;
            }
            cr = buf[i] == '\r';
            out[k++] = cr ? '\n' : buf[i];
        }
        sha1_add(&s, out, k);
    }
    close(fd);
    sha1_hex(&s, hex);
    snprintf(name, 48, "mlflow-%s", hex);
    return MLFLOW_OK;
}

/* ---- finding conda --------------------------------------------------- */

/* MLflow's get_conda_bin_executable: $MLFLOW_CONDA_HOME/bin/<exe>, else
 * beside $CONDA_EXE, else the bare name (found on PATH). */
static char *conda_bin(const char *exe)
{
    const char *home = getenv("MLFLOW_CONDA_HOME"), *conda_exe = getenv("CONDA_EXE");
    struct mlflow__sb sb = MLFLOW__SB_INIT;

    if (home && *home) {
        char *p = mlflow__path_join(home, "bin");
        char *full = p ? mlflow__path_join(p, exe) : NULL;

        mlflow__free(p);
        return full;
    }
    if (conda_exe && *conda_exe) {
        const char *slash = strrchr(conda_exe, '/');

        if (slash)
            mlflow__sb_add(&sb, conda_exe, (size_t)(slash - conda_exe + 1));
        mlflow__sb_adds(&sb, exe);
        return mlflow__sb_detach(&sb);
    }
    return mlflow__strdup(exe);
}

static bool runnable(const char *prog)
{
    struct stat st;

    if (!strchr(prog, '/'))
        return mlflow__on_path(prog);
    return stat(prog, &st) == 0 && S_ISREG(st.st_mode) && access(prog, X_OK) == 0;
}

/* Runs argv; 0 when it exited 0, else an error quoting the end of its
 * output (stdout, and stderr too when with_stderr). */
static int run(const char *const argv[], const char *what, bool with_stderr,
               struct mlflow__sb *out, struct mlflow_error *err)
{
    int status, rc = mlflow__spawn_capture(argv, NULL, with_stderr, out, &status, err);
    size_t n;

    if (rc || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return rc;
    n = out->len;
    while (n && (out->buf[n - 1] == '\n' || out->buf[n - 1] == ' '))
        n--;
    return mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE, "%s failed%s%.*s", what,
                          n ? ": " : "", (int)(n > 600 ? 600 : n),
                          n > 600 ? out->buf + n - 600 : (out->buf ? out->buf : ""));
}

/* Whether `conda env list --json` shows an env named `name`. */
static int env_exists(const char *conda, const char *name, bool *found, struct mlflow_error *err)
{
    const char *argv[] = {conda, "env", "list", "--json", NULL};
    struct mlflow__sb out = MLFLOW__SB_INIT;
    json_object *j = NULL, *envs;
    int rc = run(argv, "conda env list --json", false, &out, err);

    *found = false;
    if (!rc && !(j = json_tokener_parse(out.buf ? out.buf : "")))
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "conda env list --json did not print JSON: '%.200s'",
                            out.buf ? out.buf : "");
    if (!rc && json_object_object_get_ex(j, "envs", &envs) &&
        json_object_is_type(envs, json_type_array))
        for (size_t i = 0; i < json_object_array_length(envs) && !*found; i++) {
            const char *p = json_object_get_string(json_object_array_get_idx(envs, i));
            const char *base = p ? strrchr(p, '/') : NULL;

            *found = p && strcmp(base ? base + 1 : p, name) == 0;
        }
    json_object_put(j);
    mlflow__sb_release(&out);
    return rc;
}

static int create_env(const char *conda, const char *creator, const char *name,
                      const char *env_file, struct mlflow_error *err)
{
    const char *argv[] = {creator, "env", "create", "-n", name, "--file", env_file, "--quiet",
                          NULL};
    const char *remove[] = {conda, "remove", "--yes", "--name", name, "--all", NULL};
    struct mlflow__sb out = MLFLOW__SB_INIT;
    struct mlflow_error ignored = {0};
    bool found = false;
    int rc = run(argv, "conda env create", true, &out, err);

    mlflow__sb_release(&out);
    if (rc && env_exists(conda, name, &found, &ignored) == MLFLOW_OK && found) {
        /* Half an env would be reused next time as if it were whole. */
        run(remove, "conda remove", true, &out, &ignored);
        mlflow__sb_release(&out);
    }
    return rc;
}

/* MLflow's get_conda_command, joined with " && ". */
static char *activation(const char *conda, const char *name)
{
    const char *home = getenv("MLFLOW_CONDA_HOME");
    struct mlflow__sb sb = MLFLOW__SB_INIT;

    if (getenv("CONDA_EXE") || home) {
        const char *slash = strrchr(conda, '/');
        struct mlflow__sb script = MLFLOW__SB_INIT;

        if (slash)
            mlflow__sb_add(&script, conda, (size_t)(slash - conda));
        mlflow__sb_adds(&script, "/../etc/profile.d/conda.sh");
        mlflow__sb_adds(&sb, "source ");
        if (script.buf)
            mlflow__shell_quote(&sb, script.buf);
        mlflow__sb_release(&script);
        mlflow__sb_addf(&sb, " && conda activate %s 1>&2", name);
    } else {
        char *activate = conda_bin("activate");

        mlflow__sb_adds(&sb, "source ");
        if (activate)
            mlflow__shell_quote(&sb, activate);
        mlflow__sb_addf(&sb, " %s 1>&2", name);
        if (!activate)
            sb.oom = true;
        mlflow__free(activate);
    }
    if (sb.oom) {
        mlflow__sb_release(&sb);
        return NULL;
    }
    return mlflow__sb_detach(&sb);
}

int mlflow__conda_env(const char *env_file, struct mlflow__run_env *env,
                      struct mlflow_error *err)
{
    const char *create_cmd = getenv("MLFLOW_CONDA_CREATE_ENV_CMD");
    char *conda = conda_bin("conda");
    char *creator = conda_bin(create_cmd && *create_cmd ? create_cmd : "conda");
    char name[48];
    bool found;
    int rc;

    if (!conda || !creator) {
        rc = mlflow__oom(err);
        goto out;
    }
    if (!runnable(conda)) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "env manager 'conda' needs the conda program, but '%s' %s. Install "
                            "conda, or set MLFLOW_CONDA_HOME to the conda installation that "
                            "holds bin/conda (or use --env-manager local to run in the current "
                            "environment)", conda,
                            strchr(conda, '/') ? "is not an executable file" : "is not on PATH");
        goto out;
    }
    if (!runnable(creator)) {
        rc = mlflow__seterr(err, MLFLOW_INVALID_PARAMETER_VALUE,
                            "MLFLOW_CONDA_CREATE_ENV_CMD is set, but '%s' %s; it must be in the "
                            "same conda installation as conda", creator,
                            strchr(creator, '/') ? "is not an executable file" : "is not on PATH");
        goto out;
    }
    if ((rc = env_name(env_file, name, err)) || (rc = env_exists(conda, name, &found, err)))
        goto out;
    if (!found && (rc = create_env(conda, creator, name, env_file, err)))
        goto out;
    if (!(env->prefix = activation(conda, name)))
        rc = mlflow__oom(err);
    env->tag = "conda";
out:
    mlflow__free(conda);
    mlflow__free(creator);
    return rc;
}
