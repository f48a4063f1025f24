"""Packed feature storage: many videos' features in a few large files, so that a million features
are a few hundred files on a cluster file system, not a million.

Layout under ``<store>/packs/``: ``<name>.bin`` (arrays back to back, raw, in the store's dtype)
and ``<name>.idx`` (one JSON line per entry: ``{"file", "offset", "shape", "crc"}``). Every writer
(a process, a shard, a rank) appends to its own new pair, named ``<time_ns>-<host>-<pid>``, so
concurrent writers never share a file, a resumed run never appends to what a killed one left, and
name order is write order (a key indexed twice: the later entry wins).

Atomicity: an entry's bytes are written first, then its index line in one ``O_APPEND`` write; an
entry exists once its line is complete. A killed writer leaves at most unindexed bytes and a torn
last line, both ignored; a line pointing past the end of its ``.bin`` (a truncated copy) is
ignored too, and the CRC-32 of the bytes is checked on every read.
"""
from __future__ import annotations

import os
import socket
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from avforge.core.errors import AvforgeError

PACKS_DIR, DATA_SUFFIX, INDEX_SUFFIX = "packs", ".bin", ".idx"
MAX_PACK_BYTES = 1 << 30  # a writer starts a new pack after 1 GiB


@dataclass(frozen=True)
class PackEntry:
    pack: str  # pack name (no suffix)
    offset: int  # bytes into the .bin
    shape: tuple  # (T, C)
    crc: int  # zlib.crc32 of the bytes


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_index(root: Path) -> dict[str, PackEntry]:
    """Every complete entry of every pack under ``root`` (``<store>/packs``), later packs winning."""
    entries: dict[str, PackEntry] = {}
    for idx in sorted(root.glob(f"*{INDEX_SUFFIX}")) if root.is_dir() else []:
        name = idx.name[: -len(INDEX_SUFFIX)]
        data = root / f"{name}{DATA_SUFFIX}"
        size = data.stat().st_size if data.is_file() else 0
        for line in idx.read_bytes().split(b"\n"):
            try:
                row = orjson.loads(line)
                shape, offset = tuple(row["shape"]), row["offset"]
                entry = PackEntry(name, offset, shape, row["crc"])
                file = row["file"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # empty or torn (a killed writer's last) line
            if offset + row["nbytes"] <= size:
                entries[file] = entry
    return entries


class Packs:
    """The packs of one store: an index (read on first use), this process's writer, cached readers."""

    def __init__(self, root: Path, dtype: np.dtype):
        self.root, self.dtype = root, dtype
        self._index: dict[str, PackEntry] | None = None
        self._readers: dict[str, int] = {}
        self._writer: tuple | None = None  # (name, data fd, index fd, bytes written)

    @property
    def index(self) -> dict[str, PackEntry]:
        if self._index is None:
            self._index = read_index(self.root)
        return self._index

    def get(self, file: str) -> PackEntry | None:
        return self.index.get(file)

    def read(self, file: str, entry: PackEntry) -> np.ndarray:
        fd = self._readers.get(entry.pack)
        if fd is None:
            fd = self._readers[entry.pack] = os.open(self.root / f"{entry.pack}{DATA_SUFFIX}", os.O_RDONLY)
        nbytes = int(np.prod(entry.shape)) * self.dtype.itemsize
        raw = os.pread(fd, nbytes, entry.offset)
        if len(raw) != nbytes or zlib.crc32(raw) != entry.crc:
            raise AvforgeError(f"features of {file!r} are damaged (size or CRC mismatch)",
                               path=self.root / f"{entry.pack}{DATA_SUFFIX}")
        return np.frombuffer(raw, dtype=self.dtype).reshape(entry.shape)

    def append(self, file: str, data: np.ndarray) -> None:
        """Add one entry (``data`` already in the store's dtype, C-contiguous)."""
        if self._writer is None or self._writer[3] >= MAX_PACK_BYTES:
            self.close()
            self.root.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{socket.gethostname()}-{os.getpid()}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL
            self._writer = (name, os.open(self.root / f"{name}{DATA_SUFFIX}", flags, 0o644),
                            os.open(self.root / f"{name}{INDEX_SUFFIX}", flags, 0o644), 0)
        name, data_fd, index_fd, offset = self._writer
        raw = data.tobytes()
        crc = zlib.crc32(raw)
        _write_all(data_fd, raw)
        line = orjson.dumps({"file": file, "offset": offset, "nbytes": len(raw), "shape": list(data.shape),
                             "crc": crc}) + b"\n"
        _write_all(index_fd, line)  # the entry exists from here on
        self._writer = (name, data_fd, index_fd, offset + len(raw))
        self.index[file] = PackEntry(name, offset, tuple(data.shape), crc)

    def close(self) -> None:
        if self._writer is not None:
            os.close(self._writer[1])
            os.close(self._writer[2])
            self._writer = None
        for fd in self._readers.values():
            os.close(fd)
        self._readers.clear()

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass
