/*
 * spawn.c - starting helper programs and project commands without a
 * shell: posix_spawnp with an explicit argv, a working directory, and for
 * project commands their own process group so cancel reaches every
 * process they start. Descriptors other than 0-2 are never inherited.
 */
#include "projects/projects.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CAPTURE_MAX (64 * 1024)

int mlflow__spawn_capture(const char *const argv[], const char *cwd, bool with_stderr,
                          struct mlflow__sb *out, int *status, struct mlflow_error *err)
{
    return mlflow__spawn_capture_in(argv, cwd, NULL, with_stderr, out, status, err);
}

int mlflow__spawn_capture_in(const char *const argv[], const char *cwd, const char *stdin_path,
                             bool with_stderr, struct mlflow__sb *out, int *status,
                             struct mlflow_error *err)
{
    posix_spawn_file_actions_t fa;
    int fds[2], e;
    pid_t pid;
    char buf[4096];
    ssize_t n;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return mlflow__seterr_sys(err, errno, "pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (with_stderr)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (e != 0) {
        close(fds[0]);
        return mlflow__seterr_sys(err, e, "cannot run %s", argv[0]);
    }
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (out->len < CAPTURE_MAX)
            mlflow__sb_add(out, buf, (size_t)n);
    }
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return mlflow__seterr_sys(err, errno, "waiting for %s", argv[0]);
    return MLFLOW_OK;
}

/* environ with the `set` entries replacing same-named variables. */
static char **make_env(const char *const *set, size_t n_set)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    if (!(env = mlflow__calloc(n + n_set + 1, sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;

        for (size_t j = 0; j < n_set && !replaced; j++) {
            size_t len = (size_t)(strchr(set[j], '=') - set[j]) + 1;

            replaced = strncmp(environ[i], set[j], len) == 0;
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_set; j++)
        env[k++] = (char *)set[j];
    return env;
}

int mlflow__spawn_group(const char *const argv[], const char *cwd, const char *const *set,
                        size_t n_set, int *pid, struct mlflow_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char **env = make_env(set, n_set);
    pid_t child;
    int e;

    if (!env)
        return mlflow__oom(err);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    /* Only stdin, stdout and stderr, as MLflow's close_fds=True: the
     * program must not inherit our store's open files. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    e = posix_spawnp(&child, argv[0], &fa, &attr, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    mlflow__free(env);
    if (e != 0)
        return mlflow__seterr_sys(err, e, "cannot run %s", argv[0]);
    *pid = child;
    return MLFLOW_OK;
}

bool mlflow__on_path(const char *prog)
{
    const char *path = getenv("PATH");
    bool found = false;

    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path && !found) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        char *dir = mlflow__strndup(path, n);
        char *full = dir ? mlflow__path_join(*dir ? dir : ".", prog) : NULL;
        struct stat st;

        found = full && stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0;
        mlflow__free(full);
        mlflow__free(dir);
        path += n + (colon ? 1 : 0);
    }
    return found;
}
