"""What a workbook file looked like when it was read, to tell whether it changed since.

Shared by the reader, which stamps what it reads, and the safe save, which refuses to
replace a file whose stamp no longer matches.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import BinaryIO

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStamp:
    """What a file looked like when it was read: size, modification time and content hash.

    Two stamps describe the same content when size and hash agree; the modification time
    only tells a cheap "maybe changed" (a file copied back over itself keeps its content).
    """

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStamp:
        """Stamp of the file at ``path`` as it is now."""
        with open(path, "rb") as f:
            return cls.of_open_file(f)

    @classmethod
    def of_open_file(cls, f: BinaryIO) -> FileStamp:
        """Stamp of an open binary file (read from its start; the position is left at the end)."""
        st = os.fstat(f.fileno())
        digest = hashlib.sha256()
        f.seek(0)
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
        return cls(st.st_size, st.st_mtime_ns, digest.hexdigest())

    @classmethod
    def of_bytes(cls, data: bytes, st: os.stat_result) -> FileStamp:
        """Stamp of ``data`` read from a file whose ``os.stat`` is ``st``."""
        return cls(len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())

    def same_content(self, other: FileStamp) -> bool:
        """True when both stamps describe the same bytes."""
        return self.size == other.size and self.sha256 == other.sha256
