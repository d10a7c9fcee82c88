"""The one loader of rule and pattern files: JSON and JSONL data in ``pipeline/resources/``.

Rules, gazetteers and patterns are data, so linguists change them without touching code.
Every file is read once per process. ``rules_hash`` fingerprints files for the version
of whatever uses them, so an edited pattern file makes the next run reprocess.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from typing import Any

from pipeline.errors import ModelError


@functools.cache
def rule_text(name: str) -> str:
    """The text of ``pipeline/resources/<name>``."""
    try:
        return resources.files("pipeline").joinpath(f"resources/{name}").read_text("utf-8")
    except FileNotFoundError as exc:
        raise ModelError(f"rule file pipeline/resources/{name} is missing; reinstall nkpipe (pip install -e .)") from exc


@functools.cache
def load_json(name: str) -> Any:
    """A JSON rule file, parsed once per process (callers must not change it)."""
    try:
        return json.loads(rule_text(name))
    except json.JSONDecodeError as exc:
        raise ModelError(f"rule file pipeline/resources/{name} is not valid JSON ({exc}); fix the file") from exc


@functools.cache
def load_jsonl(name: str) -> tuple[dict, ...]:
    """A JSONL rule file: one JSON object per non-empty line."""
    rows = []
    for number, line in enumerate(rule_text(name).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ModelError(f"pipeline/resources/{name} line {number} is not valid JSON ({exc}); fix it") from exc
    return tuple(rows)


def rules_hash(*names: str) -> str:
    """A short fingerprint of the named rule files' contents."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + rule_text(name).encode() + b"\0")
    return digest.hexdigest()[:10]
