/*
 * seed.c - `ui_seed TRACKING_URI [standard | scale N_RUNS N_POINTS]`: fills a
 * tracking server with the data the browser tests (or the UI benchmark) use.
 */
#include "seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-area seeders are written alongside their tests; a weak reference lets
 * this driver build before an area has one. */
#pragma weak seed_runs
#pragma weak seed_run

int seed_fail(const char *what)
{
    fprintf(stderr, "ui_seed: %s: %s\n", what, mlflow_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ui_seed TRACKING_URI [standard | scale N_RUNS N_POINTS]\n");
        return 2;
    }
    const char *uri = argv[1];
    const char *scenario = argc > 2 ? argv[2] : "standard";
    mlflow_set_warnings(true);
    if (mlflow_set_tracking_uri(uri) != 0)
        return seed_fail("set tracking uri");
    int rc = 0;
    if (strcmp(scenario, "standard") == 0) {
        if (seed_runs)
            rc |= seed_runs(uri);
        if (seed_run)
            rc |= seed_run(uri);
    } else if (strcmp(scenario, "scale") == 0 && argc == 5) {
        rc = seed_scale(uri, atol(argv[3]), atol(argv[4]));
    } else {
        fprintf(stderr, "ui_seed: unknown scenario '%s'\n", scenario);
        return 2;
    }
    mlflow_shutdown();
    return rc;
}
