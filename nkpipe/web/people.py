"""The people pages: the officials who appear with the leader in the register (``/people``, by year and
name), and a page per person (``/people/{person_id}``): appearances per month as an SVG chart, the rank
among his companions in each year, first and last seen, and every register row naming the person.

Both tables have their CSV (``format=csv``: the rows shown) and JSON (``/api/people``,
``/api/people/{person_id}``), as the other workbench tables. Merging and splitting a person's aliases
stays with reviewers on ``/review/people``; these pages only read (``pipeline.store.people_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from nkpipe.web.charts import Bar, Chart, Group, Segment, bar_chart, months_between
from nkpipe.web.tables import (
    KEY,
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
from pipeline.accounts import Session, User
from pipeline.store import people_rows
from pipeline.store.people_rows import PeopleFilter, PersonActivity, PersonCount, PersonName, YearCount

ROLE_COLOURS = {"accompanied": "#1f5f99", "present": "#7fb2e5", "counterpart": "#c8553d"}
PEOPLE_COLUMNS = ("person", "appearances", "accompanied", "present", "met", "first_seen", "last_seen", "rank")
YEAR_COLUMNS = ("year", "appearances", "accompanied", "present", "met", "first_seen", "last_seen", "rank",
                "companions")
ACTIVITY_COLUMNS = ("date", "kind", "type", "sector", "place", "role", "title", "appearance")


def person_url(person_id: str) -> str:
    return f"/people/{person_id}"


def people_table(rows: Sequence[PersonCount]) -> Table:
    cells = tuple(tuple(map(cell, (p.name, p.appearances, p.accompanied, p.present, p.met, p.first_seen,
                                   p.last_seen, p.rank))) for p in rows)
    links = tuple({"person": person_url(p.person_id)} for p in rows)
    extra = tuple({"person_id": p.person_id, "companions": p.companions} for p in rows)
    return Table("people", PEOPLE_COLUMNS, cells, links, extra)


def year_table(years: Sequence[YearCount]) -> Table:
    cells = tuple(tuple(map(cell, (y.year, c.appearances, c.accompanied, c.present, c.met, c.first_seen,
                                   c.last_seen, c.rank, c.companions))) for y in years for c in (y.counts,))
    return Table("years", YEAR_COLUMNS, cells, tuple({} for _ in years), tuple({} for _ in years))


def activity_table(rows: Sequence[PersonActivity]) -> Table:
    cells = tuple(tuple(map(cell, (a.day, a.kind, a.activity_type, a.sector, a.place, ", ".join(a.roles), a.title,
                                   "yes" if a.counted else "no"))) for a in rows)
    links = tuple({"title": f"/register/{a.activity_id}"} for a in rows)
    extra = tuple({"activity_id": a.activity_id, "document_ids": list(a.document_ids)} for a in rows)
    return Table("person", ACTIVITY_COLUMNS, cells, links, extra)


def role_month_chart(name: str, months: Mapping[str, Mapping[str, int]]) -> Chart | None:
    """The person's appearances per month by role, every month from the first to the last."""
    if not months:
        return None
    groups = [Group(m, (Bar(tuple(Segment(role, months.get(m, {}).get(role, 0), colour)
                                  for role, colour in ROLE_COLOURS.items())),))
              for m in months_between(min(months), max(months))]
    return bar_chart("person-chart", f"Appearances of {name} with the leader per month, by role", groups,
                     list(ROLE_COLOURS.items()))


def _people_filter(query: Query) -> PeopleFilter:
    return PeopleFilter(query.number("year", None, 1000, 9999), query.text("name"))


def _person(request: Request, person_id: str) -> PersonName:
    found = people_rows.person_name(request.app.state.store, person_id) if KEY.fullmatch(person_id) else None
    if found is None:
        raise HTTPException(404, f"no person has the id {person_id[:64]!r}; find the person on /people")
    return found


def people_routes(app: FastAPI) -> None:
    @app.get("/people", response_class=HTMLResponse)
    def people(request: Request, session: Session | None = Depends(table_reader)):
        query = Query(request)
        wanted, (page, per_page), as_csv = _people_filter(query), query.page(), query.wants_csv()
        found = people_rows.people_page(request.app.state.store, wanted, (page - 1) * per_page, per_page)
        table = people_table(found.rows)
        if as_csv:
            return csv_answer(table)
        return render_page(request, "people_index.html", session, table=table, wanted=wanted,
                           companions=found.rows[0].companions if found.rows else 0,
                           paging=Paging(found.total, page, per_page), csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/people", page=None, per_page=None, format=None),
                           page_url=lambda number: this_url(request, page=str(number), format=None))

    @app.get("/people/{person_id}", response_class=HTMLResponse)
    def person(request: Request, person_id: str, session: Session | None = Depends(table_reader)):
        named = _person(request, person_id)
        query = Query(request)
        (page, per_page), as_csv = query.page(), query.wants_csv()
        store = request.app.state.store
        found = people_rows.person_activities(store, person_id, (page - 1) * per_page, per_page)
        table = activity_table(found.rows)
        if as_csv:
            return csv_answer(table)
        overall = people_rows.people_page(store, PeopleFilter(person_id=person_id), 0, 1).rows
        return render_page(request, "person.html", session, person=named, table=table,
                           overall=overall[0] if overall else None,
                           years=year_table(people_rows.person_years(store, person_id)),
                           chart=role_month_chart(named.name, people_rows.person_months(store, person_id)),
                           paging=Paging(found.total, page, per_page), csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, f"/api/people/{person_id}", page=None, per_page=None,
                                            format=None),
                           page_url=lambda number: this_url(request, page=str(number), format=None))

    @app.get("/api/people")
    def people_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            wanted, (offset, limit) = _people_filter(query), query.slice()
            found = people_rows.people_page(request.app.state.store, wanted, offset, limit)
            return api_answer(people_table(found.rows), found.total, offset, limit)

        return for_api(read)

    @app.get("/api/people/{person_id}")
    def person_api(request: Request, person_id: str, user: User = Depends(api_reader)):
        def read() -> Response:
            named = _person(request, person_id)
            offset, limit = Query(request).slice()
            store = request.app.state.store
            found = people_rows.person_activities(store, person_id, offset, limit)
            years = year_table(people_rows.person_years(store, person_id))
            return api_answer(activity_table(found.rows), found.total, offset, limit,
                              person={"person_id": named.person_id, "name": named.name, "aliases": list(named.aliases)},
                              years=[dict(zip(years.columns, (None if v == "" else v for v in row)))
                                     for row in years.cells],
                              months=people_rows.person_months(store, person_id))

        return for_api(read)
