"""``femo fit --tune``: fer's network adapted to the labelled faces of one or more runs.

Above both sides of femo: it reads the runs as ``femo fit`` does (:mod:`femo.results.fit`),
re-reads their faces with the node's decoding and fer's crop (:mod:`femo.node`), and
trains with TensorFlow, which only :mod:`.network` and :mod:`.export` load, and only in
the process that trains. What it writes runs without TensorFlow: a TFLite file for
``classifier=custom`` and a head file for ``reduce.head``.
"""
