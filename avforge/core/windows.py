"""Sliding windows over a long clip, planned once for every stage that cuts one.

``plan_windows`` cuts frames ``[0, n)`` into overlapping windows and gives each output frame to
the window in which it lies farthest from a cut (an interior window edge; the clip's own ends
are not cuts); ``stitch_frames`` puts per-window arrays back together that way. Every frame is
then at least ``overlap // 2`` frames from any cut of the window it comes from, so for a
computation whose context reaches at most that far, and whose window starts are multiples of
its coarsest stride (``align_frames``), the stitched result equals whole-clip computation
everywhere, not only in window centres. Averaging would mix in values computed next to a cut.
Used for decoding and encoding a video in chunks (``features.encode``) and for running the
detector in windows (``engine.inference``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avforge.core.errors import AvforgeError


@dataclass(frozen=True)
class Window:
    """Frames ``[start_idx, end_idx)`` are computed together; ``[keep_start_idx, keep_end_idx)``
    of the merged output come from this window."""

    start_idx: int
    end_idx: int
    keep_start_idx: int
    keep_end_idx: int

    @property
    def num_frames(self) -> int:
        return self.end_idx - self.start_idx

    def kept(self, data: np.ndarray) -> np.ndarray:
        """The rows of this window's (num_frames, ...) array that the merged output takes."""
        if len(data) != self.num_frames:
            raise ValueError(f"{len(data)} rows for a window of {self.num_frames} frames")
        return data[self.keep_start_idx - self.start_idx:self.keep_end_idx - self.start_idx]

    def place(self, out: np.ndarray, data: np.ndarray) -> None:
        """Write the kept rows of this window's ``data`` into the merged ``out``."""
        out[self.keep_start_idx:self.keep_end_idx] = self.kept(data)


def plan_windows(n_frames: int, window_frames: int, overlap_frames: int, align_frames: int = 1) -> list[Window]:
    """Windows of ``window_frames`` that cover ``n_frames``; starts are multiples of the hop
    ``window - overlap`` rounded down to ``align_frames``; the last window may be shorter."""
    if n_frames <= 0:
        return []
    hop = (window_frames - overlap_frames) // align_frames * align_frames
    if overlap_frames < 0 or hop < 1:
        raise AvforgeError(f"window of {window_frames} frames with overlap {overlap_frames} leaves no hop "
                           f"(aligned to {align_frames} frames); use a longer window or a smaller overlap")
    starts = [0]
    while starts[-1] + window_frames < n_frames:
        starts.append(starts[-1] + hop)
    ends = [min(s + window_frames, n_frames) for s in starts]
    cuts = [0] + [(nxt + end) // 2 for nxt, end in zip(starts[1:], ends[:-1])] + [n_frames]
    return [Window(s, e, cuts[i], cuts[i + 1]) for i, (s, e) in enumerate(zip(starts, ends))]


def stitch_frames(windows: list[Window], chunks: list[np.ndarray], n_frames: int) -> np.ndarray:
    """(n_frames, ...) merged from per-window arrays ``chunks[i]`` of shape (window i frames, ...)."""
    if len(windows) != len(chunks) or not chunks:
        raise ValueError("one chunk per window needed")
    out = np.zeros((n_frames,) + chunks[0].shape[1:], dtype=chunks[0].dtype)
    for w, chunk in zip(windows, chunks):
        w.place(out, chunk)
    return out
