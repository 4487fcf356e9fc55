"""Compare two run folders made from the same clips: shard rows and report files.

Usage: python scripts/compare_runs.py RUN_A RUN_B

What may differ between two honest runs is left out: each clip's ``seconds`` column,
the shards' timing/host/config metadata, the report's speed lines and timestamps.
Prints SAME (exit 0) or each difference (exit 1).
"""

import json
import pathlib
import sys

import pyarrow.parquet as pq

a, b = (pathlib.Path(x) for x in sys.argv[1:3])
ok = True
for sa in sorted((a / "shards").glob("*.parquet")):
    ta, tb = pq.read_table(sa), pq.read_table(b / "shards" / sa.name)
    if (
        not ta.drop_columns(["seconds"])
        .replace_schema_metadata(None)
        .equals(tb.drop_columns(["seconds"]).replace_schema_metadata(None))
    ):
        ok = False
        print("rows differ", sa.name)
    ma, mb = ta.schema.metadata, tb.schema.metadata
    for k in ma:
        if k not in (b"femo.timing", b"femo.host", b"femo.config") and ma[k] != mb.get(k):
            ok = False
            print("meta differs", sa.name, k, ma[k][:80], mb.get(k, b"")[:80])
for f in [
    "report/videos.csv",
    "report/report.md",
    "report/metrics.json",
    "clips.csv",
    "labels.csv",
]:
    if not (a / f).exists() and not (b / f).exists():
        continue  # neither run has it (labels.csv: a run without labels)
    ta, tb = (a / f).read_text(), (b / f).read_text()
    if f.endswith(".json"):
        ja, jb = json.loads(ta), json.loads(tb)
        for j in (ja, jb):
            for k in ("created", "run_dir", "throughput", "provenance", "generated"):
                j.pop(k, None)
        ta, tb = json.dumps(ja, sort_keys=True), json.dumps(jb, sort_keys=True)
    if f.endswith(".md"):
        timed = ("- speed:", "- stages:", "- estimate:", "- made:", "- generated")
        ta, tb = (
            "\n".join(line for line in t.splitlines() if not line.startswith(timed))
            for t in (ta, tb)
        )
    if ta != tb:
        import difflib

        diff = [
            line
            for line in difflib.unified_diff(ta.splitlines(), tb.splitlines(), lineterm="")
            if line[:1] in "+-"
        ]
        print(f, "differs:", *diff[:12], sep="\n  ")
        ok = False
print("SAME" if ok else "DIFFERENT")
sys.exit(0 if ok else 1)
