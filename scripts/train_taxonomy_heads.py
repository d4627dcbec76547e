#!/usr/bin/env python3
"""Train the supervised heads of the built-in STEEP and megatrend taggers.

usage: WEAKSIGNAL_SHARED=../shared scripts/train_taxonomy_heads.py BIN

Reads the 600 hand-labelled TRAINING headlines (tests/fixtures/taxonomy-train.csv,
disjoint from the evaluation set tests/fixtures/taxonomy-labels.csv, which this
script never reads), embeds them with `BIN embed-text --json` (as passages,
like stored documents), and fits per taxonomy a multinomial logistic
regression on the vectors (numpy, full-batch gradient descent). Every choice
is made by 5-fold cross-validation on the training rows only:
  - the L2 penalty (1e-4, 1e-3, 1e-2), class balancing (on/off) and the
    input scale (10, 30);
  - alpha, the weight of the prototype probabilities (`BIN tag --method
    prototypes`) in the blend alpha * prototypes + (1 - alpha) * head
    (0, 0.1, ..., 1), with the head's probabilities out of fold.
Writes taxonomies/heads/<taxonomy>.json: the model id prefix the vectors
come from, the training file's sha256, the categories, alpha, weights and
bias (the input scale folded into the weights). No corpus text is written.
"""
import csv
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import tag_quality  # noqa: E402  (resolves keys to headlines)

TRAIN = os.path.join(ROOT, "tests/fixtures/taxonomy-train.csv")
MODEL = "multilingual-e5-small@1571fc982750"
TAXONOMIES = {
    "steep": ("steep", ["social", "technological", "economic", "environmental", "political", "values"]),
    "sitra-megatrends-2023": ("megatrend", ["nature", "wellbeing", "democracy", "digital-power", "economy"]),
}


def rows():
    with open(TRAIN, encoding="utf-8") as f:
        lines = [l for l in f if not l.startswith("#")]
    return tag_quality.resolve(list(csv.DictReader(lines)))


def embed(binary, texts):
    out = subprocess.run([binary, "-q", "embed-text", "--json"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return np.array([json.loads(l) for l in out.splitlines()])


def prototypes(binary, taxonomy, cats, texts):
    out = subprocess.run([binary, "-q", "tag", "--taxonomy", taxonomy, "--method", "prototypes",
                          "--top", str(len(cats)), "--json"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout
    probs = []
    for line in out.splitlines():
        scores = {t["id"]: t["score"] for t in json.loads(line)["tags"]}
        probs.append([scores[c] for c in cats])
    return np.array(probs)


def softmax(z):
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def fit(x, y, k, l2, balanced, iters=3000, lr=0.5):
    n, d = x.shape
    w, b = np.zeros((k, d)), np.zeros(k)
    onehot = np.eye(k)[y]
    weight = (n / (k * np.maximum(np.bincount(y, minlength=k), 1)))[y] if balanced else np.ones(n)
    for _ in range(iters):
        g = (softmax(x @ w.T + b) - onehot) * weight[:, None] / weight.sum()
        w -= lr * (g.T @ x + l2 * w)
        b -= lr * g.sum(0)
    return w, b


def folds(n, k=5):
    idx = np.arange(n)
    np.random.default_rng(0).shuffle(idx)
    return [(np.setdiff1d(idx, idx[f::k]), idx[f::k]) for f in range(k)]


def out_of_fold(x, y, k, l2, balanced, scale, iters=1500):
    p = np.zeros((len(y), k))
    for train, test in folds(len(y)):
        w, b = fit(x[train] * scale, y[train], k, l2, balanced, iters)
        p[test] = softmax(x[test] * scale @ w.T + b)
    return p


def main(binary):
    data = rows()
    sha = hashlib.sha256(open(TRAIN, "rb").read()).hexdigest()
    for taxonomy, (column, cats) in TAXONOMIES.items():
        labelled = [r for r in data if r[column]]
        texts = [r["text"] for r in labelled]
        y = np.array([cats.index(r[column]) for r in labelled])
        x = embed(binary, texts)
        k = len(cats)
        best = None
        for l2 in (1e-4, 1e-3, 1e-2):
            for balanced in (False, True):
                for scale in (10.0, 30.0):
                    acc = (out_of_fold(x, y, k, l2, balanced, scale).argmax(1) == y).mean()
                    if best is None or acc > best[0]:
                        best = (acc, l2, balanced, scale)
        _, l2, balanced, scale = best
        head = out_of_fold(x, y, k, l2, balanced, scale)
        proto = prototypes(binary, taxonomy, cats, texts)
        alphas = [(((a * proto + (1 - a) * head).argmax(1) == y).mean(), a) for a in np.linspace(0, 1, 11)]
        acc, alpha = max(alphas, key=lambda t: (t[0], -t[1]))
        w, b = fit(x * scale, y, k, l2, balanced)
        print(f"{taxonomy}: {len(y)} rows; l2={l2} balanced={balanced} scale={scale} "
              f"head cv={best[0]:.3f}; alpha={alpha:.1f} blend cv={acc:.3f}", file=sys.stderr)
        out = {
            "taxonomy": taxonomy,
            "model": MODEL,
            "trained_on": f"tests/fixtures/taxonomy-train.csv sha256:{sha}",
            "rows": len(y),
            "categories": cats,
            "alpha": round(float(alpha), 2),
            "bias": [round(float(v), 6) for v in b],
            "weights": [[round(float(v), 6) for v in row] for row in w * scale],
        }
        path = os.path.join(ROOT, "taxonomies/heads", f"{taxonomy}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(out, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
