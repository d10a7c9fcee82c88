"""Full-text search over the documents' titles and texts, ranked, with the matching words marked.

The index is migration 0010's: SQLite's FTS5 table ``documents_fts`` (kept in step by triggers on
documents) or a GIN index on PostgreSQL. A search is read the same way on both: words (all of them,
in any form: "inspected" finds "inspection"), "a phrase" in double quotes, ``OR`` between two
alternatives and ``-word`` (or ``-"a phrase"``) for what a document must not contain, the syntax of
web search engines. Any other character is part of a word, never an operator, so no search fails on
its syntax: each term goes to SQL as a bound parameter, inside an FTS5 string on SQLite (where a
quote is doubled) and to ``phraseto_tsquery`` on PostgreSQL. A search with nothing but excluded or
word-less terms finds nothing. A copy of a story stored under another link is left out (its cluster's
representative is found). Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.store.db import SEARCH_KEYS_TABLE, SEARCH_TABLE, Store, documents, sources, story_clusters

# --- what a reader writes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word or a phrase to look for (or, excluded, to leave out)."""

    words: str
    excluded: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """Every clause must match; a clause matches when any of its terms does."""

    clauses: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    @property
    def finds_anything(self) -> bool:
        return bool(self.clauses)


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')  # -"a phrase" (the closing quote may be missing), or a word
_HAS_WORD = re.compile(r"\w")  # a term without a letter or digit matches no token; it is dropped


def parse_search(text: str) -> SearchQuery:
    """A reader's search as clauses of alternatives and excluded terms, whatever characters it holds."""
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    joins_previous = False
    for match in _TOKEN.finditer(text):
        quoted_minus, phrase, word = match.groups()
        if word is not None and word.casefold() == "or":
            joins_previous = bool(clauses)
            continue
        if word is not None:
            term = Term(word[1:], True) if word.startswith("-") and len(word) > 1 else Term(word)
        else:
            term = Term(phrase, bool(quoted_minus))
        if not _HAS_WORD.search(term.words):
            continue
        if term.excluded:
            excluded.append(term)
        elif joins_previous:
            clauses[-1].append(term)
        else:
            clauses.append([term])
        joins_previous = False
    return SearchQuery(tuple(tuple(c) for c in clauses), tuple(excluded))


def fts5_query(wanted: SearchQuery) -> str:
    """The search as an FTS5 query in which every term is a quoted string: text, never syntax."""
    def quoted(term: Term) -> str:
        return '"' + term.words.replace('"', '""') + '"'

    anded = " AND ".join("(" + " OR ".join(quoted(t) for t in clause) + ")" for clause in wanted.clauses)
    return anded + "".join(f" NOT {quoted(t)}" for t in wanted.excluded)


# --- what a search finds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    """A piece of a title or snippet; ``matched`` when it is a word the search found."""

    text: str
    matched: bool


@dataclass(frozen=True)
class DocumentFilter:
    search: str | None = None  # None: every document, the newest first
    published_from: date | None = None
    published_to: date | None = None


@dataclass(frozen=True)
class DocumentHit:
    document_id: str
    title: str | None
    url: str
    published: date | None
    source_name: str | None
    word_count: int
    score: float | None  # higher is better; comparable within one search only; None without a search
    title_fragments: tuple[Fragment, ...]
    snippet: tuple[Fragment, ...]  # the passage of the text that matches best; () without a search


@dataclass(frozen=True)
class DocumentPage:
    hits: tuple[DocumentHit, ...]
    total: int
    offset: int
    limit: int
    query: SearchQuery | None  # None without a search


# Markers the database puts around a matched word; private-use characters, which no cleaned text holds.
START_MARK, STOP_MARK = "\ue000", "\ue001"
_MARKED = re.compile(f"{START_MARK}(.*?){STOP_MARK}", re.S)
SNIPPET_TOKENS = 32  # FTS5 counts tokens, PostgreSQL words: about two lines of text either way
PG_TEXT_CHARS = 250_000  # migration 0010 indexes this much of a text on PostgreSQL (under its 1 MB vector limit)
# The indexed expression of migration 0010, to the letter: PostgreSQL uses the index only for the same expression.
PG_VECTOR = ("setweight(to_tsvector('english'::regconfig, coalesce(documents.title, '')), 'A') || "
             f"setweight(to_tsvector('english'::regconfig, left(documents.text, {PG_TEXT_CHARS})), 'B')")
_PG_CONFIG = "'english'::regconfig"
_PG_SNIPPET = (f"StartSel={START_MARK}, StopSel={STOP_MARK}, MaxWords={SNIPPET_TOKENS}, MinWords=12, "
               'MaxFragments=2, FragmentDelimiter=" … "')
_PG_TITLE = f"StartSel={START_MARK}, StopSel={STOP_MARK}, HighlightAll=true"
TITLE_WEIGHT, TEXT_WEIGHT = 4.0, 1.0  # SQLite's bm25 weights: a word in the title counts more, as 'A' over 'B'

_fts = sa.table(SEARCH_TABLE, sa.column("rowid"), sa.column("title"), sa.column("text"))
_keys = sa.table(SEARCH_KEYS_TABLE, sa.column("search_id"), sa.column("document_id"))


def fragments(marked: str) -> tuple[Fragment, ...]:
    """A text the database marked, cut into plain and matched pieces (none of them empty)."""
    pieces: list[Fragment] = []
    position = 0
    for match in _MARKED.finditer(marked):
        pieces += [Fragment(marked[position:match.start()], False), Fragment(match.group(1), True)]
        position = match.end()
    pieces.append(Fragment(marked[position:], False))
    return tuple(p for p in pieces if p.text)


def search_documents(store: Store, wanted: DocumentFilter, offset: int, limit: int) -> DocumentPage:
    """The documents that match, best first (then the newest), ``limit`` from ``offset``; without a
    search, every document in the period, the newest first."""
    query = parse_search(wanted.search) if wanted.search else None
    if query is not None and not query.finds_anything:
        return DocumentPage((), 0, offset, limit, query)
    with store.reading() as conn:
        if query is None:
            return _newest(conn, wanted, offset, limit)
        search = _SqliteSearch(query) if conn.dialect.name == "sqlite" else _PostgresSearch(query)
        return search.page(conn, _listed_where(wanted), offset, limit)


def _listed_where(wanted: DocumentFilter) -> list[sa.ColumnElement[bool]]:
    """The period, and no copy of a story stored under another link: its cluster's representative
    stands for it, as on the facts page, so a story is found once."""
    copies = sa.select(story_clusters.c.document_id).where(story_clusters.c.representative.is_(False))
    where = [documents.c.document_id.not_in(copies)]
    if wanted.published_from:
        where.append(documents.c.published >= wanted.published_from)
    if wanted.published_to:
        where.append(documents.c.published <= wanted.published_to)
    return where


_LISTED = (documents.c.document_id, documents.c.title, documents.c.url, documents.c.published,
           sources.c.name.label("source_name"), documents.c.word_count)


def _newest(conn: Connection, wanted: DocumentFilter, offset: int, limit: int) -> DocumentPage:
    where = _listed_where(wanted)
    total = conn.execute(sa.select(sa.func.count()).select_from(documents).where(*where)).scalar_one()
    rows = conn.execute(sa.select(*_LISTED).join(sources, sources.c.id == documents.c.source_id).where(*where)
                        .order_by(documents.c.published.is_(None), documents.c.published.desc(),
                                  documents.c.document_id).offset(offset).limit(limit))
    hits = tuple(DocumentHit(*r, None, (Fragment(r.title, False),) if r.title else (), ()) for r in rows)
    return DocumentPage(hits, total, offset, limit, None)


def _hits(rows: Sequence[sa.Row], marked: dict[str, tuple[str | None, str | None]]) -> tuple[DocumentHit, ...]:
    """Rows of (listed columns, score) with each document's marked title and snippet."""
    hits = []
    for r in rows:
        title, snippet = marked.get(r.document_id, (None, None))
        hits.append(DocumentHit(r.document_id, r.title, r.url, r.published, r.source_name, r.word_count,
                                float(r.score), fragments(title or r.title or ""), fragments(snippet or "")))
    return tuple(hits)


class _SqliteSearch:
    """FTS5, ranked by bm25 (lower is better there, so the score is its negative)."""

    def __init__(self, query: SearchQuery) -> None:
        self.query = query
        self.match = sa.literal_column(SEARCH_TABLE).op("MATCH")(sa.bindparam("search", fts5_query(query)))

    def page(self, conn: Connection, where: list, offset: int, limit: int) -> DocumentPage:
        found = (_fts.join(_keys, _keys.c.search_id == _fts.c.rowid)
                 .join(documents, documents.c.document_id == _keys.c.document_id)
                 .join(sources, sources.c.id == documents.c.source_id))
        score = -sa.func.bm25(sa.literal_column(SEARCH_TABLE), TITLE_WEIGHT, TEXT_WEIGHT)
        total = conn.execute(sa.select(sa.func.count()).select_from(found).where(self.match, *where)).scalar_one()
        rows = conn.execute(sa.select(*_LISTED, score.label("score")).select_from(found).where(self.match, *where)
                            .order_by(sa.desc("score"), documents.c.published.desc(), documents.c.document_id)
                            .offset(offset).limit(limit)).all()
        marked = self._marked(conn, [r.document_id for r in rows])
        return DocumentPage(_hits(rows, marked), total, offset, limit, self.query)

    def _marked(self, conn: Connection, document_ids: list[str]) -> dict[str, tuple[str, str]]:
        # Only for the page's rows: FTS5 reads a whole text to cut its snippet.
        if not document_ids:
            return {}
        table = sa.literal_column(SEARCH_TABLE)
        query = (sa.select(_keys.c.document_id, sa.func.highlight(table, 0, START_MARK, STOP_MARK),
                           sa.func.snippet(table, 1, START_MARK, STOP_MARK, "…", SNIPPET_TOKENS))
                 .select_from(_fts.join(_keys, _keys.c.search_id == _fts.c.rowid))
                 .where(self.match, _keys.c.document_id.in_(document_ids)))
        return {r[0]: (r[1], r[2]) for r in conn.execute(query)}


class _PostgresSearch:
    """The GIN index of migration 0010, ranked by ts_rank (a word in the title weighs more)."""

    def __init__(self, query: SearchQuery) -> None:
        self.query = query
        clauses = [_pg_any(clause) for clause in query.clauses]
        clauses += [sa.func.tsquery_not(_pg_phrase(term)) for term in query.excluded]
        self.tsquery = clauses[0]
        for clause in clauses[1:]:
            self.tsquery = sa.func.tsquery_and(self.tsquery, clause)
        self.vector = sa.literal_column(PG_VECTOR)

    def page(self, conn: Connection, where: list, offset: int, limit: int) -> DocumentPage:
        match = self.vector.op("@@")(self.tsquery)
        score = sa.func.ts_rank(self.vector, self.tsquery)
        total = conn.execute(sa.select(sa.func.count()).select_from(documents).where(match, *where)).scalar_one()
        rows = conn.execute(sa.select(*_LISTED, score.label("score"))
                            .join(sources, sources.c.id == documents.c.source_id).where(match, *where)
                            .order_by(sa.desc("score"), documents.c.published.desc().nulls_last(),
                                      documents.c.document_id).offset(offset).limit(limit)).all()
        marked = self._marked(conn, [r.document_id for r in rows])
        return DocumentPage(_hits(rows, marked), total, offset, limit, self.query)

    def _marked(self, conn: Connection, document_ids: list[str]) -> dict[str, tuple[str, str]]:
        # Only for the page's rows: ts_headline parses a whole text again.
        if not document_ids:
            return {}
        config = sa.literal_column(_PG_CONFIG)
        query = sa.select(documents.c.document_id,
                          sa.func.ts_headline(config, sa.func.coalesce(documents.c.title, ""), self.tsquery, _PG_TITLE),
                          sa.func.ts_headline(config, sa.func.left(documents.c.text, PG_TEXT_CHARS), self.tsquery,
                                              _PG_SNIPPET)
                          ).where(documents.c.document_id.in_(document_ids))
        return {r[0]: (r[1], r[2]) for r in conn.execute(query)}


def _pg_phrase(term: Term) -> sa.ColumnElement:
    return sa.func.phraseto_tsquery(sa.literal_column(_PG_CONFIG), sa.bindparam(None, term.words, sa.Text))


def _pg_any(clause: Sequence[Term]) -> sa.ColumnElement:
    query = _pg_phrase(clause[0])
    for term in clause[1:]:
        query = sa.func.tsquery_or(query, _pg_phrase(term))
    return query
