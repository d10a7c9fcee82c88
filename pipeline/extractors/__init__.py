"""Fact extractors: one module per fact kind, each registering a ``FactExtractor``.

``pipeline.facts`` runs them over every document in the NLP stage. A new kind is a new
module here that calls ``FACT_EXTRACTORS.register(...)`` (and its name in the registry's
built-in list, or an import by whoever uses it); ``shared`` and ``market`` hold what the
built-in kinds share.
"""
