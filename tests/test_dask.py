"""The nightly flow with the Dask task runner: a LocalCluster of two worker processes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from pipeline.store import document_rows
import pytest

from tests.conftest import KCNA_ARCHIVE, SEED_ARTICLE, derived_counts, read_by_document_key

pytestmark = pytest.mark.usefixtures("prefect_harness")


def dask_project(tmp_path, items: int, documents_per_task: int, address: str = "") -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "kcna.json").write_text(json.dumps(json.loads(KCNA_ARCHIVE.read_text())[:items]))
    (tmp_path / "sources.toml").write_text(
        f'[[source]]\nurl = "{SEED_ARTICLE}"\nkind = "article"\n\n[[source]]\nurl = "kcna.json"\nkind = "kcna"\n')
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\ndefault_sources = "sources.toml"\n'
        '[flow]\ntask_runner = "dask"\ntask_retry_delay_s = 0.1\n'
        f'[dask]\naddress = "{address}"\nn_workers = 2\ndocuments_per_task = {documents_per_task}\n')
    return str(config)


def plain_project(tmp_path, items: int, documents_per_task: int) -> str:
    """The same project with the default task runner: the reference a Dask run must match."""
    config = dask_project(tmp_path, items, documents_per_task)
    text = open(config).read().replace('task_runner = "dask"', 'task_runner = "default"')
    open(config, "w").write(text)
    return config


def test_dask_local_cluster_runs_the_nlp_stage_like_the_default_runner(tmp_path):
    from flows.nightly import nightly_ingest
    from pipeline.store import open_store

    dask_run = nightly_ingest(config_path=dask_project(tmp_path / "dask", 20, 4), db_url=None)
    plain_dir = tmp_path / "plain"
    plain_run = nightly_ingest(config_path=plain_project(plain_dir, 20, 4), db_url=None)
    assert dask_run["status"] == plain_run["status"] == "completed"
    assert (dask_run["new"], dask_run["words"]) == (plain_run["new"], plain_run["words"])
    dask_store = open_store(f"sqlite:///{tmp_path / 'dask' / 'data/nkpipe.db'}")
    plain_store = open_store(f"sqlite:///{plain_dir / 'data/nkpipe.db'}")
    for table in ("entities", "facts", "sector_labels"):
        columns = ["document_id", "start_char", "end_char"] if table != "sector_labels" else [
            "document_id", "unit", "unit_index", "sector"]
        left = read_by_document_key(dask_store, table)[columns].sort_values(columns).reset_index(drop=True)
        right = read_by_document_key(plain_store, table)[columns].sort_values(columns).reset_index(drop=True)
        assert left.equals(right), table


def _model_loads():
    from pipeline.nlp import load_nlp
    from pipeline.sectors import cached_model

    return load_nlp.cache_info().misses, cached_model.cache_info().misses, cached_model.cache_info().hits


def test_dask_killed_worker_batches_are_retried_and_models_load_once_per_worker(tmp_path):
    from distributed import Client, LocalCluster

    from flows.nightly import nightly_ingest
    from pipeline.store import open_store

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        config = dask_project(tmp_path, 80, 5, address=cluster.scheduler_address)
        pids = client.run(os.getpid)
        killed, flow_done = [], threading.Event()

        def kill_a_busy_worker():
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not killed and not flow_done.is_set():
                busy = [w for w, keys in client.processing().items() if keys and w in pids]
                if busy and client.run(lambda: __import__("pipeline.nlp").nlp.load_nlp.cache_info().misses,
                                       workers=busy[:1])[busy[0]]:
                    os.kill(pids[busy[0]], signal.SIGKILL)  # mid-NLP: the worker holds a batch
                    killed.append(busy[0])
                time.sleep(0.2)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        try:
            result = nightly_ingest(config_path=config, db_url=None)
        finally:  # a flow that raised must not leave the thread polling a closed cluster
            flow_done.set()
            killer.join()
        assert killed, "no worker was killed while it analysed a batch"
        assert (result["status"], result["failed"]) == ("completed", 0)
        store = open_store(f"sqlite:///{tmp_path / 'data/nkpipe.db'}")
        assert document_rows.count_documents(store) == result["new"] > 70
        plain_dir = tmp_path / "plain"
        nightly_ingest(config_path=plain_project(plain_dir, 80, 5), db_url=None)
        counts = derived_counts(store)  # a retried batch written twice would show as more rows per document
        assert counts.facts.sum() > 0 and counts.sector_labels.sum() > 0
        assert counts.equals(derived_counts(open_store(f"sqlite:///{plain_dir / 'data/nkpipe.db'}")))
        loads = client.run(_model_loads)
        assert all(nlp_misses <= 1 and model_misses <= 1 for nlp_misses, model_misses, _ in loads.values())
        assert sum(hits for _, _, hits in loads.values()) > 0  # later batches reused the loaded models
