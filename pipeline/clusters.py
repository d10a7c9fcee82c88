"""Story clusters: the same story in several documents (a wire report republished, a state-media
item quoted in full), found by MinHash over word shingles with locality-sensitive hashing (datasketch).

Each cluster has one representative, whose facts and register reports count (the earliest
published; on a tie the host named first in ``[discovery] source_priority``, then the document id);
the others stay linked to it for provenance. Signatures are kept per document and made again only
when its text changes, so a night adds the cost of its new documents, not of the whole store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import numpy as np

from pipeline.config import Config
from pipeline.store import cluster_rows
from pipeline.store.db import Store

CLUSTERS_VERSION = "clusters-1"
NUM_PERM = 128
SCHEME = "affine32"  # datasketch 2 permutation scheme; stored signatures are only comparable within one
SHINGLE_WORDS = 5
MIN_WORDS = 25  # shorter texts (captions, one-line items) say too little to call two documents one story
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ClusterSummary:
    documents: int  # with a signature
    signed_now: int  # signatures made in this rebuild
    clusters: int
    duplicates: int  # members that are not their cluster's representative


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return set()
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str):
    """The document's MinHash, or None when it is too short to compare."""
    from datasketch import MinHash

    pieces = shingles(text)
    if not pieces:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    minhash.update_batch(list(pieces))
    return minhash


def rebuild_story_clusters(store: Store, config: Config, documents_changed: bool = True) -> ClusterSummary:
    """Sign the documents whose text is new or changed, then find and store every cluster again
    (unless no document was stored and none needed a signature: then the clusters stand)."""
    signed_now = 0
    for batch in cluster_rows.unsigned_documents(store):
        rows = []
        for document_id, text_hash, text in batch:
            minhash = signature(text)
            if minhash is not None:
                rows.append((document_id, text_hash, minhash.hashvalues.astype(np.uint64).tobytes()))
        cluster_rows.save_signatures(store, rows, [d for d, _, _ in batch])
        signed_now += len(rows)
    if not documents_changed and not signed_now:
        clusters, duplicates = cluster_rows.cluster_counts(store)
        return ClusterSummary(cluster_rows.count_signatures(store), 0, clusters, duplicates)
    signed = cluster_rows.signatures(store)
    groups = _groups(signed, config.discovery.cluster_threshold)
    facts = cluster_rows.document_facts(store, [member for group in groups for member in group])
    rows = [row for group in groups for row in _cluster_rows(group, signed, facts, config.discovery.source_priority)]
    cluster_rows.replace_clusters(store, rows)
    return ClusterSummary(len(signed), signed_now, len(groups), sum(not r["representative"] for r in rows))


def _groups(signed: dict[str, bytes], threshold: float) -> list[list[str]]:
    """Sets of two or more documents linked by similarity (union of LSH candidate pairs that pass the threshold)."""
    from datasketch import MinHash, MinHashLSH

    if len(signed) < 2:
        return []
    # recall first: candidates are checked against the threshold below, a missed pair is a story counted twice
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
    hashes = {doc: MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, hashvalues=np.frombuffer(raw, dtype=np.uint64))
              for doc, raw in signed.items()}
    with lsh.insertion_session() as session:
        for doc, minhash in hashes.items():
            session.insert(doc, minhash)
    parent = {doc: doc for doc in hashes}

    def root(doc: str) -> str:
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    for doc, minhash in hashes.items():
        for other in lsh.query(minhash):
            if other != doc and minhash.jaccard(hashes[other]) >= threshold:
                parent[root(other)] = root(doc)
    members: dict[str, list[str]] = {}
    for doc in hashes:
        members.setdefault(root(doc), []).append(doc)
    return [sorted(group) for group in members.values() if len(group) > 1]


def _cluster_rows(group: Sequence[str], signed: dict[str, bytes], facts: dict[str, tuple[date | None, str]],
                  priority: Sequence[str]) -> Iterable[dict]:
    from datasketch import MinHash

    first = min(group, key=lambda doc: _rank(doc, facts, priority))
    lead = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, hashvalues=np.frombuffer(signed[first], dtype=np.uint64))
    for doc in group:
        other = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, hashvalues=np.frombuffer(signed[doc], dtype=np.uint64))
        yield dict(document_id=doc, cluster_id=first, representative=doc == first,
                   similarity=round(float(lead.jaccard(other)), 3))


def _rank(doc: str, facts: dict[str, tuple[date | None, str]], priority: Sequence[str]) -> tuple:
    published, url = facts.get(doc, (None, ""))
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    place = next((i for i, name in enumerate(priority) if host == name or host.endswith("." + name)), len(priority))
    return (published is None, published or date.max, place, doc)
