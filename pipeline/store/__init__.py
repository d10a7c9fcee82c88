"""The store: the floor every other part of nkpipe stands on.

``open_store(url)`` connects and brings the schema to the newest migration. The
modules: ``db`` (schema, engine, the ``Store`` handle), ``migrate`` (Alembic),
``ledger`` / ``document_rows`` / ``register_rows`` / ``correction_rows`` (each owns its
tables), ``persist`` (rows plus the reviewers' corrections in one transaction), and the
workbench's read-only queries ``workbench_rows``, ``document_search`` and ``people_rows``.
"""

from __future__ import annotations

from sqlalchemy.exc import DatabaseError

from pipeline.errors import StoreError
from pipeline.store.db import Store, check_backend, create_engine_for
from pipeline.store.migrate import bring_to_head


def open_store(url: str) -> Store:
    """Open (and create or migrate if needed) the store at ``url``, an absolute URL from the config."""
    store = Store(create_engine_for(check_backend(url)))
    try:
        bring_to_head(store.engine)
    except DatabaseError as exc:  # a damaged or foreign file: one line, not a driver's traceback
        store.engine.dispose()
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"cannot open the database {store.url}: {detail}; if it is a damaged SQLite file, "
                         f"restore it from a backup or start a new store with --db") from exc
    return store


__all__ = ["Store", "open_store"]
