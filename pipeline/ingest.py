"""Orchestration of one ingest run: sources -> fetch -> clean -> nlp -> store.

The same code drives the Prefect flow and the immediate ``nkpipe ingest``:
the flow passes Prefect tasks as ``IngestSteps`` (adding retries and observability),
the CLI passes the plain functions. Documents from all sources are pooled and
processed in batches of ``flow.documents_per_task``; a source counts as
processed (and is skipped next time when unchanged) only once every one of
its documents is stored, so a run killed midway is simply resumed.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import multiprocessing
import os
import queue
import threading
import time
from queue import Empty, SimpleQueue
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import sqlalchemy as sa

from pipeline.clean import CLEAN_VERSION
from pipeline.config import CleanConfig, Config, FetchConfig
from pipeline.dates import infer_publication_date
from pipeline.derived import build_stages, stage_tables, stages_version
from pipeline.errors import RejectedContent, StoreError, TransientError
from pipeline.discovery import days_since, most_recent, next_check, too_old
from pipeline.fetch import fetch, make_client
from pipeline.language import detect_language, extracted
from pipeline.politeness import COURTESY
from pipeline.nlp import analyze_documents, installed_nlp_version
from pipeline.records import (
    AnalyzedDocument,
    BatchItem,
    CleanDocument,
    CleanResult,
    Fetched,
    ItemSkip,
    Link,
    RunCounts,
    Source,
    sha256_hex,
)
from pipeline.source_types import split_source
from pipeline.store import document_rows, ledger, link_rows, persist
from pipeline.store.db import Store

PREFETCH_WINDOW = 5000  # queued sources looked through for hosts to start fetching from
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
    """The source's bytes, once its host's robots.txt allows it and the host's pause is over."""
    previous = source.state if source.state.content_hash else None

    def get() -> Fetched:
        return fetch(source.url, previous=previous, config=config, policy=source.address_policy,
                     client=_client(config, source.address_policy) if source.url.startswith("http") else None)

    return COURTESY.request(source.url, config, lambda robots_url: read_robots_txt(robots_url, config,
                                                                                    source.address_policy), get)


_CLIENTS = threading.local()


def _client(config: FetchConfig, policy: str) -> httpx.Client:
    """This thread's HTTP client for a fetch config and address policy: making one costs ~50 ms (TLS
    context), and a night fetches thousands of articles. Kept for the life of the thread."""
    clients = _CLIENTS.__dict__.setdefault("by_key", {})
    key = (config, policy)
    if key not in clients:
        clients[key] = make_client(config, policy)
    return clients[key]


def read_robots_txt(url: str, config: FetchConfig, policy: str) -> str | None:
    """A host's robots.txt; None when it has none (4xx, or something that is not a robots file)."""
    try:
        fetched = fetch(url, previous=None, config=replace(config, attempts=1, max_bytes=500_000), policy=policy)
    except RejectedContent:
        return None
    return (fetched.body or b"").decode("utf-8", errors="replace")


def clean_fetched(fetched: Fetched, source: Source, config: CleanConfig) -> CleanResult:
    """The source's documents, by its source type, each with a publication date where one can be
    found and its language; or the links it lists (a feed, a sitemap, a listing page)."""
    result = split_source(fetched, kind=source.kind, url=source.url, published=source.published, config=config,
                          discovery=source.discovery)
    listed = source.discovery.listed_date  # the feed's or sitemap's date, when the page gives none
    documents = (d if d.published or listed is None else replace(d, published=listed) for d in result.documents)
    return replace(result, documents=tuple(with_language(with_publication_date(d)) for d in documents))


def with_language(document: CleanDocument) -> CleanDocument:
    return replace(document, language=detect_language(document.text))


def with_publication_date(document: CleanDocument) -> CleanDocument:
    """Relative dates need a publication date: infer a missing one from the text, marked as inferred."""
    if document.published is not None:
        return document
    inferred = infer_publication_date(document.text)
    return replace(document, published=inferred, published_inferred=inferred is not None)


def analyze_batch(batch: Sequence[BatchItem], config: Config) -> list[AnalyzedDocument]:
    return analyze_documents(batch, config.nlp, build_stages(config), config.discovery.languages)


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


def pool_size(config: Config) -> int:
    """Worker processes of ``[flow] task_runner = "processes"``: ``[processes] workers``, else one per core."""
    return config.processes.workers or os.cpu_count() or 1


@contextlib.contextmanager
def analysis_in_processes(config: Config, steps: IngestSteps | None = None,
                          log: Callable[[str], None] = lambda message: None) -> Iterator[tuple[Config, IngestSteps]]:
    """The analysis (spaCy, facts, sectors) on a pool of worker processes on this machine, every core
    by default; fetching, cleaning and writing stay in this process.

    Yields the run's config (batches of ``[processes] documents_per_task``) and ``steps`` (the plain
    ones by default) whose ``analyze_many`` feeds the pool. Workers are started by spawning, not
    forking: the parent has threads (HTTP clients, Prefect's) and a forked copy of a held lock would
    hang. Each worker loads the models once, on its first batch.
    """
    workers = pool_size(config)
    in_flight = config.processes.batches_in_flight or 2 * workers
    log(f"analysis on {workers} worker processes, {in_flight} batches of "
        f"{config.processes.documents_per_task} documents at a time")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        def submit(batch: Sequence[BatchItem], config_: Config) -> Future:
            return pool.submit(analyze_batch, list(batch), config_)

        yield (replace(config, flow=replace(config.flow, documents_per_task=config.processes.documents_per_task)),
               replace(steps or PLAIN_STEPS, analyze_many=analyze_rolling(submit, in_flight)))


def current_versions(config: Config) -> tuple[str, str]:
    """(pipeline_version, nlp_version): a change in either reprocesses documents.

    From package metadata, model cards and the hashes of rule and pattern files, loading no model:
    a night with nothing new never pays for spaCy or the sector model, which load on the first batch.
    A missing model, or a sector model that does not match its card, still fails the run here, before
    any document is touched.
    """
    nlp_v = installed_nlp_version(config.nlp.model)
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
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    todo: deque[Source] = field(default_factory=deque)  # sources to fetch, discovered links appended
    taken: set[int] = field(default_factory=set)  # ids of the sources this run has queued
    new_taken: Counter = field(default_factory=Counter)  # owner id -> new articles queued this run
    owners: dict[int, Source] = field(default_factory=dict)
    days_covered: int | None = None
    prefetched: dict[int, Future] = field(default_factory=dict)
    fetching: dict[int, str] = field(default_factory=dict)  # source id -> host, of the prefetched ones
    ready: SimpleQueue = field(default_factory=SimpleQueue)  # sources whose prefetch finished
    consumed: set[int] = field(default_factory=set)  # sources taken out of line (the deque keeps them until reached)
    pool: ThreadPoolExecutor | None = None

    # --- per source ----------------------------------------------------------
    def ingest_source(self, source: Source) -> None:
        self._ingest_one(source)
        if _discovers(source):
            self._queue_due(source)

    def _ingest_one(self, source: Source) -> None:
        started = time.perf_counter()
        try:
            fetched = self._fetched(source)
        except RejectedContent as exc:
            return self._source_skipped(source, exc.reason, None, started, exc.http_status)
        except Exception as exc:  # transient after retries, or a bug: record, go on
            return self._source_failed(source, _describe(exc), None, started)
        if self._unchanged(source, fetched):
            count = document_rows.count_documents(self.store, source.id)
            ledger.record_fetch(self.store, self.run_id, source.id, "unchanged", fetched=fetched,
                                    documents_count=count, duration_s=time.perf_counter() - started)
            ledger.mark_source_outcome(self.store, source.id, "unchanged", None)
            self.counts += RunCounts(unchanged=count)
            self._checked(source)
            if source.discovery.last_discovered_at is not None:  # an unchanged feed was still looked at
                self._covered(source)
                link_rows.mark_discovered(self.store, source.id, self.now)
            return
        try:
            fetched = self._with_body(source, fetched)
            ledger.save_raw(self.store, fetched)
            result = self.steps.clean(fetched, source, self.config.clean)
            if result.links:
                result = replace(result, skips=(*result.skips, *self._record_links(source, result.links)))
        except RejectedContent as exc:
            return self._source_skipped(source, exc.reason, fetched, started)
        except Exception as exc:  # a cleaner bug, a failed re-fetch, links the store refused: this source only
            return self._source_failed(source, _describe(exc), fetched, started)
        self._enqueue(source, fetched, result, started)

    # --- discovery -------------------------------------------------------------
    def _fetched(self, source: Source) -> Fetched:
        """The source's fetch: started ahead of time in the pool when its host was free, else now."""
        future = self.prefetched.pop(source.id, None)
        return future.result() if future is not None else self.steps.fetch(source, self.config.fetch)

    def _prefetch(self) -> None:
        """Start fetching queued discovered links of hosts that have no fetch in flight, up to ``[fetch]
        concurrent_hosts`` at once (the host's lock in ``pipeline.politeness`` keeps one request per host
        at a time); fetched ones wait, a bounded number, until the run takes them."""
        workers = self.config.fetch.concurrent_hosts
        if workers < 2 or not self.todo:
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="nkpipe-fetch")
        busy = {self.fetching[id_] for id_, future in self.prefetched.items() if not future.done()}
        for source in itertools.islice(self.todo, PREFETCH_WINDOW):
            if len(busy) >= workers or len(self.prefetched) >= workers * 4:
                break
            host = _host_of(source.url)
            if source.id in self.prefetched or source.id in self.consumed or host in busy \
                    or source.discovery.parent_id is None:
                continue
            busy.add(host)
            self.fetching[source.id] = host
            context = contextvars.copy_context()  # a Prefect task submitted from a thread keeps the flow's run
            future = self.pool.submit(context.run, self.steps.fetch, source, self.config.fetch)
            future.add_done_callback(lambda _, taken=source: self.ready.put(taken))
            self.prefetched[source.id] = future

    def _next_source(self) -> Source:
        """The next source to process: one whose fetch has finished, so that a slow host does not hold up
        the others; else the first in line (waiting for a fetch in flight when it is one)."""
        while True:
            try:
                source = self.ready.get_nowait()
            except Empty:
                break
            if source.id not in self.consumed:
                self.consumed.add(source.id)
                return source
        while self.todo:
            source = self.todo.popleft()
            if source.id in self.consumed:
                continue
            if source.id in self.prefetched and not self.prefetched[source.id].done():
                self.todo.appendleft(source)
                source = self.ready.get()  # some fetch in flight finishes first
                if source.id in self.consumed:
                    continue
            self.consumed.add(source.id)
            return source
        raise IndexError("no source left")

    def _has_next(self) -> bool:
        return any(source.id not in self.consumed for source in self.todo) or not self.ready.empty()

    def _owner(self, source: Source) -> Source:
        owner_id = source.owner_id
        if owner_id not in self.owners:
            self.owners[owner_id] = source if owner_id == source.id else ledger.get_source(self.store, owner_id)
        return self.owners[owner_id]

    def _record_links(self, source: Source, links: Sequence[Link]) -> list[ItemSkip]:
        """Register what a feed, sitemap or listing page points to; returns the skips it makes."""
        owner, settings = self._owner(source), self.config.discovery
        skips: list[ItemSkip] = []
        fresh = [link for link in links if not too_old(link, self.now, settings)]
        kept, left_out = most_recent(fresh, settings.max_links_per_fetch)
        if left_out:
            skips.append(ItemSkip(source.url, f"{len(fresh):,} links listed; the {len(kept):,} most recent were read "
                                              f"([discovery] max_links_per_fetch = {settings.max_links_per_fetch:,})"))
        found, page = [], source.discovery.page or 0
        for link in kept:
            if link.role == "sitemap" and page + 1 > settings.max_sitemap_depth:
                skips.append(ItemSkip(link.url, f"a sitemap nested {page + 1} levels deep; nkpipe follows "
                                                f"{settings.max_sitemap_depth} ([discovery] max_sitemap_depth)"))
            elif link.role == "listing":
                next_page = (page or 1) + 1
                if next_page <= (owner.discovery.max_pages or settings.max_pages):
                    found.append((link, next_page))
            else:
                found.append((link, page + 1 if link.role == "sitemap" else None))
        new = link_rows.record_links(self.store, owner, found, self.now)
        self.counts += RunCounts(discovered=new)
        if source.id == owner.id:
            self._covered(owner)
            link_rows.mark_discovered(self.store, owner.id, self.now)
        self.progress(f"source {source.id} ({_short(source.url)}): {len(links)} links, {new} new"
                      + (f", {len(links) - len(fresh)} listed before the catch-up window" if len(fresh) < len(links) else ""))
        return skips

    def _covered(self, owner: Source) -> None:
        days = days_since(owner.discovery.last_discovered_at, self.now)
        if days is not None:
            self.days_covered = max(self.days_covered or 0, days)
            if days > 1:
                self.progress(f"source {owner.id}: {days} days since its last discovery; catching up from its listing")

    def _queue_due(self, source: Source) -> None:
        owner = self._owner(source)
        limit = max(0, self.config.discovery.max_new_per_source - self.new_taken[owner.id])
        due = link_rows.due_links(self.store, owner.id, self.now, limit, self.taken)
        if not due:
            return
        new = sum(1 for link in due if link.discovery.checks == 0 and link.discovery.source_type is None)
        self.new_taken[owner.id] += new
        self.taken.update(link.id for link in due)
        self.todo.extend(due)
        waiting = link_rows.count_waiting(self.store, owner.id) - self.new_taken[owner.id]
        self.progress(f"source {owner.id}: {len(due)} discovered links to fetch ({new} new, {len(due) - new} "
                      f"re-checks and pages)" + (f"; {waiting} more wait for the next night" if waiting > 0 else ""))

    def _checked(self, source: Source) -> None:
        """A discovered article was looked at: schedule the next look (a day, a week, a month, then never)."""
        if source.discovery.parent_id is None or source.discovery.source_type is not None:
            return
        when = next_check(source.discovery.checks + 1, self.now, self.config.discovery)
        link_rows.mark_checked(self.store, source.id, when)

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
            doc_id = self._document_id(source, document)
            if len(document.text) > self.config.nlp.max_document_chars:
                skips.append(ItemSkip(document.key, f"{len(document.text):,} characters, more than [nlp] "
                                                    f"max_document_chars ({self.config.nlp.max_document_chars:,})"))
                continue
            if doc_id in self.seen:
                skips.append(ItemSkip(document.key, f"same document already came from source {self.seen[doc_id]} in this run"))
                continue
            self.seen[doc_id] = source.id
            items.append(BatchItem(doc_id, source.id, document, fetched.content_hash))
        non_english = sum(not extracted(item.document.language, self.config.discovery.languages) for item in items)
        if non_english:
            self.counts += RunCounts(non_english=non_english)
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

    def _document_id(self, source: Source, document: CleanDocument) -> str:
        """A discovered article's document belongs to the source that found it, so two links of one
        site to the same article (one canonical URL) are one document, and no other source's."""
        if source.discovery.parent_id is None:
            return document_id_for(source.url, document.url)
        return document_id_for(self._owner(source).url, document.url)

    # --- batches ---------------------------------------------------------------
    def process(self, sources: Sequence[Source]) -> None:
        """Every source, its documents analysed in batches and each batch written as it arrives."""
        for batch, result in self.steps.many()(self._batches(sources), self.config):
            self._batch_done(batch, result)

    def close(self) -> None:
        if self.pool is not None:
            for future in self.prefetched.values():
                future.cancel()
            self.pool.shutdown(wait=True)

    def _batches(self, sources: Sequence[Source]) -> Iterator[list[BatchItem]]:
        """Full batches, fetching and cleaning the next source only when one is wanted; then the rest."""
        size = self.config.flow.documents_per_task
        self.todo.extend(sources)
        self.taken.update(source.id for source in sources)
        while True:
            while len(self.queue) < size and self._has_next():
                self._prefetch()
                source = self._next_source()
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
                self._checked(entry.source)
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
    def _source_skipped(self, source: Source, reason: str, fetched: Fetched | None, started: float,
                        http_status: int | None = None) -> None:
        if http_status in (404, 410) and _is_discovered_article(source) and source.state.content_hash \
                and source.discovery.deleted_at is None:
            return self._source_deleted(source, reason, started)
        ledger.record_fetch(self.store, self.run_id, source.id, "skipped", reason=reason, fetched=fetched,
                                duration_s=time.perf_counter() - started)
        ledger.record_skips(self.store, self.run_id, source.id, [ItemSkip(None, reason, step="fetch" if fetched is None else "clean")])
        ledger.mark_source_outcome(self.store, source.id, "skipped", reason)
        self.counts += RunCounts(skipped=1)
        self._checked(source)
        self.progress(f"source {source.id} ({_short(source.url)}) skipped: {reason}")

    def _source_deleted(self, source: Source, reason: str, started: float) -> None:
        """Its page is gone after it had existed: marked deleted with the date, its documents kept."""
        marked = link_rows.mark_deleted(self.store, source.id, self.now)
        ledger.record_fetch(self.store, self.run_id, source.id, "deleted", reason=reason,
                            duration_s=time.perf_counter() - started)
        ledger.mark_source_outcome(self.store, source.id, "deleted", reason)
        self.progress(f"source {source.id} ({_short(source.url)}) deleted ({reason}); its {marked} documents are kept, "
                      f"marked deleted on {self.now.date()}")

    def _source_failed(self, source: Source, reason: str, fetched: Fetched | None, started: float) -> None:
        ledger.record_fetch(self.store, self.run_id, source.id, "failed", reason=reason, fetched=fetched,
                                duration_s=time.perf_counter() - started)
        ledger.mark_source_outcome(self.store, source.id, "failed", reason)
        self.counts += RunCounts(failed=1)
        self.progress(f"source {source.id} ({_short(source.url)}) failed: {reason}")


def _discovers(source: Source) -> bool:
    """Whether the source may have discovered links: one an analyst registered (a feed, a sitemap,
    a listing page, or a page with none), or a sitemap or listing page found by one."""
    return source.discovery.parent_id is None or source.discovery.source_type is not None


def _is_discovered_article(source: Source) -> bool:
    return source.discovery.parent_id is not None and source.discovery.source_type is None


def _host_of(url: str) -> str:
    return url.split("/", 3)[2] if "://" in url else ""


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
    days_covered: int | None = None  # days since the previous discovery of its feeds and sitemaps


def run_ingest(
    store: Store,
    config: Config,
    sources: Sequence[Source],
    *,
    steps: IngestSteps = PLAIN_STEPS,
    progress: Progress = lambda message: None,
    flow_name: str = "ingest",
    flow_run_id: str | None = None,
    now: datetime | None = None,
) -> RunSummary:
    """Process ``sources`` (and the links their feeds, sitemaps and listings point to) once and record
    the run with its counts. ``now``: the moment discovery schedules against (default: the clock)."""
    started = time.perf_counter()
    pipeline_version, nlp_v = current_versions(config)
    run_id = ledger.start_run(store, flow_name, len(sources), pipeline_version, flow_run_id)
    run = _Run(store, config, steps, run_id, progress, pipeline_version, nlp_v, stage_tables(build_stages(config)),
               now=now or datetime.now(UTC))
    try:
        run.process(sources)
    except BaseException as exc:
        _finish(store, run_id, run.counts, "failed", _describe(exc) if isinstance(exc, Exception) else "interrupted",
                cause=exc, days_covered=run.days_covered)
        raise
    finally:
        run.close()
    status = "completed" if run.counts.failed == 0 else "completed_with_failures"
    message = f"the database was unreachable for a while: {_describe(run.store_error)}" if run.store_error else None
    _finish(store, run_id, run.counts, status, message, days_covered=run.days_covered)
    return RunSummary(run_id, status, run.counts, len(sources), time.perf_counter() - started, run.days_covered)


def _finish(store: Store, run_id: int, counts: RunCounts, status: str, message: str | None,
            cause: BaseException | None = None, days_covered: int | None = None) -> None:
    """Record the end of the run; a database that is away turns into one clear StoreError."""
    try:
        ledger.finish_run(store, run_id, counts, status, message, days_covered)
    except Exception as exc:
        raise StoreError(
            f"the database {store.url} went away during run {run_id} ({getattr(exc, 'orig', None) or _describe(exc)}); "
            f"documents stored "
            f"before that are kept and nothing is doubled: run again once the database is back"
        ) from (cause if isinstance(cause, Exception) else exc)
