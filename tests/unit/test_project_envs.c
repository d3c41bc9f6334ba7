/*
 * test_project_envs.c - where a project's command runs, as MLflow 2.12
 * runs it: docker_env projects in `docker run` (the image pulled or built,
 * the tracking store and artifacts mounted, the environment passed), conda
 * envs named by the hash of the conda yaml and reused, remote `path`
 * parameters downloaded under the storage dir, and Ctrl-C during a
 * synchronous run.
 *
 * No Docker engine or conda runs here: each test puts a fake `docker` or
 * `conda` first on PATH, a shell script that records its argv (one line a
 * call, each word in brackets) and answers as the real one would; the
 * fake docker runs the command part of `docker run` on the host. The tests
 * assert the exact argv MLflow would give. Downloads come from real
 * loopback servers: mlflow-c's own tracking server (its artifacts service)
 * and a plain libmicrohttpd one.
 */
#include <mlflow.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http_test.h"
#include "projects/projects.h"
#include "testutil.h"

/* ---- fixture ------------------------------------------------------------- */

struct fx {
    char *dir;       /* scratch: projects, the store, the fakes */
    char uri[800];   /* file store URI */
    char store[700]; /* its path */
    char bin[700];   /* first on PATH */
    char *old_path;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char path[4096];

    assert_non_null(f);
    f->dir = testutil_mkdtemp("mlflow-project-envs");
    assert_non_null(f->dir);
    snprintf(f->store, sizeof f->store, "%s/mlruns", f->dir);
    snprintf(f->uri, sizeof f->uri, "file://%s", f->store);
    snprintf(f->bin, sizeof f->bin, "%s/bin", f->dir);
    mkdir(f->bin, 0755);
    f->old_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    snprintf(path, sizeof path, "%s:%s", f->bin, f->old_path);
    setenv("PATH", path, 1);
    setenv("FAKE_DIR", f->dir, 1);
    unsetenv("MLFLOW_RUN_ID");
    unsetenv("MLFLOW_EXPERIMENT_NAME");
    unsetenv("MLFLOW_EXPERIMENT_ID");
    unsetenv("MLFLOW_CONDA_HOME");
    unsetenv("MLFLOW_CONDA_CREATE_ENV_CMD");
    unsetenv("CONDA_EXE");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    setenv("PATH", f->old_path, 1);
    testutil_rm_rf(f->dir);
    free(f->old_path);
    free(f->dir);
    free(f);
    return 0;
}

/* The whole file (caller frees), or NULL. */
static char *slurp(const char *dir, const char *name)
{
    char path[1024], *buf;
    long n;
    FILE *fp;

    snprintf(path, sizeof path, *name ? "%s/%s" : "%s", dir, name);
    if (!(fp = fopen(path, "r")))
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    return buf;
}

/* dir/name holds exactly the text that fmt makes. */
static void expect_file(const char *dir, const char *name, const char *fmt, ...)
    MLFLOW_PRINTF(3, 4);

static void expect_file(const char *dir, const char *name, const char *fmt, ...)
{
    char want[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    char *got = slurp(dir, name);
    assert_string_equal(got, want);
    free(got);
}

static char *mkdir_in(const struct fx *f, const char *name)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    mkdir(path, 0755);
    return strdup(path);
}

static struct mlflow_run *get_run(const char *uri, const char *run_id)
{
    struct mlflow_client *c = NULL;
    struct mlflow_run *run = NULL;

    assert_int_equal(mlflow_client_open(uri, &c), 0);
    assert_int_equal(mlflow_client_get_run(c, run_id, &run), 0);
    mlflow_client_close(c);
    return run;
}

/* ---- docker -------------------------------------------------------------- */

/* A docker command line that knows the images in $FAKE_DIR/images, pulls
 * and builds by adding to that list (a build's stdin is kept), and runs the
 * command part of `docker run` here with the -e variables set. */
static const char fake_docker[] =
    "#!/bin/sh\n"
    "d=$FAKE_DIR\n"
    "{ printf docker; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; } "
    ">> \"$d/docker.log\"\n"
    "case \"$1\" in\n"
    "info)\n"
    "  if [ -e \"$d/engine-down\" ]; then echo 'Cannot connect to the Docker daemon'; exit 1; fi\n"
    "  echo 'Server Version: fake'; exit 0 ;;\n"
    "pull) echo \"$2\" >> \"$d/images\"; echo \"pulled $2\"; exit 0 ;;\n"
    "image)\n"
    "  ref=$5\n"
    "  grep -qxF \"$ref\" \"$d/images\" 2>/dev/null ||\n"
    "    { echo \"No such image: $ref\" >&2; exit 1; }\n"
    "  case \"$ref\" in *:*) tag=$ref ;; *) tag=$ref:latest ;; esac\n"
    "  echo \"sha256:$(printf %s \"$ref\" | sha1sum | cut -c1-40) $tag\"; exit 0 ;;\n"
    "build) cat > \"$d/context.tar.gz\"; echo \"$4\" >> \"$d/images\"; exit 0 ;;\n"
    "run)\n"
    "  shift\n"
    "  while [ $# -gt 0 ]; do\n"
    "    case \"$1\" in\n"
    "    --rm|-t) shift ;;\n"
    "    -e) export \"$2\"; shift 2 ;;\n"
    "    -v|--gpus) echo \"$2\" >> \"$d/volumes\"; shift 2 ;;\n"
    "    *) break ;;\n"
    "    esac\n"
    "  done\n"
    "  echo \"$1\" > \"$d/ran-image\"; shift\n"
    "  exec \"$@\" ;;\n"
    "esac\n"
    "exit 2\n";

#define DOCKER_MLPROJECT                                                     \
    "name: proj\n"                                                           \
    "docker_env:\n"                                                          \
    "  image: \"myimage:1.0\"\n"                                             \
    "  volumes: [\"/data:/data\"]\n"                                         \
    "  environment: [[\"NEW_VAR\", \"new_value\"], \"HOST_VAR\"]\n"          \
    "entry_points:\n"                                                        \
    "  main:\n"                                                              \
    "    parameters: {alpha: {type: float, default: 0.5}}\n"                 \
    "    command: \"sh -c 'env > env.txt' {alpha}\"\n"

/* The line of `env.txt` for `name`, or NULL. */
static const char *env_line(const char *env, const char *name, char *buf, size_t size)
{
    size_t n = strlen(name);

    for (const char *p = env; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(buf, size, "%.*s", (int)strcspn(p + n + 1, "\n"), p + n + 1);
            return buf;
        }
    return NULL;
}

static void test_docker_run_as_mlflow_runs_it(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "dproj");
    const struct mlflow_kv dargs[] = {{"t", NULL}, {"gpus", "all"}};
    struct mlflow_project_opts o = {.tracking_uri = f->uri, .docker_args = dargs,
                                    .n_docker_args = 2};
    struct mlflow_submitted_run *sr = NULL;
    char expect[8192], art[1024], buf[512], *log, *env;

    testutil_write_file(f->bin, "docker", fake_docker, 0755);
    testutil_write_file(proj, "MLproject", DOCKER_MLPROJECT, 0644);
    setenv("HOST_VAR", "from the host; $(id)", 1);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    const char *id = mlflow_submitted_run_id(sr);
    struct mlflow_run *run = get_run(f->uri, id);

    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.env"), "docker");
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.backend"), "local");
    /* Without --build-image MLflow runs the docker_env image itself. */
    assert_string_equal(mlflow_run_tag(run, "mlflow.docker.image.uri"), "myimage:1.0");
    assert_memory_equal(mlflow_run_tag(run, "mlflow.docker.image.id"), "sha256:", 7);
    assert_int_equal(strlen(mlflow_run_tag(run, "mlflow.docker.image.id")), 47);
    assert_string_equal(mlflow_run_param(run, "alpha"), "0.5");

    /* The engine was asked, the missing image pulled, then looked at again. */
    log = slurp(f->dir, "docker.log");
    assert_non_null(log);
    snprintf(expect, sizeof expect,
             "docker [info]\n"
             "docker [image] [inspect] [--format] [{{.Id}}{{range .RepoTags}} {{.}}{{end}}] "
             "[myimage:1.0]\n"
             "docker [pull] [myimage:1.0]\n"
             "docker [image] [inspect] [--format] [{{.Id}}{{range .RepoTags}} {{.}}{{end}}] "
             "[myimage:1.0]\n"
             "docker [run] [--rm] [-t] [--gpus] [all] [-v] [%s:/mlflow/tmp/mlruns] ",
             f->store);
    assert_memory_equal(log, expect, strlen(expect));

    /* MLflow's command line: -A arguments, the tracking store, the run's
     * artifact folder at its own path, the docker_env volumes, the run's
     * variables (the tracking URI rewritten to the mount), the docker_env
     * environment, the image's first tag, the entry point's command. */
    assert_memory_equal(run->info.artifact_uri, "file://", 7);
    snprintf(art, sizeof art, "%s", run->info.artifact_uri + 7);
    snprintf(expect, sizeof expect,
             "docker run --rm -t --gpus all -v %s:/mlflow/tmp/mlruns -v %s:%s -v /data:/data "
             "-e MLFLOW_RUN_ID=%s -e MLFLOW_TRACKING_URI=file:///mlflow/tmp/mlruns "
             "-e MLFLOW_EXPERIMENT_ID=0 -e NEW_VAR=new_value "
             "-e 'HOST_VAR=from the host; $(id)' myimage:1.0 sh -c 'env > env.txt' 0.5",
             f->store, art, art, id);
    assert_string_equal(mlflow_submitted_run_command(sr), expect);

    /* The "container" got exactly those words and variables. */
    env = slurp(proj, "env.txt");
    assert_non_null(env);
    assert_string_equal(env_line(env, "MLFLOW_TRACKING_URI", buf, sizeof buf),
                        "file:///mlflow/tmp/mlruns");
    assert_string_equal(env_line(env, "MLFLOW_RUN_ID", buf, sizeof buf), id);
    assert_string_equal(env_line(env, "HOST_VAR", buf, sizeof buf), "from the host; $(id)");
    assert_string_equal(env_line(env, "NEW_VAR", buf, sizeof buf), "new_value");
    free(env);
    free(log);
    expect_file(f->dir, "ran-image", "myimage:1.0\n");
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* The image is there now: no second pull. */
    unlink(strcat(strcpy(expect, f->dir), "/docker.log"));
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    log = slurp(f->dir, "docker.log");
    assert_null(strstr(log, "[pull]"));
    free(log);
    mlflow_submitted_run_free(sr);
    unsetenv("HOST_VAR");
    free(proj);
}

static void test_docker_build_image(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "bproj"), *out = mkdir_in(f, "ctx");
    char commit[64] = "", expect[4096], *log, *text;
    struct mlflow_project_opts o = {.tracking_uri = f->uri, .build_image = true};
    struct mlflow_submitted_run *sr = NULL;
    FILE *p;

    testutil_write_file(f->bin, "docker", fake_docker, 0755);
    testutil_write_file(proj, "MLproject",
                        "name: bproj\n"
                        "docker_env: {image: base-image}\n"
                        "entry_points:\n  main: {command: \"true\"}\n", 0644);
    testutil_write_file(proj, "train.sh", "echo train\n", 0644);
    testutil_sh("cd '%s' && git -c init.defaultBranch=main init -q && git add -A && "
                "git -c user.name=t -c user.email=t@example.com commit -qm one", proj);
    snprintf(expect, sizeof expect, "git -C '%s' rev-parse HEAD", proj);
    p = popen(expect, "r");
    assert_non_null(p);
    assert_non_null(fgets(commit, sizeof commit, p));
    pclose(p);

    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    struct mlflow_run *run = get_run(f->uri, mlflow_submitted_run_id(sr));

    /* Tagged "<name>:<7 of the commit>", as MLflow tags the image it builds. */
    snprintf(expect, sizeof expect, "bproj:%.7s", commit);
    assert_string_equal(mlflow_run_tag(run, "mlflow.docker.image.uri"), expect);
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.env"), "docker");
    log = slurp(f->dir, "docker.log");
    snprintf(expect, sizeof expect,
             "docker [info]\n"
             "docker [build] [--force-rm] [-t] [bproj:%.7s] [-f] "
             "[mlflow-project-docker-build-context/Dockerfile.mlflow-autogenerated] [-]\n",
             commit);
    assert_memory_equal(log, expect, strlen(expect));
    snprintf(expect, sizeof expect, " bproj:%.7s true", commit);
    assert_non_null(strstr(mlflow_submitted_run_command(sr), expect));
    free(log);

    /* The context is MLflow's: the project and the generated Dockerfile in
     * mlflow-project-docker-build-context/. */
    testutil_sh("tar -xzf '%s/context.tar.gz' -C '%s'", f->dir, out);
    text = slurp(out, "mlflow-project-docker-build-context/Dockerfile.mlflow-autogenerated");
    assert_non_null(text);
    assert_string_equal(text, "FROM base-image\n"
                              " COPY mlflow-project-docker-build-context/ /mlflow/projects/code/\n"
                              " WORKDIR /mlflow/projects/code/\n");
    free(text);
    expect_file(out, "mlflow-project-docker-build-context/train.sh", "echo train\n");
    text = slurp(out, "mlflow-project-docker-build-context/MLproject");
    assert_non_null(text);
    free(text);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    free(proj);
    free(out);
}

static void test_docker_errors(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "eproj"), flag[1024];
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;

    /* No docker at all (a PATH of nothing but the empty fake folder). */
    testutil_write_file(proj, "MLproject", DOCKER_MLPROJECT, 0644);
    setenv("PATH", f->bin, 1);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "Could not find Docker executable"));
    snprintf(flag, sizeof flag, "%s:%s", f->bin, f->old_path);
    setenv("PATH", flag, 1);

    /* An engine that does not answer: its words are in the error. */
    testutil_write_file(f->bin, "docker", fake_docker, 0755);
    snprintf(flag, sizeof flag, "%s/engine-down", f->dir);
    testutil_write_file(f->dir, "engine-down", "", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "Ran `docker info` to ensure docker daemon is "
                                                "running but it failed with the following "
                                                "output:\nCannot connect to the Docker daemon"));
    unlink(flag);

    /* A host variable the project copies is not set. */
    unsetenv("HOST_VAR");
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(),
                           "This project expects the NEW_VAR, HOST_VAR environment variables to "
                           "be set on the machine running the project, but HOST_VAR was not "
                           "set."));

    /* The image is tagged with the project's name, so it must have one. */
    testutil_write_file(proj, "MLproject", "docker_env: {image: x}\n"
                                           "entry_points:\n  main: {command: \"true\"}\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "Project name in MLProject must be specified"));

    /* docker_env's lists are checked as MLflow checks them. */
    static const char *const bad[] = {
        "name: p\ndocker_env: {image: x, volumes: \"/a:/a\"}\n",
        "name: p\ndocker_env: {image: x, volumes: [[1]]}\n",
        "name: p\ndocker_env: {image: x, environment: [{a: 1}]}\n",
        "name: p\ndocker_env: {image: x, environment: [[\"A=B\", 1]]}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        testutil_write_file(proj, "MLproject", bad[i], 0644);
        assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
        assert_non_null(strstr(mlflow_last_error(), "MLproject:2:"));
    }
    free(proj);
}

/* A sqlite tracking store is mounted too, and named by its container path. */
static void test_docker_sqlite_store(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "sproj"), uri[1024], expect[1024];
    struct mlflow_project_opts o = {.tracking_uri = uri};
    struct mlflow_submitted_run *sr = NULL;

    /* The store's default artifact root is ./mlruns: keep it in the scratch dir. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    snprintf(uri, sizeof uri, "sqlite:///%s/db.sqlite", f->dir);
    testutil_write_file(f->bin, "docker", fake_docker, 0755);
    testutil_write_file(f->dir, "images", "img\n", 0644);
    testutil_write_file(proj, "MLproject", "name: s\ndocker_env: {image: img}\n"
                                           "entry_points:\n  main: {command: \"true\"}\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    snprintf(expect, sizeof expect,
             "docker run --rm -v %s/db.sqlite:/mlflow/tmp/mlruns -v ", f->dir);
    assert_memory_equal(mlflow_submitted_run_command(sr), expect, strlen(expect));
    assert_non_null(strstr(mlflow_submitted_run_command(sr),
                           " -e MLFLOW_TRACKING_URI=sqlite:////mlflow/tmp/mlruns "));
    /* The image's first tag, as docker-py's image.tags[0]. */
    assert_non_null(strstr(mlflow_submitted_run_command(sr), " img:latest true"));
    mlflow_submitted_run_free(sr);
    assert_int_equal(chdir(cwd), 0);
    free(proj);
}

/* ---- conda --------------------------------------------------------------- */

/* conda that keeps its env names in $FAKE_DIR/envs; `env create` fails
 * when $FAKE_DIR/create-fails exists (after registering the env, as a
 * half-made env would be). */
static const char fake_conda[] =
    "#!/bin/sh\n"
    "d=$FAKE_DIR\n"
    "{ printf '%s' \"${0##*/}\"; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; } "
    ">> \"$d/conda.log\"\n"
    "case \"$1 $2\" in\n"
    "'env list')\n"
    "  printf '{\"envs\": [\"/opt/conda\"'\n"
    "  if [ -f \"$d/envs\" ]; then while read -r e; do printf ', \"/opt/conda/envs/%s\"' \"$e\";"
    " done < \"$d/envs\"; fi\n"
    "  echo ']}'; exit 0 ;;\n"
    "'env create')\n"
    "  echo \"$4\" >> \"$d/envs\"\n"
    "  if [ -e \"$d/create-fails\" ]; then echo 'CondaHTTPError: HTTP 000 CONNECTION FAILED'; "
    "exit 1; fi\n"
    "  exit 0 ;;\n"
    "'remove --yes') grep -vxF \"$4\" \"$d/envs\" > \"$d/envs.new\"; mv \"$d/envs.new\" "
    "\"$d/envs\"; exit 0 ;;\n"
    "esac\n"
    "exit 2\n";

#define CONDA_YAML "name: demo\r\ndependencies:\r\n  - python=3.10\r\n"

/* "mlflow-" and the SHA-1 of the conda yaml as Python reads it (text
 * mode: CRLF becomes LF), computed by sha1sum. */
static void expected_env_name(const struct fx *f, char name[64])
{
    char cmd[1024], hex[64] = "";
    FILE *p;

    testutil_write_file(f->dir, "lf.yaml", "name: demo\ndependencies:\n  - python=3.10\n", 0644);
    snprintf(cmd, sizeof cmd, "sha1sum '%s/lf.yaml'", f->dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(hex, sizeof hex, p));
    pclose(p);
    snprintf(name, 64, "mlflow-%.40s", hex);
}

static void test_sha1(void **state)
{
    char hex[41], big[1000];

    (void)state;
    mlflow__sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    mlflow__sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    mlflow__sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    memset(big, 'a', sizeof big);
    mlflow__sha1_hex(big, sizeof big, hex);
    assert_string_equal(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

static void test_conda_with_conda_home(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "cproj"), *home = mkdir_in(f, "conda");
    char name[64], dir[1100], expect[4096], *log;
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;

    snprintf(dir, sizeof dir, "%s/bin", home);
    mkdir(dir, 0755);
    testutil_write_file(dir, "conda", fake_conda, 0755);
    snprintf(dir, sizeof dir, "%s/etc", home);
    mkdir(dir, 0755);
    strcat(dir, "/profile.d");
    mkdir(dir, 0755);
    testutil_write_file(dir, "conda.sh",
                        "conda() { if [ \"$1\" = activate ]; then "
                        "export CONDA_DEFAULT_ENV=\"$2\"; fi; }\n",
                        0644);
    setenv("MLFLOW_CONDA_HOME", home, 1);
    testutil_write_file(proj, "MLproject",
                        "conda_env: conda.yaml\n"
                        "entry_points:\n"
                        "  main: {command: \"echo $CONDA_DEFAULT_ENV > env.txt\"}\n",
                        0644);
    testutil_write_file(proj, "conda.yaml", CONDA_YAML, 0644);
    expected_env_name(f, name);

    /* Without --env-manager a conda project gets its conda env. */
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    snprintf(expect, sizeof expect,
             "source %s/bin/../etc/profile.d/conda.sh && conda activate %s 1>&2 && "
             "echo $CONDA_DEFAULT_ENV > env.txt", home, name);
    assert_string_equal(mlflow_submitted_run_command(sr), expect);
    expect_file(proj, "env.txt", "%s\n", name);
    struct mlflow_run *run = get_run(f->uri, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.env"), "conda");
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* The same file again: the env is reused, not made twice. */
    o.env_manager = "conda";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    mlflow_submitted_run_free(sr);
    log = slurp(f->dir, "conda.log");
    snprintf(expect, sizeof expect,
             "conda [env] [list] [--json]\n"
             "conda [env] [create] [-n] [%s] [--file] [%s/conda.yaml] [--quiet]\n"
             "conda [env] [list] [--json]\n", name, proj);
    assert_string_equal(log, expect);
    free(log);

    /* MLFLOW_CONDA_CREATE_ENV_CMD names the program that creates envs. */
    testutil_write_file(home, "bin/mamba", fake_conda, 0755);
    setenv("MLFLOW_CONDA_CREATE_ENV_CMD", "mamba", 1);
    testutil_write_file(proj, "conda.yaml", "name: other\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    mlflow_submitted_run_free(sr);
    log = slurp(f->dir, "conda.log");
    assert_non_null(strstr(log, "\nmamba [env] [create] [-n] [mlflow-"));
    free(log);

    /* A creation that fails names the reason and leaves no half env. */
    testutil_write_file(f->dir, "create-fails", "", 0644);
    testutil_write_file(proj, "conda.yaml", "name: third\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "conda env create failed: CondaHTTPError"));
    log = slurp(f->dir, "conda.log");
    assert_non_null(strstr(log, "conda [remove] [--yes] [--name] [mlflow-"));
    free(log);
    free(proj);
    free(home);
}

static void test_conda_on_path(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "pproj");
    char name[64], expect[4096];
    struct mlflow_project_opts o = {.tracking_uri = f->uri, .env_manager = "conda"};
    struct mlflow_submitted_run *sr = NULL;

    testutil_write_file(proj, "MLproject",
                        "entry_points:\n  main: {command: \"echo $CONDA_DEFAULT_ENV > env.txt\"}\n",
                        0644);
    testutil_write_file(proj, "conda.yaml", CONDA_YAML, 0644);
    expected_env_name(f, name);

    /* Missing conda is named, and nothing runs in the current env. */
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "'conda' is not on PATH"));

    /* No MLFLOW_CONDA_HOME or CONDA_EXE: MLflow's `source activate NAME`. */
    testutil_write_file(f->bin, "conda", fake_conda, 0755);
    testutil_write_file(f->bin, "activate", "export CONDA_DEFAULT_ENV=\"$1\"\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    snprintf(expect, sizeof expect,
             "source activate %s 1>&2 && echo $CONDA_DEFAULT_ENV > env.txt", name);
    assert_string_equal(mlflow_submitted_run_command(sr), expect);
    expect_file(proj, "env.txt", "%s\n", name);
    mlflow_submitted_run_free(sr);

    /* With CONDA_EXE, the conda.sh of that installation. */
    snprintf(expect, sizeof expect, "%s/conda", f->bin);
    setenv("CONDA_EXE", expect, 1);
    snprintf(expect, sizeof expect, "mkdir -p '%s/etc/profile.d'", f->dir);
    testutil_sh("%s", expect);
    snprintf(expect, sizeof expect, "%s/etc/profile.d", f->dir);
    testutil_write_file(expect, "conda.sh",
                        "conda() {\n"
                        "  if [ \"$1\" = activate ]; then export CONDA_DEFAULT_ENV=\"sh:$2\"; fi\n"
                        "}\n",
                        0644);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    snprintf(expect, sizeof expect,
             "source %s/../etc/profile.d/conda.sh && conda activate %s 1>&2 && "
             "echo $CONDA_DEFAULT_ENV > env.txt", f->bin, name);
    assert_string_equal(mlflow_submitted_run_command(sr), expect);
    expect_file(proj, "env.txt", "sh:%s\n", name);
    mlflow_submitted_run_free(sr);
    unsetenv("CONDA_EXE");

    /* As in MLflow, a project without a conda yaml cannot use conda. */
    snprintf(expect, sizeof expect, "%s/conda.yaml", proj);
    unlink(expect);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "cannot be executed using conda"));
    free(proj);
}

/* ---- remote path parameters ------------------------------------------ */

/* A plain file server: /files/data.csv (its query must be ?v=1). */
static enum MHD_Result serve_plain(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version,
                                   const char *upload, size_t *upload_len, void **ctx)
{
    static const char body[] = "x,y\n1,2\n";
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "v");
    bool ok = strcmp(url, "/files/data.csv") == 0 && v && strcmp(v, "1") == 0;
    struct MHD_Response *r;
    enum MHD_Result rc;

    (void)cls, (void)method, (void)version, (void)upload, (void)upload_len, (void)ctx;
    r = MHD_create_response_from_buffer(ok ? sizeof body - 1 : 9, (void *)(ok ? body : "not found"),
                                        MHD_RESPMEM_PERSISTENT);
    rc = MHD_queue_response(c, ok ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return rc;
}

static void test_remote_path_parameters(void **state)
{
    struct fx *f = *state;
    struct ht_server srv;
    struct MHD_Daemon *plain;
    char *proj = mkdir_in(f, "rproj"), storage[1024], tracking[128], dir[1100];
    char art[256], u_file[512], u_dir[512], u_plain[512], u_proxy[64], *args;
    struct mlflow_submitted_run *sr = NULL;

    assert_int_equal(ht_start(&srv, NULL), 0);
    plain = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve_plain, NULL,
                             MHD_OPTION_END);
    assert_non_null(plain);
    int plain_port = MHD_get_daemon_info(plain, MHD_DAEMON_INFO_BIND_PORT)->port;

    /* Files in the server's artifact store. */
    snprintf(dir, sizeof dir, "%s/data/folder/sub", srv.dest);
    testutil_sh("mkdir -p '%s'", dir);
    testutil_write_file(dir, "b.txt", "bee\n", 0644);
    snprintf(dir, sizeof dir, "%s/data", srv.dest);
    testutil_write_file(dir, "train.csv", "a,b\n1,2\n", 0644);
    snprintf(dir, sizeof dir, "%s/data/folder", srv.dest);
    testutil_write_file(dir, "a.txt", "ay\n", 0644);
    snprintf(tracking, sizeof tracking, "http://127.0.0.1:%d", srv.port);
    snprintf(art, sizeof art, "%s/api/2.0/mlflow-artifacts/artifacts", tracking);
    snprintf(u_file, sizeof u_file, "%s/data/train.csv", art);
    snprintf(u_dir, sizeof u_dir, "%s/data/folder", art);
    snprintf(u_plain, sizeof u_plain, "http://127.0.0.1:%d/files/data.csv?v=1", plain_port);
    snprintf(u_proxy, sizeof u_proxy, "mlflow-artifacts:/data/train.csv");
    snprintf(storage, sizeof storage, "%s/storage", f->dir);

    testutil_write_file(proj, "MLproject",
                        "entry_points:\n  main:\n"
                        "    parameters:\n"
                        "      file: path\n      folder: path\n      plain: path\n"
                        "      proxied: path\n      link: uri\n"
                        "    command: \"printf '%s\\\\n' {file} {folder} {plain} {proxied} {link} "
                        "> args.txt\"\n",
                        0644);
    const struct mlflow_kv kv[] = {{"file", u_file}, {"folder", u_dir}, {"plain", u_plain},
                                   {"proxied", u_proxy}, {"link", u_file}};
    struct mlflow_project_opts o = {.tracking_uri = tracking, .storage_dir = storage,
                                    .parameters = kv, .n_parameters = 5};

    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    args = slurp(proj, "args.txt");
    assert_non_null(args);
    /* Each download is in <storage>/<run folder>/param_<position>/. */
    char *line[5], *save = NULL;
    line[0] = strtok_r(args, "\n", &save);
    for (int i = 1; i < 5; i++)
        line[i] = strtok_r(NULL, "\n", &save);
    for (int i = 0; i < 4; i++) {
        char want[64];

        assert_non_null(line[i]);
        assert_memory_equal(line[i], storage, strlen(storage));
        snprintf(want, sizeof want, "/param_%d/", i);
        assert_non_null(strstr(line[i], want));
    }
    expect_file(line[0], "", "a,b\n1,2\n");
    expect_file(line[1], "a.txt", "ay\n");
    expect_file(line[1], "sub/b.txt", "bee\n");
    assert_non_null(strstr(line[2], "/param_2/data.csv"));
    expect_file(line[2], "", "x,y\n1,2\n");
    expect_file(line[3], "", "a,b\n1,2\n");
    /* A uri parameter is passed as given. */
    assert_string_equal(line[4], u_file);

    /* The params logged are the URIs given, not the local copies. */
    struct mlflow_run *run = get_run(tracking, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_param(run, "file"), u_file);
    assert_string_equal(mlflow_run_param(run, "proxied"), u_proxy);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    free(args);

    /* A missing file fails before any run exists, naming the URI. */
    snprintf(u_plain, sizeof u_plain, "http://127.0.0.1:%d/files/nope.csv", plain_port);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_ENDPOINT_NOT_FOUND);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "cannot download 'http://127.0.0.1:"));
    /* A scheme with no repository in this build is named. */
    snprintf(u_plain, sizeof u_plain, "gs://bucket/data.csv");
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_NOT_IMPLEMENTED);
    assert_non_null(strstr(mlflow_last_error(), "'gs'"));
    /* A last segment of ".." would leave the download folder: refused. */
    snprintf(u_plain, sizeof u_plain, "%s/data/..", art);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);

    MHD_stop_daemon(plain);
    ht_stop(&srv);
    free(proj);
}

/* ---- Ctrl-C during a synchronous run ------------------------------------ */

static volatile sig_atomic_t caller_saw_sigint;

static void caller_handler(int sig)
{
    (void)sig;
    caller_saw_sigint = 1;
}

/* Sends SIGINT to the process once the program has written its pid. */
static void *interrupter(void *arg)
{
    const char *pidfile = arg;

    for (int i = 0; i < 500 && access(pidfile, F_OK) != 0; i++)
        usleep(20000);
    usleep(100000);
    kill(getpid(), SIGINT);
    return NULL;
}

/* The process ended (a zombie waiting for its reaper counts as ended). */
static bool gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        char path[64], stat[256] = "";
        FILE *fp;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (!(fp = fopen(path, "r")))
            return true;
        if (!fgets(stat, sizeof stat, fp))
            stat[0] = '\0';
        fclose(fp);
        const char *paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            return true;
        usleep(20000);
    }
    return false;
}

static void test_sigint_cancels_a_synchronous_run(void **state)
{
    struct fx *f = *state;
    char *proj = mkdir_in(f, "iproj"), pidfile[1100], *pidtext;
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    struct sigaction sa, old;
    pthread_t t;
    time_t t0 = time(NULL);

    /* The sleep is a grandchild of ours: cancel must reach its group. */
    testutil_write_file(proj, "MLproject",
                        "entry_points:\n  main:\n"
                        "    command: \"sleep 30 & echo $! > sleep.pid; wait; touch late.txt\"\n",
                        0644);
    snprintf(pidfile, sizeof pidfile, "%s/sleep.pid", proj);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = caller_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    caller_saw_sigint = 0;
    assert_int_equal(pthread_create(&t, NULL, interrupter, pidfile), 0);

    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_CANCELLED);
    pthread_join(t, NULL);
    assert_true(time(NULL) - t0 < 15);
    assert_non_null(strstr(mlflow_last_error(), "interrupted"));
    /* The caller's handler is back and got the signal after the cancel. */
    assert_true(caller_saw_sigint);
    struct sigaction now;
    sigaction(SIGINT, NULL, &now);
    assert_ptr_equal(now.sa_handler, caller_handler);
    sigaction(SIGINT, &old, NULL);

    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_KILLED);
    struct mlflow_run *run = get_run(f->uri, mlflow_submitted_run_id(sr));
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_KILLED);
    mlflow_run_free(run);
    pidtext = slurp(proj, "sleep.pid");
    assert_non_null(pidtext);
    assert_true(gone((pid_t)atoi(pidtext)));
    free(pidtext);
    assert_null(slurp(proj, "late.txt"));
    mlflow_submitted_run_free(sr);

    /* A program that ignores SIGINT keeps ignoring it. */
    signal(SIGINT, SIG_IGN);
    testutil_write_file(proj, "MLproject", "entry_points:\n  main: {command: \"true\"}\n", 0644);
    assert_int_equal(mlflow_run_project(proj, &o, NULL), 0);
    sigaction(SIGINT, NULL, &now);
    assert_ptr_equal(now.sa_handler, SIG_IGN);
    sigaction(SIGINT, &old, NULL);
    free(proj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_docker_run_as_mlflow_runs_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_build_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_sqlite_store, setup, teardown),
        cmocka_unit_test(test_sha1),
        cmocka_unit_test_setup_teardown(test_conda_with_conda_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conda_on_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_path_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_cancels_a_synchronous_run, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
