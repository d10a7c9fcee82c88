"""The market series page (/series) and its JSON (/api/series): one measure in one place per month, merged
across outlets (``pipeline.series``), drawn as a line through the monthly medians with the outlets' low-high
range behind each month, divergent months in the flag colour; below, the month table and the quotes behind it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from nkpipe.web.auth import page_for
from nkpipe.web.charts import Chart, RangePoint, months_between, range_line_chart
from nkpipe.web.tables import Query, Table, api_answer, api_reader, cell, csv_answer, for_api, render_page, this_url
from pipeline import series as market
from pipeline.accounts import Session, User
from pipeline.records import MonthSummary, SeriesPoint
from pipeline.store import series_rows

MEDIAN_COLOUR, RANGE_COLOUR, DIVERGENT_COLOUR = "#1f4e79", "#9ecae1", "#d62728"
DEFAULT_MEASURE = "KPW/USD"
POINT_COLUMNS = ("survey_date", "dated_by", "place", "value", "outlet", "published", "sentence")


def month_table(summaries: Sequence[MonthSummary]) -> Table:
    rows = market.summary_rows(summaries)
    cells = tuple(tuple(cell(row[c]) for c in market.SUMMARY_COLUMNS) for row in rows)
    return Table("series", market.SUMMARY_COLUMNS, cells, tuple({} for _ in rows), tuple({} for _ in rows))


def point_table(points: Sequence[SeriesPoint]) -> Table:
    cells = tuple(tuple(map(cell, (p.survey_end, p.dated_by, p.place or market.NO_PLACE, p.value, p.outlet,
                                   p.published, (p.sentence or "").strip() or None))) for p in points)
    links = tuple({"value": f"/documents/{p.document_id}" + (f"?fact={p.fact_id}#marked" if p.fact_id else ""),
                   "outlet": f"/documents/{p.document_id}"} for p in points)
    extra = tuple({"document_id": p.document_id, "fact_id": p.fact_id, "measure": p.measure, "unit": p.unit,
                   "low": p.low, "high": p.high, "qualifier": p.qualifier} for p in points)
    return Table("series_points", POINT_COLUMNS, cells, links, extra)


def series_chart(measure: str, place: str | None, summaries: Sequence[MonthSummary]) -> Chart | None:
    if not summaries:
        return None
    where = place or "every place"
    points = {m.month: RangePoint(m.median, m.low, m.high, m.divergent,
                                  f"{m.sources} source{'s' if m.sources != 1 else ''}"
                                  + (", outlets disagree" if m.divergent else "")) for m in summaries}
    legend = [("median across outlets", MEDIAN_COLOUR), ("low to high", RANGE_COLOUR),
              ("outlets disagree", DIVERGENT_COLOUR)]
    return range_line_chart("series-chart", f"{measure} in {where}: monthly median across outlets",
                            months_between(min(points), max(points)), points,
                            (MEDIAN_COLOUR, RANGE_COLOUR, DIVERGENT_COLOUR), legend)


def _chosen(request: Request, stored: Sequence[SeriesPoint]) -> tuple[str, str | None, list[SeriesPoint]]:
    query = Query(request)
    measures = sorted({p.measure for p in stored})
    measure = query.choice("measure", measures) if measures else None
    measure = measure or (DEFAULT_MEASURE if DEFAULT_MEASURE in measures else (measures[0] if measures else ""))
    place = query.text("place")
    return measure, place, market.select(stored, measure, place)


def series_routes(app: FastAPI) -> None:
    @app.get("/series", response_class=HTMLResponse)
    def series(request: Request, session: Session = Depends(page_for("analyst"))):
        store, config = request.app.state.store, request.app.state.config
        stored = series_rows.load_points(store)
        measure, place, chosen = _chosen(request, stored)
        summaries = market.monthly(chosen, config.series.divergence_share)
        if Query(request).wants_csv():
            return csv_answer(month_table(summaries))
        places = sorted({p.place or market.NO_PLACE for p in stored if p.measure == measure})
        return render_page(request, "series.html", session, measure=measure, place=place or "",
                           measures=sorted({p.measure for p in stored}), places=places,
                           chart=series_chart(measure, place, summaries), months=month_table(summaries),
                           points=point_table(chosen), divergence=config.series.divergence_share,
                           csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/series", format=None))

    @app.get("/api/series")
    def series_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            store, config = request.app.state.store, request.app.state.config
            measure, place, chosen = _chosen(request, series_rows.load_points(store))
            table = month_table(market.monthly(chosen, config.series.divergence_share))
            offset, limit = Query(request).slice()
            return api_answer(table.rows(offset, limit), len(table.cells), offset, limit, measure=measure, place=place)

        return for_api(read)
