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


class Prefetcher(Iterator[T]):
    """Iterates ``items`` on its own thread, started at once, at most ``maxsize`` ahead.

    An exception raised by ``items`` is re-raised in the consumer, in order.
    :meth:`close` (also called at the end of the items) tells the producer to stop,
    closes ``items`` and joins the thread, so no thread outlives the iteration.
    """

    def __init__(self, items: Iterable[T], maxsize: int, name: str = "femo-prefetch"):
        self._buffer: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        # Poll so that a producer blocked on a full queue notices ``stop``.
        while not self._stop.is_set():
            try:
                self._buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable[T]) -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not self._put(item):
                    break
        except BaseException as exc:  # handed to the consumer, never lost
            self._put(_Raised(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and self._stop.is_set():
                close()
        self._put(_END)

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._buffer.get()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, _Raised):
            self.close()
            raise item.exc
        return item

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        self._thread.join()


class InlineExecutor(Executor):
    """An executor that runs each call at once on the calling thread.

    For a process that owns one core: the stages of a pipeline then run in turn on one
    thread, with no hand-off between threads and nothing waiting for the GIL.
    """

    def submit(self, fn: Callable[..., R], /, *args, **kwargs) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # raised by result(), as a thread pool would
            future.set_exception(exc)
        return future


def chain_ahead(
    sources: Iterable[Iterable[T]], ahead: int, maxsize: int, name: str = "femo-prefetch"
) -> Iterator[T]:
    """The items of each source in turn, with up to ``ahead`` sources read at once.

    ``ahead`` 0 reads them on the calling thread, one after the other, nothing ahead.

    Each source runs on its own thread, at most ``maxsize`` items ahead, so memory
    stays bounded by ``ahead * maxsize`` items whatever the sources' lengths. Used to
    decode the next clips while the current one is analysed: one clip's decoding is
    sequential, but several clips can be decoded side by side.
    """
    if ahead == 0:
        for source in sources:
            yield from source  # closing this generator closes the source being read
        return
    pending = iter(sources)
    running: deque[Prefetcher[T]] = deque()

    def start_more() -> None:
        while len(running) < max(1, ahead):
            source = next(pending, _END)
            if source is _END:
                return
            running.append(Prefetcher(source, maxsize, name))  # type: ignore[arg-type]

    try:
        start_more()
        while running:
            yield from running[0]
            running.popleft().close()
            start_more()
    finally:
        for stream in running:
            stream.close()


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
