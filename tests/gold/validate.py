"""Check fact gold files against tests/gold/SCHEMA.md (format only, never the labels' truth).

    python tests/gold/validate.py tests/gold/test/*.jsonl

Prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

PASSAGE_KEYS = {"id", "source", "published", "text", "facts", "traps", "note"}
FACT_KEYS = {"kind", "subject", "sector", "category", "counterpart", "place", "value", "low", "high", "qualifier",
             "unit", "period_start", "period_end", "year", "period_precision"}
KINDS = {"activity_count", "companion_count", "exchange_rate", "price"}
SECTORS = {"military", "economic", "political", "foreign", "social", None}
QUALIFIERS = {"exact", "approx", "range", "more_than", "less_than", "average"}
PRECISIONS = {"day", "week", "month", "quarter", "half", "year", "multi_year", "unresolved"}
UNITS = {"activity_count": {None}, "companion_count": {None}, "exchange_rate": {"KPW/USD", "KPW/CNY"},
         "price": {"KPW/kg"}}
STYLES = {"wire", "tally", "market", "brief", "kcna_style", "sk_news"}


def problems_of(passage: dict, where: str) -> list[str]:
    found = []
    keys = set(passage) - {"paraphrase_of"}
    if keys != PASSAGE_KEYS:
        return [f"{where}: keys {sorted(keys ^ PASSAGE_KEYS)} missing or unknown"]
    source = passage["source"]
    if source.startswith("constructed:") and source.split(":", 1)[1] not in STYLES:
        found.append(f"{where}: unknown style in {source!r}")
    elif not source.startswith(("constructed:", "kcna:", "csis:", "seed:")):
        found.append(f"{where}: source {source!r} is not constructed:/kcna:/csis:/seed:")
    published = _date(passage["published"], where, found)
    if not passage["text"].strip() or not passage["note"].strip():
        found.append(f"{where}: empty text or note")
    if not isinstance(passage["traps"], list) or any(t not in passage["text"] for t in passage["traps"]):
        found.append(f"{where}: every trap must be a string found in the text")
    for index, fact in enumerate(passage["facts"]):
        found += _fact_problems(fact, f"{where} fact {index}", published)
    return found


def _date(value, where: str, found: list[str]) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        found.append(f"{where}: {value!r} is not YYYY-MM-DD")
        return None


def _fact_problems(fact: dict, where: str, published: dt.date | None) -> list[str]:
    if set(fact) != FACT_KEYS:
        return [f"{where}: keys {sorted(set(fact) ^ FACT_KEYS)} missing or unknown"]
    found = []
    kind, qualifier = fact["kind"], fact["qualifier"]
    if kind not in KINDS or fact["sector"] not in SECTORS or qualifier not in QUALIFIERS:
        found.append(f"{where}: kind, sector or qualifier not one of the allowed values")
        return found
    if fact["unit"] not in UNITS[kind]:
        found.append(f"{where}: unit {fact['unit']!r} does not fit {kind}")
    if (kind in ("activity_count", "companion_count")) != (fact["subject"] is not None):
        found.append(f"{where}: counts have a subject, rates and prices none")
    if kind in ("exchange_rate", "price") and fact["sector"] is not None:
        found.append(f"{where}: rates and prices have no sector")
    value, low, high = fact["value"], fact["low"], fact["high"]
    shapes = {"exact": value is not None and low is None and high is None,
              "approx": value is not None and low is None and high is None,
              "average": value is not None and low is None and high is None,
              "range": value is None and low is not None and high is not None and low < high,
              "more_than": value is None and low is not None and high is None,
              "less_than": value is None and low is None and high is not None}
    if not shapes[qualifier]:
        found.append(f"{where}: value/low/high do not fit qualifier {qualifier}")
    start, end = _date(fact["period_start"], where, found), _date(fact["period_end"], where, found)
    precision = fact["period_precision"]
    if precision not in PRECISIONS:
        found.append(f"{where}: period_precision {precision!r} unknown")
    elif start is None or end is None:
        if start != end or fact["year"] is not None or precision != "unresolved":
            found.append(f"{where}: without a period, both bounds and year are null and precision unresolved")
    else:
        if start > end or fact["year"] != end.year or precision == "unresolved":
            found.append(f"{where}: period bounds, year (the end year) or precision disagree")
        if published is not None and end > published:
            found.append(f"{where}: the period ends after the publication date")
    return found


def main(paths: list[str]) -> int:
    problems, ids, count = [], set(), 0
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                passage = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc})")
                continue
            count += 1
            if passage.get("id") in ids:
                problems.append(f"{where}: id {passage.get('id')!r} repeated")
            ids.add(passage.get("id"))
            problems += problems_of(passage, where)
    for problem in problems:
        print(problem)
    print(f"{count} passages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
