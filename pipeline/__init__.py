"""nkpipe's library: reporting on North Korea -> structured, reviewable tables.

Layers, bottom to top: records (records, errors, config, rules, text, registry, keys,
tallies), the store (``pipeline.store``), the steps (everything else here). The library
never imports Prefect or the apps: ``flows/`` adds scheduling on top, ``nkpipe/`` the
command line and the web UI. ``tests/test_architecture.py`` keeps it so.
"""

__version__ = "0.1.0"
