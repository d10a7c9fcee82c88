"""Build the spaCy pipeline once and run it over batches of documents.

spaCy Docs never leave this module: they are converted to ``Entity`` records
here, and the derived stages (``pipeline.derived``: facts, sectors) run on the
same Docs before they are dropped.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.config import Config, NlpConfig
from pipeline.derived import DerivedStage, ParsedDocument, build_stages, document_rows, finish_batch
from pipeline.entities import ENTITIES_VERSION, ENTITY_RULE_FILES, add_gazetteer_ruler, canonical_person
from pipeline.errors import ModelError
from pipeline.language import extracted
from pipeline.records import AnalyzedDocument, BatchItem, CleanDocument, Entity
from pipeline.rules import rules_hash
from pipeline.text import SENTENCE_END, groups_by_chars

NLP_STAGE_VERSION = "nlp-2"
_NOT_KEPT = ["tensor", "user_data"]  # what a long document's kept parse leaves out
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@functools.lru_cache(maxsize=4)
def load_nlp(model: str, disable: tuple[str, ...] = ()) -> Language:
    """Load an installed spaCy package plus the gazetteer's entity ruler; never downloads anything."""
    try:
        nlp = spacy.load(model, disable=list(disable))
    except OSError as exc:
        raise ModelError(
            f"spaCy model {model!r} is not installed; install the package named in "
            f"pyproject.toml (pip install -e .), or set [nlp] model in config.toml"
        ) from exc
    if "ner" in nlp.pipe_names:
        add_gazetteer_ruler(nlp)
    return nlp


def nlp_version(nlp: Language) -> str:
    return _version_of(nlp.meta)


def installed_nlp_version(model: str) -> str:
    """The version ``nlp_version`` gives the loaded pipeline, read from the installed package's meta.json
    without loading it (a second, not the ten a load takes); a missing package is a ModelError now."""
    spec = importlib.util.find_spec(model) if model.isidentifier() else None
    meta_path = Path(spec.origin).parent / "meta.json" if spec is not None and spec.origin else Path(model) / "meta.json"
    if not meta_path.is_file():
        raise ModelError(f"spaCy model {model!r} is not installed; install the package named in "
                         f"pyproject.toml (pip install -e .), or set [nlp] model in config.toml")
    return _version_of(json.loads(meta_path.read_text(encoding="utf-8")))


def _version_of(meta: dict) -> str:
    base = f"{meta['lang']}_{meta['name']}-{meta['version']}"
    return f"{base}+{NLP_STAGE_VERSION}+{ENTITIES_VERSION}+{rules_hash(*ENTITY_RULE_FILES)[:10]}"


def split_for_nlp(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Cut long text into (offset, chunk) pieces of at most ``max_chars``.

    Cuts fall on paragraph breaks, else sentence ends, else whitespace, so that
    a 1 MB brief neither exceeds spaCy's max_length nor loses offsets.
    """
    if len(text) <= max_chars:
        return [(0, text)]
    chunks: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            end = _best_cut(text, start, end)
        chunks.append((start, text[start:end]))
        start = end
    return chunks


def _best_cut(text: str, start: int, end: int) -> int:
    window = text[start:end]
    floor = len(window) // 2  # never cut so early that chunks become tiny
    for pattern in (_PARAGRAPH_BREAK, SENTENCE_END):
        cuts = [m.end() for m in pattern.finditer(window) if m.end() > floor]
        if cuts:
            return start + cuts[-1]
    space = window.rfind(" ", floor)
    return start + (space + 1 if space > 0 else len(window))


def _canonical(label: str, text: str, ent_id: str) -> tuple[str | None, str | None]:
    if label == "PERSON":
        person = canonical_person(text)
        if person is not None:
            return person.person_id, person.canonical_name
    return (ent_id or None), None


def _entities(doc: Doc, offset: int) -> list[Entity]:
    found = []
    has_sentences = doc.has_annotation("SENT_START")  # not when the parser is disabled
    for ent in doc.ents:
        canonical_id, canonical_name = _canonical(ent.label_, ent.text, ent.ent_id_)
        sent_start, sent_end = (ent.sent.start_char, ent.sent.end_char) if has_sentences else (0, len(doc.text))
        found.append(Entity(
            label=ent.label_, text=ent.text,
            start_char=ent.start_char + offset, end_char=ent.end_char + offset,
            sentence_start=sent_start + offset, sentence_end=sent_end + offset,
            canonical_id=canonical_id, canonical_name=canonical_name,
        ))
    return found


def _sentences(doc: Doc, offset: int) -> list[tuple[int, int]]:
    if not doc.has_annotation("SENT_START"):
        return [(offset, offset + len(doc.text))]
    return [(s.start_char + offset, s.end_char + offset) for s in doc.sents]


def _chunks(items: Sequence[CleanDocument], max_chars: int) -> Iterator[tuple[int, int, str]]:
    for index, document in enumerate(items):
        for offset, chunk in split_for_nlp(document.text, max_chars):
            yield index, offset, chunk


def analyze_documents(batch: Sequence[BatchItem], config: NlpConfig,
                      stages: Sequence[DerivedStage] | None = None,
                      languages: tuple[str, ...] | None = None) -> list[AnalyzedDocument]:
    """Run spaCy (``nlp.pipe``) and the derived stages over one batch.

    Each document's chunks come out of ``nlp.pipe`` together; its per-document stages run
    on its Docs at once and the Docs are dropped, then the per-batch stages run. ``stages``
    default to the registered ones built with the package defaults. A document whose language
    is known and not one of ``languages`` is kept as it is, with nothing extracted.
    """
    if languages is not None and any(not extracted(item.document.language, languages) for item in batch):
        return _english_only(batch, config, stages, languages)
    nlp = load_nlp(config.model, config.disable)
    chosen = build_stages(Config()) if stages is None else stages
    chunks = list(_chunks([item.document for item in batch], config.max_chunk_chars))
    parses = zip(chunks, _pipe(nlp, [chunk for _, _, chunk in chunks], config))
    analyzed: list[AnalyzedDocument] = []
    per_document: list[dict] = []
    pieces_of = Counter(index for index, _, _ in chunks)
    for index, pieces in itertools.groupby(parses, key=lambda parse: parse[0][0]):
        entities, sentences, kept = [], [], []
        for (_, offset, text), doc in pieces:
            entities += _entities(doc, offset)
            sentences += _sentences(doc, offset)
            # a long document keeps its parse compact (no tensors), so memory does not follow its length
            kept.append((offset, len(text), doc if pieces_of[index] == 1 else doc.to_bytes(exclude=_NOT_KEPT)))
        document = _analyzed(batch[index], entities, sentences)
        per_document.append(document_rows(ParsedDocument(document, tuple(kept), nlp.vocab), chosen))
        analyzed.append(document)
    return finish_batch(analyzed, per_document, chosen)


def _english_only(batch: Sequence[BatchItem], config: NlpConfig, stages: Sequence[DerivedStage] | None,
                  languages: tuple[str, ...]) -> list[AnalyzedDocument]:
    chosen = [item for item in batch if extracted(item.document.language, languages)]
    analyzed = iter(analyze_documents(chosen, config, stages) if chosen else [])
    return [next(analyzed) if extracted(item.document.language, languages) else _analyzed(item, [], [])
            for item in batch]


def _pipe(nlp: Language, texts: Sequence[str], config: NlpConfig) -> Iterator[Doc]:
    """``nlp.pipe`` over the texts, at most ``max_batch_chars`` characters at a time, so that spaCy's
    memory follows the batch limit, not the size of the largest document."""
    for group in groups_by_chars(texts, config.max_batch_chars):
        yield from nlp.pipe(group, batch_size=config.batch_size)


def _analyzed(item: BatchItem, entities: list[Entity], sentences: list[tuple[int, int]]) -> AnalyzedDocument:
    return AnalyzedDocument(document_id=item.document_id, source_id=item.source_id, document=item.document,
                            entities=tuple(entities), sentence_count=len(sentences), raw_hash=item.raw_hash,
                            sentences=tuple(sentences))
