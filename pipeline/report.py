"""A self-contained HTML page: the register's activities per month by sector, and the reconciliation.

No scripts and no external files: the chart is inline SVG, so the page opens
offline in any browser and can be mailed as one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pipeline.activities import Explanation, Reconciliation
from pipeline.counting_rules import CountingRuleSet
from pipeline.records import Activity
from pipeline.tallies import counted, monthly_by_sector

SECTOR_COLOURS = {"military": "#b2182b", "economic": "#2166ac", "political": "#762a83",
                  "foreign": "#1b7837", "social": "#e08214", "unknown": "#999999"}
_WIDTH, _HEIGHT, _MARGIN = 760, 320, 40


def _chart(activities: Sequence[Activity], year: int) -> str:
    table = monthly_by_sector(activities, year)
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    peak = max([sum(table.get(m, {}).values()) for m in months] + [1])
    bar = (_WIDTH - 2 * _MARGIN) / 12
    scale = (_HEIGHT - 2 * _MARGIN) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT + 30}" role="img" '
             f'aria-label="Public activities per month by sector, {year}">']
    for index, month in enumerate(months):
        x, base = _MARGIN + index * bar, _HEIGHT - _MARGIN
        for sector, colour in SECTOR_COLOURS.items():
            count = table.get(month, {}).get(sector, 0)
            if count:
                height = count * scale
                base -= height
                parts.append(f'<rect x="{x + 4:.1f}" y="{base:.1f}" width="{bar - 8:.1f}" height="{height:.1f}" '
                             f'fill="{colour}"><title>{month} {sector}: {count}</title></rect>')
        total = sum(table.get(month, {}).values())
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{_HEIGHT - _MARGIN + 16}" font-size="11" text-anchor="middle">'
                     f'{month[5:]}</text>')
        if total:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base - 4:.1f}" font-size="11" text-anchor="middle">{total}</text>')
    parts.append(f'<line x1="{_MARGIN}" y1="{_HEIGHT - _MARGIN}" x2="{_WIDTH - _MARGIN}" y2="{_HEIGHT - _MARGIN}" stroke="#333"/>')
    for index, (sector, colour) in enumerate(SECTOR_COLOURS.items()):
        parts.append(f'<rect x="{_MARGIN + index * 110}" y="{_HEIGHT + 8}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{_MARGIN + index * 110 + 16}" y="{_HEIGHT + 18}" font-size="12">{sector}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _reconciliation_table(rows: Sequence[Reconciliation]) -> str:
    if not rows:
        return "<p>No reported tallies for this year were found in the facts.</p>"
    body = "".join(
        f"<tr><td>{escape(r.key)}</td><td class=n>{escape(r.reported_value)}</td><td class=n>{r.register_count}</td>"
        f"<td class=n>{'' if r.difference is None else f'{r.difference:+.0f}'}</td>"
        f"<td>{escape(r.source)}<br><q>{escape(r.sentence.strip())}</q></td></tr>"
        for r in rows)
    return ("<table><thead><tr><th>breakdown</th><th>reported</th><th>register</th><th>difference</th>"
            f"<th>source and sentence</th></tr></thead><tbody>{body}</tbody></table>")


def _explanation_table(rule_sets: Sequence[CountingRuleSet], rows: Sequence[Explanation]) -> str:
    if not rows:
        return ""
    heads = "".join(f"<th title=\"{escape(r.description)}\">{escape(r.name)}</th>" for r in rule_sets)
    body = "".join(
        f"<tr><td>{escape(e.key)}</td><td class=n>{escape(e.reported_value)}</td>"
        + "".join(f"<td class=n>{recount.count}</td>" for recount in e.recounts)
        + f"<td>{escape(' = '.join(e.closest)) or '-'}</td>"
        f"<td class=n>{'' if e.residual is None else f'{e.residual:+g}'}</td></tr>"
        for e in rows)
    sets = "".join(f"<li><b>{escape(r.name)}</b>: {escape(r.description)}</li>" for r in rule_sets)
    return (f"<h2>Why published tallies differ</h2><p>The register recounted under each counting rule set "
            f"(<code>nkpipe reconcile --explain</code>), the closest set and its residual (that recount less the "
            f"reported number):</p><ul>{sets}</ul><table><thead><tr><th>breakdown</th><th>reported</th>{heads}"
            f"<th>closest</th><th>residual</th></tr></thead><tbody>{body}</tbody></table>")


def render_report(activities: Sequence[Activity], reconciliation: Sequence[Reconciliation], year: int,
                  coverage: str | None = None, rule_sets: Sequence[CountingRuleSet] = (),
                  explained: Sequence[Explanation] = ()) -> str:
    """The page; ``coverage`` says how much of the year the corpus covers ("the corpus covers ..."); with
    ``explained``, each reported tally is also shown recounted under every one of ``rule_sets``."""
    in_year = [a for a in counted(activities) if (a.event_date or a.report_date) and (a.event_date or a.report_date).year == year]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nkpipe: public activities {year}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.35rem;vertical-align:top;text-align:left}}td.n{{text-align:right}}q{{color:#555}}</style>
</head><body>
<h1>Public activities of {escape(in_year[0].actor if in_year else "the leader")}, {year}</h1>
<p>{len(in_year)} activities in the register for {year}, by month of the event (else of the report) and by sector.</p>
{_chart(activities, year)}
<h2>Reconciliation with reported tallies</h2>
{f"<p>{escape(coverage[:1].upper() + coverage[1:])}.</p>" if coverage else ""}
{_reconciliation_table(reconciliation)}
{_explanation_table(rule_sets, explained)}
<p><small>Made by nkpipe from the register built from state-media reports; each reported tally is a fact
extracted with its sentence. Differences are register minus reported (the middle of a range), given only when
the corpus covers every day of the year.</small></p>
</body></html>
"""
