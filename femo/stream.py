"""Bounded streaming helpers: the plumbing of extraction's decode -> detect -> classify.

Every stage hands work to the next through a bounded buffer, so that memory stays
the same whatever the length of a clip: at most ``maxsize`` items wait in a queue and
at most ``window`` work units are in flight in a pool.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[T], maxsize: int, name: str = "femo-prefetch") -> Iterator[T]:
    """Iterate ``items`` in a background thread, at most ``maxsize`` items ahead.

    An exception raised by ``items`` is re-raised in the consumer, in order. If the
    consumer stops early (break, exception, garbage collection), the producer thread
    is told to stop and is joined, so no thread outlives the iteration.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
    stop = threading.Event()

    def put(item: object) -> bool:
        # Poll so that a producer blocked on a full queue notices ``stop``.
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer, never lost
            put(_Raised(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and stop.is_set():
                close()
        put(_END)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def ordered_map(
    executor: Executor, function: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``map(function, items)`` on ``executor``, in order, with at most ``window`` in flight.

    Unlike ``Executor.map``, which submits every item at once, this holds back the
    input, so a long clip never sits decoded in memory.
    """
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(function, item))
            if len(pending) >= max(1, window):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
