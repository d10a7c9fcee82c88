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
    pages = {p.name.removesuffix(".html.gz"): gzip.decompress(p.read_bytes()) for p in html_dir.glob("*.html.gz")}
    if not pages:
        raise SystemExit(f"no *.html.gz pages under {html_dir}; pass --shared")
    return dict(sorted(pages.items()))


def run_system(
    pages: dict[str, bytes], urls: dict[str, str | None], extract: Callable[[bytes, str | None], str]
) -> tuple[dict[str, dict[str, str]], float]:
    """Predictions in the scorer's format, and the seconds the extraction took."""
    started = time.perf_counter()
    output = {key: {"articleBody": extract(body, urls.get(key))} for key, body in pages.items()}
    return output, time.perf_counter() - started


def score(scorer: ModuleType, truth: dict, prediction: dict, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """The scorer's metrics without its per-page tp/fp/fn lists."""
    random.seed(seed)
    metrics = scorer.evaluate(truth, prediction, n_bootstrap)
    return {k: round(v, 4) for k, v in sorted(metrics.items()) if k != "tp_fp_fns"}


def nkpipe_extract(config: CleanConfig) -> Callable[[bytes, str | None], str]:
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

    nkpipe_output, nkpipe_s = run_system(pages, urls, nkpipe_extract(config))
    stock_output, stock_s = run_system(pages, urls, stock_extract)
    upstream_output, upstream_version = scorer.load_prediction(root / "upstream_output_trafilatura.json")

    result = {
        "benchmark": "scrapinghub/article-extraction-benchmark (shared/data/extraction-benchmark)",
        "pages": len(pages),
        "command": " ".join(["python", "bench/clean_eval.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "trafilatura_version": trafilatura.__version__,
        "clean_version": CLEAN_VERSION,
        "bootstrap": {"n": args.n_bootstrap, "seed": args.seed},
        "settings": {
            "nkpipe": {"function": "pipeline.clean.clean_html", "config": dataclasses.asdict(config), "url": "from ground-truth.json"},
            "trafilatura_stock_precision": {"function": "trafilatura.extract", **STOCK_OPTIONS, "url": "from ground-truth.json"},
            "trafilatura_upstream_committed": {"file": "upstream_output_trafilatura.json", "version": upstream_version},
        },
        "results": {
            "nkpipe": {**score(scorer, truth, nkpipe_output, args.n_bootstrap, args.seed), "seconds": round(nkpipe_s, 1)},
            "trafilatura_stock_precision": {**score(scorer, truth, stock_output, args.n_bootstrap, args.seed), "seconds": round(stock_s, 1)},
            "trafilatura_upstream_committed": score(scorer, truth, upstream_output, args.n_bootstrap, args.seed),
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
