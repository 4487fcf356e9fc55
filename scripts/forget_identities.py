"""Delete the face embeddings of a run folder: the shards' ``embedding`` column (and that
of unfinished shards' part files) and ``references.parquet``. Everything else (scores, boxes, reports) stays.

Usage: python scripts/forget_identities.py RUN_DIR

Afterwards ``femo reduce RUN_DIR`` works with ``reduce.face=first|largest``; ``main`` and
``person`` need a new run with ``identity=dlib``.
"""

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from femo.shard_files import finished_shards, write_table

run = Path(sys.argv[1])
# Finished shards, and the part files of shards not finished yet.
parts = sorted((run / "shards").glob(".parts-*/part-*.parquet"))
for path in [*finished_shards(run / "shards").values(), *parts]:
    table = pq.read_table(path)
    if "embedding" in table.column_names:
        # The column is kept, all null, so the file keeps femo's schema and metadata.
        index = table.column_names.index("embedding")
        kind = table.column("embedding").type
        table = table.set_column(index, "embedding", pa.nulls(table.num_rows, kind))
        write_table(path, table)
        print("cleared", path)
references = run / "references.parquet"
if references.exists():
    references.unlink()
    print("deleted", references)
