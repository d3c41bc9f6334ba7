// test_cxx.cc - the public header from C++: it compiles as C++20 (the
// designated initialisers of MLFLOW_RUN_OPTS need it), links, and the
// scope macro ends its run when the block is left, here by an exception.
#include <mlflow.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

static int failures = 0;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed: %s\n", __FILE__,       \
                         __LINE__, #cond, mlflow_last_error());                  \
            failures++;                                                          \
        }                                                                        \
    } while (0)

int main()
{
    char tmpl[] = "/tmp/mlflow-cxx-XXXXXX";
    const char *dir = mkdtemp(tmpl);
    CHECK(dir != nullptr);
    std::string uri = std::string("file://") + dir + "/mlruns";
    CHECK(mlflow_set_tracking_uri(uri.c_str()) == 0);

    char id[MLFLOW_RUN_ID_SIZE] = "";
    try {
        MLFLOW_RUN(.run_name = "from-c++") {
            CHECK(mlflow_active_run_id(id, sizeof id) == 0);
            CHECK(mlflow_log_metric("loss", 0.5, 1) == 0);
            throw std::runtime_error("training diverged");
        }
    } catch (const std::runtime_error &) {
    }
    // The exception unwound through the scope: the run ended (FINISHED: a
    // C++ exception is not a crash, and the scope cannot tell it apart).
    mlflow_run *run = nullptr;
    CHECK(mlflow_active_run(&run) == 0 && run == nullptr);
    CHECK(mlflow_get_run(id, &run) == 0);
    if (run) {
        CHECK(run->info.status == MLFLOW_RUN_STATUS_FINISHED);
        CHECK(std::string(run->info.run_name) == "from-c++");
        mlflow_run_free(run);
    }
    mlflow_shutdown();
    std::string cmd = std::string("rm -rf '") + dir + "'";
    CHECK(std::system(cmd.c_str()) == 0);
    std::printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
