"""nkpipe's applications: the ``nkpipe`` command (``nkpipe.cli``) and the review UI (``nkpipe.web``).

They sit above the library (``pipeline``, which never imports them) and the Prefect
flows (``flows``). For notebooks, ``import nkpipe`` gives the library's entry points:

    import nkpipe
    config = nkpipe.load_config()                # config.toml, $NKPIPE_DB
    store = nkpipe.open_store(config.store.url)
    facts = store.read_table("facts")            # a pandas DataFrame
"""

from pipeline import __version__
from pipeline.config import load_config
from pipeline.store import open_store

__all__ = ["__version__", "load_config", "open_store"]
