#!/usr/bin/env bash
# Installs what the Spark hand-over test (tests/spark/weekly_counts.py) needs:
# a venv with pyspark (requirements.txt) at $SPARK_VENV, by default
# ~/.cache/weaksignal/spark-venv (see ../venv.sh). Spark itself also needs
# `java` (17) on PATH. The last line printed is the venv's python:
#   SPARK_PYTHON=$(bash tests/spark/install.sh | tail -n 1)
#   "$SPARK_PYTHON" tests/spark/weekly_counts.py EXPORT_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v java >/dev/null || echo "install.sh: warning: no java on PATH; Spark needs Java 17" >&2
VENV="${SPARK_VENV:-}" exec bash "$here/../venv.sh" "$here" spark
