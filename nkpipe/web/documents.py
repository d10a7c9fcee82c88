"""The documents page: full-text search over the stored documents' titles and texts, best match first,
with the words it found marked in each title and in a snippet of the text; without a search, the newest
documents. Its CSV and ``/api/documents`` follow the other workbench tables (``nkpipe.web.tables``).

The search syntax is ``pipeline.store.document_search``'s: words, "a phrase", ``OR``, ``-word``;
every other character is text, so no search fails on its syntax, and it reaches SQL only as bound
parameters. A snippet comes from the database with markers around the words found; the page writes
its pieces autoescaped, the found ones inside ``<mark>``, so a document's text never becomes markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from nkpipe.web.tables import (
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
from pipeline.store import document_search
from pipeline.store.document_search import DocumentFilter, DocumentHit, Fragment

DOCUMENT_COLUMNS = ("title", "published", "source", "words", "snippet")


def _text(pieces: Sequence[Fragment]) -> str:
    return "".join(p.text for p in pieces)


def document_table(hits: Sequence[DocumentHit]) -> Table:
    cells = tuple(tuple(map(cell, (h.title or h.document_id, h.published, h.source_name, h.word_count,
                                   _text(h.snippet) or None))) for h in hits)
    links = tuple({"title": f"/documents/{h.document_id}"} for h in hits)
    extra = tuple({"document_id": h.document_id, "url": h.url, "score": h.score,
                   "snippet_marked": [{"text": p.text, "matched": p.matched} for p in h.snippet]} for h in hits)
    # the marked pieces are shown only where they spell the cell's text: the page and its CSV never differ
    marked = tuple({column: pieces for column, pieces in (("title", h.title_fragments), ("snippet", h.snippet))
                    if pieces and _text(pieces) == row[DOCUMENT_COLUMNS.index(column)]}
                   for h, row in zip(hits, cells))
    return Table("documents", DOCUMENT_COLUMNS, cells, links, extra, marked)


def _document_filter(query: Query) -> DocumentFilter:
    published_from, published_to = query.period("date_from", "date_to")
    return DocumentFilter(query.text("q"), published_from, published_to)


def document_routes(app: FastAPI) -> None:
    @app.get("/documents", response_class=HTMLResponse)
    def documents(request: Request, session: Session | None = Depends(table_reader)):
        query = Query(request)
        wanted, (page, per_page), as_csv = _document_filter(query), query.page(), query.wants_csv()
        found = document_search.search_documents(request.app.state.store, wanted, (page - 1) * per_page, per_page)
        table = document_table(found.hits)
        if as_csv:
            return csv_answer(table)
        return render_page(request, "documents.html", session, table=table, wanted=wanted, found=found,
                           date_from=query.text("date_from") or "", date_to=query.text("date_to") or "",
                           paging=Paging(found.total, page, per_page), csv_url=this_url(request, format="csv"),
                           api_url=this_url(request, "/api/documents", page=None, per_page=None, format=None),
                           page_url=lambda number: this_url(request, page=str(number), format=None))

    @app.get("/api/documents")
    def documents_api(request: Request, user: User = Depends(api_reader)):
        def read() -> Response:
            query = Query(request)
            wanted, (offset, limit) = _document_filter(query), query.slice()
            found = document_search.search_documents(request.app.state.store, wanted, offset, limit)
            return api_answer(document_table(found.hits), found.total, offset, limit)

        return for_api(read)
