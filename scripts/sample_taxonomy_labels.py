#!/usr/bin/env python3
"""Sample the rows of tests/fixtures/taxonomy-labels.csv (and, with --train,
of tests/fixtures/taxonomy-train.csv).

usage: scripts/sample_taxonomy_labels.py [--train] [--text] [GUARDIAN_CSV] [YLE_CSV]

Picks 100 Guardian business headlines and 100 Yle Selkouutiset story
titles with random.Random(2026).sample over the eligible rows of each
corpus, and prints each sampled row's key, sha, lang and headline (with
--text, also the start of the Yle story text) so that a person can read
and label them. It assigns no labels: the labels in the fixture were
written by hand.

With --train it instead samples the rows of the training set
tests/fixtures/taxonomy-train.csv: 300 Guardian and 300 Yle rows with
random.Random(2027).sample over the same eligible rows of each corpus
minus every key of the evaluation sample above (so the training and
evaluation sets are disjoint), printed in the same format. Without
--train the output is unchanged from the evaluation-only version.

Keys and hashes (the fixture holds no corpus text):
  guardian:<n>            n = 0-based index of the CSV record after the
                          header, as csv.reader yields them
  yle:<date>:<story_idx>
  sha = first 12 hex chars of sha256(headline.strip(), UTF-8); the headline
  is the Headlines cell (Guardian) or title_fi (Yle).

Eligible rows:
  Guardian: the Headlines cell is not empty after stripping.
  Yle: title_fi is not generic, i.e. it is not
    - a programme title: starts with "Radio Selkouutiset" (also written
      "Radio \\| Selkouutiset \\| ...") or with "Selkouutis"
      ("Selkouutiset", "Selkouutisten joulutauko");
    - a weather title: "Sää", "Sääennuste", "<day or season> sää" (one word
      before "sää", e.g. "Torstain sää", "Joulun sää") or a weather report
      starting "Sää on/lämpenee/kylmenee/vaihtelee/jatkuu/voi";
    - a recap, programme or service note: "Kertaus", "Viikon aihe",
      "Viikon aiheen esittely", "Aiheen esittely", "Joulutauko",
      "Uutisviikon joulutauko", "Uutisviikon uudistuminen", "Oikaisu";
    - a bare sub-heading that names no topic: "Syyt", "Syitä",
      "Vaikutukset", "Tavoitteet", "Ehdot", "Perusteet", "Lisätietoa",
      "Miksi?", "Riskit", "Riita", "Yllätys", "Kritiikki", "Historia",
      "Vastuu", "Yksilö".
"""
import csv
import hashlib
import random
import re
import sys

SEED = 2026
N = 100
TRAIN_SEED = 2027
TRAIN_N = 300
GUARDIAN = "/work/shared/corpora/guardian-headlines/guardian_headlines.csv"
YLE = "/work/shared/corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv"

SERVICE_TITLES = {
    "kertaus", "viikon aihe", "viikon aiheen esittely", "aiheen esittely", "joulutauko",
    "uutisviikon joulutauko", "uutisviikon uudistuminen", "oikaisu",
    # sub-headings of a longer story that name no topic on their own
    "syyt", "syitä", "vaikutukset", "tavoitteet", "ehdot", "perusteet", "lisätietoa",
    "miksi?", "riskit", "riita", "yllätys", "kritiikki", "historia", "vastuu", "yksilö",
}
WEATHER = [
    re.compile(r"^sää(ennuste)?$"),
    re.compile(r"^\S+ sää$"),
    re.compile(r"^sää (on|lämpenee|kylmenee|vaihtelee|jatkuu|voi)\b"),
]


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def guardian_rows(path=GUARDIAN):
    """Eligible (key, headline) pairs in file order."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)  # header: Time,Headlines
        for n, rec in enumerate(reader):
            text = rec[1].strip() if len(rec) > 1 else ""
            if text:
                out.append((f"guardian:{n}", text, ""))
    return out


def yle_generic(title):
    t = re.sub(r"[\\|]", " ", title).lower()
    t = re.sub(r"\s+", " ", t).strip()
    if t.startswith("radio selkouutiset") or t.startswith("selkouutis"):
        return True
    if t in SERVICE_TITLES:
        return True
    return any(p.search(t) for p in WEATHER)


def yle_rows(path=YLE):
    """Eligible (key, title_fi, text_fi) triples in file order."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            title = rec["title_fi"].strip()
            if title and not yle_generic(title):
                out.append((f"yle:{rec['date']}:{rec['story_idx']}", title, rec["text_fi"]))
    return out


def sample(rows):
    return random.Random(SEED).sample(rows, N)


def train_sample(rows):
    """Training rows: seed TRAIN_SEED over the eligible rows minus the eval sample."""
    eval_keys = {key for key, _, _ in sample(rows)}
    pool = [r for r in rows if r[0] not in eval_keys]
    return random.Random(TRAIN_SEED).sample(pool, TRAIN_N)


def main(argv):
    show_text = "--text" in argv
    train = "--train" in argv
    paths = [a for a in argv if a not in ("--text", "--train")]
    g = guardian_rows(paths[0]) if len(paths) > 0 else guardian_rows()
    y = yle_rows(paths[1]) if len(paths) > 1 else yle_rows()
    if train:
        pick = train_sample
        print(f"# guardian eligible={len(g)} yle eligible={len(y)} seed={TRAIN_SEED} "
              f"n={TRAIN_N} train (eval seed={SEED} n={N} keys excluded)")
    else:
        pick = sample
        print(f"# guardian eligible={len(g)} yle eligible={len(y)} seed={SEED} n={N}")
    for lang, rows in (("en", g), ("fi", y)):
        for key, text, body in pick(rows):
            line = f"{key}\t{sha(text)}\t{lang}\t{' '.join(text.split())}"
            if show_text and body:
                line += "\t| " + " ".join(body.split())[:600]
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
