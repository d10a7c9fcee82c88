"""The nightly ingest flow and its deployment.

The flow is thin: it opens the store, registers the bundled source list on a
new store, and hands Prefect tasks to ``pipeline.ingest.run_ingest``. Only the
IO steps (fetch, write) retry; cleaning and NLP are pure and fail fast.

With ``[flow] task_runner = "dask"`` the NLP task (spaCy, facts, sectors) is
submitted to a Dask cluster through prefect-dask's ``DaskTaskRunner``, several
batches at a time; fetching, cleaning and writing stay in the flow's process,
so the store's engine never travels. Each worker process loads the models once
(the caches of ``pipeline.nlp.load_nlp`` and ``pipeline.sectors.cached_model``)
and keeps them for every batch it gets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, replace

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from pipeline.activities import rebuild_register, register_needs_rebuild
from pipeline.clusters import rebuild_story_clusters
from pipeline.config import Config, load_config
from pipeline.errors import ConfigError, TransientError
from pipeline.ingest import (
    IngestSteps,
    analyze_batch,
    analysis_in_processes,
    analyze_rolling,
    clean_fetched,
    fetch_source,
    run_ingest,
    write_batch,
)
from pipeline.series import refresh_series
from pipeline.signals import refresh_signals
from pipeline.sources import register_default_sources
from pipeline.store import ledger, open_store

FLOW_NAME = "nightly_ingest"


def _transient_only(task, task_run, state) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


def task_steps(retries: int, retry_delay_s: float) -> IngestSteps:
    """Prefect tasks with the signatures of the plain steps."""
    delays = [retry_delay_s * 2**i for i in range(max(retries, 1))]
    io = dict(retries=retries, retry_delay_seconds=delays, cache_policy=NO_CACHE)
    pure = dict(retries=0, cache_policy=NO_CACHE)
    return IngestSteps(
        # a 404 or an image will not change on retry; timeouts and 5xx may
        fetch=task(fetch_source, name="fetch", retry_condition_fn=_transient_only, **io),
        clean=task(clean_fetched, name="clean", **pure),
        analyze=task(analyze_batch, name="nlp", **pure),
        write=task(write_batch, name="store", **io),
    )


@flow(name=FLOW_NAME, log_prints=False)
def nightly_ingest(config_path: str | None = None, db_url: str | None = None) -> dict:
    """Fetch every enabled source and the new articles of its feeds, sitemaps and listing pages, clean,
    run spaCy and store; then the story clusters, the register and its signals. Returns the run summary."""
    logger = get_run_logger()
    config = load_config(config_path, db_url)
    store = open_store(config.store.url)
    registered = register_default_sources(store, config.resolve(config.paths.default_sources))
    if registered:
        logger.info("new store: registered %d bundled sources", len(registered))
    sources = ledger.list_sources(store, enabled_only=True)
    logger.info("store %s: %d enabled sources", store.url, len(sources))
    steps = task_steps(config.flow.task_retries, config.flow.task_retry_delay_s)
    with analysis_on_runner(config, steps, logger.info) as (config, steps):
        summary = run_ingest(
            store, config, sources, steps=steps,
            progress=logger.info, flow_name=FLOW_NAME, flow_run_id=str(flow_run.get_id() or ""),
        )
    logger.info("run %d %s in %.1f s: %s", summary.run_id, summary.status, summary.seconds,
                asdict(summary.counts))
    changed = summary.counts.processed > 0
    clusters = task(rebuild_story_clusters, name="story_clusters", retries=config.flow.task_retries,
                    cache_policy=NO_CACHE)(store, config, changed)
    logger.info("story clusters: %d, with %d copies counted once", clusters.clusters, clusters.duplicates)
    if register_needs_rebuild(store, changed):
        register = task(rebuild_register, name="register", retries=config.flow.task_retries, cache_policy=NO_CACHE)
        logger.info("activity register: %d activities", register(store))
    else:
        logger.info("activity register: nothing stored, kept as it was")
    # every night: reviewers may have corrected or rejected market facts since the last run
    series = task(refresh_series, name="series", retries=config.flow.task_retries,
                  cache_policy=NO_CACHE)(store)
    logger.info("market series: %d points%s", len(series.points), _skipped_note(series.skipped))
    # every night, rebuilt or not: a signal that ended must be marked so, and new documents move the date
    signals = task(refresh_signals, name="signals", retries=config.flow.task_retries,
                   cache_policy=NO_CACHE)(store, config.signals)
    logger.info("signals to %s: %d raised, %d new", signals.as_of, signals.raised, len(signals.new))
    if signals.notify_error:
        logger.warning(signals.notify_error)
    return {"run_id": summary.run_id, "status": summary.status, "seconds": summary.seconds,
            "sources": summary.sources, "days_covered": summary.days_covered, **asdict(summary.counts)}


def _skipped_note(skipped: dict[str, int]) -> str:
    return "" if not skipped else "; facts left out: " + ", ".join(f"{n} ({why})" for why, n in skipped.items())


def dask_task_runner(config: Config):
    """prefect-dask's runner: a scheduler at ``[dask] address``, else a LocalCluster of processes on 127.0.0.1."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ConfigError(
            "[flow] task_runner = \"dask\" needs prefect-dask; pip install -e '.[dask]', or set task_runner = \"default\""
        ) from exc
    if config.dask.address:
        return DaskTaskRunner(address=config.dask.address)
    return DaskTaskRunner(cluster_kwargs=dict(
        n_workers=config.dask.n_workers, threads_per_worker=config.dask.threads_per_worker,
        processes=True, host="127.0.0.1", dashboard_address=None,
    ))


@contextlib.contextmanager
def analysis_on_runner(config: Config, steps: IngestSteps,
                       log=lambda message: None) -> Iterator[tuple[Config, IngestSteps]]:
    """The config and steps of the run: unchanged for the default runner; with Dask, the
    analysis submitted to the cluster, batches of ``[dask] documents_per_task``."""
    if config.flow.task_runner == "processes":  # plain functions in a pool: no task runs in the UI
        with analysis_in_processes(config, steps, log) as pooled:
            yield pooled
        return
    if config.flow.task_runner != "dask":
        yield config, steps
        return
    with dask_task_runner(config) as runner:
        info = runner.client.scheduler_info(n_workers=-1)
        workers = len(info.get("workers", {})) or config.dask.n_workers
        in_flight = config.dask.batches_in_flight or 2 * workers
        log(f"Dask cluster at {info.get('address')}: {workers} workers, "
            f"{in_flight} batches of {config.dask.documents_per_task} documents at a time")

        def submit(batch, config_):
            return runner.submit(steps.analyze, parameters={"batch": batch, "config": config_})

        yield (replace(config, flow=replace(config.flow, documents_per_task=config.dask.documents_per_task)),
               replace(steps, analyze_many=analyze_rolling(submit, in_flight)))


def serve_nightly(config_path: str | None, db_url: str, cron: str, timezone: str, name: str) -> None:
    """Serve the deployment: the process waits and runs the flow on the cron schedule."""
    nightly_ingest.serve(name=name, schedule=nightly_schedule(cron, timezone),
                         parameters={"config_path": config_path, "db_url": db_url})


def nightly_schedule(cron: str, timezone: str):
    from prefect.schedules import Cron

    return Cron(cron, timezone=timezone)
