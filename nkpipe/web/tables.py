"""What every workbench page shares: a table defined once for its page, its CSV and its JSON; paging;
query parameters read with their checks; the API's bearer-token reader; rendering and addresses.

A table's CSV is the page's own address with ``format=csv``: the same filters and page, so exactly
the rows and columns shown; a text cell that starts like a formula gets a leading quote. The API gives
the same rows with ids and raw numbers added, paged by ``limit`` and ``offset``. A bad parameter is a
400 that says what to write (JSON for the API, the error page for a page).
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

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from nkpipe.web.auth import SESSION_COOKIE, current_session, page_for
from pipeline import accounts
from pipeline.accounts import Session, User

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
API_LIMIT, MAX_API_LIMIT = 100, 1000
MAX_FILTER_CHARS = 200
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,9}")
_WORD = re.compile(r"[a-z_]{1,32}")
KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # document, activity and person ids; anything else names nothing


class ApiProblem(Exception):
    """An API request that cannot be answered: a JSON error, not the HTML error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message



# --- tables: one definition for the page, its CSV and the API ------------------------------------


@dataclass(frozen=True)
class Table:
    """Rows as the page shows them: the CSV writes ``cells`` as they are; the API adds ``extra``."""

    name: str
    columns: tuple[str, ...]
    cells: tuple[tuple, ...]
    links: tuple[Mapping[str, str], ...]  # per row: column -> address its cell links to
    extra: tuple[Mapping[str, object], ...]  # per row: ids and raw numbers for the API
    # per row: column -> its cell's text in pieces, the words a search found marked (the CSV has the same text)
    marked: tuple[Mapping[str, Sequence], ...] = ()

    def rows(self, offset: int, limit: int) -> "Table":
        """The same table cut to ``limit`` rows from ``offset``: one page of the API."""
        cut = slice(offset, offset + limit)
        return Table(self.name, self.columns, self.cells[cut], self.links[cut], self.extra[cut], self.marked[cut])


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


def cell(value):
    """What a table cell holds: text or a number, "" for nothing; the same on the page and in the CSV."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value.isoformat() if isinstance(value, date) else value


def _csv_cell(value):
    # A text cell starting like a formula would run in a spreadsheet; a quote makes it text there.
    return "'" + value if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS) else value


def csv_answer(table: Table) -> Response:
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


def api_answer(table: Table, total: int, offset: int, limit: int, **more) -> JSONResponse:
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
        if "\x00" in value:  # PostgreSQL's text cannot hold it, and no stored text does
            raise HTTPException(400, f"{name} holds a NUL character (%00); remove it")
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


def for_api(read: Callable[[], Response]) -> Response:
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


def table_reader(request: Request) -> Session | None:
    """Who reads a table page: a signed-in analyst (or any higher role); for the page's CSV
    (``format=csv``) also a bearer token, as for the API, so that a script downloads exactly the rows the
    page shows. None for a token: a CSV is no page and needs no session."""
    if request.query_params.get("format") == "csv" and request.headers.get("authorization") is not None:
        api_reader(request)
        return None
    return page_for("analyst")(current_session(request))


def render_page(request: Request, name: str, session: Session, **context) -> Response:
    # The same context as the app's own pages (base.html needs the user and the CSRF token of sign-out).
    context.update(session=session, user=session.user, csrf_token=session.csrf_token)
    return request.app.state.templates.TemplateResponse(request, name, context)


def this_url(request: Request, path: str | None = None, **changes) -> str:
    """This page's address (or ``path``) with its query parameters, ``changes`` applied (None drops one)."""
    params = {k: v for k, v in request.query_params.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v is not None})
    query = urlencode(params)
    return (path or request.url.path) + (f"?{query}" if query else "")

