"""Extract fact rows from a JSON list of documents with whichever ``pipeline`` is importable.

Made to run an older extractor (a git worktree of an earlier commit on PYTHONPATH) on the
documents of ``bench/corrections_survival.py``, which keeps the rows as a fixture:

    git worktree add /tmp/legacy 12de5ae
    PYTHONPATH=/tmp/legacy python bench/extract_fact_rows.py DOCUMENTS.json OUT.json

It deliberately does not put this checkout on ``sys.path``: the code measured is the one given.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from pipeline.config import Config
from pipeline.derived import build_stages
from pipeline.facts import facts_version
from pipeline.nlp import analyze_documents
from pipeline.records import BatchItem, CleanDocument


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: extract_fact_rows.py DOCUMENTS.json OUT.json")
    documents = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    batch = [BatchItem(f"doc-{index}", 0, CleanDocument(
        key=d["key"], url=d["url"], title=None, author=None, text=d["text"], format="text",
        published=date.fromisoformat(d["published"]) if d["published"] else None), None)
        for index, d in enumerate(documents)]
    analyzed = analyze_documents(batch, Config().nlp, build_stages(Config()))
    rows = {item.document.key: list(result.derived_rows("facts")) for item, result in zip(batch, analyzed)}
    out = {"extractor_version": facts_version(), "pipeline": str(Path(sys.modules["pipeline"].__file__).parent),
           "rows": rows}
    Path(sys.argv[2]).write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"{sum(map(len, rows.values()))} facts from {len(rows)} documents ({out['extractor_version']})")


if __name__ == "__main__":
    main()
