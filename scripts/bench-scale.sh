#!/usr/bin/env bash
# The whole pipeline at a given size, stage by stage, with wall time and peak
# memory (GNU time): import + store + index (the Guardian corpus replicated
# with fresh ids), clustering + trends + signals on a store replicated from
# DATA_DIR's documents and vectors (dates shifted, vectors jittered), index
# rebuild, report, export, doctor. Embedding is not rerun at this size: its
# cost is documents / the rate `weaksignal bench embed` measures.
#   scripts/bench-scale.sh DOCS WORK_DIR [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS=${1:?usage: scripts/bench-scale.sh DOCS WORK_DIR [DATA_DIR]}
WORK=${2:?usage: scripts/bench-scale.sh DOCS WORK_DIR [DATA_DIR]}
DATA=${3:-data}
BIN=$(pwd)/${WEAKSIGNAL_BIN:-target/release/weaksignal}
rm -rf "$WORK" && mkdir -p "$WORK"
stage() {
  local name=$1; shift
  /usr/bin/time -f "$name	%e s	%M KB" -o "$WORK/time.$name" "$@" > "$WORK/out.$name" 2> "$WORK/err.$name" || { cat "$WORK/err.$name" >&2; exit 2; }
  cat "$WORK/time.$name"
}
stage import  "$BIN" -q bench import --docs "$DOCS" --work-dir "$WORK/import"
stage signals "$BIN" -q --data-dir "$DATA" bench signals --docs "$DOCS" --work-dir "$WORK/store"
stage reindex "$BIN" -q --data-dir "$WORK/store" reindex
stage report  "$BIN" -q --data-dir "$WORK/store" report -o "$WORK/report.html"
stage export  "$BIN" -q --data-dir "$WORK/store" export --format parquet -o "$WORK/export"
stage doctor  "$BIN" -q --data-dir "$WORK/store" doctor
echo "--- import";  tail -3 "$WORK/out.import"
echo "--- signals"; cat "$WORK/out.signals"
echo "--- export";  cat "$WORK/out.export"
du -sh "$WORK/store" "$WORK/export" | sed 's/^/size /'
