"""Whose face is scored, and whose it is: ``reduce.face`` and the per-identity profiles.

``match`` holds the pure functions (the main face, each face's person among the
reference photos, the embeddings), ``identities`` makes the per-identity profiles, and
``choice`` reads what they need from a run folder (the shards' embeddings,
``references.parquet``, the labels' person column).
"""
