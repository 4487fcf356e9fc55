"""The bench's progress: a line at least every ``every_s`` seconds, whatever is running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Heartbeat:
    """Prints through ``echo``; where nothing was printed for ``every_s`` seconds, a line
    saying what is being measured and for how long.

    Used as a context manager; ``step`` names what runs now.
    """

    def __init__(self, echo: Callable[[str], None] = print, every_s: float = 20.0) -> None:
        self._echo = echo
        self.every_s = every_s
        self.step = "starting"
        self._started = self._step_started = self._last = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="femo-bench-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def echo(self, line: str) -> None:
        with self._lock:
            self._echo(line)
            self._last = time.monotonic()

    def begin(self, step: str) -> None:
        """``step`` starts now (said at once)."""
        self.step, self._step_started = step, time.monotonic()
        self.echo(f"[{self.elapsed():4.0f} s] {step} ...")

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.every_s / 4)):
            with self._lock:
                quiet = time.monotonic() - self._last
            if quiet >= self.every_s:
                running = time.monotonic() - self._step_started
                self.echo(f"[{self.elapsed():4.0f} s] still {self.step} ({running:.0f} s so far)")
