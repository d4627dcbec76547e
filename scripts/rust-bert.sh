#!/usr/bin/env bash
# Builds, tests and benchmarks the optional rust-bert (libtorch) embedding
# backend (cargo feature `rust-bert`; not part of the default build or CI).
#
#   scripts/rust-bert.sh [all|setup|build|export|test|bench|env]   (default: all)
#
#   setup   libtorch 2.4.0 (CPU use) from the PyPI wheels into the cache:
#           torch==2.4.0 (the 797 MB CUDA wheel: PyPI has no CPU-only one) and
#           the two small NVIDIA runtime wheels its libtorch_cpu.so links to
#           (nvidia-cuda-runtime-cu12, nvidia-cuda-cupti-cu12 ==12.1.105, as
#           torch 2.4.0 pins them); sha256-pinned, downloaded once. A LIBTORCH
#           directory is assembled from them: include/, and lib/ with links to
#           libtorch_cpu.so, libc10.so, the bundled libgomp, libcudart and
#           libcupti, plus an empty stand-in libtorch.so (the wheel's one would
#           pull in the 900 MB libtorch_cuda.so, which is not unpacked).
#   build   cargo build --release --features rust-bert
#   export  weaksignal models export-hf HF_DIR
#   test    the rust-bert tests (vectors vs candle) and the export test
#   bench   weaksignal bench embed (candle and rust-bert on the same texts)
#   env     print the exports that run the built binary by hand
#
# Environment: LIBTORCH_CACHE (default ~/.cache/weaksignal/libtorch),
# RUST_BERT_TARGET_DIR (cargo target directory, default target/rust-bert),
# WEAKSIGNAL_HF_MODEL_DIR (default target/rust-bert/hf/multilingual-e5-small),
# BENCH_ARGS (extra arguments for `bench embed`, e.g. "--no-reference").
#
# cargo never downloads libtorch here: rust-bert 0.23 turns on tch's
# `download-libtorch` feature unconditionally, but torch-sys only downloads
# when LIBTORCH is unset, and this script always sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.4.0
CACHE="${LIBTORCH_CACHE:-$HOME/.cache/weaksignal/libtorch}"
WHEELS="$CACHE/wheels"
UNPACKED="$CACHE/unpacked-$TORCH_VERSION"
export LIBTORCH="$CACHE/libtorch-$TORCH_VERSION"
export LIBTORCH_CXX11_ABI=0 # the PyPI wheels are built with the pre-C++11 ABI
export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# A target directory of its own: the feature build's binary needs libtorch at
# run time and must not replace target/release/weaksignal of the default build.
export CARGO_TARGET_DIR="${RUST_BERT_TARGET_DIR:-$PWD/target/rust-bert}"
BIN="$CARGO_TARGET_DIR/release/weaksignal"
HF_DIR="${WEAKSIGNAL_HF_MODEL_DIR:-$CARGO_TARGET_DIR/hf/multilingual-e5-small}"

# The wheels' libraries do not depend on the Python version (only
# libtorch_python.so does, which is not used), so one pinned cp312 wheel
# serves every machine, whatever its python3: pip is told the target
# (--python-version/--platform/--implementation) instead of using its own.
PIP_TARGET=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux1_x86_64)
# requirement|file|sha256 (from PyPI's simple index)
PINS=(
  "torch==$TORCH_VERSION|torch-$TORCH_VERSION-cp312-cp312-manylinux1_x86_64.whl|997084a0f9784d2a89095a6dc67c7925e21bf25dea0b3d069b41195016ccfcbb"
  "nvidia-cuda-runtime-cu12==12.1.105|nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl|6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40"
  "nvidia-cuda-cupti-cu12==12.1.105|nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl|e54fde3983165c624cb79254ae9818a456eb6e87a7fd4d56a2352c24ee542d7e"
)

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'rust-bert.sh: error: %s\n' "$*" >&2
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb")
for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
  fi
}

check_platform() {
  [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] ||
    die "only Linux x86_64 is supported (the pinned wheels are manylinux1_x86_64); this is $(uname -s) $(uname -m)"
}

check_python() {
  command -v python3 >/dev/null ||
    die "python3 not found: it is needed to download the torch wheels from PyPI (install it, e.g. apt-get install python3 python3-pip)"
  python3 -m pip --version >/dev/null 2>&1 ||
    die "pip is not available for $(command -v python3): install it (apt-get install python3-pip, or python3 -m ensurepip --upgrade)"
}

setup() {
  check_platform
  mkdir -p "$WHEELS"
  local missing=() req="$WHEELS/requirements.txt" pin spec file sum
  : >"$req"
  for pin in "${PINS[@]}"; do
    IFS='|' read -r spec file sum <<<"$pin"
    if [ -f "$WHEELS/$file" ] && [ "$(sha256_of "$WHEELS/$file")" = "$sum" ]; then
      continue
    fi
    rm -f "$WHEELS/$file"
    missing+=("$spec")
    echo "$spec --hash=sha256:$sum" >>"$req"
  done
  if [ ${#missing[@]} -gt 0 ]; then
    check_python
    say "downloading ${missing[*]} into $WHEELS (torch is 797 MB)"
    python3 -m pip download --no-deps "${PIP_TARGET[@]}" --require-hashes \
      -r "$req" -d "$WHEELS" ||
      die "pip download failed (network, or PyPI unreachable?): see above"
  else
    say "wheels present, checksums ok ($WHEELS)"
  fi
  for pin in "${PINS[@]}"; do
    IFS='|' read -r _ file sum <<<"$pin"
    [ "$(sha256_of "$WHEELS/$file")" = "$sum" ] || die "$WHEELS/$file: sha256 mismatch"
  done

  local stamp="$UNPACKED/.complete"
  if [ ! -f "$stamp" ]; then
    command -v python3 >/dev/null || die "python3 not found: it is needed to unpack the wheels"
    say "unpacking headers and CPU libraries into $UNPACKED"
    rm -rf "$UNPACKED"
    mkdir -p "$UNPACKED"
    python3 - "$UNPACKED" "$WHEELS" <<'EOF'
import sys, zipfile, os, re
dest, wheels = sys.argv[1], sys.argv[2]
wanted = {
    "torch": re.compile(r"torch/(include/.*|lib/(libtorch_cpu\.so|libc10\.so|libgomp-[0-9a-f]+\.so\.1)|version\.py)$"),
    "nvidia_cuda_runtime": re.compile(r"nvidia/cuda_runtime/lib/libcudart\.so\.12$"),
    "nvidia_cuda_cupti": re.compile(r"nvidia/cuda_cupti/lib/libcupti\.so\.12$"),
}
for name in sorted(os.listdir(wheels)):
    if not name.endswith(".whl"):
        continue
    pattern = next((p for k, p in wanted.items() if name.startswith(k + "-") or name.startswith(k + "_cu12")), None)
    if pattern is None:
        continue
    with zipfile.ZipFile(os.path.join(wheels, name)) as z:
        members = [m for m in z.namelist() if pattern.match(m)]
        z.extractall(dest, members)
        print(f"  {name}: {len(members)} files", file=sys.stderr)
EOF
    touch "$stamp"
  fi

  local tlib="$UNPACKED/torch/lib"
  local gomp
  gomp=$(cd "$tlib" && ls libgomp-*.so.1 2>/dev/null | head -n1) || true
  [ -n "$gomp" ] || die "no bundled libgomp in $tlib (unexpected wheel contents)"
  for f in "$tlib/libtorch_cpu.so" "$tlib/libc10.so" \
    "$UNPACKED/nvidia/cuda_runtime/lib/libcudart.so.12" \
    "$UNPACKED/nvidia/cuda_cupti/lib/libcupti.so.12"; do
    [ -f "$f" ] || die "$f missing after unpacking: delete $UNPACKED and rerun"
  done
  mkdir -p "$LIBTORCH/lib"
  ln -sfn "$UNPACKED/torch/include" "$LIBTORCH/include"
  ln -sf "$tlib/libtorch_cpu.so" "$LIBTORCH/lib/libtorch_cpu.so"
  ln -sf "$tlib/libc10.so" "$LIBTORCH/lib/libc10.so"
  ln -sf "$tlib/$gomp" "$LIBTORCH/lib/$gomp"
  ln -sf "$tlib/$gomp" "$LIBTORCH/lib/libgomp.so" # torch-sys links -lgomp
  ln -sf "$UNPACKED/nvidia/cuda_runtime/lib/libcudart.so.12" "$LIBTORCH/lib/libcudart.so.12"
  ln -sf "$UNPACKED/nvidia/cuda_cupti/lib/libcupti.so.12" "$LIBTORCH/lib/libcupti.so.12"
  if [ ! -f "$LIBTORCH/lib/libtorch.so" ]; then
    command -v cc >/dev/null || die "no C compiler (cc) for the stand-in libtorch.so (install build-essential)"
    echo '/* stand-in for libtorch.so: everything used is in libtorch_cpu.so */' |
      cc -shared -fPIC -x c - -Wl,-soname,libtorch.so -o "$LIBTORCH/lib/libtorch.so"
  fi
  echo "$TORCH_VERSION" >"$LIBTORCH/build-version" # torch-sys checks it
  say "LIBTORCH=$LIBTORCH ready"
}

need_libtorch() {
  [ -f "$LIBTORCH/lib/libtorch_cpu.so" ] || die "libtorch not set up at $LIBTORCH: run scripts/rust-bert.sh setup"
  command -v c++ >/dev/null || command -v g++ >/dev/null ||
    die "no C++ compiler (torch-sys compiles its libtorch bindings): install g++"
}

build() {
  need_libtorch
  say "cargo build --release --features rust-bert"
  local start=$SECONDS
  cargo build --release --features rust-bert
  say "build took $((SECONDS - start)) s"
}

export_hf() {
  [ -x "$BIN" ] || die "$BIN missing: run scripts/rust-bert.sh build"
  say "exporting the model to $HF_DIR"
  local start=$SECONDS
  "$BIN" models export-hf "$HF_DIR"
  say "export took $((SECONDS - start)) s"
}

run_tests() {
  need_libtorch
  [ -f "$HF_DIR/model.safetensors" ] || export_hf
  say "cargo test --release --features rust-bert --test rust_bert --test embed"
  local log rc=0 start=$SECONDS
  log=$(mktemp)
  WEAKSIGNAL_HF_MODEL_DIR="$HF_DIR" cargo test --release --features rust-bert \
    --test rust_bert --test embed -- --nocapture 2>&1 | tee "$log" || rc=$?
  say "tests took $((SECONDS - start)) s"
  if [ "$rc" -ne 0 ]; then
    rm -f "$log"
    die "tests failed"
  fi
  if grep -q 'rust_bert_agrees_with_candle \.\.\. ignored' "$log"; then
    rm -f "$log"
    die "the rust-bert tests were IGNORED (model or shared data missing at build time: run weaksignal models fetch, set WEAKSIGNAL_SHARED)"
  fi
  rm -f "$log"
}

bench() {
  need_libtorch
  [ -x "$BIN" ] || die "$BIN missing: run scripts/rust-bert.sh build"
  say "weaksignal bench embed ${BENCH_ARGS:-}"
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments
  "$BIN" bench embed ${BENCH_ARGS:-}
}

case "${1:-all}" in
  setup) setup ;;
  build) build ;;
  export) export_hf ;;
  test) run_tests ;;
  bench) bench ;;
  env)
    printf 'export LIBTORCH=%q\nexport LIBTORCH_CXX11_ABI=0\nexport LD_LIBRARY_PATH=%q\nexport CARGO_TARGET_DIR=%q\n# binary: %q\n' \
      "$LIBTORCH" "$LD_LIBRARY_PATH" "$CARGO_TARGET_DIR" "$BIN"
    ;;
  all)
    setup
    build
    export_hf
    run_tests
    bench
    ;;
  *) die "unknown step ${1} (all, setup, build, export, test, bench, env)" ;;
esac
