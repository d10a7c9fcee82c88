"""Tables -> pandas -> CSV or Parquet files, one file per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import NkpipeError
from pipeline.store.db import EXPORT_TABLES, Store

FORMATS = ("csv", "parquet")


def read_tables(store: Store, tables: Sequence[str] = EXPORT_TABLES) -> dict[str, Any]:
    """Each table as a pandas DataFrame, by name (the tables ``export_tables`` writes, by default)."""
    unknown = [name for name in tables if name not in EXPORT_TABLES]
    if unknown:
        raise NkpipeError(f"no exportable table {', '.join(map(repr, unknown))}; choose among {', '.join(EXPORT_TABLES)}")
    return {name: store.read_table(name) for name in tables}


def export_tables(store: Store, out_dir: Path, fmt: str = "csv",
                  tables: tuple[str, ...] = EXPORT_TABLES) -> dict[str, Path]:
    """Write each table to ``out_dir/<table>.<fmt>``; returns table -> file."""
    if fmt not in FORMATS:
        raise NkpipeError(f"unknown export format {fmt!r}; choose csv or parquet")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in tables:
        frame = store.read_table(name)
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        written[name] = path
    return written


def write_rows(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str]) -> Path:
    """Write ``rows`` to ``path`` as CSV, or Parquet when the name ends in .parquet."""
    import pandas as pd

    fmt = path.suffix.lstrip(".").lower() or "csv"
    if fmt not in FORMATS:
        raise NkpipeError(f"cannot write {str(path)!r}: name a .csv or a .parquet file")
    frame = pd.DataFrame(list(rows), columns=list(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
