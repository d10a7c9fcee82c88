"""The analyst's workbench: the register, its tallies and the facts as filterable tables with a
chart, a CSV download and a read-only JSON API; the reports behind a register row; a document page
with its entities, facts and sector labels marked. ``workbench_routes`` also registers the document
search (``nkpipe.web.documents``), the people pages (``nkpipe.web.people``) and the market series
(``nkpipe.web.series_pages``).

Pages need a signed-in analyst (or any higher role). The JSON API (``/api/register``,
``/api/tallies``, ``/api/facts``, ``/api/documents``, ``/api/people``) takes the same session cookie
or a bearer token made with ``nkpipe users token NAME``, which reads as an analyst whatever the
account's role. CSV, paging and parameter checks are ``nkpipe.web.tables``'; filters reach SQL only
as bound parameters (``pipeline.store.workbench_rows`` and its neighbours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from nkpipe.web.auth import page_for
from nkpipe.web.charts import Bar, Chart, Group, Segment, bar_chart, months_between
from nkpipe.web.documents import document_routes
from nkpipe.web.people import people_routes
from nkpipe.web.series_pages import series_routes
from nkpipe.web.tables import (
    KEY,
    ApiProblem,
    Paging,
    Query,
    Table,
    api_answer,
    api_reader,
    cell,
    csv_answer,
    for_api,
    render_page,
    table_reader,
    this_url,
)
from pipeline import workbench
from pipeline.accounts import Session, User
from pipeline.facts import fact_kinds, format_value
from pipeline.records import SECTORS
from pipeline.report import SECTOR_COLOURS
from pipeline.store import workbench_rows
from pipeline.store.workbench_rows import ALL_KINDS, UNKNOWN_SECTOR, FactFilter, FactRow, RegisterFilter, RegisterRow
from pipeline.tallies import ROW_KINDS
from pipeline.text import paragraphs

REPORTED_COLOUR = "#4d4d4d"


def workbench_routes(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem):
        headers = {"WWW-Authenticate": 'Bearer realm="nkpipe"'} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    _register_routes(app)
    _tally_routes(app)
    _fact_routes(app)
    document_routes(app)
    people_routes(app)
    series_routes(app)


# --- register ----------------------------------------------------------------------------------

REGISTER_COLUMNS = ("date", "date_precision", "kind", "type", "sector", "place", "counterpart", "companions",
                    "title", "reports")


def _register_filter(query: Query) -> RegisterFilter:
    date_from, date_to = query.period("date_from", "date_to")
    return RegisterFilter(date_from, date_to, query.choice("sector", (*SECTORS, UNKNOWN_SECTOR)),
                          query.word("type", "an activity type such as inspection"), query.text("place"),
                          query.text("companion"),
                          query.text("counterpart"), query.choice("kind", (*ROW_KINDS, ALL_KINDS)))


def register_table(rows: Sequence[RegisterRow]) -> Table:
    cells = tuple((r.day, r.date_precision, r.kind, r.activity_type, r.sector or UNKNOWN_SECTOR, r.place,
                   "; ".join(filter(None, (r.counterpart_country, *r.counterparts))), "; ".join(r.companions),
                   r.title, len(r.document_ids)) for r in rows)
    links = tuple({"title": f"/register/{r.activity_id}", "reports": f"/register/{r.activity_id}"} for r in rows)
    extra = tuple({"activity_id": r.activity_id, "document_ids": list(r.document_ids), "reviewed": r.reviewed}
                  for r in rows)
    return Table("register", REGISTER_COLUMNS, tuple(tuple(map(cell, c)) for c in cells), links, extra)


def month_chart(months: Mapping[str, Mapping[str, int]]) -> Chart | None:
    """Activities per month by sector, every month from the first to the last with any."""
    if not months:
        return None
    groups = [Group(m, (Bar(tuple(Segment(s, months.get(m, {}).get(s, 0), c) for s, c in SECTOR_COLOURS.items())),))
              for m in months_between(min(months), max(months))]
    return bar_chart("register-chart", "Activities per month by sector, as filtered", groups, list(SECTOR_COLOURS.items()))


def _register_routes(app: FastAPI) -> None:
    @app.get("/register", response_class=HTMLResponse)
    def register(request: Request, session: Session | None = Depends(table_reader)):
        query = Query(request)
        wanted, (page, per_page), as_csv = _register_filter(query), query.page(), query.wants_csv()
        store = request.app.state.store
        found = workbench_rows.register_page(store, wanted, (page - 1) * per_page, per_page)
        table = register_table(found.rows)
        if as_csv:
            return csv_answer(table)
        return render_page(request, "register.html", session, table=table, wanted=wanted,
                           paging=Paging(found.total, page, per_page), sectors=(*SECTORS, UNKNOWN_SECTOR),
                           types=workbench_rows.activity_types(store), kinds=(*ROW_KINDS, ALL_KINDS),
                           chart=month_chart(workbench_rows.register_months(store, wanted)),
                           csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/register", page=None, per_page=None, format=None),
                           page_url=lambda number: this_url(request, page=str(number), format=None))

    @app.get("/register/{activity_id}", response_class=HTMLResponse)
    def register_row(request: Request, activity_id: str, session: Session = Depends(page_for("analyst"))):
        found = (workbench.activity_evidence(request.app.state.store, activity_id)
                 if KEY.fullmatch(activity_id) else None)
        if found is None:
            raise HTTPException(404, f"the register has no row {activity_id[:64]!r}; it may have been rebuilt "
                                     f"since the link was made: find it again on /register")
        return render_page(request, "register_row.html", session, found=found,
                           table=register_table([found.row]))

    @app.get("/api/register")
    def register_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            wanted, (offset, limit) = _register_filter(query), query.slice()
            found = workbench_rows.register_page(request.app.state.store, wanted, offset, limit)
            return api_answer(register_table(found.rows), found.total, offset, limit)

        return for_api(read)


# --- tallies -----------------------------------------------------------------------------------

TALLY_COLUMNS = ("year", "breakdown", "key", "register", "reported", "difference", "source", "sentence")


def tally_table(lines: Sequence[workbench.TallyLine]) -> Table:
    cells = tuple(tuple(map(cell, (t.year, t.breakdown, t.key, t.register, t.reported, t.difference, t.source,
                                    (t.sentence or "").strip() or None))) for t in lines)
    links = tuple({"reported": _fact_url(t.document_id, t.fact_id), "source": _fact_url(t.document_id, t.fact_id)}
                  if t.document_id else {} for t in lines)
    extra = tuple({"reported_low": t.reported_low, "reported_high": t.reported_high, "document_id": t.document_id,
                   "fact_id": t.fact_id} for t in lines)
    return Table("tallies", TALLY_COLUMNS, cells, links, extra)


def year_chart(lines: Sequence[workbench.TallyLine]) -> Chart | None:
    """Per year: the register's count stacked by sector, beside each total a source reported."""
    years = sorted({t.year for t in lines})
    groups = []
    for year in years:
        # every line of a sector carries its register count, a line beside a reported tally too
        by_sector = {t.key: t.register for t in lines if t.year == year and t.breakdown == "sector"}
        bars = [Bar(tuple(Segment(f"register {s}", by_sector.get(s, 0), c) for s, c in SECTOR_COLOURS.items()))]
        bars += [Bar((Segment(f"reported by {t.source}", t.reported_middle, REPORTED_COLOUR),))
                 for t in lines if t.year == year and t.breakdown == "total" and t.reported_middle is not None]
        groups.append(Group(str(year), tuple(bars)))
    if not any(bar.total for group in groups for bar in group.bars):
        return None
    legend = [(f"register: {s}", c) for s, c in SECTOR_COLOURS.items()] + [("reported total", REPORTED_COLOUR)]
    return bar_chart("tallies-chart", "Register counts per year by sector, beside reported yearly totals", groups, legend)


def explain_table(found: workbench.ExplainedTallies) -> Table:
    """Each reported tally beside the register recounted under every counting rule set (``nkpipe reconcile
    --explain``): one column per rule set, the closest set(s) and the residual (that recount less the reported)."""
    names = tuple(rule_set.name for rule_set in found.rule_sets)
    columns = ("breakdown", "reported", *names, "closest", "residual", "source")
    rows = found.explanations
    cells = tuple(tuple(map(cell, (e.key, e.reported_value, *(r.count for r in e.recounts),
                                   " = ".join(e.closest) or None, e.residual, e.source))) for e in rows)
    links = tuple({"reported": _fact_url(e.document_id, e.fact_id), "source": _fact_url(e.document_id, e.fact_id)}
                  if e.document_id else {} for e in rows)
    extra = tuple({"document_id": e.document_id, "fact_id": e.fact_id, "sentence": e.sentence} for e in rows)
    return Table("tallies_explained", columns, cells, links, extra)


def _of_breakdown(lines: Sequence[workbench.TallyLine], breakdown: str | None) -> list[workbench.TallyLine]:
    return [line for line in lines if breakdown is None or line.breakdown == breakdown]


def _tally_query(query: Query) -> tuple[int | None, str | None]:
    return query.number("year", None, 1000, 9999), query.choice("breakdown", workbench.BREAKDOWNS)


def _tally_routes(app: FastAPI) -> None:
    @app.get("/tallies", response_class=HTMLResponse)
    def tallies(request: Request, session: Session | None = Depends(table_reader)):
        query = Query(request)
        (year, breakdown), as_csv = _tally_query(query), query.wants_csv()
        found = workbench.tally_table(request.app.state.store, year)
        table = tally_table(_of_breakdown(found.lines, breakdown))
        if as_csv:
            return csv_answer(table)
        explained = workbench.explained_tallies(request.app.state.store, year) if year is not None else None
        # the chart shows the register by sector and the reported totals, whichever breakdown the table shows
        return render_page(request, "tallies.html", session, table=table, found=found, year=year,
                           explained=explained, explained_table=explain_table(explained) if explained else None,
                           breakdown=breakdown, breakdowns=workbench.BREAKDOWNS, chart=year_chart(found.lines),
                           csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/tallies", format=None))

    @app.get("/api/tallies")
    def tallies_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            (year, breakdown), (offset, limit) = _tally_query(query), query.slice()
            found = workbench.tally_table(request.app.state.store, year)
            lines = _of_breakdown(found.lines, breakdown)
            return api_answer(tally_table(lines[offset:offset + limit]), len(lines), offset, limit,
                               coverage=list(found.coverage))

        return for_api(read)

    @app.get("/api/tallies/explained")
    def tallies_explained_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            year = query.number("year", None, 1000, 9999)
            if year is None:
                raise ApiProblem(400, "give the year whose reported tallies to explain: ?year=2024")
            found = workbench.explained_tallies(request.app.state.store, year)
            offset, limit = query.slice()
            table = explain_table(found)
            return api_answer(table.rows(offset, limit), len(table.cells), offset, limit, coverage=found.coverage,
                              rule_sets=[{"name": r.name, "description": r.description} for r in found.rule_sets])

        return for_api(read)


# --- facts and documents -----------------------------------------------------------------------

FACT_COLUMNS = ("kind", "subject", "value", "unit", "period", "period_start", "period_end", "place", "sector",
                "document", "sentence")


def _fact_url(document_id: str | None, fact_id: int | None) -> str:
    return f"/documents/{document_id}" + (f"?fact={fact_id}#marked" if fact_id is not None else "")


def _fact_value(fact: FactRow) -> str | None:
    """The number as the source wrote it ("~70", "8-10", ">30,000"); None when the fact has none."""
    bounds = {"range": (fact.low, fact.high), "more_than": (fact.low,), "less_than": (fact.high,)}
    if any(b is None for b in bounds.get(fact.qualifier or "", (fact.value,))):
        return None
    return format_value({"qualifier": fact.qualifier, "value": fact.value, "low": fact.low, "high": fact.high})


def fact_table(rows: Sequence[FactRow]) -> Table:
    cells = tuple(tuple(map(cell, (f.kind, f.subject, _fact_value(f), f.unit, f.period_label, f.period_start,
                                    f.period_end, f.place, f.sector, f.document_title or f.document_id,
                                    (f.sentence or "").strip() or None))) for f in rows)
    links = tuple({"value": _fact_url(f.document_id, f.fact_id), "document": f"/documents/{f.document_id}"}
                  for f in rows)
    extra = tuple({"fact_id": f.fact_id, "document_id": f.document_id, "number": f.value, "low": f.low,
                   "high": f.high, "qualifier": f.qualifier, "category": f.category, "counterpart": f.counterpart,
                   "period_precision": f.period_precision, "confidence": f.confidence, "reviewed": f.reviewed}
                  for f in rows)
    return Table("facts", FACT_COLUMNS, cells, links, extra)


def _fact_query(query: Query) -> tuple[FactFilter, str | None]:
    year = query.number("year", None, 1000, 9999)
    first, last = query.period("date_from", "date_to")
    if year is not None:  # a year is the period from its first to its last day, within any date range given
        first, last = max(filter(None, (first, date(year, 1, 1)))), min(filter(None, (last, date(year, 12, 31))))
    wanted = FactFilter(query.choice("kind", fact_kinds()), None, query.text("unit"), query.text("place"), first, last)
    return wanted, query.text("subject")


def _fact_routes(app: FastAPI) -> None:
    @app.get("/facts", response_class=HTMLResponse)
    def facts(request: Request, session: Session | None = Depends(table_reader)):
        query = Query(request)
        (wanted, subject), (page, per_page), as_csv = _fact_query(query), query.page(), query.wants_csv()
        store = request.app.state.store
        found = workbench.find_facts(store, wanted, subject, (page - 1) * per_page, per_page)
        table = fact_table(found.rows)
        if as_csv:
            return csv_answer(table)
        return render_page(request, "facts.html", session, table=table, wanted=wanted, subject=subject or "",
                           year=query.text("year") or "", date_from=query.text("date_from") or "",
                           date_to=query.text("date_to") or "", kinds=fact_kinds(),
                           subjects=workbench_rows.fact_subjects(store), units=workbench_rows.fact_units(store),
                           paging=Paging(found.total, page, per_page), csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/facts", page=None, per_page=None, format=None),
                           page_url=lambda number: this_url(request, page=str(number), format=None))

    @app.get("/api/facts")
    def facts_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            (wanted, subject), (offset, limit) = _fact_query(query), query.slice()
            found = workbench.find_facts(request.app.state.store, wanted, subject, offset, limit)
            return api_answer(fact_table(found.rows), found.total, offset, limit)

        return for_api(read)

    @app.get("/documents/{document_id}", response_class=HTMLResponse)
    def document(request: Request, document_id: str, session: Session = Depends(page_for("analyst"))):
        store = request.app.state.store
        stored = workbench_rows.stored_document(store, document_id) if KEY.fullmatch(document_id) else None
        if stored is None:
            raise HTTPException(404, f"no stored document has the id {document_id[:64]!r}")
        fact_id = Query(request).number("fact", None, 1, 10**9 - 1)
        fact = workbench_rows.fact_in_document(store, fact_id, document_id) if fact_id is not None else None
        if fact_id is not None and fact is None:
            raise HTTPException(404, f"document {document_id} has no fact {fact_id}; its facts were extracted "
                                     f"again since the link was made: find it again on /facts")
        facts = workbench_rows.document_facts(store, document_id)
        entities = workbench_rows.document_entities(store, document_id)
        return render_page(request, "document.html", session, document=stored, fact=fact,
                           fact_cells=fact_table([fact]) if fact else None, facts=fact_table(facts),
                           text=workbench.annotated_text(stored.text, entities, facts, fact),
                           labels=workbench_rows.document_sector_labels(store, document_id),
                           paragraphs=paragraphs(stored.text),
                           entity_labels=Counter(e.label for e in entities).most_common())
