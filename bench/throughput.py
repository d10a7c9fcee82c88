"""Throughput of the nightly flow against raw spaCy on the bundled corpus.

Measures, in one process:
1. words/s of raw ``nlp.pipe`` over the cleaned texts of the bundled corpus;
2. words/s of the full ``nightly_ingest`` Prefect flow (fetch, clean, nlp,
   store) over the same documents into a new SQLite store;
3. the time of an immediate second run (unchanged corpus);
4. peak RSS of the process.

The local Prefect server is started before timing (a trivial flow), and its
start-up time is reported apart: it is paid once per process, not per run.

    .venv/bin/python bench/throughput.py [--out bench/results/throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bundled_documents(config):
    from pipeline.source_types import split_source as clean_source
    from pipeline.fetch import fetch
    from pipeline.sources import read_source_list, normalise_source_url

    documents = []
    for spec in read_source_list(config.resolve(config.paths.default_sources)):
        url = normalise_source_url(spec.url)
        fetched = fetch(url, previous=None, config=config.fetch)
        result = clean_source(fetched, kind=spec.kind or "article", url=url,
                              published=spec.published, config=config.clean)
        documents.extend(result.documents)
    return documents


def raw_nlp_pipe(config, texts) -> dict:
    from pipeline.nlp import load_nlp

    nlp = load_nlp(config.nlp.model, config.nlp.disable)
    words = sum(len(t.split()) for t in texts)
    started = time.perf_counter()
    entities = sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=config.nlp.batch_size))
    seconds = time.perf_counter() - started
    return {"documents": len(texts), "words": words, "seconds": round(seconds, 2),
            "words_per_s": round(words / seconds, 1), "entities": entities}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "throughput.json")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="nkpipe-bench-"))
    os.environ["NKPIPE_DB"] = f"sqlite:///{workdir / 'bench.db'}"
    os.chdir(REPO)
    from pipeline.config import load_config
    from flows.env import configure_prefect

    config = load_config(REPO / "config.toml")
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    configure_prefect(config)

    documents = bundled_documents(config)
    raw = raw_nlp_pipe(config, [d.text for d in documents])
    print(f"raw nlp.pipe: {raw['words_per_s']:,.0f} words/s over {raw['words']:,} words", flush=True)

    from prefect import flow

    from flows.nightly import nightly_ingest

    @flow
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()
    server_start = time.perf_counter() - started

    started = time.perf_counter()
    first = nightly_ingest(config_path=str(REPO / "config.toml"), db_url=None)
    first_wall = time.perf_counter() - started
    started = time.perf_counter()
    second = nightly_ingest(config_path=str(REPO / "config.toml"), db_url=None)
    second_wall = time.perf_counter() - started

    flow_wps = first["words"] / first_wall
    result = {
        "command": "python bench/throughput.py",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "corpus": {"documents": len(documents), "words": raw["words"]},
        "raw_nlp_pipe": raw,
        "prefect_server_start_s": round(server_start, 2),
        "full_flow": {"wall_s": round(first_wall, 2), "run_s": round(first["seconds"], 2),
                      "words": first["words"], "words_per_s": round(flow_wps, 1),
                      "new": first["new"], "skipped": first["skipped"], "failed": first["failed"]},
        "unchanged_rerun": {"wall_s": round(second_wall, 2), "run_s": round(second["seconds"], 2),
                            "processed": second["new"] + second["changed"],
                            "unchanged": second["unchanged"]},
        "ratios": {"flow_vs_raw_words_per_s": round(flow_wps / raw["words_per_s"], 3),
                   "rerun_vs_full_wall": round(second_wall / first_wall, 4)},
        "targets": {"flow_vs_raw_words_per_s": ">= 0.8", "rerun_vs_full_wall": "<= 0.05"},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
