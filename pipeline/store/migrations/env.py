"""Alembic environment: run by ``pipeline.store.migrate`` on a connection it opened and locked.

The target metadata is ``pipeline.store.db.metadata``, the source of truth for the schema;
a new revision is written by hand (or drafted with ``alembic revision --autogenerate``
against a store at head) in ``pipeline/store/migrations/versions/``.
"""

from __future__ import annotations

from alembic import context

from pipeline.store.db import create_engine_for, described_by_metadata, metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_name=described_by_metadata,  # the search objects of 0010 are SQL the metadata cannot describe
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line, with sqlalchemy.url set in its config
    engine = create_engine_for(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
