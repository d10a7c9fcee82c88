"""Orchestration of one ingest run: sources -> fetch -> clean -> nlp -> store.

The same code drives the Prefect flow and the immediate ``nkpipe ingest``:
the flow passes Prefect tasks as ``IngestSteps`` (adding retries and observability),
the CLI passes the plain functions. Documents from all sources are pooled and
processed in batches of ``flow.documents_per_task``; a source counts as
processed (and is skipped next time when unchanged) only once every one of
its documents is stored, so a run killed midway is simply resumed.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from pipeline.clean import CLEAN_VERSION
from pipeline.config import CleanConfig, Config, FetchConfig
from pipeline.dates import infer_publication_date
from pipeline.derived import build_stages, stage_tables, stages_version
from pipeline.errors import RejectedContent, StoreError, TransientError
from pipeline.fetch import fetch
from pipeline.nlp import analyze_documents, load_nlp, nlp_version
from pipeline.records import (
    AnalyzedDocument,
    BatchItem,
    CleanDocument,
    CleanResult,
    Fetched,
    ItemSkip,
    RunCounts,
    Source,
    sha256_hex,
)
from pipeline.source_types import split_source
from pipeline.store import document_rows, ledger, persist
from pipeline.store.db import Store

Progress = Callable[[str], None]
Analyze = Callable[[Sequence[BatchItem], Config], list[AnalyzedDocument]]
# Analyses the batches drawn from an iterable, maybe several at once elsewhere (a Dask cluster);
# yields (batch, its documents or the exception it raised) as each finishes. The iterable fetches
# and cleans more sources as it is drawn from, so it is drawn only as batches are wanted.
AnalyzeMany = Callable[[Iterable[Sequence[BatchItem]], Config],
                       Iterator[tuple[Sequence[BatchItem], "list[AnalyzedDocument] | Exception"]]]


def document_id_for(source_url: str, document_url: str) -> str:
    """Stable id of a document: its source's URL and its own, so no source can replace another's document."""
    return sha256_hex(f"{source_url}\n{document_url}")[:24]


def fetch_source(source: Source, config: FetchConfig) -> Fetched:
    previous = source.state if source.state.content_hash else None
    return fetch(source.url, previous=previous, config=config, policy=source.address_policy)


def clean_fetched(fetched: Fetched, source: Source, config: CleanConfig) -> CleanResult:
    """The source's documents, by its source type, each with a publication date where one can be found."""
    result = split_source(fetched, kind=source.kind, url=source.url, published=source.published, config=config)
    return replace(result, documents=tuple(with_publication_date(d) for d in result.documents))


def with_publication_date(document: CleanDocument) -> CleanDocument:
    """Relative dates need a publication date: infer a missing one from the text, marked as inferred."""
    if document.published is not None:
        return document
    inferred = infer_publication_date(document.text)
    return replace(document, published=inferred, published_inferred=inferred is not None)


def analyze_batch(batch: Sequence[BatchItem], config: Config) -> list[AnalyzedDocument]:
    return analyze_documents(batch, config.nlp, build_stages(config))


def write_batch(store: Store, run_id: int | None, analyzed: Sequence[AnalyzedDocument],
                pipeline_version: str, nlp_version_: str, derived_tables: Sequence[sa.Table] | None = None) -> None:
    persist.write_documents(store, run_id, analyzed, pipeline_version, nlp_version_, derived_tables)


def analyze_in_turn(analyze: Analyze) -> AnalyzeMany:
    """Batches analysed one after the other, in this process."""

    def many(batches: Iterable[Sequence[BatchItem]], config: Config):
        for batch in batches:
            try:
                result = analyze(batch, config)
            except Exception as exc:  # reported to the run, which records the batch as failed
                result = exc
            yield batch, result

    return many


def analyze_rolling(submit: Callable[[Sequence[BatchItem], Config], Any], window: int) -> AnalyzeMany:
    """Up to ``window`` batches analysed at once elsewhere, handed back as each finishes.

    ``submit`` returns a future with ``add_done_callback`` and ``result`` (Prefect's, or
    concurrent.futures'). The next batch is submitted as soon as one finishes, before that
    one is handed back to be written, so the workers never wait for the slowest of a wave.
    """

    def many(batches: Iterable[Sequence[BatchItem]], config: Config):
        batches, finished, in_flight = iter(batches), queue.SimpleQueue(), {}

        def submit_next() -> None:
            batch = next(batches, None)
            if batch is not None:
                future = submit(batch, config)
                in_flight[future] = batch
                future.add_done_callback(finished.put)  # may run at once, or on another thread

        for _ in range(max(window, 1)):
            submit_next()
        while in_flight:
            future = finished.get()
            batch = in_flight.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # reported to the run, which records the batch as failed
                result = exc
            submit_next()
            yield batch, result

    return many


@dataclass(frozen=True)
class IngestSteps:
    """The four step functions of a run; the flow swaps in Prefect tasks with the same signatures.

    ``analyze_many`` (default: ``analyze`` over each batch in turn) may analyse several
    batches at once elsewhere (``analyze_rolling``); fetching, cleaning and writing stay in
    this process, and each batch is written as soon as its analysis arrives.
    """

    fetch: Callable[[Source, FetchConfig], Fetched] = fetch_source
    clean: Callable[[Fetched, Source, CleanConfig], CleanResult] = clean_fetched
    analyze: Analyze = analyze_batch
    write: Callable[..., None] = write_batch  # (store, run_id, analyzed, pipeline version, nlp version, tables)
    analyze_many: AnalyzeMany | None = None

    def many(self) -> AnalyzeMany:
        return self.analyze_many or analyze_in_turn(self.analyze)


PLAIN_STEPS = IngestSteps()


def current_versions(config: Config) -> tuple[str, str]:
    """(pipeline_version, nlp_version): a change in either reprocesses documents.

    Loads the models, so a broken one fails the run before any document is touched.
    """
    nlp_v = nlp_version(load_nlp(config.nlp.model, config.nlp.disable))
    return f"{CLEAN_VERSION}|{nlp_v}|{stages_version(build_stages(config))}", nlp_v


@dataclass
class _PendingSource:
    source: Source
    fetched: Fetched
    outcome: str
    remaining: int
    documents: int
    started: float


@dataclass
class _Run:
    store: Store
    config: Config
    steps: IngestSteps
    run_id: int | None
    progress: Progress
    pipeline_version: str
    nlp_version: str
    derived_tables: tuple[sa.Table, ...]
    counts: RunCounts = field(default_factory=RunCounts)
    queue: list[BatchItem] = field(default_factory=list)
    pending: dict[int, _PendingSource] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    is_new: dict[str, bool] = field(default_factory=dict)
    failed_sources: set[int] = field(default_factory=set)
    store_error: Exception | None = None
    stored: int = 0

    # --- per source ----------------------------------------------------------
    def ingest_source(self, source: Source) -> None:
        started = time.perf_counter()
        try:
            fetched = self.steps.fetch(source, self.config.fetch)
        except RejectedContent as exc:
            return self._source_skipped(source, exc.reason, None, started)
        except Exception as exc:  # transient after retries, or a bug: record, go on
            return self._source_failed(source, _describe(exc), None, started)
        if self._unchanged(source, fetched):
            count = document_rows.count_documents(self.store, source.id)
            ledger.record_fetch(self.store, self.run_id, source.id, "unchanged", fetched=fetched,
                                    documents_count=count, duration_s=time.perf_counter() - started)
            ledger.mark_source_outcome(self.store, source.id, "unchanged", None)
            self.counts += RunCounts(unchanged=count)
            return
        try:
            fetched = self._with_body(source, fetched)
            ledger.save_raw(self.store, fetched)
            result = self.steps.clean(fetched, source, self.config.clean)
        except RejectedContent as exc:
            return self._source_skipped(source, exc.reason, fetched, started)
        except Exception as exc:  # a cleaner bug or a failed re-fetch: this source only
            return self._source_failed(source, _describe(exc), fetched, started)
        self._enqueue(source, fetched, result, started)

    def _unchanged(self, source: Source, fetched: Fetched) -> bool:
        same_content = fetched.not_modified or fetched.content_hash == source.state.content_hash
        return same_content and source.state.pipeline_version == self.pipeline_version

    def _with_body(self, source: Source, fetched: Fetched) -> Fetched:
        """After a 304 with a new pipeline version, re-clean the stored bytes."""
        if fetched.body is not None:
            return fetched
        body = ledger.load_raw(self.store, source.state.content_hash or "")
        if body is None:
            return self.steps.fetch(Source(**{**source.__dict__, "state": type(source.state)()}),
                                    self.config.fetch)
        return Fetched(**{**fetched.__dict__, "body": body, "not_modified": False})

    def _enqueue(self, source: Source, fetched: Fetched, result: CleanResult, started: float) -> None:
        skips = list(result.skips)
        items = []
        for document in result.documents:
            doc_id = document_id_for(source.url, document.url)
            if len(document.text) > self.config.nlp.max_document_chars:
                skips.append(ItemSkip(document.key, f"{len(document.text):,} characters, more than [nlp] "
                                                    f"max_document_chars ({self.config.nlp.max_document_chars:,})"))
                continue
            if doc_id in self.seen:
                skips.append(ItemSkip(document.key, f"same document already came from source {self.seen[doc_id]} in this run"))
                continue
            self.seen[doc_id] = source.id
            items.append(BatchItem(doc_id, source.id, document, fetched.content_hash))
        ledger.record_skips(self.store, self.run_id, source.id, skips)
        stored = document_rows.document_versions(self.store, [item.document_id for item in items])
        todo, unchanged = [], 0
        for item in items:
            previous = stored.get(item.document_id)
            if previous == (item.document.text_hash, self.pipeline_version, item.document.published):
                unchanged += 1
            else:
                todo.append(item)
                self.is_new[item.document_id] = previous is None
        self.counts += RunCounts(unchanged=unchanged, skipped=len(skips))
        outcome = "changed" if source.state.content_hash else "new"
        self.pending[source.id] = _PendingSource(source, fetched, outcome, len(todo), len(items), started)
        self.progress(f"source {source.id} ({_short(source.url)}): {len(items)} documents, "
                      f"{len(todo)} to process, {unchanged} unchanged, {len(skips)} skipped")
        self.queue.extend(todo)
        self._complete_finished_sources()

    # --- batches ---------------------------------------------------------------
    def process(self, sources: Sequence[Source]) -> None:
        """Every source, its documents analysed in batches and each batch written as it arrives."""
        for batch, result in self.steps.many()(self._batches(sources), self.config):
            self._batch_done(batch, result)

    def _batches(self, sources: Sequence[Source]) -> Iterator[list[BatchItem]]:
        """Full batches, fetching and cleaning the next source only when one is wanted; then the rest."""
        size = self.config.flow.documents_per_task
        remaining = iter(sources)
        while True:
            while len(self.queue) < size:
                source = next(remaining, None)
                if source is None:
                    break
                self.ingest_source(source)
            if not self.queue:
                return
            batch, self.queue = self.queue[:size], self.queue[size:]
            yield batch

    def _batch_done(self, batch: Sequence[BatchItem], result: list[AnalyzedDocument] | Exception) -> None:
        if isinstance(result, Exception):
            batch, result = self._one_by_one(batch, result)
            if not batch:
                return
        # a source whose other batch failed while this one was analysed stays unprocessed
        late = [item for item in batch if item.source_id in self.failed_sources]
        if late:
            self.counts += RunCounts(failed=len(late))
            for item in late:
                self.is_new.pop(item.document_id, None)
            kept = [(item, a) for item, a in zip(batch, result) if item.source_id not in self.failed_sources]
            batch, result = [k[0] for k in kept], [k[1] for k in kept]
            if not batch:
                return
        words = sum(item.document.word_count for item in batch)
        try:
            self.steps.write(self.store, self.run_id, result, self.pipeline_version, self.nlp_version,
                             self.derived_tables)
        except Exception as exc:  # keep the rest of the run going; the sources stay unprocessed
            return self._batch_failed(batch, _describe(exc))
        self.stored += len(batch)
        new = sum(self.is_new.pop(item.document_id) for item in batch)
        self.counts += RunCounts(new=new, changed=len(batch) - new, words=words)
        for item in batch:
            self.pending[item.source_id].remaining -= 1
        self.progress(f"stored {len(batch)} documents ({words:,} words); {self.stored} this run")
        self._complete_finished_sources()

    def _one_by_one(self, batch: Sequence[BatchItem], error: Exception) -> tuple[list, list]:
        """After a failed batch, each document alone: the good ones go on, a bad one is a recorded skip.

        A skipped document stays skipped until its text or the pipeline version changes, so one bad
        document neither fails the documents of other sources nor fails again every night.
        """
        self.progress(f"batch of {len(batch)} documents failed ({_describe(error)}); analysing them one by one")
        good, analyzed = [], []
        for item in batch:
            try:
                if len(batch) == 1:  # alone already: it is the bad one
                    raise error
                [single] = self.steps.analyze([item], self.config)
            except Exception as exc:
                self._document_skipped(item, f"NLP failed on this document ({_describe(exc)})")
                continue
            good.append(item)
            analyzed.append(single)
        return good, analyzed

    def _document_skipped(self, item: BatchItem, reason: str) -> None:
        ledger.record_skips(self.store, self.run_id, item.source_id, [ItemSkip(item.document.key, reason, step="nlp")])
        self.is_new.pop(item.document_id, None)
        self.counts += RunCounts(skipped=1)
        if item.source_id in self.pending:
            self.pending[item.source_id].remaining -= 1
        self.progress(f"skipped {item.document.key}: {reason}")
        self._complete_finished_sources()

    def _complete_finished_sources(self) -> None:
        for source_id, entry in list(self.pending.items()):
            if entry.remaining == 0:
                ledger.mark_source_processed(self.store, source_id, entry.fetched, self.pipeline_version, entry.outcome)
                ledger.record_fetch(self.store, self.run_id, source_id, entry.outcome, fetched=entry.fetched,
                                        documents_count=entry.documents,
                                        duration_s=time.perf_counter() - entry.started)
                del self.pending[source_id]

    def _batch_failed(self, batch: Sequence[BatchItem], reason: str) -> None:
        failed_sources = {item.source_id for item in batch} - self.failed_sources
        self.failed_sources |= failed_sources
        dropped = [item for item in self.queue if item.source_id in failed_sources]
        self.queue = [item for item in self.queue if item.source_id not in failed_sources]
        for item in (*batch, *dropped):
            self.is_new.pop(item.document_id, None)
        self.counts += RunCounts(failed=len(batch) + len(dropped))
        self.progress(f"batch of {len(batch)} documents failed ({len(dropped)} more of its sources dropped): {reason}")
        for source_id in failed_sources:
            entry = self.pending.pop(source_id, None)
            try:
                ledger.record_fetch(self.store, self.run_id, source_id, "failed", reason=reason,
                                        fetched=entry.fetched if entry else None)
                ledger.mark_source_outcome(self.store, source_id, "failed", reason)
            except Exception as exc:  # the database is away: the source stays unprocessed, the run goes on
                self.store_error = exc
                self.progress(f"could not record the failure of source {source_id}: {_describe(exc)}")

    # --- outcomes --------------------------------------------------------------
    def _source_skipped(self, source: Source, reason: str, fetched: Fetched | None, started: float) -> None:
        ledger.record_fetch(self.store, self.run_id, source.id, "skipped", reason=reason, fetched=fetched,
                                duration_s=time.perf_counter() - started)
        ledger.record_skips(self.store, self.run_id, source.id, [ItemSkip(None, reason, step="fetch" if fetched is None else "clean")])
        ledger.mark_source_outcome(self.store, source.id, "skipped", reason)
        self.counts += RunCounts(skipped=1)
        self.progress(f"source {source.id} ({_short(source.url)}) skipped: {reason}")

    def _source_failed(self, source: Source, reason: str, fetched: Fetched | None, started: float) -> None:
        ledger.record_fetch(self.store, self.run_id, source.id, "failed", reason=reason, fetched=fetched,
                                duration_s=time.perf_counter() - started)
        ledger.mark_source_outcome(self.store, source.id, "failed", reason)
        self.counts += RunCounts(failed=1)
        self.progress(f"source {source.id} ({_short(source.url)}) failed: {reason}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, TransientError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _short(url: str, limit: int = 70) -> str:
    return url if len(url) <= limit else "..." + url[-(limit - 3):]


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    status: str
    counts: RunCounts
    sources: int
    seconds: float


def run_ingest(
    store: Store,
    config: Config,
    sources: Sequence[Source],
    *,
    steps: IngestSteps = PLAIN_STEPS,
    progress: Progress = lambda message: None,
    flow_name: str = "ingest",
    flow_run_id: str | None = None,
) -> RunSummary:
    """Process ``sources`` once and record the run with its counts."""
    started = time.perf_counter()
    pipeline_version, nlp_v = current_versions(config)
    run_id = ledger.start_run(store, flow_name, len(sources), pipeline_version, flow_run_id)
    run = _Run(store, config, steps, run_id, progress, pipeline_version, nlp_v, stage_tables(build_stages(config)))
    try:
        run.process(sources)
    except BaseException as exc:
        _finish(store, run_id, run.counts, "failed", _describe(exc) if isinstance(exc, Exception) else "interrupted",
                cause=exc)
        raise
    status = "completed" if run.counts.failed == 0 else "completed_with_failures"
    message = f"the database was unreachable for a while: {_describe(run.store_error)}" if run.store_error else None
    _finish(store, run_id, run.counts, status, message)
    return RunSummary(run_id, status, run.counts, len(sources), time.perf_counter() - started)


def _finish(store: Store, run_id: int, counts: RunCounts, status: str, message: str | None,
            cause: BaseException | None = None) -> None:
    """Record the end of the run; a database that is away turns into one clear StoreError."""
    try:
        ledger.finish_run(store, run_id, counts, status, message)
    except Exception as exc:
        raise StoreError(
            f"the database {store.url} went away during run {run_id} ({getattr(exc, 'orig', None) or _describe(exc)}); "
            f"documents stored "
            f"before that are kept and nothing is doubled: run again once the database is back"
        ) from (cause if isinstance(cause, Exception) else exc)
