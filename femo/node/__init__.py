"""What runs on a compute node: one shard's life, from decoded frames to its Parquet file.

``supervise`` watches a worker process per shard, ``runner`` serves it, ``extract``
drives one shard's clips through ``engine`` (threaded decode, detect, classify), which
uses ``video`` (decoding), ``models`` (the face detectors, with ``blazeface`` in numpy),
``classifier`` (fer's classifier on keras or ONNX Runtime), ``custom`` (any ONNX or
TFLite emotion model, ``classifier=custom``), ``identity`` (dlib embeddings,
``identity=dlib``), ``landmarks`` (the face ``mesh``, ``landmarks=mesh``) and ``stream``
(bounded, ordered pipelines);
``references`` embeds the reference photos when a run is planned, and ``progress``
keeps finished clips in part files. Nothing here imports the report side
(:mod:`femo.results`), the pipeline or the CLI; ``pyproject.toml`` ([tool.import-graph])
states the rule.
"""
