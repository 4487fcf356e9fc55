"""What turns finished shards into answers, in any shell, long after the jobs ended.

At the top: ``reduce`` votes per clip, ``analysis`` (with ``stats``) adds intervals,
profiles and timelines, ``report`` writes the report files, ``throughput`` reads the
shards' timings, ``sweep`` compares the runs of a sweep, ``api`` is ``femo.open_run``
and ``femo export``, and ``reporting`` runs it all for one run folder. The rooms:
``pages/`` builds the pages from data (HTML, plots, formatting, identities, the sweep
page), ``faces/`` chooses the scored face and makes per-identity profiles, ``sheets/``
draws contact sheets (``femo show``, the report's sheets: the only place that reads
video), and ``fit/`` learns a head (``femo fit``). Nothing here imports the node side
(:mod:`femo.node`), the pipeline or the CLI; ``pyproject.toml`` ([tool.import-graph])
states the rules, also those between the rooms.
"""
