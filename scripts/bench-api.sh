#!/usr/bin/env bash
# API latency under load: starts `weaksignal serve` on DATA_DIR (loopback, a
# free port), waits for the first analysis, then drives it with wrk (Debian
# package `wrk`) for the search mix and the signals page, and prints wrk's
# latency distribution. Usage:
#   scripts/bench-api.sh DATA_DIR [SECONDS] [CONNECTIONS]
# e.g. after `weaksignal bench signals --work-dir /tmp/b350` + `weaksignal --data-dir /tmp/b350 reindex`:
#   scripts/bench-api.sh /tmp/b350 20 4
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:?usage: scripts/bench-api.sh DATA_DIR [SECONDS] [CONNECTIONS]}
SECONDS_PER_RUN=${2:-20}
CONNECTIONS=${3:-4}
BIN=${WEAKSIGNAL_BIN:-target/release/weaksignal}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
OUT=$(mktemp)
"$BIN" --data-dir "$DATA_DIR" serve --addr 127.0.0.1:0 >"$OUT" 2>"$OUT.err" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$OUT" "$OUT.err"' EXIT
for _ in $(seq 100); do grep -q listening "$OUT" && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$OUT")
[ -n "$URL" ] || { cat "$OUT.err" >&2; exit 2; }
# The first signals request computes the analysis (seconds); time it once.
curl -s -o /dev/null -w "first /api/signals (analysis computed or awaited): %{time_total} s\n" "$URL/api/signals"
for mix in search signals; do
  echo "== $mix: wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s"
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "scripts/wrk/$mix.lua" "$URL" |
    grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx|requests in"
done
