"""Contact sheets: the only place the results side reads video again.

``show`` is ``femo show`` (one clip's sheet), ``draw`` draws a sheet from frames and
shard rows, ``frames`` reads a clip's sampled frames again, and ``section`` puts the
sheets of a few clips into the report. Inside :mod:`femo.results` only the report's
commands (``commands``: ``femo reduce``) import this package; ``pyproject.toml`` states it.
"""
