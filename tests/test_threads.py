"""Work on a second thread: the same results, order and errors as on one."""

from __future__ import annotations

import threading

import pytest

from xlcrm import pipeline
from xlcrm.demo import make_ledger
from xlcrm.value import threads


def test_beside_runs_elsewhere_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    where: list[int] = []

    def note(value: int, *, plus: int) -> int:
        where.append(threading.get_ident())
        return value + plus

    with threads.beside(note, 5, plus=2) as result:
        assert result() == 7
    assert where[0] != threading.get_ident()
    with threads.beside(note, 1, plus=1, thread=False) as result:
        assert len(where) == 1  # not started before it is asked for
        assert result() == 2
    monkeypatch.setattr(threads, "CAN_THREAD", False)  # as in Pyodide (xlwings Lite)
    with threads.beside(note, 2, plus=2) as result:
        assert result() == 4
    assert where[1:] == [threading.get_ident()] * 2


def test_beside_raises_where_the_result_is_asked_for() -> None:
    def fail() -> None:
        raise ValueError("no")

    with threads.beside(fail) as result, pytest.raises(ValueError, match="no"):
        result()


def test_threaded_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert threads.threaded(threads.MAX_THREADED_ROWS)
    assert not threads.threaded(threads.MAX_THREADED_ROWS + 1)
    monkeypatch.setattr(threads, "CAN_THREAD", False)
    assert not threads.threaded(10)


def test_a_run_is_the_same_on_one_thread_and_on_two(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = make_ledger(600, seed=8)
    used: list[bool] = []
    real = threads.beside

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - records, then the real one
        used.append(kwargs.get("thread", True) and threads.CAN_THREAD)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "beside", spy)
    two = pipeline.run(ledger)
    monkeypatch.setattr(threads, "CAN_THREAD", False)
    one = pipeline.run(ledger, stamp=two.stamp)
    assert used == [True, False]
    for name in ("scores_table", "segments_table", "validation", "summary_by_type"):
        assert getattr(one, name).equals(getattr(two, name)), name
    assert one.sensitivity.table.equals(two.sensitivity.table)
    assert one.sensitivity.stable.equals(two.sensitivity.stable)
    assert one.correlation.equals(two.correlation)
    assert one.profiles.silhouette == two.profiles.silhouette
    assert [p.message for p in one.problems] == [p.message for p in two.problems]


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc only")
def test_the_thread_s_freed_memory_can_be_given_back_on_linux() -> None:
    trim = threads._malloc_trim()  # noqa: SLF001
    assert trim is not None and trim(0) in (0, 1)
