"""The market series built from extracted facts against the one built from the gold facts.

For every gold split (dev, test, paraphrase, stress_facts: tests/gold/SCHEMA.md), the passages with a
market fact are run through the real pipeline steps (as bench/eval_facts.py does); ``pipeline.series``
then builds points from the gold facts and from the extracted ones, each passage its own outlet. A point
agrees when its measure, place, survey period and value are the same; a month cell (measure, place,
month) when its median across passages is the same. Precision: the share of the extracted series'
points (cells) that the gold series has; recall: the share of the gold series' points (cells) found.
Sealed splits are scored, never listed.

    .venv/bin/python bench/eval_series.py [--out bench/results/eval_series.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.eval_facts import SPLITS, analyze, passages_of  # noqa: E402
from pipeline.records import CleanDocument  # noqa: E402
from pipeline.series import build_points, measure_of, monthly  # noqa: E402

MARKET_KINDS = ("exchange_rate", "price")


def as_stored(fact: dict, passage: dict) -> dict:
    """A gold or extracted fact as ``query_facts`` would give it, the passage as its document and outlet."""
    published = date.fromisoformat(passage["published"]) if passage.get("published") else None
    period = {k: date.fromisoformat(fact[k]) if isinstance(fact.get(k), str) else fact.get(k)
              for k in ("period_start", "period_end")}
    return {**fact, **period, "document_id": passage["id"], "document_url": None, "source_name": passage["id"],
            "document_published": published}


def _points(facts: list[dict]) -> dict[tuple, float]:
    return {(p.measure, p.place, p.survey_start, p.survey_end, p.outlet): p.value for p in build_points(facts).points}


def _cells(facts: list[dict]) -> dict[tuple, float]:
    return {(m.measure, m.place, m.month): m.median for m in monthly(build_points(facts).points, 1.0)}


def agreement(gold: dict, found: dict) -> dict:
    same = sum(1 for key, value in found.items() if key in gold and abs(gold[key] - value) < 1e-6)
    return {"gold": len(gold), "extracted": len(found), "agree": same,
            "precision": round(same / len(found), 4) if found else None,
            "recall": round(same / len(gold), 4) if gold else None}


def evaluate(split: str) -> dict:
    passages = [p for p in passages_of(split)
                if any(f["kind"] in MARKET_KINDS and measure_of(f) for f in p["facts"])]
    documents = [CleanDocument(key=p["id"], url=f"gold:{p['id']}", title=None, author=None,
                               published=date.fromisoformat(p["published"]) if p.get("published") else None,
                               text=p["text"], format="text") for p in passages]
    extracted = analyze(documents) if documents else []
    gold = [as_stored(f, p) for p in passages for f in p["facts"] if f["kind"] in MARKET_KINDS]
    found = [as_stored(f, p) for p, rows in zip(passages, extracted) for f in rows if f["kind"] in MARKET_KINDS]
    return {"passages": len(passages), "points": agreement(_points(gold), _points(found)),
            "month_cells": agreement(_cells(gold), _cells(found))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_series.json")
    args = parser.parse_args()
    started = time.perf_counter()
    result = {"command": "python bench/eval_series.py " + " ".join(sys.argv[1:])}
    for split in SPLITS:
        result[split] = evaluate(split)
        points, cells = result[split]["points"], result[split]["month_cells"]
        print(f"{split:<13} {result[split]['passages']:>4} passages  points P {points['precision']} R {points['recall']} "
              f"({points['agree']} of {points['gold']} gold, {points['extracted']} extracted)  "
              f"month cells P {cells['precision']} R {cells['recall']}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
