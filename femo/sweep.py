"""``femo.sweep.SweepTableCallback``: the Hydra callback of ``femo run -m`` (conf/config.yaml),
which says what a multirun really does and writes the sweep table when it has launched
all its points. Hydra is imported here only: the results side reads sweeps without it.
"""

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from .results.sweep import sweep_launch_text, sweep_rows, write_sweep_table


class SweepTableCallback(Callback):
    """Says what a Hydra multirun really does when it starts, and writes the sweep table
    when it has launched all its points."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        launcher = config.get("launcher") or {}
        print(
            f"femo: {sweep_launch_text(str(launcher.get('name')), bool(launcher.get('wait')))}",
            flush=True,
        )

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        if sweep_dir.is_dir():
            path = write_sweep_table(sweep_dir)
            print(f"femo: sweep table: {path}")
            if any(r.status != "done" for r in sweep_rows(sweep_dir)):
                print(f"femo: once the runs finish: femo reduce {sweep_dir}")
