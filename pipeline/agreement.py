"""How far two reviewers agree, and how fast reviewers decide: pure functions over decisions.

Used by the double review (``pipeline.corrections``: which items get two reviewers, whether two
decisions agree) and by its statistics (``pipeline.review_stats``). Nothing here reads the store.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

# Actions whose new value is the decision itself (an edit): two of them agree only on the same values.
# The value of the others (confirm, reject, not_activity, is_activity) is read from the rows, not chosen.
EDIT_ACTIONS = ("set", "merge", "split")
HASH_BUCKETS = 10_000


def in_double_review_share(key: str, share: float) -> bool:
    """Whether an item's key falls in the share chosen for double review: a hash of the key, so the same
    items are chosen on every run and by every process, whatever order they are reviewed in."""
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % HASH_BUCKETS
    return bucket < share * HASH_BUCKETS


def decision_label(action: str, new_value: Any) -> str:
    """What a decision chose, as one category: its action, and for an edit the values it set."""
    if action not in EDIT_ACTIONS:
        return action
    return f"{action} {json.dumps(new_value, sort_keys=True, default=str)}"


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' categories, one (first rater's, second rater's) pair per item:
    (observed agreement - chance agreement) / (1 - chance agreement), chance from each rater's own
    shares of the categories. None when it is undefined: no items, or chance agreement is certain
    (both raters always chose one and the same category)."""
    if not pairs:
        return None
    total = len(pairs)
    observed = sum(first == second for first, second in pairs) / total
    firsts, seconds = Counter(p[0] for p in pairs), Counter(p[1] for p in pairs)
    chance = sum(firsts[c] * seconds[c] for c in firsts) / (total * total)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def working_hours(times: Iterable[datetime], idle: timedelta) -> float:
    """Hours one reviewer spent deciding, from the times of their decisions.

    Decisions less than ``idle`` apart belong to one working span, and the time between them counts;
    a longer pause (a break, another day) does not. The first decision of each span took time too,
    which no earlier decision measures: it is credited with the reviewer's median time between two
    decisions of a span (``idle`` when they never made two in a row)."""
    ordered = sorted(times)
    if not ordered:
        return 0.0
    gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:])]
    working = [gap for gap in gaps if gap <= idle]
    spans = 1 + len(gaps) - len(working)
    first_decision = statistics.median(working) if working else idle
    return (sum(working, timedelta()) + spans * first_decision).total_seconds() / 3600


def decisions_per_hour(times: Sequence[datetime], idle: timedelta) -> float | None:
    hours = working_hours(times, idle)
    return len(times) / hours if hours > 0 else None
