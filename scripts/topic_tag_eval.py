#!/usr/bin/env python3
"""How topics are best tagged: simulated topics from the labelled evaluation set.

usage: WEAKSIGNAL_SHARED=../shared scripts/topic_tag_eval.py BIN

A signal's tags come from its recent documents, embedded as title plus text.
This script embeds the 200 labelled rows of tests/fixtures/taxonomy-labels.csv
the same way (Yle rows: title_fi and text_fi; Guardian rows: the headline,
which is all the corpus has), builds simulated topics of 4 documents with one
gold label and 1 document with another (100 per label, fixed seed), and
tags each topic with
  - mean-prob:   the categories whose mean probability over its documents is
                 at least 2/k (what `View::tag` does), or
  - mean-vector: the same floor on the scores of the documents' mean vector,
for the prototypes alone and for the trained blend. It prints, per
taxonomy, the share of topics tagged, the share tagged with their label and
the precision of the tags; and each single document's top-1 accuracy as
title plus text. The category vectors come from the tagger's own
cache (written by one `tag` call into a temporary data directory); the
head from taxonomies/heads/.
"""
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import tag_quality  # noqa: E402

TEMPERATURE = 0.0075
TAXONOMIES = {"steep": "steep", "sitra-megatrends-2023": "megatrend"}


def softmax(z, t=1.0):
    z = z / t
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def main(binary):
    with open(os.path.join(ROOT, "tests/fixtures/taxonomy-labels.csv"), encoding="utf-8") as f:
        rows = tag_quality.resolve(list(csv.DictReader(l for l in f if not l.startswith("#"))))
    texts = {}
    with open(os.path.join(tag_quality.SHARED, "corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv"),
              encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            texts[f"yle:{r['date']}:{r['story_idx']}"] = " ".join(r["text_fi"].split())
    passages = "\n".join((r["text"] + " " + texts.get(r["key"], "")).strip() for r in rows) + "\n"
    out = subprocess.run([binary, "-q", "embed-text", "--json"], input=passages,
                         capture_output=True, text=True, check=True).stdout
    vectors = np.array([json.loads(l) for l in out.splitlines()])
    with tempfile.TemporaryDirectory() as data:
        for taxonomy, column in TAXONOMIES.items():
            subprocess.run([binary, "-q", "--data-dir", data, "tag", "--taxonomy", taxonomy,
                            "--method", "prototypes"], input="x\n", capture_output=True, text=True, check=True)
            cache = glob.glob(os.path.join(data, "cache/taxonomies", f"{taxonomy}-*-Prototypes.json"))[0]
            with open(cache) as f:
                prototypes = np.array(json.load(f)["prototypes"])
            with open(os.path.join(ROOT, "taxonomies/heads", f"{taxonomy}.json")) as f:
                head = json.load(f)
            weights, bias, cats = np.array(head["weights"]), np.array(head["bias"]), head["categories"]
            labelled = [i for i, r in enumerate(rows) if r[column]]
            y = np.array([cats.index(rows[i][column]) for i in labelled])
            x = vectors[labelled]
            k = len(cats)
            for method, alpha in (("prototypes", 1.0), ("trained", head["alpha"])):
                def score(v):
                    return alpha * softmax(v @ prototypes.T, TEMPERATURE) + (1 - alpha) * softmax(v @ weights.T + bias)
                single = score(x).argmax(1) == y
                fi = np.array([rows[i]["lang"] == "fi" for i in labelled])
                print(f"{taxonomy:22} {method:10} single documents (title + text): top-1 {single.mean():.3f}, "
                      f"fi {single[fi].mean():.3f}, en {single[~fi].mean():.3f}")
                rng = np.random.default_rng(1)
                counts = {"mean-prob": [0, 0], "mean-vector": [0, 0]}
                topics = 0
                for c in range(k):
                    same, other = np.where(y == c)[0], np.where(y != c)[0]
                    if len(same) < 4:
                        continue
                    for _ in range(100):
                        group = np.concatenate([rng.choice(same, 4, replace=False), rng.choice(other, 1)])
                        topics += 1
                        for pooling, p in (("mean-prob", score(x[group]).mean(0)),
                                           ("mean-vector", score(x[group].mean(0)[None, :])[0])):
                            top = p.argmax()
                            tagged = p[top] >= 2 / k
                            counts[pooling][0] += int(tagged and top == c)
                            counts[pooling][1] += int(tagged)
                for pooling, (right, tagged) in counts.items():
                    print(f"{taxonomy:22} {method:10} {pooling:11} topics {topics}: tagged {tagged / topics:.2f}, "
                          f"with their label {right / topics:.2f}, precision {right / max(tagged, 1):.2f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
