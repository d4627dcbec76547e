#!/usr/bin/env bash
# Installs what the Spark hand-over test (tests/spark/weekly_counts.py) needs:
# a venv with pyspark (requirements.txt) at $SPARK_VENV, by default
# ~/.cache/weaksignal/spark-venv. Idempotent: pip runs only when the venv is
# new or requirements.txt changed. WHEEL_DIR, when set, is a directory of
# wheels pip looks in first. Spark itself also needs `java` (17) on PATH.
# The last line printed is the venv's python:
#   SPARK_PYTHON=$(bash tests/spark/install.sh | tail -n 1)
#   "$SPARK_PYTHON" tests/spark/weekly_counts.py EXPORT_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SPARK_VENV:-$HOME/.cache/weaksignal/spark-venv}"
req="$here/requirements.txt"
py="$venv/bin/python"
stamp="$venv/.weaksignal-requirements.txt"

if [ ! -x "$py" ]; then
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  rm -f "$stamp"
fi
if ! cmp -s "$req" "$stamp"; then
  PIP_ROOT_USER_ACTION=ignore "$py" -m pip install -q --disable-pip-version-check \
    ${WHEEL_DIR:+--find-links "$WHEEL_DIR"} -r "$req" >&2
  cp "$req" "$stamp"
fi
command -v java >/dev/null || echo "install.sh: warning: no java on PATH; Spark needs Java 17" >&2
echo "$py"
