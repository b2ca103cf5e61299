"""Work on a second thread: same results, same order, same errors as on one."""

from __future__ import annotations

import threading

import pytest

from xlcrm import pipeline
from xlcrm.demo import make_ledger
from xlcrm.value import threads


def test_ordered_map_keeps_the_order_and_uses_a_second_thread():
    seen = set()

    def slow_square(x: int) -> int:
        seen.add(threading.get_ident())
        threading.Event().wait(0.01 if x % 2 else 0.03)  # the even ones finish last
        return x * x

    assert list(threads.ordered_map(slow_square, range(8))) == [x * x for x in range(8)]
    assert threading.get_ident() not in seen and len(seen) == 2


def test_ordered_map_raises_where_the_result_would_come():
    def fail_at_three(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    got = []
    with pytest.raises(ValueError, match="three"):
        for value in threads.ordered_map(fail_at_three, range(6)):
            got.append(value)
    assert got == [0, 1, 2]


def test_beside_runs_elsewhere_or_on_request(monkeypatch):
    where = []
    with threads.beside(lambda: where.append(threading.get_ident()) or 7) as result:
        assert result() == 7
    assert where[0] != threading.get_ident()
    monkeypatch.setattr(threads, "CAN_THREAD", False)  # as in Pyodide (xlwings Lite)
    with threads.beside(lambda: where.append(threading.get_ident()) or 8) as result:
        assert len(where) == 1  # not started before it is asked for
        assert result() == 8
    assert where[1] == threading.get_ident()
    assert list(threads.ordered_map(str, [1, 2])) == ["1", "2"]


def test_threaded_only_up_to_the_limit():
    assert threads.threaded(threads.MAX_THREADED_ROWS)
    assert not threads.threaded(threads.MAX_THREADED_ROWS + 1)


def test_a_run_is_the_same_on_one_thread_and_on_two(monkeypatch):
    ledger = make_ledger(600, seed=8)
    two = pipeline.run(ledger, stamp=None)
    monkeypatch.setattr(threads, "CAN_THREAD", False)
    one = pipeline.run(ledger, stamp=two.stamp)
    for name in ("scores_table", "segments_table", "validation", "summary_by_type"):
        assert getattr(one, name).equals(getattr(two, name)), name
    assert one.sensitivity.table.equals(two.sensitivity.table)
    assert one.correlation.equals(two.correlation)
    assert one.profiles.silhouette == two.profiles.silhouette
    assert [p.message for p in one.problems] == [p.message for p in two.problems]
