"""The sector-model training flow: retrain, evaluate on the fixed test split, promote if not worse."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.config import load_config
from pipeline.store import open_store
from pipeline.train import run_training

FLOW_NAME = "train_sector_model"


@flow(name=FLOW_NAME)
def train_sector_model(config_path: str | None = None, db_url: str | None = None) -> dict:
    """Train from hand labels plus reviewer corrections in the store; record the result."""
    logger = get_run_logger()
    config = load_config(config_path, db_url)
    store = open_store(config.store.url)
    train = task(run_training, name="train", retries=0, cache_policy=NO_CACHE)
    result = train(config, store, logger.info)
    return result.summary()
