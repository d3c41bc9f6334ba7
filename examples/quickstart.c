/*
 * quickstart.c - a small training loop that tracks itself with libmlflow.
 *
 * It fits y = 3x + 2 by gradient descent and logs what an ML user logs:
 * hyperparameters, a loss curve, a nested evaluation run, a text artifact
 * and a file artifact. Runs land in ./mlruns (or $MLFLOW_TRACKING_URI),
 * readable by MLflow's own tools and by `mlflow-c runs describe`.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs mlflow) -o quickstart
 */
#include <mlflow.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_POINTS 64

static double xs[N_POINTS], ys[N_POINTS];

static void make_data(void)
{
    srand(42);
    for (int i = 0; i < N_POINTS; i++) {
        xs[i] = (double)i / N_POINTS;
        ys[i] = 3.0 * xs[i] + 2.0 + ((double)rand() / RAND_MAX - 0.5) * 0.1;
    }
}

/* One epoch of full-batch gradient descent; returns the mean squared error. */
static double train_epoch(double *w, double *b, double lr)
{
    double gw = 0, gb = 0, loss = 0;
    for (int i = 0; i < N_POINTS; i++) {
        double err = *w * xs[i] + *b - ys[i];
        loss += err * err;
        gw += 2 * err * xs[i];
        gb += 2 * err;
    }
    *w -= lr * gw / N_POINTS;
    *b -= lr * gb / N_POINTS;
    return loss / N_POINTS;
}

int main(void)
{
    const double lr = 0.5;
    const int epochs = 100;
    double w = 0, b = 0;
    make_data();

    if (mlflow_set_experiment("quickstart", NULL, NULL) != 0) {
        fprintf(stderr, "quickstart: %s\n", mlflow_last_error());
        return 1;
    }

    MLFLOW_RUN(.run_name = "linear-regression", .description = "Fits y = 3x + 2.") {
        mlflow_log_param("optimizer", "gradient-descent");
        mlflow_log_paramf("learning_rate", "%g", lr);
        mlflow_log_paramf("epochs", "%d", epochs);
        mlflow_set_tag("model", "linear");

        for (int epoch = 0; epoch < epochs; epoch++) {
            double loss = train_epoch(&w, &b, lr);
            mlflow_log_metric("train/loss", loss, epoch);
        }
        mlflow_log_metric("w", w, epochs);
        mlflow_log_metric("b", b, epochs);

        MLFLOW_RUN(.run_name = "evaluation", .nested = true) {
            double mae = 0;
            for (int i = 0; i < N_POINTS; i++)
                mae += fabs(w * xs[i] + b - ys[i]);
            mlflow_log_metric("mae", mae / N_POINTS, 0);
        }

        char summary[128];
        snprintf(summary, sizeof summary, "w = %.6f\nb = %.6f\n", w, b);
        mlflow_log_text(summary, "model/summary.txt");

        FILE *f = fopen("weights.csv", "w");
        if (f) {
            fprintf(f, "w,b\n%.17g,%.17g\n", w, b);
            fclose(f);
            mlflow_log_artifact("weights.csv", "model");
            remove("weights.csv");
        }

        char run_id[40];
        if (mlflow_active_run_id(run_id, sizeof run_id) == 0)
            printf("%s\n", run_id);
    }
    return 0;
}
