"""The second core, where Python can start threads.

numpy's sorts and scikit-learn's k-means release Python's lock, so two of them run at once
on two cores. The browser's Python of xlwings Lite (Pyodide) cannot start a thread: there
the same work runs one piece after the other, with the same results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CAN_THREAD = sys.platform != "emscripten"
"""False in Pyodide (xlwings Lite), whose Python cannot start a thread."""
MAX_THREADED_ROWS = 300_000
"""Above this many customers a run stays on one thread. A thread allocates from a malloc
arena of its own, which keeps what it held: at 1,048,576 customers the run's peak was
50-60 MB higher (gone with ``MALLOC_ARENA_MAX=1``, so it is the arenas), where the 1.2 GB
budget has no room; at 100,000 customers the whole run peaks near 450 MB."""


def threaded(rows: int) -> bool:
    """Whether work on ``rows`` customers may use a second thread."""
    return CAN_THREAD and rows <= MAX_THREADED_ROWS


def ordered_map(func: Callable[[T], R], items: Iterable[T], workers: int = 2) -> Iterator[R]:
    """``map(func, items)``, ``workers`` items at a time where threads exist.

    Results come in the order of ``items``; an exception is raised where its result would
    have come. ``workers=1``: plain ``map``.
    """
    if not CAN_THREAD or workers <= 1:
        yield from map(func, items)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(func, items)


@contextmanager
def beside(func: Callable[..., R], *args: Any, thread: bool = True
           ) -> Iterator[Callable[[], R]]:
    """Run ``func(*args)`` on another thread while the ``with`` block runs.

    The block gets a function that waits for the result and returns it (or raises what
    ``func`` raised). Without threads (or ``thread=False``) ``func`` runs when the result is
    asked for.
    """
    if not CAN_THREAD or not thread:
        yield lambda: func(*args)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        future: Future[R] = pool.submit(func, *args)
        yield future.result
