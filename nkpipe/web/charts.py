"""Bar charts drawn on the server: the geometry is computed here, and ``templates/_workbench.html``
writes it as inline SVG.

No script and no external file (the Content-Security-Policy forbids scripts, and the pages must work
offline). The chart has a <title> naming what it shows, and every bar segment a <title> with its
label and count, which screen readers read and browsers show on hover; the table beside each chart
holds the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PLOT_HEIGHT = 200
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP = 44, 12, 22
AXIS_LABELS_HEIGHT, LEGEND_ROW_HEIGHT, LEGEND_KEYS_PER_ROW = 34, 22, 4
LEGEND_CHAR_WIDTH, MIN_LEGEND_KEY_WIDTH = 7, 110  # about 7 px a character at font-size 12
MAX_PLOT_WIDTH, MIN_GROUP_WIDTH, MAX_BAR_WIDTH = 900, 10, 60
MAX_AXIS_LABELS = 24  # more groups than this: label every n-th, so the labels do not overlap
GROUP_GAP = 4


@dataclass(frozen=True)
class Segment:
    label: str
    value: int | float
    colour: str


@dataclass(frozen=True)
class Bar:
    """One bar: its segments stacked bottom up."""

    segments: tuple[Segment, ...]

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


@dataclass(frozen=True)
class Group:
    """Bars side by side over one label of the horizontal axis (a month, a year)."""

    label: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Key:
    x: float
    y: float
    colour: str
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    width: float
    height: float
    baseline: float  # y of the horizontal axis, from plot_left to plot_right
    plot_left: float
    plot_right: float
    rects: tuple[Rect, ...]
    labels: tuple[Label, ...]
    keys: tuple[Key, ...]
    line: str = ""  # a line chart's polyline points, "x,y x,y ..."; a month without a value breaks nothing
    dots: tuple[Dot, ...] = ()
    line_colour: str = "#333"


def bar_chart(chart_id: str, title: str, groups: Sequence[Group], legend: Sequence[tuple[str, str]]) -> Chart:
    """A grouped, stacked bar chart of ``groups``; ``legend`` is (label, colour) in the order to show."""
    widest = max([len(group.bars) for group in groups] + [1])
    group_width = min(MAX_BAR_WIDTH * widest + GROUP_GAP, max(MIN_GROUP_WIDTH, MAX_PLOT_WIDTH / max(1, len(groups))))
    peak = max([bar.total for group in groups for bar in group.bars] + [1])
    scale = PLOT_HEIGHT / peak
    baseline = MARGIN_TOP + PLOT_HEIGHT
    every = math.ceil(len(groups) / MAX_AXIS_LABELS) or 1
    rects: list[Rect] = []
    labels = [Label(MARGIN_LEFT - 6, baseline + 4, "0", "end"), Label(MARGIN_LEFT - 6, MARGIN_TOP + 4, _number(peak), "end")]
    for index, group in enumerate(groups):
        left = MARGIN_LEFT + index * group_width
        bar_width = (group_width - GROUP_GAP) / max(1, len(group.bars))
        for number, bar in enumerate(group.bars):
            x = left + GROUP_GAP / 2 + number * bar_width
            rects += _stack(bar, x, bar_width, baseline, scale, group.label)
            if bar.total and bar_width >= 14:
                labels.append(Label(x + bar_width / 2, baseline - bar.total * scale - 3, _number(bar.total)))
        if index % every == 0:
            labels.append(Label(left + group_width / 2, baseline + 16, group.label))
    plot_width = len(groups) * group_width
    key_width = max([MIN_LEGEND_KEY_WIDTH] + [24 + LEGEND_CHAR_WIDTH * len(label) for label, _ in legend])
    per_row = LEGEND_KEYS_PER_ROW
    width = max(MARGIN_LEFT + plot_width + MARGIN_RIGHT, MARGIN_LEFT + key_width * min(len(legend), per_row))
    keys = tuple(Key(MARGIN_LEFT + (i % per_row) * key_width,
                     baseline + AXIS_LABELS_HEIGHT + (i // per_row) * LEGEND_ROW_HEIGHT, colour, label)
                 for i, (label, colour) in enumerate(legend))
    height = baseline + AXIS_LABELS_HEIGHT + math.ceil(len(legend) / per_row) * LEGEND_ROW_HEIGHT
    return Chart(chart_id, title, round(width), round(height), baseline, MARGIN_LEFT, round(MARGIN_LEFT + plot_width, 1),
                 tuple(rects), tuple(labels), keys)


@dataclass(frozen=True)
class RangePoint:
    """One month of a line chart: its middle value and the low-high range drawn behind it."""

    middle: float
    low: float
    high: float
    flagged: bool = False  # drawn in the flag colour (e.g. the sources disagree)
    note: str = ""


def range_line_chart(chart_id: str, title: str, labels: Sequence[str], points: Mapping[str, RangePoint],
                     colours: tuple[str, str, str], legend: Sequence[tuple[str, str]]) -> Chart:
    """A line through each labelled point's middle with a bar from its low to its high; a label without a point
    is a month without data. ``colours``: the line, the range bars, a flagged point. The vertical axis spans
    the data, not from zero: a rate's monthly moves are a few percent of its level."""
    floor = min((p.low for p in points.values()), default=0.0)
    peak = max((p.high for p in points.values()), default=1.0)
    pad = (peak - floor) * 0.08 or max(abs(peak) * 0.05, 1.0)
    floor, peak = floor - pad, peak + pad
    scale = PLOT_HEIGHT / (peak - floor)
    baseline = MARGIN_TOP + PLOT_HEIGHT
    step = min(MAX_BAR_WIDTH, max(MIN_GROUP_WIDTH, MAX_PLOT_WIDTH / max(1, len(labels))))
    every = math.ceil(len(labels) / MAX_AXIS_LABELS) or 1
    line_colour, range_colour, flag_colour = colours
    rects, dots, corners = [], [], []
    texts = [Label(MARGIN_LEFT - 6, baseline + 4, _number(round(floor)), "end"),
             Label(MARGIN_LEFT - 6, MARGIN_TOP + 4, _number(round(peak)), "end")]
    for index, label in enumerate(labels):
        x = round(MARGIN_LEFT + (index + 0.5) * step, 1)
        point = points.get(label)
        if point is not None:
            y_middle, y_high = (round(baseline - (v - floor) * scale, 1) for v in (point.middle, point.high))
            note = f"{label}: {_number(point.middle)} (low {_number(point.low)}, high {_number(point.high)})" + (
                f"; {point.note}" if point.note else "")
            rects.append(Rect(round(x - 3, 1), y_high, 6, round(max(1.0, (point.high - point.low) * scale), 1),
                              flag_colour if point.flagged else range_colour, note))
            dots.append(Dot(x, y_middle, flag_colour if point.flagged else line_colour, note))
            corners.append(f"{x},{y_middle}")
        if index % every == 0:
            texts.append(Label(x, baseline + 16, label))
    plot_width = len(labels) * step
    key_width = max([MIN_LEGEND_KEY_WIDTH] + [24 + LEGEND_CHAR_WIDTH * len(text) for text, _ in legend])
    keys = tuple(Key(MARGIN_LEFT + i * key_width, baseline + AXIS_LABELS_HEIGHT, colour, text)
                 for i, (text, colour) in enumerate(legend))
    width = max(MARGIN_LEFT + plot_width + MARGIN_RIGHT, MARGIN_LEFT + key_width * len(legend))
    return Chart(chart_id, title, round(width), baseline + AXIS_LABELS_HEIGHT + LEGEND_ROW_HEIGHT, baseline,
                 MARGIN_LEFT, round(MARGIN_LEFT + plot_width, 1), tuple(rects), tuple(texts), keys,
                 " ".join(corners), tuple(dots), line_colour)


def _stack(bar: Bar, x: float, width: float, baseline: float, scale: float, group: str) -> list[Rect]:
    rects, top = [], baseline
    for segment in bar.segments:
        if segment.value <= 0:
            continue
        height = segment.value * scale
        top -= height
        rects.append(Rect(round(x, 1), round(top, 1), round(max(1.0, width - 1), 1), round(height, 1),
                          segment.colour, f"{group} {segment.label}: {_number(segment.value)}"))
    return rects


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def months_between(first: str, last: str) -> list[str]:
    """Every month ("YYYY-MM") from ``first`` to ``last``, those without a count too: a gap shows as a gap."""
    months = []
    year, month = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
