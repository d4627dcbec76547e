#!/usr/bin/env bash
# scripts/signal-quality.sh BIN CONFIG DATA_DIR OUT_DIR
# Dumps the signal outputs that scripts/signal_quality.py computes the
# figures of BENCHMARKS.md ("Signals an analyst can trust") from: the
# default run's signals, weak/emerging/recurring signals as of the Fridays
# of December 2024 and 2025 and of June to August 2025 (Yle), and the weekly
# Guardian backtest. DATA_DIR is the store of `weaksignal run` on the
# built-in defaults (Guardian + Yle).
set -u
BIN=$1; CONF=$2; DATA=$3; OUT=$4
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
ws() { "$BIN" -q --config "$CONF" --data-dir "$DATA" "$@"; }
ws signals --json --limit 50 > "$OUT/default.json"
for d in 2024-12-06 2024-12-13 2024-12-20 2024-12-27 2025-12-05 2025-12-12 2025-12-19 2025-12-26 \
         2025-06-06 2025-06-13 2025-06-20 2025-06-27 2025-07-04 2025-07-11 2025-07-18 2025-07-25 \
         2025-08-01 2025-08-08 2025-08-15 2025-08-22 2025-08-29; do
  # builds before the recurring class know only weak and emerging
  ws signals --json --as-of $d --class weak,emerging,recurring --limit 100 > "$OUT/asof-$d.json" 2>/dev/null || \
  ws signals --json --as-of $d --class weak,emerging --limit 100 > "$OUT/asof-$d.json"
done
/usr/bin/time -f "%e s %M KB" "$BIN" -q --config "$CONF" --data-dir "$DATA" backtest --from 2018-03-04 --to 2020-06-28 \
  --step week --events "$HERE/pipelines/events/guardian.toml" --json > "$OUT/guardian-weekly.json" 2> "$OUT/guardian-weekly.time"
echo done > "$OUT/DONE"
