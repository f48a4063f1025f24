"""FeatureStore: one ``.npy`` per video under a root folder, plus ``index.json`` and a failures log.

Layout: ``<root>/index.json`` (format, the encoder's spec — see spec.py — and the storage dtype),
``<root>/<file key>.npy`` (the key's folders mirrored, e.g. ``test/000001.mp4.npy``), and
``<root>/failures.jsonl`` (one ``{"file", "reason"}`` line per failed attempt, append-only).
A feature file appears only complete (temp name, then rename); ``has`` also checks that it loads
with the index's dim, so a damaged file is redone, never trusted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path, read_json, write_json
from avforge.features.spec import EncoderSpec, spec_from_record

INDEX_NAME, FAILURES_NAME, SUFFIX = "index.json", "failures.jsonl", ".npy"
FORMAT = "avforge-features/2"
STORAGE_DTYPES = ("float32",)


@dataclass
class FeatureArray:
    data: np.ndarray  # (T, C) float32
    fps: float
    encoder: str


def key_to_relpath(file: str) -> PurePosixPath:
    """Safe relative path of a file key: no absolute paths, no ``..``, no empty parts."""
    parts = PurePosixPath(str(file).replace("\\", "/")).parts
    if not parts or str(file).startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise AvforgeError(f"unsafe file key {file!r} (must be a relative path without '..')")
    return PurePosixPath(*parts[:-1], parts[-1] + SUFFIX)


class FeatureStore:
    """Open ``root``. With ``spec`` (an encoder's), create the index if absent, or refuse a store made
    with another encoder / weights / options; without it, read an existing one.

    An index written before specs (avforge-features/1: ``weights_id`` strings) is read through
    ``spec_from_record``; opening it with a matching spec rewrites it in the current format.
    """

    def __init__(self, root, spec: EncoderSpec | None = None, dtype: str = "float32"):
        self.root = Path(root)
        index_path = self.root / INDEX_NAME
        if index_path.is_file():
            index = read_json(index_path)
            try:
                self.spec = spec_from_record(index, where=f"feature store {self.root}")
            except AvforgeError as exc:
                raise AvforgeError(str(exc), path=self.root) from None
            self.dtype = np.dtype(index.get("storage", {}).get("dtype", "float32"))
            if spec is not None:
                diff = self.spec.differences(spec)
                if diff:
                    raise AvforgeError("feature store was made with a different encoder/config (" + "; ".join(diff)
                                       + ", here vs now); use a new --out folder", path=self.root)
                if index.get("format") != FORMAT:  # converted: record it in the current format
                    self.spec = spec
                    self._write_index(index_path)
        elif spec is not None:
            if dtype not in STORAGE_DTYPES:
                raise AvforgeError(f"storage dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
            self.spec, self.dtype = spec, np.dtype(dtype)
            # Every rank of a sharded run may get here: identical content, atomic rename -> written once.
            self._write_index(index_path)
        else:
            raise AvforgeError("not a feature store (no index.json)", path=self.root)
        self.dim, self.fps, self.encoder = self.spec.dim, self.spec.fps, self.spec.name

    def _write_index(self, path: Path) -> None:
        write_json(path, {"format": FORMAT, "spec": self.spec.to_dict(), "storage": {"dtype": self.dtype.name}},
                   indent=1)

    def path_of(self, file: str) -> Path:
        return self.root / key_to_relpath(file)

    def has(self, file: str) -> bool:
        """True only if the file is complete and valid: loads as (T, dim) of the store's dtype."""
        path = self.path_of(file)
        if not path.is_file():
            return False
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return False
        return arr.dtype == self.dtype and arr.ndim == 2 and arr.shape[1] == self.dim

    def load(self, file: str) -> FeatureArray:
        path = self.path_of(file)
        if not self.has(file):
            raise AvforgeError(f"no valid features for {file!r} in this store", path=path)
        return FeatureArray(np.load(path, allow_pickle=False), self.fps, self.encoder)

    def save(self, file: str, data: np.ndarray) -> Path:
        """Write (T, dim) features atomically in the store's dtype; stale temp files of this key are removed."""
        data = np.ascontiguousarray(data, dtype=self.dtype)
        if data.ndim != 2 or data.shape[1] != self.dim:
            raise AvforgeError(f"features for {file!r} have shape {data.shape}, store dim is {self.dim}")
        path = self.path_of(file)
        if path.parent.is_dir():
            for stale in path.parent.glob(f".{path.name}.*{SUFFIX}"):  # left by a killed run
                stale.unlink(missing_ok=True)
        with atomic_path(path, suffix=SUFFIX) as tmp:
            np.save(tmp, data, allow_pickle=False)
        return path

    def files(self) -> list[str]:
        """Keys of every feature file present (sorted); temp files are not listed."""
        keys = []
        for path in self.root.rglob(f"*{SUFFIX}"):
            rel = path.relative_to(self.root).as_posix()
            if not any(part.startswith(".") for part in rel.split("/")):
                keys.append(rel[: -len(SUFFIX)])
        return sorted(keys)

    def record_failure(self, file: str, reason: str) -> None:
        """Append one JSON line; a single O_APPEND write, so concurrent ranks never interleave."""
        line = json.dumps({"file": file, "reason": " ".join(str(reason).split())}) + "\n"
        fd = os.open(self.root / FAILURES_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def failures(self) -> dict[str, str]:
        """Latest failure reason of each file that is still not done."""
        path = self.root / FAILURES_NAME
        if not path.is_file():
            return {}
        latest = {}
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                latest[row["file"]] = row["reason"]
        return {f: r for f, r in latest.items() if not self.has(f)}
