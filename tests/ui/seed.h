/*
 * seed.h - data the browser tests look at, logged through libmlflow into a
 * running mlflow-c server (so artifacts go through its proxy, as a user's would).
 *
 * One function per area of the UI, each in its own seed_<area>.c, each
 * creating its own experiments with deterministic names and values that the
 * matching tests/ui/test_<area>.mjs asserts. A seeder returns 0 or prints why
 * it failed and returns 1.
 */
#ifndef MLFLOW_UI_SEED_H
#define MLFLOW_UI_SEED_H

#include <mlflow.h>

int seed_runs(const char *tracking_uri);
int seed_run(const char *tracking_uri);
/* n_runs runs in experiment "scale" and one run "million" with n_points points
 * of metric "series" in experiment "scale-history" (bench only). */
int seed_scale(const char *tracking_uri, long n_runs, long n_points);

/* Prints the library's last error with what was being done; returns 1. */
int seed_fail(const char *what);

#endif
