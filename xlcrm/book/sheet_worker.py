"""A second Python process that writes one large result sheet while this one writes the others.

Making a sheet's XML is Python work that holds the interpreter's lock, so a thread cannot do
it beside another: at 100,000 customers the Scores and Segments sheets take about 0.8 s of
one core each. A worker process started when the workbook is read (it imports pandas and the
writer while the analysis runs) makes the largest sheet's part, deflated, while this process
makes the rest; on a machine with two cores the write takes about the time of the larger
sheet instead of the sum. The check of the new file shares its reading back the same way
(:class:`ReadBackJob`).

The worker is an optimisation, never a dependency: it is not started on one core, in a
frozen application or for a small workbook, and whenever it cannot start, fails, dies or
answers with something unexpected, the caller makes the sheet itself, exactly as it would
have without a worker (a value that cannot be written raises there, naming its cell). Jobs
and answers travel as pickles over the worker's own pipes, between two processes of the
same installation.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MIN_FILE_BYTES = 8 << 20
"""Workbook files from which a worker pays for its start (about 0.5 s of the other core):
about 20,000 customers; decided from the file's size, as the worker starts before the
workbook is read."""


@dataclass
class SheetJob:
    """Everything :func:`xlcrm.book.write.make_sheet_member` needs to make one sheet's part."""

    part: str
    split: Any  # xlcrm.book.write._SheetXml
    blocks: list[Any]  # xlcrm.book.write.Block
    options: Any  # xlcrm.book.write.SheetData
    styles: Any  # xlcrm.book.write._Styles
    date1904: bool
    sheet: str
    kept: dict[tuple[int, int], int]
    col_styles: dict[int, int]
    heights: dict[int, str]


@dataclass
class ReadBackJob:
    """Read part ``part`` of the workbook file at ``path`` back (see
    :func:`xlcrm.book.save.verify_workbook`): the answer is ``True`` when it inflates to its
    CRC and size and, as XML, parses."""

    path: str
    part: str


@dataclass
class Deflated:
    """A part made by the worker: its deflated bytes, CRC-32 and size."""

    crc: int
    usize: int
    raw: bytes


def _is_python(executable: str | None) -> bool:
    """Whether ``executable`` is a Python interpreter (not a frozen application, or a host
    program embedding Python, whose own executable would start something else)."""
    name = (executable or "").replace("\\", "/").rsplit("/", 1)[-1]  # either OS's separator
    return not getattr(sys, "frozen", False) and name.lower().startswith("python")


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


class SheetWorker:
    """A started worker process (see the module doc). Use :meth:`start`, then give it to
    :func:`xlcrm.book.write.write_result_sheets`; :meth:`close` ends it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._answer: object = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_file(cls, path: Path) -> SheetWorker | None:
        """A worker for resegmenting the workbook ``path``, or ``None`` where it would not
        pay (a small workbook, one core) or cannot run (``XLCRM_NO_WORKER`` set, no Python
        interpreter to start)."""
        try:
            size = os.stat(path).st_size
        except OSError:
            return None  # the reader says what is wrong with the path
        if size < MIN_FILE_BYTES or (os.cpu_count() or 1) < 2 or os.environ.get(
                "XLCRM_NO_WORKER") or not _is_python(sys.executable):
            return None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [_package_root(), *filter(None, [env.get("PYTHONPATH")])])
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window on Windows
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "xlcrm.book.sheet_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                creationflags=flags)
        except (OSError, ValueError):
            return None
        return cls(process)

    def submit(self, job: bytes) -> None:
        """Send a pickled :class:`SheetJob` or :class:`ReadBackJob` and wait for its answer
        in a thread (the pipe does not keep this process from doing its own share)."""
        self._thread = threading.Thread(target=self._exchange, args=(job,), daemon=True)
        self._thread.start()

    def _exchange(self, job: bytes) -> None:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(job)
            stdin.flush()
            self._answer = pickle.load(stdout)
        except Exception:  # a dead or broken worker: the caller does the job itself
            return

    def result(self) -> Deflated | None:
        """The part made for the job submitted, or ``None``: then make it yourself."""
        answer = self._answered()
        return answer if isinstance(answer, Deflated) else None

    def read_back(self, path: str | os.PathLike[str], part: str) -> None:
        """Have part ``part`` of the file at ``path`` read back (see :class:`ReadBackJob`);
        :meth:`read_back_ok` says how it went."""
        self.submit(pickle.dumps(ReadBackJob(os.fspath(path), part),
                                 protocol=pickle.HIGHEST_PROTOCOL))

    def read_back_ok(self) -> bool:
        """Whether the part given to :meth:`read_back` was read back whole and sound;
        ``False`` also when the worker could not tell (then read it back yourself)."""
        return self._answered() is True

    def _answered(self) -> object:
        if self._thread is None:
            return None
        self._thread.join()
        self._thread = None
        answer, self._answer = self._answer, None
        return answer

    def close(self) -> None:
        """End the worker (it exits when its input closes, at once when it has answered every
        job; killed if it does not within 5 s)."""
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            if self._process.stdout is not None:
                self._process.stdout.close()

    def __enter__(self) -> SheetWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _serve(jobs: BinaryIO, answers: BinaryIO) -> None:
    from xlcrm.book.write import make_sheet_member

    while True:
        try:
            job = pickle.load(jobs)
        except EOFError:
            return
        try:
            answer: object = (_read_back(job) if isinstance(job, ReadBackJob)
                              else make_sheet_member(job, elsewhere=True))
        except Exception as exc:  # the caller does the job itself and meets the error there
            answer = repr(exc)
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


def _read_back(job: ReadBackJob) -> bool:
    import zipfile

    from xlcrm.book.save import read_back

    with zipfile.ZipFile(job.path) as z:
        read_back(z, z.getinfo(job.part))
    return True


def main() -> None:
    """The worker: answers on a copy of standard output, which itself goes to the null
    device, so that nothing a library prints can garble an answer."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    import xlcrm.book.write  # noqa: F401  (imported now, while the caller still analyses)

    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    # Run as the module, not as __main__: the jobs unpickle as xlcrm.book.sheet_worker's
    # classes, which the checks in _serve must be.
    from xlcrm.book import sheet_worker

    sheet_worker.main()
    # Its input closed, every answer written and flushed, nothing else held: end now, without
    # the interpreter's teardown (freeing pandas', numpy's and the writer's modules and
    # objects), which took 0.1 s of the caller's close() at the end of every run.
    os._exit(0)
