"""The analyst's workbench: the register, its tallies and the facts as filterable tables with a
chart, a CSV download and a read-only JSON API; the reports behind a register row; a document page.

Pages need a signed-in analyst (or any higher role). The JSON API (``/api/register``,
``/api/tallies``, ``/api/facts``) takes the same session cookie or a bearer token made with
``nkpipe users token NAME``, which reads as an analyst whatever the account's role. A table's CSV
is the page's own address with ``format=csv``: the same filters and page, so exactly the rows
and columns shown. The API gives the same rows, with ids and raw numbers added, paged by
``limit`` and ``offset``. Filters are checked here (a bad one is a 400 that says what to write)
and reach SQL only as bound parameters (``pipeline.store.workbench_rows``).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from nkpipe.web.auth import SESSION_COOKIE, page_for
from nkpipe.web.charts import Bar, Chart, Group, Segment, bar_chart
from pipeline import accounts, workbench
from pipeline.accounts import Session, User
from pipeline.facts import fact_kinds, format_value
from pipeline.records import SECTORS
from pipeline.report import SECTOR_COLOURS
from pipeline.store import workbench_rows
from pipeline.store.workbench_rows import ALL_KINDS, UNKNOWN_SECTOR, FactFilter, FactRow, RegisterFilter, RegisterRow
from pipeline.tallies import ROW_KINDS

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
API_LIMIT, MAX_API_LIMIT = 100, 1000
MAX_FILTER_CHARS = 200
REPORTED_COLOUR = "#4d4d4d"
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,9}")
_WORD = re.compile(r"[a-z_]{1,32}")
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # document and activity ids; anything else names nothing


class ApiProblem(Exception):
    """An API request that cannot be answered: a JSON error, not the HTML error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def workbench_routes(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem):
        headers = {"WWW-Authenticate": 'Bearer realm="nkpipe"'} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    _register_routes(app)
    _tally_routes(app)
    _fact_routes(app)


# --- tables: one definition for the page, its CSV and the API ------------------------------------


@dataclass(frozen=True)
class Table:
    """Rows as the page shows them: the CSV writes ``cells`` as they are; the API adds ``extra``."""

    name: str
    columns: tuple[str, ...]
    cells: tuple[tuple, ...]
    links: tuple[Mapping[str, str], ...]  # per row: column -> address its cell links to
    extra: tuple[Mapping[str, object], ...]  # per row: ids and raw numbers for the API


@dataclass(frozen=True)
class Paging:
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1


def _cell(value):
    """What a table cell holds: text or a number, "" for nothing; the same on the page and in the CSV."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value.isoformat() if isinstance(value, date) else value


def _csv_cell(value):
    # A text cell starting like a formula would run in a spreadsheet; a quote makes it text there.
    return "'" + value if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS) else value


def _csv(table: Table) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([_csv_cell(c) for c in row] for row in table.cells)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{table.name}.csv"'})


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value


def _api_rows(table: Table) -> list[dict]:
    """The table's rows as JSON objects: its cells (an empty one as null) and the row's ids and numbers."""
    return [{**{c: (None if v == "" else v) for c, v in zip(table.columns, cells)},
             **{k: _json_value(v) for k, v in extra.items()}}
            for cells, extra in zip(table.cells, table.extra)]


def _api_answer(table: Table, total: int, offset: int, limit: int, **more) -> JSONResponse:
    return JSONResponse({"total": total, "offset": offset, "limit": limit, "rows": _api_rows(table), **more})


# --- query parameters: checked, with a message that says what to write ----------------------------


class Query:
    """The request's query parameters, each read with its check; a bad one is a 400."""

    def __init__(self, request: Request) -> None:
        self.params = request.query_params

    def _raw(self, name: str) -> str:
        return self.params.get(name, "").strip()

    def text(self, name: str) -> str | None:
        value = self._raw(name)
        if len(value) > MAX_FILTER_CHARS:
            raise HTTPException(400, f"{name} has {len(value)} characters; use at most {MAX_FILTER_CHARS}")
        return value or None

    def word(self, name: str, example: str) -> str | None:
        """A name made of lower-case letters and underscores (an activity type)."""
        value = self._raw(name)
        if value and not _WORD.fullmatch(value):
            raise HTTPException(400, f"{name} {value[:40]!r} is not {example} (lower-case letters and _)")
        return value or None

    def day(self, name: str) -> date | None:
        value = self._raw(name)
        if not value:
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise HTTPException(400, f"{name} {value[:20]!r} is not a date; write it as YYYY-MM-DD") from None

    def choice(self, name: str, choices: Sequence[str]) -> str | None:
        value = self._raw(name)
        if value and value not in choices:
            raise HTTPException(400, f"{name} {value[:40]!r} is not one of: {', '.join(choices)}")
        return value or None

    def number(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._raw(name)
        if not value:
            return default
        if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
            raise HTTPException(400, f"{name} {value[:20]!r} is not a whole number from {low} to {high}")
        return int(value)

    def period(self, start: str, end: str) -> tuple[date | None, date | None]:
        first, last = self.day(start), self.day(end)
        if first and last and first > last:
            raise HTTPException(400, f"{start} {first} is after {end} {last}; swap them")
        return first, last

    def page(self) -> tuple[int, int]:
        """(page, per_page) of a page or its CSV."""
        return self.number("page", 1, 1, 10**6), self.number("per_page", PAGE_SIZE, 1, MAX_PAGE_SIZE)

    def slice(self) -> tuple[int, int]:
        """(offset, limit) of an API call."""
        return self.number("offset", 0, 0, 10**9), self.number("limit", API_LIMIT, 1, MAX_API_LIMIT)

    def wants_csv(self) -> bool:
        return self.choice("format", ("html", "csv")) == "csv"


def _for_api(read: Callable[[], Response]) -> Response:
    """The API's answer, a bad parameter's 400 as JSON rather than the HTML error page."""
    try:
        return read()
    except HTTPException as exc:
        raise ApiProblem(exc.status_code, str(exc.detail)) from exc


def api_reader(request: Request) -> User:
    """The account an API call reads as: a bearer token's, else the session cookie's; else 401."""
    header = request.headers.get("authorization")
    store = request.app.state.store
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        user = accounts.find_token_user(store, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiProblem(401, "the bearer token is wrong, revoked or its account disabled; make a new one "
                                  "with `nkpipe users token NAME`")
        return user
    session = accounts.find_session(store, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise ApiProblem(401, "sign in first, or send 'Authorization: Bearer TOKEN' with a token made by "
                              "`nkpipe users token NAME`")
    return session.user


def _render(request: Request, name: str, session: Session, **context) -> Response:
    # The same context as the app's own pages (base.html needs the user and the CSRF token of sign-out).
    context.update(session=session, user=session.user, csrf_token=session.csrf_token)
    return request.app.state.templates.TemplateResponse(request, name, context)


def _url(request: Request, path: str | None = None, **changes) -> str:
    """This page's address (or ``path``) with its query parameters, ``changes`` applied (None drops one)."""
    params = {k: v for k, v in request.query_params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v is not None})
    query = urlencode(params)
    return (path or request.url.path) + (f"?{query}" if query else "")


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
    return Table("register", REGISTER_COLUMNS, tuple(tuple(map(_cell, c)) for c in cells), links, extra)


def month_chart(months: Mapping[str, Mapping[str, int]]) -> Chart | None:
    """Activities per month by sector, every month from the first to the last with any."""
    if not months:
        return None
    first, last = min(months), max(months)
    every = []
    year, month = int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= last:
        every.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    groups = [Group(m, (Bar(tuple(Segment(s, months.get(m, {}).get(s, 0), c) for s, c in SECTOR_COLOURS.items())),))
              for m in every]
    return bar_chart("register-chart", "Activities per month by sector, as filtered", groups, list(SECTOR_COLOURS.items()))


def _register_routes(app: FastAPI) -> None:
    @app.get("/register", response_class=HTMLResponse)
    def register(request: Request, session: Session = Depends(page_for("analyst"))):
        query = Query(request)
        wanted, (page, per_page), as_csv = _register_filter(query), query.page(), query.wants_csv()
        store = request.app.state.store
        found = workbench_rows.register_page(store, wanted, (page - 1) * per_page, per_page)
        table = register_table(found.rows)
        if as_csv:
            return _csv(table)
        return _render(request, "register.html", session, table=table, wanted=wanted,
                       paging=Paging(found.total, page, per_page), sectors=(*SECTORS, UNKNOWN_SECTOR),
                       types=workbench_rows.activity_types(store), kinds=(*ROW_KINDS, ALL_KINDS),
                       chart=month_chart(workbench_rows.register_months(store, wanted)),
                       csv_url=_url(request, format="csv"), api_url=_url(request, "/api/register", page=None,
                                                                           per_page=None, format=None),
                       page_url=lambda number: _url(request, page=str(number), format=None))

    @app.get("/register/{activity_id}", response_class=HTMLResponse)
    def register_row(request: Request, activity_id: str, session: Session = Depends(page_for("analyst"))):
        found = (workbench.activity_evidence(request.app.state.store, activity_id)
                 if _KEY.fullmatch(activity_id) else None)
        if found is None:
            raise HTTPException(404, f"the register has no row {activity_id[:64]!r}; it may have been rebuilt "
                                     f"since the link was made: find it again on /register")
        return _render(request, "register_row.html", session, found=found,
                       table=register_table([found.row]))

    @app.get("/api/register")
    def register_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            wanted, (offset, limit) = _register_filter(query), query.slice()
            found = workbench_rows.register_page(request.app.state.store, wanted, offset, limit)
            return _api_answer(register_table(found.rows), found.total, offset, limit)

        return _for_api(read)


# --- tallies -----------------------------------------------------------------------------------

TALLY_COLUMNS = ("year", "breakdown", "key", "register", "reported", "difference", "source", "sentence")


def tally_table(lines: Sequence[workbench.TallyLine]) -> Table:
    cells = tuple(tuple(map(_cell, (t.year, t.breakdown, t.key, t.register, t.reported, t.difference, t.source,
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
        by_sector = {t.key: t.register for t in lines if t.year == year and t.breakdown == "sector" and t.reported is None}
        bars = [Bar(tuple(Segment(f"register {s}", by_sector.get(s, 0), c) for s, c in SECTOR_COLOURS.items()))]
        bars += [Bar((Segment(f"reported by {t.source}", t.reported_middle, REPORTED_COLOUR),))
                 for t in lines if t.year == year and t.breakdown == "total" and t.reported_middle is not None]
        groups.append(Group(str(year), tuple(bars)))
    if not any(bar.total for group in groups for bar in group.bars):
        return None
    legend = [(f"register: {s}", c) for s, c in SECTOR_COLOURS.items()] + [("reported total", REPORTED_COLOUR)]
    return bar_chart("tallies-chart", "Register counts per year by sector, beside reported yearly totals", groups, legend)


def _of_breakdown(lines: Sequence[workbench.TallyLine], breakdown: str | None) -> list[workbench.TallyLine]:
    return [line for line in lines if breakdown is None or line.breakdown == breakdown]


def _tally_query(query: Query) -> tuple[int | None, str | None]:
    return query.number("year", None, 1000, 9999), query.choice("breakdown", workbench.BREAKDOWNS)


def _tally_routes(app: FastAPI) -> None:
    @app.get("/tallies", response_class=HTMLResponse)
    def tallies(request: Request, session: Session = Depends(page_for("analyst"))):
        query = Query(request)
        (year, breakdown), as_csv = _tally_query(query), query.wants_csv()
        found = workbench.tally_table(request.app.state.store, year)
        table = tally_table(_of_breakdown(found.lines, breakdown))
        if as_csv:
            return _csv(table)
        # the chart shows the register by sector and the reported totals, whichever breakdown the table shows
        return _render(request, "tallies.html", session, table=table, found=found, year=year, breakdown=breakdown,
                       breakdowns=workbench.BREAKDOWNS, chart=year_chart(found.lines),
                       csv_url=_url(request, format="csv"), api_url=_url(request, "/api/tallies", format=None))

    @app.get("/api/tallies")
    def tallies_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            (year, breakdown), (offset, limit) = _tally_query(query), query.slice()
            found = workbench.tally_table(request.app.state.store, year)
            lines = _of_breakdown(found.lines, breakdown)
            return _api_answer(tally_table(lines[offset:offset + limit]), len(lines), offset, limit,
                               coverage=list(found.coverage))

        return _for_api(read)


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
    cells = tuple(tuple(map(_cell, (f.kind, f.subject, _fact_value(f), f.unit, f.period_label, f.period_start,
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
    def facts(request: Request, session: Session = Depends(page_for("analyst"))):
        query = Query(request)
        (wanted, subject), (page, per_page), as_csv = _fact_query(query), query.page(), query.wants_csv()
        store = request.app.state.store
        found = workbench.find_facts(store, wanted, subject, (page - 1) * per_page, per_page)
        table = fact_table(found.rows)
        if as_csv:
            return _csv(table)
        return _render(request, "facts.html", session, table=table, wanted=wanted, subject=subject or "",
                       year=query.text("year") or "", date_from=query.text("date_from") or "",
                       date_to=query.text("date_to") or "", kinds=fact_kinds(),
                       subjects=workbench_rows.fact_subjects(store), units=workbench_rows.fact_units(store),
                       paging=Paging(found.total, page, per_page), csv_url=_url(request, format="csv"),
                       api_url=_url(request, "/api/facts", page=None, per_page=None, format=None),
                       page_url=lambda number: _url(request, page=str(number), format=None))

    @app.get("/api/facts")
    def facts_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            (wanted, subject), (offset, limit) = _fact_query(query), query.slice()
            found = workbench.find_facts(request.app.state.store, wanted, subject, offset, limit)
            return _api_answer(fact_table(found.rows), found.total, offset, limit)

        return _for_api(read)

    @app.get("/documents/{document_id}", response_class=HTMLResponse)
    def document(request: Request, document_id: str, session: Session = Depends(page_for("analyst"))):
        store = request.app.state.store
        stored = workbench_rows.stored_document(store, document_id) if _KEY.fullmatch(document_id) else None
        if stored is None:
            raise HTTPException(404, f"no stored document has the id {document_id[:64]!r}")
        fact_id = Query(request).number("fact", None, 1, 10**9 - 1)
        fact = workbench_rows.fact_in_document(store, fact_id, document_id) if fact_id is not None else None
        if fact_id is not None and fact is None:
            raise HTTPException(404, f"document {document_id} has no fact {fact_id}; its facts were extracted "
                                     f"again since the link was made: find it again on /facts")
        return _render(request, "document.html", session, document=stored, fact=fact,
                       fact_cells=fact_table([fact]) if fact else None,
                       text=workbench.fact_text(stored.text, fact) if fact else None)
