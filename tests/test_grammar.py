"""The count constructions are spaCy DependencyMatcher patterns matched from the number outwards:
the same matches, in the same order, as spaCy's own DependencyMatcher over the whole Doc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.matcher import DependencyMatcher

from pipeline.errors import ModelError
from pipeline.extractors import grammar
from pipeline.rules import load_json

REPO = Path(__file__).resolve().parents[1]

SENTENCES = [
    "Kim Jong Un made 51 public appearances in 2025, 19 of them military (53 in 2024).",
    "He was accompanied by Jo Yong Won on 30 occasions and met the Russian envoy three times.",
    "Of his 14 visits, seven were military; 9 of the 14 took place in the capital.",
    "Rice rose to 9,000 won per kg, from 7,000 won a month earlier, against an average of 6,500.",
    "Inspections totalled 23 and he appeared twice with Kim Yo Jong at factories.",
    "The number of his public activities reached 98, the most since 2019, while Choe Ryong Hae had 24.",
]


def reference_matches(doc) -> dict[int, list[tuple[str, dict[str, int]]]]:
    """spaCy's DependencyMatcher over the Doc, by the number token, in the patterns file's order."""
    entries = load_json(grammar.PATTERNS_FILE)["patterns"]
    matcher = DependencyMatcher(doc.vocab)
    for entry in entries:
        matcher.add(entry["name"], [entry["pattern"]])
    order = [entry["name"] for entry in entries]
    patterns = {entry["name"]: entry["pattern"] for entry in entries}
    found: dict[int, list[tuple[str, dict[str, int]]]] = {}
    for match_id, token_ids in matcher(doc):
        name = doc.vocab.strings[match_id]
        nodes = {node["RIGHT_ID"]: i for node, i in zip(patterns[name], token_ids)}
        found.setdefault(nodes["number"], []).append((name, nodes))
    return {i: sorted(matches, key=lambda m: order.index(m[0])) for i, matches in found.items()}


def kcna_texts(count: int) -> list[str]:
    items = json.loads((REPO / "corpus" / "kcna" / "headlines_2024-11-11.json").read_text())
    return [item["story_text"] for item in items][:count]


def test_grammar_constructions_are_those_of_spacys_dependency_matcher(nlp):
    compared = 0
    for doc in nlp.pipe(SENTENCES + kcna_texts(40)):
        expected = reference_matches(doc)
        for sentence in doc.sents:
            for token in sentence:
                got = [(c.name, {k: t.i for k, t in c.nodes.items()}) for c in grammar.constructions(sentence, token)]
                assert got == expected.get(token.i, []), (token.text, sentence.text)
                compared += bool(got)
    assert compared > 100  # the comparison saw many matches, not an empty corpus


def test_grammar_a_pattern_with_an_unsupported_operator_is_an_error_naming_it(monkeypatch):
    broken = {"patterns": [{"name": "sibling", "pattern": [
        {"RIGHT_ID": "number", "RIGHT_ATTRS": {}},
        {"LEFT_ID": "number", "REL_OP": "$+", "RIGHT_ID": "next", "RIGHT_ATTRS": {}}]}]}
    monkeypatch.setattr(grammar, "load_json", lambda name: broken)
    grammar._patterns.cache_clear()
    try:
        with pytest.raises(ModelError, match="'sibling'.*REL_OP '\\$\\+'"):
            grammar._patterns()
    finally:
        grammar._patterns.cache_clear()
