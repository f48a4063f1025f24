"""Ragged per-video rows (proposals or ground-truth segments) as one flat array."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Mapping, Sequence

import numpy as np

from avforge.core.errors import AvforgeError, shown

SHOW = 5  # offending entries named in an error message


def listing(what: str, items: Sequence[str], count: int | None = None) -> str:
    """``"3 missing files: a, b, c"`` with at most SHOW names shown, each escaped and capped."""
    count = len(items) if count is None else count
    names = ", ".join(shown(i) for i in list(items)[:SHOW])
    more = f", ... (+{count - SHOW} more)" if count > SHOW else ""
    return f"{count} {what}: {names}{more}"


def rows_of(offsets: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """Row indices of ``videos`` (indices into ``offsets``, in any order), concatenated in that order."""
    counts = offsets[videos + 1] - offsets[videos]
    starts = np.repeat(offsets[videos] - np.cumsum(counts) + counts, counts)
    return starts + np.arange(int(counts.sum()))


@dataclass(frozen=True)
class Ragged:
    """Rows of many videos; video ``i`` owns ``rows[offsets[i]:offsets[i + 1]]``, in its given order.

    Proposals: rows (M, 3) ``[score, start, end]``; ground truth: rows (G, 2) ``[start, end]``.
    """

    files: list[str]
    offsets: np.ndarray  # (V + 1,) int64
    rows: np.ndarray  # (N, K) float64

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def video_of_row(self) -> np.ndarray:
        """(N,) index into ``files`` of each row."""
        return np.repeat(np.arange(len(self.files)), self.counts)

    def take(self, files: Sequence[str]) -> "Ragged":
        """The videos ``files`` (all present), in that order."""
        return self.take_rows(files)[0]

    def take_rows(self, files: Sequence[str]) -> tuple["Ragged", np.ndarray | None]:
        """``take(files)`` and, for each of its rows, the row of ``self`` it comes from (None: the same rows)."""
        if files == self.files:
            return self, None
        index = {f: i for i, f in enumerate(self.files)}
        vids = np.fromiter((index[f] for f in files), dtype=np.int64, count=len(files))
        counts = self.counts[vids]
        offsets = np.zeros(len(files) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        # row r of the result comes from self.offsets[vid] + (r - offsets[new video of r])
        new_video = np.repeat(np.arange(len(files)), counts)
        src = self.offsets[vids][new_video] + np.arange(offsets[-1]) - offsets[new_video]
        return Ragged(files=list(files), offsets=offsets, rows=self.rows[src]), src


def flatten(per_video: Mapping[str, Sequence[Sequence[float]]], *, width: int = 3,
            source: str = "predictions") -> Ragged:
    """Concatenate ``{file: [[score, start, end], ...]}`` (or ``[[start, end], ...]`` with width 2).

    Values may be lists of rows or numeric arrays (N_i, width); all-array input skips per-number
    Python work. Raises AvforgeError naming ``source`` and the first offending files when a video's
    value is not a list of rows of exactly ``width`` numbers. Values are not checked (see validation).
    """
    files = list(per_video)
    values = list(per_video.values())
    if values and set(map(type, values)) == {np.ndarray}:
        flat = _concatenate_arrays(files, values, width)
        if flat is not None:
            return flat
    try:
        counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        rows = list(chain.from_iterable(values))
        widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        if np.any(widths != width):
            raise ValueError
        # np.fromiter would turn "1.5", True and None into numbers: only real numbers pass
        if not all(_is_number_type(t) for t in set(map(type, chain.from_iterable(rows)))):
            raise ValueError
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=width * len(rows))
    except (TypeError, ValueError):
        bad = [f for f, v in zip(files, values) if not _well_formed(v, width)]
        shape = "[score, start, end]" if width == 3 else "[start, end]"
        raise AvforgeError(listing(f"videos with malformed rows (each must be {shape})", bad),
                           path=source) from None
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Ragged(files=files, offsets=offsets, rows=flat.reshape(-1, width))


def _concatenate_arrays(files: list[str], values: list[np.ndarray], width: int) -> Ragged | None:
    """Fast path for per-video numeric arrays (N_i, width); None sends odd shapes/dtypes to the slow path."""
    if not all(v.dtype.kind in "fiu" and (v.ndim == 2 and v.shape[1] == width or v.size == 0) for v in values):
        return None
    counts = np.fromiter((len(v) if v.size else 0 for v in values), dtype=np.int64, count=len(values))
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    rows = np.concatenate([v.reshape(-1, width) for v in values]).astype(np.float64, copy=False)
    return Ragged(files=files, offsets=offsets, rows=rows)


def _is_number_type(t: type) -> bool:
    return t is float or t is int or (issubclass(t, (int, float, np.number)) and not issubclass(t, (bool, np.bool_)))


def _well_formed(value, width: int) -> bool:
    if not isinstance(value, (list, tuple, np.ndarray)):
        return False
    return all(isinstance(row, (list, tuple, np.ndarray)) and len(row) == width
               and all(_is_number_type(type(x)) for x in row) for row in value)
