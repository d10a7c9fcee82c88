"""Scale-out: words/s of the nightly flow by task runner and store, and over a replicated corpus.

Measures, each run in a fresh process on a new, empty store:
1. the matrix: the bundled corpus (``--replicate`` 1) with every runner of ``--runners``
   (``default``: NLP in the flow's process; ``dask1``/``dask2``: a Dask LocalCluster of one
   or two worker processes) against every store of ``--stores`` (``sqlite``, ``postgresql``);
2. the series: the corpus replicated N times (``--replicate``, distinct documents: every
   replica is a copy of the seeds and of the KCNA archive with altered links) with the
   runner and store of ``--series``, to show time growing linearly and peak memory flat.

Words/s is words analysed over the wall time of the flow call (fetch, clean, NLP, store and
the register rebuild). Peak memory is the largest sum of RSS over the run's process tree,
Dask workers included, sampled every 0.2 s. One local Prefect server (127.0.0.1) serves
every run; its start-up is not timed. PostgreSQL: ``--pg-url`` (a server where this may
create databases), else a throwaway server from the installed binaries (tests/pg_server.py).

    .venv/bin/python bench/scale.py                    # the whole thing (about 40 CPU-minutes)
    .venv/bin/python bench/scale.py --quick            # a smoke run over 40 KCNA items
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RUNNERS = {"default": ("default", 0), "dask1": ("dask", 1), "dask2": ("dask", 2)}
STORES = ("sqlite", "postgresql")


def replicated_corpus(workdir: Path, replicas: int, items: int | None) -> Path:
    """A sources.toml over ``replicas`` distinct copies of the bundled corpus; returns its path."""
    import tomllib

    corpus = REPO / "corpus"
    specs = tomllib.loads((corpus / "sources.toml").read_text())["source"]
    lines = []
    for replica in range(replicas):
        folder = workdir / f"replica-{replica:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            original = corpus / spec["url"]
            copy = folder / original.name
            if spec["kind"] == "kcna":
                records = json.loads(original.read_text())[:items]
                for record in records:
                    if replica:  # another link is another document
                        record["link"] = f"{record['link'].rstrip('/')}/replica-{replica}"
                copy.write_text(json.dumps(records))
            else:
                shutil.copyfile(original, copy)
            published = f"published = {spec['published']}\n" if "published" in spec else ""
            lines.append(f'[[source]]\nurl = "{copy}"\nkind = "{spec["kind"]}"\n{published}')
    path = workdir / "sources.toml"
    path.write_text("\n".join(lines))
    return path


def write_config(workdir: Path, sources: Path, runner: str, db_url: str) -> Path:
    task_runner, workers = RUNNERS[runner]
    text = (f'[store]\nurl = "{db_url}"\n[paths]\ndata_dir = "{workdir / "data"}"\n'
            f'default_sources = "{sources}"\n[flow]\ntask_runner = "{task_runner}"\n')
    if workers:
        text += f"[dask]\nn_workers = {workers}\nthreads_per_worker = 1\n"
    path = workdir / "config.toml"
    path.write_text(text)
    return path


def tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total / 2**20


def measure(config: Path, env: dict) -> dict:
    """Run the flow in a child process; its result plus the peak RSS of its process tree."""
    child = subprocess.Popen([sys.executable, __file__, "--child", str(config)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample():
        while child.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(child.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"the measured run failed ({child.returncode}):\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak[0], 1)
    return result


def child(config: str) -> None:
    """One measured run of the nightly flow (in its own process)."""
    from flows.nightly import nightly_ingest

    started = time.perf_counter()
    result = nightly_ingest(config_path=config, db_url=None)
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": round(wall, 2), "run_s": round(result["seconds"], 2), "words": result["words"],
                      "documents": result["new"], "failed": result["failed"], "status": result["status"],
                      "words_per_s": round(result["words"] / wall, 1)}))


@contextlib.contextmanager
def database_urls(stores: set[str], pg_url: str | None):
    """A function giving a new, empty store URL of each kind for every run."""
    from tests.pg_server import fresh_database, throwaway_server

    with contextlib.ExitStack() as stack:
        server = pg_url
        if "postgresql" in stores and not server:
            server = stack.enter_context(throwaway_server()).url

        def new_url(store: str, workdir: Path) -> str:
            if store == "sqlite":
                return f"sqlite:///{workdir / 'data' / 'nkpipe.db'}"
            return stack.enter_context(fresh_database(server))

        yield new_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicate", default="1,2,5,10", help="replica counts of the series (1 = the matrix)")
    parser.add_argument("--runners", default="default,dask1,dask2", help="runners of the matrix")
    parser.add_argument("--stores", default="sqlite,postgresql", help="stores of the matrix")
    parser.add_argument("--series", default="dask2:postgresql", help="RUNNER:STORE of the replicated series")
    parser.add_argument("--items", type=int, default=None, help="only the first N KCNA items (smoke runs)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 40 KCNA items, replicate 1,2, runners default,dask2")
    parser.add_argument("--pg-url", default=os.environ.get("NKPIPE_TEST_PG_URL"),
                        help="PostgreSQL server to create databases on (default: a throwaway one)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.quick:
        args.items, args.replicate, args.runners = args.items or 40, "1,2", "default,dask2"
    out = args.out or REPO / "bench" / "results" / ("scale-quick.json" if args.quick else "scale.json")
    replicas = [int(r) for r in args.replicate.split(",")]
    runners, stores = args.runners.split(","), args.stores.split(",")
    series_runner, series_store = args.series.split(":")
    for name in (*runners, series_runner):
        if name not in RUNNERS:
            parser.error(f"unknown runner {name!r}; choose from {', '.join(RUNNERS)}")
    for name in (*stores, series_store):
        if name not in STORES:
            parser.error(f"unknown store {name!r}; choose from {', '.join(STORES)}")

    root = Path(tempfile.mkdtemp(prefix="nkpipe-scale-"))
    env = dict(os.environ, PREFECT_HOME=str(root / "prefect"), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_LOGGING_LEVEL="WARNING")
    os.environ.update(env)
    from flows.server import local_prefect_server
    from tests.http_server import unused_port

    plan = [("matrix", runner, store, 1) for runner in runners for store in stores if 1 in replicas]
    plan += [("series", series_runner, series_store, n) for n in replicas if n != 1]
    if 1 in replicas and (series_runner not in runners or series_store not in stores):
        plan.append(("series", series_runner, series_store, 1))
    results = []
    with local_prefect_server(unused_port(), root / "prefect-server.log") as api_url, \
            database_urls({s for _, _, s, _ in plan}, args.pg_url) as new_url:
        env["PREFECT_API_URL"] = api_url
        for index, (part, runner, store, n) in enumerate(plan):
            workdir = root / f"run-{index:02d}"
            workdir.mkdir()
            sources = replicated_corpus(workdir, n, args.items)
            config = write_config(workdir, sources, runner, new_url(store, workdir))
            print(f"[{index + 1}/{len(plan)}] {part}: {runner} on {store}, corpus x{n} ...", flush=True)
            result = {"part": part, "runner": runner, "store": store, "replicas": n, **measure(config, env)}
            print(f"    {result['words']:,} words in {result['wall_s']} s: {result['words_per_s']:,.0f} words/s, "
                  f"peak {result['peak_rss_mb']:,.0f} MB, {result['status']}", flush=True)
            results.append(result)
            shutil.rmtree(workdir, ignore_errors=True)
    series = sorted((r for r in results if r["runner"] == series_runner and r["store"] == series_store),
                    key=lambda r: r["replicas"])
    base = series[0] if series else None
    report = {
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "quick": bool(args.quick), "kcna_items": args.items or "all",
        "matrix": [r for r in results if r["part"] == "matrix"],
        "series": [dict(r, wall_vs_x1=round(r["wall_s"] / base["wall_s"], 2),
                        peak_rss_vs_x1=round(r["peak_rss_mb"] / base["peak_rss_mb"], 2)) for r in series]
        if base else [],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
