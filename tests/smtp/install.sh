#!/usr/bin/env bash
# Installs what the e-mail alert test needs: a venv with aiosmtpd
# (requirements.txt) at $SMTP_VENV, by default ~/.cache/weaksignal/smtp-venv
# (see ../venv.sh). The last line printed is the venv's python:
#   SMTP_PYTHON=$(bash tests/smtp/install.sh | tail -n 1)
#   "$SMTP_PYTHON" tests/smtp/server.py --port 2525 --maildir DIR --tls-dir tests/fixtures/tls
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VENV="${SMTP_VENV:-}" exec bash "$here/../venv.sh" "$here" smtp
