"""Make the README's screenshots of the review UI: docs/review-queue.png and docs/review-correction.png.

Run once by hand after a change to the pages (needs Debian's chromium at /usr/bin/chromium):

    .venv/bin/python docs/screenshots.py

It ingests the two bundled seed documents into a temporary store (the same steps as
`nkpipe ingest`), builds the register, signs in as a reviewer in headless chromium and
saves the pages. Nothing outside 127.0.0.1 is contacted.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.accounts import add_user  # noqa: E402
from pipeline.activities import rebuild_register  # noqa: E402
from pipeline.config import Config, StoreConfig  # noqa: E402
from pipeline.ingest import run_ingest  # noqa: E402
from pipeline.sources import SourceSpec, ensure_source  # noqa: E402
from pipeline.store import open_store# noqa: E402
from nkpipe.web.app import create_app  # noqa: E402
from tests.browser import chromium, serving, sign_in  # noqa: E402

SEEDS = {"000_f097f9237f64d457.txt": ("Asan Institute article", "2026-02-08"),
         "004_ac8b9aa3b2848aff.txt": ("Sejong policy brief", "2025-11-19")}
PASSWORD = "reviewer-password"


def build_store(folder: Path):
    from pipeline.sources import parse_published

    config = replace(Config(base_dir=REPO), store=StoreConfig(url=f"sqlite:///{folder / 'nkpipe.db'}"))
    store = open_store(config.store.url)
    sources = [ensure_source(store, SourceSpec(str(REPO / "corpus" / "seeds" / name), "article", label,
                                               parse_published(day)), REPO)
               for name, (label, day) in SEEDS.items()]
    run_ingest(store, config, sources)
    rebuild_register(store)
    add_user(store, "reviewer", "reviewer", PASSWORD, config.web)
    return config, store


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config, store = build_store(Path(tmp))
        with serving(create_app(config, store)) as base_url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            sign_in(page, base_url, "reviewer", PASSWORD, "/review")
            page.screenshot(path=str(REPO / "docs" / "review-queue.png"))
            page.locator("li.item.fact").first.get_by_role("link", name="Correct").click()
            page.screenshot(path=str(REPO / "docs" / "review-correction.png"), full_page=True)
    print("wrote docs/review-queue.png and docs/review-correction.png")


if __name__ == "__main__":
    main()
