"""Evaluate the shipped sector model and a keyword baseline on the hand-labelled test split.

Reports macro-F1, per-sector precision/recall/F1, the confusion matrix and the
expected calibration error (ECE, 10 bins, top label) for the model in
models/sector and for the keyword baseline; the same for every candidate design
(fitted on the training split) for comparison; the test split broken down into
the natural sample and the keyword-prefiltered top-up; and the speed of the
sector stage in documents per second. Writes bench/results/eval_sectors.json.

    .venv/bin/python bench/eval_sectors.py [--designs] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.records import SECTORS, AnalyzedDocument  # noqa: E402
from pipeline.sectors import (  # noqa: E402
    DESIGNS,
    evaluate_predictions,
    keyword_baseline,
    load_hand_labels,
    load_model,
    fit_design,
    sector_rows_of_batch,
    unlabelled_texts,
)
from pipeline.source_types.kcna_archive import clean_kcna_archive  # noqa: E402
from pipeline.train import evaluate_model  # noqa: E402

TOP_UP_FILE = "kcna_part3.jsonl"  # items pulled in by a broad keyword search to add military/social/political


def top_up_ids(labels_dir: Path) -> set[str]:
    path = labels_dir / TOP_UP_FILE
    return {json.loads(line)["unit_id"] for line in path.read_text().splitlines() if line.strip()} if path.exists() else set()


def stage_speed(model, limit: int = 500) -> dict:
    documents = clean_kcna_archive((REPO / "corpus" / "kcna" / "headlines_2024-11-11.json").read_bytes()).documents[:limit]
    analyzed = [AnalyzedDocument(str(i), 0, d, (), 0) for i, d in enumerate(documents)]
    started = time.perf_counter()
    rows = sum(len(r) for start in range(0, len(analyzed), 200)
               for r in sector_rows_of_batch(model, analyzed[start:start + 200]))
    seconds = time.perf_counter() - started
    return {"documents": len(analyzed), "label_rows": rows, "seconds": round(seconds, 2),
            "documents_per_s": round(len(analyzed) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", action="store_true", help="also fit and score every candidate design")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_sectors.json")
    args = parser.parse_args()
    labels_dir = REPO / "corpus" / "labels"
    units = load_hand_labels(labels_dir, REPO / "corpus")
    train = [u for u in units if u.split == "train"]
    test = [u for u in units if u.split == "test"]
    model = load_model(REPO / "models" / "sector")
    result = {
        "command": "python bench/eval_sectors.py" + (" --designs" if args.designs else ""),
        "model_version": model.version, "design": model.card["design"],
        "units": {"train": len(train), "test": len(test),
                  "test_per_sector": {s: sum(u.sector == s for u in test) for s in SECTORS}},
        "model": evaluate_model(model.pipeline, test),
        "keyword_baseline": evaluate_predictions([u.sector for u in test], keyword_baseline([u.text for u in test])),
        "targets": {"macro_f1": ">= 0.85", "every_sector_f1": ">= 0.7", "ece": "<= 0.05"},
    }
    extra = top_up_ids(labels_dir)
    natural = [u for u in test if u.unit_id not in extra]
    topped = [u for u in test if u.unit_id in extra]
    result["model_by_sample"] = {
        "natural_sample": evaluate_model(model.pipeline, natural) if natural else None,
        "keyword_prefiltered_top_up": evaluate_model(model.pipeline, topped) if topped else None,
    }
    if args.designs:
        result["designs_on_test"] = {}
        pool = unlabelled_texts(REPO / "corpus", units)
        for design in DESIGNS:
            fitted = fit_design(design, [u.text for u in train], [u.sector for u in train], pool)
            result["designs_on_test"][design] = {k: v for k, v in evaluate_model(fitted, test).items()
                                                 if k in ("macro_f1", "accuracy", "ece")}
    result["cross_validation_at_training"] = model.card["metrics"]["cross_validation"]
    result["stage_speed"] = stage_speed(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    m, k = result["model"], result["keyword_baseline"]
    print(f"model {model.version}: macro-F1 {m['macro_f1']:.3f}, ECE {m['ece']:.3f}; "
          f"keyword baseline macro-F1 {k['macro_f1']:.3f}")
    for sector in SECTORS:
        print(f"  {sector:<10} F1 {m['per_sector'][sector]['f1']:.3f} (n={m['per_sector'][sector]['support']})")
    print(f"stage: {result['stage_speed']['documents_per_s']} documents/s")


if __name__ == "__main__":
    main()
