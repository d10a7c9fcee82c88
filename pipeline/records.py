"""Frozen dataclasses that the steps of nkpipe exchange.

Stages never pass spaCy Docs, SQLAlchemy rows or HTTP responses to each other:
each boundary converts to one of these records.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple

# What a source is, as the analyst registers it (`--kind`): a news article, a policy brief, or a
# state-media archive (KCNA). Which parser reads its bytes is its source type (pipeline.source_types).
SourceKind = Literal["article", "brief", "kcna"]
SOURCE_KINDS: tuple[str, ...] = ("article", "brief", "kcna")
SECTORS: tuple[str, ...] = ("military", "economic", "political", "foreign", "social")


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FetchState:
    """What the last *completed* processing of a source saw; drives conditional GET."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    pipeline_version: str | None = None


@dataclass(frozen=True)
class Source:
    id: int
    url: str
    kind: SourceKind
    name: str | None
    published: date | None
    enabled: bool
    added_at: datetime
    state: FetchState = field(default_factory=FetchState)
    address_policy: str = "any"  # which addresses fetching it may reach: any | public (pipeline.addresses)
    discovery: Discovery = field(default_factory=lambda: Discovery())

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file://")

    @property
    def owner_id(self) -> int:
        """The source an analyst registered: itself, or the feed, sitemap or listing that found it."""
        return self.discovery.parent_id or self.id


@dataclass(frozen=True)
class Discovery:
    """A source's place in discovery: what the analyst said of it, and, for a discovered
    article (or a sitemap of an index, a page of a listing), where it was found and when to look again."""

    source_type: str | None = None  # the type named by the analyst or found at the last fetch
    link_pattern: str | None = None
    max_pages: int | None = None
    state_media: bool = False
    parent_id: int | None = None
    listed_date: date | None = None
    page: int | None = None
    checks: int = 0
    next_check_at: datetime | None = None
    deleted_at: datetime | None = None
    last_discovered_at: datetime | None = None


@dataclass(frozen=True)
class Fetched:
    """Bytes of one source, or the news that they did not change (HTTP 304)."""

    url: str
    not_modified: bool
    body: bytes | None
    content_type: str | None
    charset: str | None
    etag: str | None
    last_modified: str | None
    http_status: int | None
    content_hash: str | None

    @property
    def size(self) -> int:
        return len(self.body or b"")


@dataclass(frozen=True)
class CleanDocument:
    """One document's clean text with its metadata, ready for NLP."""

    key: str  # stable within its source: the item link for archives, else the source URL
    url: str
    title: str | None
    author: str | None
    published: date | None
    text: str
    format: Literal["html", "text", "pdf", "kcna"]
    section: str | None = None
    published_inferred: bool = False  # the date was inferred from the text, not given
    language: str | None = None  # ISO 639-1; documents in other languages than English are stored, not extracted

    @property
    def text_hash(self) -> str:
        return sha256_hex(self.text)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class ItemSkip:
    """A part of a source that was rejected, with the reason shown to users."""

    key: str | None
    reason: str
    step: str = "clean"  # the ingest step that rejected it: fetch or clean (column skips.stage)


@dataclass(frozen=True)
class Link:
    """An address a feed, sitemap or listing page points to."""

    url: str
    listed_date: date | None = None  # the feed's or sitemap's date for it
    title: str | None = None
    role: Literal["article", "sitemap", "listing"] = "article"  # a sitemap of an index, a listing's next page


@dataclass(frozen=True)
class CleanResult:
    documents: tuple[CleanDocument, ...]
    skips: tuple[ItemSkip, ...] = ()
    links: tuple[Link, ...] = ()  # what a feed, sitemap or listing page points to


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    start_char: int
    end_char: int
    sentence_start: int
    sentence_end: int
    canonical_id: str | None = None  # gazetteer id, or the person id derived from the name
    canonical_name: str | None = None


@dataclass(frozen=True)
class AnalyzedDocument:
    """A clean document plus everything the NLP stage and the derived stages made of it."""

    document_id: str
    source_id: int
    document: CleanDocument
    entities: tuple[Entity, ...]
    sentence_count: int
    raw_hash: str | None = None
    sentences: tuple[tuple[int, int], ...] = ()  # character spans
    derived: tuple[tuple[str, tuple[dict, ...]], ...] = ()  # (table, rows) from extractors

    def derived_rows(self, table: str) -> tuple[dict, ...]:
        return next((rows for name, rows in self.derived if name == table), ())


@dataclass(frozen=True)
class RunCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    words: int = 0
    discovered: int = 0  # new article links found by feeds, sitemaps and listings
    non_english: int = 0  # documents stored without extraction because they are not in English

    def __add__(self, other: "RunCounts") -> "RunCounts":
        return RunCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))

    @property
    def processed(self) -> int:
        return self.new + self.changed


class BatchItem(NamedTuple):
    """One document waiting for the NLP stage, with where it came from."""

    document_id: str
    source_id: int
    document: CleanDocument
    raw_hash: str | None


# --- the activity register ------------------------------------------------------------


@dataclass(frozen=True)
class ReportEntity:
    label: str
    text: str
    start_char: int
    end_char: int
    canonical_id: str | None
    canonical_name: str | None


@dataclass(frozen=True)
class Report:
    """One stored state-media document, as the register needs it."""

    document_id: str
    title: str | None
    text: str
    report_date: date | None
    entities: tuple[ReportEntity, ...] = ()
    sector: str | None = None
    section: str | None = None
    # the sector model's five probabilities for the document; None when a reviewer set its sector
    sector_probabilities: dict[str, float] | None = None


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    role: str  # accompanied | present | counterpart


@dataclass(frozen=True)
class Activity:
    """One reported public activity of the leader, from one or several reports."""

    activity_id: str
    actor: str
    event_date: date | None
    report_date: date | None
    title: str | None
    activity_type: str
    sector: str | None
    place: str | None
    counterpart_country: str | None
    document_ids: tuple[str, ...]
    people: tuple[Person, ...] = ()
    confidence: float = 0.8
    # how event_date was found: "stated" by a report, "linked" from the same-day report of the event
    # it belongs to, "inferred" from the report date (KCNA reports the day before); None without a date
    date_precision: str | None = None
    # what the row is: "activity" (a public appearance), or a "speech", "follow_up", "digest" or
    # "letter" kept as its own row; ``pipeline.tallies.counted`` says which of them a tally counts
    kind: str = "activity"
    part_of: str | None = None  # the activity_id of the event a speech, follow-up or digest belongs to


def activity_id_for(document_id: str) -> str:
    """The id of the activity first reported by a document."""
    return hashlib.sha256(f"activity:{document_id}".encode()).hexdigest()[:20]


SIGNAL_KINDS: tuple[str, ...] = ("gap", "absent", "sector_mix", "series")  # pipeline.signals
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class Evidence:
    """A row behind a signal with its day: a register row, or for a series signal the document (and fact)
    the point came from."""

    activity_id: str | None
    day: date
    document_id: str | None = None
    fact_id: int | None = None

    @property
    def link(self) -> str:
        if self.activity_id:
            return f"/register/{self.activity_id}"
        return f"/documents/{self.document_id}"

    def as_json(self) -> dict:
        found = {"activity_id": self.activity_id, "date": self.day.isoformat(), "link": self.link}
        if self.document_id:
            found |= {"document_id": self.document_id, "fact_id": self.fact_id}
        return found


@dataclass(frozen=True)
class Signal:
    """A change in the register worth an analyst's attention (``pipeline.signals``).

    ``key`` names what the signal is about and stays the same from night to night ("gap:Kim Jong Un",
    "absent:<person id>", "sector_mix:military:up"), so the store can tell a signal it raised before
    from a new one; ``value`` is what was measured (days, or a share difference), and a signal is
    raised again only when it grows. ``as_of`` is the date of the newest document it was measured at.
    """

    kind: str  # one of SIGNAL_KINDS
    key: str
    severity: str  # one of SEVERITIES
    value: float
    summary: str
    evidence: tuple[Evidence, ...]
    as_of: date

    @property
    def links(self) -> tuple[str, ...]:
        return tuple(e.link for e in self.evidence)

    def as_json(self) -> dict:
        """The signal as JSON-ready values (the notify command's input, `nkpipe signals --json`)."""
        return {"kind": self.kind, "key": self.key, "severity": self.severity, "value": self.value,
                "summary": self.summary, "as_of": self.as_of.isoformat(),
                "evidence": [e.as_json() for e in self.evidence]}


# --- market series (pipeline.series) ---------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    """One outlet's observation of a measure in a place for one survey period."""

    measure: str  # "KPW/USD", "KPW/CNY", "KPW/USD official", or a good: "rice", "corn"
    unit: str  # KPW/USD | KPW/CNY | KPW/kg
    place: str | None
    survey_start: date
    survey_end: date
    dated_by: str  # survey | publication
    published: date | None
    value: float
    low: float | None
    high: float | None
    qualifier: str | None
    outlet: str
    document_id: str
    fact_id: int | None = None
    sentence: str | None = None

    @property
    def month(self) -> str:
        return f"{self.survey_end:%Y-%m}"


@dataclass(frozen=True)
class MonthSummary:
    """A measure in one place and month, merged across outlets."""

    measure: str
    unit: str
    place: str | None
    month: str
    median: float
    low: float
    high: float
    sources: int  # distinct outlets
    points: int
    divergent: bool  # the outlets differ by more than the divergence share of the median

    @property
    def spread(self) -> float:
        """(high - low) / median: how far the outlets disagree, as a share."""
        return (self.high - self.low) / self.median if self.median else 0.0
