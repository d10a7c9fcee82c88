"""Activity tallies: how many public activities a person made, per sector, category or counterpart.

"Kim Jong Un made 51 military events (53 in 2024)", "inspected 12 factories", "met Putin
three times", "his visits to munitions factories rose to 14". The lowest priority of the
built-in kinds: a number another extractor claims (a price, a companion count) is not a tally.
"""

from __future__ import annotations

import re

from pipeline.dates import Period, year_period
from pipeline.extractors.shared import continues, period_or_default
from pipeline.fact_rules import FACT_RULES_FILE, patterns, rules, words_pattern
from pipeline.facts import (
    FACT_EXTRACTORS,
    LEGACY_VERSION,
    DocumentFacts,
    Discourse,
    Fact,
    FactExtractor,
    SentenceView,
    Walk,
    by_surname,
    expression_end,
)
from pipeline.numbers import Amount


def claim(sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    return _activity(sentence.document, sentence.text, sentence.start, amount, sentence.attached[amount],
                     sentence.main, sentence.subject, walk.discourse, walk.previous, walk.facts, sentence.date_spans)


def trigger() -> str:
    r = rules()
    nouns = [k for k in r["activity_nouns"] if k != "note"]
    verbs = [k for k in r["activity_verbs"] if k != "note"]
    return f"{words_pattern(nouns)}|{words_pattern(verbs)}|{words_pattern(r['leader_context_words'])}"


def _activity(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount, attached: list[Period],
              main: Period | None, subject: str | None, discourse: Discourse,
              previous: Fact | None, earlier: list[Fact], dates: list[tuple[int, int]]) -> Fact | None:
    found = _what_is_counted(ctx, sentence, offset, amount, attached, previous, dates)
    if found is None:
        return None
    category, sector, counterpart, actor = found
    who = actor or _leader_if_companion_sentence(ctx, sentence, offset, amount) or subject or discourse.subject
    if who is None:
        return None  # a count of events with nobody doing them is not a leader's tally
    end = expression_end(sentence, amount)
    sector = sector or rules()["category_sectors"].get(category or "") or ("foreign" if counterpart else None)
    period, penalty = _activity_period(ctx, sentence, offset, amount, attached, main, discourse, previous, earlier)
    if subject is None:
        penalty += 0.05
    if ctx.published_inferred:
        penalty += 0.05
    if (amount.value or amount.low or 0) > 2000:
        penalty += 0.6  # nobody makes thousands of public appearances a year: keep, but doubt
    return Fact("activity_count", who, sector, category, counterpart, None, period, amount.value,
                amount.low, amount.high, amount.qualifier, None, sentence, offset + amount.start,
                offset + end, max(0.05, 0.9 - penalty))


def _what_is_counted(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount, attached: list[Period],
                     previous: Fact | None, dates: list[tuple[int, int]]) -> tuple | None:
    """(category, sector, counterpart, actor or None) when the number counts public activities."""
    p = patterns()
    after = sentence[amount.end:]
    noun = p["noun"].match(after)
    earlier_count = previous is not None and previous.kind == "activity_count"
    in_parens = sentence[:amount.start].rstrip().endswith("(")
    if noun:
        phrase = after[:noun.end()] + " " + " ".join(after[noun.end():].split()[:4])
        category = rules()["activity_nouns"].get(" ".join(noun.group(1).lower().split()))
        counterpart = _counterpart(after)
        if counterpart is None and category in _MEETING_CATEGORIES:
            counterpart = _country(sentence[:amount.start], exclude=rules()["leader"])  # "Kim and Xi have held five summits"
        return category, _sector(phrase), counterpart, None
    verb = _governing_verb(ctx, sentence, offset, amount)
    if verb is not None:
        return verb
    if earlier_count and (in_parens or continues(sentence, previous.end_char - offset, amount.start, dates) or attached):
        if in_parens:
            return previous.category, previous.sector, _counterpart(after) or previous.counterpart, None
        clause = re.split(r"[,;.()]", after, maxsplit=1)[0]
        return previous.category, _sector(clause) or previous.sector, _counterpart(after), None
    counted = _counted_by_noun_phrase(sentence, amount)
    if counted is not None:
        return counted
    if attached and p["activity_context"].search(sentence[:amount.start]):
        return None, None, None, None
    return None


_MEETING_CATEGORIES = frozenset({"summit talks", "talks", "meetings", "foreign visits"})


_COUNT_VERBS = re.compile(r"\b(?:rose|fell|increased|decreased|dropped|grew|climbed|jumped|surged)\s+to\s*$|"
                          r"\b(?:reached|totaled|totalled|numbered|stood\s+at|came\s+to)\s*$", re.IGNORECASE)


def _counted_by_noun_phrase(sentence: str, amount: Amount) -> tuple | None:
    """"Kim Jong Un's visits to munitions factories rose to 14"."""
    before = sentence[:amount.start]
    if not _COUNT_VERBS.search(before):
        return None
    nouns = [m for m in re.finditer(r"\b" + words_pattern([k for k in rules()["activity_nouns"] if k != "note"]) + r"\b",
                                    before, re.IGNORECASE)]
    if not nouns:
        return None
    noun = nouns[0]
    phrase = before[max(0, noun.start() - 30):]
    category = rules()["activity_nouns"].get(" ".join(noun.group(0).lower().split()))
    return category, _sector(phrase), None, None


def _governing_verb(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount) -> tuple | None:
    """"met ... three times", "inspected 12 factories", "traveled to Russia twice"."""
    p = patterns()
    clause_start = max(sentence.rfind(c, 0, amount.start) for c in (";", "—", " - ")) + 1
    verbs = list(p["verb"].finditer(sentence, clause_start, amount.start))
    if not verbs:
        return None
    verb = verbs[-1]
    between = sentence[verb.end():amount.start]
    after = sentence[amount.end:]
    times = p["times_unit"].match(after) or p["times_word"].fullmatch(sentence[amount.start:amount.end])
    counted_noun = p["plural_noun"].match(after) if len(between.split()) <= 1 else None
    if not times and not counted_noun or times and len(between) > 80:
        return None
    category = rules()["activity_verbs"].get(" ".join(verb.group(1).lower().split()))
    noun_text = " ".join(counted_noun.group(1).lower().split()) if counted_noun else ""
    category = rules()["activity_nouns"].get(noun_text) or category
    actor = _actor_before(ctx, sentence, offset, verb.start())
    country = _country(between) or _country(sentence[clause_start:verb.start()], exclude=actor)
    return category, _sector(between + " " + noun_text), country, actor


def _actor_before(ctx: DocumentFacts, sentence: str, offset: int, position: int) -> str | None:
    """Who does the counted thing: the leader if named before the verb, else the last person named."""
    names = [e.canonical_name for e in ctx.persons
             if offset <= e.start_char < offset + position and e.canonical_name]
    names += [n for m in patterns()["surname"].finditer(sentence, 0, position) if (n := by_surname(ctx, m.group(1)))]
    if rules()["leader"] in names:
        return rules()["leader"]
    return names[-1] if names else None


def _country(text: str, exclude: str | None = None) -> str | None:
    for match in patterns()["country"].finditer(text):
        found = match.group(0).lower()
        if exclude and found in exclude.lower():
            continue
        for country, words in rules()["counterparts"].items():
            if country != "note" and found in (w.lower() for w in words):
                return country
    return None


def _leader_if_companion_sentence(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount) -> str | None:
    """In "X accompanied him on 40 of his 130 activities", the 130 are the leader's."""
    verb = patterns()["companion_verb"].search(sentence)
    if not verb or amount.start < verb.end():
        return None
    after = [e.canonical_name for e in ctx.persons
             if e.start_char >= offset + verb.end() and e.start_char < offset + len(sentence) and e.canonical_name]
    return after[0] if after else rules()["leader"]


def _activity_period(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount, attached: list[Period],
                     main: Period | None, discourse: Discourse, previous: Fact | None,
                     earlier: list[Fact]) -> tuple[Period | None, float]:
    in_parens = sentence[:amount.start].rstrip().endswith("(")
    if not attached and not in_parens and main is None and previous is not None and previous.period is not None:
        return previous.period, 0.05  # "of Kim's 11 activities in 2024, seven involved Russia"
    if not (in_parens and not attached):
        return period_or_default(attached, main, discourse.period, ctx.published)
    sibling = next((f for f in reversed(earlier) if f.period and sentence[f.start_char - offset - 1:f.start_char - offset] == "("), None)
    if sibling is not None and previous is not None and sibling.period != previous.period:
        return sibling.period, 0.05  # "(53 in 2024)" set the comparison year for later "(28)"
    base = previous.period if previous and previous.period else main
    return (_previous_year(base), 0.1) if base else (None, 0.4)


def _previous_year(period: Period) -> Period:
    return year_period(period.end.year - 1)


def _sector(phrase: str) -> str | None:
    match = patterns()["sector_in_phrase"].search(phrase)
    return rules()["sector_words"][match.group(1).lower()] if match else None


def _counterpart(after: str) -> str | None:
    p = patterns()
    noun = p["noun"].match(after)
    rest = after[noun.end():] if noun else after
    if p["other_counterpart"].match(rest):
        return "other"
    match = p["counterpart"].match(rest)
    if not match:
        return None
    name = re.sub(r"['’]s$", "", match.group(1)).strip()
    if name.lower() in {"the", "a"}:
        return None
    return _country(name) if " and " not in name and _country(name) else name


FACT_EXTRACTORS.register(FactExtractor(
    name="activity_count", priority=10, version=LEGACY_VERSION, claim=claim, trigger=trigger,
    review_weight=3,  # what `nkpipe reconcile` compares with the register
    pattern_files=(FACT_RULES_FILE,)))
