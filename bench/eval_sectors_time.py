"""The sector designs evaluated forward in time, as the model is used: on months it has not seen.

Hand-labelled KCNA units are split by their report date: the earliest months train every
design, the next month (validation) chooses one, and the latest months (test) score the
chosen design once, refitted on training and validation together. The test months are never
used to choose. Macro-F1, per-sector F1 and ECE (10 bins, top label) for each step; the
random split's scores are in bench/results/eval_sectors.json. Writes
bench/results/eval_sectors_time.json.

    .venv/bin/python bench/eval_sectors_time.py [--validation-from 2024-10-01] [--test-from 2024-10-21]
                                                [--designs D ...] [--labels DIR] [--out PATH]
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

from pipeline.records import SECTORS  # noqa: E402
from pipeline.sectors import DESIGNS, fit_design, load_hand_labels  # noqa: E402
from pipeline.train import evaluate_model  # noqa: E402

ARCHIVE = REPO / "corpus" / "kcna" / "headlines_2024-11-11.json"


def report_dates() -> dict[str, date]:
    return {item["link"]: date.fromisoformat(item["date_str"]) for item in json.loads(ARCHIVE.read_text())}


def summary(metrics: dict) -> dict:
    return {"macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"], "ece": metrics["ece"],
            "per_sector_f1": {s: metrics["per_sector"][s]["f1"] for s in SECTORS},
            "support": {s: metrics["per_sector"][s]["support"] for s in SECTORS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation-from", type=date.fromisoformat, default=date(2024, 10, 1))
    parser.add_argument("--test-from", type=date.fromisoformat, default=date(2024, 10, 21))
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS))
    parser.add_argument("--labels", type=Path, default=REPO / "corpus" / "labels")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "eval_sectors_time.json")
    args = parser.parse_args()
    dated = report_dates()
    units = [u for u in load_hand_labels(args.labels, REPO / "corpus") if u.unit_id in dated]
    train = [u for u in units if dated[u.unit_id] < args.validation_from]
    validation = [u for u in units if args.validation_from <= dated[u.unit_id] < args.test_from]
    test = [u for u in units if dated[u.unit_id] >= args.test_from]
    started = time.perf_counter()
    on_validation = {}
    for design in args.designs:
        fitted = fit_design(design, [u.text for u in train], [u.sector for u in train])
        on_validation[design] = summary(evaluate_model(fitted, validation))
        print(f"{design:<24} validation macro-F1 {on_validation[design]['macro_f1']:.3f} "
              f"ECE {on_validation[design]['ece']:.3f}", flush=True)
    chosen = max(args.designs, key=lambda d: (on_validation[d]["macro_f1"], -on_validation[d]["ece"]))
    seen = train + validation
    final = fit_design(chosen, [u.text for u in seen], [u.sector for u in seen])
    on_test = summary(evaluate_model(final, test))
    result = {
        "command": "python bench/eval_sectors_time.py " + " ".join(sys.argv[1:]),
        "split": {"train": f"before {args.validation_from}", "validation": f"{args.validation_from} to {args.test_from}",
                  "test": f"from {args.test_from} (sealed: scored once, never used to choose)"},
        "units": {"train": len(train), "validation": len(validation), "test": len(test),
                  "test_per_sector": {s: sum(u.sector == s for u in test) for s in SECTORS}},
        "designs_on_validation": on_validation, "chosen_design": chosen,
        "chosen_on_test": on_test,
        "note": "self-training designs get no unlabelled texts here: later months' texts must not leak into training",
        "targets": {"macro_f1": ">= 0.88", "every_sector_f1": ">= 0.80", "ece": "<= 0.05"},
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"chosen {chosen}: test macro-F1 {on_test['macro_f1']:.3f}, ECE {on_test['ece']:.3f} "
          f"({len(train)} train / {len(validation)} validation / {len(test)} test units)")
    for sector in SECTORS:
        print(f"  {sector:<10} F1 {on_test['per_sector_f1'][sector]:.3f} (n={on_test['support'][sector]})")


if __name__ == "__main__":
    main()
