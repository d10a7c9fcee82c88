"""Deploy the nightly flow to a Prefect work pool, for a long-lived server and worker.

``nkpipe schedule`` serves the flow from one foreground process. For a machine that
runs nkpipe for good, ``deploy/run-server.sh`` starts ``prefect server``, makes a
``process`` work pool and a worker, and calls ``deploy_nightly``: the deployment and
its cron schedule live in the server's database, so they survive restarts of the
worker (and of the server); the worker runs each scheduled flow run in a new process
from this checkout (``from_source`` on the repository folder). The store URL is read
at each run (config file, $NKPIPE_DB in the worker's environment), not frozen at
deploy time, unless ``nkpipe --db URL deploy`` names one.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Config

REPO = Path(__file__).resolve().parents[1]
ENTRYPOINT = "flows/nightly.py:nightly_ingest"


def ensure_process_pool(name: str) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True when created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def deployment_parameters(config: Config, config_path: str | None, db_url: str | None = None) -> dict:
    """The nightly flow's parameters as the server keeps them.

    The database URL is None unless given: the config file and $NKPIPE_DB then decide it
    at each run, and no password is stored in the deployment, which Prefect's UI and API
    show to anyone who can reach them. The worker runs the flow in another folder, so
    the config path is made absolute here (``load_config`` made the URL absolute already).
    """
    return {"config_path": str(Path(config_path).resolve()) if config_path else None, "db_url": db_url or None}


def deploy_nightly(config: Config, config_path: str | None, work_pool: str, db_url: str | None = None,
                   source_dir: Path = REPO) -> str:
    """Register (or update) the nightly deployment on ``work_pool``; returns 'flow/deployment'."""
    from flows.nightly import FLOW_NAME, nightly_ingest, nightly_schedule

    cfg = config.schedule
    flow = nightly_ingest.from_source(source=str(source_dir), entrypoint=ENTRYPOINT)
    # flow.deploy() would do the same, but prefect 3.8.8's deploy() first lists the pool's online
    # workers with limit=None, which its own server answers with 422: register it directly.
    deployment = flow.to_deployment(
        name=cfg.deployment_name, work_pool_name=work_pool,
        schedule=nightly_schedule(cfg.cron, cfg.timezone),
        parameters=deployment_parameters(config, config_path, db_url),
    )
    deployment.apply(work_pool_name=work_pool)
    return f"{FLOW_NAME}/{cfg.deployment_name}"
