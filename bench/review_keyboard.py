"""100 review decisions by keyboard in headless chromium, on a store built from the bundled corpus.

Not a test: it measures how long the server takes per decision, which the review desk's issue
asks to keep under 300 ms. The store is built as `nkpipe run` builds it on a new store (the
bundled source list: two seed documents and the KCNA archive, then the activity register), a
reviewer signs in, opens the first item of the queue with `o`, and decides item after item with
the keys alone: `c` (confirm) mostly, `x` (reject a fact, or no activity) on every tenth item
that has it, a sector number on every fifth sector label; each decision opens the next item.
The app runs under uvicorn in this process; a timing middleware records each request's server
time, and for every decision we take the decision's POST (record the correction, find the next
item) and the GET of the next item's page that follows it. Writes
bench/results/review_keyboard.json.

    .venv/bin/python bench/review_keyboard.py [--decisions 100] [--store PATH.db] [--out PATH]

--store copies an already built SQLite store instead of building one (the copy is changed, the
file is not). Needs Debian's chromium at /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.accounts import add_user  # noqa: E402
from pipeline.activities import rebuild_register  # noqa: E402
from pipeline.config import Config, StoreConfig  # noqa: E402
from pipeline.ingest import run_ingest  # noqa: E402
from pipeline.review_queue import QueueFilter, review_queue_page  # noqa: E402
from pipeline.sources import register_default_sources  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from tests.browser import CHROMIUM, chromium, chromium_missing_reason, serving  # noqa: E402

PASSWORD = "reviewer-password"
TARGET_MS = 300


def build_store(folder: Path, reuse: Path | None) -> tuple[Config, object, dict]:
    """The bundled corpus in a new SQLite store (or a copy of ``reuse``), with a reviewer account."""
    config = replace(Config(base_dir=REPO), store=StoreConfig(url=f"sqlite:///{folder / 'nkpipe.db'}"))
    started = time.perf_counter()
    if reuse is not None:
        shutil.copy(reuse, folder / "nkpipe.db")
        store = open_store(config.store.url)
        built = {"built_from": f"a copy of {reuse.name}, built before from the bundled corpus"}
    else:
        store = open_store(config.store.url)
        sources = register_default_sources(store, REPO / "corpus" / "sources.toml")
        counts = run_ingest(store, config, sources).counts
        activities = rebuild_register(store)
        built = {"built_from": "corpus/sources.toml (2 seed documents and the KCNA archive), as `nkpipe run`",
                 "new_documents": counts.new, "skipped": counts.skipped, "activities": activities,
                 "build_s": round(time.perf_counter() - started, 1)}
    add_user(store, "reviewer", "reviewer", PASSWORD, config.web)
    return config, store, built


def timed_app(config: Config, store) -> tuple[object, list[tuple[str, str, float]]]:
    """The review app with a middleware recording (method, path, server ms) of every request."""
    from nkpipe.web.app import create_app

    app = create_app(config, store)
    requests: list[tuple[str, str, float]] = []

    @app.middleware("http")
    async def server_time(request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        requests.append((request.method, request.url.path, (time.perf_counter() - started) * 1000))
        return response

    return app, requests


def choose_key(page, number: int) -> str:
    """c mostly; x on every tenth item that has it; a sector number on every fifth sector label."""
    if number % 10 == 9 and page.locator("[data-shortcut=x]").count():
        return "x"
    if number % 5 == 4 and page.locator("select[data-sector-keys]").count():
        current = page.locator("select[data-sector-keys]").evaluate("select => select.selectedIndex")
        return str((current + 1) % 5 + 1)  # another sector than the model's
    return "c"


def decide(page, base_url: str, decisions: int, requests: list) -> list[dict]:
    page.goto(base_url + "/review")  # the login page; its name field takes the focus (autofocus)
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'name'")
    page.keyboard.type("reviewer")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.expect_navigation():
        page.keyboard.press("o")  # the first item of the queue
    made = []
    for number in range(decisions):
        key, kind = choose_key(page, number), page.locator("h1").inner_text().split(":")[0].lower()
        item = parse_qs(urlsplit(page.url).query)["key"][0]
        seen = len(requests)
        started = time.perf_counter()
        with page.expect_navigation(wait_until="load"):
            page.keyboard.press(key)
        wall_ms = (time.perf_counter() - started) * 1000
        new = requests[seen:]
        made.append({"key": key, "kind": kind, "item": item, "wall_ms": wall_ms,
                     "post_ms": sum(ms for method, _, ms in new if method == "POST"),
                     "page_ms": sum(ms for method, path, ms in new if method == "GET" and path == "/review/item")})
        if "/review/item" not in page.url:
            raise SystemExit(f"the queue ran out after {number + 1} decisions")
    return made


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1), "mean": round(statistics.fmean(values), 1)}


def count(values) -> dict:
    found: dict = {}
    for value in values:
        found[value] = found.get(value, 0) + 1
    return dict(sorted(found.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--store", type=Path, help="copy this SQLite store instead of building one")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "review_keyboard.json")
    args = parser.parse_args()
    missing = chromium_missing_reason()
    if missing:
        raise SystemExit(missing)
    with tempfile.TemporaryDirectory() as tmp:
        config, store, built = build_store(Path(tmp), args.store)
        queue_before = review_queue_page(store, QueueFilter(), 1, 50)
        app, requests = timed_app(config, store)
        with serving(app) as base_url, chromium() as browser:
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            made = decide(page, base_url, args.decisions, requests)
            browser_version = browser.version
        stored = store.read_table("corrections")
        queue_after = review_queue_page(store, QueueFilter(), 1, 1).total
        documents = len(store.read_table("documents"))
        store.engine.dispose()
    assert len(stored) == len(made) and set(stored.reviewer) == {"reviewer"}, "every decision is one correction"
    both = [d["post_ms"] + d["page_ms"] for d in made]
    result = {
        "command": "python bench/review_keyboard.py " + " ".join(sys.argv[1:]),
        "store": {**built, "documents": documents, "queue_items_before": queue_before.total,
                  "queue_items_after": queue_after},
        "browser": f"headless {CHROMIUM} {browser_version} (Playwright), the app under uvicorn on 127.0.0.1",
        "decisions": len(made),
        "keys": count(d["key"] for d in made),
        "items_by_kind": count(d["kind"] for d in made),
        "corrections_stored": count(stored.action),
        "server_ms_per_decision": {
            "decision_post": spread([d["post_ms"] for d in made]),
            "next_item_page": spread([d["page_ms"] for d in made]),
            "post_and_next_page": spread(both),
        },
        "browser_ms_keypress_to_next_page_loaded": spread([d["wall_ms"] for d in made]),
        "target_ms": TARGET_MS,
        "post_and_next_page_under_target": sum(ms < TARGET_MS for ms in both),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "store": "SQLite"},
        "what_is_measured": "server time from request arrival to the response (timing middleware in the app's "
                            "process); decision_post records the correction and finds the next item of the queue, "
                            "next_item_page renders it (its sentence, history and forms)",
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("decisions", "keys", "server_ms_per_decision")}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
