"""The nightly ingest flow and its deployment.

The flow is thin: it opens the store, registers the bundled source list on a
new store, and hands Prefect tasks to ``pipeline.ingest.run_ingest``. Only the
IO steps (fetch, write) retry; cleaning and NLP are pure and fail fast.
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from pipeline.activities import rebuild_register
from pipeline.config import load_config
from pipeline.errors import TransientError
from pipeline.ingest import Steps, analyze_batch, clean_fetched, fetch_source, run_ingest, write_batch
from pipeline.sources import register_default_sources
from pipeline.store import open_store

FLOW_NAME = "nightly_ingest"


def _transient_only(task, task_run, state) -> bool:
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


def task_steps(retries: int, retry_delay_s: float) -> Steps:
    """Prefect tasks with the signatures of the plain steps."""
    delays = [retry_delay_s * 2**i for i in range(max(retries, 1))]
    io = dict(retries=retries, retry_delay_seconds=delays, cache_policy=NO_CACHE)
    pure = dict(retries=0, cache_policy=NO_CACHE)
    return Steps(
        # a 404 or an image will not change on retry; timeouts and 5xx may
        fetch=task(fetch_source, name="fetch", retry_condition_fn=_transient_only, **io),
        clean=task(clean_fetched, name="clean", **pure),
        analyze=task(analyze_batch, name="nlp", **pure),
        write=task(write_batch, name="store", **io),
    )


@flow(name=FLOW_NAME, log_prints=False)
def nightly_ingest(config_path: str | None = None, db_url: str | None = None) -> dict:
    """Fetch every enabled source, clean, run spaCy and store; returns the run summary."""
    logger = get_run_logger()
    config = load_config(config_path, db_url)
    store = open_store(config.store.url, config.base_dir)
    registered = register_default_sources(store, config.resolve(config.paths.default_sources))
    if registered:
        logger.info("new store: registered %d bundled sources", len(registered))
    sources = store.list_sources(enabled_only=True)
    logger.info("store %s: %d enabled sources", store.url, len(sources))
    summary = run_ingest(
        store, config, sources,
        steps=task_steps(config.flow.task_retries, config.flow.task_retry_delay_s),
        progress=logger.info, flow_name=FLOW_NAME, flow_run_id=str(flow_run.get_id() or ""),
    )
    logger.info("run %d %s in %.1f s: %s", summary.run_id, summary.status, summary.seconds,
                asdict(summary.counts))
    register = task(rebuild_register, name="register", retries=config.flow.task_retries, cache_policy=NO_CACHE)
    logger.info("activity register: %d activities", register(store))
    return {"run_id": summary.run_id, "status": summary.status, "seconds": summary.seconds,
            "sources": summary.sources, **asdict(summary.counts)}


def serve_nightly(config_path: str | None, db_url: str, cron: str, timezone: str, name: str) -> None:
    """Serve the deployment: the process waits and runs the flow on the cron schedule."""
    nightly_ingest.serve(name=name, schedule=nightly_schedule(cron, timezone),
                         parameters={"config_path": config_path, "db_url": db_url})


def nightly_schedule(cron: str, timezone: str):
    from prefect.schedules import Cron

    return Cron(cron, timezone=timezone)
