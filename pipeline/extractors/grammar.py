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
from typing import Any

from spacy.tokens import Span, Token

from pipeline.errors import ModelError
from pipeline.rules import load_json

PATTERNS_FILE = "count_patterns.json"


@dataclass(frozen=True)
class Construction:
    name: str
    nodes: dict[str, Token]  # pattern node name -> token ("number", "noun", "verb", ...)


# What a pattern's RIGHT_ATTRS may ask of a token, as in spaCy's Matcher
_TOKEN_ATTRS = {"ORTH": "text", "TEXT": "text", "LOWER": "lower_", "LEMMA": "lemma_", "POS": "pos_", "TAG": "tag_",
                "DEP": "dep_", "ENT_TYPE": "ent_type_", "LIKE_NUM": "like_num", "IS_PUNCT": "is_punct",
                "IS_DIGIT": "is_digit", "IS_TITLE": "is_title", "IS_UPPER": "is_upper"}


@dataclass(frozen=True)
class _Node:
    """One node of a pattern: its name, how it hangs off an earlier node, what it asks of its token."""

    name: str
    left: str | None  # the earlier node it relates to; None for the pattern's first node, "number"
    op: str | None  # "<": the token is the left node's head; ">": one of its children
    tests: tuple[tuple[str, Any], ...]  # (token attribute, wanted value or {"IN": [...]} / {"NOT_IN": [...]})

    def accepts(self, token: Token) -> bool:
        return all(_wanted(getattr(token, attr), want) for attr, want in self.tests)


def _wanted(value: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return ("IN" not in want or value in want["IN"]) and ("NOT_IN" not in want or value not in want["NOT_IN"])
    return value == want


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, tuple[_Node, ...]], ...]:
    """The patterns file as nodes, checked once; a pattern spaCy's DependencyMatcher would read
    differently (another operator, another first node) is an error naming it."""
    return tuple((entry["name"], tuple(_node(entry["name"], raw, i) for i, raw in enumerate(entry["pattern"])))
                 for entry in load_json(PATTERNS_FILE)["patterns"])


def _node(pattern: str, raw: dict, index: int) -> _Node:
    where = f"pipeline/resources/{PATTERNS_FILE}, pattern {pattern!r}, node {raw.get('RIGHT_ID')!r}"
    if (index == 0) != ("LEFT_ID" not in raw) or index == 0 and raw["RIGHT_ID"] != "number":
        raise ModelError(f"{where}: the first node, and only it, must be 'number' with no LEFT_ID; fix the file")
    if index and raw.get("REL_OP") not in ("<", ">"):
        raise ModelError(f"{where}: REL_OP {raw.get('REL_OP')!r} is not supported (use '<' or '>'); fix the file")
    tests = []
    for key, want in raw["RIGHT_ATTRS"].items():
        if key not in _TOKEN_ATTRS:
            raise ModelError(f"{where}: token attribute {key!r} is not supported ({', '.join(_TOKEN_ATTRS)}); fix the file")
        if isinstance(want, dict) and not set(want) <= {"IN", "NOT_IN"}:
            raise ModelError(f"{where}: {key} asks {sorted(want)}; only IN and NOT_IN are supported; fix the file")
        tests.append((_TOKEN_ATTRS[key], want))
    return _Node(raw["RIGHT_ID"], raw.get("LEFT_ID"), raw.get("REL_OP"), tuple(tests))


def constructions(sentence: Span, number: Token) -> list[Construction]:
    """Every construction of ``number``, in the order of the patterns file.

    The patterns are spaCy ``DependencyMatcher`` patterns, matched from the number outwards
    (its head, its children) rather than over the whole Doc: the same matches, in the same
    order, at a cost that follows the number's neighbourhood, not the document's length.
    """
    return [Construction(name, found) for name, nodes in _patterns() for found in _matches(nodes, 0, {}, number)]


def _matches(nodes: tuple[_Node, ...], index: int, chosen: dict[str, Token], number: Token) -> Iterator[dict[str, Token]]:
    if index == len(nodes):
        yield dict(chosen)
        return
    node = nodes[index]
    for token in _related(node, chosen, number):
        if node.accepts(token):
            chosen[node.name] = token
            yield from _matches(nodes, index + 1, chosen, number)
            del chosen[node.name]


def _related(node: _Node, chosen: dict[str, Token], number: Token) -> list[Token]:
    if node.left is None:
        return [number]
    left = chosen[node.left]
    if node.op == "<":
        return [] if left.head.i == left.i else [left.head]
    return list(left.children)


def clause_verb(token: Token) -> Token | None:
    """The nearest verb above ``token`` (itself when it is one)."""
    current = token
    while True:
        if current.pos_ in ("VERB", "AUX") and current.dep_ != "prep":  # "including 3 trips": a preposition
            return current
        if current.head.i == current.i:
            return None
        current = current.head


_REFLEXIVES = ("himself", "herself", "itself", "themselves")


def subject_of(verb: Token) -> Token | None:
    """The grammatical subject of ``verb``, following conjoined and dependent verbs up to one that has one."""
    current = verb
    for _ in range(6):
        subjects = [c for c in current.children if c.dep_ in ("nsubj", "nsubjpass", "expl")]
        if subjects:  # a misparse can give two; the one nearest before the verb is the real one
            before = [c for c in subjects if c.i < current.i and c.lower_ not in _REFLEXIVES] or [
                c for c in subjects if c.i < current.i]  # "Kim Jong Il, now 69, has himself made 58": Kim Jong Il
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
    while current.i != top.i and current.head.i != current.i:  # Tokens are views: compare positions, not objects
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
