"""nkpipe's applications: the ``nkpipe`` command (``nkpipe.cli``) and the review UI (``nkpipe.web``).

They sit above the library (``pipeline``, which never imports them) and the Prefect
flows (``flows``). For notebooks, ``import nkpipe`` gives the library's entry points:

    from nkpipe import open_tables
    tables = open_tables()                       # the store of config.toml / $NKPIPE_DB
    tables = open_tables("sqlite:///data/nkpipe.db", ["facts", "activities"])
    tables["facts"]                              # a pandas DataFrame

    import nkpipe
    store = nkpipe.open_store(nkpipe.load_config().store.url)   # the store itself, for anything else
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline import __version__
from pipeline.config import load_config
from pipeline.store import open_store

__all__ = ["__version__", "load_config", "open_store", "open_tables"]


def open_tables(db_url: str | None = None, tables: Sequence[str] | None = None) -> dict[str, Any]:
    """The main tables of a store as pandas DataFrames, by name: every exportable table (documents, facts,
    activities, series_points, ...; never users or tokens), or those named. ``db_url`` defaults to the
    store config.toml or $NKPIPE_DB names."""
    from pipeline.export import read_tables
    from pipeline.store.db import EXPORT_TABLES

    store = open_store(db_url or load_config().store.url)
    return read_tables(store, tuple(tables) if tables else EXPORT_TABLES)
