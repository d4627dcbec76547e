#!/usr/bin/env python3
"""Quality figures of weaksignal's signals on the shared corpora.

usage: scripts/signal_quality.py OUT_DIR
OUT_DIR holds the JSON that scripts/signal-quality.sh dumped: default.json
(`signals --json` as of the default run's date), asof-DATE.json (weak,
emerging and recurring signals as of each Friday of December 2024 and
2025 and of June to August 2025) and guardian-weekly.json (the weekly
Guardian backtest). Prints the figures BENCHMARKS.md quotes.

The seasonal word lists were written before the December and summer
figures were looked at; a signal is seasonal when one of its keywords
contains one of them.
"""
import glob
import json
import os
import sys

HOLIDAY = ["joulu", "uudenvuo", "uusivuosi", "uusi vuosi", "vuodenvaih", "itsenäisyyspäiv",
           "tapanin", "pikkujoulu", "aatto", "aaton", "christmas", "new year",
           "independence day", "boxing day", "stephen"]
SUMMER = ["helle", "helte", "hellevaroit", "ukkos", "ukkon", "kuumuu", "kuuma", "tukala",
          "aurinkois", "lämpöaal", "juhannus"]


def seasonal(signal, words):
    keys = [k.lower() for k in signal.get("keywords", [])] + [signal["label"].lower()]
    return [w for w in words if any(w in k for k in keys)]


def main(out):
    default = json.load(open(os.path.join(out, "default.json")))
    print(f"default run as of {default['as_of'][:10]}: "
          f"window_docs={default.get('window_docs', '-')} thin={default.get('thin', '-')}")
    for i, s in enumerate(default["signals"][:20], 1):
        print(f"  {i:>2}. {s['class']:<9} {s['level']:<5} {s['recent_docs']:>3} docs "
              f"{s.get('sources', '-')} src  q={s.get('q_value', '-')!s:<8.8} {s['label']}")
    few = [s["label"] for s in default["signals"][:20] if s["recent_docs"] < 3]
    print(f"  top-20 signals on fewer than 3 documents: {len(few)} {few}")
    rows = []
    for f in sorted(glob.glob(os.path.join(out, "asof-*.json"))):
        day = os.path.basename(f)[5:15]
        r = json.load(open(f))
        words = HOLIDAY if day[5:7] == "12" else SUMMER
        flagged = [s for s in r["signals"] if s["class"] in ("weak", "emerging")]
        hits = [(s["class"], s["label"]) for s in flagged if seasonal(s, words)]
        recurring = [s["label"] for s in r["signals"] if s["class"] == "recurring"]
        rows.append((day, len(flagged), hits, recurring))
    for season, months in (("December 2024 and 2025", ("12",)), ("June-August 2025", ("06", "07", "08"))):
        sel = [r for r in rows if r[0][5:7] in months]
        n = sum(len(r[2]) for r in sel)
        print(f"{season}: {n} seasonal weak/emerging signals over {len(sel)} as-of dates "
              f"({sum(r[1] for r in sel)} weak/emerging in all)")
        for day, total, hits, recurring in sel:
            print(f"  {day}: {total:>3} weak/emerging; seasonal: {hits}; recurring: {recurring[:6]}")
    g = json.load(open(os.path.join(out, "guardian-weekly.json")))
    p = g.get("weak_precision")
    print(f"Guardian weekly backtest {g['from'][:10]}..{g['to'][:10]}: weak topic flags followed "
          f"{g['weak_flags_evaluated']}, tripled within 8 weeks {p if p is None else round(100 * p, 1)}%")
    for key in ("weak_term_precision", "ranking"):
        if key in g:
            print(f"  {key}: {json.dumps(g[key])[:600]}")
    for e in g["events"]:
        t, m = e.get("topic"), e.get("term")
        print(f"  {e['name']}: topics {t and (t['as_of'][:10], t['class'], t['rank'])} "
              f"terms {m and (m['as_of'][:10], m['class'], m['rank'])}")


if __name__ == "__main__":
    main(sys.argv[1])
