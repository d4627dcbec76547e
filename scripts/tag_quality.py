#!/usr/bin/env python3
"""Tagger quality on the hand-labelled headlines (tests/fixtures/taxonomy-labels.csv).

Resolves each labelled row's headline from the shared corpora (the fixture
holds keys and hashes, not text), runs `weaksignal tag --json --top 1` for the
tagger and its two baselines, and prints top-1 accuracy per language, macro-F1
and the confusion matrix per taxonomy, on all rows and on the two halves
(even rows: dev, odd rows: test) so that a design choice made on one half can
be checked on the other.

usage: scripts/tag_quality.py BIN [--json OUT]
"""
import csv
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WEAKSIGNAL_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
TAXONOMIES = {"steep": "steep", "sitra-megatrends-2023": "megatrend"}
METHODS = ["trained", "prototypes", "zero-shot", "keywords"]


def load_labels():
    rows = []
    with open(os.path.join(ROOT, "tests/fixtures/taxonomy-labels.csv"), encoding="utf-8") as f:
        lines = [l for l in f if not l.startswith("#")]
    for row in csv.DictReader(lines):
        rows.append(row)
    return rows


def resolve(rows):
    guardian = os.path.join(SHARED, "corpora/guardian-headlines/guardian_headlines.csv")
    yle = os.path.join(SHARED, "corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv")
    if not os.path.exists(guardian) or not os.path.exists(yle):
        sys.exit(f"shared corpora not found under {SHARED} (set WEAKSIGNAL_SHARED)")
    with open(guardian, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        en = [r[1].strip() if len(r) > 1 else "" for r in reader]
    fi = {}
    with open(yle, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            fi[f"yle:{r['date']}:{r['story_idx']}"] = r["title_fi"].strip()
    for row in rows:
        key = row["key"]
        text = en[int(key.split(":")[1])] if key.startswith("guardian:") else fi[key]
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        if sha != row["sha"]:
            sys.exit(f"{key}: the corpus text does not hash to {row['sha']} (corpus changed?)")
        # One line per headline: tag reads lines.
        row["text"] = " ".join(text.split())
    return rows


def predict(binary, taxonomy, method, texts):
    out = subprocess.run(
        [binary, "-q", "tag", "--taxonomy", taxonomy, "--method", method, "--json", "--top", "1"],
        input="\n".join(texts) + "\n", capture_output=True, text=True, check=True,
    ).stdout
    preds = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert len(preds) == len(texts), (len(preds), len(texts))
    return [p["tags"][0]["id"] if p["tags"] and p["tags"][0]["score"] > 0 else None for p in preds]


def scores(gold, pred):
    n = len(gold)
    acc = sum(g == p for g, p in zip(gold, pred)) / n if n else float("nan")
    labels = sorted(set(gold))
    f1s = []
    for c in labels:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return acc, sum(f1s) / len(f1s) if f1s else float("nan"), n


def main():
    binary = sys.argv[1]
    rows = resolve(load_labels())
    results = {}
    for taxonomy, column in TAXONOMIES.items():
        labelled = [(i, r) for i, r in enumerate(rows) if r[column]]
        texts = [r["text"] for _, r in labelled]
        for method in METHODS:
            pred = predict(binary, taxonomy, method, texts)
            table = {}
            for subset, keep in [("all", lambda i: True), ("dev", lambda i: i % 2 == 0), ("test", lambda i: i % 2 == 1)]:
                for lang in ["en", "fi", "both"]:
                    sel = [k for k, (i, r) in enumerate(labelled) if keep(i) and (lang == "both" or r["lang"] == lang)]
                    gold = [labelled[k][1][column] for k in sel]
                    acc, f1, n = scores(gold, [pred[k] for k in sel])
                    table[f"{subset}/{lang}"] = {"accuracy": round(acc, 3), "macro_f1": round(f1, 3), "n": n}
            alt = [p in (r[column], r[column + "_alt"]) for (i, r), p in zip(labelled, pred)]
            table["all/both"]["primary_or_alt"] = round(sum(alt) / len(alt), 3)
            confusion = defaultdict(Counter)
            for (i, r), p in zip(labelled, pred):
                confusion[r[column]][p or "-"] += 1
            results[f"{taxonomy}/{method}"] = {"scores": table, "confusion": {g: dict(c) for g, c in confusion.items()}}
            t = table
            print(f"{taxonomy:22} {method:10}  top-1 en {t['all/en']['accuracy']:.3f} fi {t['all/fi']['accuracy']:.3f} "
                  f"both {t['all/both']['accuracy']:.3f} (dev {t['dev/both']['accuracy']:.3f}, test {t['test/both']['accuracy']:.3f})  "
                  f"macro-F1 {t['all/both']['macro_f1']:.3f}  primary-or-alt {t['all/both']['primary_or_alt']:.3f}  n={t['all/both']['n']}")
    for name, r in results.items():
        if name.endswith("/trained"):
            print(f"\nconfusion {name} (rows: label, columns: predicted)")
            cols = sorted({c for row in r["confusion"].values() for c in row})
            print(" " * 16 + " ".join(f"{c[:8]:>8}" for c in cols))
            for g in sorted(r["confusion"]):
                print(f"{g[:15]:15} " + " ".join(f"{r['confusion'][g].get(c, 0):>8}" for c in cols))
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
