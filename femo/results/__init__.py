"""What turns finished shards into answers, in any shell, long after the jobs ended.

One order for every report: ``run`` opens a run folder once (its settings, plan, labels,
reference faces and shard rows, read by ``shard_rows``); ``build`` makes the report
model (``model``: the figures of ``metrics``, typed records of ``records``, and each
clip's result) with ``reduce`` (votes per clip), ``analysis`` (intervals, profiles,
timelines, with ``stats``) and ``throughput``; ``write`` writes its files (``tables``:
the CSVs; ``pages/``: report.md, index.html, plots); ``commands`` is ``femo reduce``.
``sweep`` (with ``sweep_compare`` and ``sweep_data``) compares the runs of a sweep, and
``api`` is ``femo.open_run`` and ``femo export``. The rooms: ``pages/`` renders from the
model, ``faces/`` chooses the scored face and makes per-identity profiles, ``sheets/``
draws contact sheets (``femo show``, the report's sheets: the only place that reads
video), and ``fit/`` learns a head (``femo fit``). Nothing here imports the node side
(:mod:`femo.node`), the pipeline or the CLI; ``pyproject.toml`` ([tool.import-graph])
states the rules, also those between the rooms.
"""
