"""Prefect settings that must be in the environment before Prefect is imported."""

from __future__ import annotations

import os

from pipeline.config import Config


def configure_prefect(config: Config) -> None:
    """Keep Prefect offline and its state under the project's data directory.

    Values already set in the environment win, so an operator can point
    nkpipe at a real Prefect server with PREFECT_API_URL.
    """
    home = config.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_UI_ENABLED": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
