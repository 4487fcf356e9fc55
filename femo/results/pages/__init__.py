"""The pages a run's report is read on, built from data: no run folder is read here.

``formatting`` writes every share, interval, level and p-value; ``plots`` draws the
figures as PNG bytes; ``html_report`` is ``report/index.html``, with its building blocks
in ``html_parts`` and its sections in ``html_sections``; ``identities`` writes the
per-identity profiles (``report.md``, ``identities.csv``, the page's section);
``sweep_html`` is a sweep's ``sweep.html``. Nothing here imports the reduce, the faces,
the sheets, ``fit`` or ``sweep``; ``pyproject.toml`` ([tool.import-graph]) states it.
"""
