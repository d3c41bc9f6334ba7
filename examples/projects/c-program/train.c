/*
 * train.c - a toy training loop that logs into the run `mlflow-c run`
 * started for it. mlflow_start_run() resumes $MLFLOW_RUN_ID, so params,
 * tags and these metrics all end up in one run.
 */
#include <mlflow.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    double alpha = argc > 1 ? atof(argv[1]) : 0.5;
    long steps = argc > 2 ? atol(argv[2]) : 5;
    double loss = 1.0;

    if (mlflow_start_run(NULL) != MLFLOW_OK) {
        fprintf(stderr, "train: %s\n", mlflow_last_error());
        return 1;
    }
    for (long step = 0; step < steps; step++) {
        loss *= 1.0 - alpha;
        mlflow_log_metric("loss", loss, step);
    }
    printf("final loss %g\n", loss);
    mlflow_end_run(MLFLOW_RUN_STATUS_FINISHED);
    return 0;
}
