#!/usr/bin/env bash
# Makes (or reuses) a Python venv for a test that runs Python: the venv of
# DIR's requirements.txt at $VENV, by default ~/.cache/weaksignal/NAME-venv.
# Idempotent: pip runs only when the venv is new or requirements.txt
# changed. WHEEL_DIR, when set, is a directory of wheels pip looks in first.
# The last line printed is the venv's python.
#   usage: venv.sh DIR NAME
set -euo pipefail
dir="$(cd "$1" && pwd)"
venv="${VENV:-$HOME/.cache/weaksignal/$2-venv}"
req="$dir/requirements.txt"
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
echo "$py"
