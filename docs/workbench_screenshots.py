"""Make the README's screenshots of the workbench: docs/screenshots/*.png.

Run once by hand after a change to the pages (needs Debian's chromium at /usr/bin/chromium):

    .venv/bin/python docs/workbench_screenshots.py          # a slice of the bundled corpus, about a minute
    .venv/bin/python docs/workbench_screenshots.py --full   # the whole bundled corpus, about 4 minutes
    .venv/bin/python docs/workbench_screenshots.py --only series,dashboard   # just these pages

Ingesting the whole bundled KCNA archive (1,842 documents) takes about four minutes on a two-core
machine, so by default the store is built from a slice of it: every item of the leader's activities
topic and of the top news, and every item whose headline names him (the reports the register is made
of), with the two seed documents and the constructed market reports of tests/fixtures/market/; the same steps as `nkpipe ingest`, then the register. It serves the
app on 127.0.0.1, signs in as a reviewer (who sees every page) in headless chromium and saves a
screenshot of each main page. Nothing outside 127.0.0.1 is contacted. Each file stays under 300 KB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nkpipe.web.app import create_app  # noqa: E402
from pipeline.accounts import add_user  # noqa: E402
from pipeline.activities import rebuild_register  # noqa: E402
from pipeline.config import Config, StoreConfig  # noqa: E402
from pipeline.ingest import run_ingest  # noqa: E402
from pipeline.series import refresh_series  # noqa: E402
from pipeline.sources import SourceSpec, ensure_source, parse_published, read_source_list  # noqa: E402
from pipeline.store import open_store  # noqa: E402
from pipeline.store.db import Store  # noqa: E402
from pipeline.store.document_search import DocumentFilter, search_documents  # noqa: E402
from pipeline.store.people_rows import PeopleFilter, people_page  # noqa: E402
from pipeline.store.workbench_rows import FactFilter, facts_page  # noqa: E402
from tests.browser import chromium, serving, sign_in  # noqa: E402

ARCHIVE = REPO / "corpus" / "kcna" / "headlines_2024-11-11.json"
MARKET_SOURCES = REPO / "tests" / "fixtures" / "market" / "sources.toml"  # constructed market reports
SEEDS = {"000_f097f9237f64d457.txt": ("News article on the Asan Institute tally", "article", None),
         "004_ac8b9aa3b2848aff.txt": ("Sejong Institute Policy Brief 2025-30", "brief", "2025-11-19")}
SLICE_TOPICS = ("WPK General Secretary Kim Jong Un's Revolutionary Activities", "Top News")
OUT = REPO / "docs" / "screenshots"
NAME, PASSWORD = "reviewer", "reviewer-password"
VIEWPORT = {"width": 1280, "height": 900}
SEARCH = "flood houses"
MAX_BYTES = 300_000


def archive_slice(folder: Path) -> Path:
    """The bundled archive's items about the leader, as an archive file of their own."""
    items = json.loads(ARCHIVE.read_text(encoding="utf-8"))
    kept = [i for i in items if i["topic"] in SLICE_TOPICS or "Kim Jong Un" in (i.get("headline") or "")]
    path = folder / "kcna-slice.json"
    path.write_text(json.dumps(kept), encoding="utf-8")
    return path


def build_store(folder: Path, full: bool) -> tuple[Config, Store]:
    config = replace(Config(base_dir=REPO), store=StoreConfig(url=f"sqlite:///{folder / 'nkpipe.db'}"))
    store = open_store(config.store.url)
    archive = ARCHIVE if full else archive_slice(folder)
    sources = [ensure_source(store, SourceSpec(str(archive), "kcna", "KCNA English items (CC0)", None), REPO)]
    sources += [ensure_source(store, SourceSpec(str(REPO / "corpus" / "seeds" / name), kind, label,
                                                parse_published(day)), REPO)
                for name, (label, kind, day) in SEEDS.items()]
    sources += [ensure_source(store, spec, REPO) for spec in read_source_list(MARKET_SOURCES)]
    run_ingest(store, config, sources, progress=print)
    rebuild_register(store)
    refresh_series(store)
    add_user(store, NAME, "reviewer", PASSWORD, config.web)
    return config, store


def pages(store: Store) -> dict[str, str]:
    """Screenshot name -> the page's path, with documents and a person that show what their pages do."""
    person = people_page(store, PeopleFilter(), 0, 1).rows[0].person_id
    document = search_documents(store, DocumentFilter('"accompanied by" inspected'), 0, 1).hits[0].document_id
    tally = facts_page(store, FactFilter(kind="activity_count"), 0, 1).rows[0]  # a seed's: among other facts
    return {"dashboard": "/", "register": "/register", "tallies": "/tallies?year=2024&breakdown=sector",
            "facts": "/facts?kind=activity_count", "documents": f"/documents?q={quote(SEARCH)}",
            "document": f"/documents/{document}",
            "document-fact": f"/documents/{tally.document_id}?fact={tally.fact_id}#marked",
            "people": "/people", "person": f"/people/{person}", "review-queue": "/review",
            "series": "/series?measure=KPW/USD&place=Pyongyang"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="ingest the whole bundled archive (about 4 minutes)")
    parser.add_argument("--only", default="", help="comma-separated screenshot names to make (default: all)")
    args = parser.parse_args()
    full, only = args.full, {name for name in args.only.split(",") if name}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config, store = build_store(Path(tmp), full)
        print(f"store built in {time.perf_counter() - started:.0f} s")
        with serving(create_app(config, store)) as base_url, chromium() as browser:
            page = browser.new_page(viewport=VIEWPORT)
            sign_in(page, base_url, NAME, PASSWORD)
            for name, path in pages(store).items():
                if only and name not in only:
                    continue
                page.goto(base_url + path)
                target = OUT / f"{name}.png"
                page.screenshot(path=str(target))
                size = target.stat().st_size
                print(f"{target.relative_to(REPO)}: {path} ({size // 1000} KB)")
                if size > MAX_BYTES:
                    raise SystemExit(f"{target} is {size} bytes, over {MAX_BYTES}: make the viewport smaller")


if __name__ == "__main__":
    main()
