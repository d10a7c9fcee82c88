"""nkpipe: reporting on North Korea -> structured, reviewable tables.

The library has no dependency on Prefect; ``flows/`` adds scheduling on top.
"""

__version__ = "0.1.0"
