"""Prefect flows and deployments. Import ``flows.env`` and call
``configure_prefect(config)`` before importing any module that imports Prefect."""
