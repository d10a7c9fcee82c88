"""Tallies read off the parse: whose public activities a number counts, of what kind, for which period.

Shared by the activity_count and companion_count extractors. For a number of a triggered
sentence the construction that holds it (``grammar.constructions``) says what it counts: the
noun it modifies ("51 military events"), the event of its verb ("met him three times", "was
shown in state media 140 times"), the subject of a change ("his visits rose to 14"), a part of
an earlier count ("seven were military", "9 of his 14 visits"), or a bracketed figure after a
name or a category ("Kim Jae Ryong (24)", "(53 in 2024)"). The person is the grammatical
subject of that clause, or the possessor of the counted noun, never merely the nearest name:
pronouns and descriptions ("he", "the leader", "the 41-year-old") resolve to the person the
discourse is about. Sectors come only from words that name one ("military events", "seven were
economic"); categories from the counted noun or the event verb; the period from the temporal
expression bound to the number, else the sentence's own, else none (unresolved).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import date

from spacy.tokens import Span, Token

from pipeline.dates import Period
from pipeline.entities import canonical_person
from pipeline.extractors.grammar import (
    agent_of,
    clause_verb,
    conjunct_head,
    constructions,
    person_of,
    phrase_words,
    possessor,
    side_clause,
    subject_of,
)
from pipeline.fact_rules import rules as fact_rules
from pipeline.fact_rules import words_pattern
from pipeline.facts import Fact, SentenceView, Walk, persons_between
from pipeline.numbers import Amount
from pipeline.rules import load_json

RULES_FILE = "count_rules.json"
_LEADER = "Kim Jong Un"
_REFERS_BACK = {"number", "count", "tally", "total", "figure", "these", "them", "which", "this", "that"}


def rules() -> dict:
    return load_json(RULES_FILE)


@dataclass(frozen=True)
class Tally:
    """What a number counts, before it becomes a fact."""

    companion: bool
    subject: str | None
    category: str | None
    sector: str | None
    counterpart: str | None
    end: int  # character offset (in the sentence) where the counted expression ends
    inherited: bool = False  # subject or category taken from an earlier count
    total_at: int | None = None  # "9 of his 14 visits": where the total is (in the sentence), whose period it shares
    named: bool = False  # read off an official's name ("Kim Yang Gon (59)"): a bracket after it is no comparison
    period_from: Period | None = None  # the period of the count this one breaks down or is compared with
    has_period_from: bool = False
    compared: bool = False  # a figure set beside the count just made ("down from 132 in 2023")


def read_tally(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """The tally a number states, or None when it counts nothing a person did (read once for both
    the activity and the companion extractor)."""
    key = ("tally", amount, id(walk.previous))
    if key not in walk.readings:
        walk.readings[key] = _read_tally(view, amount, walk)
    return walk.readings[key]


_MULTIPLIER_AFTER = re.compile(rf"^\s*(?:times\s+)?as\s+{words_pattern(fact_rules()['multiplier_as'])}\b|"
                               rf"^\s*times\s+{words_pattern(fact_rules()['multiplier_comparatives'])}\b", re.IGNORECASE)


def _read_tally(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    sentence = view.span()
    number = view.span(amount.start, amount.end)
    if sentence is None or number is None or not len(number):
        return None
    root = number_token(number)
    if _age_after_name(view, amount) or _MULTIPLIER_AFTER.match(view.text[amount.end:]):
        return None  # "three times as many as in 2020": a ratio, not a count
    item = _bracketed_item(view, amount, walk)
    if item is not None:
        return item
    named = _companion_by_name(view, amount, walk)
    if named is not None and not re.match(r"\s*of\b", view.text[amount.end:]) and canonical_person(named.subject):
        return named  # else the parse may know better ("Kim's daughter, Ju Ae"; "9 of his 14 visits")
    if named is None:  # readings off the words around the number, before the parse's
        for reader in (_year_labelled_figure, _sector_breakdown, _compared_figure, _list_item, _bracketed_comparison,
                       _owned_total, _labelled_total):
            tally = reader(view, amount, walk)
            if tally is not None:
                return tally
    own = _own_counterpart(root, sentence)
    for construction in constructions(sentence, root):
        tally = _READERS[construction.name](view, construction.nodes, walk, sentence)
        if tally is not None and (named is None or tally.companion):  # "9 of his 14 visits": the parse knows the visits
            return replace(tally, counterpart=own) if own is not None else tally
    if named is not None:
        return named
    if own is not None and walk.previous is not None and walk.previous.kind == "activity_count":
        # "..., and 4 categorized as others": one more item of the list, with its own counterpart
        previous = walk.previous
        return Tally(False, previous.subject, previous.category, previous.sector, own, 0, inherited=True)
    return None


_AFTER_COMPANION_NUMBER = re.compile(
    r"^\s*(?:\)|,|;|\.|\||/|$|and\b|while\b|times\b|occasions?\b|apiece\b|each\b|respectively\b|"
    r"(?:public\s+|reported\s+|separate\s+)?(?:appearances|outings|events|activities|trips|visits|engagements|"
    r"inspections)\b|of\s+(?:them|those|these|his|her|the|kim))", re.IGNORECASE)


def _companion_by_name(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """A number after an official's name where the text speaks of accompanying the leader: "followed by Kim
    Yang Gon (59)", "Kim Yo Jong, now a vice director, joined 14", "ahead of Hwang Pyong So at 55", "Jang
    Song Thaek was present 74 times and Kim Kyong Hui 40". Read off the names the entity recogniser found
    and the words between, since the parse of such lists is the least reliable part of it."""
    if amount.value is None or not 1 <= amount.value <= 400 or not _AFTER_COMPANION_NUMBER.match(view.text[amount.end:]):
        return None
    if re.search(r"\bof\s+(?:his|her|the\s+leader['’]s|[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2}['’]s)\s+(?:\w+\s+){0,2}$",
                 view.text[max(0, amount.start - 40):amount.start]):
        return None  # "37 of his 88 appearances": the 88 are the leader's
    at = view.start + amount.start
    people = [e for e in persons_between(view.document, view.start, at) if e.end_char <= at]
    cue = _companion_cue()
    context = bool(cue.search(view.text)) or any(f.kind == "companion_count" for f in walk.facts) or (
        walk.discourse.last_count is not None and walk.discourse.last_count.kind == "companion_count")
    if not context:
        return None
    for person in reversed(people):
        gap = view.document.text[person.end_char:at]
        if gap.startswith(("'s", "’s")):
            continue  # "at Kim Jong Un's side", "Kim Jong Un's daughter": not the companion's name
        if re.search(r"\d", _YEARS.sub("", _AGE.sub("", gap))) or len(gap) > 120:
            return None  # another number between the name and this one (a year may be: "at his side in 2021, ... 49")
        if re.fullmatch(r"\s*,\s*", gap) and view.text[amount.end:].lstrip().startswith(","):
            return None  # "Choe Ryong Hae, 66, was ...": his age
        before = view.document.text[max(view.start, person.start_char - 16):person.start_char].lower().split()
        if before and before[-1] in rules()["accompanied_markers"]:
            continue  # "accompanied Kim Jong Un 113 times": the one accompanied; the companion came before
        name = person.canonical_name or _name(person.text)
        between_cue = bool(cue.search(gap))
        if not between_cue and len(gap.strip(" ,(:")) > 12:
            return None
        reference = _reference_count(view, walk)
        own = name in _LEADERS or (reference is not None and reference.kind == "activity_count" and name == reference.subject)
        if own and not re.search(r"\baccompan", gap, re.IGNORECASE):
            return None  # the leader's own count
        return Tally(True, name, None, _sector(_words_after_amount(view, amount)), None, amount.end, named=True)
    return None


def _reference_count(view: SentenceView, walk: Walk) -> Fact | None:
    """The count a breakdown or a comparison refers to: the last one of this sentence, else of the text."""
    own = [f for f in walk.facts if f.kind in ("activity_count", "companion_count") and not f.compared]
    if own:
        return own[-1]
    last = walk.discourse.last_count
    return last if last is not None and view.start - last.end_char < 600 else None


@functools.cache
def _breakdown_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    sectors = words_pattern([w for w in rules()["sector_words"] if w != "note"])
    nouns = r"(?:ones|activities|events|appearances|outings|visits|engagements|inspections|trips|affairs)"
    after = re.compile(
        rf"^\s*(?:of\s+(?:them|those|these|which|(?:this\s+year['’]s|the|those|these|his|her)\s+(?:[\w-]+\s+){{0,2}}?"
        rf"(?:outings|appearances|events|activities|engagements|visits)\s+(?:were|was))\s+|were\s+|was\s+)?"
        rf"(?P<sector>{sectors})(?:[\s-]+related)?"
        rf"(?:\s+(?P<noun>{nouns}))?(?:\s+in\s+nature)?\s*(?:[,;.)—–]|$|and\b|or\b|while\b|versus\b|against\b|with\b|in\b)",
        re.IGNORECASE)
    before = re.compile(
        rf"\b(?P<sector>{sectors})(?:[\s-]+related)?(?:\s+(?P<noun>{nouns}))?"
        rf"(?:\s+(?:came|ranked|placed|stood|were|was)?\s*(?:first|second|third|fourth|fifth|next|last))?\s*[,:]?\s*"
        rf"(?:accounting\s+for|accounted\s+for|account\s+for|made\s+up|make\s+up|making\s+up|numbered|totall?ed|"
        rf"came\s+to|at|for|with|numbering)?\s*,?\s*$",
        re.IGNORECASE)
    return after, before


def _sector_breakdown(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """A part of the count just made, named by a sector word next to its number: "41 were military-related and
    29 economic", "46 economic activities and 38 military ones", "economic activities accounting for 31 and
    military ones 28", "24 of them military", "Military events accounted for 49 of them"."""
    reference = _reference_count(view, walk)
    if reference is None or reference.kind != "activity_count" or amount.value is None:
        return None
    if reference.value is not None and amount.value > reference.value:
        return None
    after_pattern, before_pattern = _breakdown_patterns()
    text = view.text
    found = after_pattern.match(text[amount.end:])
    if found is None:
        start = max(0, amount.start - 60)
        window = text[start:amount.start]
        found = before_pattern.search(window)
        if found is None or re.search(r"\d", window[found.start():]):
            return None
    sector = rules()["sector_words"].get(found.group("sector").lower())
    if sector is None:
        return None
    noun = (found.group("noun") or "").lower()
    category = rules()["count_nouns"].get(_singular(noun))  # "economic inspections"
    return Tally(False, reference.subject, category, sector, None, amount.end, inherited=True,
                 period_from=reference.period, has_period_from=True)


_COMPARED_BEFORE = re.compile(
    r"\b(?:compared\s+(?:with|to)|compares\s+with|against|versus|vs\.?|(?:up|down)\s+from|from|than)\s+"
    r"(?:half\s+|twice\s+|double\s+|a\s+third\s+of\s+|a\s+quarter\s+of\s+)?"
    r"(?:a\s+record\s+|just\s+|only\s+|the\s+|about\s+|some\s+|around\s+|roughly\s+)?$", re.IGNORECASE)
_SHORT_RELATIVE_CLAUSE = re.compile(r"^(?:he|she|they|it)\s+[a-z]+(?:ed|de)\s+", re.IGNORECASE)  # "the 28 he logged"
_RELATIVE_YEAR = re.compile(r"\b(?:last\s+year|the\s+(?:year|twelve\s+months)\s+before|a\s+year\s+(?:earlier|before)|"
                            r"the\s+previous\s+year|the\s+prior\s+year)\b", re.IGNORECASE)


_NO_COUNT_AFTER = re.compile(r"\s*(?:percent|per\s+cent|%|won)")  # a share or a sum of money, not a tally
_YEAR_LABEL = re.compile(r"\(\s*(?P<bracketed>(?:19|20)\d\d)\s*:\s*$|\b(?P<owned>(?:19|20)\d\d)['’]s\s+$|"
                         r"\bthe\s+(?P<named>(?:19|20)\d\d)\s+(?:figure|total|tally|count|level|number|mark)\s+of\s+$")


def _singular(noun: str) -> str:
    """The lemma of a plural count noun ("activities" -> "activity", "inspections" -> "inspection")."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") else noun


def _year_labelled_figure(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"118 (2024: 113)", "well short of 2019's 87", "the 2008 figure of 98": the count just made, in that year."""
    found = _YEAR_LABEL.search(view.text[max(0, amount.start - 30):amount.start])
    if found is None or amount.value is None or _NO_COUNT_AFTER.match(view.text[amount.end:]):
        return None
    reference = _reference_count(view, walk)
    if reference is None:
        return None
    year = int(found.group("bracketed") or found.group("owned") or found.group("named"))
    return Tally(reference.kind == "companion_count", reference.subject, reference.category, reference.sector,
                 reference.counterpart, amount.end, inherited=True,
                 period_from=Period(date(year, 1, 1), date(year, 12, 31), str(year), "year"), has_period_from=True,
                 compared=True)


_LABELLED_TOTAL = re.compile(
    r"(?P<label>(?:[\w'’.-]+[\s,]+){0,8}?(?:public\s+)?(?:activities|appearances|outings|engagements)\b[^:|;\d]{0,40}?"
    r"(?:(?:19|20)\d\d(?:\s*-\s*(?:19|20)?\d\d)?[^:|;\d]{0,20})?)(?::|\s)\s*$", re.IGNORECASE)


def _labelled_total(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """A table or summary line flattened into text: "Kim Jong Un public activities this year: 118",
    "Total appearances 98 (2017: 94)": the total of the person the label or the text names."""
    before = view.text[max(0, amount.start - 200):amount.start]
    segment = re.split(r"[.;|\n—–]\s|\)\s*\.?\s", before)[-1]
    found = _LABELLED_TOTAL.fullmatch(segment.lstrip())  # the label is the whole cell or line before the number
    if found is None or amount.value is None or not re.match(r"\s*(?:\(|in\s+all\b|[.;,|]|$)", view.text[amount.end:]):
        return None
    label = found.group("label")
    words = view.span(amount.start - len(segment.lstrip()), amount.start)
    if words is not None and any(t.pos_ in ("VERB", "AUX") for t in words):
        return None  # a clause ("the number of officials accompanying him ... was 45"), not a label
    if re.search(r"\b(?:percent|share|rate|per\s+cent)\b", label, re.IGNORECASE):
        return None
    people = [name for name in _LEADERS + tuple(rules()["labelled_subjects"]) if name.lower() in label.lower()]
    subject = people[0] if people else walk.discourse.subject
    if subject is None:
        return None
    return Tally(False, subject, None, _sector(re.findall(r"[\w-]+", label.lower())), None, amount.end)


def _compared_figure(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"compared with 151 last year", "down from a record 161 in 2010", "That compares with 46 in January-June
    2024": the count just made, for the period compared with."""
    if not _COMPARED_BEFORE.search(view.text[max(0, amount.start - 40):amount.start]):
        return None
    if re.match(r"\s*(?:percent|per\s+cent|%|won|times\s+(?:as|more))", view.text[amount.end:], re.IGNORECASE):
        return None
    reference = _reference_count(view, walk)
    if reference is None:
        return None
    if reference.value is not None and amount.value is not None and not (
            reference.value / 4 <= amount.value <= reference.value * 4):
        return None  # "35 from 53" yes; "the 2013 figure of 212" beside 94 is read by the parse
    after = _SHORT_RELATIVE_CLAUSE.sub("", view.text[amount.end:].lstrip(" ,"))
    relative = _RELATIVE_YEAR.match(after)
    period = None if relative is None else _year_before(reference.period, same_span=relative.group().lower().startswith("a "))
    return Tally(reference.kind == "companion_count", reference.subject, reference.category, reference.sector,
                 reference.counterpart, amount.end, inherited=True, period_from=period, has_period_from=period is not None,
                 compared=True)


_OWNED_TOTAL = re.compile(
    r"(?P<owner>\b[Hh](?:is|er)\s+(?P<kin>[a-z-]+)['’]s|\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,3}['’]s|\b[Hh]is|\b[Hh]er|"
    r"\b[Tt]he\s+leader['’]s)\s+"
    r"(?:[\w-]+\s+){0,3}?(?P<noun>activities|appearances|outings|engagements|events|tally|count|total)\b"
    r"(?:[^.;\d]|(?:19|20)\d\d){0,60}?\b(?:at|to|of|was|were|stood\s+at|came\s+to|reached|hit|numbered|totall?ed)\s+"
    r"(?:(?:just|only|a\s+mere|some|about|around|roughly|nearly)\s+)?$")


def _owned_total(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"put Kim Jong Un's public activities for 2025 at 131", "Kim Jong Il's tally of public activities stood at
    103", "The leader's public appearances fell to 94": a total said of an owner's activities, when the parse gives
    no reading."""
    found = _OWNED_TOTAL.search(view.text[max(0, amount.start - 140):amount.start])
    if found is None or amount.value is None or re.match(r"\s*(?:percent|per\s+cent|%)", view.text[amount.end:]):
        return None
    owner = found.group("owner")
    if found.group("kin"):  # "His father's tally"
        leader = walk.discourse.subject if walk.discourse.subject in _LEADERS else _leader_named_before(
            view, view.start + amount.start)
        subject = _relative(found.group("kin"), leader)
    elif owner.lower() in ("his", "her", "the leader's", "the leader’s"):
        subject = (walk.discourse.subject if owner.lower() == "her" else None) or _leader_named_before(
            view, view.start + amount.start) or walk.discourse.subject
    else:
        found_person = canonical_person(re.sub(r"['’]s$", "", owner))
        subject = found_person.canonical_name if found_person is not None else None
        if subject is None:
            return None
    if subject is None or _foreign(subject):
        return None
    return Tally(False, subject, None, None, None, amount.end)


_BEFORE_BRACKET = re.compile(r"(?P<words>[A-Za-z][A-Za-z\s-]{0,40}?)\s*\(\s*$")


def _bracketed_item(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"party meetings (14), weapons tests (11)", "Military events (29) outnumbered economic ones (26)": a figure in
    brackets after a category or a sector names a part of the count just made, with that category or sector
    (after a count, "51 events (53 in 2024)", the bracket is a comparison, read elsewhere)."""
    window_start = max(0, amount.start - 45)
    found = _BEFORE_BRACKET.search(view.text[window_start:amount.start])
    if found is None or amount.value is None or not re.match(r"\s*\)", view.text[amount.end:]):
        return None
    words = found.group("words").lower().split()[-3:]
    ahead = view.text[:window_start + found.start("words") + len(found.group("words"))].split()
    nouns = rules()["count_nouns"]
    if (len(ahead) > len(words) and _is_number_word(ahead[-len(words) - 1])
            and (_sector(words[:1]) or words[0] in nouns or len(words) == 1)):
        return None  # "37 economic events (28)": a count's comparison figure; not "at 54, outnumbered military ones (47)"
    category = next((nouns.get(w) or nouns.get(w.rstrip("s")) or nouns.get(w[:-2] if w.endswith("es") else w)
                     for w in reversed(words) if (nouns.get(w) or nouns.get(w.rstrip("s")))), None)
    if words and words[-1] in ("meetings", "meeting") and set(words) & set(rules()["party_meeting_words"]):
        category = "party meetings"
    sector = _sector(words)
    if category is None and sector is None:
        return None
    reference = _reference_count(view, walk)
    if reference is None or reference.kind != "activity_count":
        return None
    if reference.value is not None and amount.value > reference.value:
        return None
    return Tally(False, reference.subject, category, sector, None, amount.end, inherited=True,
                 period_from=reference.period, has_period_from=True)


def _is_number_word(word: str) -> bool:
    return bool(re.fullmatch(r"[\d,.]+", word)) or word.lower() in fact_rules()["number_words"]


_ITEM_WITH = re.compile(r"^\s*(?P<each>(?:each|apiece)\s+)?(?:with|to|in|involving)\s+(?P<who>[^,;:()—–]{2,50})",
                        re.IGNORECASE)
_NEXT_ITEM = re.compile(rf"\s+(?:and|or)\s+(?:one|{words_pattern(list(fact_rules()['number_words']))}|\d+)\b.*$", re.IGNORECASE)


def _list_item(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"five summits — two with Donald Trump, two with Xi Jinping and one with Vladimir Putin": each item a part
    of the count just made in the sentence, with its own counterpart."""
    own = [f for f in walk.facts if f.kind == "activity_count" and not f.compared]
    found = _ITEM_WITH.match(view.text[amount.end:])
    if not own or found is None or amount.value is None:
        return None
    reference = own[-1]
    who = found.group("who")
    if found.group("each"):  # "one each with Moon, Trump and To Lam": the whole list
        listed = re.match(r"(?:[^;:()—–.]|\.(?=\s*[A-Z]\w*\.)|(?<=\b[A-Z])\.|(?<=\bU\.S)\.){2,160}",
                          view.text[amount.end + found.start("who"):])
        who = listed.group(0) if listed else who
    who = _NEXT_ITEM.sub("", who)  # "two with Trump and one with Putin": Trump
    country = _country(who)
    if len(_countries(who)) > 1:
        if not found.group("each"):
            return None  # "4 to Laos and Vietnam": together
        country = "|".join(_countries_in_order(who))  # "two apiece with Trump and Xi": one fact per country
    if country is None or country == "North Korea" or (reference.value is not None and amount.value > reference.value):
        return None
    return Tally(False, reference.subject, reference.category, reference.sector, country, amount.end + found.end(),
                 inherited=True, period_from=reference.period, has_period_from=True)


def _year_before(period: Period | None, same_span: bool = False) -> Period | None:
    """"compared with 151 last year" in a text about 2013: 2012; "13 in January-March, against 28 a year
    earlier" (``same_span``): January-March of the year before."""
    if period is None:
        return None
    year = period.end.year - 1
    if same_span and period.start.year == period.end.year and period.granularity != "year":
        try:
            return Period(period.start.replace(year=year), period.end.replace(year=year),
                          period.label.replace(str(year + 1), str(year)), period.granularity)
        except ValueError:  # February 29
            pass
    return Period(date(year, 1, 1), date(year, 12, 31), str(year), "year")


def _age_after_name(view: SentenceView, amount: Amount) -> bool:
    """"Choe Son Hui, 59, joined 14": the number between commas right after a name is an age."""
    if amount.value is None or amount.value > 120 or not view.text[amount.end:].lstrip().startswith(","):
        return False
    at = view.start + amount.start
    people = persons_between(view.document, view.start, at)
    return bool(people) and re.fullmatch(r"\s*,\s*", view.document.text[people[-1].end_char:at]) is not None


_YEARS = re.compile(r"\b(?:19|20)\d\d\b")
_AGE = re.compile(r",\s*\d{1,2}\s*,|\b\d{1,2}-year-old\b")


@functools.cache
def _companion_cue() -> re.Pattern[str]:
    return re.compile(rf"\b{words_pattern(rules()['companion_cues'])}\b", re.IGNORECASE)


def _words_after_amount(view: SentenceView, amount: Amount) -> list[str]:
    return re.findall(r"[\w-]+", view.text[amount.end:amount.end + 30].lower())[:3]


def _own_counterpart(number: Token, sentence: Span) -> str | None:
    """The counterpart a list item names right after its number ("5 to China", "4 to Laos and Vietnam",
    "4 categorized as others")."""
    for child in number.children:
        if child.dep_ == "prep" and child.lower_ in ("to", "with", "involving"):
            objects = [c for c in child.children if c.dep_ == "pobj"]
            names = [t for o in objects for t in (o, *o.conjuncts)]
            countries = [c for c in (_country(t.text) for t in names) if c]
            if len(countries) > 1:
                return " and ".join(t.text for t in names)
            if countries:
                return countries[0]
        if child.dep_ == "acl" and _categorized_as_other(child):
            return "other"
    if number.dep_ in ("nsubj", "nsubjpass") and _categorized_as_other(number.head):  # "and 4 (were) categorized as others"
        return "other"
    return None


def _categorized_as_other(verb: Token) -> bool:
    return verb.lemma_.lower() in ("categorize", "categorise", "classify", "count", "list") and any(
        t.lower_ in rules()["other_words"] for t in verb.subtree)


def _bracketed_comparison(view: SentenceView, amount: Amount, walk: Walk) -> Tally | None:
    """"51 military events (53 in 2024)": a bracketed figure right after a count is that count, another period.
    Read off the text, since parsers hang such brackets anywhere; not after a name ("Kim Jae Ryong (24)")."""
    previous = walk.previous
    before = view.text[:amount.start].rstrip()
    if previous is None or not before.endswith("(") or previous.kind not in ("activity_count", "companion_count"):
        return None
    gap = view.text[previous.end_char - view.start:len(before) - 1]
    token_before = view.span(len(before) - 2, len(before) - 1)
    compared = re.search(r"\b(?:as\s+(?:many|much)\s+as|than|compared\s+(?:with|to)|against|from)\b", gap, re.I)
    if len(gap) > (80 if compared else 40) or (
            token_before is not None and person_of(token_before.root, view.span()) is not None):
        return None  # "17 statements in 2021, three times as many as in 2020 (6)": the 6 compares
    return Tally(previous.kind == "companion_count", previous.subject, previous.category, previous.sector,
                 previous.counterpart, 0, inherited=True, compared=True)


def number_token(number: Span) -> Token:
    """The token that stands for a number expression: its numeral governed from outside it ("between 15 and 18")."""
    numerals = [t for t in number if t.like_num or t.pos_ == "NUM" or t.lower_ in ("twice", "thrice", "once")]
    outside = [t for t in numerals if not (number.start <= t.head.i < number.end)]
    return (outside or numerals or [number.root])[0]


# --- one reader per construction ------------------------------------------------------------


def _noun(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    noun = nodes["noun"]
    lemma = noun.lemma_.lower()
    if lemma == "round":  # "five rounds of summit talks"
        inner = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"), None)
        noun = next((c for c in inner.children if c.dep_ == "pobj"), noun) if inner else noun
        lemma = noun.lemma_.lower()
    if person_of(noun, sentence) is not None:
        return None
    verb = clause_verb(noun)
    if lemma not in rules()["count_nouns"]:
        category = _verb_category(verb, noun) if verb is not None and noun.dep_ == "dobj" else None
        if category is None:
            return None  # "12 factories" counts activities only as the object of "inspected"
        return _tally(view, walk, sentence, noun=noun, verb=verb, category=category)
    if lemma == "one" and noun.dep_ == "conj":  # "51 military events and 37 economic ones"
        return _tally(view, walk, sentence, noun=noun, verb=verb, category=_noun_category(conjunct_head(noun)))
    return _tally(view, walk, sentence, noun=noun, verb=verb, category=_noun_category(noun))


def _occasions(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    verb = nodes.get("verb") or clause_verb(nodes["number"])
    if verb is None:
        return None
    return _tally(view, walk, sentence, noun=None, verb=verb, category=_verb_category(verb, None))


def _comparison(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"against 31 a year earlier", "up from 16": the same count as the one just made, another period."""
    previous = walk.previous
    if previous is None or previous.kind not in ("activity_count", "companion_count"):
        return None
    return Tally(previous.kind == "companion_count", previous.subject, previous.category, previous.sector,
                 previous.counterpart, 0, inherited=True, compared=True)


def _change(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"Kim Jong Un's visits to munitions factories rose to 14"; "the number climbed to 81"."""
    verb = nodes["verb"]
    counted = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")
                    and c.lemma_.lower() in rules()["count_nouns"]), None) or subject_of(verb)  # not an aside's number
    if counted is None or counted.lemma_.lower() in _REFERS_BACK:
        return _inherited(view, walk, sentence, _words(counted))
    if counted.lemma_.lower() not in rules()["count_nouns"]:
        # "rose from about 70 in 2021 ..., then surged to 130": the series goes on, whatever the parse
        previous = walk.previous
        return _inherited(view, walk, sentence, []) if previous is not None else None
    return _tally(view, walk, sentence, noun=counted, verb=None, category=_noun_category(counted))


def _refers_back(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"Across 2018-20 the figure was 258", "that brought the sister's total to 28": the count the text just made
    (its person; its kind only when the noun names one), for this number's own period."""
    counted = nodes["counted"]
    if _NO_COUNT_AFTER.match(view.text[nodes["number"].idx + len(nodes["number"]) - view.start:]):
        return None
    of = next((c for c in counted.children if c.dep_ == "prep" and c.lower_ == "of"), None)
    counted_of = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
    if counted_of is not None and counted_of.lemma_.lower() not in rules()["count_nouns"]:
        return None  # "the number of missiles was 12"
    owner = possessor(counted)
    person = _whose(owner, view, walk, sentence) if owner is not None else None
    reference = _reference_count(view, walk)
    if person is None and reference is None:
        return None
    words = _words(counted) + (_words(counted_of) if counted_of is not None else [])
    category = _noun_category(counted_of) if counted_of is not None else None
    subject = person or reference.subject
    if not subject or subject.startswith("!"):
        return None
    same = reference is not None and reference.subject == subject
    if same and category is None and not counted_of:  # "Kim Yo Jong issued nine statements. ... her total to 28"
        category = reference.category
    return Tally(same and reference.kind == "companion_count", subject, category, _sector(words), None, 0,
                 inherited=True)


def _predicate(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"seven were military", "40 were ceremonies", "two involved China": a part of the count just made."""
    verb = nodes["verb"]
    parts = [c for c in verb.children if c.dep_ in ("attr", "acomp", "dobj")] or [nodes["predicate"]]
    predicate = parts[0]
    words = [w for part in parts for w in _words(part)]
    category = _party_or(rules()["count_nouns"].get(predicate.lemma_.lower()) if predicate.pos_ == "NOUN" else None,
                         words)
    inherited = _inherited(view, walk, sentence, words)
    if inherited is None:
        return None
    counterpart = next((c for c in (_country(" ".join(t.text for t in part.subtree)) for part in parts) if c), None)
    return replace(inherited, category=category or inherited.category,
                   counterpart=counterpart or inherited.counterpart if counterpart else
                   (None if words else inherited.counterpart))


def _share(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"(accompanied him on) 9 of his 14 visits": the 9 counts the visits."""
    noun = nodes["noun"]
    if noun.lemma_.lower() not in rules()["count_nouns"]:
        return None
    verb = clause_verb(nodes["number"])
    tally = _tally(view, walk, sentence, noun=noun, verb=verb, category=_noun_category(noun), share=True)
    total = next((c for c in noun.children if c.dep_ == "nummod"), None)
    if tally is None or total is None:
        return tally
    return replace(tally, total_at=total.idx - sentence.start_char)


def _appos(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"Kim Jae Ryong (24)" after a companion count; "51 events (53 in 2024)"."""
    head = nodes["noun"]
    person = person_of(head, sentence)
    previous = walk.previous
    if person is not None:
        if previous is None or previous.kind != "companion_count":
            return None
        return Tally(True, _name(person.text), previous.category, previous.sector, previous.counterpart,
                     nodes["number"].idx + len(nodes["number"]) - sentence.start_char, inherited=True)
    if head.lemma_.lower() in rules()["count_nouns"]:
        return _tally(view, walk, sentence, noun=head, verb=clause_verb(head), category=_noun_category(head))
    return None


def _object(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """A bare number as the object of a count's verb ("while in 2023 he made 99") repeats that count."""
    verb = nodes["verb"]
    previous = walk.previous or walk.discourse.last_count
    if previous is None or previous.kind != "activity_count" or verb.pos_ not in ("VERB", "AUX"):
        return None
    if verb.lemma_.lower() not in rules()["event_verbs"] or nodes["number"].dep_ != "dobj":
        return None
    person = _subject(view, walk, sentence, None, verb)
    if person is not None and person != previous.subject:
        return None
    return Tally(False, previous.subject, previous.category, previous.sector, previous.counterpart, 0, inherited=True)


def _part(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"25 of them military", "40 of these": a part of the count just made, with its own sector or category."""
    number = nodes["number"]
    words = [t.lower_ for t in number.doc[number.i:min(number.i + 6, sentence.end)]]
    inherited = _inherited(view, walk, sentence, words)
    if inherited is None:
        return None
    nouns = [t for t in number.doc[number.i:min(number.i + 6, sentence.end)] if t.pos_ == "NOUN"]
    category = next((rules()["count_nouns"].get(t.lemma_.lower()) for t in nouns
                     if rules()["count_nouns"].get(t.lemma_.lower())), None)
    if category is not None:  # "six of them were summit talks": its own kind, no sector word
        return replace(inherited, category=_party_or(category, words), sector=_sector(words))
    return replace(inherited, category=_party_or(category, words) or inherited.category)


def _party_or(category: str | None, words: list[str]) -> str | None:
    """Meetings of the party's bodies are party meetings ("nine of which were party meetings")."""
    if category == "meetings" and set(words) & set(rules()["party_meeting_words"]):
        return "party meetings"
    return category


def _average(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"140 outings in 2025, an average of about 12 a month": the same activities, as a rate."""
    return _comparison(view, nodes, walk, sentence)


def _with_person(view: SentenceView, nodes: dict, walk: Walk, sentence: Span) -> Tally | None:
    """"followed by Ri Il Hwan with 22": another companion's count in a ranking."""
    person = person_of(nodes["noun"], sentence)
    previous = walk.previous
    if person is None or previous is None or previous.kind != "companion_count":
        return None
    return Tally(True, _name(person.text), previous.category, previous.sector, previous.counterpart, 0,
                 inherited=True)


_READERS = {"refers_back": _refers_back, "refers_back_to": _refers_back, "noun": _noun, "occasions": _occasions,
            "on_occasions": _occasions, "adverb": _occasions, "times_after": _occasions, "change_to": _change, "total": _change, "comparison": _comparison,
            "predicate": _predicate, "share_of": _share, "appos": _appos, "object": _object, "part_of": _part,
            "average": _average, "with_person": _with_person}


# --- building a tally --------------------------------------------------------------------------


def _tally(view: SentenceView, walk: Walk, sentence: Span, *, noun: Token | None, verb: Token | None,
           category: str | None, share: bool = False) -> Tally | None:
    if verb is not None and _numeral_subject(verb, noun):  # "40 were ceremonies, 12 factory visits and 18 ..."
        inherited = _inherited(view, walk, sentence, _words_after_number(noun))
        if inherited is None:
            return None
        own = noun is not None and noun.lemma_.lower() not in ("one",)  # "29 military ones" keeps the category
        if own and category is not None:  # "six of them were summit talks": its own kind, no sector word
            counterpart = _counterpart(noun, None, sentence, inherited.subject)
            return replace(inherited, category=category, sector=_sector(_words_after_number(noun)),
                           counterpart=counterpart if counterpart != "North Korea" else None)
        return replace(inherited, category=category if own else inherited.category)
    owner = possessor(noun) if noun is not None else None
    # "accompanied him on 40 of his 130 activities": the 40 are the companion's, the 130 his own
    companion = (verb is not None and _is_companion(verb) and (owner is None or share)) or (
        noun is not None and owner is None and _with_leader(noun))
    person = _subject(view, walk, sentence, noun, verb, companion)
    if person is None:
        return None
    each = _each_of_them(view, walk, sentence, verb, person)
    if each is not None:  # "Pak Jong Chon and Ri Pyong Chol each joined him on 26 outings": one fact per person
        person = each
    words = _words_after_number(noun)
    counterpart = _counterpart(noun, verb, sentence, person)
    if person.startswith("!"):  # a foreign or South Korean person: only engagements with the North count
        if counterpart != "North Korea":
            return None
        person = person[1:]
    elif counterpart == "North Korea":
        counterpart = None  # a North Korean's own country is no counterpart ("kept him close to Pyongyang")
    if verb is not None and verb.lemma_.lower() == "meet" and category == "meetings" and _summit_partner(verb):
        category = "summit talks"
    if category == "on-site inspections" and counterpart not in (None, "North Korea") and not companion:
        category = "foreign visits"
    category = _party_or(category, _words(noun))
    end = noun.idx + len(noun) - sentence.start_char if noun is not None else 0
    return Tally(companion, person, category, _sector(words) or _antecedent_sector(view), counterpart, end)


def _each_of_them(view: SentenceView, walk: Walk, sentence: Span, verb: Token | None, person: str) -> str | None:
    """The people of a coordinated subject that "each" distributes the number over, joined by "|"."""
    subject = subject_of(verb) if verb is not None else None
    if subject is None or not (subject.conjuncts or any(c.dep_ == "appos" for c in subject.children)):
        return None
    after = [t for t in sentence if subject.i < t.i < verb.i and t.lower_ in ("each", "both")]
    if not after and not any(c.lower_ in ("each", "both") for c in verb.children):
        return None
    start = min(t.left_edge.i for t in (subject, *subject.conjuncts))
    named = [e for e in sentence.ents if e.label_ == "PERSON" and start <= e.start and e.end <= verb.i]
    people = [_name(e.text) for e in named] or [
        _whose(c, view, walk, sentence) for c in sorted((subject, *subject.conjuncts), key=lambda t: t.i)]
    people = [f"!{p}" if p and _foreign(p) else p for p in people]
    if len(people) < 2 or any(not p or p.startswith("!") for p in people) or person not in people:
        return None  # "26 of his 71 outings": the 71 are the one they joined, not theirs
    return "|".join(dict.fromkeys(people))


def _words_after_number(noun: Token | None) -> list[str]:
    """The words of a counted noun phrase from its number on ("29 military ones", not "economic and 29 ...")."""
    if noun is None:
        return []
    number = next((c for c in noun.children if c.dep_ == "nummod"), None)
    words = _words(noun)
    if number is None:
        return words
    return [t.lower_ for t in noun.doc[number.i:noun.i + 1]] + words


def _numeral_subject(verb: Token, noun: Token | None) -> bool:
    """A clause whose subject is a number ("40 were ceremonies") breaks down an earlier count."""
    subject = subject_of(verb)
    return subject is not None and (subject.like_num or subject.pos_ == "NUM") and (
        noun is None or noun.i != subject.i)


def _inherited(view: SentenceView, walk: Walk, sentence: Span, words: list[str]) -> Tally | None:
    """A count that refers back: the last count of the sentence, else the discourse's subject."""
    previous = walk.previous
    if previous is not None and previous.kind in ("activity_count", "companion_count"):
        return Tally(previous.kind == "companion_count", previous.subject, previous.category,
                     _sector(words) or previous.sector, previous.counterpart, 0, inherited=True)
    last = walk.discourse.last_count
    if last is not None:  # "In 2024 he made 130 public appearances. Of those, 53 were military."
        sector = _sector(words) or _antecedent_sector(view) or last.sector
        return Tally(last.kind == "companion_count", last.subject, last.category, sector, last.counterpart, 0,
                     inherited=True)
    return None


def _antecedent_sector(view: SentenceView) -> str | None:
    """"(Foreign interactions more than doubled.) Among these, there were 8 events ...": the sector the
    previous sentence names, when this one opens by referring back to it."""
    if not re.match(r"^\W*(?:among|of)\s+(?:these|those|them|which)\b", view.text, re.IGNORECASE):
        return None
    before = view.document.text[max(0, view.start - 3000):view.start]  # not the whole text before: a long document
    previous = re.split(r"(?<=[.!?])\s+", before.rstrip())[-1]
    found = {_sector([w]) for w in re.findall(r"[\w-]+", previous.lower())} - {None}
    return found.pop() if len(found) == 1 else None


def _subject(view: SentenceView, walk: Walk, sentence: Span, noun: Token | None, verb: Token | None,
             companion: bool = False) -> str | None:
    """Whose activities: the noun's possessor, else the clause's subject (the agent of a passive).

    A companion count is the companion's: the subject of the accompanying verb comes first.
    """
    candidates = []
    if companion and verb is not None and subject_of(verb) is not None:
        subject = subject_of(verb)
        candidates.append(agent_of(verb) or subject if subject.dep_ == "nsubjpass" else subject)
    if noun is not None and possessor(noun) is not None:
        candidates.append(possessor(noun))
    if noun is not None:  # "127 public appearances by Kim Jong Un"
        by = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "by"), None)
        agent = next((c for c in by.children if c.dep_ == "pobj"), None) if by is not None else None
        if agent is not None:
            candidates.append(agent)
        for acl in (c for c in noun.children if c.dep_ in ("acl", "relcl")):  # "the 159 activities recorded for the leader"
            for prep in (c for c in acl.children if c.dep_ == "prep" and c.lower_ in ("for", "by")):
                candidates += [c for c in prep.children if c.dep_ == "pobj"]
            if acl.dep_ == "relcl" and acl.lemma_.lower() in rules()["event_verbs"]:  # "the 17 trips Kim Jong Un made"
                candidates += [c for c in acl.children if c.dep_ == "nsubj"]
    if noun is not None and noun.dep_ == "pobj" and noun.head.lower_ == "of":  # "of Kim's 40 events"
        owner = noun.head.head
        if possessor(owner) is not None:
            candidates.append(possessor(owner))
    if verb is not None:
        subject = subject_of(verb)
        if subject is not None and subject.dep_ == "nsubjpass" and _is_companion(verb):
            subject = agent_of(verb) or subject  # "he was accompanied by X"
        by = next((c for c in verb.children if c.dep_ in ("prep", "agent") and c.lower_ == "by"), None)
        agent = next((c for c in by.children if c.dep_ == "pobj"), None) if by is not None else None
        if agent is not None and person_of(agent, sentence) is not None:  # "the ministry counted 127 ... by Kim"
            candidates.append(agent)
        if verb.lemma_.lower() in rules()["recording_verbs"]:  # "the 64 activities KCNA recorded for him"
            for prep in (c for c in verb.children if c.dep_ in ("dative", "prep") and c.lower_ == "for"):
                candidates += [c for c in prep.children if c.dep_ == "pobj"]
        if subject is not None:
            candidates.append(subject)
    for candidate in candidates:
        found = _whose(candidate, view, walk, sentence)
        if found is not None:
            return found or None
    return walk.discourse.subject if not candidates and verb is None else None


def _whose(token: Token, view: SentenceView, walk: Walk, sentence: Span) -> str | None:
    """The person a subject names; "" when it names something that is not a person (the military)."""
    kin = _kin(token, view, walk)
    if kin is not None:  # "Kim Jong Un's daughter, believed to be about 10, was at his side": Kim Ju Ae, not him
        return kin
    person = person_of(token, sentence)
    if token.conjuncts:  # "Putin and Kim have met twice": the North Korean side
        people = [p for p in (person_of(c, sentence) for c in (token, *token.conjuncts)) if p is not None]
        north = [p for p in people if _name(p.text) == _LEADER or not _foreign(p.text)]
        person = north[0] if north else person
    if person is None:  # "Kim's daughter, Ju Ae"
        named = next((person_of(c, sentence) for c in token.children if c.dep_ == "appos"
                      and person_of(c, sentence) is not None), None)
        person = named
    owner = next((c for c in token.children if c.dep_ == "poss"), None)
    if person is None and owner is not None and token.lemma_.lower() in rules()["owned_schedules"]:
        return _whose(owner, view, walk, sentence)  # "Kim Jong Un's 2013 public schedule ran to 212 appearances"
    if person is None and token.pos_ == "PROPN":  # a name the entity recogniser missed ("Ju Ae")
        name = _proper_name(token, sentence)
        if name is not None:
            return name
    if person is not None:
        name = _name(person.text)
        return f"!{name}" if _foreign(person.text, sentence) or _foreign(name) else name
    kin = _kin(token, view, walk)
    if kin is not None:
        return kin
    text = " ".join(t.lower_ for t in token.subtree if t.dep_ not in ("punct",))
    words = set(re.findall(r"[\w-]+", text))
    described = any(w in words or (" " in w and w in text) for w in rules()["leader_descriptions"])
    if token.lower_ in ("he", "him", "his", "she", "her") or described or text.endswith("-year-old"):
        if token.lower_ in ("she", "her"):
            return walk.discourse.subject
        if token.lower_ in ("him", "his") and walk.discourse.subject not in _LEADERS:
            subject = walk.discourse.subject
            male = subject is not None and _name(subject) not in rules()["female_persons"]
            return _leader_named_before(view, token.idx) or (subject if male else None) or _LEADER
        verb = clause_verb(token)
        if token.lower_ in ("him", "his") and verb is not None and _is_companion(verb):
            return _leader_named_before(view, token.idx) or _LEADER  # "X accompanied him on 40 of his 130": the one accompanied
        if walk.discourse.subject in _LEADERS:
            return walk.discourse.subject
        if text.endswith("-year-old") and walk.discourse.subject and _foreign(walk.discourse.subject):
            return f"!{walk.discourse.subject}"  # "The 62-year-old has held 37 public events" after President Yoon
        if re.search(r"\bnorth(?:\s+korean|['’]s)|\bpyongyang['’]s", text):  # "the North Korean leader": never Putin
            return _leader_named_before(view, token.idx) or _LEADER
        return _leader_named_before(view, token.idx) or walk.discourse.subject or _LEADER
    if any(text == w or text.endswith(" " + w) for w in rules()["not_persons"]):
        return ""  # the army, troops, the country: not a person's public activities
    head = token.lower_ if token.pos_ != "PROPN" else text
    if token.dep_ == "expl" or head in rules()["reporters"] or any(text.endswith(" " + w) for w in rules()["reporters"]):
        # "the breakdown (of these activities) includes 51 military events", "there were 8 events": the report
        # speaks, the counted person is the one the discourse is about
        return walk.discourse.subject or (walk.discourse.last_count.subject if walk.discourse.last_count else "")
    return None


_LEADERS = ("Kim Jong Un", "Kim Jong Il", "Kim Il Sung")


def _kin(token: Token, view: SentenceView, walk: Walk) -> str | None:
    """"the 102 his father managed in 2011": the leader's father, by the kinship table (count_rules.json)."""
    relation = token.lower_
    owner = next((c for c in token.children if c.dep_ == "poss"), None)
    if owner is None:
        return None
    if owner.lower_ in ("his", "her"):
        in_table = walk.discourse.subject in rules()["kinship"]
        relative_of = walk.discourse.subject if in_table else _leader_named_before(view, token.idx)
    else:
        person = person_of(owner, view.span()) if view.span() is not None else None
        relative_of = _name(person.text) if person is not None else None
    return _relative(relation, relative_of)


def _relative(relation: str, of: str | None) -> str | None:
    """The ``relation`` ("father") of the person ``of`` ("Kim Jong Un"), by the kinship table (count_rules.json)."""
    relatives = rules()["kinship"].get(of or "")
    return relatives.get(relation) if isinstance(relatives, dict) else None


def _leader_named_before(view: SentenceView, at: int) -> str | None:
    """The leader the text last named before offset ``at`` ("Kim Jong Il died ... He had remained active")."""
    for person in reversed(persons_between(view.document, 0, at)[-200:]):
        if person.canonical_name in _LEADERS:
            return person.canonical_name
    return None


def _proper_name(token: Token, sentence: Span) -> str | None:
    """The run of capitalised words a name token ends, resolved like a person's name, when it parses as one."""
    start = token.i
    while start - 1 >= sentence.start and sentence.doc[start - 1].pos_ == "PROPN" and sentence.doc[start - 1].is_title:
        start -= 1
    text = sentence.doc[start:token.i + 1].text
    found = canonical_person(text)
    return found.canonical_name if found is not None else None


def _name(text: str) -> str:
    found = canonical_person(text)
    if found is not None:
        return found.canonical_name
    return fact_rules()["default_persons"].get(text.strip().lower(), text.strip())


def _foreign(text: str, sentence: Span | None = None) -> bool:
    """A person named among a foreign country's leaders, or called South Korean (or foreign) in the sentence."""
    lowered = " " + " ".join(re.findall(r"[\w-]+", text.lower())) + " "
    for country, words in fact_rules()["counterparts"].items():
        if country != "note" and any(f" {w.lower()} " in lowered for w in words if w[:1].isupper() and len(w) > 3):
            return True  # "Putin", "Park Geun-hye"
    if sentence is None:
        return False
    before = sentence.text[:max(0, sentence.text.find(text))].lower()[-40:]
    return any(w in before for w in ("south korean", "seoul's", "u.s.", "american", "russian", "chinese", "japanese"))


def _with_leader(token: Token) -> bool:
    """A "with/alongside/beside the leader" phrase, or "at his side", on ``token``."""
    for prep in (c for c in token.children if c.dep_ == "prep"):
        target = " ".join(t.lower_ for t in prep.subtree)
        leader = any(w in target.split() for w in ("him", "leader", "brother", "kim", "father")) or "side" in target
        if prep.lower_ == "by" and "side" not in target:
            continue  # "79 appearances by the leader": his own
        if leader and (prep.lower_ in rules()["companion_with"] or "side" in target):
            return True
    return False


def _is_companion(verb: Token) -> bool:
    lemma = verb.lemma_.lower()
    if lemma in rules()["companion_verbs"] and lemma not in ("attend", "follow", "join"):
        return True
    if lemma in ("join", "attend") and any(c.lower_ in ("him", "leader") for c in verb.children):
        return True
    if lemma in ("join",) and any(c.dep_ == "dobj" and _leader_phrase(c) for c in verb.children):
        return True
    return lemma in ("appear", "see", "be", "stand", "sit", "make", "join") and _with_leader(verb)


def _leader_phrase(token: Token) -> bool:
    text = " ".join(t.lower_ for t in token.subtree)
    return any(w in text.split() for w in ("him", "leader", "kim"))


def _words(token: Token | None) -> list[str]:
    return phrase_words(token) if token is not None else []


def _object_words(verb: Token | None) -> list[str]:
    if verb is None:
        return []
    return [w for child in verb.children if child.dep_ in ("dobj", "prep", "attr", "acomp") for w in _words(child)]


def _noun_category(noun: Token) -> str | None:
    lemma = noun.lemma_.lower()
    category = rules()["count_nouns"].get(lemma)
    words = set(_words(noun))
    if category in ("meetings", "summit talks") and words & set(rules()["party_meeting_words"]):
        return "party meetings"
    if lemma == "test" and not words & {"weapon", "weapons", "missile", "missiles", "launch", "rocket", "rockets"}:
        return "weapons tests"
    if lemma == "statement" and "press" not in words:
        return "press statements"
    return category


def _verb_category(verb: Token | None, noun: Token | None) -> str | None:
    if verb is None:
        return None
    lemma = verb.lemma_.lower()
    objects = [c for c in verb.children if c.dep_ in ("dobj", "attr")]
    for obj in objects:
        if obj.lemma_.lower() == "guidance":
            return "field guidance"
        category = rules()["count_nouns"].get(obj.lemma_.lower())
        if category:
            return _noun_category(obj)
    if lemma == "travel" or lemma == "go":
        return "foreign visits" if any(c.lower_ == "to" for c in verb.children) else None
    return rules()["event_verbs"].get(lemma)


def _summit_partner(verb: Token) -> bool:
    for child in verb.children:
        if child.dep_ in ("dobj", "prep", "npadvmod"):
            text = " ".join(t.lower_ for t in child.subtree)
            if any(w in text.split() or w in text for w in rules()["summit_words"] + rules()["summit_names"]):
                return True
    subject = subject_of(verb)
    if subject is not None and any(c.dep_ == "conj" for c in subject.children):
        text = " ".join(t.lower_ for t in subject.subtree)
        return any(w in text for w in rules()["summit_names"])
    return False


def _sector(words: list[str]) -> str | None:
    table = rules()["sector_words"]
    for word in words:
        if word in table and word != "note":
            return table[word]
    return None


_WITH = ("to", "with", "involving", "in")  # prepositions that name a counterpart of the counted engagements


def _counterpart(noun: Token | None, verb: Token | None, sentence: Span, person: str) -> str | None:
    """The country the counted engagements were with: the noun's "to/with" phrase, the event verb's object or
    destination, or a co-subject ("Putin and Kim have met")."""
    places = []
    if noun is not None:
        places += [_phrase(c) for c in noun.children
                   if c.dep_ == "prep" and c.lower_ in _WITH[:3] or c.dep_ in ("compound", "amod")]
        places += [" ".join(t.text for t in c.subtree) for c in noun.children  # "8 events related to Russia"
                   if c.dep_ == "acl" and c.lemma_.lower() in ("relate", "involve", "link", "concern")]
    event = verb is not None and (noun is None or noun.dep_ == "dobj" or noun.head.i == verb.i)
    if event:
        places += [" ".join(t.text for t in c.subtree) for c in verb.children
                   if c.dep_ == "dobj" or c.dep_ == "prep" and c.lower_ in _WITH[:3]]
    if verb is not None:
        subject = subject_of(verb)
        if subject is not None:
            places += [" ".join(t.text for t in c.subtree) for c in (subject, *subject.conjuncts)
                       if person_of(c, sentence) is not None and _name(person_of(c, sentence).text) != person.lstrip("!")]
    for text in places:
        country = _country(text)
        if country is not None:
            if len(_countries(text)) > 1:
                return None  # "five summits with the leaders of three countries — two with Trump, two with Xi"
            return country
    return None


def _phrase(token: Token) -> str:
    """The words under ``token`` up to the next item of a list ("with Moon Jae-in and one with Trump": Moon)."""
    items = [t for t in token.subtree if t.dep_ == "conj" and (t.like_num or t.pos_ == "NUM") and t.i > token.i]
    end = min((t.i for t in items), default=None)
    return " ".join(t.text for t in token.subtree if end is None or t.i < end)


def _countries(text: str) -> set[str]:
    lowered = f" {text.lower()} "
    found = set()
    for country, words in fact_rules()["counterparts"].items():
        if country != "note" and any(f" {w.lower()}" in lowered for w in words if len(w) > 3):
            found.add(country)
    return found


def _countries_in_order(text: str) -> list[str]:
    """The countries a list names, in its order ("Trump and Xi Jinping": United States, China)."""
    words = [w.strip() for w in re.split(r",|\band\b|\bor\b", text)]
    return list(dict.fromkeys(c for c in map(_country, words) if c is not None and c != "North Korea"))


def _country(text: str) -> str | None:
    lowered = f" {text.lower()} "
    if any(w in lowered for w in (" dprk ", " north korea ", " pyongyang ", " the north ")):
        return "North Korea"
    for country, words in fact_rules()["counterparts"].items():
        if country == "note":
            continue
        for word in words:
            if f" {word.lower()} " in lowered or f" {word.lower()}'s " in lowered or f" {word.lower()}, " in lowered:
                return country
    return None


# --- periods ------------------------------------------------------------------------------------


def _in_brackets(view: SentenceView, amount: Amount) -> bool:
    return view.text[:amount.start].rstrip().endswith("(")


def _bracket_period(view: SentenceView, amount: Amount, walk: Walk) -> tuple[Period | None, float]:
    """"51 events (53 in 2024), 37 economic events (28)": a bare bracketed figure has the period of the
    bracketed figures before it, else the year before the count it follows."""
    earlier = [f for f in walk.facts if view.text[:f.start_char - view.start].rstrip().endswith("(")]
    if earlier and earlier[-1].period is not None:
        return earlier[-1].period, 0.05
    previous = walk.previous
    if previous is not None and previous.period is not None:
        year = previous.period.end.year - 1
        return Period(date(year, 1, 1), date(year, 12, 31), str(year), "year"), 0.1
    return None, 0.4


def _total_period(view: SentenceView, at: int) -> Period | None:
    """The period bound to the total a share is of ("40 of his 130 activities in 2024")."""
    total = next((a for a in view.amounts if a.start <= at < a.end), None)
    return view.attached[total][0] if total is not None and view.attached[total] else None


def period_of(view: SentenceView, amount: Amount, walk: Walk, inherited: bool,
              tally_total_at: int | None = None, named: bool = False) -> tuple[Period | None, float]:
    """The number's own period, else the sentence's, else the earlier count's; (period, confidence penalty)."""
    published = view.document.published
    if not view.attached[amount] and _in_brackets(view, amount) and not named:
        return _bracket_period(view, amount, walk)
    shared = _total_period(view, tally_total_at) if tally_total_at is not None else None
    if shared is not None:
        return _capped(shared, published), 0.05
    if view.attached[amount]:
        return _capped(_as_of(view, view.attached[amount][0]), published), 0.0
    own = _period_in_clause(view, amount) or _period_in_noun_clause(view, amount)
    if own is not None:
        return _capped(_as_of(view, own), published), 0.05
    if view.main is not None and (named or _in_main_clause(view, view.main)):
        # a ranking of companions ("the official seen most often at his side in 2021, accompanying him 49 times")
        # takes the sentence's period wherever the parse hangs it
        return _capped(view.main, published), 0.1
    parallel = next((f for f in reversed(walk.facts) if not view.text[:f.start_char - view.start].rstrip()
                     .endswith("(")), None)  # the count this one stands beside, not a bracketed comparison
    if parallel is not None and parallel.period is not None:  # "51 events in 2025 and 37 economic ones"
        return parallel.period, 0.1
    if walk.discourse.period is not None:  # "In 2024 he made 130 ... He inspected factories 21 times."
        return walk.discourse.period, 0.2
    opening = _opening_year(view)
    if opening is not None:
        return _capped(opening, published), 0.3  # "The year Juche 101 (2012) ..., when he gave field guidance 130 times"
    return None, 0.4  # unresolved: the text says no period


def _opening_year(view: SentenceView) -> Period | None:
    """The year a sentence opens with ("The year Juche 101 (2012) shone ...", "In 2019, ..."), else the year the
    sentence is about when no aside introduces it: the period of counts that name none, unlike a year met for
    another reason ("who was born in 1984", "since he took power in 2011")."""
    first = min(view.temporals, key=lambda t: t.start_char, default=None)
    if first is not None and first.period.granularity == "year" and _OPENS_WITH_YEAR.fullmatch(
            view.text[:first.start_char]):
        return first.period
    main = next((t for t in view.temporals if t.period is view.main), None)
    if main is None or main.period.granularity != "year" or _aside_year().search(
            view.text[max(0, main.start_char - 30):main.start_char]):
        return None  # "who was born in 1984", "since he took power in 2011"
    return main.period


@functools.cache
def _aside_year() -> re.Pattern[str]:
    return re.compile(rf"\b{words_pattern(rules()['aside_year_cues'])}\b[^.;]*$", re.IGNORECASE)


_OPENS_WITH_YEAR = re.compile(r"\W*(?:(?:in|during|for|throughout|over)\s+)?(?:the\s+year\s+)?(?:juche\s+\d+\s*\(\s*)?",
                              re.IGNORECASE)


def _period_in_clause(view: SentenceView, amount: Amount) -> Period | None:
    """A temporal expression inside the clause of the number (not bound to another number)."""
    number = view.span(amount.start, amount.end)
    if number is None:
        return None
    verb = clause_verb(number.root)
    if verb is None:
        return None
    claimed = view.periods_of_other_numbers(amount)
    inside = []
    for mention in view.temporals:
        if id(mention.period) in claimed:
            continue
        tokens = view.span(mention.start_char, mention.end_char)
        if tokens is not None and len(tokens) and all(_in_clause_of(t, verb) for t in tokens):
            inside.append(mention)
    if not inside:
        return None
    return min(inside, key=lambda t: abs(t.start_char - amount.start)).period


def _period_in_noun_clause(view: SentenceView, amount: Amount) -> Period | None:
    """A temporal expression in the clause that says which things were counted: "of the 27 public events
    state media reported between July and September"."""
    number = view.span(amount.start, amount.end)
    if number is None or not len(number) or number.root.dep_ != "nummod":
        return None
    noun = number.root.head
    while noun.dep_ == "compound" and noun.head.i != noun.i:  # "27 public events state media reported": a misparse
        noun = noun.head
    clauses = [c for c in noun.children if c.dep_ in ("relcl", "acl")]
    claimed = view.periods_of_other_numbers(amount)
    for clause in clauses:
        first, last = min(t.i for t in clause.subtree), max(t.i for t in clause.subtree)
        for mention in view.temporals:
            tokens = view.span(mention.start_char, mention.end_char)
            if (id(mention.period) not in claimed and tokens is not None and len(tokens)
                    and first <= tokens.start and tokens.end - 1 <= last):
                return mention.period
    return None


def _in_clause_of(token: Token, verb: Token) -> bool:
    """Whether ``token`` is under ``verb`` as an adjunct of its own clause (not in a side clause, not an object's)."""
    current = token
    while current.i != verb.i:
        if current.head.i == current.i:
            return False  # not under the verb at all
        current = current.head
    return not side_clause(token, verb) and _adjunct_path(token, verb)


def _in_main_clause(view: SentenceView, period: Period) -> bool:
    """Whether the sentence's period is said in its main clause, not in a side one ("since records began in 2011")."""
    mention = next((t for t in view.temporals if t.period is period), None)
    tokens = view.span(mention.start_char, mention.end_char) if mention is not None else None
    if tokens is None or not len(tokens):
        return True
    root = tokens[0].sent.root if tokens[0].has_head() else tokens[0]
    return not side_clause(tokens[0], root)


def _adjunct_path(token: Token, verb: Token) -> bool:
    """Whether ``token`` reaches ``verb`` through an adjunct ("in 2024", "last year"), not through an object
    or a subject ("the most since 2019", "his first visit since 2019")."""
    current = token
    while current.i != verb.i and current.head.i != current.i:
        if current.head.i == verb.i:
            return current.dep_ in ("prep", "npadvmod", "advmod", "tmod", "obl")
        current = current.head
    return True


def _as_of(view: SentenceView, period: Period) -> Period:
    """"as of the end of November": a running tally from January 1."""
    mention = next((t for t in view.temporals if t.period is period), None)
    if mention is None:
        return period
    if _running_to(view, mention):
        start = date(period.end.year, 1, 1)
        return Period(start, period.end, f"{start.isoformat()}/{period.end.isoformat()}", "range")
    return period


_RUNNING_TO = re.compile(r"(?:\bas\s+of|\bthrough|\bby)\s+(?:the\s+end\s+of\s+)?$", re.IGNORECASE)


def _running_to(view: SentenceView, mention) -> bool:
    """"as of", "through", "by (the end of)" before a date: a tally running up to it."""
    before = view.text[max(0, mention.start_char - 20):mention.start_char]
    if mention.text.lower().startswith("the end of"):
        before += mention.text[:len("the end of ")]
    return bool(_RUNNING_TO.search(before)) or bool(re.match(r"(?:as\s+of|through|by)\b", mention.text, re.IGNORECASE))


def _as_of_cap(view: SentenceView, period: Period) -> Period:
    """"As of the end of November, he had made 110 this year": the year so far ends with November."""
    for mention in view.temporals:
        ending = mention.period.end
        if _running_to(view, mention) and period.start <= ending < period.end:
            return Period(period.start, ending, f"{period.start.isoformat()}/{ending.isoformat()}", "range")
    return period


def _capped(period: Period, published: date | None) -> Period:
    """A tally cannot run past the day it was published: "this year" is January 1 to that day."""
    if published is None or period.end <= published or period.start > published:
        return period
    return Period(period.start, published, f"{period.start.isoformat()}/{published.isoformat()}", "range")


def to_fact(view: SentenceView, amount: Amount, walk: Walk, tally: Tally) -> Fact:
    if tally.has_period_from and not _explicit_year(view, amount):
        period, penalty = tally.period_from, 0.1
    else:
        period, penalty = period_of(view, amount, walk, tally.inherited, tally.total_at, tally.named)
    period = _as_of_cap(view, period) if period is not None else None
    qualifier = average_or(view.text, amount)
    end = max(tally.end, amount.end)
    confidence = max(0.05, 0.9 - penalty - (0.1 if tally.inherited else 0.0))
    if (amount.value or amount.low or 0) > 2000:
        confidence = max(0.05, confidence - 0.6)  # nobody makes thousands of public appearances a year: doubt it
    kind = "companion_count" if tally.companion else "activity_count"
    value = amount.value if amount.value is not None else None
    return Fact(kind, tally.subject, tally.sector, tally.category, tally.counterpart, None, period, value, amount.low,
                amount.high, qualifier, None, view.text, view.start + amount.start, view.start + end, confidence,
                compared=tally.compared)


def _explicit_year(view: SentenceView, amount: Amount) -> bool:
    """Whether the period bound to the number names its year ("(53 in 2024)"), not one relative to the text."""
    periods = view.attached[amount]
    mentions = [t for t in view.temporals if any(t.period is p for p in periods)]
    return any(_YEARS.search(t.text) for t in mentions)


_RATE = re.compile(r"\b(?:a|per|each|every)\s+(?:year|month|week)\b(?!\s+(?:earlier|ago|before|later|on(?!\s+average)))|"
                   r"\bannually\b|\bmonthly\b|\byearly\b|\bon\s+average\b")


def average_or(sentence: str, amount: Amount) -> str:
    """``average`` for "an average of 10 a month", "some 80 visits a year"; else the number's own qualifier."""
    before = sentence[max(0, amount.start - 25):amount.start].lower()
    after = re.split(r"[,;.()]", sentence[amount.end:amount.end + 40].lower(), maxsplit=1)[0]
    if amount.value is not None and ("average" in before or _RATE.search(after)):
        return "average"
    return amount.qualifier
