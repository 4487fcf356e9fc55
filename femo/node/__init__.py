"""What runs on a compute node: one shard's life, from decoded frames to its Parquet file.

``supervise`` watches a worker process per shard, ``runner`` serves it, ``extract``
drives the frames of each clip through ``video`` (decoding), ``models`` (detection and
classification) and ``stream`` (bounded, ordered pipelines), and ``progress`` keeps
finished clips in part files. Nothing here imports the report side (:mod:`femo.results`),
the pipeline or the CLI; ``pyproject.toml`` ([tool.import-graph]) states the rule.
"""
