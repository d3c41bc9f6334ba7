#!/bin/sh
# Runs inside the container (needs --build-image, which copies it in).
# The run, the experiment and the tracking store come in as variables.
set -eu
echo "$GREETING from $USER's run $MLFLOW_RUN_ID, tracking at $MLFLOW_TRACKING_URI"
echo "training with alpha=$1"
