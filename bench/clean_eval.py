"""Score nkpipe's HTML cleaning against the article-extraction benchmark.

Runs ``pipeline.clean.clean_html`` (default ``CleanConfig``) over the 181 gold pages of
``shared/data/extraction-benchmark`` and scores it with that benchmark's own
``evaluate.py`` (imported by path, not copied), next to two references: stock
trafilatura's committed output (``upstream_output_trafilatura.json``) and the installed
trafilatura run here with ``favor_precision=True, include_comments=False``.

    python bench/clean_eval.py [--shared ../shared] [--out bench/results/clean_eval.json]

The bootstrap of the scorer uses the global ``random`` module; it is seeded before each
system is scored so that the standard deviations are reproducible.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import importlib.util
import json
import random
import shlex
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from pipeline.clean import CLEAN_VERSION, clean_html  # noqa: E402
from pipeline.config import CleanConfig  # noqa: E402

BENCHMARK = Path("data") / "extraction-benchmark"
STOCK_OPTIONS = {"favor_precision": True, "include_comments": False}
METRICS = ("f1", "precision", "recall", "accuracy")


def load_scorer(path: Path) -> ModuleType:
    """Import the benchmark's evaluate.py from its file, so its scoring is used as is."""
    spec = importlib.util.spec_from_file_location("extraction_benchmark_evaluate", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import the scorer at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_pages(html_dir: Path) -> dict[str, bytes]:
    """Page key (file name without .html.gz) -> raw HTML bytes."""
    pages = {
        path.name.removesuffix(".html.gz"): gzip.decompress(path.read_bytes())
        for path in html_dir.glob("*.html.gz")
    }
    if not pages:
        raise SystemExit(f"no *.html.gz pages under {html_dir}; pass --shared")
    return dict(sorted(pages.items()))


Extractor = Callable[[bytes, str | None], str]


def run_system(
    pages: dict[str, bytes], urls: dict[str, str | None], extract: Extractor
) -> tuple[dict[str, dict[str, str]], float]:
    """Predictions in the scorer's format, and the seconds the extraction took."""
    started = time.perf_counter()
    output = {key: {"articleBody": extract(body, urls.get(key))} for key, body in pages.items()}
    return output, time.perf_counter() - started


def score(
    scorer: ModuleType, truth: dict, prediction: dict, n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """The scorer's metrics, per-page tp/fp/fn lists included (dropped before writing)."""
    random.seed(seed)
    return scorer.evaluate(truth, prediction, n_bootstrap)


def summary(metrics: dict[str, Any], seconds: float | None = None) -> dict[str, Any]:
    kept = {k: round(v, 4) for k, v in sorted(metrics.items()) if k != "tp_fp_fns"}
    return kept if seconds is None else {**kept, "seconds": round(seconds, 1)}


def paired_difference(
    scorer: ModuleType, ours: list, theirs: list, n_bootstrap: int, seed: int
) -> dict[str, float]:
    """Bootstrap of ours minus theirs over the same resampled pages (as the scorer's
    --bootstrap-differences does), so the spread reflects the paired comparison."""
    rng = random.Random(seed)
    n = len(ours)
    diffs: dict[str, list[float]] = {}
    for _ in range(n_bootstrap):
        pages = [rng.randint(0, n - 1) for _ in range(n)]
        a = scorer.metrics_from_tp_fp_fns([ours[i] for i in pages])
        b = scorer.metrics_from_tp_fp_fns([theirs[i] for i in pages])
        for key in a:
            diffs.setdefault(key, []).append(a[key] - b[key])
    result: dict[str, float] = {}
    for key, values in sorted(diffs.items()):
        result[f"{key}_diff"] = round(statistics.mean(values), 4)
        result[f"{key}_diff_std"] = round(statistics.stdev(values), 4)
        result[f"{key}_diff_share_above_0"] = round(sum(v > 0 for v in values) / len(values), 3)
    return result


def nkpipe_extract(config: CleanConfig) -> Extractor:
    return lambda body, url: clean_html(body, url=url, config=config)[0]


def stock_extract(body: bytes, url: str | None) -> str:
    return trafilatura.extract(body, url=url, **STOCK_OPTIONS) or ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "clean_eval.json")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    root = args.shared / BENCHMARK
    scorer = load_scorer(root / "evaluate.py")
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    pages = load_pages(root / "html")
    urls = {key: truth.get(key, {}).get("url") for key in pages}
    config = CleanConfig()

    nkpipe_extract(config)(next(iter(pages.values())), None)  # imports and caches out of the timing
    nkpipe_output, nkpipe_s = run_system(pages, urls, nkpipe_extract(config))
    before = dataclasses.replace(config, precision_recheck_chars=10**12, precision_recheck_ratio=10.0**12)
    before_output, before_s = run_system(pages, urls, nkpipe_extract(before))
    stock_output, stock_s = run_system(pages, urls, stock_extract)
    _, stock_meta_s = run_system(pages, urls, lambda body, url: trafilatura.extract(
        body, url=url, with_metadata=True, **STOCK_OPTIONS) or "")
    upstream = root / "upstream_output_trafilatura.json"
    upstream_output, upstream_version = scorer.load_prediction(upstream)

    ours = score(scorer, truth, nkpipe_output, args.n_bootstrap, args.seed)
    ours_before = score(scorer, truth, before_output, args.n_bootstrap, args.seed)
    stock = score(scorer, truth, stock_output, args.n_bootstrap, args.seed)
    upstream_metrics = score(scorer, truth, upstream_output, args.n_bootstrap, args.seed)
    tp_fp_fns = ours["tp_fp_fns"], stock["tp_fp_fns"], upstream_metrics["tp_fp_fns"]
    used_args = sys.argv[1:] if argv is None else argv
    result = {
        "benchmark": "scrapinghub/article-extraction-benchmark (shared/data/extraction-benchmark)",
        "pages": len(pages),
        "command": shlex.join(["python", "bench/clean_eval.py", *used_args]),
        "trafilatura_version": trafilatura.__version__,
        "clean_version": CLEAN_VERSION,
        "bootstrap": {"n": args.n_bootstrap, "seed": args.seed},
        "settings": {
            "nkpipe": {
                "function": "pipeline.clean.clean_html",
                "config": dataclasses.asdict(config),
                "url": "from ground-truth.json",
            },
            "trafilatura_stock_precision": {
                "function": "trafilatura.extract",
                **STOCK_OPTIONS,
                "url": "from ground-truth.json",
            },
            "trafilatura_upstream_committed": {
                "file": "upstream_output_trafilatura.json",
                "version": upstream_version,
            },
        },
        "timing": {"nkpipe_vs_stock": round(nkpipe_s / stock_s, 2),
                   "nkpipe_vs_stock_with_metadata": round(nkpipe_s / stock_meta_s, 2),
                   "stock_with_metadata_seconds": round(stock_meta_s, 1)},
        "results": {
            "nkpipe": summary(ours, nkpipe_s),
            "nkpipe_two_runs_per_page_before": summary(ours_before, before_s),
            "trafilatura_stock_precision": summary(stock, stock_s),
            "trafilatura_upstream_committed": summary(upstream_metrics),
        },
        "paired_bootstrap": {
            "nkpipe_minus_trafilatura_stock_precision": paired_difference(
                scorer, tp_fp_fns[0], tp_fp_fns[1], args.n_bootstrap, args.seed
            ),
            "nkpipe_minus_trafilatura_upstream_committed": paired_difference(
                scorer, tp_fp_fns[0], tp_fp_fns[2], args.n_bootstrap, args.seed
            ),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, metrics in result["results"].items():
        print(f"{name:<32} " + "  ".join(f"{m} {metrics[m]:.4f}" for m in METRICS))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
