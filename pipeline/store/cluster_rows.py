"""Row I/O of story clusters: MinHash signatures per document and the clusters found over them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import sqlalchemy as sa

from pipeline.store.db import Store, document_signatures, documents, story_clusters

READ_BATCH = 200


def unsigned_documents(store: Store) -> Iterator[list[tuple[str, str, str]]]:
    """(document id, text hash, text) of the documents without a signature of their current text, in batches."""
    stale = (sa.select(documents.c.document_id)
             .select_from(documents.outerjoin(document_signatures,
                                              document_signatures.c.document_id == documents.c.document_id))
             .where(sa.or_(document_signatures.c.text_hash.is_(None),
                           document_signatures.c.text_hash != documents.c.text_hash))
             .order_by(documents.c.document_id))
    with store.engine.connect() as conn:
        ids = list(conn.scalars(stale))
    for start in range(0, len(ids), READ_BATCH):
        with store.engine.connect() as conn:
            yield [tuple(row) for row in conn.execute(
                sa.select(documents.c.document_id, documents.c.text_hash, documents.c.text)
                .where(documents.c.document_id.in_(ids[start:start + READ_BATCH])))]


def save_signatures(store: Store, rows: Sequence[tuple[str, str, bytes]], considered: Sequence[str]) -> None:
    """Replace the signatures of ``considered`` documents by ``rows`` (a document too short to sign has none)."""
    with store.writing() as conn:
        conn.execute(document_signatures.delete().where(document_signatures.c.document_id.in_(list(considered))))
        if rows:
            conn.execute(document_signatures.insert(),
                         [dict(document_id=d, text_hash=h, signature=s) for d, h, s in rows])


def signatures(store: Store) -> dict[str, bytes]:
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(document_signatures.c.document_id, document_signatures.c.signature)).all())


def count_signatures(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(document_signatures)).scalar_one()


def cluster_counts(store: Store) -> tuple[int, int]:
    """(clusters, members that are not their cluster's representative) as stored."""
    with store.engine.connect() as conn:
        clusters = conn.execute(sa.select(sa.func.count(sa.distinct(story_clusters.c.cluster_id)))).scalar_one()
        copies = conn.execute(sa.select(sa.func.count()).select_from(story_clusters)
                              .where(story_clusters.c.representative.is_(False))).scalar_one()
    return clusters, copies


def document_facts(store: Store, document_ids: Sequence[str]) -> dict[str, tuple[date | None, str]]:
    """Publication date and URL of each document, to choose a cluster's representative."""
    found: dict[str, tuple[date | None, str]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(document_ids), 500):
            found.update((r.document_id, (r.published, r.url)) for r in conn.execute(
                sa.select(documents.c.document_id, documents.c.published, documents.c.url)
                .where(documents.c.document_id.in_(list(document_ids[start:start + 500])))))
    return found


def replace_clusters(store: Store, rows: Sequence[dict]) -> None:
    with store.writing() as conn:
        conn.execute(story_clusters.delete())
        if rows:
            conn.execute(story_clusters.insert(), list(rows))


def duplicate_ids():
    """A subquery of the documents that are another document's copy (not their cluster's representative)."""
    return sa.select(story_clusters.c.document_id).where(story_clusters.c.representative.is_(False))


def story_clusters_overview(store: Store) -> list[dict]:
    query = (sa.select(story_clusters, documents.c.url, documents.c.title, documents.c.published)
             .join(documents, documents.c.document_id == story_clusters.c.document_id)
             .order_by(story_clusters.c.cluster_id, story_clusters.c.representative.desc(), documents.c.document_id))
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
