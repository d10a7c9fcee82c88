"""Score extracted facts against the seed gold facts and the hand-labelled gold set.

Runs the real pipeline steps (clean, publication-date inference, spaCy with the
entity ruler, the facts stage) on:
  * the two seed documents, against ../shared/gold/seed_facts.jsonl;
  * every passage of tests/gold/facts_gold.jsonl, against its labelled facts.
A fact matches a gold fact on kind, subject (canonical person key), sector,
counterpart, the year(s) of its period, and value or low/high; matching is
one-to-one. Writes bench/results/eval_facts.json.

    .venv/bin/python bench/eval_facts.py [--shared ../shared] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.entities import person_key  # noqa: E402
from pipeline.derived import build_stages  # noqa: E402
from pipeline.facts import fact_kinds, facts_version  # noqa: E402
from pipeline.fetch import fetch  # noqa: E402
from pipeline.ingest import clean_fetched, document_id_for  # noqa: E402
from pipeline.nlp import analyze_documents  # noqa: E402
from pipeline.records import BatchItem, CleanDocument, Source  # noqa: E402
from pipeline.sources import read_source_list, normalise_source_url  # noqa: E402

KINDS = fact_kinds()
PERIOD_YEARS = {"pandemic": (2020, 2022)}


def gold_years(fact: dict) -> tuple[int, int] | None:
    if fact.get("period_start") and fact.get("period_end"):
        return int(fact["period_start"][:4]), int(fact["period_end"][:4])
    if "period" in fact:
        label = str(fact["period"])
        return PERIOD_YEARS.get(label) or (int(label[:4]), int(label[:4]))
    if fact.get("year") is not None:
        return None if fact["year"] is None else (fact["year"], fact["year"])
    return None


def same_text(a, b) -> bool:
    norm = lambda x: (x or "").strip().lower() or None  # noqa: E731
    return norm(a) == norm(b)


def same_person(a, b) -> bool:
    if not a or not b:
        return not a and not b
    return (person_key(a) or a.lower()) == (person_key(b) or b.lower())


def same_number(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 0.5


def matches(gold: dict, row: dict) -> bool:
    if gold["kind"] != row["kind"]:
        return False
    if gold["kind"] in ("activity_count", "companion_count") and not same_person(gold.get("subject"), row["subject"]):
        return False
    if gold["kind"] == "activity_count" and not same_text(gold.get("sector"), row["sector"]):
        return False
    if not same_text(gold.get("counterpart"), row["counterpart"]):
        return False
    if gold["kind"] == "exchange_rate":
        unit = gold.get("unit") or f"{gold.get('quote', 'KPW')}/{gold.get('base', 'USD')}"
        if unit != row["unit"]:
            return False
    if gold["kind"] == "price" and gold.get("category") and not same_text(gold["category"], row["category"]):
        return False
    years = gold_years(gold)
    if years is not None:
        if row["period_start"] is None:
            return False
        found = (row["period_start"].year, row["period_end"].year)
        if years[1] != found[1] or (years[0] != years[1] and years[0] != found[0]):
            return False
    if gold.get("value") is not None:
        return same_number(gold["value"], row["value"])
    return same_number(gold.get("low"), row["low"]) and same_number(gold.get("high"), row["high"])


def match_all(golds: list[dict], rows: list[dict]) -> tuple[list[dict], list[dict], list[tuple[dict, dict]]]:
    unmatched_rows = list(rows)
    missed, pairs = [], []
    for gold in golds:
        hit = next((r for r in unmatched_rows if matches(gold, r)), None)
        if hit is None:
            missed.append(gold)
        else:
            unmatched_rows.remove(hit)
            pairs.append((gold, hit))
    return missed, unmatched_rows, pairs


def analyze(documents: list[CleanDocument]) -> list[list[dict]]:
    batch = [BatchItem(document_id_for(d), 0, d, None) for d in documents]
    analyzed = analyze_documents(batch, Config().nlp, build_stages(Config(base_dir=REPO)))
    return [list(a.derived_rows("facts")) for a in analyzed]


def seed_documents(shared: Path) -> dict[str, CleanDocument]:
    config = Config(base_dir=REPO)
    documents = {}
    for spec in read_source_list(REPO / "corpus" / "sources.toml"):
        if not spec.url.endswith(".txt"):
            continue
        url = normalise_source_url(spec.url)
        source = Source(0, url, spec.kind or "article", spec.name, spec.published, True, None)  # type: ignore[arg-type]
        [document] = clean_fetched(fetch(url, previous=None, config=config.fetch), source, config.clean).documents
        documents[Path(spec.url).name] = document
    return documents


def brief(row: dict) -> dict:
    keep = ("kind", "subject", "sector", "category", "counterpart", "place", "period_label", "value", "low",
            "high", "qualifier", "unit", "confidence")
    return {k: (str(row[k]) if isinstance(row.get(k), date) else row.get(k)) for k in keep}


def scores(by_kind: dict[str, list[int]]) -> dict:
    result = {}
    total = [0, 0, 0]
    for kind in KINDS:
        tp, fp, fn = by_kind.get(kind, [0, 0, 0])
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        result[kind] = _prf(tp, fp, fn)
    result["all"] = _prf(*total)
    return result


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def evaluate_seeds(shared: Path) -> dict:
    golds = [json.loads(line) for line in (shared / "gold" / "seed_facts.jsonl").read_text().splitlines() if line.strip()]
    documents = seed_documents(shared)
    names = sorted(documents)
    rows_by_doc = dict(zip(names, analyze([documents[n] for n in names])))
    found, spurious, missed = 0, [], []
    for name in names:
        gold_here = [g for g in golds if g["doc"] == name]
        miss, extra, pairs = match_all(gold_here, rows_by_doc[name])
        found += len(pairs)
        missed += [dict(g) for g in miss]
        spurious += [dict(brief(r), doc=name, text=r["sentence"][:200]) for r in extra]
    return {"gold_facts": len(golds), "found": found, "missed": missed, "spurious": spurious,
            "published": {n: [str(documents[n].published), documents[n].published_inferred] for n in names}}


def evaluate_gold_set(path: Path) -> dict:
    passages = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    documents = [
        CleanDocument(key=p["id"], url=f"gold:{p['id']}", title=None, author=None,
                      published=date.fromisoformat(p["published"]) if p.get("published") else None,
                      text=p["text"], format="text")
        for p in passages
    ]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errors = []
    for passage, rows in zip(passages, analyze(documents)):
        missed, extra, pairs = match_all(passage["facts"], rows)
        for gold, _ in pairs:
            by_kind[gold["kind"]][0] += 1
        for row in extra:
            by_kind[row["kind"]][1] += 1
        for gold in missed:
            by_kind[gold["kind"]][2] += 1
        if missed or extra:
            errors.append({"id": passage["id"], "text": passage["text"][:300],
                           "missed": missed, "spurious": [brief(r) for r in extra]})
    with_numbers_no_facts = sum(1 for p in passages if not p["facts"])
    return {"passages": len(passages), "passages_without_facts": with_numbers_no_facts,
            "constructed": sum(1 for p in passages if p.get("constructed")),
            "scores": scores(by_kind), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--gold", type=Path, default=REPO / "tests" / "gold" / "facts_gold.jsonl")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_facts.json")
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = evaluate_seeds(args.shared)
    gold = evaluate_gold_set(args.gold)
    result = {
        "command": "python bench/eval_facts.py",
        "extractor_version": facts_version(),
        "seeds": seeds,
        "gold_set": gold,
        "targets": {"seeds": "all 22 found, no spurious", "gold_set": "precision >= 0.95, recall >= 0.9"},
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"seeds: {seeds['found']}/{seeds['gold_facts']} found, {len(seeds['spurious'])} spurious")
    for kind, s in gold["scores"].items():
        print(f"gold {kind:<16} P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")


if __name__ == "__main__":
    main()
