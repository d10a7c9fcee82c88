"""Named entities that the tables key on: a gazetteer, glue repair and person ids.

Three jobs, all driven by data in ``pipeline/resources``:

* ``repair_glued_words`` puts back the spaces that the KCNA archive lost at former
  link boundaries ("ComradeKim Jong Uninvited" -> "Comrade Kim Jong Un invited").
* ``add_gazetteer_ruler`` adds spaCy's entity ruler before ``ner`` with patterns from
  ``gazetteer.jsonl``, so that known names come out whole and carry their id.
* ``person_key`` / ``canonical_person`` map the many spellings of one person
  ("Kim Jong-un", "Comrade Kim Jong Un", "Kim Jongun") to one stable id.

The rules (titles, Korean surnames, romanisation) are in ``name_rules.json``.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc

from pipeline.errors import ModelError
from pipeline.rules import load_json, load_jsonl

ENTITIES_VERSION = "entities-3"  # 2: forms with a curly apostrophe; 3: case-blind person phrases
ENTITY_RULE_FILES = ("gazetteer.jsonl", "name_rules.json")  # their contents are part of the NLP version
RULER_NAME = "entity_ruler"
PERSON = "PERSON"
LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "PRODUCT"})
_MAX_GIVEN_SYLLABLES = 3  # Korean given names have one to three syllables
_MAX_PASSES = 8  # glue repair reaches its fixed point in two or three passes


@dataclass(frozen=True)
class GazetteerEntry:
    id: str
    name: str
    label: str
    aliases: tuple[str, ...]
    note: str = ""

    @property
    def forms(self) -> tuple[str, ...]:
        """The name and its aliases, name first, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.aliases)))


@dataclass(frozen=True)
class PersonRef:
    person_id: str  # the gazetteer id, else the slug of the person key ("choi-eunju")
    canonical_name: str  # the gazetteer name, else a display form of the key ("Choi Eun-ju")
    in_gazetteer: bool


@dataclass(frozen=True)
class _GlueRules:
    left_words: frozenset[str]
    camel_case_exempt: frozenset[str]
    min_right_letters: int
    min_left_letters: int


@dataclass(frozen=True)
class _NameRules:
    titles: tuple[tuple[str, ...], ...]  # longest first, lowercased, dots stripped
    titles_exact: tuple[tuple[str, ...], ...]
    surnames: frozenset[str]
    syllable: re.Pattern[str]
    onset: re.Pattern[str]
    particles: frozenset[str]
    patronymic_suffixes: tuple[str, ...]
    non_name_words: frozenset[str]
    glue: _GlueRules
    korean_name_pattern: bool
    not_given_syllables: tuple[str, ...]
    pattern_surnames: tuple[str, ...]  # capitalised, for the Korean name pattern


@dataclass(frozen=True)
class _Name:
    """A mention reduced to what identifies the person."""

    key: str
    token_count: int
    surname: str | None  # set when the name parsed as Korean
    given: tuple[str, ...]  # Korean: syllables of the given name; else the other tokens


def _alternation(parts: list[str]) -> str:
    return "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))


def _title_tokens(titles: list[str], lower: bool) -> tuple[tuple[str, ...], ...]:
    split = {tuple(_title_word(w, lower) for w in t.split()) for t in titles}
    return tuple(sorted(split, key=len, reverse=True))


def _title_word(word: str, lower: bool) -> str:
    word = word.rstrip(".")
    return word.lower() if lower else word


@functools.cache
def _rules() -> _NameRules:
    """Load name_rules.json once per process."""
    data = load_json("name_rules.json")
    roman = data["romanisation"]
    onset = f"(?:{_alternation(roman['onsets'])})"
    syllable = f"{onset}?(?:{_alternation(roman['nuclei'])})(?:{_alternation(roman['codas'])})?"
    glue = data["glue"]
    return _NameRules(
        titles=_title_tokens(data["titles"], lower=True),
        titles_exact=_title_tokens(data["titles_exact"], lower=False),
        surnames=frozenset(s.lower() for s in data["korean_surnames"]),
        syllable=re.compile(syllable),
        onset=re.compile(onset),
        particles=frozenset(data["name_particles"]),
        patronymic_suffixes=tuple(data["patronymic_suffixes"]),
        non_name_words=frozenset(data["non_name_words"]),
        glue=_GlueRules(
            left_words=frozenset(glue["left_words"]),
            camel_case_exempt=frozenset(glue["camel_case_exempt"]),
            min_right_letters=int(glue["min_right_letters"]),
            min_left_letters=int(glue["min_left_letters"]),
        ),
        korean_name_pattern=bool(data["korean_name_pattern"]["enabled"]),
        not_given_syllables=tuple(data["korean_name_pattern"]["not_given_syllables"]),
        pattern_surnames=tuple(sorted(
            {s.capitalize() for s in data["korean_surnames"]}
            - set(data["korean_name_pattern"]["skip_surnames"])
        )),
    )


@functools.cache
def gazetteer() -> tuple[GazetteerEntry, ...]:
    """The entries of gazetteer.jsonl, loaded once per process."""
    entries = tuple(_entry(raw, number) for number, raw in enumerate(load_jsonl("gazetteer.jsonl"), 1))
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise ModelError("gazetteer.jsonl repeats an id; ids must be unique")
    return entries


def _entry(raw: dict, number: int) -> GazetteerEntry:
    if raw.get("label") not in LABELS or not raw.get("id") or not raw.get("name"):
        raise ModelError(f"gazetteer.jsonl line {number}: needs id, name and a label in {sorted(LABELS)}")
    return GazetteerEntry(id=raw["id"], name=raw["name"], label=raw["label"],
                          aliases=tuple(raw.get("aliases", ())), note=raw.get("note", ""))


# --- romanised Korean syllables ---------------------------------------------------------

@functools.cache
def _syllables(piece: str) -> tuple[str, ...] | None:
    """Split one romanised piece ("jongun") into syllables ("jong", "un"), or None.

    Romanisation is ambiguous ("jong-un" or "jon-gun"), so of all splits the one that
    keeps "ng" whole and, after that, gives every syllable an initial consonant wins:
    "jong-un", "jae-myung", "eun-ju".
    """
    piece = piece.lower()
    if not piece.isalpha() or not piece.isascii():
        return None
    splits = list(_splits(piece, _MAX_GIVEN_SYLLABLES))
    return min(splits, key=_split_cost) if splits else None


def _splits(piece: str, room: int) -> Iterator[tuple[str, ...]]:
    syllable = _rules().syllable
    if syllable.fullmatch(piece):
        yield (piece,)
    if room < 2:
        return
    for cut in range(1, len(piece)):
        if syllable.fullmatch(piece[:cut]):
            for rest in _splits(piece[cut:], room - 1):
                yield (piece[:cut], *rest)


def _split_cost(split: tuple[str, ...]) -> tuple[int, int, int]:
    onset = _rules().onset
    broken_ng = sum(a.endswith("n") and b.startswith("g") for a, b in itertools.pairwise(split))
    no_onset = sum(not onset.match(s) for s in split[1:])
    return broken_ng, no_onset, len(split)


def _is_syllable(word: str) -> bool:
    return bool(_rules().syllable.fullmatch(word.lower()))


# --- person keys ------------------------------------------------------------------------

_PUNCTUATION = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'", "\u2032": "'",
     "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
     "\u2212": "-", "\u00a0": " "}
)  # fmt: skip
_CUT = re.compile(r"[,;:()/\[\]|]")  # "Kim Jong Un, General Secretary" -> "Kim Jong Un"
_EDGE = " .'\"-*"
_NAME_TOKEN = re.compile(r"[A-Z][A-Za-z'.-]*")


def _plain(text: str) -> str:
    """Unicode quotes and dashes unified, accents dropped ("Nguyễn" -> "Nguyen")."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _name_tokens(name: str) -> tuple[str, ...] | None:
    """The words of a mention without titles, possessive and trailing apposition."""
    text = _CUT.split(_plain(name), maxsplit=1)[0].strip(_EDGE)
    text = re.sub(r"'s?$", "", text).strip(_EDGE)
    tokens = _strip_titles(tuple(text.split()))
    if not tokens or not all(_is_name_token(t) for t in tokens):
        return None
    return tokens


def _strip_titles(tokens: tuple[str, ...]) -> tuple[str, ...]:
    rules = _rules()
    while tokens:
        lowered = tuple(_title_word(t, lower=True) for t in tokens)
        exact = tuple(_title_word(t, lower=False) for t in tokens)
        size = next((len(t) for t in rules.titles if lowered[:len(t)] == t), 0)
        size = size or next((len(t) for t in rules.titles_exact if exact[:len(t)] == t), 0)
        if not size:
            return tokens
        tokens = tokens[size:]
    return tokens


def _is_name_token(token: str) -> bool:
    rules = _rules()
    if token in rules.particles or token.split("-")[0] in rules.particles:
        return True  # "al-Assad", "van"
    pieces = {token.lower().strip(".'"), *token.lower().split("-")}
    return bool(_NAME_TOKEN.fullmatch(token)) and not pieces & rules.non_name_words


def _korean_parse(tokens: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """(surname, given syllables) when the tokens read as a Korean name, else None.

    A known surname in capitals marks itself ("CHOI Eun-ju", "Eun-ju CHOI"); otherwise a
    known surname first ("Kim Jong Un") beats a known surname last ("Eunju Choi").
    """
    if len(tokens) < 2:
        return None
    for index in _surname_positions(tokens):
        given = tokens[:index] + tokens[index + 1:]
        syllables = _given_syllables(given)
        if syllables is not None:
            return tokens[index].lower(), syllables
    return None


def _surname_positions(tokens: tuple[str, ...]) -> list[int]:
    surnames = _rules().surnames
    capitals = [i for i, t in enumerate(tokens) if len(t) > 1 and t.isupper() and t.lower() in surnames]
    explicit = capitals if len(capitals) == 1 else []  # "Kim Jong UN": "UN" is no surname
    known = [i for i in (0, len(tokens) - 1) if tokens[i].lower() in surnames]
    return list(dict.fromkeys(explicit + known))


def _given_syllables(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    syllables: list[str] = []
    for piece in (p for t in tokens for p in t.split("-")):
        split = _syllables(piece)
        if split is None:
            return None
        syllables.extend(split)
    return tuple(syllables) if 0 < len(syllables) <= _MAX_GIVEN_SYLLABLES else None


@functools.lru_cache(maxsize=65536)
def _parse_name(name: str) -> _Name | None:
    tokens = _name_tokens(name)
    if tokens is None:
        return None
    korean = _korean_parse(tokens)
    if korean is not None:
        surname, given = korean
        return _Name(f"{surname} {''.join(given)}", len(tokens), surname, given)
    kept = _without_patronymics(tokens)
    return _Name(" ".join(t.lower() for t in kept), len(tokens), None, kept)


def _without_patronymics(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """'Vladimir Vladimirovich Putin' -> 'Vladimir Putin': the key ignores patronymics."""
    suffixes = _rules().patronymic_suffixes
    if len(tokens) < 3:
        return tokens
    middle = tuple(t for t in tokens[1:-1] if not t.lower().endswith(suffixes))
    return (tokens[0], *middle, tokens[-1])


@functools.cache
def _key_index() -> tuple[dict[str, GazetteerEntry], frozenset[str], frozenset[str]]:
    """(person key -> PERSON entry, keys of one-word PERSON aliases, non-person keys)."""
    people: dict[str, GazetteerEntry] = {}
    single: set[str] = set()
    others: set[str] = set()
    for entry in gazetteer():
        for form in entry.forms:
            parsed = _parse_name(form)
            if parsed is None:
                continue
            if entry.label != PERSON:
                others.add(parsed.key)
                continue
            people.setdefault(parsed.key, entry)
            if parsed.token_count == 1:
                single.add(parsed.key)
    return people, frozenset(single), frozenset(others - people.keys())


def person_key(name: str) -> str | None:
    """The identity of a person mention, or None when it names nobody by itself.

    Titles, possessives and apposition go; spacing and hyphens in a Korean given name
    do not count ("Kim Jong-un" = "Kim Jongun"); the surname goes first ("Eunju Choi" =
    "CHOI Eun-ju"). Romanisation variants of a surname stay apart (Choe != Choi) unless
    the gazetteer lists one as an alias. A single word is a key only when the gazetteer
    lists it as a person ("Putin"); a bare surname ("Kim") never is.
    """
    parsed = _parse_name(name)
    if parsed is None:
        return None
    _, single, others = _key_index()
    if parsed.token_count == 1 and parsed.key not in single:
        return None
    return None if parsed.key in others else parsed.key


@functools.lru_cache(maxsize=65536)
def canonical_person(name: str) -> PersonRef | None:
    """The person a mention names: its gazetteer entry, else an id derived from its key."""
    key = person_key(name)
    if key is None:
        return None
    people, _, _ = _key_index()
    entry = people.get(key)
    if entry is not None:
        return PersonRef(entry.id, entry.name, True)
    parsed = _parse_name(name)
    assert parsed is not None  # person_key returned a key
    return PersonRef(_slug(key), _display(parsed), False)


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key).strip("-")


def _display(parsed: _Name) -> str:
    """A display form that depends on the key only, so every spelling shows the same."""
    if parsed.surname is None:
        return " ".join(_capitalised(t) for t in parsed.key.split())
    given = _syllables("".join(parsed.given)) or parsed.given
    return f"{parsed.surname.capitalize()} {'-'.join(given).capitalize()}"


def _capitalised(word: str) -> str:
    if word in _rules().particles:
        return word
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


# --- glue repair ------------------------------------------------------------------------

_LETTERS = re.compile(r"[^\W\d_]+")
# ",Kim" / "Un.The" / a dateline dash "(KCNA) --Kim": punctuation glued to a capital
_PUNCT_GLUE = re.compile(r"[,;:!?](?=[A-Z])|(?<=[^\s.])\.(?=[A-Z][a-z])|(?<!\S)-+(?=[A-Z])")
_URLISH = re.compile(r"://|www\.|@")


@dataclass(frozen=True)
class _GluePatterns:
    person_names: re.Pattern[str] | None  # multi-word PERSON forms, for right glue
    all_names: re.Pattern[str] | None  # multi-word forms of every label, for left glue
    first_words: dict[str, str]  # form -> its first word


def _multiword_forms(entries: tuple[GazetteerEntry, ...]) -> list[str]:
    return [f for e in entries for f in e.forms if len(f.split()) > 1 and f[:1].isupper()]


@functools.cache
def _glue_patterns() -> _GluePatterns:
    people = _multiword_forms(tuple(e for e in gazetteer() if e.label == PERSON))
    every = _multiword_forms(gazetteer())
    return _GluePatterns(
        person_names=re.compile(_alternation(people)) if people else None,
        all_names=re.compile(_alternation(every)) if every else None,
        first_words={f: f.split()[0] for f in every},
    )


def repair_glued_words(text: str) -> str:
    """Insert the spaces lost at former link boundaries; nothing else changes.

    Three kinds of glue, all seen in the KCNA archive or its cousins:
    a known multi-word name glued to the word before or after it ("ComradeKim Jong
    Unreceived"), a lowercase function word or title glued to a capitalised word
    ("theWorkers'"), and punctuation glued to a capital: a comma or full stop
    ("Un,General") or a dash opening a word ("(KCNA) --Kim").
    Repeats until nothing changes, so the result is a fixed point (idempotent).
    """
    for _ in range(_MAX_PASSES):
        cuts = _glue_cuts(text)
        if not cuts:
            return text
        text = _insert_spaces(text, cuts)
    return text


def _insert_spaces(text: str, cuts: set[int]) -> str:
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return " ".join(pieces)


def _glue_cuts(text: str) -> set[int]:
    return _punctuation_cuts(text) | _name_cuts(text) | _camel_cuts(text)


def _punctuation_cuts(text: str) -> set[int]:
    return {m.end() for m in _PUNCT_GLUE.finditer(text) if not _URLISH.search(_token_at(text, m.start()))}


def _token_at(text: str, index: int) -> str:
    start = text.rfind(" ", 0, index) + 1
    end = text.find(" ", index)
    return text[start:end if end >= 0 else len(text)]


def _name_cuts(text: str) -> set[int]:
    patterns = _glue_patterns()
    cuts: set[int] = set()
    if patterns.person_names is not None:
        cuts |= {m.end() for m in patterns.person_names.finditer(text) if _glued_after(text, m)}
    if patterns.all_names is not None:
        cuts |= _left_cuts(text, patterns)
    return cuts


def _glued_after(text: str, match: re.Match[str]) -> bool:
    """A letter run right after a known name is glue, unless it may finish the name's
    last syllable ("Kim Jong Su" + "k" is "Kim Jong Suk", not glue)."""
    run = _LETTERS.match(text, match.end())
    if run is None:
        return False
    if run.group()[0].isupper():
        return True
    lower = re.match(r"[a-z]*", run.group()).group()
    last_word = match.group().split()[-1].split("-")[-1]
    return len(lower) >= _rules().glue.min_right_letters and not _is_syllable(last_word + lower)


def _left_cuts(text: str, patterns: _GluePatterns) -> set[int]:
    """Positions where a known multi-word name starts glued to the word before it.

    A digit before it is always glue ("August 4Kim Jong Un"); letters are glue unless
    they may begin the name's first syllable ("K" + "O Su Yong" is "Ko Su Yong").
    """
    cuts: set[int] = set()
    minimum = _rules().glue.min_left_letters
    for candidate in re.finditer(r"(?<=[^\W_])(?=[A-Z])", text):
        found = patterns.all_names.match(text, candidate.start())
        if found is None or text[found.end():found.end() + 1].islower():
            continue
        if text[candidate.start() - 1].isdigit():
            cuts.add(candidate.start())
            continue
        left = re.search(r"[^\W\d_]+$", text[max(0, candidate.start() - 40):candidate.start()])
        first = patterns.first_words[found.group()]
        if left and len(left.group()) >= minimum and not _is_syllable(left.group() + first):
            cuts.add(candidate.start())
    return cuts


def _camel_cuts(text: str) -> set[int]:
    """'theWorkers'' -> 'the Workers'': a function word or title before a capital."""
    glue = _rules().glue
    cuts: set[int] = set()
    for run in _LETTERS.finditer(text):
        word = run.group()
        if word in glue.camel_case_exempt or word.islower() or word.isupper():
            continue
        start = 0
        for i in range(1, len(word)):
            if word[i].isupper() and word[i - 1].islower():
                if word[start:i].lower() in glue.left_words:
                    cuts.add(run.start() + i)
                start = i
    return cuts


# --- spaCy entity ruler ------------------------------------------------------------------

def add_gazetteer_ruler(nlp: Language) -> None:
    """Add an entity ruler with the gazetteer's patterns before ``ner`` (once).

    Before ``ner`` so that the statistical model keeps the ruler's spans and labels and
    only fills in the rest; every pattern carries the entry id (``ent.ent_id_``).
    Person patterns match the name itself, never its title: "Comrade Kim Jong Un" gives
    the span "Kim Jong Un".
    """
    if RULER_NAME in nlp.pipe_names:
        return
    where = {"before": "ner"} if "ner" in nlp.pipe_names else {}
    ruler = nlp.add_pipe(CASE_BLIND_RULER, name=RULER_NAME, config={"overwrite_ents": False}, **where)
    ruler.add_patterns(_ruler_patterns())  # type: ignore[attr-defined]
    ruler.add_case_blind_patterns(_case_blind_person_patterns())  # type: ignore[attr-defined]


def _ruler_patterns() -> list[dict]:
    patterns = [{"label": entry.label, "pattern": form, "id": entry.id}
                for entry in gazetteer() for form in _with_curly_apostrophes(entry.forms)]
    return patterns + _korean_name_patterns()


def _case_blind_person_patterns() -> list[dict]:
    return [pattern for entry in gazetteer() if entry.label == PERSON for pattern in _person_variant_patterns(entry)]


CASE_BLIND_RULER = "nkpipe_entity_ruler"


class CaseBlindEntityRuler(EntityRuler):
    """spaCy's entity ruler with one more kind of pattern: phrases matched whatever their case (a
    ``PhraseMatcher`` on ``LOWER``), whose first token must not be all lower case ("To Lam" is a person,
    "to lam" is not). The spelling variants of the gazetteer's persons are such phrases; as 644 token
    patterns of spaCy's ``Matcher`` they cost about 9 s per MB of text, as phrases next to nothing. Their
    matches join the ruler's own before its longest-first choice, so the entities are the same."""

    def add_case_blind_patterns(self, patterns: Sequence[dict]) -> None:
        if not hasattr(self, "case_blind"):
            self.case_blind = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for pattern in patterns:
            label = self._create_label(pattern["label"], pattern["id"])
            key = self.nlp.vocab.strings.add(label)
            self._ent_ids[key] = (pattern["label"], pattern["id"])
            self.case_blind.add(label, [self.nlp.make_doc(pattern["pattern"])])

    def match(self, doc: Doc):
        found = set(super().match(doc))
        if hasattr(self, "case_blind"):
            found.update((key, start, end) for key, start, end in self.case_blind(doc)
                         if start != end and not doc[start].is_lower)
        # longest first, then leftmost (the ruler's own order); of two patterns on one span, the one naming a
        # gazetteer entry (the Korean-name pattern names none), where spaCy's order was a set's
        return sorted(found, key=lambda m: (m[2] - m[1], -m[1], bool(self._ent_ids.get(m[0], ("", ""))[1])),
                      reverse=True)


@Language.factory(CASE_BLIND_RULER, default_config={"phrase_matcher_attr": None, "validate": False,
                                                     "overwrite_ents": False, "ent_id_sep": "||"})
def make_case_blind_ruler(nlp: Language, name: str, phrase_matcher_attr: str | None, validate: bool,
                          overwrite_ents: bool, ent_id_sep: str) -> CaseBlindEntityRuler:
    return CaseBlindEntityRuler(nlp, name, phrase_matcher_attr=phrase_matcher_attr, validate=validate,
                                overwrite_ents=overwrite_ents, ent_id_sep=ent_id_sep)


def _with_curly_apostrophes(forms: Sequence[str]) -> list[str]:
    """The forms, and each one with a straight apostrophe also with the typographic one: KCNA writes
    "Democratic People\u2019s Republic of Korea", and a phrase pattern matches the characters it is given."""
    curly = [form.replace("'", "\u2019") for form in forms if "'" in form]
    return [*forms, *(form for form in curly if form not in forms)]


def _korean_name_patterns() -> list[dict]:
    """Surname + two capitalised romanised syllables ("Han Kwang Sang") is a person.

    The small model often cuts such names ("Han" NORP + "Kwang Sang" PERSON); as a
    ruler pattern the whole name wins. No id: ``canonical_person`` derives it. Longer
    gazetteer patterns (an ORG named after a person) still win, being longer.
    """
    rules = _rules()
    if not rules.korean_name_pattern:
        return []
    syllable = {"REGEX": f"^(?i:{rules.syllable.pattern})$", "NOT_IN": list(rules.not_given_syllables)}
    given = {"TEXT": syllable, "IS_TITLE": True}
    surname = {"TEXT": {"IN": list(rules.pattern_surnames)}}
    return [{"label": PERSON, "pattern": [surname, given, given]}]


def _person_variant_patterns(entry: GazetteerEntry) -> list[dict]:
    """Case-blind phrase patterns (``CaseBlindEntityRuler``) for the spelling variants of a person's forms."""
    variants = {v for form in entry.forms for v in _spelling_variants(form) if len(v.split()) > 1}
    return [{"label": PERSON, "pattern": variant, "id": entry.id} for variant in sorted(variants)]


def _spelling_variants(form: str) -> set[str]:
    """'Kim Jong Un' -> also 'Kim Jong-un', 'Kim Jong-Un', 'Kim Jongun', 'Jong-un Kim'..."""
    parsed = _parse_name(form)
    if parsed is None or parsed.surname is None:
        return {form}
    surname = form.split()[0] if form.split()[0].lower() == parsed.surname else parsed.surname.capitalize()
    given = [s.capitalize() for s in parsed.given]
    styles = {" ".join(given), "-".join(given).capitalize(), "-".join(given), "".join(given).capitalize()}
    if len(given) == 1:
        styles = {given[0]}
    western = {f"{g} {surname}" for g in styles if " " not in g}
    return {form} | {f"{surname} {g}" for g in styles} | western


def korean_surnames() -> frozenset[str]:
    """Romanised Korean surnames, lower case (from name_rules.json)."""
    return _rules().surnames
