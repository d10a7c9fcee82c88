"""Where scale-out stops paying: the serial and parallel parts of a run, a prediction, a check.

A run does fetch, clean and write in one process (serial) and the analysis (spaCy, facts,
sectors) in worker processes (parallel, ``[flow] task_runner = "processes"``). This script

1. profiles a run in one process over the first ``--items`` items of the bundled KCNA archive:
   seconds per document of each step, the register and story-cluster rebuilds after it, and
   the one-off model load;
2. predicts the wall time and speed-up on 1 to 64 workers two ways: Amdahl's law (serial and
   parallel parts one after the other, an upper bound on the time) and a pipeline (the
   parent's serial work overlapping the workers', a lower bound), assuming a core per worker
   plus one for the parent;
3. measures whole ``nkpipe ingest`` processes with the pool at 1 and 2 workers (and the
   default in-process runner) on new stores, and reports each beside its prediction.

    .venv/bin/python bench/scale_model.py [--items 600] [--out bench/results/scale_model.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORKERS = (1, 2, 4, 8, 16, 32, 64)


def archive_slice(workdir: Path, items: int) -> Path:
    archive = next((REPO / "corpus" / "kcna").glob("*.json"))
    path = workdir / f"kcna-{items}.json"
    path.write_text(json.dumps(json.loads(archive.read_text())[:items]))
    return path


def timed(function, totals: dict, name: str):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started
    return wrapper


def profile(archive: Path, workdir: Path) -> dict:
    """Seconds of each part of a one-process run over ``archive`` into a new SQLite store."""
    from dataclasses import replace

    from pipeline.activities import rebuild_register
    from pipeline.clusters import rebuild_story_clusters
    from pipeline.config import load_config
    from pipeline.ingest import PLAIN_STEPS, analyze_batch, run_ingest
    from pipeline.sources import SourceSpec, ensure_source
    from pipeline.store import open_store

    config = load_config(REPO / "config.toml", f"sqlite:///{workdir / 'profile.db'}")
    started = time.perf_counter()
    analyze_batch([], config)  # loads spaCy and the sector model: paid once per worker
    load_s = time.perf_counter() - started
    store = open_store(config.store.url)
    source = ensure_source(store, SourceSpec(str(archive), "kcna", None, None))
    totals: dict[str, float] = {}
    steps = replace(PLAIN_STEPS, fetch=timed(PLAIN_STEPS.fetch, totals, "fetch"),
                    clean=timed(PLAIN_STEPS.clean, totals, "clean"),
                    analyze=timed(PLAIN_STEPS.analyze, totals, "analyze"),
                    write=timed(PLAIN_STEPS.write, totals, "write"))
    started = time.perf_counter()
    summary = run_ingest(store, config, [source], steps=steps)
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    rebuild_story_clusters(store, config, True)
    clusters_s = time.perf_counter() - started
    started = time.perf_counter()
    rebuild_register(store)
    register_s = time.perf_counter() - started
    documents = summary.counts.processed
    parallel = totals["analyze"]
    serial = run_s - parallel + clusters_s + register_s
    return {"documents": documents, "model_load_s": round(load_s, 2),
            "steps_s": {k: round(v, 2) for k, v in totals.items()},
            "run_other_s": round(run_s - sum(totals.values()), 2),
            "clusters_s": round(clusters_s, 2), "register_s": round(register_s, 2),
            "serial_s": round(serial, 2), "parallel_s": round(parallel, 2),
            "serial_share": round(serial / (serial + parallel), 3),
            "per_document_ms": {"serial": round(1000 * serial / documents, 2),
                                "parallel": round(1000 * parallel / documents, 2)}}


def html_clean_ms(shared: Path) -> dict:
    """Mean milliseconds of cleaning one web page (the article-extraction benchmark's pages)."""
    import gzip

    from pipeline.clean import clean_html
    from pipeline.config import CleanConfig

    pages = [gzip.decompress(p.read_bytes()) for p in sorted((shared / "data" / "extraction-benchmark" / "html").glob("*.html.gz"))]
    if not pages:
        return {}
    config = CleanConfig()
    clean_html(pages[0], url=None, config=config)
    started = time.perf_counter()
    for page in pages:
        clean_html(page, url=None, config=config)
    return {"pages": len(pages), "ms_per_page": round(1000 * (time.perf_counter() - started) / len(pages), 1)}


def web_scenarios(part: dict, clean: dict) -> dict:
    """The same documents had they been web pages: cleaning in the parent (as now) or in the workers."""
    if not clean:
        return {}
    documents = part["documents"]
    other_serial = part["serial_s"] - part["steps_s"].get("clean", 0.0)
    web_clean = clean["ms_per_page"] * documents / 1000
    as_now = dict(part, serial_s=round(other_serial + web_clean, 2))
    in_workers = dict(part, serial_s=round(other_serial, 2), parallel_s=round(part["parallel_s"] + web_clean, 2))
    return {"html_clean": clean, "clean_in_parent": predictions(as_now), "clean_in_workers": predictions(in_workers)}


def predictions(part: dict) -> dict:
    serial, parallel, load = part["serial_s"], part["parallel_s"], part["model_load_s"]
    base = serial + parallel
    rows = {}
    for n in WORKERS:
        amdahl = load + serial + parallel / n
        pipelined = load + max(serial, parallel / n)
        rows[str(n)] = {"amdahl_s": round(amdahl, 1), "pipelined_s": round(pipelined, 1),
                        "speedup_amdahl": round(base / (serial + parallel / n), 2),
                        "speedup_pipelined": round(base / max(serial, parallel / n), 2)}
    return {"by_workers": rows, "limit_speedup_amdahl": round(base / serial, 2),
            "workers_where_serial_dominates": round(parallel / serial, 1)}


def measured(archive: Path, workdir: Path, runner: str, workers: int) -> dict:
    config = workdir / f"{runner}-{workers}.toml"
    config.write_text(f'[flow]\ntask_runner = "{runner}"\n[processes]\nworkers = {workers}\n')
    db = f"sqlite:///{workdir / f'{runner}-{workers}.db'}"
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("nkpipe")), "--config", str(config), "--db", db, "ingest", str(archive)],
                          capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{runner} x{workers} failed:\n{done.stderr[-2000:]}")
    summary = next(line for line in done.stdout.splitlines() if line.startswith("run "))
    run_s = float(summary.split(" in ", 1)[1].split(" s:", 1)[0])
    return {"runner": runner, "workers": workers, "process_wall_s": round(wall, 1), "run_s": run_s,
            "summary": summary.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600, help="KCNA archive items (default 600)")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                        help="the shared data folder, for the web pages whose cleaning time is measured")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale_model.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nkpipe-scale-model-"))
    archive = archive_slice(workdir, args.items)

    part = profile(archive, workdir)
    print(json.dumps(part, indent=2), flush=True)
    model = predictions(part)
    web = web_scenarios(part, html_clean_ms(args.shared))
    checks = [measured(archive, workdir, "default", 1)] + [measured(archive, workdir, "processes", n) for n in (1, 2)]
    for check in checks:
        if check["runner"] == "processes":
            check["predicted"] = {k: model["by_workers"][str(check["workers"])][k] for k in ("amdahl_s", "pipelined_s")}
        print(json.dumps(check), flush=True)
    result = {"command": f"python bench/scale_model.py --items {args.items}",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "profile": part, "prediction": model, "measured": checks, "web_pages": web,
              "note": ("measured times are whole processes (imports, store creation and, in the pool, each worker's "
                       "model load in parallel) and include clusters and the register; predictions assume a core "
                       "per worker plus one for the parent")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(model, indent=2))


if __name__ == "__main__":
    main()
