"""The bounded streaming helpers behind extraction's pipeline."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from femo.node.stream import chain_ahead, ordered_map


def test_one_source_yields_everything_in_order():
    assert list(chain_ahead([range(100)], ahead=1, maxsize=3)) == list(range(100))


def test_one_source_stays_at_most_maxsize_ahead():
    produced = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    stream = chain_ahead([source()], ahead=1, maxsize=4)
    assert next(stream) == 0
    time.sleep(0.3)  # let the producer run as far ahead as the queue allows
    # one item consumed, four queued, and one more held by a producer blocked on put
    assert len(produced) <= 1 + 4 + 1
    assert list(stream) == list(range(1, 50))


def test_one_source_reraises_the_producer_error_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("broken clip")

    stream = chain_ahead([source()], ahead=1, maxsize=8)
    assert next(stream) == 1
    assert next(stream) == 2
    with pytest.raises(ValueError, match="broken clip"):
        next(stream)


def test_one_source_stops_its_thread_when_the_consumer_stops_early():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    stream = chain_ahead([endless()], ahead=1, maxsize=2, name="femo-test-prefetch")
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert closed.wait(2), "the producer generator was not closed"
    assert threading.active_count() == before
    assert not any(t.name == "femo-test-prefetch" for t in threading.enumerate())


def test_ordered_map_keeps_order_with_uneven_work():
    def work(i):
        time.sleep(0.02 if i % 3 == 0 else 0.001)
        return i * i

    with ThreadPoolExecutor(3) as pool:
        assert list(ordered_map(pool, work, range(30), window=5)) == [i * i for i in range(30)]


def test_ordered_map_holds_at_most_window_items_in_flight():
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def work(i):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.005)
        with lock:
            in_flight -= 1
        return i

    pulled = []

    def source():
        for i in range(40):
            pulled.append(i)
            yield i

    with ThreadPoolExecutor(8) as pool:
        results = ordered_map(pool, work, source(), window=3)
        first = next(results)
        assert first == 0 and len(pulled) <= 3
        assert list(results) == list(range(1, 40))
    assert peak <= 3


def test_ordered_map_raises_the_first_failure_in_order():
    def work(i):
        if i == 4:
            raise RuntimeError("detector failed")
        return i

    with ThreadPoolExecutor(2) as pool:
        out = []
        with pytest.raises(RuntimeError, match="detector failed"):
            for value in ordered_map(pool, work, range(10), window=3):
                out.append(value)
    assert out == [0, 1, 2, 3]


def test_chain_ahead_yields_every_source_in_order():
    sources = [range(i * 10, i * 10 + i) for i in range(6)]
    expected = [x for source in sources for x in source]
    assert list(chain_ahead(sources, ahead=2, maxsize=3)) == expected


def test_chain_ahead_reads_the_next_sources_while_the_first_is_consumed():
    started: list[int] = []
    produced: list[int] = []
    lock = threading.Lock()

    def source(k):
        with lock:
            started.append(k)
        for i in range(20):
            with lock:
                produced.append(k)
            yield (k, i)

    stream = chain_ahead((source(k) for k in range(5)), ahead=2, maxsize=3)
    assert next(stream) == (0, 0)
    time.sleep(0.3)
    with lock:
        # sources 0 and 1 run at once, each at most maxsize (+1 blocked on put) ahead
        assert started == [0, 1]
        assert produced.count(1) <= 3 + 1
        assert produced.count(0) <= 1 + 3 + 1
    assert len(list(stream)) == 5 * 20 - 1


def test_chain_ahead_reraises_a_source_error_after_the_items_before_it():
    def broken():
        yield "a"
        raise ValueError("broken clip")

    stream = chain_ahead([["x"], broken(), ["never"]], ahead=2, maxsize=2)
    assert next(stream) == "x"
    assert next(stream) == "a"
    with pytest.raises(ValueError, match="broken clip"):
        next(stream)


def test_chain_ahead_stops_every_thread_when_closed_early():
    def endless(k):
        while True:
            yield k

    before = threading.active_count()
    stream = chain_ahead((endless(k) for k in range(4)), ahead=3, maxsize=2, name="femo-test-chain")
    assert [next(stream) for _ in range(3)] == [0, 0, 0]
    stream.close()
    assert threading.active_count() == before
    assert not any(t.name == "femo-test-chain" for t in threading.enumerate())
