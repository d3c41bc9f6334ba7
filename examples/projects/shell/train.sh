#!/bin/bash
# A job written as a shell script. mlflow-c run created the run and logged
# alpha and epochs already; the script sees the run in its environment and
# can hand it to any program that logs with libmlflow (see ../c-program).
set -eu
alpha=$1
epochs=$2
echo "run $MLFLOW_RUN_ID in experiment $MLFLOW_EXPERIMENT_ID at $MLFLOW_TRACKING_URI"
echo "training with alpha=$alpha for $epochs epochs"
if [ "$alpha" = "fail" ]; then
    echo "giving up" >&2
    exit 3
fi
