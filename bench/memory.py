"""Peak memory of `nkpipe ingest` on one long text: 1, 2, 5 and 10 MB.

Each size is a fresh process on a fresh store, ingesting one plain-text file made of real
English (KCNA stories, in paragraphs). The peak is the sum over the process tree of each
process's largest RSS, sampled every 0.1 s. Target: flat, under 1.5 GiB for any size.
Writes bench/results/memory.json.

    .venv/bin/python bench/memory.py [--sizes 1 2 5 10] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile.rss import run_measured  # noqa: E402
from tests.hostile.test_pipeline_hostile import big_text  # noqa: E402


def measure(megabytes: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="nkpipe-memory-") as folder:
        page = Path(folder) / "long.txt"
        page.write_text(big_text(int(megabytes * 1_000_000)))
        nkpipe = Path(sys.executable).with_name("nkpipe")
        started = time.perf_counter()
        done, peak_mib = run_measured([str(nkpipe), "--db", f"sqlite:///{folder}/n.db", "ingest", str(page)],
                                      timeout=3600, cwd=folder)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{megabytes} MB failed:\n{done.stderr[-3000:]}")
    return {"megabytes": megabytes, "characters": int(megabytes * 1_000_000), "seconds": round(seconds, 1),
            "peak_rss_mib": round(peak_mib), "summary": done.stdout.strip().splitlines()[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "memory.json")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        results.append(measure(size))
        print(f"{size:>5} MB: peak {results[-1]['peak_rss_mib']} MiB in {results[-1]['seconds']} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": "python bench/memory.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "target": "peak RSS of the process tree under 1.5 GiB for any size, flat", "runs": results,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
