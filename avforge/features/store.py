"""FeatureStore: features of every video under a root folder, plus ``index.json`` and a failures log.

``<root>/index.json`` holds the format, the encoder's spec (spec.py) and the storage: ``dtype``
(float32, or float16 at half the size) and ``layout``. Layout ``files``: ``<root>/<file key>.npy``
(the key's folders mirrored, e.g. ``test/000001.mp4.npy``), each appearing only complete (temp
name, then rename). Layout ``packed``: a few large files shared by many videos (packs.py), for
cluster file systems. Both are chosen when a store is created and kept for its life; reads are
float32 whatever the dtype. ``<root>/failures.jsonl``: one ``{"file", "reason"}`` line per failed
attempt, append-only. ``has`` checks that a video's features are complete with the store's dim,
so a damaged one is redone, never trusted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path, read_json, remove_stale_temps, write_json
from avforge.features.packs import PACKS_DIR, Packs
from avforge.features.spec import EncoderSpec, spec_from_record

INDEX_NAME, FAILURES_NAME, SUFFIX = "index.json", "failures.jsonl", ".npy"
FORMAT = "avforge-features/2"
STORAGE_DTYPES, LAYOUTS = ("float32", "float16"), ("files", "packed")


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
    ``dtype`` / ``layout`` (None: the store's, or float32 / files for a new one) must match an
    existing store's.
    """

    def __init__(self, root, spec: EncoderSpec | None = None, dtype: str | None = None, layout: str | None = None):
        self.root = Path(root)
        index_path = self.root / INDEX_NAME
        if index_path.is_file():
            index = read_json(index_path)
            try:
                self.spec = spec_from_record(index, where=f"feature store {self.root}")
            except AvforgeError as exc:
                raise AvforgeError(str(exc), path=self.root) from None
            storage = index.get("storage", {})
            self.dtype, self.layout = np.dtype(storage.get("dtype", "float32")), storage.get("layout", "files")
            asked = {"dtype": dtype, "layout": layout}
            held = {"dtype": self.dtype.name, "layout": self.layout}
            wrong = [f"{k} {held[k]} here vs {v} now" for k, v in asked.items() if v is not None and v != held[k]]
            if wrong:
                raise AvforgeError(f"feature store has another storage ({'; '.join(wrong)}); use a new --out folder",
                                   path=self.root)
            if spec is not None:
                diff = self.spec.differences(spec)
                if diff:
                    raise AvforgeError("feature store was made with a different encoder/config (" + "; ".join(diff)
                                       + ", here vs now); use a new --out folder", path=self.root)
                if index.get("format") != FORMAT:  # converted: record it in the current format
                    self.spec = spec
                    self._write_index(index_path)
        elif spec is not None:
            dtype, layout = dtype or "float32", layout or "files"
            if dtype not in STORAGE_DTYPES or layout not in LAYOUTS:
                raise AvforgeError(f"storage must be a dtype in {STORAGE_DTYPES} and a layout in {LAYOUTS}, "
                                   f"got {dtype!r} / {layout!r}")
            self.spec, self.dtype, self.layout = spec, np.dtype(dtype), layout
            # Every rank of a sharded run may get here: identical content, atomic rename -> written once.
            self._write_index(index_path)
        else:
            raise AvforgeError("not a feature store (no index.json)", path=self.root)
        self.dim, self.fps, self.encoder = self.spec.dim, self.spec.fps, self.spec.name
        self.packs = Packs(self.root / PACKS_DIR, self.dtype) if self.layout == "packed" else None
        self._cleaned: set[Path] = set()  # folders whose stale temp files were removed by this writer

    def _write_index(self, path: Path) -> None:
        storage = {"dtype": self.dtype.name, "layout": self.layout}
        write_json(path, {"format": FORMAT, "spec": self.spec.to_dict(), "storage": storage}, indent=1)

    def path_of(self, file: str) -> Path:
        return self.root / key_to_relpath(file)

    def missing(self, files) -> list[str]:
        """The files with no features at all (a quick presence check; ``has`` validates)."""
        if self.packs is not None:
            return [f for f in files if self.packs.get(f) is None]
        return [f for f in files if not self.path_of(f).is_file()]

    def has(self, file: str) -> bool:
        """True only if the features are complete and valid: (T, dim) of the store's dtype."""
        if self.packs is not None:
            entry = self.packs.get(file)
            return entry is not None and len(entry.shape) == 2 and entry.shape[1] == self.dim
        path = self.path_of(file)
        if not path.is_file():
            return False
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return False
        return arr.dtype == self.dtype and arr.ndim == 2 and arr.shape[1] == self.dim

    def load(self, file: str) -> FeatureArray:
        """(T, dim) float32 features of ``file`` (float16 stores are widened)."""
        if self.packs is not None:
            entry = self.packs.get(file) if self.has(file) else None
            if entry is None:
                raise AvforgeError(f"no valid features for {file!r} in this store", path=self.root)
            data = self.packs.read(file, entry)
        else:
            path = self.path_of(file)
            try:  # one read: the checks of has() on the loaded array
                data = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                data = None
            if data is None or data.dtype != self.dtype or data.ndim != 2 or data.shape[1] != self.dim:
                raise AvforgeError(f"no valid features for {file!r} in this store", path=path)
        return FeatureArray(data.astype(np.float32), self.fps, self.encoder)

    def save(self, file: str, data: np.ndarray) -> Path:
        """Write (T, dim) features atomically in the store's dtype; temps of killed writers in its folder go first."""
        data = np.ascontiguousarray(data, dtype=self.dtype)
        if data.ndim != 2 or data.shape[1] != self.dim:
            raise AvforgeError(f"features for {file!r} have shape {data.shape}, store dim is {self.dim}")
        path = self.path_of(file)
        if self.packs is not None:
            self.packs.append(file, data)
            return self.root / PACKS_DIR
        if path.parent not in self._cleaned:  # temps of killed writers; never a live writer's
            remove_stale_temps(path.parent)
            self._cleaned.add(path.parent)
        with atomic_path(path, suffix=SUFFIX) as tmp:
            np.save(tmp, data, allow_pickle=False)
        return path

    def files(self) -> list[str]:
        """Keys of every video with features (sorted); temp files are not listed."""
        if self.packs is not None:
            return sorted(self.packs.index)
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
