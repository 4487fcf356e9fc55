"""The run folder: everything needed to understand, check on and continue a run.

:class:`RunDir` (:mod:`.folder`) builds every path in a run folder, with
:class:`ReportFolder` and :class:`FitFolder` (:mod:`.outputs`) for a report's and a head's
folders; nothing
else in femo joins a run folder's path strings. By concern: :mod:`.plan` (the shard
plan, ``clips.csv``), :mod:`.jobs` (submissions), :mod:`.files` (small files written
atomically), :mod:`.naming` (new run folders' names, Hydra's resolvers).
"""

from .files import TIMESTAMP, RunDirError, timestamp, write_bytes, write_json, write_text
from .folder import LOGS, RunDir
from .jobs import Submission
from .naming import claim_folder, run_name
from .outputs import MANIFEST, REPORT, FitFolder, ReportFolder, SweepFolder
from .plan import Plan, assign_shards, make_plan
from .tune import TuneFolder

__all__ = [
    "LOGS", "MANIFEST", "REPORT", "TIMESTAMP", "FitFolder", "Plan", "ReportFolder", "RunDir",
    "RunDirError", "Submission", "SweepFolder", "TuneFolder", "assign_shards", "claim_folder", "make_plan", "run_name",
    "timestamp", "write_bytes", "write_json", "write_text",
]  # fmt: skip
