"""The language of a document, by py3langid (its model ships in the package: nothing is downloaded).

Only English is extracted (``[discovery] languages``); a document in another language is stored and
marked, so a Korean item of a bilingual feed is kept for the record without inventing facts from it.
"""

from __future__ import annotations

from functools import cache

SAMPLE_CHARS = 3000
MIN_CHARS = 80  # below this the guess is noise ("NO COMMENTS" reads as Italian)


@cache
def _identifier():
    from py3langid.langid import _load_identifier

    return _load_identifier(norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language; None when the text is too short to tell."""
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if len(sample) < MIN_CHARS:
        return None
    language, probability = _identifier().classify(sample)
    if probability < 0.5 and _mostly_latin(sample):
        return None  # an unsure guess about Latin script says nothing reliable
    return language


def _mostly_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.9


def extracted(language: str | None, languages: tuple[str, ...]) -> bool:
    """Whether a document in ``language`` goes through extraction (unknown: yes)."""
    return language is None or language in languages
