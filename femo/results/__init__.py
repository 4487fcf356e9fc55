"""What turns finished shards into answers, in any shell, long after the jobs ended.

``reduce`` votes per clip, ``stats`` and ``analysis`` add intervals and profiles,
``report``/``html_report`` (with ``html_parts``, ``html_sections``)/``plots`` write the
pages, all through ``formatting``; the ``fit`` package learns a head (``femo fit``),
``sweep``/``sweep_html`` compare sweep points, ``throughput`` reads the shards' timings,
and ``reporting`` runs it all for one run folder. Nothing here imports the node side
(:mod:`femo.node`), the pipeline or the CLI; ``pyproject.toml`` ([tool.import-graph])
states the rule.
"""
