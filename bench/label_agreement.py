"""Agreement of two independent annotators on the sector codebook: Cohen's kappa overall and per sector.

The first labels are those in corpus/labels/*.jsonl; the second annotator's, made from the codebook
only, are in corpus/labels/agreement/second_annotator.jsonl. Per sector, kappa is that of the
yes/no decision "is it this sector". The disagreements are listed for adjudication (the
adjudicated label goes into corpus/labels/agreement/adjudicated.jsonl, with the two labels it
settled, and into the first label's file); agreement is measured on the labels before it. Writes bench/results/label_agreement.json.

    .venv/bin/python bench/label_agreement.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.records import SECTORS  # noqa: E402

LABELS = REPO / "corpus" / "labels"


def read_labels(paths: list[Path]) -> dict[str, dict]:
    return {row["unit_id"]: row for path in paths
            for row in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").splitlines()))}


def cohen_kappa(first: list[str], second: list[str]) -> float:
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second)) / n
    first_counts, second_counts = Counter(first), Counter(second)
    expected = sum(first_counts[k] * second_counts[k] for k in set(first) | set(second)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "label_agreement.json")
    args = parser.parse_args()
    first = read_labels(sorted(LABELS.glob("*.jsonl")))
    second = read_labels([LABELS / "agreement" / "second_annotator.jsonl"])
    adjudicated = LABELS / "agreement" / "adjudicated.jsonl"
    for unit_id, row in (read_labels([adjudicated]) if adjudicated.exists() else {}).items():
        first[unit_id] = dict(first[unit_id], sector=row["first"])  # the first label as it was, before adjudication
    both = sorted(set(first) & set(second))
    a = [first[u]["sector"] for u in both]
    b = [second[u]["sector"] for u in both]
    per_sector = {s: round(cohen_kappa([x == s for x in a], [y == s for y in b]), 3) for s in SECTORS}
    confusion = Counter(f"{x} -> {y}" for x, y in zip(a, b) if x != y)
    result = {
        "command": "python bench/label_agreement.py", "units": len(both),
        "agreement": round(sum(x == y for x, y in zip(a, b)) / len(both), 3),
        "kappa": round(cohen_kappa(a, b), 3), "kappa_per_sector": per_sector,
        "first_per_sector": {s: a.count(s) for s in SECTORS}, "second_per_sector": {s: b.count(s) for s in SECTORS},
        "disagreements_first_to_second": dict(confusion.most_common()),
        "disagreements": [{"unit_id": u, "headline": first[u].get("headline"), "first": first[u]["sector"],
                           "first_reason": first[u].get("reason"), "second": second[u]["sector"],
                           "second_reason": second[u].get("reason")}
                          for u in both if first[u]["sector"] != second[u]["sector"]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(both)} units labelled twice: agreement {result['agreement']:.3f}, kappa {result['kappa']:.3f}")
    for sector, kappa in per_sector.items():
        print(f"  {sector:<10} kappa {kappa:.3f}")


if __name__ == "__main__":
    main()
