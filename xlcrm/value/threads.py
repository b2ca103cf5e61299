"""The second core, where Python can start threads and the run is small enough.

numpy's sorts release Python's lock, and so do scikit-learn's k-means and silhouette: the
weight sensitivity (48 High/Low cuts, each a sort) runs on a second thread while the
k-means profiles run here, and on two cores the two take the longer of their times, not
their sum (100,000 customers, quiet machine: 0.69 -> 0.41 s for the two together).

The browser's Python of xlwings Lite (Pyodide) cannot start a thread, and a large run
keeps one thread: there the same work runs one piece after the other, with the same
results (``tests/test_threads.py``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

R = TypeVar("R")

CAN_THREAD = sys.platform != "emscripten"
"""False in Pyodide (xlwings Lite), whose Python cannot start a thread."""
MAX_THREADED_ROWS = 300_000
"""Above this many customers a run stays on one thread. What a thread frees goes back to a
malloc arena of its own, which may keep it; at 1,048,576 customers the 1.2 GB budget has no
room for that, and there a second of a 4-second run matters less than memory."""


def threaded(rows: int) -> bool:
    """Whether work on ``rows`` customers may use a second thread."""
    return CAN_THREAD and rows <= MAX_THREADED_ROWS


@contextmanager
def beside(func: Callable[..., R], *args: Any, thread: bool = True, **kwargs: Any
           ) -> Iterator[Callable[[], R]]:
    """Run ``func(*args, **kwargs)`` on another thread while the ``with`` block runs.

    The block gets a function that waits for the result and returns it (or raises what
    ``func`` raised). Without threads (or with ``thread=False``) ``func`` runs when the
    result is asked for, on this thread.
    """
    call = functools.partial(func, *args, **kwargs)
    if not CAN_THREAD or not thread:
        yield call
        return
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            yield pool.submit(call).result
    finally:
        _give_back_freed_memory()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:  # the C library already loaded in this process
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def _give_back_freed_memory() -> None:
    """Return to the system what the finished thread's malloc arena keeps (glibc only):
    the next, larger run in this process (the worksheet functions' server lives on) would
    otherwise peak that much higher."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
