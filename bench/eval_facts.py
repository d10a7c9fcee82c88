"""Score extracted facts on the seeds and the gold splits (tests/gold/SCHEMA.md).

Runs the real pipeline steps (clean, publication-date inference, spaCy with the entity ruler,
the facts stage) on:
  * the two seed documents, against ../shared/gold/seed_facts.jsonl (all 22 found, nothing spurious);
  * tests/gold/dev/ (read while writing rules), tests/gold/test/ (sealed: written blind, never
    read while tuning), tests/gold/paraphrase/ (sealed: dev passages rewritten three ways) and
    tests/gold/stress_facts/ (sealed: styles unlike wire copy, written blind from a brief).

A fact counts as right (``full``) only when kind, subject (same person in any romanisation),
sector, category, counterpart, place, unit (with its currency), qualifier, value (or low/high)
and the period's year are all right. ``lenient`` drops unit, qualifier (numbers still match);
``precise`` adds period_precision. Matching is one to one. Precision and recall per kind and
overall; the errors of dev are listed (the sealed splits' are not, so nobody reads them while tuning).

It also times fact extraction (without the parse) on a 1 MB number-heavy text.

    .venv/bin/python bench/eval_facts.py [--shared ../shared] [--out PATH] [--label NAME] [--speed-chars N]
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
from pipeline.derived import build_stages  # noqa: E402
from pipeline.entities import person_key  # noqa: E402
from pipeline.facts import fact_kinds, facts_version  # noqa: E402
from pipeline.fetch import fetch  # noqa: E402
from pipeline.ingest import clean_fetched, document_id_for  # noqa: E402
from pipeline.nlp import analyze_documents  # noqa: E402
from pipeline.records import BatchItem, CleanDocument, Source  # noqa: E402
from pipeline.sources import normalise_source_url, read_source_list  # noqa: E402

GOLD = REPO / "tests" / "gold"
SPLITS = ("dev", "test", "paraphrase", "stress_facts")
MODES = ("lenient", "full", "precise")
BUILT_IN_KINDS = ("activity_count", "companion_count", "exchange_rate", "price")


# --- matching ----------------------------------------------------------------------------------


def _text(value) -> str | None:
    if value in (None, ""):
        return None
    return " ".join(str(value).lower().split()) or None


def _person(name) -> str | None:
    return (person_key(name) or name.lower()) if name else None


def _number(value) -> float | None:
    return None if value is None else round(float(value), 2)


def _year(row: dict) -> int | None:
    end = row.get("period_end")
    if end is None:
        return None
    return end.year if isinstance(end, date) else int(str(end)[:4])


def key(fact: dict, mode: str) -> tuple:
    """What must agree between a gold fact and an extracted one, in ``mode``."""
    core = (fact["kind"], _person(fact.get("subject")), _text(fact.get("sector")), _text(fact.get("category")),
            _text(fact.get("counterpart")), _text(fact.get("place")), _year(fact))
    numbers = tuple(_number(fact.get(name)) for name in ("value", "low", "high"))
    if mode == "lenient":
        return core + (tuple(sorted(n for n in numbers if n is not None)),)
    full = core + numbers + (fact.get("unit"), fact.get("qualifier"))
    return full + (fact.get("period_precision"),) if mode == "precise" else full


def match(golds: list[dict], rows: list[dict], mode: str) -> tuple[list[dict], list[dict], int]:
    """(missed gold facts, spurious rows, matched count), one to one."""
    left = [key(r, mode) for r in rows]
    unmatched = list(range(len(rows)))
    missed, found = [], 0
    for gold in golds:
        wanted = key(gold, mode)
        hit = next((i for i in unmatched if left[i] == wanted), None)
        if hit is None:
            missed.append(gold)
        else:
            unmatched.remove(hit)
            found += 1
    return missed, [rows[i] for i in unmatched], found


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


# --- running the pipeline ----------------------------------------------------------------------


def analyze(documents: list[CleanDocument]) -> list[list[dict]]:
    batch = [BatchItem(document_id_for("gold", d.url), 0, d, None) for d in documents]
    analyzed = analyze_documents(batch, Config().nlp, build_stages(Config(base_dir=REPO)))
    return [list(a.derived_rows("facts")) for a in analyzed]


def passages_of(split: str) -> list[dict]:
    return [dict(json.loads(line), _file=path.name) for path in sorted((GOLD / split).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_split(split: str, show_errors: bool) -> dict:
    passages = passages_of(split)
    documents = [CleanDocument(key=p["id"], url=f"gold:{p['id']}", title=None, author=None,
                               published=date.fromisoformat(p["published"]) if p.get("published") else None,
                               text=p["text"], format="text") for p in passages]
    extracted = analyze(documents) if documents else []
    kinds = sorted(set(BUILT_IN_KINDS) | set(fact_kinds()))
    result: dict = {"passages": len(passages), "facts": sum(len(p["facts"]) for p in passages),
                    "passages_without_facts": sum(1 for p in passages if not p["facts"])}
    for mode in MODES:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        by_file: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        errors = []
        for passage, rows in zip(passages, extracted):
            for kind in kinds:
                golds = [g for g in passage["facts"] if g["kind"] == kind]
                mine = [r for r in rows if r["kind"] == kind]
                missed, spurious, found = match(golds, mine, mode)
                tally = counts[kind]
                tally[0], tally[1], tally[2] = tally[0] + found, tally[1] + len(spurious), tally[2] + len(missed)
                per_file = by_file[passage.get("_file", split)]
                per_file[0], per_file[1], per_file[2] = (per_file[0] + found, per_file[1] + len(spurious),
                                                         per_file[2] + len(missed))
                if show_errors and (missed or spurious) and mode == "full":
                    errors.append({"id": passage["id"], "text": passage["text"][:400], "missed": missed,
                                   "spurious": [brief(r) for r in spurious]})
        total = [sum(c[i] for c in counts.values()) for i in range(3)]
        result[mode] = {**{k: _prf(*counts[k]) for k in kinds if any(counts[k])}, "all": _prf(*total)}
        if mode == "full":
            result["full_by_file"] = {name: _prf(*c) for name, c in sorted(by_file.items())}
        if show_errors and mode == "full":
            result["errors"] = errors
    return result


def brief(row: dict) -> dict:
    keep = ("kind", "subject", "sector", "category", "counterpart", "place", "period_start", "period_end",
            "period_precision", "value", "low", "high", "qualifier", "unit", "confidence")
    return {k: (str(row[k]) if isinstance(row.get(k), date) else row.get(k)) for k in keep if k in row}


# --- the seeds (their own format: year or period, no bounds) -----------------------------------


def seed_matches(gold: dict, row: dict) -> bool:
    if gold["kind"] != row["kind"] or _person(gold.get("subject")) != _person(row.get("subject")):
        return False
    if gold["kind"] == "activity_count" and _text(gold.get("sector")) != _text(row.get("sector")):
        return False
    if _text(gold.get("counterpart")) != _text(row.get("counterpart")):
        return False
    years = {"pandemic": (2020, 2022)}.get(str(gold.get("period")), None)
    if years is None and (gold.get("year") or gold.get("period")):
        year = int(str(gold.get("year") or gold.get("period"))[:4])
        years = (year, year)
    if years is not None:
        if row.get("period_start") is None:
            return False
        if (years[0] != years[1] and years[0] != row["period_start"].year) or years[1] != row["period_end"].year:
            return False
    numbers = [_number(gold.get(k)) for k in ("value", "low", "high")]
    return numbers == [_number(row.get(k)) for k in ("value", "low", "high")]


def seed_documents() -> dict[str, CleanDocument]:
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


def evaluate_seeds(shared: Path) -> dict:
    golds = [json.loads(line) for line in (shared / "gold" / "seed_facts.jsonl").read_text().splitlines() if line.strip()]
    documents = seed_documents()
    names = sorted(documents)
    found, spurious, missed = 0, [], []
    for name, rows in zip(names, analyze([documents[n] for n in names])):
        left = list(rows)
        for gold in (g for g in golds if g["doc"] == name):
            hit = next((r for r in left if seed_matches(gold, r)), None)
            if hit is None:
                missed.append(gold)
            else:
                left.remove(hit)
                found += 1
        spurious += [dict(brief(r), doc=name, text=r["sentence"][:200]) for r in left]
    return {"gold_facts": len(golds), "found": found, "missed": missed, "spurious": spurious}


# --- speed on bad input ------------------------------------------------------------------------


def number_heavy_text(chars: int, seed: int = 11) -> str:
    """Reporting-like text full of numbers, tallies, prices and broken punctuation (no gold: timing only)."""
    import random

    rng = random.Random(seed)
    templates = [
        "Kim Jong Un made {a} public appearances in {y}, {b} of them military ({c} in {y0}).",
        "Rice sold for {n:,} won per kg in Pyongyang and {m:,} won in Sinuiju.The dollar traded at {n:,} won",
        "Production rose {a}.{b}% to {n:,} tons in {y}, the {a}th straight year (up {b}% from {y0}",
        "Table {a} | {n:,} | {b}.{a}% | {y} | {m:,} won | {c} times",
        "Related: {a} workers honoured; {b} visits to farms; the {a}th plenum opens",
        "Of these, {a} were economic, {b} political and {c} military events, and he was accompanied by Kim Yo Jong {b} times.",
    ]
    parts, size = [], 0
    while size < chars:
        part = rng.choice(templates).format(a=rng.randint(1, 99), b=rng.randint(1, 60), c=rng.randint(1, 40),
                                            n=rng.randint(100, 99_999), m=rng.randint(100, 99_999),
                                            y=rng.randint(2012, 2025), y0=rng.randint(2000, 2011))
        parts.append(part)
        size += len(part) + 1
    return " \n".join(parts)[:chars]


def extraction_speed(chars: int) -> dict:
    """Seconds of fact extraction (not parsing) per 100 KB of number-heavy text; the target is under 2."""
    from dataclasses import replace

    stages = [s for s in build_stages(Config(base_dir=REPO)) if s.name == "facts"]
    spent = [0.0]

    def timed(parsed, extract=stages[0].per_document):
        started = time.perf_counter()
        try:
            return extract(parsed)
        finally:
            spent[0] += time.perf_counter() - started

    text = number_heavy_text(chars)
    document = CleanDocument(key="speed", url="bench:speed", title=None, author=None, published=date(2025, 6, 1),
                             text=text, format="text")
    started = time.perf_counter()
    [analyzed] = analyze_documents([BatchItem("speed", 0, document, None)], Config().nlp,
                                   [replace(stages[0], per_document=timed)])
    return {"chars": len(text), "facts_found": len(list(analyzed.derived_rows("facts"))),
            "extraction_s": round(spent[0], 2), "parse_and_extraction_s": round(time.perf_counter() - started, 1),
            "extraction_s_per_100kb": round(spent[0] / (len(text) / 100_000), 3), "target_s_per_100kb": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_facts.json")
    parser.add_argument("--label", default="current", help="what is measured (e.g. the extractor's name)")
    parser.add_argument("--speed-chars", type=int, default=1_000_000,
                        help="size of the number-heavy text timed (0: no timing)")
    args = parser.parse_args()
    started = time.perf_counter()
    result = {"command": "python bench/eval_facts.py " + " ".join(sys.argv[1:]), "label": args.label,
              "extractor_version": facts_version(), "seeds": evaluate_seeds(args.shared)}
    for split in SPLITS:
        result[split] = evaluate_split(split, show_errors=split == "dev")
    if args.speed_chars:
        result["speed"] = extraction_speed(args.speed_chars)
    result["targets"] = {"seeds": "all 22 found, nothing spurious",
                         "test, paraphrase": "precision >= 0.95 and recall >= 0.90 for every kind (full)"}
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    seeds = result["seeds"]
    print(f"seeds: {seeds['found']}/{seeds['gold_facts']} found, {len(seeds['spurious'])} spurious")
    for split in SPLITS:
        for mode in MODES:
            scores = result[split][mode]
            line = "  ".join(f"{k} P {s['precision']:.2f} R {s['recall']:.2f}" for k, s in scores.items())
            print(f"{split:<10} {mode:<8} {line}")
    for split in SPLITS:
        files = result[split].get("full_by_file", {})
        if len(files) > 1:
            print(f"{split:<10} by file  " + "  ".join(f"{name} P {s['precision']:.2f} R {s['recall']:.2f}"
                                                 for name, s in files.items()))
    if "speed" in result:
        speed = result["speed"]
        print(f"speed: {speed['extraction_s_per_100kb']} s of extraction per 100 KB "
              f"({speed['chars']:,} characters, {speed['facts_found']} facts)")


if __name__ == "__main__":
    main()
