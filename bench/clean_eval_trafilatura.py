"""nkpipe's HTML cleaning on trafilatura's own evaluation set (990 pages, many languages and layouts),
beside stock trafilatura, scored the way that set is meant to be scored: for each page, every
"with" snippet found in the output (whitespace-normalised) is a true positive, every "without"
snippet found a false positive.

The pages and annotations are not in this repository: give the folder of a trafilatura checkout that
holds ``evaldata.json`` and the ``eval/`` and ``cache/`` page folders (its ``tests/``).

    git clone https://github.com/adbar/trafilatura /tmp/trafilatura
    .venv/bin/python bench/clean_eval_trafilatura.py --tests-dir /tmp/trafilatura/tests \\
        [--out bench/results/clean_eval_trafilatura.json]

Systems: nkpipe (``clean_html``, one trafilatura run per page unless the precision text is suspiciously
short), nkpipe as it was before single-pass cleaning (the balanced second run on every page), stock
``trafilatura.extract`` with precision on, without and with metadata (nkpipe extracts metadata: title,
date, author). Times are of the extraction calls only, in this process, one after the other.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from pipeline.clean import CLEAN_VERSION, clean_html  # noqa: E402
from pipeline.config import CleanConfig  # noqa: E402

_SPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def load(tests_dir: Path) -> list[tuple[str, bytes, dict]]:
    annotations = json.loads((tests_dir / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in sorted(annotations.items()):
        path = next((tests_dir / sub / item["file"] for sub in ("cache", "eval")
                     if (tests_dir / sub / item["file"]).is_file()), None)
        if path is None:
            raise SystemExit(f"page {item['file']} of {url} not found under {tests_dir}/cache or /eval")
        pages.append((url, path.read_bytes(), item))
    return pages


def run(pages, extract: Callable[[bytes, str], str]) -> dict:
    tp = fp = fn = tn = 0
    seconds = 0.0
    failures = 0
    for url, body, item in pages:
        started = time.perf_counter()
        try:
            output = squeeze(extract(body, url) or "")
        except Exception:  # a crash is a page with nothing found
            output, failures = "", failures + 1
        seconds += time.perf_counter() - started
        found = sum(squeeze(chunk) in output for chunk in item["with"])
        wrong = sum(squeeze(chunk) in output for chunk in item["without"])
        tp, fn = tp + found, fn + len(item["with"]) - found
        fp, tn = fp + wrong, tn + len(item["without"]) - wrong
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "accuracy": round((tp + tn) / (tp + tn + fp + fn), 4), "seconds": round(seconds, 1),
            "failures": failures, "counts": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests-dir", type=Path, required=True, help="trafilatura's tests/ folder")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "clean_eval_trafilatura.json")
    args = parser.parse_args()
    pages = load(args.tests_dir)
    current = CleanConfig()
    before = replace(current, precision_recheck_chars=10**12, precision_recheck_ratio=10.0**12)
    systems = {
        "nkpipe": lambda body, url: clean_html(body, url=url, config=current)[0],
        "nkpipe_two_runs_per_page_before": lambda body, url: clean_html(body, url=url, config=before)[0],
        "trafilatura_stock_precision": lambda body, url: trafilatura.extract(
            body, url=url, favor_precision=True, include_comments=False),
        "trafilatura_stock_precision_with_metadata": lambda body, url: trafilatura.extract(
            body, url=url, favor_precision=True, include_comments=False, with_metadata=True),
    }
    clean_html(pages[0][1], url=pages[0][0], config=current)  # imports and caches out of the timing
    results = {name: run(pages, extract) for name, extract in systems.items()}
    stock = results["trafilatura_stock_precision"]["seconds"]
    stock_meta = results["trafilatura_stock_precision_with_metadata"]["seconds"]
    for name, result in results.items():
        result["time_vs_stock"] = round(result["seconds"] / stock, 2)
        result["time_vs_stock_with_metadata"] = round(result["seconds"] / stock_meta, 2)
    report = {
        "evaluation_set": "trafilatura tests/evaldata.json (pages in tests/eval and tests/cache), not committed",
        "pages": len(pages), "command": "bench/clean_eval_trafilatura.py --tests-dir TRAFILATURA/tests",
        "trafilatura_version": trafilatura.__version__, "clean_version": CLEAN_VERSION,
        "python": platform.python_version(), "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, result in results.items():
        print(f"{name:<44} f1 {result['f1']:.4f}  P {result['precision']:.4f}  R {result['recall']:.4f}  "
              f"{result['seconds']:6.1f} s  x{result['time_vs_stock']:.2f} stock")


if __name__ == "__main__":
    main()
