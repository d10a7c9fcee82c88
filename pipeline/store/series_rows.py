"""Row I/O of the ``series_points`` table: the market series' points, rebuilt from the facts each night."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields

import sqlalchemy as sa

from pipeline.records import SeriesPoint
from pipeline.store.db import Store, series_points

_POINT_FIELDS = tuple(f.name for f in fields(SeriesPoint))


def replace_points(store: Store, points: Sequence[SeriesPoint]) -> None:
    """Delete every point and store ``points`` in one transaction (readers see the old or the new series)."""
    with store.writing() as conn:
        conn.execute(series_points.delete())
        if points:
            conn.execute(series_points.insert(), [{**asdict(p), "month": p.month} for p in points])


def load_points(store: Store) -> list[SeriesPoint]:
    """Every stored point, by measure, place and survey date."""
    query = sa.select(*(series_points.c[name] for name in _POINT_FIELDS)).order_by(
        series_points.c.measure, series_points.c.place, series_points.c.survey_end, series_points.c.outlet)
    with store.reading() as conn:
        return [SeriesPoint(**row._mapping) for row in conn.execute(query)]
