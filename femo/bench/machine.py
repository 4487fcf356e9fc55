"""The machine a bench ran on, as its timings need: its CPUs and its load.

A ratio such as femo's time over its floor moves with what else the machine runs, so
the bench states the load average at its start and at its end beside its figures.
"""

from __future__ import annotations

import os
from typing import Any


def machine_load() -> dict[str, Any]:
    """The CPU count and the 1, 5 and 15 minute load averages (``os.getloadavg``)."""
    one, five, fifteen = os.getloadavg()
    return {"cpus": os.cpu_count(), "load_average": [round(v, 2) for v in (one, five, fifteen)]}


def load_text(load: dict[str, Any], when: str) -> str:
    """``machine load at the start: 2.38, 1.38, 1.72 (1, 5, 15 min) on 2 CPUs``, with a
    word where the load exceeds the CPUs (the timings then hold for a busy machine)."""
    one, five, fifteen = load["load_average"]
    cpus = load["cpus"]
    busy = "; busier than its CPUs: timings are slower than on a quiet machine"
    return (
        f"machine load {when}: {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min) on "
        f"{cpus} CPU{'s' * (cpus != 1)}" + (busy if cpus and one > cpus else "")
    )
