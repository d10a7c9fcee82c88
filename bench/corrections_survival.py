"""How many reviewers' fact corrections survive a change of fact extractor.

The fixture ``tests/fixtures/legacy_fact_corrections.json`` holds the seed documents and the
dev gold passages, the facts the legacy regex extractor (before issue 14) drew from them, and
the corrections a reviewer would have made on those facts with the gold at hand: a fact
matching no gold fact's number is rejected; one with the right number but a wrong subject,
sector or year is edited to the gold's (in the seeds, whose gold is not exhaustive in that
form, a fact the gold does not hold is rejected). This script stores the documents with the legacy
facts, records the corrections as the legacy code stored them (a fingerprint of kind,
period label, subject and value), runs the current extractor over the same documents (as a
re-run after an upgrade does) and counts what became of each correction: kept on the same
fact, re-anchored to the new fact of the same number, or lapsed (listed at /review/lapsed).

    .venv/bin/python bench/corrections_survival.py [--out bench/results/corrections_survival.json]
    .venv/bin/python bench/corrections_survival.py --make-fixture --legacy /tmp/legacy   # rebuild the fixture

``--make-fixture`` needs a worktree of the legacy commit (``git worktree add /tmp/legacy 12de5ae``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIXTURE = REPO / "tests" / "fixtures" / "legacy_fact_corrections.json"
LEGACY_FINGERPRINT = ("kind", "period_label", "subject", "value")
_DATE_FIELDS = ("period_start", "period_end")


# --- the fixture -------------------------------------------------------------------------------


def fixture_documents() -> list[dict]:
    """The seed documents and the dev gold passages, with their gold facts."""
    sys.path.insert(0, str(REPO / "bench"))
    from eval_facts import passages_of, seed_documents

    seed_gold = [json.loads(line) for line in (REPO.parent / "shared" / "gold" / "seed_facts.jsonl")
                 .read_text(encoding="utf-8").splitlines() if line.strip()]
    documents = [{"key": f"seed:{name}", "url": f"seed:{name}", "text": d.text,
                  "published": d.published.isoformat() if d.published else None,
                  "seed_gold": [g for g in seed_gold if g["doc"] == name]}
                 for name, d in sorted(seed_documents().items())]
    documents += [{"key": f"dev:{p['id']}", "url": f"gold:{p['id']}", "text": p["text"],
                   "published": p.get("published"), "gold": p["facts"]} for p in passages_of("dev")]
    return documents


def reviewer_decision(row: dict, document: dict) -> dict | None:
    """What a reviewer with the gold at hand does with one extracted fact: nothing, an edit or a reject.

    The seeds' gold has its own format (years, no bounds): a seed fact it holds is left alone, any other rejected.
    """
    sys.path.insert(0, str(REPO / "bench"))
    from eval_facts import key, seed_matches

    if "seed_gold" in document:
        parsed = _fact_row(row)
        return None if any(seed_matches(gold, parsed) for gold in document["seed_gold"]) else {"action": "reject"}
    golds = document["gold"]
    if any(key(gold, "full") == key(row, "full") for gold in golds):
        return None
    numbers = ("value", "low", "high")
    same_number = [g for g in golds if g["kind"] == row["kind"]
                   and all(_round(g.get(n)) == _round(row.get(n)) for n in numbers)]
    if not same_number:
        return {"action": "reject"}
    gold = same_number[0]
    edit = {}
    if (gold.get("subject") or None) != (row.get("subject") or None):
        edit["subject"] = gold.get("subject")
    if (gold.get("sector") or None) != (row.get("sector") or None):
        edit["sector"] = gold.get("sector")
    if gold.get("period_end") and str(gold["period_end"])[:4] != str(row.get("period_end") or "")[:4]:
        edit.update(period_start=gold.get("period_start"), period_end=gold["period_end"],
                    period_label=str(gold["period_end"])[:4])
    return {"action": "set", "new_value": edit} if edit else None


def _round(value) -> float | None:
    return None if value is None else round(float(value), 2)


def make_fixture(legacy: Path) -> None:
    documents = fixture_documents()
    with tempfile.TemporaryDirectory() as folder:
        given, extracted = Path(folder) / "documents.json", Path(folder) / "rows.json"
        given.write_text(json.dumps([{k: d[k] for k in ("key", "url", "text", "published")} for d in documents]))
        subprocess.run([sys.executable, str(REPO / "bench" / "extract_fact_rows.py"), str(given), str(extracted)],
                       env={**os.environ, "PYTHONPATH": str(legacy)}, cwd=legacy, check=True)
        legacy_rows = json.loads(extracted.read_text())
    for document in documents:
        rows = legacy_rows["rows"][document["key"]]
        document["legacy_facts"] = rows
        document["corrections"] = [{"fact": index, **decision} for index, row in enumerate(rows)
                                   if (decision := reviewer_decision(row, document)) is not None]
        document.pop("gold", None)
        document.pop("seed_gold", None)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps({"legacy_extractor": legacy_rows["extractor_version"],
                                   "made_by": "python bench/corrections_survival.py --make-fixture --legacy PATH",
                                   "documents": documents}, indent=1) + "\n", encoding="utf-8")
    count = sum(len(d["corrections"]) for d in documents)
    print(f"{FIXTURE.relative_to(REPO)}: {len(documents)} documents, "
          f"{sum(len(d['legacy_facts']) for d in documents)} legacy facts, {count} corrections")


# --- the measurement ---------------------------------------------------------------------------


def _clean_document(document: dict):
    from pipeline.records import CleanDocument

    published = date.fromisoformat(document["published"]) if document["published"] else None
    return CleanDocument(key=document["key"], url=document["url"], title=document["key"], author=None,
                         published=published, text=document["text"], format="text")


def _fact_row(row: dict) -> dict:
    return {**row, **{name: date.fromisoformat(row[name]) if row.get(name) else None for name in _DATE_FIELDS}}


def store_legacy_run(store, source_id: int, documents: list[dict]) -> list:
    """The documents stored as the legacy extractor left them."""
    from pipeline.records import AnalyzedDocument
    from pipeline.store import persist

    analyzed = [AnalyzedDocument(f"doc-{index}", source_id, _clean_document(d), (), len(d["text"].split()),
                                 derived=(("facts", tuple(_fact_row(r) for r in d["legacy_facts"])),))
                for index, d in enumerate(documents)]
    persist.write_documents(store, None, analyzed, "legacy", "legacy")
    return analyzed


def record_legacy_corrections(store, documents: list[dict], legacy_format: bool) -> list[int]:
    """Record each document's corrections on its legacy facts; ids of the stored corrections."""
    import sqlalchemy as sa

    from pipeline.corrections import Correction, record_correction
    from pipeline.keys import fact_key
    from pipeline.store.db import corrections

    ids = []
    for document in documents:
        text_hash = _clean_document(document).text_hash
        rows = document["legacy_facts"]
        for correction in document["corrections"]:
            row = rows[correction["fact"]]
            same_span = [r for r in rows if (r["start_char"], r["end_char"], r["kind"]) ==
                         (row["start_char"], row["end_char"], row["kind"])]
            key = fact_key(text_hash, row["start_char"], row["end_char"], row["kind"],
                           next(i for i, r in enumerate(same_span) if r is row))
            ids.append(record_correction(store, Correction(key, correction["action"], "reviewer",
                                                           correction.get("new_value"))))
    if legacy_format:  # the legacy code kept four fields in a fingerprint
        with store.writing() as conn:
            for correction_id, old_value in conn.execute(sa.select(corrections.c.id, corrections.c.old_value)):
                old = json.loads(old_value)
                old["fingerprint"] = {k: old["fingerprint"][k] for k in LEGACY_FINGERPRINT}
                conn.execute(corrections.update().where(corrections.c.id == correction_id)
                             .values(old_value=json.dumps(old, sort_keys=True)))
    return ids


def rerun_with_current_extractor(store, analyzed: list) -> None:
    from pipeline.config import Config
    from pipeline.derived import build_stages
    from pipeline.nlp import analyze_documents
    from pipeline.records import BatchItem
    from pipeline.store import persist

    config = Config(base_dir=REPO)
    batch = [BatchItem(a.document_id, a.source_id, a.document, None) for a in analyzed]
    current = analyze_documents(batch, config.nlp, build_stages(config))
    persist.write_documents(store, None, [replace(a, derived=(("facts", tuple(a.derived_rows("facts"))),))
                                          for a in current], "current", "current")


def survival(store, correction_ids: list[int]) -> dict:
    """What became of each original correction: kept, re-anchored or lapsed (by action)."""
    import sqlalchemy as sa

    from pipeline.store.correction_rows import correction_state
    from pipeline.store.db import corrections

    counts: Counter = Counter()
    with store.reading() as conn:
        for correction_id in correction_ids:
            row = conn.execute(sa.select(corrections).where(corrections.c.id == correction_id)).one()
            state = correction_state(conn, row)
            if state == "re-anchored":
                successor = conn.execute(sa.select(corrections).where(corrections.c.id == row.superseded_by)).one()
                state = "re-anchored" if correction_state(conn, successor) == "applied" else "re-anchored, not holding"
            counts[(row.action, {"applied": "kept"}.get(state, state))] += 1
    by_state: Counter = Counter()
    for (_, state), number in counts.items():
        by_state[state] += number
    return {"corrections": len(correction_ids), **dict(sorted(by_state.items())),
            "by_action": {f"{action} {state}": number for (action, state), number in sorted(counts.items())}}


def measure(documents: list[dict], legacy_format: bool) -> dict:
    from pipeline.store import ledger, open_store

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'survival.db'}")
        source = ledger.add_source(store, "bench:legacy", "article", None, None)
        analyzed = store_legacy_run(store, source.id, documents)
        ids = record_legacy_corrections(store, documents, legacy_format)
        rerun_with_current_extractor(store, analyzed)
        result = survival(store, ids)
        store.engine.dispose()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "corrections_survival.json")
    parser.add_argument("--make-fixture", action="store_true", help="rebuild the fixture with --legacy's extractor")
    parser.add_argument("--legacy", type=Path, help="a worktree of the legacy commit (for --make-fixture)")
    args = parser.parse_args()
    if args.make_fixture:
        if not args.legacy:
            parser.error("--make-fixture needs --legacy PATH (git worktree add PATH 12de5ae)")
        make_fixture(args.legacy)
        return
    from pipeline.facts import facts_version

    started = time.perf_counter()
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    documents = fixture["documents"]
    result = {"command": "python bench/corrections_survival.py " + " ".join(sys.argv[1:]),
              "fixture": str(FIXTURE.relative_to(REPO)), "legacy_extractor": fixture["legacy_extractor"],
              "current_extractor": facts_version(), "documents": len(documents),
              "legacy_facts": sum(len(d["legacy_facts"]) for d in documents),
              "legacy_fingerprints": measure(documents, legacy_format=True),
              "current_fingerprints": measure(documents, legacy_format=False)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in ("legacy_fingerprints", "current_fingerprints"):
        counts = result[name]
        print(f"{name}: {counts['corrections']} corrections: "
              + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("kept", "re-anchored", "lapsed")))


if __name__ == "__main__":
    main()
