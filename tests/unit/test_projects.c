/*
 * test_projects.c - MLflow Projects as a user relies on them: MLproject
 * errors that name the line and key, the command line MLflow would build
 * (quoting hostile values so they arrive literally), and real runs into a
 * temporary file store from folders, git repositories (branches, tags,
 * subdirectories) and zip archives, with their final status, params and
 * tags, plus asynchronous cancel.
 *
 * The test program doubles as the "training program" some projects run:
 * started as `test_projects --child ...` it logs through the fluent API,
 * which resumes the run from MLFLOW_RUN_ID.
 */
#include <mlflow.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "projects/projects.h"
#include "testutil.h"

static char self_exe[PATH_MAX];

/* ---- helpers ------------------------------------------------------------- */

struct fx {
    char *dir;     /* scratch: projects and the store */
    char uri[700]; /* file store URI */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->dir = testutil_mkdtemp("mlflow-projects");
    assert_non_null(f->dir);
    snprintf(f->uri, sizeof f->uri, "file://%s/mlruns", f->dir);
    unsetenv("MLFLOW_RUN_ID");
    unsetenv("MLFLOW_EXPERIMENT_NAME");
    unsetenv("MLFLOW_EXPERIMENT_ID");
    setenv("SHELL", "/bin/bash", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    testutil_rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *read_text(const char *dir, const char *name)
{
    static char buf[4096];
    char path[1024];
    size_t n;
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "r");
    if (!fp)
        return NULL;
    n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static char *subdir(const struct fx *f, const char *name)
{
    static char path[1024];

    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    mkdir(path, 0755);
    return path;
}

/* Parses `yaml` and returns the error message ("" when it parsed). */
static const char *parse_error(const char *yaml, const char *dir)
{
    static struct mlflow_error err;
    struct mlflow__project *p = NULL;

    memset(&err, 0, sizeof err);
    if (mlflow__project_parse(yaml, strlen(yaml), "MLproject", dir, &p, &err) == MLFLOW_OK) {
        mlflow__obj_free(p);
        return "";
    }
    assert_int_not_equal(err.code, 0);
    return err.message;
}

/* The command entry `entry` of `yaml` builds for the parameters; NULL with
 * *msg set on error. Caller frees. */
static char *command_for(const char *yaml, const char *entry, const struct mlflow_kv *kv,
                         size_t n, const char **msg)
{
    static struct mlflow_error err;
    struct mlflow__project *p = NULL;
    struct mlflow__project_cmd *cmd = NULL;
    char *out = NULL;

    memset(&err, 0, sizeof err);
    assert_int_equal(mlflow__project_parse(yaml, strlen(yaml), "MLproject", NULL, &p, &err), 0);
    if (mlflow__project_command(p, entry, kv, n, NULL, &cmd, &err) == MLFLOW_OK) {
        out = strdup(cmd->command);
        mlflow__obj_free(cmd);
    }
    *msg = err.message;
    mlflow__obj_free(p);
    return out;
}

static struct mlflow_run *get_run(const struct fx *f, const char *run_id)
{
    struct mlflow_client *c = NULL;
    struct mlflow_run *run = NULL;

    assert_int_equal(mlflow_client_open(f->uri, &c), 0);
    assert_int_equal(mlflow_client_get_run(c, run_id, &run), 0);
    mlflow_client_close(c);
    return run;
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_errors_name_line_and_key(void **state)
{
    struct fx *f = *state;
    const char *m;

    m = parse_error("name: x\nentry_points:\n  main:\n    parameters:\n      alpha: int\n"
                    "    command: go\n", NULL);
    assert_non_null(strstr(m, "MLproject:5:"));
    assert_non_null(strstr(m, "'alpha'"));
    assert_non_null(strstr(m, "unknown type 'int'"));

    m = parse_error("entry_points:\n  main:\n    parameters: {a: string}\n", NULL);
    assert_non_null(strstr(m, "MLproject:2:"));
    assert_non_null(strstr(m, "entry point 'main': missing key 'command'"));

    m = parse_error("conda_env: conda.yaml\ndocker_env: {image: x}\n", NULL);
    assert_non_null(strstr(m, "MLproject:2:"));
    assert_non_null(strstr(m, "'conda_env' and 'docker_env'"));

    m = parse_error("python_env: python_env.yaml\n", f->dir);
    assert_non_null(strstr(m, "MLproject:1:"));
    assert_non_null(strstr(m, "'python_env.yaml' does not exist"));
    testutil_write_file(f->dir, "python_env.yaml", "python: 3.11\n", 0);
    assert_string_equal(parse_error("python_env: python_env.yaml\n", f->dir), "");

    m = parse_error("entry_points:\n  main:\n    command: [a, b]\n", NULL);
    assert_non_null(strstr(m, "MLproject:3:"));
    assert_non_null(strstr(m, "'command' must be a string"));

    m = parse_error("entry_points:\n  main: {command: x\n", NULL);
    assert_non_null(strstr(m, "line"));

    m = parse_error("docker_env: {volumes: [a]}\n", NULL);
    assert_non_null(strstr(m, "'image'"));

    /* No file, and an empty file, are empty projects. */
    assert_string_equal(parse_error("", NULL), "");
}

static void test_parse_refuses_huge_and_deep_input(void **state)
{
    (void)state;
    size_t n = MLFLOW__MLPROJECT_MAX_BYTES + 10;
    char *big = malloc(n + 1);
    struct mlflow__sb bomb = MLFLOW__SB_INIT;

    assert_non_null(big);
    memset(big, '#', n);
    big[n] = '\0';
    assert_non_null(strstr(parse_error(big, NULL), "larger than"));
    free(big);

    /* Nesting far beyond anything real is refused, not recursed into. */
    for (int i = 0; i < 100000; i++)
        mlflow__sb_addc(&bomb, '[');
    assert_string_not_equal(parse_error(bomb.buf, NULL), "");
    mlflow__sb_release(&bomb);

    /* A billion-laughs document: aliases are shared nodes, never expanded. */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "name: *d\n"
                         "entry_points: {main: {command: go, parameters: {p: *d}}}\n";
    assert_string_not_equal(parse_error(laughs, NULL), "");
}

/* ---- the command line ---------------------------------------------------- */

static void test_command_matches_mlflow_docs_style(void **state)
{
    (void)state;
    const char *yaml = "name: tutorial\n"
                       "entry_points:\n"
                       "  main:\n"
                       "    parameters:\n"
                       "      alpha: {type: float, default: 0.5}\n"
                       "      l1_ratio: {type: float, default: 0.1}\n"
                       "      lr: {type: float, default: 1.0e-3}\n"
                       "      n: {type: string, default: 0x1F}\n"
                       "      flag: {type: string, default: yes}\n"
                       "      exp: {type: string, default: 1e-3}\n"
                       "    command: \"python train.py {alpha} {l1_ratio} {lr} {n} {flag} {exp}"
                       " {{literal}}\"\n";
    const struct mlflow_kv kv[] = {{"alpha", "0.42"}, {"extra", "x y"}, {"k2", "v"}};
    const char *msg;
    char *cmd = command_for(yaml, "main", kv, 3, &msg);

    assert_non_null(cmd);
    /* Defaults are str() of what PyYAML made of them. */
    assert_string_equal(cmd, "python train.py 0.42 0.1 0.001 31 True 1e-3 {literal}"
                             " --extra 'x y' --k2 v");
    free(cmd);
}

static void test_hostile_values_are_quoted(void **state)
{
    (void)state;
    const char *yaml = "entry_points:\n  main:\n    parameters: {v: string}\n"
                       "    command: \"echo {v}\"\n";
    static const struct {
        const char *value, *quoted;
    } cases[] = {
        {"; rm -rf /", "'; rm -rf /'"},
        {"$(touch pwned)", "'$(touch pwned)'"},
        {"`id`", "'`id`'"},
        {"it's", "'it'\"'\"'s'"},
        {"a\nb", "'a\nb'"},
        {"", "''"},
        {"plain-1.0/x:y@z%+=,", "plain-1.0/x:y@z%+=,"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct mlflow_kv kv = {"v", cases[i].value};
        char expect[128];
        const char *msg;
        char *cmd = command_for(yaml, "main", &kv, 1, &msg);

        assert_non_null(cmd);
        snprintf(expect, sizeof expect, "echo %s", cases[i].quoted);
        assert_string_equal(cmd, expect);
        free(cmd);
    }
}

static void test_parameter_checks(void **state)
{
    struct fx *f = *state;
    const char *yaml = "entry_points:\n  main:\n    parameters:\n"
                       "      a: float\n      b: string\n"
                       "      c: {type: uri, default: 's3://b/k'}\n"
                       "      d: {type: path, default: .}\n"
                       "    command: \"run {a} {b} {c} {d}\"\n";
    const char *msg;
    char *cmd, expect[1200], cwd[PATH_MAX];

    /* Every missing parameter is named at once. */
    assert_null(command_for(yaml, "main", NULL, 0, &msg));
    assert_string_equal(msg, "No value given for missing parameters: 'a', 'b'");

    const struct mlflow_kv notnum[] = {{"a", "abc"}, {"b", "x"}};
    assert_null(command_for(yaml, "main", notnum, 2, &msg));
    assert_non_null(strstr(msg, "'a' is a float, but 'abc' is not a number"));

    const struct mlflow_kv nouri[] = {{"a", "1"}, {"b", "x"}, {"c", "no-scheme"}};
    assert_null(command_for(yaml, "main", nouri, 3, &msg));
    assert_non_null(strstr(msg, "Expected URI for parameter c but got no-scheme"));

    const struct mlflow_kv nopath[] = {{"a", "1"}, {"b", "x"}, {"d", "/no/such/file"}};
    assert_null(command_for(yaml, "main", nopath, 3, &msg));
    assert_non_null(strstr(msg, "no such file or directory"));

    /* path values become absolute. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    mkdir("data dir", 0755);
    const struct mlflow_kv ok[] = {{"a", "1e-3"}, {"b", "x"}, {"d", "data dir"}};
    cmd = command_for(yaml, "main", ok, 3, &msg);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(cmd);
    snprintf(expect, sizeof expect, "run 1e-3 x s3://b/k '%s/data dir'", f->dir);
    assert_string_equal(cmd, expect);
    free(cmd);

    /* Undeclared names go into the command unquoted, so they must be plain. */
    const struct mlflow_kv badname[] = {{"a", "1"}, {"b", "x"}, {"x;id", "1"}};
    assert_null(command_for(yaml, "main", badname, 3, &msg));
    assert_non_null(strstr(msg, "'x;id' is not declared"));
}

static void test_script_entry_points(void **state)
{
    (void)state;
    const char *yaml = "entry_points:\n  main: {command: go}\n";
    const struct mlflow_kv kv = {"lr", "0.1"};
    const char *msg;
    char *cmd;

    cmd = command_for(yaml, "my script.sh", &kv, 1, &msg);
    assert_string_equal(cmd, "/bin/bash 'my script.sh' --lr 0.1");
    free(cmd);
    cmd = command_for(yaml, "train.py", NULL, 0, &msg);
    assert_string_equal(cmd, "python train.py");
    free(cmd);
    assert_null(command_for(yaml, "nope", NULL, 0, &msg));
    assert_non_null(strstr(msg, "Could not find nope among entry points ['main']"));
}

/* ---- runs ---------------------------------------------------------------- */

static const char *const SHOW_MLPROJECT =
    "name: show\n"
    "entry_points:\n"
    "  main:\n"
    "    parameters:\n"
    "      v: string\n"
    "      alpha: {type: float, default: 0.5}\n"
    "    command: \"printf '%s|%s|%s|%s' {v} {alpha} \\\"$MLFLOW_RUN_ID\\\" "
    "\\\"$MLFLOW_EXPERIMENT_ID\\\" > out.txt\"\n"
    "  fail:\n"
    "    command: \"exit 7\"\n";

static void test_local_run_end_to_end(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    const char *hostile = "it's; rm -rf / $(touch pwned) `id` \"q\"\nline2";
    const struct mlflow_kv kv[] = {{"v", hostile}, {"extra", "1"}};
    struct mlflow_project_opts o = {.parameters = kv, .n_parameters = 2,
                                    .experiment_name = "proj-exp", .run_name = "my-run",
                                    .tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    char expect[1024], pwned[1024];

    testutil_write_file(proj, "MLproject", SHOW_MLPROJECT, 0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    assert_non_null(sr);
    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_FINISHED);

    struct mlflow_run *run = get_run(f, mlflow_submitted_run_id(sr));
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FINISHED);
    assert_string_equal(run->info.run_name, "my-run");
    /* Logged shell-quoted, as MLflow logs it. */
    struct mlflow__sb q = MLFLOW__SB_INIT;
    mlflow__shell_quote(&q, hostile);
    assert_string_equal(mlflow_run_param(run, "v"), q.buf);
    mlflow__sb_release(&q);
    assert_string_equal(mlflow_submitted_run_command(sr),
                        "printf '%s|%s|%s|%s' 'it'\"'\"'s; rm -rf / $(touch pwned) `id` \"q\"\n"
                        "line2' 0.5 \"$MLFLOW_RUN_ID\" \"$MLFLOW_EXPERIMENT_ID\" > out.txt"
                        " --extra 1");
    assert_string_equal(mlflow_run_param(run, "alpha"), "0.5");
    assert_string_equal(mlflow_run_param(run, "extra"), "1");
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.type"), "PROJECT");
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.entryPoint"), "main");
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.backend"), "local");
    assert_null(mlflow_run_tag(run, "mlflow.project.env"));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.name"), proj);
    assert_null(mlflow_run_tag(run, "mlflow.source.git.commit"));

    /* The program saw the value literally, and its run and experiment
     * (printf's format then repeats for the appended "--extra 1"). */
    snprintf(expect, sizeof expect, "%s|0.5|%s|%s--extra|1||", hostile, run->info.run_id,
             run->info.experiment_id);
    assert_string_equal(read_text(proj, "out.txt"), expect);
    snprintf(pwned, sizeof pwned, "%s/pwned", proj);
    assert_int_not_equal(access(pwned, F_OK), 0);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    free(proj);
}

static void test_failing_command_marks_run_failed(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    struct mlflow_project_opts o = {.entry_point = "fail", .tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;

    testutil_write_file(proj, "MLproject", SHOW_MLPROJECT, 0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INTERNAL_ERROR);
    assert_non_null(strstr(mlflow_last_error(), "failed"));
    assert_non_null(sr);
    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_FAILED);
    struct mlflow_run *run = get_run(f, mlflow_submitted_run_id(sr));
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_FAILED);
    assert_int_not_equal(run->info.end_time, MLFLOW_TIME_UNSET);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* Bad parameters fail before any run exists. */
    o.entry_point = NULL;
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "'v'"));
    free(proj);
}

static void test_child_logs_into_the_run_and_keeps_its_status(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    char yaml[PATH_MAX + 200];
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    const struct mlflow_kv kv = {"loss", "0.25"};

    snprintf(yaml, sizeof yaml,
             "entry_points:\n  main:\n    parameters: {loss: float}\n"
             "    command: \"'%s' --child {loss}\"\n", self_exe);
    testutil_write_file(proj, "MLproject", yaml, 0);
    o.parameters = &kv;
    o.n_parameters = 1;
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    struct mlflow_run *run = get_run(f, mlflow_submitted_run_id(sr));
    const struct mlflow_metric *m = mlflow_run_metric(run, "loss");
    assert_non_null(m);
    assert_true(m->value == 0.25);
    /* The child ended the run KILLED and exited 0: its word stands. */
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_KILLED);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    free(proj);
}

static void test_async_cancel_kills_the_process_group(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    struct mlflow_project_opts o = {.asynchronous = true, .tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    struct timespec t0, t1;
    bool ok = true;

    /* The sleep is a grandchild: cancel must reach the whole group. */
    testutil_write_file(proj, "MLproject",
                        "entry_points:\n  main:\n    command: \"sleep 30; touch late.txt\"\n", 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_RUNNING);
    struct mlflow_run *run = get_run(f, mlflow_submitted_run_id(sr));
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_RUNNING);
    mlflow_run_free(run);

    assert_int_equal(mlflow_submitted_run_cancel(sr), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_KILLED);
    assert_int_equal(mlflow_submitted_run_wait(sr, &ok), 0);
    assert_false(ok);
    run = get_run(f, mlflow_submitted_run_id(sr));
    assert_int_equal(run->info.status, MLFLOW_RUN_STATUS_KILLED);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    free(proj);
}

static void test_async_wait_reports_success(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    struct mlflow_project_opts o = {.asynchronous = true, .tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    bool ok = false;

    testutil_write_file(proj, "MLproject", "entry_points:\n  main:\n    command: \"sleep 0.2\"\n",
                        0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    assert_int_equal(mlflow_submitted_run_wait(sr, &ok), 0);
    assert_true(ok);
    assert_int_equal(mlflow_submitted_run_status(sr), MLFLOW_RUN_STATUS_FINISHED);
    mlflow_submitted_run_free(sr);
    free(proj);
}

#define GIT "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main " \
            "-c advice.detachedHead=false"

static void test_git_versions_and_subdirectory(void **state)
{
    struct fx *f = *state;
    char repo[1024], uri[1100], commit_v1[64], *s;
    const struct mlflow_kv kv = {"out", ""};
    struct mlflow_project_opts o = {.tracking_uri = f->uri, .parameters = &kv,
                                    .n_parameters = 1};
    char storage[1100];

    /* Clones go under the scratch dir, which teardown removes. */
    snprintf(storage, sizeof storage, "%s/storage", f->dir);
    o.storage_dir = storage;
    struct mlflow_submitted_run *sr = NULL;
    struct mlflow_run *run;
    char out[1100];

    snprintf(repo, sizeof repo, "%s", subdir(f, "repo"));
    snprintf(out, sizeof out, "%s/out.txt", f->dir);
    ((struct mlflow_kv *)&kv)->value = out;
    testutil_write_file(repo, "MLproject",
                        "entry_points:\n  main:\n    parameters: {out: string}\n"
                        "    command: \"cat version.txt > {out}\"\n", 0);
    testutil_write_file(repo, "version.txt", "v1", 0);
    testutil_sh("cd '%s' && " GIT " init -q && " GIT " add -A && " GIT " commit -qm v1 && " GIT
                " tag v1 && " GIT " rev-parse HEAD > ../v1.sha", repo);
    testutil_sh("cd '%s' && " GIT " checkout -qb feature && echo -n feature > version.txt && " GIT
                " commit -qam f && " GIT " checkout -q main && echo -n v2 > version.txt && " GIT
                " commit -qam v2", repo);
    mkdir(strcat(strcpy(uri, repo), "/sub"), 0755);
    testutil_write_file(uri, "MLproject",
                        "entry_points:\n  main:\n    parameters: {out: string}\n"
                        "    command: \"echo -n sub > {out}\"\n", 0);
    testutil_sh("cd '%s' && " GIT " add -A && " GIT " commit -qm sub", repo);
    snprintf(commit_v1, sizeof commit_v1, "%.40s", read_text(f->dir, "v1.sha"));

    /* A tag: checked out in a clone; the commit is recorded, no branch. */
    o.version = "v1";
    assert_int_equal(mlflow_run_project(repo, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "v1");
    run = get_run(f, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.git.commit"), commit_v1);
    assert_null(mlflow_run_tag(run, "mlflow.source.git.branch"));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.git.repoURL"), repo);
    snprintf(uri, sizeof uri, "file://%s", repo); /* the folder named, not the clone */
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.name"), uri);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* A branch, through a file:// URI. */
    o.version = "feature";
    snprintf(uri, sizeof uri, "file://%s", repo);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "feature");
    run = get_run(f, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.git.branch"), "feature");
    assert_string_equal(mlflow_run_tag(run, "mlflow.gitBranchName"), "feature");
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* A commit. */
    o.version = commit_v1;
    assert_int_equal(mlflow_run_project(repo, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "v1");
    mlflow_submitted_run_free(sr);

    /* A bare repository is cloned: its default branch, or a version. */
    char bare[1100];
    snprintf(bare, sizeof bare, "%s/bare.git", f->dir);
    testutil_sh(GIT " clone -q --bare '%s' '%s'", repo, bare);
    o.version = NULL;
    assert_int_equal(mlflow_run_project(bare, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "v2");
    mlflow_submitted_run_free(sr);
    o.version = "v1";
    assert_int_equal(mlflow_run_project(bare, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "v1");
    run = get_run(f, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.git.repoURL"), bare);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);
    o.version = NULL;

    /* A #subdirectory of a local folder is used in place; the source name
     * is the URI as given. */
    o.version = NULL;
    snprintf(uri, sizeof uri, "%s#sub", repo);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), 0);
    assert_string_equal(read_text(f->dir, "out.txt"), "sub");
    run = get_run(f, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.name"), uri);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* A local folder inside a work tree is named file://<top>#<subdir>. */
    snprintf(uri, sizeof uri, "%s/sub", repo);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), 0);
    run = get_run(f, mlflow_submitted_run_id(sr));
    snprintf(uri, sizeof uri, "file://%s#sub", repo);
    assert_string_equal(mlflow_run_tag(run, "mlflow.source.name"), uri);
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* Unknown versions, and subdirectories that try to leave, are refused. */
    o.version = "no-such-tag";
    assert_int_equal(mlflow_run_project(repo, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "Unable to checkout version 'no-such-tag'"));
    o.version = NULL;
    snprintf(uri, sizeof uri, "%s#../..", repo);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    snprintf(uri, sizeof uri, "%s#/etc", repo);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    /* git's ext:: transport would run a command; it is refused. */
    snprintf(uri, sizeof uri, "ext::sh -c touch%% %s/pwned", f->dir);
    assert_int_equal(mlflow_run_project(uri, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_int_not_equal(access(strcat(strcpy(out, f->dir), "/pwned"), F_OK), 0);
    /* A failed clone leaves no directory behind. */
    DIR *d = opendir(storage);
    struct dirent *e;
    int entries = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 5); /* tag, branch, commit, and the bare repo twice */
    /* A version for a folder that is not a git work tree. */
    o.version = "v1";
    s = subdir(f, "plain");
    assert_int_equal(mlflow_run_project(s, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "only supported for Git"));
}

static void test_zip_archive(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "zipped"));
    char zip[1100];
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;
    char storage[1100];

    snprintf(storage, sizeof storage, "%s/storage", f->dir);
    o.storage_dir = storage;
    testutil_write_file(proj, "MLproject",
                        "entry_points:\n  main:\n    command: \"echo -n zipped > "
                        "\\\"$OUT\\\"\"\n",
                        0);
    snprintf(zip, sizeof zip, "%s/p.zip", f->dir);
    testutil_sh("cd '%s' && zip -q '%s' MLproject", proj, zip);
    char outenv[1100];
    snprintf(outenv, sizeof outenv, "%s/out.txt", f->dir);
    setenv("OUT", outenv, 1);
    assert_int_equal(mlflow_run_project(zip, &o, &sr), 0);
    unsetenv("OUT");
    assert_string_equal(read_text(f->dir, "out.txt"), "zipped");
    mlflow_submitted_run_free(sr);
    free(proj);
}

static void test_refused_options_and_environments(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "proj"));
    struct mlflow_project_opts o = {.tracking_uri = f->uri};
    struct mlflow_submitted_run *sr = NULL;

    testutil_write_file(proj, "MLproject", "entry_points:\n  main: {command: 'true'}\n", 0);
    o.backend = "kubernetes";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_NOT_IMPLEMENTED);
    o.backend = NULL;
    o.experiment_name = "a";
    o.experiment_id = "0";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    o.experiment_name = o.experiment_id = NULL;
    o.backend_config = "{not json";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    o.backend_config = "{}";
    o.env_manager = "pip";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    /* A conda project never silently runs in the current environment. */
    o.env_manager = NULL;
    testutil_write_file(proj, "conda.yaml", "name: x\n", 0);
    assert_int_not_equal(mlflow_run_project(proj, &o, &sr), 0);
    assert_non_null(strstr(mlflow_last_error(), "conda"));
    o.env_manager = "local";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    mlflow_submitted_run_free(sr);
    free(proj);
}

static void test_virtualenv_and_docker_env(void **state)
{
    struct fx *f = *state;
    char *proj = strdup(subdir(f, "venvproj"));
    char storage[1100], *prefix;
    struct mlflow_project_opts o = {.tracking_uri = f->uri, .env_manager = "virtualenv"};
    struct mlflow_submitted_run *sr = NULL;

    snprintf(storage, sizeof storage, "%s/storage", f->dir);
    o.storage_dir = storage;
    testutil_write_file(proj, "MLproject",
                        "python_env: python_env.yaml\n"
                        "entry_points:\n  main:\n"
                        "    command: \"python -c 'import sys; print(sys.prefix)' > prefix.txt\"\n",
                        0);
    testutil_write_file(proj, "python_env.yaml", "dependencies: []\n", 0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), 0);
    /* The command ran inside a new venv under the storage dir. */
    prefix = read_text(proj, "prefix.txt");
    assert_non_null(prefix);
    assert_memory_equal(prefix, storage, strlen(storage));
    assert_non_null(strstr(prefix, "/mlflow-venv-"));
    assert_non_null(strstr(mlflow_submitted_run_command(sr), "source "));
    struct mlflow_run *run = get_run(f, mlflow_submitted_run_id(sr));
    assert_string_equal(mlflow_run_tag(run, "mlflow.project.env"), "virtualenv");
    mlflow_run_free(run);
    mlflow_submitted_run_free(sr);

    /* A Python version we cannot provide is refused, not replaced. */
    testutil_write_file(proj, "python_env.yaml", "python: \"2.7\"\ndependencies: []\n", 0);
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "asks for Python 2.7"));
    /* Without --env-manager, a python_env project gets a virtualenv too. */
    o.env_manager = NULL;
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    o.env_manager = "conda";
    assert_int_equal(mlflow_run_project(proj, &o, &sr), MLFLOW_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(mlflow_last_error(), "cannot be executed using conda"));

    /* docker_env that cannot run (no name to tag the image with; no docker
     * or no engine): refused with the reason, before any run exists.
     * test_project_envs.c runs docker_env projects. */
    testutil_write_file(proj, "MLproject", "docker_env: {image: debian}\n"
                                           "entry_points:\n  main: {command: 'true'}\n", 0);
    o.env_manager = NULL;
    assert_int_not_equal(mlflow_run_project(proj, &o, &sr), 0);
    assert_null(sr);
    assert_non_null(strstr(mlflow_last_error(), "docker"));
    free(proj);
}

/* `test_projects --child LOSS`: a training program using the fluent API. */
static int child_main(const char *loss)
{
    if (mlflow_start_run(NULL) != MLFLOW_OK)
        return 2;
    mlflow_log_metric("loss", atof(loss), 0);
    mlflow_end_run(MLFLOW_RUN_STATUS_KILLED);
    mlflow_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_errors_name_line_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_refuses_huge_and_deep_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_matches_mlflow_docs_style, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_values_are_quoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameter_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_entry_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_run_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_command_marks_run_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_logs_into_the_run_and_keeps_its_status,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_cancel_kills_the_process_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async_wait_reports_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_git_versions_and_subdirectory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_options_and_environments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_virtualenv_and_docker_env, setup, teardown),
    };
    ssize_t n;

    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
