"""Every exception nkpipe raises on purpose.

Two families matter to the orchestration:

* ``TransientError``: worth retrying (timeouts, connection errors, HTTP 5xx).
* ``RejectedContent``: the source answered, but with nothing we can use
  (404, empty body, binary data, a PDF without text). It becomes a recorded
  skip with its ``reason``, never a retry and never a silent gap.
"""

from __future__ import annotations


class NkpipeError(Exception):
    """Base class: every message says what was wrong and what to do."""


class ConfigError(NkpipeError):
    """The configuration file or an override is invalid."""


class SourceError(NkpipeError):
    """A source URL or path cannot be registered."""


class InvalidSourceError(SourceError):
    """Malformed URL, unsupported scheme, missing local file."""


class DuplicateSourceError(SourceError):
    """The (normalised) URL is already registered."""

    def __init__(self, url: str, existing_id: int | None) -> None:
        registered = f"as source {existing_id}" if existing_id is not None else "(by another run just now)"
        super().__init__(f"source {url!r} is already registered {registered}; use `nkpipe sources list` to see it")
        self.url = url
        self.existing_id = existing_id


class UnknownSourceError(SourceError):
    """No source has the given id."""


class TransientError(NkpipeError):
    """A failure that may succeed when tried again (timeout, 5xx, reset)."""


class RejectedContent(NkpipeError):
    """The content is not a usable document; recorded as a skip."""

    def __init__(self, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status  # the HTTP status that rejected it, if any (404/410 mark a deletion)


class StoreError(NkpipeError):
    """The database URL or schema is unusable."""


class ModelError(NkpipeError):
    """A spaCy or scikit-learn model cannot be loaded."""


class RuleFileError(ModelError):
    """A rule file in ``pipeline/resources/`` parses, but holds a key or value its loader does not accept."""


class ReviewError(NkpipeError):
    """A correction is invalid: unknown target, bad value, or an action the target does not take."""


class AuthError(NkpipeError):
    """An account cannot be created, changed or used (bad name, role, password, disabled)."""
