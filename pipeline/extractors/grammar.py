"""Reading a number off spaCy's parse: what construction holds it, what it counts, whose clause it is in.

The constructions are spaCy ``DependencyMatcher`` patterns, data in
``resources/count_patterns.json``: each names the number's role ("51 military events", "met him
three times", "accompanied him on 30 occasions", "rose to 81", "seven were military", "9 of his
14 visits", "(53 in 2024)"). The first pattern that matches a number is its construction. The
helpers below walk the tree from there: the clause's verb, its grammatical subject (not the
nearest name), the noun phrase's words, the countries and people in a subtree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from spacy.matcher import DependencyMatcher
from spacy.tokens import Span, Token

from pipeline.rules import load_json

PATTERNS_FILE = "count_patterns.json"


@dataclass(frozen=True)
class Construction:
    name: str
    nodes: dict[str, Token]  # pattern node name -> token ("number", "noun", "verb", ...)


@functools.lru_cache(maxsize=4)
def _matcher(vocab) -> tuple[DependencyMatcher, tuple[str, ...]]:
    matcher = DependencyMatcher(vocab)
    names = []
    for entry in load_json(PATTERNS_FILE)["patterns"]:
        matcher.add(entry["name"], [entry["pattern"]])
        names.append(entry["name"])
    return matcher, tuple(names)


def constructions(sentence: Span, number: Token) -> list[Construction]:
    """Every construction of ``number`` in its sentence, in the order of the patterns file."""
    return [c for c in _sentence_constructions(sentence.doc, sentence.start, sentence.end) if c.nodes["number"].i == number.i]


@functools.lru_cache(maxsize=32)
def _sentence_constructions(doc, start: int, end: int) -> tuple[Construction, ...]:
    """The matches of every pattern in one sentence."""
    sentence = doc[start:end]
    matcher, order = _matcher(doc.vocab)
    patterns = {p["name"]: p["pattern"] for p in load_json(PATTERNS_FILE)["patterns"]}
    found = []
    for match_id, token_ids in matcher(sentence):  # token ids count from the sentence's start
        name = doc.vocab.strings[match_id]
        found.append(Construction(name, {node["RIGHT_ID"]: sentence[i] for node, i in zip(patterns[name], token_ids)}))
    return tuple(sorted(found, key=lambda c: order.index(c.name)))


def clause_verb(token: Token) -> Token | None:
    """The nearest verb above ``token`` (itself when it is one)."""
    current = token
    while True:
        if current.pos_ in ("VERB", "AUX"):
            return current
        if current.head.i == current.i:
            return None
        current = current.head


def subject_of(verb: Token) -> Token | None:
    """The grammatical subject of ``verb``, following conjoined and dependent verbs up to one that has one."""
    current = verb
    for _ in range(6):
        subjects = [c for c in current.children if c.dep_ in ("nsubj", "nsubjpass", "expl")]
        if subjects:  # a misparse can give two; the one nearest before the verb is the real one
            before = [c for c in subjects if c.i < current.i]
            child = before[-1] if before else subjects[0]
            if child.lower_ in ("who", "that", "which") and current.dep_ == "relcl":
                return current.head  # "Hyon Song Wol, who accompanied the leader 24 times"
            return child
        if current.dep_ == "conj" or current.dep_ in ("xcomp", "advcl", "relcl", "ccomp", "acl") and current.head.i != current.i:
            if current.dep_ in ("relcl", "acl"):  # "the first of three that Kim held": the relative clause's noun
                return None
            current = current.head
            continue
        return None
    return None


def agent_of(verb: Token) -> Token | None:
    """The ``by`` agent of a passive verb ("was accompanied by X")."""
    for child in verb.children:
        if child.dep_ == "agent":
            return next((c for c in child.children if c.dep_ == "pobj"), None)
    return None


def possessor(noun: Token) -> Token | None:
    """"Kim's 51 visits", "his visits"; also "of Kim Jong Un's 40 events"."""
    return next((c for c in noun.children if c.dep_ == "poss"), None)


def phrase_words(noun: Token) -> list[str]:
    """The lower-case words of a noun and its modifiers, without clauses hanging off it."""
    words = []
    for token in noun.subtree:
        if token.dep_ in ("relcl", "acl", "appos", "punct", "cc", "conj") or token.i > noun.i + 8 or token.i < noun.i - 8:
            continue
        if any(a.dep_ in ("relcl", "acl", "appos", "conj") for a in _ancestors_until(token, noun)):
            continue
        words.append(token.lower_)
    return words


def _ancestors_until(token: Token, top: Token) -> Iterator[Token]:
    current = token
    while current is not top and current.head.i != current.i:
        yield current
        current = current.head


def side_clause(token: Token, top: Token) -> bool:
    """Whether ``token`` hangs off ``top`` through an appositive or a relative or adverbial clause
    (", the most since 2019", "fewest since he took power")."""
    return any(a.dep_ in ("appos", "relcl", "acl", "advcl") for a in _ancestors_until(token, top))


def conjunct_head(token: Token) -> Token:
    """The first of a list of conjuncts ("ceremonies, 12 factory visits and 18 military events")."""
    current = token
    while current.dep_ == "conj" and current.head.i != current.i:
        current = current.head
    return current


def person_of(token: Token, sentence: Span) -> Span | None:
    """The PERSON entity that holds ``token`` (the head of a name), if any; read off the token's own tags,
    since listing a sentence's entities walks the whole document."""
    if token.ent_type_ != "PERSON":
        return None
    doc = token.doc
    start = token.i
    while doc[start].ent_iob_ == "I" and start > 0:
        start -= 1
    end = token.i + 1
    while end < len(doc) and doc[end].ent_iob_ == "I":
        end += 1
    return doc[start:end]
