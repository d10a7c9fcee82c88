"""Signals from the activity register and the market series: what analysts watch for, raised the night it shows.

Four kinds, computed by pure functions from the register's counted rows (``pipeline.tallies``'s
counting rule: an activity counts on its event date, else its report date) and the series' points up to ``as_of``, the
date of the newest stored document, never the run's date, so an old corpus does not raise them
every night:

* ``gap``: the leader's current gap since his last reported public activity, against the
  distribution of his past gaps (raised above ``[signals] gap_quantile`` of them);
* ``absent``: an official among the ``top_k`` most frequent companions of the lookback who has
  not appeared for ``absent_months``;
* ``sector_mix``: a sector whose share of the last ``window_days`` differs from its share in the
  rest of the year so far by ``sector_share_threshold`` or more (shares, not a chi-square test:
  a shift of 15 points is what an analyst reads, and it needs no distribution assumption on
  a few dozen rows). Activities without a sector are left out of the shares;
* ``series``: a market series' newest month (``pipeline.series``: the median across outlets, per
  measure and city) more than ``series_mad_threshold`` robust deviations from the months before it
  (the median absolute deviation: one outlet's misprint in the history does not hide a jump).

Severity says how far past its threshold a signal is: under 1.5 times ``low``, under 2 times
``medium``, else ``high``. ``refresh_signals`` is the nightly step: compute, store (a signal is
new only the first night, or when it grows), and hand the new ones to ``notify_command``.
"""

from __future__ import annotations

import json
import logging
import shlex
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipeline.config import SignalsConfig
from pipeline.records import Activity, Evidence, SeriesPoint, Signal
from pipeline.series import NO_PLACE, monthly
from pipeline.store import register_rows, series_rows, signal_rows
from pipeline.store.db import Store
from pipeline.tallies import counted

log = logging.getLogger(__name__)

MAX_EVIDENCE = 10  # rows shown behind one signal; the newest ones


def day_of(activity: Activity) -> date | None:
    """The day an activity counts on (the tallies' rule)."""
    return activity.event_date or activity.report_date


def severity_for(ratio: float) -> str:
    """How far past its threshold a measurement is, as a word."""
    return "high" if ratio >= 2 else "medium" if ratio >= 1.5 else "low"


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def compute_signals(register: Sequence[Activity], as_of: date | None, config: SignalsConfig,
                    points: Sequence[SeriesPoint] = ()) -> list[Signal]:
    """Every signal of the register's counted rows and the series' ``points`` measured at ``as_of`` (None: an
    empty store, none)."""
    if as_of is None:
        return []
    dated = [a for a in counted(register) if day_of(a) is not None and day_of(a) <= as_of]
    return [*gap_signals(dated, as_of, config), *absence_signals(dated, as_of, config),
            *sector_mix_signals(dated, as_of, config), *series_signals(points, as_of, config)]


# --- the leader's gap -----------------------------------------------------------------------------


def gap_signals(register: Sequence[Activity], as_of: date, config: SignalsConfig) -> list[Signal]:
    by_actor: dict[str, list[Activity]] = defaultdict(list)
    for activity in register:
        by_actor[activity.actor].append(activity)
    found = (gap_signal(actor, rows, as_of, config) for actor, rows in sorted(by_actor.items()))
    return [s for s in found if s is not None]


def gap_signal(actor: str, rows: Sequence[Activity], as_of: date, config: SignalsConfig) -> Signal | None:
    """Raised when the days since ``actor``'s last activity exceed the quantile of his past gaps."""
    days = sorted({day_of(a) for a in rows})
    past = [(later - earlier).days for earlier, later in zip(days, days[1:])]
    if len(past) < config.gap_min_history:
        return None  # too little history to say what is unusual
    current = (as_of - days[-1]).days
    threshold = quantile(past, config.gap_quantile)
    if current <= threshold:
        return None
    last = [a for a in rows if day_of(a) == days[-1]]
    summary = (f"{actor}: no reported public activity for {current} days (last on {days[-1]:%Y-%m-%d}, counted to "
               f"{as_of:%Y-%m-%d}); {config.gap_quantile:.0%} of his {len(past)} past gaps were at most "
               f"{threshold:.0f} days, the longest {max(past)}")
    return Signal("gap", f"gap:{actor}", severity_for(current / max(threshold, 1.0)), float(current), summary,
                  _evidence(last), as_of)


# --- absent companions ----------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for last_day in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last_day))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def absence_signals(register: Sequence[Activity], as_of: date, config: SignalsConfig) -> list[Signal]:
    """Raised for each of the top-K companions of the lookback not seen since ``absent_months`` before ``as_of``."""
    since = as_of - timedelta(days=config.companions_lookback_days)
    seen: dict[str, list[Activity]] = defaultdict(list)
    names: dict[str, str] = {}
    for activity in sorted((a for a in register if day_of(a) > since), key=day_of):
        for person in activity.people:
            if person.role == "accompanied":  # the companions tally's rule
                seen[person.person_id].append(activity)
                names[person.person_id] = person.name  # the name of his latest appearance
    counts = Counter({person: len(rows) for person, rows in seen.items()
                      if len(rows) >= config.companion_min_appearances})
    cutoff = months_before(as_of, config.absent_months)
    found = []
    for rank, (person, count) in enumerate(counts.most_common(config.top_k), start=1):
        last = day_of(seen[person][-1])
        if last <= cutoff:
            found.append(_absence(person, names[person], rank, count, seen[person], as_of, cutoff, config))
    return found


def _absence(person: str, name: str, rank: int, count: int, rows: Sequence[Activity], as_of: date, cutoff: date,
             config: SignalsConfig) -> Signal:
    last = day_of(rows[-1])
    absent_days = (as_of - last).days
    expected_days = max((as_of - cutoff).days, 1)
    summary = (f"{name}, companion no. {rank} of the last {config.companions_lookback_days} days ({count} "
               f"appearances), has not appeared since {last:%Y-%m-%d}: {absent_days} days to {as_of:%Y-%m-%d}")
    return Signal("absent", f"absent:{person}", severity_for(absent_days / expected_days), float(absent_days),
                  summary, _evidence(rows), as_of)


# --- sector mix -----------------------------------------------------------------------------------


def sector_mix_signals(register: Sequence[Activity], as_of: date, config: SignalsConfig) -> list[Signal]:
    """Raised for each sector whose share of the window moved past the threshold from the year before it."""
    window_start = as_of - timedelta(days=config.window_days)
    sectored = [a for a in register if a.sector]
    window = [a for a in sectored if day_of(a) > window_start]
    before = [a for a in sectored if date(as_of.year, 1, 1) <= day_of(a) <= window_start]
    if len(window) < config.sector_min_count or len(before) < config.sector_min_count:
        return []  # too few rows for a share to mean anything
    now_counts, before_counts = Counter(a.sector for a in window), Counter(a.sector for a in before)
    found = []
    for sector in sorted(set(now_counts) | set(before_counts)):
        share_now, share_before = now_counts[sector] / len(window), before_counts[sector] / len(before)
        shift = share_now - share_before
        if abs(shift) >= config.sector_share_threshold:
            found.append(_sector_shift(sector, share_now, share_before, window, before, as_of, config))
    return found


def _sector_shift(sector: str, share_now: float, share_before: float, window: Sequence[Activity],
                  before: Sequence[Activity], as_of: date, config: SignalsConfig) -> Signal:
    shift = share_now - share_before
    direction = "up" if shift > 0 else "down"
    summary = (f"{sector} activities: {share_now:.0%} of the last {config.window_days} days' {len(window)} activities "
               f"(to {as_of:%Y-%m-%d}), against {share_before:.0%} of the {len(before)} earlier in {as_of.year}")
    # the rows that show it: the sector's recent ones when it rose, the earlier ones it lacks now when it fell
    shown = [a for a in (window if shift > 0 else before) if a.sector == sector]
    return Signal("sector_mix", f"sector_mix:{sector}:{direction}",
                  severity_for(abs(shift) / config.sector_share_threshold), round(abs(shift), 4), summary,
                  _evidence(shown), as_of)


# --- market series -------------------------------------------------------------------------------

MAD_TO_SIGMA = 1.4826  # the MAD of a normal sample times this estimates its standard deviation
MIN_SCALE_SHARE = 0.01  # a flat history (MAD 0) is given a deviation of 1 % of its median, not zero


def series_signals(points: Sequence[SeriesPoint], as_of: date, config: SignalsConfig) -> list[Signal]:
    """Raised for each series whose newest month (to ``as_of``) departs from its recent history."""
    months_by_series: dict[tuple, list] = defaultdict(list)
    for summary in monthly((p for p in points if p.survey_end <= as_of), divergence_share=1.0):
        months_by_series[(summary.measure, summary.unit, summary.place)].append(summary)
    found = (_series_jump(months, points, as_of, config) for months in months_by_series.values())
    return [s for s in found if s is not None]


def _series_jump(months: Sequence, points: Sequence[SeriesPoint], as_of: date,
                 config: SignalsConfig) -> Signal | None:
    newest = months[-1]
    newest_start = date.fromisoformat(newest.month + "-01")
    if (as_of - newest_start).days > config.series_recent_days:
        return None  # an old series: its last month is history, not news
    window_start = months_before(newest_start, config.series_history_months)
    history = [m.median for m in months[:-1] if date.fromisoformat(m.month + "-01") >= window_start]
    if len(history) < config.series_min_history:
        return None
    centre = statistics.median(history)
    deviation = statistics.median(abs(h - centre) for h in history) * MAD_TO_SIGMA
    scale = max(deviation, abs(centre) * MIN_SCALE_SHARE, 1e-9)
    score = (newest.median - centre) / scale
    if abs(score) <= config.series_mad_threshold:
        return None
    place = newest.place or NO_PLACE
    shown = [p for p in points if p.measure == newest.measure and p.place == newest.place and p.month == newest.month]
    summary = (f"{newest.measure} in {place}: {newest.median:,.0f} in {newest.month} ({newest.sources} source"
               f"{'s' if newest.sources != 1 else ''}), {'up' if score > 0 else 'down'} from a median of "
               f"{centre:,.0f} over the {len(history)} months before; {abs(score):.1f} robust deviations "
               f"(threshold {config.series_mad_threshold:g})")
    evidence = tuple(Evidence(None, p.survey_end, p.document_id, p.fact_id)
                     for p in sorted(shown, key=lambda p: (p.survey_end, p.document_id))[-MAX_EVIDENCE:])
    return Signal("series", f"series:{newest.measure}:{place}:{newest.month}",
                  severity_for(abs(score) / config.series_mad_threshold), round(abs(score), 2), summary,
                  evidence, as_of)


def _evidence(rows: Sequence[Activity]) -> tuple[Evidence, ...]:
    newest = sorted(rows, key=lambda a: (day_of(a), a.activity_id))[-MAX_EVIDENCE:]
    return tuple(Evidence(a.activity_id, day_of(a)) for a in newest)


# --- the nightly step and the notify command ------------------------------------------------------


@dataclass(frozen=True)
class SignalsOutcome:
    """What one run of the signals step did."""

    as_of: date | None
    raised: int  # signals measured this run
    new: tuple[Signal, ...]  # those not reported before (or grown)
    notify_error: str | None = None  # why the notify command failed, if it did


def refresh_signals(store: Store, config: SignalsConfig, today: date | None = None,
                    notify: Callable[[str, Sequence[Signal], float], str | None] | None = None) -> SignalsOutcome:
    """Compute the register's signals, store them, and send the new ones to ``config.notify_command``."""
    as_of = signal_rows.newest_document_date(store, today or date.today())
    raised = compute_signals(register_rows.load_register(store), as_of, config, series_rows.load_points(store))
    new = signal_rows.record_signals(store, raised, datetime.now(UTC), config.renotify_growth)
    error = None
    if new and config.notify_command:
        error = (notify or notify_command)(config.notify_command, new, config.notify_timeout_s)
    return SignalsOutcome(as_of, len(raised), tuple(new), error)


def notify_command(command: str, new: Sequence[Signal], timeout_s: float) -> str | None:
    """Run ``command`` (split like a shell line, no shell) with the new signals as JSON on its standard input.

    Returns None when it succeeded, else why not; it never raises, since a broken mail or chat hook
    must not fail the night's run (the signals are stored either way).
    """
    payload = json.dumps({"signals": [s.as_json() for s in new]}, ensure_ascii=False).encode("utf-8")
    try:
        argv = shlex.split(command)
        if not argv:
            return _notify_failed(command, "it names no program; set [signals] notify_command to a command line")
        finished = subprocess.run(argv, input=payload, capture_output=True, timeout=timeout_s, check=False)
    except (ValueError, OSError) as exc:  # an unbalanced quote, a missing program
        return _notify_failed(command, f"could not start it ({exc}); fix [signals] notify_command")
    except subprocess.TimeoutExpired:
        return _notify_failed(command, f"it ran past {timeout_s:g} s and was stopped; raise [signals] "
                                       f"notify_timeout_s or make the command faster")
    if finished.returncode != 0:
        said = finished.stderr.decode("utf-8", "replace").strip()[-300:]
        return _notify_failed(command, f"it exited with status {finished.returncode}" + (f": {said}" if said else ""))
    return None


def _notify_failed(command: str, why: str) -> str:
    message = f"notify command {command!r} failed: {why}"
    log.warning(message)
    return message
