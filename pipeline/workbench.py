"""What the analyst's workbench shows beyond plain reads: facts about a person in any romanisation,
the register's tallies beside every tally a source reported, the sentences that made a register
row, marked in the texts of its reports, and a document's text cut where its entities and facts are.

Reads go through the store's read modules (``workbench_rows``, ``register_rows``, ``document_rows``);
nothing here writes. The web pages and the JSON API (``nkpipe/web/workbench.py``) call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.activities import Evidence, Explanation, Reconciliation, corpus_coverage, evidence, explain, reconcile
from pipeline.counting_rules import CountingRuleSet, counting_rule_sets
from pipeline.entities import person_key
from pipeline.records import SECTORS, Report
from pipeline.store import document_rows, register_rows, workbench_rows
from pipeline.store.db import Store
from pipeline.store.workbench_rows import EntityRow, FactFilter, FactRow, Paged, RegisterRow, TallyCount
from pipeline.text import sentence_bounds

BREAKDOWNS = ("total", "sector", "type", "category", "counterpart")  # in the order the tallies table shows them


# --- facts -------------------------------------------------------------------------------------


def find_facts(store: Store, wanted: FactFilter, subject: str | None, offset: int, limit: int) -> Paged[FactRow]:
    """The facts that match, ``subject`` naming a person in any romanisation or part of a subject."""
    if subject:
        wanted = replace(wanted, subjects=tuple(matching_subjects(workbench_rows.fact_subjects(store), subject)))
    return workbench_rows.facts_page(store, wanted, offset, limit)


def matching_subjects(subjects: Sequence[str], name: str) -> list[str]:
    """The subjects that name the same person as ``name`` ("Kim Jong-un" = "Kim Jong Un") or contain it, in
    any case. Matched here rather than in SQL: a person's identity is ``person_key``'s, not a LIKE's."""
    wanted, needle = person_key(name), name.casefold()
    return [s for s in subjects if needle in s.casefold() or (wanted is not None and person_key(s) == wanted)]


# --- tallies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TallyLine:
    """A register count for a year and breakdown, beside the tally a source reported for it, if any."""

    year: int
    breakdown: str  # total | sector | type | category | counterpart
    key: str
    register: int
    reported: str | None = None  # as the source wrote it: "51", "~70", "8-10"
    reported_low: float | None = None
    reported_high: float | None = None
    difference: float | None = None  # register minus reported; None unless the corpus covers the whole year
    source: str | None = None
    sentence: str | None = None
    document_id: str | None = None
    fact_id: int | None = None

    @property
    def reported_middle(self) -> float | None:
        bounds = [b for b in (self.reported_low, self.reported_high) if b is not None]
        return sum(bounds) / len(bounds) if bounds else None


@dataclass(frozen=True)
class TallyTable:
    lines: tuple[TallyLine, ...]
    coverage: tuple[str, ...]  # for each year shown: how much of it the corpus covers


def tally_table(store: Store, year: int | None = None) -> TallyTable:
    """The register's yearly counts in total, by sector and by type, with every reported tally of the
    leader's activities (facts of kind activity_count) beside the register's count for it: what
    ``nkpipe reconcile`` prints, for every year (or ``year``)."""
    counts = workbench_rows.register_tallies(store, year)
    reported = document_rows.query_facts(store, "activity_count", year)
    register = register_rows.load_register(store)
    years = sorted({c.year for c in counts} | {f["period_start"].year for f in reported if f["period_start"]})
    lines: list[TallyLine] = []
    coverage: list[str] = []
    for shown in [y for y in years if year is None or y == year]:
        covered = corpus_coverage(store, shown)
        compared = reconcile(register, reported, shown, coverage=covered)
        year_lines = _year_lines(shown, compared, [c for c in counts if c.year == shown])
        lines += year_lines
        if year_lines:
            coverage.append(f"{covered.describe()}" + ("" if covered.complete else
                            ": no difference is given, the register counts only the covered days"))
    return TallyTable(tuple(lines), tuple(coverage))


@dataclass(frozen=True)
class ExplainedTallies:
    """A year's reported tallies beside the register recounted under every counting rule set."""

    rule_sets: tuple[CountingRuleSet, ...]
    explanations: tuple[Explanation, ...]
    coverage: str  # how much of the year the corpus covers
    complete: bool  # the whole year: only then is a rule set called closest


def explained_tallies(store: Store, year: int) -> ExplainedTallies:
    """What ``nkpipe reconcile --year Y --explain`` prints, for the tallies page."""
    covered = corpus_coverage(store, year)
    rule_sets = tuple(counting_rule_sets())
    found = explain(register_rows.load_register(store, every_row=True),
                    document_rows.query_facts(store, "activity_count", year), year, rule_sets, coverage=covered)
    return ExplainedTallies(rule_sets, tuple(found), covered.describe(), covered.complete)


def _year_lines(year: int, compared: Sequence[Reconciliation], counts: Sequence[TallyCount]) -> list[TallyLine]:
    lines = [TallyLine(year, _breakdown(r.key), r.key, r.register_count, r.reported_value, r.reported_low,
                       r.reported_high, r.difference, r.source, r.sentence, r.document_id, r.fact_id)
             for r in compared]
    beside = {(line.breakdown, line.key) for line in lines}
    lines += [TallyLine(year, c.by, c.key, c.count) for c in counts if (c.by, c.key) not in beside]
    # stable: a count's reported tallies stay in the order reconcile found them
    return sorted(lines, key=lambda line: (BREAKDOWNS.index(line.breakdown), line.key))


def _breakdown(key: str) -> str:
    """Which of the register's breakdowns a reconciliation key ("all", a sector, "with <country>") is."""
    if key == "all":
        return "total"
    if key in SECTORS:
        return "sector"
    return "counterpart" if key.startswith("with ") else "category"


# --- the sentences that made a register row -----------------------------------------------------


@dataclass(frozen=True)
class MarkedText:
    """A text cut so a template can mark one sentence and, inside it, one span."""

    before: str
    sentence_start: str
    span: str
    sentence_end: str
    after: str


def marked(text: str, sentence: tuple[int, int], span: tuple[int, int] | None = None) -> MarkedText:
    """``text`` with ``sentence`` (and ``span`` inside it, if given) cut out; offsets out of range are clipped."""
    start, end = (max(0, min(sentence[0], len(text))), max(0, min(sentence[1], len(text))))
    span_start, span_end = span if span is not None else (end, end)
    span_start, span_end = max(start, min(span_start, end)), max(start, min(span_end, end))
    return MarkedText(text[:start], text[start:span_start], text[span_start:span_end], text[span_end:end], text[end:])


# --- a document with its entities and facts marked ---------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A run of a document's text and what is marked on all of it."""

    text: str
    entity: EntityRow | None = None
    fact: FactRow | None = None  # the fact read from these words (the first, where facts overlap)
    focused: bool = False  # the words of the fact the page was opened for


@dataclass(frozen=True)
class AnnotatedText:
    """A document's text in pieces; with a fact to show, its sentence apart from the text around it."""

    before: tuple[Piece, ...]
    sentence: tuple[Piece, ...]  # () without a fact to show, or when it has no offsets
    after: tuple[Piece, ...]


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    entity: EntityRow | None = None
    fact: FactRow | None = None
    focus: bool = False


def annotated_text(text: str, entities: Sequence[EntityRow], facts: Sequence[FactRow],
                   focus: FactRow | None = None) -> AnnotatedText:
    """``text`` cut where an entity or a fact begins or ends, each piece knowing what covers it; with
    ``focus``, the sentence of that fact apart and its words marked. Offsets past the text are clipped."""
    spans = [_Span(e.start_char, e.end_char, entity=e) for e in entities]
    spans += [_Span(f.start_char, f.end_char, fact=f) for f in facts
              if f.start_char is not None and f.end_char is not None]
    if focus is None or focus.start_char is None or focus.end_char is None:
        return AnnotatedText(_pieces(text, 0, len(text), spans), (), ())
    spans.append(_Span(focus.start_char, focus.end_char, focus=True))
    start, end = sentence_bounds(text, focus.start_char, focus.end_char)
    return AnnotatedText(_pieces(text, 0, start, spans), _pieces(text, start, end, spans),
                         _pieces(text, end, len(text), spans))


def _pieces(text: str, start: int, end: int, spans: Sequence[_Span]) -> tuple[Piece, ...]:
    """The pieces of ``text[start:end]``: a sweep over the span boundaries, so a long text with many
    entities costs its number of boundaries, not boundaries times spans."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    inside = sorted((s for s in spans if s.start < end and s.end > start and s.start < s.end),
                    key=lambda s: (s.start, -s.end))
    cuts = sorted({start, end} | {max(start, min(end, p)) for s in inside for p in (s.start, s.end)})
    pieces: list[Piece] = []
    active: list[_Span] = []
    waiting = 0
    for left, right in zip(cuts, cuts[1:]):
        active = [s for s in active if s.end > left]
        while waiting < len(inside) and inside[waiting].start <= left:
            active.append(inside[waiting])
            waiting += 1
        piece = Piece(text[left:right], next((s.entity for s in active if s.entity), None),
                      next((s.fact for s in active if s.fact), None), any(s.focus for s in active))
        last = pieces[-1] if pieces else None
        if last and last.entity is piece.entity and last.fact is piece.fact and last.focused == piece.focused:
            pieces[-1] = replace(last, text=last.text + piece.text)  # one entity stays one piece
        else:
            pieces.append(piece)
    return tuple(pieces)


@dataclass(frozen=True)
class ReportEvidence:
    report: Report
    evidence: Evidence | None
    text: MarkedText | None


@dataclass(frozen=True)
class ActivityEvidence:
    row: RegisterRow
    reports: tuple[ReportEvidence, ...]
    missing: tuple[str, ...]  # document ids of the row no longer stored


def activity_evidence(store: Store, activity_id: str) -> ActivityEvidence | None:
    """A register row with each report it came from and the sentence that made it, or None."""
    row = workbench_rows.activity_row(store, activity_id)
    if row is None:
        return None
    reports = register_rows.reports_of(store, row.document_ids)
    found = tuple(_report_evidence(r) for r in reports)
    stored = {r.document_id for r in reports}
    return ActivityEvidence(row, found, tuple(i for i in row.document_ids if i not in stored))


def _report_evidence(report: Report) -> ReportEvidence:
    shown = evidence(report)
    return ReportEvidence(report, shown, None if shown is None else marked(report.text, (shown.start, shown.end)))
